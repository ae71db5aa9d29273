/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's configuration as plain data. conf/ fills it from YAML (or
 * the embedded default); fpmd/ only reads it. One fpmd_conf is owned by the
 * master for a generation and inherited read-only by that generation's
 * workers. Everything a loaded config points to lives in its arena, and
 * fpmd_conf_free() releases it all at once. */
#ifndef FPMD_CONF_H
#define FPMD_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"
#include "fpmd/breaker.h"
#include "fpmd/cron.h"

struct fpmd_conf_chunk;

/* Where a loaded config's strings and arrays live (conf/arena.c): taken
 * piece by piece while loading, freed together. Empty in a config set up
 * by hand with fpmd_conf_defaults(). */
struct fpmd_conf_arena {
    struct fpmd_conf_chunk *chunks;
};

enum fpmd_listen_proto {
    FPMD_PROTO_FASTCGI = 0,
    FPMD_PROTO_HTTP = 1,
    FPMD_PROTO_JSONRPC_LINES = 2,       /* raw TCP JSON-RPC, a text a line */
    FPMD_PROTO_JSONRPC_NETSTRING = 3,   /* ... netstrings */
};

enum fpmd_pm_mode {
    FPMD_PM_STATIC = 0,
    FPMD_PM_DYNAMIC = 1,
    FPMD_PM_ONDEMAND = 2,
};

/* seccomp: the workers' system call filter (fpmd/seccomp.c). */
enum fpmd_seccomp_mode {
    FPMD_SECCOMP_OFF = 0,
    FPMD_SECCOMP_ON = 1,        /* a call off the list kills the worker */
    FPMD_SECCOMP_LOG = 2,       /* ... is made, and the kernel logs it */
};

enum fpmd_log_level {
    FPMD_LOG_DEBUG = 0,
    FPMD_LOG_NOTICE = 1,
    FPMD_LOG_WARNING = 2,
    FPMD_LOG_ERROR = 3,
    FPMD_LOG_ALERT = 4,
};

/* Where a value came from, so later checks (duplicate routes, bind errors)
 * can name file:line:column like the loader does. */
struct fpmd_conf_pos {
    const char *file;   /* points into fpmd_conf.file, not owned */
    unsigned line;      /* 1-based, 0 when not from a file */
    unsigned column;    /* 1-based */
};

struct fpmd_conf_listen {
    enum fpmd_listen_proto proto;
    char *address;          /* "host:port", "[v6]:port", "/path" as written */
    int backlog;            /* listen(2) backlog; default 511 */
    char **allowed_clients; /* NULL-terminated list of IP addresses; NULL: any */
    char *owner;            /* unix sockets: chown user, NULL: unchanged */
    char *group;
    int mode;               /* unix sockets: chmod mode, -1: default 0660 */
    struct fpmd_conf_pos pos;
};

/* A route's static: block: files under root for the route's wildcard. */
struct fpmd_conf_static {
    char *root;             /* realpath()ed at load */
    char *index;            /* served for a directory; NULL: none */
    bool follow_symlinks;   /* false: a symlink leading out of root is 403 */
    char **deny_ext;        /* never served: [".php"] */
    size_t ndeny_ext;
};

/* A name and a value: a shim's query condition, a param a legacy route
 * adds. */
struct fpmd_conf_pair {
    char *name;
    char *value;
};

/* A shim: a legacy script route (match: {script: ..., query: ...}) mapped
 * onto a handler. Every condition given must hold. */
struct fpmd_conf_shim {
    char *script;           /* "/api/user.php"; NULL: see prefix */
    char *prefix;           /* a path prefix ("/blog/"); NULL: see script */
    char *path_info;        /* a pattern ("/users/{id}", "/files/" "*");
                             * NULL: any */
    struct fpmd_conf_pair *query;   /* value "*": present, any value */
    size_t nquery;
};

/* shadow: on a route with a handler: the same request, in the background,
 * to a legacy pool, and the two answers compared. */
struct fpmd_conf_shadow {
    char *legacy;           /* the pool; "legacy" */
    char *methods;          /* shadowed methods; "GET,HEAD" */
    char **ignore;          /* JSON fields left out ("meta.time") */
    size_t nignore;
    size_t max_body;        /* bodies compared up to; 1m */
    unsigned max_in_flight; /* shadow calls per worker at once; 16 */
};

/* canary: on a route with a handler: a share of its requests to the
 * handler, the rest to a legacy pool, and back to all legacy for a while
 * when the handler's errors or latency cross a bound. */
struct fpmd_conf_canary {
    char *legacy;               /* the pool; "legacy" */
    unsigned percent_x100;      /* share to the handler, in 1/100 % */
    unsigned max_error_x100;    /* error rate bound, 1/100 %; 500 (5%) */
    uint64_t max_p99_ms;        /* 0: no latency bound */
    unsigned min_requests;      /* before a window counts; 20 */
    uint64_t window_ms;         /* 10s */
    uint64_t cooldown_ms;       /* all to legacy this long; 60s */
};

/* Config routes that may have rate_limit: or concurrency: (their
 * counters are the scoreboard's route rows). */
#define FPMD_MAX_LIMITED_ROUTES 64

/* A route's rate_limit: a token bucket per key, shared by the pool. */
enum fpmd_rate_key {
    FPMD_RATE_KEY_ROUTE = 0,        /* one bucket for the route */
    FPMD_RATE_KEY_ADDR,             /* per client address */
    FPMD_RATE_KEY_HEADER,           /* per value of a request header */
    FPMD_RATE_KEY_PARAM,            /* per value of a route parameter */
};

struct fpmd_conf_rate_limit {
    double rate;                    /* tokens a second */
    unsigned burst;                 /* the bucket's size */
    unsigned key;                   /* enum fpmd_rate_key */
    char *name;                     /* the header's CGI name (HTTP_X_...)
                                     * or the route parameter's */
};

struct fpmd_conf_route {
    char *methods;          /* "GET,POST" upper case, NULL: any method */
    char *path;             /* "/hello", "/users/{id}", "/assets/" + "*";
                             * for a shim, how it is shown */
    char *handler;          /* name of a registered handler */
    struct fpmd_conf_pos pos;
    struct fpmd_conf_static *static_files;  /* handler is "static" */
    struct fpmd_conf_shim *shim;            /* NULL: a path route */
    char *legacy;           /* to: legacy[:NAME]: the FastCGI pool */
    int to_status;          /* to: 404 (any 4xx/5xx); 0: none */
    struct fpmd_conf_pair *params;  /* legacy: CGI params added or
                                     * overridden */
    size_t nparams;
    struct fpmd_conf_shadow *shadow;    /* NULL: off */
    struct fpmd_conf_canary *canary;    /* NULL: off */
    struct fpmd_conf_rate_limit *rate_limit;    /* NULL: none */
    unsigned concurrency;   /* requests in flight in the pool, at most;
                             * 0: no bound */
};

struct fpmd_conf_module {
    char *path;             /* a handler module (.so) */
    struct fpmd_conf_pos pos;
};

/* Backend pools (pools: in the config): at most this many, names this
 * long, servers per pool. */
#define FPMD_MAX_BACKENDS 16
#define FPMD_BACKEND_NAME_MAX 31
#define FPMD_MAX_BACKEND_SERVERS 32
/* A sentinel pool's replicas used for reads, at most: the first this many
 * the sentinels list as up. */
#define FPMD_SENTINEL_MAX_REPLICAS 8

enum fpmd_backend_driver {
    FPMD_DRIVER_REDIS = 0,
    FPMD_DRIVER_MYSQL = 1,
    FPMD_DRIVER_MONGO = 2,
    FPMD_DRIVER_FASTCGI = 3,        /* legacy: a php-fpm behind fpmd */
    FPMD_DRIVER_COUNT,
};

enum fpmd_server_role {
    FPMD_ROLE_PRIMARY = 0,
    FPMD_ROLE_REPLICA = 1,
};

struct fpmd_conf_server {
    char *host;             /* numeric IPv4/IPv6 ("localhost" becomes
                             * 127.0.0.1), NULL for a unix socket */
    unsigned port;
    char *path;             /* unix socket, NULL for TCP */
    enum fpmd_server_role role;
    unsigned weight;        /* for the pool's balancer: 1..1000; 0 when
                             * not given (1) */
    struct fpmd_conf_pos pos;
};

/* Every count and timeout is per worker and per server. */
struct fpmd_conf_backend {
    char *name;
    enum fpmd_backend_driver driver;
    struct fpmd_conf_server *servers;
    size_t nservers;
    char *user;                 /* NULL: none (redis: plain AUTH password) */
    char *password;
    char *database;             /* redis: db index; mysql: schema */
    unsigned min;               /* kept open; 0 */
    unsigned max;               /* at most; 16 */
    unsigned wait_queue;        /* callers waiting for a connection; 1024 */
    uint64_t wait_timeout_ms;   /* longest wait for a connection; 1s */
    uint64_t connect_timeout_ms;  /* 1s */
    uint64_t timeout_ms;        /* one call, send to reply; 1s */
    uint64_t idle_timeout_ms;   /* idle above min is closed; 60s, 0: never */
    uint64_t max_lifetime_ms;   /* reconnect after; 1h, 0: never */
    bool shard;                 /* redis: keys hashed across primaries */
    bool balanced;              /* balancer: given: the primaries (if
                                 * several) and the replicas picked by it */
    unsigned balancer;          /* enum fpmd_balance_kind, when balanced */
    struct fpmd_conf_server *sentinels;     /* redis: the primary is the
                                             * one these name; servers
                                             * then holds placeholders:
                                             * the master, then
                                             * FPMD_SENTINEL_MAX_REPLICAS
                                             * replica slots */
    size_t nsentinels;
    char *master_name;          /* redis: the sentinels' name for it */
    char *sentinel_password;    /* redis: AUTH to the sentinels; NULL */
    unsigned threads;           /* mongo: driver threads per worker; 4 */
    bool keep_alive;            /* legacy: FCGI_KEEP_CONN; true */
    char *document_root;        /* legacy: for requests without
                                 * SCRIPT_FILENAME (standalone HTTP);
                                 * NULL: none */
    bool log_stderr;            /* legacy: log php-fpm's stderr also when
                                 * it goes on to the web server; true */
    bool send_request_id;       /* legacy: add the request id to the
                                 * params sent; false */
    bool send_traceparent;      /* legacy: send the request's own
                                 * traceparent as HTTP_TRACEPARENT; false */
    struct fpmd_conf_pos pos;
};

/* cron: an entry the master fires on its schedule (or every so often),
 * each time in exactly one worker of the current generation. */
struct fpmd_conf_cron {
    char *name;
    char *schedule;             /* the expression as written; NULL: every */
    struct fpmd_cron expr;      /* schedule, parsed */
    uint64_t every_ms;          /* instead of a schedule; 0: none */
    char *timezone;             /* schedule's zone; NULL: the master's */
    char *handler;              /* a registered handler's name, or */
    char *task;                 /* an FPMD_TASK's name (one of the two) */
    bool overlap;               /* start a run while the last still runs;
                                 * false: that tick is skipped */
    struct fpmd_conf_pos pos;
};

/* tables: a shared table's layout (fpmd/table.h). The types' values are
 * enum fpmd_table_type's. */
enum { FPMD_CONF_TABLE_INT = 1, FPMD_CONF_TABLE_FLOAT, FPMD_CONF_TABLE_BYTES };

struct fpmd_conf_table_column {
    char *name;
    unsigned type;              /* FPMD_CONF_TABLE_* */
    unsigned size;              /* bytes: the longest value */
    struct fpmd_conf_pos pos;
};

struct fpmd_conf_table {
    char *name;
    unsigned rows;              /* capacity, fixed */
    unsigned key_size;          /* longest key; 0: 64 */
    struct fpmd_conf_table_column *columns;
    size_t ncolumns;
    struct fpmd_conf_pos pos;
};

/* processes: user processes the master keeps running (FPMD_PROCESS). */
struct fpmd_conf_process {
    char *name;                 /* an FPMD_PROCESS's name */
    unsigned count;             /* instances; 1 */
    struct fpmd_conf_pos pos;
};

/* upstreams: HTTP services the client calls by name (pools/http.c). */
struct fpmd_conf_upstream_server {
    char *url;                  /* http://host:port or https://...; a path
                                 * in it prefixes the call's */
    unsigned weight;            /* 1 */
    struct fpmd_conf_pos pos;
};

struct fpmd_conf_upstream {
    char *name;
    struct fpmd_conf_upstream_server *servers;
    size_t nservers;
    char *discover;             /* discover: etcd:PREFIX, the PREFIX (keys
                                 * under PREFIX/ name the servers); NULL:
                                 * servers: is the list */
    unsigned max_servers;       /* discover: at most this many servers;
                                 * 64 */
    unsigned balancer;          /* enum fpmd_balance_kind; round_robin */
    uint64_t timeout_ms;        /* a whole call; 10s */
    uint64_t connect_timeout_ms;    /* 1s */
    unsigned max_connections;   /* per worker and server; 32 */
    unsigned retries;           /* more servers tried after a failed
                                 * connect; 1 */
    size_t max_body;            /* response body bytes; 8m */
    bool tls_verify;            /* check the server's certificate; true */
    char *tls_ca;               /* CA bundle; NULL: the system's */
    char *rpc_path;             /* fpmd_rpc_call's path; "/rpc" */
    struct fpmd_breaker_conf breaker;   /* each server's; failures 5, open
                                         * 5s, probes 1, window 10s */
    struct {                    /* the answer while every server's
                                 * circuit is open; status 0: none */
        unsigned status;
        char *content_type;
        char *body;
    } fallback;
    struct fpmd_conf_pos pos;
};

#define FPMD_MAX_UPSTREAMS 64

/* etcd: the registry fpmd registers its listeners in and discovers
 * upstreams' servers from (fpmd/etcd_agent.c), through etcd's HTTP/JSON
 * gateway. */
struct fpmd_conf_etcd {
    char **endpoints;           /* http(s):// base URLs, tried in turn;
                                 * NULL: no etcd */
    size_t nendpoints;
    uint64_t timeout_ms;        /* one call to etcd; 3s */
    uint64_t retry_ms;          /* after a failure, before the next
                                 * try; 1s */
    uint64_t ttl_ms;            /* the lease of the registration; 10s */
    char *prefix;               /* register: the listeners' keys go under
                                 * it; NULL: no registration */
    char *advertise;            /* the host a wildcard listener is
                                 * registered with; NULL: the host name */
    unsigned weight;            /* registered with each listener; 1 */
    struct fpmd_conf_pos pos;
};

/* An http:// or https:// URL of a host, with an optional port and path
 * but no query or fragment, no space or control character: what an
 * upstream's server may be. */
bool fpmd_conf_http_url_valid(const char *url);

/* The servers an upstream has room for: its list, or max_servers
 * discovered. */
static inline size_t
fpmd_conf_upstream_slots(const struct fpmd_conf_upstream *u)
{
    return u->discover != NULL ? u->max_servers : u->nservers;
}

/* tasks: the task processes (FPMD_TASK) and their queue. */
struct fpmd_conf_tasks {
    unsigned workers;           /* task processes; 0: none */
    unsigned queue;             /* tasks waiting at most; 1024 */
    uint64_t timeout_ms;        /* a task's bound, queued and run; 30s */
    unsigned max_requests;      /* tasks a process runs before it is
                                 * replaced; 0: never */
    size_t max_payload;         /* input or result bytes; 64k */
    struct fpmd_conf_pos pos;
};

/* tasks.workers at most: twice that many can run across a reload. */
#define FPMD_TASK_WORKERS_MAX 64
/* tasks.max_payload at most. */
#define FPMD_TASK_PAYLOAD_MAX (16u * 1024 * 1024)

/* Cron entries at most: a run's signal carries the entry's index. */
#define FPMD_CRON_MAX 256

struct fpmd_conf {
    char *file;             /* path it was loaded from, "(embedded)" */

    struct fpmd_conf_listen *listen;
    size_t nlisten;

    char *pool_name;        /* shown as "pool" on the status page; "www" */
    char *user;             /* workers drop to this user when started as root */
    char *group;
    char *pid_file;         /* NULL: none */
    bool watch;             /* reload when the config file or a module
                             * changes (development); false */
    int daemonize;          /* -1: unset (CLI decides), 0, 1 */

    struct {
        enum fpmd_seccomp_mode mode;    /* off */
        char **allow;           /* seccomp_allow: system call names allowed
                                 * besides fpmd's own list, each known to
                                 * libseccomp; NULL-terminated, NULL: none */
    } seccomp;

    struct {
        enum fpmd_pm_mode mode;
        unsigned max_children;       /* 0 in a file: one per core */
        unsigned start_servers;      /* dynamic; 0: min_spare + (max_spare - min_spare) / 2 */
        unsigned min_spare_servers;
        unsigned max_spare_servers;
        unsigned max_spawn_rate;     /* dynamic: most forks per second; 32 */
        uint64_t process_idle_timeout_ms; /* ondemand; 10s */
        unsigned max_requests;       /* 0: never recycle */
        unsigned max_requests_jitter; /* up to this many more, per worker */
        unsigned max_concurrency;    /* in-flight requests per worker; 1024 */
        unsigned max_queue;          /* requests per worker waiting for a
                                      * max_concurrency slot; 1024 */
        size_t stack_size;           /* coroutine stack; 256k */
        size_t max_memory;           /* a worker's RSS beyond which it is
                                      * recycled; 0: no bound */
    } pm;

    unsigned emergency_restart_threshold;      /* 0: off */
    uint64_t emergency_restart_interval_ms;    /* 0: off */

    struct {
        uint64_t request_terminate_ms;  /* 0: off */
        uint64_t slowlog_ms;            /* 0: off */
        uint64_t process_control_ms;    /* 10s */
        uint64_t header_read_ms;        /* deadline for a request head; 10s */
        uint64_t keepalive_ms;          /* idle keep-alive connection; 75s */
        uint64_t body_read_ms;          /* HTTP: deadline for a body; 60s */
        uint64_t queue_ms;              /* longest wait for a max_concurrency
                                         * slot, then 503; 10s, 0: none */
        uint64_t blocked_loop_ms;       /* a worker whose loop is blocked
                                         * this long with requests in flight
                                         * is killed; 30s, 0: off */
    } timeouts;

    struct {
        size_t params;          /* bytes of FastCGI PARAMS per request; 256k */
        size_t body;            /* bytes of request body; 64m */
        unsigned connections;   /* open connections per worker; 4096 */
        unsigned pending_connections;   /* no request started yet; 1024 */
        unsigned fastcgi_requests;  /* FastCGI: requests at once on one
                                     * connection; 128, 1: no multiplexing */
        size_t body_min_rate;   /* HTTP: bytes/s extending body_read; 500 */
        size_t uri;             /* HTTP request target bytes; 8k (414) */
        size_t header;          /* HTTP request line + header bytes; 32k (431) */
        unsigned headers;       /* HTTP header fields; 100 (431) */
        unsigned requests_per_connection;  /* HTTP keep-alive; 1000, 0: no limit */
        size_t parsed_body;     /* body bytes form/JSON parsing reads; 1m */
        size_t request_memory;  /* what one request's arena may hold; 0:
                                 * params + the larger of body and
                                 * parsed_body + 16m */
        size_t requests_memory; /* what all of a worker's requests may
                                 * hold at once; 512m, 0: no bound */
        unsigned form_fields;   /* urlencoded fields; 1000 (max_input_vars) */
        unsigned json_depth;    /* JSON nesting; 64 */
        unsigned rate_limit_keys;   /* buckets rate_limit: keeps, for every
                                     * route; 16384 */
        unsigned rpc_batch;     /* JSON-RPC: calls in one batch; 100 */
    } limits;

    char *server_token;         /* HTTP Server header, NULL: none; "fpmd" */
    char *rpc_path;             /* the path a jsonrpc: listener's requests
                                 * are routed as (POST); "/rpc" */
    char *request_id;           /* header with the request id (taken when
                                 * valid, else made up), passed on as its
                                 * CGI param; "X-Request-Id", NULL: off */

    struct {
        char *path;             /* "/status", NULL: off */
        char *ping_path;        /* "/ping", NULL: off */
        char *ping_response;    /* "pong" */
        char *live_path;        /* liveness probe, NULL: off (default) */
        char *ready_path;       /* readiness probe, NULL: off (default) */
        char **ready_pools;     /* backend pools readiness requires,
                                 * NULL-terminated; NULL: none */
        struct fpmd_conf_pos ready_pools_pos;
    } status;

    struct {
        char *error;            /* path, NULL: stderr */
        enum fpmd_log_level level;  /* notice */
        char *access;           /* path, NULL: off */
        char *access_format;    /* php-fpm access.format; NULL: its default */
        char *slow;             /* path, NULL: error log */
    } log;

    struct fpmd_conf_route *routes;
    size_t nroutes;

    struct fpmd_conf_module *modules;
    size_t nmodules;

    struct fpmd_conf_backend *backends;
    size_t nbackends;

    struct fpmd_conf_cron *cron;
    size_t ncron;

    struct fpmd_conf_table *tables;
    size_t ntables;

    struct fpmd_conf_process *processes;
    size_t nprocesses;

    struct fpmd_conf_tasks tasks;

    struct fpmd_conf_upstream *upstreams;
    size_t nupstreams;

    struct fpmd_conf_etcd etcd;

    struct fpmd_conf_arena arena;   /* what the pointers above point into */
};

/* Fills *conf with every default above, its arena empty. Allocates
 * nothing. */
void fpmd_conf_defaults(struct fpmd_conf *conf);

/* Loads YAML from a file (path) or, when path is NULL, the embedded default
 * config. On success returns a new conf owned by the caller. On failure
 * returns NULL and writes every error found, one per line as
 * "file:line:column: message", to errbuf (truncated to errlen). */
struct fpmd_conf *fpmd_conf_load(const char *path, char *errbuf, size_t errlen);

/* Same, from a buffer; name is used in messages. */
struct fpmd_conf *fpmd_conf_load_buffer(const char *name, const char *text,
                                        size_t len, char *errbuf,
                                        size_t errlen);

/* Frees a loaded config: its arena, then the struct. */
void fpmd_conf_free(struct fpmd_conf *conf);

/* "10s", "250ms", "2m", "1h", bare number = seconds (php-fpm's habit).
 * Returns FPMD_OK or FPMD_ERROR on garbage, negative or overflow. */
int fpmd_conf_parse_duration(const char *s, uint64_t *ms);

/* "512", "64k", "16m", "1g" (binary multiples). FPMD_OK or FPMD_ERROR. */
int fpmd_conf_parse_size(const char *s, size_t *bytes);

/* The embedded default config's YAML text (conf/default.yaml). */
extern const char fpmd_conf_default_yaml[];

#endif
