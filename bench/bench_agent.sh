#!/bin/bash
# bench_agent.sh — figures for docs/PERFORMANCE.md: the agent's memory and CPU while idle on a
# long poll against the real leader, and the time from a 200 to the new policy active
# (the agent's own apply_ms: body received -> verified -> written, fsynced, `active` switched)
# for bundles whose policy is about 1 KiB and 256 KiB. Everything runs on 127.0.0.1 in a
# scratch directory, and everything started is stopped on exit.
# usage: bench/bench_agent.sh build/src/cli/warden [IDLE_SECONDS] [ROUNDS]
set -u
WARDEN=$(realpath "$1")
IDLE=${2:-60}
ROUNDS=${3:-5}
WD_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export WARDEN WD_SRCDIR
. "$WD_SRCDIR/tests/cli/lib.sh" >/dev/null
. "$WD_SRCDIR/tests/cli/agent_fixtures.sh"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
W_DIR=$T/w
mk_agent_world "$W_DIR" || { echo "fixtures failed" >&2; exit 1; }
"$WARDEN" leader --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --store "sqlite:$T/l.db" \
    --cert "$W_DIR/leader.crt" --key "$W_DIR/leader.key" --client-ca "$W_DIR/pki/ca.crt" \
    --trust-domain fleet.test --roster "$W_DIR/roster1.json" --pin "$PIN" --log-format text \
    2>"$T/leader.log" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q ' start ' "$T/leader.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* start listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/leader.log")
URL=https://127.0.0.1:$PORT
ADM=(--leader "$URL" --cert "$W_DIR/alice.crt" --key "$W_DIR/alice.key" --ca "$W_DIR/pki/ca.crt")
for v in 2 3 4 5 6; do "$WARDEN" publish roster "$W_DIR/roster$v.json" "${ADM[@]}" >/dev/null; done
mkpolicy() { # mkpolicy BYTES OUT: the fixture policy padded with comment lines to about BYTES
    python3 - "$W_DIR/policy.yaml" "$1" "$2" <<'PY'
import sys
base = open(sys.argv[1]).read()
n = int(sys.argv[2])
line = "# " + "x" * 76 + "\n"
out = base
while len(out) + len(line) <= n:
    out += line
open(sys.argv[3], "w").write(out)
PY
}
mkpolicy 1024 "$T/p1k.yaml"
mkpolicy $((256 * 1024 - 200)) "$T/p256k.yaml"
V=1
publish() { # publish POLICY
    "$WARDEN" bundle create --policy "$1" --org acme --fleet web --env prod --version "$V" \
        --instances '*' --sign "$W_DIR/b1" --out "$T/b$V.json" >/dev/null &&
        "$WARDEN" publish bundle "$T/b$V.json" "${ADM[@]}" >/dev/null
    V=$((V + 1))
}
publish "$T/p1k.yaml"
agent_conf "$T/agent.yaml" "$URL" "$T/state"
sed -i 's/poll_interval: 2s/poll_interval: 30s/; s/level: debug/level: info/' "$T/agent.yaml"
start_agent "$T/agent.yaml" "$T/agent.log"
wait_log "$T/agent.log" "applied loop=policy" 60
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(ticks)
sleep "$IDLE"
t1=$(ticks)
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
THREADS=$(awk '/Threads/ {print $2}' "/proc/$AGENT_PID/status")
ANON=$(awk '/RssAnon/ {print $2}' "/proc/$AGENT_PID/status")
FILE=$(awk '/RssFile/ {print $2}' "/proc/$AGENT_PID/status")
echo "idle on long poll (30 s) for ${IDLE} s: RSS ${RSS} KiB (peak ${HWM} KiB; anonymous ${ANON} KiB,"
echo "  file-backed ${FILE} KiB: shared libraries), ${THREADS} threads,"
echo "  CPU $(( (t1 - t0) * 1000 / HZ )) ms in ${IDLE} s"
for size in 1k 256k; do
    list=()
    for _ in $(seq 1 "$ROUNDS"); do
        before=$(grep -c 'applied loop=policy' "$T/agent.log")
        publish "$T/p$size.yaml"
        for _ in $(seq 1 300); do
            [ "$(grep -c 'applied loop=policy' "$T/agent.log")" -gt "$before" ] && break
            sleep 0.1
        done
        list+=("$(grep 'applied loop=policy' "$T/agent.log" | tail -1 | sed -n 's/.*apply_ms=\([0-9.]*\).*/\1/p')")
    done
    echo "policy ~${size}: bundle $(stat -c %s "$T/b$((V - 1)).json") bytes; 200 -> active (ms): ${list[*]}"
done
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
