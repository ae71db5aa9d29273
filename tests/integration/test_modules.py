# SPDX-License-Identifier: BSD-2-Clause
"""Handler modules built outside the tree the way handlers/examples/README
tells a user to (make install, pkg-config --cflags fpmd), loaded by the
workers, replaced under a SIGUSR2 reload without a failed request, and a
broken module refused while the running generation keeps serving."""

import os
import re
import signal
import subprocess
import threading

import pytest

from conftest import (FPMD_BIN, TOP, Fpmd, free_port, http_request,
                      wait_for)

CONF = """
pool: www
listen:
  - http: 127.0.0.1:@PORT@
pm:
  mode: static
  max_children: 2
log:
  error: @DIR@/error.log
modules:
  - ../greet.so
routes:
  - match: GET /hello
    handler: hello
"""


@pytest.fixture(scope="module")
def pkg(tmp_path_factory):
    """fpmd's headers and fpmd.pc installed into a staging directory."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(FPMD_BIN)))
    if not os.path.exists(os.path.join(build, "Makefile")):
        pytest.skip("FPMD_BIN is not in a configured build tree")
    dest = str(tmp_path_factory.mktemp("inst"))
    subprocess.run(["make", "-s", "-C", build, "install-fpmdincludeHEADERS",
                    "install-pkgconfigDATA", "DESTDIR=" + dest], check=True,
                   stdout=subprocess.DEVNULL)
    pcdir = subprocess.run(
        ["find", dest, "-name", "fpmd.pc", "-printf", "%h"],
        check=True, capture_output=True, text=True).stdout
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir,
               PKG_CONFIG_SYSROOT_DIR=dest)
    cflags = subprocess.run(["pkg-config", "--cflags", "fpmd"], env=env,
                            check=True, capture_output=True,
                            text=True).stdout.split()
    return cflags


def build_module(cflags, out, greeting=None, src=None, extra=()):
    src = src or os.path.join(TOP, "handlers", "examples", "greet.c")
    tmp = out + ".tmp"
    cmd = ["cc", "-O2", "-Wall", "-Wextra", "-Werror", *cflags, "-fPIC",
           "-shared", "-o", tmp, src, *extra]
    if greeting:
        cmd.insert(1, '-DGREETING="%s"' % greeting)
    subprocess.run(cmd, check=True)
    # a new inode under the old name: running workers keep their mapping
    os.rename(tmp, out)


def api_version():
    with open(os.path.join(TOP, "fpmd", "fpmd.h")) as fh:
        return int(re.search(r"#define FPMD_API_VERSION (\d+)",
                             fh.read()).group(1))


def write(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    return path


def check(f):
    return subprocess.run([f.binary, "-t", "-R", "-y", f.conf],
                          capture_output=True, text=True)


def start(tmp, servers):
    port = free_port()
    f = Fpmd(tmp, CONF.replace("@PORT@", str(port)))
    servers.append(f)
    return f, port


def greeting(port):
    status, headers, body = http_request(port, "GET", "/greet/ada?times=2")
    assert status == 200, body
    return dict(headers)["X-Greet-Module"], body


def test_module_routes_load_and_list(pkg, tmpdir_path, servers):
    build_module(pkg, os.path.join(tmpdir_path, "greet.so"), "v1")
    f, port = start(tmpdir_path, servers)
    out = subprocess.run([f.binary, "-t", "-R", "--routes", "-y", f.conf],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert re.search(r"GET +/greet/\{name\} +greet +\S*greet\.c:\d+",
                     out.stdout)
    assert re.search(r"hook before +50 +greet_tag", out.stdout)
    f.start(("127.0.0.1", port))
    assert greeting(port) == ("v1", b"v1, ada\nv1, ada\n")
    status, _, body = http_request(port, "GET", "/greet/ada?times=11")
    assert status == 400 and b"times must be 1 to 10" in body


def test_reload_swaps_module_without_failed_requests(pkg, tmpdir_path,
                                                      servers):
    so = os.path.join(tmpdir_path, "greet.so")
    build_module(pkg, so, "v1")
    f, port = start(tmpdir_path, servers)
    f.start(("127.0.0.1", port))
    assert greeting(port)[0] == "v1"

    failures, done, seen = [], threading.Event(), set()

    def load():
        while not done.is_set():
            for path in ("/hello", "/greet/x"):
                try:
                    status, h, _ = http_request(port, "GET", path, timeout=10)
                    if status != 200:
                        failures.append((path, status))
                    elif path == "/greet/x":
                        seen.add(dict(h)["X-Greet-Module"])
                except OSError as e:
                    failures.append((path, repr(e)))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: "v1" in seen, 10, "the load answered by v1")
        build_module(pkg, so, "v2")
        f.signal(signal.SIGUSR2)
        wait_for(lambda: greeting(port)[0] == "v2", 15, "v2 module")
        wait_for(lambda: "v2" in seen, 10, "the load answered by v2")
    finally:
        done.set()
        for t in threads:
            t.join()
    assert failures == []
    assert seen == {"v1", "v2"}

    # a module that cannot load fails the reload; v2 keeps serving
    wait_for(lambda: f.log_text().count(" exited with code 0") == 2, 10,
             "the v1 workers gone")
    workers = sorted(f.workers())
    bad = os.path.join(tmpdir_path, "bad.c")
    with open(bad, "w") as fh:
        fh.write('#include <fpmd/fpmd.h>\n'
                 'void fpmd_no_such_function(void);\n'
                 'FPMD_ROUTE(greet, "GET", "/greet/{name}")\n'
                 '{ (void) req; fpmd_no_such_function(); return 0; }\n')
    build_module(pkg, so, src=bad)
    f.signal(signal.SIGUSR2)
    wait_for(lambda: "reload failed" in f.log_text(), 10, "reload refusal")
    assert re.search(r"fpmd\.yaml:\d+:\d+: module: .*fpmd_no_such_function",
                     f.log_text())
    assert greeting(port)[0] == "v2"
    assert sorted(f.workers()) == workers


def test_module_built_for_another_api_is_refused(pkg, tmpdir_path,
                                                  servers):
    """A module records the FPMD_API_VERSION of the fpmd.h it was built
    against; one built for another is refused at the check, at start and
    at a reload, which keeps the running generation."""
    this = api_version()
    so = os.path.join(tmpdir_path, "greet.so")
    # what a module built against the next fpmd.h would hold
    other = write(os.path.join(tmpdir_path, "api_next.c"),
                  "const int fpmd_module_api_version = %d;\n" % (this + 1))
    refusal = (r"fpmd\.yaml:\d+:\d+: module: built for API %d, this fpmd "
               r"is %d\b" % (this + 1, this))
    build_module(pkg, so, "v1", extra=[other])
    f, port = start(tmpdir_path, servers)
    out = check(f)
    assert out.returncode == 78, out.stderr
    assert re.search(refusal, out.stderr), out.stderr
    out = subprocess.run([f.binary, "-F", "-R", "-y", f.conf], timeout=15,
                         capture_output=True, text=True)
    assert out.returncode == 78, out.stderr
    assert re.search(refusal, out.stderr), out.stderr

    build_module(pkg, so, "v1")
    f.start(("127.0.0.1", port))
    assert greeting(port)[0] == "v1"
    build_module(pkg, so, "v2", extra=[other])
    f.signal(signal.SIGUSR2)
    wait_for(lambda: "reload failed" in f.log_text(), 10, "reload refusal")
    assert re.search(refusal, f.log_text())
    assert greeting(port)[0] == "v1"


def test_module_without_api_version_is_refused(tmpdir_path, servers):
    """A shared object not built with fpmd/fpmd.h records no version."""
    so = os.path.join(tmpdir_path, "greet.so")
    src = write(os.path.join(tmpdir_path, "plain.c"),
                "int plain(void);\nint plain(void) { return 1; }\n")
    subprocess.run(["cc", "-fPIC", "-shared", "-o", so, src], check=True)
    f, _ = start(tmpdir_path, servers)
    out = check(f)
    assert out.returncode == 78, out.stderr
    assert re.search(r"fpmd\.yaml:\d+:\d+: module: built without "
                     r"fpmd/fpmd\.h's API version, this fpmd is %d\b"
                     % api_version(), out.stderr), out.stderr


@pytest.mark.parametrize("symbol,use", [
    ("conf_error_at", "void conf_error_at(void);\n"
                      "#define USE (conf_error_at(), FPMD_OK)\n"),
    ("fpmd_worker", "extern void *fpmd_worker;\n"
                    "#define USE (fpmd_worker ? FPMD_OK : FPMD_ERROR)\n"),
], ids=["function", "variable"])
def test_module_using_internals_is_refused(pkg, tmpdir_path, servers,
                                           symbol, use):
    """The binary exports fpmd.h's functions and nothing else: a module
    that reaches for an internal function or variable fails to load,
    naming it."""
    src = write(os.path.join(tmpdir_path, "internal.c"),
                '#include <fpmd/fpmd.h>\n' + use +
                'FPMD_HANDLER(internal)\n'
                '{\n    (void) req;\n    return USE;\n}\n')
    build_module(pkg, os.path.join(tmpdir_path, "greet.so"), src=src)
    f, _ = start(tmpdir_path, servers)
    out = check(f)
    assert out.returncode == 78, out.stderr
    assert re.search(r"fpmd\.yaml:\d+:\d+: module: \S*greet\.so: "
                     r"undefined symbol: %s\n" % symbol,
                     out.stderr), out.stderr
