#!/bin/bash
# test_agent_daemon.sh — `warden agent --config FILE` against the REAL leader (`warden leader`
# with `warden pki` certificates and a SQLite store in a scratch directory), all on 127.0.0.1
# with ephemeral ports: the roster chain walked from the pin, a published bundle applied
# (`active` points to it, `warden agent status` says enforcing, the leader sees the report), v2
# applied within the long poll, a kill (threshold 2) and the inactive one that lifts it, the
# leader stopped (the host keeps enforcing and backs off) and back (recovery), /metrics, a
# metrics port in use, SIGHUP (an invalid file, restart-only fields, a live change; with a
# flight_recorder block: the signing key or the other recorder fields named precisely, an
# instance_id kept, an invalid file that changes nothing, a live change beside a refused one), SIGTERM;
# and the start-up refusals (no fingerprint, leader URL forms, unknown keys, another instance).
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/cli/agent_fixtures.sh"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
W=$WARDEN
W_DIR=$T/w
mk_agent_world "$W_DIR" || { notok "fixtures"; done_testing; exit 1; }

start_leader() { # start_leader PORT (0: any) -> LEADER_PID, PORT
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
start_leader 0 1 || { notok "the leader starts" "$(cat "$T/leader.log")"; done_testing; exit 1; }
URL=https://127.0.0.1:$PORT
ADM=(--leader "$URL" --cert "$W_DIR/alice.crt" --key "$W_DIR/alice.key" --ca "$W_DIR/pki/ca.crt")
for v in 2 3 4 5 6; do "$W" publish roster "$W_DIR/roster$v.json" "${ADM[@]}" >/dev/null; done
mkb() { # mkb VERSION OUT [PREV] — a bundle for every instance of acme/web/prod
    local prev=()
    [ -n "${3:-}" ] && prev=(--previous "$3")
    "$W" bundle create --policy "$W_DIR/policy.yaml" --org acme --fleet web --env prod \
        --version "$1" --instances '*' "${prev[@]}" --sign "$W_DIR/b1" --out "$2" >/dev/null
}
mkb 1 "$T/b1.json"
"$W" publish bundle "$T/b1.json" "${ADM[@]}" >/dev/null
check "the leader holds bundle 1" grep -q "kind=bundle outcome=created" "$T/leader.log"

SD=$T/state
agent_conf "$T/agent.yaml" "$URL" "$SD" "metrics: {listen: 127.0.0.1:0}"
start_agent "$T/agent.yaml" "$T/agent.log"
check "01 the start-up line names instance, leader, polling, kill and long poll" grep -qxF \
    "warden agent: instance web-7, leader $URL, policy bundle polling enabled, remote kill honored, long poll 2s" \
    "$T/agent.log"
if wait_log "$T/agent.log" "applied loop=policy" 60; then ok "02 bundle 1 is applied"
else notok "02 bundle 1 is applied" "$(cat "$T/agent.log")"; fi
check "03 the roster chain was walked from the pin to version 6" grep -q "roster-applied version=6" "$T/agent.log"
check "04 state_dir/active points to bundle 1" bash -c '[[ "$(readlink "$1/active")" == bundles/1-* ]]' _ "$SD"
check "05 the active bundle is byte for byte what was published" cmp -s "$SD/active/bundle.json" "$T/b1.json"
expect "06 warden agent status says enforcing" 0 "policy state: enforcing" -- "$W" agent status --state-dir "$SD"
wait_log "$T/agent.log" "status-sent" 30
expect "07 the leader has the follower's report (warden status)" 0 "web-7" -- "$W" status "${ADM[@]}"
check "07b ... enforcing version 1" grep -qE "web-7 +web/prod +1 .*enforcing" "$T/out"

# ---- v2 within the long poll ----
mkb 2 "$T/b2.json" "$T/b1.json"
"$W" publish bundle "$T/b2.json" "${ADM[@]}" >/dev/null
if wait_log "$T/agent.log" 'applied loop=policy transition=[a-z-]+ detail="version [0-9]+ -> 2"' 30; then ok "08 v2 is applied within the long poll"
else notok "08 v2 is applied within the long poll" "$(tail -20 "$T/agent.log")"; fi
check "09 active points to bundle 2" bash -c '[[ "$(readlink "$1/active")" == bundles/2-* ]]' _ "$SD"

# ---- kill (threshold 2) and the inactive one that lifts it ----
"$W" kill create --org acme --fleet web --env prod --instances '*' --state active --counter 1 \
    --reason "incident 7" --sign "$W_DIR/k1" --sign "$W_DIR/k2" --out "$T/kill1.json" >/dev/null
"$W" publish kill "$T/kill1.json" "${ADM[@]}" >/dev/null
if wait_log "$T/agent.log" "applied loop=kill" 30; then ok "10 the kill is applied"
else notok "10 the kill is applied" "$(tail -20 "$T/agent.log")"; fi
expect "11 warden agent status says killed" 0 "policy state: killed" -- "$W" agent status --state-dir "$SD"
check "12 kill.json is the published kill" cmp -s "$SD/kill.json" "$T/kill1.json"
"$W" kill create --org acme --fleet web --env prod --instances '*' --state inactive --counter 2 \
    --reason "resolved" --sign "$W_DIR/k1" --sign "$W_DIR/k2" --out "$T/kill2.json" >/dev/null
"$W" publish kill "$T/kill2.json" "${ADM[@]}" >/dev/null
for _ in $(seq 1 300); do cmp -s "$SD/kill.json" "$T/kill2.json" && break; sleep 0.1; done
check "13 the inactive kill with a higher counter is applied" cmp -s "$SD/kill.json" "$T/kill2.json"
expect "14 ... and lifts it: enforcing again" 0 "policy state: enforcing" -- "$W" agent status --state-dir "$SD"

# ---- metrics ----
MP=$(sed -n 's/.*metrics-listen listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/agent.log" | head -1)
M=$(curl -s --max-time 10 "http://127.0.0.1:$MP/metrics")
check "15 /metrics counts the bundles applied" grep -q 'warden_agent_applies_total{kind="bundle"} 2' <<<"$M"
check "16 /metrics counts polls by outcome" grep -q 'warden_agent_polls_total{loop="policy",outcome="applied"} 2' <<<"$M"
check "17 /metrics shows the policy state" grep -q 'warden_agent_policy_state{state="enforcing"} 1' <<<"$M"

# ---- the leader goes away: the host keeps enforcing and backs off; then it comes back ----
cp -P "$SD/active" "$T/active.before"
kill -TERM "$LEADER_PID"
timeout 30 tail --pid="$LEADER_PID" -f /dev/null
if wait_log "$T/agent.log" "backoff loop=policy seconds=[0-9]+ failures=2" 60; then ok "18 leader gone: polls fail and back off"
else notok "18 leader gone: polls fail and back off" "$(tail -20 "$T/agent.log")"; fi
check "19 ... the failures are logged with their code" grep -q "poll-failed loop=policy .*code=io-error" "$T/agent.log"
expect "20 ... the host keeps enforcing bundle 2" 0 "policy state: enforcing" -- "$W" agent status --state-dir "$SD"
expect "20b ... the status reports the failure as last_error" 0 '"last_error":{"code":"io-error",' -- \
    "$W" agent status --state-dir "$SD" --json
check "21 ... active unchanged" test "$(readlink "$SD/active")" = "$(readlink "$T/active.before")"
start_leader "$PORT" 2 || notok "the leader restarts on its port" "$(tail -5 "$T/leader.log")"
mkb 3 "$T/b3.json" "$T/b2.json"
"$W" publish bundle "$T/b3.json" "${ADM[@]}" >/dev/null
# the backoff is at most 2 s x 2^n with full jitter; allow for a few rounds
if wait_log "$T/agent.log" 'applied loop=policy transition=[a-z-]+ detail="version [0-9]+ -> 3"' 120; then ok "22 leader back: the agent recovers and applies v3"
else notok "22 leader back: the agent recovers and applies v3" "$(tail -20 "$T/agent.log")"; fi
expect "22b ... and the last error is cleared" 0 '"last_error":null' -- "$W" agent status --state-dir "$SD" --json

# ---- SIGHUP ----
cp "$T/agent.yaml" "$T/agent.good"
printf 'instance_id: web-7\nbogus_key: 1\n' >"$T/agent.yaml"
kill -HUP "$AGENT_PID"
if wait_log "$T/agent.log" "reload-failed code=usage detail=.*bogus_key: unknown key" 30; then ok "23 SIGHUP with an invalid file: logged with the reason"
else notok "23 SIGHUP with an invalid file: logged with the reason" "$(tail -5 "$T/agent.log")"; fi
mkb 4 "$T/b4.json" "$T/b3.json"
"$W" publish bundle "$T/b4.json" "${ADM[@]}" >/dev/null
if wait_log "$T/agent.log" 'applied loop=policy transition=[a-z-]+ detail="version [0-9]+ -> 4"' 60; then ok "24 ... the old configuration keeps running"
else notok "24 ... the old configuration keeps running" "$(tail -10 "$T/agent.log")"; fi
sed -e "s|state_dir: .*|state_dir: $T/elsewhere|" -e 's/format: text/format: json/' \
    -e 's|^metrics: .*|metrics: {listen: 127.0.0.1:0}\nflight_recorder: {dir: /r, signing_key: /k}|' \
    "$T/agent.good" >"$T/agent.yaml"
kill -HUP "$AGENT_PID"
if wait_log "$T/agent.log" 'reload-restart-only.*state_dir, flight_recorder.signing_key \(the recorder.s signing key\), flight_recorder \(other recorder fields\)' 30
then ok "25 SIGHUP: restart-only fields are named in a warning"
else notok "25 SIGHUP: restart-only fields are named in a warning" "$(tail -5 "$T/agent.log")"; fi
# the warning comes first; the `reloaded` line follows it (a separate write): wait for it
if wait_log "$T/agent.log" '"event":"reloaded"' 30; then ok "26 ... and the live change applied: the log is JSON now"
else notok "26 ... and the live change applied: the log is JSON now" "$(tail -5 "$T/agent.log")"; fi
check "27 ... state_dir was kept (nothing written elsewhere)" test ! -e "$T/elsewhere"
mkb 5 "$T/b5.json" "$T/b4.json"
"$W" publish bundle "$T/b5.json" "${ADM[@]}" >/dev/null
if wait_log "$T/agent.log" '"event":"applied".*-> 5' 60 &&
    [[ "$(readlink "$SD/active")" == bundles/5-* ]]; then ok "28 ... and the agent still applies into the old state_dir"
else notok "28 ... and the agent still applies into the old state_dir" "$(tail -5 "$T/agent.log")"; fi

# ---- SIGTERM ----
stop_agent
check "29 SIGTERM: the agent stops and exits 0" test $? -eq 0
check "30 ... saying so" grep -q '"event":"stopped"' "$T/agent.log"

# ---- a metrics port in use: logged, counted, the agent keeps enforcing ----
PPORT=$(sed -n 's/.* probe=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/leader.log" | tail -1)
agent_conf "$T/agent2.yaml" "$URL" "$SD" "metrics: {listen: 127.0.0.1:$PPORT}"
start_agent "$T/agent2.yaml" "$T/agent2.log"
if wait_log "$T/agent2.log" "metrics-listen-failed listen=127.0.0.1:$PPORT detail=\"address already in use\"" 30
then ok "31 a metrics port in use is logged as address already in use"
else notok "31 a metrics port in use is logged as address already in use" "$(cat "$T/agent2.log")"; fi
mkb 6 "$T/b6.json" "$T/b5.json"
"$W" publish bundle "$T/b6.json" "${ADM[@]}" >/dev/null
if wait_log "$T/agent2.log" 'applied loop=policy transition=[a-z-]+ detail="version [0-9]+ -> 6"' 60; then ok "32 ... and the agent keeps polling and applying"
else notok "32 ... and the agent keeps polling and applying" "$(tail -5 "$T/agent2.log")"; fi
stop_agent
check "33 ... and stops with exit 0" test $? -eq 0

# ---- SIGHUP with a flight recorder block: which restart-only field, said precisely ----
"$W" key gen "$W_DIR/rec1" >/dev/null
"$W" key gen "$W_DIR/rec2" >/dev/null
mkdir -m 700 "$T/rec"
REC1="flight_recorder: {dir: $T/rec, signing_key: $W_DIR/rec1, checkpoint_every: 100}"
agent_conf "$T/agent3.base" "$URL" "$SD" "$REC1"
cp "$T/agent3.base" "$T/agent3.yaml"
start_agent "$T/agent3.yaml" "$T/agent3.log"
wait_log "$T/agent3.log" "status-sent" 30
hup() { # hup NEW_FILE: install it, SIGHUP, wait for the reload's outcome; $T/hup.out: its lines
    local n0
    n0=$(wc -l <"$T/agent3.log")
    cp "$1" "$T/agent3.yaml"
    kill -HUP "$AGENT_PID"
    for _ in $(seq 1 300); do
        tail -n +$((n0 + 1)) "$T/agent3.log" | grep -qE "reloaded|reload-failed" && break
        sleep 0.1
    done
    tail -n +$((n0 + 1)) "$T/agent3.log" >"$T/hup.out"
}
says() { grep -qF -- "$1" "$T/hup.out"; }
sed "s|signing_key: $W_DIR/rec1|signing_key: $W_DIR/rec2|" "$T/agent3.base" >"$T/c3.yaml"
hup "$T/c3.yaml"
check "42 SIGHUP, another recorder signing key: a restart-only warning" says "reload-restart-only"
check "42b ... naming the recorder's signing key" says "flight_recorder.signing_key (the recorder's signing key)"
check "42c ... and not the other recorder fields" bash -c '! grep -qF "other recorder fields" "$1"' _ "$T/hup.out"
check "42d ... the rest is applied (reloaded)" says "reloaded"
sed "s|checkpoint_every: 100|checkpoint_every: 200, record_args: true|" "$T/agent3.base" >"$T/c3.yaml"
hup "$T/c3.yaml"
check "43 SIGHUP, other recorder fields: the warning names them" says "flight_recorder (other recorder fields)"
check "43b ... and not the signing key" bash -c '! grep -qF "signing key" "$1"' _ "$T/hup.out"
sed "/^flight_recorder:/d" "$T/agent3.base" >"$T/c3.yaml"
hup "$T/c3.yaml"
check "44 SIGHUP without the recorder block: the block is kept, both named" bash -c \
    'grep -qF "flight_recorder.signing_key (the recorder" "$1" && grep -qF "flight_recorder (other recorder fields)" "$1"' _ "$T/hup.out"
sed "s/^instance_id: web-7/instance_id: web-8/" "$T/agent3.base" >"$T/c3.yaml"
hup "$T/c3.yaml"
check "45 SIGHUP, another instance_id: named in the warning" grep -qE "reload-restart-only detail=\"?instance_id" "$T/hup.out"
check "45b ... and the running instance stays web-7" says "reloaded detail=\"warden agent: instance web-7,"
expect "45c ... which the status still reports" 0 "instance: web-7" -- "$W" agent status --state-dir "$SD"
# an invalid file that would also switch the log to JSON: nothing of it is applied
sed -e "/trust_roster_root_fingerprint/d" -e "s/format: text/format: json/" "$T/agent3.base" >"$T/c3.yaml"
hup "$T/c3.yaml"
check "46 SIGHUP, an invalid file (no fingerprint): reload-failed with the reason" says \
    "conductor.trust_roster_root_fingerprint: required when the conductor is enabled"
check "46b ... nothing was reloaded" bash -c '! grep -q "reloaded" "$1"' _ "$T/hup.out"
sed "s|signing_key: $W_DIR/rec1|signing_key: $W_DIR/rec2|; s/poll_interval: 2s/poll_interval: 3s/" \
    "$T/agent3.base" >"$T/c3.yaml"
hup "$T/c3.yaml"
check "46c ... the log format stayed text (the next reload logs text)" says "reloaded detail="
check "47 a live change beside a restart-only one applies (long poll 3s)" says "long poll 3s"
check "47b ... and the restart-only one is still refused" says "flight_recorder.signing_key (the recorder's signing key)"
mkb 7 "$T/b7.json" "$T/b6.json"
"$W" publish bundle "$T/b7.json" "${ADM[@]}" >/dev/null
if wait_log "$T/agent3.log" 'applied loop=policy transition=[a-z-]+ detail="version [0-9]+ -> 7"' 60 &&
    [[ "$(readlink "$SD/active")" == bundles/7-* ]]; then ok "48 after the reloads the agent applies v7 into its state_dir"
else notok "48 after the reloads the agent applies v7 into its state_dir" "$(tail -5 "$T/agent3.log")"; fi
stop_agent
check "49 ... and stops with exit 0" test $? -eq 0

# ---- start-up refusals: exit 2, one line naming the key ----
base() { agent_conf "$1" "$URL" "$T/never"; }
base "$T/c.yaml"
sed -i '/trust_roster_root_fingerprint/d; s/honor_remote_kill_switch: true/honor_remote_kill_switch: false/' "$T/c.yaml"
expect "34 no fingerprint with honor=false: refused, exit 2" 2 \
    "conductor.trust_roster_root_fingerprint: required when the conductor is enabled" -- "$W" agent --config "$T/c.yaml"
check "34b ... nothing created" test ! -e "$T/never"
for u in "http://127.0.0.1:1" "https://u:p@127.0.0.1:1" "https://127.0.0.1:1/?x=1" "https://127.0.0.1:1/#f" "https://127.0.0.1:1/api"; do
    base "$T/c.yaml"
    sed -i "s|leader_url: .*|leader_url: \"$u\"|" "$T/c.yaml"
    expect "35 leader_url $u: refused, exit 2" 2 "conductor.leader_url: " -- "$W" agent --config "$T/c.yaml"
done
base "$T/c.yaml"
sed -i 's/^  long_poll: true/  long_poll: true\n  lonk_poll: true/' "$T/c.yaml"
expect "36 an unknown key is refused with its path" 2 "conductor.lonk_poll: unknown key" -- "$W" agent --config "$T/c.yaml"
base "$T/c.yaml"
sed -i 's/^instance_id: web-7/instance_id: web-8/' "$T/c.yaml"
expect "37 instance_id other than the certificate's: refused" 2 \
    "instance_id: 'web-8' is not the instance of the client certificate (web-7)" -- "$W" agent --config "$T/c.yaml"
expect "38 a missing configuration file: exit 1" 1 "missing.yaml" -- "$W" agent --config "$T/missing.yaml"
expect "39 an unknown flag: exit 2" 2 "unknown option: --frob" -- "$W" agent --frob
check "40 nothing was created by any refusal" test ! -e "$T/never"

kill -TERM "$LEADER_PID"
done_testing
