#!/bin/bash
# test_leader.sh — the `warden leader` command: help, usage errors naming the flag, the strict
# --config file (flags win), a key file others can read, the real binary serving its probe
# listener, a second leader on the same port (exit 1, the exact line), and the drain on
# SIGTERM (exit 0), and the real routes behind the transport: a publish releases a follower's
# held long poll with the new bundle's exact bytes. The transport itself is tested in
# test_leader_transport.sh.
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/cli/leader_certs.sh"
W=$WARDEN
P=$T/pki
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

expect "--help exits 0" 0 "usage: warden leader --listen ADDR:PORT" -- "$W" leader --help
check "--help documents every flag" bash -c 'for f in --listen --cert --key --client-ca \
    --trust-domain --roster --pin --store --probe-listen --ui-listen --ui-token-file --config \
    --workers --max-conns --log-format --log-level; do grep -qF -- "$f" "$1" || exit 1; done' _ "$T/out"
check "--help gives the exit codes" grep -q "Exit codes: 0 drained" "$T/out"
if grep -q "SPEC" "$T/out"; then notok "--help stands alone"; else ok "--help stands alone"; fi

mk_leader_certs "$P" fleet.test || { notok "certificates"; done_testing; exit 1; }
"$W" key gen "$T/root" >/dev/null
"$W" roster init --org acme --root-key "$T/root" --out "$T/roster.json" >/dev/null
PIN=$("$W" key id "$T/root")
ARGS=(--cert "$P/leader.crt" --key "$P/leader.key" --client-ca "$P/ca.crt"
      --trust-domain fleet.test --roster "$T/roster.json" --pin "$PIN")

# ---- usage errors: exit 2, the flag named ----
expect "no flags: exit 2 naming --listen" 2 "leader: --listen is required" -- "$W" leader
for f in --cert --key --client-ca --trust-domain --roster --pin; do
    args=(--listen 127.0.0.1:0)
    for ((k = 0; k < ${#ARGS[@]}; k += 2)); do
        [ "${ARGS[$k]}" = "$f" ] || args+=("${ARGS[$k]}" "${ARGS[$((k + 1))]}")
    done
    expect "missing $f: exit 2 naming it" 2 "leader: $f is required" -- "$W" leader "${args[@]}"
done
expect "unknown flag: exit 2" 2 "unknown option: --frobnicate" -- "$W" leader --frobnicate
expect "flag without its value: exit 2" 2 "--cert needs a value" -- "$W" leader --cert
expect "stray argument: exit 2" 2 "unexpected argument: extra" -- "$W" leader extra
expect "bad --listen: exit 2" 2 "listen: 'nowhere' is not ADDR:PORT" -- "$W" leader --listen nowhere "${ARGS[@]}"
expect "bad --workers: exit 2" 2 "workers: 'x' is not an integer" -- "$W" leader --workers x
expect "bad --log-format: exit 2" 2 "log.format: 'xml' is not json or text" -- "$W" leader --log-format xml
expect "bad --trust-domain: exit 2" 2 "is not a trust domain name" -- "$W" leader --trust-domain 'Bad TD'

# ---- --config ----
printf 'listen: 127.0.0.1:0\nlsten: 127.0.0.1:1\n' >"$T/bad.yaml"
expect "config: an unknown key is exit 2, named with the file" 2 "$T/bad.yaml: lsten: unknown key" \
    -- "$W" leader --config "$T/bad.yaml"
printf 'log:\n  format: json\n  colour: red\n' >"$T/bad2.yaml"
expect "config: an unknown nested key is named by its path" 2 "log.colour: unknown key" \
    -- "$W" leader --config "$T/bad2.yaml"
printf 'workers: many\n' >"$T/bad3.yaml"
expect "config: a wrong value is exit 2" 2 "workers: 'many' is not an integer" -- "$W" leader --config "$T/bad3.yaml"
expect "config: a missing file is exit 1" 1 "missing.yaml" -- "$W" leader --config "$T/missing.yaml"
printf 'cert: %s\n' "$P/leader.crt" >"$T/partial.yaml"
expect "config: still missing flags are named" 2 "--listen is required" -- "$W" leader --config "$T/partial.yaml"

# ---- start errors ----
cp "$P/leader.key" "$T/open.key"
chmod 644 "$T/open.key"
expect "a leader key that others can read: exit 1" 1 "is readable by group or others" -- \
    "$W" leader --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --store "sqlite:$T/x.db" \
    --cert "$P/leader.crt" --key "$T/open.key" --client-ca "$P/ca.crt" --trust-domain fleet.test \
    --roster "$T/roster.json" --pin "$PIN"

# ---- the real binary: serves, refuses a second instance, drains ----
# ports 0: the kernel picks them, and the start line names them
printf 'listen: 127.0.0.1:1\nworkers: 3\nlog:\n  format: text\n' >"$T/leader.yaml"
"$W" leader --config "$T/leader.yaml" --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 \
    --store "sqlite:$T/leader.db" "${ARGS[@]}" 2>"$T/leader.log" &
LP=$!
PIDS+=("$LP")
for _ in $(seq 1 100); do
    grep -q " start " "$T/leader.log" && break
    kill -0 "$LP" 2>/dev/null || break
    sleep 0.1
done
PORT=$(sed -n 's/.* start listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/leader.log")
PPORT=$(sed -n 's/.* probe=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/leader.log")
if [ -n "$PORT" ] && [ -n "$PPORT" ] &&
    [ "$(curl -s --max-time 10 "http://127.0.0.1:$PPORT/healthz")" = ok ]; then
    ok "warden leader starts and its probe answers /healthz"
else notok "warden leader starts and its probe answers /healthz" "$(cat "$T/leader.log")"; fi
check "flags win over the file: it listens on the --listen address, not the file's" test "$PORT" != 1
check "the file's keys apply when no flag says otherwise: text log, 3 workers" grep -q " info start .*workers=3 store=sqlite trust_domain=fleet.test" "$T/leader.log"
out=$(curl -sS --max-time 10 --cacert "$P/ca.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/api/v1/conductor/capabilities" 2>/dev/null)
check_code=$?
if [ "$out" = "000" ] && [ $check_code -ne 0 ]; then ok "no client certificate: no HTTP answer from warden leader"
else notok "no client certificate: no HTTP answer from warden leader" "got $out exit $check_code"; fi
expect "a second leader on the same port exits 1" 1 "" -- timeout 20 "$W" leader \
    --listen "127.0.0.1:$PORT" --probe-listen 127.0.0.1:0 --store "sqlite:$T/leader2.db" "${ARGS[@]}"
exactly_one_line "... with exactly one line: address already in use" \
    "warden leader: cannot listen on 127.0.0.1:$PORT: address already in use"
expect "a second leader on the same probe port exits 1" 1 "" -- timeout 20 "$W" leader \
    --listen 127.0.0.1:0 --probe-listen "127.0.0.1:$PPORT" --store "sqlite:$T/leader3.db" "${ARGS[@]}"
exactly_one_line "... with exactly one line naming the probe address" \
    "warden leader: cannot listen on 127.0.0.1:$PPORT: address already in use"
kill -TERM "$LP"
timeout 20 tail --pid="$LP" -f /dev/null
wait "$LP"
check "SIGTERM: warden leader drains and exits 0" test $? -eq 0
check "the drain is logged" grep -q " info stop detail=drained" "$T/leader.log"

# ---- the real routes behind the transport: publish wakes a held long poll ----
"$W" key gen "$T/bs" >/dev/null
"$W" roster add-key "$T/roster.json" --key "$T/bs.pub" --purpose policy-bundle-signing \
    --sign "$T/root" --out "$T/roster2.json" >/dev/null
"$W" bundle create --policy "$WD_SRCDIR/examples/default-policy.yaml" --org acme --fleet web \
    --env prod --version 1 --instances '*' --sign "$T/bs" --out "$T/b1" >/dev/null
"$W" bundle create --policy "$WD_SRCDIR/examples/default-policy.yaml" --org acme --fleet web \
    --env prod --version 2 --instances '*' --previous "$T/b1" --sign "$T/bs" --out "$T/b2" >/dev/null
"$W" leader --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --store "sqlite:$T/e2e.db" \
    --cert "$P/leader.crt" --key "$P/leader.key" --client-ca "$P/ca.crt" --trust-domain fleet.test \
    --roster "$T/roster2.json" --pin "$PIN" --log-format text 2>"$T/e2e.log" &
LP=$!
PIDS+=("$LP")
for _ in $(seq 1 100); do
    grep -q " start " "$T/e2e.log" && break
    kill -0 "$LP" 2>/dev/null || break
    sleep 0.1
done
PORT=$(sed -n 's/.* start listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/e2e.log")
PPORT=$(sed -n 's/.* probe=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/e2e.log")
API=https://127.0.0.1:$PORT/api/v1/conductor
admin() { curl -sS --max-time 30 --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" "$@"; }
follower() { curl -sS --max-time 30 --cacert "$P/ca.crt" --cert "$P/follower.crt" --key "$P/follower.key" "$@"; }
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "wanted: $3" "got: $2"; fi; }
check_eq "/readyz: 200 once the roster is loaded" "$(curl -s --max-time 10 "http://127.0.0.1:$PPORT/readyz")" ready
check_eq "publish bundle 1 through warden leader: 201" \
    "$(admin -X PUT --data-binary @"$T/b1" -o /dev/null -w '%{http_code}' "$API/policy-bundles")" 201
code=$(follower -D "$T/h1" -o /dev/null -w '%{http_code}' "$API/policy/latest")
check_eq "the follower gets it: 200" "$code" 200
ETAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\([^\r]*\).*/\1/p' "$T/h1")
follower -H "If-None-Match: $ETAG" -H 'Prefer: wait=60' -D "$T/h2" -o "$T/b2.got" \
    -w '%{http_code}' "$API/policy/latest" >"$T/code2" &
FP=$!
held=1
for _ in $(seq 1 100); do
    [ "$(curl -s --max-time 5 "http://127.0.0.1:$PPORT/metrics" | awk '$1 == "warden_leader_held_polls" { print $2 }')" = 1 ] && { held=0; break; }
    sleep 0.1
done
check "the follower's long poll is held" test $held -eq 0
check_eq "publish bundle 2: 201" \
    "$(admin -X PUT --data-binary @"$T/b2" -o /dev/null -w '%{http_code}' "$API/policy-bundles")" 201
wait "$FP"
check_eq "the publish releases the held poll: 200" "$(cat "$T/code2")" 200
check "... with bundle 2's exact bytes" cmp -s "$T/b2.got" "$T/b2"
check "... and Preference-Applied: wait=60" grep -qi '^Preference-Applied: wait=60' "$T/h2"
kill -TERM "$LP"
timeout 20 tail --pid="$LP" -f /dev/null
wait "$LP"
check "SIGTERM: exit 0" test $? -eq 0

done_testing
