#!/bin/sh
# Replays every fuzz seed and every kept crash input through the fuzz
# targets' entry points (plain binaries, so this runs in every build).
set -e
b=${top_builddir:-.}/tests/fuzz
s=${top_srcdir:-.}/tests/fuzz
for t in fcgi conf http cgi_head fcgi_response log_line fpm_ini route \
    compare mysql_scan cron task_frame jsonrpc etcd_kv traceparent unit_json \
    fcgi_conn; do
    dirs=""
    for d in "$s/corpus/$t" "$s/regression/$t"; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    # shellcheck disable=SC2086
    "$b/replay_$t" $dirs
done
