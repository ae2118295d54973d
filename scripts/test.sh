#!/usr/bin/env bash
# test.sh — build warden twice (plain, and ASan+UBSan) and run the whole suite in both.
# Ends with one line "N passed, N failed" counting every TAP test point of both runs.
set -uo pipefail
cd "$(dirname "$0")/.."

setup() { # setup DIR CC ARGS...
  local dir=$1 cc=$2; shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    CC=$cc meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  fi
}

status=0
# gcc for the plain build, clang for the sanitized one: both compilers, warnings as errors.
setup build gcc || exit 1
setup build-asan clang -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false \
  -Dc_args=-fno-sanitize-recover=all || exit 1

for dir in build build-asan; do
  echo "== building $dir"
  if ! ninja -C "$dir" >"$dir/ninja.log" 2>&1; then
    cat "$dir/ninja.log"; echo "0 passed, 1 failed"; exit 1
  fi
done

for dir in build build-asan; do
  echo "== testing $dir"
  meson test -C "$dir" --num-processes 2 --print-errorlogs || status=1
done

# The gate registry's concurrency test once more under ThreadSanitizer (clang).
echo "== testing build-tsan (ThreadSanitizer: test_gate_threads)"
mkdir -p build-tsan-log
bash scripts/tsan.sh >build-tsan-log/tap.txt 2>build-tsan-log/stderr.txt; tsan_rc=$?
cat build-tsan-log/tap.txt
[ $tsan_rc -eq 0 ] || { cat build-tsan-log/stderr.txt; status=1; }
python3 scripts/count-tap.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
  --tap "tsan:build-tsan-log/tap.txt:$tsan_rc" || status=1
exit $status
