#!/bin/sh
# ThreadSanitizer on the Mongo pool's thread offload (pools/mongo.c: the
# driver's blocking calls run on a per-worker thread pool, jobs handed
# over under a mutex, answers back through an eventfd): builds fpmd with
# -fsanitize=thread in build/tsan (once; coro.c tells TSan about each
# coroutine's stack), runs tests/integration/test_mongo.py against it
# (mongo-c-driver against tests' OP_MSG responder), and fails on any
# report of any fpmd process. About a minute once built.
# Only fpmd's own code is instrumented: mongo-c-driver and libbson, as
# Debian builds them, synchronise their monitor threads with atomics TSan
# cannot see, so what their intercepted calls (free, memcpy) did was
# reported as races inside the driver, 1 run in 5 (a bson freed by
# mongoc's server-monitor thread against a read under its
# topology mutex). ignore_noninstrumented_modules leaves those out;
# fpmd's side of the hand-off (the job, the queues, the eventfd) is still
# checked: a race put there on purpose was reported.
# Usage: tests/stress/tsan.sh [pytest args...]: more test files, or -k.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build=${FPMD_TSAN_BUILD:-$top/build/tsan}
if [ ! -x "$build/tests/fpmd-test" ]; then
    [ -x configure ] || ./autogen.sh >/dev/null
    mkdir -p "$build"
    # no --enable-werror: -O1 draws false "may be used uninitialized"
    (cd "$build" && "$top/configure" CFLAGS="-O1 -g -fsanitize=thread" \
        LDFLAGS="-fsanitize=thread" >/dev/null \
        && make -j"$(nproc)" >/dev/null \
        && make -j"$(nproc)" tests/fpmd-test >/dev/null)
fi
set -- tests/integration/test_mongo.py "$@"
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
rc=0
TSAN_OPTIONS="log_path=$reports/tsan second_deadlock_stack=1 ignore_noninstrumented_modules=1" \
FPMD_SANITIZED=1 FPMD_BIN="$build/fpmd/fpmd" \
FPMD_TEST_BIN="$build/tests/fpmd-test" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" || rc=$?
if [ -n "$(ls "$reports")" ]; then
    cat "$reports"/*
    echo "tsan: $(ls "$reports" | wc -l) process(es) with reports" >&2
    exit 1
fi
exit $rc
