/* SPDX-License-Identifier: BSD-2-Clause */
/* Discovered servers in shared memory (discovery.h): one mapping per
 * generation, its header first, then a list per upstream with
 * discover:. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fpmd/discovery.h"
#include "fpmd/discovery_impl.h"

/* A reader that finds a write going on this many times in a row gives
 * up for this time and keeps the copy it has: a writer killed in the
 * middle of a write must not hold every reader in a loop. */
#define READ_TRIES 1000

struct list {
    /* Even: at rest, version seq / 2; odd: a write is going on. */
    uint64_t seq;
    size_t nslots;
    struct fpmd_discovered slots[];
};

struct fpmd_discovery {
    size_t bytes;
    size_t n;                                   /* conf->nupstreams */
    size_t offset[FPMD_MAX_UPSTREAMS];          /* of each list; 0: none */
};

static struct list *
list_at(const struct fpmd_discovery *d, size_t i)
{
    return i < d->n && d->offset[i] != 0
        ? (struct list *) ((char *) d + d->offset[i]) : NULL;
}

static size_t
list_bytes(size_t nslots)
{
    size_t b = sizeof(struct list) + nslots * sizeof(struct fpmd_discovered);

    return (b + 63) & ~(size_t) 63;
}

struct fpmd_discovery *
fpmd_discovery_new(const struct fpmd_conf *conf)
{
    size_t bytes = (sizeof(struct fpmd_discovery) + 63) & ~(size_t) 63;
    struct fpmd_discovery *d;
    bool any = false;

    for (size_t i = 0; i < conf->nupstreams; i++) {
        if (conf->upstreams[i].discover != NULL) {
            bytes += list_bytes(conf->upstreams[i].max_servers);
            any = true;
        }
    }
    if (!any)
        return NULL;
    d = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
             -1, 0);
    if (d == MAP_FAILED)
        return NULL;
    d->bytes = bytes;
    d->n = conf->nupstreams;
    bytes = (sizeof(struct fpmd_discovery) + 63) & ~(size_t) 63;
    for (size_t i = 0; i < conf->nupstreams; i++) {
        if (conf->upstreams[i].discover == NULL)
            continue;
        d->offset[i] = bytes;
        list_at(d, i)->nslots = conf->upstreams[i].max_servers;
        bytes += list_bytes(conf->upstreams[i].max_servers);
    }
    return d;
}

void
fpmd_discovery_free(struct fpmd_discovery *d)
{
    if (d != NULL)
        munmap(d, d->bytes);
}

uint64_t
fpmd_discovery_version(const struct fpmd_discovery *d, size_t i)
{
    const struct list *l = list_at(d, i);

    return l != NULL ? __atomic_load_n(&l->seq, __ATOMIC_ACQUIRE) / 2 : 0;
}

uint64_t
fpmd_discovery_read(const struct fpmd_discovery *d, size_t i,
                    struct fpmd_discovered *out)
{
    const struct list *l = list_at(d, i);
    struct fpmd_discovered *copy;
    uint64_t v = 0;

    /* Copied aside first: a try a write went through may have copied
     * half of it, and a reader that then gives up keeps out as it was
     * (the HTTP client's server URLs point into it). */
    if (l == NULL || (copy = malloc(l->nslots * sizeof(*copy))) == NULL)
        return 0;
    for (unsigned t = 0; t < READ_TRIES; t++) {
        uint64_t s1 = __atomic_load_n(&l->seq, __ATOMIC_ACQUIRE), s2;

        if (s1 & 1)
            continue;
        memcpy(copy, l->slots, l->nslots * sizeof(*copy));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        s2 = __atomic_load_n(&l->seq, __ATOMIC_RELAXED);
        if (s1 == s2) {
            memcpy(out, copy, l->nslots * sizeof(*out));
            v = s1 / 2;
            break;
        }
    }
    free(copy);
    return v;
}

/* The list's sequence odd: a write is going on. Returns it. */
static uint64_t
begin_write(struct list *l)
{
    /* odd from here, even whatever a writer killed mid-write left */
    uint64_t s = __atomic_load_n(&l->seq, __ATOMIC_RELAXED) | 1;

    __atomic_store_n(&l->seq, s, __ATOMIC_RELAXED);
    return s;
}

void
fpmd_discovery_begin_write(struct fpmd_discovery *d, size_t i)
{
    begin_write(list_at(d, i));
}

static void
write_list(struct list *l, const struct fpmd_discovered *slots)
{
    uint64_t s = begin_write(l);

    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(l->slots, slots, l->nslots * sizeof(*slots));
    __atomic_store_n(&l->seq, s + 1, __ATOMIC_RELEASE);
}

void
fpmd_discovery_carry(struct fpmd_discovery *to,
                     const struct fpmd_conf *to_conf,
                     const struct fpmd_discovery *from,
                     const struct fpmd_conf *from_conf)
{
    struct fpmd_discovered *copy;

    if (to == NULL || from == NULL)
        return;
    for (size_t i = 0; i < to_conf->nupstreams; i++) {
        const struct fpmd_conf_upstream *u = &to_conf->upstreams[i];

        for (size_t j = 0; u->discover != NULL
             && j < from_conf->nupstreams; j++) {
            const struct fpmd_conf_upstream *o = &from_conf->upstreams[j];
            size_t k = 0;

            if (o->discover == NULL || strcmp(o->name, u->name) != 0
                || strcmp(o->discover, u->discover) != 0
                || fpmd_discovery_version(from, j) == 0)
                continue;
            copy = calloc(o->max_servers > u->max_servers ? o->max_servers
                                                          : u->max_servers,
                          sizeof(*copy));
            if (copy == NULL || fpmd_discovery_read(from, j, copy) == 0) {
                free(copy);
                break;
            }
            /* a smaller max_servers keeps the first ones */
            for (size_t s = 0; s < o->max_servers && k < u->max_servers;
                 s++) {
                if (copy[s].url[0] != '\0')
                    copy[k++] = copy[s];
            }
            memset(copy + k, 0, (u->max_servers - k) * sizeof(*copy));
            write_list(list_at(to, i), copy);
            free(copy);
            break;
        }
    }
}

size_t
fpmd_discovery_publish(struct fpmd_discovery *d, size_t i,
                       const struct fpmd_discovered *servers, size_t n,
                       bool *fresh)
{
    struct list *l = list_at(d, i);
    struct fpmd_discovered *next;
    bool *placed;
    size_t left = 0;

    if (l == NULL)
        return n;
    next = calloc(l->nslots, sizeof(*next));
    placed = calloc(n ? n : 1, sizeof(*placed));
    if (next == NULL || placed == NULL) {
        free(next);
        free(placed);
        return n;
    }
    memset(fresh, 0, l->nslots * sizeof(*fresh));
    /* the writer is the only one: its own reads need no lock */
    for (size_t k = 0; k < l->nslots; k++) {
        for (size_t j = 0; l->slots[k].url[0] != '\0' && j < n; j++) {
            if (!placed[j] && strcmp(l->slots[k].url, servers[j].url) == 0) {
                next[k] = servers[j];
                placed[j] = true;
                break;
            }
        }
    }
    for (size_t j = 0, k = 0; j < n; j++) {
        if (placed[j])
            continue;
        while (k < l->nslots && (next[k].url[0] != '\0'
                                 || l->slots[k].url[0] != '\0'))
            k++;
        /* past the slots never used, those just freed */
        if (k == l->nslots) {
            for (k = 0; k < l->nslots && next[k].url[0] != '\0'; k++)
                ;
        }
        if (k == l->nslots) {
            left++;
            continue;
        }
        next[k] = servers[j];
        fresh[k] = true;
    }
    write_list(l, next);
    free(next);
    free(placed);
    return left;
}
