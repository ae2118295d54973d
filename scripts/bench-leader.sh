#!/usr/bin/env bash
# bench-leader.sh [BUILD_DIR] — the leader's throughput beside nginx, and the memory and wake-up
# time of held long polls, in one run, on 127.0.0.1 only.
#
# Makes a fleet CA and certificates (warden pki), a roster and signed bundles in a scratch
# directory, starts `warden leader` (SQLite store in the scratch directory, one worker per core)
# and nginx configured the same way (TLS 1.3 only, the same ECDSA P-256 certificate, client
# certificates required against the same CA, one worker per core, keep-alive, 304 from
# If-None-Match on a static copy of the bundle), then drives both with build/bench/bench_leader.
# It installs the Debian package nginx when it is missing (only this benchmark needs it). It
# never changes the system's configuration: descriptor limits are raised in this shell only.
# Stops every server it started on every path. Figures are for reading; nothing fails on them.
#
# Environment: BENCH_CONNS (default "64 256"), BENCH_DURATION (10 s), BENCH_WARMUP (2 s),
# BENCH_RUNS (3), BENCH_HOLD (10000 held polls; 0 skips that part), BENCH_HOLD_RUNS (1),
# BENCH_LEADER_FLAGS (flags for warden leader; default
# "--workers <cores> --log-level warn": no per-request log line, as nginx runs with access_log off), BENCH_KEEP=1 (keep the scratch directory
# with the servers' logs).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
W=$PWD/$BUILD/src/cli/warden
B=$PWD/$BUILD/bench/bench_leader
CONNS=${BENCH_CONNS:-64 256}
DUR=${BENCH_DURATION:-10}
WARM=${BENCH_WARMUP:-2}
RUNS=${BENCH_RUNS:-3}
HOLD=${BENCH_HOLD:-10000}
HOLD_RUNS=${BENCH_HOLD_RUNS:-1}
TD=fleet.test
LEADER_FLAGS=${BENCH_LEADER_FLAGS:---workers $(nproc) --log-level warn}

for f in "$W" "$B"; do
  [ -x "$f" ] || { echo "bench-leader: $f is missing: build first (ninja -C $BUILD)" >&2; exit 1; }
done

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "bench-leader: installing the Debian package nginx (for this comparison only)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench-leader: need root to install nginx" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx; } >/dev/null \
    || { echo "bench-leader: could not install nginx" >&2; exit 1; }
  # the package may start a default server on port 80; this benchmark uses its own instance
  if [ -x /usr/sbin/service ]; then service nginx stop >/dev/null 2>&1 || true; fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

D=$(mktemp -d /tmp/warden-bench-leader.XXXXXX)
LEADER_PID= NGINX_PID=
stop() {
  [ -n "$LEADER_PID" ] && kill "$LEADER_PID" 2>/dev/null && wait "$LEADER_PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  LEADER_PID= NGINX_PID=
}
if [ "${BENCH_KEEP:-0}" = 1 ]; then
  trap 'stop; echo "scratch directory kept: $D"' EXIT
else
  trap 'stop; rm -rf "$D"' EXIT
fi
trap 'exit 130' INT TERM
chmod 755 "$D"   # nginx's workers (user nobody) read the static file under it

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_for PORT: until something accepts on 127.0.0.1:PORT (at most 15 s)
wait_for() {
  local i
  for i in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

echo "== leader throughput beside nginx, held long polls"
echo "machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/{print $2}') GiB," \
     "Linux $(uname -r), $(openssl version | cut -d' ' -f1-2), $("$NGINX" -v 2>&1 | sed 's/.*: //')," \
     "libevent $(pkg-config --modversion libevent 2>/dev/null || echo '?')"
echo "the servers and the load generator share these $(nproc) cores: each gets a part of them;" \
     "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- certificates, roster, bundles
(
  cd "$D" || exit 1
  "$W" pki init --trust-domain "$TD" --dir ca >/dev/null &&
  "$W" pki issue --dir ca --leader localhost --out leader >/dev/null &&
  "$W" pki issue --dir ca --follower acme/prod/eu1/bench-1 --out follower >/dev/null &&
  "$W" pki issue --dir ca --admin acme/bench --out admin >/dev/null &&
  "$W" key gen root.key >/dev/null && "$W" key gen signer.key >/dev/null &&
  "$W" roster init --org acme --root-key root.key --out roster.1.json >/dev/null &&
  "$W" roster add-key roster.1.json --key signer.key.pub --purpose policy-bundle-signing \
      --sign root.key --out roster.json >/dev/null &&
  printf 'version: 1\nmode: enforce\nservers:\n  default: deny\n  rules:\n    - name: node\n      action: allow\n      match:\n        command: ["node"]\n' > policy.yaml &&
  for v in 1 2 3 4 5 6; do
    "$W" bundle create --policy policy.yaml --org acme --fleet prod --env eu1 --version $v \
        --instances '*' --sign signer.key --out bundle.$v.json >/dev/null || exit 1
  done
) || { echo "bench-leader: could not make the certificates, roster and bundles" >&2; exit 1; }
PIN=$("$W" key id "$D/root.key.pub")
CURL_ADMIN=(curl -sS --cert "$D/admin.crt" --key "$D/admin.key" --cacert "$D/ca/ca.crt")
PATH_LATEST=/api/v1/conductor/policy/latest

# ---- nginx, configured like the leader
NP=$(free_port)
mkdir -p "$D/www${PATH_LATEST%/*}" "$D/nginx-tmp"
cp "$D/bundle.1.json" "$D/www$PATH_LATEST"
chmod -R a+rX "$D/www"
cat > "$D/nginx.conf" <<EOF
worker_processes $(nproc);
worker_rlimit_nofile 20000;
daemon off;
master_process on;
pid $D/nginx.pid;
error_log $D/nginx-error.log warn;
events { worker_connections 10000; }
http {
  access_log off;
  default_type application/json;
  keepalive_timeout 120s;
  keepalive_requests 1000000000;
  client_body_temp_path $D/nginx-tmp/body;
  proxy_temp_path $D/nginx-tmp/proxy;
  fastcgi_temp_path $D/nginx-tmp/fastcgi;
  uwsgi_temp_path $D/nginx-tmp/uwsgi;
  scgi_temp_path $D/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$NP ssl;
    server_name localhost;
    ssl_protocols TLSv1.3;
    ssl_certificate $D/leader.crt;
    ssl_certificate_key $D/leader.key;
    ssl_client_certificate $D/ca/ca.crt;
    ssl_verify_client on;
    etag on;
    root $D/www;
  }
}
EOF
start_nginx() {
  ( ulimit -n "$(ulimit -Hn)"; exec "$NGINX" -p "$D" -c "$D/nginx.conf" ) 2>"$D/nginx.stderr" &
  NGINX_PID=$!
  if ! wait_for "$NP"; then
    echo "bench-leader: nginx did not start:" >&2; cat "$D/nginx.stderr" "$D/nginx-error.log" >&2
    exit 1
  fi
}
stop_nginx() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  NGINX_PID=
}
start_nginx
NGINX_ETAG=$(curl -sS -D - -o /dev/null --cert "$D/follower.crt" --key "$D/follower.key" \
  --cacert "$D/ca/ca.crt" "https://localhost:$NP$PATH_LATEST" --resolve "localhost:$NP:127.0.0.1" \
  | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$NP, $(nproc) workers, ETag $NGINX_ETAG"

# ---- warden leader
LP=$(free_port) PP=$(free_port)
LEADER_OK=0
start_leader() { # the leader on its ports with the store in $D; 0 when it accepts connections
  ( ulimit -n "$(ulimit -Hn)"
    exec "$W" leader --listen "127.0.0.1:$LP" --cert "$D/leader.crt" --key "$D/leader.key" \
      --client-ca "$D/ca/ca.crt" --trust-domain "$TD" --roster "$D/roster.json" --pin "$PIN" \
      --store "sqlite:$D/leader.db" --probe-listen "127.0.0.1:$PP" $LEADER_FLAGS
  ) 2>>"$D/leader.log" &
  LEADER_PID=$!
  wait_for "$LP"
}
stop_leader() {
  [ -n "$LEADER_PID" ] && kill "$LEADER_PID" 2>/dev/null && wait "$LEADER_PID" 2>/dev/null
  LEADER_PID=
}
leader_etag() {
  curl -sS -D - -o /dev/null --cert "$D/follower.crt" --key "$D/follower.key" \
    --cacert "$D/ca/ca.crt" --resolve "localhost:$LP:127.0.0.1" "https://localhost:$LP$PATH_LATEST" \
    | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p'
}
if "$W" leader --help 2>&1 | grep -q -- '--listen'; then
  if start_leader; then
    code=$("${CURL_ADMIN[@]}" -o "$D/publish.out" -w '%{http_code}' -X PUT \
      -H 'Content-Type: application/json' --data-binary "@$D/bundle.1.json" \
      --resolve "localhost:$LP:127.0.0.1" "https://localhost:$LP/api/v1/conductor/policy-bundles")
    WARDEN_ETAG=$(leader_etag)
    if [ "$code" = 201 ] && [ -n "$WARDEN_ETAG" ]; then
      LEADER_OK=1
      echo "warden leader on 127.0.0.1:$LP (pid $LEADER_PID), store sqlite, ETag $WARDEN_ETAG"
    else
      echo "bench-leader: publishing to the leader failed (HTTP $code): $(head -c 300 "$D/publish.out")" >&2
      tail -5 "$D/leader.log" >&2
    fi
  else
    echo "bench-leader: warden leader did not start:" >&2; tail -5 "$D/leader.log" >&2
  fi
else
  echo "warden leader: not built in this tree: only nginx is measured"
fi

# ---- throughput: the same generator, the same connections and duration, against both
RES=$D/results.txt
: > "$RES"
run_rps() { # label port etag conns pids
  "$B" rps --port "$2" --cert "$D/follower.crt" --key "$D/follower.key" --ca "$D/ca/ca.crt" \
    --path "$PATH_LATEST" --etag "$3" --conns "$4" --duration "$DUR" --warmup "$WARM" \
    --pid "$5" --label "$1" | tee -a "$RES" | grep -v '^RESULT'
}
NGINX_PIDS=$NGINX_PID,$(pgrep -P "$NGINX_PID" | paste -sd, -)
for n in $CONNS; do
  for r in $(seq "$RUNS"); do
    echo "-- $n connections, run $r of $RUNS"
    # alternate which server goes first, so drift on a shared machine hits both alike
    if [ $((r % 2)) = 1 ]; then
      run_rps nginx "$NP" "$NGINX_ETAG" "$n" "$NGINX_PIDS"
      [ "$LEADER_OK" = 1 ] && run_rps warden "$LP" "$WARDEN_ETAG" "$n" "$LEADER_PID"
    else
      [ "$LEADER_OK" = 1 ] && run_rps warden "$LP" "$WARDEN_ETAG" "$n" "$LEADER_PID"
      run_rps nginx "$NP" "$NGINX_ETAG" "$n" "$NGINX_PIDS"
    fi
  done
done
echo "== throughput, medians of $RUNS runs of ${DUR} s (after ${WARM} s warm-up), 304s per second;"
echo "   CPU us/req: the server's own CPU time (all its processes, user + system) per 304"
python3 - "$RES" <<'EOF'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    if not line.startswith("RESULT mode=rps"):
        continue
    kv = dict(p.split("=", 1) for p in line.split()[1:])
    rows.setdefault((int(kv["conns"]), kv["label"]), []).append(kv)
print(f"{'conns':>5}  {'server':<7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'errors':>7}  runs (req/s)")
for conns in sorted({k[0] for k in rows}):
    med, cpu = {}, {}
    for label in ("nginx", "warden"):
        r = rows.get((conns, label))
        if not r:
            continue
        rps = [float(x["rps"]) for x in r]
        med[label] = st.median(rps)
        cpu[label] = st.median(float(x["us_per_req"]) for x in r)
        print(f"{conns:>5}  {label:<7} {med[label]:>9.0f} {st.median(float(x['p50_us']) for x in r)/1e3:>8.3f}"
              f" {st.median(float(x['p99_us']) for x in r)/1e3:>8.3f} {cpu[label]:>10.1f}"
              f" {sum(int(x['errors']) + int(x['conn_errors']) for x in r):>7}  "
              + ", ".join(f"{v:.0f}" for v in rps))
    if "nginx" in med and "warden" in med and med["nginx"] > 0:
        print(f"{conns:>5}  ratio warden/nginx: throughput {med['warden'] / med['nginx']:.2f} (target >= 0.80);"
              f" by server CPU per request {cpu['nginx'] / cpu['warden']:.2f}" if cpu["warden"] > 0 else "")
EOF

# ---- held long polls, each on a freshly started server (memory a previous phase freed is not
# returned to the system, and would hide the growth being measured)
if [ "$LEADER_OK" = 1 ] && [ "$HOLD" -gt 0 ]; then
  for r in $(seq "$HOLD_RUNS"); do
    v=$((r + 1))
    stop_leader
    start_leader || { echo "bench-leader: the leader did not restart" >&2; tail -5 "$D/leader.log" >&2; exit 1; }
    ETAG=$(leader_etag)   # the current bundle's: each run publishes a newer one
    echo "== $HOLD held long polls (Prefer: wait=300) on the leader, then bundle version $v published (run $r of $HOLD_RUNS)"
    PUB="curl -sS -o /dev/null --cert $D/admin.crt --key $D/admin.key --cacert $D/ca/ca.crt \
--resolve localhost:$LP:127.0.0.1 -X PUT -H 'Content-Type: application/json' \
--data-binary @$D/bundle.$v.json https://localhost:$LP/api/v1/conductor/policy-bundles"
    ( ulimit -n "$(ulimit -Hn)"
      exec "$B" hold --port "$LP" --ca "$D/ca/ca.crt" --issue-ca-cert "$D/ca/ca.crt" \
        --issue-ca-key "$D/ca/ca.key" \
        --issue-uri "spiffe://$TD/org/acme/fleet/prod/env/eu1/instance/bench-%d" \
        --path "$PATH_LATEST" --etag "$ETAG" --pid "$LEADER_PID" --conns "$HOLD" --wait 300 \
        --publish-cmd "$PUB" --label warden ) | tee -a "$RES" | grep -v '^RESULT'
  done
fi
# nginx's memory for the same number of TLS connections, each after one 304 (nginx does not hold
# requests): what a keep-alive mTLS connection costs a server built for it
if [ "$HOLD" -gt 0 ]; then
  stop_nginx
  start_nginx
  echo "== $HOLD keep-alive TLS connections on nginx (each answered one 304 at once), for comparison"
  NGINX_WORKERS=$(pgrep -P "$NGINX_PID" | paste -sd, -)
  ( ulimit -n "$(ulimit -Hn)"
    exec "$B" hold --port "$NP" --ca "$D/ca/ca.crt" --cert "$D/follower.crt" \
      --key "$D/follower.key" --path "$PATH_LATEST" --etag "$NGINX_ETAG" \
      --pid "$NGINX_PID,$NGINX_WORKERS" --conns "$HOLD" --wait 300 --label nginx ) \
    | tee -a "$RES" | grep -v '^RESULT'
fi
# how much of a connection's memory is OpenSSL's own: measured in-process, server side configured
# like the leader's, and variants
echo "== OpenSSL's share"
"$B" tlsmem --server-cert "$D/leader.crt" --server-key "$D/leader.key" --cert "$D/follower.crt" \
  --key "$D/follower.key" --ca "$D/ca/ca.crt" --conns 2000
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
