#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The Debian packages, built from this tree and installed on a fresh
# Debian 12 (debootstrap --variant=minbase bookworm): dpkg-buildpackage
# builds fpmd and fpmd-dev, lintian finds no error or warning, installing
# fpmd creates its system user (in group www-data), the unit, the
# logrotate file, /etc/fpmd and /var/log/fpmd, and the installed fpmd
# serves on its config's socket with its workers as that user (started by
# hand: a chroot has no systemd; tests/integration/test_systemd.py checks
# the unit with systemd-analyze); purging removes all of it. As root, with
# network access; about two minutes on two cores. `make package-test`
# (after `sh tests/install-deps.sh package`) runs it; tests/run-all.sh
# does not.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mirror=${FPMD_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /var/tmp/fpmd-package.XXXXXX)
root=$work/root
pid=

fail() { echo "package: $*" >&2; exit 1; }

cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || :
    for d in dev proc; do
        mountpoint -q "$root/$d" 2>/dev/null && umount -l "$root/$d"
    done
    rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot)"
start=$(date +%s)

# --- build -----------------------------------------------------------------
mkdir -p "$work/src/fpmd"
(cd "$top" && tar --exclude=./build --exclude=./.git \
     --exclude=./autom4te.cache -cf - .) | tar -xf - -C "$work/src/fpmd"
(cd "$work/src/fpmd" && dpkg-buildpackage -us -uc -b) \
    >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; \
                                fail "dpkg-buildpackage failed"; }
deb=$(ls "$work"/src/fpmd_*_*.deb)
dev=$(ls "$work"/src/fpmd-dev_*_*.deb)
tags=$(lintian "$deb" "$dev" 2>/dev/null \
       | grep -E '^[EW]: ' || :)
[ -z "$tags" ] || fail "lintian: $tags"

# --- a fresh Debian 12 ---------------------------------------------------------
debootstrap --variant=minbase bookworm "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || fail "debootstrap failed"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                DEBIAN_FRONTEND=noninteractive "$@"; }
in_root apt-get update -q >/dev/null
in_root apt-get install -y -q "/tmp/${deb##*/}" >"$work/install.log" 2>&1 \
    || { tail -n 30 "$work/install.log"; fail "installing fpmd failed"; }

# --- what the install made --------------------------------------------------
in_root getent passwd fpmd >/dev/null || fail "no user fpmd"
in_root id -nG fpmd | grep -qw www-data || fail "fpmd is not in www-data"
for f in /usr/sbin/fpmd /usr/bin/fpmd-migrate /etc/fpmd/fpmd.yaml \
         /lib/systemd/system/fpmd.service /etc/logrotate.d/fpmd \
         /usr/share/man/man8/fpmd.8.gz; do
    [ -e "$root$f" ] || fail "$f not installed"
done
[ -d "$root/var/log/fpmd" ] || fail "no /var/log/fpmd"
grep -q '^user: fpmd$' "$root/etc/fpmd/fpmd.yaml" \
    || fail "the config's workers are not fpmd's"
in_root /usr/sbin/fpmd -t -y /etc/fpmd/fpmd.yaml >/dev/null \
    || fail "the installed fpmd refuses its config"

# --- it serves, as the unit starts it ------------------------------------------
mkdir -p "$root/run/fpmd"
chroot "$root" /usr/sbin/fpmd -F -y /etc/fpmd/fpmd.yaml \
    >"$work/fpmd.log" 2>&1 &
pid=$!
sock=$root/run/fpmd/fpmd.sock
i=0
until [ -S "$sock" ] && [ -s "$root/run/fpmd/fpmd.pid" ]; do
    i=$((i + 1))
    [ $i -lt 200 ] && kill -0 "$pid" 2>/dev/null \
        || { cat "$work/fpmd.log" "$root/var/log/fpmd/error.log" 2>/dev/null; \
             fail "fpmd did not start"; }
    sleep 0.05
done
pong=$(env -i REQUEST_METHOD=GET SCRIPT_NAME=/ping REQUEST_URI=/ping \
       cgi-fcgi -bind -connect "$sock" | tr -d '\r' | tail -n 1)
[ "$pong" = pong ] || fail "/ping answered \"$pong\""
master=$(cat "$root/run/fpmd/fpmd.pid")
# uids: the host may name the chroot's fpmd otherwise
workers=$(ps -o uid= --ppid "$master" | tr -d ' ' | sort -u)
[ -n "$workers" ] && [ "$workers" = "$(in_root id -u fpmd)" ] \
    || fail "workers run as uid \"$workers\""
kill -QUIT "$pid"
wait "$pid" || fail "fpmd's graceful stop failed"
pid=

# --- purge ----------------------------------------------------------------------
in_root apt-get purge -y -q fpmd >"$work/purge.log" 2>&1 \
    || { tail -n 30 "$work/purge.log"; fail "purging fpmd failed"; }
in_root getent passwd fpmd >/dev/null && fail "purge left user fpmd"
for f in /usr/sbin/fpmd /etc/fpmd /var/log/fpmd /etc/logrotate.d/fpmd \
         /lib/systemd/system/fpmd.service; do
    [ -e "$root$f" ] && fail "purge left $f"
done
echo "package: built, installed, served and purged in" \
     "$(( $(date +%s) - start )) s"
