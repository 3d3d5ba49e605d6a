#!/bin/sh
# Prints the one summary line of `make check` from tests/work/results.* and
# exits non-zero when anything failed.  Each results line is
# "SUITE NAME PASSED FAILED".
set -u
cat tests/work/results.* 2>/dev/null | awk '
    { p += $3; f += $4; if ($4 > 0) print "FAILED: " $1 " " $2 " (" $4 " failed)" }
    END { printf "%d passed, %d failed\n", p, f; exit (f > 0 || p == 0) }'
