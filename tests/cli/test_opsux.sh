#!/bin/bash
# test_opsux.sh — the operator's workflow: usage errors in one line that point at --help,
# `warden policy test` (the shipped case files pass; failures, case-file errors and limits with
# exact lines and codes), policy and RunConfig errors that name the file, line and column with a
# suggestion, and a public key given where a private key belongs.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
EX=$WD_SRCDIR/examples
cd "$T" || exit 1

same_text() { if [ "$(cat "$2")" = "$3" ]; then ok "$1"; else notok "$1" "wanted: $3" "got: $(cat "$2")"; fi; }

# ---- usage errors: one line, the command, the flag, and where help is ----
expect "01 warden without a command" 2 "" -- "$W"
exactly_one_line "02 one line" "warden: a command is required (see 'warden --help')"
expect "03 an unknown command" 2 "" -- "$W" frob
exactly_one_line "04 one line naming it" "warden: unknown command 'frob' (see 'warden --help')"
expect "05 an unknown subcommand" 2 "" -- "$W" policy lint
exactly_one_line "06 one line naming the group" "warden: policy: unknown command 'lint' (see 'warden policy --help')"
expect "07 a flag without its value" 2 "" -- "$W" policy test --frob x y
exactly_one_line "08 one line naming the flag" "warden: policy test: unknown option: --frob (see 'warden policy test --help')"
expect "09 bundle create without its flags" 2 "" -- "$W" bundle create --policy x
check "10 one line pointing at bundle create --help" sh -c "test \$(wc -l <'$T/err') -eq 1 && grep -q \"(see 'warden bundle create --help')\$\" '$T/err' && ! grep -q usage: '$T/err'"
expect "11 run without CMD" 2 "" -- "$W" run
exactly_one_line "12 one line" "warden: run: a command is required: warden run [flags] -- CMD (see 'warden run --help')"
expect "13 the help is still there with --help" 0 "usage: warden policy test [--default] [POLICY] CASES" -- "$W" policy test --help
check "14 policy test --help documents every flag" sh -c "for f in --default --help POLICY CASES; do grep -q -- \"\$f\" '$T/out' || exit 1; done"

# ---- policy test: the shipped case files pass ----
expect "15 the built-in policy passes its cases" 0 "" -- "$W" policy test --default "$EX/default-policy.tests.yaml"
n_default=$(grep -c '^  - name:' "$EX/default-policy.tests.yaml")
same_text "16 every case counted" "$T/out" "policy test: $n_default passed, 0 failed"
expect "17 the example file of the built-in policy passes too" 0 "policy test: $n_default passed, 0 failed" -- "$W" policy test "$EX/default-policy.yaml" "$EX/default-policy.tests.yaml"
for p in "$EX"/policies/*.yaml; do
    case $p in *.tests.yaml) continue ;; esac
    cases=${p%.yaml}.tests.yaml
    check "18 $(basename "$p") has a case file" test -f "$cases"
    expect "19 $(basename "$p") passes its cases" 0 "policy test: $(grep -c '^  - name:' "$cases") passed, 0 failed" -- "$W" policy test "$p" "$cases"
done

# ---- failures: one line each with what decided, then the summary; exit 3 ----
cat >fail.yaml <<'EOF'
cases:
  - name: node -e is allowed
    server: {name: srv, command: [node, -e, "1"]}
    expect: {verdict: allow}
  - name: a node script is allowed
    server: {name: srv, command: [node, server.js]}
    expect: {verdict: allow}
  - name: wrong rule
    server: {name: sh, command: [bash]}
    expect: {verdict: deny, rule: servers.default}
  - name: warn expected
    tool_call: {server: s, tool: t, args: {a: 1}}
    expect: {verdict: allow, warn: true}
EOF
expect "20 failing cases exit 3" 3 "" -- "$W" policy test --default fail.yaml
same_text "21 one line per failing case, then the summary" "$T/out" "FAIL cases[0] node -e is allowed: want allow, got deny: inline code (-e/--eval, -p/--print) can run anything; run a script or package (rule no-inline-code-eval)
FAIL cases[2] wrong rule: want deny (rule servers.default), got deny: shells and launchers can start anything; run the server program itself (rule no-shells)
FAIL cases[3] warn expected: want allow with warn, got allow: no rule matched (default allow) (rule mcp_tool_policy.default)
policy test: 1 passed, 3 failed"
check "22 the summary does not look like the test runner's line" sh -c "! grep -Eq '^[0-9]+ passed, [0-9]+ failed$' '$T/out'"
check "23 nothing on stderr" test ! -s "$T/err"
expect "24 audit-mode cases see allow" 0 "policy test: 3 passed, 0 failed" -- "$W" policy test "$EX/policies/audit.yaml" "$EX/policies/audit.tests.yaml"

# ---- case-file errors: exit 2, one line with file:line:col and the path; nothing runs ----
case_err() { # NAME TEXT FILE-CONTENT
    printf '%s' "$3" >case.yaml
    expect "$1" 2 "" -- "$W" policy test --default case.yaml
    exactly_one_line "$1: exact line" "$2"
    check "$1: no case ran" test ! -s "$T/out"
}
case_err "25 an unknown key with a suggestion" "warden: policy test: case.yaml:4:5: cases[0].expct: unknown key (did you mean 'expect'?)" \
'cases:
  - name: a
    server: {name: x, command: [node]}
    expct: {verdict: allow}
'
case_err "26 an unknown RunConfig field" "warden: policy test: case.yaml:3:40: cases[0].server.nmae: unknown field (did you mean 'name'?)" \
'cases:
  - name: a
    server: {name: x, command: [node], nmae: y}
    expect: {verdict: allow}
'
case_err "27 a RunConfig without a command" "warden: policy test: case.yaml:3:5: cases[0].server: one of command, image, remote_url is required" \
'cases:
  - name: a
    server: {name: x}
    expect: {verdict: allow}
'
case_err "28 a bad verdict" "warden: policy test: case.yaml:4:14: cases[0].expect.verdict: must be allow or deny" \
'cases:
  - name: a
    tool_call: {server: x, tool: y}
    expect: {verdict: maybe}
'
case_err "29 server and tool_call together" "warden: policy test: case.yaml:2:5: cases[0]: give exactly one of server (a RunConfig) or tool_call" \
'cases:
  - name: a
    server: {name: x, command: [node]}
    tool_call: {server: x, tool: y}
    expect: {verdict: allow}
'
case_err "30 args that are not a mapping" "warden: policy test: case.yaml:3:37: cases[0].tool_call.args: expected a JSON object" \
'cases:
  - name: a
    tool_call: {server: x, tool: y, args: [1]}
    expect: {verdict: allow}
'
case_err "31 a missing expect" "warden: policy test: case.yaml:2:5: cases[0].expect: missing required key" \
'cases:
  - name: a
    tool_call: {server: x, tool: y}
'
case_err "32 an error in a later case stops every case" "warden: policy test: case.yaml:5:5: cases[1].name: missing required key" \
'cases:
  - name: a
    tool_call: {server: x, tool: y}
    expect: {verdict: allow}
  - tool_call: {server: x, tool: y}
    expect: {verdict: allow, warn: maybe}
'
case_err "33 a top-level key that is not cases" "warden: policy test: case.yaml:1:1: case: unknown key (did you mean 'cases'?)" \
'case: []
'
case_err "34 a repeated key" "warden: policy test: case.yaml: YAML line 3, column 5: duplicate mapping key 'name'" \
'cases:
  - name: a
    name: b
'
# the case file's size limit: 256 KiB at the limit (a comment pads it) and one byte more
{ printf 'cases:\n  - {name: a, tool_call: {server: x, tool: y}, expect: {verdict: allow}}\n#'; } >max.yaml
pad=$((262144 - $(stat -c %s max.yaml) - 1))
{ head -c "$pad" /dev/zero | tr '\0' c; printf '\n'; } >>max.yaml
check "35 the padded case file is 256 KiB" test "$(stat -c %s max.yaml)" -eq 262144
expect "36 a case file at the limit runs" 0 "policy test: 1 passed, 0 failed" -- "$W" policy test --default max.yaml
{ cat max.yaml; printf '#'; } >over.yaml
expect "37 one byte more is a case-file error" 2 "" -- "$W" policy test --default over.yaml
exactly_one_line "38 it says so" "warden: policy test: over.yaml: 262145 bytes, larger than the limit of 262144 bytes"
expect "39 POLICY and CASES are required" 2 "" -- "$W" policy test x
exactly_one_line "40 one line" "warden: policy test: POLICY and CASES are required (see 'warden policy test --help')"
expect "41 an invalid POLICY is rejected (3)" 3 "rejected (invalid-policy): bad.yaml:1:1: mod: unknown key (did you mean 'mode'?)" -- sh -c "printf 'mod: audit\nversion: 1\n' >bad.yaml; '$W' policy test bad.yaml '$EX/policies/audit.tests.yaml'"
expect "42 a missing case file is an I/O error" 1 "cannot open" -- "$W" policy test --default none.yaml

# ---- policy and RunConfig errors name the file, line and column ----
cat >mtach.yaml <<'EOF'
version: 1
servers:
  rules:
    - name: a
      action: allow
      mtach: {name: [x]}
EOF
expect "43 a policy error" 3 "" -- "$W" policy check mtach.yaml
exactly_one_line "44 with file, line, column and a suggestion" "rejected (invalid-policy): mtach.yaml:6:7: servers.rules[0].mtach: unknown key (did you mean 'match'?)"
printf 'version: 1\nservers: {rules: [{name: a}]}\n' >noact.yaml
expect "45 a missing key points at its mapping" 3 "rejected (invalid-policy): noact.yaml:2:19: servers.rules[0].action: missing required key" -- "$W" policy check noact.yaml
printf 'version: 1\nservers: {rules: [{name: a, action: allow, match: {frobnicate: [x]}}]}\n' >far.yaml
expect "46 no suggestion when nothing is close" 3 "" -- "$W" policy check far.yaml
exactly_one_line "47 exact line" "rejected (invalid-policy): far.yaml:2:52: servers.rules[0].match.frobnicate: unknown key"
expect "48 a policy error on stdin" 3 "rejected (invalid-policy): <stdin>:1:1: vesion: unknown key (did you mean 'version'?)" -- sh -c "printf 'vesion: 1\n' | '$W' policy check -"
echo '{"name":"x","comand":["node"]}' >rc.json
expect "49 a RunConfig error names the file" 3 "" -- "$W" gate check --policy "$EX/policies/team.yaml" --config rc.json
exactly_one_line "50 with a suggestion" "rejected (unknown-field): rc.json: comand: unknown field (did you mean 'command'?)"
printf '{"name":"x",\n "command":["node"],,}\n' >rcsyn.json
expect "51 a RunConfig syntax error names file, line and column" 3 "rejected (malformed): rcsyn.json: JSON document rejected at line 2, column" -- "$W" gate check --policy "$EX/policies/team.yaml" --config rcsyn.json

# ---- a public key where a private key belongs ----
"$W" key gen k >/dev/null
echo payload >in.txt
expect "52 a public key given to sign with" 3 "" -- "$W" dsse sign --type t --key k.pub in.txt out.env
exactly_one_line "53 says exactly that, without chmod advice" "rejected (malformed): --key: k.pub: this is a public key; a private key (PKCS#8 PEM) is needed here (perhaps k)"
check "54 nothing written" test ! -e out.env
cp k.pub other && chmod 600 other
expect "55 also when its mode is 0600 and its name has no .pub" 3 "rejected (malformed): --key: other: this is a public key; a private key (PKCS#8 PEM) is needed here" -- "$W" dsse sign --type t --key other in.txt out.env
cp k k644 && chmod 644 k644
expect "56 a group-readable private key is still refused by its mode" 1 "" -- "$W" dsse sign --type t --key k644 in.txt out.env
exactly_one_line "57 with the mode advice" "warden: --key: private key k644 is readable by group or others (mode 0644); chmod 600 it"
{ cat k.pub; cat k; } >both && chmod 644 both
expect "58 a file with a private key label gets the mode check first" 1 "is readable by group or others" -- "$W" dsse sign --type t --key both in.txt out.env
check "59 nothing written" test ! -e out.env

# tool_call args in a case file: keys and values of 64 KiB in all, and one byte more
v=$(head -c $((65536 - 4)) /dev/zero | tr '\0' a)
printf 'cases:\n  - name: big\n    tool_call: {server: x, tool: y, args: {path: "%s"}}\n    expect: {verdict: allow}\n' "$v" >args-max.yaml
expect "60 case args of 64 KiB in all are decided" 0 "policy test: 1 passed, 0 failed" -- "$W" policy test --default args-max.yaml
printf 'cases:\n  - name: big\n    tool_call: {server: x, tool: y, args: {path: "%sa"}}\n    expect: {verdict: allow}\n' "$v" >args-over.yaml
expect "61 one byte more is a case-file error" 2 "" -- "$W" policy test --default args-over.yaml
exactly_one_line "62 it says so" "warden: policy test: args-over.yaml:3:37: cases[0].tool_call.args: more than 65536 bytes of arguments"

expect "63 run with a flag that lacks its value" 2 "" -- "$W" run --policy
exactly_one_line "64 names the flag" "warden: run: --policy needs a value (see 'warden run --help')"
expect "65 run with an unknown flag" 2 "" -- "$W" run --frob -- true
exactly_one_line "66 names it" "warden: run: unknown option: --frob (see 'warden run --help')"

done_testing
