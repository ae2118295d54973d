#!/usr/bin/env bash
# tsan.sh — build warden with clang and -fsanitize=thread in build-tsan/ and run the
# multi-threaded gate test (tests/unit/test_gate_threads.c) under ThreadSanitizer.
# Any data race report fails the run (halt_on_error).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${TSAN_BUILDDIR:-build-tsan}
if [ ! -f "$dir/build.ninja" ]; then
  CC=clang meson setup "$dir" -Db_sanitize=thread -Db_lundef=false -Dbench=false \
    >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; exit 1; }
fi
ninja -C "$dir" tests/unit/test_gate_threads
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" CMOCKA_MESSAGE_OUTPUT=TAP \
  "$dir/tests/unit/test_gate_threads"
