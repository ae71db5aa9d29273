/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include "fpmd/common.h"
#include "fpmd/service.h"

static struct fpmd_service *services;
static struct fpmd_service *started;    /* those whose start succeeded */

void
fpmd_service_register(struct fpmd_service *s)
{
    s->next = services;
    services = s;
}

int
fpmd_services_start(const struct fpmd_conf *conf, struct event_base *base)
{
    for (struct fpmd_service *s = services; s != NULL; s = s->next) {
        if (s->start != NULL && s->start(conf, base) != FPMD_OK)
            return FPMD_ERROR;
        started = s;
    }
    return FPMD_OK;
}

void
fpmd_services_tick(void)
{
    if (started == NULL)
        return;
    for (struct fpmd_service *s = services; s != NULL; s = s->next) {
        if (s->tick != NULL)
            s->tick();
        if (s == started)
            break;
    }
}

void
fpmd_services_finishing(void)
{
    if (started == NULL)
        return;
    for (struct fpmd_service *s = services; s != NULL; s = s->next) {
        if (s->finishing != NULL)
            s->finishing();
        if (s == started)
            break;
    }
}

void
fpmd_services_stop(void)
{
    if (started == NULL)
        return;
    for (struct fpmd_service *s = services; s != NULL; s = s->next) {
        if (s->stop != NULL)
            s->stop();
        if (s == started)
            break;
    }
    started = NULL;
}
