/* SPDX-License-Identifier: BSD-2-Clause */
/* The discovered servers' lists: a list for each upstream with discover:
 * and none before the first publish; a server keeps its slot while it
 * stays listed, a new one takes a slot that was free before one just
 * freed, fresh[] marks exactly the slots taken anew; what finds no slot
 * is counted; a reload carries a list to the upstream of the same name
 * and prefix. Across processes: a reader beside a writer publishing in a
 * loop never sees half of a change, and a writer killed in the middle of
 * a write holds no reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/discovery.h"
#include "fpmd/discovery_impl.h"

/* The slots of the list the tests across processes share: enough that
 * a write takes a while. */
#define MAX_SLOTS 256

static struct fpmd_conf conf, conf2;
static struct fpmd_conf_upstream ups[4], ups2[4];

/* c, otherwise zero, with the n upstreams at u. */
static void
set_up(struct fpmd_conf *c, struct fpmd_conf_upstream *u, size_t n)
{
    memset(c, 0, sizeof(*c));
    c->upstreams = u;
    c->nupstreams = n;
}

/* discover NULL: an upstream with a list of servers: instead. */
static void
upstream(struct fpmd_conf_upstream *u, const char *name,
         const char *discover, unsigned max_servers)
{
    memset(u, 0, sizeof(*u));
    u->name = (char *) name;
    u->discover = (char *) discover;
    u->max_servers = max_servers;
}

/* A list of servers from words: a host (http://host the URL) or, after
 * one, its weight (1 when there is none). */
static size_t
servers(struct fpmd_discovered *out, const char *words)
{
    char buf[1024], *save = NULL;
    size_t n = 0;

    snprintf(buf, sizeof(buf), "%s", words);
    for (char *w = strtok_r(buf, " ", &save); w != NULL;
         w = strtok_r(NULL, " ", &save)) {
        if (w[0] >= '0' && w[0] <= '9') {
            out[n - 1].weight = (unsigned) atoi(w);
            continue;
        }
        memset(&out[n], 0, sizeof(out[n]));
        snprintf(out[n].url, sizeof(out[n].url), "http://%s", w);
        out[n++].weight = 1;
    }
    return n;
}

/* Publishes words to upstream i: the servers left out. */
static size_t
publish(struct fpmd_discovery *d, size_t i, const char *words, bool *fresh)
{
    struct fpmd_discovered list[32];

    return fpmd_discovery_publish(d, i, list, servers(list, words), fresh);
}

/* Upstream i's slots, n of them, as their hosts with "-" for an empty
 * slot. */
static const char *
slots(const struct fpmd_discovery *d, size_t i, size_t n)
{
    static char buf[1024];
    struct fpmd_discovered out[32];
    size_t o = 0;

    assert_true(fpmd_discovery_read(d, i, out) > 0);
    buf[0] = '\0';
    for (size_t k = 0; k < n; k++)
        o += (size_t) snprintf(buf + o, sizeof(buf) - o, k ? " %s" : "%s",
                               out[k].url[0] == '\0' ? "-"
                                                     : out[k].url + 7);
    return buf;
}

/* fresh[0..n) as F (fresh) and . */
static const char *
flags(const bool *fresh, size_t n)
{
    static char buf[64];

    for (size_t k = 0; k < n; k++)
        buf[k] = fresh[k] ? 'F' : '.';
    buf[n] = '\0';
    return buf;
}

/* A mapping with one list, upstream api's, of max_servers slots. */
static struct fpmd_discovery *
one_list(unsigned max_servers)
{
    struct fpmd_discovery *d;

    upstream(&ups[0], "api", "/svc/api", max_servers);
    set_up(&conf, ups, 1);
    d = fpmd_discovery_new(&conf);
    assert_non_null(d);
    return d;
}

/* Publishes words to d's list 0, whose slots are as many as want_fresh's
 * flags, and checks how many were left out, the slots and fresh[]. */
static void
assert_publish(struct fpmd_discovery *d, const char *words, size_t left,
               const char *want_slots, const char *want_fresh)
{
    size_t n = strlen(want_fresh);
    bool fresh[32];

    assert_int_equal(publish(d, 0, words, fresh), left);
    assert_string_equal(slots(d, 0, n), want_slots);
    assert_string_equal(flags(fresh, n), want_fresh);
}

static void
no_list_without_discover(void **state)
{
    (void) state;
    set_up(&conf, ups, 0);
    assert_null(fpmd_discovery_new(&conf));
    upstream(&ups[0], "a", NULL, 0);
    upstream(&ups[1], "b", NULL, 0);
    set_up(&conf, ups, 2);
    assert_null(fpmd_discovery_new(&conf));
    fpmd_discovery_free(NULL);
}

static void
nothing_is_published_before_the_first_publish(void **state)
{
    struct fpmd_discovered out[4];
    struct fpmd_discovery *d;
    bool fresh[4];

    (void) state;
    upstream(&ups[0], "plain", NULL, 0);
    upstream(&ups[1], "api", "/svc/api", 4);
    set_up(&conf, ups, 2);
    d = fpmd_discovery_new(&conf);
    assert_non_null(d);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fpmd_discovery_version(d, i), 0);
        if (i != 1)
            assert_int_equal(fpmd_discovery_read(d, i, out), 0);
    }
    /* nothing published yet is a list of empty slots */
    memset(out, 'x', sizeof(out));
    assert_int_equal(fpmd_discovery_read(d, 1, out), 0);
    for (size_t k = 0; k < 4; k++)
        assert_string_equal(out[k].url, "");
    /* an upstream without discover:, or past the last one, takes none */
    assert_int_equal(publish(d, 0, "a b", fresh), 2);
    assert_int_equal(publish(d, 2, "a", fresh), 1);
    assert_int_equal(fpmd_discovery_version(d, 0), 0);
    fpmd_discovery_free(d);
}

static void
a_published_list_reads_back(void **state)
{
    struct fpmd_discovery *d;
    struct fpmd_discovered out[4];
    bool fresh[4];

    (void) state;
    upstream(&ups[0], "api", "/svc/api", 4);
    upstream(&ups[1], "web", "/svc/web", 2);
    set_up(&conf, ups, 2);
    d = fpmd_discovery_new(&conf);
    assert_non_null(d);
    assert_int_equal(publish(d, 0, "a:1 5 b.example:8080/x c 1000", fresh),
                     0);
    assert_string_equal(flags(fresh, 4), "FFF.");
    assert_int_equal(fpmd_discovery_version(d, 0), 1);
    assert_int_equal(fpmd_discovery_read(d, 0, out), 1);
    assert_string_equal(out[0].url, "http://a:1");
    assert_int_equal(out[0].weight, 5);
    assert_string_equal(out[1].url, "http://b.example:8080/x");
    assert_int_equal(out[1].weight, 1);
    assert_string_equal(out[2].url, "http://c");
    assert_int_equal(out[2].weight, 1000);
    assert_string_equal(out[3].url, "");
    /* the other list is its own */
    assert_int_equal(fpmd_discovery_version(d, 1), 0);
    assert_int_equal(publish(d, 1, "w", fresh), 0);
    assert_string_equal(slots(d, 1, 2), "w -");
    assert_string_equal(slots(d, 0, 4), "a:1 b.example:8080/x c -");
    /* the same list again: a new version, nothing fresh */
    assert_publish(d, "c 1000 a:1 5 b.example:8080/x", 0,
                   "a:1 b.example:8080/x c -", "....");
    assert_int_equal(fpmd_discovery_version(d, 0), 2);
    /* none: every slot empty */
    assert_publish(d, "", 0, "- - - -", "....");
    fpmd_discovery_free(d);
}

static void
a_server_keeps_its_slot_while_others_come_and_go(void **state)
{
    struct fpmd_discovery *d = one_list(6);
    struct fpmd_discovered out[6];

    (void) state;
    assert_publish(d, "a b c", 0, "a b c - - -", "FFF...");
    /* b stays in slot 1 whatever its place in the list; its weight
     * changes in place */
    assert_publish(d, "d b 3 e", 0, "- b - d e -", "...FF.");
    assert_int_equal(fpmd_discovery_read(d, 0, out), 2);
    assert_int_equal(out[1].weight, 3);
    /* the slots free before this publish go in order, whether they
     * were ever used (a's, c's) or not */
    assert_publish(d, "b f g e d", 0, "f b g d e -", "F.F...");
    fpmd_discovery_free(d);
}

static void
a_slot_just_freed_is_taken_after_the_free_ones(void **state)
{
    struct fpmd_discovery *d = one_list(3);

    (void) state;
    assert_publish(d, "a b", 0, "a b -", "FF.");
    /* a goes as c comes: c takes the slot no one had, not a's */
    assert_publish(d, "b c", 0, "- b c", "..F");
    /* b and c go as d and e come: d takes the slot that was free, e
     * the first one just freed */
    assert_publish(d, "d e", 0, "d e -", "FF.");
    fpmd_discovery_free(d);
}

static void
servers_past_max_servers_are_left_out_and_counted(void **state)
{
    struct fpmd_discovery *d = one_list(3);

    (void) state;
    assert_publish(d, "a b c d e", 2, "a b c", "FFF");
    /* those listed keep their slots, whatever their place in the
     * list; b's slot goes to the first one listed that has none */
    assert_publish(d, "e d c a", 1, "a e c", ".F.");
    fpmd_discovery_free(d);
}

static void
carry_copies_a_list_to_the_same_name_and_prefix(void **state)
{
    struct fpmd_discovery *from, *to;
    bool fresh[4];

    (void) state;
    upstream(&ups[0], "api", "/svc/api", 4);
    upstream(&ups[1], "web", "/svc/web", 4);
    set_up(&conf, ups, 2);
    from = fpmd_discovery_new(&conf);
    assert_non_null(from);
    assert_int_equal(publish(from, 0, "a b c", fresh), 0);
    assert_int_equal(publish(from, 0, "a c d", fresh), 0);
    assert_int_equal(publish(from, 1, "w1 w2 3 w3", fresh), 0);
    assert_string_equal(slots(from, 0, 4), "a - c d");

    /* the new config has them in another order, web with fewer slots */
    upstream(&ups2[0], "plain", NULL, 0);
    upstream(&ups2[1], "web", "/svc/web", 2);
    upstream(&ups2[2], "api", "/svc/api", 4);
    set_up(&conf2, ups2, 3);
    to = fpmd_discovery_new(&conf2);
    assert_non_null(to);
    fpmd_discovery_carry(to, &conf2, from, &conf);
    assert_int_equal(fpmd_discovery_version(to, 0), 0);
    assert_int_equal(fpmd_discovery_version(to, 1), 1);
    assert_int_equal(fpmd_discovery_version(to, 2), 1);
    /* the empty slots closed up; the first ones kept */
    assert_string_equal(slots(to, 2, 4), "a c d -");
    assert_string_equal(slots(to, 1, 2), "w1 w2");
    {
        struct fpmd_discovered out[2];

        assert_int_equal(fpmd_discovery_read(to, 1, out), 1);
        assert_int_equal(out[1].weight, 3);
    }
    /* the new agent's first publish keeps the carried slots */
    assert_int_equal(publish(to, 2, "d a e", fresh), 0);
    assert_string_equal(slots(to, 2, 4), "a - d e");
    assert_string_equal(flags(fresh, 4), "...F");
    fpmd_discovery_free(to);
    fpmd_discovery_free(from);
}

static void
carry_leaves_another_name_or_prefix(void **state)
{
    struct fpmd_discovery *from, *to;
    bool fresh[4];

    (void) state;
    upstream(&ups[0], "api", "/svc/api", 4);
    upstream(&ups[1], "web", "/svc/web", 4);
    upstream(&ups[2], "new", "/svc/new", 4);
    set_up(&conf, ups, 3);
    from = fpmd_discovery_new(&conf);
    assert_non_null(from);
    assert_int_equal(publish(from, 0, "a", fresh), 0);
    assert_int_equal(publish(from, 1, "w", fresh), 0);

    /* api under another prefix, web by another name, new never
     * published, and one that was no discover: before */
    upstream(&ups2[0], "api", "/svc/api2", 4);
    upstream(&ups2[1], "www", "/svc/web", 4);
    upstream(&ups2[2], "new", "/svc/new", 4);
    upstream(&ups2[3], "plain", "/svc/plain", 4);
    set_up(&conf2, ups2, 4);
    to = fpmd_discovery_new(&conf2);
    assert_non_null(to);
    fpmd_discovery_carry(to, &conf2, from, &conf);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fpmd_discovery_version(to, i), 0);
    /* the first generation has nothing to carry */
    fpmd_discovery_carry(to, &conf2, NULL, NULL);
    fpmd_discovery_carry(NULL, &conf2, from, &conf);
    assert_int_equal(fpmd_discovery_version(to, 0), 0);
    fpmd_discovery_free(to);
    fpmd_discovery_free(from);
}

/* What a writer's generations hold: every slot a server whose weight
 * says the generation and whose URL does too (NEW_URLS) or stays
 * generation 1's (SAME_URLS), so that a copy mixing two generations
 * shows; or nothing (NO_SERVERS), so that the writer's time goes to
 * writing more than to placing servers. */
enum kind { NEW_URLS, SAME_URLS, NO_SERVERS };

static void
slot_of(struct fpmd_discovered *s, size_t k, uint64_t g, enum kind kind)
{
    memset(s, 0, sizeof(*s));
    if (kind == NO_SERVERS)
        return;
    snprintf(s->url, sizeof(s->url), "http://g%llu.example:%zu/",
             (unsigned long long) (kind == NEW_URLS ? g : 1), k);
    s->weight = (unsigned) (g % 1000) + 1;
}

/* Generation g into list: how many servers it has. */
static size_t
generation(struct fpmd_discovered *list, uint64_t g, enum kind kind)
{
    for (size_t k = 0; k < MAX_SLOTS; k++)
        slot_of(&list[k], k, g, kind);
    return kind == NO_SERVERS ? 0 : MAX_SLOTS;
}

/* A list of MAX_SLOTS slots with generation 1 published, so that a read
 * giving 0 is one that gave up. */
static struct fpmd_discovery *
first_generation(void)
{
    struct fpmd_discovered *list = calloc(MAX_SLOTS, sizeof(*list));
    bool *fresh = calloc(MAX_SLOTS, sizeof(*fresh));
    struct fpmd_discovery *d = one_list(MAX_SLOTS);

    assert_non_null(list);
    assert_non_null(fresh);
    assert_int_equal(fpmd_discovery_publish(d, 0, list,
        generation(list, 1, NEW_URLS), fresh), 0);
    free(fresh);
    free(list);
    return d;
}

/* In a child: publishes generation after generation into d's list, until
 * killed or, limit not 0, generation limit is out. */
static pid_t
writer(struct fpmd_discovery *d, uint64_t limit, enum kind kind)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct fpmd_discovered *list = calloc(MAX_SLOTS, sizeof(*list));
        bool *fresh = calloc(MAX_SLOTS, sizeof(*fresh));

        if (list == NULL || fresh == NULL)
            _exit(1);
        for (uint64_t g = fpmd_discovery_version(d, 0) + 1;
             limit == 0 || g <= limit; g++) {
            if (fpmd_discovery_publish(d, 0, list,
                                       generation(list, g, kind), fresh)
                != 0)
                _exit(1);
        }
        _exit(0);
    }
    return pid;
}

/* out is generation v's list whole, or, v 0, as it was (all 'x'). */
static void
assert_whole(const struct fpmd_discovered *out, uint64_t v, enum kind kind)
{
    struct fpmd_discovered want;

    for (size_t k = 0; k < MAX_SLOTS; k++) {
        if (v == 0)
            memset(&want, 'x', sizeof(want));
        else
            slot_of(&want, k, v, kind);
        if (memcmp(&out[k], &want, sizeof(want)) != 0)
            fail_msg("version %llu, slot %zu: %.40s weight %u",
                     (unsigned long long) v, k, out[k].url, out[k].weight);
    }
}

/* A reader beside a writer publishing limit generations: every read
 * whole, the versions never going back. */
static void
read_beside_writer(uint64_t limit, enum kind kind)
{
    struct fpmd_discovered *out = calloc(MAX_SLOTS, sizeof(*out));
    struct fpmd_discovery *d = first_generation();
    uint64_t last = 0, v;
    unsigned reads = 0, whole = 0;
    int status;
    pid_t pid = writer(d, limit, kind);

    assert_non_null(out);
    do {
        memset(out, 'x', MAX_SLOTS * sizeof(*out));
        v = fpmd_discovery_read(d, 0, out);
        assert_whole(out, v, kind);
        if (v != 0) {
            assert_true(v >= last);
            last = v;
            whole++;
        }
        reads++;
    } while (waitpid(pid, &status, WNOHANG) == 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(fpmd_discovery_read(d, 0, out), limit);
    assert_whole(out, limit, kind);
    print_message("%u reads beside the writer, %u of them whole\n", reads,
                  whole);
    fpmd_discovery_free(d);
    free(out);
}

static void
a_reader_beside_a_writer_sees_whole_lists(void **state)
{
    (void) state;
    read_beside_writer(2000, NEW_URLS);
    read_beside_writer(20000, SAME_URLS);
}

static void
a_writer_killed_mid_write_holds_no_reader(void **state)
{
    struct fpmd_discovered *out = calloc(MAX_SLOTS, sizeof(*out));
    struct fpmd_discovered *kept = calloc(MAX_SLOTS, sizeof(*kept));
    struct fpmd_discovery *d = first_generation();
    bool *fresh = calloc(MAX_SLOTS, sizeof(*fresh));
    uint64_t v;

    (void) state;
    assert_non_null(out);
    assert_non_null(kept);
    assert_non_null(fresh);
    assert_int_equal(fpmd_discovery_publish(d, 0, out,
        generation(out, 1, NEW_URLS), fresh), 0);
    v = fpmd_discovery_version(d, 0);
    assert_int_equal(fpmd_discovery_read(d, 0, kept), v);
    /* as a writer killed in the middle of a write leaves the list: a
     * reader gives up, its copy untouched, and the version stays */
    fpmd_discovery_begin_write(d, 0);
    memcpy(out, kept, MAX_SLOTS * sizeof(*out));
    assert_int_equal(fpmd_discovery_read(d, 0, out), 0);
    assert_memory_equal(out, kept, MAX_SLOTS * sizeof(*out));
    assert_int_equal(fpmd_discovery_version(d, 0), v);
    /* the next writer's write makes the list whole again */
    assert_int_equal(fpmd_discovery_publish(d, 0, out,
        generation(out, v + 1, NEW_URLS), fresh), 0);
    assert_int_equal(fpmd_discovery_version(d, 0), v + 1);
    memset(out, 'x', MAX_SLOTS * sizeof(*out));
    assert_int_equal(fpmd_discovery_read(d, 0, out), v + 1);
    assert_whole(out, v + 1, NEW_URLS);
    fpmd_discovery_free(d);
    free(fresh);
    free(kept);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_list_without_discover),
        cmocka_unit_test(nothing_is_published_before_the_first_publish),
        cmocka_unit_test(a_published_list_reads_back),
        cmocka_unit_test(a_server_keeps_its_slot_while_others_come_and_go),
        cmocka_unit_test(a_slot_just_freed_is_taken_after_the_free_ones),
        cmocka_unit_test(servers_past_max_servers_are_left_out_and_counted),
        cmocka_unit_test(carry_copies_a_list_to_the_same_name_and_prefix),
        cmocka_unit_test(carry_leaves_another_name_or_prefix),
        cmocka_unit_test(a_reader_beside_a_writer_sees_whole_lists),
        cmocka_unit_test(a_writer_killed_mid_write_holds_no_reader),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
