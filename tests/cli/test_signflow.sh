#!/bin/bash
# test_signflow.sh — two people, two machines, one message: create --draft, `warden sign`,
# `warden dsse merge`, the status line after each step, `warden roster inspect`, what `roster
# verify` counts, --out refusing to overwrite without --force, and the messages that name a
# signer not in the roster, a chain gap and a pinned key a rotation replaced. Each "machine"
# is a scratch directory with its own HOME and its own keys; files move between them by copy.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
cd "$T" || exit 1
A=$T/hostA B=$T/hostB
mkdir -p "$A" "$B"
onA() { (cd "$A" && HOME=$A "$W" "$@"); }
onB() { (cd "$B" && HOME=$B "$W" "$@"); }
# the payload string of an envelope, as written
payload_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["payload"])' "$1"; }
nsigs() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["signatures"]))' "$1"; }
# same_line NAME TEXT: stdout holds the exact line TEXT
has_line() { if grep -qxF -- "$2" "$T/out"; then ok "$1"; else notok "$1" "wanted line: $2" "stdout: $(cat "$T/out")"; fi; }

# ---- keys: the security officer (root), one kill key and one root key on each machine ----
"$W" key gen root >/dev/null && "$W" key gen bs >/dev/null && "$W" key gen outsider >/dev/null &&
    "$W" key gen k3 >/dev/null && "$W" key gen rb2 >/dev/null && "$W" key gen rC >/dev/null
onA key gen "$A/k1" >/dev/null && onA key gen "$A/rA" >/dev/null && onA key gen "$A/rb1" >/dev/null
onB key gen "$B/k2" >/dev/null && onB key gen "$B/rB" >/dev/null
PIN=$("$W" key id root) K1=$("$W" key id "$A/k1") K2=$("$W" key id "$B/k2")
RA=$("$W" key id "$A/rA") RB=$("$W" key id "$B/rB") OUT_ID=$("$W" key id outsider)
BS=$("$W" key id bs) K3=$("$W" key id k3)
"$W" roster init --org acme --root-key root --out r1 >/dev/null &&
    "$W" roster add-key r1 --key bs.pub --purpose policy-bundle-signing --sign root --out r2 >/dev/null &&
    "$W" roster add-key r2 --key "$A/k1.pub" --purpose remote-kill-signing --principal "alice (hostA)" --sign root --out r3 >/dev/null &&
    "$W" roster add-key r3 --key "$B/k2.pub" --purpose remote-kill-signing --principal "bob (hostB)" --sign root --out r4 >/dev/null &&
    "$W" roster add-key r4 --key "$A/rb1.pub" --purpose policy-bundle-rollback --sign root --out r5 >/dev/null &&
    "$W" roster add-key r5 --key rb2.pub --purpose policy-bundle-rollback --sign root --out r6 >/dev/null &&
    "$W" roster add-key r6 --key k3.pub --purpose remote-kill-signing --sign root --out r7 >/dev/null &&
    "$W" roster revoke r7 --keyid "$K3" --sign root --out R >/dev/null
check "01 the roster for the tests is built (version 8)" grep -q '"version":8' <(python3 -c 'import json,base64,sys; print(base64.b64decode(json.load(open(sys.argv[1]))["payload"]).decode())' R)
cp R r1 "$A/" && cp R r1 "$B/"
SCOPE=(--org acme --fleet prod --env eu1)
KVERIFY=("$W" kill verify --roster R --pin "$PIN" "${SCOPE[@]}" --instance i-1)
KCREATE=(kill create "${SCOPE[@]}" --instances '*' --state active --counter 7 --reason "incident 2211")

# ---- help ----
expect "02 sign --help" 0 "usage: warden sign --key KEY" -- "$W" sign --help
for f in --key --roster --pin --previous --out --force; do
    check "02 sign --help documents $f" grep -qE -- "^ +$f " "$T/out"
done
expect "03 dsse merge --help" 0 "usage: warden dsse merge ENVELOPE ENVELOPE..." -- "$W" dsse merge --help
for f in --out --force --roster --pin --previous; do
    check "03 merge --help documents $f" grep -qE -- "^ +$f " "$T/out"
done
expect "04 roster inspect --help" 0 "usage: warden roster inspect [--json] ROSTER" -- "$W" roster inspect --help
for c in "kill create" "bundle create" "rollback create" "roster init" "roster add-key" "roster revoke" "roster renew"; do
    # shellcheck disable=SC2086
    "$W" $c --help >"$T/out" 2>&1
    check "05 $c --help documents --draft and --force" grep -qE -- "^ +--draft .*" "$T/out"
    check "05 $c --help documents --force" grep -qE -- "^ +--force +replace --out" "$T/out"
done
expect "06 the group help lists sign" 0 "  sign " -- "$W" --help

# ---- a kill, threshold 2: draft on A, signed on B ----
expect "07 A: kill create --draft with one signature" 0 "written to kill.a" -- onA "${KCREATE[@]}" --sign "$A/k1" --draft --out kill.a
has_line "07 status: the count only, with the default threshold" "1 signature, not counted against a roster (remote-kill-signing needs 2 unless the roster sets another threshold; give --roster and --pin to count)"
reject "08 the draft is short of the threshold" threshold -- "${KVERIFY[@]}" "$A/kill.a"
exactly_one_line "08 exact line" "rejected (threshold): remote kill: roster keys: 1 of 2 valid remote-kill-signing signature(s)"
cp "$A/kill.a" "$B/kill.a"
expect "09 B: sign with the second kill key" 0 "signed by $K2: 2 signatures, written to kill.b" -- onB sign --key "$B/k2" --roster R --pin "$PIN" kill.a --out kill.b
has_line "09 status: complete" "roster acme version 8: 2 of 2 remote-kill-signing signatures (need 2): complete"
check "10 the payload is byte-identical" test "$(payload_of "$B/kill.b")" = "$(payload_of "$A/kill.a")"
same_file "10 the input is left as it was (--out given)" "$B/kill.a" "$A/kill.a"
expect "11 the signed kill verifies" 0 "outcome: applies" -- "${KVERIFY[@]}" "$B/kill.b"

# ---- the same kill from an unsigned draft, signed apart and merged ----
expect "12 A: kill create --draft with no --sign" 0 "written to kill.0" -- onA "${KCREATE[@]}" --draft --out kill.0
cp "$A/kill.0" kill.0.orig
has_line "12 status: no signature yet" "0 signatures, not counted against a roster (remote-kill-signing needs 2 unless the roster sets another threshold; give --roster and --pin to count)"
check "12 on disk: signatures is an empty list" grep -qF '"signatures":[]' "$A/kill.0"
reject "13 every verifier refuses an unsigned draft" malformed -- "${KVERIFY[@]}" "$A/kill.0"
exactly_one_line "13 exact line" "rejected (malformed): remote kill: envelope.signatures: no signatures (an unsigned draft: add signatures with 'warden sign' first)"
reject "13 dsse verify refuses it too" malformed -- "$W" dsse verify --key "$A/k1.pub" "$A/kill.0"
cp "$A/kill.0" "$B/kill.0"
expect "14 A: sign the draft in place" 0 "signed by $K1: 1 signature, written to kill.0" -- onA sign --key "$A/k1" --roster R --pin "$PIN" kill.0
has_line "14 status: one more needed, by purpose" "roster acme version 8: 1 of 2 remote-kill-signing signatures (need 2): needs one more by a key with purpose remote-kill-signing"
expect "15 B: sign its own copy" 0 "signed by $K2: 1 signature, written to kill.0" -- onB sign --key "$B/k2" kill.0
has_line "15 status without a roster: the count" "1 signature, not counted against a roster (remote-kill-signing needs 2 unless the roster sets another threshold; give --roster and --pin to count)"
cp "$B/kill.0" "$A/kill.fromB"
expect "16 A: merge the two copies" 0 "merged 2 files: 2 signatures (1 added to the first), written to kill.m" -- onA dsse merge kill.0 kill.fromB --roster R --pin "$PIN" --out kill.m
has_line "16 status: complete" "roster acme version 8: 2 of 2 remote-kill-signing signatures (need 2): complete"
check "16 two signatures" test "$(nsigs "$A/kill.m")" -eq 2
check "16 payload unchanged" test "$(payload_of "$A/kill.m")" = "$(payload_of kill.0.orig)"
expect "17 the merged kill verifies" 0 "outcome: applies" -- "${KVERIFY[@]}" "$A/kill.m"
expect "18 merge with duplicates: a keyid counts once" 0 "merged 3 files: 2 signatures (1 added to the first), written to kill.d" -- onA dsse merge kill.0 kill.fromB kill.m --out kill.d
check "18 two signatures, not three" test "$(nsigs "$A/kill.d")" -eq 2

# ---- refusals of sign ----
cp "$B/kill.b" before.b
expect "19 signing twice with the same key" 2 "warden: kill.b: already signed by $K2 (a key signs once)" -- onB sign --key "$B/k2" kill.b
same_file "19 nothing changed" "$B/kill.b" before.b
rm -f "$A/x.kill"
reject "20 a key not in the roster" wrong-purpose -- onA sign --key "$T/outsider" --roster "$T/R" --pin "$PIN" kill.a --out x.kill
exactly_one_line "20 exact line" "rejected (wrong-purpose): key $OUT_ID is not in roster acme version 8: its signature would not count toward remote-kill-signing"
check "20 nothing written" test ! -e "$A/x.kill"
reject "21 a key without the purpose" wrong-purpose -- onA sign --key "$T/bs" --roster "$T/R" --pin "$PIN" kill.a --out x.kill
exactly_one_line "21 exact line" "rejected (wrong-purpose): key $BS does not carry remote-kill-signing in roster acme version 8"
check "21 nothing written" test ! -e "$A/x.kill"
cp "$A/kill.a" before.a
reject "22 a revoked key" revoked-key -- onA sign --key "$T/k3" --roster "$T/R" --pin "$PIN" kill.a
exactly_one_line "22 exact line" "rejected (revoked-key): key $K3 is revoked in roster acme version 8: its signature would not count toward remote-kill-signing"
same_file "22 the envelope is unchanged" "$A/kill.a" before.a
expect "23 --roster without --pin" 2 "--roster and --pin go together" -- "$W" sign --key "$B/k2" --roster R kill.a
expect "24 no --key" 2 "--key is required" -- "$W" sign kill.a
expect "24 standard input needs --out" 2 "ENVELOPE - (standard input) needs --out" -- "$W" sign --key "$B/k2" -
expect "25 --force without --out" 2 "--force goes with --out" -- "$W" sign --key "$B/k2" --force "$A/kill.0"
cp "$A/kill.a" "$A/exists"
expect "26 sign --out an existing file" 1 "exists: already exists; not replaced (--force replaces it)" -- onA sign --key "$T/outsider" kill.a --out exists
same_file "26 it is left as it was" "$A/exists" "$A/kill.a"
expect "26 sign --out --force replaces it" 0 "written to exists" -- onA sign --key "$T/outsider" kill.a --out exists --force
printf '{"payloadType":"text/plain","payload":"aGk=","signatures":[]}' >plain.json
cp plain.json plain.before
reject "27 an envelope warden does not sign" wrong-type -- "$W" sign --key "$B/k2" plain.json
same_file "27 unchanged" plain.json plain.before
printf '{"payloadType":"text/plain"}' >bad.json
reject "28 an envelope that does not decode" malformed -- "$W" sign --key "$B/k2" bad.json

# ---- refusals of merge ----
onA "${KCREATE[@]}" --counter 8 --sign "$A/k1" --out other.kill >/dev/null
rm -f "$A/x.m"
reject "29 merge different payloads" hash-mismatch -- onA dsse merge kill.a other.kill --out x.m
check "29 names the file that differs" grep -qF "rejected (hash-mismatch): other.kill: the payload differs" "$T/err"
check "29 nothing written" test ! -e "$A/x.m"
"$W" bundle create "${SCOPE[@]}" --policy <(printf 'version: 1\n') --version 1 --instances '*' --sign bs --out b1 >/dev/null
reject "30 merge different types" wrong-type -- onA dsse merge kill.a "$T/b1" --out x.m
check "30 names the file" grep -qF "$T/b1: payloadType is" "$T/err"
check "30 nothing written" test ! -e "$A/x.m"
python3 - "$A/kill.a" "$A/forged.kill" <<'EOF'
import json, sys, base64
d = json.load(open(sys.argv[1]))
d["signatures"][0]["sig"] = base64.b64encode(bytes(64)).decode()
open(sys.argv[2], "w").write(json.dumps(d, separators=(",", ":")))
EOF
reject "31 merge one keyid with two different signatures" bad-signature -- onA dsse merge kill.a forged.kill --out x.m
check "31 nothing written" test ! -e "$A/x.m"
expect "32 merge needs two files" 2 "two or more" -- "$W" dsse merge "$A/kill.a" --out x.m
expect "33 merge needs --out" 2 "--out is required" -- "$W" dsse merge "$A/kill.a" "$A/kill.a"
cp "$A/kill.a" "$A/taken"
expect "34 merge --out an existing file" 1 "already exists; not replaced (--force replaces it)" -- onA dsse merge kill.0 kill.fromB --out taken
same_file "34 left as it was" "$A/taken" "$A/kill.a"
expect "34 merge --force replaces it" 0 "written to taken" -- onA dsse merge kill.0 kill.fromB --out taken --force

# ---- create --draft counted against a roster ----
expect "34a kill create --draft --roster: the status against it" 0 "written to kill.r" -- onA "${KCREATE[@]}" --sign "$A/k1" --draft --roster R --pin "$PIN" --out kill.r
has_line "34a status" "roster acme version 8: 1 of 2 remote-kill-signing signatures (need 2): needs one more by a key with purpose remote-kill-signing"
refused "34b a --sign key the roster would not count" wrong-purpose "$A/kill.w" -- onA "${KCREATE[@]}" --sign "$T/bs" --draft --roster R --pin "$PIN" --out kill.w
check "34b names the flag" grep -qF -- "--sign $T/bs: key $BS does not carry remote-kill-signing" "$T/err"
expect "34c --roster without --pin" 2 "--roster and --pin go together" -- onA "${KCREATE[@]}" --draft --roster R --out kill.w

# ---- other create commands with --draft ----
printf 'version: 1\nmode: enforce\n' >p.yaml
expect "35 bundle create --draft, unsigned" 0 "written to bd" -- "$W" bundle create "${SCOPE[@]}" --policy p.yaml --version 2 --instances '*' --draft --out bd
has_line "35 status" "0 signatures, not counted against a roster (policy-bundle-signing needs 1 unless the roster sets another threshold; give --roster and --pin to count)"
expect "36 sign it with the bundle key" 0 "roster acme version 8: 1 of 1 policy-bundle-signing signatures (need 1): complete" -- "$W" sign --key bs --roster R --pin "$PIN" bd
expect "36 the bundle verifies" 0 "outcome: accepted" -- "$W" bundle verify --roster R --pin "$PIN" "${SCOPE[@]}" --instance i-1 bd
expect "37 bundle create without --sign or --draft" 2 "at least one --sign KEY is required (or --draft" -- "$W" bundle create "${SCOPE[@]}" --policy p.yaml --version 3 --instances '*' --out bx
refused "38 a draft is still checked: kill valid 73h" malformed "$A/k73" -- onA "${KCREATE[@]}" --expires-in 73h --draft --out k73
"$W" bundle create "${SCOPE[@]}" --policy p.yaml --version 1 --instances '*' --sign bs --out b1x >/dev/null
expect "39 rollback create --draft on A" 0 "written to rd" -- onA rollback create "${SCOPE[@]}" --instances '*' --current "$T/bd" --target "$T/b1x" --reason "bad deploy" --sign "$A/rb1" --draft --out rd
has_line "39 status" "1 signature, not counted against a roster (policy-bundle-rollback needs 2 unless the roster sets another threshold; give --roster and --pin to count)"
expect "40 sign it with the second rollback key" 0 "roster acme version 8: 2 of 2 policy-bundle-rollback signatures (need 2): complete" -- "$W" sign --key rb2 --roster R --pin "$PIN" "$A/rd" --out rd2
expect "40 the authorization verifies" 0 "authorizes" -- "$W" rollback verify --roster R --pin "$PIN" "${SCOPE[@]}" --instance i-1 rd2

# ---- --out refuses to overwrite, in every create command ----
echo keep >keep && cp keep keep.before
expect "41 kill create --out existing" 1 "keep: already exists; not replaced (--force replaces it)" -- "$W" "${KCREATE[@]}" --sign "$A/k1" --out keep
same_file "41 unchanged" keep keep.before
expect "42 bundle create --out existing" 1 "already exists; not replaced" -- "$W" bundle create "${SCOPE[@]}" --policy p.yaml --version 2 --instances '*' --sign bs --out keep
same_file "42 unchanged" keep keep.before
expect "43 rollback create --out existing" 1 "already exists; not replaced" -- "$W" rollback create "${SCOPE[@]}" --instances '*' --current bd --target b1x --reason r --sign rb2 --out keep
same_file "43 unchanged" keep keep.before
expect "44 roster init --out existing" 1 "already exists; not replaced" -- "$W" roster init --org acme --root-key root --out keep
same_file "44 unchanged" keep keep.before
expect "45 roster renew --out existing" 1 "already exists; not replaced" -- "$W" roster renew R --sign root --out keep
same_file "45 unchanged" keep keep.before
expect "46 kill create --force replaces it" 0 "written to keep" -- "$W" "${KCREATE[@]}" --sign "$A/k1" --force --out keep
expect "47 roster renew --force replaces it" 0 "roster version 9" -- "$W" roster renew R --sign root --force --out keep

# ---- a root rotation, root threshold 2: roster init and add-key drafted on A, signed on B ----
expect "48 A: roster init --draft, B's root key by its public half" 0 "root keyid (pin): $RB" -- onA roster init --org acme --root-key rA --root-key "$B/rB.pub" --root-threshold 2 --draft --out t1.a
has_line "48 status" "roster version 1 (this one): 1 of 2 root signatures (need 2): needs one more by a root key"
reject "49 not yet a valid roster" threshold -- "$W" roster verify --pin "$RA" "$A/t1.a"
cp "$A/t1.a" "$B/"
expect "50 B: sign it" 0 "signed by $RB: 2 signatures, written to t1" -- onB sign --key rB t1.a --out t1
has_line "50 status: complete" "roster version 1 (this one): 2 of 2 root signatures (need 2): complete"
expect "51 it verifies from A's pin" 0 "root signatures counted: 2 of 2 root keys that count (need 2)" -- "$W" roster verify --pin "$RA" "$B/t1"
cp "$B/t1" "$A/t1"
refused "52 add-key with one of two root signatures, no --draft" threshold "$A/t2.x" -- onA roster add-key t1 --key "$T/rC.pub" --purpose roster-root --sign rA --out t2.x
check "52 says --draft writes it" grep -qF "(--draft writes it for the other root key holders to sign)" "$T/err"
expect "53 A: add a root key, --draft" 0 "roster version 2" -- onA roster add-key t1 --key "$T/rC.pub" --purpose roster-root --sign rA --draft --out t2.a
has_line "53 status of the new roster" "roster version 2 (this one): 1 of 3 root signatures (need 2): needs one more by a root key"
has_line "53 status of the roster it replaces" "roster version 1 (the one it replaces): 1 of 2 root signatures (need 2): needs one more by a root key"
expect "54 A: the same change, unsigned, for B" 0 "roster version 2" -- onA roster add-key t1 --key "$T/rC.pub" --purpose roster-root --draft --out t2.0
has_line "54 status" "roster version 2 (this one): 0 of 3 root signatures (need 2): needs two more by root keys"
# the two drafts differ in created_at only when the second ticks over; B signs a copy of A's
cp "$A/t2.a" "$B/t2.fromA"
expect "55 B: a --roster that is not the one it replaces is a usage error" 2 "--roster is version 8, but the roster being signed is version 2: give the roster it replaces (version 1)" -- onB sign --key rB --roster R --pin "$PIN" t2.fromA --out t2.y
check "55 nothing written" test ! -e "$B/t2.y"
expect "56 B: sign A's draft, counted against version 1" 0 "signed by $RB: 2 signatures, written to t2.b" -- onB sign --key rB --roster t1 --pin "$RA" t2.fromA --out t2.b
has_line "56 new roster: complete" "roster version 2 (this one): 2 of 3 root signatures (need 2): complete"
has_line "56 old roster: complete" "roster version 1 (the one it replaces): 2 of 2 root signatures (need 2): complete"
cp "$B/t2.b" "$A/t2.fromB"
expect "57 A: merge (what B sent adds nothing new but is accepted)" 0 "merged 2 files: 2 signatures (1 added to the first)" -- onA dsse merge t2.a t2.fromB --roster t1 --pin "$RA" --out t2
expect "58 the rotation verifies" 0 "version: 2" -- "$W" roster verify --pin "$RA" --previous "$A/t1" "$A/t2"
check "58 three root keys count" grep -qxF "root keys: 3 that count (threshold 2), 0 revoked, 0 expired" "$T/out"
reject "59 a non-root key cannot sign a roster" wrong-purpose -- onA sign --key k1 t2.0 --out t2.z
check "59 nothing written" test ! -e "$A/t2.z"

# ---- a rotation that revokes A's root key: the pinned key, replaced ----
cp "$A/t2" "$B/t2"
expect "60 B drafts the revocation of rA" 0 "roster version 3" -- onB roster revoke t2 --keyid "$RA" --sign rB --draft --out t3.b
has_line "60 status of the new roster" "roster version 3 (this one): 1 of 2 root signatures (need 2): needs one more by a root key"
cp "$B/t3.b" "$A/t3.b"
reject "61 A signs without the roster it replaces: refused with the hint" revoked-key -- onA sign --key rA t3.b --out t3.x
check "61 says how" grep -qF "give that roster with --roster and --pin" "$T/err"
check "61 nothing written" test ! -e "$A/t3.x"
expect "62 A signs, counted against version 2" 0 "roster version 2 (the one it replaces): 2 of 3 root signatures (need 2): complete" -- onA sign --key rA --roster t2 --pin "$RA" --previous t1 t3.b --out t3
has_line "62 the new roster still needs a second root" "roster version 3 (this one): 1 of 2 root signatures (need 2; 1 other signature does not count): needs one more by a root key"
expect "63 rC's holder completes it" 0 "roster version 3 (this one): 2 of 2 root signatures (need 2; 1 other signature does not count): complete" -- "$W" sign --key rC "$A/t3"
expect "64 the chain verifies" 0 "version: 3" -- "$W" roster verify --pin "$RA" --previous "$A/t1" --previous "$A/t2" "$A/t3"
check "64 the revoked root key is counted apart" grep -qxF "root keys: 2 that count (threshold 2), 1 revoked, 0 expired" "$T/out"
reject "65 the replaced pin alone: pass the chain" revoked-key -- "$W" roster verify --pin "$RA" "$A/t3"
exactly_one_line "65 exact line" "rejected (revoked-key): roster: the pinned root key $RA is revoked in version 3; if a root rotation replaced it, pass the chain of rosters from one it signed (--previous, oldest first)"
reject "66 a pin that is not a root key" untrusted-root -- "$W" roster verify --pin "$K1" "$A/t3"
exactly_one_line "66 exact line" "rejected (untrusted-root): roster: the pinned key $K1 is not a root key of version 3; if a root rotation replaced it, pass the chain of rosters from one it signed (--previous, oldest first)"

# ---- roster renew --draft, and a draft's signers must count ----
expect "66a renew --draft, unsigned" 0 "roster version 9" -- "$W" roster renew R --draft --out rn.0
has_line "66a status of the new roster" "roster version 9 (this one): 0 of 1 root signatures (need 1): needs one more by a root key"
has_line "66a status of the roster it replaces" "roster version 8 (the one it replaces): 0 of 1 root signatures (need 1): needs one more by a root key"
expect "66b the root holder signs it" 0 "roster version 9 (this one): 1 of 1 root signatures (need 1): complete" -- "$W" sign --key root --roster R --pin "$PIN" rn.0 --out rn.1
expect "66b it verifies as the rotation" 0 "version: 9" -- "$W" roster verify --pin "$PIN" --previous R rn.1
rm -f "$A/t4.x"
reject "66c a draft signed by a root key revoked in both rosters" revoked-key -- onA roster add-key t3 --key "$T/bs.pub" --purpose policy-bundle-signing --sign rA --draft --out t4.x
check "66c names the flag" grep -qF -- "--sign rA: key $RA is revoked in roster acme version 4" "$T/err"
check "66c nothing written" test ! -e "$A/t4.x"

# ---- chain gaps ----
reject "67 one version missing" untrusted-root -- "$W" roster verify --pin "$RA" --previous "$A/t1" "$A/t3"
exactly_one_line "67 exact line" "rejected (untrusted-root): roster: version 3 does not follow version 1; the chain has a gap (fetch version 2 first)"
reject "68 two versions missing" untrusted-root -- "$W" roster verify --pin "$PIN" --previous r1 r4
exactly_one_line "68 exact line" "rejected (untrusted-root): roster: version 4 does not follow version 1; the chain has a gap (fetch versions 2 to 3 first)"

# ---- bad-signature names a signer not in the roster ----
"$W" "${KCREATE[@]}" --sign outsider --out ko >/dev/null
reject "69 a kill signed only by a key not in the roster" bad-signature -- "${KVERIFY[@]}" ko
exactly_one_line "69 exact line" "rejected (bad-signature): remote kill: roster keys: no signature is by one of its keys: signed by $OUT_ID, which is not in the roster (0 of 2 remote-kill-signing)"

# ---- roster inspect ----
expect "70 inspect" 0 "signatures NOT verified" -- "$W" roster inspect R
has_line "70 org" "org: acme"
has_line "70 thresholds" "thresholds: roster-root 1, policy-bundle-signing 1, policy-bundle-rollback 2, remote-kill-signing 2, audit-batch-signing 1"
check "70 root keys" grep -qE "^root keys: 1 that count, 0 revoked, 0 expired \(states at " "$T/out"
has_line "70 keys" "keys: 5 that count, 1 revoked, 0 expired"
has_line "70 a key by keyid" "  $K1"
has_line "70 its principal" "    principal: alice (hostA)"
has_line "70 a revoked key" "    status: revoked (now: revoked)"
has_line "70 status of its signatures" "roster version 8 (this one): 1 of 1 root signatures (need 1): complete"
expect "71 inspect --json" 0 '"signatures_verified": false' -- "$W" roster inspect --json R
check "71 json fields" python3 - "$T/out" "$K1" "$K3" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
k = {x["keyid"]: x for x in d["keys"]}
a, r = k[sys.argv[2]], k[sys.argv[3]]
ok = (d["version"] == 8 and d["root"]["threshold"] == 1 and len(d["root"]["keys"]) == 1
      and d["root"]["keys"][0]["state"] == "active"
      and a["purposes"] == ["remote-kill-signing"] and a["status"] == "active"
      and a["principal"] == "alice (hostA)" and a["valid_until"] is None
      and r["status"] == "revoked" and r["state"] == "revoked" and r["principal"] is None
      and d["thresholds"]["remote-kill-signing"] == 2
      and d["signatures"]["root_counted"] == 1 and d["signatures"]["root_threshold"] == 1)
sys.exit(0 if ok else 1)
EOF
expect "72 inspect an unsigned roster draft" 0 "signatures: 0, by nobody (an unsigned draft)" -- "$W" roster inspect "$A/t2.0"
has_line "72 what the replaced roster needs" "roster version 1 (the one it replaces): its root threshold must be met too (not counted here)"
reject "73 inspect a kill" wrong-type -- "$W" roster inspect "$A/kill.a"

done_testing
