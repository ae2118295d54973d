# lib.sh — TAP helpers for warden's command-line tests; sourced by tests/cli/test_*.sh.
# Each check prints "ok N - name" or "not ok N - name" with the evidence as "# " lines.
set -u
: "${WARDEN:?WARDEN must name the warden binary}"
: "${WD_SRCDIR:?WD_SRCDIR must name the source tree}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
_n=0
_fails=0

ok()    { _n=$((_n + 1)); echo "ok $_n - $1"; }
notok() {
    _n=$((_n + 1)); _fails=$((_fails + 1)); echo "not ok $_n - $1"; shift
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}
# check NAME COND...: ok when the command COND... succeeds.
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name" "failed: $*"; fi; }

# expect NAME EXIT PATTERN -- CMD...: runs CMD, ok when it exits EXIT and, when PATTERN is not
# empty, stderr or stdout contains PATTERN (fixed string). Output is kept in $T/out and $T/err.
expect() {
    local name=$1 want=$2 pat=$3; shift 3
    [ "${1:-}" = "--" ] && shift
    "$@" >"$T/out" 2>"$T/err" </dev/null
    local rc=$?
    if [ "$rc" -eq "$want" ] && { [ -z "$pat" ] || grep -qF -- "$pat" "$T/err" "$T/out"; }; then
        ok "$name"
    else
        notok "$name" "command: $*" "exit $rc (wanted $want), wanted text: $pat" \
            "stderr: $(head -c 600 "$T/err")" "stdout: $(head -c 300 "$T/out")"
    fi
}

# reject NAME CODE -- CMD...: exit 3 and the exact line prefix "rejected (CODE): ".
reject() { local name=$1 code=$2; shift 2; expect "$name" 3 "rejected ($code): " "$@"; }

# same_file NAME A B: the two files are byte-identical (used to show nothing changed).
same_file() { if cmp -s "$2" "$3"; then ok "$1"; else notok "$1" "$2 and $3 differ"; fi; }

# exactly_one_line NAME TEXT: the last command's stderr is exactly the one line TEXT.
exactly_one_line() {
    local got; got=$(cat "$T/err")
    if [ "$got" = "$2" ] && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "$1"
    else notok "$1" "wanted: $2" "got: $got"; fi
}

# rejected_quietly NAME CODE -- CMD...: reject, and nothing reported on stdout.
rejected_quietly() {
    local name=$1 code=$2; shift 2
    reject "$name" "$code" "$@"
    if [ -s "$T/out" ]; then notok "$name: nothing reported on stdout" "stdout: $(head -c 300 "$T/out")"
    else ok "$name: nothing reported on stdout"; fi
}

# refused NAME CODE OUT -- CMD...: reject, and the file OUT was not written.
refused() {
    local name=$1 code=$2 out=$3; shift 3
    rm -f "$out"
    reject "$name" "$code" "$@"
    check "$name: nothing written" test ! -e "$out"
}

# tfmt EPOCH: the SPEC's time spelling of a Unix time.
tfmt() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# pad_to IN OUT SIZE: IN with spaces after its first byte, SIZE bytes in all (JSON stays valid).
pad_to() {
    python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); n=int(sys.argv[3]); open(sys.argv[2],"wb").write(b[:1]+b" "*(n-len(b))+b[1:])' "$@"
}

done_testing() { echo "1..$_n"; [ "$_fails" -eq 0 ]; }
