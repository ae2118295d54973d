#!/bin/bash
# test_units.sh — the systemd units in contrib/: `systemd-analyze verify` accepts each one (with
# ExecStart pointing at the warden just built, since /usr/bin/warden is not installed here), and
# each unit's command line is one the binary accepts (--help of the same command exits 0).
# When systemd-analyze is not installed the verification points are reported as skipped.
. "$WD_SRCDIR/tests/cli/lib.sh"
SA=$(command -v systemd-analyze || true)
for u in warden-agent warden-leader; do
    f=$WD_SRCDIR/contrib/$u.service
    check "$u.service exists" test -s "$f"
    sed "s|/usr/bin/warden|$WARDEN|g" "$f" >"$T/$u.service"
    if [ -n "$SA" ]; then
        "$SA" verify "$T/$u.service" >"$T/out" 2>&1
        rc=$?
        if [ $rc -eq 0 ] && [ ! -s "$T/out" ]; then ok "$u.service: systemd-analyze verify is silent"
        else notok "$u.service: systemd-analyze verify is silent" "exit $rc" "$(cat "$T/out")"; fi
    else
        _n=$((_n + 1)); echo "ok $_n - $u.service: systemd-analyze verify # SKIP systemd-analyze not installed"
    fi
    # ExecStart's command with --help instead of --config FILE
    cmd=$(sed -n 's|^ExecStart=/usr/bin/warden \([a-z]*\) --config .*|\1|p' "$f")
    expect "$u.service: ExecStart runs 'warden $cmd', which exists" 0 "usage: warden $cmd" -- "$WARDEN" "$cmd" --help
    check "$u.service: restarts on failure, not on a configuration error (exit 2)" \
        grep -qE '^RestartPreventExitStatus=2( |$)' "$f"
done
check "warden-agent.service: reload is SIGHUP" grep -qxF 'ExecReload=/bin/kill -HUP $MAINPID' \
    "$WD_SRCDIR/contrib/warden-agent.service"
done_testing
