/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-worker services: parts outside fpmd/ (backend pools, later the
 * legacy pass-through) that live as long as a worker's loop. They register
 * from a constructor, so the core never names them; the worker starts them
 * after fork, ticks them once a second and stops them when its loop ends.
 * The master never starts them: it holds no backend socket. */
#ifndef FPMD_SERVICE_H
#define FPMD_SERVICE_H

#include <stddef.h>

#include "fpmd/conf.h"

struct event_base;

struct fpmd_service {
    const char *name;
    /* In the worker, before it accepts: FPMD_ERROR stops the worker (the
     * service logged why). */
    int (*start)(const struct fpmd_conf *conf, struct event_base *base);
    void (*tick)(void);
    /* The worker starts to finish (a reload, a recycle, a stop): the
     * requests in flight go on, no new ones will come. */
    void (*finishing)(void);
    /* After the loop ended: no request is left. */
    void (*stop)(void);
    struct fpmd_service *next;      /* the registry's */
};

/* From a constructor; s stays the caller's (static storage). */
void fpmd_service_register(struct fpmd_service *s);

int fpmd_services_start(const struct fpmd_conf *conf, struct event_base *base);
void fpmd_services_tick(void);
void fpmd_services_finishing(void);
void fpmd_services_stop(void);

#endif
