# agent_fixtures.sh — what the agent daemon's tests share; sourced after lib.sh.
# mk_agent_world DIR: a fleet CA and certificates made with `warden pki` (leader for 127.0.0.1,
# follower acme/web/prod/web-7, administrator acme/alice), and signing material made with the
# warden CLI: root key (the pin), roster 1 (root only) and rosters 2..6, each adding one key:
# bundle key b1, rollback keys r1 r2, kill keys k1 k2; a policy file. Sets PIN.
# agent_conf FILE LEADER_URL STATE_DIR [EXTRA]: an agent.yaml polling LEADER_URL every second
# with long polls of 2 s.
# start_agent CONF LOG: starts `warden agent --config CONF` in the background (AGENT_PID), and
# waits for its start-up line.
# wait_log FILE PATTERN [SECONDS]: wait until FILE holds PATTERN (grep -E), false on timeout.
mk_agent_world() {
    local d=$1
    mkdir -p "$d" || return 1
    "$WARDEN" pki init --trust-domain fleet.test --dir "$d/pki" >/dev/null || return 1
    "$WARDEN" pki issue --dir "$d/pki" --leader 127.0.0.1,localhost --out "$d/leader" >/dev/null || return 1
    "$WARDEN" pki issue --dir "$d/pki" --follower acme/web/prod/web-7 --out "$d/web7" >/dev/null || return 1
    "$WARDEN" pki issue --dir "$d/pki" --admin acme/alice --out "$d/alice" >/dev/null || return 1
    for k in root b1 r1 r2 k1 k2 evil; do "$WARDEN" key gen "$d/$k" >/dev/null || return 1; done
    "$WARDEN" roster init --org acme --root-key "$d/root" --out "$d/roster1.json" >/dev/null || return 1
    # one key per rotation: rosters 2..6, so a follower walks a chain
    local v=1 kp
    for kp in b1:policy-bundle-signing r1:policy-bundle-rollback r2:policy-bundle-rollback \
        k1:remote-kill-signing k2:remote-kill-signing; do
        "$WARDEN" roster add-key "$d/roster$v.json" --key "$d/${kp%%:*}.pub" --purpose "${kp#*:}" \
            --sign "$d/root" --out "$d/roster$((v + 1)).json" >/dev/null || return 1
        v=$((v + 1))
    done
    PIN=$("$WARDEN" key id "$d/root")
    cat >"$d/policy.yaml" <<'YAML'
version: 1
mode: enforce
servers:
  default: deny
  rules:
    - name: no-shells
      action: deny
      reason: "no shells"
      match:
        command: [sh, bash]
YAML
    "$WARDEN" policy check "$d/policy.yaml" >/dev/null || return 1
}

agent_conf() {
    local f=$1 url=$2 sd=$3 extra=${4:-}
    cat >"$f" <<YAML
instance_id: web-7
labels: {team: payments}
state_dir: $sd
conductor:
  enabled: true
  leader_url: $url
  trust_roster_root_fingerprint: $PIN
  honor_remote_kill_switch: true
  poll_interval: 2s
  long_poll: true
  tls: {cert: $W_DIR/web7.crt, key: $W_DIR/web7.key, ca: $W_DIR/pki/ca.crt}
logging: {level: debug, format: text}
$extra
YAML
}

wait_log() {
    local f=$1 pat=$2 secs=${3:-60}
    for _ in $(seq 1 $((secs * 10))); do
        grep -qE -- "$pat" "$f" 2>/dev/null && return 0
        # an agent that has exited will not write it
        [ -n "${AGENT_PID:-}" ] && ! kill -0 "$AGENT_PID" 2>/dev/null && { grep -qE -- "$pat" "$f"; return; }
        sleep 0.1
    done
    return 1
}

start_agent() {
    "$WARDEN" agent --config "$1" 2>"$2" &
    AGENT_PID=$!
    PIDS+=("$AGENT_PID")
    wait_log "$2" "^warden agent: instance" 30
}

stop_agent() {
    kill -TERM "$AGENT_PID" 2>/dev/null
    timeout 30 tail --pid="$AGENT_PID" -f /dev/null
    wait "$AGENT_PID"
}
