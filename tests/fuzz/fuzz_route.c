/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for what a request's own bytes reach in routing: the
 * script / PATH_INFO split of CGI values and the shims' matching of a
 * query and a PATH_INFO. The input is five NUL-separated fields:
 * SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME, DOCUMENT_ROOT, the path, then
 * the query. Every piece the split returns lies inside its input, and
 * every matched param inside the string it names. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/cgi_path.h"
#include "fpmd/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FPMD_HANDLER(fuzz_shim)
{
    (void) req;
    return FPMD_OK;
}

static struct fpmd_router *router;

static struct fpmd_router *
build(void)
{
    static struct fpmd_conf_pair q1[] = {{"action", "show"}, {"id", "*"}};
    static struct fpmd_conf_pair q2[] = {{"r", "post/view"}};
    static struct fpmd_conf_shim shims[] = {
        {"/api/user.php", NULL, NULL, q1, 2},
        {"/index.php", NULL, "/users/{id}/*", q2, 1},
        {NULL, "/blog/", "/{a}/{b}", NULL, 0},
    };
    static struct fpmd_conf_route routes[3];
    static struct fpmd_conf conf;
    char err[1024];

    for (size_t i = 0; i < 3; i++) {
        routes[i].path = "shim";
        routes[i].handler = "fuzz_shim";
        routes[i].shim = &shims[i];
        routes[i].methods = i == 0 ? "GET" : NULL;
    }
    conf.file = "fuzz";
    conf.routes = routes;
    conf.nroutes = 3;
    return fpmd_router_build(&conf, err, sizeof(err));
}

static int
inside(const char *p, size_t len, const char *s)
{
    return s != NULL && p >= s && p + len <= s + strlen(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 7), *f[6];
    struct fpmd_cgi_vars in;
    struct fpmd_cgi_split out;
    struct fpmd_route_match m;
    struct fpmd_route_req q;
    char *script, *info = NULL;
    size_t pos = 0;

    if (buf == NULL)
        return 0;
    if (router == NULL)
        router = build();
    memcpy(buf, data, size);
    memset(buf + size, 0, 7);
    for (int i = 0; i < 6; i++) {
        f[i] = buf + pos;
        pos += strlen(buf + pos) + (pos < size ? 1 : 0);
        if (pos > size)
            pos = size;
    }
    in.script_name = f[0][0] == '-' ? NULL : f[0];
    in.path_info = f[1][0] == '-' ? NULL : f[1];
    in.script_filename = f[2];
    in.document_root = f[3];
    in.path = f[4];
    fpmd_cgi_split(&in, &out);
    assert(inside(out.script, out.script_len, in.script_name)
           || inside(out.script, out.script_len, in.script_filename)
           || inside(out.script, out.script_len, in.path));
    if (out.path_info != NULL)
        assert(inside(out.path_info, out.path_info_len, in.path_info)
               || inside(out.path_info, out.path_info_len, out.script));
    script = strndup(out.script, out.script_len);
    if (out.path_info != NULL)
        info = strndup(out.path_info, out.path_info_len);
    q.method = "GET";
    q.path = in.path;
    q.script = script;
    q.path_info = info;
    q.query = f[5];
    if (script != NULL && fpmd_router_match_req(router, &q, &m) == FPMD_OK) {
        for (unsigned i = 0; i < m.nparams; i++) {
            const char *src = m.params[i].src == FPMD_PARAM_QUERY ? q.query
                : m.params[i].src == FPMD_PARAM_PATH_INFO ? q.path_info
                : q.path;

            assert(inside(src + m.params[i].off, m.params[i].len, src));
        }
    }
    free(script);
    free(info);
    free(buf);
    return 0;
}
