#!/usr/bin/env bash
# test_roster.sh — `warden roster init|add-key|revoke|verify` end to end: help and usage, the
# first roster and its pin, rotations, every rejection with its exact code, and that no --out
# file is ever written after an error. Keys are made with the openssl tool (SPEC §1.3 formats).
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
cd "$T" || exit 1

genkey() {
    openssl genpkey -algorithm ed25519 -out "$1.pem" 2>/dev/null &&
        chmod 600 "$1.pem" && openssl pkey -in "$1.pem" -pubout -out "$1.pub" 2>/dev/null
}
# The keyid (SPEC §1.1) of a key, computed apart from warden: digest of the raw public key.
keyid() {
    echo "sha256:$(openssl pkey -in "$1.pem" -pubout -outform DER 2>/dev/null | tail -c 32 |
        sha256sum | cut -d' ' -f1)"
}
payload() { sed -E 's/.*"payload":"([^"]*)".*/\1/' "$1" | base64 -d; }
# with_payload ENVELOPE PAYLOADFILE OUT: the envelope with another payload, same signatures.
with_payload() {
    local b
    b=$(base64 -w0 <"$2")
    sed -E "s#\"payload\":\"[^\"]*\"#\"payload\":\"$b\"#" "$1" >"$3"
}
field() { payload "$1" | grep -o "\"$2\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
secs() { date -u -d "$1" +%s; }
fmt() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
absent() { check "$1" test ! -e "$2"; }

for k in r0 r1 r2 b0 k0 x0; do genkey $k || { echo "Bail out! openssl cannot make keys"; exit 1; }; done
R0=$(keyid r0) R1=$(keyid r1) B0=$(keyid b0) X0=$(keyid x0)

# ---- help and usage ----
expect "01 roster --help" 0 "init" -- "$W" roster --help
expect "02 init --help" 0 "--root-threshold" -- "$W" roster init --help
for f in --org --root-key --threshold --expires-in --out; do
    check "03 init --help documents $f" grep -qF -- "$f" "$T/out"
done
expect "04 add-key --help" 0 "--valid-for" -- "$W" roster add-key --help
for f in --key --purpose --principal --root-threshold --threshold --expires-in --sign --out; do
    check "05 add-key --help documents $f" grep -qF -- "$f" "$T/out"
done
expect "06 revoke --help" 0 "--keyid" -- "$W" roster revoke --help
for f in --root-threshold --threshold --expires-in --sign --out; do
    check "07 revoke --help documents $f" grep -qF -- "$f" "$T/out"
done
expect "08 verify --help" 0 "--previous" -- "$W" roster verify --help
for f in --pin --at; do
    check "09 verify --help documents $f" grep -qF -- "$f" "$T/out"
done
expect "10 no roster command" 2 "roster command" -- "$W" roster
expect "11 unknown roster command" 2 "unknown roster command" -- "$W" roster frobnicate
expect "12 init without --out" 2 "required" -- "$W" roster init --org acme --root-key r0.pem
expect "13 init unknown flag" 2 "--bogus" -- "$W" roster init --bogus --org acme --root-key r0.pem --out u.json
absent "13 nothing written" u.json
expect "14 init bad --expires-in" 2 "--expires-in" -- "$W" roster init --org acme --root-key r0.pem --expires-in 1d --out u.json
expect "15 init --expires-in past year 9999" 2 "9999" -- "$W" roster init --org acme --root-key r0.pem --expires-in 99999999h --out u.json
expect "16 init root threshold above root keys" 2 "root key" -- "$W" roster init --org acme --root-key r0.pem --root-threshold 2 --out u.json
expect "17 init root threshold 8" 2 "1..7" -- "$W" roster init --org acme --root-key r0.pem --root-threshold 8 --out u.json
expect "18 init unknown threshold purpose" 2 "bogus" -- "$W" roster init --org acme --root-key r0.pem --threshold bogus=1 --out u.json
expect "19 init threshold 0" 2 "1..7" -- "$W" roster init --org acme --root-key r0.pem --threshold remote-kill-signing=0 --out u.json
expect "20 init roster-root threshold" 2 "--root-threshold" -- "$W" roster init --org acme --root-key r0.pem --threshold roster-root=1 --out u.json
expect "21 init org not an id" 2 "not an id" -- "$W" roster init --org -acme --root-key r0.pem --out u.json
expect "22 init same root key twice" 2 "already" -- "$W" roster init --org acme --root-key r0.pem --root-key r0.pem --out u.json
expect "23 init stray argument" 2 "unexpected argument" -- "$W" roster init --org acme --root-key r0.pem --out u.json extra
expect "24 init missing key file" 1 "" -- "$W" roster init --org acme --root-key nope.pem --out u.json
cp r0.pem loose.pem && chmod 644 loose.pem
expect "25 init key readable by others" 1 "loose.pem" -- "$W" roster init --org acme --root-key loose.pem --out u.json
cp r0.pub pub600.pem && chmod 600 pub600.pem
reject "26 init public key as root key" malformed -- "$W" roster init --org acme --root-key pub600.pem --out u.json
absent "26 nothing written" u.json

# ---- init and verify ----
before=$(date -u +%s)
expect "27 init" 0 "root keyid (pin): $R0" -- "$W" roster init --org acme --root-key r0.pem --out v1.json
check "27 wrote v1.json" test -s v1.json
check "28 payload type" grep -qF '"payloadType":"application/vnd.warden.roster.v1+json"' v1.json
created=$(secs "$(field v1.json created_at)")
expires=$(secs "$(field v1.json expires_at)")
check "29 created_at is now" test "$created" -ge "$before" -a "$created" -le "$(date -u +%s)"
check "30 default lifetime 8760h" test $((expires - created)) -eq $((8760 * 3600))
EXP=$(fmt "$expires")
expect "31 verify" 0 "org: acme" -- "$W" roster verify --pin "$R0" v1.json
check "31 version" grep -qx "version: 1" "$T/out"
check "31 expiry" grep -qx "expires_at: $EXP" "$T/out"
check "31 key counts" grep -qx "keys: 0 that count, 0 revoked, 0 expired" "$T/out"
check "31 root keys" grep -qx "root keys: 1 that count (threshold 1), 0 revoked, 0 expired" "$T/out"
check "31 what was counted" grep -qx "root signatures counted: 1 of 1 root keys that count (need 1)" "$T/out"
UPIN="sha256:$(echo "${R0#sha256:}" | tr a-f A-F)"
expect "32 verify with an uppercase pin" 0 "version: 1" -- "$W" roster verify --pin "$UPIN" v1.json
reject "33 pin of another key" untrusted-root -- "$W" roster verify --pin "$X0" v1.json
expect "34 pin not a digest" 2 "--pin" -- "$W" roster verify --pin abc v1.json
expect "35 verify without --pin" 2 "--pin" -- "$W" roster verify v1.json
expect "36 verify bad --at" 2 "--at" -- "$W" roster verify --pin "$R0" --at 2026-01-01 v1.json
expect "37 verify two rosters" 2 "exactly one" -- "$W" roster verify --pin "$R0" v1.json v1.json
expect "38 verify missing file" 1 "" -- "$W" roster verify --pin "$R0" nope.json

payload v1.json | sed 's/"acme"/"acmf"/' >p.json
with_payload v1.json p.json tampered.json
reject "39 tampered payload" bad-signature -- "$W" roster verify --pin "$R0" tampered.json
sig=$(grep -o '"sig":"[^"]*"' v1.json | head -1 | cut -d'"' -f4)
if [ "${sig:0:1}" = A ]; then nf=B; else nf=A; fi
sed "s#$sig#$nf${sig:1}#" v1.json >badsig.json
reject "40 tampered signature" bad-signature -- "$W" roster verify --pin "$R0" badsig.json
sed 's#application/vnd.warden.roster.v1+json#application/vnd.warden.policy-bundle.v1+json#' v1.json >wt.json
reject "41 another payload type" wrong-type -- "$W" roster verify --pin "$R0" wt.json
{ cat v1.json; printf ' {}'; } >trail.json
reject "42 trailing data" trailing-data -- "$W" roster verify --pin "$R0" trail.json
sz=$(stat -c %s v1.json)
{ cat v1.json; head -c $((262144 - sz)) /dev/zero | tr '\0' ' '; } >atlimit.json
check "43 padded to exactly 256 KiB" test "$(stat -c %s atlimit.json)" -eq 262144
expect "43 envelope at the size limit" 0 "version: 1" -- "$W" roster verify --pin "$R0" atlimit.json
{ cat atlimit.json; printf ' '; } >over.json
reject "44 envelope one byte past the limit" oversized -- "$W" roster verify --pin "$R0" over.json
expect "45 --at the last second" 0 "version: 1" -- "$W" roster verify --pin "$R0" --at "$(fmt $((expires - 1)))" v1.json
reject "46 --at expiry" expired -- "$W" roster verify --pin "$R0" --at "$EXP" v1.json
reject "47 --at before the root key is valid" expired-key -- "$W" roster verify --pin "$R0" --at "$(fmt $((created - 1)))" v1.json

# ---- add-key ----
expect "48 add-key" 0 "roster version 2" -- "$W" roster add-key v1.json --key b0.pub --purpose policy-bundle-signing --principal "alice (release)" --valid-for 720h --sign r0.pem --out v2.json
check "48 keeps the expiry" test "$(field v2.json expires_at)" = "$EXP"
check "48 principal" grep -qF '"principal":"alice (release)"' <(payload v2.json)
c2=$(secs "$(field v2.json created_at)")
check "48 valid_until is now + 720h" grep -qF "\"valid_until\":\"$(fmt $((c2 + 720 * 3600)))\"" <(payload v2.json)
expect "49 verify v2 from v1" 0 "version: 2" -- "$W" roster verify --pin "$R0" --previous v1.json v2.json
check "49 one key" grep -qx "keys: 1 that count, 0 revoked, 0 expired" "$T/out"
expect "50 verify v2 from the pin" 0 "version: 2" -- "$W" roster verify --pin "$R0" v2.json
expect "51 add-key unknown purpose" 2 "unknown purpose" -- "$W" roster add-key v1.json --key k0.pub --purpose kill --sign r0.pem --out u.json
expect "52 add-key root with another purpose" 2 "roster-root only" -- "$W" roster add-key v1.json --key k0.pub --purpose roster-root,remote-kill-signing --sign r0.pem --out u.json
expect "53 add-key signed by a non-root key" 2 "not a root key" -- "$W" roster add-key v1.json --key k0.pub --purpose remote-kill-signing --sign b0.pem --out u.json
expect "54 add-key without --sign" 2 "required" -- "$W" roster add-key v1.json --key k0.pub --purpose remote-kill-signing --out u.json
expect "55 add-key a key already listed" 2 "already" -- "$W" roster add-key v2.json --key b0.pub --purpose remote-kill-signing --sign r0.pem --out u.json
expect "56 add-key bad --valid-for" 2 "--valid-for" -- "$W" roster add-key v1.json --key k0.pub --purpose remote-kill-signing --valid-for soon --sign r0.pem --out u.json
expect "57 add-key missing roster" 1 "" -- "$W" roster add-key nope.json --key k0.pub --purpose remote-kill-signing --sign r0.pem --out u.json
reject "58 add-key to a tampered roster" bad-signature -- "$W" roster add-key tampered.json --key k0.pub --purpose remote-kill-signing --sign r0.pem --out u.json
reject "59 add-key to a roster of another type" wrong-type -- "$W" roster add-key wt.json --key k0.pub --purpose remote-kill-signing --sign r0.pem --out u.json
absent "59 nothing written" u.json
expect "60 add-key with --expires-in and --threshold" 0 "roster version 2" -- "$W" roster add-key v1.json --key k0.pub --purpose remote-kill-signing --expires-in 48h --threshold remote-kill-signing=1 --sign r0.pem --out v2k.json
c=$(secs "$(field v2k.json created_at)")
check "60 new expiry" test "$(field v2k.json expires_at)" = "$(fmt $((c + 48 * 3600)))"
check "60 kill threshold 1" grep -qF '"remote-kill-signing":1' <(payload v2k.json)

# ---- revoke ----
expect "61 revoke" 0 "roster version 3" -- "$W" roster revoke v2.json --keyid "$B0" --sign r0.pem --out v3.json
check "61 key revoked" grep -qF '"status":"revoked"' <(payload v3.json)
expect "62 verify the chain v1, v2, v3" 0 "version: 3" -- "$W" roster verify --pin "$R0" --previous v1.json --previous v2.json v3.json
expect "63 revoke twice" 2 "already revoked" -- "$W" roster revoke v3.json --keyid "$B0" --sign r0.pem --out u.json
expect "64 revoke a key not listed" 2 "not a key" -- "$W" roster revoke v3.json --keyid "$X0" --sign r0.pem --out u.json
expect "65 revoke bad keyid" 2 "--keyid" -- "$W" roster revoke v3.json --keyid sha256:12 --sign r0.pem --out u.json
reject "66 revoke the only root key" revoked-key -- "$W" roster revoke v1.json --keyid "$R0" --sign r0.pem --out u.json
absent "66 nothing written" u.json

# ---- rotation rules ----
reject "67 version gap" untrusted-root -- "$W" roster verify --pin "$R0" --previous v1.json v3.json
check "67 names the gap" grep -qF "gap" "$T/err"
reject "68 older version" stale -- "$W" roster verify --pin "$R0" --previous v2.json v1.json
reject "69 other version 2" stale -- "$W" roster verify --pin "$R0" --previous v2.json v2k.json
expect "70 the same roster again" 0 "version: 2" -- "$W" roster verify --pin "$R0" --previous v2.json v2.json
reject "71 --previous tampered" bad-signature -- "$W" roster verify --pin "$R0" --previous tampered.json v2.json
check "71 names --previous" grep -qF -- "--previous tampered.json" "$T/err"
expect "72 init another org with the same root" 0 "" -- "$W" roster init --org globex --root-key r0.pem --out g1.json
expect "73 its version 2" 0 "" -- "$W" roster add-key g1.json --key k0.pub --purpose remote-kill-signing --sign r0.pem --out g2.json
reject "74 other org" wrong-scope -- "$W" roster verify --pin "$R0" --previous v1.json g2.json
expect "75 init a roster of another root" 0 "" -- "$W" roster init --org acme --root-key x0.pem --out x1.json
reject "76 as a rotation it lacks the old root's signature" threshold -- "$W" roster verify --pin "$R0" --previous v1.json x1.json
check "76 says which side" grep -qF "previous roster's root keys" "$T/err"
reject "77 and alone it does not match the pin" untrusted-root -- "$W" roster verify --pin "$R0" x1.json

# ---- thresholds of two ----
expect "78 init with two roots, threshold 2" 0 "root keyid (pin): $R1" -- "$W" roster init --org acme --root-key r0.pem --root-key r1.pem --root-threshold 2 --out t1.json
expect "79 verify it from either pin" 0 "root keys: 2 that count (threshold 2), 0 revoked, 0 expired" -- "$W" roster verify --pin "$R1" t1.json
reject "80 add-key with one root signature of two" threshold -- "$W" roster add-key t1.json --key b0.pub --purpose policy-bundle-signing --sign r0.pem --out t2.json
absent "80 nothing written" t2.json
expect "81 add-key with both" 0 "roster version 2" -- "$W" roster add-key t1.json --key b0.pub --purpose policy-bundle-signing --sign r0.pem --sign r1.pem --out t2.json
expect "82 verify it" 0 "version: 2" -- "$W" roster verify --pin "$R0" --previous t1.json t2.json
expect "83 lower the root threshold" 0 "" -- "$W" roster revoke t2.json --keyid "$B0" --root-threshold 1 --sign r0.pem --sign r1.pem --out t3.json
check "83 threshold 1" grep -qF '"root":{"threshold":1' <(payload t3.json)
expect "84 root threshold above root keys" 2 "root key" -- "$W" roster revoke t2.json --keyid "$B0" --root-threshold 3 --sign r0.pem --sign r1.pem --out u.json

# ---- root rotation ----
expect "85 add a root key" 0 "roster version 2" -- "$W" roster add-key v1.json --key r1.pub --purpose roster-root --sign r0.pem --out rr2.json
expect "86 revoke the old root, signed by the new" 0 "roster version 3" -- "$W" roster revoke rr2.json --keyid "$R0" --sign r1.pem --out rr3.json
expect "87 verify the root rotation chain" 0 "version: 3" -- "$W" roster verify --pin "$R0" --previous v1.json --previous rr2.json rr3.json
expect "88 verify it from the new root's pin" 0 "version: 3" -- "$W" roster verify --pin "$R1" rr3.json
check "88 the revoked root key is not counted" grep -qx "root keys: 1 that count (threshold 1), 1 revoked, 0 expired" "$T/out"
reject "89 the revoked pinned root did not sign it" untrusted-root -- "$W" roster verify --pin "$R0" rr3.json
reject "90 two rotations ahead, without the old root's signature" threshold -- "$W" roster verify --pin "$R0" --previous v1.json rr3.json

# ---- expiry along a chain ----
expect "91 a short-lived roster" 0 "" -- "$W" roster init --org acme --root-key r0.pem --expires-in 1h --out e1.json
expect "92 its successor, with a longer life" 0 "" -- "$W" roster add-key e1.json --key b0.pub --purpose policy-bundle-signing --expires-in 48h --sign r0.pem --out e2.json
e1=$(secs "$(field e1.json expires_at)")
reject "93 the first alone, after its expiry" expired -- "$W" roster verify --pin "$R0" --at "$(fmt "$e1")" e1.json
expect "94 an expired link in the chain is fine" 0 "version: 2" -- "$W" roster verify --pin "$R0" --previous e1.json --at "$(fmt "$e1")" e2.json
e2=$(secs "$(field e2.json expires_at)")
reject "95 but not an expired final roster" expired -- "$W" roster verify --pin "$R0" --previous e1.json --at "$(fmt "$e2")" e2.json

# ---- signers per envelope: 16 root keys sign, a 17th is refused ----
many=()
for i in $(seq 1 17); do genkey "m$i" || exit 1; many+=(--root-key "m$i.pem"); done
expect "96 init with 16 root keys" 0 "roster version 1" -- "$W" roster init --org acme "${many[@]:0:32}" --out m16.json
expect "97 verify it" 0 "root keys: 16 that count (threshold 1), 0 revoked, 0 expired" -- "$W" roster verify --pin "$(keyid m16)" m16.json
expect "98 init with 17 root keys" 2 "at most 16" -- "$W" roster init --org acme "${many[@]}" --out m17.json
absent "98 nothing written" m17.json

done_testing
