# SPDX-License-Identifier: BSD-2-Clause
"""Web servers in front of a FastCGI backend (fpmd, or php-fpm directly),
each from Debian, in its own temp dir on free 127.0.0.1 ports, started in
the foreground and stopped by its pid: nginx, Apache 2.4 (mod_proxy_fcgi),
lighttpd (mod_fastcgi), Caddy 2.6 (php_fastcgi, reverse_proxy's fastcgi
transport), h2o 2.2 (fastcgi.connect) and HAProxy 2.6 (fcgi-app). A
front is a backends.Server: register it with the servers fixture and its
logs are printed when a test fails.

Each is configured the way its documentation (or Debian's own snippet)
wires php-fpm, and serves several sites at once, one listener each:
sites maps a key to (backend, variant), the backend "host:port" or a unix
socket path, the variant one of the class's VARIANTS (how the front is
told to reach FastCGI). ports[key] is the site's port. Every site serves
the .php files under www, the script named by the path, PATH_INFO split
after ".php"."""

import os
import subprocess

from backends import Server
from conftest import (NGINX_BIN, can_connect, free_port, log_tails, need,
                      wait_for)

PATH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


def tcp(backend):
    """(host, port) of a "host:port" backend, None for a unix socket."""
    if backend.startswith("/"):
        return None
    host, _, port = backend.rpartition(":")
    return host, int(port)


class Front(Server):
    """What the fronts share: the config written at construction, one
    listener per site, start() waiting on every port, the tails of the
    logs named in log_names. Subclasses set BIN, VARIANTS, and write
    config() and command()."""

    BIN = None
    VARIANTS = ("default",)
    # whether a backend's answer without Content-Length gets one or
    # chunks depends on how its writes fall (see test_fronts.unframed)
    FRAMING_VARIES = False
    log_names = ("error.log", "stderr.log")
    conf_name = "front.conf"
    stop_wait = 15

    def __init__(self, tmp, sites, www, name):
        need(self.BIN, name)
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.www = www
        self.sites = dict(sites)
        for backend, variant in self.sites.values():
            assert variant in self.VARIANTS, (name, variant)
        self.ports = {key: free_port() for key in self.sites}
        self.label = name
        self.log = os.path.join(self.dir, "error.log")
        self.conf = os.path.join(self.dir, self.conf_name)
        with open(self.conf, "w") as f:
            f.write(self.config())
        self.proc = None

    def config(self):
        raise NotImplementedError

    def command(self):
        raise NotImplementedError

    def env(self):
        return dict(PATH_ENV)

    def start(self):
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "stderr.log"), "ab"),
            env=self.env(), cwd=self.dir)
        for port in self.ports.values():
            wait_for(lambda: can_connect(("127.0.0.1", port))
                     or self.proc.poll() is not None, 15,
                     "%s to listen on %d" % (self.label, port))
            assert self.proc.poll() is None, self.logs()
        return self

    def logs(self):
        return log_tails(self.dir, self.label, self.log_names, 5000)


NGINX_CONF = """
{user}
worker_processes 1;
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    fastcgi_temp_path {dir}/fastcgi;
    proxy_temp_path {dir}/proxy;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 64m;
{sites}
}}
"""

# The PHP location of Debian's default site (snippets/fastcgi-php.conf,
# less its try_files, so a missing script is php-fpm's to answer).
NGINX_SITE = """
    upstream up{port} {{ server {upstream}; keepalive 8; }}
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location ~ [^/]\\.php(/|$) {{
            fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
            set $path_info $fastcgi_path_info;
            fastcgi_param PATH_INFO $path_info;
            fastcgi_index index.php;
            include /etc/nginx/fastcgi.conf;
            {keep}
        }}
    }}
"""


class NginxPhp(Front):
    """Debian's nginx as a PHP site is set up: fastcgi.conf, PATH_INFO
    split after ".php"; "close" opens a connection per request (nginx's
    default), "keep" keeps them (fastcgi_keep_conn on, an upstream with
    keepalive)."""

    BIN = NGINX_BIN
    VARIANTS = ("close", "keep")
    conf_name = "nginx.conf"

    def config(self):
        sites = ""
        for key, (backend, variant) in self.sites.items():
            upstream = backend if tcp(backend) else "unix:" + backend
            port = self.ports[key]
            keep = ("fastcgi_keep_conn on;\n            fastcgi_pass up%d;"
                    % port if variant == "keep"
                    else "fastcgi_pass %s;" % upstream)
            sites += NGINX_SITE.format(port=port, upstream=upstream,
                                       www=self.www, keep=keep)
        return NGINX_CONF.format(
            user="user root;" if os.geteuid() == 0 else "", dir=self.dir,
            sites=sites)

    def command(self):
        return [self.BIN, "-p", self.dir, "-c", self.conf, "-g",
                "daemon off;"]


APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"

APACHE_CONF = """
ServerRoot "{dir}"
DefaultRuntimeDir "{dir}"
PidFile "{dir}/apache2.pid"
Mutex file:{dir} default
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
{sites}
{extra}
"""

APACHE_SITE = """
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
{body}
</VirtualHost>
"""

# The way Debian's php8.2-fpm.conf wires PHP: the handler for each .php
# file under the document root.
APACHE_SETHANDLER = """
    <FilesMatch "\\.php$">
        SetHandler "{handler}"
    </FilesMatch>"""

# The other way: the URLs of .php scripts (PATH_INFO after them) mapped
# onto the backend, as https://wiki.apache.org/httpd/PHP-FPM shows.
APACHE_PROXYPASS = """
    ProxyPassMatch "^/(.*\\.php(/.*)?)$" "{url}{www}/$1\""""

# SetHandler, and ProxyPass for a URL prefix: "/x.php" goes by
# SetHandler, "/pp/x.php" by ProxyPass.
APACHE_BOTH = APACHE_SETHANDLER + """
    ProxyPass "/pp/" "{url}{www}/\""""


class Apache(Front):
    """Apache 2.4 (Debian's apache2) with mod_proxy_fcgi, each site a
    virtual host: "sethandler" or "proxypass" as above, "both" the two
    on one site. Apache(tmp, backend, www) is one site with both, its
    port in port. extra is added to the config as it is."""

    BIN = APACHE_BIN
    VARIANTS = ("sethandler", "proxypass", "both")
    conf_name = "apache2.conf"

    def __init__(self, tmp, backend=None, www=None, name="apache", extra="",
                 level="warn", sites=None):
        self.extra, self.level = extra, level
        super().__init__(tmp, sites or {"main": (backend, "both")}, www,
                         name)
        self.port = next(iter(self.ports.values()))
        self.access_log = os.path.join(self.dir, "access.log")

    def config(self):
        sites = ""
        for key, (backend, variant) in self.sites.items():
            url = ("fcgi://" + backend if tcp(backend)
                   else "unix:%s|fcgi://localhost" % backend)
            body = {"sethandler": APACHE_SETHANDLER,
                    "proxypass": APACHE_PROXYPASS,
                    "both": APACHE_BOTH}[variant]
            sites += APACHE_SITE.format(port=self.ports[key], body=body.format(
                handler="proxy:" + url, url=url, www=self.www))
        # As root, its children drop to www-data, which must read www.
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        return APACHE_CONF.format(dir=self.dir, mods=APACHE_MODULES,
                                  www=self.www, user=user, sites=sites,
                                  extra=self.extra, level=self.level)

    def command(self):
        # -DFOREGROUND: the master stays the process started here, so its
        # pid is the one to stop (SIGTERM stops its children too).
        return [self.BIN, "-d", self.dir, "-f", self.conf, "-DFOREGROUND"]


LIGHTTPD_BIN = "/usr/sbin/lighttpd"

LIGHTTPD_CONF = """
server.modules = ("mod_fastcgi", "mod_accesslog")
server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
accesslog.filename = "{dir}/access.log"
server.upload-dirs = ("{dir}/upload")
# in KiB: 64 MiB, as nginx's client_max_body_size here
server.max-request-size = 65536
{sites}
"""

# Debian's conf-available/15-fastcgi-php-fpm.conf, on its own listener.
LIGHTTPD_SITE = """
$SERVER["socket"] == "127.0.0.1:{port}" {{
    fastcgi.server = ( ".php" =>
        ((
            {address},
            "broken-scriptfilename" => "enable"
        ))
    )
}}
"""


class Lighttpd(Front):
    """lighttpd 1.4 with mod_fastcgi as Debian's 15-fastcgi-php-fpm.conf
    sets it up: "host"/"port" or "socket" for each listener. It checks
    that the script exists before it asks the backend ("check-local")."""

    BIN = LIGHTTPD_BIN
    conf_name = "lighttpd.conf"

    def config(self):
        os.makedirs(os.path.join(self.dir, "upload"), exist_ok=True)
        sites = ""
        for key, (backend, _) in self.sites.items():
            if tcp(backend):
                address = '"host" => "%s", "port" => %d' % tcp(backend)
            else:
                address = '"socket" => "%s"' % backend
            sites += LIGHTTPD_SITE.format(port=self.ports[key],
                                          address=address)
        # lighttpd's own listener is the first site's; the others are
        # added by their $SERVER["socket"] blocks
        return LIGHTTPD_CONF.format(www=self.www, dir=self.dir,
                                    port=next(iter(self.ports.values())),
                                    sites=sites)

    def command(self):
        # -D: in the foreground, the process started here
        return [self.BIN, "-D", "-f", self.conf]


CADDY_BIN = "/usr/bin/caddy"

CADDY_CONF = """
{{
    admin off
    auto_https off
    storage file_system {dir}/data
    log {{
        output file {dir}/error.log
        level INFO
    }}
}}
{sites}
"""

CADDY_SITE = """
http://:{port} {{
    bind 127.0.0.1
    root * {www}
    {directive}
    log {{
        output file {dir}/access.log
    }}
}}
"""


class Caddy(Front):
    """Caddy 2.6 from a Caddyfile: "php_fastcgi" (its PHP shortcut: a
    path ending in / gets index.php, a file not found goes to
    /index.php) or "reverse_proxy" with the fastcgi transport (split
    .php). No admin endpoint, no automatic HTTPS, its storage in the
    temp dir."""

    BIN = CADDY_BIN
    VARIANTS = ("php_fastcgi", "reverse_proxy")
    conf_name = "Caddyfile"

    def config(self):
        sites = ""
        for key, (backend, variant) in self.sites.items():
            upstream = backend if tcp(backend) else "unix/" + backend
            if variant == "php_fastcgi":
                directive = "php_fastcgi %s" % upstream
            else:
                directive = ("reverse_proxy %s {\n        transport fastcgi "
                             "{\n            split .php\n        }\n    }"
                             % upstream)
            sites += CADDY_SITE.format(port=self.ports[key], www=self.www,
                                       directive=directive, dir=self.dir)
        return CADDY_CONF.format(dir=self.dir, sites=sites)

    def env(self):
        return dict(PATH_ENV, HOME=self.dir,
                    XDG_DATA_HOME=os.path.join(self.dir, "data"),
                    XDG_CONFIG_HOME=os.path.join(self.dir, "config"))

    def command(self):
        return [self.BIN, "run", "--config", self.conf, "--adapter",
                "caddyfile"]


H2O_BIN = "/usr/bin/h2o"

H2O_CONF = """
{user}
pid-file: {dir}/h2o.pid
error-log: {dir}/error.log
access-log: {dir}/access.log
num-threads: 1
hosts:
{sites}
"""

# h2o picks the host by the Host header, so each site is the host named
# by its own address, and listens on its own port.
H2O_SITE = """
  "127.0.0.1:{port}":
    listen:
      host: 127.0.0.1
      port: {port}
    paths:
      "/":
        file.dir: {www}
        file.custom-handler:
          extension: .php
          fastcgi.connect:
            {address}
"""


class H2o(Front):
    """h2o 2.2 serving the files under www, the .php ones by
    file.custom-handler with fastcgi.connect (host/port, or a unix
    socket)."""

    BIN = H2O_BIN
    conf_name = "h2o.conf"

    def config(self):
        sites = ""
        for key, (backend, _) in self.sites.items():
            if tcp(backend):
                address = ("host: %s\n            port: %d\n"
                           "            type: tcp" % tcp(backend))
            else:
                address = "port: %s\n            type: unix" % backend
            sites += H2O_SITE.format(port=self.ports[key], www=self.www,
                                     address=address)
        # as root h2o would switch to nobody, which may not use the
        # backends' sockets
        user = "user: root" if os.geteuid() == 0 else ""
        return H2O_CONF.format(user=user, dir=self.dir, sites=sites)

    def command(self):
        return [self.BIN, "-c", self.conf]


HAPROXY_BIN = "/usr/sbin/haproxy"

HAPROXY_CONF = """
global
    log stderr format raw local0 info
    maxconn 512
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 60s
    timeout server 60s
fcgi-app php
    docroot {www}
    path-info ^(/.+\\.php)(/.*)?$
    log-stderr global
fcgi-app php_mpx
    docroot {www}
    path-info ^(/.+\\.php)(/.*)?$
    log-stderr global
    option keep-conn
    option get-values
    option mpxs-conns
{sites}
"""

HAPROXY_SITE = """
frontend fe{port}
    bind 127.0.0.1:{port}
    default_backend be{port}
backend be{port}
    use-fcgi-app {app}
    {reuse}
    server s1 {backend} proto fcgi {server}
"""


class Haproxy(Front):
    """HAProxy 2.6 in mode http, a backend with use-fcgi-app and a server
    with proto fcgi: "default" is the fcgi-app's defaults, "mpx" asks
    the backend (FCGI_GET_VALUES) whether it takes several requests at
    once on a connection (FCGI_MPXS_CONNS, which fpmd says and php-fpm
    does not), and lets any request use a connection another holds
    (http-reuse always), keeping one idle: a burst of requests then
    shares connections to fpmd."""

    BIN = HAPROXY_BIN
    VARIANTS = ("default", "mpx")
    FRAMING_VARIES = True
    conf_name = "haproxy.cfg"
    log_names = ("stderr.log",)

    def config(self):
        sites = ""
        for key, (backend, variant) in self.sites.items():
            sites += HAPROXY_SITE.format(
                port=self.ports[key], backend=backend,
                app="php" if variant == "default" else "php_mpx",
                # requests of other clients may share a connection
                reuse="" if variant == "default" else "http-reuse always",
                server="" if variant == "default" else "pool-max-conn 1")
        return HAPROXY_CONF.format(www=self.www, sites=sites)

    def command(self):
        # -db: in the foreground, no master process: the pid to stop
        return [self.BIN, "-db", "-f", self.conf]
