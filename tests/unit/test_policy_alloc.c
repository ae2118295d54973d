/* test_policy_alloc.c — focus: a decision allocates nothing. malloc and friends are replaced in
 * this program by counting versions, so any allocation during server and tool decisions, the
 * explanations, or a check through the gate chain is seen. Sanitizer builds own malloc, so
 * there the counting cannot be installed and the test reports itself skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/gate.h"
#include "warden/policy.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                       \
    __has_feature(memory_sanitizer)
#define WD_SANITIZED 1
#endif
#endif

#ifndef WD_SANITIZED
static atomic_long allocs;

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
    atomic_fetch_add(&allocs, 1);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    atomic_fetch_add(&allocs, 1);
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add(&allocs, 1);
    return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

static const char *yaml =
    "version: 1\n"
    "servers:\n"
    "  default: deny\n"
    "  rules:\n"
    "    - {name: no-shells, action: deny, match: {command: [sh, bash]}}\n"
    "    - name: fs\n"
    "      action: allow\n"
    "      match: {name: [\"fs-*\"], command: [npx], args: [\"-y\"], labels: {team: a}}\n"
    "      limits: {profile: p}\n"
    "    - {name: any, action: allow, match: {name: [\"*\"], image: [\"ghcr.io/**\"]}, limits: {profile: p}}\n"
    "permission_profiles:\n"
    "  p: {network: {allow_hosts: [\"*.example\"], allow_ports: [443]}, read: [\"/srv/**\"], "
    "write: [\"/tmp/[a-z]*/**\"], env: [HOME, \"MCP_*\"]}\n"
    "mcp_tool_policy:\n"
    "  rules:\n"
    "    - {name: sys, action: deny, tool: [\"write_*\"], args: [{key: path, regex: \"^/(etc|usr)/\"}]}\n"
    "    - {name: redos, action: deny, tool: [grep], args: [{key: q, regex: \"^(a+)+$\"}]}\n"
    "    - {name: w, action: warn, tool: [\"read_*\"], args: [{key: n, regex: \"^[0-9]{6,}$\"}]}\n";

static void step(void *arg, const wd_explain_step *s)
{
    (void)s;
    (*(int *)arg)++;
}

static void t01_decisions_allocate_nothing(void **state)
{
    (void)state;
    wd_policy *p = NULL;
    wd_err e;
    assert_int_equal(wd_policy_load((const unsigned char *)yaml, strlen(yaml), &p, &e), WD_OK);
    const wd_gate_ops *ops;
    void *ctx;
    wd_gate_id id;
    assert_int_equal(wd_policy_gate_new(p, &ops, &ctx, &e), WD_OK);
    assert_int_equal(wd_gate_register(ops, ctx, &id, &e), WD_OK);

    char *argv[] = {"npx", "-y", "pkg"};
    char *rd[] = {"/srv/data/**"}, *wr[] = {"/tmp/x/**"}, *en[] = {"MCP_*"}, *hosts[] = {"a.example"};
    uint16_t ports[] = {443};
    wd_profile prof = {WD_NET_ALLOW, hosts, 1, ports, 1, rd, 1, wr, 1, en, 1, false};
    wd_kv env[] = {{"HOME", "/h"}}, labels[] = {{"team", "a"}};
    char *vols[] = {"/srv/x:/x:ro"};
    wd_runconfig rc = {0};
    rc.name = "fs-1";
    rc.transport = "stdio";
    rc.command = argv;
    rc.n_command = 3;
    rc.profile = &prof;
    rc.env = env;
    rc.n_env = 1;
    rc.labels = labels;
    rc.n_labels = 1;
    rc.volumes = vols;
    rc.n_volumes = 1;

    static char redos[3001];
    memset(redos, 'a', 3000);
    redos[2999] = 'b';
    wd_tool_arg a1 = {"path", "/etc/passwd", 11}, a2 = {"q", redos, 3000}, a3 = {"n", "1234567", 7};
    wd_tool_call c1 = {"fs-1", "write_file", &a1, 1}, c2 = {"x", "grep", &a2, 1},
                 c3 = {"x", "read_file", &a3, 1};

    wd_decision d;
    atomic_store(&allocs, 0);
    for (int i = 0; i < 200; i++) {
        wd_policy_decide_server(p, &rc, &d);
        assert_int_equal(d.verdict, WD_VERDICT_ALLOW);
        int n = 0;
        wd_policy_explain_server(p, &rc, step, &n, &d);
        assert_int_equal(wd_gate_check_create(&rc, &d, &e), WD_OK);
        wd_policy_decide_tool(p, &c1, &d);
        assert_int_equal(d.verdict, WD_VERDICT_DENY);
        wd_policy_decide_tool(p, &c2, &d);
        assert_true(d.regex_limit);
        wd_policy_explain_tool(p, &c3, step, &n, &d);
        assert_true(d.warn);
        assert_int_equal(wd_gate_check_tool(&c1, &d, &e), WD_E_DENIED);
    }
    long during = atomic_load(&allocs);
    assert_int_equal(during, 0);

    /* the counter does count: decoding a RunConfig allocates */
    wd_runconfig *dec = NULL;
    const char *j = "{\"name\":\"a\",\"command\":[\"x\"]}";
    assert_int_equal(wd_runconfig_decode((const unsigned char *)j, strlen(j), &dec, &e), WD_OK);
    assert_true(atomic_load(&allocs) > 0);
    wd_runconfig_free(dec);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);
    wd_policy_unref(p);
}
#else
static void t01_decisions_allocate_nothing(void **state)
{
    (void)state;
    skip(); /* the sanitizer's allocator cannot be replaced */
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_decisions_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
