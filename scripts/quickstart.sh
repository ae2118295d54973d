#!/usr/bin/env bash
# quickstart.sh WARDEN — warden's main job, end to end, on one machine, in a scratch directory:
# a fleet CA and certificates, a trust roster pinned by a root key, a leader on its embedded
# SQLite store and three agents (each with its own state directory); a real MCP server
# (server-everything) run through `warden run --state-dir` under the policy the first agent
# applied, with the official MCP client calling a tool; then a bundle that denies that tool,
# published and seen refused on the next call; the fleet as the leader sees it; a 2-of-2
# remote kill that every agent applies and enforces, and its lifting.
# Everything it starts, it stops (trap on every exit). Only loopback addresses are used.
# QUICKSTART_HOLD=SECONDS keeps the fleet up that long before stopping, to open the fleet page.
set -uo pipefail
W=${1:-build/src/cli/warden}
W=$(cd "$(dirname "$W")" && pwd)/$(basename "$W")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NPM_DIR=$ROOT/build/quickstart-npm
SDK_VERSION=1.32.2
EVERYTHING_VERSION=2026.8.31
D=$(mktemp -d /tmp/warden-quickstart.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$D" || exit 1
START=$(date +%s)
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; local rc=$?; printf '(exit %d)\n' "$rc"; return 0; }
quiet() { "$@" >/dev/null || { echo "quickstart: failed: $*" >&2; exit 1; }; }
die() { echo "quickstart: $*" >&2; exit 1; }
# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_for() {
    local secs=$1 i; shift
    for ((i = 0; i < secs * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

step "0. the MCP server and the official MCP client from npm (once, into build/quickstart-npm)"
ENTRY=$NPM_DIR/node_modules/@modelcontextprotocol/server-everything/dist/index.js
if [ ! -f "$ENTRY" ] || [ ! -f "$NPM_DIR/node_modules/@modelcontextprotocol/sdk/package.json" ]; then
    mkdir -p "$NPM_DIR"
    [ -f "$NPM_DIR/package.json" ] || echo '{"name":"warden-quickstart","private":true}' >"$NPM_DIR/package.json"
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --loglevel=error \
        "@modelcontextprotocol/sdk@$SDK_VERSION" \
        "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION") || die "npm install failed"
fi
echo "server-everything $EVERYTHING_VERSION and @modelcontextprotocol/sdk $SDK_VERSION ready"

step "1. a fleet CA; certificates for the leader, three followers and an administrator"
run "$W" pki init --trust-domain fleet.example --dir pki
quiet "$W" pki issue --dir pki --leader 127.0.0.1,localhost --out leader
for i in 1 2 3; do quiet "$W" pki issue --dir pki --follower "acme/web/prod/web-$i" --out "web-$i"; done
quiet "$W" pki issue --dir pki --admin acme/alice --out alice
ls -1 ./*.crt

step "2. signing keys and a trust roster pinned by the root key"
for k in root signer kill-1 kill-2 recorder-1 recorder-2 recorder-3; do quiet "$W" key gen "$k.key"; done
PIN=$("$W" key id root.key.pub)
quiet "$W" roster init --org acme --root-key root.key --out roster.1.json
quiet "$W" roster add-key roster.1.json --key signer.key.pub --purpose policy-bundle-signing \
    --sign root.key --out roster.2.json
quiet "$W" roster add-key roster.2.json --key kill-1.key.pub --purpose remote-kill-signing \
    --sign root.key --out roster.3.json
quiet "$W" roster add-key roster.3.json --key kill-2.key.pub --purpose remote-kill-signing \
    --sign root.key --out roster.json
run "$W" roster inspect roster.json

step "3. the leader, on its embedded SQLite store"
"$W" leader --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --ui-listen 127.0.0.1:0 \
    --store "sqlite:$D/leader.db" --cert leader.crt --key leader.key --client-ca pki/ca.crt \
    --trust-domain fleet.example --roster roster.json --pin "$PIN" --log-format text \
    2>leader.log &
PIDS+=($!)
wait_for 30 grep -q ' start listen=127\.0\.0\.1:' leader.log || die "the leader did not start: $(cat leader.log)"
PORT=$(sed -n 's/.* start listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' leader.log | head -1)
URL=https://127.0.0.1:$PORT
UI=$(grep -oE 'ui(_listen)?=127\.0\.0\.1:[0-9]+' leader.log | head -1 | sed 's/.*=//')
ADM=(--leader "$URL" --cert alice.crt --key alice.key --ca pki/ca.crt)
echo "leader at $URL"
[ -n "$UI" ] && echo "fleet page at http://$UI/ (live while this runs; QUICKSTART_HOLD=600 keeps it up)"

step "4. policy v1: server-everything may run, sandboxed; every tool allowed"
cat >policy.1.yaml <<YAML
version: 1
mode: enforce
servers:
  default: deny
  rules:
    - name: reference-server
      action: allow
      reason: "the reference MCP server, reviewed"
      match: {name: [everything], command: [node]}
      limits: {profile: reference}
permission_profiles:
  reference:
    network: none
    read: ["$NPM_DIR/**"]
    write: []
    env: [HOME, PATH]
mcp_tool_policy:
  default: allow
YAML
sed 's/^  default: allow$/  default: allow\n  rules:\n    - name: no-echo\n      action: deny\n      reason: "echo is withdrawn fleet-wide"\n      tool: [echo]/' \
    policy.1.yaml >policy.2.yaml
quiet "$W" bundle create --policy policy.1.yaml --org acme --fleet web --env prod --version 1 \
    --instances '*' --sign signer.key --out bundle.1.json
quiet "$W" bundle create --policy policy.2.yaml --org acme --fleet web --env prod --version 2 \
    --previous bundle.1.json --instances '*' --sign signer.key --out bundle.2.json
run "$W" publish bundle bundle.1.json "${ADM[@]}"

step "5. three agents, each with its own state directory, poll the leader"
for i in 1 2 3; do
    mkdir -p "state-$i"
    cat >"agent-$i.yaml" <<YAML
instance_id: web-$i
labels: {team: payments}
state_dir: $D/state-$i
conductor:
  enabled: true
  leader_url: $URL
  trust_roster_root_fingerprint: $PIN
  honor_remote_kill_switch: true
  poll_interval: 5s
  long_poll: true
  tls: {cert: $D/web-$i.crt, key: $D/web-$i.key, ca: $D/pki/ca.crt}
flight_recorder: {dir: $D/recorder-$i, signing_key: $D/recorder-$i.key, checkpoint_every: 4}
audit: {flush_interval: 1s}
logging: {level: info, format: text}
YAML
    "$W" agent --config "agent-$i.yaml" 2>"agent-$i.log" &
    PIDS+=($!)
done
for i in 1 2 3; do
    wait_for 60 grep -q '"version":1' "state-$i/status.json" ||
        wait_for 30 sh -c "'$W' agent status --state-dir state-$i | grep -q 'bundle.*1'" ||
        die "agent web-$i did not apply bundle 1: $(tail -5 "agent-$i.log")"
done
head -1 agent-1.log
run "$W" agent status --state-dir state-1

step "6. a real MCP server through warden run; the MCP client calls echo, then bundle v2 denies it"
QS_PUBLISH=$(printf '%s\n' "$W" publish bundle bundle.2.json "${ADM[@]}" |
    python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split("\n")[:-1]))') \
    node "$ROOT/scripts/quickstart-mcp.mjs" "$NPM_DIR" "$W" "$D/state-1" "$ENTRY" ||
    die "the MCP step failed"

step "7. the fleet as the leader sees it"
for i in 1 2 3; do
    wait_for 30 sh -c "'$W' agent status --state-dir state-$i --json | grep -q '\"version\":2'" ||
        die "agent web-$i did not apply bundle 2"
done
sleep 1
run "$W" status "${ADM[@]}"

step "8. a remote kill, signed by two kill keys (2 of 2), applied by every agent"
quiet "$W" kill create --org acme --fleet web --env prod --instances '*' --state active \
    --counter 1 --reason "incident 42: stop all MCP servers" --sign kill-1.key --sign kill-2.key \
    --out kill.1.json
run "$W" publish kill kill.1.json "${ADM[@]}"
for i in 1 2 3; do
    wait_for 30 sh -c "'$W' agent status --state-dir state-$i | grep -q killed" ||
        die "agent web-$i did not apply the kill"
done
for i in 1 2 3; do
    run "$W" run --state-dir "state-$i" --name everything -- node "$ENTRY" stdio
done

step "9. the kill lifted (counter 2, state inactive): web-1 may start the server again"
quiet "$W" kill create --org acme --fleet web --env prod --instances '*' --state inactive \
    --counter 2 --reason "incident 42 closed" --sign kill-1.key --sign kill-2.key --out kill.2.json
run "$W" publish kill kill.2.json "${ADM[@]}"
for i in 1 2 3; do
    wait_for 30 sh -c "'$W' agent status --state-dir state-$i | grep -q enforcing" ||
        die "agent web-$i did not lift the kill"
done
run "$W" agent status --state-dir state-1
run "$W" gate check --policy policy.2.yaml --server everything --tool echo

step "10. the flight recorder of web-1: every decision, hash-chained, checkpoints signed"
run "$W" recorder verify recorder-1 --key recorder-1.key.pub
grep -ho '"kind":"[a-z_]*"' recorder-1/*.jsonl | sort | uniq -c

if [ -n "${QUICKSTART_HOLD:-}" ] && [ -n "$UI" ]; then
    echo; echo "fleet page at http://$UI/ for ${QUICKSTART_HOLD}s"; sleep "$QUICKSTART_HOLD"
fi
printf '\nquickstart finished in %ss: leader, 3 agents and the MCP server stopped; scratch removed\n' \
    "$(($(date +%s) - START))"
