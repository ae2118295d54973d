/* test_gate.c — focus: the gate chain (SPEC §8): allow-all when empty, NULL operations, first
 * denial wins, the size field of older tables, failing gates, destroy exactly once, the
 * registration limit, and the built-in policy gate's messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/gate.h"
#include "warden/policy.h"

/* A scripted gate: what it answers, and what happened to it. */
typedef struct fake {
    wd_verdict verdict;
    const char *rule, *reason;
    wd_code ret;
    bool audit, warn;
    int create_calls, restart_calls, tool_calls, destroyed;
    wd_gate_id self; /* unregistered from inside its own check when set */
    bool unregister_self;
    int destroyed_during_check;
} fake;

static wd_code answer(fake *f, wd_decision *d)
{
    d->verdict = f->verdict;
    if (f->rule)
        snprintf(d->rule, sizeof d->rule, "%s", f->rule);
    if (f->reason)
        snprintf(d->reason, sizeof d->reason, "%s", f->reason);
    d->audit_would_deny = f->audit;
    d->warn = f->warn;
    if (f->unregister_self) {
        assert_int_equal(wd_gate_unregister(f->self, NULL), WD_OK);
        f->destroyed_during_check = f->destroyed;
    }
    return f->ret;
}

static wd_code f_create(void *ctx, const wd_runconfig *rc, wd_decision *d)
{
    (void)rc;
    ((fake *)ctx)->create_calls++;
    return answer(ctx, d);
}

static wd_code f_restart(void *ctx, const wd_runconfig *rc, wd_decision *d)
{
    (void)rc;
    ((fake *)ctx)->restart_calls++;
    return answer(ctx, d);
}

static wd_code f_tool(void *ctx, const wd_tool_call *call, wd_decision *d)
{
    (void)call;
    ((fake *)ctx)->tool_calls++;
    return answer(ctx, d);
}

static void f_destroy(void *ctx) { ((fake *)ctx)->destroyed++; }

static const wd_gate_ops fake_ops = {sizeof(wd_gate_ops), f_create, f_restart, f_tool, f_destroy};

static wd_runconfig rc0;
static const wd_tool_call call0 = {"srv", "tool", NULL, 0};

static int setup(void **state)
{
    (void)state;
    rc0.name = "srv";
    return 0;
}

/* Every test leaves the registry empty. */
static int check_empty(void **state)
{
    (void)state;
    return wd_gate_count() == 0 ? 0 : -1;
}

static void t01_nothing_registered_allows_everything(void **state)
{
    (void)state;
    wd_decision d;
    wd_err e;
    assert_int_equal(wd_gate_count(), 0);
    assert_int_equal(wd_gate_check_create(&rc0, &d, &e), WD_OK);
    assert_int_equal(d.verdict, WD_VERDICT_ALLOW);
    assert_string_equal(d.rule, "");
    assert_int_equal(wd_gate_check_restart(&rc0, &d, &e), WD_OK);
    assert_int_equal(wd_gate_check_tool(&call0, &d, NULL), WD_OK);
}

static void t02_null_operations_allow(void **state)
{
    (void)state;
    fake f = {.verdict = WD_VERDICT_DENY, .rule = "r", .reason = "x"};
    wd_gate_ops ops = {sizeof ops, NULL, NULL, NULL, f_destroy};
    wd_gate_id id;
    assert_int_equal(wd_gate_register(&ops, &f, &id, NULL), WD_OK);
    assert_true(id != 0);
    wd_decision d;
    assert_int_equal(wd_gate_check_create(&rc0, &d, NULL), WD_OK);
    assert_int_equal(wd_gate_check_restart(&rc0, &d, NULL), WD_OK);
    assert_int_equal(wd_gate_check_tool(&call0, &d, NULL), WD_OK);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);
    assert_int_equal(f.destroyed, 1);
}

static void t03_first_denial_wins(void **state)
{
    (void)state;
    fake a = {.verdict = WD_VERDICT_DENY, .rule = "rule-a", .reason = "reason a"};
    fake b = {.verdict = WD_VERDICT_DENY, .rule = "rule-b", .reason = "reason b"};
    wd_gate_id ia, ib;
    assert_int_equal(wd_gate_register(&fake_ops, &a, &ia, NULL), WD_OK);
    assert_int_equal(wd_gate_register(&fake_ops, &b, &ib, NULL), WD_OK);
    assert_int_equal(wd_gate_count(), 2);
    wd_decision d;
    wd_err e;
    assert_int_equal(wd_gate_check_create(&rc0, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "server creation blocked by policy: reason a (rule rule-a)");
    assert_string_equal(d.rule, "rule-a");
    assert_int_equal(b.create_calls, 0); /* the chain stops at the first denial */
    assert_int_equal(wd_gate_check_restart(&rc0, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "server restart blocked by policy: reason a (rule rule-a)");
    assert_int_equal(wd_gate_check_tool(&call0, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "tool call blocked by policy: reason a (rule rule-a)");
    /* re-register a behind b: now b is first */
    assert_int_equal(wd_gate_unregister(ia, NULL), WD_OK);
    assert_int_equal(a.destroyed, 1);
    a.destroyed = 0;
    assert_int_equal(wd_gate_register(&fake_ops, &a, &ia, NULL), WD_OK);
    assert_int_equal(wd_gate_check_create(&rc0, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "server creation blocked by policy: reason b (rule rule-b)");
    /* an allowing gate in front does not change a later denial */
    b.verdict = WD_VERDICT_ALLOW;
    assert_int_equal(wd_gate_check_create(&rc0, &d, &e), WD_E_DENIED);
    assert_string_equal(d.rule, "rule-a");
    assert_int_equal(b.create_calls, 2);
    assert_int_equal(wd_gate_unregister(ia, NULL), WD_OK);
    assert_int_equal(wd_gate_unregister(ib, NULL), WD_OK);
    assert_int_equal(a.destroyed + b.destroyed, 2);
}

static void t04_a_shorter_table_is_never_read_past_its_size(void **state)
{
    (void)state;
    fake f = {.verdict = WD_VERDICT_DENY, .rule = "r", .reason = "old gate"};
    /* the table of an older gate that only knew check_create_server; the bytes after it hold
     * functions that must never be called */
    wd_gate_ops ops = fake_ops;
    ops.size = offsetof(wd_gate_ops, check_restart_server);
    wd_gate_id id;
    assert_int_equal(wd_gate_register(&ops, &f, &id, NULL), WD_OK);
    wd_decision d;
    assert_int_equal(wd_gate_check_create(&rc0, &d, NULL), WD_E_DENIED);
    assert_int_equal(wd_gate_check_restart(&rc0, &d, NULL), WD_OK);
    assert_int_equal(wd_gate_check_tool(&call0, &d, NULL), WD_OK);
    assert_int_equal(f.create_calls, 1);
    assert_int_equal(f.restart_calls + f.tool_calls, 0);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);
    assert_int_equal(f.destroyed, 0); /* destroy was past its size too */

    /* a size that covers only part of a member does not cover it */
    ops.size = offsetof(wd_gate_ops, check_tool_call) + 1;
    assert_int_equal(wd_gate_register(&ops, &f, &id, NULL), WD_OK);
    assert_int_equal(wd_gate_check_restart(&rc0, &d, NULL), WD_E_DENIED);
    assert_int_equal(wd_gate_check_tool(&call0, &d, NULL), WD_OK);
    assert_int_equal(f.tool_calls, 0);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);

    /* just the size field: a gate with no operations at all */
    ops.size = sizeof ops.size;
    assert_int_equal(wd_gate_register(&ops, &f, &id, NULL), WD_OK);
    assert_int_equal(wd_gate_check_create(&rc0, &d, NULL), WD_OK);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);

    /* a larger table (from a newer header) is accepted; the known members are used */
    struct {
        wd_gate_ops ops;
        void *newer_op;
    } big = {fake_ops, NULL};
    big.ops.size = sizeof big;
    assert_int_equal(wd_gate_register(&big.ops, &f, &id, NULL), WD_OK);
    assert_int_equal(wd_gate_check_tool(&call0, &d, NULL), WD_E_DENIED);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);
    assert_int_equal(f.destroyed, 1);
}

static void t05_bad_registrations_change_nothing(void **state)
{
    (void)state;
    wd_err e;
    wd_gate_id id = 99;
    assert_int_equal(wd_gate_register(NULL, NULL, &id, &e), WD_E_USAGE);
    assert_int_equal(id, 0);
    wd_gate_ops ops = fake_ops;
    ops.size = sizeof ops.size - 1;
    assert_int_equal(wd_gate_register(&ops, NULL, &id, &e), WD_E_USAGE);
    assert_int_equal(wd_gate_count(), 0);
    assert_int_equal(wd_gate_unregister(12345, &e), WD_E_USAGE);
    assert_string_equal(e.msg, "gate: no gate is registered as 12345");
}

static void t06_registration_limit_at_and_past(void **state)
{
    (void)state;
    fake f[WD_GATE_MAX + 1];
    wd_gate_id id[WD_GATE_MAX + 1];
    memset(f, 0, sizeof f);
    for (int i = 0; i < WD_GATE_MAX; i++)
        assert_int_equal(wd_gate_register(&fake_ops, &f[i], &id[i], NULL), WD_OK);
    wd_err e;
    assert_int_equal(wd_gate_register(&fake_ops, &f[WD_GATE_MAX], &id[WD_GATE_MAX], &e), WD_E_USAGE);
    assert_string_equal(e.msg, "gate: 16 gates are registered already (the most)");
    assert_int_equal(f[WD_GATE_MAX].destroyed, 0); /* the caller still owns it */
    assert_int_equal(wd_gate_count(), WD_GATE_MAX);
    wd_decision d;
    assert_int_equal(wd_gate_check_create(&rc0, &d, NULL), WD_OK);
    for (int i = 0; i < WD_GATE_MAX; i++) {
        assert_int_equal(f[i].create_calls, 1);
        assert_int_equal(wd_gate_unregister(id[i], NULL), WD_OK);
        assert_int_equal(wd_gate_unregister(id[i], NULL), WD_E_USAGE); /* only once */
        assert_int_equal(f[i].destroyed, 1);
    }
}

static void t07_a_gate_that_cannot_decide_denies(void **state)
{
    (void)state;
    fake f = {.verdict = WD_VERDICT_ALLOW, .ret = WD_E_IO};
    wd_gate_id id;
    assert_int_equal(wd_gate_register(&fake_ops, &f, &id, NULL), WD_OK);
    wd_decision d;
    wd_err e;
    assert_int_equal(wd_gate_check_create(&rc0, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg,
                        "server creation blocked by policy: a gate could not decide: io-error (rule gate)");
    assert_int_equal(d.verdict, WD_VERDICT_DENY);
    /* a denial without rule or reason still reads as one */
    f.ret = WD_OK;
    f.verdict = WD_VERDICT_DENY;
    assert_int_equal(wd_gate_check_tool(&call0, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "tool call blocked by policy: denied (rule unnamed)");
    /* any verdict other than allow is a denial */
    f.verdict = (wd_verdict)7;
    assert_int_equal(wd_gate_check_tool(&call0, &d, &e), WD_E_DENIED);
    assert_int_equal(d.verdict, WD_VERDICT_DENY);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);
}

static wd_code unterminated(void *ctx, const wd_runconfig *rc, wd_decision *d)
{
    (void)ctx;
    (void)rc;
    d->verdict = WD_VERDICT_DENY;
    memset(d->rule, 'r', sizeof d->rule);
    memset(d->reason, 'x', sizeof d->reason);
    return WD_OK;
}

static void t08_unterminated_strings_from_a_gate_are_cut(void **state)
{
    (void)state;
    wd_gate_ops ops = {sizeof ops, unterminated, NULL, NULL, NULL};
    wd_gate_id id;
    assert_int_equal(wd_gate_register(&ops, NULL, &id, NULL), WD_OK);
    wd_decision d;
    wd_err e;
    assert_int_equal(wd_gate_check_create(&rc0, &d, &e), WD_E_DENIED);
    assert_int_equal(strlen(d.rule), sizeof d.rule - 1);
    assert_int_equal(strlen(d.reason), sizeof d.reason - 1);
    assert_true(strlen(e.msg) < sizeof e.msg);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);
}

static void t09_the_most_telling_allow_is_reported(void **state)
{
    (void)state;
    fake plain = {.verdict = WD_VERDICT_ALLOW};
    fake named = {.verdict = WD_VERDICT_ALLOW, .rule = "named", .reason = "ok"};
    fake audit = {.verdict = WD_VERDICT_ALLOW, .rule = "would", .reason = "audit", .audit = true};
    fake warn = {.verdict = WD_VERDICT_ALLOW, .rule = "warned", .reason = "w", .warn = true};
    wd_gate_id i1, i2, i3, i4;
    assert_int_equal(wd_gate_register(&fake_ops, &plain, &i1, NULL), WD_OK);
    assert_int_equal(wd_gate_register(&fake_ops, &named, &i2, NULL), WD_OK);
    wd_decision d;
    assert_int_equal(wd_gate_check_create(&rc0, &d, NULL), WD_OK);
    assert_string_equal(d.rule, "named");
    assert_int_equal(wd_gate_register(&fake_ops, &audit, &i3, NULL), WD_OK);
    assert_int_equal(wd_gate_register(&fake_ops, &warn, &i4, NULL), WD_OK);
    assert_int_equal(wd_gate_check_create(&rc0, &d, NULL), WD_OK);
    assert_string_equal(d.rule, "would"); /* the first flagged one */
    assert_true(d.audit_would_deny);
    assert_int_equal(wd_gate_unregister(i3, NULL), WD_OK);
    assert_int_equal(wd_gate_check_create(&rc0, &d, NULL), WD_OK);
    assert_string_equal(d.rule, "warned");
    assert_true(d.warn);
    assert_int_equal(wd_gate_unregister(i1, NULL), WD_OK);
    assert_int_equal(wd_gate_unregister(i2, NULL), WD_OK);
    assert_int_equal(wd_gate_unregister(i4, NULL), WD_OK);
}

static void t10_unregistering_during_a_check_defers_destroy(void **state)
{
    (void)state;
    fake f = {.verdict = WD_VERDICT_ALLOW, .unregister_self = true};
    assert_int_equal(wd_gate_register(&fake_ops, &f, &f.self, NULL), WD_OK);
    wd_decision d;
    assert_int_equal(wd_gate_check_create(&rc0, &d, NULL), WD_OK);
    assert_int_equal(f.destroyed_during_check, 0); /* still in use while its check ran */
    assert_int_equal(f.destroyed, 1);              /* destroyed when the check let go */
    assert_int_equal(wd_gate_count(), 0);
}

static const char *policy_yaml =
    "version: 1\n"
    "servers:\n"
    "  default: deny\n"
    "  rules:\n"
    "    - {name: no-shells, action: deny, reason: shells run anything, match: {command: [bash]}}\n"
    "    - {name: node-ok, action: allow, match: {command: [node]}, limits: {profile: small}}\n"
    "permission_profiles:\n"
    "  small: {env: [HOME]}\n"
    "mcp_tool_policy:\n"
    "  rules:\n"
    "    - {name: no-rm, action: deny, reason: no deleting, tool: [\"delete_*\"]}\n";

static void t11_the_policy_gate_reports_denials_unchanged(void **state)
{
    (void)state;
    wd_policy *p = NULL;
    wd_err e;
    assert_int_equal(wd_policy_load((const unsigned char *)policy_yaml, strlen(policy_yaml), &p, &e),
                     WD_OK);
    const wd_gate_ops *ops = NULL;
    void *ctx = NULL;
    assert_int_equal(wd_policy_gate_new(p, &ops, &ctx, &e), WD_OK);
    assert_int_equal(ops->size, sizeof(wd_gate_ops));
    wd_gate_id id;
    assert_int_equal(wd_gate_register(ops, ctx, &id, &e), WD_OK);
    wd_policy_unref(p); /* the gate holds its own reference */

    char *bash[] = {"bash", "-c", "x"}, *node[] = {"node", "s.js"};
    wd_runconfig rc = {0};
    rc.name = "s";
    rc.command = bash;
    rc.n_command = 3;
    wd_decision d;
    assert_int_equal(wd_gate_check_create(&rc, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "server creation blocked by policy: shells run anything (rule no-shells)");
    assert_int_equal(wd_gate_check_restart(&rc, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "server restart blocked by policy: shells run anything (rule no-shells)");
    rc.command = node;
    rc.n_command = 2;
    assert_int_equal(wd_gate_check_create(&rc, &d, &e), WD_OK);
    assert_string_equal(d.rule, "node-ok");
    assert_string_equal(d.profile, "small");
    rc.name = "other";
    rc.command = (char *[]){"python3"};
    rc.n_command = 1;
    assert_int_equal(wd_gate_check_create(&rc, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg,
                        "server creation blocked by policy: no rule matched (default deny) (rule servers.default)");
    wd_tool_call call = {"s", "delete_file", NULL, 0};
    assert_int_equal(wd_gate_check_tool(&call, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "tool call blocked by policy: no deleting (rule no-rm)");
    call.tool = "read_file";
    assert_int_equal(wd_gate_check_tool(&call, &d, &e), WD_OK);

    /* a second gate beside the policy gate: every gate must allow */
    fake names = {.verdict = WD_VERDICT_DENY, .rule = "blocklist", .reason = "name is blocked"};
    wd_gate_id id2;
    assert_int_equal(wd_gate_register(&fake_ops, &names, &id2, NULL), WD_OK);
    rc.name = "s";
    rc.command = node;
    rc.n_command = 2;
    assert_int_equal(wd_gate_check_create(&rc, &d, &e), WD_E_DENIED);
    assert_string_equal(e.msg, "server creation blocked by policy: name is blocked (rule blocklist)");
    assert_int_equal(wd_gate_unregister(id2, NULL), WD_OK);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);

    assert_int_equal(wd_policy_gate_new(NULL, &ops, &ctx, &e), WD_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(t01_nothing_registered_allows_everything, check_empty),
        cmocka_unit_test_teardown(t02_null_operations_allow, check_empty),
        cmocka_unit_test_teardown(t03_first_denial_wins, check_empty),
        cmocka_unit_test_teardown(t04_a_shorter_table_is_never_read_past_its_size, check_empty),
        cmocka_unit_test_teardown(t05_bad_registrations_change_nothing, check_empty),
        cmocka_unit_test_teardown(t06_registration_limit_at_and_past, check_empty),
        cmocka_unit_test_teardown(t07_a_gate_that_cannot_decide_denies, check_empty),
        cmocka_unit_test_teardown(t08_unterminated_strings_from_a_gate_are_cut, check_empty),
        cmocka_unit_test_teardown(t09_the_most_telling_allow_is_reported, check_empty),
        cmocka_unit_test_teardown(t10_unregistering_during_a_check_defers_destroy, check_empty),
        cmocka_unit_test_teardown(t11_the_policy_gate_reports_denials_unchanged, check_empty),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
