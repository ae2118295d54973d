#!/usr/bin/env bash
# bench-fleet.sh [--pg] [BUILD_DIR] — N simulated followers (build/bench/bench_fleet, one process,
# each follower its own certificate and mTLS connection) long polling real `warden leader`s on
# 127.0.0.1; each round publishes a new bundle with `warden publish` and measures publish -> every
# follower holding it, verified. Also the handshake rate, the leader's RSS per held poll and its
# CPU time.
#
# Default: one leader on a SQLite store (a fresh store and a fresh leader for every N).
# --pg: two leaders on one PostgreSQL store (a scratch cluster from scripts/pg-scratch.sh, or
# the database FLEET_PG_URL names), the followers split between them, every bundle published
# through the first one: the held polls on the second are woken through the store.
#
# The fleet CA and the followers' certificates are kept in BUILD_DIR/bench/fleet-cache/ between
# runs (issuing 10,000 takes a while); everything else lives in a scratch directory. It never
# changes the system's configuration: descriptor limits are raised in this shell and the bench
# only. Stops every server it started on every path. Figures are for reading; nothing fails on
# them, but the script exits 1 when a run did not deliver every bundle to every follower.
#
# Environment: FLEET_NS (default "1000 5000 10000"), FLEET_ROUNDS (publishes per run, 5),
# FLEET_RUNS (runs per N, each with a fresh leader, 1), FLEET_WAIT (Prefer: wait, 300),
# FLEET_LEADER_FLAGS (default "--workers <cores> --log-level warn"; with --pg the two leaders
# get "--workers 1 --log-level warn" each), FLEET_PG_URL (--pg: use this database instead of a
# scratch cluster; it must be empty or a warden store), BENCH_KEEP=1 (keep the scratch
# directory with the leaders' logs), FLEET_QUIET=1 (no progress lines from bench_fleet),
# FLEET_CACHE (where the CA and the followers' certificates are kept; default
# BUILD_DIR/bench/fleet-cache), FLEET_SETTLE (seconds the leaders get to park the polls before
# each publish, 1), FLEET_RESULTS (append bench_fleet's machine-readable RESULT lines to this
# file as well).
set -uo pipefail
cd "$(dirname "$0")/.."
PG=0
if [ "${1:-}" = --pg ]; then PG=1; shift; fi
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
W=$BUILD/src/cli/warden
B=$BUILD/bench/bench_fleet
NS=${FLEET_NS:-1000 5000 10000}
ROUNDS=${FLEET_ROUNDS:-5}
RUNS=${FLEET_RUNS:-1}
WAIT=${FLEET_WAIT:-300}
TD=fleet.test
ORG=acme FLEET=prod ENVN=eu1
if [ "$PG" = 1 ]; then
  LEADER_FLAGS=${FLEET_LEADER_FLAGS:---workers 1 --log-level warn}
else
  LEADER_FLAGS=${FLEET_LEADER_FLAGS:---workers $(nproc) --log-level warn}
fi

for f in "$W" "$B"; do
  [ -x "$f" ] || { echo "bench-fleet: $f is missing: build first (ninja -C $BUILD)" >&2; exit 1; }
done

CACHE=${FLEET_CACHE:-$BUILD/bench/fleet-cache}
D=$(mktemp -d /tmp/warden-bench-fleet.XXXXXX)
LEADER_PIDS=() PG_DIR=
stop_leaders() {
  local p
  for p in "${LEADER_PIDS[@]}"; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  LEADER_PIDS=()
}
cleanup() {
  stop_leaders
  [ -n "$PG_DIR" ] && bash scripts/pg-scratch.sh stop "$PG_DIR" >/dev/null 2>&1
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "scratch directory kept: $D"; else rm -rf "$D"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_for PORT: until something accepts on 127.0.0.1:PORT (at most 30 s)
wait_for() {
  local i
  for i in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# ---- the fleet CA, kept between runs with the followers' certificates (bench_fleet's cache)
mkdir -p "$CACHE"
chmod 700 "$CACHE"
if [ ! -f "$CACHE/ca/ca.crt" ]; then
  rm -rf "$CACHE/ca" "$CACHE/leaves.pem"
  "$W" pki init --trust-domain "$TD" --dir "$CACHE/ca" >/dev/null \
    || { echo "bench-fleet: cannot make the fleet CA" >&2; exit 1; }
fi

# ---- leader and admin certificates, roster, bundles (version 1 is published before the
# followers connect; each round publishes the next)
NB=$((ROUNDS + 1))
(
  cd "$D" || exit 1
  "$W" pki issue --dir "$CACHE/ca" --leader localhost,127.0.0.1 --out leader >/dev/null &&
  "$W" pki issue --dir "$CACHE/ca" --admin "$ORG/bench" --out admin >/dev/null &&
  "$W" key gen root.key >/dev/null && "$W" key gen signer.key >/dev/null &&
  "$W" roster init --org "$ORG" --root-key root.key --out roster.1.json >/dev/null &&
  "$W" roster add-key roster.1.json --key signer.key.pub --purpose policy-bundle-signing \
      --sign root.key --out roster.json >/dev/null &&
  printf 'version: 1\nmode: enforce\nservers:\n  default: deny\n  rules:\n    - name: node\n      action: allow\n      match:\n        command: ["node"]\n' > policy.yaml &&
  for v in $(seq "$NB"); do
    "$W" bundle create --policy policy.yaml --org "$ORG" --fleet "$FLEET" --env "$ENVN" \
        --version "$v" --instances '*' --sign signer.key --out "bundle.$v.json" >/dev/null || exit 1
  done
) || { echo "bench-fleet: could not make the certificates, roster and bundles" >&2; exit 1; }
PIN=$("$W" key id "$D/root.key.pub")

# ---- the store
STORE_URL=
if [ "$PG" = 1 ]; then
  if [ -n "${FLEET_PG_URL:-}" ]; then
    STORE_URL=$FLEET_PG_URL
  else
    [ -f scripts/pg-scratch.sh ] \
      || { echo "bench-fleet: --pg needs scripts/pg-scratch.sh (the PostgreSQL store)" >&2; exit 1; }
    PG_DIR=$D/pg
    STORE_URL=$(bash scripts/pg-scratch.sh start "$PG_DIR") \
      || { echo "bench-fleet: could not start a scratch PostgreSQL cluster" >&2; PG_DIR=; exit 1; }
  fi
  "$W" leader --help 2>&1 | grep -q postgres \
    || { echo "bench-fleet: this warden leader has no PostgreSQL store" >&2; exit 1; }
fi

NL=1
[ "$PG" = 1 ] && NL=2
PORTS=() PROBES=()
# start_leaders RUN: NL leaders on fresh ports, on a fresh store; 0 when all accept connections
start_leaders() {
  local i store port probe
  PORTS=() PROBES=()
  if [ "$PG" = 1 ]; then
    if [ -n "$PG_DIR" ]; then
      store=$(bash scripts/pg-scratch.sh createdb "$PG_DIR" "fleet_$1") || return 1
    else
      store=$STORE_URL
    fi
  else
    store=sqlite:$D/leader.$1.db
  fi
  for i in $(seq "$NL"); do
    port=$(free_port) probe=$(free_port)
    ( ulimit -n "$(ulimit -Hn)"
      exec "$W" leader --listen "127.0.0.1:$port" --cert "$D/leader.crt" --key "$D/leader.key" \
        --client-ca "$CACHE/ca/ca.crt" --trust-domain "$TD" --roster "$D/roster.json" --pin "$PIN" \
        --store "$store" --probe-listen "127.0.0.1:$probe" $LEADER_FLAGS
    ) 2>>"$D/leader.$1.$i.log" &
    LEADER_PIDS+=($!)
    PORTS+=("$port") PROBES+=("$probe")
    wait_for "$port" || return 1
  done
}
publish_cmd() { # the command bench_fleet runs, %d standing for the version
  echo "$W publish bundle $D/bundle.%d.json --leader https://127.0.0.1:${PORTS[0]} --cert $D/admin.crt --key $D/admin.key --ca $CACHE/ca/ca.crt >/dev/null"
}

echo "== fleet: simulated followers long polling $NL warden leader(s) on $([ "$PG" = 1 ] && echo PostgreSQL || echo SQLite), publish -> every follower holding the new bundle, verified"
echo "machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/{print $2}') GiB," \
     "Linux $(uname -r), $(openssl version | cut -d' ' -f1-2); leaders and simulator share these cores;" \
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
RES=$D/results.txt
: > "$RES"
FAIL=0
run=0
for n in $NS; do
  for r in $(seq "$RUNS"); do
    run=$((run + 1))
    stop_leaders
    if ! start_leaders "$run"; then
      echo "bench-fleet: a leader did not start:" >&2; tail -5 "$D"/leader."$run".*.log >&2
      exit 1
    fi
    cmd=$(publish_cmd)
    cmd1=${cmd//%d/1}
    if ! eval "$cmd1"; then
      echo "bench-fleet: publishing version 1 failed" >&2; tail -5 "$D"/leader."$run".*.log >&2
      exit 1
    fi
    pids=$(IFS=,; echo "${LEADER_PIDS[*]}")
    ports=$(IFS=,; echo "${PORTS[*]}")
    echo "-- N=$n, run $r of $RUNS: leader pid(s) $pids on port(s) $ports"
    ( ulimit -n "$(ulimit -Hn)"
      exec "$B" --port "$ports" --ca-dir "$CACHE/ca" --cache "$CACHE/leaves.pem" \
        --roster "$D/roster.json" --pin "$PIN" --org "$ORG" --fleet "$FLEET" --env "$ENVN" \
        --n "$n" --rounds "$ROUNDS" --first-version 2 --wait "$WAIT" --pid "$pids" \
        --publish-cmd "$cmd" --settle "${FLEET_SETTLE:-1}" --label "n=$n" ) > "$D/run.$run.txt"
    rc=$?
    [ -n "${FLEET_RESULTS:-}" ] && grep '^RESULT' "$D/run.$run.txt" >> "$FLEET_RESULTS"
    tee -a "$RES" < "$D/run.$run.txt" | { if [ "${FLEET_QUIET:-0}" = 1 ]; then cat >/dev/null; else grep -v '^RESULT'; fi; }
    if [ "$rc" != 0 ]; then
      FAIL=1
      echo "bench-fleet: N=$n run $r: not every follower verified every bundle (exit $rc)" >&2
      tail -3 "$D"/leader."$run".*.log >&2
    fi
  done
done
stop_leaders

echo "== fleet summary ($NL leader(s), $([ "$PG" = 1 ] && echo PostgreSQL || echo SQLite)): medians over every round of every run;"
echo "   latency = publish command started -> the follower has received AND verified the new bundle"
python3 - "$RES" <<'EOF'
import sys, statistics as st
fleet, rounds, ports = {}, {}, {}
for line in open(sys.argv[1]):
    if not line.startswith("RESULT "):
        continue
    kv = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
    n = int(kv["n"])
    if kv["mode"] == "port":
        ports.setdefault((n, int(kv["port_index"])), []).append(kv)
        continue
    (fleet if kv["mode"] == "fleet" else rounds).setdefault(n, []).append(kv)
hdr = (f"{'N':>6} {'rounds':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
       f"{'worst p99':>9} {'hs/s':>6} {'B/poll':>7} {'CPU s/round: leader':>19} {'sim':>5} {'verify us':>9} {'publish ms':>10}")
print(hdr)
for n in sorted(set(fleet) | set(rounds)):
    r, f = rounds.get(n, []), fleet.get(n, [])
    med = lambda k, rows: st.median(float(x[k]) for x in rows) if rows else float("nan")
    worst = max((float(x["p99_ms"]) for x in r), default=float("nan"))
    print(f"{n:>6} {len(r):>6} {med('p50_ms', r):>8.1f} {med('p90_ms', r):>8.1f} {med('p99_ms', r):>8.1f}"
          f" {med('max_ms', r):>8.1f} {worst:>9.1f} {med('hs_per_s', f):>6.0f} {med('per_poll_b', f):>7.0f}"
          f" {med('leader_cpu_s', r):>19.2f} {med('sim_cpu_s', r):>5.2f} {med('verify_us', r):>9.0f} {med('publish_ms', r):>10.1f}")
    print(f"       leader CPU per connection while connecting (handshake, first GET, held poll):"
          f" {med('hs_leader_cpu_s', f) * 1e6 / n:.0f} us")
    print("       p99 per round: " + ", ".join(x["p99_ms"] for x in r))
    for (pn, pi), pr in sorted(ports.items()):
        if pn == n:
            print(f"       leader {pi + 1}{' (publishes)' if pi == 0 else ' (woken through the store)'}:"
                  f" p50 {med('p50_ms', pr):.1f} ms, p99 {med('p99_ms', pr):.1f} ms, max {med('max_ms', pr):.1f} ms")
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$FAIL"
