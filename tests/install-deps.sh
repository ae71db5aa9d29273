#!/bin/sh
# Installs, from Debian 12's own archive, what fpmd needs: "build" for the
# compiler and libraries, "test" for that plus the real servers and tools
# the test suite starts (nginx, Apache, lighttpd, Caddy, h2o and HAProxy
# as fronts, php-fpm, wrk, redis with its sentinel,
# mariadb, etcd-server for discovery; prometheus for promtool, which lints
# the status page's OpenMetrics; tzdata for cron: zones, which a minimal
# image lacks; systemd for systemd-analyze, which checks the unit files,
# and logrotate for the rotation file; valgrind for
# tests/stress/valgrind.sh; python3-h11, the reference parser of the
# HTTP differential check; clang with its libFuzzer and sanitizer runtimes
# and llvm's llvm-profdata and llvm-cov for tests/stress/fuzz.py, whose
# 60-second run is part of tests/run-all.sh). "fuzz" is the build and
# what fuzz.py needs, alone.
set -eu
what=${1:-build}

build_pkgs="build-essential autoconf automake pkg-config
  libevent-dev libhiredis-dev default-libmysqlclient-dev libmongoc-dev
  libbson-dev libjson-c-dev libyaml-dev libcmocka-dev libfcgi-dev
  libcurl4-openssl-dev libsystemd-dev libseccomp-dev ca-certificates
  node-llhttp tzdata"
test_pkgs="$build_pkgs nginx-light apache2 lighttpd caddy h2o haproxy
  php8.2-fpm php8.2-opcache
  libfcgi-bin python3 python3-pytest python3-yaml python3-h11 curl wrk
  procps openssl
  redis-server redis-sentinel mariadb-server etcd-server prometheus
  systemd logrotate valgrind"
# clang only recommends its runtimes, which --no-install-recommends skips.
fuzz_only="clang libclang-rt-14-dev llvm"
test_pkgs="$test_pkgs $fuzz_only"
fuzz_pkgs="$build_pkgs python3 $fuzz_only"

# "package": what tests/package.sh (make package-test) needs besides.
package_pkgs="$test_pkgs debhelper lintian debootstrap"

case "$what" in
build) pkgs=$build_pkgs ;;
test) pkgs=$test_pkgs ;;
package) pkgs=$package_pkgs ;;
fuzz) pkgs=$fuzz_pkgs ;;
*) echo "usage: $0 build|test|package|fuzz" >&2; exit 64 ;;
esac

# Skip apt entirely when everything is there already (repeat runs).
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A server package starts its service where it can, on ports 80 and 443:
# the tests start their own servers on free ports. Unless the machine
# has its own policy (Docker's images do), one that lets no service
# start while these install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
