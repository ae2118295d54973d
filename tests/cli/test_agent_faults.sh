#!/bin/bash
# test_agent_faults.sh — `warden agent` against a fault-injecting leader
# (tests/interop/fault_leader.mjs: Node https, client certificate required, 127.0.0.1 on an
# ephemeral port) with signed fixtures made here by the warden CLI. For every fault: the exact
# code in the agent's log, the state directory's policy files byte for byte unchanged, and the
# NEXT request carrying the old ETag (the fake records If-None-Match). Then the outcomes that do
# change the state: a skipped version (accepted and logged), an authorized rollback. A rejected
# poll is the last error of `warden agent status --json`; a bundle past its expiry and grace
# puts a fresh host in deny-all, and a real `warden run` is refused there.
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/cli/agent_fixtures.sh"
PIDS=()
cleanup() {
    exec 8>&- 2>/dev/null
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
W=$WARDEN
W_DIR=$T/w
mk_agent_world "$W_DIR" || { notok "fixtures"; done_testing; exit 1; }
F=$T/f
mkdir -p "$F"
# another CA's leader certificate (the TLS failure), a key only a later roster knows (the gap)
"$W" pki init --trust-domain fleet.test --dir "$T/altpki" >/dev/null
"$W" pki issue --dir "$T/altpki" --leader 127.0.0.1 --out "$T/altleader" >/dev/null
"$W" key gen "$W_DIR/b2" >/dev/null
"$W" key gen "$W_DIR/x" >/dev/null
"$W" roster add-key "$W_DIR/roster6.json" --key "$W_DIR/b2.pub" --purpose policy-bundle-signing \
    --sign "$W_DIR/root" --out "$W_DIR/roster7.json" >/dev/null
"$W" roster add-key "$W_DIR/roster7.json" --key "$W_DIR/x.pub" --purpose audit-batch-signing \
    --sign "$W_DIR/root" --out "$W_DIR/roster8.json" >/dev/null

BARGS=(--org acme --fleet web --env prod --instances '*')
mkb() { # mkb VERSION OUT [extra bundle create flags...]
    local v=$1 out=$2; shift 2
    "$W" bundle create --policy "$W_DIR/policy.yaml" --version "$v" "${BARGS[@]}" \
        --sign "$W_DIR/b1" "$@" --out "$out" >/dev/null
}
mkk() { # mkk COUNTER STATE OUT [signers...]
    local c=$1 st=$2 out=$3; shift 3
    local s=() k
    for k in "${@:-k1 k2}"; do for kk in $k; do s+=(--sign "$W_DIR/$kk"); done; done
    "$W" kill create --org acme --fleet web --env prod --instances '*' --state "$st" \
        --counter "$c" --reason "incident $c" "${s[@]}" --out "$out" >/dev/null
}
# resign PAYLOAD_PY OUT KEY TYPE: take b1's payload, apply a python expression to d, sign
resign() {
    local expr=$1 out=$2 key=$3 src=$4
    "$W" bundle inspect --json "$src" | python3 -c '
import json, sys, datetime
d = json.load(sys.stdin)["payload"]
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
t = lambda h: (now + datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
exec(sys.argv[1])
sys.stdout.write(json.dumps(d, separators=(",", ":")))' "$expr" >"$out.payload" &&
        "$W" dsse sign --type application/vnd.warden.policy-bundle.v1+json --key "$W_DIR/$key" \
            "$out.payload" "$out" >/dev/null
}

mkb 1 "$F/b1.json"
mkb 2 "$F/b2.json" --previous "$F/b1.json"
mkb 3 "$F/b3.json" --previous "$F/b2.json"
mkb 4 "$F/b4.json" --previous "$F/b3.json"          # skips 3 when served after 2
# envelope-level faults of v3 (python edits bytes; the signature still covers the payload)
python3 - "$F" <<'PY'
import sys, json
F = sys.argv[1]
b = open(f"{F}/b3.json", "rb").read()
open(f"{F}/utf8.json", "wb").write(b[:1] + b' "\xff\xfe": 1,' + b[1:])
open(f"{F}/unknown.json", "wb").write(b[:1] + b'"extra":1,' + b[1:])
d = json.loads(b)
open(f"{F}/dup.json", "wb").write(b[:1] + b'"payloadType":' + json.dumps(d["payloadType"]).encode() + b',' + b[1:])
open(f"{F}/trailing.json", "wb").write(b + b' x')
open(f"{F}/second.json", "wb").write(b + b'\n{}')
# at the cap (1 MiB, padded with spaces after the first byte) and one byte over
cap = 1024 * 1024
open(f"{F}/over.json", "wb").write(b[:1] + b" " * (cap + 1 - len(b)) + b[1:])
PY
mkb 3 "$F/wrongpurpose.json" --sign "$W_DIR/k1"
sed -i 's|"signatures":\[{[^}]*},|"signatures":[|' "$F/wrongpurpose.json" # k1's signature only
"$W" bundle create --policy "$W_DIR/policy.yaml" --version 3 "${BARGS[@]}" --sign "$W_DIR/evil" \
    --out "$F/wrongsigner.json" >/dev/null
resign 'd["not_before"]=t(-3); d["created_at"]=t(-3); d["expires_at"]=t(-1); d["version"]=3' "$F/expired.json" b1 "$F/b3.json"
mkb 3 "$F/notyet.json" --not-before "$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)"
"$W" bundle create --policy "$W_DIR/policy.yaml" --version 3 --org other --fleet web --env prod \
    --instances '*' --sign "$W_DIR/b1" --out "$F/otherorg.json" >/dev/null
"$W" bundle create --policy "$W_DIR/policy.yaml" --version 3 --org acme --fleet db --env prod \
    --instances '*' --sign "$W_DIR/b1" --out "$F/otherfleet.json" >/dev/null
"$W" bundle create --policy "$W_DIR/policy.yaml" --version 3 --org acme --fleet web --env dev \
    --instances '*' --sign "$W_DIR/b1" --out "$F/otherenv.json" >/dev/null
"$W" bundle create --policy "$W_DIR/policy.yaml" --version 3 --org acme --fleet web --env prod \
    --instances web-9 --sign "$W_DIR/b1" --out "$F/otheraud.json" >/dev/null
{ cat "$W_DIR/policy.yaml"; echo "# another policy"; } >"$T/policy2.yaml"
"$W" bundle create --policy "$T/policy2.yaml" --version 2 "${BARGS[@]}" --previous "$F/b1.json" \
    --sign "$W_DIR/b1" --out "$F/fork.json" >/dev/null
"$W" bundle create --policy "$W_DIR/policy.yaml" --version 5 "${BARGS[@]}" --sign "$W_DIR/b2" \
    --out "$F/gap.json" >/dev/null
mkk 5 active "$F/k5.json"
mkk 6 inactive "$F/k6.json"
mkk 3 active "$F/k3.json"
mkk 7 active "$F/k7one.json" k1
mkk 7 active "$F/k7.json"
"$W" rollback create --org acme --fleet web --env prod --instances '*' --current "$F/b4.json" \
    --target "$F/b2.json" --reason "back to 2" --id r-1 --sign "$W_DIR/r1" --sign "$W_DIR/r2" \
    --out "$F/rb.json" >/dev/null
for f in b1 b2 b3 b4 utf8 unknown dup trailing second over wrongpurpose wrongsigner expired notyet \
    otherorg otherfleet otherenv otheraud fork gap k5 k6 k3 k7one k7 rb; do
    [ -s "$F/$f.json" ] || { notok "fixture $f.json"; }
done

# ---- the fault leader ----
S=$T/script.json
REC=$T/record.jsonl
: >"$REC"
routes='"/api/v1/conductor/roster":{"status":200,"file":"'$W_DIR'/roster6.json"}'
for v in 1 2 3 4 5 6; do routes+=',"/api/v1/conductor/roster/'$v'":{"status":200,"file":"'$W_DIR/roster$v.json'"}'; done
ROUTES=$routes
script() { # script POLICY_STEPS KILL_STEPS [EXTRA_ROUTES] [TLS]
    printf '{"policy":[%s],"kill":[%s],"routes":{%s%s},"tls":"%s","hold_ms":1000}\n' \
        "$1" "$2" "$ROUTES" "${3:+,$3}" "${4:-good}" >"$S.tmp" && mv "$S.tmp" "$S"
}
serve() { printf '{"status":200,"file":"%s"%s}' "$F/$1.json" "${2:+,$2}"; }
script "" ""
mkfifo "$T/hold"
node "$WD_SRCDIR/tests/interop/fault_leader.mjs" --cert "$W_DIR/leader.crt" --key "$W_DIR/leader.key" \
    --alt-cert "$T/altleader.crt" --alt-key "$T/altleader.key" --client-ca "$W_DIR/pki/ca.crt" \
    --script "$S" --record "$REC" <"$T/hold" >"$T/fl.out" 2>"$T/fl.err" &
PIDS+=($!)
exec 8>"$T/hold"
for _ in $(seq 1 100); do grep -q '^PORT ' "$T/fl.out" && break; sleep 0.1; done
FPORT=$(sed -n 's/^PORT //p' "$T/fl.out")
[ -n "$FPORT" ] || { notok "the fault leader starts" "$(cat "$T/fl.err")"; done_testing; exit 1; }

SD=$T/state
agent_conf "$T/agent.yaml" "https://127.0.0.1:$FPORT" "$SD"
sed -i 's/poll_interval: 2s/poll_interval: 1s/' "$T/agent.yaml"
script "$(serve b1)" ""
start_agent "$T/agent.yaml" "$T/agent.log"
wait_log "$T/agent.log" 'applied loop=policy' 60
script "$(serve b2)" ""
if wait_log "$T/agent.log" 'applied loop=policy transition=forward detail="version 1 -> 2"' 60; then ok "01 bundles 1 then 2 are applied from the fake leader"
else notok "01 bundles 1 then 2 are applied from the fake leader" "$(tail -20 "$T/agent.log")"; fi

# snapshot: every file that decides what runs (status.json and last_error.json may change)
snap() {
    (cd "$SD" && { readlink active; find roster.json rosters bundles kill.json kill-seen.json floor \
        etag.policy etag.kill enforce.json -type f 2>/dev/null | sort | xargs -r sha256sum; })
}
# inm_after N PATH: the If-None-Match of the first request to PATH after record line N, or "-"
req_after() { # req_after N PATH K: the If-None-Match of the K-th (0-based) request to PATH after
    # record line N: its value, "-" when it had none, "?" when there is no such request yet
    local line
    line=$(tail -n +$(($1 + 1)) "$REC" | grep -F "\"path\":\"$2\"" | sed -n "$(($3 + 1))p")
    if [ -z "$line" ]; then echo "?"
    elif [[ "$line" == *'"inm":null'* ]]; then echo "-"
    else sed -E 's/.*"inm":"(([^"\\]|\\.)*)".*/\1/; s/\\"/"/g' <<<"$line"; fi
}

# fault NAME CODE LOOP STEP [TLS] [ROUTES]: serve STEP once on LOOP's route (or switch TLS to
# bad; ROUTES: more fixed answers, JSON members), expect
# CODE in the log, the state unchanged, and the next request on that route with the old ETag.
fault() {
    local name=$1 code=$2 loop=$3 step=$4 tls=${5:-good} extra=${6:-}
    local route=/api/v1/conductor/policy/latest etagf=etag.policy
    [ "$loop" = kill ] && route=/api/v1/conductor/remote-kill/latest && etagf=etag.kill
    local before n0 old pat
    before=$(snap)
    old=$(cat "$SD/$etagf" 2>/dev/null || echo -)
    n0=$(wc -l <"$REC")
    local c0
    c0=$(grep -cE "(rejected|poll-failed) loop=$loop .*code=$code( |$)" "$T/agent.log")
    if [ "$loop" = kill ]; then script "" "$step" "$extra" "$tls"; else script "$step" "" "$extra" "$tls"; fi
    pat="(rejected|poll-failed) loop=$loop .*code=$code( |$)"
    local got=0
    for _ in $(seq 1 600); do
        [ "$(grep -cE "$pat" "$T/agent.log")" -gt "$c0" ] && { got=1; break; }
        sleep 0.1
    done
    if [ $got = 1 ]; then ok "$name: logged with code $code"
    else notok "$name: logged with code $code" "$(tail -8 "$T/agent.log")"; fi
    [ "$tls" = bad ] && script "" ""
    # the next request on the route after the faulty one
    local k=1 nxt="?"
    [ "$tls" = bad ] && k=0
    for _ in $(seq 1 600); do
        nxt=$(req_after "$n0" "$route" "$k")
        [ "$nxt" != "?" ] && break
        sleep 0.1
    done
    if [ "$nxt" = "$old" ]; then ok "$name: the next request carries the old ETag"
    else notok "$name: the next request carries the old ETag" "old: $old" "sent: $nxt"; fi
    if [ "$(snap)" = "$before" ]; then ok "$name: the state directory is unchanged"
    else notok "$name: the state directory is unchanged" "$(diff <(echo "$before") <(snap))"; fi
}

fault "02 500" io-error policy '{"status":500,"body":"{\"error\":{\"code\":\"internal\",\"message\":\"x\"}}"}'
check "02b ... the log names the status" grep -q "the leader answered 500: internal" "$T/agent.log"
fault "03 502" io-error policy '{"status":502,"body":"bad gateway"}'
# libcurl sends a request again once when a kept-alive connection turns out dead: reset twice
fault "04 connection reset" io-error policy '{"reset":true},{"reset":true}'
fault "05 TLS failure (a leader certificate of another CA)" io-error policy "" bad
check "05b ... logged as a TLS failure" grep -q "TLS with https://127.0.0.1:$FPORT failed" "$T/agent.log"
fault "06 a body cut short" io-error policy "$(printf '{"status":200,"cut":100,"file":"%s"}' "$F/b3.json")"
fault "07 one byte over the 1 MiB cap" oversized policy "$(serve over)"
fault "08 a body that never ends" oversized policy '{"endless":true}'
fault "09 invalid UTF-8" malformed policy "$(serve utf8)"
fault "10 an unknown envelope field" unknown-field policy "$(serve unknown)"
fault "11 a duplicate key" duplicate-key policy "$(serve dup)"
fault "12 trailing data" trailing-data policy "$(serve trailing)"
fault "13 a second JSON document" trailing-data policy "$(serve second)"
fault "14 wrong payloadType (a kill on the bundle route)" wrong-type policy "$(serve k5)"
fault "15 wrong purpose (signed by a kill key)" wrong-purpose policy "$(serve wrongpurpose)"
fault "16 wrong signer (a key no roster lists)" bad-signature policy "$(serve wrongsigner)"
fault "17 expired" expired policy "$(serve expired)"
fault "18 not yet valid" not-yet-valid policy "$(serve notyet)"
fault "19 another org" wrong-scope policy "$(serve otherorg)"
fault "20 another fleet" wrong-scope policy "$(serve otherfleet)"
fault "21 another environment" wrong-scope policy "$(serve otherenv)"
fault "22 another audience" wrong-audience policy "$(serve otheraud)"
fault "23 a fork (version 2, other bytes)" fork policy "$(serve fork)"
# a rejected poll is the last error in the status (for `warden agent status` and the leader)
# while the leader keeps serving it; a 304 afterwards (nothing newer to fetch) clears it
status_has() { # status_has TEXT [--json]: wait (60 s at most) until agent status shows TEXT
    for _ in $(seq 1 600); do
        "$W" agent status --state-dir "$SD" ${2:-} 2>/dev/null | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    return 1
}
script "$(serve fork),$(serve fork),$(serve fork)" ""
check "23b ... warden agent status --json shows it as last_error" status_has '"last_error":{"code":"fork",' --json
check "23c ... and the text form names it" status_has "last error: fork"
check "23d ... a 304 once the leader stops serving it clears it" status_has '"last_error":null' --json
fault "24 a stale version (1 after 2)" stale policy "$(serve b1)"
fault "25 a rollback without its authorization" stale policy \
    "$(serve b1 '"headers":{"warden-rollback-authorization":"r-9"}')"
fault "26 a roster gap (roster 7 missing, the leader's newest is 8)" untrusted-root policy \
    "$(serve gap)" good '"/api/v1/conductor/roster":{"status":200,"file":"'"$W_DIR"'/roster8.json"}'
check "26b ... the bundle's own rejection led to the walk" grep -q "the leader's newest roster" "$T/agent.log"

# ---- kills: applied, lifted, then a replay and a counter below the floor ----
script "" "$(serve k5)"
wait_log "$T/agent.log" 'applied loop=kill' 60
script "" "$(serve k6)"
for _ in $(seq 1 300); do cmp -s "$SD/kill.json" "$F/k6.json" && break; sleep 0.1; done
check "27 kills 5 (active) then 6 (inactive) are applied" cmp -s "$SD/kill.json" "$F/k6.json"
fault "28 a kill replay (5 after 6)" stale kill "$(serve k5)"
fault "29 a kill whose counter is below the floor (3)" stale kill "$(serve k3)"
fault "30 a kill below its threshold (one signature of two)" threshold kill "$(serve k7one)"
fault "31 a kill one byte over the 64 KiB cap" oversized kill \
    "$(python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(b[:1]+b" "*(65537-len(b))+b[1:])' "$F/k7.json" "$F/k7over.json"; serve k7over)"
# at the cap exactly: applied
python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(b[:1]+b" "*(65536-len(b))+b[1:])' "$F/k7.json" "$F/k7cap.json"
script "" "$(serve k7cap)"
for _ in $(seq 1 300); do cmp -s "$SD/kill.json" "$F/k7cap.json" && break; sleep 0.1; done
check "32 a kill of exactly 64 KiB is applied" cmp -s "$SD/kill.json" "$F/k7cap.json"
expect "33 ... the host is killed" 0 "policy state: killed" -- "$W" agent status --state-dir "$SD"

# ---- what does change the state ----
script "$(serve b4)" ""
if wait_log "$T/agent.log" 'applied loop=policy transition=versions-skipped detail="version 2 -> 4' 60; then ok "34 a skipped version is accepted and logged"
else notok "34 a skipped version is accepted and logged" "$(grep 'loop=policy' "$T/agent.log" | tail -3)"; fi
check "35 ... active is bundle 4" bash -c '[[ "$(readlink "$1/active")" == bundles/4-* ]]' _ "$SD"
expect "35b ... and the success cleared the last error" 0 '"last_error":null' -- \
    "$W" agent status --state-dir "$SD" --json
script "$(serve b2 '"headers":{"warden-rollback-authorization":"r-1"}')" "" \
    '"/api/v1/conductor/rollback-authorizations/r-1":{"status":200,"file":"'"$F"'/rb.json"}'
if wait_log "$T/agent.log" 'applied loop=policy transition=rollback detail="rollback from version 4 to 2 authorized by r-1"' 60; then ok "36 a rollback with its authorization is applied"
else notok "36 a rollback with its authorization is applied" "$(grep 'loop=policy' "$T/agent.log" | tail -3)"; fi
check "37 ... active is bundle 2 again" bash -c '[[ "$(readlink "$1/active")" == bundles/2-* ]]' _ "$SD"
check "38 ... the authorization was fetched" grep -q '"path":"/api/v1/conductor/rollback-authorizations/r-1"' "$REC"
fault "39 after the rollback, version 4 stays refused (the floor)" stale policy "$(serve b4)"
# a bundle of exactly 1 MiB (the cap) is read and applied
mkb 5 "$F/b5.json" --previous "$F/b4.json"
python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(b[:1]+b" "*(1048576-len(b))+b[1:])' "$F/b5.json" "$F/b5cap.json"
script "$(serve b5cap)" ""
if wait_log "$T/agent.log" 'applied loop=policy transition=[a-z-]+ detail="version 2 -> 5' 60 &&
    cmp -s "$SD/active/bundle.json" "$F/b5cap.json"; then ok "39b a bundle of exactly 1 MiB is applied"
else notok "39b a bundle of exactly 1 MiB is applied" "$(grep 'loop=policy' "$T/agent.log" | tail -3)"; fi
UNAUTH=$(grep -v "instance/web-7" "$REC" | grep -v '"resumed":true')
if [ -z "$UNAUTH" ]; then ok "40 every request presented the follower certificate (or resumed a session that did)"
else notok "40 every request presented the follower certificate (or resumed a session that did)" "$UNAUTH"; fi

stop_agent
check "41 SIGTERM: exit 0" test $? -eq 0

# ---- stale past its grace: deny-all, and a real `warden run` is refused ----
# A fresh host whose only bundle expires 40 s after it is made (time enough to fetch the roster
# chain and apply it), with a grace of 1 s and then deny-all.
SD2=$T/state2
agent_conf "$T/agent2.yaml" "https://127.0.0.1:$FPORT" "$SD2"
sed -i -e 's/poll_interval: 2s/poll_interval: 1s/' \
    -e 's/^  long_poll: true/  long_poll: true\n  stale_policy: {grace: 1s, then: deny-all}/' "$T/agent2.yaml"
mkb 1 "$F/short.json" --expires-in 40s
EXP=$(date -u -d "$("$W" bundle inspect --json "$F/short.json" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["payload"]["expires_at"])')" +%s)
script "$(serve short)" ""
start_agent "$T/agent2.yaml" "$T/agent2.log"
if wait_log "$T/agent2.log" 'applied loop=policy' 60; then ok "42 a bundle that expires in 40 s is applied"
else notok "42 a bundle that expires in 40 s is applied" "$(tail -5 "$T/agent2.log")"; fi
# wait until its expiry and the grace are over (the clock, not a sleep of guessed length)
while [ "$(date -u +%s)" -le $((EXP + 1)) ]; do sleep 1; done
for _ in $(seq 1 300); do
    "$W" agent status --state-dir "$SD2" 2>/dev/null | grep -q "^policy state: deny-all$" && break
    sleep 0.1
done
expect "43 expired and past its grace: policy state deny-all" 0 "policy state: deny-all" -- \
    "$W" agent status --state-dir "$SD2"
check "43b ... the active bundle is still the one applied" cmp -s "$SD2/active/bundle.json" "$F/short.json"
rm -f "$T/marker"
expect "44 a real warden run is refused under it: exit 3" 3 "stale policy (deny-all)" -- \
    "$W" run --state-dir "$SD2" -- sh -c "touch '$T/marker'"
check "44b ... and the server never ran" test ! -e "$T/marker"
expect "44c ... warden agent status --json says deny-all" 0 '"policy_state":"deny-all"' -- \
    "$W" agent status --state-dir "$SD2" --json
stop_agent
check "45 SIGTERM: exit 0" test $? -eq 0
done_testing
