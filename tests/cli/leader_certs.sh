# leader_certs.sh — test certificates for the leader, made with the openssl command line only;
# sourced by tests/cli/test_leader_*.sh. mk_leader_certs DIR TD writes into DIR:
#   ca.crt/ca.key          ECDSA P-256 test CA        other.crt/other.key  an unrelated CA
#   leader.crt/.key        SAN IP:127.0.0.1, DNS:localhost (serverAuth)
#   follower.crt/.key      spiffe://TD/org/acme/fleet/web/env/prod/instance/i-1
#   admin.crt/.key         spiffe://TD/org/acme/admin/alice
#   expired.crt/.key       a follower certificate that expired in 2020
#   foreign.crt/.key       a follower certificate from the other CA
#   twosans.crt/.key       two URI SANs           badid.crt/.key     a malformed SPIFFE ID
#   othertd.crt/.key       another trust domain   nouri.crt/.key     DNS SAN only
# Keys are 0600. Returns non-zero when openssl fails.
mk_leader_certs() {
    local d=$1 td=$2
    mkdir -p "$d" && (
        cd "$d" || exit 1
        set -e
        ca() { # ca NAME CN
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
                -out "$1.crt" -days 30 -subj "/CN=$2" \
                -addext basicConstraints=critical,CA:TRUE \
                -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        }
        leaf() { # leaf NAME SAN [CA]
            local ca=${3:-ca}
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
                -out "$1.csr" -subj "/CN=$1" 2>/dev/null
            printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\n' \
                "$2" >"$1.ext"
            openssl x509 -req -in "$1.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
                -days 30 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
        }
        ca ca "warden test CA"
        ca other "another CA"
        leaf leader "IP:127.0.0.1,DNS:localhost"
        leaf follower "URI:spiffe://$td/org/acme/fleet/web/env/prod/instance/i-1"
        leaf admin "URI:spiffe://$td/org/acme/admin/alice"
        leaf foreign "URI:spiffe://$td/org/acme/fleet/web/env/prod/instance/i-9" other
        leaf twosans "URI:spiffe://$td/org/acme/admin/alice,URI:spiffe://$td/org/acme/admin/bob"
        leaf badid "URI:spiffe://$td/org/acme/fleet/web"
        leaf othertd "URI:spiffe://elsewhere.test/org/acme/admin/alice"
        leaf nouri "DNS:follower.example"
        # expired: openssl ca lets the validity window be set in the past
        mkdir -p cadb/new && : >cadb/index.txt && echo 1000 >cadb/serial
        cat >cadb/ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = $PWD/cadb/index.txt
new_certs_dir = $PWD/cadb/new
serial = $PWD/cadb/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
CNF
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout expired.key \
            -out expired.csr -subj "/CN=expired" 2>/dev/null
        printf 'subjectAltName=URI:spiffe://%s/org/acme/fleet/web/env/prod/instance/i-2\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' \
            "$td" >expired.ext
        openssl ca -batch -config cadb/ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr \
            -out expired.crt -startdate 20200101000000Z -enddate 20200201000000Z \
            -extfile expired.ext -notext 2>/dev/null
        chmod 600 ./*.key
    )
}
