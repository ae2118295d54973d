#!/bin/bash
# test_gate.sh — `warden gate check`: allow and deny with exact lines, limits denials naming the
# permission, audit mode, --json and --explain output, rejected policies and RunConfigs with
# their codes, the RunConfig size limit at and past, and that env values never appear.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
EX=$WD_SRCDIR/examples
P=$EX/policies/team.yaml

same_text() { if [ "$(cat "$2")" = "$3" ]; then ok "$1"; else notok "$1" "wanted: $3" "got: $(cat "$2")"; fi; }

expect "01 gate --help" 0 "usage: warden gate <command>" -- "$W" gate --help
expect "02 gate check --help" 0 "usage: warden gate check --policy FILE --config RUNCONFIG.json" -- "$W" gate check --help
check "03 help documents every flag" sh -c "for f in --policy --config --server --tool --args --explain --json --help; do grep -q -- \"\$f\" '$T/out' || exit 1; done"
expect "04 gate without a command" 2 "a command is required" -- "$W" gate
expect "05 check without --config" 2 "" -- "$W" gate check --policy "$P"
exactly_one_line "05b the usage error is one line naming the flag" "warden: gate check: missing --config (or --server and --tool) (see 'warden gate check --help')"
expect "06 check without --policy" 2 "" -- "$W" gate check --config x
exactly_one_line "06b one line" "warden: gate check: missing --policy (see 'warden gate check --help')"
expect "07 an unknown flag" 2 "" -- "$W" gate check --policy "$P" --config x --frob
exactly_one_line "07b one line" "warden: gate check: unknown option: --frob (see 'warden gate check --help')"
expect "08 a stray argument" 2 "unexpected argument: extra" -- "$W" gate check --policy "$P" --config x extra

expect "09 an allowed RunConfig exits 0" 0 "" -- "$W" gate check --policy "$P" --config "$EX/runconfigs/fs-docs.json"
same_text "10 allow line and profile" "$T/out" "allow: approved by security review 2026-10 (rule official-filesystem)
profile: restricted"
expect "11 a shell is denied" 3 "" -- "$W" gate check --policy "$P" --config "$EX/runconfigs/shell.json"
exactly_one_line "12 the denial reaches the user unchanged" "server creation blocked by policy: shells can run anything; run the server program itself (rule no-shells)"
expect "13 a volume outside the profile is denied" 3 "" -- "$W" gate check --policy "$P" --config "$EX/runconfigs/fs-too-wide.json"
exactly_one_line "14 the denial names the permission" "server creation blocked by policy: read /etc/** exceeds profile restricted (rule official-filesystem)"
expect "15 a pinned image with its label is allowed" 0 "allow: internal images, pinned by digest (rule acme-images)" -- "$W" gate check --policy "$P" --config "$EX/runconfigs/image.json"

echo '{"name":"fs-x","command":["npx","-y","@modelcontextprotocol/server-filesystem@1"],"permission_profile":{"privileged":true}}' >"$T/priv.json"
expect "16 privileged beyond the profile" 3 "server creation blocked by policy: privileged exceeds profile restricted (rule official-filesystem)" -- "$W" gate check --policy "$P" --config "$T/priv.json"
echo '{"name":"fs-x","command":["npx","-y","@modelcontextprotocol/server-filesystem@1"],"permission_profile":{"network":"host"}}' >"$T/net.json"
expect "17 host network beyond the profile" 3 "network host exceeds profile restricted" -- "$W" gate check --policy "$P" --config "$T/net.json"
echo '{"name":"fs-x","command":["npx","-y","@modelcontextprotocol/server-filesystem@1"],"env":{"AWS_SECRET_ACCESS_KEY":"hunter2-value"}}' >"$T/env.json"
expect "18 an env name beyond the profile" 3 "env AWS_SECRET_ACCESS_KEY exceeds profile restricted" -- "$W" gate check --policy "$P" --config "$T/env.json"
check "19 the env value is never printed" sh -c "! grep -q hunter2 '$T/out' '$T/err'"
echo '{"name":"other","command":["node","x.js"]}' >"$T/other.json"
expect "20 no rule matches: the default denies" 3 "server creation blocked by policy: no rule matched (default deny) (rule servers.default)" -- "$W" gate check --policy "$P" --config "$T/other.json"

expect "21 audit mode allows a would-be denial" 0 "" -- "$W" gate check --policy "$EX/policies/audit.yaml" --config "$EX/runconfigs/shell.json"
same_text "22 audit line" "$T/out" "allow (audit): would be blocked: shells can run anything; run the server program itself (rule no-shells)"

expect "23 --json on allow" 0 "" -- "$W" gate check --policy "$P" --config "$EX/runconfigs/fs-docs.json" --json
same_text "24 allow JSON" "$T/out" '{"verdict":"allow","rule":"official-filesystem","reason":"approved by security review 2026-10","mode":"enforce","audit_would_deny":false,"warn":false,"profile":"restricted"}'
expect "25 --json on deny exits 3" 3 "" -- "$W" gate check --policy "$P" --config "$EX/runconfigs/shell.json" --json
same_text "26 deny JSON" "$T/out" '{"verdict":"deny","rule":"no-shells","reason":"shells can run anything; run the server program itself","mode":"enforce","audit_would_deny":false,"warn":false,"profile":""}'
expect "27 --json in audit mode" 0 '"audit_would_deny":true' -- "$W" gate check --policy "$EX/policies/audit.yaml" --config "$EX/runconfigs/shell.json" --json

expect "28 --explain on allow" 0 "" -- "$W" gate check --policy "$P" --config "$EX/runconfigs/fs-docs.json" --explain
same_text "29 explain lists each rule, then the decision" "$T/out" "rule 1 no-shells (deny): no match: command 'npx' matches none of the rule's patterns
rule 2 official-filesystem (allow): matched: every match field matched; requested permissions are within profile restricted
rule 3 acme-images (allow): no match: image '' matches none of the rule's patterns
rule 4 acme-remote (allow): no match: remote_url '' matches none of the rule's patterns
allow: approved by security review 2026-10 (rule official-filesystem)
profile: restricted"
expect "30 --explain on deny stops at the first denying rule" 3 "" -- "$W" gate check --policy "$P" --config "$EX/runconfigs/shell.json" --explain
same_text "31 explain of a denial" "$T/out" "rule 1 no-shells (deny): matched: every match field matched"

printf 'version: 1\nservers: {rules: [{name: a, action: allow, mtach: {}}]}\n' >"$T/bad.yaml"
reject "32 an invalid policy is rejected" invalid-policy -- "$W" gate check --policy "$T/bad.yaml" --config "$EX/runconfigs/fs-docs.json"
echo '{"name":"x","command":["node"],"nmae":"y"}' >"$T/unk.json"
reject "33 an unknown RunConfig field" unknown-field -- "$W" gate check --policy "$P" --config "$T/unk.json"
echo '{"name":"x","command":["node"],"name":"y"}' >"$T/dup.json"
reject "34 a duplicate RunConfig key" duplicate-key -- "$W" gate check --policy "$P" --config "$T/dup.json"
echo '{"name":"x"}' >"$T/nocmd.json"
reject "35 a RunConfig without command, image or remote_url" malformed -- "$W" gate check --policy "$P" --config "$T/nocmd.json"
echo '{"name":"x","command":["node"]} []' >"$T/trail.json"
reject "36 trailing data" trailing-data -- "$W" gate check --policy "$P" --config "$T/trail.json"

# RunConfig size: exactly 64 KiB (padded with spaces) and one byte more
head='{"name":"other","command":["node"]'
{ printf '%s' "$head"; head -c $((65536 - ${#head} - 1)) /dev/zero | tr '\0' ' '; printf '}'; } >"$T/max.json"
check "37 the padded RunConfig is 64 KiB" test "$(stat -c %s "$T/max.json")" -eq 65536
expect "38 a RunConfig at the limit is decided" 3 "(rule servers.default)" -- "$W" gate check --policy "$P" --config "$T/max.json"
{ printf ' '; cat "$T/max.json"; } >"$T/over.json"
reject "39 one byte more is oversized" oversized -- "$W" gate check --policy "$P" --config "$T/over.json"
expect "40 a missing RunConfig is an I/O error" 1 "cannot open" -- "$W" gate check --policy "$P" --config "$T/none.json"
expect "41 a RunConfig on stdin" 0 "(rule official-filesystem)" -- sh -c "'$W' gate check --policy '$P' --config - <'$EX/runconfigs/fs-docs.json'"

# ---- tool calls: --server --tool [--args] ----
expect "42 a tool call allowed by the default" 0 "" -- "$W" gate check --policy "$P" --server fs-docs --tool read_file --args '{"path":"/etc/passwd"}'
same_text "43 allow line of the default" "$T/out" "allow: no rule matched (default allow) (rule mcp_tool_policy.default)"
expect "44 a denied tool call exits 3" 3 "" -- "$W" gate check --policy "$P" --server fs-docs --tool write_file --args '{"path":"/etc/passwd","content":"x"}'
exactly_one_line "45 the denial line is exact" "tool call blocked by policy: writes to system paths are not allowed (rule no-system-paths)"
check "46 nothing on stdout" test ! -s "$T/out"
expect "47 a warn rule allows and says so" 0 "" -- "$W" gate check --policy "$P" --server any --tool read_file --args '{"length":12345678}'
same_text "48 warn line (a number is matched as its JSON text)" "$T/out" "allow (warn): large reads are logged (rule log-large-reads)"
expect "49 --json on a warn" 0 "" -- "$W" gate check --policy "$P" --server any --tool read_file --args '{"length":12345678}' --json
same_text "50 warn JSON" "$T/out" '{"verdict":"allow","rule":"log-large-reads","reason":"large reads are logged","mode":"enforce","audit_would_deny":false,"warn":true,"profile":""}'
expect "51 --json on a tool denial exits 3" 3 "" -- "$W" gate check --policy "$P" --server fs-docs --tool delete_file --args '{"path":"/usr/bin/x"}' --json
same_text "52 deny JSON" "$T/out" '{"verdict":"deny","rule":"no-system-paths","reason":"writes to system paths are not allowed","mode":"enforce","audit_would_deny":false,"warn":false,"profile":""}'
expect "53 --explain on a tool call" 0 "" -- "$W" gate check --policy "$P" --server fs-docs --tool write_file --args '{"path":"/srv/x"}' --explain
same_text "54 explain of a tool call" "$T/out" "rule 1 no-system-paths (deny): no match: argument path does not match /^/(etc|usr|boot)//
rule 2 log-large-reads (warn): no match: tool 'write_file' matches none of the rule's patterns
allow: no rule matched (default allow) (rule mcp_tool_policy.default)"
expect "55 without --args the call has no arguments" 0 "(rule mcp_tool_policy.default)" -- "$W" gate check --policy "$P" --server fs-docs --tool write_file
cat >"$T/tools-audit.yaml" <<'EOF'
version: 1
mode: audit
mcp_tool_policy:
  default: deny
  rules:
    - {name: no-exec, action: deny, reason: "no exec", tool: [exec]}
EOF
expect "56 audit mode allows a would-be tool denial" 0 "" -- "$W" gate check --policy "$T/tools-audit.yaml" --server s --tool exec
same_text "57 audit line" "$T/out" "allow (audit): would be blocked: no exec (rule no-exec)"
expect "58 a tool default deny" 0 "allow (audit): would be blocked: no rule matched (default deny) (rule mcp_tool_policy.default)" -- "$W" gate check --policy "$T/tools-audit.yaml" --server s --tool other
reject "59 --args not an object" malformed -- "$W" gate check --policy "$P" --server s --tool t --args '["path"]'
exactly_one_line "60 the line names --args" "rejected (malformed): --args: expected a JSON object"
reject "61 --args with a repeated key" duplicate-key -- "$W" gate check --policy "$P" --server s --tool t --args '{"a":1,"a":2}'
reject "62 --args with trailing data" trailing-data -- "$W" gate check --policy "$P" --server s --tool t --args '{"a":1} x'
reject "63 --args that is not JSON" malformed -- "$W" gate check --policy "$P" --server s --tool t --args '{a:1}'
check "64 --args rejections print nothing on stdout" test ! -s "$T/out"
big=$(head -c $((65536 - 11)) /dev/zero | tr '\0' a)
expect "65 --args of exactly 64 KiB is decided" 0 "(rule mcp_tool_policy.default)" -- "$W" gate check --policy "$P" --server s --tool t --args "{\"path\":\"$big\"}"
check "66 that --args was 65536 bytes" test "$(printf '{"path":"%s"}' "$big" | wc -c)" -eq 65536
reject "67 one byte more is oversized" oversized -- "$W" gate check --policy "$P" --server s --tool t --args "{\"path\":\"${big}a\"}"
expect "68 --tool without --server" 2 "" -- "$W" gate check --policy "$P" --tool t
exactly_one_line "69 one line naming --server" "warden: gate check: missing --server (see 'warden gate check --help')"
expect "70 --server without --tool" 2 "" -- "$W" gate check --policy "$P" --server s
exactly_one_line "71 one line naming --tool" "warden: gate check: missing --tool (see 'warden gate check --help')"
expect "72 --config and --server together" 2 "not both" -- "$W" gate check --policy "$P" --config x --server s --tool t
expect "73 an empty --tool" 2 "warden: gate check: --tool is empty" -- "$W" gate check --policy "$P" --server s --tool ''
expect "74 --args without its value" 2 "" -- "$W" gate check --policy "$P" --server s --tool t --args
exactly_one_line "75 the flag that lacks a value is named" "warden: gate check: --args needs a value (see 'warden gate check --help')"
expect "76 a tool call under an invalid policy is rejected" 3 "rejected (invalid-policy): " -- "$W" gate check --policy "$T/bad.yaml" --server s --tool t

done_testing
