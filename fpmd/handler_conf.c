/* SPDX-License-Identifier: BSD-2-Clause */
/* The parts of the config that handlers read through fpmd.h: copies of
 * the loader's structures into the public ones, so that a handler never
 * depends on how the loader lays them out. */
#include "config.h"

#include "fpmd/req.h"
#include "fpmd/process.h"

int
fpmd_req_static_conf(const struct fpmd_req *req, struct fpmd_static_conf *out)
{
    const struct fpmd_route *rt = req->match.route;
    const struct fpmd_conf_static *st;

    if (rt == NULL || rt->conf == NULL || rt->conf->static_files == NULL)
        return FPMD_DECLINED;
    st = rt->conf->static_files;
    out->root = st->root;
    out->index = st->index;
    out->follow_symlinks = st->follow_symlinks;
    /* the loader's char ** as the read-only view handlers get */
    out->deny_ext = (const char *const *) st->deny_ext;
    out->ndeny_ext = st->ndeny_ext;
    return FPMD_OK;
}

const char *
fpmd_ping_response(void)
{
    return fpmd_process.conf->status.ping_response;
}
