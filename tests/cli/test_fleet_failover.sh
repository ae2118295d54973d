#!/bin/bash
# test_fleet_failover.sh — the fleet with two leaders: leaders A and B on one PostgreSQL store
# (a scratch cluster on 127.0.0.1), behind a TCP balancer (tests/leader/tcp_balancer.py, in
# place of HAProxy: each connection goes to the first leader that accepts it; TLS ends at the
# leaders). A real `warden agent` polls through the balancer. Leader A is killed (SIGKILL): the
# agent reconnects through the balancer to B and converges on a bundle published through B,
# and B has its status. Then the agent's connections are cut every 300 ms for a while (a
# flapping follower): it converges again once they hold, and B's held polls do not pile up.
# Only loopback addresses; everything started is stopped on every path.
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/cli/agent_fixtures.sh"
PGS=$WD_SRCDIR/scripts/pg-scratch.sh
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    bash "$PGS" stop "$T/pg" >/dev/null 2>&1
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
W=$WARDEN
W_DIR=$T/w
mk_agent_world "$W_DIR" || { notok "fixtures"; done_testing; exit 1; }
if ! PGURL=$(bash "$PGS" start "$T/pg" 2>"$T/pg.err"); then
    notok "01 a scratch PostgreSQL cluster starts" "$(tail -n 20 "$T/pg.err")"
    done_testing
    exit 1
fi
ok "01 a scratch PostgreSQL cluster starts"

start_leader() { # start_leader NAME -> port in ${NAME}_PORT, pid in ${NAME}_PID
    local name=$1 port="" i
    "$W" leader --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --store "$PGURL" \
        --cert "$W_DIR/leader.crt" --key "$W_DIR/leader.key" --client-ca "$W_DIR/pki/ca.crt" \
        --trust-domain fleet.test --roster "$W_DIR/roster1.json" --pin "$PIN" \
        --log-format text 2>"$T/$name.log" &
    local pid=$!
    PIDS+=("$pid")
    for i in $(seq 1 300); do
        port=$(sed -n 's/.* start listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/$name.log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    printf -v "${name}_PORT" '%s' "$port"
    printf -v "${name}_PID" '%s' "$pid"
    [ -n "$port" ]
}
start_leader A && start_leader B
check "02 leaders A and B start on the one database" test -n "${A_PORT:-}" -a -n "${B_PORT:-}"
B_PROBE=$(sed -n 's/.* probe=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/B.log" | head -1)

python3 "$WD_SRCDIR/tests/leader/tcp_balancer.py" --flap-file "$T/flap" --flap-ms 300 \
    "127.0.0.1:$A_PORT" "127.0.0.1:$B_PORT" >"$T/lb.out" 2>"$T/lb.err" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^port ' "$T/lb.out" && break; sleep 0.1; done
LB_PORT=$(sed -n 's/^port //p' "$T/lb.out")
check "03 the balancer listens" test -n "$LB_PORT"

ADM_A=(--leader "https://127.0.0.1:$A_PORT" --cert "$W_DIR/alice.crt" --key "$W_DIR/alice.key" --ca "$W_DIR/pki/ca.crt")
ADM_B=(--leader "https://127.0.0.1:$B_PORT" --cert "$W_DIR/alice.crt" --key "$W_DIR/alice.key" --ca "$W_DIR/pki/ca.crt")
for v in 2 3 4 5 6; do "$W" publish roster "$W_DIR/roster$v.json" "${ADM_A[@]}" >/dev/null; done
mkb() { # mkb VERSION OUT [PREV]
    local prev=()
    [ -n "${3:-}" ] && prev=(--previous "$3")
    "$W" bundle create --policy "$W_DIR/policy.yaml" --org acme --fleet web --env prod \
        --version "$1" --instances '*' "${prev[@]}" --sign "$W_DIR/b1" --out "$2" >/dev/null
}
mkb 1 "$T/b1.json" && mkb 2 "$T/b2.json" "$T/b1.json" && mkb 3 "$T/b3.json" "$T/b2.json"
expect "04 bundle 1 is published through A" 0 "published: 201" -- "$W" publish bundle "$T/b1.json" "${ADM_A[@]}"

SD=$T/state
agent_conf "$T/agent.yaml" "https://127.0.0.1:$LB_PORT" "$SD"
start_agent "$T/agent.yaml" "$T/agent.log"
active_version() { "$W" agent status --state-dir "$SD" --json 2>/dev/null |
    python3 -c 'import json,sys; b=json.load(sys.stdin).get("active_bundle") or {}; print(b.get("version",""))'; }
wait_version() { # wait_version V SECONDS
    local i
    for i in $(seq 1 $(($2 * 10))); do [ "$(active_version)" = "$1" ] && return 0; sleep 0.1; done
    return 1
}
if wait_version 1 60; then ok "05 the agent applies bundle 1 through the balancer"
else notok "05 the agent applies bundle 1 through the balancer" "$(tail -20 "$T/agent.log")"; fi

# ---- leader A dies ----
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null
expect "06 with A gone, bundle 2 is published through B" 0 "published: 201" -- \
    "$W" publish bundle "$T/b2.json" "${ADM_B[@]}"
if wait_version 2 90; then ok "07 the agent reconnects through the balancer to B and applies bundle 2"
else notok "07 the agent reconnects through the balancer to B and applies bundle 2" "$(tail -20 "$T/agent.log")"; fi
seen=""
for _ in $(seq 1 300); do
    if "$W" status "${ADM_B[@]}" --json 2>/dev/null | python3 -c '
import json,sys
d=json.load(sys.stdin)
fs=[f for f in d.get("followers",[]) if f.get("instance_id")=="web-7"]
sys.exit(0 if fs and (fs[0].get("active_bundle") or {}).get("version")==2 else 1)'; then seen=1; break; fi
    sleep 0.1
done
check "08 leader B has the follower's report of bundle 2" test -n "$seen"

# ---- a flapping follower: every connection cut after 300 ms for 4 s ----
touch "$T/flap"
sleep 4
expect "09 bundle 3 is published through B while connections flap" 0 "published: 201" -- \
    "$W" publish bundle "$T/b3.json" "${ADM_B[@]}"
sleep 1
rm -f "$T/flap"
if wait_version 3 120; then ok "10 once connections hold, the agent converges on bundle 3"
else notok "10 once connections hold, the agent converges on bundle 3" "$(tail -20 "$T/agent.log")"; fi
check "11 the flapping showed in the agent's log as failed polls (io-error), never as a rejection" \
    bash -c "grep -q 'poll-failed loop=policy .*code=io-error' '$T/agent.log' && ! grep -E 'poll-failed|rejected' '$T/agent.log' | grep -vq 'code=io-error'"
held=""
for _ in $(seq 1 100); do
    held=$(curl -s "http://127.0.0.1:$B_PROBE/metrics" | sed -n 's/^warden_leader_held_polls \([0-9]*\)$/\1/p')
    [ -n "$held" ] && [ "$held" -le 4 ] && break
    sleep 0.2
done
check "12 B's held polls do not pile up from the cut connections (held: ${held:-?})" test -n "$held" -a "${held:-99}" -le 4
expect "13 B is ready" 0 "ready" -- curl -s "http://127.0.0.1:$B_PROBE/readyz"
stop_agent
check "14 the agent stops on SIGTERM: exit 0" test $? -eq 0
done_testing
