/* test_agent_state.c — focus: the follower's state directory: the stale-policy rule at its
 * limits, open and re-verify (fail closed on tampering), applying rosters, bundles and kills
 * (honored and not), no-ops, rejections that change nothing, the roster chain helper, the
 * lock, status, the runner's view, and the crash hook. Each test works in its own temporary
 * directory and removes it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "crypto/crypto.h"
#include "msg/bundle.h"
#include "msg/kill.h"
#include "state.h"

#include "msg_fixtures.h"

static const char POLICY[] = "version: 1\nservers:\n  default: deny\n  rules:\n"
                             "    - name: t\n      match: {name: [\"true\"]}\n"
                             "      action: allow\n";
static const char POLICY2[] = "version: 1\nservers:\n  default: allow\n";

static wd_label follower_labels[] = {{(char *)"team", (char *)"payments"}};

typedef struct fx {
    char dir[64];
    char pin[WD_DIGEST_STRLEN + 1];
    char *roster_env;
    size_t roster_len;
    wd_agent_config cfg;
} fx;

static int setup(void **state)
{
    if (msgfx_setup(MSGFX_KILL, WD_PURPOSE_KILL_SIGNING) != 0)
        return -1;
    fx *x = calloc(1, sizeof *x);
    if (x == NULL)
        return -1;
    snprintf(x->dir, sizeof x->dir, "/tmp/wd-agent-XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        return -1;
    snprintf(x->pin, sizeof x->pin, "%s", wd_key_id(F.root));
    wd_err e;
    if (wd_roster_sign(F.roster, &F.root, 1, &x->roster_env, &x->roster_len, &e) != WD_OK)
        return -1;
    x->cfg = (wd_agent_config){
        .state_dir = x->dir,
        .pin = x->pin,
        .follower = {"acme", "prod", "eu1", "i-1", follower_labels, 1},
        .honor_kill = true,
        .stale_grace = HOUR,
        .stale_then = WD_STALE_DENY_ALL,
    };
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    if (system(cmd) != 0)
        return -1;
    free(x->roster_env);
    free(x);
    return msgfx_teardown();
}

static void digest(const char *p, size_t n, char out[WD_DIGEST_STRLEN + 1])
{
    wd_err e;
    assert_int_equal(wd_digest_of(p, n, out, &e), WD_OK);
}

/* A bundle envelope: version v, previous hash prev ("" for none), policy p, expiring at exp. */
static char *bundle_env(int64_t v, const char *prev, const char *p, int64_t exp, size_t *len)
{
    char dig[WD_DIGEST_STRLEN + 1];
    digest(p, strlen(p), dig);
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:I,s:s,s:o,s:o,s:o,s:s,s:s,s:s}",
                          "schema_version", 1, "bundle_id", "b-1", "org_id", "acme", "fleet_id",
                          "prod", "environment", "eu1", "audience", "instance_ids", "*",
                          "version", (json_int_t)v, "previous_bundle_hash", prev, "created_at",
                          tjson(T0 - 2 * HOUR), "not_before", tjson(T0 - 2 * HOUR),
                          "expires_at", tjson(exp), "min_warden_version", "0.1.0",
                          "policy_yaml", p, "policy_sha256", dig);
    assert_non_null(o);
    wd_key *keys[] = {F.bsign};
    char *env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, keys, 1, len);
    json_decref(o);
    return env;
}

static char *kill_env(int64_t n, const char *st, const char *reason, size_t *len)
{
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:s,s:I,s:s,s:o,s:o,s:o}",
                          "schema_version", 1, "message_id", "k-1", "org_id", "acme", "fleet_id",
                          "prod", "environment", "eu1", "audience", "instance_ids", "*", "state",
                          st, "counter", (json_int_t)n, "reason", reason, "created_at",
                          tjson(T0 - HOUR), "not_before", tjson(T0 - HOUR), "expires_at",
                          tjson(T0 + 23 * HOUR));
    assert_non_null(o);
    wd_key *keys[] = {F.kill1, F.kill2};
    char *env = sign_obj(WD_KILL_PAYLOAD_TYPE, o, keys, 2, len);
    json_decref(o);
    return env;
}

/* A listing of every file (path, size, content digest) and symlink target under dir. */
static char *snapshot(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && find . \\( -type f -o -type l \\) -printf '%%p %%l\\n' | sort && "
             "find . -type f -print0 | sort -z | xargs -0 -r sha256sum",
             dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, p);
    buf[n] = '\0';
    assert_int_equal(pclose(p), 0);
    return buf;
}

static wd_agent_state *open_ok(fx *x, int64_t now)
{
    wd_agent_state *s = NULL;
    wd_err e;
    wd_code c = wd_agent_state_open(&x->cfg, now, &s, &e);
    if (c != WD_OK)
        print_error("open: %s: %s\n", wd_code_name(c), e.msg);
    assert_int_equal(c, WD_OK);
    return s;
}

/* A state holding the roster and bundle version 1 (POLICY), expiring at T0 + 1 day. */
static wd_agent_state *with_bundle(fx *x, char **b1, size_t *b1len)
{
    wd_agent_state *s = open_ok(x, T0);
    wd_err e;
    wd_apply_result res;
    assert_int_equal(wd_agent_apply_roster(s, (unsigned char *)x->roster_env, x->roster_len, T0,
                                           &res, &e),
                     WD_OK);
    *b1 = bundle_env(1, "", POLICY, T0 + DAY, b1len);
    wd_code c = wd_agent_apply_bundle(s, (unsigned char *)*b1, *b1len, NULL, 0, T0, &res, &e);
    if (c != WD_OK)
        print_error("apply: %s: %s\n", wd_code_name(c), e.msg);
    assert_int_equal(c, WD_OK);
    assert_true(res.changed);
    return s;
}

static void test_stale_rule(void **state)
{
    (void)state;
    int64_t x = T0;
    assert_int_equal(wd_stale_state(x, HOUR, WD_STALE_DENY_ALL, x - 1), WD_PSTATE_ENFORCING);
    assert_int_equal(wd_stale_state(x, HOUR, WD_STALE_DENY_ALL, x), WD_PSTATE_STALE);
    assert_int_equal(wd_stale_state(x, HOUR, WD_STALE_DENY_ALL, x + HOUR - 1), WD_PSTATE_STALE);
    assert_int_equal(wd_stale_state(x, HOUR, WD_STALE_DENY_ALL, x + HOUR), WD_PSTATE_DENY_ALL);
    assert_int_equal(wd_stale_state(x, HOUR, WD_STALE_KEEP_LAST_KNOWN_GOOD, x + HOUR),
                     WD_PSTATE_STALE);
    assert_int_equal(wd_stale_state(x, 0, WD_STALE_DENY_ALL, x), WD_PSTATE_DENY_ALL);
    wd_stale_then t;
    assert_true(wd_stale_then_parse("keep-last-known-good", &t));
    assert_int_equal(t, WD_STALE_KEEP_LAST_KNOWN_GOOD);
    assert_false(wd_stale_then_parse("deny", &t));
    assert_string_equal(wd_policy_state_name(WD_PSTATE_DENY_ALL), "deny-all");
}

static void test_config_errors(void **state)
{
    fx *x = *state;
    wd_agent_state *s = NULL;
    wd_err e;
    wd_agent_config c = x->cfg;
    c.pin = "sha256:12";
    assert_int_equal(wd_agent_state_open(&c, T0, &s, &e), WD_E_USAGE);
    assert_null(s);
    c = x->cfg;
    c.follower.fleet_id = "bad fleet";
    assert_int_equal(wd_agent_state_open(&c, T0, &s, &e), WD_E_USAGE);
    c = x->cfg;
    c.stale_grace = -1;
    assert_int_equal(wd_agent_state_open(&c, T0, &s, &e), WD_E_USAGE);
}

static void test_empty_and_no_roster(void **state)
{
    fx *x = *state;
    wd_agent_state *s = open_ok(x, T0);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_NONE);
    assert_null(wd_agent_state_roster(s));
    assert_null(wd_agent_state_policy_ref(s));
    char *before = snapshot(x->dir);
    size_t len;
    char *b = bundle_env(1, "", POLICY, T0 + DAY, &len);
    wd_err e;
    assert_int_equal(wd_agent_apply_bundle(s, (unsigned char *)b, len, NULL, 0, T0, NULL, &e),
                     WD_E_UNTRUSTED_ROOT);
    char *after = snapshot(x->dir);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(b);
    /* a second opener is refused while the first holds the lock */
    wd_agent_state *s2 = NULL;
    assert_int_equal(wd_agent_state_open(&x->cfg, T0, &s2, &e), WD_E_IO);
    assert_null(s2);
    wd_agent_state_free(s);
    s2 = open_ok(x, T0);
    wd_agent_state_free(s2);
}

static void test_apply_and_reopen(void **state)
{
    fx *x = *state;
    char *b1;
    size_t l1;
    wd_agent_state *s = with_bundle(x, &b1, &l1);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_ENFORCING);
    assert_int_equal(wd_agent_state_floor(s), 1);
    const wd_bundle *b = wd_agent_state_bundle(s);
    assert_non_null(b);
    char h1[WD_DIGEST_STRLEN + 1], etag[WD_DIGEST_STRLEN + 3];
    snprintf(h1, sizeof h1, "%s", b->hash);
    snprintf(etag, sizeof etag, "\"%s\"", h1);
    assert_string_equal(wd_agent_state_etag(s, WD_ETAG_POLICY), etag);
    wd_policy *p = wd_agent_state_policy_ref(s);
    assert_non_null(p);
    wd_policy_unref(p);
    /* same hash: a no-op that writes nothing */
    char *before = snapshot(x->dir);
    wd_apply_result res;
    wd_err e;
    assert_int_equal(wd_agent_apply_bundle(s, (unsigned char *)b1, l1, NULL, 0, T0, &res, &e),
                     WD_OK);
    assert_false(res.changed);
    assert_int_equal(res.step, WD_BUNDLE_NOOP);
    char *after = snapshot(x->dir);
    assert_string_equal(before, after);
    free(after);
    /* a fork (same version, other policy) is refused and changes nothing */
    size_t lf;
    char *fork = bundle_env(1, "", POLICY2, T0 + DAY, &lf);
    assert_int_equal(wd_agent_apply_bundle(s, (unsigned char *)fork, lf, NULL, 0, T0, &res, &e),
                     WD_E_FORK);
    after = snapshot(x->dir);
    assert_string_equal(before, after);
    free(after);
    free(before);
    free(fork);
    wd_agent_state_free(s);
    /* re-open: the same bundle, verified again; stale after expiry, then deny-all */
    s = open_ok(x, T0 + DAY + 10);
    assert_int_equal(wd_agent_state_policy_state(s, T0 + DAY + 10), WD_PSTATE_STALE);
    assert_int_equal(wd_agent_state_policy_state(s, T0 + DAY + HOUR), WD_PSTATE_DENY_ALL);
    assert_non_null(wd_agent_state_bundle(s));
    /* the runner sees the same */
    wd_agent_view v;
    assert_int_equal(wd_agent_view_load(x->dir, T0, &v, &e), WD_OK);
    assert_int_equal(v.state, WD_PSTATE_ENFORCING);
    assert_non_null(v.policy);
    assert_int_equal(v.bundle_version, 1);
    wd_agent_view_clear(&v);
    assert_int_equal(wd_agent_view_load(x->dir, T0 + DAY + HOUR - 1, &v, &e), WD_OK);
    assert_int_equal(v.state, WD_PSTATE_STALE); /* within the grace: still enforces */
    assert_non_null(v.policy);
    wd_agent_view_clear(&v);
    assert_int_equal(wd_agent_view_load(x->dir, T0 + DAY + HOUR, &v, &e), WD_OK);
    assert_int_equal(v.state, WD_PSTATE_DENY_ALL);
    assert_null(v.policy);
    wd_agent_view_clear(&v);
    /* a forward step */
    size_t l2;
    char *b2 = bundle_env(2, h1, POLICY2, T0 + DAY, &l2);
    wd_agent_state_free(s);
    s = open_ok(x, T0);
    assert_int_equal(wd_agent_apply_bundle(s, (unsigned char *)b2, l2, NULL, 0, T0, &res, &e),
                     WD_OK);
    assert_int_equal(res.step, WD_BUNDLE_FORWARD);
    assert_int_equal(wd_agent_state_floor(s), 2);
    free(b2);
    free(b1);
    wd_agent_state_free(s);
}

/* Opened slim (the daemon): the active bundle is verified and compiled as always, then only
 * what the transition rule and the status need is kept; the transition rule, a fork, a
 * forward step and a tampered policy on disk behave exactly as without it. */
static void test_slim(void **state)
{
    fx *x = *state;
    x->cfg.slim = true;
    char *b1;
    size_t l1;
    wd_agent_state *s = with_bundle(x, &b1, &l1);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_ENFORCING);
    const wd_bundle *b = wd_agent_state_bundle(s);
    assert_non_null(b);
    assert_int_equal(b->version, 1);
    assert_null(b->policy_yaml);
    assert_null(b->policy);
    assert_null(wd_agent_state_policy_ref(s));
    char h1[WD_DIGEST_STRLEN + 1];
    snprintf(h1, sizeof h1, "%s", b->hash);
    wd_apply_result res;
    wd_err e;
    assert_int_equal(wd_agent_apply_bundle(s, (unsigned char *)b1, l1, NULL, 0, T0, &res, &e),
                     WD_OK);
    assert_false(res.changed);
    size_t lf;
    char *fork = bundle_env(1, "", POLICY2, T0 + DAY, &lf);
    assert_int_equal(wd_agent_apply_bundle(s, (unsigned char *)fork, lf, NULL, 0, T0, &res, &e),
                     WD_E_FORK);
    size_t l2;
    char *b2 = bundle_env(2, h1, POLICY2, T0 + DAY, &l2);
    assert_int_equal(wd_agent_apply_bundle(s, (unsigned char *)b2, l2, NULL, 0, T0, &res, &e),
                     WD_OK);
    assert_int_equal(res.step, WD_BUNDLE_FORWARD);
    assert_int_equal(wd_agent_state_bundle(s)->version, 2);
    assert_null(wd_agent_state_bundle(s)->policy_yaml);
    wd_agent_state_free(s);
    /* the runner still reads and compiles the policy itself */
    wd_agent_view v;
    assert_int_equal(wd_agent_view_load(x->dir, T0, &v, &e), WD_OK);
    assert_int_equal(v.state, WD_PSTATE_ENFORCING);
    assert_non_null(v.policy);
    wd_agent_view_clear(&v);
    /* a policy.yaml that is not the bundle's still fails closed when opened slim */
    char path[128];
    snprintf(path, sizeof path, "%s/active/policy.yaml", x->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(POLICY, f);
    fclose(f);
    s = open_ok(x, T0);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_DENY_ALL);
    wd_agent_state_free(s);
    free(fork);
    free(b2);
    free(b1);
}

static void test_tampered_fails_closed(void **state)
{
    fx *x = *state;
    char *b1;
    size_t l1;
    wd_agent_state *s = with_bundle(x, &b1, &l1);
    char name[160], path[256];
    snprintf(name, sizeof name, "%s/active", x->dir);
    ssize_t n = readlink(name, path, sizeof path - 1);
    assert_true(n > 0);
    path[n] = '\0';
    wd_agent_state_free(s);
    char py[512];
    snprintf(py, sizeof py, "%s/%s/policy.yaml", x->dir, path);
    wd_err e;
    assert_int_equal(wd_write_file(py, POLICY2, strlen(POLICY2), 0600, &e), WD_OK);
    s = open_ok(x, T0);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_DENY_ALL);
    const char *why = NULL;
    assert_int_equal(wd_agent_state_failure(s, &why), WD_E_HASH_MISMATCH);
    assert_non_null(strstr(why, "policy.yaml"));
    assert_null(wd_agent_state_policy_ref(s));
    wd_agent_view v;
    assert_int_equal(wd_agent_view_load(x->dir, T0, &v, &e), WD_OK);
    assert_int_equal(v.state, WD_PSTATE_DENY_ALL);
    wd_agent_view_clear(&v);
    json_t *st = wd_agent_status_json(s, T0, NULL);
    assert_string_equal(json_string_value(json_object_get(st, "policy_state")), "deny-all");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(st, "last_error"), "code")),
        "hash-mismatch");
    json_decref(st);
    /* applying the same bundle again repairs it: verified, then enforcing */
    wd_apply_result res;
    assert_int_equal(wd_agent_apply_bundle(s, (unsigned char *)b1, l1, NULL, 0, T0, &res, &e),
                     WD_OK);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_ENFORCING);
    free(b1);
    wd_agent_state_free(s);
}

static void test_kill_honored_and_not(void **state)
{
    fx *x = *state;
    char *b1;
    size_t l1, lk, lk2;
    wd_agent_state *s = with_bundle(x, &b1, &l1);
    free(b1);
    wd_agent_state_free(s);
    /* not honored: seen, reported, never applied */
    x->cfg.honor_kill = false;
    s = open_ok(x, T0);
    char *k1 = kill_env(5, "active", "incident 7", &lk);
    wd_apply_result res;
    wd_err e;
    assert_int_equal(wd_agent_apply_kill(s, (unsigned char *)k1, lk, T0, &res, &e), WD_OK);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_ENFORCING);
    assert_null(wd_agent_state_kill(s));
    assert_non_null(wd_agent_state_kill_seen(s));
    json_t *st = wd_agent_status_json(s, T0, NULL);
    json_t *kj = json_object_get(st, "kill");
    assert_int_equal(json_integer_value(json_object_get(kj, "counter")), 5);
    assert_true(json_is_false(json_object_get(kj, "honored")));
    json_decref(st);
    char p[256];
    snprintf(p, sizeof p, "%s/kill.json", x->dir);
    assert_int_not_equal(access(p, F_OK), 0);
    /* replay of the seen kill is a no-op; a lower counter is stale */
    assert_int_equal(wd_agent_apply_kill(s, (unsigned char *)k1, lk, T0, &res, &e), WD_OK);
    assert_false(res.changed);
    char *low = kill_env(4, "active", "older", &lk2);
    assert_int_equal(wd_agent_apply_kill(s, (unsigned char *)low, lk2, T0, &res, &e),
                     WD_E_STALE);
    free(low);
    wd_agent_state_free(s);
    /* honored: applied, the state is killed, then an inactive kill lifts it */
    x->cfg.honor_kill = true;
    s = open_ok(x, T0);
    assert_int_equal(wd_agent_apply_kill(s, (unsigned char *)k1, lk, T0, &res, &e), WD_OK);
    assert_true(res.changed);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_KILLED);
    wd_agent_view v;
    assert_int_equal(wd_agent_view_load(x->dir, T0, &v, &e), WD_OK);
    assert_int_equal(v.state, WD_PSTATE_KILLED);
    assert_string_equal(v.reason, "incident 7");
    wd_agent_view_clear(&v);
    char *before = snapshot(x->dir);
    assert_int_equal(wd_agent_apply_kill(s, (unsigned char *)k1, lk, T0, &res, &e), WD_OK);
    char *after = snapshot(x->dir);
    assert_string_equal(before, after);
    free(before);
    free(after);
    char *off = kill_env(6, "inactive", "resolved", &lk2);
    assert_int_equal(wd_agent_apply_kill(s, (unsigned char *)off, lk2, T0, &res, &e), WD_OK);
    assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_ENFORCING);
    assert_int_equal(wd_agent_view_load(x->dir, T0, &v, &e), WD_OK);
    assert_int_equal(v.state, WD_PSTATE_ENFORCING);
    wd_agent_view_clear(&v);
    free(off);
    free(k1);
    wd_agent_state_free(s);
}

static void test_roster_chain(void **state)
{
    fx *x = *state;
    /* rosters 2 and 3 rotate from the fixture roster (version 1), given out of order */
    wd_roster *r2 = NULL, *r3 = NULL;
    wd_err e;
    assert_int_equal(wd_roster_copy(F.roster, &r2, &e), WD_OK);
    r2->version = 2;
    assert_int_equal(wd_roster_copy(F.roster, &r3, &e), WD_OK);
    r3->version = 3;
    char *e2, *e3;
    size_t l2, l3;
    assert_int_equal(wd_roster_sign(r2, &F.root, 1, &e2, &l2, &e), WD_OK);
    assert_int_equal(wd_roster_sign(r3, &F.root, 1, &e3, &l3, &e), WD_OK);
    wd_agent_state *s = open_ok(x, T0);
    /* a gap from the pin's roster: 3 without 2 */
    wd_apply_result res;
    assert_int_equal(wd_agent_apply_roster(s, (unsigned char *)x->roster_env, x->roster_len, T0,
                                           &res, &e),
                     WD_OK);
    char *before = snapshot(x->dir);
    assert_int_equal(wd_agent_apply_roster(s, (unsigned char *)e3, l3, T0, &res, &e),
                     WD_E_UNTRUSTED_ROOT);
    char *after = snapshot(x->dir);
    assert_string_equal(before, after);
    free(before);
    free(after);
    wd_agent_blob chain[] = {{(unsigned char *)e3, l3}, {(unsigned char *)e2, l2}};
    size_t applied = 0;
    assert_int_equal(wd_agent_apply_roster_chain(s, chain, 2, T0, &applied, &e), WD_OK);
    assert_int_equal(applied, 2);
    assert_int_equal(wd_agent_state_roster(s)->version, 3);
    /* an older roster is stale */
    assert_int_equal(wd_agent_apply_roster(s, (unsigned char *)e2, l2, T0, &res, &e),
                     WD_E_STALE);
    wd_agent_state_free(s);
    /* re-open walks the stored chain from the pin */
    s = open_ok(x, T0);
    assert_int_equal(wd_agent_state_roster(s)->version, 3);
    assert_int_equal(wd_agent_state_failure(s, NULL), WD_OK);
    wd_agent_state_free(s);
    wd_roster_free(r2);
    wd_roster_free(r3);
    free(e2);
    free(e3);
}

/* The crash hook: a child applying bundle 2 dies at a named step; the re-opened state holds
 * bundle 1 or 2, verified, never a mix. */
static void test_crash_hook(void **state)
{
    fx *x = *state;
    char *b1;
    size_t l1;
    wd_agent_state *s = with_bundle(x, &b1, &l1);
    char h1[WD_DIGEST_STRLEN + 1];
    snprintf(h1, sizeof h1, "%s", wd_agent_state_bundle(s)->hash);
    wd_agent_state_free(s);
    size_t l2;
    char *b2 = bundle_env(2, h1, POLICY2, T0 + DAY, &l2);
    const char *steps[] = {"bundle-mkdir", "bundle-json-written", "bundle-policy-renamed",
                           "bundle-dir-renamed", "active-symlink", "active-renamed",
                           "floor-written"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char v[64];
            snprintf(v, sizeof v, "%s:1", steps[i]);
            setenv(WD_AGENT_CRASH_ENV, v, 1);
            wd_agent_state *cs = NULL;
            wd_err ce;
            if (wd_agent_state_open(&x->cfg, T0, &cs, &ce) != WD_OK)
                _exit(10);
            wd_agent_apply_bundle(cs, (unsigned char *)b2, l2, NULL, 0, T0, NULL, &ce);
            _exit(11); /* the hook did not fire */
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGKILL);
        s = open_ok(x, T0);
        assert_int_equal(wd_agent_state_failure(s, NULL), WD_OK);
        const wd_bundle *b = wd_agent_state_bundle(s);
        assert_non_null(b);
        bool after_switch = i >= 5;
        assert_int_equal(b->version, after_switch ? 2 : 1);
        assert_int_equal(wd_agent_state_policy_state(s, T0), WD_PSTATE_ENFORCING);
        if (after_switch) { /* back to 1 for the next round: a rollback needs auth; rebuild */
            wd_agent_state_free(s);
            char cmd[128];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", x->dir);
            assert_int_equal(system(cmd), 0);
            free(b1);
            s = with_bundle(x, &b1, &l1);
        }
        wd_agent_state_free(s);
    }
    free(b1);
    free(b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stale_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_no_roster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_honored_and_not, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roster_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_hook, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
