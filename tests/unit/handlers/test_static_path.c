/* SPDX-License-Identifier: BSD-2-Clause */
/* Static files opened against a real directory tree: containment,
 * symlinks in and out of the root (none crossed unless follow_symlinks),
 * denied extensions, encoded separators, directories and index files, the
 * walk used without openat2; and Range parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
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
    snprintf(p, sizeof(p), "%s/www/indir", top);
    assert_int_equal(symlink("dir", p), 0);
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

static char name[512];

static int
resolve(const char *uri, const char *rel)
{
    struct stat sb;
    int fd, status;

    status = fpmd_static_open(&st, uri, rel, &fd, &sb, name, sizeof(name));
    if (status == 200) {
        assert_true(fd >= 0 && S_ISREG(sb.st_mode));
        close(fd);
    } else {
        assert_int_equal(fd, -1);
    }
    return status;
}

static void
static_resolves_inside_the_root_only(void **state)
{
    char want[256];

    (void) state;
    assert_int_equal(resolve("/s/a.txt", "a.txt"), 200);
    snprintf(want, sizeof(want), "%s/a.txt", root);
    assert_string_equal(name, want);
    /* follow_symlinks off: no symlink is crossed, even one that stays in */
    assert_int_equal(resolve("/s/in.txt", "in.txt"), 403);
    assert_int_equal(resolve("/s/indir/index.html", "indir/index.html"),
                     403);
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
    snprintf(want, sizeof(want), "%s/secret.txt", top);
    assert_string_equal(name, want);
    assert_int_equal(resolve("/s/in.txt", "in.txt"), 200);
    assert_int_equal(resolve("/s/indir/index.html", "indir/index.html"),
                     200);
    /* the extension that counts is the file's, not the link's */
    assert_int_equal(resolve("/s/code.txt", "code.txt"), 403);
    st.follow_symlinks = 0;
}

/* The walk taken without openat2 gives the kernel's answers. */
static void
static_walk_crosses_no_symlink(void **state)
{
    char p[256];
    int rootfd, fd;

    (void) state;
    rootfd = open(root, O_PATH | O_DIRECTORY);
    assert_true(rootfd >= 0);
    fd = fpmd_static_walk(rootfd, "dir/index.html", false);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fpmd_static_walk(rootfd, "in.txt", false), -1);
    assert_int_equal(errno, ELOOP);
    assert_int_equal(fpmd_static_walk(rootfd, "indir/index.html", false), -1);
    assert_int_equal(errno, ELOOP);
    assert_int_equal(fpmd_static_walk(rootfd, "dir/../a.txt", false), -1);
    assert_int_equal(errno, EXDEV);
    assert_int_equal(fpmd_static_walk(rootfd, "dir//index.html", false), -1);
    assert_int_equal(fpmd_static_walk(rootfd, "nope/a.txt", false), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(fpmd_static_walk(rootfd, "a.txt/x", false), -1);
    assert_int_equal(errno, ENOTDIR);
    /* a directory swapped for a symlink to outside: refused, not served */
    snprintf(p, sizeof(p), "%s/www/swap", top);
    assert_int_equal(symlink("..", p), 0);
    assert_int_equal(fpmd_static_walk(rootfd, "swap/secret.txt", false), -1);
    assert_int_equal(errno, ELOOP);
    fd = fpmd_static_walk(rootfd, "swap/secret.txt", true);
    assert_true(fd >= 0);
    close(fd);
    unlink(p);
    close(rootfd);
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
        cmocka_unit_test(static_walk_crosses_no_symlink),
        cmocka_unit_test(static_parses_single_byte_ranges),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
