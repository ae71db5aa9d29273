# SPDX-License-Identifier: BSD-2-Clause
"""watch: true reloads the daemon when its config file changes, written in
place or replaced by a rename, as SIGUSR2 would; other files in the same
directory do not; a broken config keeps the running one."""

import os
import time

from conftest import Fpmd, base_conf, free_port


def test_a_changed_config_reloads(tmpdir_path, servers):
    port = free_port()
    text = base_conf(port, os.path.join(tmpdir_path, "fpmd.sock"),
                     "watch: true\n")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", port))

    f.write_conf(text.replace("pool: www", "pool: two"))
    f.wait_log(r"NOTICE: watch: fpmd\.yaml changed; reloading")
    f.wait_log(r"configuration reloaded \(generation 2\)")

    # replaced the way editors and deploy tools do: a new file renamed
    tmp = f.conf + ".new"
    with open(tmp, "w") as out:
        out.write(open(f.conf).read().replace("pool: two", "pool: three"))
    os.rename(tmp, f.conf)
    f.wait_log(r"configuration reloaded \(generation 3\)")

    # a broken config is refused, the running one stays
    with open(f.conf, "a") as out:
        out.write("pm: [\n")
    f.wait_log(r"reload failed, keeping the running configuration")
    f.write_conf(text)
    f.wait_log(r"configuration reloaded \(generation 4\)")

    # a file beside it is not watched: no reload in a second
    with open(os.path.join(f.dir, "notes.txt"), "w") as out:
        out.write("x")
    time.sleep(1)
    assert "generation 5" not in f.log_text()
