#!/usr/bin/env bash
# bench_run_start.sh [WARDEN] [RUNS] — what the sandbox adds to starting a server with
# `warden run`: RUNS (default 50) starts of /bin/true through `warden run` with the full
# sandbox (the strictest profile: no network) and with --no-sandbox, interleaved so that the
# machine's load falls on both alike; prints the median and p90 wall time of each and the
# difference of the medians. It never asserts a timing.
set -uo pipefail
W=${1:-build/src/cli/warden}
RUNS=${2:-50}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
printf 'version: 1\nservers:\n  default: allow\n' >"$D/p.yaml"
one() { # one FLAGS...: wall time of one start in microseconds
    local t0 t1
    t0=$(date +%s%N)
    "$W" run --policy "$D/p.yaml" --name t "$@" -- /bin/true </dev/null >/dev/null 2>&1 ||
        { echo "warden run failed" >&2; exit 1; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
}
for ((i = 0; i < RUNS; i++)); do
    one >>"$D/sandbox"
    one --no-sandbox >>"$D/plain"
done
stat() { sort -n "$1" | awk '{a[NR]=$1} END {printf "p50 %.1f ms  p90 %.1f ms", a[int((NR+1)/2)]/1000, a[int(NR*0.9+0.5)]/1000}'; }
med() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "warden run -- /bin/true, $RUNS starts each, interleaved"
echo "  full sandbox:  $(stat "$D/sandbox")"
echo "  --no-sandbox:  $(stat "$D/plain")"
echo "  added by the sandbox (p50): $(( ($(med "$D/sandbox") - $(med "$D/plain")) / 1000 )) ms"
