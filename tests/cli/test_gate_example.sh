#!/bin/bash
# test_gate_example.sh — the downstream gate of examples/gate-deny-by-name, built the way an
# outside project would: warden installed into a staging directory, found with pkg-config
# (--cflags --libs --static), no path into the source tree; then its own test run beside the
# built-in policy gate.
. "$WD_SRCDIR/tests/cli/lib.sh"
: "${WD_BUILDDIR:?WD_BUILDDIR must name the build directory}"
inst=$T/inst

expect "01 warden installs into a staging directory" 0 "" -- meson install -C "$WD_BUILDDIR" --no-rebuild --destdir "$inst"
pc=$(find "$inst" -name warden.pc | head -n 1)
check "02 warden.pc is installed" test -n "$pc"
gate_h=$(find "$inst" -path '*/include/warden/gate.h' | head -n 1)
check "03 the public headers are installed" test -n "$gate_h"
check "04 policy.h and runconfig.h beside gate.h" test -f "$(dirname "$gate_h")/policy.h" -a -f "$(dirname "$gate_h")/runconfig.h"
check "05 the static library is installed" test -n "$(find "$inst" -name libwarden.a)"

export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$inst
check "06 pkg-config finds the staged warden" pkg-config --exists warden
check "07 its flags point into the staging directory" sh -c "pkg-config --cflags --libs --static warden | grep -qF -- '-I$inst/'"

# Build flags that match how libwarden itself was built (sanitizers need their runtime).
read -r cc san < <(python3 - "$WD_BUILDDIR" <<'PY'
import json, sys, os
b = sys.argv[1]
opts = {o["name"]: o["value"] for o in json.load(open(os.path.join(b, "meson-info", "intro-buildoptions.json")))}
cc = "cc"
for t in json.load(open(os.path.join(b, "meson-info", "intro-targets.json"))):
    for src in t.get("target_sources", []):
        if src.get("language") == "c" and src.get("compiler"):
            cc = src["compiler"][0]
san = opts.get("b_sanitize", "none")
print(cc, san if isinstance(san, str) else ",".join(san) or "none")
PY
)
extra=""
[ "$san" != "none" ] && [ -n "$san" ] && extra="-fsanitize=$san"

cp -r "$WD_SRCDIR/examples/gate-deny-by-name" "$T/src"
rm -f "$T/src/test_deny_by_name" "$T/src"/*.o
expect "08 the example builds with its Makefile" 0 "" -- make -C "$T/src" CC="$cc" CFLAGS="-O2 $extra" LDFLAGS="$extra"
check "09 and is linked" test -x "$T/src/test_deny_by_name"
check "10 no path into warden's source tree was used" sh -c "! grep -qF -- '$WD_SRCDIR/include' '$T/out'"
expect "11 its test passes" 0 "1..12" -- "$T/src/test_deny_by_name"
check "12 every check of the example passed" sh -c "test \$(grep -c '^ok ' '$T/out') -eq 12 && ! grep -q '^not ok' '$T/out'"

done_testing
