# SPDX-License-Identifier: BSD-2-Clause
"""fpmd-migrate check: a config whose routes all have handlers and whose
shims can all answer passes; an unknown handler, a shim an earlier one
always takes first, and a config that does not load are reported with
their places."""

import os
import subprocess

from conftest import FPMD_BIN, need

MIGRATE_BIN = os.path.join(os.path.dirname(os.path.dirname(FPMD_BIN)),
                           "migrate", "fpmd-migrate")

HEAD = """listen:
  - fastcgi: 127.0.0.1:9000
legacy: { fastcgi: 127.0.0.1:9001 }
routes:
"""


def check(tmpdir_path, routes):
    need(MIGRATE_BIN, "fpmd-migrate")
    path = os.path.join(tmpdir_path, "fpmd.yaml")
    with open(path, "w") as f:
        f.write(HEAD + routes)
    p = subprocess.run([MIGRATE_BIN, "check", path], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr, path


def test_check_passes_a_config_whose_shims_all_answer(tmpdir_path):
    rc, out, path = check(tmpdir_path, """
  - match: { script: /index.php, method: GET, query: { r: post/view } }
    handler: hello
  - match: { script: /index.php, method: POST, query: { r: post/view } }
    handler: json
  - match: { script: /index.php, query: { r: "*" } }
    handler: json
  - match: { prefix: /blog/2024/ }
    handler: hello
  - match: { prefix: /blog/ }
    handler: hello
  - match: "*"
    to: legacy
""")
    assert rc == 0, out
    assert "%s: 6 routes, 5 shims, 0 shadowed" % path in out


def test_check_reports_shadowed_shims_and_unknown_handlers(tmpdir_path):
    rc, out, path = check(tmpdir_path, """
  - match: { script: /index.php, query: { r: "*" } }
    handler: hello
  - match: { script: /index.php, method: GET, query: { r: post/view } }
    handler: json
  - match: { prefix: /blog/ }
    handler: hello
  - match: { prefix: /blog/2024/, query: { page: "2" } }
    handler: json
  - match: "*"
    to: legacy
""")
    assert rc == 1, out
    assert ("%s:8:12: shim GET /index.php?r=post/view (json) is shadowed by "
            "the one at %s:6:12 (hello)" % (path, path)) in out
    assert "%s:12:12: shim /blog/2024/*?page=2 (json)" % path in out
    assert "2 shadowed" in out

    rc, out, path = check(tmpdir_path, """
  - match: { script: /a.php }
    handler: no_such_handler
""")
    assert rc == 1
    assert '%s:6:12: unknown handler "no_such_handler"' % path in out

    rc, out, path = check(tmpdir_path, "  - match: { script: a.php }\n"
                          "    handler: hello\n")
    assert rc == 78
    assert "%s:5:22: routes.match.script" % path in out


def test_check_usage():
    need(MIGRATE_BIN, "fpmd-migrate")
    p = subprocess.run([MIGRATE_BIN, "check"], capture_output=True,
                       text=True)
    assert p.returncode == 64 and "Usage" in p.stderr
    p = subprocess.run([MIGRATE_BIN, "check", "/nonexistent.yaml"],
                       capture_output=True, text=True)
    assert p.returncode == 78 and "cannot open" in p.stderr
