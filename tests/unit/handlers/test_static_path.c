/* SPDX-License-Identifier: BSD-2-Clause */
/* Static path resolution against a real directory tree: containment,
 * symlinks in and out of the root, denied extensions, encoded separators,
 * directories and index files; and Range parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "handlers/static_path.h"

static char top[64], root[128];
static const char *deny[] = {".php", ".inc"};
static struct fpmd_static_conf st;

static void
touch(const char *rel)
{
    char p[256];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", top, rel);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("x\n", f);
    fclose(f);
}

static int
setup(void **state)
{
    char p[256];

    (void) state;
    strcpy(top, "/tmp/fpmd-static-XXXXXX");
    assert_non_null(mkdtemp(top));
    snprintf(root, sizeof(root), "%s/www", top);
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(p, sizeof(p), "%s/www/dir", top);
    assert_int_equal(mkdir(p, 0755), 0);
    touch("www/a.txt");
    touch("www/x.php");
    touch("www/dir/index.html");
    touch("secret.txt");
    snprintf(p, sizeof(p), "%s/www/out.txt", top);
    assert_int_equal(symlink("../secret.txt", p), 0);
    snprintf(p, sizeof(p), "%s/www/in.txt", top);
    assert_int_equal(symlink("a.txt", p), 0);
    snprintf(p, sizeof(p), "%s/www/code.txt", top);
    assert_int_equal(symlink("x.php", p), 0);
    st.root = root;
    st.index = "index.html";
    st.deny_ext = deny;
    st.ndeny_ext = 2;
    return 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    return system(cmd) == 0 ? 0 : -1;
}

static int
resolve(const char *uri, const char *rel)
{
    char full[512], real[512];

    return fpmd_static_resolve(&st, uri, rel, full, sizeof(full), real,
                               sizeof(real));
}

static void
static_resolves_inside_the_root_only(void **state)
{
    (void) state;
    assert_int_equal(resolve("/s/a.txt", "a.txt"), 200);
    assert_int_equal(resolve("/s/in.txt", "in.txt"), 200);
    assert_int_equal(resolve("/s/dir/", "dir/"), 200);
    assert_int_equal(resolve("/s/dir", "dir"), 301);
    assert_int_equal(resolve("/s/", ""), 404);
    assert_int_equal(resolve("/s/nope", "nope"), 404);
    assert_int_equal(resolve("/s/out.txt", "out.txt"), 403);
    assert_int_equal(resolve("/s/x.php", "x.php"), 403);
    assert_int_equal(resolve("/s/X.PhP", "X.PhP"), 403);
    assert_int_equal(resolve("/s/code.txt", "code.txt"), 403);
    assert_int_equal(resolve("/s/../secret.txt", "../secret.txt"), 404);
    assert_int_equal(resolve("/s/dir/../a.txt", "dir/../a.txt"), 404);
    assert_int_equal(resolve("/s/./a.txt", "./a.txt"), 404);
    assert_int_equal(resolve("/s/..%2Fsecret.txt", "a.txt"), 404);
    assert_int_equal(resolve("/s/dir%5ca.txt", "a.txt"), 404);
    assert_int_equal(resolve("/s/a.txt%00", "a.txt"), 404);
    assert_int_equal(resolve("/s/a\\b", "a\\b"), 404);
    assert_int_equal(resolve("/s/a.txt?x=%2f", "a.txt"), 200);
    st.follow_symlinks = 1;
    assert_int_equal(resolve("/s/out.txt", "out.txt"), 200);
    assert_int_equal(resolve("/s/code.txt", "code.txt"), 403);
    st.follow_symlinks = 0;
}

static void
static_parses_single_byte_ranges(void **state)
{
    off_t first = -1, len = -1;

    (void) state;
    assert_int_equal(fpmd_static_range("bytes=0-0", 10, &first, &len), 206);
    assert_true(first == 0 && len == 1);
    assert_int_equal(fpmd_static_range("bytes=2-", 10, &first, &len), 206);
    assert_true(first == 2 && len == 8);
    assert_int_equal(fpmd_static_range("bytes=5-100", 10, &first, &len),
                     206);
    assert_true(first == 5 && len == 5);
    assert_int_equal(fpmd_static_range("bytes=-3", 10, &first, &len), 206);
    assert_true(first == 7 && len == 3);
    assert_int_equal(fpmd_static_range("bytes=-30", 10, &first, &len), 206);
    assert_true(first == 0 && len == 10);
    assert_int_equal(fpmd_static_range("bytes=10-", 10, &first, &len), 416);
    assert_int_equal(fpmd_static_range("bytes=-0", 10, &first, &len), 416);
    assert_int_equal(fpmd_static_range("bytes=0-1,3-4", 10, &first, &len), 0);
    assert_int_equal(fpmd_static_range("bytes=5-2", 10, &first, &len), 0);
    assert_int_equal(fpmd_static_range("items=0-1", 10, &first, &len), 0);
    assert_int_equal(fpmd_static_range("bytes=99999999999999999999-", 10,
                                       &first, &len), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(static_resolves_inside_the_root_only),
        cmocka_unit_test(static_parses_single_byte_ranges),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
