#!/bin/bash
# test_leader_transport.sh — the leader's transport against stub routes (leader_stub_server, $1):
# mutual TLS (no certificate, expired, another CA: handshake failures, never an HTTP status;
# wrong identity: 403), HTTP framing (400, 413 before the body, 431, 501, 408 for a slow body,
# keep-alive and pipelining), held long polls (woken from another connection, answered at the
# deadline, freed when the client leaves, answered on drain), the probe listener, the
# connection cap, a port already in use, a key file others can read, and the drain on SIGTERM.
# Loopback and ephemeral ports only; every server started here is stopped on every path.
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/cli/leader_certs.sh"
STUB=${1:?usage: test_leader_transport.sh LEADER_STUB_SERVER}
TD=fleet.test
P=$T/pki
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

if ! mk_leader_certs "$P" "$TD"; then
    notok "test certificates made with openssl"
    done_testing
    exit 1
fi
ok "test certificates made with openssl"

# write_conf FILE [extra yaml lines...]
write_conf() {
    local f=$1; shift
    {
        echo "listen: 127.0.0.1:0"
        echo "probe_listen: 127.0.0.1:0"
        echo "cert: $P/leader.crt"
        echo "key: $P/leader.key"
        echo "client_ca: $P/ca.crt"
        echo "trust_domain: $TD"
        echo "roster: /dev/null"
        echo "pin: sha256:0000000000000000000000000000000000000000000000000000000000000000"
        echo "workers: 2"
        echo "handshake_timeout: 2"
        echo "idle_timeout: 5s"
        echo "body_timeout: 2"
        echo "drain_timeout: 5"
        for l in "$@"; do echo "$l"; done
    } >"$f"
}

# start NAME CONF [not-ready]: start a stub server; sets SPID, PORT, PROBE (or fails).
start() {
    local name=$1 conf=$2; shift 2
    rm -f "$T/$name.ports"
    "$STUB" "$conf" "$T/$name.ports" "$@" 2>"$T/$name.log" &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 1 100); do
        [ -s "$T/$name.ports" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    PORT=$(awk '$1 == "mtls" { n = split($2, a, ":"); print a[n] }' "$T/$name.ports" 2>/dev/null)
    PROBE=$(awk '$1 == "probe" { print $2 }' "$T/$name.ports" 2>/dev/null)
    [ -n "$PORT" ] && [ -n "$PROBE" ]
}

# as WHO ARGS...: curl with WHO's client certificate (none when WHO is "-"); prints the body,
# then " CODE" (000 when no HTTP answer); curl's exit status is in $T/rc.
as() {
    local who=$1; shift
    local id=()
    [ "$who" != "-" ] && id=(--cert "$P/$who.crt" --key "$P/$who.key")
    curl -sS --max-time 20 --cacert "$P/ca.crt" "${id[@]}" -w ' %{http_code}' "$@" 2>"$T/curl.err"
    echo $? >"$T/rc"
}
rc() { cat "$T/rc"; }
metric() { curl -s --max-time 10 "http://$PROBE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# wait_metric NAME VALUE: poll the probe until the metric has this value (hang guard 10 s).
wait_metric() {
    for _ in $(seq 1 100); do
        [ "$(metric "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# raw BYTES [SECONDS]: send BYTES over TLS as the follower, keep stdin open SECONDS (default 0)
# more, print what comes back.
raw() {
    { printf "$1"; sleep "${2:-0}"; } |
        timeout 20 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$P/ca.crt" \
            -cert "$P/follower.crt" -key "$P/follower.key" 2>/dev/null
}
has() { grep -qF -- "$2" <<<"$1"; }
check_has() { if has "$2" "$3"; then ok "$1"; else notok "$1" "wanted: $3" "got: $(head -c 600 <<<"$2")"; fi; }
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "wanted: $3" "got: $2"; fi; }
# handshake_refused NAME OUT: no HTTP status and curl failed in TLS or on receive.
handshake_refused() {
    local code=${2##* } r; r=$(rc)
    if [ "$code" = "000" ] && { [ "$r" = 35 ] || [ "$r" = 55 ] || [ "$r" = 56 ]; }; then ok "$1"
    else notok "$1" "wanted no HTTP status and curl exit 35/55/56" "got: $2 exit $r $(cat "$T/curl.err")"; fi
}

write_conf "$T/a.yaml"
if start a "$T/a.yaml"; then ok "stub leader starts on ephemeral ports"; else
    notok "stub leader starts on ephemeral ports" "$(cat "$T/a.log")"; done_testing; exit 1; fi
A_PID=$SPID
U=https://127.0.0.1:$PORT

# ---- identities ----
out=$(as follower "$U/whoami")
check_eq "follower certificate: 200 and its identity reaches the handler" "$out" \
    '{"kind":"follower","org":"acme","fleet":"web","env":"prod","instance":"i-1","admin":""} 200'
out=$(as admin "$U/whoami")
check_eq "administrator certificate: 200 and its identity" "$out" \
    '{"kind":"admin","org":"acme","fleet":"","env":"","instance":"","admin":"alice"} 200'
out=$(as - "$U/whoami"); handshake_refused "no client certificate: handshake fails, no HTTP status" "$out"
out=$(as expired "$U/whoami"); handshake_refused "expired client certificate: handshake fails" "$out"
out=$(as foreign "$U/whoami"); handshake_refused "certificate of another CA: handshake fails" "$out"
out=$(as othertd "$U/whoami")
check_has "another trust domain: 403 forbidden" "$out" '"code":"forbidden"'
check_has "another trust domain: the message says why" "$out" "not in trust domain $TD"
check_eq "another trust domain: 403" "${out##* }" 403
out=$(as twosans "$U/whoami")
check_has "two URI SANs: 403 saying so" "$out" "has 2 URI SANs; exactly one is allowed"
check_eq "two URI SANs: 403" "${out##* }" 403
out=$(as badid "$U/whoami")
check_has "malformed SPIFFE ID: 403 saying so" "$out" "is not a warden SPIFFE ID"
check_eq "malformed SPIFFE ID: 403" "${out##* }" 403
out=$(as nouri "$U/whoami")
check_has "no URI SAN: 403 saying so" "$out" "has no URI SAN"
m=$(metric 'warden_leader_handshake_failures_total{reason="no-certificate"}')
check_eq "metrics: a handshake without a certificate is counted" "$m" 1
m=$(metric 'warden_leader_handshake_failures_total{reason="bad-certificate"}')
check_eq "metrics: expired and foreign certificates are counted as bad-certificate" "$m" 2
m=$(metric 'warden_leader_handshake_failures_total{reason="identity"}')
check_eq "metrics: the four refused identities are counted" "$m" 4

# ---- bodies ----
head -c 1024 /dev/zero >"$T/b1024"
head -c 1025 /dev/zero >"$T/b1025"
head -c 300000 /dev/zero >"$T/big"
check_eq "body at the route's cap (1024): accepted whole" "$(as follower -X PUT --data-binary @"$T/b1024" "$U/body")" '{"len":1024} 200'
out=$(as follower -X PUT --data-binary @"$T/b1025" "$U/body")
check_has "body at cap + 1: 413 too-large" "$out" '"code":"too-large"'
check_eq "body at cap + 1: 413" "${out##* }" 413
out=$(as follower -X PUT -H 'Expect:' --data-binary @"$T/big" "$U/body")
check_eq "300 KB body sent at once: 413 (the answer is not lost)" "${out##* }" 413
out=$(raw 'PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' 3)
check_has "Content-Length above the cap, no body sent: 413 at once, not 408 after the body timeout" "$out" "HTTP/1.1 413 "
check_has "... and the connection is closed" "$out" "Connection: close"
out=$(raw 'PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc' 5)
check_has "a body not complete within body_timeout: cut with 408" "$out" "HTTP/1.1 408 "
out=$(raw 'GET /whoami HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz')
check_has "a body on a route that takes none: 413" "$out" "HTTP/1.1 413 "

# ---- framing ----
out=$(raw 'GET /whoami HTTP/1.1\r\nHost x\r\n\r\n')
check_has "malformed header line: 400" "$out" "HTTP/1.1 400 "
out=$(raw 'GET /whoami HTTP/1.1\r\n\r\n')
check_has "HTTP/1.1 without Host: 400" "$out" "HTTP/1.1 400 "
out=$(raw 'GET /whoami HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nz')
check_has "two Content-Lengths: 400" "$out" "HTTP/1.1 400 "
out=$(as follower -H "X-Big: $(head -c 17000 /dev/zero | tr '\0' a)" "$U/whoami")
check_eq "headers above 16 KiB: 431" "${out##* }" 431
out=$(as follower -X DELETE "$U/whoami")
check_eq "unknown method: 501" "${out##* }" 501
out=$(as follower -X PUT -H 'Transfer-Encoding: chunked' --data-binary @"$T/b1024" "$U/body")
check_eq "Transfer-Encoding: 501" "${out##* }" 501
out=$(raw 'GET /whoami HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
if has "$out" '"instance":"i-1"' && has "$out" "HTTP/1.1 404 " &&
    [ "$(grep -o 'HTTP/1.1 [0-9][0-9][0-9] ' <<<"$out" | tr '\n' ,)" = "HTTP/1.1 200 ,HTTP/1.1 404 ," ]; then
    ok "pipelined requests are answered one at a time, in order"
else notok "pipelined requests are answered one at a time, in order" "$out"; fi
out=$(raw 'GET /whoami HTTP/1.0\r\n\r\n')
check_has "HTTP/1.0 without keep-alive: answered, then closed" "$out" "Connection: close"
n=$(curl -s --max-time 20 --cacert "$P/ca.crt" --cert "$P/follower.crt" --key "$P/follower.key" \
    -o /dev/null -o /dev/null -w '%{num_connects}\n' "$U/whoami" "$U/whoami" | tr '\n' ' ')
check_eq "HTTP/1.1 keep-alive: two requests, one connection" "$n" "1 0 "

# ---- held polls ----
# six connections on one key: with two workers, some are held by the worker that does not run
# the wake-up's handler (the kernel spreads connections), so wake-ups cross threads
HP=()
for i in 1 2 3 4 5 6; do
    as follower "$U/hold?key=acme/web/prod&wait=60" >"$T/h$i" &
    HP+=($!)
done
as follower "$U/hold?key=acme/web/dev&wait=3" >"$T/h0" &
H0=$!
check "seven requests are held (gauge)" wait_metric warden_leader_held_polls 7
out=$(as admin -X POST "$U/wake?key=acme/web/prod")
check_eq "a wake-up from another connection" "$out" '{"woke":"acme/web/prod"} 200'
wait "${HP[@]}"
for i in 1 2 3 4 5 6; do
    check_eq "held request $i released by the wake-up (wake=1)" "$(cat "$T/h$i")" '{"wake":1} 200'
done
wait "$H0"
check_eq "a request held on another key is answered at its deadline (wake=2)" "$(cat "$T/h0")" '{"wake":2} 200'
as follower --max-time 2 "$U/hold?key=acme/web/gone&wait=60" >/dev/null
check "a client closing a held connection frees it (gauge back to 0)" wait_metric warden_leader_held_polls 0
check "... and its connection (gauge back to 0)" wait_metric warden_leader_connections 0

# ---- internal faults: answered 500, counted apart from operational errors ----
out=$(as follower "$U/broken")
check_eq "a route that neither answers nor holds: 500" "${out##* }" 500
out=$(as follower "$U/stubborn")
check_eq "a route that holds again on its final call: 500 at the deadline" "${out##* }" 500
check_eq "metrics: both counted as internal faults" \
    "$(metric 'warden_leader_errors_total{class="internal"}')" 2
check_eq "metrics: the held gauge is back to 0 after the faults" "$(metric warden_leader_held_polls)" 0
check_has "log: internal faults are logged at error level as event internal" "$(cat "$T/a.log")" \
    '"level":"error","event":"internal","detail":"a handler neither answered nor held"'

# ---- probe listener ----
check_eq "/healthz: 200 ok" "$(curl -s --max-time 10 -w ' %{http_code}' "http://$PROBE/healthz")" "ok
 200"
check_eq "/readyz: 200 when the store answers and the handlers are ready" \
    "$(curl -s --max-time 10 -w ' %{http_code}' "http://$PROBE/readyz")" "ready
 200"
ct=$(curl -s --max-time 10 -o "$T/metrics" -w '%{content_type}' "http://$PROBE/metrics")
check_eq "/metrics: Prometheus text 0.0.4" "$ct" "text/plain; version=0.0.4"
check_has "/metrics: requests by route and status" "$(cat "$T/metrics")" 'warden_leader_requests_total{route="whoami",status="200"}'
check_has "/metrics: 413s counted" "$(cat "$T/metrics")" 'status="413"'
check_has "/metrics: operational errors counted" "$(cat "$T/metrics")" 'warden_leader_errors_total{class="operational"}'
check_eq "probe: any other path is 404" "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://$PROBE/whoami")" 404
check_eq "probe: no API on the probe port" "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://$PROBE/hold?key=x")" 404
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
if timeout 15 cat <&3 >/dev/null; then ok "a client that never starts TLS is cut after handshake_timeout"
else notok "a client that never starts TLS is cut after handshake_timeout"; fi
exec 3<&-
m=$(metric 'warden_leader_handshake_failures_total{reason="timeout"}')
check_eq "metrics: the handshake timeout is counted" "$m" 1
out=$(curl -sS --max-time 20 --tls-max 1.2 --cacert "$P/ca.crt" --cert "$P/follower.crt" \
    --key "$P/follower.key" -w ' %{http_code}' "$U/whoami" 2>"$T/curl.err"; echo $? >"$T/rc")
handshake_refused "TLS 1.2 is refused in the handshake" "$out"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
# in a subshell: the leader may close after the first bytes, and a write after that is SIGPIPE
(printf 'GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n' >&3) 2>/dev/null
out=$(timeout 15 cat <&3 2>/dev/null | head -c 200)
exec 3<&-
check_eq "plain HTTP on the TLS port: no HTTP answer" "$(grep -c HTTP <<<"$out")" 0
m=$(metric 'warden_leader_handshake_failures_total{reason="protocol"}')
check_eq "metrics: TLS 1.2 and plain HTTP are counted as protocol failures" "$m" 2
out=$({ printf 'PUT /body HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\n'
        sleep 1; printf 'abc'; sleep 1; } |
    timeout 20 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$P/ca.crt" \
        -cert "$P/follower.crt" -key "$P/follower.key" 2>/dev/null)
check_has "Expect: 100-continue within the cap: 100 Continue" "$out" "HTTP/1.1 100 Continue"
check_has "... then the answer once the body came" "$out" '{"len":3}'
{ printf 'GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n'; sleep 1; } |
    timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$P/ca.crt" \
        -cert "$P/follower.crt" -key "$P/follower.key" -sess_out "$T/sess" >/dev/null 2>&1
out=$({ printf 'GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'; sleep 1; } |
    timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$P/ca.crt" \
        -sess_in "$T/sess" 2>/dev/null)
check_has "a session ticket resumes the session without presenting the certificate again" "$out" "Reused, TLSv1.3"
check_has "... and the resumed session keeps the verified identity" "$out" '"instance":"i-1"'
check_eq "probe: HEAD /healthz is 200 with no body" \
    "$(curl -s --max-time 10 -I -o /dev/null -w '%{http_code} %{size_download}' "http://$PROBE/healthz")" "200 0"

# ---- log ----
check_has "log: one line per request with method, route, status, peer, duration" "$(cat "$T/a.log")" \
    '"event":"request","method":"GET","route":"whoami","status":"200","peer":"spiffe://fleet.test/org/acme/fleet/web/env/prod/instance/i-1","ms":'
check_has "log: the startup line names listeners, workers, store, trust domain" "$(cat "$T/a.log")" \
    "\"event\":\"start\",\"listen\":\"127.0.0.1:$PORT\""
if grep -q '"workers":"2","store":"stub","trust_domain":"fleet.test"' "$T/a.log"; then ok "log: start line fields"
else notok "log: start line fields" "$(head -3 "$T/a.log")"; fi
if grep -q "aaaaaaaaaa" "$T/a.log"; then notok "log: no header or body content"; else ok "log: no header or body content"; fi

# ---- a second leader on the same port ----
write_conf "$T/b.yaml"
sed -i "s/^listen: .*/listen: 127.0.0.1:$PORT/" "$T/b.yaml"
expect "a second leader on the same port exits 1" 1 "" -- timeout 20 "$STUB" "$T/b.yaml" "$T/b.ports"
exactly_one_line "... with exactly the address-in-use line" \
    "warden leader: cannot listen on 127.0.0.1:$PORT: address already in use"
check "... and the first one still serves" test "$(as follower "$U/whoami" | tail -c 3)" = 200

# ---- private key readable by others ----
cp "$P/leader.key" "$T/open.key"
chmod 644 "$T/open.key"
write_conf "$T/c.yaml"
sed -i "s|^key: .*|key: $T/open.key|" "$T/c.yaml"
expect "a leader key readable by group/others is refused: exit 1" 1 "is readable by group or others" \
    -- timeout 20 "$STUB" "$T/c.yaml" "$T/c.ports"

# ---- drain ----
as follower "$U/hold?key=acme/web/prod&wait=60" >"$T/h4" &
H4=$!
check "a request is held before the drain" wait_metric warden_leader_held_polls 1
kill -TERM "$A_PID"
timeout 20 tail --pid="$A_PID" -f /dev/null
wait "$A_PID"
check_eq "SIGTERM drains and the leader exits 0" "$?" 0
wait "$H4"
check_eq "the held request is answered by the drain (wake=2)" "$(cat "$T/h4")" '{"wake":2} 200'
check_has "log: the drain is logged" "$(cat "$T/a.log")" '"event":"stop"'

# ---- not ready, connection cap, SIGHUP ----
write_conf "$T/d.yaml" "max_conns: 1"
if start d "$T/d.yaml" not-ready; then ok "second stub leader starts"; else notok "second stub leader starts" "$(cat "$T/d.log")"; fi
D_PID=$SPID
U=https://127.0.0.1:$PORT
check_eq "/readyz: 503 with the reason when the handlers are not ready" \
    "$(curl -s --max-time 10 -w ' %{http_code}' "http://$PROBE/readyz")" "not ready: roster not loaded
 503"
as follower "$U/hold?key=k&wait=60" >"$T/h5" &
H5=$!
check "one connection held at max_conns 1" wait_metric warden_leader_held_polls 1
out=$(as admin "$U/whoami"); handshake_refused "beyond max_conns a new connection is refused before any HTTP" "$out"
m=$(metric 'warden_leader_handshake_failures_total{reason="capacity"}')
check_eq "metrics: refused for capacity" "$m" 1
kill -HUP "$D_PID"
sleep 0.3
check "SIGHUP is ignored: the leader still runs" kill -0 "$D_PID"
check_has "SIGHUP is logged" "$(cat "$T/d.log")" '"event":"sighup"'
check_eq "the held poll was not dropped for the cap" "$(metric warden_leader_held_polls)" 1
kill -INT "$D_PID"
wait "$D_PID"
check_eq "SIGINT drains too: exit 0" "$?" 0
wait "$H5"
check_eq "the held poll is answered on drain" "$(cat "$T/h5")" '{"wake":2} 200'

# ---- the drain is bounded: a request still in flight is cut after drain_timeout ----
write_conf "$T/e.yaml"
sed -i 's/^body_timeout: .*/body_timeout: 60/; s/^drain_timeout: .*/drain_timeout: 1/' "$T/e.yaml"
if start e "$T/e.yaml"; then ok "third stub leader starts"; else notok "third stub leader starts" "$(cat "$T/e.log")"; fi
E_PID=$SPID
raw 'PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc' 8 >"$T/slow.out" &
SLOW=$!
for _ in $(seq 1 100); do [ "$(metric warden_leader_connections)" = 1 ] && break; sleep 0.1; done
kill -TERM "$E_PID"
timeout 20 tail --pid="$E_PID" -f /dev/null
if kill -0 "$E_PID" 2>/dev/null; then
    notok "a body still in flight does not hold the drain past drain_timeout (hang guard 20 s, body timeout 60 s)" "$(tail -3 "$T/e.log")"
else
    wait "$E_PID"
    check_eq "a body still in flight does not hold the drain past drain_timeout: exit 0" "$?" 0
fi
wait "$SLOW"
check_eq "... and that request got no answer (cut, not processed)" "$(grep -c '^HTTP/1.1' "$T/slow.out")" 0

done_testing
