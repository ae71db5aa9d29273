/* SPDX-License-Identifier: BSD-2-Clause */
/* Replica slots of a sentinel pool (sentinel_replicas.h). */
#include "config.h"

#include <string.h>

#include "pools/sentinel_replicas.h"

static bool
has_flag(const char *flags, const char *flag)
{
    size_t len = strlen(flag);

    for (const char *p = flags; *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t plen = comma != NULL ? (size_t) (comma - p) : strlen(p);

        if (plen == len && strncmp(p, flag, len) == 0)
            return true;
        p += plen + (comma != NULL);
    }
    return false;
}

bool
fpmd_replica_up(const char *flags, const char *link)
{
    return flags != NULL && link != NULL && strcmp(link, "ok") == 0
        && !has_flag(flags, "s_down") && !has_flag(flags, "o_down")
        && !has_flag(flags, "disconnected");
}

static bool
same(const struct fpmd_replica_slot *s, const struct fpmd_replica_addr *a)
{
    return s->filled && s->port == a->port && strlen(s->host) == a->hlen
        && memcmp(s->host, a->host, a->hlen) == 0;
}

void
fpmd_replica_slots_update(struct fpmd_replica_slot *slots, size_t n,
                          const struct fpmd_replica_addr *up, size_t nup,
                          bool *changed)
{
    for (size_t i = 0; i < n; i++) {
        bool listed = false;

        for (size_t j = 0; j < nup && !listed; j++)
            listed = same(&slots[i], &up[j]);
        changed[i] = slots[i].filled && !listed;
        if (changed[i]) {
            slots[i].filled = false;
            slots[i].epoch++;
        }
    }
    for (size_t j = 0; j < nup; j++) {
        size_t free_slot = n;
        bool placed = false;

        if (up[j].hlen >= sizeof(slots[0].host))
            continue;
        for (size_t i = 0; i < n && !placed; i++) {
            placed = same(&slots[i], &up[j]);
            if (!slots[i].filled && free_slot == n)
                free_slot = i;
        }
        if (placed || free_slot == n)
            continue;
        memcpy(slots[free_slot].host, up[j].host, up[j].hlen);
        slots[free_slot].host[up[j].hlen] = '\0';
        slots[free_slot].port = up[j].port;
        slots[free_slot].filled = true;
        /* emptied and filled again in one update: one change */
        if (!changed[free_slot])
            slots[free_slot].epoch++;
        changed[free_slot] = true;
    }
}
