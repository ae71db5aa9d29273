# SPDX-License-Identifier: BSD-2-Clause
# Reads fpmd/fpmd.h as the preprocessor prints it (comments and macro
# bodies gone, line markers kept) and prints a linker dynamic list of
# every function it and fpmd/common.h declare: what the binaries export
# to handler modules. Variables are not listed: the one fpmd.h declares,
# fpmd_module_api_version, belongs to each module. A function without the
# fpmd_ prefix fails the build.

/^# [0-9]+ "/ {
    ours = $3 ~ /(^"|\/)fpmd\/(fpmd|common)\.h"$/
    next
}
ours { text = text " " $0 }

# s without its __attribute__((...)) groups, whose parentheses would look
# like a parameter list.
function strip_attributes(s,    start, i, depth, c) {
    while ((start = index(s, "__attribute__")) > 0) {
        i = start + length("__attribute__")
        while (substr(s, i, 1) == " ")
            i++
        depth = 0
        for (; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "(")
                depth++
            else if (c == ")" && --depth == 0)
                break
        }
        s = substr(s, 1, start - 1) " " substr(s, i + 1)
    }
    return s
}

# The name a top-level declaration declares a function under, "" when it
# declares none (a type, a variable).
function function_name(decl) {
    decl = strip_attributes(decl)
    if (decl ~ /^[ \t]*typedef[ \t]/)
        return ""
    if (!match(decl, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/))
        return ""
    decl = substr(decl, RSTART, RLENGTH)
    sub(/[ \t]*\($/, "", decl)
    return decl
}

END {
    depth = 0
    decl = ""
    for (i = 1; i <= length(text); i++) {
        c = substr(text, i, 1)
        if (c == "{") {
            depth++
        } else if (c == "}") {
            depth--
        } else if (depth == 0 && c == ";") {
            name = function_name(decl)
            if (name != "" && name !~ /^fpmd_/) {
                print "fpmd.h declares " name ", without the fpmd_ prefix" \
                    > "/dev/stderr"
                failed = 1
            }
            if (name != "")
                names[name] = 1
            decl = ""
        } else if (depth == 0) {
            decl = decl c
        }
    }
    if (failed)
        exit 1
    n = 0
    for (name in names)
        sorted[++n] = name
    # insertion sort: the list stays the same from one build to the next
    for (i = 2; i <= n; i++) {
        name = sorted[i]
        for (j = i - 1; j > 0 && sorted[j] > name; j--)
            sorted[j + 1] = sorted[j]
        sorted[j + 1] = name
    }
    if (n == 0) {
        print "no function found in fpmd.h" > "/dev/stderr"
        exit 1
    }
    print "{"
    for (i = 1; i <= n; i++)
        print "    " sorted[i] ";"
    print "};"
}
