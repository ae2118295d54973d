#!/bin/bash
# test_fleetbench.sh BENCH_FLEET — the fleet benchmark works at a small N: bench_fleet against a
# real `warden leader` on 127.0.0.1 (ephemeral ports, SQLite store in the test's directory),
# every simulated follower with its own certificate, receiving and verifying every published
# bundle; the certificate cache is reused; a publish that fails, a roster that does not match
# the pin and bad usage are reported as failures; more held polls than the leader re-runs in
# one batch are all answered; and scripts/bench-fleet.sh end to end.
# No figure is asserted: timings depend on the machine.
. "$WD_SRCDIR/tests/cli/lib.sh"
W=$WARDEN
BF=${1:?usage: test_fleetbench.sh BENCH_FLEET}
TD=fleet.test
LEADER_PID=
stop_leader() {
    [ -n "$LEADER_PID" ] && kill "$LEADER_PID" 2>/dev/null && wait "$LEADER_PID" 2>/dev/null
    LEADER_PID=
}
trap 'stop_leader; rm -rf "$T"' EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() {
    local i
    for i in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- usage
expect "01 no arguments: usage, exit 2" 2 "usage: bench_fleet" -- "$BF"
expect "02 --n 0 is a usage error" 2 "usage: bench_fleet" -- "$BF" --port 1 --ca-dir "$T" \
    --roster x --pin x --org a --fleet b --env c --publish-cmd true --pid $$ --n 0
expect "03 a bad --port list is a usage error" 2 "usage: bench_fleet" -- "$BF" --port 1,x \
    --ca-dir "$T" --roster x --pin x --org a --fleet b --env c --publish-cmd true --pid $$

# ---- fixtures: CA, leader and admin certificates, roster, bundles 1..4
(
    cd "$T" || exit 1
    "$W" pki init --trust-domain "$TD" --dir ca >/dev/null &&
    "$W" pki issue --dir ca --leader localhost,127.0.0.1 --out leader >/dev/null &&
    "$W" pki issue --dir ca --admin acme/bench --out admin >/dev/null &&
    "$W" key gen root.key >/dev/null && "$W" key gen signer.key >/dev/null &&
    "$W" key gen other.key >/dev/null &&
    "$W" roster init --org acme --root-key root.key --out roster.1.json >/dev/null &&
    "$W" roster add-key roster.1.json --key signer.key.pub --purpose policy-bundle-signing \
        --sign root.key --out roster.json >/dev/null &&
    printf 'version: 1\nmode: enforce\nservers:\n  default: deny\n' > policy.yaml &&
    for v in 1 2 3 4 5; do
        "$W" bundle create --policy policy.yaml --org acme --fleet prod --env eu1 --version $v \
            --instances '*' --sign signer.key --out bundle.$v.json >/dev/null || exit 1
    done
) || { notok "04 fixtures"; done_testing; exit 1; }
ok "04 fixtures"
PIN=$("$W" key id "$T/root.key.pub")
OTHER_PIN=$("$W" key id "$T/other.key.pub")

LP=$(free_port) PP=$(free_port)
"$W" leader --listen "127.0.0.1:$LP" --cert "$T/leader.crt" --key "$T/leader.key" \
    --client-ca "$T/ca/ca.crt" --trust-domain "$TD" --roster "$T/roster.json" --pin "$PIN" \
    --store "sqlite:$T/leader.db" --probe-listen "127.0.0.1:$PP" --log-level warn \
    2>"$T/leader.log" &
LEADER_PID=$!
if ! wait_for "$LP"; then
    notok "05 the leader starts" "$(tail -5 "$T/leader.log")"
    done_testing
    exit 1
fi
ok "05 the leader starts"
PUB="$W publish bundle $T/bundle.%d.json --leader https://127.0.0.1:$LP --cert $T/admin.crt --key $T/admin.key --ca $T/ca/ca.crt"
expect "06 version 1 published" 0 "published" -- \
    $(echo "$PUB" | sed 's/%d/1/')

# bench ARGS...: bench_fleet against the leader, the fixtures' identity and the cache in $T
bench() {
    "$BF" --port "$LP" --ca-dir "$T/ca" --cache "$T/leaves.pem" --roster "$T/roster.json" \
        --org acme --fleet prod --env eu1 --pid "$LEADER_PID" --settle 0.2 --timeout 60 "$@"
}

# ---- 20 followers, two rounds (versions 2 and 3)
expect "07 20 followers, 2 rounds: exit 0" 0 "every follower verified every published bundle" -- \
    bench --pin "$PIN" --n 20 --rounds 2 --first-version 2 --publish-cmd "$PUB >/dev/null"
cp "$T/out" "$T/run1.out"
check "08 20 certificates issued, none from the empty cache" \
    grep -q "20 follower certificates: 0 from the cache" "$T/err"
check "09 the cache file is 0600" test "$(stat -c %a "$T/leaves.pem")" = 600
check "10 20 of 20 established" grep -q "connect: 20 of 20 established (0 failed)" "$T/run1.out"
check "11 every follower synced and holds a poll" \
    grep -q "sync: 20 followers fetched and verified the current bundle and hold a poll" "$T/run1.out"
check "12 round 1: version 2 reached all 20, verified" \
    grep -q "round 1: version 2 published (command exit 0.*); 20 of 20 followers verified it" "$T/run1.out"
check "13 round 2: version 3 reached all 20, verified" \
    grep -q "round 2: version 3 published (command exit 0.*); 20 of 20 followers verified it" "$T/run1.out"
check "14 one RESULT line per round, each with verified=20" \
    test "$(grep -c '^RESULT mode=round .* verified=20 ' "$T/run1.out")" = 2
check "15 the fleet RESULT line reports held=20 and the leader's RSS" \
    grep -qE '^RESULT mode=fleet .* held=20 .*rss0_kib=[1-9][0-9]* rss_held_kib=[1-9]' "$T/run1.out"
check "16 no rejection, no other answer, no lost connection" \
    grep -q "hold a poll (.*); 0 rejected, 0 other answers, 0 followers lost, 0 reconnections" "$T/run1.out"
# each follower presented its own identity: the leader saw 20 distinct instance ids when they
# polled is not visible from outside, but the cache holds 20 distinct certificates
check "17 the cache holds 20 distinct follower certificates with their own keys" bash -c "
    test \$(grep -c 'BEGIN CERTIFICATE' '$T/leaves.pem') = 20 &&
    test \$(grep -c 'BEGIN PRIVATE KEY' '$T/leaves.pem') = 20 &&
    test \$(awk '/BEGIN PRIVATE KEY/,/END PRIVATE KEY/' '$T/leaves.pem' | sort -u | wc -l) -gt 60"

# ---- the cache is reused; a smaller fleet takes its first certificates
expect "18 10 followers, 1 round (version 4): exit 0" 0 \
    "every follower verified every published bundle" -- \
    bench --pin "$PIN" --n 10 --rounds 1 --first-version 4 --publish-cmd "$PUB >/dev/null"
check "19 the 10 certificates come from the cache" \
    grep -q "10 follower certificates: 10 from the cache" "$T/err"

# ---- failures are reported, not hidden
expect "20 a publish that fails: exit 1, INCOMPLETE" 1 "INCOMPLETE" -- \
    bench --pin "$PIN" --n 5 --rounds 1 --first-version 5 --timeout 3 --publish-cmd "exit 7"
check "21 it names the command's exit status and that nobody verified it" \
    grep -q "round 1: version 5 published (command exit 7, .*); 0 of 5 followers verified it" "$T/out"
expect "22 a roster that does not match the pin: exit 1, untrusted-root" 1 "untrusted-root" -- \
    bench --pin "$OTHER_PIN" --n 5 --rounds 1 --first-version 5 --publish-cmd true
expect "23 a leader that is not there: exit 1" 1 "5 never established" -- \
    "$BF" --port "$(free_port)" --ca-dir "$T/ca" --cache "$T/leaves.pem" --roster "$T/roster.json" \
    --org acme --fleet prod --env eu1 --pid "$LEADER_PID" --pin "$PIN" --n 5 --rounds 1 \
    --publish-cmd true --timeout 5

# ---- more held polls than the leader re-runs in one batch (64 per worker and turn of its
# loop): every one of them is still answered, with the new bundle
expect "24 300 followers, 1 round (version 5): exit 0" 0 \
    "every follower verified every published bundle" -- \
    bench --pin "$PIN" --n 300 --rounds 1 --first-version 5 --publish-cmd "$PUB >/dev/null"
check "25 round 1: version 5 reached all 300, verified, none lost" bash -c "
    grep -q 'round 1: version 5 published (command exit 0.*); 300 of 300 followers verified it' '$T/out' &&
    grep -q '0 rejected, 0 other answers, 0 followers lost, 0 reconnections' '$T/out'"
stop_leader

# ---- the script end to end: its own leader, 10 followers, one round
FLEET_NS=10 FLEET_ROUNDS=1 FLEET_SETTLE=0.2 FLEET_CACHE="$T/script-cache" \
    bash "$WD_SRCDIR/scripts/bench-fleet.sh" "$WD_BUILDDIR" >"$T/script.out" 2>"$T/script.err"
rc=$?
if [ "$rc" = 0 ]; then ok "26 bench-fleet.sh with FLEET_NS=10: exit 0"
else notok "26 bench-fleet.sh with FLEET_NS=10: exit 0" "exit $rc" "$(tail -5 "$T/script.err")"; fi
check "27 its run delivered version 2 to all 10" \
    grep -q "round 1: version 2 published (command exit 0.*); 10 of 10 followers verified it" "$T/script.out"
check "28 its summary has a row for N=10 with one round" grep -qE '^ +10 +1 ' "$T/script.out"
spid=$(sed -n 's/.*leader pid(s) \([0-9]*\) on port.*/\1/p' "$T/script.out")
check "29 its leader is stopped" bash -c "[ -n '$spid' ] && ! kill -0 '$spid' 2>/dev/null"
done_testing
