#!/bin/bash
# test_leader_e2e.sh — the fleet path end to end and the leader under faults: `warden pki` →
# `warden leader` → `warden publish` → curl as a follower gets the exact bytes and `warden bundle
# verify` accepts them → `warden status` shows the follower; racing publishes of one version
# (exactly one 201); `kill -9` in the middle of a publish loop and a restart on the same store
# (what is served is one of the published bundles and the highest stored version, and every
# 201 survived); a store that cannot grow (file size limit) → publish 503 while reads go on;
# a port in use → exit 1. Only 127.0.0.1; every process started here is stopped on every path.
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/leader/lib.sh"
W=$WARDEN
D=$T/fx
# WD_E2E_PG=1: the same checks with the leaders' stores in a scratch PostgreSQL cluster
# (scripts/pg-scratch.sh, stopped by ld_cleanup) instead of SQLite files.
if [ "${WD_E2E_PG:-}" = 1 ]; then
    LD_PG_DIR=$T/pg
    if ! bash "$WD_SRCDIR/scripts/pg-scratch.sh" start "$LD_PG_DIR" >/dev/null 2>"$T/pg.err"; then
        notok "00 a scratch PostgreSQL cluster starts" "$(tail -n 20 "$T/pg.err")"
        done_testing
        exit 1
    fi
    ok "00 a scratch PostgreSQL cluster starts"
fi
SCOPE=(--org acme --fleet prod --env eu1)

ld_fixture "$D"
check "01 fixture built" test -s "$D/R" -a -s "$D/adm.crt"
if ld_have_pki; then ok "02 the fleet PKI was made with warden pki"
else notok "02 the fleet PKI was made with warden pki" "this warden has no pki command: openssl was used"; fi
PIN=$(cat "$D/R.pin")

if ! ld_start main "$D" "$T/main.db"; then
    notok "03 the leader starts" "$(tail -n 30 "$T/main.log")"
    done_testing
    exit 1
fi
ok "03 the leader starts"

ADMIN=(--leader "$LD_URL" --cert "$D/adm.crt" --key "$D/adm.key" --ca "$D/pki/ca.crt")
mkb() {
    local out=$1 v=$2
    shift 2
    "$W" bundle create --policy "$D/p1.yaml" "${SCOPE[@]}" --version "$v" --instances '*' \
        --sign "$D/bs" --out "$out" "$@" >/dev/null
}

# ---- 1. the path an administrator and a follower take ----
mkb "$T/b1" 1
expect "04 warden publish bundle: exit 0" 0 "" -- "$W" publish bundle "$T/b1" "${ADMIN[@]}"
check "04 ... and it prints the leader's answer" test -s "$T/out"
expect "05 the same bundle again: exit 0" 0 "" -- "$W" publish bundle "$T/b1" "${ADMIN[@]}"
mkb "$T/b1fork" 1 --policy "$D/p2.yaml" --id other
reject "06 a fork: exit 3, rejected (fork)" fork -- "$W" publish bundle "$T/b1fork" "${ADMIN[@]}"
"$W" bundle create --policy "$D/p1.yaml" "${SCOPE[@]}" --version 2 --instances '*' \
    --sign "$D/k1" --out "$T/bpurpose" >/dev/null
reject "07 a bundle signed by a kill key: exit 3, rejected (wrong-purpose)" wrong-purpose -- \
    "$W" publish bundle "$T/bpurpose" "${ADMIN[@]}"
expect "08 a follower's certificate cannot publish: 403, exit 1" 1 "403" -- "$W" publish bundle "$T/b1" \
    --leader "$LD_URL" --cert "$D/f1.crt" --key "$D/f1.key" --ca "$D/pki/ca.crt"
expect "09 a leader that is not there: exit 1" 1 "" -- "$W" publish bundle "$T/b1" \
    --leader "https://127.0.0.1:$(ld_free_port)" --cert "$D/adm.crt" --key "$D/adm.key" \
    --ca "$D/pki/ca.crt"

st=$(ld_curl "$D" f1 GET policy/latest)
check "10 curl as follower i-1: 200" test "$st" = 200
same_file "11 the follower gets exactly the published bytes" "$T/body" "$T/b1"
cp "$T/body" "$T/fetched"
expect "12 warden bundle verify accepts what the follower fetched" 0 "verified: bundle b-1" -- \
    "$W" bundle verify --roster "$D/R" --pin "$PIN" "${SCOPE[@]}" --instance i-1 "$T/fetched"

"$W" kill create "${SCOPE[@]}" --instances '*' --state active --counter 1 --reason "drill" \
    --sign "$D/k1" --sign "$D/k2" --out "$T/kill1" >/dev/null
expect "13 warden publish kill: exit 0" 0 "" -- "$W" publish kill "$T/kill1" "${ADMIN[@]}"
st=$(ld_curl "$D" f1 GET remote-kill/latest)
same_file "14 the follower gets the kill's bytes" "$T/body" "$T/kill1"
expect "15 warden kill verify accepts them" 0 "" -- "$W" kill verify --roster "$D/R" --pin "$PIN" \
    "${SCOPE[@]}" --instance i-1 "$T/body"
mkb "$T/b2" 2 --previous "$T/b1" --policy "$D/p2.yaml"
expect "16 publish v2" 0 "" -- "$W" publish bundle "$T/b2" "${ADMIN[@]}"
"$W" rollback create "${SCOPE[@]}" --instances '*' --current "$T/b2" --target "$T/b1" \
    --reason drill --sign "$D/rb1" --sign "$D/rb2" --out "$T/rb" >/dev/null
expect "17 warden publish rollback: exit 0" 0 "" -- "$W" publish rollback "$T/rb" "${ADMIN[@]}"
st=$(ld_curl "$D" f1 GET policy/latest)
same_file "18 the follower is served v1 again" "$T/body" "$T/b1"
RBID=$(hdr Warden-Rollback-Authorization)
check "18 ... naming the authorization ($RBID)" test -n "$RBID"
cp "$T/body" "$T/fetched"
st=$(ld_curl "$D" f1 GET "rollback-authorizations/$RBID")
cp "$T/body" "$T/fetched.rb"
expect "19 warden bundle verify accepts the rollback from v2 with what the leader served" 0 \
    "verified" -- "$W" bundle verify --roster "$D/R" --pin "$PIN" "${SCOPE[@]}" --instance i-1 \
    --current "$T/b2" --rollback "$T/fetched.rb" "$T/fetched"
"$W" key gen "$T/bs3" >/dev/null
"$W" roster add-key "$D/R" --key "$T/bs3.pub" --purpose policy-bundle-signing --sign "$D/root" \
    --out "$T/R8" >/dev/null
expect "20 warden publish roster: exit 0" 0 "" -- "$W" publish roster "$T/R8" "${ADMIN[@]}"
st=$(ld_curl "$D" f1 GET roster)
same_file "21 the follower gets roster 8" "$T/body" "$T/R8"
expect "22 warden roster verify accepts it as a rotation" 0 "" -- "$W" roster verify --pin "$PIN" \
    --previous "$D/R" "$T/body"

printf '{"schema_version":1,"instance_id":"i-1","labels":{"zone":"a"},"warden_version":"0.1.0","started_at":"%s","policy_state":"enforcing","active_bundle":{"version":1,"hash":"%s"},"kill":{"counter":1,"state":"active","honored":true},"last_error":null,"recorder_key":null}' \
    "$(tfmt "$(date -u +%s)")" "$(payload_hash "$T/b1")" >"$T/st1"
st=$(ld_send "$D" f1 POST status "$T/st1")
check "23 the follower POSTs its status: 204" test "$st" = 204
st=$(ld_curl "$D" adm GET followers)
check "23 GET followers: 200" test "$st" = 200
check "23 ... i-1 of prod/eu1 with its labels, state, bundle and kill as reported" jqt \
    --arg h "$(payload_hash "$T/b1")" '.followers[] | select(.instance_id == "i-1") |
     .fleet_id == "prod" and .environment == "eu1" and .labels == {"zone":"a"} and
     .policy_state == "enforcing" and .active_bundle == {"version":1,"hash":$h} and
     .kill.counter == 1 and .kill.state == "active" and .silent == false and
     (.last_seen | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))' "$T/body"
check "23 ... lag 0: it runs the rollback target the leader serves it" \
    jqt '.followers[] | select(.instance_id == "i-1") | .lag == 0' "$T/body"
check "23 ... the stream prod/eu1 shows the rollback target, version 1 ($(jq -c '.active' "$T/body"))" \
    jqt '.active["prod/eu1"].version == 1 and (.active["prod/eu1"].rollback_authorization | type) == "string"' "$T/body"
# i-2 still reports v2, above the rollback target it is served: its lag is negative until it
# applies the target
sed -e 's/"i-1"/"i-2"/' -e "s/\"version\":1,\"hash\":\"[^\"]*\"/\"version\":2,\"hash\":\"$(payload_hash "$T/b2")\"/" \
    "$T/st1" >"$T/st2"
st=$(ld_send "$D" f2 POST status "$T/st2")
check "23 i-2 reports v2 as active: 204" test "$st" = 204
st=$(ld_curl "$D" adm GET followers)
check "23 ... its lag is -1: it runs one version above the one it is served" \
    jqt '.followers[] | select(.instance_id == "i-2") | .lag == -1' "$T/body"
expect "24 warden status: exit 0" 0 "i-1" -- "$W" status "${ADMIN[@]}"
check "24 ... one row for i-1, naming its fleet" grep -q 'prod' "$T/out"
expect "25 warden status --json: exit 0" 0 "" -- "$W" status "${ADMIN[@]}" --json
check "25 ... the JSON holds i-1" bash -c "jq -e '.. | strings | select(. == \"i-1\")' '$T/out' >/dev/null"
expect "26 warden status as a follower: 403, exit 1" 1 "403" -- "$W" status --leader "$LD_URL" \
    --cert "$D/f1.crt" --key "$D/f1.key" --ca "$D/pki/ca.crt"

# ---- 2. a port that is in use ----
"$W" leader --listen "127.0.0.1:$LD_PORT" --cert "$D/leader.crt" --key "$D/leader.key" \
    --client-ca "$D/pki/ca.crt" --trust-domain "$TD" --roster "$D/R" --pin "$PIN" \
    --store "sqlite:$T/second.db" --probe-listen "127.0.0.1:$(ld_free_port)" \
    >"$T/out" 2>"$T/err" </dev/null &
p=$!
LD_PIDS+=("$p")
for i in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$p" 2>/dev/null; then notok "27 a second leader on a port in use exits" "still running"; ld_kill "$p"
else wait "$p"; rc=$?
    check "27 a second leader on a port in use exits 1 (got $rc)" test "$rc" -eq 1
    check "28 ... saying: cannot listen on 127.0.0.1:$LD_PORT: address already in use" \
        grep -qF "cannot listen on 127.0.0.1:$LD_PORT: address already in use" "$T/err"
fi

# ---- 3. racing publishes of one version ----
base=10
for round in 1 2 3 4 5; do
    v=$((base + round))
    for j in 1 2 3 4; do
        printf 'version: 1\nmode: enforce\n# round %s writer %s\n' "$round" "$j" >"$T/race.yaml"
        "$W" bundle create --policy "$T/race.yaml" "${SCOPE[@]}" --version "$v" --instances '*' \
            --id "race-$j" --sign "$D/bs" --out "$T/race.$round.$j" >/dev/null
    done
    cps=()
    for j in 1 2 3 4; do
        curl -sS --max-time 60 --cacert "$D/pki/ca.crt" --cert "$D/adm.crt" --key "$D/adm.key" \
            -X PUT -H 'Content-Type: application/json' --data-binary "@$T/race.$round.$j" \
            -o "$T/race.$round.$j.body" -w '%{http_code}' "$LD_URL$API/policy-bundles" \
            >"$T/race.$round.$j.st" 2>/dev/null &
        cps+=($!)
    done
    wait "${cps[@]}"
    got=$(for f in "$T/race.$round".[1-4].st; do echo "$(cat "$f")"; done | sort | tr '\n' ' ')
    check "29 round $round: four different v$v racing: one 201, three 409 ($got)" \
        test "$got" = "201 409 409 409 "
    win=$(grep -l '^201$' "$T/race.$round".[1-4].st | head -n 1)
    st=$(ld_curl "$D" f1 GET policy/latest)
    same_file "30 round $round: the winner is what is served" "$T/body" "${win%.st}"
done
v=20
mkb "$T/same20" "$v"
cps=()
for j in 1 2 3 4; do
    curl -sS --max-time 60 --cacert "$D/pki/ca.crt" --cert "$D/adm.crt" --key "$D/adm.key" \
        -X PUT -H 'Content-Type: application/json' --data-binary "@$T/same20" \
        -w '%{http_code}' -o /dev/null "$LD_URL$API/policy-bundles" >"$T/same.$j.st" 2>/dev/null &
    cps+=($!)
done
wait "${cps[@]}"
got=$(for f in "$T"/same.[1-4].st; do echo "$(cat "$f")"; done | sort | tr '\n' ' ')
check "31 the same bytes published four times at once: one 201, three 200 ($got)" \
    test "$got" = "200 200 200 201 "

# kills racing with one counter
for j in 1 2 3 4; do
    "$W" kill create "${SCOPE[@]}" --instances '*' --state active --counter 5 --reason "racer $j" \
        --id "kr-$j" --sign "$D/k1" --sign "$D/k2" --out "$T/krace.$j" >/dev/null
done
cps=()
for j in 1 2 3 4; do
    curl -sS --max-time 60 --cacert "$D/pki/ca.crt" --cert "$D/adm.crt" --key "$D/adm.key" \
        -X PUT -H 'Content-Type: application/json' --data-binary "@$T/krace.$j" \
        -w '%{http_code}' -o /dev/null "$LD_URL$API/remote-kill" >"$T/krace.$j.st" 2>/dev/null &
    cps+=($!)
done
wait "${cps[@]}"
got=$(for f in "$T"/krace.[1-4].st; do echo "$(cat "$f")"; done | sort | tr '\n' ' ')
check "31 four kills with counter 5 at once: one 201, three 409 ($got)" test "$got" = "201 409 409 409 "
win=$(grep -l '^201$' "$T"/krace.[1-4].st | head -n 1)
KWIN=${win%.st}
st=$(ld_curl "$D" f1 GET remote-kill/latest)
same_file "31 the kill that won is served" "$T/body" "$KWIN"

# a rollback for i-1 only: i-2 keeps the highest version
mkb "$T/r30" 30 --previous "$T/same20"
mkb "$T/r31" 31 --previous "$T/r30" --policy "$D/p2.yaml"
st=$(ld_send "$D" adm PUT policy-bundles "$T/r30"); s2=$(ld_send "$D" adm PUT policy-bundles "$T/r31")
check "31 publish v30 and v31 ($st $s2)" test "$st $s2" = "201 201"
"$W" rollback create "${SCOPE[@]}" --instances i-1 --current "$T/r31" --target "$T/r30" \
    --reason "only i-1" --id r-i1 --sign "$D/rb1" --sign "$D/rb2" --out "$T/rbi1" >/dev/null
st=$(ld_send "$D" adm PUT rollback-authorizations "$T/rbi1")
check "31 a rollback for i-1 only: 201" test "$st" = 201
st=$(ld_curl "$D" f1 GET policy/latest)
same_file "31 i-1 is served the target v30" "$T/body" "$T/r30"
check "31 ... with Warden-Rollback-Authorization: r-i1" test "$(hdr Warden-Rollback-Authorization)" = r-i1
st=$(ld_curl "$D" f2 GET policy/latest)
same_file "31 i-2, outside its audience, is still served v31" "$T/body" "$T/r31"
check "31 ... without Warden-Rollback-Authorization" test -z "$(hdr Warden-Rollback-Authorization)"
prev_loop=$T/r31

# ---- 4. kill -9 in the middle of a publish loop, restart on the same store ----
N=60
prev=$prev_loop
for i in $(seq 1 $N); do
    mkb "$T/loop.$i" $((100 + i)) --previous "$prev"
    prev=$T/loop.$i
done
: >"$T/loop.log"
(
    for i in $(seq 1 $N); do
        s=$(curl -sS --max-time 30 --cacert "$D/pki/ca.crt" --cert "$D/adm.crt" \
            --key "$D/adm.key" -X PUT -H 'Content-Type: application/json' \
            --data-binary "@$T/loop.$i" -o /dev/null -w '%{http_code}' \
            "$LD_URL$API/policy-bundles" 2>/dev/null)
        echo "$i $s" >>"$T/loop.log"
        [ "$s" = 000 ] && break
    done
) &
LOOP=$!
for i in $(seq 1 600); do
    [ "$(grep -c ' 201$' "$T/loop.log")" -ge 10 ] && break
    kill -0 "$LOOP" 2>/dev/null || break
    sleep 0.05
done
kill -KILL "$LD_PID"
wait "$LD_PID" 2>/dev/null
wait "$LOOP"
created=$(grep -c ' 201$' "$T/loop.log")
echo "# publish loop: $created of $N answered 201 before the leader was killed"
check "32 some publishes were answered before kill -9 ($created)" test "$created" -ge 1
if ld_start again "$D" "$T/main.db"; then ok "33 the leader restarts on the same store"
else notok "33 the leader restarts on the same store" "$(tail -n 30 "$T/again.log")"; fi
st=$(ld_curl "$D" f1 GET policy/latest)
served=""
for i in $(seq 1 $N); do cmp -s "$T/body" "$T/loop.$i" && served=$i; done
check "34 after the restart, what is served is one of the loop's bundles (#$served)" test -n "$served"
hi=0
missing=""
tried=$(wc -l <"$T/loop.log")
# versions after the last one sent cannot be stored; look one further all the same
for i in $(seq 1 $((tried < N ? tried + 1 : N))); do
    s=$(ld_curl "$D" adm GET "policy-bundles/$(payload_hash "$T/loop.$i")")
    if [ "$s" = 200 ]; then
        cmp -s "$T/body" "$T/loop.$i" || missing="$missing $i(bytes)"
        hi=$i
    elif grep -q "^$i 201$" "$T/loop.log"; then missing="$missing $i"
    fi
done
check "35 every publish answered 201 is still stored, byte for byte (lost:${missing:- none})" \
    test -z "$missing"
check "36 what is served is the highest stored version (served #$served, highest #$hi)" \
    test "$served" = "$hi"
st=$(ld_curl "$D" f1 GET policy/latest -H "If-None-Match: \"$(payload_hash "$T/loop.$hi")\"")
check "37 and its ETag matches: 304" test "$st" = 304
st=$(ld_curl "$D" f1 GET roster)
same_file "37 after the restart the leader still serves the rotated roster (8)" "$T/body" "$T/R8"
st=$(ld_curl "$D" f1 GET remote-kill/latest)
same_file "37 after the restart the newest kill is still served" "$T/body" "$KWIN"
st=$(ld_curl "$D" adm GET followers)
check "37 after the restart the followers view still holds i-1" \
    jqt '[.followers[].instance_id] | index("i-1")' "$T/body"
if [ "$hi" -lt "$N" ]; then
    st=$(ld_send "$D" adm PUT policy-bundles "$T/loop.$((hi + 1))")
    check "38 the next version is accepted after the restart: 201" test "$st" = 201
else ok "38 (every loop publish landed before the kill)"; fi
ld_kill "$LD_PID"

# ---- 5. a store that cannot grow: publish 503, reads go on ----
# (SQLite only: a file size limit does not bind a PostgreSQL server; test_leader_pg.sh stops the
# database instead)
if [ -z "${LD_PG_DIR:-}" ]; then
# The leader runs with a 512 KiB file size limit (SIGXFSZ ignored, so writes past it fail with
# EFBIG): a small bundle fits, a 1 MiB one cannot be written.
LD_PRE="trap '' XFSZ; ulimit -f 512"
if ld_start full "$D" "$T/full.db"; then ok "39 a leader with a 512 KiB file size limit starts"
else notok "39 a leader with a 512 KiB file size limit starts" "$(tail -n 30 "$T/full.log")"; fi
unset LD_PRE
st=$(ld_send "$D" adm PUT policy-bundles "$T/b1")
check "40 a small bundle is stored: 201" test "$st" = 201
mkb "$T/big" 2 --previous "$T/b1"
pad_to "$T/big" "$T/bigpad" 1048000
st=$(ld_send "$D" adm PUT policy-bundles "$T/bigpad")
check "41 a bundle the store cannot write: 503 ($st $(errcode))" test "$st" = 503
check "41 ... with code unavailable" test "$(errcode)" = unavailable
st=$(ld_curl "$D" f1 GET policy/latest)
check "42 reads go on: GET policy/latest 200" test "$st" = 200
same_file "42 ... serving the bundle that was stored" "$T/body" "$T/b1"
st=$(ld_curl "$D" f1 GET policy/latest -H "If-None-Match: \"$(payload_hash "$T/b1")\"")
check "43 reads go on: 304 for the current ETag" test "$st" = 304
st=$(ld_curl "$D" adm GET "policy-bundles/$(payload_hash "$T/bigpad")")
check "44 the bundle that failed is not stored: 404" test "$st" = 404
m=$(metric 'warden_leader_publishes_total{kind="bundle",outcome="unavailable"}')
check "45 /metrics counts the unavailable publish ($m)" test "${m:-0}" -ge 1 2>/dev/null
m=$(metric 'warden_leader_errors_total{class="internal"}')
check "46 a full store is not an internal error (${m:-absent})" test "${m:-0}" = 0
ld_kill "$LD_PID"
fi

# ---- 6. the connection cap: new connections are refused, held polls are kept ----
if ld_start cap "$D" "$T/cap.db" --max-conns 2; then ok "48 a leader with --max-conns 2 starts"
else notok "48 a leader with --max-conns 2 starts" "$(tail -n 30 "$T/cap.log")"; fi
st=$(ld_send "$D" adm PUT policy-bundles "$T/b1")
check "49 publish v1: 201" test "$st" = 201
E1="\"$(payload_hash "$T/b1")\""
cps=()
for j in 1 2; do
    curl -sS --max-time 60 --cacert "$D/pki/ca.crt" --cert "$D/f$j.crt" --key "$D/f$j.key" \
        -H "If-None-Match: $E1" -H 'Prefer: wait=5' -D "$T/cap.$j.hdr" -o /dev/null \
        -w '%{http_code}' "$LD_URL$API/policy/latest" >"$T/cap.$j.st" 2>/dev/null &
    cps+=($!)
done
for i in $(seq 1 600); do [ "$(metric warden_leader_held_polls)" = 2 ] && break; sleep 0.1; done
check "50 two polls are held ($(metric warden_leader_held_polls))" test "$(metric warden_leader_held_polls)" = 2
st=$(ld_curl "$D" f1 GET capabilities)
check "51 a third connection is refused before HTTP ($st)" test "$st" = 000
wait "${cps[@]}"
for j in 1 2; do
    check "52 held poll $j is not dropped: 304 with Preference-Applied: wait=5 ($(cat "$T/cap.$j.st"))" \
        bash -c "test \"\$(cat '$T/cap.$j.st')\" = 304 && tr -d '\r' <'$T/cap.$j.hdr' | grep -qix 'preference-applied: wait=5'"
done
m=$(metric 'warden_leader_handshake_failures_total{reason="capacity"}')
check "53 /metrics counts the refusal as capacity (${m:-absent})" test "${m:-0}" -ge 1
st=$(ld_curl "$D" f1 GET capabilities)
check "54 once the polls are answered, new connections are taken again ($st)" test "$st" = 200
ld_kill "$LD_PID"

for l in main again full cap; do
    [ -e "$T/$l.log" ] || continue
    check "47 $l: no sanitizer report in the leader's log" \
        bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$T/$l.log'"
done
done_testing
