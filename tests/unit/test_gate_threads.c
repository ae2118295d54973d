/* test_gate_threads.c — focus: the gate registry under concurrency: checks running while gates
 * are registered and unregistered, destroy exactly once and never during a check, checks that
 * run side by side instead of waiting for each other. Meant to be clean under ThreadSanitizer
 * (scripts/tsan.sh builds and runs it with -fsanitize=thread). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "warden/gate.h"
#include "warden/policy.h"

typedef struct tgate {
    bool deny;
    atomic_int in_check;
    atomic_int destroyed;
    atomic_int calls;
} tgate;

static atomic_int errors;
static atomic_int destroys;

static wd_code t_create(void *ctx, const wd_runconfig *rc, wd_decision *d)
{
    (void)rc;
    tgate *g = ctx;
    atomic_fetch_add(&g->in_check, 1);
    if (atomic_load(&g->destroyed))
        atomic_fetch_add(&errors, 1); /* called after destroy */
    atomic_fetch_add(&g->calls, 1);
    if (g->deny) {
        d->verdict = WD_VERDICT_DENY;
        strcpy(d->rule, "deny-gate");
        strcpy(d->reason, "denied by the test gate");
    }
    atomic_fetch_sub(&g->in_check, 1);
    return WD_OK;
}

static void t_destroy(void *ctx)
{
    tgate *g = ctx;
    if (atomic_load(&g->in_check) != 0)
        atomic_fetch_add(&errors, 1); /* destroyed during a check */
    if (atomic_fetch_add(&g->destroyed, 1) != 0)
        atomic_fetch_add(&errors, 1); /* destroyed twice */
    atomic_fetch_add(&destroys, 1);
}

static const wd_gate_ops tops = {sizeof(wd_gate_ops), t_create, t_create, NULL, t_destroy};

#define CHECKERS 4
#define CHECKS 20000
#define ROUNDS 3000

static wd_policy *shared_policy;

static void *checker(void *arg)
{
    (void)arg;
    char *argv[] = {"node", "x.js"};
    wd_runconfig rc = {0};
    rc.name = "srv";
    rc.command = argv;
    rc.n_command = 2;
    for (int i = 0; i < CHECKS; i++) {
        wd_decision d;
        wd_err e;
        wd_code r = wd_gate_check_create(&rc, &d, &e);
        if (r == WD_OK && d.verdict != WD_VERDICT_ALLOW)
            atomic_fetch_add(&errors, 1);
        if (r == WD_E_DENIED && strcmp(d.rule, "deny-gate") != 0)
            atomic_fetch_add(&errors, 1); /* the policy gate allows this RunConfig */
        if (r != WD_OK && r != WD_E_DENIED)
            atomic_fetch_add(&errors, 1);
        wd_tool_call call = {"srv", "t", NULL, 0};
        if (wd_gate_check_tool(&call, &d, NULL) != WD_OK) /* no gate denies tools */
            atomic_fetch_add(&errors, 1);
    }
    return NULL;
}

static tgate gates[ROUNDS];
static int registered_fakes;

static void *mutator(void *arg)
{
    (void)arg;
    wd_gate_id live[8];
    int n = 0;
    unsigned seed = 5;
    for (int i = 0; i < ROUNDS; i++) {
        tgate *g = &gates[i];
        g->deny = rand_r(&seed) % 3 == 0;
        wd_gate_id id;
        if (i % 5 == 0) {
            const wd_gate_ops *ops;
            void *ctx;
            if (wd_policy_gate_new(shared_policy, &ops, &ctx, NULL) != WD_OK ||
                wd_gate_register(ops, ctx, &id, NULL) != WD_OK) {
                atomic_fetch_add(&errors, 1);
                continue;
            }
        } else {
            if (wd_gate_register(&tops, g, &id, NULL) != WD_OK) {
                atomic_fetch_add(&errors, 1);
                continue;
            }
            registered_fakes++;
        }
        live[n++] = id;
        if (n == 8 || rand_r(&seed) % 2) {
            int k = (int)(rand_r(&seed) % (unsigned)n);
            if (wd_gate_unregister(live[k], NULL) != WD_OK)
                atomic_fetch_add(&errors, 1);
            live[k] = live[--n];
        }
    }
    while (n > 0)
        if (wd_gate_unregister(live[--n], NULL) != WD_OK)
            atomic_fetch_add(&errors, 1);
    return NULL;
}

static void t01_register_and_unregister_while_checks_run(void **state)
{
    (void)state;
    static const char *y = "version: 1\nservers:\n  rules:\n"
                           "    - {name: node, action: allow, match: {command: [node]}}\n";
    wd_err e;
    assert_int_equal(wd_policy_load((const unsigned char *)y, strlen(y), &shared_policy, &e), WD_OK);
    pthread_t c[CHECKERS], m;
    for (int i = 0; i < CHECKERS; i++)
        assert_int_equal(pthread_create(&c[i], NULL, checker, NULL), 0);
    assert_int_equal(pthread_create(&m, NULL, mutator, NULL), 0);
    for (int i = 0; i < CHECKERS; i++)
        pthread_join(c[i], NULL);
    pthread_join(m, NULL);
    assert_int_equal(atomic_load(&errors), 0);
    assert_int_equal(wd_gate_count(), 0);
    assert_int_equal(atomic_load(&destroys), registered_fakes); /* each exactly once */
    wd_policy_info info;
    wd_policy_get_info(shared_policy, &info); /* still alive: every gate's reference is gone */
    wd_policy_unref(shared_policy);
}

/* Two checks meet inside a gate: each waits until the other has arrived. If checks were
 * serialised, the first would wait forever (the rendezvous gives up after 60 s and fails). */
static atomic_int arrived;

static wd_code meet(void *ctx, const wd_runconfig *rc, wd_decision *d)
{
    (void)ctx;
    (void)rc;
    (void)d;
    atomic_fetch_add(&arrived, 1);
    time_t t0 = time(NULL);
    while (atomic_load(&arrived) < 2) {
        if (time(NULL) - t0 > 60)
            return WD_E_INTERNAL;
        sched_yield();
    }
    return WD_OK;
}

static void *meet_checker(void *arg)
{
    wd_runconfig rc = {0};
    rc.name = "srv";
    wd_decision d;
    *(wd_code *)arg = wd_gate_check_create(&rc, &d, NULL);
    return NULL;
}

static void t02_checks_do_not_wait_for_each_other(void **state)
{
    (void)state;
    wd_gate_ops ops = {sizeof ops, meet, NULL, NULL, NULL};
    wd_gate_id id;
    assert_int_equal(wd_gate_register(&ops, NULL, &id, NULL), WD_OK);
    pthread_t a, b;
    wd_code ra = WD_E_INTERNAL, rb = WD_E_INTERNAL;
    assert_int_equal(pthread_create(&a, NULL, meet_checker, &ra), 0);
    assert_int_equal(pthread_create(&b, NULL, meet_checker, &rb), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_int_equal(ra, WD_OK);
    assert_int_equal(rb, WD_OK);
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);
}

/* Decisions from many threads on one compiled policy, tools with regexes included. */
static wd_policy *rx_policy;

static void *decider(void *arg)
{
    (void)arg;
    wd_tool_arg a = {"path", "/etc/passwd", 11};
    wd_tool_call call = {"fs", "write_file", &a, 1};
    for (int i = 0; i < CHECKS; i++) {
        wd_decision d;
        wd_policy_decide_tool(rx_policy, &call, &d);
        if (d.verdict != WD_VERDICT_DENY)
            atomic_fetch_add(&errors, 1);
    }
    return NULL;
}

static void t03_one_policy_decides_in_many_threads(void **state)
{
    (void)state;
    static const char *y = "version: 1\nmcp_tool_policy:\n  rules:\n"
                           "    - {name: sys, action: deny, tool: [write_file], "
                           "args: [{key: path, regex: \"^/(etc|usr)/\"}]}\n";
    wd_err e;
    assert_int_equal(wd_policy_load((const unsigned char *)y, strlen(y), &rx_policy, &e), WD_OK);
    pthread_t t[CHECKERS];
    for (int i = 0; i < CHECKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, decider, NULL), 0);
    for (int i = 0; i < CHECKERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    wd_policy_unref(rx_policy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_register_and_unregister_while_checks_run),
        cmocka_unit_test(t02_checks_do_not_wait_for_each_other),
        cmocka_unit_test(t03_one_policy_decides_in_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
