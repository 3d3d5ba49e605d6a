#!/bin/sh
# Runs each Criterion binary given as argument and records its counts in
# tests/work/results (one line per suite: "unit NAME PASSED FAILED").
# Exit status: 0 when every binary passed.
set -u
mkdir -p tests/work
: >tests/work/results.unit
rc=0
for t in "$@"; do
    out=$("$t" --jobs 1 2>&1)
    st=$?
    syn=$(printf '%s\n' "$out" | grep 'Synthesis' | tail -n 1)
    pass=$(printf '%s\n' "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    fail=$(printf '%s\n' "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    crash=$(printf '%s\n' "$syn" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    pass=${pass:-0}
    fail=$((${fail:-0} + ${crash:-0}))
    if [ "$st" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
    if [ "$fail" -eq 0 ]; then
        printf '%s: %s\n' "$(basename "$t")" "$syn"
    else
        # the whole output: Criterion prints the failed assertions as [----] lines
        printf '%s\n' "$out"
        rc=1
    fi
    echo "unit $(basename "$t") $pass $fail" >>tests/work/results.unit
done
exit $rc
