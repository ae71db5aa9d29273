#!/bin/sh
# The whole test suite, as CI runs it: install what is needed, build a
# plain (-Werror) and an ASan+UBSan configuration side by side, run the unit
# tests (make check) and the integration tests against both, then the
# short soak on the plain build.
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
FPMD_BIN="$top/build/plain/fpmd/fpmd" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

# The short soak (tests/stress/README.md): 70% of the measured capacity
# for 3 minutes with reloads, log rotations and recycling, not one error.
FPMD_BUILD="$top/build/plain" /usr/bin/python3 tests/stress/soak.py --minutes 3
