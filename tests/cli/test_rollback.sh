#!/bin/bash
# test_rollback.sh — `warden rollback create|verify` end to end: the policy-bundle-rollback
# threshold, versions and hashes taken from the bundles, the 24 h window at the limit and one
# past, rejections with their exact codes (nothing written or reported), and help/usage.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
RT=application/vnd.warden.rollback.v1+json

NOW=$(date -u +%s)
AT=$(tfmt $((NOW + 600)))
LATER=$(tfmt $((NOW + 7200)))

cd "$T" || exit 1
for k in root bs k1 rb1 rb2; do "$W" key gen "$T/$k" >/dev/null; done
PIN=$("$W" key id "$T/root")
"$W" roster init --org acme --root-key root --out r.1 >/dev/null &&
"$W" roster add-key r.1 --key bs.pub --purpose policy-bundle-signing --sign root --out r.2 >/dev/null &&
"$W" roster add-key r.2 --key k1.pub --purpose remote-kill-signing --sign root --out r.3 >/dev/null &&
"$W" roster add-key r.3 --key rb1.pub --purpose policy-bundle-rollback --sign root --out r.4 >/dev/null &&
"$W" roster add-key r.4 --key rb2.pub --purpose policy-bundle-rollback --sign root --out R >/dev/null
check "01 roster for the tests is built" test -s "$T/R"

SCOPE=(--org acme --fleet prod --env eu1)
VERIFY=("$W" rollback verify --roster R --pin "$PIN" "${SCOPE[@]}" --instance i-1)
create() { "$W" rollback create "${SCOPE[@]}" "$@"; }
SIGN2=(--sign rb1 --sign rb2)
printf 'version: 1\nmode: enforce\n' >p1.yaml
printf 'version: 1\nmode: audit\n' >p2.yaml
"$W" bundle create "${SCOPE[@]}" --policy p1.yaml --version 40 --instances '*' --sign bs \
    --out b40 >/dev/null
"$W" bundle create "${SCOPE[@]}" --policy p2.yaml --version 42 --previous b40 --instances '*' \
    --sign bs --out b42 >/dev/null
hash_of() { "$W" bundle inspect "$1" | sed -n 's/^hash: *//p'; }
H40=$(hash_of b40)
H42=$(hash_of b42)
check "02 bundles for the tests are built" test -n "$H40" -a -n "$H42"

expect "03 rollback --help" 0 "usage: warden rollback <command>" -- "$W" rollback --help
expect "04 rollback create --help" 0 "usage: warden rollback create" -- "$W" rollback create -h
for f in --org --fleet --env --instances --label --current --target --reason --id \
    --expires-in --sign --out --help; do
    check "05 create --help documents $f" grep -qE -- "^ +(-h, )?$f " "$T/out"
done
expect "06 rollback verify --help" 0 "usage: warden rollback verify" -- "$W" rollback verify -h
for f in --roster --pin --org --fleet --env --instance --label --at --help; do
    check "07 verify --help documents $f" grep -qE -- "^ +(-h, )?$f " "$T/out"
done
expect "08 unknown rollback command" 2 "unknown command" -- "$W" rollback frob
expect "09 create without --target" 2 "missing --target" -- create --instances '*' --current b42 \
    --reason x "${SIGN2[@]}" --out x.a
check "10 nothing written by a usage error" test ! -e x.a

expect "11 create an authorization 42 -> 40" 0 "written to a" -- create --instances '*' \
    --current b42 --target b40 --reason "bad deploy" "${SIGN2[@]}" --out a
expect "12 verify it" 0 "authorizes: version 42 ($H42) -> version 40 ($H40)" -- \
    "${VERIFY[@]}" --at "$AT" a
check "12 summary names the id and reason" \
    grep -q "^verified: rollback authorization r-42-40 .*reason: bad deploy$" "$T/out"
refused "13 target not lower than current" malformed x.a -- create --instances '*' \
    --current b40 --target b42 --reason x "${SIGN2[@]}" --out x.a
refused "14 current and target the same bundle" malformed x.a -- create --instances '*' \
    --current b42 --target b42 --reason x "${SIGN2[@]}" --out x.a
"$W" kill create "${SCOPE[@]}" --instances '*' --state active --counter 1 --reason x \
    --sign k1 --out kill1 >/dev/null
refused "15 --target must be a bundle" wrong-type x.a -- create --instances '*' \
    --current b42 --target kill1 --reason x "${SIGN2[@]}" --out x.a
rejected_quietly "16 wrong-type: a bundle given as an authorization" wrong-type -- \
    "${VERIFY[@]}" --at "$AT" b42

create --instances '*' --current b42 --target b40 --reason x --sign rb1 --out a1 >/dev/null
rejected_quietly "17 threshold: 1 of 2" threshold -- "${VERIFY[@]}" --at "$AT" a1
create --instances '*' --current b42 --target b40 --reason x --sign rb1 --sign bs \
    --out apurp >/dev/null
rejected_quietly "18 wrong-purpose: a bundle key as the second signer" wrong-purpose -- \
    "${VERIFY[@]}" --at "$AT" apurp
rejected_quietly "19 expired (default 1h)" expired -- "${VERIFY[@]}" --at "$LATER" a
expect "20 --expires-in of exactly 24h" 0 "written" -- create --instances '*' --current b42 \
    --target b40 --reason x --expires-in 24h "${SIGN2[@]}" --out a24
expect "20 a 24h authorization verifies" 0 "authorizes" -- "${VERIFY[@]}" --at "$LATER" a24
refused "21 --expires-in of 24h1s" malformed x.a -- create --instances '*' --current b42 \
    --target b40 --reason x --expires-in 24h0m1s "${SIGN2[@]}" --out x.a
rejected_quietly "22 wrong-scope: fleet" wrong-scope -- "$W" rollback verify --roster R \
    --pin "$PIN" --org acme --fleet dev --env eu1 --instance i-1 --at "$AT" a
create --label team=payments --current b42 --target b40 --reason x "${SIGN2[@]}" \
    --out alab >/dev/null
expect "23 labels audience" 0 "authorizes" -- "${VERIFY[@]}" --label team=payments --at "$AT" alab
rejected_quietly "24 wrong-audience: a label off" wrong-audience -- "${VERIFY[@]}" \
    --label team=web --at "$AT" alab

edit() {
    python3 - "$@" <<'EOF'
import base64, datetime as t, json, sys
env = json.load(open(sys.argv[1]))
d = json.loads(base64.b64decode(env["payload"]))
def shift(key, seconds):
    v = t.datetime.strptime(d[key], "%Y-%m-%dT%H:%M:%SZ") + t.timedelta(seconds=seconds)
    d[key] = v.strftime("%Y-%m-%dT%H:%M:%SZ")
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d, separators=(",", ":"), ensure_ascii=False))
EOF
}
sign2() { "$W" dsse sign --type "$RT" --key rb1 --key rb2 --force "$1" "$2" >/dev/null; }
edit a t.json 'shift("created_at", 86400); shift("expires_at", 86400)'
sign2 t.json afut
CREATED=$(python3 -c 'import base64,json,sys; print(json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))["created_at"])' afut)
C=$(date -u -d "$CREATED" +%s)
rejected_quietly "25 not-yet-valid 61 s before created_at" not-yet-valid -- "${VERIFY[@]}" \
    --at "$(tfmt $((C - 61)))" afut
expect "26 valid 59 s before created_at" 0 "authorizes" -- "${VERIFY[@]}" \
    --at "$(tfmt $((C - 59)))" afut
edit a t.json 'd["target_version"] = 42'
sign2 t.json aeq
rejected_quietly "27 a signed authorization with target = current" malformed -- \
    "${VERIFY[@]}" --at "$AT" aeq
edit a t.json 'd["reason"] = "r" * 4097'
sign2 t.json areason
rejected_quietly "28 a reason of 4097 bytes" oversized -- "${VERIFY[@]}" --at "$AT" areason
edit a t.json 'd["reason"] = "r" * 4096'
sign2 t.json areason
expect "29 a reason of 4096 bytes" 0 "authorizes" -- "${VERIFY[@]}" --at "$AT" areason
edit a t.json 'd["approved_by"] = "cto"'
sign2 t.json aunk
rejected_quietly "30 unknown-field" unknown-field -- "${VERIFY[@]}" --at "$AT" aunk
edit a t.json 'd["current_bundle_hash"] = "sha256:xyz"'
sign2 t.json adig
rejected_quietly "31 malformed: bad digest" malformed -- "${VERIFY[@]}" --at "$AT" adig
edit a t.json 'd["schema_version"] = 2'
sign2 t.json asv
rejected_quietly "32 unsupported-version" unsupported-version -- "${VERIFY[@]}" --at "$AT" asv
pad_to a apad 65536
expect "33 authorization envelope of exactly 64 KiB" 0 "authorizes" -- "${VERIFY[@]}" \
    --at "$AT" apad
pad_to a apad 65537
rejected_quietly "34 authorization envelope of 64 KiB + 1" oversized -- "${VERIFY[@]}" \
    --at "$AT" apad
# a duration whose end does not fit: a usage error, not an overflow
rm -f x.a
expect "35 --expires-in past 9999-12-31 is a usage error" 2 "is past 9999-12-31T23:59:59Z" -- \
    create --instances '*' --current b42 --target b40 --reason x --expires-in 2562047788015215h \
    "${SIGN2[@]}" --out x.a
check "35 --expires-in past 9999-12-31: nothing written" test ! -e x.a

done_testing
