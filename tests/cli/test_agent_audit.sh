#!/bin/bash
# test_agent_audit.sh — the agent's flight recorder and audit shipper against the REAL leader
# (`warden leader`, SQLite store, 127.0.0.1, ephemeral port): the agent records policy_applied
# and kill_applied; its lines (and those another process appends to the same chain) reach the
# leader byte for byte, checked in the leader's store with Python's sqlite3; the status report
# carries the recorder key's keyid; with the leader down batches wait in state_dir/spool and are
# all delivered once it is back; past spool_max the oldest unsent records are dropped, counted
# in /metrics and recorded as an audit_gap entry, and the leader flags the gap.
# usage: test_agent_audit.sh RECORDER_APPEND (tests/unit/recorder_append.c, built by meson)
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/cli/agent_fixtures.sh"
APPEND=${1:?usage: test_agent_audit.sh RECORDER_APPEND}
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
W=$WARDEN
W_DIR=$T/w
mk_agent_world "$W_DIR" || { notok "fixtures"; done_testing; exit 1; }

start_leader() { # start_leader PORT (0: any) STARTS -> LEADER_PID, PORT
    "$W" leader --listen "127.0.0.1:$1" --probe-listen 127.0.0.1:0 --store "sqlite:$T/leader.db" \
        --cert "$W_DIR/leader.crt" --key "$W_DIR/leader.key" --client-ca "$W_DIR/pki/ca.crt" \
        --trust-domain fleet.test --roster "$W_DIR/roster1.json" --pin "$PIN" \
        --log-format text 2>>"$T/leader.log" &
    LEADER_PID=$!
    PIDS+=("$LEADER_PID")
    for _ in $(seq 1 200); do
        PORT=$(sed -n 's/.* start listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/leader.log" | tail -1)
        [ -n "$PORT" ] && [ "$(grep -c ' start ' "$T/leader.log")" -ge "$2" ] && return 0
        kill -0 "$LEADER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
stop_leader() {
    kill -TERM "$LEADER_PID"
    timeout 30 tail --pid="$LEADER_PID" -f /dev/null
}
start_leader 0 1 || { notok "the leader starts" "$(cat "$T/leader.log")"; done_testing; exit 1; }
URL=https://127.0.0.1:$PORT
ADM=(--leader "$URL" --cert "$W_DIR/alice.crt" --key "$W_DIR/alice.key" --ca "$W_DIR/pki/ca.crt")
for v in 2 3 4 5 6; do "$W" publish roster "$W_DIR/roster$v.json" "${ADM[@]}" >/dev/null; done
"$W" bundle create --policy "$W_DIR/policy.yaml" --org acme --fleet web --env prod --version 1 \
    --instances '*' --sign "$W_DIR/b1" --out "$T/b1.json" >/dev/null
"$W" publish bundle "$T/b1.json" "${ADM[@]}" >/dev/null

# the leader's store, read with Python's sqlite3 (read-only): what web-7 shipped
cat >"$T/held.py" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
rows = db.execute("SELECT first_seq, last_seq, gap, bytes FROM audit_batches "
                  "WHERE instance = 'web-7' ORDER BY first_seq").fetchall()
what = sys.argv[2]
if what == "last":
    print(max([r[1] for r in rows] or [0]))
elif what == "gaps":
    print(sum(r[2] for r in rows))
elif what == "status":  # the status report the leader holds
    for (st,) in db.execute("SELECT status_json FROM followers WHERE instance = 'web-7'"):
        print(st)
elif what == "lines":   # every record held, one per line, in seq order
    for r in rows:
        for line in json.loads(r[3])["records"]:
            sys.stdout.write(line + "\n")
EOF
held() { python3 "$T/held.py" "$T/leader.db" "$1"; }
# every recorder line, in order, as written
rec_lines() { cat "$T/rec"/seg-*.jsonl; }
rec_last() { tail -n 1 "$T/rec/$(ls "$T/rec" | grep '^seg-' | tail -1)" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["seq"])'; }
# wait_held N: until the leader holds the chain up to seq N
wait_held() {
    for _ in $(seq 1 1500); do
        [ "$(held last 2>/dev/null)" = "$1" ] && return 0
        sleep 0.2
    done
    return 1
}

"$W" key gen "$T/rec.key" >/dev/null
RKEY=$("$W" key id "$T/rec.key")
SD=$T/state
agent_conf "$T/agent.yaml" "$URL" "$SD" "metrics: {listen: 127.0.0.1:0}
audit: {spool_max: 64MiB, batch_max_records: 4, flush_interval: 1s}
flight_recorder: {dir: $T/rec, signing_key: $T/rec.key, checkpoint_every: 5, checkpoint_interval: 1h}"
start_agent "$T/agent.yaml" "$T/agent.log"
if wait_log "$T/agent.log" "applied loop=policy" 60; then ok "01 bundle 1 is applied"
else notok "01 bundle 1 is applied" "$(tail -20 "$T/agent.log")"; fi
check "02 the recorder directory was created 0700" test "$(stat -c %a "$T/rec")" = 700
check "03 the agent recorded policy_applied with the bundle's version and hash" \
    grep -qE '"kind":"policy_applied","bundle_id":"[^"]+","version":1,"hash":"sha256:[0-9a-f]{64}","transition":"first","policy_state":"enforcing"' \
    "$T/rec/seg-00000000000000000001.jsonl"
if wait_held 1; then ok "04 the line reaches the leader"
else notok "04 the line reaches the leader" "$(tail -20 "$T/agent.log")"; fi
check "05 the status report carries the recorder key's keyid" \
    grep -qF "\"recorder_key\":\"$RKEY\"" "$SD/status.json"
check "06 ... and the leader holds it in the report it stored" \
    bash -c 'python3 "$1" "$2" status | grep -qF "\"recorder_key\":\"$3\""' _ "$T/held.py" "$T/leader.db" "$RKEY"

# another process (as each `warden run` does) appends to the same chain beside the agent
"$APPEND" "$T/rec" 9 50
"$W" kill create --org acme --fleet web --env prod --instances '*' --state active --counter 1 \
    --reason "incident 7" --sign "$W_DIR/k1" --sign "$W_DIR/k2" --out "$T/kill1.json" >/dev/null
"$W" publish kill "$T/kill1.json" "${ADM[@]}" >/dev/null
if wait_log "$T/agent.log" "applied loop=kill" 30; then ok "07 the kill is applied"
else notok "07 the kill is applied" "$(tail -20 "$T/agent.log")"; fi
for _ in $(seq 1 100); do grep -q '"kind":"kill_applied"' "$T"/rec/seg-*.jsonl && break; sleep 0.1; done
check "08 the agent recorded kill_applied with counter and state" \
    grep -qE '"kind":"kill_applied","message_id":"[^"]+","counter":1,"state":"active"' "$T"/rec/seg-*.jsonl
N=$(rec_last)
if wait_held "$N"; then ok "09 every line up to seq $N reaches the leader"
else notok "09 every line up to seq $N reaches the leader" "held $(held last), $(tail -20 "$T/agent.log")"; fi
rec_lines >"$T/rec.txt"
held lines >"$T/held.txt"
same_file "10 the leader holds exactly the recorder's lines, byte for byte" "$T/rec.txt" "$T/held.txt"
check "11 no gap flagged" test "$(held gaps)" = 0
check "12 the chain holds checkpoints signed by the recorder key" grep -q '"kind":"checkpoint"' "$T/rec.txt"
expect "13 the recorder verifies" 0 "verified: $N entries" -- "$W" recorder verify --key "$T/rec.key.pub" "$T/rec"
check "14 the spool is empty once acknowledged" test -z "$(ls "$SD/spool" | grep '^batch-')"

# ---- the leader goes away: batches wait in the spool, then all arrive ----
stop_leader
"$APPEND" "$T/rec" 10 50
if wait_log "$T/agent.log" "audit-failed batch=batch-" 60; then ok "15 leader down: sending fails and is logged"
else notok "15 leader down: sending fails and is logged" "$(tail -20 "$T/agent.log")"; fi
check "16 ... and backs off" wait_log "$T/agent.log" "backoff loop=audit seconds=[0-9]+ failures=" 30
check "17 ... the new lines wait in state_dir/spool" test -n "$(ls "$SD/spool" | grep '^batch-')"
first_spooled=$(ls "$SD/spool" | grep '^batch-' | head -1)
check "18 ... a spooled batch is the POST body, batch_id <instance>-<first_seq>" python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
assert b["schema_version"] == 1 and b["instance_id"] == "web-7"
assert b["batch_id"] == "web-7-%d" % b["first_seq"]
assert len(b["records"]) == b["last_seq"] - b["first_seq"] + 1 <= 4
' "$SD/spool/$first_spooled"
N=$(rec_last)
start_leader "$PORT" 2 || notok "the leader restarts on its port" "$(tail -5 "$T/leader.log")"
if wait_held "$N"; then ok "19 leader back: everything up to seq $N is delivered"
else notok "19 leader back: everything up to seq $N is delivered" "held $(held last), $(tail -20 "$T/agent.log")"; fi
rec_lines >"$T/rec.txt"
held lines >"$T/held.txt"
same_file "20 ... nothing lost, nothing twice, byte for byte" "$T/rec.txt" "$T/held.txt"
check "21 ... still no gap" test "$(held gaps)" = 0
for _ in $(seq 1 100); do [ -z "$(ls "$SD/spool" | grep '^batch-')" ] && break; sleep 0.1; done
check "22 ... and the spool is empty" test -z "$(ls "$SD/spool" | grep '^batch-')"

# ---- spool_max: the oldest unsent records are dropped, counted, and the gap recorded ----
sed -i 's/spool_max: 64MiB/spool_max: 3KiB/' "$T/agent.yaml"
kill -HUP "$AGENT_PID"
wait_log "$T/agent.log" "reloaded" 30
stop_leader
before=$(rec_last)
"$APPEND" "$T/rec" 40 200
if wait_log "$T/agent.log" "audit-dropped first_seq=[0-9]+ last_seq=[0-9]+ records=[0-9]+" 60; then ok "23 past spool_max the oldest unsent records are dropped and logged"
else notok "23 past spool_max the oldest unsent records are dropped and logged" "$(tail -20 "$T/agent.log")"; fi
spool_bytes=$(cat "$SD"/spool/batch-* | wc -c)
check "24 ... the spool stays within spool_max" test "$spool_bytes" -le 3072
for _ in $(seq 1 100); do grep -q '"kind":"audit_gap"' "$T"/rec/seg-*.jsonl && break; sleep 0.1; done
check "25 ... the gap is an entry of its own in the recorder" \
    grep -qE '"kind":"audit_gap","dropped_first_seq":[0-9]+,"dropped_last_seq":[0-9]+,"dropped_records":[0-9]+,"reason":"spool_max"' \
    "$T"/rec/seg-*.jsonl
dropped=$(sed -n 's/.*audit-dropped first_seq=[0-9]* last_seq=[0-9]* records=\([0-9]*\).*/\1/p' "$T/agent.log" | awk '{s+=$1} END {print s}')
MP=$(sed -n 's/.*metrics-listen listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/agent.log" | head -1)
M=$(curl -s --max-time 10 "http://127.0.0.1:$MP/metrics")
check "26 ... /metrics counts the dropped records" grep -qx "warden_agent_audit_dropped_records_total $dropped" <<<"$M"
check "27 ... the first dropped record was unsent (after what the leader held)" \
    test "$(sed -n 's/.*audit-dropped first_seq=\([0-9]*\).*/\1/p' "$T/agent.log" | head -1)" -gt "$before"
start_leader "$PORT" 3 || notok "the leader restarts on its port" "$(tail -5 "$T/leader.log")"
N=$(rec_last)
if wait_held "$N"; then ok "28 leader back: the rest up to seq $N is delivered"
else notok "28 leader back: the rest up to seq $N is delivered" "held $(held last), $(tail -20 "$T/agent.log")"; fi
check "29 ... the leader flags the gap" test "$(held gaps)" -ge 1
check "30 ... and logs it" grep -q "outcome=gap instance=web-7" "$T/leader.log"
expect "31 the recorder still verifies (the gap is in shipping, not in the chain)" 0 \
    "verified: $N entries" -- "$W" recorder verify --key "$T/rec.key.pub" "$T/rec"

stop_agent
check "32 the agent stops cleanly" test "$?" -eq 0
chmod 644 "$T/rec.key"
expect "33 a recorder key that others can read stops the start" 1 \
    "warden agent: flight recorder: recorder signing key" -- \
    timeout 60 "$W" agent --config "$T/agent.yaml"
chmod 600 "$T/rec.key"
sed -i "s|flight_recorder: {dir: [^,]*,|flight_recorder: {dir: $T/agent.yaml,|" "$T/agent.yaml"
expect "34 a recorder directory that is a file stops the start" 1 "is not a directory" -- \
    timeout 60 "$W" agent --config "$T/agent.yaml"
done_testing
