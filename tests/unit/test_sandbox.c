/* test_sandbox.c — focus: the sandbox's own checks on a profile built by hand (which skips the
 * profile decoder's checks): globs Landlock cannot express are refused with the exact code and
 * a message naming them, and nothing is returned; DIR/ plus two stars and exact files plan;
 * and the CONNECT proxy's admission rule (host globs, case, ports, empty lists). Planning
 * does a dry run of the real set-up, so this needs the kernel features docs/SANDBOX.md lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"
#include "connect_proxy.h"

static wd_code plan_read(const char *glob, bool write, wd_sandbox **sb, wd_err *e)
{
    char *g[1] = {(char *)glob};
    wd_profile p;
    memset(&p, 0, sizeof p);
    p.network = WD_NET_NONE;
    if (write) {
        p.write = g;
        p.n_write = 1;
    } else {
        p.read = g;
        p.n_read = 1;
    }
    wd_err_clear(e);
    *sb = (wd_sandbox *)&p; /* must be reset to NULL on error */
    return wd_sandbox_new(&p, "/bin/true", sb, e);
}

static void refused(const char *glob, bool write, const char *want)
{
    wd_sandbox *sb;
    wd_err e;
    wd_code r = plan_read(glob, write, &sb, &e);
    if (r != WD_E_INVALID_POLICY)
        fail_msg("glob '%s': code %d (%s), want invalid-policy", glob, (int)r, e.msg);
    assert_null(sb);
    if (strcmp(e.msg, want) != 0)
        fail_msg("glob '%s': message\n  %s\nwant\n  %s", glob, e.msg, want);
}

static void t01_inexpressible_globs_refused(void **state)
{
    (void)state;
    refused("/srv/*/x", false,
            "sandbox: permission_profile.read[0] \"/srv/*/x\": Landlock can only express an "
            "exact path or DIR/** (everything beneath DIR); refused rather than granting more or "
            "less than the glob says");
    refused("/tmp/*.txt", true,
            "sandbox: permission_profile.write[0] \"/tmp/*.txt\": Landlock can only express an "
            "exact path or DIR/** (everything beneath DIR); refused rather than granting more or "
            "less than the glob says");
    refused("/srv/data/*", false,
            "sandbox: permission_profile.read[0] \"/srv/data/*\": Landlock can only express an "
            "exact path or DIR/** (everything beneath DIR); refused rather than granting more or "
            "less than the glob says");
    refused("/srv/d?ta/**", false,
            "sandbox: permission_profile.read[0] \"/srv/d?ta/**\": Landlock can only express an "
            "exact path or DIR/** (everything beneath DIR); refused rather than granting more or "
            "less than the glob says");
    refused("/srv/**/x", false,
            "sandbox: permission_profile.read[0] \"/srv/**/x\": Landlock can only express an "
            "exact path or DIR/** (everything beneath DIR); refused rather than granting more or "
            "less than the glob says");
}

static void t02_relative_and_dot_paths_refused(void **state)
{
    (void)state;
    refused("srv/**", false,
            "sandbox: permission_profile.read[0] \"srv/**\": not an absolute path; the sandbox "
            "cannot express it as a Landlock rule");
    refused("/srv/../etc/**", false,
            "sandbox: permission_profile.read[0] \"/srv/../etc/**\": an empty, '.' or '..' path "
            "component; write the path plainly");
    refused("/srv/./x", false,
            "sandbox: permission_profile.read[0] \"/srv/./x\": an empty, '.' or '..' path "
            "component; write the path plainly");
    refused("/srv//x", true,
            "sandbox: permission_profile.write[0] \"/srv//x\": an empty, '.' or '..' path "
            "component; write the path plainly");
}

static void t03_exact_directory_refused(void **state)
{
    (void)state;
    refused("/etc", false,
            "sandbox: permission_profile.read \"/etc\" names a directory: a Landlock rule on it "
            "would grant everything beneath it; write \"/etc/**\" for that");
}

static void t04_expressible_globs_plan(void **state)
{
    (void)state;
    static const char *const ok[] = {"/etc/**", "/**", "/etc/hostname", "/does/not/exist/**",
                                     "/does/not/exist"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        wd_sandbox *sb;
        wd_err e;
        if (plan_read(ok[i], i % 2 == 1, &sb, &e) != WD_OK)
            fail_msg("glob '%s': %s", ok[i], e.msg);
        assert_non_null(sb);
        wd_sandbox_free(sb);
    }
}

static void t05_relative_exe_is_usage(void **state)
{
    (void)state;
    wd_sandbox *sb = (wd_sandbox *)state;
    wd_err e;
    assert_int_equal(wd_sandbox_new(NULL, "true", &sb, &e), WD_E_USAGE);
    assert_null(sb);
    assert_string_equal(e.msg, "sandbox: the server's executable must be an absolute path");
}

static void t06_proxy_admission(void **state)
{
    (void)state;
    char *hosts[] = {"localhost", "*.example.com", "api.acme.example"};
    uint16_t ports[] = {443, 8443};
    assert_true(wd_cproxy_admits(hosts, 3, ports, 2, "localhost", 443));
    assert_true(wd_cproxy_admits(hosts, 3, ports, 2, "LocalHost", 8443));
    assert_true(wd_cproxy_admits(hosts, 3, ports, 2, "a.example.com", 443));
    assert_true(wd_cproxy_admits(hosts, 3, ports, 2, "a.b.example.com", 443));
    assert_false(wd_cproxy_admits(hosts, 3, ports, 2, "example.com", 443));
    assert_false(wd_cproxy_admits(hosts, 3, ports, 2, "example.com.evil", 443));
    assert_false(wd_cproxy_admits(hosts, 3, ports, 2, "localhost", 80));
    assert_false(wd_cproxy_admits(hosts, 3, ports, 2, "localhost", 0));
    assert_false(wd_cproxy_admits(hosts, 3, ports, 2, "api.acme.example.", 443));
    assert_false(wd_cproxy_admits(hosts, 3, ports, 2, "", 443));
    assert_false(wd_cproxy_admits(hosts, 3, NULL, 0, "localhost", 443)); /* no ports: nothing */
    assert_false(wd_cproxy_admits(NULL, 0, ports, 2, "localhost", 443)); /* no hosts: nothing */
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char *star[] = {"*"};
    assert_false(wd_cproxy_admits(star, 1, ports, 2, longname, 443));
    longname[255] = '\0'; /* 255 bytes: the longest DNS name */
    assert_true(wd_cproxy_admits(star, 1, ports, 2, longname, 443));
    longname[255] = 'a';
    longname[256] = '\0';
    assert_false(wd_cproxy_admits(star, 1, ports, 2, longname, 443));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_inexpressible_globs_refused),
        cmocka_unit_test(t02_relative_and_dot_paths_refused),
        cmocka_unit_test(t03_exact_directory_refused),
        cmocka_unit_test(t04_expressible_globs_plan),
        cmocka_unit_test(t05_relative_exe_is_usage),
        cmocka_unit_test(t06_proxy_admission),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
