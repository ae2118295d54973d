#!/usr/bin/env python3
"""count-tap.py — count TAP test points in meson test logs (and plain TAP files); print
'N passed, N failed, N skipped' last.

usage: count-tap.py TESTLOG.json... [--tap NAME:FILE:EXITCODE ...]

Every failing point is listed just above the summary, so the tail of a log names it.
A test program that crashed, timed out, exited non-zero or printed no test point counts as one
failure, so a suite cannot pass by saying nothing. A program that skips itself as a whole
("1..0 # SKIP why", meson's SKIP) counts as one skipped, with its reason printed; a point marked
"# SKIP" or "# TODO" counts as skipped too, never as passed. Exit 1 when anything failed."""
import json
import re
import sys

passed = failed = skipped = 0
failures = []  # (program, line) of every failing point, repeated just above the summary
DIRECTIVE = r"[^\n#]*#\s*(?:SKIP|TODO)"


def count(name, out, good, skip=False):
    """Add the points of one program's TAP output; good is whether the program itself passed,
    skip whether it skipped itself as a whole."""
    global passed, failed, skipped
    if skip:
        m = re.search(r"^1\.\.0\s*#\s*SKIP\s*(.*)$", out, re.M | re.I)
        print(f"count-tap: {name}: skipped: {m.group(1) if m else 'no reason given'}")
        skipped += 1
        return
    marked = len(re.findall(r"^(?:not )?ok \d+" + DIRECTIVE, out, re.M | re.I))
    ok = len(re.findall(r"^ok \d+", out, re.M)) - \
        len(re.findall(r"^ok \d+" + DIRECTIVE, out, re.M | re.I))
    bad = len(re.findall(r"^not ok \d+", out, re.M)) - \
        len(re.findall(r"^not ok \d+" + DIRECTIVE, out, re.M | re.I))
    skipped += marked
    for line in re.findall(r"^not ok \d+.*$", out, re.M):
        if not re.match(r"^not ok \d+" + DIRECTIVE, line, re.I):
            failures.append((name, line))
    if not good and bad == 0:
        bad = 1  # crashed, timed out, or broke its plan without a failing point
        failures.append((name, "failed without a failing test point (crash, timeout or exit code)"))
    if ok + bad + marked == 0:
        bad = 1
        failures.append((name, "no test points"))
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
        result = rec.get("result", "")
        count(rec.get("name"), rec.get("stdout") or "", result in ("OK", "EXPECTEDFAIL"),
              skip=result == "SKIP")
for name, line in failures:
    print(f"count-tap: FAILED {name}: {line}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
