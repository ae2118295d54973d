#!/bin/bash
# test_recorder.sh — `warden recorder verify`: a chain written without warden (Python for the
# JSON and digests, the openssl tool for the Ed25519 checkpoints) verifies with the exact
# summary line; each kind of tampering is reported at its segment and line with its code; the
# line length limit at the limit and one past it; usage and operational errors; nothing changes.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN

# mkchain DIR KEY N EVERY SEGMAX [PADLEN]: N entries, a checkpoint after each EVERY lines,
# segments of at most SEGMAX bytes, written the way the recorder documents its format.
cat >"$T/mkchain.py" <<'EOF'
import base64, hashlib, json, os, subprocess, sys
d, key, n, every, segmax = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pad = int(sys.argv[6]) if len(sys.argv) > 6 else 0
os.makedirs(d, mode=0o700, exist_ok=True)
prev = "sha256:" + "0" * 64
seq, since, seg, segsize = 0, 0, None, 0
def sign(msg):
    with open(os.path.join(d, ".msg"), "wb") as f:
        f.write(msg)
    out = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in",
                          os.path.join(d, ".msg")], check=True, capture_output=True).stdout
    os.unlink(os.path.join(d, ".msg"))
    return base64.b64encode(out).decode()
def write(obj):
    global prev, seq, seg, segsize
    line = json.dumps(obj, separators=(",", ":")).encode()
    if seg is None or (segsize > 0 and segsize + len(line) + 1 > segmax):
        seg = os.path.join(d, "seg-%020d.jsonl" % obj["seq"])
        segsize = 0
    with open(seg, "ab") as f:
        f.write(line + b"\n")
    segsize += len(line) + 1
    prev = "sha256:" + hashlib.sha256(line).hexdigest()
for i in range(n):
    seq += 1
    o = {"seq": seq, "ts": "2026-11-30T12:00:00.%03dZ" % (i % 1000), "prev": prev,
         "kind": "tool_call", "n": i, "decision": "allow"}
    if pad:
        o["pad"] = "p" * pad
    write(o)
    since += 1
    if every and since >= every:
        seq += 1
        msg = ("warden-recorder-checkpoint-v1 %d %s" % (seq, prev)).encode()
        write({"seq": seq, "ts": "2026-11-30T12:00:01.000Z", "prev": prev, "kind": "checkpoint",
               "sig": sign(msg)})
        since = 0
EOF
mkchain() { python3 "$T/mkchain.py" "$@"; }
SEG1=seg-00000000000000000001.jsonl
# line K of FILE (1-based) through python, to edit files byte-exactly
edit() { python3 -c "$1" "${@:2}"; }

"$W" key gen "$T/rk" >/dev/null
"$W" key gen "$T/other" >/dev/null

expect "01 recorder --help" 0 "usage: warden recorder <command>" -- "$W" recorder --help
expect "02 recorder verify --help documents the output line" 0 \
    "verified: N entries, last checkpoint at seq K, M unsigned after it" -- \
    "$W" recorder verify --help
expect "03 verify without --key is a usage error" 2 "missing --key" -- \
    "$W" recorder verify "$T/nowhere"
expect "04 verify without DIR is a usage error" 2 "exactly one DIR is required" -- \
    "$W" recorder verify --key "$T/rk.pub"
expect "05 unknown recorder command" 2 "unknown recorder command 'frob'" -- "$W" recorder frob
expect "06 a missing directory is an operational error" 1 "" -- \
    "$W" recorder verify --key "$T/rk.pub" "$T/nowhere"

# 7 entries with a checkpoint after each 3: 1 2 3 cp4 5 6 7 cp8 9
mkchain "$T/c" "$T/rk" 7 3 1000000
expect "07 a valid chain verifies" 0 "" -- "$W" recorder verify --key "$T/rk.pub" "$T/c"
check "08 the summary line is exact" \
    test "$(cat "$T/out")" = "verified: 9 entries, last checkpoint at seq 8, 1 unsigned after it"
expect "09 the private key verifies too" 0 "verified: 9 entries" -- \
    "$W" recorder verify --key "$T/rk" "$T/c"
find "$T/c" -type f -exec sha256sum {} + | sort >"$T/c.sums"
expect "10 an empty directory verifies as 0 entries" 0 \
    "verified: 0 entries, last checkpoint at seq 0, 0 unsigned after it" -- \
    "$W" recorder verify --key "$T/rk.pub" "$(mkdir -p "$T/empty" && echo "$T/empty")"

cp -r "$T/c" "$T/x"
edit 'import sys; p=sys.argv[1]; b=open(p,"rb").read().split(b"\n"); b[1]=b[1].replace(b"allow",b"Allow"); open(p,"wb").write(b"\n".join(b))' "$T/x/$SEG1"
reject "11 a changed byte breaks the next link" hash-mismatch -- \
    "$W" recorder verify --key "$T/rk.pub" "$T/x"
exactly_one_line "12 the rejection names segment and line" \
    "rejected (hash-mismatch): $SEG1:3: prev does not match the digest of the line before (a line was changed, removed or moved)"

rm -rf "$T/x"; cp -r "$T/c" "$T/x"
edit 'import sys; p=sys.argv[1]; b=open(p,"rb").read().split(b"\n"); del b[4]; open(p,"wb").write(b"\n".join(b))' "$T/x/$SEG1"
reject "13 a deleted line" hash-mismatch -- "$W" recorder verify --key "$T/rk.pub" "$T/x"
check "14 reported at the line that follows it" grep -qF "$SEG1:5: " "$T/err"

rm -rf "$T/x"; cp -r "$T/c" "$T/x"
edit 'import sys; p=sys.argv[1]; b=open(p,"rb").read().split(b"\n"); b[5],b[6]=b[6],b[5]; open(p,"wb").write(b"\n".join(b))' "$T/x/$SEG1"
reject "15 two lines swapped" hash-mismatch -- "$W" recorder verify --key "$T/rk.pub" "$T/x"
check "16 reported at the first of them" grep -qF "$SEG1:6: " "$T/err"

rm -rf "$T/x"; cp -r "$T/c" "$T/x"
truncate -s -4 "$T/x/$SEG1"
reject "17 a truncated tail" malformed -- "$W" recorder verify --key "$T/rk.pub" "$T/x"
check "18 reported at the last line" grep -qF "$SEG1:9: incomplete last line" "$T/err"

rm -rf "$T/x"; cp -r "$T/c" "$T/x"
# a checkpoint re-signed over another seq: valid base64, valid length, wrong message
edit 'import sys,json,subprocess,base64
p,k=sys.argv[1],sys.argv[2]; b=open(p,"rb").read().split(b"\n")
o=json.loads(b[3]); open(p+".m","wb").write(("warden-recorder-checkpoint-v1 5 "+o["prev"]).encode())
s=subprocess.run(["openssl","pkeyutl","-sign","-inkey",k,"-rawin","-in",p+".m"],capture_output=True,check=True).stdout
import os; os.unlink(p+".m")
b[3]=b[3].replace(o["sig"].encode(), base64.b64encode(s)); open(p,"wb").write(b"\n".join(b))' \
    "$T/x/$SEG1" "$T/rk"
reject "19 a forged checkpoint" bad-signature -- "$W" recorder verify --key "$T/rk.pub" "$T/x"
check "20 reported at the checkpoint's line" grep -qF "$SEG1:4: checkpoint signature does not verify" "$T/err"
reject "21 the right chain under another key" bad-signature -- \
    "$W" recorder verify --key "$T/other.pub" "$T/c"
check "22 reported at the first checkpoint" grep -qF "$SEG1:4: " "$T/err"

rm -rf "$T/x"; cp -r "$T/c" "$T/x"
edit 'import sys; p=sys.argv[1]; b=open(p,"rb").read().split(b"\n"); b[6]=b"{"+b[6]; open(p,"wb").write(b"\n".join(b))' "$T/x/$SEG1"
reject "23 a line that is not JSON" malformed -- "$W" recorder verify --key "$T/rk.pub" "$T/x"
check "24 reported at its line" grep -qF "$SEG1:7: " "$T/err"

# rotation: segments named after their first seq, the chain across them
mkchain "$T/r" "$T/rk" 30 4 500
check "25 the chain spans several segments" test "$(ls "$T/r" | wc -l)" -gt 3
expect "26 a rotated chain verifies" 0 \
    "verified: 37 entries, last checkpoint at seq 35, 2 unsigned after it" -- \
    "$W" recorder verify --key "$T/rk.pub" "$T/r"
second=$(ls "$T/r" | sed -n 2p)
mv "$T/r/$second" "$T/r.moved"
reject "27 a removed segment" hash-mismatch -- "$W" recorder verify --key "$T/rk.pub" "$T/r"
check "28 reported at the next segment's first line" grep -qF "$(ls "$T/r" | sed -n 2p):1: " "$T/err"
mv "$T/r.moved" "$T/r/$second"
third=$(ls "$T/r" | sed -n 3p)
mv "$T/r/$third" "$T/r/seg-00000000000000099999.jsonl"
reject "29 a segment out of order" hash-mismatch -- "$W" recorder verify --key "$T/rk.pub" "$T/r"

# the line limit: 262144 bytes is read, 262145 is oversized (pad chosen from a 1-entry chain)
mkchain "$T/l0" "$T/rk" 1 0 100000000 1
base=$(($(stat -c %s "$T/l0/$SEG1") - 1 - 1))
mkchain "$T/l1" "$T/rk" 1 0 100000000 $((262144 - base))
check "30 the line is exactly 262144 bytes" test "$(stat -c %s "$T/l1/$SEG1")" -eq 262145
expect "31 a line at the limit verifies" 0 "verified: 1 entries" -- \
    "$W" recorder verify --key "$T/rk.pub" "$T/l1"
mkchain "$T/l2" "$T/rk" 1 0 100000000 $((262145 - base))
reject "32 one byte more is oversized" oversized -- "$W" recorder verify --key "$T/rk.pub" "$T/l2"
check "33 reported at its line" grep -qF "$SEG1:1: " "$T/err"

find "$T/c" -type f -exec sha256sum {} + | sort >"$T/c.sums2"
same_file "34 verify changed nothing" "$T/c.sums" "$T/c.sums2"
chmod 644 "$T/rk"
expect "35 a private key others can read is refused" 1 "" -- \
    "$W" recorder verify --key "$T/rk" "$T/c"

done_testing
