# SPDX-License-Identifier: BSD-2-Clause
"""php-fpm's safety rules, kept or bettered: no worker runs as root unless
told (-R), a unix socket someone still accepts on is never taken over."""

import os
import pwd
import signal
import subprocess

import pytest

import fcgi_client as fc
from conftest import (FPMD_BIN, Fpmd, base_conf, free_port, need, wait_for)


def uids(pid):
    """The real and effective uid and gid of a process."""
    with open("/proc/%d/status" % pid) as f:
        fields = dict(line.split(":", 1) for line in f)
    return (tuple(int(x) for x in fields["Uid"].split()[:2]),
            tuple(int(x) for x in fields["Gid"].split()[:2]))


def hello(addr):
    status, _, body = fc.request(addr, uri="/hello").split()
    return status, body


need_root = pytest.mark.skipif(os.geteuid() != 0,
                               reason="the rule is about a master run as root")


def conf_text(tmp, extra=""):
    port = free_port()
    sock = os.path.join(tmp, "fpmd.sock")
    return base_conf(port, sock, extra), ("127.0.0.1", port)


def refused_start(f, line):
    """Starts f without -R: it exits 78 having said line, then php-fpm's
    FPM initialization failed."""
    f.start(allow_root=False)
    assert f.proc.wait(15) == 78, f.logs()
    log = f.log_text()
    assert line in log, log
    assert "ERROR: FPM initialization failed" in log, log
    assert log.index(line) < log.index("FPM initialization failed")


@need_root
def test_root_without_user_refuses_to_start(tmpdir_path, servers):
    text, _ = conf_text(tmpdir_path)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    refused_start(f, "ALERT: [pool www] user has not been defined")
    # -t says the same, as php-fpm -t does
    out = subprocess.run([FPMD_BIN, "-t", "-y", f.conf], capture_output=True,
                         text=True)
    assert out.returncode == 78
    assert "[pool www] user has not been defined" in out.stderr
    assert "test failed" in out.stderr


@need_root
@pytest.mark.parametrize("who", ["user: root\n",
                                 "user: nobody\ngroup: root\n"])
def test_root_as_user_or_group_refuses_to_start(tmpdir_path, servers, who):
    text, _ = conf_text(tmpdir_path, who)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    refused_start(f, "ERROR: [pool www] please specify user and group other "
                  "than root")


@need_root
def test_unknown_user_is_refused_by_the_master(tmpdir_path, servers):
    text, _ = conf_text(tmpdir_path, "user: no-such-user-fpmd\n")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    refused_start(f, "ERROR: [pool www] cannot get uid for user "
                  "'no-such-user-fpmd'")


@need_root
def test_workers_run_as_the_configured_user(tmpdir_path, servers):
    nobody = pwd.getpwnam("nobody")
    text, addr = conf_text(tmpdir_path, "user: nobody\n")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(addr, allow_root=False)
    wait_for(lambda: len(f.workers()) == 2, 10, "two workers")
    assert hello(addr) == (200, b"hello world\n")
    for pid in f.workers():
        assert uids(pid) == ((nobody.pw_uid,) * 2, (nobody.pw_gid,) * 2)
    assert uids(f.pid)[0] == (0, 0)


@need_root
def test_allow_to_run_as_root_flag(tmpdir_path, servers):
    text, addr = conf_text(tmpdir_path)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(addr, args=["--allow-to-run-as-root"], allow_root=False)
    wait_for(lambda: len(f.workers()) == 2, 10, "two workers")
    assert hello(addr) == (200, b"hello world\n")
    assert all(uids(pid)[0] == (0, 0) for pid in f.workers())


@need_root
def test_reload_to_a_root_config_keeps_serving(tmpdir_path, servers):
    text, addr = conf_text(tmpdir_path, "user: nobody\n")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(addr, allow_root=False)
    old = wait_for(lambda: len(f.workers()) == 2 and f.workers(), 10,
                   "two workers")
    f.write_conf(text.replace("user: nobody\n", ""))
    f.signal(signal.SIGUSR2)
    f.wait_log(r"user has not been defined")
    f.wait_log(r"reload failed, keeping the running configuration")
    assert hello(addr) == (200, b"hello world\n")
    assert sorted(f.workers()) == sorted(old)


def test_embedded_default_config_names_a_user():
    need(FPMD_BIN, "fpmd")
    out = subprocess.run([FPMD_BIN, "-t"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stdout
