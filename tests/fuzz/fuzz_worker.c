/* SPDX-License-Identifier: BSD-2-Clause */
/* The worker the connection fuzz targets (fuzz_http, fuzz_fcgi_conn)
 * drive: set up in the fuzzer's own process on a config of its own, with
 * the routes of tests/fuzz/http_routes.c linked in, and each input
 * written into a real connection over a socketpair. */
#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fpmd/log.h"
#include "fpmd/ratelimit.h"
#include "tests/fuzz/fuzz_worker.h"
#include "tests/worker_harness.h"

/* The demo config's routes; a request_terminate that ends a handler
 * whose client left unseen (settle()); small limits, so that each 413,
 * 414 and 431 is a short input away (params as large as the biggest a
 * web server sent in the FastCGI captures); an access log with every
 * field that carries request bytes (written to /dev/null: the formatting
 * is what is exercised); shims over scripts, queries and PATH_INFO, one
 * that can hold for the query and fail on PATH_INFO in front of the
 * route of /req/{a}/{b}/... (tests/fuzz/http_routes.c); a rate limit
 * keyed by a header; and two static routes on one tree, one
 * that crosses no symlink and serves an index, one that follows symlinks
 * and has no index. */
static const char config[] =
    "pool: fuzz\n"
    "listen:\n"
    "  - http: 127.0.0.1:8080\n"
    "  - fastcgi: 127.0.0.1:9000\n"
    "status:\n"
    "  path: /status\n"
    "  ping: /ping\n"
    "  live: /live\n"
    "  ready: /ready\n"
    "log:\n"
    "  access: /dev/null\n"
    "  access_format: '%R - %u %t \"%m %r%Q%q\" %s %f %{milliseconds}d "
    "%{kilo}M %C %l %n %p %{HTTP_USER_AGENT}e %{Content-Type}o "
    "%{Location}o %{trace_id}x %{traceparent}x %{parent}x %T'\n"
    "timeouts:\n"
    "  request_terminate: 100ms\n"
    "limits:\n"
    "  params: 8k\n"
    "  uri: 1k\n"
    "  header: 4k\n"
    "  headers: 32\n"
    "  parsed_body: 4k\n"
    "  form_fields: 16\n"
    "  json_depth: 8\n"
    "routes:\n"
    "  - match: { script: /api/user.php, method: GET, "
    "query: { action: show, id: \"*\" } }\n"
    "    handler: probe\n"
    "  - match: { script: /index.php, query: { r: post/view } }\n"
    "    handler: probe\n"
    "  - match: { script: /app.php, path_info: \"/users/{id}/*\" }\n"
    "    handler: probe\n"
    "  - match: { script: /req/s/x.php, query: { k: \"*\" }, "
    "path_info: /only }\n"
    "    handler: probe\n"
    "  - match: { prefix: /blog/ }\n"
    "    handler: probe\n"
    "    rate_limit: { rate: 1000/s, burst: 2, key: header:X-Key }\n"
    "  - match: GET /hello\n"
    "    handler: hello\n"
    "  - match: GET /json\n"
    "    handler: json\n"
    "  - match: /probe\n"
    "    handler: probe\n"
    "  - match: GET /io-fast\n"
    "    handler: io_fast\n"
    "  - match: GET /io-wait\n"
    "    handler: io_wait\n"
    "  - match: GET /timer-lateness\n"
    "    handler: timer_lateness\n"
    "  - match: GET /assets/*\n"
    "    static:\n"
    "      root: public\n"
    "      index: index.html\n"
    "      follow_symlinks: false\n"
    "  - match: GET /linked/*\n"
    "    static:\n"
    "      root: public\n"
    "      follow_symlinks: true\n"
    "      deny_extensions: [.php, .inc]\n"
    "pools:\n"
    "  cache:\n"
    "    driver: redis\n"
    "    servers: [127.0.0.1:6379]\n"
    "  db:\n"
    "    driver: mysql\n"
    "    servers: [127.0.0.1:3306]\n"
    "    user: bench\n"
    "    password: bench\n"
    "    database: bench\n";

/* Under $TMPDIR: fuzz.py points it into its work directory, which it
 * removes, since a fuzzer it stops leaves without running atexit. */
static char tree[128];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static void
rm_tree(void)
{
    nftw(tree, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The path of rel in the tree, in a buffer the next call reuses. */
static const char *
at(const char *rel)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/%s", tree, rel);
    return path;
}

static void
put(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "w");

    assert(f != NULL);
    fputs(text, f);
    assert(fclose(f) == 0);
}

/* The buckets the master maps for every worker, at their fewest: a third
 * request with one X-Key inside a millisecond is a 429, and keys evict
 * each other. */
static void
setup_ratelimit(void)
{
    size_t bytes = fpmd_ratelimit_size(FPMD_RATELIMIT_MIN_KEYS);
    void *rl = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    assert(bytes > 0 && rl != MAP_FAILED);
    assert(fpmd_ratelimit_init(rl, FPMD_RATELIMIT_MIN_KEYS) == FPMD_OK);
    fpmd_process.ratelimit = rl;
}

/* The static routes' root holds what such a route meets: an index, a
 * directory without one, types by extension, a denied extension, and
 * symlinks that stay inside the root and that lead out of it. */
void
fpmd_fuzz_worker_setup(void)
{
    char name[256];

    if (fpmd_process.base != NULL)
        return;
    if (snprintf(tree, sizeof(tree), "%s/fpmd-fuzz-worker-XXXXXX",
                 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp")
        >= (int) sizeof(tree)) {
        fprintf(stderr, "fuzz_worker: $TMPDIR is longer than %zu bytes\n",
                sizeof(tree) - 24);
        abort();
    }
    assert(mkdtemp(tree) != NULL);
    atexit(rm_tree);
    assert(mkdir(at("public"), 0755) == 0);
    assert(mkdir(at("public/sub"), 0755) == 0);
    assert(mkdir(at("public/empty"), 0755) == 0);
    put("outside.txt", "not to be served\n");
    put("public/index.html", "<p>index</p>\n");
    put("public/a.txt", "0123456789abcdefghijklmnopqrstuvwxyz\n");
    put("public/app.css", "p { }\n");
    put("public/x.PHP", "<?php echo 1;\n");
    put("public/sub/index.html", "<p>sub</p>\n");
    put("public/sub/b.json", "{\"b\": 1}\n");
    assert(symlink("a.txt", at("public/in.txt")) == 0);
    assert(symlink("sub", at("public/insub")) == 0);
    assert(symlink("../outside.txt", at("public/out.txt")) == 0);
    assert(symlink("x.PHP", at("public/x.txt")) == 0);
    snprintf(name, sizeof(name), "%s/fuzz_worker.yaml", tree);
    if (fpmd_test_worker_setup_conf(name, config) != FPMD_OK
        || fpmd_log_open(fpmd_process.conf) != FPMD_OK)
        abort();
    setup_ratelimit();
}

/* One loop pass, and whatever the worker wrote read and dropped. */
static void
turn(int peer)
{
    char sink[65536];

    event_base_loop(fpmd_process.base, EVLOOP_NONBLOCK);
    while (read(peer, sink, sizeof(sink)) > 0)
        ;
}

/* A handler still at work whose client left unseen: its close sits
 * behind pipelined requests not read yet, and a FIN is no proof of it (a
 * client may half-close and wait for its answers). It ends by
 * timeouts.request_terminate (100 ms here), and so does its connection:
 * that is waited for, in real time, ten times over at most. */
static void
settle(void)
{
    const struct timeval tick = {0, 10000};

    for (int i = 0; i < 100 && fpmd_conn_open_count() > 0; i++) {
        event_base_loopexit(fpmd_process.base, &tick);
        event_base_loop(fpmd_process.base, 0);
    }
}

void
fpmd_fuzz_connection(enum fpmd_listen_proto proto, const uint8_t *data,
                     size_t size, size_t piece, unsigned linger)
{
    int sv[2], peer_open = 1;

    assert(size <= FPMD_FUZZ_MAX_INPUT);
    assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    if (fpmd_worker_take(sv[0], "fuzz", proto) != FPMD_OK) {
        close(sv[1]);
        return;
    }
    if (piece == 0)
        piece = size;
    for (size_t off = 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        /* within one socket buffer in all: never blocks; fails only once
         * the worker has closed the connection */
        ssize_t w = send(sv[1], data + off, n, MSG_NOSIGNAL);

        if (w < 0) {
            assert(errno == EPIPE || errno == ECONNRESET);
            break;
        }
        assert((size_t) w == n);
        if (off + n < size)
            turn(sv[1]);
    }
    for (unsigned i = 0; i < linger && fpmd_conn_open_count() > 0; i++)
        turn(sv[1]);
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 64 && fpmd_conn_open_count() > 0; i++) {
        turn(sv[1]);
        if (i == 32) {
            close(sv[1]);       /* a handler that sleeps: the client leaves */
            peer_open = 0;
        }
    }
    if (peer_open)
        close(sv[1]);
    for (int i = 0; i < 64 && fpmd_conn_open_count() > 0; i++)
        event_base_loop(fpmd_process.base, EVLOOP_NONBLOCK);
    settle();
    assert(fpmd_conn_open_count() == 0);
}
