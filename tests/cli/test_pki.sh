#!/bin/bash
# test_pki.sh — `warden pki init|issue`: the CA and the three kinds of certificate as the openssl
# tool sees them (chain, SAN, EKU, key usage, validity), file modes, never overwriting (and
# writing nothing on a refusal), usage errors that name the flag, the CA key permission check,
# and a real TLS 1.3 handshake with client-certificate verification between openssl s_server
# and curl on 127.0.0.1.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
TD=example.org
CA=$T/pki

# ext FILE NAME: the text of one extension as openssl prints it (without the header line).
ext() { openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | tail -n +2 | sed 's/^ *//'; }
# header FILE NAME: the extension's header line ("X509v3 Key Usage: critical").
header() { openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | head -n 1; }
# epoch FILE startdate|enddate: a certificate time in seconds since the epoch.
epoch() { date -u -d "$(openssl x509 -in "$1" -noout -"$2" | cut -d= -f2)" +%s; }
# within V LO HI OFFSET: LO + OFFSET <= V <= HI + OFFSET (LO and HI: the clock read just before
# and just after the command that made the certificate, so no timing assumption is made).
within() { [ "$1" -ge $(($2 + $4)) ] && [ "$1" -le $(($3 + $4)) ]; }
# nothing_at PREFIX: neither PREFIX.crt nor PREFIX.key exists.
nothing_at() { [ ! -e "$1.crt" ] && [ ! -e "$1.key" ]; }
mode() { stat -c %a "$1"; }

# ---- help and usage ----
expect "01 pki --help exits 0" 0 "usage: warden pki <command>" -- "$W" pki --help
expect "02 pki init --help exits 0" 0 "usage: warden pki init --trust-domain TD --dir DIR" -- \
    "$W" pki init --help
for f in --trust-domain --dir --valid-for --help; do
    check "03 init --help documents $f" grep -qE -- "^  (-h, )?$f " "$T/out"
done
check "04 init --help lists exit codes" grep -q "^Exit codes: 0 written" "$T/out"
expect "05 pki issue --help exits 0" 0 "usage: warden pki issue --dir DIR" -- "$W" pki issue -h
for f in --dir --leader --follower --admin --valid-for --out --help; do
    check "06 issue --help documents $f" grep -qE -- "^  (-h, )?$f " "$T/out"
done
check "07 issue --help lists exit codes" grep -q "^Exit codes: 0 written" "$T/out"
expect "08 pki without a command" 2 "a pki command is required" -- "$W" pki
expect "09 unknown pki command" 2 "unknown pki command 'frob'" -- "$W" pki frob
expect "10 init without --trust-domain" 2 "--trust-domain is required" -- "$W" pki init --dir "$CA"
expect "11 init without --dir" 2 "--dir is required" -- "$W" pki init --trust-domain $TD
expect "12 init unknown flag" 2 "unknown option or missing value: --bogus" -- \
    "$W" pki init --trust-domain $TD --dir "$CA" --bogus
expect "13 init extra argument" 2 "unexpected argument: extra" -- \
    "$W" pki init --trust-domain $TD --dir "$CA" extra
expect "14 init uppercase trust domain" 2 "--trust-domain: trust domain 'Example.org'" -- \
    "$W" pki init --trust-domain Example.org --dir "$CA"
expect "15 init trust domain with a port" 2 "--trust-domain:" -- \
    "$W" pki init --trust-domain example.org:443 --dir "$CA"
td49=$(printf 'a%.0s' $(seq 49))
expect "16 init trust domain of 49 bytes" 2 "longer than 48 bytes" -- \
    "$W" pki init --trust-domain "$td49" --dir "$CA"
expect "17 init bad --valid-for" 2 "--valid-for:" -- \
    "$W" pki init --trust-domain $TD --dir "$CA" --valid-for 10d
check "18 nothing created on usage errors" test ! -e "$CA"

# ---- init ----
td48=$(printf 'b%.0s' $(seq 48))
expect "19 init trust domain of 48 bytes (the limit)" 0 "fleet CA for trust domain $td48" -- \
    "$W" pki init --trust-domain "$td48" --dir "$T/ca48"
check "20 its CA name holds the whole trust domain" \
    test "$(openssl x509 -in "$T/ca48/ca.crt" -noout -subject)" = "subject=CN = warden fleet CA $td48"

t0=$(date +%s)
expect "21 init writes the CA" 0 "fleet CA for trust domain $TD" -- \
    "$W" pki init --trust-domain $TD --dir "$CA"
t1=$(date +%s)
check "22 init prints both paths" \
    sh -c "grep -qx 'wrote $CA/ca.crt' '$T/out' && grep -qx 'wrote $CA/ca.key (private key, mode 0600)' '$T/out'"
check "23 init prints the fingerprint openssl computes" grep -q "fingerprint sha256:$(openssl x509 -in "$CA/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)" "$T/out"
check "24 DIR created with mode 0700" test "$(mode "$CA")" = 700
check "25 ca.key mode 0600" test "$(mode "$CA/ca.key")" = 600
check "26 ca.crt mode 0644" test "$(mode "$CA/ca.crt")" = 644
check "27 ca.key is PKCS#8 PEM" test "$(head -n1 "$CA/ca.key")" = "-----BEGIN PRIVATE KEY-----"
check "28 ca.key is ECDSA P-256" \
    sh -c "openssl pkey -in '$CA/ca.key' -noout -text 2>/dev/null | grep -q 'NIST CURVE: P-256'"
check "29 CA subject" \
    test "$(openssl x509 -in "$CA/ca.crt" -noout -subject)" = "subject=CN = warden fleet CA $TD"
check "30 CA is self-signed (issuer = subject)" \
    test "$(openssl x509 -in "$CA/ca.crt" -noout -issuer)" = "issuer=CN = warden fleet CA $TD"
check "31 CA basicConstraints critical CA:TRUE" \
    sh -c "[ \"\$(openssl x509 -in '$CA/ca.crt' -noout -ext basicConstraints | tr -d '\n' | sed 's/  */ /g')\" = 'X509v3 Basic Constraints: critical CA:TRUE, pathlen:0' ]"
check "32 CA keyUsage critical keyCertSign, cRLSign" \
    sh -c "[ \"\$(openssl x509 -in '$CA/ca.crt' -noout -ext keyUsage | tr -d '\n' | sed 's/  */ /g')\" = 'X509v3 Key Usage: critical Certificate Sign, CRL Sign' ]"
check "33 CA has a subjectKeyIdentifier" test -n "$(ext "$CA/ca.crt" subjectKeyIdentifier)"
check "34 CA names its trust domain in its URI SAN" \
    test "$(ext "$CA/ca.crt" subjectAltName)" = "URI:spiffe://$TD"
check "35 CA signature is ecdsa-with-SHA256" \
    sh -c "openssl x509 -in '$CA/ca.crt' -noout -text | grep -q 'Signature Algorithm: ecdsa-with-SHA256'"
check "36 CA valid from now - 5 minutes" within "$(epoch "$CA/ca.crt" startdate)" $t0 $t1 -300
check "37 CA valid for 87600h by default" within "$(epoch "$CA/ca.crt" enddate)" $t0 $t1 $((87600 * 3600))
check "38 openssl verifies the CA against itself" \
    sh -c "openssl verify -CAfile '$CA/ca.crt' '$CA/ca.crt' >/dev/null 2>&1"

# init never overwrites
cp -p "$CA/ca.crt" "$T/ca.crt.before"
cp -p "$CA/ca.key" "$T/ca.key.before"
expect "39 init refuses an existing CA" 1 "already exists (refusing to overwrite)" -- \
    "$W" pki init --trust-domain $TD --dir "$CA"
same_file "40 ca.crt unchanged" "$CA/ca.crt" "$T/ca.crt.before"
same_file "41 ca.key unchanged" "$CA/ca.key" "$T/ca.key.before"
mkdir -m 700 "$T/half"
echo keep >"$T/half/ca.key"
expect "42 init refuses when only ca.key exists" 1 "ca.key: already exists" -- \
    "$W" pki init --trust-domain $TD --dir "$T/half"
check "43 ... and writes no ca.crt" test ! -e "$T/half/ca.crt"
check "44 ... and leaves ca.key alone" test "$(cat "$T/half/ca.key")" = keep
rm "$T/half/ca.key"
echo keep >"$T/half/ca.crt"
expect "45 init refuses when only ca.crt exists" 1 "ca.crt: already exists" -- \
    "$W" pki init --trust-domain $TD --dir "$T/half"
check "46 ... and writes no ca.key" test ! -e "$T/half/ca.key"
mkdir -m 700 "$T/dangling" && ln -s "$T/nowhere" "$T/dangling/ca.key"
expect "47 init refuses a dangling symlink at ca.key" 1 "refusing to overwrite" -- \
    "$W" pki init --trust-domain $TD --dir "$T/dangling"
check "48 ... and creates nothing through it" test ! -e "$T/nowhere" -a ! -e "$T/dangling/ca.crt"
expect "49 init with DIR a file" 1 "cannot create directory" -- \
    "$W" pki init --trust-domain $TD --dir "$T/half/ca.crt"
expect "50 init creates missing parents" 0 "" -- \
    "$W" pki init --trust-domain $TD --dir "$T/deep/er/pki"
check "51 ... each with mode 0700" \
    test "$(mode "$T/deep")$(mode "$T/deep/er")$(mode "$T/deep/er/pki")" = 700700700

t0=$(date +%s)
expect "51a init --valid-for 48h" 0 "" -- \
    "$W" pki init --trust-domain $TD --dir "$T/short-ca" --valid-for 48h
t1=$(date +%s)
check "51b ... the CA ends 48h from now" within "$(epoch "$T/short-ca/ca.crt" enddate)" $t0 $t1 $((48 * 3600))
expect "51c ... and a leaf may not outlive it" 2 "--valid-for: validity: the certificate would outlive the CA" -- \
    "$W" pki issue --dir "$T/short-ca" --admin acme/a --out "$T/bad"
check "51d ... nothing written" nothing_at "$T/bad"
expect "51e ... one that ends before it is issued" 0 "" -- \
    "$W" pki issue --dir "$T/short-ca" --admin acme/a --valid-for 24h --out "$T/in-short"

# ---- issue: the three kinds ----
t0=$(date +%s)
expect "52 issue a leader certificate" 0 \
    "issued leader (serverAuth) certificate for localhost, 127.0.0.1" -- \
    "$W" pki issue --dir "$CA" --leader localhost,127.0.0.1 --out "$T/leader"
check "53 issue prints both paths" \
    sh -c "grep -qx 'wrote $T/leader.crt' '$T/out' && grep -qx 'wrote $T/leader.key (private key, mode 0600)' '$T/out'"
expect "54 issue a follower certificate" 0 \
    "issued follower (clientAuth) certificate for spiffe://$TD/org/acme/fleet/prod/env/eu1/instance/i-1" -- \
    "$W" pki issue --dir "$CA" --follower acme/prod/eu1/i-1 --out "$T/follower"
expect "55 issue an administrator certificate" 0 \
    "issued administrator (clientAuth) certificate for spiffe://$TD/org/acme/admin/alice" -- \
    "$W" pki issue --dir "$CA" --admin acme/alice --out "$T/admin"
t1=$(date +%s)
for k in leader follower admin; do
    check "56 $k: openssl verify -CAfile ca.crt passes" \
        sh -c "openssl verify -CAfile '$CA/ca.crt' '$T/$k.crt' >/dev/null 2>&1"
    check "57 $k: key mode 0600" test "$(mode "$T/$k.key")" = 600
    check "58 $k: certificate mode 0644" test "$(mode "$T/$k.crt")" = 644
    check "59 $k: key is PKCS#8 PEM, ECDSA P-256" \
        sh -c "head -n1 '$T/$k.key' | grep -qx -- '-----BEGIN PRIVATE KEY-----' && openssl pkey -in '$T/$k.key' -noout -text | grep -q 'NIST CURVE: P-256'"
    check "60 $k: key belongs to the certificate" \
        sh -c "[ \"\$(openssl pkey -in '$T/$k.key' -pubout)\" = \"\$(openssl x509 -in '$T/$k.crt' -noout -pubkey)\" ]"
    check "61 $k: basicConstraints CA:FALSE" test "$(ext "$T/$k.crt" basicConstraints)" = "CA:FALSE"
    check "62 $k: keyUsage critical digitalSignature only" \
        test "$(header "$T/$k.crt" keyUsage)/$(ext "$T/$k.crt" keyUsage)" = "X509v3 Key Usage: critical/Digital Signature"
    check "63 $k: authorityKeyIdentifier is the CA's subjectKeyIdentifier" \
        test "$(ext "$T/$k.crt" authorityKeyIdentifier)" = "$(ext "$CA/ca.crt" subjectKeyIdentifier)"
    check "64 $k: issuer is the CA" \
        test "$(openssl x509 -in "$T/$k.crt" -noout -issuer)" = "issuer=CN = warden fleet CA $TD"
    serial=$(openssl x509 -in "$T/$k.crt" -noout -serial | cut -d= -f2)
    check "65 $k: serial is positive and at most 159 bits" \
        python3 -c "import sys; v=int(sys.argv[1],16); sys.exit(0 if 0 < v < 2**159 else 1)" "$serial"
    check "66 $k: valid from now - 5 minutes" within "$(epoch "$T/$k.crt" startdate)" $t0 $t1 -300
    check "67 $k: valid for 90 days by default" within "$(epoch "$T/$k.crt" enddate)" $t0 $t1 $((90 * 86400))
done
check "68 serials differ" test "$(for k in leader follower admin; do openssl x509 -in "$T/$k.crt" -noout -serial; done | sort -u | wc -l)" = 3

check "69 leader SAN: DNS name and IP address" \
    test "$(ext "$T/leader.crt" subjectAltName)" = "DNS:localhost, IP Address:127.0.0.1"
check "70 leader EKU is serverAuth only" \
    test "$(ext "$T/leader.crt" extendedKeyUsage)" = "TLS Web Server Authentication"
check "71 leader passes openssl verify -purpose sslserver" \
    sh -c "openssl verify -purpose sslserver -CAfile '$CA/ca.crt' '$T/leader.crt' >/dev/null 2>&1"
check "72 leader fails openssl verify -purpose sslclient" \
    sh -c "! openssl verify -purpose sslclient -CAfile '$CA/ca.crt' '$T/leader.crt' >/dev/null 2>&1"
check "73 follower SAN is exactly its SPIFFE ID" \
    test "$(ext "$T/follower.crt" subjectAltName)" = "URI:spiffe://$TD/org/acme/fleet/prod/env/eu1/instance/i-1"
check "74 admin SAN is exactly its SPIFFE ID" \
    test "$(ext "$T/admin.crt" subjectAltName)" = "URI:spiffe://$TD/org/acme/admin/alice"
for k in follower admin; do
    check "75 $k EKU is clientAuth only" \
        test "$(ext "$T/$k.crt" extendedKeyUsage)" = "TLS Web Client Authentication"
    check "76 $k passes openssl verify -purpose sslclient" \
        sh -c "openssl verify -purpose sslclient -CAfile '$CA/ca.crt' '$T/$k.crt' >/dev/null 2>&1"
    check "77 $k fails openssl verify -purpose sslserver" \
        sh -c "! openssl verify -purpose sslserver -CAfile '$CA/ca.crt' '$T/$k.crt' >/dev/null 2>&1"
done
check "78 a certificate from another CA does not verify against this one" \
    sh -c "! openssl verify -CAfile '$T/ca48/ca.crt' '$T/follower.crt' >/dev/null 2>&1"
expect "79 IPv6 leader name becomes an IP SAN" 0 "" -- \
    "$W" pki issue --dir "$CA" --leader leader.example.org,::1 --out "$T/leader6"
check "80 ... DNS and IP Address entries" \
    test "$(ext "$T/leader6.crt" subjectAltName)" = "DNS:leader.example.org, IP Address:0:0:0:0:0:0:0:1"

# ---- --valid-for ----
t0=$(date +%s)
expect "81 issue --valid-for 24h" 0 "" -- \
    "$W" pki issue --dir "$CA" --admin acme/bob --valid-for 24h --out "$T/short"
t1=$(date +%s)
check "82 notAfter is 24h from now" within "$(epoch "$T/short.crt" enddate)" $t0 $t1 86400
t0=$(date +%s)
expect "83 issue --valid-for 1h30m" 0 "" -- \
    "$W" pki issue --dir "$CA" --admin acme/carol --valid-for 1h30m --out "$T/short2"
t1=$(date +%s)
check "84 notAfter is 90 minutes from now" within "$(epoch "$T/short2.crt" enddate)" $t0 $t1 5400
expect "85 --valid-for that is not a duration" 2 "--valid-for:" -- \
    "$W" pki issue --dir "$CA" --admin acme/bob --valid-for 3d --out "$T/bad"
check "86 ... nothing written" nothing_at "$T/bad"
expect "87 --valid-for past the CA's end" 2 "--valid-for: validity: the certificate would outlive the CA" -- \
    "$W" pki issue --dir "$CA" --admin acme/bob --valid-for 90000h --out "$T/bad"
check "88 ... nothing written" nothing_at "$T/bad"

# ---- issue never overwrites ----
cp -p "$T/follower.crt" "$T/f.crt.before"
cp -p "$T/follower.key" "$T/f.key.before"
expect "89 issue refuses existing PREFIX files" 1 "already exists (refusing to overwrite)" -- \
    "$W" pki issue --dir "$CA" --follower acme/prod/eu1/i-1 --out "$T/follower"
same_file "90 certificate unchanged" "$T/follower.crt" "$T/f.crt.before"
same_file "91 key unchanged" "$T/follower.key" "$T/f.key.before"
echo keep >"$T/only.key"
expect "92 issue refuses when only PREFIX.key exists" 1 "only.key: already exists" -- \
    "$W" pki issue --dir "$CA" --follower acme/prod/eu1/i-2 --out "$T/only"
check "93 ... writes no PREFIX.crt" test ! -e "$T/only.crt"
check "94 ... leaves PREFIX.key alone" test "$(cat "$T/only.key")" = keep
echo keep >"$T/only2.crt"
expect "95 issue refuses when only PREFIX.crt exists" 1 "only2.crt: already exists" -- \
    "$W" pki issue --dir "$CA" --follower acme/prod/eu1/i-2 --out "$T/only2"
check "96 ... writes no PREFIX.key" test ! -e "$T/only2.key"
expect "97 issue into a missing directory" 1 "cannot create" -- \
    "$W" pki issue --dir "$CA" --follower acme/prod/eu1/i-2 --out "$T/no/such/f"
check "98 ... leaves nothing" test ! -e "$T/no"

# ---- usage errors: shapes and flags (exit 2, the flag named, nothing written) ----
bad_issue() { # NAME PATTERN FLAGS...
    local name=$1 pat=$2; shift 2
    expect "$name" 2 "$pat" -- "$W" pki issue --dir "$CA" "$@" --out "$T/bad"
    check "$name: nothing written" nothing_at "$T/bad"
}
bad_issue "99 --follower with three segments" "--follower: 'acme/prod/eu1' is not O/F/E/I" --follower acme/prod/eu1
bad_issue "100 --follower with five segments" "--follower:" --follower acme/prod/eu1/i-1/x
bad_issue "101 --follower with an empty segment" "--follower:" --follower acme//eu1/i-1
bad_issue "102 --follower with a trailing slash" "--follower:" --follower acme/prod/eu1/i-1/
bad_issue "103 --follower with '..'" "--follower:" --follower acme/prod/eu1/..
bad_issue "104 --follower with a bad id" "--follower:" --follower acme/prod/eu1/-i
bad_issue "105 --follower with percent-encoding" "--follower:" --follower acme/prod/eu1/i%2D1
bad_issue "106 --follower empty" "--follower:" --follower ""
i129=$(printf 'i%.0s' $(seq 129)); i128=$(printf 'i%.0s' $(seq 128))
bad_issue "107 --follower with a 129-byte id" "--follower:" --follower "acme/prod/eu1/$i129"
expect "108 --follower with a 128-byte id (the limit)" 0 "instance/$i128" -- \
    "$W" pki issue --dir "$CA" --follower "acme/prod/eu1/$i128" --out "$T/f128"
check "109 ... its SAN carries the whole id" \
    test "$(ext "$T/f128.crt" subjectAltName)" = "URI:spiffe://$TD/org/acme/fleet/prod/env/eu1/instance/$i128"
check "110 ... and openssl verifies it" \
    sh -c "openssl verify -CAfile '$CA/ca.crt' '$T/f128.crt' >/dev/null 2>&1"
bad_issue "111 --admin with one segment" "--admin: 'acme' is not O/NAME" --admin acme
bad_issue "112 --admin with three segments" "--admin:" --admin acme/alice/x
bad_issue "113 --admin with a bad name" "--admin:" --admin acme/al:ice
bad_issue "114 --admin with a space" "--admin:" --admin "acme/al ice"
bad_issue "115 --leader empty" "--leader:" --leader ""
bad_issue "116 --leader with an empty name" "--leader:" --leader localhost,,x.example
bad_issue "117 --leader wildcard" "--leader: leader name '*.example.org'" --leader '*.example.org'
bad_issue "118 --leader underscore" "--leader:" --leader bad_name.example
bad_issue "119 --leader numeric non-address" "--leader:" --leader 1.2.3.999
bad_issue "120 --leader twice the same name" "given twice" --leader a.example,A.example
bad_issue "121 --leader 33 names" "more than 32 names" --leader "$(seq -s, -f 'h%g.example' 33)"
expect "122 --leader 32 names (the limit)" 0 "" -- \
    "$W" pki issue --dir "$CA" --leader "$(seq -s, -f 'h%g.example' 32)" --out "$T/l32"
bad_issue "123 two kinds" "give exactly one of --leader, --follower and --admin" --admin acme/a --follower a/b/c/d
bad_issue "124 no kind" "give exactly one of --leader, --follower and --admin"
expect "125 issue without --out" 2 "--out is required" -- "$W" pki issue --dir "$CA" --admin acme/a
expect "126 issue without --dir" 2 "--dir is required" -- "$W" pki issue --admin acme/a --out "$T/bad"
expect "127 issue unknown flag" 2 "unknown option or missing value: --org" -- \
    "$W" pki issue --dir "$CA" --org acme --out "$T/bad"

# ---- the CA directory ----
mkdir -m 700 "$T/ca2" && cp -p "$CA/ca.crt" "$CA/ca.key" "$T/ca2/"
chmod 640 "$T/ca2/ca.key"
expect "128 a group-readable ca.key is refused" 1 "is readable by group or others (mode 0640)" -- \
    "$W" pki issue --dir "$T/ca2" --admin acme/a --out "$T/bad"
check "129 ... nothing written" nothing_at "$T/bad"
chmod 604 "$T/ca2/ca.key"
expect "130 an other-readable ca.key is refused" 1 "readable by group or others" -- \
    "$W" pki issue --dir "$T/ca2" --admin acme/a --out "$T/bad"
chmod 600 "$T/ca2/ca.key"
cp "$T/ca48/ca.key" "$T/ca2/ca.key.other" && cp -p "$T/ca48/ca.key" "$T/ca2/ca.key"
reject "131 ca.key of another CA" malformed -- \
    "$W" pki issue --dir "$T/ca2" --admin acme/a --out "$T/bad"
check "132 ... nothing written" nothing_at "$T/bad"
cp -p "$T/leader.key" "$T/ca2/ca.key" && cp "$T/leader.crt" "$T/ca2/ca.crt"
reject "133 a leaf certificate is not a CA" malformed -- \
    "$W" pki issue --dir "$T/ca2" --admin acme/a --out "$T/bad"
openssl genpkey -algorithm ed25519 -out "$T/ca2/ca.key.ed" 2>/dev/null
cp -p "$CA/ca.crt" "$T/ca2/ca.crt" && install -m 600 "$T/ca2/ca.key.ed" "$T/ca2/ca.key"
reject "134 an Ed25519 ca.key" malformed -- \
    "$W" pki issue --dir "$T/ca2" --admin acme/a --out "$T/bad"
expect "135 a missing CA directory" 1 "--dir: $T/none/ca.crt: cannot open" -- \
    "$W" pki issue --dir "$T/none" --admin acme/a --out "$T/bad"
# a CA made elsewhere without the trust-domain URI SAN
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ext.key" \
    -out "$T/ext.crt" -subj "/CN=other CA" -days 30 >/dev/null 2>&1
mkdir -m 700 "$T/ext" && install -m 600 "$T/ext.key" "$T/ext/ca.key" && cp "$T/ext.crt" "$T/ext/ca.crt"
reject "136 a CA without the spiffe://TD URI SAN" malformed -- \
    "$W" pki issue --dir "$T/ext" --admin acme/a --out "$T/bad"
check "137 ... nothing written" nothing_at "$T/bad"

# ---- interop: TLS 1.3 with client-certificate verification, s_server and curl ----
SRV_PID=
stop_server() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null; SRV_PID=; }
trap 'stop_server; rm -rf "$T"' EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# start the server on a free port; retry when another process took the port first
port=
for attempt in 1 2 3 4 5; do
    p=$(free_port)
    openssl s_server -quiet -www -tls1_3 -Verify 1 -verify_return_error \
        -CAfile "$CA/ca.crt" -cert "$T/leader.crt" -key "$T/leader.key" \
        -accept "127.0.0.1:$p" >"$T/srv.log" 2>&1 </dev/null &
    SRV_PID=$!
    for _ in $(seq 300); do # up to 30 s: generous, only to avoid a hang
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1).close()' "$p" 2>/dev/null; then
            port=$p; break
        fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] && break
    stop_server
done
if [ -z "$port" ]; then
    notok "138 openssl s_server started on 127.0.0.1" "$(head -c 600 "$T/srv.log")"
else
    ok "138 openssl s_server started on 127.0.0.1:$port"
    fetch() { curl -sS --noproxy '*' --max-time 30 --tlsv1.3 --cacert "$CA/ca.crt" "$@" \
        "https://127.0.0.1:$port/"; }
    expect "139 curl with the follower certificate: TLS 1.3 handshake and a response" 0 "s_server" -- \
        fetch --cert "$T/follower.crt" --key "$T/follower.key"
    check "140 ... the server saw TLS 1.3" grep -q "TLSv1.3" "$T/out"
    expect "141 curl with the administrator certificate" 0 "s_server" -- \
        fetch --cert "$T/admin.crt" --key "$T/admin.key"
    # refused: curl fails (the alert ends the handshake or the first read) and gets no page
    refused_tls() { # NAME CURL-ARGS...
        local name=$1; shift
        fetch "$@" >"$T/out" 2>"$T/err"
        local rc=$?
        if [ $rc -ne 0 ] && ! grep -q s_server "$T/out"; then ok "$name (curl exit $rc)"
        else notok "$name" "curl exit $rc" "$(head -c 300 "$T/out")"; fi
    }
    refused_tls "142 curl without a client certificate is refused in the handshake"
    "$W" pki issue --dir "$T/ca48" --follower acme/prod/eu1/i-9 --out "$T/stranger" >/dev/null
    refused_tls "143 curl with a certificate from another CA is refused" \
        --cert "$T/stranger.crt" --key "$T/stranger.key"
    refused_tls "144 curl with the leader's serverAuth certificate as a client is refused" \
        --cert "$T/leader.crt" --key "$T/leader.key"
    expect "145 the leader certificate checks out for 127.0.0.1 (hostname verification)" 0 "" -- \
        openssl s_client -connect "127.0.0.1:$port" -tls1_3 -CAfile "$CA/ca.crt" \
        -cert "$T/follower.crt" -key "$T/follower.key" -verify_return_error \
        -verify_ip 127.0.0.1 -brief
    stop_server
fi
done_testing
