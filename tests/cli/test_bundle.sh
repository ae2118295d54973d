#!/bin/bash
# test_bundle.sh — `warden bundle create|verify|inspect` end to end: every rejection code a bundle
# can get (exit 3, the exact "rejected (<code>): " line, nothing written or reported), the
# accepting transitions, limits at the limit and one past, and help/usage.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
BT=application/vnd.warden.policy-bundle.v1+json

NOW=$(date -u +%s)
AT=$(tfmt $((NOW + 600)))          # a time inside every default window
LATER=$(tfmt $((NOW + 7200)))      # past the 1h key and the 1h bundle below

# rejected_quietly NAME CODE -- CMD: as in lib.sh, and stricter here: exactly one line on stderr.
rejected_quietly() {
    local name=$1 code=$2; shift 2
    reject "$name" "$code" "$@"
    if [ -s "$T/out" ]; then notok "$name: nothing reported on stdout" "stdout: $(head -c 300 "$T/out")"
    else ok "$name: nothing reported on stdout"; fi
    if [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "$name: exactly one line on stderr"
    else notok "$name: exactly one line on stderr" "stderr: $(cat "$T/err")"; fi
}

# ---- keys and roster ----
cd "$T" || exit 1
for k in root other bs k1 k2 rb1 rb2 rev exp outsider; do "$W" key gen "$T/$k" >/dev/null; done
PIN=$("$W" key id "$T/root")
"$W" roster init --org acme --root-key root --out r.1 >/dev/null &&
"$W" roster add-key r.1 --key bs.pub --purpose policy-bundle-signing --sign root --out r.2 >/dev/null &&
"$W" roster add-key r.2 --key k1.pub --purpose remote-kill-signing --sign root --out r.3 >/dev/null &&
"$W" roster add-key r.3 --key k2.pub --purpose remote-kill-signing --sign root --out r.4 >/dev/null &&
"$W" roster add-key r.4 --key rb1.pub --purpose policy-bundle-rollback --sign root --out r.5 >/dev/null &&
"$W" roster add-key r.5 --key rb2.pub --purpose policy-bundle-rollback --sign root --out r.6 >/dev/null &&
"$W" roster add-key r.6 --key rev.pub --purpose policy-bundle-signing --sign root --out r.7 >/dev/null &&
"$W" roster add-key r.7 --key exp.pub --purpose policy-bundle-signing --valid-for 1h --sign root \
    --out r.8 >/dev/null &&
"$W" roster revoke r.8 --keyid "$("$W" key id rev.pub)" --sign root --out R >/dev/null
check "01 roster for the tests is built" test -s "$T/R"

printf 'version: 1\nmode: enforce\nservers:\n  default: deny\n' >p1.yaml
printf 'version: 1\nmode: audit\nservers:\n  default: deny\n' >p2.yaml
printf 'version: 1\nmode: enforce\nservers:\n  default: allow\n' >p3.yaml

SCOPE=(--org acme --fleet prod --env eu1)
VERIFY=("$W" bundle verify --roster R --pin "$PIN" "${SCOPE[@]}" --instance i-1)
create() { "$W" bundle create "${SCOPE[@]}" "$@"; }

# ---- help and usage ----
expect "02 bundle --help" 0 "usage: warden bundle <command>" -- "$W" bundle --help
expect "03 bundle create --help" 0 "usage: warden bundle create" -- "$W" bundle create --help
for f in --policy --org --fleet --env --version --instances --label --previous --previous-hash \
    --id --expires-in --not-before --min-version --sign --out --help; do
    check "04 create --help documents $f" grep -qE -- "^ +(-h, )?$f " "$T/out"
done
expect "05 bundle verify --help" 0 "usage: warden bundle verify" -- "$W" bundle verify -h
for f in --roster --pin --org --fleet --env --instance --label --current --rollback --at --help; do
    check "06 verify --help documents $f" grep -qE -- "^ +(-h, )?$f " "$T/out"
done
expect "07 bundle inspect --help" 0 "Signatures are NOT verified" -- "$W" bundle inspect --help
expect "08 unknown bundle command" 2 "unknown command" -- "$W" bundle frob
expect "09 create without --sign exits 2" 2 "--sign" -- create --policy p1.yaml --version 1 \
    --instances '*' --out x.b
check "10 create without --sign: nothing written" test ! -e x.b
expect "11 create with both --instances and --label" 2 "exactly one of" -- create \
    --policy p1.yaml --version 1 --instances '*' --label a=b --sign bs --out x.b
expect "12 create with a non-numeric --version" 2 "--version" -- create --policy p1.yaml \
    --version one --instances '*' --sign bs --out x.b
expect "13 create with an unknown flag" 2 "unknown option" -- create --bogus --policy p1.yaml \
    --version 1 --instances '*' --sign bs --out x.b
expect "14 verify without BUNDLE" 2 "exactly one BUNDLE" -- "${VERIFY[@]}"
expect "15 verify with a bad --at" 2 "--at" -- "${VERIFY[@]}" --at yesterday x.b
check "16 no file left behind by usage errors" test ! -e x.b

# ---- accepting side ----
expect "17 create the first bundle" 0 "written to b1" -- create --policy p1.yaml --version 1 \
    --instances '*' --sign bs --out b1
expect "18 verify the first bundle: accepted" 0 "outcome: accepted (version 1, no active" -- \
    "${VERIFY[@]}" --at "$AT" b1
check "18 summary line names the bundle" grep -q "^verified: bundle b-1 version 1 sha256:" "$T/out"
expect "19 inspect says signatures are not verified" 0 "signatures NOT verified" -- \
    "$W" bundle inspect b1
check "19 inspect shows the version" grep -q "^version: *1$" "$T/out"
expect "20 inspect --json" 0 '"signatures_verified": false' -- "$W" bundle inspect --json b1
check "20 inspect --json carries the payload" grep -q '"bundle_id": "b-1"' "$T/out"
expect "21 create version 2 after version 1" 0 "written to b2" -- create --policy p2.yaml \
    --version 2 --previous b1 --instances '*' --sign bs --out b2
expect "21 forward: version 1 -> 2 accepted" 0 "outcome: accepted (version 1 -> 2)" -- \
    "${VERIFY[@]}" --at "$AT" --current b1 b2
create --policy p3.yaml --version 3 --previous b2 --instances '*' --sign bs --out b3 >/dev/null
expect "22 skip-forward: version 3 on top of version 1" 0 "outcome: accepted, versions skipped" \
    -- "${VERIFY[@]}" --at "$AT" --current b1 b3
expect "23 idempotent re-apply is a no-op" 0 "outcome: no-op" -- "${VERIFY[@]}" --at "$AT" \
    --current b2 b2
create --policy p1.yaml --version 2 --id b-2x --instances '*' --sign bs --out b2x >/dev/null
rejected_quietly "24 fork: same version, other hash" fork -- "${VERIFY[@]}" --at "$AT" \
    --current b2 b2x
rejected_quietly "25 stale: a lower version" stale -- "${VERIFY[@]}" --at "$AT" --current b2 b1
"$W" rollback create "${SCOPE[@]}" --instances '*' --current b2 --target b1 --reason "bad v2" \
    --sign rb1 --sign rb2 --out a21 >/dev/null
expect "26 authorized rollback 2 -> 1" 0 "outcome: accepted, authorized rollback" -- \
    "${VERIFY[@]}" --at "$AT" --current b2 --rollback a21 b1
"$W" rollback create "${SCOPE[@]}" --instances '*' --current b3 --target b1 --reason "bad v3" \
    --sign rb1 --sign rb2 --out a31 >/dev/null
rejected_quietly "27 stale: a rollback authorization for another pair" stale -- \
    "${VERIFY[@]}" --at "$AT" --current b2 --rollback a31 b1
rejected_quietly "28 stale: an expired rollback authorization" stale -- \
    "${VERIFY[@]}" --at "$LATER" --current b2 --rollback a21 b1
check "28 the reason names the authorization's expiry" grep -q "(expired)" "$T/err"
expect "29 labels audience" 0 "written" -- create --policy p1.yaml --version 1 \
    --label team=payments --label zone=a --sign bs --out bl
expect "29 labels audience: the follower with both labels accepts" 0 "outcome: accepted" -- \
    "${VERIFY[@]}" --label zone=a --label team=payments --label extra=1 --at "$AT" bl
rejected_quietly "30 wrong-audience: one label off" wrong-audience -- "${VERIFY[@]}" \
    --label zone=b --label team=payments --at "$AT" bl
create --policy p1.yaml --version 1 --instances i-2,i-3 --sign bs --out bi >/dev/null
rejected_quietly "31 wrong-audience: instance id" wrong-audience -- "${VERIFY[@]}" --at "$AT" bi
expect "32 instance audience: a listed instance accepts" 0 "outcome: accepted" -- \
    "$W" bundle verify --roster R --pin "$PIN" "${SCOPE[@]}" --instance i-3 --at "$AT" bi
expect "33 '*' audience accepts any instance" 0 "outcome: accepted" -- \
    "$W" bundle verify --roster R --pin "$PIN" "${SCOPE[@]}" --instance zz-9 --at "$AT" b1
refused "34 '*' mixed with ids is malformed at create" malformed x.b -- create \
    --policy p1.yaml --version 1 --instances '*,i-1' --sign bs --out x.b

# ---- trust and signatures ----
rejected_quietly "35 untrusted-root: pin matches no root key" untrusted-root -- \
    "$W" bundle verify --roster R --pin "$("$W" key id other)" "${SCOPE[@]}" --instance i-1 \
    --at "$AT" b1

# payload tools: print the payload of an envelope; re-sign or edit it (python3, stdlib only)
payload_of() { python3 -c 'import json,base64,sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))' "$1"; }
# edit ENV OUT CODE: OUT is ENV's payload after running CODE on the dict d (set_policy(text)).
edit() {
    python3 - "$@" <<'EOF'
import base64, hashlib, json, sys
env = json.load(open(sys.argv[1]))
d = json.loads(base64.b64decode(env["payload"]))
def set_policy(text):
    d["policy_yaml"] = text
    d["policy_sha256"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d, separators=(",", ":"), ensure_ascii=False))
EOF
}
# with_payload ENV PAYLOADFILE OUT: ENV's signatures over another payload.
with_payload() {
    python3 - "$@" <<'EOF'
import base64, json, sys
env = json.load(open(sys.argv[1]))
env["payload"] = base64.b64encode(open(sys.argv[2], "rb").read()).decode()
open(sys.argv[3], "w").write(json.dumps(env, separators=(",", ":")))
EOF
}
sign() { "$W" dsse sign --type "$BT" --key "$2" "$1" "$3" >/dev/null; }  # PAYLOAD KEY OUT

edit b1 t.json 'd["version"] = 9'
with_payload b1 t.json tampered
rejected_quietly "36 bad-signature: payload tampered" bad-signature -- "${VERIFY[@]}" \
    --at "$AT" tampered
python3 - b1 badsig <<'EOF'
import base64, json, sys
env = json.load(open(sys.argv[1]))
sig = bytearray(base64.b64decode(env["signatures"][0]["sig"])); sig[5] ^= 1
env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
open(sys.argv[2], "w").write(json.dumps(env, separators=(",", ":")))
EOF
rejected_quietly "37 bad-signature: signature tampered" bad-signature -- "${VERIFY[@]}" \
    --at "$AT" badsig
create --policy p1.yaml --version 1 --instances '*' --sign outsider --out bo >/dev/null
rejected_quietly "38 bad-signature: signer not in the roster" bad-signature -- "${VERIFY[@]}" \
    --at "$AT" bo
create --policy p1.yaml --version 1 --instances '*' --sign k1 --out bk >/dev/null
rejected_quietly "39 wrong-purpose: a kill key signs a bundle" wrong-purpose -- "${VERIFY[@]}" \
    --at "$AT" bk
create --policy p1.yaml --version 1 --instances '*' --sign rev --out brev >/dev/null
rejected_quietly "40 revoked-key" revoked-key -- "${VERIFY[@]}" --at "$AT" brev
create --policy p1.yaml --version 1 --instances '*' --sign exp --out bexp >/dev/null
expect "41 a key inside its window signs" 0 "outcome: accepted" -- "${VERIFY[@]}" --at "$AT" bexp
rejected_quietly "41 expired-key: outside its valid window" expired-key -- "${VERIFY[@]}" \
    --at "$LATER" bexp

# ---- validity, scope, type ----
create --policy p1.yaml --version 1 --instances '*' --expires-in 1h --sign bs --out bshort >/dev/null
rejected_quietly "42 expired" expired -- "${VERIFY[@]}" --at "$LATER" bshort
NB=$((NOW + 86400))
create --policy p1.yaml --version 1 --instances '*' --not-before "$(tfmt $NB)" --sign bs \
    --out bnb >/dev/null
rejected_quietly "43 not-yet-valid 61 s ahead" not-yet-valid -- "${VERIFY[@]}" \
    --at "$(tfmt $((NB - 61)))" bnb
expect "44 accepted 59 s ahead (clock skew)" 0 "outcome: accepted" -- "${VERIFY[@]}" \
    --at "$(tfmt $((NB - 59)))" bnb
rejected_quietly "45 wrong-scope: org" wrong-scope -- "$W" bundle verify --roster R --pin "$PIN" \
    --org beta --fleet prod --env eu1 --instance i-1 --at "$AT" b1
rejected_quietly "46 wrong-scope: fleet" wrong-scope -- "$W" bundle verify --roster R \
    --pin "$PIN" --org acme --fleet staging --env eu1 --instance i-1 --at "$AT" b1
rejected_quietly "47 wrong-scope: env" wrong-scope -- "$W" bundle verify --roster R --pin "$PIN" \
    --org acme --fleet prod --env us1 --instance i-1 --at "$AT" b1
"$W" kill create "${SCOPE[@]}" --instances '*' --state active --counter 1 --reason x \
    --sign k1 --sign k2 --out kill1 >/dev/null
rejected_quietly "48 wrong-type: a kill envelope given as a bundle" wrong-type -- \
    "${VERIFY[@]}" --at "$AT" kill1
rejected_quietly "49 wrong-type: inspect of a kill envelope" wrong-type -- \
    "$W" bundle inspect kill1

# ---- payload content (signed raw payloads) ----
edit b1 t.json 'd["policy_sha256"] = "sha256:" + "ab" * 32'
sign t.json bs bhash
rejected_quietly "50 hash-mismatch" hash-mismatch -- "${VERIFY[@]}" --at "$AT" bhash
n=51
for s in conductor leader agent tls logging flight_recorder sandbox metrics state_dir \
    kill_switch telemetry; do
    printf 'version: 1\n%s:\n  enabled: true\n' "$s" >fs.yaml
    refused "$n forbidden-section $s at create" forbidden-section x.b -- create --policy fs.yaml \
        --version 1 --instances '*' --sign bs --out x.b
    check "$n forbidden-section names '$s'" grep -qF "'$s'" "$T/err"
    n=$((n + 1))
done
edit b1 t.json 'set_policy("version: 1\nconductor:\n  url: https://x\n")'
sign t.json bs bforb
rejected_quietly "62 forbidden-section in a signed bundle" forbidden-section -- "${VERIFY[@]}" \
    --at "$AT" bforb
printf 'version: 1\nservers:\n  default: deny\n  mtach: 1\n' >bad.yaml
refused "63 invalid-policy at create" invalid-policy x.b -- create --policy bad.yaml --version 1 \
    --instances '*' --sign bs --out x.b
check "63 invalid-policy names the path" grep -q "servers.mtach" "$T/err"
edit b1 t.json 'set_policy("version: 1\nservers: [unclosed\n")'
sign t.json bs binv
rejected_quietly "64 invalid-policy in a signed bundle" invalid-policy -- "${VERIFY[@]}" \
    --at "$AT" binv

edit b1 t.json 'd["surprise"] = 1'
sign t.json bs bunk
rejected_quietly "65 unknown-field" unknown-field -- "${VERIFY[@]}" --at "$AT" bunk
payload_of b1 | sed 's/"version":1,/"version":1,"version":1,/' >t.json
sign t.json bs bdup
rejected_quietly "66 duplicate-key" duplicate-key -- "${VERIFY[@]}" --at "$AT" bdup
{ payload_of b1; printf ' {}'; } >t.json
sign t.json bs btrail
rejected_quietly "67 trailing-data" trailing-data -- "${VERIFY[@]}" --at "$AT" btrail
edit b1 t.json 'd["expires_at"] = "2027-01-01 00:00:00"'
sign t.json bs btime
rejected_quietly "68 malformed: bad time format" malformed -- "${VERIFY[@]}" --at "$AT" btime
refused "69 malformed: bad id" malformed x.b -- create --policy p1.yaml --version 1 \
    --id 'b 1' --instances '*' --sign bs --out x.b
refused "70 malformed: bad digest" malformed x.b -- create --policy p1.yaml --version 2 \
    --previous-hash sha256:1234 --instances '*' --sign bs --out x.b
rm -f x.b
expect "71 create refuses version 0 (usage)" 2 "--version" -- create --policy p1.yaml \
    --version 0 --instances '*' --sign bs --out x.b
check "71 nothing written" test ! -e x.b
edit b1 t.json 'd["version"] = 0'
sign t.json bs bv0
rejected_quietly "72 malformed: version 0 in a signed bundle" malformed -- "${VERIFY[@]}" \
    --at "$AT" bv0
edit b1 t.json 'd["audience"] = {"instance_ids": ["*", "i-1"]}'
sign t.json bs bmix
rejected_quietly "73 malformed: '*' mixed with ids" malformed -- "${VERIFY[@]}" --at "$AT" bmix
edit b1 t.json 'd["schema_version"] = 2'
sign t.json bs bsv2
rejected_quietly "74 unsupported-version: schema_version 2" unsupported-version -- \
    "${VERIFY[@]}" --at "$AT" bsv2
refused "75 unsupported-version: min_warden_version 9.0.0" unsupported-version x.b -- create \
    --policy p1.yaml --version 1 --min-version 9.0.0 --instances '*' --sign bs --out x.b
edit b1 t.json 'd["min_warden_version"] = "9.0.0"'
sign t.json bs bmin
rejected_quietly "76 unsupported-version in a signed bundle" unsupported-version -- \
    "${VERIFY[@]}" --at "$AT" bmin

# ---- limits: at the limit and one past ----
pad_to b1 bpad 1048576
expect "77 bundle envelope of exactly 1 MiB" 0 "outcome: accepted" -- "${VERIFY[@]}" --at "$AT" bpad
pad_to b1 bpad 1048577
rejected_quietly "78 bundle envelope of 1 MiB + 1" oversized -- "${VERIFY[@]}" --at "$AT" bpad
policy_of() {  # SIZE: a valid policy of exactly SIZE bytes
    python3 -c 'import sys; h=b"version: 1\nmode: enforce\n#"; n=int(sys.argv[1]); sys.stdout.buffer.write(h+b"x"*(n-len(h)-1)+b"\n")' "$1"
}
policy_of 262144 >big.yaml
expect "79 policy of exactly 256 KiB" 0 "written" -- create --policy big.yaml --version 1 \
    --instances '*' --sign bs --out bbig
expect "79 policy of exactly 256 KiB verifies" 0 "outcome: accepted" -- "${VERIFY[@]}" \
    --at "$AT" bbig
policy_of 262145 >big.yaml
refused "80 policy of 256 KiB + 1 at create" oversized x.b -- create --policy big.yaml \
    --version 1 --instances '*' --sign bs --out x.b
edit b1 t.json 'set_policy("version: 1\n#" + "x" * (262145 - 13) + "\n")'
sign t.json bs bbig2
rejected_quietly "81 policy_yaml of 256 KiB + 1 in a signed bundle" oversized -- "${VERIFY[@]}" \
    --at "$AT" bbig2
ids=$(seq -s, -f 'i-%g' 1 1024)
expect "82 1024 instance ids" 0 "written" -- create --policy p1.yaml --version 1 \
    --instances "$ids" --sign bs --out bids
expect "82 1024 instance ids verify" 0 "outcome: accepted" -- "${VERIFY[@]}" --at "$AT" bids
refused "83 1025 instance ids" oversized x.b -- create --policy p1.yaml --version 1 \
    --instances "$ids,i-1025" --sign bs --out x.b
labels=()
for i in $(seq 1 64); do labels+=(--label "k$i=v"); done
expect "84 64 labels" 0 "written" -- create --policy p1.yaml --version 1 "${labels[@]}" \
    --sign bs --out blab
expect "84 64 labels verify" 0 "outcome: accepted" -- "${VERIFY[@]}" "${labels[@]}" \
    --at "$AT" blab
refused "85 65 labels" oversized x.b -- create --policy p1.yaml --version 1 "${labels[@]}" \
    --label k65=v --sign bs --out x.b
v256=$(printf 'v%.0s' $(seq 1 256))
expect "86 a label value of 256 bytes" 0 "written" -- create --policy p1.yaml --version 1 \
    --label "team=$v256" --sign bs --out bv
expect "86 a label value of 256 bytes verifies" 0 "outcome: accepted" -- "${VERIFY[@]}" \
    --label "team=$v256" --at "$AT" bv
refused "87 a label value of 257 bytes" oversized x.b -- create --policy p1.yaml --version 1 \
    --label "team=${v256}v" --sign bs --out x.b

# ---- state is unchanged by rejections ----
cp b2 b2.before
"${VERIFY[@]}" --at "$AT" --current b2 b2x >/dev/null 2>&1
same_file "88 the current bundle is byte-identical after a rejection" b2 b2.before
cp b1 b1.keep
refused "89 create never replaces --out on error" invalid-policy b1.new -- create \
    --policy bad.yaml --version 1 --instances '*' --sign bs --out b1.new
cp b1.keep b1.new
create --policy bad.yaml --version 1 --instances '*' --sign bs --out b1.new 2>/dev/null
same_file "90 an existing --out is untouched by a refused create" b1.new b1.keep
# an expiry that does not fit in a time: a usage error, not an overflow or a silent year 9999
rm -f x.b
expect "91 --expires-in past 9999-12-31 is a usage error" 2 "is past 9999-12-31T23:59:59Z" -- \
    create --policy p1.yaml --version 1 --instances '*' --expires-in 2562047788015215h --sign bs --out x.b
check "91 --expires-in past 9999-12-31: nothing written" test ! -e x.b
expect "92 --not-before + --expires-in past 9999-12-31 is a usage error" 2 \
    "is past 9999-12-31T23:59:59Z" -- create --policy p1.yaml --version 1 --instances '*' \
    --not-before 9999-12-31T23:00:00Z --expires-in 1h --sign bs --out x.b
check "92 --not-before + --expires-in past 9999-12-31: nothing written" test ! -e x.b
expect "93 an expiry of exactly 9999-12-31T23:59:59Z is written" 0 "written" -- create \
    --policy p1.yaml --version 1 --instances '*' --not-before 9999-12-31T23:00:00Z \
    --expires-in 59m59s --sign bs --out b9999
check "93 its expires_at is 9999-12-31T23:59:59Z" grep -q "expires_at: *9999-12-31T23:59:59Z" \
    <("$W" bundle inspect b9999)

done_testing
