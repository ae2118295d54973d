#!/bin/bash
# test_run_kill.sh — a remote kill reaching `warden run --state-dir` while an MCP session runs:
# the kill applied to the state directory (`warden agent apply`, the poller's apply path) with a
# tool call in flight stops the server by policy (the call gets error -32603, warden prints
# "policy_stopped: remote kill active: <reason>" and exits 3); afterwards a new session is
# refused before anything starts; an inactive kill with a higher counter lets it start again.
# The server (runner_server.py) runs in the sandbox with a profile that reads the test sources
# and writes the scratch folder.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
PY=/usr/bin/python3
SRV="$WD_SRCDIR/tests/cli/runner_server.py"
CLIENT="$WD_SRCDIR/tests/cli/runner_client.py"
cd "$T" || exit 1

for k in root bs k1 k2; do "$W" key gen "$k" >/dev/null; done
PIN=$("$W" key id root)
"$W" roster init --org acme --root-key root --out r.1 >/dev/null &&
"$W" roster add-key r.1 --key bs.pub --purpose policy-bundle-signing --sign root --out r.2 >/dev/null &&
"$W" roster add-key r.2 --key k1.pub --purpose remote-kill-signing --sign root --out r.3 >/dev/null &&
"$W" roster add-key r.3 --key k2.pub --purpose remote-kill-signing --sign root --out R >/dev/null
check "01 a roster with a bundle key and two kill keys" test -s R

cat >pol.yaml <<EOF
version: 1
servers:
  default: deny
  rules:
    - name: fake
      action: allow
      reason: "test servers"
      match: {name: ["fake*"]}
      limits: {profile: fake}
permission_profiles:
  fake:
    read: ["$WD_SRCDIR/tests/cli/**"]
    write: ["$T/**"]
    env: [PATH, HOME, "FAKE_*"]
mcp_tool_policy:
  default: allow
EOF
SCOPE=(--org acme --fleet prod --env eu1)
"$W" bundle create --policy pol.yaml "${SCOPE[@]}" --instances '*' --version 1 --sign bs --out b1 >/dev/null
kill_() { "$W" kill create "${SCOPE[@]}" --instances '*' --sign k1 --sign k2 "$@" >/dev/null; }
kill_ --state active --counter 1 --reason "incident 7" --out kill1 &&
    kill_ --state inactive --counter 2 --reason "incident 7 closed" --out kill2
check "02 a bundle and two kills" test -s kill2

APPLY=("$W" agent apply --state-dir S --pin "$PIN" "${SCOPE[@]}" --instance i-1)
expect "03 the roster and the bundle are applied" 0 "" -- "${APPLY[@]}" R b1

export FAKE_LOG="$T/log" FAKE_READY="$T/ready"
RUN=("$W" run --state-dir S --name fake -- "$PY" "$SRV")
KILL_CMD="$(printf '%q ' "${APPLY[@]}") kill1"
export KILL_CMD
out=$("$PY" "$CLIENT" remote-kill-in-flight ready="$T/ready" reason="incident 7" -- "${RUN[@]}" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then ok "04 a kill with a call in flight: the call gets an error, policy_stopped, exit 3"
else notok "04 a kill with a call in flight: the call gets an error, policy_stopped, exit 3" "$out"; fi

rm -f "$T/marker"
expect "05 under the kill a new session is refused before anything starts" 3 \
    "remote kill active: incident 7" -- "$W" run --state-dir S --name fake -- /bin/sh -c "touch '$T/marker'"
check "06 nothing ran" test ! -e "$T/marker"

expect "07 the inactive kill is applied" 0 "" -- "${APPLY[@]}" kill2
echo '{"jsonrpc":"2.0","id":1,"method":"ping"}' >ping.jsonl
expect "08 after the inactive kill the server starts again" 0 '"result"' -- \
    bash -c "'$W' run --state-dir S --name fake -- '$PY' '$SRV' <ping.jsonl"
done_testing
