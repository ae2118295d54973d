#!/bin/bash
# test_offline.sh — focus: what an operator of a host without a network path to a leader does
# with files: `bundle verify --write-policy` writes the verified policy document (the exact
# signed bytes) only when everything is accepted, never over an existing file without --force;
# and the create and verify commands name the first missing flag in one line.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
cd "$T" || exit 1
for k in root bs; do "$W" key gen "$T/$k" >/dev/null; done
PIN=$("$W" key id root.pub)
"$W" roster init --org acme --root-key root --out r1.json >/dev/null
"$W" roster add-key r1.json --key bs.pub --purpose policy-bundle-signing --sign root \
    --out r2.json >/dev/null
printf 'version: 1\nmode: enforce\nservers:\n  default: deny\n' >pol.yaml
"$W" bundle create --policy pol.yaml --org acme --fleet prod --env eu1 --version 1 \
    --instances web-7 --sign bs --out b1.json >/dev/null
V=(--roster r2.json --previous r1.json --pin "$PIN" --org acme --fleet prod --env eu1)

expect "01 verify --write-policy: exit 0" 0 "policy written to out.yaml" -- \
    "$W" bundle verify "${V[@]}" --instance web-7 --write-policy out.yaml b1.json
same_file "02 ... the file is the signed policy, byte for byte" pol.yaml out.yaml
printf 'keep\n' >keep.yaml
cp keep.yaml keep.orig
expect "03 an existing file is refused: exit 1" 1 "already exists" -- \
    "$W" bundle verify "${V[@]}" --instance web-7 --write-policy keep.yaml b1.json
same_file "04 ... and left as it was" keep.orig keep.yaml
expect "05 --force replaces it: exit 0" 0 "policy written to keep.yaml" -- \
    "$W" bundle verify "${V[@]}" --instance web-7 --write-policy keep.yaml --force b1.json
same_file "06 ... with the policy" pol.yaml keep.yaml
rm -f never.yaml
reject "07 another audience is rejected" wrong-audience -- \
    "$W" bundle verify "${V[@]}" --instance web-8 --write-policy never.yaml b1.json
check "08 ... and nothing is written" test ! -e never.yaml
expect "09 --force without --write-policy: usage error" 2 "--force goes with --write-policy" -- \
    "$W" bundle verify "${V[@]}" --instance web-7 --force b1.json

# one line naming the first missing flag
expect "10 bundle create without --org" 2 "" -- \
    "$W" bundle create --policy pol.yaml --fleet prod --env eu1 --version 2 --instances '*' \
    --sign bs --out x.json
exactly_one_line "11 ... says which" \
    "warden: bundle create: missing --org (see 'warden bundle create --help')"
expect "12 kill create without --reason" 2 "" -- \
    "$W" kill create --org acme --fleet prod --env eu1 --state active --counter 1 \
    --instances '*' --sign bs --out k.json
exactly_one_line "13 ... says which" \
    "warden: kill create: missing --reason (see 'warden kill create --help')"
expect "14 rollback create without --target" 2 "" -- \
    "$W" rollback create --org acme --fleet prod --env eu1 --current b1.json --reason r \
    --instances '*' --sign bs --out a.json
exactly_one_line "15 ... says which" \
    "warden: rollback create: missing --target (see 'warden rollback create --help')"
expect "16 bundle verify without --instance" 2 "" -- "$W" bundle verify "${V[@]}" b1.json
exactly_one_line "17 ... says which" \
    "warden: bundle verify: missing --instance (see 'warden bundle verify --help')"
done_testing
