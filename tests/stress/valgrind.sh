#!/bin/sh
# valgrind's memcheck on the daemon under the integration tests of the
# backend pools and the legacy pass-through (the code that holds
# connections, replies and buffers across requests): every fpmd process,
# master and forked workers, runs under memcheck, and a test fails when
# one of them had an error or definitely lost memory (conftest.py,
# FPMD_VALGRIND). Too slow for every CI run: about 9 minutes on 2 cores.
# Usage: tests/stress/valgrind.sh [pytest args...], from a tree with a
# plain build in build/plain (run-all.sh makes one); more test files, or
# -k, as arguments.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
command -v valgrind >/dev/null || {
    echo "valgrind: not installed (tests/install-deps.sh test)" >&2
    exit 1
}
build=${FPMD_BUILD:-$top/build/plain}
[ $# -gt 0 ] || set -- tests/integration/test_redis.py \
    tests/integration/test_mysql.py tests/integration/test_legacy.py \
    tests/integration/test_http_client.py
FPMD_VALGRIND=1 FPMD_BIN="$build/fpmd/fpmd" \
FPMD_TEST_BIN="$build/tests/fpmd-test" \
    exec /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@"
