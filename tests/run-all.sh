#!/bin/sh
# The whole test suite, as CI runs it: install what is needed, build a
# plain (-Werror) and an ASan+UBSan configuration side by side, run the unit
# tests (make check) and the integration tests against both, with a
# 60-second run of every fuzz target beside them; then the short soak on
# the plain build.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/install-deps.sh test
./autogen.sh >/dev/null

jobs=$(nproc 2>/dev/null || echo 2)
build() {
    dir=$1
    shift
    mkdir -p "$dir"
    (cd "$dir" && "$top/configure" --enable-werror "$@" >/dev/null \
        && make -j"$jobs" >/dev/null && make -j"$jobs" check) || {
        find "$dir" -name '*.log' -path '*tests*' -exec tail -n 40 {} + || true
        return 1
    }
}

build build/plain
build build/asan --enable-sanitizers

# 60 seconds of every fuzz target (tests/stress/fuzz.py; its libFuzzer
# build is build/fuzz) beside the integration runs: at nice 19 the
# fuzzers take only the CPU the suites leave, and libFuzzer's
# -max_total_time is wall time, so this adds no time to the run.
fuzz_log="$top/build/fuzz-ci.log"
nice -n 19 /usr/bin/python3 tests/stress/fuzz.py --seconds 60 --jobs 2 \
    --rss-limit-mb 1024 >"$fuzz_log" 2>&1 &
fuzz=$!
trap 'kill "$fuzz" 2>/dev/null || true' EXIT

# Everything the tests start was installed above: a server missing now
# fails its tests instead of skipping them (conftest.need).
FPMD_TESTS_INSTALLED=1
export FPMD_TESTS_INSTALLED

# LeakSanitizer stays on for the unit tests; the daemon's worker processes
# leave the loop's state to exit(), which is not a leak worth a report.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
FPMD_BIN="$top/build/asan/fpmd/fpmd" FPMD_SANITIZED=1 \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
# The plain run has every worker under its seccomp filter (the ASan run
# above keeps the default, off): a call missing from fpmd/seccomp.c's
# list fails the test that makes it.
FPMD_BIN="$top/build/plain/fpmd/fpmd" FPMD_TEST_SECCOMP=on \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

if ! wait "$fuzz"; then
    cat "$fuzz_log"
    exit 1
fi
trap - EXIT
tail -n 30 "$fuzz_log"

# The short soak (tests/stress/README.md): 3 minutes with reloads, log
# rotations and recycling, not one error, nothing growing. At half the
# measured capacity rather than the long run's 70%: a CI machine's
# capacity moves under its neighbours during the run, and the aims are
# about errors and growth, not about how close to the edge it runs.
FPMD_BUILD="$top/build/plain" /usr/bin/python3 tests/stress/soak.py \
    --minutes 3 --load 0.5
