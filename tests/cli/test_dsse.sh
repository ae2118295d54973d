#!/bin/bash
# test_dsse.sh — `warden dsse sign|verify`: round trips, the verified line, every rejection
# with its exit code and exact line, output never written on failure, and help/usage.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
TYPE=application/vnd.warden.test+json

hash_of() { echo "sha256:$(sha256sum <"$1" | cut -c1-64)"; }

"$W" key gen "$T/a" >"$T/a.id"
"$W" key gen "$T/b" >"$T/b.id"
printf '{"hello":"world"}' >"$T/in"

expect "01 dsse --help exits 0" 0 "usage: warden dsse <command>" -- "$W" dsse --help
expect "02 dsse sign --help exits 0" 0 "usage: warden dsse sign" -- "$W" dsse sign --help
check "03 sign help documents every flag" \
    sh -c "grep -q -- '--type TYPE' '$T/out' && grep -q -- '--key KEY' '$T/out' && grep -q -- '--help' '$T/out'"
expect "04 dsse verify --help exits 0" 0 "usage: warden dsse verify" -- "$W" dsse verify -h
check "05 verify help documents every flag" \
    sh -c "grep -q -- '--key PUB' '$T/out' && grep -q -- '--type TYPE' '$T/out' && grep -q -- '--help' '$T/out'"
expect "06 dsse without a command" 2 "a dsse command is required" -- "$W" dsse
expect "07 unknown dsse command" 2 "unknown dsse command" -- "$W" dsse frob
expect "08 sign without --type" 2 "--type (not empty) and --key are required" -- \
    "$W" dsse sign --key "$T/a" "$T/in" "$T/o8"
expect "09 sign without --key" 2 "are required" -- "$W" dsse sign --type "$TYPE" "$T/in" "$T/o9"
expect "10 sign without OUT" 2 "IN and OUT are required" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" "$T/in"
expect "11 sign with an unknown flag" 2 "unknown option" -- \
    "$W" dsse sign --bogus --type "$TYPE" --key "$T/a" "$T/in" "$T/o11"
check "12 nothing written on usage errors" \
    sh -c "test ! -e '$T/o8' && test ! -e '$T/o9' && test ! -e '$T/o11'"
expect "13 verify without --key" 2 "at least one --key is required" -- "$W" dsse verify "$T/in"
expect "14 verify with two envelopes" 2 "exactly one ENVELOPE" -- \
    "$W" dsse verify --key "$T/a.pub" "$T/in" "$T/in"
set -- ; for i in $(seq 17); do set -- "$@" --key "$T/a.pub"; done
expect "15 verify with 17 keys" 2 "at most 16 --key flags" -- "$W" dsse verify "$@" "$T/in"

# sign and verify
expect "16 sign" 0 "" -- "$W" dsse sign --type "$TYPE" --key "$T/a" "$T/in" "$T/env1"
check "17 envelope is compact JSON with the three fields in order" \
    grep -qE '^\{"payloadType":"application/vnd.warden.test\+json","payload":"[A-Za-z0-9+/=]+","signatures":\[\{"keyid":"sha256:[0-9a-f]{64}","sig":"[A-Za-z0-9+/]{86}=="\}\]\}$' "$T/env1"
check "18 envelope carries the signer's keyid" grep -qF "\"keyid\":\"$(cat "$T/a.id")\"" "$T/env1"
check "19 payload is the base64 of IN" grep -qF "\"payload\":\"$(base64 -w0 <"$T/in")\"" "$T/env1"
H=$(hash_of "$T/in")
expect "20 verify" 0 "" -- "$W" dsse verify --key "$T/a.pub" "$T/env1"
check "21 verified line" test "$(cat "$T/out")" = \
    "verified: 1 signature(s), payloadType $TYPE, message hash $H"
expect "22 verify with the private key file" 0 "verified: 1 signature(s)" -- \
    "$W" dsse verify --key "$T/a" "$T/env1"
expect "23 verify with an extra unrelated key" 0 "verified: 1 signature(s)" -- \
    "$W" dsse verify --key "$T/b.pub" --key "$T/a.pub" "$T/env1"
expect "24 verify --type matching" 0 "verified:" -- \
    "$W" dsse verify --type "$TYPE" --key "$T/a.pub" "$T/env1"
expect "25 sign with two keys" 0 "" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" --key "$T/b" "$T/in" "$T/env2"
expect "26 both signatures count" 0 "verified: 2 signature(s), payloadType $TYPE, message hash $H" -- \
    "$W" dsse verify --key "$T/a.pub" --key "$T/b.pub" "$T/env2"
expect "27 the same key twice counts once" 0 "verified: 1 signature(s)" -- \
    "$W" dsse verify --key "$T/a.pub" --key "$T/a.pub" "$T/env1"
expect "28 sign with the same key twice is a usage error" 2 "given twice" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" --key "$T/a" "$T/in" "$T/o28"
check "29 nothing written" test ! -e "$T/o28"

# standard input and output
if "$W" dsse sign --type "$TYPE" --key "$T/a" - "$T/env-stdin" <"$T/in" 2>"$T/err"; then
    ok "30 sign reads IN from standard input"
else notok "30 sign reads IN from standard input" "$(cat "$T/err")"; fi
same_file "31 same envelope as from the file" "$T/env-stdin" "$T/env1"
expect "32 sign writes OUT to standard output" 0 "" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" "$T/in" -
same_file "33 standard output is the envelope" "$T/out" "$T/env1"
if "$W" dsse verify --key "$T/a.pub" - <"$T/env1" >"$T/out" 2>"$T/err"; then
    ok "34 verify reads the envelope from standard input"
else notok "34 verify reads the envelope from standard input" "$(cat "$T/err")"; fi
printf 'raw\0bytes\n\377' >"$T/bin"
expect "35 sign any bytes (no validation)" 0 "" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" "$T/bin" "$T/env-bin"
expect "36 verify a binary payload" 0 "message hash $(hash_of "$T/bin")" -- \
    "$W" dsse verify --key "$T/a.pub" "$T/env-bin"

# signature failures
reject "37 wrong key" bad-signature -- "$W" dsse verify --key "$T/b.pub" "$T/env1"
exactly_one_line "38 exact line" \
    "rejected (bad-signature): no signature by any of the 1 given key(s) (first signature is by $(cat "$T/a.id"))"
other=$(printf '{"hello":"there"}' | base64 -w0)
sed "s#\"payload\":\"[^\"]*\"#\"payload\":\"$other\"#" "$T/env1" >"$T/tampered"
check "39 tampered copy differs" sh -c "! cmp -s '$T/tampered' '$T/env1'"
reject "40 tampered payload" bad-signature -- "$W" dsse verify --key "$T/a.pub" "$T/tampered"
exactly_one_line "41 exact line" \
    "rejected (bad-signature): signature 1 by key $(cat "$T/a.id") does not verify"
first=$(sed -E 's/.*"sig":"(.).*/\1/' "$T/env1")
repl=A; [ "$first" = A ] && repl=B
sed -E "s/(\"sig\":\")./\1$repl/" "$T/env1" >"$T/tampered-sig"
reject "42 tampered signature" bad-signature -- "$W" dsse verify --key "$T/a.pub" "$T/tampered-sig"
sed "s#$TYPE#application/vnd.warden.other+json#" "$T/env1" >"$T/tampered-type"
reject "43 changed payloadType" bad-signature -- "$W" dsse verify --key "$T/a.pub" "$T/tampered-type"
reject "44 --type not matching" wrong-type -- \
    "$W" dsse verify --type application/vnd.warden.roster.v1+json --key "$T/a.pub" "$T/env1"
exactly_one_line "45 exact line" \
    "rejected (wrong-type): payloadType is \"$TYPE\", expected \"application/vnd.warden.roster.v1+json\""

# decoding failures
s=$(sed -E 's/.*"signatures":(\[.*\])\}$/\1/' "$T/env1")
p=$(base64 -w0 <"$T/in")
env_with() { printf '%s' "$1" >"$T/bad"; }
env_with "{\"payloadType\":\"$TYPE\",\"payload\":\"$p\",\"signatures\":$s}"
expect "46 rebuilt envelope verifies" 0 "verified:" -- "$W" dsse verify --key "$T/a.pub" "$T/bad"
env_with "{\"payloadType\":\"$TYPE\",\"payload\":\"$p\",\"signatures\":$s} {}"
reject "47 trailing data" trailing-data -- "$W" dsse verify --key "$T/a.pub" "$T/bad"
env_with "{\"payloadType\":\"$TYPE\",\"payload\":\"$p\",\"payload\":\"$p\",\"signatures\":$s}"
reject "48 duplicate key" duplicate-key -- "$W" dsse verify --key "$T/a.pub" "$T/bad"
env_with "{\"payloadType\":\"$TYPE\",\"payload\":\"$p\",\"signatures\":$s,\"x\":1}"
reject "49 unknown field" unknown-field -- "$W" dsse verify --key "$T/a.pub" "$T/bad"
exactly_one_line "50 exact line" "rejected (unknown-field): envelope.x: unknown field"
env_with "{\"payloadType\":\"$TYPE\",\"payload\":\"$p\",\"signatures\":[]}"
reject "51 no signatures" malformed -- "$W" dsse verify --key "$T/a.pub" "$T/bad"
exactly_one_line "52 exact line" "rejected (malformed): envelope.signatures: no signatures (an unsigned draft: add signatures with 'warden sign' first)"
env_with "{\"payloadType\":\"$TYPE\",\"payload\":\"${p%?}\",\"signatures\":$s}"
reject "53 payload not canonical base64" malformed -- "$W" dsse verify --key "$T/a.pub" "$T/bad"
env_with "{\"payloadType\":\"$TYPE\",\"signatures\":$s}"
reject "54 missing payload" malformed -- "$W" dsse verify --key "$T/a.pub" "$T/bad"
exactly_one_line "55 exact line" "rejected (malformed): envelope.payload: missing required field"
sigs17=$(printf '%s' "$s" | sed -E 's/^\[(.*)\]$/\1/')
list=$sigs17; for i in $(seq 16); do list="$list,$sigs17"; done
env_with "{\"payloadType\":\"$TYPE\",\"payload\":\"$p\",\"signatures\":[$list]}"
reject "56 seventeen signatures" oversized -- "$W" dsse verify --key "$T/a.pub" "$T/bad"
list=$sigs17; for i in $(seq 15); do list="$list,$sigs17"; done
env_with "{\"payloadType\":\"$TYPE\",\"payload\":\"$p\",\"signatures\":[$list]}"
expect "57 sixteen signatures (one keyid) verify as one" 0 "verified: 1 signature(s)" -- \
    "$W" dsse verify --key "$T/a.pub" "$T/bad"

# envelope size: 1 MiB is the limit (trailing whitespace is allowed, so pad with it)
{ cat "$T/env1"; head -c $((1048576 - $(stat -c %s "$T/env1"))) /dev/zero | tr '\0' ' '; } >"$T/env-max"
check "58 padded envelope is exactly 1 MiB" test "$(stat -c %s "$T/env-max")" = 1048576
expect "59 envelope at the limit verifies" 0 "verified:" -- "$W" dsse verify --key "$T/a.pub" "$T/env-max"
{ cat "$T/env-max"; printf ' '; } >"$T/env-over"
reject "60 envelope one byte past the limit" oversized -- "$W" dsse verify --key "$T/a.pub" "$T/env-over"
expect "61 missing envelope is an I/O error" 1 "cannot open" -- "$W" dsse verify --key "$T/a.pub" "$T/none"

# keys: permissions and kinds
cp "$T/a" "$T/a644" && chmod 644 "$T/a644"
expect "62 sign refuses a 0644 private key" 1 "(mode 0644); chmod 600 it" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a644" "$T/in" "$T/o62"
check "63 nothing written" test ! -e "$T/o62"
cp "$T/a.pub" "$T/apub600" && chmod 600 "$T/apub600"
reject "64 sign with a public key" malformed -- \
    "$W" dsse sign --type "$TYPE" --key "$T/apub600" "$T/in" "$T/o64"
check "65 nothing written" test ! -e "$T/o64"

# payload size: the envelope must stay within 1 MiB
head -c 786432 /dev/zero >"$T/payload-big"
echo "previous" >"$T/o66" && cp "$T/o66" "$T/o66.before"
reject "66 payload whose envelope exceeds 1 MiB" oversized -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" "$T/payload-big" "$T/o66"
same_file "67 existing OUT unchanged" "$T/o66" "$T/o66.before"
head -c 1048577 /dev/zero >"$T/payload-huge"
reject "68 payload past 1 MiB" oversized -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" "$T/payload-huge" "$T/o68"
check "69 nothing written" test ! -e "$T/o68"
head -c 700000 /dev/zero >"$T/payload-ok"
expect "70 a large payload within the limit" 0 "" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" "$T/payload-ok" "$T/o70"
expect "71 and it verifies" 0 "verified: 1 signature(s)" -- "$W" dsse verify --key "$T/a.pub" "$T/o70"
cp "$T/o66" "$T/o66.before"
expect "72 sign refuses an existing OUT" 1 "o66: already exists; not replaced (--force replaces it)" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" "$T/in" "$T/o66"
same_file "72 OUT left as it was" "$T/o66" "$T/o66.before"
expect "72 sign --force replaces an existing OUT" 0 "" -- \
    "$W" dsse sign --type "$TYPE" --key "$T/a" --force "$T/in" "$T/o66"
same_file "73 replaced with the new envelope" "$T/o66" "$T/env1"

done_testing
