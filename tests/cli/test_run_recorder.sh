#!/bin/bash
# test_run_recorder.sh — `warden run` with the flight recorder: --recorder DIR --recorder-key KEY
# records server_create, tool_call (allowed and denied), tools_list and server_stop, and
# `warden recorder verify` verifies the chain; environment values never reach the recorder; an
# unwritable recorder stops the start with nothing run; --recorder-key alone is a usage error;
# --no-sandbox is said on stderr and recorded ("sandbox":false); under --state-dir the agent's
# recorder named in recorder.json is used, read up to its 64 KiB cap (one byte more: rejected,
# nothing started or changed). It must never leave a server running (traps).
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
SRV="$WD_SRCDIR/tests/cli/runner_server.py"
PY=$(command -v /usr/bin/python3 || command -v python3)
"$W" key gen "$T/rk" >/dev/null

# servers named fake* allowed, sandboxed with read of the server script and write of $T;
# the tool "secret" is denied; the policy file itself is replaced by the server in the
# server_stop case (below)
cat >"$T/p.yaml" <<EOF
version: 1
servers:
  default: deny
  rules:
    - name: fake
      action: allow
      match: {name: ["fake*"]}
      limits: {profile: fake}
permission_profiles:
  fake: {env: [PATH, "FAKE_*"], read: ["$SRV"], write: ["$T/**"]}
mcp_tool_policy:
  default: allow
  rules:
    - name: no-secret
      action: deny
      reason: "secrets stay"
      tool: [secret]
EOF
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
msgs() {
    printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' \
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}' \
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"secret","arguments":{}}}'
}
msgs >"$T/in"
# kinds DIR: the kinds of the entries in DIR's segments, one per line, in order
kinds() { cat "$1"/seg-*.jsonl | "$PY" -c 'import json,sys; [print(json.loads(l)["kind"]) for l in sys.stdin]'; }
# entry DIR KIND FIELD: FIELD of the first entry of KIND, as compact JSON
entry() {
    cat "$1"/seg-*.jsonl | "$PY" -c 'import json,sys
for l in sys.stdin:
    o = json.loads(l)
    if o["kind"] == sys.argv[1]:
        print(json.dumps(o.get(sys.argv[2]), separators=(",", ":"))); break' "$2" "$3"
}

# ---- a session: create, tools/list, an allowed and a denied call ----
R="$T/rec"
expect "01 a run with --recorder DIR --recorder-key KEY" 0 "" -- sh -c "FAKE_TOKEN=s3cr3t-inherited '$W' run --policy '$T/p.yaml' --name fake --recorder '$R' --recorder-key '$T/rk' --env FAKE_GIVEN=s3cr3t-given -- '$PY' '$SRV' <'$T/in'"
check "02 the denied call was answered 403" grep -q '"id":3,"error":{"code":403' "$T/out"
check "03 the allowed call reached the server" grep -q '"text":"Echo: hi"' "$T/out"
check "04 the recorder directory is 0700" test "$(stat -c %a "$R")" = 700
kinds "$R" >"$T/kinds"
check "05 server_create is the first entry" test "$(head -1 "$T/kinds")" = server_create
check "06 two tool_call entries" test "$(grep -c '^tool_call$' "$T/kinds")" -eq 2
check "07 a tools_list entry" grep -qx tools_list "$T/kinds"
check "08 the allowed call: verdict allow" grep -q '"kind":"tool_call","server":"fake","tool":"echo","verdict":"allow"' "$R"/seg-*.jsonl
check "09 the denied call: verdict deny, rule no-secret" grep -q '"tool":"secret","verdict":"deny","rule":"no-secret"' "$R"/seg-*.jsonl
check "10 tools_list says secret was removed" test "$(entry "$R" tools_list removed)" = '["secret"]'
check "11 server_create says sandbox true" test "$(entry "$R" server_create sandbox)" = true
check "12 no environment value is in the recorder" sh -c "! grep -rq s3cr3t '$R'"
check "13 no argument value either (digest only)" sh -c "! grep -rq '\"hi\"' '$R'"
check "14a the run ends with server_stop (its exit) and a signed checkpoint that seals it" \
    test "$(tail -2 "$T/kinds" | tr '\n' ' ')" = "server_stop checkpoint "
expect "14 recorder verify with the key's public half" 0 "verified: 6 entries, last checkpoint at seq 6, 0 unsigned after it" -- "$W" recorder verify "$R" --key "$T/rk.pub"

# ---- server_stop: the server replaces the policy with one denying it, then fails; the
# restart is denied (policy_stopped) and recorded ----
cp "$T/p.yaml" "$T/live.yaml"
R2="$T/rec2"
rm -f "$T/fifo"; mkfifo "$T/fifo"
exec 7<>"$T/fifo"
"$W" run --policy "$T/live.yaml" --name fake --restart on-failure --recorder "$R2" --recorder-key "$T/rk" -- "$PY" "$SRV" replace-crash "$T/noserver.yaml" "$T/live.yaml" >"$T/out" 2>"$T/err" <&7
rc=$?
exec 7>&-
check "15 a restart the policy denies: exit 3" test "$rc" -eq 3
kinds "$R2" >"$T/kinds2"
check "16 server_create, server_stop (its exit), server_stop (the denied restart), checkpoint" \
    test "$(tr '\n' ' ' <"$T/kinds2")" = "server_create server_stop server_stop checkpoint "
check "17 server_stop says deny with the reason" grep -q '"kind":"server_stop","server":"fake","decision":"deny"' "$R2"/seg-*.jsonl
expect "18 the chain verifies" 0 "verified: 4 entries, last checkpoint at seq 4" -- "$W" recorder verify "$R2" --key "$T/rk.pub"

# ---- an unwritable recorder: nothing starts ----
touch "$T/afile"
rm -f "$T/marker"
expect "19 a recorder under a file cannot be created: exit 1" 1 "" -- "$W" run --policy "$T/p.yaml" --name fake --recorder "$T/afile/rec" -- "$PY" "$SRV" crash-start "$T/marker"
exactly_one_line "20 with the exact message" "warden: recorder: cannot create $T/afile/rec: Not a directory"
check "21 the server never ran" test ! -e "$T/marker"
if [ "$(id -u)" -ne 0 ]; then
    mkdir -p "$T/ro"; chmod 0500 "$T/ro"
    expect "22 a recorder in a directory it cannot write: exit 1" 1 "warden: recorder: cannot create $T/ro/rec: Permission denied" -- "$W" run --policy "$T/p.yaml" --name fake --recorder "$T/ro/rec" -- "$PY" "$SRV" crash-start "$T/marker"
    check "23 the server never ran" test ! -e "$T/marker"
else
    ok "22 # SKIP root writes a 0500 directory anyway (the path under a file covers it)"
    ok "23 # SKIP as above"
fi

# ---- usage ----
expect "24 --recorder-key without --recorder: usage error" 2 "" -- "$W" run --policy "$T/p.yaml" --name fake --recorder-key "$T/rk" -- "$PY" "$SRV"
exactly_one_line "25 it says so" "warden: run: --recorder-key needs --recorder DIR (see 'warden run --help')"

# ---- --no-sandbox ----
R3="$T/rec3"
expect "26 --no-sandbox runs the server" 0 "" -- sh -c "'$W' run --policy '$T/p.yaml' --name fake --no-sandbox --recorder '$R3' -- '$PY' '$SRV' <'$T/in'"
exactly_one_line "27 and says so on stderr" "warden: --no-sandbox: the server runs without the sandbox its permission profile asks for"
check "28 server_create says sandbox false" test "$(entry "$R3" server_create sandbox)" = false
expect "29 an unsigned chain verifies too" 0 "verified:" -- "$W" recorder verify "$R3" --key "$T/rk.pub"

# ---- under --state-dir: the agent's recorder from recorder.json ----
cd "$T" || exit 1
for k in root bs; do "$W" key gen "$k" >/dev/null; done
"$W" roster init --org acme --root-key root --out r.1 >/dev/null &&
"$W" roster add-key r.1 --key bs.pub --purpose policy-bundle-signing --sign root --out R >/dev/null &&
"$W" bundle create --policy p.yaml --org acme --fleet prod --env eu1 --instances '*' --sign bs --version 1 --out b1 >/dev/null
expect "30 a state directory with the policy applied" 0 "" -- "$W" agent apply --state-dir S --pin "$("$W" key id root)" --org acme --fleet prod --env eu1 --instance i-1 R b1
R4="$T/agentrec"
printf '{"dir":"%s","signing_key":"%s"}\n' "$R4" "$T/rk" >S/recorder.json
expect "31 a run under the state directory" 0 "" -- sh -c "'$W' run --state-dir S --name fake -- '$PY' '$SRV' <'$T/in'"
check "32 it recorded in the agent's recorder" test "$(kinds "$R4" | head -1)" = server_create
check "33 with the tool calls" test "$(kinds "$R4" | grep -c '^tool_call$')" -eq 2
expect "34 and the chain verifies" 0 "verified: 6 entries, last checkpoint at seq 6" -- "$W" recorder verify "$R4" --key "$T/rk.pub"
printf '{"dir": 5}\n' >S/recorder.json
rm -f "$T/marker"
expect "35 recorder.json that is not the agent's settings: nothing starts" 3 "recorder.json: not the agent's recorder settings" -- "$W" run --state-dir S --name fake -- "$PY" "$SRV" crash-start "$T/marker"
check "36 the server never ran" test ! -e "$T/marker"

# ---- recorder.json at its cap (64 KiB) and one byte past it ----
# tree DIR...: every path under DIR with its type, size and content digest (shows nothing changed)
tree() { find "$@" -printf '%p %y %s\n' | sort; find "$@" -type f -exec sha256sum {} + | sort; }
R5="$T/caprec"
printf '{"dir":"%s","signing_key":"%s"}\n' "$R5" "$T/rk" >"$T/rj"
pad_to "$T/rj" S/recorder.json 65536
check "37 a recorder.json of exactly 65536 bytes (the cap)" test "$(stat -c %s S/recorder.json)" -eq 65536
expect "38 is read: the run starts" 0 "" -- sh -c "'$W' run --state-dir S --name fake -- '$PY' '$SRV' <'$T/in'"
check "39 and records in the recorder it names" test "$(kinds "$R5" | head -1)" = server_create
pad_to "$T/rj" S/recorder.json 65537
tree S "$R5" >"$T/tree.before"
rm -f "$T/marker"
expect "40 one byte past the cap: rejected, exit 3" 3 "" -- "$W" run --state-dir S --name fake -- "$PY" "$SRV" crash-start "$T/marker"
exactly_one_line "41 with one line naming the size and the cap" "rejected (oversized): S/recorder.json: 65537 bytes, larger than the limit of 65536 bytes"
check "42 the server never started" test ! -e "$T/marker"
tree S "$R5" >"$T/tree.after"
same_file "43 nothing changed in the state directory or the recorder" "$T/tree.before" "$T/tree.after"

done_testing
