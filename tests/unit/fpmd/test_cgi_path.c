/* SPDX-License-Identifier: BSD-2-Clause */
/* Script and PATH_INFO arithmetic, with php-src's CVE-2019-11043
 * regression case (sapi/fpm/tests/bug78599-path-info-underflow.phpt):
 * a SCRIPT_FILENAME running past the script and an empty PATH_INFO must
 * give an empty PATH_INFO, never one computed from lengths that do not
 * hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/cgi_path.h"

struct want {
    const char *script;
    const char *path_info;      /* NULL: none */
};

static void
check(const struct fpmd_cgi_vars *in, struct want w)
{
    struct fpmd_cgi_split out;
    char script[512], info[512];

    memset(&out, 0xa5, sizeof(out));
    fpmd_cgi_split(in, &out);
    /* every piece lies inside one of the inputs */
    assert_true(out.script_len < sizeof(script));
    snprintf(script, sizeof(script), "%.*s", (int) out.script_len,
             out.script);
    assert_string_equal(script, w.script);
    if (w.path_info == NULL) {
        assert_null(out.path_info);
        return;
    }
    assert_non_null(out.path_info);
    assert_true(out.path_info_len < sizeof(info));
    snprintf(info, sizeof(info), "%.*s", (int) out.path_info_len,
             out.path_info);
    assert_string_equal(info, w.path_info);
}

static void
cgi_path_ports_the_php_src_underflow_case(void **state)
{
    char filename[256];
    struct fpmd_cgi_vars in = {NULL, "", filename, "/srv/www",
                               "/bug78599.php/AAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                               "AAAAAA"};

    (void) state;
    snprintf(filename, sizeof(filename), "/srv/www/bug78599.php/%.35s",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    check(&in, (struct want){"/bug78599.php", ""});
    /* php's tester also sends the script's own path as SCRIPT_NAME */
    in.script_name = "/srv/www/bug78599.php";
    check(&in, (struct want){"/srv/www/bug78599.php", ""});
    /* and with no PATH_INFO at all, the rest of the path is one */
    in.script_name = NULL;
    in.path_info = NULL;
    check(&in, (struct want){"/bug78599.php",
                             "/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
}

static void
cgi_path_never_subtracts_a_longer_path_info(void **state)
{
    struct fpmd_cgi_vars in = {"/x.php", "/a/much/longer/path/info/than/it",
                               NULL, NULL, "/x.php"};

    (void) state;
    check(&in, (struct want){"/x.php", "/a/much/longer/path/info/than/it"});
    in.path_info = "/x.php";    /* as long as the script: not a suffix */
    check(&in, (struct want){"/x.php", "/x.php"});
    in.script_name = "";
    in.path_info = "/p";
    in.path = "";
    check(&in, (struct want){"", "/p"});
}

static void
cgi_path_takes_script_name_less_its_path_info(void **state)
{
    struct fpmd_cgi_vars in = {"/index.php", "/users/7", NULL, NULL,
                               "/index.php"};

    (void) state;
    check(&in, (struct want){"/index.php", "/users/7"});
    in.script_name = "/index.php/users/7";      /* no split in nginx */
    check(&in, (struct want){"/index.php", "/users/7"});
    in.path_info = NULL;
    check(&in, (struct want){"/index.php", "/users/7"});
    in.script_name = "/api/user.php";
    check(&in, (struct want){"/api/user.php", NULL});
}

static void
cgi_path_uses_script_filename_under_document_root(void **state)
{
    struct fpmd_cgi_vars in = {NULL, NULL, "/srv/www/api/user.php",
                               "/srv/www/", "/ignored"};

    (void) state;
    check(&in, (struct want){"/api/user.php", NULL});
    in.document_root = "/srv/www";
    check(&in, (struct want){"/api/user.php", NULL});
    in.document_root = "/srv/ww";       /* a prefix, not the directory */
    check(&in, (struct want){"/ignored", NULL});
    in.document_root = "/srv/www/api/user.php";     /* the file itself */
    check(&in, (struct want){"/ignored", NULL});
    in.document_root = "";
    check(&in, (struct want){"/ignored", NULL});
}

static void
cgi_path_splits_a_bare_path_at_its_script(void **state)
{
    struct fpmd_cgi_vars in = {NULL, NULL, NULL, NULL, "/index.php/a/b"};

    (void) state;
    check(&in, (struct want){"/index.php", "/a/b"});
    in.path = "/index.php/";
    check(&in, (struct want){"/index.php", "/"});
    in.path = "/a.php";
    check(&in, (struct want){"/a.php", NULL});
    in.path = "/.php/x";        /* no script name before the suffix */
    check(&in, (struct want){"/.php/x", NULL});
    in.path = "/a.phpx/b.php/c";
    check(&in, (struct want){"/a.phpx/b.php", "/c"});
    in.path = "/x.php/y.php/z";     /* the first one */
    check(&in, (struct want){"/x.php", "/y.php/z"});
    in.path = "";
    check(&in, (struct want){"", NULL});
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cgi_path_ports_the_php_src_underflow_case),
        cmocka_unit_test(cgi_path_never_subtracts_a_longer_path_info),
        cmocka_unit_test(cgi_path_takes_script_name_less_its_path_info),
        cmocka_unit_test(cgi_path_uses_script_filename_under_document_root),
        cmocka_unit_test(cgi_path_splits_a_bare_path_at_its_script),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
