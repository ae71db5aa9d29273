#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# make install into a scratch DESTDIR lays out what an operator and a
# module author expect: sbin/fpmd, bin/fpmd-migrate, etc/fpmd/fpmd.yaml
# (which the installed fpmd accepts), the handler API's headers and
# fpmd.pc (with which a module compiles), the modules directory, the man
# pages (made from the binaries' --help: each option fpmd -h prints is in
# fpmd(8)); a second install keeps an edited config, and uninstall
# removes what install put there.
set -eu
build=$(cd "${top_builddir:-.}" && pwd)
src=$(cd "${top_srcdir:-.}" && pwd)
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
make=${MAKE:-make}

fail() { echo "install: $*"; exit 1; }

# the directories configure chose, under DESTDIR
installed() {
    found=$(cd "$dest" && find . -path "*/$1" | sed 's|^\./||' | head -n 1)
    [ -n "$found" ] || fail "no $1 installed"
    echo "$dest/$found"
}

"$make" -s -C "$build" install DESTDIR="$dest" >/dev/null \
    || fail "make install failed"
sbin=$(installed sbin/fpmd)
conf=$(installed etc/fpmd/fpmd.yaml)
pc=$(installed pkgconfig/fpmd.pc)
man8=$(installed man8/fpmd.8)
for f in bin/fpmd-migrate include/fpmd/fpmd.h include/fpmd/common.h \
         man1/fpmd-migrate.1 man5/fpmd.yaml.5 doc/fpmd/fpmd.yaml.example; do
    installed "$f" >/dev/null
done
"$sbin" -t -y "$conf" >/dev/null 2>&1 \
    || fail "the installed fpmd refuses its fpmd.yaml"
# every option of fpmd -h is in fpmd(8)
for opt in $("$build/fpmd/fpmd" -h | sed -n 's/^  \(-[a-zA-Z]\),.*/\1/p'); do
    grep -q -- "^  $opt," "$man8" || fail "fpmd(8) lacks $opt"
done
# a module compiles against the installed headers through fpmd.pc, and
# the modules directory it names is there
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_LIBDIR="${pc%/*}"
cflags=$(pkg-config --cflags fpmd)
moddir=$(pkg-config --variable=moduledir fpmd)
[ -d "$moddir" ] || fail "no $moddir (fpmd.pc's moduledir)"
${CC:-cc} -shared -fPIC $cflags -o "$dest/greet.so" \
    "$src/handlers/examples/greet.c" || fail "a module does not compile"
# an operator's edit survives a second install and the uninstall
echo "# edited" >> "$conf"
"$make" -s -C "$build" install DESTDIR="$dest" >/dev/null \
    || fail "second make install failed"
tail -n 1 "$conf" | grep -q "# edited" \
    || fail "a second install overwrote the edited config"
"$make" -s -C "$build" uninstall DESTDIR="$dest" >/dev/null \
    || fail "make uninstall failed"
[ -e "$sbin" ] && fail "uninstall left sbin/fpmd"
[ -e "$conf" ] || fail "uninstall removed an edited config"
exit 0
