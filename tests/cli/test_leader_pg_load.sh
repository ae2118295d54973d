#!/bin/bash
# test_leader_pg_load.sh — PostgreSQL restarted under load: two leaders A and B on one scratch
# cluster (scripts/pg-scratch.sh: 127.0.0.1, an ephemeral port), four real `warden agent`s (two
# on each leader), NPOLL raw long pollers (curl with mTLS holding GET policy/latest with
# If-None-Match and Prefer: wait=W, every attempt's status, ETag and timing recorded) and a
# publisher that publishes versions 2..K alternately through A and B with `warden publish`,
# retrying a refused publish until it lands (every attempt recorded). With the pollers
# holding polls and the publisher resuming, the database is stopped; once publishes have been
# refused it is started again. Then: the leaders reconnected by themselves (logged, ready
# again); every held poll was answered (200, 304 or 503; none dropped, none held past its
# wait); the store holds versions 1..K exactly once each, in order, with the published hashes;
# every refused attempt was a 503 `unavailable` and its retry landed exactly once; every agent
# and every poller ends on version K; no leader crashed or counted an internal error. Last, a
# publish stored although its answer was lost (written straight into the database here): its
# retry, answered 200 unchanged, wakes the poll the leader holds.
# Only 127.0.0.1; every process started here (leaders, agents, pollers, the publisher, the
# cluster) is stopped on every path.
. "$WD_SRCDIR/tests/cli/lib.sh"
. "$WD_SRCDIR/tests/leader/lib.sh"
W=$WARDEN
D=$T/fx
SCOPE=(--org acme --fleet prod --env eu1)
PGS=$WD_SRCDIR/scripts/pg-scratch.sh
K=10          # versions published in all
M=4           # ... of which before the restart
NPOLL=24      # raw long pollers, half on each leader
WAIT=8        # the Prefer: wait of odd pollers, seconds: their polls outlast the outage
SHORT=3       # ... of even pollers: theirs end (304) while the database is down
DOWN_MIN=5    # the database stays down at least this long (s), and until publishes are refused
MARGIN=60     # a poll answered later than its wait + MARGIN seconds counts as hung (generous:
              # the test machine may be loaded; a poll never answered ends at curl's limit)
NAGENT=4

# Background helpers (pollers, the publisher) record the pid of the child they wait for, so the
# cleanup can stop both the helper and its child.
BG_PIDS=()
load_cleanup() {
    local p f
    touch "$T/stop" 2>/dev/null
    for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for f in "$T"/poll/*.cpid "$T"/pub.cpid; do
        [ -s "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
    done
    for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    # KEEP=DIR: a copy of the test's folder (records, logs) for a post-mortem
    [ -n "${KEEP:-}" ] && cp -a "$T" "$KEEP" 2>/dev/null
    ld_cleanup
}
trap load_cleanup EXIT

LD_PG_DIR=$T/pg # ld_cleanup stops the cluster
if ! bash "$PGS" start "$LD_PG_DIR" >"$T/pg.url" 2>"$T/pg.err"; then
    notok "01 a scratch PostgreSQL cluster starts" "$(tail -n 20 "$T/pg.err")"
    done_testing
    exit 1
fi
ok "01 a scratch PostgreSQL cluster starts"
PGPORT=$(cat "$LD_PG_DIR/port")
psql_q() { psql -X -q -At -h "$LD_PG_DIR/sock" -p "$PGPORT" -U warden -d "$1" -c "$2" 2>&1; }

ld_fixture "$D"
fx=ok
for i in $(seq 1 $NAGENT); do ld_issue "$D/pki" follower "acme/prod/eu1/a-$i" "$D/a$i" || fx=bad; done
check "02 fixture built (PKI, roster, $NAGENT agent identities)" test "$fx" = ok -a -s "$D/R" -a -s "$D/a$NAGENT.crt"
PIN=$(cat "$D/R.pin")

# bundles 1..K, each naming the previous one; hashes in $T/hashes ("VERSION HASH")
fx=ok
for v in $(seq 1 $K); do
    prev=()
    [ "$v" -gt 1 ] && prev=(--previous "$T/b$((v - 1))")
    "$W" bundle create --policy "$D/p1.yaml" "${SCOPE[@]}" --version "$v" --instances '*' \
        "${prev[@]}" --sign "$D/bs" --out "$T/b$v" >/dev/null || fx=bad
done
"$PY" - "$T" "$K" >"$T/hashes" <<'PY' || fx=bad
import base64, hashlib, json, sys
for v in range(1, int(sys.argv[2]) + 1):
    env = json.load(open("%s/b%d" % (sys.argv[1], v)))
    print(v, "sha256:" + hashlib.sha256(base64.b64decode(env["payload"])).hexdigest())
PY
check "03 bundles 1..$K made" test "$fx" = ok -a "$(wc -l <"$T/hashes")" = "$K"
hash_of() { awk -v v="$1" '$1 == v { print $2 }' "$T/hashes"; }

U=$(bash "$PGS" createdb "$LD_PG_DIR" shared)
if ld_start a "$D" "$U" && A_URL=$LD_URL A_PROBE=$LD_PROBE A_PID=$LD_PID &&
    ld_start b "$D" "$U" && B_URL=$LD_URL B_PROBE=$LD_PROBE B_PID=$LD_PID; then
    ok "04 leaders A and B start on one database"
else
    notok "04 leaders A and B start on one database" "$(tail -n 20 "$T/a.log" "$T/b.log" 2>&1)"
    done_testing
    exit 1
fi
leader_url() { if [ "$1" = A ]; then echo "$A_URL"; else echo "$B_URL"; fi; }
probe_of() { if [ "$1" = A ]; then echo "$A_PROBE"; else echo "$B_PROBE"; fi; }
readyz() { curl -s -o /dev/null -w '%{http_code}' --max-time 15 "http://127.0.0.1:$(probe_of "$1")/readyz"; }
publish() { # publish VERSION LEADER: `warden publish bundle`; its output in $T/pub.out, pub.err
    "$W" publish bundle "$T/b$1" --leader "$(leader_url "$2")" --cert "$D/adm.crt" \
        --key "$D/adm.key" --ca "$D/pki/ca.crt" --timeout 60s >"$T/pub.out" 2>"$T/pub.err" </dev/null &
    echo $! >"$T/pub.cpid"
    wait $!
}

publish 1 A
rc=$?
check "05 bundle 1 published through A: exit 0 ($rc: $(cat "$T/pub.out"))" \
    bash -c "test $rc = 0 && grep -q '^published: 201' '$T/pub.out'"
echo "1 A 1 $rc - - $(cat "$T/pub.out" "$T/pub.err" | tr '\n' ' ')" >"$T/pub.log"

# ---- agents: a-1, a-3 on A; a-2, a-4 on B ----
agent_on() { if [ $(($1 % 2)) = 1 ]; then echo A; else echo B; fi; }
for i in $(seq 1 $NAGENT); do
    mkdir -p "$T/agent$i"
    cat >"$T/agent$i.yaml" <<YAML
instance_id: a-$i
labels: {team: payments}
state_dir: $T/agent$i/state
conductor:
  enabled: true
  leader_url: $(leader_url "$(agent_on "$i")")
  trust_roster_root_fingerprint: $PIN
  honor_remote_kill_switch: true
  poll_interval: 2s
  long_poll: true
  tls: {cert: $D/a$i.crt, key: $D/a$i.key, ca: $D/pki/ca.crt}
logging: {level: debug, format: text}
YAML
    "$W" agent --config "$T/agent$i.yaml" 2>"$T/agent$i.log" </dev/null &
    AGENT_PIDS[$i]=$!
    LD_PIDS+=("$!")
done
agent_version() {
    "$W" agent status --state-dir "$T/agent$1/state" --json 2>/dev/null |
        jq -r '.active_bundle.version // empty' 2>/dev/null
}
# agents_at V SECONDS: every agent's active bundle is V within SECONDS; the versions in $AV.
agents_at() {
    local i all
    for _ in $(seq 1 $(($2 * 5))); do
        all=yes AV=""
        for i in $(seq 1 $NAGENT); do
            v=$(agent_version "$i")
            AV="$AV a-$i:${v:-none}"
            [ "$v" = "$1" ] || all=no
        done
        [ $all = yes ] && return 0
        sleep 0.2
    done
    return 1
}
if agents_at 1 60; then ok "06 $NAGENT agents (two on each leader) apply bundle 1"
else notok "06 $NAGENT agents (two on each leader) apply bundle 1" "versions:$AV" "$(tail -n 5 "$T/agent1.log")"; fi

# ---- raw long pollers ----
# poller I LEADER ID ETAG WAIT: long polls (Prefer: wait=WAIT) of policy/latest on LEADER as
# identity ID until $T/stop exists. $T/poll/I.log gets "S n start" before each attempt and "E n start end curl_rc status
# etag" after it (times: seconds since the epoch); a 200's body is kept as I.n.body; I.etag is
# the ETag it holds.
mkdir -p "$T/poll"
poller() {
    local i=$1 url etag=$4 wait=$5 n=0 t0 t1 rc st tag shown="" f=$T/poll/$1
    url=$(leader_url "$2")
    while [ ! -e "$T/stop" ]; do
        n=$((n + 1))
        t0=$EPOCHREALTIME
        echo "S $n $t0" >>"$f.log"
        curl -sS --max-time $((wait + MARGIN + 60)) --cacert "$D/pki/ca.crt" --cert "$D/$3.crt" \
            --key "$D/$3.key" -H "If-None-Match: \"$etag\"" -H "Prefer: wait=$wait" \
            -o "$f.body" -w '%{http_code} %header{etag}' "$url$API/policy/latest" \
            >"$f.st" 2>"$f.err" </dev/null &
        echo $! >"$f.cpid"
        wait $!
        rc=$?
        t1=$EPOCHREALTIME
        st="" tag=""
        read -r st tag <"$f.st"
        tag=${tag//\"/}
        echo "E $n $t0 $t1 $rc ${st:-000} ${tag:--}" >>"$f.log"
        if [ "$st" = 200 ] && [ -n "$tag" ]; then
            mv "$f.body" "$f.$n.body"
            etag=$tag
        elif [ "$st" != 304 ]; then
            sleep 0.2
        fi
        if [ "$etag" != "$shown" ]; then # replaced whole: a reader never sees it half written
            echo "$etag" >"$f.etag.new" && mv -f "$f.etag.new" "$f.etag"
            shown=$etag
        fi
    done
}
H1=$(hash_of 1)
for i in $(seq 1 $NPOLL); do
    # pollers 1, 2 on A; 3, 4 on B; ...: each leader holds long and short waits
    l=A id=f1 w=$WAIT
    [ $(((i - 1) / 2 % 2)) = 1 ] && l=B id=f2
    [ $((i % 2)) = 0 ] && w=$SHORT
    echo "$i $w" >>"$T/poll/waits"
    poller "$i" $l $id "$H1" $w &
    BG_PIDS+=($!)
done
held() { LD_PROBE=$(probe_of "$1") metric warden_leader_held_polls; }
# all_held ETAG: every poller with the long wait is in an attempt made with ETAG (those with
# the short one come and go), and the two leaders hold at least NPOLL/2 polls between them.
all_held() {
    local i files=()
    for i in $(seq 1 2 $NPOLL); do files+=("$T/poll/$i.log"); done
    # one pass over the records: each file's last line, and the ETag its attempt was made with
    awk -v want="$1" -v h1="$H1" '
        FNR == 1 && NR > 1 && !(last ~ /^S/ && et == want) { bad = 1 }
        FNR == 1 { et = h1 }
        /^E/ && $6 == 200 { et = $7 }
        { last = $0 }
        END { if (!(last ~ /^S/ && et == want)) bad = 1; exit bad }' "${files[@]}" 2>/dev/null || return 1
    HA=$(held A) HB=$(held B)
    [ $((${HA:-0} + ${HB:-0})) -ge $((NPOLL / 2)) ]
}
wait_all_held() { local _; for _ in $(seq 1 600); do all_held "$1" && return 0; sleep 0.1; done; return 1; }
if wait_all_held "$H1"; then ok "07 $NPOLL pollers long-poll A and B (held: A $HA, B $HB)"
else notok "07 $NPOLL pollers long-poll A and B" "held: A ${HA:-?}, B ${HB:-?}"; fi

# ---- the publisher ----
# Publishes versions 2..K, version v through A when v is even, B when odd, while v is at most
# the number in $T/gate; a refused attempt is retried (same bytes, through the other leader)
# after 0.2 s until it lands. $T/pub.log gets "VERSION LEADER ATTEMPT EXIT START END OUTPUT"
# per attempt.
echo "$M" >"$T/gate"
publisher() {
    local v=2 a rc t0 t1 l out
    while [ $v -le $K ]; do
        while [ "$v" -gt "$(cat "$T/gate")" ]; do
            [ -e "$T/stop" ] && return
            sleep 0.05
        done
        l=B
        [ $((v % 2)) = 0 ] && l=A
        a=0
        while :; do
            [ -e "$T/stop" ] && return
            a=$((a + 1))
            t0=$EPOCHREALTIME
            publish "$v" "$l"
            rc=$?
            t1=$EPOCHREALTIME
            out=$(cat "$T/pub.out" "$T/pub.err" | tr '\n' ' ')
            echo "$v $l $a $rc $t0 $t1 $out" >>"$T/pub.log"
            [ $rc = 0 ] && break
            sleep 0.2
            if [ $l = A ]; then l=B; else l=A; fi
        done
        v=$((v + 1))
        sleep 0.3
    done
    touch "$T/pub.done"
}
publisher &
BG_PIDS+=($!)
last_published() { tail -n 1 "$T/pub.log" | awk '$4 == 0 { print $1 }'; }
for _ in $(seq 1 600); do [ "$(last_published)" = "$M" ] && break; sleep 0.1; done
bad=$(awk '$1 > 1 && $1 <= '$M' && $4 != 0' "$T/pub.log")
check "08 versions 2..$M published through A and B in turn before the restart (last: $(last_published))" \
    test "$(last_published)" = "$M" -a -z "$bad"
[ -n "$bad" ] && echo "$bad" | sed 's/^/# /'
HM=$(hash_of $M)
if wait_all_held "$HM"; then ok "09 every long-wait poller holds a poll for a version after $M (held: A $HA, B $HB)"
else notok "09 every long-wait poller holds a poll for a version after $M" "held: A ${HA:-?}, B ${HB:-?}"; fi

# ---- the restart ----
# the publisher resumes as the database goes down (the gate replaced whole, never seen empty)
echo "$K" >"$T/gate.new" && mv -f "$T/gate.new" "$T/gate"
T_DOWN=$EPOCHREALTIME
bash "$PGS" stop "$LD_PG_DIR" >/dev/null 2>&1
T_STOPPED=$EPOCHREALTIME
for _ in $(seq 1 300); do
    ca=$(readyz A) cb=$(readyz B)
    [ "$ca:$cb" = 503:503 ] && break
    sleep 0.1
done
check "10 the database stopped: A and B answer readyz 503 ($ca, $cb)" test "$ca:$cb" = 503:503
refused() { awk -v t="$T_DOWN" '$5 >= t && $4 != 0' "$T/pub.log" | wc -l; }
for _ in $(seq 1 300); do
    [ "$(refused)" -ge 2 ] &&
        awk -v a="$T_DOWN" -v b="$EPOCHREALTIME" -v m=$DOWN_MIN 'BEGIN { exit !(b - a >= m) }' && break
    sleep 0.1
done
n=$(refused)
via=$(awk -v t="$T_DOWN" '$5 >= t && $4 != 0 { print $2 }' "$T/pub.log" | sort -u | tr -d '\n')
check "11 publishes while the database is down are refused, through A and B ($n attempts so far, through $via)" \
    test "$n" -ge 2 -a "$via" = AB
if bash "$PGS" start "$LD_PG_DIR" >/dev/null 2>"$T/pg.err2"; then ok "12 the database starts again"
else notok "12 the database starts again" "$(tail -n 20 "$T/pg.err2")"; fi
T_UP=$EPOCHREALTIME
echo "# database down from $T_DOWN (stopped at $T_STOPPED) to $T_UP: $(awk -v a="$T_DOWN" -v b="$T_UP" 'BEGIN { printf "%.1f", b - a }') s"

for l in a b; do
    for _ in $(seq 1 300); do
        grep -q '"event":"store-watch","outcome":"listening"' "$T/$l.log" && break
        sleep 0.1
    done
    L=$(echo $l | tr ab AB)
    check "13 $L logged its lost LISTEN connection" grep -q '"event":"store-watch","outcome":"lost"' "$T/$l.log"
    check "13 ... and, by itself, listening again" grep -q '"event":"store-watch","outcome":"listening"' "$T/$l.log"
    for _ in $(seq 1 300); do c=$(readyz $L); [ "$c" = 200 ] && break; sleep 0.1; done
    check "14 $L is ready again ($c)" test "$c" = 200
done

for _ in $(seq 1 900); do [ -e "$T/pub.done" ] && break; sleep 0.1; done
check "15 the publisher landed every version up to $K ($(wc -l <"$T/pub.log") attempts)" test -e "$T/pub.done"
n=$(awk -v t="$T_UP" '$4 == 0 && $5 >= t { print $2 }' "$T/pub.log" | sort -u | tr -d '\n')
check "15 ... through both leaders after the restart (landed through: $n)" test "$n" = AB

# ---- the store ----
got=$(psql_q shared "SELECT version || ' ' || hash FROM bundles WHERE org = 'acme' AND fleet = 'prod' AND env = 'eu1' ORDER BY version")
if [ "$got" = "$(cat "$T/hashes")" ]; then
    ok "16 the store holds versions 1..$K, once each, in order, with the published hashes"
else
    notok "16 the store holds versions 1..$K, once each, in order, with the published hashes" \
        "store: $(echo "$got" | awk '{ printf "%s ", $1 }')" \
        "$(diff <(echo "$got") "$T/hashes" | head -n 20)"
fi
n=$(psql_q shared "SELECT count(*) || ' ' || count(DISTINCT hash) || ' ' || count(DISTINCT version) FROM bundles")
check "16 ... and nothing else: $K rows, $K hashes, $K versions ($n)" test "$n" = "$K $K $K"

# Every version: zero or more refused attempts (exit 1, the leader answered 503 unavailable),
# then exactly one that landed: 201, or 200 (already stored) only after a refused attempt whose
# answer was lost with the connection.
bad=$(awk -v K="$K" '
    { v = $1; n[v]++; out = ""; for (i = 7; i <= NF; i++) out = out " " $i }
    $4 == 0 && out ~ /^ published: 201 created/ { ok[v]++; next }
    $4 == 0 && out ~ /^ published: 200 unchanged/ && refused[v] > 0 { ok[v]++; same++; next }
    $4 == 1 && out ~ /the leader answered 503 Service Unavailable: unavailable: / && !ok[v] { refused[v]++; r++; next }
    { print "unexpected attempt: " $0 }
    END {
        for (v = 1; v <= K; v++) if (ok[v] != 1) print "version " v ": " (ok[v] + 0) " attempts landed"
        printf "# %d refused attempts (503 unavailable), %d retries answered 200 unchanged\n", r, same > "/dev/stderr"
    }' "$T/pub.log" 2>"$T/pub.sum")
cat "$T/pub.sum"
if [ -z "$bad" ]; then ok "17 every refused publish was a 503 unavailable (exit 1) and its retry landed exactly once"
else notok "17 every refused publish was a 503 unavailable (exit 1) and its retry landed exactly once" "$bad"; fi
n=$(awk '$4 != 0 { print $2 }' "$T/pub.log" | sort | uniq -c | awk '{ printf "%s %s ", $2, $1 }')
echo "# refused attempts by leader: ${n:-none}"
awk '$5 != "-" { printf "%d\n", ($6 - $5) * 1000 }' "$T/pub.log" | sort -n | awk '{ v[NR] = $1 } END {
    printf "# warden publish, whole command (ms): min %s median %s max %s over %d attempts\n", v[1], v[int((NR + 1) / 2)], v[NR], NR }'

# ---- convergence ----
HK=$(hash_of $K)
if agents_at "$K" 90; then ok "18 every agent converges on version $K"
else notok "18 every agent converges on version $K" "versions:$AV" "$(grep -E 'poll-failed|backoff' "$T/agent1.log" | tail -n 5)"; fi
pollers_at() { [ "$(cat "$T"/poll/*.etag 2>/dev/null | grep -cxF "$1")" = "$NPOLL" ]; }
for _ in $(seq 1 600); do pollers_at "$HK" && break; sleep 0.2; done
n=$(cat "$T"/poll/*.etag 2>/dev/null | sort | uniq -c | awk '{ printf "%s x %.16s ", $1, $2 }')
check "19 every poller converges on version $K's ETag ($n)" pollers_at "$HK"

# the pollers end: each one's held poll is answered at its wait's end at the latest
touch "$T/stop"
for _ in $(seq 1 $(((WAIT + MARGIN) * 10))); do
    alive=0
    for p in "${BG_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    [ $alive = 0 ] && break
    sleep 0.1
done
check "20 every poller ends by itself once told to ($alive still running)" test "$alive" = 0

# ---- every poll attempt, from the pollers' records ----
cat >"$T/an.py" <<'PY'
import base64, glob, hashlib, json, os, sys
tdir, t_down, wait, margin = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hashes = {}
for line in open(os.path.join(tdir, "hashes")):
    v, h = line.split()
    hashes[h] = int(v)
files = {h: open(os.path.join(tdir, "b%d" % v), "rb").read() for h, v in hashes.items()}
waits = dict(line.split() for line in open(os.path.join(tdir, "poll", "waits")))
att = by = 0
status = {}
bad, slow, bodies, back, down = [], [], [], [], {}
worst = 0.0
for log in sorted(glob.glob(os.path.join(tdir, "poll", "*.log"))):
    p = os.path.basename(log)[:-4]
    started, ended, have, w = {}, {}, 0, int(waits[p])
    for line in open(log):
        f = line.split()
        if f[0] == "S":
            started[f[1]] = float(f[2])
            continue
        n, t0, t1, rc, st, tag = f[1], float(f[2]), float(f[3]), f[4], f[5], f[6]
        ended[n] = True
        att += 1
        status[st] = status.get(st, 0) + 1
        took = t1 - t0
        worst = max(worst, took)
        if rc != "0" or st not in ("200", "304", "503"):
            err = open(os.path.join(tdir, "poll", p + ".err")).read().strip()[:200]
            bad.append("poller %s attempt %s: curl exit %s, status %s (%s)" % (p, n, rc, st, err))
        if took > w + margin:
            slow.append("poller %s attempt %s: %.1f s" % (p, n, took))
        if t0 < t_down < t1:
            k = "wait=%d:%s" % (w, st)
            down[k] = down.get(k, 0) + 1
        if st == "200":
            path = os.path.join(tdir, "poll", "%s.%s.body" % (p, n))
            body = open(path, "rb").read() if os.path.exists(path) else b""
            try:
                env = json.loads(body)
                h = "sha256:" + hashlib.sha256(base64.b64decode(env["payload"])).hexdigest()
            except Exception:
                h = "?"
            if tag not in files or h != tag or body != files[tag]:
                bodies.append("poller %s attempt %s: ETag %s, body hash %s" % (p, n, tag[:20], h[:20]))
            elif hashes[tag] < have:
                back.append("poller %s attempt %s: version %d after %d" % (p, n, hashes[tag], have))
            else:
                have = hashes[tag]
    for n in started:
        if n not in ended:
            bad.append("poller %s attempt %s: never ended" % (p, n))
print("attempts %d" % att)
print("statuses %s" % " ".join("%s:%d" % kv for kv in sorted(status.items())))
print("worst %.2f" % worst)
print("down %d %s" % (sum(down.values()), " ".join("%s:%d" % kv for kv in sorted(down.items()))))
for k, lst in (("bad", bad), ("slow", slow), ("body", bodies), ("back", back)):
    for x in lst[:10]:
        print("%s %s" % (k, x))
    print("n%s %d" % (k, len(lst)))
PY
"$PY" "$T/an.py" "$T" "$T_DOWN" "$WAIT" "$MARGIN" >"$T/an.out" 2>"$T/an.err"
an() { awk -v k="$1" '$1 == k { $1 = ""; print substr($0, 2) }' "$T/an.out"; }
echo "# poll attempts: $(an attempts); statuses: $(an statuses); longest: $(an worst) s (waits $WAIT and $SHORT s)"
[ -s "$T/an.err" ] && sed 's/^/# an.py: /' "$T/an.err" | head -n 5
if [ "$(an nbad)" = 0 ] && [ -n "$(an attempts)" ]; then
    ok "21 every poll attempt was answered 200, 304 or 503 (none dropped, none unanswered)"
else notok "21 every poll attempt was answered 200, 304 or 503 (none dropped, none unanswered)" "$(an bad)"; fi
if [ "$(an nslow)" = 0 ]; then ok "22 no poll was held past its wait + $MARGIN s (longest $(an worst) s)"
else notok "22 no poll was held past its wait + $MARGIN s" "$(an slow)"; fi
read -r nd dst <<<"$(an down)"
check "23 the $nd polls held when the database went down were all answered ($dst), at least half the pollers'" \
    test "${nd:-0}" -ge $((NPOLL / 2))
if [ "$(an nbody)" = 0 ]; then ok "24 every 200 carried the exact published bytes of its ETag"
else notok "24 every 200 carried the exact published bytes of its ETag" "$(an body)"; fi
if [ "$(an nback)" = 0 ]; then ok "25 no poller was ever served a version older than one it had"
else notok "25 no poller was ever served a version older than one it had" "$(an back)"; fi

# ---- the leaders and agents lived through it ----
for l in A B; do
    m=$(LD_PROBE=$(probe_of $l) metric 'warden_leader_errors_total{class="internal"}')
    check "26 $l: no internal error (${m:-absent})" test "${m:-0}" = 0
    m=$(LD_PROBE=$(probe_of $l) metric 'warden_leader_errors_total{class="operational"}')
    echo "# $l counted ${m:-0} operational errors"
done
for i in $(seq 1 $NAGENT); do
    kill -0 "${AGENT_PIDS[$i]}" 2>/dev/null || echo "# agent a-$i is gone"
done
alive=yes
kill -0 "$A_PID" 2>/dev/null && kill -0 "$B_PID" 2>/dev/null || alive=no
check "27 A and B are still running" test $alive = yes
for i in $(seq 1 $NAGENT); do
    p=${AGENT_PIDS[$i]}
    kill -TERM "$p" 2>/dev/null
    timeout 30 tail --pid="$p" -f /dev/null
    wait "$p"
    rc=$?
    check "28 agent a-$i ran throughout and stops on SIGTERM: exit 0 ($rc)" test "$rc" = 0
done

# ---- a publish stored but answered 503 (the connection lost after the commit) ----
# What the store then holds and A does not know (A takes the store's announcement of it for its
# own) is made here by writing version K+1 straight into the database, announcing nothing. The
# publisher's retry through A is answered 200 unchanged; it must wake the poll A holds, not
# leave it to its wait's end (300 s; curl gives up after 90 s).
X=$((K + 1))
"$W" bundle create --policy "$D/p1.yaml" "${SCOPE[@]}" --version $X --instances '*' \
    --previous "$T/b$K" --sign "$D/bs" --out "$T/b$X" >/dev/null
HX=$(payload_hash "$T/b$X")
n=$(psql_q shared "INSERT INTO bundles (org, fleet, env, version, hash, audience_json, bytes, stored_at)
    SELECT org, fleet, env, $X, '$HX', audience_json, decode('$(base64 -w0 "$T/b$X")', 'base64'), stored_at
    FROM bundles WHERE org = 'acme' AND fleet = 'prod' AND env = 'eu1' AND version = $K RETURNING version")
check "29 version $X is written into the store behind the leaders' backs ($n)" test "$n" = "$X"
h0=$(held A)
curl -sS --max-time 90 --cacert "$D/pki/ca.crt" --cert "$D/f1.crt" --key "$D/f1.key" \
    -H "If-None-Match: \"$HK\"" -H 'Prefer: wait=300' -o "$T/xpoll.body" -w '%{http_code}' \
    "$A_URL$API/policy/latest" >"$T/xpoll.st" 2>"$T/xpoll.err" </dev/null &
XP=$!
BG_PIDS+=("$XP")
for _ in $(seq 1 300); do [ "$(held A)" -gt "${h0:-0}" ] 2>/dev/null && break; sleep 0.1; done
h1=$(held A)
check "30 A holds a poll for a version after $K (held: ${h0:-?} -> ${h1:-?})" test "${h1:-0}" -gt "${h0:-0}"
publish $X A
rc=$?
check "31 the retry of version $X through A: published: 200 unchanged ($rc: $(cat "$T/pub.out" "$T/pub.err"))" \
    grep -q '^published: 200 unchanged' "$T/pub.out"
wait $XP
st=$(cat "$T/xpoll.st")
if [ "$st" = 200 ] && cmp -s "$T/xpoll.body" "$T/b$X"; then
    ok "32 ... and it answers the poll A held, with version $X, at once"
else
    notok "32 ... and it answers the poll A held, with version $X, at once" \
        "status $st: $(head -c 300 "$T/xpoll.err")"
fi

for l in A B; do
    p=$A_PID
    [ $l = B ] && p=$B_PID
    kill -TERM "$p" 2>/dev/null
    timeout 30 tail --pid="$p" -f /dev/null
    wait "$p"
    rc=$?
    check "33 $l stops on SIGTERM: exit 0 ($rc)" test "$rc" = 0
done
for f in "$T/a.log" "$T/b.log" "$T"/agent*.log; do
    check "34 no sanitizer report in $(basename "$f")" \
        bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$f'"
done
done_testing
