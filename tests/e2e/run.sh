#!/bin/sh
# tests/e2e/run.sh [NAME...]: the end-to-end suite through a real Postfix.
#
# Runs every tests/e2e/t_*.sh (or only the named ones: "policy_tls",
# "t_policy_tls" or "tests/e2e/t_policy_tls.sh") with bash, one after the
# other, each bounded by E2E_TIMEOUT seconds (default 300), and records one
# line "e2e NAME PASSED FAILED" per test in tests/work/results.e2e.
# A test that dies without a result counts as 1 failed.  After each test (and
# before the first, for leftovers of an interrupted run) every Postfix
# instance and daemon under the run's work dir is stopped, whatever happened.
# Work dir: tests/work/e2e-$PS_PORT_BASE (default port base 10025), or
# /var/tmp/postseal-e2e-$PS_PORT_BASE when user nobody cannot reach the checkout.
# Exit status: 0 when nothing failed.
set -u
cd "$(dirname "$0")/../.." || exit 2
root=$(pwd)
: "${PS_PORT_BASE:=10025}"
export PS_PORT_BASE
. tests/e2e/workdir.sh
mkdir -p tests/work
results=$root/tests/work/results.e2e
: >"$results"
run=${E2E_RUN:-$(e2e_workdir "$root" "e2e-$PS_PORT_BASE")}
export E2E_RUN="$run"
mkdir -p "$run/results"
[ "$run" = "$root/tests/work/e2e-$PS_PORT_BASE" ] ||
    echo "e2e: work dir $run (user nobody cannot reach $root/tests/work)"

# Stops every instance / daemon a test under $run may have left running.
sweep() {
    for pid_file in "$run"/*/pf-*/spool/pid/master.pid; do
        [ -f "$pid_file" ] || continue
        etc=${pid_file%/spool/pid/master.pid}/etc
        pid=$(tr -d ' ' <"$pid_file")
        # only the master of THIS instance (it runs in its queue directory):
        # a stale pid file may name a pid that was reused since
        if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "${pid_file%/pid/master.pid}" ]; then
            postfix -c "$etc" stop >/dev/null 2>&1
            n=50
            while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
                sleep 0.1
                n=$((n - 1))
            done
            if kill -0 "$pid" 2>/dev/null; then
                postfix -c "$etc" abort >/dev/null 2>&1
                kill -KILL "$pid" 2>/dev/null
            fi
        fi
    done
    for pids in "$run"/*/.pids; do
        [ -f "$pids" ] || continue
        while read -r pid what; do
            # Only a process whose command line names our work dir is ours:
            # pids may have been reused.  (A left-over s_client session ends
            # by itself when its Postfix stops.)
            if [ -r "/proc/$pid/cmdline" ] &&
                tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$run/"; then
                kill -TERM "$pid" 2>/dev/null
            fi
        done <"$pids"
        : >"$pids"
    done
    if command -v gpgconf >/dev/null 2>&1; then
        find "$run" -name S.gpg-agent -type s 2>/dev/null | while read -r s; do
            gpgconf --homedir "${s%/S.gpg-agent}" --kill all
        done
    fi
}

if [ "$(id -u)" != 0 ]; then
    echo "e2e: must run as root (private Postfix instances)" >&2
    echo "e2e setup 0 1" >>"$results"
    exit 1
fi
for p in postfix swaks openssl jq bash; do
    if ! command -v $p >/dev/null 2>&1; then
        echo "e2e: $p is missing: run 'make deps'" >&2
        echo "e2e setup 0 1" >>"$results"
        exit 1
    fi
done

if [ $# -gt 0 ]; then
    tests=""
    for a in "$@"; do
        a=${a##*/}
        a=${a%.sh}
        a=${a#t_}
        tests="$tests tests/e2e/t_$a.sh"
    done
else
    tests=$(ls tests/e2e/t_*.sh 2>/dev/null)
fi
if [ -z "$tests" ]; then
    echo "e2e: no tests"
    exit 0
fi

# On INT/TERM: stop the running test (its own trap cleans up), then sweep.
tpid=""
stop() {
    trap '' INT TERM
    [ -n "$tpid" ] && kill -TERM "$tpid" 2>/dev/null && wait "$tpid"
    sweep
    exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM
sweep
rc=0
for t in $tests; do
    name=$(basename "$t" .sh)
    name=${name#t_}
    echo "=== e2e $name"
    rm -f "$run/results/$name" "$run/results/$name.skip"
    if [ ! -f "$t" ]; then
        echo "e2e: no such test $t" >&2
        echo "e2e $name 0 1" >>"$results"
        rc=1
        continue
    fi
    start=$(date +%s)
    # In the background so that a signal reaches run.sh at once (timeout
    # runs its command in a process group of its own).
    timeout -k 10 "${E2E_TIMEOUT:-300}" bash "$t" &
    tpid=$!
    wait "$tpid"
    st=$?
    tpid=""
    sweep
    if [ -f "$run/results/$name" ]; then
        read -r p f <"$run/results/$name"
    else
        echo "e2e: $name ended without a result (status $st)" >&2
        p=0
        f=1
    fi
    if [ "$st" = 124 ] || { [ "$st" = 137 ] && [ $(($(date +%s) - start)) -ge "${E2E_TIMEOUT:-300}" ]; }; then
        echo "e2e: $name timed out after ${E2E_TIMEOUT:-300} s" >&2
        [ "$f" -gt 0 ] || f=1
    fi
    [ -f "$run/results/$name.skip" ] && echo "e2e: $name skipped: $(cut -d' ' -f2- "$run/results/$name.skip")"
    echo "e2e $name $p $f" >>"$results"
    echo "=== e2e $name: $p passed, $f failed ($(($(date +%s) - start)) s)"
    [ "$f" -eq 0 ] || rc=1
done
exit $rc
