# SPDX-License-Identifier: BSD-2-Clause
"""Web servers other than nginx in front of a FastCGI backend (fpmd, or
php-fpm directly), each from Debian, in its own temp dir on free
127.0.0.1 ports, started in the foreground and stopped by its pid. A front
is a backends.Server: register it with the servers fixture and its log is
printed when a test fails.

Apache 2.4 with mod_proxy_fcgi is here; lighttpd, Caddy, h2o or HAProxy go
beside it as classes of the same shape: a constructor that writes the
config, start() that waits for the port, url paths for each way the front
reaches the backend."""

import os
import subprocess

from backends import Server
from conftest import can_connect, free_port, need, wait_for

APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"

APACHE_CONF = """
ServerRoot "{dir}"
DefaultRuntimeDir "{dir}"
PidFile "{dir}/apache2.pid"
Mutex file:{dir} default
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
{user}
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule proxy_module {mods}/mod_proxy.so
LoadModule proxy_fcgi_module {mods}/mod_proxy_fcgi.so
ErrorLog "{dir}/error.log"
LogLevel {level}
LogFormat "%h \\"%r\\" %>s %b" short
CustomLog "{dir}/access.log" short
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
MinSpareThreads 1
MaxSpareThreads 8
DocumentRoot "{www}"
<Directory "{www}">
    Require all granted
</Directory>
# The way Debian's php8.2-fpm.conf wires PHP: the handler for each .php
# file under the document root.
<FilesMatch "\\.php$">
    SetHandler "proxy:fcgi://{backend}"
</FilesMatch>
# The other way: a URL prefix mapped onto the backend.
ProxyPass "/pp/" "fcgi://{backend}{www}/"
{extra}
"""


class Apache(Server):
    """Apache 2.4 (Debian's apache2) with mod_proxy_fcgi to a FastCGI
    backend at "host:port", serving the .php files under www by
    SetHandler: "/x.php" goes by SetHandler, "/pp/x.php" by ProxyPass
    (both reach the backend with the script under www). extra is added to
    the config as it is."""

    stop_wait = 15

    def __init__(self, tmp, backend, www, name="apache", extra="",
                 level="warn"):
        need(APACHE_BIN, "apache2")
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.www = www
        self.log = os.path.join(self.dir, "error.log")
        self.access_log = os.path.join(self.dir, "access.log")
        self.label = "apache2 %d" % self.port
        self.conf = os.path.join(self.dir, "apache2.conf")
        # As root, its children drop to www-data, which must read www.
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        with open(self.conf, "w") as f:
            f.write(APACHE_CONF.format(dir=self.dir, port=self.port,
                                       mods=APACHE_MODULES, www=www,
                                       backend=backend, user=user,
                                       extra=extra, level=level))
        self.proc = None

    def start(self):
        # -DFOREGROUND: the master stays the process started here, so its
        # pid is the one to stop (SIGTERM stops its children too).
        self.proc = subprocess.Popen(
            [APACHE_BIN, "-d", self.dir, "-f", self.conf, "-DFOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "stderr.log"), "ab"),
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
        wait_for(lambda: can_connect(("127.0.0.1", self.port))
                 or self.proc.poll() is not None, 15, "apache2 to listen")
        assert self.proc.poll() is None, self.logs()
        return self

    def logs(self):
        out = ""
        for name in ("error.log", "stderr.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += "---- %s %s\n%s" % (self.label, name,
                                               f.read()[-5000:])
        return out
