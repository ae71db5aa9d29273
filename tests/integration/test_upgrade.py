# SPDX-License-Identifier: BSD-2-Clause
"""Binary upgrade (fpmd/upgrade.c): the binary at the master's path is
replaced by another build, as apt replaces it (a rename over it), and the
master told to upgrade (fpmd -s upgrade, or SIGHUP) while wrk runs through
nginx on kept TCP and unix connections: the new master takes over the
listening sockets and the kept connections, the old one drains and goes,
and no request fails. A new binary that cannot start leaves the old one
serving."""

import os
import re
import shutil
import signal
import subprocess
import threading

import fcgi_client as fc
from conftest import (FPMD_BIN, FPMD_TEST_BIN, Fpmd, Nginx, alive,
                      base_conf, can_connect, free_port, http_request,
                      need, wait_for)

WRK = shutil.which("wrk") or "/usr/bin/wrk"


class Master:
    """A master the test did not start (the new one): stopped by its pid
    at the end."""

    def __init__(self, pid, fpmd):
        self.pid, self.fpmd = pid, fpmd

    def stop(self):
        if alive(self.pid):
            os.kill(self.pid, signal.SIGQUIT)
            wait_for(lambda: not alive(self.pid), 15, "the new master gone")

    def logs(self):
        return self.fpmd.logs()


def start(tmp, servers):
    """fpmd started from a copy of the plain build at tmp/bin/fpmd, with
    a pid file, behind nginx: (Fpmd, Nginx, the binary's path)."""
    need(FPMD_BIN, "fpmd")
    need(FPMD_TEST_BIN, "fpmd-test")
    os.makedirs(os.path.join(tmp, "bin"))
    path = os.path.join(tmp, "bin", "fpmd")
    shutil.copy(FPMD_BIN, path)
    port, sock = free_port(), os.path.join(tmp, "fpmd.sock")
    f = Fpmd(tmp, base_conf(port, sock, "pid: @DIR@/fpmd.pid\n"),
             binary=path)
    servers.append(f)
    f.start(("127.0.0.1", port))
    nginx = Nginx(tmp, port, sock)
    servers.append(nginx)
    nginx.start()
    return f, nginx, path


def replace(path, build, tmp):
    """The binary at path replaced by build the way a package manager
    does it: a new file renamed over the old one."""
    staged = os.path.join(tmp, "bin", ".fpmd.new")
    shutil.copy(build, staged)
    os.replace(staged, path)


def pid_file(f):
    with open(os.path.join(f.dir, "fpmd.pid")) as fh:
        return int(fh.read())


def wrk(port, seconds, out):
    r = subprocess.run([WRK, "-t1", "-c8", "-d%ds" % seconds,
                        "http://127.0.0.1:%d/hello" % port],
                       capture_output=True, text=True, timeout=seconds + 30)
    out.append(r.stdout + r.stderr)


def test_upgrade_under_load_drops_nothing(tmpdir_path, servers):
    need(WRK, "wrk")
    f, nginx, path = start(tmpdir_path, servers)
    old = f.pid
    outs = []
    threads = [threading.Thread(target=wrk, args=(nginx.ports[v], 8, outs))
               for v in (("tcp", True), ("unix", True), ("tcp", False))]
    for t in threads:
        t.start()
    wait_for(lambda: http_request(nginx.ports[("tcp", True)], "GET",
                                  "/hello")[0] == 200, 10, "an answer")
    replace(path, FPMD_TEST_BIN, tmpdir_path)
    r = subprocess.run([path, "-s", "upgrade", "-g",
                        os.path.join(f.dir, "fpmd.pid")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    m = f.wait_log(r"upgrade: new master (\d+) serving: this one stops$")
    new = int(m[0].group(1))
    servers.append(Master(new, f))
    assert f.proc.wait(20) == 0, f.logs()
    for t in threads:
        t.join()
    # the new master is the new build, and it has the pid file
    assert os.stat("/proc/%d/exe" % new).st_ino == os.stat(path).st_ino
    assert "(deleted)" not in os.readlink("/proc/%d/exe" % new)
    assert pid_file(f) == new != old
    assert f.log_text().count("upgrade: listening sockets taken over") == 1
    # the unix socket's path stayed the new master's
    assert can_connect(os.path.join(tmpdir_path, "fpmd.sock"))
    for out in outs:
        done = re.search(r"(\d+) requests in", out)
        assert done and int(done.group(1)) > 100, out
        assert "Non-2xx" not in out and "Socket errors" not in out, out
    with open(os.path.join(nginx.dir, "error.log")) as fh:
        errors = [line for line in fh
                  if "[error]" in line or "[crit]" in line]
    assert errors == [], errors[:5]
    assert http_request(nginx.ports[("unix", True)], "GET",
                        "/hello")[0] == 200


def test_a_kept_connection_goes_over_to_the_new_master(tmpdir_path,
                                                       servers):
    """A FastCGI connection kept open across the upgrade is handed to the
    new master's workers, as a reload hands it to the new generation's:
    the next request on it is answered once every process of the old
    master is gone."""
    f, _, path = start(tmpdir_path, servers)
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    c = fc.Conn(sock)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/hello"), keep_conn=True))
    assert c.wait([1])[0].split()[0] == 200
    old_workers = set(f.workers())
    replace(path, FPMD_TEST_BIN, tmpdir_path)
    f.signal(signal.SIGHUP)
    m = f.wait_log(r"upgrade: new master (\d+) serving: this one stops$")
    servers.append(Master(int(m[0].group(1)), f))
    assert f.proc.wait(20) == 0, f.logs()
    # the old master waits for its last worker: nobody of the old one
    # is left to answer on this connection
    assert not any(alive(w) for w in old_workers)
    c.send(fc.request_bytes(2, fc.cgi_params(uri="/hello"), keep_conn=True))
    assert c.wait([2])[0].split()[0] == 200
    c.close()


def test_systemd_follows_the_service_to_the_new_master(tmpdir_path,
                                                      servers):
    """Under systemd (a $NOTIFY_SOCKET here), the old master, the main
    process, names the new one (MAINPID=) once it serves, and says no
    STOPPING=1 of its own: the service goes on, and the new master keeps
    up the watchdog's pings (WATCHDOG_PID names it)."""
    from test_systemd import Notify
    n = Notify(tmpdir_path)
    try:
        need(FPMD_BIN, "fpmd")
        os.makedirs(os.path.join(tmpdir_path, "bin"))
        path = os.path.join(tmpdir_path, "bin", "fpmd")
        shutil.copy(FPMD_BIN, path)
        port, sock = free_port(), os.path.join(tmpdir_path, "fpmd.sock")
        f = Fpmd(tmpdir_path, base_conf(port, sock), binary=path)
        servers.append(f)
        # WATCHDOG_PID names some other process, as systemd's would once
        # the main pid has changed: the new master must be named anew
        f.start(("127.0.0.1", port), env={"NOTIFY_SOCKET": n.path,
                                          "WATCHDOG_USEC": "400000",
                                          "WATCHDOG_PID": "1"})
        n.wait(lambda x: x.get("READY") == "1", what="the first READY")
        old = f.pid
        replace(path, FPMD_TEST_BIN, tmpdir_path)
        f.signal(signal.SIGHUP)
        _, (_, sender, fields) = n.wait(lambda x: "MAINPID" in x,
                                        what="MAINPID")
        new = int(fields["MAINPID"])
        servers.append(Master(new, f))
        assert sender == old and new != old
        assert f.proc.wait(20) == 0, f.logs()
        assert not [x for x in n.all()
                    if x[1] == old and "STOPPING" in x[2]], n.all()
        # the new master said READY=1 of its own once a worker accepted
        assert any(x[1] == new and x[2].get("READY") == "1"
                   for x in n.all()), n.all()
        wait_for(lambda: sum(x[1] == new and "WATCHDOG" in x[2]
                             for x in n.all()) >= 2, 5,
                 "the new master's watchdog pings")
    finally:
        n.close()


def test_a_new_binary_that_fails_leaves_the_old_serving(tmpdir_path,
                                                       servers):
    f, nginx, path = start(tmpdir_path, servers)
    staged = os.path.join(tmpdir_path, "bin", ".fpmd.new")
    with open(staged, "w") as fh:
        fh.write("#!/bin/sh\necho 'a broken build' >&2\nexit 3\n")
    os.chmod(staged, 0o755)
    os.replace(staged, path)
    f.signal(signal.SIGHUP)
    f.wait_log(r"ERROR: upgrade: the new master failed to start \(its lines "
               r"above say why\): this one goes on serving$")
    assert f.proc.poll() is None
    assert pid_file(f) == f.pid
    assert http_request(nginx.ports[("unix", True)], "GET",
                        "/hello")[0] == 200
    # a working build afterwards takes over as usual
    replace(path, FPMD_TEST_BIN, tmpdir_path)
    f.signal(signal.SIGHUP)
    m = f.wait_log(r"upgrade: new master (\d+) serving: this one stops$")
    servers.append(Master(int(m[0].group(1)), f))
    assert f.proc.wait(20) == 0, f.logs()
    assert http_request(nginx.ports[("tcp", True)], "GET",
                        "/hello")[0] == 200
