#!/bin/bash
# test_policy.sh — `warden policy check`: summaries for valid documents (the examples and the
# built-in policy), one exact rejection line with the error's path, the loader's own codes, the
# size limit at and past, and help/usage.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
EX=$WD_SRCDIR/examples

# exactly_one_line NAME TEXT: stderr of the last expect is exactly TEXT, one line.

expect "01 policy --help" 0 "usage: warden policy <command>" -- "$W" policy --help
expect "02 policy check --help documents FILE" 0 "usage: warden policy check [--default] [FILE]" -- "$W" policy check --help
check "03 check --help documents every flag" sh -c "grep -q -- '--default' '$T/out' && grep -q -- '--help' '$T/out'"
expect "04 policy without a command" 2 "a command is required" -- "$W" policy
expect "05 unknown policy command" 2 "unknown command 'lint'" -- "$W" policy lint x
expect "06 check without FILE" 2 "exactly one FILE is required" -- "$W" policy check
expect "07 check with two files" 2 "exactly one FILE is required" -- "$W" policy check a b
expect "08 check with an unknown flag" 2 "unknown option" -- "$W" policy check --strict x

expect "09 the team example is valid" 0 "ok: 4 server rules, 2 tool rules, 1 profiles" -- "$W" policy check "$EX/policies/team.yaml"
expect "10 the audit example is valid" 0 "ok: 1 server rules, 0 tool rules, 0 profiles" -- "$W" policy check "$EX/policies/audit.yaml"
expect "11 the default-policy example is valid" 0 "ok: 19 server rules, 0 tool rules, 1 profiles" -- "$W" policy check "$EX/default-policy.yaml"
expect "12 the built-in policy is valid" 0 "ok: 19 server rules, 0 tool rules, 1 profiles" -- "$W" policy check --default
check "13 the summary is the only output" test "$(wc -l <"$T/out")" -eq 1 -a ! -s "$T/err"
expect "14 --default takes no FILE" 2 "--default takes no FILE" -- "$W" policy check --default x

cd "$T" || exit 1
cat >"$T/mtach.yaml" <<'EOF'
version: 1
servers:
  rules:
    - {name: a, action: allow}
    - {name: b, action: allow}
    - {name: c, action: allow, mtach: {name: [x]}}
EOF
expect "15 an unknown key is rejected" 3 "" -- "$W" policy check mtach.yaml
exactly_one_line "16 the line names the path" "rejected (invalid-policy): mtach.yaml:6:32: servers.rules[2].mtach: unknown key (did you mean 'match'?)"
check "17 nothing on stdout" test ! -s "$T/out"

printf 'version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {name: ["fs-[a"]}}\n' >"$T/glob.yaml"
expect "18 a bad glob" 3 "" -- "$W" policy check glob.yaml
exactly_one_line "19 bad glob line" "rejected (invalid-policy): glob.yaml:4:47: servers.rules[0].match.name[0]: invalid glob: unterminated ["

printf 'version: 1\nmcp_tool_policy:\n  rules:\n    - {name: a, action: deny, args: [{key: k, regex: "(a"}]}\n' >"$T/rx.yaml"
expect "20 a bad regex" 3 "" -- "$W" policy check rx.yaml
exactly_one_line "21 bad regex line" "rejected (invalid-policy): rx.yaml:4:47: mcp_tool_policy.rules[0].args[0].regex: invalid regex at offset 2: missing closing parenthesis"

printf 'version: 1\nservers:\n  rules:\n    - {name: a, action: allow, limits: {profile: ghost}}\n' >"$T/prof.yaml"
expect "22 a missing profile" 3 "" -- "$W" policy check prof.yaml
exactly_one_line "23 missing profile line" "rejected (invalid-policy): prof.yaml:4:41: servers.rules[0].limits.profile: unknown permission profile 'ghost'"

printf 'version: 1\nservers:\n  rules:\n    - {name: a, action: allow}\n    - {name: a, action: deny}\n' >"$T/dup.yaml"
expect "24 a duplicate rule name" 3 "" -- "$W" policy check dup.yaml
exactly_one_line "25 duplicate rule line" "rejected (invalid-policy): dup.yaml:5:8: servers.rules[1].name: duplicate rule name 'a' (first at servers.rules[0])"

printf 'version: 1\nmode: enforce\nmode: audit\n' >"$T/dupkey.yaml"
reject "26 a duplicate key keeps the loader's code" duplicate-key -- "$W" policy check "$T/dupkey.yaml"
printf 'version: 1\nservers: [\n' >"$T/syntax.yaml"
reject "27 a syntax error is malformed" malformed -- "$W" policy check "$T/syntax.yaml"
printf 'version: 2\n' >"$T/v2.yaml"
reject "28 version 2 is an invalid policy" invalid-policy -- "$W" policy check "$T/v2.yaml"
printf 'version: 1\nsandbox: {}\n' >"$T/local.yaml"
expect "29 an unknown section is named" 3 "rejected (invalid-policy): local.yaml:2:1: sandbox: unknown key" -- "$W" policy check local.yaml

# 256 KiB exactly: a valid document padded with a comment
{ printf 'version: 1\n#'; head -c $((262144 - 13)) /dev/zero | tr '\0' c; printf '\n'; } >"$T/max.yaml"
check "30 the padded document is 256 KiB" test "$(stat -c %s "$T/max.yaml")" -eq 262144
expect "31 a document at the size limit is accepted" 0 "ok: 0 server rules" -- "$W" policy check "$T/max.yaml"
{ cat "$T/max.yaml"; printf '#'; } >"$T/over.yaml"
reject "32 one byte more is oversized" oversized -- "$W" policy check "$T/over.yaml"

expect "33 a missing file is an I/O error" 1 "cannot open" -- "$W" policy check "$T/nope.yaml"
expect "34 standard input works" 0 "ok: 0 server rules, 0 tool rules, 0 profiles" -- sh -c "printf 'version: 1\n' | '$W' policy check -"
cp "$T/mtach.yaml" "$T/mtach.copy"
"$W" policy check "$T/mtach.yaml" >/dev/null 2>&1
same_file "35 checking never changes the file" "$T/mtach.yaml" "$T/mtach.copy"

done_testing
