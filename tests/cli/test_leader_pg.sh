#!/bin/bash
# test_leader_pg.sh — the leader's PostgreSQL store and several leaders on one database, against
# a scratch cluster this test starts (scripts/pg-scratch.sh: 127.0.0.1, an ephemeral port, a
# socket in the test's folder) and stops on every path: migrations (a fresh database, one at
# the previous schema version, one at a newer version refused), an unreachable database (the
# leader serves meanwhile: /readyz 503, API and fleet page 503, SIGTERM drains) and a
# bad URL; two leaders A and B on one database: a long poll held on B answered when a bundle
# (and a kill) is published through A (the latency is printed, never judged), a rollback
# published through A served by B, racing publishes of one version through A and B (exactly one
# 201), B's LISTEN connection killed while a publish goes through A (B reconnects, re-reads,
# and answers its held poll), the database down (readyz 503, publish 503 counted as
# operational) and back. Only 127.0.0.1; every process started here is stopped on every path.
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/leader/lib.sh"
W=$WARDEN
D=$T/fx
SCOPE=(--org acme --fleet prod --env eu1)
PGS=$WD_SRCDIR/scripts/pg-scratch.sh

LD_PG_DIR=$T/pg # ld_cleanup stops the cluster
if ! bash "$PGS" start "$LD_PG_DIR" >"$T/pg.url" 2>"$T/pg.err"; then
    notok "01 a scratch PostgreSQL cluster starts" "$(tail -n 20 "$T/pg.err")"
    done_testing
    exit 1
fi
ok "01 a scratch PostgreSQL cluster starts ($(cat "$T/pg.url"))"
PGPORT=$(cat "$LD_PG_DIR/port")
# psql_q DB SQL: one statement through the cluster's socket, unaligned output.
psql_q() { psql -X -q -At -h "$LD_PG_DIR/sock" -p "$PGPORT" -U warden -d "$1" -c "$2" 2>&1; }
mkdb() { bash "$PGS" createdb "$LD_PG_DIR" "$1"; }

ld_fixture "$D"
check "02 fixture built" test -s "$D/R" -a -s "$D/adm.crt"
PIN=$(cat "$D/R.pin")
mkb() {
    local out=$1 v=$2
    shift 2
    "$W" bundle create --policy "$D/p1.yaml" "${SCOPE[@]}" --version "$v" --instances '*' \
        --sign "$D/bs" --out "$out" "$@" >/dev/null
}
leader_args() {
    echo --cert "$D/leader.crt" --key "$D/leader.key" --client-ca "$D/pki/ca.crt" \
        --trust-domain "$TD" --roster "$D/R" --pin "$PIN" \
        --probe-listen "127.0.0.1:$(ld_free_port)" --listen "127.0.0.1:$(ld_free_port)"
}
# start_fails NAME STORE: a leader on STORE exits by itself; its exit code in $rc, stderr in $T/err.
start_fails() {
    local p i
    # shellcheck disable=SC2046
    "$W" leader $(leader_args) --store "$2" >"$T/out" 2>"$T/err" </dev/null &
    p=$!
    LD_PIDS+=("$p")
    for i in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then ld_kill "$p"; rc=running; return; fi
    wait "$p"
    rc=$?
}

# ---- 1. migrations ----
U=$(mkdb fresh)
if ld_start fresh "$D" "$U"; then ok "03 a leader starts on a fresh database"
else notok "03 a leader starts on a fresh database" "$(tail -n 20 "$T/fresh.log")"; fi
check "04 ... which is now at schema version 1 ($(psql_q fresh 'SELECT version FROM warden_schema'))" \
    test "$(psql_q fresh 'SELECT version FROM warden_schema')" = 1
n=$(psql_q fresh "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
check "04 ... with its 9 tables ($n)" test "$n" = 9
check "05 the start log names the store: postgres" grep -q '"store":"postgres"' "$T/fresh.log"
check "05 ... and never the URL" bash -c "! grep -q '127.0.0.1:$PGPORT' '$T/fresh.log'"
ld_kill "$LD_PID"
if ld_start fresh2 "$D" "$U"; then ok "06 it starts again on the migrated database"
else notok "06 it starts again on the migrated database" "$(tail -n 20 "$T/fresh2.log")"; fi
ld_kill "$LD_PID"

U=$(mkdb previous)
psql_q previous "CREATE TABLE warden_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL); INSERT INTO warden_schema VALUES (1, 0)" >/dev/null
if ld_start previous "$D" "$U"; then ok "07 a database at the previous schema version (0) is migrated at start"
else notok "07 a database at the previous schema version (0) is migrated at start" "$(tail -n 20 "$T/previous.log")"; fi
check "07 ... to version 1 ($(psql_q previous 'SELECT version FROM warden_schema'))" \
    test "$(psql_q previous 'SELECT version FROM warden_schema')" = 1
check "07 ... with its tables" test "$(psql_q previous "SELECT count(*) FROM pg_tables WHERE tablename = 'bundles'")" = 1
ld_kill "$LD_PID"

U=$(mkdb newer)
psql_q newer "CREATE TABLE warden_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL); INSERT INTO warden_schema VALUES (1, 2)" >/dev/null
start_fails newer "$U"
check "08 a database at a newer schema version (2) is refused: exit 2 (got $rc)" test "$rc" = 2
check "08 ... naming both versions" grep -q 'schema version 2; this build knows versions up to 1' "$T/err"
check "08 ... and left untouched" test "$(psql_q newer "SELECT count(*) FROM pg_tables WHERE tablename = 'bundles'"):$(psql_q newer 'SELECT version FROM warden_schema')" = "0:2"

# the configuration file's `store` key reaches the same store
printf 'store: "%s"\n' "$U" >"$T/leader.yaml"
# shellcheck disable=SC2046
timeout -s KILL 60 "$W" leader $(leader_args) --config "$T/leader.yaml" >"$T/out" 2>"$T/err" </dev/null
rc=$?
check "08 ... also when the URL comes from --config (store:): exit 2 (got $rc)" test "$rc" = 2
check "08 ... naming version 2" grep -q 'schema version 2' "$T/err"

# a database nobody listens for at start: retried with one line each time, never the password;
# meanwhile the leader listens: /healthz 200, /readyz 503 naming the cause, the API 503
# `unavailable` with Retry-After; SIGTERM ends the wait cleanly (exit 0)
P9=$(ld_free_port) L9=$(ld_free_port) U9=$(ld_free_port)
# shellcheck disable=SC2046
"$W" leader $(leader_args) --log-format text --probe-listen "127.0.0.1:$P9" \
    --listen "127.0.0.1:$L9" --ui-listen "127.0.0.1:$U9" \
    --store "postgres://warden:s3cret@127.0.0.1:$(ld_free_port)/warden?connect_timeout=3" \
    >"$T/out" 2>"$T/err" </dev/null &
p=$!
LD_PIDS+=("$p")
for _ in $(seq 1 300); do [ "$(grep -c 'store-unreachable' "$T/err")" -ge 2 ] && break; sleep 0.1; done
check "09 a database nobody listens for at start: retried, one line each time" \
    test "$(grep -c 'warn store-unreachable .*cannot connect to PostgreSQL.* retry_in_s=' "$T/err")" -ge 2
check "09 ... the password is never shown" bash -c "! grep -q s3cret '$T/err' '$T/out'"
check "09 ... the start line says the store is awaited" grep -q ' start listen=.* store=waiting' "$T/err"
st=$(curl -s -o "$T/rz" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P9/readyz")
check "09c meanwhile /readyz is 503 ($st: $(head -c 200 "$T/rz"))" test "$st" = 503
check "09c ... naming the cause" grep -q "^not ready: store unreachable: .*cannot connect to PostgreSQL" "$T/rz"
check "09c ... never the password" bash -c "! grep -q s3cret '$T/rz'"
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P9/healthz")
check "09c ... /healthz is 200: the process is alive ($st)" test "$st" = 200
st=$(LD_URL=https://127.0.0.1:$L9 ld_curl "$D" f1 GET policy/latest)
check "09c ... a follower's poll is answered 503 unavailable ($st: $(head -c 200 "$T/body"))" \
    bash -c "test '$st' = 503 && grep -q '\"unavailable\"' '$T/body'"
check "09c ... with Retry-After" test -n "$(hdr Retry-After)"
mkb "$T/start-b1" 1
st=$(LD_URL=https://127.0.0.1:$L9 ld_send "$D" adm PUT policy-bundles "$T/start-b1")
check "09c ... a publish is answered 503 too, nothing stored ($st)" test "$st" = 503
st=$(curl -s -o "$T/ui9" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$U9/")
check "09c ... the fleet page is answered 503 too ($st: $(head -c 200 "$T/ui9"))" test "$st" = 503
kill -TERM "$p" 2>/dev/null
wait "$p"
rc=$?
check "09 ... SIGTERM ends the wait: exit 0 (got $rc)" test "$rc" = 0
check "09 ... and the leader drained" grep -q ' stop detail=drained' "$T/err"
# the database comes up while the leader waits: it starts then
U=$(mkdb late)
bash "$PGS" stop "$LD_PG_DIR" >/dev/null 2>&1
P9=$(ld_free_port)
# shellcheck disable=SC2046
"$W" leader $(leader_args) --log-format text --probe-listen "127.0.0.1:$P9" --store "$U" \
    >"$T/late.out" 2>"$T/late.err" </dev/null &
p=$!
LD_PIDS+=("$p")
for _ in $(seq 1 300); do grep -q 'store-unreachable' "$T/late.err" && break; sleep 0.1; done
check "09b the database down at start: the leader waits for it" grep -q 'store-unreachable' "$T/late.err"
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P9/readyz")
check "09b ... not ready meanwhile ($st)" test "$st" = 503
bash "$PGS" start "$LD_PG_DIR" >/dev/null 2>"$T/pg.err2"
for _ in $(seq 1 600); do grep -q ' store-open ' "$T/late.err" && break; sleep 0.1; done
check "09b ... and opens it once it answers" grep -q ' store-open store=postgres' "$T/late.err"
st=000
for _ in $(seq 1 100); do
    st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P9/readyz")
    [ "$st" = 200 ] && break
    sleep 0.1
done
check "09b ... then /readyz is 200 ($st)" test "$st" = 200
ld_kill "$p"
start_fails badurl "postgres://warden:s3cret@127.0.0.1:5432/warden?bogus_option=1"
check "10 a URL libpq cannot parse: usage error, exit 2 (got $rc)" test "$rc" = 2
check "10 ... the password is never shown" bash -c "! grep -q s3cret '$T/err' '$T/out'"

# ---- 2. two leaders on one database ----
U=$(mkdb shared)
if ld_start a "$D" "$U"; then ok "11 leader A starts on the shared database"
else notok "11 leader A starts on the shared database" "$(tail -n 20 "$T/a.log")"; fi
A_URL=$LD_URL A_PROBE=$LD_PROBE A_PID=$LD_PID
if ld_start b "$D" "$U"; then ok "12 leader B starts on the same database"
else notok "12 leader B starts on the same database" "$(tail -n 20 "$T/b.log")"; fi
B_URL=$LD_URL B_PROBE=$LD_PROBE B_PID=$LD_PID
on_a() { LD_URL=$A_URL LD_PROBE=$A_PROBE "$@"; }
on_b() { LD_URL=$B_URL LD_PROBE=$B_PROBE "$@"; }

# wait_b_serves FILE [ID]: up to 30 s for B to serve FILE's bytes on policy/latest.
wait_b_serves() {
    local f=$1 id=${2:-f1} i
    for i in $(seq 1 300); do
        st=$(on_b ld_curl "$D" "$id" GET policy/latest)
        [ "$st" = 200 ] && cmp -s "$T/body" "$f" && return 0
        sleep 0.1
    done
    return 1
}
# hold_on_b NAME PATH ETAG: a long poll (wait=60) on B in the background as f1; its status in
# $T/NAME.st, body, headers, and the time it ended (ns) in $T/NAME.end. Waits until B holds it.
hold_on_b() {
    local name=$1 p=$2 etag=$3 i before
    before=$(on_b metric warden_leader_held_polls)
    (
        curl -sS --max-time 120 --cacert "$D/pki/ca.crt" --cert "$D/f1.crt" --key "$D/f1.key" \
            -H "If-None-Match: $etag" -H 'Prefer: wait=60' -o "$T/$name.body" -D "$T/$name.hdr" \
            -w '%{http_code}' "$B_URL$API/$p" >"$T/$name.st" 2>/dev/null
        date +%s%N >"$T/$name.end"
    ) &
    HOLD_JOB=$!
    for i in $(seq 1 300); do
        [ "$(on_b metric warden_leader_held_polls)" -gt "${before:-0}" ] 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

mkb "$T/b1" 1
st=$(on_a ld_send "$D" adm PUT policy-bundles "$T/b1")
check "13 publish v1 through A: 201" test "$st" = 201
if wait_b_serves "$T/b1"; then ok "14 B serves v1, published through A"
else notok "14 B serves v1, published through A" "status $st"; fi

LAT=()
prev=$T/b1
for round in 1 2 3 4 5; do
    v=$((1 + round))
    mkb "$T/b$v" "$v" --previous "$prev"
    E="\"$(payload_hash "$prev")\""
    if ! hold_on_b "poll$round" policy/latest "$E"; then
        notok "15 round $round: B holds a long poll" "held: $(on_b metric warden_leader_held_polls)"
        continue
    fi
    t0=$(date +%s%N)
    st=$(on_a ld_send "$D" adm PUT policy-bundles "$T/b$v")
    t1=$(date +%s%N)
    wait "$HOLD_JOB"
    got=$(cat "$T/poll$round.st")
    if [ "$st" = 201 ] && [ "$got" = 200 ] && cmp -s "$T/poll$round.body" "$T/b$v"; then
        ok "15 round $round: the poll held on B is answered 200 with v$v, published through A"
    else
        notok "15 round $round: the poll held on B is answered 200 with v$v, published through A" \
            "publish $st, poll $got"
    fi
    end=$(cat "$T/poll$round.end")
    ms_from_start=$(( (end - t0) / 1000000 ))
    LAT+=("$ms_from_start")
    echo "# round $round: B's held poll answered $ms_from_start ms after the publish to A began ($(( (t1 - t0) / 1000000 )) ms for A to answer 201)"
    prev=$T/b$v
done
if [ ${#LAT[@]} -gt 0 ]; then
    sorted=$(printf '%s\n' "${LAT[@]}" | sort -n | tr '\n' ' ')
    echo "# cross-leader wake latency (publish to A begun -> poll on B answered, curl end to end), ms: $sorted"
fi

# The same, timed inside one process (no process start-up in the figure): N rounds of a poll
# held on B and a bundle PUT to A; printed, never judged.
NLAT=20
for i in $(seq 1 $NLAT); do
    v=$((6 + i))
    mkb "$T/b$v" "$v" --previous "$prev"
    echo "$(payload_hash "$prev") $T/b$v" >>"$T/lat.list"
    prev=$T/b$v
done
cat >"$T/lat.py" <<'PY'
import http.client, ssl, sys, time, urllib.request
d, a_port, b_port, b_probe, lst = sys.argv[1:6]
def ctx(who):
    c = ssl.create_default_context(cafile=d + "/pki/ca.crt")
    c.load_cert_chain(d + "/" + who + ".crt", d + "/" + who + ".key")
    return c
fc, ac = ctx("f1"), ctx("adm")
def held():
    t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % b_probe, timeout=10).read().decode()
    for l in t.splitlines():
        if l.startswith("warden_leader_held_polls "):
            return int(float(l.split()[1]))
    return 0
api = "/api/v1/conductor/"
for n, line in enumerate(open(lst), 1):
    etag, path = line.split()
    body = open(path, "rb").read()
    b = http.client.HTTPSConnection("127.0.0.1", int(b_port), context=fc, timeout=120)
    a = http.client.HTTPSConnection("127.0.0.1", int(a_port), context=ac, timeout=120)
    a.connect()
    b.request("GET", api + "policy/latest", headers={"If-None-Match": '"%s"' % etag, "Prefer": "wait=60"})
    for _ in range(600):
        if held() >= 1:
            break
        time.sleep(0.02)
    t0 = time.monotonic()
    a.request("PUT", api + "policy-bundles", body=body, headers={"Content-Type": "application/json"})
    ra = a.getresponse(); rab = ra.read(); t1 = time.monotonic()
    rb = b.getresponse(); got = rb.read(); t2 = time.monotonic()
    ok = ra.status == 201 and rb.status == 200 and got == body
    why = "" if ok else " publish=%r poll=%r" % (rab[:200], got[:80])
    print("%d %s %.1f %.1f%s" % (n, "ok" if ok else "bad:%d/%d" % (ra.status, rb.status), (t2 - t1) * 1000, (t2 - t0) * 1000, why))
    a.close(); b.close()
PY
"$PY" "$T/lat.py" "$D" "${A_URL##*:}" "${B_URL##*:}" "$B_PROBE" "$T/lat.list" >"$T/lat.out" 2>"$T/lat.err"
good=$(grep -c ' ok ' "$T/lat.out")
check "15 $NLAT more rounds timed in one process: every poll held on B answered with the bundle published through A ($good)" \
    test "$good" = "$NLAT"
[ -s "$T/lat.err" ] && sed 's/^/# lat.py: /' "$T/lat.err" | head -n 5
grep -v ' ok ' "$T/lat.out" | sed 's/^/# lat.py round not ok: /' | head -n 5
if [ "$good" -gt 0 ]; then
    after=$(awk '$2 == "ok" { print $3 }' "$T/lat.out" | sort -n | tr '\n' ' ')
    whole=$(awk '$2 == "ok" { print $4 }' "$T/lat.out" | sort -n | tr '\n' ' ')
    echo "# cross-leader wake, ms after A's 201 reached the publisher (sorted): $after"
    echo "# cross-leader wake, ms from the PUT sent to A to the poll answered on B (sorted): $whole"
    awk '$2 == "ok" { print $4 }' "$T/lat.out" | sort -n | awk '{ v[NR] = $1 } END {
        printf "# cross-leader wake summary (PUT sent -> poll answered), ms: min %s median %s max %s over %d rounds\n", v[1], v[int((NR + 1) / 2)], v[NR], NR }'
fi
TOP=$prev

"$W" kill create "${SCOPE[@]}" --instances '*' --state active --counter 1 --reason drill \
    --sign "$D/k1" --sign "$D/k2" --out "$T/kill1" >/dev/null
if hold_on_b kpoll remote-kill/latest '"none"'; then
    st=$(on_a ld_send "$D" adm PUT remote-kill "$T/kill1")
    wait "$HOLD_JOB"
    check "16 a kill published through A answers the kill poll held on B ($st $(cat "$T/kpoll.st"))" \
        bash -c "test '$st' = 201 && test \"\$(cat '$T/kpoll.st')\" = 200 && cmp -s '$T/kpoll.body' '$T/kill1'"
else notok "16 B holds a kill poll"; fi

"$W" rollback create "${SCOPE[@]}" --instances '*' --current "$TOP" --target "$T/b1" \
    --reason drill --sign "$D/rb1" --sign "$D/rb2" --out "$T/rb" >/dev/null
st=$(on_a ld_send "$D" adm PUT rollback-authorizations "$T/rb")
check "17 a rollback published through A: 201" test "$st" = 201
if wait_b_serves "$T/b1"; then ok "18 B serves the rollback target v1"
else notok "18 B serves the rollback target v1"; fi
check "18 ... naming the authorization" test -n "$(hdr Warden-Rollback-Authorization)"
mkb "$T/b100" 100 --previous "$TOP"
st=$(on_b ld_send "$D" adm PUT policy-bundles "$T/b100")
check "19 v100 published through B ends the rollback: 201" test "$st" = 201
for i in $(seq 1 300); do
    st=$(on_a ld_curl "$D" f1 GET policy/latest)
    [ "$st" = 200 ] && cmp -s "$T/body" "$T/b100" && break
    sleep 0.1
done
same_file "19 ... and A serves v100" "$T/body" "$T/b100"
check "19 ... without Warden-Rollback-Authorization" test -z "$(hdr Warden-Rollback-Authorization)"

# labels reported through A reach B: a bundle only for zone=x, f1 polling on B, f1's status with
# zone=x posted to A
"$W" bundle create --policy "$D/p2.yaml" "${SCOPE[@]}" --version 110 --label zone=x \
    --previous "$T/b100" --sign "$D/bs" --out "$T/b110" >/dev/null
st=$(on_a ld_send "$D" adm PUT policy-bundles "$T/b110")
check "19b a bundle for the label zone=x through A: 201" test "$st" = 201
printf '{"schema_version":1,"instance_id":"i-1","labels":{"zone":"x"},"warden_version":"0.1.0","started_at":"%s","policy_state":"enforcing","active_bundle":{"version":100,"hash":"%s"},"kill":{"counter":1,"state":"active","honored":true},"last_error":null,"recorder_key":null}' \
    "$(tfmt "$(date -u +%s)")" "$(payload_hash "$T/b100")" >"$T/st1"
if hold_on_b labpoll policy/latest "\"$(payload_hash "$T/b100")\""; then
    st=$(on_a ld_send "$D" f1 POST status "$T/st1")
    wait "$HOLD_JOB"
    check "19c f1 reports zone=x to A ($st): its poll held on B is answered with the zone=x bundle ($(cat "$T/labpoll.st"))" \
        bash -c "test '$st' = 204 && test \"\$(cat '$T/labpoll.st')\" = 200 && cmp -s '$T/labpoll.body' '$T/b110'"
else notok "19c B holds f1's poll"; fi

# ---- 3. racing publishes of one version through A and B ----
prev=$T/b110
for round in 1 2 3 4 5; do
    v=$((120 + round))
    for j in a b; do
        printf 'version: 1\nmode: enforce\n# round %s writer %s\n' "$round" "$j" >"$T/race.yaml"
        "$W" bundle create --policy "$T/race.yaml" "${SCOPE[@]}" --version "$v" --instances '*' \
            --id "race-$j" --sign "$D/bs" --out "$T/race.$round.$j" >/dev/null
    done
    cps=()
    for j in a b; do
        u=$A_URL; [ "$j" = b ] && u=$B_URL
        curl -sS --max-time 60 --cacert "$D/pki/ca.crt" --cert "$D/adm.crt" --key "$D/adm.key" \
            -X PUT -H 'Content-Type: application/json' --data-binary "@$T/race.$round.$j" \
            -o "$T/race.$round.$j.body" -w '%{http_code}' "$u$API/policy-bundles" \
            >"$T/race.$round.$j.st" 2>/dev/null &
        cps+=($!)
    done
    wait "${cps[@]}"
    got="$(cat "$T/race.$round.a.st") $(cat "$T/race.$round.b.st")"
    sorted=$(echo "$got" | tr ' ' '\n' | sort | tr '\n' ' ')
    check "20 round $round: v$v through A and B at once: one 201, one 409 (A B: $got)" \
        test "$sorted" = "201 409 "
    loser=$(grep -L '^201$' "$T/race.$round".[ab].st | head -n 1)
    check "20 round $round: ... the 409 says fork" \
        test "$(jq -r .error.code "${loser%.st}.body" 2>/dev/null)" = fork
    win=$(grep -l '^201$' "$T/race.$round".[ab].st | head -n 1)
    for l in a b; do
        for i in $(seq 1 300); do
            st=$(on_$l ld_curl "$D" f1 GET policy/latest)
            [ "$st" = 200 ] && cmp -s "$T/body" "${win%.st}" && break
            sleep 0.1
        done
        same_file "21 round $round: leader $(echo $l | tr ab AB) serves the winner" "$T/body" "${win%.st}"
    done
done
mkb "$T/same30" 130
cps=()
for u in "$A_URL" "$B_URL" "$A_URL" "$B_URL"; do
    curl -sS --max-time 60 --cacert "$D/pki/ca.crt" --cert "$D/adm.crt" --key "$D/adm.key" \
        -X PUT -H 'Content-Type: application/json' --data-binary "@$T/same30" \
        -w '%{http_code}\n' -o /dev/null "$u$API/policy-bundles" >>"$T/same.st" 2>/dev/null &
    cps+=($!)
done
wait "${cps[@]}"
got=$(sort "$T/same.st" | tr '\n' ' ')
check "22 the same bytes through A, B, A, B at once: one 201, three 200 ($got)" \
    test "$got" = "200 200 200 201 "

# ---- 4. B's LISTEN connection killed while a publish goes through A ----
mkb "$T/b40" 140 --previous "$T/same30"
if hold_on_b lpoll policy/latest "\"$(payload_hash "$T/same30")\""; then
    kill -STOP "$B_PID"
    n=$(psql_q shared "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'shared' AND query = 'LISTEN warden_changes'")
    check "23 the leaders' LISTEN connections are killed (pg_terminate_backend: $n)" test "$n" -ge 2
    st=$(on_a ld_send "$D" adm PUT policy-bundles "$T/b40")
    check "24 meanwhile v40 is published through A: 201" test "$st" = 201
    kill -CONT "$B_PID"
    wait "$HOLD_JOB"
    check "25 B reconnects, re-reads, and answers its held poll with v40 ($(cat "$T/lpoll.st"))" \
        bash -c "test \"\$(cat '$T/lpoll.st')\" = 200 && cmp -s '$T/lpoll.body' '$T/b40'"
else notok "23 B holds a poll"; fi
for i in $(seq 1 100); do grep -q '"event":"store-watch","outcome":"listening"' "$T/b.log" && break; sleep 0.1; done
check "26 B logged the lost LISTEN connection" grep -q '"event":"store-watch","outcome":"lost"' "$T/b.log"
check "26 ... and listening again" grep -q '"event":"store-watch","outcome":"listening"' "$T/b.log"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$B_PROBE/readyz")
check "27 B is ready ($code)" test "$code" = 200

# ---- 5. the database down, and back ----
bash "$PGS" stop "$LD_PG_DIR"
for i in $(seq 1 200); do
    code=$(curl -s -o "$T/ready" -w '%{http_code}' --max-time 15 "http://127.0.0.1:$A_PROBE/readyz")
    [ "$code" = 503 ] && break
    sleep 0.1
done
check "28 the database stopped: A's readyz is 503 ($code: $(head -c 200 "$T/ready"))" test "$code" = 503
mkb "$T/b50" 150 --previous "$T/b40"
st=$(on_a ld_send "$D" adm PUT policy-bundles "$T/b50")
check "29 a publish while the database is down: 503 unavailable ($st $(errcode))" \
    test "$st:$(errcode)" = "503:unavailable"
m=$(on_a metric 'warden_leader_errors_total{class="operational"}')
check "30 A counts operational errors ($m)" test "${m:-0}" -ge 1
m=$(on_a metric 'warden_leader_publishes_total{kind="bundle",outcome="unavailable"}')
check "30 ... and the unavailable publish ($m)" test "${m:-0}" -ge 1
if bash "$PGS" start "$LD_PG_DIR" >/dev/null 2>"$T/pg.err"; then ok "31 the database starts again"
else notok "31 the database starts again" "$(tail -n 20 "$T/pg.err")"; fi
for l in A B; do
    p=$A_PROBE; [ $l = B ] && p=$B_PROBE
    for i in $(seq 1 300); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 "http://127.0.0.1:$p/readyz")
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    check "32 $l is ready again ($code)" test "$code" = 200
done
if hold_on_b dpoll policy/latest "\"$(payload_hash "$T/b40")\""; then
    st=$(on_a ld_send "$D" adm PUT policy-bundles "$T/b50")
    wait "$HOLD_JOB"
    check "33 after the outage a publish through A (${st}) answers the poll held on B ($(cat "$T/dpoll.st"))" \
        bash -c "test '$st' = 201 && test \"\$(cat '$T/dpoll.st')\" = 200 && cmp -s '$T/dpoll.body' '$T/b50'"
else notok "33 B holds a poll after the outage"; fi

for l in A B; do
    p=$A_PROBE; [ $l = B ] && p=$B_PROBE
    m=$(LD_PROBE=$p metric 'warden_leader_errors_total{class="internal"}')
    check "34 $l: no internal error (${m:-absent})" test "${m:-0}" = 0
done
ld_kill "$A_PID"
ld_kill "$B_PID"
for l in fresh fresh2 previous a b; do
    [ -e "$T/$l.log" ] || continue
    check "35 $l: no sanitizer report in the leader's log" \
        bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$T/$l.log'"
done
done_testing
