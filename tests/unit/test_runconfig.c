/* test_runconfig.c — focus: strict RunConfig decoding (SPEC §7): defaults, named and inline
 * permission profiles, every rejection with its exact code and message, limits at and past,
 * and that environment values never reach a message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warden/limits.h"
#include "warden/runconfig.h"

static wd_code decode_sq(const char *squoted, wd_runconfig **out, wd_err *e)
{
    char *j = strdup(squoted);
    assert_non_null(j);
    for (char *q = j; *q; q++)
        if (*q == '\'')
            *q = '"';
    wd_code rc = wd_runconfig_decode((const unsigned char *)j, strlen(j), out, e);
    free(j);
    return rc;
}

static void t01_minimal_runconfig_gets_defaults(void **state)
{
    (void)state;
    wd_runconfig *rc = NULL;
    wd_err e;
    assert_int_equal(decode_sq("{'name':'a','command':['x']}", &rc, &e), WD_OK);
    assert_string_equal(rc->name, "a");
    assert_string_equal(rc->group, "default");
    assert_string_equal(rc->transport, "stdio");
    assert_int_equal(rc->n_command, 1);
    assert_string_equal(rc->command[0], "x");
    assert_string_equal(rc->image, "");
    assert_string_equal(rc->remote_url, "");
    assert_string_equal(rc->registry_url, "");
    assert_string_equal(rc->registry_api_url, "");
    assert_string_equal(rc->registry_server_name, "");
    assert_null(rc->profile_name);
    assert_null(rc->profile);
    assert_int_equal(rc->n_env + rc->n_volumes + rc->n_labels, 0);
    wd_runconfig_free(rc);
    wd_runconfig_free(NULL);
}

static void t02_the_spec_example_decodes(void **state)
{
    (void)state;
    wd_runconfig *rc = NULL;
    wd_err e;
    assert_int_equal(
        decode_sq("{'name':'fs-docs', 'group':'default', 'transport':'stdio',"
                  " 'command':['npx','-y','@modelcontextprotocol/server-filesystem@2026.8.31','/srv/data'],"
                  " 'image':'', 'remote_url':'', 'registry_url':'', 'registry_api_url':'',"
                  " 'registry_server_name':'', 'permission_profile':'restricted',"
                  " 'env':{'HOME':'/home/u'}, 'volumes':['/srv/data:/data:ro'],"
                  " 'labels':{'team':'payments'}}",
                  &rc, &e),
        WD_OK);
    assert_string_equal(rc->profile_name, "restricted");
    assert_int_equal(rc->n_command, 4);
    assert_string_equal(rc->command[3], "/srv/data");
    assert_int_equal(rc->n_env, 1);
    assert_string_equal(rc->env[0].key, "HOME");
    assert_string_equal(rc->env[0].value, "/home/u");
    assert_int_equal(rc->n_volumes, 1);
    assert_string_equal(rc->volumes[0], "/srv/data:/data:ro");
    assert_int_equal(rc->n_labels, 1);
    assert_string_equal(rc->labels[0].key, "team");
    assert_string_equal(rc->labels[0].value, "payments");
    wd_runconfig_free(rc);
}

static void t03_inline_profile_decodes(void **state)
{
    (void)state;
    wd_runconfig *rc = NULL;
    wd_err e;
    assert_int_equal(
        decode_sq("{'name':'a','image':'i','permission_profile':{'network':{'allow_hosts':"
                  "['*.acme.example'],'allow_ports':[443,8443]},'read':['/srv/**'],"
                  "'write':['/tmp/x'],'env':['MCP_*'],'privileged':true}}",
                  &rc, &e),
        WD_OK);
    assert_null(rc->profile_name);
    assert_non_null(rc->profile);
    assert_int_equal(rc->profile->network, WD_NET_ALLOW);
    assert_int_equal(rc->profile->n_allow_hosts, 1);
    assert_string_equal(rc->profile->allow_hosts[0], "*.acme.example");
    assert_int_equal(rc->profile->n_allow_ports, 2);
    assert_int_equal(rc->profile->allow_ports[1], 8443);
    assert_string_equal(rc->profile->read[0], "/srv/**");
    assert_string_equal(rc->profile->write[0], "/tmp/x");
    assert_string_equal(rc->profile->env[0], "MCP_*");
    assert_true(rc->profile->privileged);
    wd_runconfig_free(rc);
    assert_int_equal(decode_sq("{'name':'a','image':'i','permission_profile':{'network':'host'}}",
                               &rc, &e),
                     WD_OK);
    assert_int_equal(rc->profile->network, WD_NET_HOST);
    assert_false(rc->profile->privileged);
    wd_runconfig_free(rc);
    /* an empty name means no profile */
    assert_int_equal(decode_sq("{'name':'a','image':'i','permission_profile':''}", &rc, &e), WD_OK);
    assert_null(rc->profile_name);
    wd_runconfig_free(rc);
}

typedef struct bad {
    const char *json;
    wd_code code;
    const char *msg;
} bad;

static const bad cases[] = {
    /* 1 */ {"{'name':'a','command':['x'],'nmae':'b'}", WD_E_UNKNOWN_FIELD, "nmae: unknown field (did you mean 'name'?)"},
    {"{'command':['x']}", WD_E_MALFORMED, "name: missing required field"},
    {"{'name':3,'command':['x']}", WD_E_MALFORMED, "name: expected string"},
    {"{'name':'a b','command':['x']}", WD_E_MALFORMED, "name: not an id"},
    {"{'name':'a'}", WD_E_MALFORMED, "RunConfig: one of command, image, remote_url is required"},
    /* 6 */
    {"{'name':'a','command':['x'],'image':'i'}", WD_E_MALFORMED,
     "RunConfig: give only one of command, image, remote_url"},
    {"{'name':'a','image':'i','remote_url':'https://x'}", WD_E_MALFORMED,
     "RunConfig: give only one of command, image, remote_url"},
    {"{'name':'a','command':[]}", WD_E_MALFORMED, "command: empty list"},
    {"{'name':'a','command':[1]}", WD_E_MALFORMED, "command[0]: expected a string"},
    {"{'name':'a','command':['']}", WD_E_MALFORMED, "command[0]: empty program name"},
    /* 11 */
    {"{'name':'a','command':'x'}", WD_E_MALFORMED, "command: expected array"},
    {"{'name':'a','command':['x'],'transport':'ws'}", WD_E_MALFORMED,
     "transport: must be stdio, sse or streamable-http"},
    {"{'name':'a','command':['x'],'group':'a b'}", WD_E_MALFORMED, "group: not an id"},
    {"{'name':'a','command':['x'],'permission_profile':3}", WD_E_MALFORMED,
     "permission_profile: expected a profile name or a profile object"},
    {"{'name':'a','command':['x'],'permission_profile':'a b'}", WD_E_MALFORMED,
     "permission_profile: not an id"},
    /* 16 */
    {"{'name':'a','command':['x'],'permission_profile':{'nettwork':'none'}}", WD_E_UNKNOWN_FIELD,
     "permission_profile.nettwork: unknown field (did you mean 'network'?)"},
    {"{'name':'a','command':['x'],'permission_profile':{'read':['srv/**']}}", WD_E_MALFORMED,
     "permission_profile.read[0]: not an absolute path without '.', '..' or empty segments"},
    {"{'name':'a','command':['x'],'permission_profile':{'write':['/a/../b']}}", WD_E_MALFORMED,
     "permission_profile.write[0]: not an absolute path without '.', '..' or empty segments"},
    {"{'name':'a','command':['x'],'permission_profile':{'read':['/a//b']}}", WD_E_MALFORMED,
     "permission_profile.read[0]: not an absolute path without '.', '..' or empty segments"},
    {"{'name':'a','command':['x'],'permission_profile':{'env':['[A']}}", WD_E_MALFORMED,
     "permission_profile.env[0]: invalid glob: unterminated ["},
    /* 21 */
    {"{'name':'a','command':['x'],'permission_profile':{'privileged':'yes'}}", WD_E_MALFORMED,
     "permission_profile.privileged: expected true or false"},
    {"{'name':'a','command':['x'],'permission_profile':{'network':{'allow_ports':[70000]}}}",
     WD_E_MALFORMED, "permission_profile.network.allow_ports[0]: port must be 1..65535"},
    {"{'name':'a','command':['x'],'env':{'1BAD':'x'}}", WD_E_MALFORMED,
     "env.1BAD: not an environment variable name"},
    {"{'name':'a','command':['x'],'env':{'A':1}}", WD_E_MALFORMED, "env.A: expected a string"},
    {"{'name':'a','command':['x'],'env':['A']}", WD_E_MALFORMED, "env: expected object"},
    /* 26 */
    {"{'name':'a','command':['x'],'volumes':['relative:/x']}", WD_E_MALFORMED, NULL},
    {"{'name':'a','command':['x'],'volumes':['/a']}", WD_E_MALFORMED, NULL},
    {"{'name':'a','command':['x'],'volumes':['/a:/b:rx']}", WD_E_MALFORMED, NULL},
    {"{'name':'a','command':['x'],'volumes':['/a/../b:/c']}", WD_E_MALFORMED, NULL},
    {"{'name':'a','command':['x'],'volumes':['/a/*:/b']}", WD_E_MALFORMED, NULL},
    /* 31 */
    {"{'name':'a','command':['x'],'volumes':['/a:b']}", WD_E_MALFORMED, NULL},
    {"{'name':'a','command':['x'],'labels':{'a b':'x'}}", WD_E_MALFORMED,
     "labels.a b: label key is not an id"},
    {"{'name':'a','command':['x'],'labels':{'k':'a\\nb'}}", WD_E_MALFORMED,
     "labels.k: value contains a control character"},
    {"{'name':'a','command':['x'],'labels':{'k':true}}", WD_E_MALFORMED, "labels.k: expected a string"},
    {"{'name':'a','name':'b','command':['x']}", WD_E_DUPLICATE_KEY, NULL},
    /* 36 */
    {"{'name':'a','command':['x']} {}", WD_E_TRAILING_DATA, NULL},
    {"['name']", WD_E_MALFORMED, "(top level): expected object"},
    {"{'name':'a','command':['x']", WD_E_MALFORMED, NULL},
};

static void t04_rejections_have_exact_codes_and_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wd_runconfig *rc = (wd_runconfig *)&rc;
        wd_err e;
        wd_code got = decode_sq(cases[i].json, &rc, &e);
        if (got != cases[i].code || (cases[i].msg && strcmp(e.msg, cases[i].msg) != 0))
            fail_msg("case %zu %s: got %s '%s'", i + 1, cases[i].json, wd_code_name(got), e.msg);
        assert_null(rc);
    }
}

static void t05_env_values_never_reach_messages(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{'name':'a','command':['x'],'env':{'BAD NAME':'hunter2-secret'}}",
        "{'name':'a','command':['x'],'env':{'OK':'hunter2-secret','bad-name':'hunter2-secret'}}",
        "{'name':'a b','command':['x'],'env':{'OK':'hunter2-secret'}}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        wd_runconfig *rc = NULL;
        wd_err e;
        assert_int_equal(decode_sq(docs[i], &rc, &e), WD_E_MALFORMED);
        assert_null(strstr(e.msg, "hunter2"));
    }
}

static char *big_doc(size_t total, const char *head, const char *tail)
{
    size_t lh = strlen(head), lt = strlen(tail);
    assert_true(total > lh + lt);
    char *s = malloc(total + 1);
    assert_non_null(s);
    memcpy(s, head, lh);
    memset(s + lh, ' ', total - lh - lt);
    memcpy(s + total - lt, tail, lt + 1);
    return s;
}

static void t06_document_size_at_and_past_the_limit(void **state)
{
    (void)state;
    wd_runconfig *rc = NULL;
    wd_err e;
    char *s = big_doc(WD_MAX_RUNCONFIG, "{\"name\":\"a\",", "\"command\":[\"x\"]}");
    assert_int_equal(wd_runconfig_decode((unsigned char *)s, strlen(s), &rc, &e), WD_OK);
    wd_runconfig_free(rc);
    free(s);
    s = big_doc(WD_MAX_RUNCONFIG + 1, "{\"name\":\"a\",", "\"command\":[\"x\"]}");
    assert_int_equal(wd_runconfig_decode((unsigned char *)s, strlen(s), &rc, &e), WD_E_OVERSIZED);
    assert_null(rc);
    free(s);
}

static void t07_labels_at_and_past_the_limits(void **state)
{
    (void)state;
    char *s = malloc(16384);
    assert_non_null(s);
    wd_runconfig *rc = NULL;
    wd_err e;
    for (int n = WD_MAX_LABELS; n <= WD_MAX_LABELS + 1; n++) {
        size_t k = (size_t)snprintf(s, 16384, "{\"name\":\"a\",\"command\":[\"x\"],\"labels\":{");
        for (int i = 0; i < n; i++)
            k += (size_t)snprintf(s + k, 16384 - k, "%s\"k%d\":\"v\"", i ? "," : "", i);
        snprintf(s + k, 16384 - k, "}}");
        wd_code got = wd_runconfig_decode((unsigned char *)s, strlen(s), &rc, &e);
        if (n == WD_MAX_LABELS) {
            assert_int_equal(got, WD_OK);
            assert_int_equal(rc->n_labels, WD_MAX_LABELS);
            wd_runconfig_free(rc);
        } else {
            assert_int_equal(got, WD_E_OVERSIZED);
            assert_string_equal(e.msg, "labels: 65 labels, more than 64");
        }
    }
    for (int n = WD_MAX_LABEL_VALUE; n <= WD_MAX_LABEL_VALUE + 1; n++) {
        size_t k = (size_t)snprintf(s, 16384, "{\"name\":\"a\",\"command\":[\"x\"],\"labels\":{\"k\":\"");
        memset(s + k, 'v', (size_t)n);
        snprintf(s + k + (size_t)n, 16384 - k - (size_t)n, "\"}}");
        wd_code got = wd_runconfig_decode((unsigned char *)s, strlen(s), &rc, &e);
        assert_int_equal(got, n == WD_MAX_LABEL_VALUE ? WD_OK : WD_E_OVERSIZED);
        wd_runconfig_free(rc);
    }
    assert_string_equal(e.msg, "labels.k: value longer than 256 bytes");
    free(s);
}

static void t08_load_file(void **state)
{
    (void)state;
    wd_runconfig *rc = (wd_runconfig *)&rc;
    wd_err e;
    assert_int_equal(wd_runconfig_load_file("/nonexistent/run.json", &rc, &e), WD_E_IO);
    assert_null(rc);
    char path[] = "/tmp/wd-rc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *doc = "{\"name\":\"a\",\"command\":[\"node\"],\"env\":{\"K\":\"v\"}}";
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    assert_int_equal(wd_runconfig_load_file(path, &rc, &e), WD_OK);
    assert_string_equal(rc->env[0].value, "v");
    wd_runconfig_free(rc);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_minimal_runconfig_gets_defaults),
        cmocka_unit_test(t02_the_spec_example_decodes),
        cmocka_unit_test(t03_inline_profile_decodes),
        cmocka_unit_test(t04_rejections_have_exact_codes_and_messages),
        cmocka_unit_test(t05_env_values_never_reach_messages),
        cmocka_unit_test(t06_document_size_at_and_past_the_limit),
        cmocka_unit_test(t07_labels_at_and_past_the_limits),
        cmocka_unit_test(t08_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
