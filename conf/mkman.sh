#!/bin/sh
# Writes one man page to stdout, made from what the code itself prints or
# loads, so that the pages cannot drift from it: fpmd(8) from `fpmd -h`,
# fpmd-migrate(1) from `fpmd-migrate -h` and each command's --help,
# fpmd.yaml(5) from conf/fpmd.yaml.example (which the loader's unit test
# loads).
#   mkman.sh fpmd VERSION FPMD_BINARY
#   mkman.sh fpmd-migrate VERSION FPMD_MIGRATE_BINARY
#   mkman.sh fpmd.yaml VERSION EXAMPLE_FILE
set -eu
page=$1 version=$2 src=$3
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# Text as roff: backslashes escaped, a leading dot or quote made literal.
roff() {
    sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

verbatim() {
    printf '.nf\n'
    roff
    printf '.fi\n'
}

case "$page" in
fpmd)
    cat <<EOF
.TH FPMD 8 "$date" "fpmd $version" "System Administration"
.SH NAME
fpmd \\- FastCGI and HTTP application server, a php-fpm replacement
.SH SYNOPSIS
.B fpmd
[\\fIOPTIONS\\fR]
.SH DESCRIPTION
fpmd serves requests with C handlers on a pool of worker processes, each
running one event loop with a coroutine per request, behind the web
servers that speak FastCGI to php-fpm (nginx, Apache, lighttpd, Caddy,
h2o) or on its own HTTP listener. It keeps php-fpm's operator contract:
pool directives, signals, status and ping pages, logs. Routes it has no
handler for pass through, unchanged, to a php-fpm pool.
.SH OPTIONS
The options, as \\fBfpmd -h\\fR prints them:
EOF
    "$src" -h | verbatim
    cat <<'EOF'
.SH FILES
.TP
.I /etc/fpmd/fpmd.yaml
the configuration (\fBfpmd.yaml\fR(5)); without \fB-y\fR, fpmd runs an
embedded demo configuration
.TP
.I /run/fpmd/fpmd.pid
the master's pid, read by \fBfpmd -s\fR
.TP
.I /usr/lib/fpmd/modules
handler modules built against \fBpkg-config --cflags fpmd\fR
.SH SEE ALSO
.BR fpmd.yaml (5),
.BR fpmd-migrate (1),
.BR php-fpm (8)
EOF
    ;;
fpmd-migrate)
    cat <<EOF
.TH FPMD-MIGRATE 1 "$date" "fpmd $version" "User Commands"
.SH NAME
fpmd-migrate \\- move a php-fpm estate onto fpmd
.SH SYNOPSIS
.B fpmd-migrate
\\fICOMMAND\\fR [\\fIARGS\\fR]
.SH DESCRIPTION
Imports php-fpm pool files into an fpmd configuration, ranks the legacy
routes of an access log by traffic, and checks a configuration's routes.
.SH COMMANDS
The commands, as \\fBfpmd-migrate -h\\fR prints them:
EOF
    "$src" -h 2>&1 | verbatim
    for cmd in $("$src" -h 2>&1 | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'); do
        printf '.SS %s\n' "$cmd"
        "$src" "$cmd" --help 2>&1 | verbatim
    done
    cat <<'EOF'
.SH SEE ALSO
.BR fpmd (8),
.BR fpmd.yaml (5)
EOF
    ;;
fpmd.yaml)
    cat <<EOF
.TH FPMD.YAML 5 "$date" "fpmd $version" "File Formats"
.SH NAME
fpmd.yaml \\- fpmd's configuration
.SH DESCRIPTION
fpmd reads one YAML file (\\fBfpmd -y\\fR \\fIFILE\\fR). An error names
its file, line and column, and a reload (SIGUSR2) with a bad file keeps
the running configuration. Durations are written 250ms, 10s, 2m or 1h
(a bare number is seconds), sizes 512, 64k, 16m or 1g.
.PP
Every key with its default, as the annotated example that comes with
fpmd has it:
EOF
    verbatim < "$src"
    cat <<'EOF'
.SH SEE ALSO
.BR fpmd (8),
.BR fpmd-migrate (1)
EOF
    ;;
*)
    echo "usage: mkman.sh fpmd|fpmd-migrate|fpmd.yaml VERSION SOURCE" >&2
    exit 64
    ;;
esac
