#!/usr/bin/env bash
# test_docs.sh — focus: docs/COMMANDS.md is exactly what the commands' --help texts say, and
# every command and subcommand answers --help with exit 0.
. "$WD_SRCDIR/tests/cli/lib.sh"

bash "$WD_SRCDIR/scripts/gen-commands-doc.sh" "$WARDEN" >"$T/COMMANDS.md" 2>"$T/gen.err"
check "01 every --help exits 0 while generating" test ! -s "$T/gen.err"
if cmp -s "$T/COMMANDS.md" "$WD_SRCDIR/docs/COMMANDS.md"; then
  ok "02 docs/COMMANDS.md is current"
else
  notok "02 docs/COMMANDS.md is current" \
    "regenerate: scripts/gen-commands-doc.sh build/src/cli/warden > docs/COMMANDS.md" \
    "$(diff "$WD_SRCDIR/docs/COMMANDS.md" "$T/COMMANDS.md" | head -20)"
fi
n=$(grep -c '^### warden ' "$T/COMMANDS.md")
check "03 subcommands documented ($n)" test "$n" -ge 10
done_testing
