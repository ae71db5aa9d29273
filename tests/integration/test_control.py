# SPDX-License-Identifier: BSD-2-Clause
"""fpmd -s reload|reopen|quit|stop: the running master signalled through
its pid file (-g, or pid: in the configuration), as nginx -s does, with
a clear error when there is no master to signal."""

import os
import subprocess

from conftest import FPMD_BIN, Fpmd, base_conf, free_port, need, wait_for


def ctl(conf, *args):
    need(FPMD_BIN, "fpmd")
    return subprocess.run([FPMD_BIN, "-y", conf, *args], capture_output=True,
                          text=True, timeout=10)


def test_signals_reach_the_master_named_in_the_pid_file(tmpdir_path,
                                                        servers):
    port = free_port()
    pid_file = os.path.join(tmpdir_path, "fpmd.pid")
    f = Fpmd(tmpdir_path, base_conf(port, os.path.join(
        tmpdir_path, "fpmd.sock"), "pid: %s\n" % pid_file))
    servers.append(f)
    f.start(("127.0.0.1", port))
    wait_for(lambda: os.path.exists(pid_file), 5, "the pid file")
    assert int(open(pid_file).read()) == f.pid

    r = ctl(f.conf, "-s", "reload")
    assert (r.returncode, r.stderr) == (0, "")
    f.wait_log(r"configuration reloaded \(generation 2\)")
    os.rename(f.error_log, f.error_log + ".1")
    r = ctl(f.conf, "-s", "reopen")
    assert (r.returncode, r.stderr) == (0, "")
    wait_for(lambda: os.path.exists(f.error_log), 10, "error log reopened")
    # -g names the pid file instead of the configuration
    r = ctl(f.conf, "-g", pid_file, "-s", "quit")
    assert (r.returncode, r.stderr) == (0, "")
    assert f.proc.wait(15) == 0
    f.wait_log("exiting, bye-bye!")
    assert not os.path.exists(pid_file)

    r = ctl(f.conf, "-s", "stop")
    assert r.returncode == 1
    assert r.stderr == ('fpmd: cannot open pid file "%s": No such file or '
                        'directory (is fpmd running?)\n' % pid_file)


def test_stop_is_the_fast_stop(tmpdir_path, servers):
    port = free_port()
    pid_file = os.path.join(tmpdir_path, "fpmd.pid")
    f = Fpmd(tmpdir_path, base_conf(port, os.path.join(
        tmpdir_path, "fpmd.sock")))
    servers.append(f)
    f.start(("127.0.0.1", port), args=["-g", pid_file])
    wait_for(lambda: os.path.exists(pid_file), 5, "the pid file")
    r = ctl(f.conf, "-g", pid_file, "-s", "stop")
    assert (r.returncode, r.stderr) == (0, "")
    assert f.proc.wait(15) == 0
    f.wait_log(r"Terminating \.\.\.|exiting, bye-bye!")


def test_no_master_to_signal(tmpdir_path):
    conf = Fpmd(tmpdir_path, base_conf(free_port(), os.path.join(
        tmpdir_path, "x.sock"))).conf
    pid_file = os.path.join(tmpdir_path, "fpmd.pid")
    r = ctl(conf, "-s", "reload")
    assert r.returncode == 1
    assert "needs the master's pid file: pass -g FILE or set pid:" in r.stderr
    r = ctl(conf, "-s", "restart", "-g", pid_file)
    assert r.returncode == 64
    assert '"-s restart" (reload, reopen, upgrade, quit or stop)' in r.stderr
    with open(pid_file, "w") as f:
        f.write("garbage\n")
    r = ctl(conf, "-s", "quit", "-g", pid_file)
    assert (r.returncode, r.stderr) == (
        1, 'fpmd: invalid pid in "%s"\n' % pid_file)
    # a pid left by a crash, now another program's: not signalled
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        with open(pid_file, "w") as f:
            f.write("%d\n" % sleeper.pid)
        r = ctl(conf, "-s", "stop", "-g", pid_file)
        assert r.returncode == 1
        assert "is not fpmd (it runs /usr/bin/sleep): a stale pid file?" \
            in r.stderr
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
    # a pid nobody has
    with open("/proc/sys/kernel/pid_max") as f:
        free = int(f.read()) - 1
    with open(pid_file, "w") as f:
        f.write("%d\n" % free)
    r = ctl(conf, "-s", "quit", "-g", pid_file)
    assert r.returncode == 1
    assert "No such process: a stale pid file?" in r.stderr
