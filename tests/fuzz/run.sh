#!/bin/sh
# libFuzzer runs for postseal's parsers (see tests/fuzz/README.md).
#
#   tests/fuzz/run.sh                 short bounded run of every target (make check)
#   tests/fuzz/run.sh --long [NAME..] long run (FUZZ_TIME seconds each, default 1800)
#   tests/fuzz/run.sh NAME..          short run of the named targets only
#   FUZZ_TIME=N                       seconds per target (default 20 short)
#   FUZZ_REPRO=FILE NAME              replay one input (e.g. a saved crash) and exit
#
# Every tests/fuzz/fuzz_NAME.c is built with clang-14 -fsanitize=fuzzer,address,
# undefined against lib/, policy/ and filter/ compiled with the same sanitizers in
# build-fuzz/ (the normal build/ is never touched).  Seeds come from
# tests/fuzz/corpus/NAME/; the growing corpus and any crash live in
# tests/work/fuzz/NAME/.  One results line per target goes to
# tests/work/results.fuzz: "fuzz NAME PASSED FAILED" (1 0 = ran clean for the
# whole time, 0 1 = a crash, leak, timeout, sanitizer report or build failure).
set -u
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
CLANG=${CLANG:-clang-14}
BUILD=build-fuzz
WORK=tests/work/fuzz
RESULTS=tests/work/results.fuzz
mode=short
if [ "${1:-}" = "--long" ]; then
    mode=long
    shift
fi
if [ "$mode" = long ]; then
    FUZZ_TIME=${FUZZ_TIME:-1800}
else
    FUZZ_TIME=${FUZZ_TIME:-20}
fi
mkdir -p tests/work "$WORK"
[ -n "${FUZZ_REPRO:-}" ] || : >"$RESULTS"

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found (tests/deps.d/reliab.txt installs clang-14)" >&2
    echo "fuzz build 0 1" >>"$RESULTS"
    exit 1
fi

# Archives with coverage instrumentation but without libFuzzer's main().
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
SAN="$SAN -fno-omit-frame-pointer -DPOSTSEAL_FUZZ"
if ! CFLAGS="-O1 -g $SAN" $MAKE --no-print-directory -s -j2 BUILD=$BUILD CC="$CLANG" \
    $BUILD/libpostseal.a $BUILD/libpolicy.a $BUILD/libfilter.a >$WORK/build.log 2>&1; then
    cat $WORK/build.log >&2
    echo "fuzz: building the instrumented archives failed" >&2
    echo "fuzz build 0 1" >>"$RESULTS"
    exit 1
fi
PKGS="openssl gpgme inih libcurl ldap lmdb"
CPPFLAGS="-Ilib -Ipolicy -Ifilter $(pkg-config --cflags $PKGS 2>/dev/null)"
LIBS="$BUILD/libpolicy.a $BUILD/libfilter.a $BUILD/libpostseal.a $(pkg-config --libs $PKGS 2>/dev/null)"

if [ $# -gt 0 ]; then
    targets=$*
else
    targets=$(for f in tests/fuzz/fuzz_*.c; do [ -f "$f" ] && basename "$f" .c | sed 's/^fuzz_//'; done)
fi

rc=0
for name in $targets; do
    src=tests/fuzz/fuzz_$name.c
    bin=$BUILD/fuzz/fuzz_$name
    dir=$WORK/$name
    mkdir -p "$BUILD/fuzz" "$dir/corpus" "$dir/crash"
    # shellcheck disable=SC2086
    if ! $CLANG -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer $CPPFLAGS \
        -o "$bin" "$src" $LIBS >"$dir/build.log" 2>&1; then
        cat "$dir/build.log" >&2
        echo "fuzz: $name: build failed" >&2
        echo "fuzz $name 0 1" >>"$RESULTS"
        rc=1
        continue
    fi
    if [ -n "${FUZZ_REPRO:-}" ]; then
        exec "$bin" "$FUZZ_REPRO"
    fi
    seeds=tests/fuzz/corpus/$name
    [ -d "$seeds" ] || seeds=
    echo "fuzz: $name: ${FUZZ_TIME}s"
    # The target's own stdout/stderr (log lines about each bad input) are
    # closed; libFuzzer and the sanitizers keep reporting on a dup of stderr.
    # shellcheck disable=SC2086
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$FUZZ_TIME" -rss_limit_mb=512 -timeout=10 \
        -max_len=65536 -close_fd_mask=3 -print_final_stats=1 \
        -artifact_prefix="$dir/crash/" "$dir/corpus" $seeds </dev/null >"$dir/log" 2>&1
    st=$?
    if [ $st -eq 0 ]; then
        tail -n 12 "$dir/log" | grep -E 'stat::(number_of_executed_units|new_units_added)' |
            sed "s/^/fuzz: $name: /"
        echo "fuzz $name 1 0" >>"$RESULTS"
    else
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$dir/log" | head -n 8 >&2
        echo "fuzz: $name: FAILED (exit $st), log $dir/log, input in $dir/crash/" >&2
        echo "fuzz $name 0 1" >>"$RESULTS"
        rc=1
    fi
done
exit $rc
