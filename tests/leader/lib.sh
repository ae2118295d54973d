# lib.sh — helpers for the leader's end-to-end tests (sourced after tests/cli/lib.sh, which
# sets $T, $WARDEN and the TAP functions): a fleet PKI, signing keys and a roster, starting and
# stopping real `warden leader` processes on ephemeral loopback ports, and an mTLS curl.
# It must never contact an address other than 127.0.0.1, and never leave a process running:
# every leader it starts is stopped (SIGTERM, then SIGKILL) on every exit path.
set -u
LD_LIB=$WD_SRCDIR/tests/leader
# The distribution's python3 starts much faster than a version-manager shim.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
API=/api/v1/conductor
BT=application/vnd.warden.policy-bundle.v1+json
KT=application/vnd.warden.remote-kill.v1+json
RBT=application/vnd.warden.rollback.v1+json
RT=application/vnd.warden.roster.v1+json
TD=fleet.test
ORG=acme

# LD_TODO: when set, checks are reported as TAP "# TODO <LD_TODO>": a known defect of the code
# under test, still run and shown, not counted as a failure until it is fixed (an unexpected
# pass then shows up).
LD_TODO=""
ok() { _n=$((_n + 1)); echo "ok $_n - $1${LD_TODO:+ # TODO $LD_TODO}"; }
notok() {
    _n=$((_n + 1))
    if [ -n "$LD_TODO" ]; then echo "not ok $_n - $1 # TODO $LD_TODO"
    else _fails=$((_fails + 1)); echo "not ok $_n - $1"; fi
    shift
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}

LD_PIDS=()
# ld_cleanup: stop every leader still running, then remove $T.
ld_cleanup() {
    local p
    for p in "${LD_PIDS[@]}"; do ld_kill "$p"; done
    [ -n "${LD_PG_DIR:-}" ] && bash "$WD_SRCDIR/scripts/pg-scratch.sh" stop "$LD_PG_DIR"
    local j
    for j in $(jobs -p); do kill -TERM "$j" 2>/dev/null; done
    rm -rf "$T"
}
trap ld_cleanup EXIT
trap 'exit 130' INT TERM HUP

# ld_kill PID: SIGTERM, up to 15 s for it to exit, then SIGKILL; reaps it.
ld_kill() {
    local p=$1 i
    kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 1 150); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    return 0
}

# ld_free_port: a TCP port on 127.0.0.1 that nobody listened on a moment ago.
ld_free_port() {
    "$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---- PKI ----

# ld_have_pki: does this warden have `pki init|issue`?
ld_have_pki() { "$WARDEN" pki init --help 2>&1 | grep -q -- '--trust-domain'; }

# ld_ossl_cnf DIR: an `openssl ca` configuration over DIR (database, serials).
ld_ossl_cnf() {
    local d=$1
    mkdir -p "$d/ossl.new"
    [ -e "$d/ossl.index" ] || : >"$d/ossl.index"
    cat >"$d/ossl.cnf" <<EOF
[ca]
default_ca = wca
[wca]
database = $d/ossl.index
new_certs_dir = $d/ossl.new
certificate = $d/ca.crt
private_key = $d/ca.key
rand_serial = yes
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[anything]
commonName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = warden test
EOF
}

# ld_pki_init DIR TD: the fleet CA in DIR/ca.crt, DIR/ca.key (warden pki; openssl when this
# warden has no pki command yet).
ld_pki_init() {
    local d=$1 td=$2
    if ld_have_pki; then
        "$WARDEN" pki init --trust-domain "$td" --dir "$d" >/dev/null || return 1
    else
        mkdir -p "$d" && chmod 700 "$d"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
            -out "$d/ca.crt" -days 3650 -subj "/CN=warden fleet CA $td" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -addext "subjectAltName=URI:spiffe://$td" 2>/dev/null || return 1
        chmod 600 "$d/ca.key"
    fi
    ld_ossl_cnf "$d"
}

# ld_issue DIR KIND ARG PREFIX: a leaf from DIR's CA. KIND leader (ARG: names), follower
# (O/F/E/I) or admin (O/NAME).
ld_issue() {
    local d=$1 kind=$2 arg=$3 out=$4
    if ld_have_pki; then
        "$WARDEN" pki issue --dir "$d" "--$kind" "$arg" --out "$out" >/dev/null
        return
    fi
    local td san
    td=$(openssl x509 -in "$d/ca.crt" -noout -ext subjectAltName | sed -n 's/.*URI:spiffe:\/\/\([^, ]*\).*/\1/p')
    case $kind in
    leader) san=$(echo "$arg" | tr ',' '\n' | while read -r n; do
                 if [[ $n =~ ^[0-9.]+$ ]]; then printf 'IP:%s,' "$n"; else printf 'DNS:%s,' "$n"; fi
             done); san=${san%,} ;;
    follower) IFS=/ read -r o f e i <<<"$arg"
              san="URI:spiffe://$td/org/$o/fleet/$f/env/$e/instance/$i" ;;
    admin) IFS=/ read -r o n <<<"$arg"; san="URI:spiffe://$td/org/$o/admin/$n" ;;
    esac
    ld_ossl_leaf "$d" "$out" "$san" "" "" "$kind"
}

# ld_ossl_leaf DIR PREFIX SAN START END [KIND]: a leaf signed by DIR's CA with exactly the
# subjectAltName SAN ("" for none), made with the openssl command line, for the certificates
# warden pki refuses to make (odd SANs, validity in the past). START/END: YYYYMMDDHHMMSSZ, or
# "" for now-5m .. now+1d. KIND leader gives serverAuth, else clientAuth.
ld_ossl_leaf() {
    local d=$1 out=$2 san=$3 start=$4 end=$5 kind=${6:-follower}
    [ -e "$d/ossl.cnf" ] || ld_ossl_cnf "$d"
    [ -n "$start" ] || start=$(date -u -d '-5 min' +%Y%m%d%H%M%SZ)
    [ -n "$end" ] || end=$(date -u -d '+1 day' +%Y%m%d%H%M%SZ)
    local eku=clientAuth
    [ "$kind" = leader ] && eku=serverAuth
    {
        echo "[leaf]"
        echo "basicConstraints = critical,CA:FALSE"
        echo "keyUsage = critical,digitalSignature"
        echo "extendedKeyUsage = $eku"
        [ -n "$san" ] && echo "subjectAltName = $san"
    } >"$out.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$out.key" \
        -out "$out.csr" -config "$d/ossl.cnf" 2>/dev/null &&
    openssl ca -batch -notext -config "$d/ossl.cnf" -in "$out.csr" -out "$out.crt" \
        -startdate "$start" -enddate "$end" -extfile "$out.ext" -extensions leaf \
        >/dev/null 2>"$out.err" || { cat "$out.err" >&2; return 1; }
    chmod 600 "$out.key"
    rm -f "$out.csr" "$out.ext" "$out.err"
}

# ld_fixture DIR: everything a leader test needs, in DIR:
#  pki/ca.*, leader.*, identities f1 (acme/prod/eu1/i-1), f2 (acme/prod/eu1/i-2),
#  f3 (acme/staging/eu1/i-3), fo (other/prod/eu1/i-9), adm (acme/alice), admo (other/bob);
#  signing keys root bs bs2 k1 k2 rb1 rb2 ks (key names = files) and root2 (not in the roster);
#  roster R (root: root; bs, bs2 bundle signing; k1, k2 kill; rb1, rb2 rollback), R.pin.
#  policies p1.yaml p2.yaml.
ld_fixture() {
    local d=$1 W=$WARDEN
    mkdir -p "$d" || return 1
    ld_pki_init "$d/pki" "$TD" || { echo "# pki init failed" >&2; return 1; }
    ld_issue "$d/pki" leader localhost,127.0.0.1 "$d/leader" || return 1
    ld_issue "$d/pki" follower acme/prod/eu1/i-1 "$d/f1" &&
    ld_issue "$d/pki" follower acme/prod/eu1/i-2 "$d/f2" &&
    ld_issue "$d/pki" follower acme/staging/eu1/i-3 "$d/f3" &&
    ld_issue "$d/pki" follower other/prod/eu1/i-9 "$d/fo" &&
    ld_issue "$d/pki" admin acme/alice "$d/adm" &&
    ld_issue "$d/pki" admin other/bob "$d/admo" || return 1
    local k
    for k in root root2 bs bs2 k1 k2 rb1 rb2 outsider; do
        "$W" key gen "$d/$k" >/dev/null || return 1
    done
    "$W" key id "$d/root" >"$d/R.pin"
    (
        cd "$d" &&
        "$W" roster init --org acme --root-key root --out r.1 >/dev/null &&
        "$W" roster add-key r.1 --key bs.pub --purpose policy-bundle-signing --sign root --out r.2 >/dev/null &&
        "$W" roster add-key r.2 --key bs2.pub --purpose policy-bundle-signing --sign root --out r.3 >/dev/null &&
        "$W" roster add-key r.3 --key k1.pub --purpose remote-kill-signing --sign root --out r.4 >/dev/null &&
        "$W" roster add-key r.4 --key k2.pub --purpose remote-kill-signing --sign root --out r.5 >/dev/null &&
        "$W" roster add-key r.5 --key rb1.pub --purpose policy-bundle-rollback --sign root --out r.6 >/dev/null &&
        "$W" roster add-key r.6 --key rb2.pub --purpose policy-bundle-rollback --sign root --out R >/dev/null
    ) || { echo "# roster build failed" >&2; return 1; }
    printf 'version: 1\nmode: enforce\n' >"$d/p1.yaml"
    printf 'version: 1\nmode: audit\n' >"$d/p2.yaml"
}

# ---- the leader ----

# ld_store STORE: the --store URL for STORE: a URL (sqlite:..., postgres://...) as it is; a
# file path as sqlite:PATH, or, when LD_PG_DIR names a scratch PostgreSQL cluster
# (scripts/pg-scratch.sh), a database of that cluster named after the file (created once).
ld_store() {
    case $1 in
    sqlite:* | postgres://* | postgresql://*) echo "$1"; return ;;
    esac
    if [ -n "${LD_PG_DIR:-}" ]; then
        local db
        db=$(basename "$1" | tr -c 'A-Za-z0-9_\n' '_')
        db=${db%_}
        if [ ! -e "$LD_PG_DIR/db.$db" ]; then
            bash "$WD_SRCDIR/scripts/pg-scratch.sh" createdb "$LD_PG_DIR" "$db" >"$LD_PG_DIR/db.$db" ||
                return 1
        fi
        cat "$LD_PG_DIR/db.$db"
    else
        echo "sqlite:$1"
    fi
}

# ld_start NAME DIR STORE [extra leader flags...]: start `warden leader` with DIR's fixture on
# two fresh ports, its log in $T/NAME.log, and wait (at most 60 s) until /readyz answers 200.
# Sets LD_PORT, LD_PROBE, LD_PID, LD_URL, LD_LOG. Retries with other ports when one was taken
# in the meantime. Returns 1 when the leader did not come up (its log tail on stderr).
# LD_PRE, when set, is a command line run in the subshell just before exec (ulimit, traps).
ld_start() {
    local name=$1 d=$2 store try i code
    store=$(ld_store "$3") || return 1
    shift 3
    LD_LOG=$T/$name.log
    for try in 1 2 3 4 5; do
        LD_PORT=$(ld_free_port)
        LD_PROBE=$(ld_free_port)
        [ "$LD_PORT" = "$LD_PROBE" ] && continue
        (
            eval "${LD_PRE:-:}"
            exec "$WARDEN" leader --listen "127.0.0.1:$LD_PORT" --cert "$d/leader.crt" \
                --key "$d/leader.key" --client-ca "$d/pki/ca.crt" --trust-domain "$TD" \
                --roster "$d/R" --pin "$(cat "$d/R.pin")" --store "$store" \
                --probe-listen "127.0.0.1:$LD_PROBE" "$@"
        ) >>"$LD_LOG" 2>&1 </dev/null &
        LD_PID=$!
        LD_PIDS+=("$LD_PID")
        LD_URL=https://127.0.0.1:$LD_PORT
        for i in $(seq 1 600); do
            if ! kill -0 "$LD_PID" 2>/dev/null; then break; fi
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
                "http://127.0.0.1:$LD_PROBE/readyz" 2>/dev/null)
            [ "$code" = 200 ] && return 0
            sleep 0.1
        done
        if kill -0 "$LD_PID" 2>/dev/null; then
            echo "# leader $name did not become ready; log tail:" >&2
            tail -n 20 "$LD_LOG" | sed 's/^/#   /' >&2
            ld_kill "$LD_PID"
            return 1
        fi
        wait "$LD_PID" 2>/dev/null
        grep -q 'address already in use' "$LD_LOG" && continue
        echo "# leader $name exited at start; log tail:" >&2
        tail -n 20 "$LD_LOG" | sed 's/^/#   /' >&2
        return 1
    done
    return 1
}

# ld_curl DIR ID METHOD PATH [curl args...]: one request to the leader's API as identity ID
# (a PREFIX of DIR: f1, adm...; "-" for no client certificate). Body in $T/body, headers in
# $T/hdr; prints the HTTP status ("000" when no HTTP answer came back) on stdout.
ld_curl() {
    local d=$1 id=$2 m=$3 p=$4
    shift 4
    local auth=()
    if [ "$id" != - ]; then
        case $id in /*) auth=(--cert "$id.crt" --key "$id.key") ;;
                    *) auth=(--cert "$d/$id.crt" --key "$d/$id.key") ;; esac
    fi
    : >"$T/body"; : >"$T/hdr"
    curl -sS --max-time "${LD_CURL_MAX:-120}" --cacert "$d/pki/ca.crt" "${auth[@]}" -X "$m" \
        -o "$T/body" -D "$T/hdr" -w '%{http_code}' "$@" "$LD_URL$API/$p" 2>"$T/curlerr"
    return 0
}

# ld_put DIR ID PATH FILE [curl args]: PUT/POST FILE's bytes as JSON; prints the status.
ld_send() {
    local d=$1 id=$2 m=$3 p=$4 f=$5
    shift 5
    ld_curl "$d" "$id" "$m" "$p" -H 'Content-Type: application/json' -H 'Expect: 100-continue' \
        --data-binary "@$f" "$@"
}

# hdr NAME: the value of response header NAME in $T/hdr (last response), without CR.
hdr() { tr -d '\r' <"$T/hdr" | sed -n "s/^$1: *//Ip" | tail -n 1; }
# errcode: the error code of the JSON error body in $T/body, or "".
# jqt ARGS...: jq -e quietly (the test's verdict only; TAP output stays clean).
jqt() { jq -e "$@" >/dev/null 2>&1; }
errcode() { jq -r '.error.code // empty' "$T/body" 2>/dev/null; }
# payload_hash FILE: the message hash (digest of the payload) of an envelope file.
payload_hash() {
    local h
    h=$(jq -r .payload "$1" | base64 -d | sha256sum) || return 1
    echo "sha256:${h%% *}"
}

# status_is NAME WANT [CODE]: ok when $st (set by the caller from ld_curl) is WANT and, when
# CODE is given, the error body's code is CODE. Evidence: headers and body.
status_is() {
    local name=$1 want=$2 code=${3:-}
    local got_code=""
    [ -n "$code" ] && got_code=$(errcode)
    if [ "$st" = "$want" ] && { [ -z "$code" ] || [ "$got_code" = "$code" ]; }; then
        ok "$name"
    else
        notok "$name" "status $st (wanted $want), code '$got_code' (wanted '$code')" \
            "body: $(head -c 400 "$T/body")" "curl: $(head -c 300 "$T/curlerr" 2>/dev/null)"
    fi
}

# metric NAME_WITH_LABELS: the value of one sample on the probe port's /metrics ("" if none).
metric() {
    curl -s --max-time 10 "http://127.0.0.1:$LD_PROBE/metrics" |
        awk -v k="$1" '$1 == k { print $2 }' | tail -n 1
}
