#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# What the binaries that load handler modules export of fpmd is fpmd.h's
# API, all of it and nothing else: every function of fpmd/exports.list
# (made from fpmd.h) is defined and exported, and no other symbol that
# fpmd's own objects define is. So a module can neither miss a call
# fpmd.h declares (an archive member nothing in the binary pulled in) nor
# come to depend on an internal one (conf_error_at, fpmd_worker). What
# the toolchain exports besides (copies of libc's stderr, a sanitizer
# runtime's interceptors) is not fpmd's and not checked.
build=${top_builddir:-.}
nm=${NM:-nm}
list=$build/fpmd/exports.list
[ -r "$list" ] || { echo "$list: not built"; exit 99; }
api=$(sed -n 's/^ *\([A-Za-z0-9_]*\);$/\1/p' "$list" | sort)
[ -n "$api" ] || { echo "$list: no symbol"; exit 99; }
own=$(find "$build/fpmd" "$build/conf" "$build/handlers" "$build/pools" \
           "$build/migrate" -name '*.[oa]' -exec "$nm" -g --defined-only {} + \
      | awk 'NF == 3 { print $3 }' | sort -u)
[ -n "$own" ] || { echo "$build: no object of fpmd's"; exit 99; }

status=0
for bin in fpmd/fpmd migrate/fpmd-migrate tests/fpmd-test; do
    [ -x "$build/$bin" ] || { [ "$bin" = tests/fpmd-test ] && continue
                              echo "$build/$bin: not built"; exit 99; }
    exported=$("$nm" -D --defined-only "$build/$bin" \
               | awk '{ sub(/@.*/, "", $3); print $3 }' | sort) || exit 99
    missing=$(printf '%s\n' "$api" | grep -vxF "$exported")
    extra=$(printf '%s\n' "$exported" | grep -xF "$own" | grep -vxF "$api")
    for s in $missing; do
        echo "$bin: does not export $s, which fpmd.h declares"
        status=1
    done
    for s in $extra; do
        echo "$bin: exports $s, which fpmd.h does not declare"
        status=1
    done
done
exit $status
