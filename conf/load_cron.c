/* SPDX-License-Identifier: BSD-2-Clause */
/* cron: of the config (fpmd/conf.h, struct fpmd_conf_cron): entries the
 * master fires, each run by one worker, checked with the loader's
 * file:line:column errors (a bad expression's column is the bad token's). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conf/arena.h"
#include "conf/load_cron.h"
#include "conf/yaml_reader.h"
#include "fpmd/conf.h"

/* An every: shorter than this would make the master a busy loop. */
#define EVERY_MIN_MS 10

static struct fpmd_conf_cron *cur;

KEYFN(k_name) { fpmd_yaml_get_str(c, v, key, &cur->name); }
KEYFN(k_handler) { fpmd_yaml_get_str(c, v, key, &cur->handler); }
KEYFN(k_task) { fpmd_yaml_get_str(c, v, key, &cur->task); }
KEYFN(k_overlap) { fpmd_yaml_get_bool(c, v, key, &cur->overlap); }

KEYFN(k_schedule)
{
    char err[160];
    size_t col = 1;

    fpmd_yaml_get_str(c, v, key, &cur->schedule);
    if (cur->schedule == NULL)
        return;
    if (fpmd_cron_parse(&cur->expr, cur->schedule, err, sizeof(err), &col)
        != FPMD_OK) {
        /* the bad token's own column, inside a one-line scalar */
        struct fpmd_yaml_node at = *v;

        at.column += (unsigned) (col - 1) + (v->plain ? 0 : 1);
        fpmd_yaml_error_at(c, &at, "%s: %s", key, err);
    }
}

KEYFN(k_every)
{
    fpmd_yaml_get_duration(c, v, key, &cur->every_ms);
    if (cur->every_ms > 0 && cur->every_ms < EVERY_MIN_MS)
        fpmd_yaml_error_at(c, v, "%s: at least %d ms", key, EVERY_MIN_MS);
}

KEYFN(k_timezone)
{
    fpmd_yaml_get_str(c, v, key, &cur->timezone);
    if (cur->timezone != NULL && !fpmd_cron_tz_valid(cur->timezone))
        fpmd_yaml_error_at(c, v, "%s: unknown time zone \"%s\" (an IANA "
                           "name, as in /usr/share/zoneinfo)", key,
                           cur->timezone);
}

static const struct fpmd_yaml_key cron_keys[] = {
    {"name", k_name}, {"schedule", k_schedule}, {"every", k_every},
    {"timezone", k_timezone}, {"handler", k_handler}, {"task", k_task},
    {"overlap", k_overlap},
};

void
fpmd_conf_read_cron(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
                    const char *key)
{
    struct fpmd_conf *conf = c->conf;

    conf->cron = fpmd_yaml_list_items(c, v, key, "cron entries",
                                      sizeof(*conf->cron));
    if (conf->cron == NULL)
        return;
    if (v->nkids > FPMD_CRON_MAX) {
        fpmd_yaml_error_at(c, v, "%s: at most %d entries", key,
                           FPMD_CRON_MAX);
        return;
    }
    for (size_t i = 0; i < v->nkids; i++) {
        const struct fpmd_yaml_node *item = v->kids[i];

        cur = &conf->cron[conf->ncron++];
        fpmd_yaml_set_pos(&cur->pos, c, item);
        fpmd_yaml_walk_map(c, item, "cron", cron_keys,
                           FPMD_ARRAY_LEN(cron_keys));
        if (item->type != FPMD_YAML_MAP)
            continue;
        if (cur->name == NULL || (cur->handler == NULL) == (cur->task == NULL))
            fpmd_yaml_error_at(c, item, "cron: each entry needs a name: and "
                               "one of handler: or task:");
        if ((cur->schedule != NULL) == (cur->every_ms > 0))
            fpmd_yaml_error_at(c, item, "cron: each entry needs exactly one "
                               "of schedule: or every:");
        if (cur->every_ms > 0 && cur->timezone != NULL)
            fpmd_yaml_error_at(c, item, "cron: timezone: applies to "
                               "schedule: only");
        for (size_t j = 0; cur->name != NULL && j + 1 < conf->ncron; j++) {
            if (conf->cron[j].name != NULL
                && strcmp(conf->cron[j].name, cur->name) == 0)
                fpmd_yaml_error_at(c, item, "cron: a second entry named "
                                   "\"%s\" (the first is at line %u)",
                                   cur->name, conf->cron[j].pos.line);
        }
    }
}
