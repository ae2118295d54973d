#!/bin/bash
# fixture.sh DIR — build the leader tests' fixture (fleet PKI, identities, signing keys, roster;
# see ld_fixture in lib.sh) in DIR, for tests that are not shell scripts
# (tests/interop/leader_node.mjs). Prints the roster pin. Starts no process.
set -u
: "${WD_SRCDIR:?WD_SRCDIR must name the source tree}"
T=$(mktemp -d)
. "$WD_SRCDIR/tests/leader/lib.sh"
ld_fixture "$1" || exit 1
cat "$1/R.pin"
