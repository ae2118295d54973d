#!/usr/bin/env bash
# test.sh — build warden twice (plain, and ASan+UBSan) and run the whole suite in both.
# Ends with one line "N passed, N failed" counting every TAP test point of both runs.
set -uo pipefail
cd "$(dirname "$0")/.."

setup() { # setup DIR ARGS...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  fi
}

status=0
setup build || exit 1
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false \
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

python3 scripts/count-tap.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
  || status=1
exit $status
