#!/bin/bash
# test_key.sh — `warden key gen|id`: files, modes and formats on disk, the keyid (checked
# against the openssl tool), refusals with their exit codes and exact lines, and help/usage.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN

# keyid computed without warden: SHA-256 of the last 32 bytes of the SPKI DER (the raw key).
openssl_keyid() {
    echo "sha256:$(openssl pkey -pubin -in "$1" -outform DER | tail -c 32 | sha256sum | cut -c1-64)"
}
# exactly_one_line NAME TEXT: stderr of the last expect is exactly TEXT, one line.

expect "01 key --help exits 0" 0 "usage: warden key <command>" -- "$W" key --help
expect "02 key gen --help exits 0" 0 "usage: warden key gen PATH" -- "$W" key gen --help
check "03 key gen --help documents PATH and -h" grep -q -- "--help" "$T/out"
expect "04 key id --help exits 0" 0 "usage: warden key id FILE" -- "$W" key id -h
expect "05 key without a command is a usage error" 2 "a key command is required" -- "$W" key
expect "06 unknown key command" 2 "unknown key command 'frob'" -- "$W" key frob
expect "07 key gen without PATH" 2 "exactly one PATH is required" -- "$W" key gen
expect "08 key gen with two paths" 2 "exactly one PATH is required" -- "$W" key gen "$T/a" "$T/b"
check "09 nothing written on a usage error" test ! -e "$T/a"
expect "10 key gen unknown flag" 2 "unknown option" -- "$W" key gen --bogus "$T/a"
expect "11 key id without FILE" 2 "exactly one FILE is required" -- "$W" key id

expect "12 key gen writes a key pair" 0 "" -- "$W" key gen "$T/k1"
keyid=$(cat "$T/out")
check "13 key gen prints exactly one keyid" grep -qxE 'sha256:[0-9a-f]{64}' "$T/out"
check "14 private key has mode 0600" test "$(stat -c %a "$T/k1")" = 600
check "15 public key has mode 0644" test "$(stat -c %a "$T/k1.pub")" = 644
check "16 private key is PKCS#8 PEM" test "$(head -n1 "$T/k1")" = "-----BEGIN PRIVATE KEY-----"
check "17 public key is SPKI PEM" test "$(head -n1 "$T/k1.pub")" = "-----BEGIN PUBLIC KEY-----"
check "18 openssl reads the private key as Ed25519" \
    sh -c "openssl pkey -in '$T/k1' -noout -text 2>/dev/null | grep -q 'ED25519 Private-Key'"
check "19 keyid equals SHA-256 of the raw public key" test "$(openssl_keyid "$T/k1.pub")" = "$keyid"
check "20 the .pub is the public half of the private key" \
    sh -c "openssl pkey -in '$T/k1' -pubout | cmp -s - '$T/k1.pub'"

expect "21 key id of the private key" 0 "$keyid" -- "$W" key id "$T/k1"
check "22 key id prints only the keyid" test "$(cat "$T/out")" = "$keyid"
expect "23 key id of the public key" 0 "$keyid" -- "$W" key id "$T/k1.pub"
check "24 key id of the public key prints only the keyid" test "$(cat "$T/out")" = "$keyid"

# a key made by openssl has the keyid openssl's view of it gives
openssl genpkey -algorithm ed25519 -out "$T/ossl" 2>/dev/null && chmod 600 "$T/ossl"
openssl pkey -in "$T/ossl" -pubout -out "$T/ossl.pub" 2>/dev/null
expect "25 key id of an openssl-generated key" 0 "$(openssl_keyid "$T/ossl.pub")" -- \
    "$W" key id "$T/ossl"

# no overwrite
cp -p "$T/k1" "$T/k1.before"
cp -p "$T/k1.pub" "$T/k1.pub.before"
expect "26 key gen refuses to overwrite PATH" 1 "refusing to overwrite" -- "$W" key gen "$T/k1"
same_file "27 private key unchanged" "$T/k1" "$T/k1.before"
same_file "28 public key unchanged" "$T/k1.pub" "$T/k1.pub.before"
echo "keep" >"$T/k2.pub"
cp "$T/k2.pub" "$T/k2.pub.before"
expect "29 key gen refuses when PATH.pub exists" 1 "refusing to overwrite" -- "$W" key gen "$T/k2"
check "30 no private key left behind" test ! -e "$T/k2"
same_file "31 existing PATH.pub unchanged" "$T/k2.pub" "$T/k2.pub.before"
expect "32 key gen into a missing directory" 1 "cannot create" -- "$W" key gen "$T/no/such/k"

# permissions, as ssh
cp "$T/k1" "$T/k644" && chmod 644 "$T/k644"
expect "33 private key with mode 0644 refused" 1 "" -- "$W" key id "$T/k644"
exactly_one_line "34 the refusal says why" \
    "warden: private key $T/k644 is readable by group or others (mode 0644); chmod 600 it"
cp "$T/k1" "$T/k640" && chmod 640 "$T/k640"
expect "35 private key with mode 0640 refused" 1 "(mode 0640); chmod 600 it" -- \
    "$W" key id "$T/k640"
cp "$T/k1" "$T/k400" && chmod 400 "$T/k400"
expect "36 private key with mode 0400 accepted" 0 "$keyid" -- "$W" key id "$T/k400"

# not an Ed25519 key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec" 2>/dev/null
chmod 600 "$T/ec"
openssl pkey -in "$T/ec" -pubout -out "$T/ec.pub" 2>/dev/null
reject "37 EC private key is malformed" malformed -- "$W" key id "$T/ec"
exactly_one_line "38 exact rejection line" "rejected (malformed): $T/ec: not an Ed25519 key (found EC)"
reject "39 EC public key is malformed" malformed -- "$W" key id "$T/ec.pub"
echo "hello" >"$T/junk"
reject "40 a file that is not a PEM key" malformed -- "$W" key id "$T/junk"
exactly_one_line "41 exact rejection line" "rejected (malformed): $T/junk: not a PEM private or public key"
openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:secret -out "$T/enc" 2>/dev/null
chmod 600 "$T/enc"
reject "42 an encrypted private key is refused, not prompted for" malformed -- "$W" key id "$T/enc"

# size limit (16 KiB): leading text is ignored by PEM, so pad a valid key to the limit
pad_pem_to() { # pad_pem_to SRC DST SIZE
    local n; n=$(stat -c %s "$1")
    { head -c $(($3 - n - 1)) /dev/zero | tr '\0' '#'; echo; cat "$1"; } >"$2"
    chmod 600 "$2"
}
pad_pem_to "$T/k1" "$T/big16384" 16384
check "43 padded key is exactly 16384 bytes" test "$(stat -c %s "$T/big16384")" = 16384
expect "44 key file at the limit loads" 0 "$keyid" -- "$W" key id "$T/big16384"
pad_pem_to "$T/k1" "$T/big16385" 16385
reject "45 key file one byte past the limit" oversized -- "$W" key id "$T/big16385"
expect "46 missing key file is an I/O error" 1 "cannot open key file" -- "$W" key id "$T/missing"

done_testing
