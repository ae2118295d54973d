#!/usr/bin/env bash
# fuzz.sh SECONDS — build the libFuzzer targets with clang (ASan+UBSan) and run each for SECONDS
# on a copy of its seed corpus. Prints each target's exec count; a crash fails the run and
# leaves its input under fuzz/crashes/<target>/.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Dbench=false \
    -Db_sanitize=address,undefined -Db_lundef=false >build-fuzz.setup.log 2>&1 \
    || { cat build-fuzz.setup.log; exit 1; }
fi
ninja -C build-fuzz >/dev/null || exit 1
status=0
for exe in build-fuzz/fuzz/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  name=$(basename "$exe"); name=${name#fuzz_}
  work=$(mktemp -d); cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null
  mkdir -p "fuzz/crashes/$name"
  log=$(mktemp)
  "$exe" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="fuzz/crashes/$name/" \
    "$work" >"$log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
  echo "fuzz $name: ${execs:-?} execs in ${secs}s, exit $rc"
  if [ $rc -ne 0 ]; then status=1; tail -n 40 "$log"; fi
  rm -rf "$work" "$log"
  rmdir "fuzz/crashes/$name" 2>/dev/null
done
exit $status
