#!/bin/bash
# crash-loop.sh — crash safety of the follower's state directory, measured: N times, apply the
# next policy bundle (and every 7th time a remote kill) with `warden agent apply` and have it
# killed (SIGKILL) at a random step of the apply (WARDEN_TEST_CRASH_AT="*:<n>"; some draws land
# after the last step, so the apply completes). After each run, `warden agent verify` re-opens
# the directory and must find it verified, with the old or the new bundle active — never a
# mix, never nothing — and the policy.yaml beside `active` equal to one of the two policies.
# Prints TAP (one line per iteration, a summary as a comment). It never touches anything but
# a temporary directory of its own.
#
# usage: scripts/crash-loop.sh WARDEN [N]     (N defaults to 1000)
# The directory is made under $TMPDIR (default /tmp). A process crash does not depend on
# fsync reaching the disk, so TMPDIR=/dev/shm measures the same thing, faster.
set -u
W=${1:?usage: crash-loop.sh WARDEN [N]}
N=${2:-1000}
case $W in /*) ;; *) W="$PWD/$W" ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

for k in root bs k1 k2; do "$W" key gen "$k" >/dev/null || exit 1; done
PIN=$("$W" key id root)
"$W" roster init --org acme --root-key root --out r1 >/dev/null &&
"$W" roster add-key r1 --key bs.pub --purpose policy-bundle-signing --sign root --out r2 >/dev/null &&
"$W" roster add-key r2 --key k1.pub --purpose remote-kill-signing --sign root --out r3 >/dev/null &&
"$W" roster add-key r3 --key k2.pub --purpose remote-kill-signing --sign root --out R >/dev/null ||
    { echo "Bail out! cannot build the roster"; exit 1; }

# Two policies that differ, so that a mix of one bundle's envelope and the other's policy
# would be seen: even versions allow "true", odd versions allow "false".
policy() {
    printf 'version: 1\nservers:\n  default: deny\n  rules:\n    - name: v%s\n      match: {name: ["%s"]}\n      action: allow\n' "$1" "$2"
}
policy 0 true >p.even
policy 1 false >p.odd

F=(--state-dir S --pin "$PIN" --org acme --fleet prod --env eu1 --instance i-1)
declare -A HASH
mk_bundle() { # version previous-file: writes b<version>, keeps its hash in HASH
    local pol=p.even; [ $(($1 % 2)) -eq 1 ] && pol=p.odd
    local prev=(); [ -n "$2" ] && prev=(--previous "$2")
    local out
    out=$("$W" bundle create --policy "$pol" --org acme --fleet prod --env eu1 --version "$1" \
        --instances '*' "${prev[@]}" --sign bs --out "b$1") || return 1
    HASH[$1]=$(printf '%s\n' "$out" | grep -o 'sha256:[0-9a-f]*' | head -1)
}
mk_bundle 1 "" && "$W" agent apply "${F[@]}" R b1 >/dev/null ||
    { echo "Bail out! cannot apply the first bundle"; exit 1; }

cur=1          # the version known to be active
kc=0           # the last kill counter known applied
crashed=0 completed=0 fails=0
for ((i = 1; i <= N; i++)); do
    n=$((RANDOM % 20 + 1))
    if [ $((i % 7)) -eq 0 ]; then
        kind=kill
        next=$((kc + 1))
        "$W" kill create --org acme --fleet prod --env eu1 --instances '*' --state inactive \
            --counter "$next" --reason "drill $i" --sign k1 --sign k2 --out k >/dev/null
        { WARDEN_TEST_CRASH_AT="*:$n" "$W" agent apply "${F[@]}" k >/dev/null 2>"err.$i"; } 2>/dev/null
    else
        kind=bundle
        next=$((cur + 1))
        [ -e "b$next" ] || mk_bundle "$next" "b$cur"
        { WARDEN_TEST_CRASH_AT="*:$n" "$W" agent apply "${F[@]}" "b$next" >/dev/null 2>"err.$i"; } 2>/dev/null
    fi
    rc=$?
    if [ "$rc" -eq 137 ]; then crashed=$((crashed + 1));
    elif [ "$rc" -eq 0 ]; then completed=$((completed + 1));
    else
        fails=$((fails + 1)); echo "not ok $i - $kind apply at step $n exited $rc: $(head -c 300 "err.$i")"
        continue
    fi
    rm -f "err.$i"
    # re-open: verified, and the old or the new bundle
    out=$("$W" agent verify "${F[@]}" 2>&1)
    vrc=$?
    got=$(printf '%s\n' "$out" | sed -n 's/^active bundle: version \([0-9]*\) \(sha256:[0-9a-f]*\)$/\1 \2/p')
    gv=${got%% *} gh=${got#* }
    why=""
    [ "$vrc" -eq 0 ] || why="verify exited $vrc"
    [ -n "$got" ] || why="${why:+$why; }no active bundle"
    if [ -z "$why" ]; then
        if [ "$kind" = bundle ]; then
            { [ "$gv" = "$cur" ] || [ "$gv" = "$next" ]; } || why="version $gv is neither $cur nor $next"
        else
            [ "$gv" = "$cur" ] || why="version $gv after a kill apply (was $cur)"
        fi
    fi
    if [ -z "$why" ]; then
        [ "$gh" = "${HASH[$gv]}" ] || why="hash $gh is not bundle $gv's"
        want=p.even; [ $((gv % 2)) -eq 1 ] && want=p.odd
        cmp -s "S/active/policy.yaml" "$want" || why="${why:+$why; }policy.yaml is not version $gv's"
        cmp -s "S/active/bundle.json" "b$gv" || why="${why:+$why; }bundle.json is not b$gv"
    fi
    if [ -n "$why" ]; then
        fails=$((fails + 1))
        echo "not ok $i - $kind apply killed at step $n (exit $rc): $why"
        printf '%s\n' "$out" | sed 's/^/# /'
        break
    fi
    echo "ok $i - $kind apply, crash point $n (exit $rc): version $gv active, verified"
    if [ "$kind" = bundle ]; then
        cur=$gv
    else
        kline=$(printf '%s\n' "$out" | sed -n 's/^kill: counter \([0-9]*\), .*/\1/p')
        [ -n "$kline" ] && kc=$kline
    fi
done
echo "# crash-loop: $N iterations, $crashed killed mid-apply, $completed completed, $fails failed; final version $cur"
echo "1..$((i > N ? N : i))"
[ "$fails" -eq 0 ]
