#!/bin/bash
# test_runner.sh — `warden run` as the enforcement process: the relay (round trips, a client
# that closes mid-message, a flooding server, a flooding client, the message cap at the limit
# and one past it), a server that dies mid-call and a kill while a call is in flight (the client
# gets an error, not a hang), tool policy on the stream, the live policy file (invalid: the old
# one stays; a tool denied; the server denied: policy_stopped, exit 3), and --restart
# on-failure (restarts with backoff, gives up after N, a denied restart exits 3), and a profile
# path glob the sandbox cannot express (invalid-policy, exit 3, nothing started).
# The server is tests/cli/runner_server.py; the scripted client is tests/cli/runner_client.py.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
SRV="$WD_SRCDIR/tests/cli/runner_server.py"
CLIENT="$WD_SRCDIR/tests/cli/runner_client.py"
# the system's python3 when there is one (a version-manager shim may take seconds to start)
PY=$(command -v /usr/bin/python3 || command -v python3)

# held NAME EXIT PATTERN -- CMD...: expect, with a stdin that stays open (a client that does
# not go away), so that warden's decisions are not those of a closed client.
held() {
    local name=$1 want=$2 pat=$3; shift 3
    [ "${1:-}" = "--" ] && shift
    rm -f "$T/fifo"; mkfifo "$T/fifo"
    exec 7<>"$T/fifo"
    "$@" >"$T/out" 2>"$T/err" <&7
    local rc=$?
    exec 7>&-
    if [ "$rc" -eq "$want" ] && { [ -z "$pat" ] || grep -qF -- "$pat" "$T/err" "$T/out"; }; then
        ok "$name"
    else
        notok "$name" "command: $*" "exit $rc (wanted $want), wanted text: $pat" \
            "stderr: $(head -c 600 "$T/err")" "stdout: $(head -c 300 "$T/out")"
    fi
}

# scenario NAME SCENARIO [K=V...] -- ARGS...: run one scripted client scenario against warden.
scenario() {
    local name=$1; shift
    local out
    out=$("$PY" "$CLIENT" "$@" 2>&1)
    local rc=$?
    if [ $rc -eq 0 ]; then ok "$name"; printf '%s\n' "$out" | grep '^#' || true
    else notok "$name" "$out"; fi
}

# policy FILE [EXTRA TOOL RULES...]: servers named fake* allowed, tool secret denied; their
# sandbox may read the server script and write the test directory (logs, counts, policy files)
policy() {
    cat >"$1" <<EOF
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
  fake: {env: [PATH, HOME, "FAKE_*"], read: ["$SRV"], write: ["$T/**"]}
mcp_tool_policy:
  default: allow
  rules:
    - name: no-secret
      action: deny
      reason: "secrets stay"
      tool: [secret]
${2-}
EOF
}
policy "$T/p.yaml"
export FAKE_LOG="$T/log"
run_args=(run --policy "$T/p.yaml" --name fake -- "$PY" "$SRV")

# ---- flags ----
expect "01 --help documents every flag" 0 "usage: warden run" -- "$W" run --help
check "02 every flag is in the help" sh -c "for f in --policy --state-dir --name --profile --env --label --max-message --restart --help; do grep -q -- \"\$f\" '$T/out' || exit 1; done"
expect "03 --max-message 0 is a usage error" 2 "--max-message wants a number of bytes from 1 to 268435456" -- "$W" run --max-message 0 -- true
expect "04 --max-message past its limit" 2 "--max-message wants" -- "$W" run --max-message 268435457 -- true
expect "05 --max-message at its limit is taken" 3 "rejected (malformed)" -- "$W" run --policy "$T/p.yaml" --name "bad name" --max-message 268435456 -- true
expect "06 --restart with a bad value" 2 "--restart wants no, on-failure or on-failure:N" -- "$W" run --restart always -- true
expect "07 --restart on-failure:0" 2 "--restart on-failure:N wants N from 1 to 1000000" -- "$W" run --restart on-failure:0 -- true
expect "08 --restart on-failure:1000001" 2 "--restart on-failure:N wants N from 1 to 1000000" -- "$W" run --restart on-failure:1000001 -- true
expect "08b --restart on-failure:1000000 (the limit) is taken" 3 "rejected (malformed)" -- "$W" run --policy "$T/p.yaml" --name "bad name" --restart on-failure:1000000 -- true
expect "08c --max-message 1 (the least) is taken" 3 "rejected (malformed)" -- "$W" run --policy "$T/p.yaml" --name "bad name" --max-message 1 -- true
expect "09 --policy - (stdin is the client's)" 2 "--policy - is not possible" -- "$W" run --policy - -- true

# ---- the relay ----
rm -f "$T/log"
scenario "10 initialize and a tool call round trip through warden" echo -- "$W" "${run_args[@]}"
rm -f "$T/log"
scenario "11 a client that closes mid-message: the part is dropped, the server's stdin closed" partial log="$T/log" -- "$W" "${run_args[@]}"
rm -f "$T/log"
FAKE_EOF_EXIT=4 scenario "12 then warden exits with the server's status" partial log="$T/log" want=4 -- "$W" "${run_args[@]}"
scenario "13 a server flooding 64 MiB while the client does not read: memory stays bounded" server-flood bytes=67108864 max_kib=65536 -- "$W" "${run_args[@]}"
scenario "14 a client flooding a server that never reads: the client is held back" client-flood bytes=268435456 max_kib=65536 -- "$W" run --policy "$T/p.yaml" --name fake -- "$PY" "$SRV" sink
rm -f "$T/log"
scenario "15 --max-message 1000: a line of 1000 bytes passes, 1001 is refused (-32600)" over-cap cap=1000 log="$T/log" -- "$W" run --policy "$T/p.yaml" --name fake --max-message 1000 -- "$PY" "$SRV"
rm -f "$T/log"
scenario "16b a server line over the cap is dropped with a line on stderr; its call gets -32603" server-over-cap -- "$W" run --policy "$T/p.yaml" --name fake --max-message 1000 -- "$PY" "$SRV"
rm -f "$T/log"
scenario "16 the default cap: 4 MiB passes, 4 MiB + 1 is refused" over-cap cap=4194304 log="$T/log" -- "$W" "${run_args[@]}"

# ---- failures in flight ----
scenario "17 a server that dies mid-call: the call gets error -32603, warden exits with its status" dies-mid-call want=9 -- "$W" "${run_args[@]}"
rm -f "$T/ready"
FAKE_READY="$T/ready" scenario "18 SIGTERM while a call is in flight: passed on, the call gets an error" kill-in-flight ready="$T/ready" -- "$W" "${run_args[@]}"

# ---- tool policy on the stream ----
rm -f "$T/log"
scenario "19 a denied tool is not listed and its call is refused with 403" deny-tool log="$T/log" -- "$W" "${run_args[@]}"

# ---- the live policy file ----
cp "$T/p.yaml" "$T/live.yaml"
printf 'version: 1\nservers: {default: maybe}\n' >"$T/invalid.yaml"
policy "$T/noecho.yaml" '    - name: no-echo
      action: deny
      reason: "no echo now"
      tool: [echo]'
cat >"$T/noserver.yaml" <<'EOF'
version: 1
servers:
  default: allow
  rules:
    - name: no-fake
      action: deny
      reason: "no fake servers today"
      match: {name: ["fake*"]}
EOF
scenario "20 live policy: invalid (old stays), a tool denied (list_changed), the server denied (policy_stopped, 3)" live policy="$T/live.yaml" invalid="$T/invalid.yaml" noecho="$T/noecho.yaml" noserver="$T/noserver.yaml" -- "$W" run --policy "$T/live.yaml" --name fake -- "$PY" "$SRV"

# ---- restarts ----
rm -f "$T/count"
held "21 --restart on-failure:2: two restarts, then the server's status" 1 "after 2 restarts; giving up" -- "$W" run --policy "$T/p.yaml" --name fake --restart on-failure:2 -- "$PY" "$SRV" crash-start "$T/count"
check "22 the server started three times" test "$(wc -l <"$T/count")" -eq 3
check "23 each restart was announced with its delay" test "$(grep -c 'warden: the server failed (status 1); restart' "$T/err")" -eq 2
rm -f "$T/count"
held "24 --restart no (the default): no restart" 1 "" -- "$W" run --policy "$T/p.yaml" --name fake -- "$PY" "$SRV" crash-start "$T/count"
check "25 it started once" test "$(wc -l <"$T/count")" -eq 1
cp "$T/p.yaml" "$T/live2.yaml"
held "26 a restart the policy now denies: policy_stopped, exit 3" 3 "warden: policy_stopped: server restart blocked by policy: no fake servers today (rule no-fake)" -- "$W" run --policy "$T/live2.yaml" --name fake --restart on-failure -- "$PY" "$SRV" replace-crash "$T/noserver.yaml" "$T/live2.yaml"
check "27 and it was not started again" sh -c "! grep -q 'restart 2' '$T/err'"
expect "28 a server that exits 0 is not restarted" 0 "" -- sh -c "printf '' | '$W' run --policy '$T/p.yaml' --name fake --restart on-failure -- '$PY' '$SRV'"
check "29 no restart was announced" sh -c "! grep -q restart '$T/err'"

expect "30 an inherited SIG_IGN for SIGCHLD: warden still sees the server exit" 1 "" -- "$PY" -c 'import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])' "$W" run --policy "$T/p.yaml" --name fake -- "$PY" "$SRV" crash-start "$T/count7"
check "31 (the server ran)" test -s "$T/count7"

# ---- a path glob the sandbox cannot express exactly: invalid-policy, nothing starts ----
# (the sandbox's own refusals are in test_sandbox.sh; here the whole of warden run)
cat >"$T/glob.yaml" <<EOF
version: 1
servers:
  default: deny
  rules:
    - name: fake
      action: allow
      match: {name: ["fake-glob"]}
      limits: {profile: globby}
    - name: fake-wide
      action: allow
      match: {name: ["fake-wide"]}
      limits: {profile: wide}
permission_profiles:
  globby: {read: ["$SRV", "/srv/*/x"], write: ["$T/**"]}
  wide: {read: ["$SRV"], write: ["$T/**"]}
  starry: {read: ["$SRV"], write: ["$T/*.txt"]}
EOF
rm -f "$T/count8"
expect "32 the allowing rule's profile reads /srv/*/x: exit 3" 3 "" -- "$W" run --policy "$T/glob.yaml" --name fake-glob -- "$PY" "$SRV" crash-start "$T/count8"
exactly_one_line "33 one rejection line naming the glob" 'rejected (invalid-policy): sandbox: permission_profile.read[1] "/srv/*/x": Landlock can only express an exact path or DIR/** (everything beneath DIR); refused rather than granting more or less than the glob says'
check "34 the server never started" test ! -e "$T/count8"
expect "35 --profile with a write glob the gate allows but Landlock cannot express: exit 3" 3 "" -- "$W" run --policy "$T/glob.yaml" --name fake-wide --profile starry -- "$PY" "$SRV" crash-start "$T/count8"
exactly_one_line "36 one rejection line naming the glob" "rejected (invalid-policy): sandbox: permission_profile.write[0] \"$T/*.txt\": Landlock can only express an exact path or DIR/** (everything beneath DIR); refused rather than granting more or less than the glob says"
check "37 the server never started" test ! -e "$T/count8"
expect "38 the same server with the rule's own profile starts (the glob alone was refused)" 1 "" -- "$W" run --policy "$T/glob.yaml" --name fake-wide -- "$PY" "$SRV" crash-start "$T/count8"
check "39 (it ran)" test -s "$T/count8"

done_testing
