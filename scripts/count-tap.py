#!/usr/bin/env python3
"""count-tap.py — count TAP test points in meson test logs; print 'N passed, N failed' last.

A test program that crashed, timed out or printed no test point counts as one failure, so a
suite cannot pass by saying nothing. Exit 1 when anything failed."""
import json
import re
import sys

passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as exc:
        print(f"count-tap: {path}: {exc}")
        failed += 1
        continue
    for line in lines:
        rec = json.loads(line)
        out = rec.get("stdout") or ""
        ok = len(re.findall(r"^ok \d+", out, re.M))
        bad = len(re.findall(r"^not ok \d+", out, re.M))
        result = rec.get("result", "")
        if result not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
            bad = 1  # crashed, timed out, or broke its plan without a failing point
            print(f"count-tap: {rec.get('name')}: {result}")
        if ok + bad == 0:
            bad = 1
            print(f"count-tap: {rec.get('name')}: no test points")
        passed += ok
        failed += bad
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
