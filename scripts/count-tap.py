#!/usr/bin/env python3
"""count-tap.py — count TAP test points in meson test logs (and plain TAP files); print
'N passed, N failed' last.

usage: count-tap.py TESTLOG.json... [--tap NAME:FILE:EXITCODE ...]

A test program that crashed, timed out, exited non-zero or printed no test point counts as one
failure, so a suite cannot pass by saying nothing. Exit 1 when anything failed."""
import json
import re
import sys

passed = failed = 0


def count(name, out, good):
    """Add the points of one program's TAP output; good is whether the program itself passed."""
    global passed, failed
    ok = len(re.findall(r"^ok \d+", out, re.M))
    bad = len(re.findall(r"^not ok \d+", out, re.M))
    if not good and bad == 0:
        bad = 1  # crashed, timed out, or broke its plan without a failing point
        print(f"count-tap: {name}: failed without a failing test point")
    if ok + bad == 0:
        bad = 1
        print(f"count-tap: {name}: no test points")
    passed += ok
    failed += bad


args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a == "--tap":
        name, path, rc = args.pop(0).rsplit(":", 2)
        try:
            out = open(path, encoding="utf-8", errors="replace").read()
        except OSError as exc:
            print(f"count-tap: {path}: {exc}")
            out = ""
        count(name, out, rc == "0")
        continue
    try:
        lines = open(a, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as exc:
        print(f"count-tap: {a}: {exc}")
        failed += 1
        continue
    for line in lines:
        rec = json.loads(line)
        count(rec.get("name"), rec.get("stdout") or "",
              rec.get("result", "") in ("OK", "EXPECTEDFAIL"))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
