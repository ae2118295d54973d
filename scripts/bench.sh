#!/usr/bin/env bash
# bench.sh — run every benchmark program of build/bench/ and print its figures, with the machine.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for b in build/bench/bench_*; do
  [ -f "$b" ] && [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" || exit 1
done
