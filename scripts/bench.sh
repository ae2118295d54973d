#!/usr/bin/env bash
# bench.sh — run every benchmark program of build/bench/ and print its figures, with the machine;
# then the leader's benchmark (scripts/bench-leader.sh), which starts its own servers on
# 127.0.0.1. BENCH_LEADER=0 skips that part. bench_proxy runs build/src/cli/warden (warden run's
# proxy against a bare pipe to the same echo server). Then the fleet benchmark
# (scripts/bench-fleet.sh: N simulated followers long polling a leader); BENCH_FLEET=0 skips it.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for b in build/bench/bench_*; do
  [ -f "$b" ] && [ -x "$b" ] || continue
  # the leader's load generator needs servers: bench-leader.sh runs it
  [ "$(basename "$b")" = bench_leader ] && continue
  # the fleet simulator needs a leader: bench-fleet.sh runs it
  [ "$(basename "$b")" = bench_fleet ] && continue
  echo "== $(basename "$b")"
  "$b" || exit 1
done
echo "== bench_run_start.sh"
bash bench/bench_run_start.sh build/src/cli/warden || exit 1
if [ "${BENCH_LEADER:-1}" != 0 ]; then
  bash scripts/bench-leader.sh build || exit 1
fi
if [ "${BENCH_FLEET:-1}" != 0 ]; then
  bash scripts/bench-fleet.sh build || exit 1
fi
