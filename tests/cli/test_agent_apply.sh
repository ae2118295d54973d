#!/bin/bash
# test_agent_apply.sh — `warden agent apply|verify|status` and `warden run --state-dir`: the
# fail-closed matrix (every rejection with its exact code AND the state directory byte-identical
# afterwards: every file's digest, every symlink's target), the transition rule with the floor
# (skip, fork, stale, rollback with and without authorization), roster rotation and gaps, kill
# counters (replay, lower, honored and not), tampering on disk (deny-all), the stale policy,
# and the runner: denied under a kill and deny-all (a marker file proves nothing ran), allowed
# after an inactive kill, and a running server stopped when the policy changes (policy_stopped).
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
NOW=$(date -u +%s)
cd "$T" || exit 1

for k in root bs k1 k2 rb1 rb2 outsider; do "$W" key gen "$k" >/dev/null; done
PIN=$("$W" key id root)
"$W" roster init --org acme --root-key root --out r.1 >/dev/null &&
"$W" roster add-key r.1 --key bs.pub --purpose policy-bundle-signing --sign root --out r.2 >/dev/null &&
"$W" roster add-key r.2 --key k1.pub --purpose remote-kill-signing --sign root --out r.3 >/dev/null &&
"$W" roster add-key r.3 --key k2.pub --purpose remote-kill-signing --sign root --out r.4 >/dev/null &&
"$W" roster add-key r.4 --key rb1.pub --purpose policy-bundle-rollback --sign root --out r.5 >/dev/null &&
"$W" roster add-key r.5 --key rb2.pub --purpose policy-bundle-rollback --sign root --out R >/dev/null &&
"$W" roster renew R --sign root --out R.7 >/dev/null &&
"$W" roster renew R.7 --sign root --out R.8 >/dev/null
check "01 rosters for the tests are built" test -s R.8

# sh and true may run; "nosh" (below) allows only true. The servers run sandboxed: the
# profile grants the test directory, where they leave their marker files.
cat >pol.yaml <<EOF
version: 1
servers:
  default: deny
  rules:
    - name: shells
      action: allow
      match: {name: ["true", "sh"]}
      limits: {profile: t}
permission_profiles:
  t: {read: ["$T/**"], write: ["$T/**"]}
EOF
cat >nosh.yaml <<'EOF'
version: 1
servers:
  default: deny
  rules:
    - name: only-true
      action: allow
      match: {name: ["true"]}
EOF
SCOPE=(--org acme --fleet prod --env eu1)
bundle() { "$W" bundle create --policy pol.yaml "${SCOPE[@]}" --instances '*' --sign bs "$@" >/dev/null; }
bundle --version 1 --out b1 && bundle --version 2 --previous b1 --out b2 &&
bundle --version 3 --previous b2 --out b3 &&
bundle --version 4 --previous-hash "sha256:$(printf '%064d' 0)" --out b4 &&
bundle --version 5 --previous b4 --out b5
check "02 bundles for the tests are built" test -s b5

F=(--state-dir S --pin "$PIN" --org acme --fleet prod --env eu1 --instance i-1 --label team=payments)
APPLY=("$W" agent apply "${F[@]}")
snap() {
    (cd S && find . -type f -print0 | sort -z | xargs -0 sha256sum &&
        find . -type l -printf '%p -> %l\n' | sort && find . -printf '%y %m %p\n' | sort)
}
# refused NAME CODE -- CMD...: rejected with CODE, and S is byte-identical afterwards
refused() {
    local name=$1 code=$2; shift 2
    snap >"$T/before"
    reject "$name" "$code" "$@"
    snap >"$T/after"
    if cmp -s "$T/before" "$T/after"; then ok "$name: state directory unchanged"
    else notok "$name: state directory unchanged" "$(diff "$T/before" "$T/after" | head -20)"; fi
}
unchanged() { # NAME EXIT PATTERN -- CMD: exits as given and S is byte-identical afterwards
    local name=$1; shift
    snap >"$T/before"
    expect "$name" "$@"
    snap >"$T/after"
    if cmp -s "$T/before" "$T/after"; then ok "$name: state directory unchanged"
    else notok "$name: state directory unchanged" "$(diff "$T/before" "$T/after" | head -20)"; fi
}
active_version() { readlink S/active | sed 's|^bundles/\([0-9]*\)-.*|\1|'; }

# ---- help and usage ----
expect "03 agent --help" 0 "usage: warden agent <command>" -- "$W" agent --help
expect "04 agent apply --help" 0 "usage: warden agent apply" -- "$W" agent apply --help
for f in --state-dir --pin --org --fleet --env --instance --label --rollback --no-honor-kill \
    --stale-grace --stale-then --at --help; do
    check "05 apply --help documents $f" grep -qE -- "^ +(-h, )?$f " "$T/out"
done
expect "06 agent status --help" 0 "usage: warden agent status" -- "$W" agent status --help
expect "07 agent verify --help" 0 "usage: warden agent verify" -- "$W" agent verify --help
expect "08 apply without the identity" 2 "required" -- "$W" agent apply --state-dir S b1
expect "09 apply without a file" 2 "give at least one FILE" -- "${APPLY[@]}"
check "10 usage errors create no state directory" test ! -e S
expect "11 warden agent --config hands over to the daemon (a missing file: exit 1)" 1 \
    "warden agent: /nonexistent: cannot open" -- "$W" agent --config /nonexistent
expect "12 run: --policy and --state-dir together" 2 "not both" -- \
    "$W" run --policy pol.yaml --state-dir S -- true

# ---- first steps ----
mkdir S && chmod 700 S
refused "13 a bundle before any roster" untrusted-root -- "${APPLY[@]}" b1
expect "14 roster and bundles 1, 2 apply" 0 "policy state: enforcing" -- "${APPLY[@]}" R b1 b2
check "14 the roster line" grep -q "^roster: version 0 -> 6 (1 applied)$" "$T/out"
check "15 active is version 2" test "$(active_version)" = 2
check "15 the policy beside it is the bundle's" cmp -s S/active/policy.yaml pol.yaml
check "16 the floor is 2" test "$(cat S/floor)" = 2
expect "17 verify: everything re-verifies" 0 "policy state: enforcing" -- "$W" agent verify "${F[@]}"
check "17 verify names the active bundle" grep -q "^active bundle: version 2 sha256:" "$T/out"
unchanged "18 the same bundle again is a no-op" 0 "no-op" -- "${APPLY[@]}" b2

# ---- the fail-closed matrix: each rejected with its code, nothing changed ----
python3 - b3 b3.tampered <<'EOF'
import base64, json, sys
e = json.load(open(sys.argv[1]))
p = base64.b64decode(e["payload"]).replace(b'\\"sh\\"', b'\\"zsh\\"')
e["payload"] = base64.b64encode(p).decode()
open(sys.argv[2], "w").write(json.dumps(e))
EOF
check "19 the tampered copy differs" test "$(sha256sum <b3)" != "$(sha256sum <b3.tampered)"
refused "19 tampered payload" bad-signature -- "${APPLY[@]}" b3.tampered
"$W" bundle create --policy pol.yaml "${SCOPE[@]}" --instances '*' --version 3 --previous b2 \
    --sign outsider --out b3.outsider >/dev/null
refused "20 signed by a key outside the roster" bad-signature -- "${APPLY[@]}" b3.outsider
"$W" bundle create --policy pol.yaml "${SCOPE[@]}" --instances '*' --version 3 --previous b2 \
    --sign k1 --out b3.k1 >/dev/null
refused "21 signed by a kill key" wrong-purpose -- "${APPLY[@]}" b3.k1
"$W" kill create "${SCOPE[@]}" --instances '*' --state active --counter 1 --reason x \
    --sign k1 --out kill.one >/dev/null
refused "22 kill below its threshold (1 of 2)" threshold -- "${APPLY[@]}" kill.one
check "22 the message counts" grep -q "1 of 2" "$T/err"
bundle --version 3 --previous b2 --expires-in 1h --out b3.short
refused "23 expired" expired -- "${APPLY[@]}" --at "$(tfmt $((NOW + 7200)))" b3.short
bundle --version 3 --previous b2 --not-before "$(tfmt $((NOW + 7200)))" --out b3.later
refused "24 not yet valid" not-yet-valid -- "${APPLY[@]}" b3.later
"$W" roster init --org other --root-key root --out other.r >/dev/null
"$W" bundle create --policy pol.yaml --org other --fleet prod --env eu1 --instances '*' \
    --version 3 --sign bs --out b3.org >/dev/null
refused "25 another org" wrong-scope -- "${APPLY[@]}" b3.org
"$W" bundle create --policy pol.yaml --org acme --fleet staging --env eu1 --instances '*' \
    --version 3 --sign bs --out b3.fleet >/dev/null
refused "26 another fleet" wrong-scope -- "${APPLY[@]}" b3.fleet
"$W" bundle create --policy pol.yaml --org acme --fleet prod --env us1 --instances '*' \
    --version 3 --sign bs --out b3.env >/dev/null
refused "27 another environment" wrong-scope -- "${APPLY[@]}" b3.env
"$W" bundle create --policy pol.yaml "${SCOPE[@]}" --instances i-2,i-3 --version 3 \
    --previous b2 --sign bs --out b3.aud >/dev/null
refused "28 another audience (instances)" wrong-audience -- "${APPLY[@]}" b3.aud
"$W" bundle create --policy pol.yaml "${SCOPE[@]}" --label team=search --version 3 \
    --previous b2 --sign bs --out b3.lab >/dev/null
refused "29 another audience (labels)" wrong-audience -- "${APPLY[@]}" b3.lab
"$W" bundle create --policy nosh.yaml "${SCOPE[@]}" --instances '*' --version 2 --previous b1 \
    --sign bs --out b2.fork >/dev/null
refused "30 fork: version 2 with another policy" fork -- "${APPLY[@]}" b2.fork
refused "31 stale: version 1 below the active 2" stale -- "${APPLY[@]}" b1
"$W" rollback create "${SCOPE[@]}" --instances '*' --current b2 --target b1 --reason x \
    --sign rb1 --sign rb2 --out rb.early >/dev/null
refused "32 a rollback authorization as a FILE" wrong-type -- "${APPLY[@]}" rb.early
printf 'not json' >junk
refused "33 not an envelope" malformed -- "${APPLY[@]}" junk

# ---- forward with a skip, rollback, the floor ----
expect "34 version 4 skips 3: accepted" 0 "accepted, versions skipped" -- "${APPLY[@]}" b4
check "34 active is version 4" test "$(active_version)" = 4
refused "35 rollback 4 -> 2 without authorization" stale -- "${APPLY[@]}" b2
check "35 the message says why" grep -q "no rollback authorization" "$T/err"
"$W" rollback create "${SCOPE[@]}" --instances '*' --current b4 --target b2 --reason drill \
    --sign rb1 --out rb.one >/dev/null
refused "36 rollback authorization below its threshold" stale -- "${APPLY[@]}" --rollback rb.one b2
check "36 the message names the threshold" grep -q "threshold" "$T/err"
"$W" rollback create "${SCOPE[@]}" --instances '*' --current b4 --target b1 --reason drill \
    --sign rb1 --sign rb2 --out rb.other >/dev/null
refused "37 rollback authorization for another target" stale -- "${APPLY[@]}" --rollback rb.other b2
"$W" rollback create "${SCOPE[@]}" --instances '*' --current b4 --target b2 --reason drill \
    --sign rb1 --sign rb2 --out rb.ok >/dev/null
expect "38 rollback 4 -> 2 with authorization" 0 "accepted, authorized rollback" -- \
    "${APPLY[@]}" --rollback rb.ok b2
check "38 active is version 2" test "$(active_version)" = 2
check "38 the floor stays 4" test "$(cat S/floor)" = 4
refused "39 version 3 stays refused (floor 4)" stale -- "${APPLY[@]}" b3
refused "40 version 4, rolled back, stays refused" stale -- "${APPLY[@]}" b4
expect "41 version 5 is the way forward" 0 "policy state: enforcing" -- "${APPLY[@]}" b5
check "41 active is version 5" test "$(active_version)" = 5

# ---- rosters: rotation and gaps ----
refused "42 roster gap (6 -> 8)" untrusted-root -- "${APPLY[@]}" R.8
refused "43 an older roster" stale -- "${APPLY[@]}" r.5
expect "44 the chain 7, 8 given out of order" 0 "roster: version 6 -> 8 (2 applied)" -- \
    "${APPLY[@]}" R.8 R.7
check "44 roster.json is version 8" cmp -s S/roster.json R.8
expect "45 re-open walks the chain from the pin" 0 "roster: version 8 " -- "$W" agent verify "${F[@]}"

# ---- kills ----
kill_() { "$W" kill create "${SCOPE[@]}" --instances '*' --sign k1 --sign k2 "$@" >/dev/null; }
kill_ --state active --counter 5 --reason "incident 5" --out kill5
kill_ --state active --counter 5 --reason "incident 5 again" --out kill5b
kill_ --state active --counter 3 --reason "older" --out kill3
kill_ --state inactive --counter 6 --reason "resolved" --out kill6
kill_ --state active --counter 7 --reason "incident 7" --out kill7
kill_ --state inactive --counter 8 --reason "resolved 7" --out kill8
rm -f marker
expect "46 run allowed before any kill" 0 "" -- "$W" run --state-dir S -- sh -c "touch '$T/marker'"
check "46 the server ran" test -e marker
expect "47 kill 5 is applied" 0 "policy state: killed" -- "${APPLY[@]}" kill5
rm -f marker
expect "48 run denied under an active kill" 3 "remote kill active: incident 5" -- \
    "$W" run --state-dir S -- sh -c "touch '$T/marker'"
check "48 the server never ran" test ! -e marker
expect "48 status says killed" 0 "policy state: killed" -- "$W" agent status --state-dir S
unchanged "49 kill replay (the same kill) is a no-op" 0 "no-op" -- "${APPLY[@]}" kill5
refused "50 kill with an equal counter, other content" stale -- "${APPLY[@]}" kill5b
refused "51 kill with a counter below the floor" stale -- "${APPLY[@]}" kill3
expect "52 inactive kill 6 lifts it" 0 "policy state: enforcing" -- "${APPLY[@]}" kill6
expect "53 run allowed after the inactive kill" 0 "" -- "$W" run --state-dir S -- sh -c "touch '$T/marker'"
check "53 the server ran" test -e marker
cp S/kill.json kill.before
expect "54 not honored: kill 7 verified, not applied" 0 "not applied" -- \
    "${APPLY[@]}" --no-honor-kill kill7
check "54 kill.json unchanged" cmp -s S/kill.json kill.before
expect "55 status: counter 7, not honored" 0 "" -- "$W" agent status --state-dir S --json
check "55 status json" grep -q '"kill":{"counter":7,"state":"active","honored":false}' "$T/out"
check "55 policy state enforcing" grep -q '"policy_state":"enforcing"' "$T/out"
expect "56 run still allowed" 0 "" -- "$W" run --state-dir S -- true
refused "57 not honored: replaying below the seen counter" stale -- \
    "${APPLY[@]}" --no-honor-kill kill6
expect "58 honored again: kill 8 applies over kill 6" 0 "policy state: enforcing" -- \
    "${APPLY[@]}" kill8

# kill envelope size: 64 KiB applies, one byte more is oversized
kill_ --state inactive --counter 9 --reason "size" --out kill9
pad_to kill9 kill9.max 65536
pad_to kill9 kill9.over 65537
refused "59 kill envelope of 64 KiB + 1" oversized -- "${APPLY[@]}" kill9.over
expect "60 kill envelope of exactly 64 KiB applies" 0 "-> 9" -- "${APPLY[@]}" kill9.max

# ---- stale policy ----
B6=$(date -u +%s)
bundle --version 6 --previous b5 --expires-in 1h --out b6
expect "61 a bundle valid for 1h" 0 "" -- "${APPLY[@]}" b6
expect "62 within the grace: stale" 0 "policy state: stale" -- \
    "$W" agent verify "${F[@]}" --at "$(tfmt $((B6 + 3600 + 1800)))"
expect "63 after the grace: deny-all" 0 "policy state: deny-all" -- \
    "$W" agent verify "${F[@]}" --at "$(tfmt $((B6 + 3600 + 3700)))"
expect "64 keep-last-known-good" 0 "policy state: stale" -- "$W" agent verify "${F[@]}" \
    --stale-then keep-last-known-good --at "$(tfmt $((B6 + 3600 + 3700)))"
expect "65 no grace" 0 "policy state: deny-all" -- "$W" agent verify "${F[@]}" \
    --stale-grace 0 --at "$(tfmt $((B6 + 3600 + 60)))"

# ---- tampering on disk: deny-all, the runner denies, the same bundle repairs it ----
cp S/active/policy.yaml saved.yaml
printf 'version: 1\nservers:\n  default: allow\n' >S/active/policy.yaml
rm -f marker
expect "66 run denies a policy.yaml that is not the bundle's" 3 "policy state deny-all" -- \
    "$W" run --state-dir S -- sh -c "touch '$T/marker'"
check "66 the server never ran" test ! -e marker
expect "67 verify fails closed" 3 "rejected (hash-mismatch): state directory: active bundle" -- \
    "$W" agent verify "${F[@]}"
expect "68 status says deny-all and why" 0 "last error: hash-mismatch" -- "$W" agent status --state-dir S
check "68 policy state deny-all" grep -q "^policy state: deny-all$" "$T/out"
rm -f marker
expect "69 run denied under deny-all" 3 "policy state deny-all" -- \
    "$W" run --state-dir S -- sh -c "touch '$T/marker'"
check "69 the server never ran" test ! -e marker
expect "70 applying the active bundle again repairs it" 0 "policy state: enforcing" -- \
    "${APPLY[@]}" b6
check "70 the policy is the bundle's again" cmp -s S/active/policy.yaml saved.yaml
expect "71 run allowed again" 0 "" -- "$W" run --state-dir S -- true

# ---- the runner follows changes: policy_stopped ----
follow() { # STEP-FILE...: start a server under S, apply the files, expect it stopped
    rm -f started
    "$W" run --state-dir S -- sh -c "touch '$T/started'; sleep 60" 2>run.err &
    local pid=$! i
    for i in $(seq 1 100); do [ -e started ] && break; sleep 0.1; done
    "${APPLY[@]}" "$@" >/dev/null
    for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid"; return 99; fi
    wait "$pid"
}
bundle --version 7 --previous b6 --out b7.pol
"$W" bundle create --policy nosh.yaml "${SCOPE[@]}" --instances '*' --version 7 --previous b6 \
    --sign bs --out b7 >/dev/null
follow b7
rc=$?
check "72 a policy that no longer allows the server stops it: exit 3" test "$rc" = 3
check "72 status policy_stopped" grep -q "^warden: policy_stopped: server creation blocked by policy" run.err
expect "73 true is still allowed under the new policy" 0 "" -- "$W" run --state-dir S -- true
bundle --version 8 --previous b7 --out b8
"${APPLY[@]}" b8 >/dev/null
kill_ --state active --counter 10 --reason "incident 10" --out kill10
follow kill10
rc=$?
check "74 a kill stops a running server: exit 3" test "$rc" = 3
check "74 status policy_stopped: remote kill active" \
    grep -q "^warden: policy_stopped: remote kill active: incident 10$" run.err

# ---- the plain --policy path is unchanged ----
expect "75 run --policy still works" 0 "" -- "$W" run --policy pol.yaml -- true

done_testing
