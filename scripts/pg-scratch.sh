#!/usr/bin/env bash
# pg-scratch.sh — a throw-away PostgreSQL cluster for tests and benchmarks of the leader's
# PostgreSQL store: `start DIR` runs initdb in DIR/data (as the `postgres` user when run as
# root), starts the server on 127.0.0.1 with an ephemeral port and its unix socket in DIR/sock,
# creates the database `warden`, and prints its URL (also kept in DIR/url); `stop DIR` stops it
# (fast shutdown, then immediate) and is safe to call when nothing runs; `url DIR` prints the URL
# again; `createdb DIR NAME` creates another database and prints its URL.
# It must never listen on anything but 127.0.0.1 and DIR's socket, never touch a cluster it did
# not make, and never leave a server running after a failed start.
#
#   url=$(scripts/pg-scratch.sh start /tmp/pg)   # postgres://warden@127.0.0.1:PORT/warden
#   trap 'scripts/pg-scratch.sh stop /tmp/pg' EXIT
set -euo pipefail

usage() {
    echo "usage: pg-scratch.sh start DIR | stop DIR | url DIR | createdb DIR NAME" >&2
    exit 2
}

pgbin() {
    local d
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
    echo "pg-scratch: no PostgreSQL server found (Debian: apt-get install postgresql)" >&2
    exit 1
}

# as_pg CMD...: run CMD as the cluster's owner (postgres when we are root, else ourselves).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
    local dir=$1 bin port try
    bin=$(pgbin)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/url" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        cat "$dir/url"
        return 0
    fi
    mkdir -p "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        # the server runs as postgres: it needs to reach DIR (and the folders above it)
        chown postgres: "$dir" "$dir/sock"
        local p=$dir
        while [ "$p" != / ]; do
            p=$(dirname "$p")
            [ $((8#$(stat -c %a "$p") & 1)) -eq 1 ] || chmod o+x "$p"
        done
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -D "$dir/data" -U warden --auth=trust -E UTF8 --no-locale --no-sync \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    for try in 1 2 3 4 5; do
        # a restarted cluster keeps its port while it is free, so its URL stays valid
        if [ "$try" = 1 ] && [ -s "$dir/port" ]; then port=$(cat "$dir/port"); else port=$(free_port); fi
        if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/sock -c fsync=off -c max_connections=200" \
            start >/dev/null 2>&1; then
            echo "$port" >"$dir/port"
            local url="postgres://warden@127.0.0.1:$port/warden"
            as_pg "$bin/psql" -q -X -h "$dir/sock" -p "$port" -U warden -d postgres \
                -c "CREATE DATABASE warden" >/dev/null 2>&1 || true
            echo "$url" >"$dir/url"
            echo "$url"
            return 0
        fi
        as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    done
    echo "pg-scratch: the server did not start; log tail:" >&2
    tail -n 20 "$dir/server.log" >&2 || true
    exit 1
}

stop() {
    local dir=$1 bin
    bin=$(pgbin)
    [ -d "$dir/data" ] || return 0
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
        as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    rm -f "$dir/url"
}

createdb_() {
    local dir=$1 name=$2 bin port
    bin=$(pgbin)
    port=$(cat "$dir/port")
    as_pg "$bin/psql" -q -X -h "$dir/sock" -p "$port" -U warden -d postgres \
        -c "CREATE DATABASE \"$name\"" >/dev/null
    echo "postgres://warden@127.0.0.1:$port/$name"
}

[ $# -ge 2 ] || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
url) cat "$2/url" ;;
createdb) [ $# -eq 3 ] || usage; createdb_ "$2" "$3" ;;
*) usage ;;
esac
