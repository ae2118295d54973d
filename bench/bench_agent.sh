#!/bin/bash
# bench_agent.sh — figures for docs/PERFORMANCE.md: the agent's memory and CPU while idle on a
# long poll against the real leader, beside a minimal Go poller (bench/go-poller) doing the same
# two mTLS long polls against the same leader in the same idle window; then the agent's memory
# while applying and the time from a 200 to the new policy active (the agent's own apply_ms:
# body received -> verified -> written, fsynced, `active` switched) for policies of 1 KiB and
# 256 KiB (rules shaped as bench/bench_verify.c makes them), beside the verification floor
# measured in the same run (build/bench/bench_verify: wd_bundle_verify alone, one Ed25519
# verify, one SHA-256 pass).
#
# Three processes idle side by side over the same window, all polling the same leader with a
# 30 s wait: the agent as contrib/warden-agent.service starts it (GNUTLS_NO_IMPLICIT_INIT=1),
# the agent in a plain environment, and the Go poller. Everything runs on 127.0.0.1 in a scratch
# directory, and everything started is stopped on exit. It installs the Debian package golang-go
# when `go` is missing (only this benchmark needs it; the build runs with GOPROXY=off, standard
# library only, CGO_ENABLED=0). Figures are for reading; nothing fails on them.
# usage: bench/bench_agent.sh build/src/cli/warden [IDLE_SECONDS] [ROUNDS]
set -u
WARDEN=$(realpath "$1")
IDLE=${2:-60}
ROUNDS=${3:-5}
WD_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BENCH_VERIFY=$(dirname "$(dirname "$(dirname "$WARDEN")")")/bench/bench_verify
export WARDEN WD_SRCDIR
. "$WD_SRCDIR/tests/cli/lib.sh" >/dev/null
. "$WD_SRCDIR/tests/cli/agent_fixtures.sh"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T"' EXIT

if ! command -v go >/dev/null 2>&1; then
    echo "bench_agent: installing the Debian package golang-go (for this comparison only)" >&2
    if [ "$(id -u)" -ne 0 ]; then echo "bench_agent: need root to install golang-go" >&2; exit 1; fi
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go; } \
        >/dev/null || { echo "bench_agent: could not install golang-go" >&2; exit 1; }
fi
# a static binary (CGO_ENABLED=0: Go's own resolver, no libc), as Go daemons usually ship; the
# build cache is Go's default one, so a second run does not compile the standard library again
(cd "$WD_SRCDIR/bench/go-poller" && CGO_ENABLED=0 GOPROXY=off GOFLAGS=-buildvcs=false \
    GOPATH="$T/gopath" go build -trimpath -o "$T/go-poller" .) ||
    { echo "bench_agent: go build failed" >&2; exit 1; }

echo "machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/{print $2}') GiB, Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(curl --version | head -1 | cut -d' ' -f1-2), $(openssl version | cut -d' ' -f1-2), $(go version | cut -d' ' -f3-4)"

W_DIR=$T/w
mk_agent_world "$W_DIR" || { echo "fixtures failed" >&2; exit 1; }
"$WARDEN" leader --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --store "sqlite:$T/l.db" \
    --cert "$W_DIR/leader.crt" --key "$W_DIR/leader.key" --client-ca "$W_DIR/pki/ca.crt" \
    --trust-domain fleet.test --roster "$W_DIR/roster1.json" --pin "$PIN" --log-format text \
    2>"$T/leader.log" &
LEADER_PID=$!
PIDS+=("$LEADER_PID")
for _ in $(seq 1 100); do grep -q ' start ' "$T/leader.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* start listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/leader.log")
URL=https://127.0.0.1:$PORT
ADM=(--leader "$URL" --cert "$W_DIR/alice.crt" --key "$W_DIR/alice.key" --ca "$W_DIR/pki/ca.crt")
for v in 2 3 4 5 6; do "$WARDEN" publish roster "$W_DIR/roster$v.json" "${ADM[@]}" >/dev/null; done
mkpolicy() { # mkpolicy BYTES OUT: a policy of exactly BYTES shaped as bench/bench_verify.c makes it:
    # a header, as many rules (each with a long reason) as fit, at most 800, then one comment line
    python3 - "$1" "$2" <<'PY'
import sys
size = int(sys.argv[1])
out = ("version: 1\nmode: enforce\npermission_profiles:\n  restricted:\n    network: none\n"
       "    read: [\"/srv/data/**\"]\n    env: [\"HOME\", \"PATH\", \"MCP_*\"]\n"
       "    privileged: false\nservers:\n  default: deny\n  rules:\n")
for i in range(800):
    rule = ("    - name: rule-%04d\n      action: %s\n"
            "      reason: \"approved by security review SEC-%04d for team %04d; "
            "owner on call, re-review due in two quarters, scope limited to the "
            "data volume; see the register for the full record of this approval\"\n"
            "      match:\n        name: [\"srv-%04d-*\"]\n") % (i, "allow" if i % 7 else "deny", i, i, i)
    if len(out) + len(rule) + 16 > size:
        break
    out += rule
out += "#" + "x" * (size - len(out) - 2) + "\n"
open(sys.argv[2], "w").write(out)
PY
}
mkpolicy 1024 "$T/p1k.yaml"
mkpolicy $((256 * 1024)) "$T/p256k.yaml"
V=1
publish() { # publish POLICY
    "$WARDEN" bundle create --policy "$1" --org acme --fleet web --env prod --version "$V" \
        --instances '*' --sign "$W_DIR/b1" --out "$T/b$V.json" >/dev/null &&
        "$WARDEN" publish bundle "$T/b$V.json" "${ADM[@]}" >/dev/null
    V=$((V + 1))
}
publish "$T/p1k.yaml"

# agent A as the systemd unit runs it, agent B in a plain environment; each its own state
for x in a b; do
    agent_conf "$T/agent-$x.yaml" "$URL" "$T/state-$x"
    sed -i 's/poll_interval: 2s/poll_interval: 30s/; s/level: debug/level: info/' "$T/agent-$x.yaml"
done
GNUTLS_NO_IMPLICIT_INIT=1 start_agent "$T/agent-a.yaml" "$T/agent-a.log"
A_PID=$AGENT_PID
start_agent "$T/agent-b.yaml" "$T/agent-b.log"
B_PID=$AGENT_PID
"$T/go-poller" -leader "$URL" -cert "$W_DIR/web7.crt" -key "$W_DIR/web7.key" \
    -ca "$W_DIR/pki/ca.crt" -wait 30 2>"$T/go.log" &
G_PID=$!
PIDS+=("$G_PID")
wait_log "$T/agent-a.log" "applied loop=policy" 60
wait_log "$T/agent-b.log" "applied loop=policy" 60
for _ in $(seq 1 100); do grep -q "policy: 200" "$T/go.log" && break; sleep 0.1; done
sleep 5

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# on-CPU nanoseconds of every thread alive now (finer than the 10 ms ticks)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/${3:-status}"; }
mem() { # mem PID: RSS, its parts, PSS and private (USS), threads
    local uss
    uss=$(( $(kib "$1" Private_Clean smaps_rollup) + $(kib "$1" Private_Dirty smaps_rollup) ))
    printf 'RSS %5.1f MiB (anonymous %4.1f, file-backed %4.1f), PSS %4.1f MiB, private %4.1f MiB, %s threads' \
        "$(div "$(kib "$1" VmRSS)" 1024)" "$(div "$(kib "$1" RssAnon)" 1024)" \
        "$(div "$(kib "$1" RssFile)" 1024)" "$(div "$(kib "$1" Pss smaps_rollup)" 1024)" \
        "$(div "$uss" 1024)" "$(kib "$1" Threads)"
}
declare -A T0 N0
for p in "$A_PID" "$B_PID" "$G_PID"; do T0[$p]=$(ticks "$p"); N0[$p]=$(cpu_ns "$p"); done
sleep "$IDLE"
HZ=$(getconf CLK_TCK)
echo "idle on a 30 s long poll for ${IDLE} s, side by side, against the same leader:"
for row in "agent (as the unit runs it: GNUTLS_NO_IMPLICIT_INIT=1):$A_PID" \
    "agent (plain environment):$B_PID" "Go poller (go-poller, two long polls):$G_PID"; do
    p=${row##*:}
    t1=$(ticks "$p")
    n1=$(cpu_ns "$p")
    printf '  %-56s %s; CPU %d ms (%.1f ms on-CPU)\n' "${row%:*}" "$(mem "$p")" \
        "$(( ($t1 - ${T0[$p]}) * 1000 / HZ ))" "$(div $((n1 - ${N0[$p]})) 1000000)"
done
echo "  go-poller binary: $(stat -c %s "$T/go-poller") bytes; warden binary: $(stat -c %s "$WARDEN") bytes"
kill -TERM "$B_PID" "$G_PID"
wait "$B_PID" "$G_PID" 2>/dev/null

AGENT_PID=$A_PID
for size in 1k 256k; do
    list=()
    echo 5 >"/proc/$A_PID/clear_refs" # the peak RSS starts again from the current RSS
    for _ in $(seq 1 "$ROUNDS"); do
        before=$(grep -c 'applied loop=policy' "$T/agent-a.log")
        publish "$T/p$size.yaml"
        for _ in $(seq 1 300); do
            [ "$(grep -c 'applied loop=policy' "$T/agent-a.log")" -gt "$before" ] && break
            sleep 0.1
        done
        list+=("$(grep 'applied loop=policy' "$T/agent-a.log" | tail -1 | sed -n 's/.*apply_ms=\([0-9.]*\).*/\1/p')")
    done
    sorted=$(printf '%s\n' "${list[@]}" | sort -n | tr '\n' ' ')
    echo "policy ~${size}: bundle $(stat -c %s "$T/b$((V - 1)).json") bytes; 200 -> active (ms, sorted): ${sorted}"
    echo "  agent while applying: peak RSS $(kib "$A_PID" VmHWM) KiB; after: $(mem "$A_PID")"
done
if [ -x "$BENCH_VERIFY" ]; then
    echo "the verification floor, same run ($BENCH_VERIFY):"
    "$BENCH_VERIFY" | awk '/^policy_yaml (1|256) KiB/ {on = 1; print "  " $0; next}
        /^policy_yaml/ {on = 0} on && /wd_bundle_verify|floor:/ {print "  " $0}'
else
    echo "(no $BENCH_VERIFY: the verification floor was not measured)"
fi
kill -TERM "$A_PID" "$LEADER_PID"
wait "$A_PID" "$LEADER_PID"
