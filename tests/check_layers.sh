#!/bin/sh
# The daemon core's files, and the config loader's, call one another in
# one direction only (README "Layout": worker -> accept, codecs, conn ->
# sched -> req, hooks, router...; load -> load_routes, load_pools ->
# yaml_reader -> arena): read from the symbols each object of a library
# defines and uses, any cycle between files fails make check, naming them.
set -eu
[ $# -gt 0 ] || set -- fpmd/libfpmdcore.a conf/libfpmdconf.a
rc=0
for lib in "$@"; do
    [ -f "$lib" ] || { echo "check_layers: no $lib (run from the build dir)"; exit 1; }
    nm "$lib" | awk -v lib="$lib" '
        /^$/ { next }
        /:$/ { obj = substr($0, 1, length($0) - 3); next }
        NF == 3 && $2 ~ /^[TDBRC]$/ { def[$3] = obj; next }
        NF == 2 && $1 == "U" { use[obj, ++nuse[obj]] = $2; objs[obj] = 1 }
        function visit(v,    i, w) {
            state[v] = 1
            path[++depth] = v
            for (i = 1; i <= nuse[v]; i++) {
                w = def[use[v, i]]
                if (w == "" || w == v) continue
                if (state[w] == 1) {
                    msg = w
                    for (j = depth; j >= 1 && path[j] != w; j--) msg = path[j] " -> " msg
                    msg = w " -> " msg
                    if (!(msg in seen))
                        print "check_layers: a cycle between files of " lib ": " msg
                    seen[msg] = 1
                    bad = 1
                } else if (state[w] == 0) {
                    visit(w)
                }
            }
            depth--
            state[v] = 2
        }
        END {
            for (o in objs) if (state[o] == 0) visit(o)
            exit bad
        }' || rc=1
done
exit $rc
