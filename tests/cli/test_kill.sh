#!/bin/bash
# test_kill.sh — `warden kill create|verify` end to end: the remote-kill-signing threshold, the
# counter floor against the last applied kill, reason and window limits at the limit and one
# past, rejections with their exact codes (nothing written or reported), and help/usage.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
KT=application/vnd.warden.remote-kill.v1+json

NOW=$(date -u +%s)
AT=$(tfmt $((NOW + 600)))
LATER=$(tfmt $((NOW + 7200)))

cd "$T" || exit 1
for k in root bs k1 k2 k3 outsider; do "$W" key gen "$T/$k" >/dev/null; done
PIN=$("$W" key id "$T/root")
"$W" roster init --org acme --root-key root --out r.1 >/dev/null &&
"$W" roster add-key r.1 --key bs.pub --purpose policy-bundle-signing --sign root --out r.2 >/dev/null &&
"$W" roster add-key r.2 --key k1.pub --purpose remote-kill-signing --sign root --out r.3 >/dev/null &&
"$W" roster add-key r.3 --key k2.pub --purpose remote-kill-signing --sign root --out r.4 >/dev/null &&
"$W" roster add-key r.4 --key k3.pub --purpose remote-kill-signing --valid-for 1h --sign root \
    --out R >/dev/null
check "01 roster for the tests is built" test -s "$T/R"

SCOPE=(--org acme --fleet prod --env eu1)
VERIFY=("$W" kill verify --roster R --pin "$PIN" "${SCOPE[@]}" --instance i-1)
create() { "$W" kill create "${SCOPE[@]}" "$@"; }
SIGN2=(--sign k1 --sign k2)

expect "02 kill --help" 0 "usage: warden kill <command>" -- "$W" kill --help
expect "03 kill create --help" 0 "usage: warden kill create" -- "$W" kill create --help
for f in --org --fleet --env --instances --label --state --counter --reason --id --expires-in \
    --sign --out --help; do
    check "04 create --help documents $f" grep -qE -- "^ +(-h, )?$f " "$T/out"
done
expect "05 kill verify --help" 0 "usage: warden kill verify" -- "$W" kill verify -h
for f in --roster --pin --org --fleet --env --instance --label --current --at --help; do
    check "06 verify --help documents $f" grep -qE -- "^ +(-h, )?$f " "$T/out"
done
expect "07 unknown kill command" 2 "unknown command" -- "$W" kill frob
expect "08 create with a bad --state" 2 "--state" -- create --instances '*' --state on \
    --counter 1 --reason x "${SIGN2[@]}" --out x.k
expect "09 create with a non-numeric --counter" 2 "--counter" -- create --instances '*' \
    --state active --counter x --reason x "${SIGN2[@]}" --out x.k
expect "10 create without --reason" 2 "missing --reason" -- create --instances '*' --state active \
    --counter 1 "${SIGN2[@]}" --out x.k
check "11 no file left behind by usage errors" test ! -e x.k

# ---- accepting side and the counter floor ----
expect "12 create a kill" 0 "written to kill1" -- create --instances '*' --state active \
    --counter 1 --reason "incident 2211" "${SIGN2[@]}" --out kill1
expect "13 verify: applies" 0 "outcome: applies" -- "${VERIFY[@]}" --at "$AT" kill1
check "13 summary names state, counter and reason" \
    grep -q "^verified: remote kill k-1 counter 1 state active .*reason: incident 2211$" "$T/out"
create --instances '*' --state inactive --counter 2 --reason "resolved" "${SIGN2[@]}" \
    --out kill2 >/dev/null
expect "14 a higher counter applies" 0 "outcome: applies (counter 1 -> 2" -- "${VERIFY[@]}" \
    --at "$AT" --current kill1 kill2
expect "15 the same kill again is a no-op" 0 "outcome: no-op" -- "${VERIFY[@]}" --at "$AT" \
    --current kill2 kill2
rejected_quietly "16 stale: a lower counter" stale -- "${VERIFY[@]}" --at "$AT" \
    --current kill2 kill1
create --instances '*' --state active --counter 2 --reason "other" "${SIGN2[@]}" \
    --out kill2b >/dev/null
rejected_quietly "17 stale: the same counter, another message" stale -- "${VERIFY[@]}" \
    --at "$AT" --current kill2 kill2b
create --instances '*' --state active --counter 3 --reason "short" --expires-in 1h \
    "${SIGN2[@]}" --out kshort >/dev/null
create --instances '*' --state inactive --counter 4 --reason "lifted" "${SIGN2[@]}" \
    --out kill4 >/dev/null
expect "18 an expired kill still counts as the one applied" 0 "outcome: applies (counter 3 -> 4" \
    -- "${VERIFY[@]}" --at "$LATER" --current kshort kill4
rejected_quietly "19 expired" expired -- "${VERIFY[@]}" --at "$LATER" kshort
expect "20 labels audience" 0 "written" -- create --label team=payments --state active \
    --counter 5 --reason x "${SIGN2[@]}" --out klab
expect "20 labels audience applies" 0 "outcome: applies" -- "${VERIFY[@]}" \
    --label team=payments --at "$AT" klab
rejected_quietly "21 wrong-audience: label" wrong-audience -- "${VERIFY[@]}" \
    --label team=web --at "$AT" klab
rejected_quietly "22 wrong-scope: env" wrong-scope -- "$W" kill verify --roster R --pin "$PIN" \
    --org acme --fleet prod --env us1 --instance i-1 --at "$AT" kill1

# ---- signatures and thresholds ----
create --instances '*' --state active --counter 1 --reason x --sign k1 --out k1only >/dev/null
rejected_quietly "23 threshold: 1 of 2" threshold -- "${VERIFY[@]}" --at "$AT" k1only
check "23 the message counts the signatures" grep -q "1 of 2" "$T/err"
python3 - k1only ktwice <<'EOF'
import json, sys
env = json.load(open(sys.argv[1]))
env["signatures"].append(dict(env["signatures"][0]))
open(sys.argv[2], "w").write(json.dumps(env, separators=(",", ":")))
EOF
rejected_quietly "24 threshold: the same key twice" threshold -- "${VERIFY[@]}" --at "$AT" ktwice
python3 - k1only kcase <<'EOF'
import json, sys
env = json.load(open(sys.argv[1]))
s = dict(env["signatures"][0]); s["keyid"] = "sha256:" + s["keyid"][7:].upper()
env["signatures"].append(s)
open(sys.argv[2], "w").write(json.dumps(env, separators=(",", ":")))
EOF
rejected_quietly "25 threshold: one key under two keyid spellings" threshold -- "${VERIFY[@]}" \
    --at "$AT" kcase
create --instances '*' --state active --counter 1 --reason x --sign k1 --sign bs \
    --out kpurp >/dev/null
rejected_quietly "26 wrong-purpose: a bundle key as the second signer" wrong-purpose -- \
    "${VERIFY[@]}" --at "$AT" kpurp
create --instances '*' --state active --counter 1 --reason x --sign k1 --sign k3 \
    --out kexp >/dev/null
expect "27 a key inside its window counts" 0 "outcome: applies" -- "${VERIFY[@]}" --at "$AT" kexp
rejected_quietly "27 expired-key: the same kill after the key's window" expired-key -- \
    "${VERIFY[@]}" --at "$LATER" kexp
create --instances '*' --state active --counter 1 --reason x --sign outsider --sign k1 \
    --out kout >/dev/null
rejected_quietly "28 a signer outside the roster does not count" threshold -- "${VERIFY[@]}" \
    --at "$AT" kout
printf 'version: 1\n' >p.yaml
"$W" bundle create "${SCOPE[@]}" --policy p.yaml --version 1 --instances '*' --sign bs \
    --out b1 >/dev/null
rejected_quietly "29 wrong-type: a bundle given as a kill" wrong-type -- "${VERIFY[@]}" \
    --at "$AT" b1

# ---- payload rules ----
edit() {
    python3 - "$@" <<'EOF'
import base64, json, sys
env = json.load(open(sys.argv[1]))
d = json.loads(base64.b64decode(env["payload"]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d, separators=(",", ":"), ensure_ascii=False))
EOF
}
sign2() { "$W" dsse sign --type "$KT" --key k1 --key k2 "$1" "$2" >/dev/null; }
rm -f x.k
expect "30 create refuses counter 0 (usage)" 2 "--counter" -- create --instances '*' \
    --state active --counter 0 --reason x "${SIGN2[@]}" --out x.k
check "30 nothing written" test ! -e x.k
edit kill1 t.json 'd["counter"] = 0'
sign2 t.json kc0
rejected_quietly "31 counter 0 in a signed kill" malformed -- "${VERIFY[@]}" --at "$AT" kc0
edit kill1 t.json 'd["state"] = "paused"'
sign2 t.json kst
rejected_quietly "32 state other than active|inactive" malformed -- "${VERIFY[@]}" --at "$AT" kst
expect "33 --expires-in of exactly 72h" 0 "written" -- create --instances '*' --state active \
    --counter 1 --reason x --expires-in 72h "${SIGN2[@]}" --out k72
expect "33 a 72h kill verifies" 0 "outcome: applies" -- "${VERIFY[@]}" --at "$AT" k72
refused "34 --expires-in of 72h1s is malformed" malformed x.k -- create --instances '*' \
    --state active --counter 1 --reason x --expires-in 72h0m1s "${SIGN2[@]}" --out x.k
edit kill1 t.json 'import datetime as t
c = t.datetime.strptime(d["created_at"], "%Y-%m-%dT%H:%M:%SZ")
d["expires_at"] = (c + t.timedelta(hours=72, seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")'
sign2 t.json k73
rejected_quietly "35 a signed kill valid for 72h + 1s" malformed -- "${VERIFY[@]}" --at "$AT" k73
r4096=$(printf 'r%.0s' $(seq 1 4096))
expect "36 a reason of 4096 bytes" 0 "written" -- create --instances '*' --state active \
    --counter 1 --reason "$r4096" "${SIGN2[@]}" --out kr
expect "36 a reason of 4096 bytes verifies" 0 "outcome: applies" -- "${VERIFY[@]}" --at "$AT" kr
refused "37 a reason of 4097 bytes" oversized x.k -- create --instances '*' --state active \
    --counter 1 --reason "${r4096}r" "${SIGN2[@]}" --out x.k
edit kill1 t.json 'd["reason"] = "r" * 4097'
sign2 t.json kr2
rejected_quietly "38 a signed kill with a 4097-byte reason" oversized -- "${VERIFY[@]}" \
    --at "$AT" kr2
refused "39 a reason with a newline" malformed x.k -- create --instances '*' --state active \
    --counter 1 --reason "$(printf 'a\nb')" "${SIGN2[@]}" --out x.k
edit kill1 t.json 'd["priority"] = "high"'
sign2 t.json kunk
rejected_quietly "40 unknown-field" unknown-field -- "${VERIFY[@]}" --at "$AT" kunk
edit kill1 t.json 'd["schema_version"] = 2'
sign2 t.json ksv
rejected_quietly "41 unsupported-version" unsupported-version -- "${VERIFY[@]}" --at "$AT" ksv
pad_to kill1 kpad 65536
expect "42 kill envelope of exactly 64 KiB" 0 "outcome: applies" -- "${VERIFY[@]}" --at "$AT" kpad
pad_to kill1 kpad 65537
rejected_quietly "43 kill envelope of 64 KiB + 1" oversized -- "${VERIFY[@]}" --at "$AT" kpad
cp kill2 kill2.before
"${VERIFY[@]}" --at "$AT" --current kill2 kill1 >/dev/null 2>&1
same_file "44 the applied kill is byte-identical after a rejection" kill2 kill2.before
# a duration whose end does not fit: a usage error, not an overflow
rm -f x.k
expect "45 --expires-in past 9999-12-31 is a usage error" 2 "is past 9999-12-31T23:59:59Z" -- \
    create --instances '*' --state active --counter 1 --reason x --expires-in 2562047788015215h \
    "${SIGN2[@]}" --out x.k
check "45 --expires-in past 9999-12-31: nothing written" test ! -e x.k

done_testing
