#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The handler boundary (DESIGN.md §2): every file under handlers/, its
# examples/ too, includes of fpmd's own headers only fpmd/fpmd.h,
# config.h and the headers of its own folder, so that a built-in handler
# could be built as a module and the daemon's internals stay free to
# change. Libraries' and the system's headers are not checked. Fails
# naming each file:line that crosses the boundary.
top=${top_srcdir:-$(dirname "$0")/..}
cd "$top" || exit 99

# the tree's top-level folders: a path under one of them is fpmd's
dirs=$(ls -d */ | tr -d / | tr '\n' ' ')
files=$(find handlers -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "no files under $top/handlers"; exit 99; }

# shellcheck disable=SC2086
awk -v dirs="$dirs" '
function normalize(p,    n, i, part, out, k) {
    n = split(p, part, "/")
    k = 0
    for (i = 1; i <= n; i++) {
        if (part[i] == "." || part[i] == "")
            continue
        if (part[i] == ".." && k > 0)
            k--
        else
            out[++k] = part[i]
    }
    p = out[1]
    for (i = 2; i <= k; i++)
        p = p "/" out[i]
    return p
}
function dirname(p) {
    return sub(/\/[^\/]*$/, "", p) ? p : "."
}
function exists(p,    line) {
    if ((getline line < p) >= 0) {
        close(p)
        return 1
    }
    return 0
}
BEGIN {
    n = split(dirs, d, " ")
    for (i = 1; i <= n; i++)
        project[d[i]] = 1
}
FNR == 1 { own = dirname(FILENAME) }
/^[ \t]*#[ \t]*include[ \t]*["<]/ {
    line = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
    quoted = substr(line, 1, 1) == "\""
    name = substr(line, 2)
    sub(/[">].*/, "", name)
    if (name == "fpmd/fpmd.h" || name == "config.h")
        next
    path = name
    if (name ~ /^\.\.?\//)
        path = normalize(own "/" name)
    else if (quoted && name !~ /\//)
        path = own "/" name
    if (dirname(path) == own && exists(path))
        next
    first = path
    sub(/\/.*/, "", first)
    if ((first in project) || (quoted && name !~ /\//)) {
        printf "%s:%d: includes %s: a handler uses fpmd/fpmd.h, " \
               "config.h and the headers of %s/ only\n", FILENAME, FNR,
               name, own
        bad = 1
    }
}
END { exit bad }
' $files
