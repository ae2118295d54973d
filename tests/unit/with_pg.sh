#!/bin/bash
# with_pg.sh — run a test program with a scratch PostgreSQL cluster (scripts/pg-scratch.sh) in a
# temporary folder: WD_TEST_PG_URL names its database `warden`. The cluster is stopped and the
# folder removed on every path. Only 127.0.0.1 and a unix socket in the folder.
set -u
dir=$(mktemp -d)
trap 'bash "$WD_SRCDIR/scripts/pg-scratch.sh" stop "$dir/pg"; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM HUP
if ! url=$(bash "$WD_SRCDIR/scripts/pg-scratch.sh" start "$dir/pg" 2>"$dir/err"); then
    echo "Bail out! the scratch PostgreSQL cluster did not start: $(tail -n 5 "$dir/err" | tr '\n' ' ')"
    exit 1
fi
WD_TEST_PG_URL=$url "$@"
