#!/bin/bash
# test_trust.sh — the trust hardening rules end to end, each against hostile input made with
# the independent tools (dsse sign over hand-edited payloads): a public key appears once in a
# roster (parser and add-key, both directions; revoke then takes the key out for good); the
# bundle version floor after an authorized rollback; versions and counters in 1 .. 2^53-1;
# --previous roster chains in bundle, kill and rollback verify across a root rotation that
# dropped the pinned key; private keys read only in the PKCS#8 v1 form, the mode checked first.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
RT=application/vnd.warden.roster.v1+json
BT=application/vnd.warden.policy-bundle.v1+json
KT=application/vnd.warden.remote-kill.v1+json
AT_=application/vnd.warden.rollback.v1+json
MAX=9007199254740991   # 2^53 - 1
OVER=9007199254740992  # 2^53
I64=9223372036854775807

NOW=$(date -u +%s)
AT=$(tfmt $((NOW + 600)))

cd "$T" || exit 1
for k in r0 r1 bs k1 k2 rb1 rb2; do "$W" key gen "$T/$k" >/dev/null; done
R0=$("$W" key id r0) R1=$("$W" key id r1) BS=$("$W" key id bs.pub)

# edit ENVELOPE OUT PYTHON: the envelope's payload as JSON d, changed by PYTHON, written to OUT.
edit() {
    python3 - "$1" "$2" "$3" <<'EOF'
import base64, json, sys
env = json.load(open(sys.argv[1]))
d = json.loads(base64.b64decode(env["payload"]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d, separators=(",", ":"), ensure_ascii=False))
EOF
}
# sign TYPE PAYLOAD OUT KEY...: an envelope made by the plain DSSE signer (no validation).
sign() {
    local type=$1 in=$2 out=$3; shift 3
    local ks=()
    for k in "$@"; do ks+=(--key "$k"); done
    "$W" dsse sign --type "$type" "${ks[@]}" "$in" "$out" >/dev/null
}
# rejected_quietly NAME CODE -- CMD: the rejection, nothing on stdout, one line on stderr.
rejected_quietly() {
    local name=$1 code=$2; shift 2
    reject "$name" "$code" "$@"
    if [ -s "$T/out" ]; then notok "$name: nothing reported on stdout" "stdout: $(head -c 300 "$T/out")"
    else ok "$name: nothing reported on stdout"; fi
    if [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "$name: exactly one line on stderr"
    else notok "$name: exactly one line on stderr" "stderr: $(cat "$T/err")"; fi
}
# usage_refused NAME PATTERN OUT -- CMD: exit 2 naming PATTERN, and OUT not written.
usage_refused() {
    local name=$1 pat=$2 out=$3; shift 3
    rm -f "$out"
    expect "$name" 2 "$pat" "$@"
    check "$name: nothing written" test ! -e "$out"
}

# ---- the roster: r0 root; bs, k1, k2, rb1, rb2 ----
"$W" roster init --org acme --root-key r0 --out v1 >/dev/null &&
"$W" roster add-key v1 --key bs.pub --purpose policy-bundle-signing --sign r0 --out v2 >/dev/null &&
"$W" roster add-key v2 --key k1.pub --purpose remote-kill-signing --sign r0 --out v3 >/dev/null &&
"$W" roster add-key v3 --key k2.pub --purpose remote-kill-signing --sign r0 --out v4 >/dev/null &&
"$W" roster add-key v4 --key rb1.pub --purpose policy-bundle-rollback --sign r0 --out v5 >/dev/null &&
"$W" roster add-key v5 --key rb2.pub --purpose policy-bundle-rollback --sign r0 --out v6 >/dev/null
check "01 roster for the tests is built" test -s v6

SCOPE=(--org acme --fleet prod --env eu1)
FOLLOWER=("${SCOPE[@]}" --instance i-1 --at "$AT")
BVERIFY=("$W" bundle verify --pin "$R0" "${FOLLOWER[@]}")
KVERIFY=("$W" kill verify --pin "$R0" "${FOLLOWER[@]}")
AVERIFY=("$W" rollback verify --pin "$R0" "${FOLLOWER[@]}")
printf 'version: 1\nmode: enforce\nservers:\n  default: deny\n' >p1.yaml
printf 'version: 1\nmode: audit\nservers:\n  default: deny\n' >p2.yaml
printf 'version: 1\nmode: enforce\nservers:\n  default: allow\n' >p3.yaml
bcreate() { "$W" bundle create "${SCOPE[@]}" --instances '*' --sign bs "$@" >/dev/null; }
bcreate --policy p1.yaml --version 1 --out b1 &&
bcreate --policy p2.yaml --version 2 --previous b1 --out b2 &&
bcreate --policy p3.yaml --version 3 --previous b2 --out b3
check "02 bundles for the tests are built" test -s b3

# ---- 1. a public key appears once in a roster ----
usage_refused "03 add-key: a key of keys as a root key" "keys[0]" v7 -- "$W" roster add-key v6 \
    --key bs.pub --purpose roster-root --sign r0 --out v7
check "03 the message says the key is already there" grep -qF "already in the roster" "$T/err"
usage_refused "04 add-key: a root key into keys (to sign bundles)" "root.keys[0]" v7 -- \
    "$W" roster add-key v6 --key r0.pub --purpose policy-bundle-signing --sign r0 --out v7
edit v6 dual.json "d['keys'].append(dict(d['root']['keys'][0], purposes=['policy-bundle-signing']))"
sign "$RT" dual.json dual r0
rejected_quietly "05 a roster listing its root key again in keys" malformed -- \
    "$W" roster verify --pin "$R0" dual
check "05 the message names both places" grep -qE "keys\[5\].*root\.keys\[0\]" "$T/err"
rejected_quietly "06 a bundle against that roster" malformed -- "${BVERIFY[@]}" --roster dual b1
edit v6 dual2.json "d['root']['keys'].append(dict(d['keys'][0], purposes=['roster-root']))"
sign "$RT" dual2.json dual2 r0
rejected_quietly "07 a roster listing a bundle key again as a root key" malformed -- \
    "$W" roster verify --pin "$R0" dual2
check "07 the message names both places" grep -qE "keys\[0\].*root\.keys\[1\]" "$T/err"
edit v6 dual3.json "d['keys'].append(dict(d['keys'][0], status='revoked'))"
sign "$RT" dual3.json dual3 r0
rejected_quietly "08 a key twice in keys, once revoked once active" malformed -- \
    "$W" roster verify --pin "$R0" dual3
rm -f dual.v7
reject "08 revoke on a roster that lists a key twice is refused" malformed -- \
    "$W" roster revoke dual --keyid "$R0" --sign r0 --out dual.v7
check "08 nothing written" test ! -e dual.v7
expect "09 revoke the bundle key" 0 "roster version 7" -- "$W" roster revoke v6 --keyid "$BS" \
    --sign r0 --out v7
rejected_quietly "10 a bundle by the revoked key, against the roster that revoked it" \
    revoked-key -- "${BVERIFY[@]}" --roster v7 b1
rejected_quietly "11 the same through the chain v6 -> v7" revoked-key -- "${BVERIFY[@]}" \
    --previous v6 --roster v7 b1
expect "12 against the older roster v6 it verifies: the operator's choice, shown" 0 \
    "roster: acme version 6" -- "${BVERIFY[@]}" --roster v6 b1
usage_refused "13 add-key: the revoked key again (it is in the roster)" "revoked" v8 -- \
    "$W" roster add-key v7 --key bs.pub --purpose policy-bundle-signing --sign r0 --out v8

# ---- 2. the version floor ----
H1=$("$W" bundle inspect b1 | sed -n 's/^hash: *//p')
"$W" rollback create "${SCOPE[@]}" --instances '*' --current b2 --target b1 --reason "bad" \
    --sign rb1 --sign rb2 --out a21 >/dev/null
check "14 rollback authorization 2 -> 1 is built" test -s a21
expect "15 1 -> 2 accepted, floor 2" 0 "floor: 2" -- "${BVERIFY[@]}" --roster v6 --current b1 b2
expect "16 authorized rollback 2 -> 1 with floor 2" 0 "accepted, authorized rollback" -- \
    "${BVERIFY[@]}" --roster v6 --current b2 --floor 2 --rollback a21 b1
check "16 the floor stays 2" grep -qx "floor: 2" "$T/out"
rejected_quietly "17 version 2 again after the rollback is stale" stale -- "${BVERIFY[@]}" \
    --roster v6 --current b1 --floor 2 b2
check "17 the message names the floor" grep -qF "floor 2" "$T/err"
rejected_quietly "18 also with the rollback authorization offered" stale -- "${BVERIFY[@]}" \
    --roster v6 --current b1 --floor 2 --rollback a21 b2
expect "19 version 3 is the way forward, floor 3" 0 "floor: 3" -- "${BVERIFY[@]}" --roster v6 \
    --current b1 --floor 2 b3
expect "20 the active bundle itself is a no-op under its floor" 0 "no-op" -- "${BVERIFY[@]}" \
    --roster v6 --current b1 --floor 2 b1
rejected_quietly "21 no active bundle, version at the floor" stale -- "${BVERIFY[@]}" \
    --roster v6 --floor 2 b2
expect "22 --floor 2^53-1 is in range (and b3 is under it)" 3 "rejected (stale)" -- \
    "${BVERIFY[@]}" --roster v6 --floor "$MAX" b3
for f in -1 "$OVER" "$I64" x 1.5 " 2" ""; do
    expect "23 --floor '$f' is a usage error" 2 "--floor" -- "${BVERIFY[@]}" --roster v6 \
        --floor "$f" b3
done
expect "24 verify --help documents --floor and --previous" 0 "--floor N" -- \
    "$W" bundle verify --help
check "24 --previous documented" grep -qE -- "^ +--previous ROSTER " "$T/out"
check "24 no internal document named in help" sh -c "! grep -q SPEC '$T/out'"

# ---- 3. integer ranges ----
expect "25 bundle create --version 2^53-1" 0 "version $MAX" -- "$W" bundle create "${SCOPE[@]}" \
    --instances '*' --sign bs --policy p1.yaml --version "$MAX" --out bmax
expect "26 it verifies" 0 "version $MAX" -- "${BVERIFY[@]}" --roster v6 bmax
usage_refused "27 bundle create --version 2^53" "--version" bover -- "$W" bundle create \
    "${SCOPE[@]}" --instances '*' --sign bs --policy p1.yaml --version "$OVER" --out bover
usage_refused "28 bundle create --version 2^63-1" "--version" bover -- "$W" bundle create \
    "${SCOPE[@]}" --instances '*' --sign bs --policy p1.yaml --version "$I64" --out bover
edit b1 t.json "d['version'] = $OVER"
sign "$BT" t.json bv53 bs
rejected_quietly "29 a signed bundle with version 2^53" malformed -- "${BVERIFY[@]}" --roster v6 bv53
kcreate() { "$W" kill create "${SCOPE[@]}" --instances '*' --sign k1 --sign k2 "$@"; }
expect "30 kill create --counter 2^53-1" 0 "counter $MAX" -- kcreate --state active \
    --counter "$MAX" --reason x --out kmax
expect "31 it verifies" 0 "counter $MAX" -- "${KVERIFY[@]}" --roster v6 kmax
for c in "$OVER" "$I64" 0 -1; do
    usage_refused "32 kill create --counter $c" "--counter" kover -- kcreate --state active \
        --counter "$c" --reason x --out kover
done
edit kmax t.json "d['counter'] = $I64"
sign "$KT" t.json k63 k1 k2
rejected_quietly "33 a signed kill with counter 2^63-1 (which nothing could lift)" malformed -- \
    "${KVERIFY[@]}" --roster v6 k63
edit kmax t.json "d['counter'] = $OVER"
sign "$KT" t.json k53 k1 k2
rejected_quietly "34 a signed kill with counter 2^53" malformed -- "${KVERIFY[@]}" --roster v6 k53
edit a21 t.json "d['current_version'] = $OVER"
sign "$AT_" t.json a53 rb1 rb2
rejected_quietly "35 a signed rollback with current_version 2^53" malformed -- \
    "${AVERIFY[@]}" --roster v6 a53
edit v1 t.json "d['version'] = $MAX"
sign "$RT" t.json rmax r0
expect "36 a roster at version 2^53-1 verifies" 0 "version: $MAX" -- \
    "$W" roster verify --pin "$R0" rmax
usage_refused "37 add-key on it: no next version" "highest" rnext -- "$W" roster add-key rmax \
    --key bs.pub --purpose policy-bundle-signing --sign r0 --out rnext
edit v1 t.json "d['version'] = $OVER"
sign "$RT" t.json r53 r0
rejected_quietly "38 a roster at version 2^53" malformed -- "$W" roster verify --pin "$R0" r53

# ---- 4. roster chains: a root rotation that dropped the pinned key ----
# c1: r0 (pinned); c2: + r1 as root; c3: r0 revoked; c4..c8: the message keys, signed by r1.
"$W" roster init --org acme --root-key r0 --out c1 >/dev/null &&
"$W" roster add-key c1 --key r1.pub --purpose roster-root --sign r0 --out c2 >/dev/null &&
"$W" roster revoke c2 --keyid "$R0" --sign r0 --sign r1 --out c3 >/dev/null &&
"$W" roster add-key c3 --key bs.pub --purpose policy-bundle-signing --sign r1 --out c4 >/dev/null &&
"$W" roster add-key c4 --key k1.pub --purpose remote-kill-signing --sign r1 --out c5 >/dev/null &&
"$W" roster add-key c5 --key k2.pub --purpose remote-kill-signing --sign r1 --out c6 >/dev/null &&
"$W" roster add-key c6 --key rb1.pub --purpose policy-bundle-rollback --sign r1 --out c7 >/dev/null &&
"$W" roster add-key c7 --key rb2.pub --purpose policy-bundle-rollback --sign r1 --out c8 >/dev/null
check "39 the rotated chain is built" test -s c8
CHAIN=(--previous c1 --previous c2 --previous c3 --previous c4 --previous c5 --previous c6
    --previous c7)
rejected_quietly "40 bundle: the current roster alone does not reach the old pin" \
    untrusted-root -- "${BVERIFY[@]}" --roster c8 b1
expect "41 bundle: through the chain" 0 "reached from the pin through 7 --previous roster(s)" -- \
    "${BVERIFY[@]}" "${CHAIN[@]}" --roster c8 b1
check "41 the roster used is named" grep -q "^roster: acme version 8 sha256:" "$T/out"
rejected_quietly "42 kill: the current roster alone" untrusted-root -- "${KVERIFY[@]}" \
    --roster c8 kmax
expect "43 kill: through the chain" 0 "counter $MAX" -- "${KVERIFY[@]}" "${CHAIN[@]}" --roster c8 kmax
check "43 the roster used is named" grep -q "^roster: acme version 8 " "$T/out"
rejected_quietly "44 rollback: the current roster alone" untrusted-root -- "${AVERIFY[@]}" \
    --roster c8 a21
expect "45 rollback: through the chain" 0 "authorizes: version 2" -- "${AVERIFY[@]}" \
    "${CHAIN[@]}" --roster c8 a21
rejected_quietly "46 a chain with a gap" untrusted-root -- "${BVERIFY[@]}" --previous c1 \
    --previous c3 --roster c8 b1
check "46 the failing link is named" grep -qF -- "--previous c3" "$T/err"
rejected_quietly "47 a chain out of order" stale -- "${BVERIFY[@]}" --previous c2 --previous c1 \
    --roster c8 b1
expect "48 the chain also serves roster verify" 0 "version: 8" -- "$W" roster verify \
    --pin "$R0" "${CHAIN[@]}" c8
for c in bundle kill rollback; do
    expect "49 $c verify --help documents --previous" 0 "--previous ROSTER" -- "$W" $c verify --help
    check "49 $c verify --help says what is trusted" grep -qF "newest roster" "$T/out"
done
expect "50 roster init --help recommends a renewable expiry" 0 "keep renewing" -- \
    "$W" roster init --help
expect "50 roster renew --help" 0 "usage: warden roster renew" -- "$W" roster renew --help
expect "50 renew: the next version, same keys, new expiry" 0 "roster version 9" -- \
    "$W" roster renew c8 --expires-in 48h --sign r1 --out c9
check "50 the renewed roster expires in 48h" test "$(python3 -c '
import base64, calendar, json, sys, time
d = json.loads(base64.b64decode(json.load(open("c9"))["payload"]))
p = lambda t: calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))
print(p(d["expires_at"]) - p(d["created_at"]), len(d["keys"]), len(d["root"]["keys"]))
')" = "172800 5 2"
expect "50 it continues the chain" 0 "version: 9" -- "$W" roster verify --pin "$R0" \
    "${CHAIN[@]}" --previous c8 c9
usage_refused "50 renew signed by a key that is not a root key" "not a root key" c10 -- \
    "$W" roster renew c9 --sign bs --out c10
refused "50 renew signed by the revoked root key alone" revoked-key c10 -- \
    "$W" roster renew c9 --sign r0 --out c10

# ---- 5. private keys: PKCS#8 v1 only, the mode checked before any byte is parsed ----
openssl genpkey -algorithm ed25519 -out os.pem 2>/dev/null && chmod 600 os.pem
OSID="sha256:$(openssl pkey -in os.pem -pubout -outform DER 2>/dev/null | tail -c 32 |
    sha256sum | cut -d' ' -f1)"
expect "51 key id of an OpenSSL-written PKCS#8 key" 0 "$OSID" -- "$W" key id os.pem
openssl pkey -in os.pem -outform DER 2>/dev/null >os.der
openssl pkey -in os.pem -pubout -outform DER 2>/dev/null | tail -c 32 >os.pubraw
python3 - <<'EOF'
import base64
d = open("os.der", "rb").read()
pub = open("os.pubraw", "rb").read()
v2 = bytes([0x30, 0x51]) + d[2:4] + bytes([0x01]) + d[5:48] + bytes([0x81, 0x21, 0x00]) + pub
b = base64.b64encode(v2).decode()
body = "\n".join(b[i:i + 64] for i in range(0, len(b), 64))
open("v2.pem", "w").write("-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n")
EOF
chmod 600 v2.pem
rejected_quietly "52 a PKCS#8 v2 key (with its public key) is refused" malformed -- \
    "$W" key id v2.pem
check "52 the message says which form is read" grep -qF "PKCS#8 v1" "$T/err"
echo "payload" >pl
"$W" dsse sign --type text/plain --key os.pem pl os.env >/dev/null
expect "53 dsse verify --key with a private key file" 0 "" -- "$W" dsse verify --key os.pem os.env
printf -- '-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n' >junk.pem
chmod 644 junk.pem
expect "54 a loose key file is refused for its mode, before its bytes are parsed" 1 \
    "readable by group or others" -- "$W" key id junk.pem
chmod 600 junk.pem
rejected_quietly "55 the same bytes at 0600 are malformed" malformed -- "$W" key id junk.pem

done_testing
