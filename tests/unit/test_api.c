/* test_api.c — focus: the leader's conductor API driven through wd_api_handle with constructed
 * requests and peer identities, against a real SQLite store in a temporary directory (reached
 * through a wrapper store that can count calls and fail them): routing and who may call what,
 * publish verification and the stream rules, what each follower is served (instance, labels,
 * rollback), ETags and long polls, rosters, kills, audit batches, status reports, the
 * followers view, and a store that cannot be written. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "api_int.h"
#include "base/base.h"
#include "codec/json.h"
#include "crypto/crypto.h"
#include "leader.h"
#include "metrics.h"
#include "msg/bundle.h"
#include "msg/dsse.h"
#include "msg/kill.h"
#include "msg/rollback.h"
#include "store.h"
#include "trust/roster.h"

#include "msg_fixtures.h"

#define P WD_API_PREFIX
static const char POLICY[] = "version: 1\nmode: enforce\nservers:\n  default: deny\n";

static const wd_spiffe_id ADMIN = {WD_PEER_ADMIN, "acme", "", "", "", "alice"};
static const wd_spiffe_id ADMIN_OTHER = {WD_PEER_ADMIN, "other", "", "", "", "bob"};
static const wd_spiffe_id F1 = {WD_PEER_FOLLOWER, "acme", "prod", "eu1", "i-1", ""};
static const wd_spiffe_id F2 = {WD_PEER_FOLLOWER, "acme", "prod", "eu1", "i-2", ""};
static const wd_spiffe_id FDEV = {WD_PEER_FOLLOWER, "acme", "dev", "eu1", "i-9", ""};
static const wd_spiffe_id F_OTHER_ORG = {WD_PEER_FOLLOWER, "other", "prod", "eu1", "i-1", ""};

/* ---- a store wrapper: counts every call, fails every call or only writes ---- */

typedef struct wrap {
    wd_store base;
    wd_store *inner;
    int calls;
    bool fail_all, fail_writes;
} wrap;

static wrap W;

static wd_code wfail(const char *op, wd_err *e)
{
    return wd_err_set(e, WD_E_IO, "store: %s: disk I/O error (test)", op);
}

#define GATE(op, write)                                                                       \
    do {                                                                                      \
        __atomic_add_fetch(&((wrap *)s)->calls, 1, __ATOMIC_RELAXED);                         \
        if (((wrap *)s)->fail_all || ((write) && ((wrap *)s)->fail_writes))                   \
            return wfail(op, e);                                                              \
    } while (0)
#define IN (((wrap *)s)->inner)

static void w_close(wd_store *s)
{
    (void)s;
}
static wd_code w_ping(wd_store *s, wd_err *e)
{
    GATE("ping", false);
    return IN->ops->ping(IN, e);
}
static wd_code w_put_bundle(wd_store *s, const wd_store_msg *m, const unsigned char *b, size_t n,
                            wd_put_result *r, char h[WD_DIGEST_STRLEN + 1], wd_err *e)
{
    GATE("put_bundle", true);
    return IN->ops->put_bundle(IN, m, b, n, r, h, e);
}
static wd_code w_each_bundle(wd_store *s, bool (*cb)(void *, const wd_store_msg *), void *c,
                             wd_err *e)
{
    GATE("each_bundle", false);
    return IN->ops->each_bundle(IN, cb, c, e);
}
static wd_code w_get_bundle(wd_store *s, const char *o, const char *h, wd_store_msg *m,
                            unsigned char **b, size_t *n, bool *f, wd_err *e)
{
    GATE("get_bundle", false);
    return IN->ops->get_bundle(IN, o, h, m, b, n, f, e);
}
static wd_code w_put_kill(wd_store *s, const wd_store_msg *m, const unsigned char *b, size_t n,
                          wd_put_result *r, wd_err *e)
{
    GATE("put_kill", true);
    return IN->ops->put_kill(IN, m, b, n, r, e);
}
static wd_code w_each_kill(wd_store *s, bool (*cb)(void *, const wd_store_msg *), void *c,
                           wd_err *e)
{
    GATE("each_kill", false);
    return IN->ops->each_kill(IN, cb, c, e);
}
static wd_code w_get_kill(wd_store *s, const char *o, const char *h, wd_store_msg *m,
                          unsigned char **b, size_t *n, bool *f, wd_err *e)
{
    GATE("get_kill", false);
    return IN->ops->get_kill(IN, o, h, m, b, n, f, e);
}
static wd_code w_put_rollback(wd_store *s, const wd_store_rollback *r, const unsigned char *b,
                              size_t n, wd_put_result *res, wd_err *e)
{
    GATE("put_rollback", true);
    return IN->ops->put_rollback(IN, r, b, n, res, e);
}
static wd_code w_get_rollback(wd_store *s, const char *o, const char *id, unsigned char **b,
                              size_t *n, bool *f, wd_err *e)
{
    GATE("get_rollback", false);
    return IN->ops->get_rollback(IN, o, id, b, n, f, e);
}
static wd_code w_each_active_rollback(wd_store *s, bool (*cb)(void *, const wd_store_rollback *),
                                      void *c, wd_err *e)
{
    GATE("each_active_rollback", false);
    return IN->ops->each_active_rollback(IN, cb, c, e);
}
static wd_code w_put_roster(wd_store *s, int64_t v, const char *h, const unsigned char *b,
                            size_t n, wd_put_result *r, wd_err *e)
{
    GATE("put_roster", true);
    return IN->ops->put_roster(IN, v, h, b, n, r, e);
}
static wd_code w_get_roster(wd_store *s, int64_t v, unsigned char **b, size_t *n, bool *f,
                            wd_err *e)
{
    GATE("get_roster", false);
    return IN->ops->get_roster(IN, v, b, n, f, e);
}
static wd_code w_put_audit_batch(wd_store *s, const wd_stream *st, const char *i, const char *id,
                                 int64_t a, int64_t b, const char *d, bool g,
                                 const unsigned char *by, size_t n, int64_t now,
                                 wd_put_result *r, wd_err *e)
{
    GATE("put_audit_batch", true);
    return IN->ops->put_audit_batch(IN, st, i, id, a, b, d, g, by, n, now, r, e);
}
static wd_code w_audit_head(wd_store *s, const char *o, const char *i, wd_audit_head *h,
                            wd_err *e)
{
    GATE("audit_head", false);
    return IN->ops->audit_head(IN, o, i, h, e);
}
static wd_code w_put_status(wd_store *s, const wd_store_follower *f, wd_err *e)
{
    GATE("put_status", true);
    return IN->ops->put_status(IN, f, e);
}
static wd_code w_each_follower(wd_store *s, const char *o,
                               bool (*cb)(void *, const wd_store_follower *), void *c, wd_err *e)
{
    GATE("each_follower", false);
    return IN->ops->each_follower(IN, o, cb, c, e);
}

static const wd_store_ops wrap_ops = {
    .name = "wrap",
    .close = w_close,
    .ping = w_ping,
    .put_bundle = w_put_bundle,
    .each_bundle = w_each_bundle,
    .get_bundle = w_get_bundle,
    .put_kill = w_put_kill,
    .each_kill = w_each_kill,
    .get_kill = w_get_kill,
    .put_rollback = w_put_rollback,
    .get_rollback = w_get_rollback,
    .each_active_rollback = w_each_active_rollback,
    .put_roster = w_put_roster,
    .get_roster = w_get_roster,
    .put_audit_batch = w_put_audit_batch,
    .audit_head = w_audit_head,
    .put_status = w_put_status,
    .each_follower = w_each_follower,
};

/* ---- the leader under test ---- */

static struct {
    char dir[64];
    char roster_path[128];
    char pin[WD_DIGEST_STRLEN + 1];
    wd_store *real;
    wd_leader L;
    pthread_mutex_t wake_mu;
    int wakes;
    char last_wake[3 * (WD_MAX_ID_LEN + 1)];
} E;

static int64_t now_t = T0;
static int64_t test_clock(void *ctx)
{
    (void)ctx;
    return now_t;
}

static void rec_wake(wd_leader *L, const char *key)
{
    (void)L;
    pthread_mutex_lock(&E.wake_mu);
    E.wakes++;
    snprintf(E.last_wake, sizeof E.last_wake, "%s", key);
    pthread_mutex_unlock(&E.wake_mu);
}

/* Rosters: v1 (the file), v2 (rotation), v4 (a gap), each signed by the root key. */
static char *roster_env[5];
static size_t roster_len[5];
static char roster_hash[5][WD_DIGEST_STRLEN + 1];

static void make_roster(int v)
{
    wd_roster *r = NULL;
    wd_err e;
    assert_int_equal(wd_roster_copy(F.roster, &r, &e), WD_OK);
    r->version = v;
    if (v > 1) /* each later version lives longer: T0 + 365 days + v * 100 days */
        r->expires_at = T0 + (365 + 100 * v) * DAY;
    assert_int_equal(wd_roster_sign(r, &F.root, 1, &roster_env[v], &roster_len[v], &e), WD_OK);
    wd_roster_free(r);
    wd_dsse env;
    assert_int_equal(wd_msg_decode_unverified((unsigned char *)roster_env[v], roster_len[v],
                                              WD_MAX_ROSTER_ENVELOPE, WD_ROSTER_PAYLOAD_TYPE,
                                              &env, &e),
                     WD_OK);
    assert_int_equal(wd_digest_of(env.payload, env.payload_len, roster_hash[v], &e), WD_OK);
    wd_dsse_free(&env);
}

static int group_setup(void **state)
{
    (void)state;
    if (msgfx_setup(MSGFX_KILL | MSGFX_ROLLBACK, WD_PURPOSE_BUNDLE_SIGNING) != 0)
        return -1;
    make_roster(1);
    make_roster(2);
    make_roster(3);
    make_roster(4);
    pthread_mutex_init(&E.wake_mu, NULL);
    snprintf(E.pin, sizeof E.pin, "%s", wd_key_id(F.root));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        free(roster_env[i]);
    pthread_mutex_destroy(&E.wake_mu);
    return msgfx_teardown();
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void leader_down(void)
{
    wd_api_fini(&E.L);
}

static void leader_up(void)
{
    wd_err e;
    wd_err_clear(&e);
    wd_code c = wd_api_init_clock(&E.L, test_clock, NULL, &e);
    if (c != WD_OK)
        fail_msg("init: %s: %s", wd_code_name(c), e.msg);
}

static int setup(void **state)
{
    (void)state;
    now_t = T0;
    snprintf(E.dir, sizeof E.dir, "/tmp/wd_api_XXXXXX");
    if (mkdtemp(E.dir) == NULL)
        return -1;
    snprintf(E.roster_path, sizeof E.roster_path, "%s/roster.json", E.dir);
    wd_err e;
    if (wd_write_file(E.roster_path, roster_env[1], roster_len[1], 0644, &e) != WD_OK)
        return -1;
    char url[160];
    snprintf(url, sizeof url, "sqlite:%s/leader.db", E.dir);
    if (wd_store_open(url, &E.real, &e) != WD_OK) {
        fprintf(stderr, "# store: %s\n", e.msg);
        return -1;
    }
    memset(&W, 0, sizeof W);
    W.base.ops = &wrap_ops;
    W.inner = E.real;
    memset(&E.L, 0, sizeof E.L);
    E.L.cfg.roster_path = E.roster_path;
    E.L.cfg.pin = E.pin;
    E.L.cfg.log_level = WD_LOG_ERROR;
    E.L.cfg.log_format = WD_LOG_TEXT;
    E.L.store = &W.base;
    E.L.metrics = wd_metrics_new();
    E.L.wake = rec_wake;
    E.wakes = 0;
    E.last_wake[0] = '\0';
    if (wd_api_init_clock(&E.L, test_clock, NULL, &e) != WD_OK) {
        fprintf(stderr, "# init: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    leader_down();
    wd_store_close(E.real);
    wd_metrics_free(E.L.metrics);
    nftw(E.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- requests ---- */

static wd_http_resp RS;

typedef struct treq {
    const char *method;
    const char *target;      /* full target */
    const wd_spiffe_id *peer;
    const void *body;
    size_t len;
    const char *inm;         /* If-None-Match */
    const char *prefer;
    int wake;
} treq;

static int run(treq q)
{
    wd_http_resp_free(&RS);
    memset(&RS, 0, sizeof RS);
    wd_http_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.method, sizeof r.method, "%s", q.method);
    r.target = q.target;
    r.path = q.target;
    r.query = "";
    r.minor = 1;
    if (q.inm) {
        r.headers[r.nheaders].name = "If-None-Match";
        r.headers[r.nheaders++].value = q.inm;
    }
    if (q.prefer) {
        r.headers[r.nheaders].name = "Prefer";
        r.headers[r.nheaders++].value = q.prefer;
    }
    r.content_length = q.body ? (int64_t)q.len : -1;
    r.body = (unsigned char *)q.body;
    r.body_len = q.body ? q.len : 0;
    r.peer = q.peer;
    r.wake = q.wake;
    wd_api_handle(&E.L, &r, &RS);
    return RS.status;
}

static char TGT[512];
static const char *path(const char *rel)
{
    snprintf(TGT, sizeof TGT, "%s%s", P, rel);
    return TGT;
}

static int get(const char *rel, const wd_spiffe_id *peer)
{
    return run((treq){"GET", path(rel), peer, NULL, 0, NULL, NULL, 0});
}

static int get_inm(const char *rel, const wd_spiffe_id *peer, const char *inm)
{
    return run((treq){"GET", path(rel), peer, NULL, 0, inm, NULL, 0});
}

static int put(const char *rel, const void *body, size_t len)
{
    return run((treq){"PUT", path(rel), &ADMIN, body, len, NULL, NULL, 0});
}

static int post(const char *rel, const wd_spiffe_id *peer, const char *body)
{
    return run((treq){"POST", path(rel), peer, body, strlen(body), NULL, NULL, 0});
}

static const char *hdr(const char *name)
{
    for (size_t i = 0; i < RS.nheaders; i++)
        if (strcmp(RS.headers[i].name, name) == 0)
            return RS.headers[i].value;
    return NULL;
}

/* The response body as JSON (the caller decrefs). */
static json_t *body_json(void)
{
    json_t *v = NULL;
    assert_non_null(RS.body);
    assert_int_equal(wd_json_parse(RS.body, RS.body_len, 1u << 22, &v, NULL), WD_OK);
    return v;
}

/* Assert the error body's code. */
static void expect_error(int status, const char *code)
{
    if (RS.status != status)
        fprintf(stderr, "# wanted %d, got %d: %.*s\n", status, RS.status, (int)RS.body_len,
                RS.body ? (char *)RS.body : "");
    assert_int_equal(RS.status, status);
    json_t *v = body_json();
    const char *got = json_string_value(json_object_get(json_object_get(v, "error"), "code"));
    assert_non_null(got);
    if (strcmp(got, code) != 0)
        fprintf(stderr, "# wanted code %s, got %s: %.*s\n", code, got, (int)RS.body_len,
                (char *)RS.body);
    assert_string_equal(got, code);
    assert_non_null(json_string_value(json_object_get(json_object_get(v, "error"), "message")));
    json_decref(v);
}

static void expect_body(const char *bytes, size_t len)
{
    assert_int_equal(RS.body_len, len);
    assert_memory_equal(RS.body, bytes, len);
}

/* Count of one publish outcome in the metrics. */
static int published(const char *kind, const char *outcome)
{
    char *text = NULL;
    size_t n = 0;
    assert_int_equal(wd_metrics_render(E.L.metrics, &text, &n), 0);
    char want[128];
    snprintf(want, sizeof want, "warden_leader_publishes_total{kind=\"%s\",outcome=\"%s\"} ",
             kind, outcome);
    const char *at = strstr(text, want);
    int v = at ? atoi(at + strlen(want)) : 0;
    free(text);
    return v;
}

/* ---- messages ---- */

static void digest_of(const char *s, size_t n, char out[WD_DIGEST_STRLEN + 1])
{
    assert_int_equal(wd_digest_of(s, n, out, NULL), WD_OK);
}

/* A bundle payload: version v of acme/<fleet>/eu1 for everyone, valid T0-1h .. T0+30d. */
static json_t *bobj(int64_t v, const char *fleet)
{
    char dig[WD_DIGEST_STRLEN + 1];
    digest_of(POLICY, strlen(POLICY), dig);
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:I,s:s,s:o,s:o,s:o,s:s,s:s,s:s}",
                          "schema_version", 1, "bundle_id", "b-1", "org_id", "acme", "fleet_id",
                          fleet, "environment", "eu1", "audience", "instance_ids", "*",
                          "version", (json_int_t)v, "previous_bundle_hash", "", "created_at",
                          tjson(T0 - 3600), "not_before", tjson(T0 - 3600), "expires_at",
                          tjson(T0 + 30 * DAY), "min_warden_version", "0.1.0", "policy_yaml",
                          POLICY, "policy_sha256", dig);
    assert_non_null(o);
    return o;
}

static void set_policy(json_t *o, const char *policy)
{
    char dig[WD_DIGEST_STRLEN + 1];
    digest_of(policy, strlen(policy), dig);
    json_object_set_new(o, "policy_yaml", json_string(policy));
    json_object_set_new(o, "policy_sha256", json_string(dig));
}

/* A signed message: envelope (caller frees) and its message hash. */
typedef struct msg {
    char *env;
    size_t len;
    char hash[WD_DIGEST_STRLEN + 1];
} msg;

static msg sign_msg(const char *type, json_t *o, wd_key **keys, size_t n)
{
    msg m;
    size_t plen = 0;
    char *p = wd_json_dump(o, &plen);
    assert_non_null(p);
    digest_of(p, plen, m.hash);
    m.env = sign_text(type, p, plen, keys, n, &m.len);
    free(p);
    json_decref(o);
    return m;
}

static msg bundle_of(json_t *o)
{
    return sign_msg(WD_BUNDLE_PAYLOAD_TYPE, o, &F.bsign, 1);
}

static msg bundle(int64_t v, const char *fleet)
{
    return bundle_of(bobj(v, fleet));
}

/* Version v for the listed instances only. */
static msg bundle_for(int64_t v, const char *instance)
{
    json_t *o = bobj(v, "prod");
    json_object_set_new(o, "audience", json_pack("{s:[s]}", "instance_ids", instance));
    return bundle_of(o);
}

static json_t *kobj(int64_t counter, const char *reason)
{
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:s,s:I,s:s,s:o,s:o,s:o}",
                          "schema_version", 1, "message_id", "k-1", "org_id", "acme", "fleet_id",
                          "prod", "environment", "eu1", "audience", "instance_ids", "*", "state",
                          "active", "counter", (json_int_t)counter, "reason", reason,
                          "created_at", tjson(T0 - 3600), "not_before", tjson(T0 - 3600),
                          "expires_at", tjson(T0 + DAY));
    assert_non_null(o);
    return o;
}

static msg kill_of(json_t *o)
{
    wd_key *keys[] = {F.kill1, F.kill2};
    return sign_msg(WD_KILL_PAYLOAD_TYPE, o, keys, 2);
}

static json_t *robj(const char *id, const msg *cur, int64_t cv, const msg *tgt, int64_t tv)
{
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:s,s:I,s:s,s:I,s:s,s:o,s:o}",
                          "schema_version", 1, "authorization_id", id, "org_id", "acme",
                          "fleet_id", "prod", "environment", "eu1", "audience", "instance_ids",
                          "*", "current_bundle_hash", cur->hash, "current_version",
                          (json_int_t)cv, "target_bundle_hash", tgt->hash, "target_version",
                          (json_int_t)tv, "reason", "bad rollout", "created_at",
                          tjson(T0 - 3600), "expires_at", tjson(T0 + 12 * HOUR));
    assert_non_null(o);
    return o;
}

static msg rollback_of(json_t *o)
{
    wd_key *keys[] = {F.rb1, F.rb2};
    return sign_msg(WD_ROLLBACK_PAYLOAD_TYPE, o, keys, 2);
}

static void expect_published(const msg *m, const char *rel, int status, const char *st)
{
    int got = put(rel, m->env, m->len);
    if (got != status)
        fprintf(stderr, "# wanted %d, got %d: %.*s\n", status, got, (int)RS.body_len,
                RS.body ? (char *)RS.body : "");
    assert_int_equal(got, status);
    if (st != NULL) {
        json_t *v = body_json();
        assert_string_equal(json_string_value(json_object_get(v, "status")), st);
        assert_string_equal(json_string_value(json_object_get(v, "hash")), m->hash);
        json_decref(v);
    }
}

/* GET policy/latest as peer answers 200 with exactly m's bytes and its ETag. */
static void expect_served(const wd_spiffe_id *peer, const msg *m)
{
    int s = get("policy/latest", peer);
    if (s != 200)
        fprintf(stderr, "# wanted 200, got %d\n", s);
    assert_int_equal(s, 200);
    expect_body(m->env, m->len);
    char etag[WD_DIGEST_STRLEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", m->hash);
    assert_string_equal(hdr("ETag"), etag);
}

/* ---- routing and peers ---- */

static void t01_capabilities_and_routing(void **state)
{
    (void)state;
    assert_int_equal(get("capabilities", &F1), 200);
    json_t *v = body_json();
    assert_string_equal(json_string_value(json_object_get(v, "api")), "v1");
    assert_int_equal(json_array_size(json_object_get(v, "payload_types")), 4);
    assert_int_equal(json_integer_value(json_object_get(v, "max_bundle_bytes")), 1048576);
    assert_int_equal(json_integer_value(json_object_get(v, "max_wait_s")), 300);
    json_decref(v);
    assert_string_equal(RS.route, "capabilities");
    assert_int_equal(get("capabilities", &ADMIN), 200);
    /* unknown paths: 404; a known path with another method: 405 with Allow */
    get("nothing-here", &ADMIN);
    expect_error(404, "not-found");
    run((treq){"GET", "/api/v2/conductor/capabilities", &ADMIN, NULL, 0, NULL, NULL, 0});
    expect_error(404, "not-found");
    get("policy/latest/extra", &F1);
    expect_error(404, "not-found");
    run((treq){"DELETE", path("policy-bundles"), &ADMIN, NULL, 0, NULL, NULL, 0});
    expect_error(405, "bad-request");
    assert_string_equal(hdr("Allow"), "PUT");
    run((treq){"POST", path("roster"), &ADMIN, "{}", 2, NULL, NULL, 0});
    expect_error(405, "bad-request");
    assert_string_equal(hdr("Allow"), "GET, PUT");
    run((treq){"PUT", path("policy/latest"), &ADMIN, "{}", 2, NULL, NULL, 0});
    expect_error(405, "bad-request");
    /* a query string does not change the route */
    run((treq){"GET", P "capabilities?x=1", &F1, NULL, 0, NULL, NULL, 0});
    assert_int_equal(RS.status, 200);
}

static void t02_peers(void **state)
{
    (void)state;
    get("capabilities", NULL);
    expect_error(401, "unauthenticated");
    /* another org: 403 on every route, reads included */
    get("capabilities", &ADMIN_OTHER);
    expect_error(403, "forbidden");
    get("roster", &F_OTHER_ORG);
    expect_error(403, "forbidden");
    get("policy/latest", &F_OTHER_ORG);
    expect_error(403, "forbidden");
    msg b = bundle(1, "prod");
    run((treq){"PUT", path("policy-bundles"), &ADMIN_OTHER, b.env, b.len, NULL, NULL, 0});
    expect_error(403, "forbidden");
    /* a follower on an administrator's route, and the reverse */
    run((treq){"PUT", path("policy-bundles"), &F1, b.env, b.len, NULL, NULL, 0});
    expect_error(403, "forbidden");
    get("followers", &F1);
    expect_error(403, "forbidden");
    get("policy/latest", &ADMIN);
    expect_error(403, "forbidden");
    get("remote-kill/latest", &ADMIN);
    expect_error(403, "forbidden");
    post("status", &ADMIN, "{}");
    expect_error(403, "forbidden");
    post("audit/batches", &ADMIN, "{}");
    expect_error(403, "forbidden");
    /* nothing was stored */
    assert_int_equal(get("policy/latest", &F1), 204);
    free(b.env);
}

static void t03_body_caps(void **state)
{
    (void)state;
    assert_int_equal(wd_api_body_cap("PUT", P "policy-bundles"), 1048576);
    assert_int_equal(wd_api_body_cap("POST", P "audit/batches"), 1048576);
    assert_int_equal(wd_api_body_cap("PUT", P "roster"), 262144);
    assert_int_equal(wd_api_body_cap("PUT", P "remote-kill"), 65536);
    assert_int_equal(wd_api_body_cap("PUT", P "rollback-authorizations"), 65536);
    assert_int_equal(wd_api_body_cap("POST", P "status"), 65536);
    assert_int_equal(wd_api_body_cap("PUT", P "policy-bundles?x"), 1048576);
    assert_int_equal(wd_api_body_cap("GET", P "policy/latest"), 0);
    assert_int_equal(wd_api_body_cap("GET", P "roster"), 0);
    assert_int_equal(wd_api_body_cap("GET", "/elsewhere"), 0);
}

/* ---- publishing bundles ---- */

static void t04_publish_rules(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    expect_published(&b1, "policy-bundles", 201, "created");
    json_t *v = body_json();
    assert_string_equal(json_string_value(json_object_get(v, "kind")), "bundle");
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 1);
    json_decref(v);
    assert_int_equal(E.wakes, 1);
    assert_string_equal(E.last_wake, "acme/prod/eu1");
    /* the same bytes again: 200, no wake */
    expect_published(&b1, "policy-bundles", 200, "unchanged");
    assert_int_equal(E.wakes, 1);
    /* version 1 with other bytes: fork */
    json_t *o = bobj(1, "prod");
    json_object_set_new(o, "bundle_id", json_string("b-other"));
    msg fork = bundle_of(o);
    put("policy-bundles", fork.env, fork.len);
    expect_error(409, "fork");
    msg b3 = bundle(3, "prod");
    expect_published(&b3, "policy-bundles", 201, "created");
    msg b2 = bundle(2, "prod");
    put("policy-bundles", b2.env, b2.len);
    expect_error(409, "stale");
    /* what a follower gets did not change with the refusals */
    expect_served(&F1, &b3);
    assert_int_equal(published("bundle", "created"), 2);
    assert_int_equal(published("bundle", "same"), 1);
    assert_int_equal(published("bundle", "fork"), 1);
    assert_int_equal(published("bundle", "stale"), 1);
    free(b1.env);
    free(fork.env);
    free(b2.env);
    free(b3.env);
}

/* A publish stored although its answer was lost with the connection (written here straight
 * into the store, behind the view): its retry is answered 200 unchanged, puts it in the view
 * and wakes the stream's held polls; a retry of what the view already holds wakes nothing. */
static void t04b_retry_of_a_lost_answer(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    expect_published(&b1, "policy-bundles", 201, "created");
    assert_int_equal(E.wakes, 1);
    msg b2 = bundle(2, "prod");
    wd_store_msg m;
    memset(&m, 0, sizeof m);
    snprintf(m.stream.org, sizeof m.stream.org, "acme");
    snprintf(m.stream.fleet, sizeof m.stream.fleet, "prod");
    snprintf(m.stream.env, sizeof m.stream.env, "eu1");
    m.seq = 2;
    snprintf(m.hash, sizeof m.hash, "%s", b2.hash);
    m.audience_json = "{\"instance_ids\":[\"*\"]}";
    m.stored_at = T0;
    wd_put_result res;
    char held[WD_DIGEST_STRLEN + 1];
    wd_err e;
    assert_int_equal(E.real->ops->put_bundle(E.real, &m, (const unsigned char *)b2.env, b2.len,
                                             &res, held, &e), WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    expect_served(&F1, &b1); /* the view does not know it */
    expect_published(&b2, "policy-bundles", 200, "unchanged");
    assert_int_equal(E.wakes, 2);
    assert_string_equal(E.last_wake, "acme/prod/eu1");
    expect_served(&F1, &b2);
    /* the same again: the view holds it, nothing to wake */
    expect_published(&b2, "policy-bundles", 200, "unchanged");
    assert_int_equal(E.wakes, 2);
    free(b1.env);
    free(b2.env);
}

/* PUT the envelope; expect 422 with code; nothing is served afterwards. */
static void expect_refused(const char *rel, const char *env, size_t len, const char *code)
{
    put(rel, env, len);
    expect_error(422, code);
    assert_int_equal(get("policy/latest", &F1), 204);
}

static void refuse_obj(json_t *o, const char *code)
{
    msg m = bundle_of(o);
    expect_refused("policy-bundles", m.env, m.len, code);
    free(m.env);
}

static void t05_publish_rejections(void **state)
{
    (void)state;
    json_t *o;
    msg m;
    /* signatures: outsider (not in the roster), a kill key (wrong purpose) */
    m = sign_msg(WD_BUNDLE_PAYLOAD_TYPE, bobj(1, "prod"), &F.outsider, 1);
    expect_refused("policy-bundles", m.env, m.len, "bad-signature");
    free(m.env);
    m = sign_msg(WD_BUNDLE_PAYLOAD_TYPE, bobj(1, "prod"), &F.kill1, 1);
    expect_refused("policy-bundles", m.env, m.len, "wrong-purpose");
    free(m.env);
    /* a revoked key, a key past its window */
    m = sign_msg(WD_BUNDLE_PAYLOAD_TYPE, bobj(1, "prod"), &F.revoked, 1);
    expect_refused("policy-bundles", m.env, m.len, "revoked-key");
    free(m.env);
    m = sign_msg(WD_BUNDLE_PAYLOAD_TYPE, bobj(1, "prod"), &F.expired, 1);
    expect_refused("policy-bundles", m.env, m.len, "expired-key");
    free(m.env);
    /* a tampered payload under a valid signature */
    m = bundle(1, "prod");
    {
        char *at = strstr(m.env, "\"payload\":\"");
        assert_non_null(at);
        at += 11;
        at[5] = at[5] == 'A' ? 'B' : 'A';
    }
    expect_refused("policy-bundles", m.env, m.len, "bad-signature");
    free(m.env);
    /* another org's bundle, signed by this roster's key */
    o = bobj(1, "prod");
    json_object_set_new(o, "org_id", json_string("other"));
    refuse_obj(o, "wrong-scope");
    /* validity */
    o = bobj(1, "prod");
    json_object_set_new(o, "created_at", tjson(T0 - 3 * HOUR));
    json_object_set_new(o, "not_before", tjson(T0 - 2 * HOUR));
    json_object_set_new(o, "expires_at", tjson(T0 - 60));
    refuse_obj(o, "expired");
    o = bobj(1, "prod");
    json_object_set_new(o, "not_before", tjson(T0 + 2 * HOUR));
    refuse_obj(o, "not-yet-valid");
    /* content */
    o = bobj(1, "prod");
    set_policy(o, "version: 1\nservers: [unclosed\n");
    refuse_obj(o, "invalid-policy");
    o = bobj(1, "prod");
    set_policy(o, "version: 1\nleader:\n  x: 1\n");
    refuse_obj(o, "forbidden-section");
    o = bobj(1, "prod");
    json_object_set_new(o, "policy_yaml", json_string("version: 1\nmode: audit\n"));
    refuse_obj(o, "hash-mismatch");
    o = bobj(1, "prod");
    json_object_set_new(o, "extra", json_true());
    refuse_obj(o, "unknown-field");
    o = bobj(1, "prod");
    json_object_set_new(o, "version", json_integer(0));
    refuse_obj(o, "malformed");
    /* envelopes */
    expect_refused("policy-bundles", "not json", 8, "malformed");
    run((treq){"PUT", path("policy-bundles"), &ADMIN, NULL, 0, NULL, NULL, 0});
    expect_error(422, "malformed");
    m = bundle(1, "prod");
    char *trail = malloc(m.len + 3);
    memcpy(trail, m.env, m.len);
    memcpy(trail + m.len, " {}", 3);
    expect_refused("policy-bundles", trail, m.len + 3, "trailing-data");
    free(trail);
    char *dup = malloc(m.len + 64);
    int n = snprintf(dup, m.len + 64, "{\"payloadType\":\"x\",%s", m.env + 1);
    expect_refused("policy-bundles", dup, (size_t)n, "duplicate-key");
    free(dup);
    free(m.env);
    m = kill_of(kobj(1, "stop"));
    expect_refused("policy-bundles", m.env, m.len, "wrong-type");
    free(m.env);
    /* the threshold of kill signing is 2: one signature is not enough */
    m = sign_msg(WD_KILL_PAYLOAD_TYPE, kobj(1, "stop"), &F.kill1, 1);
    put("remote-kill", m.env, m.len);
    expect_error(422, "threshold");
    free(m.env);
    assert_int_equal(get("remote-kill/latest", &F1), 204);
    assert_int_equal(published("bundle", "rejected"), 18);
    assert_int_equal(published("bundle", "created"), 0);
    assert_int_equal(E.wakes, 0);
}

static void t06_publish_size_limit(void **state)
{
    (void)state;
    msg m = bundle(1, "prod");
    /* at the limit: accepted (JSON white space inside the envelope) */
    char *at = pad_to(m.env, m.len, WD_HTTP_MAX_BODY_BUNDLE);
    char *past = pad_to(m.env, m.len, WD_HTTP_MAX_BODY_BUNDLE + 1);
    put("policy-bundles", past, WD_HTTP_MAX_BODY_BUNDLE + 1);
    expect_error(413, "too-large");
    assert_int_equal(published("bundle", "too-large"), 1);
    assert_int_equal(get("policy/latest", &F1), 204);
    assert_int_equal(put("policy-bundles", at, WD_HTTP_MAX_BODY_BUNDLE), 201);
    assert_int_equal(get("policy/latest", &F1), 200);
    expect_body(at, WD_HTTP_MAX_BODY_BUNDLE);
    free(at);
    free(past);
    free(m.env);
}

static const char STATUS_FMT[] =
    "{\"schema_version\":1,\"instance_id\":\"%s\",\"labels\":%s,\"warden_version\":\"0.1.0\","
    "\"started_at\":\"2027-01-15T07:00:00Z\",\"policy_state\":\"enforcing\","
    "\"active_bundle\":%s,\"kill\":null,\"last_error\":null,\"recorder_key\":null}";

/* Each route's body cap, at the limit and one past it. */
static void t06b_body_limits(void **state)
{
    (void)state;
    /* a kill padded to exactly 64 KiB is accepted; one more byte is 413 */
    msg k = kill_of(kobj(1, "stop"));
    char *at = pad_to(k.env, k.len, WD_HTTP_MAX_BODY_OTHER);
    char *past = pad_to(k.env, k.len, WD_HTTP_MAX_BODY_OTHER + 1);
    put("remote-kill", past, WD_HTTP_MAX_BODY_OTHER + 1);
    expect_error(413, "too-large");
    assert_int_equal(published("kill", "too-large"), 1);
    assert_int_equal(put("remote-kill", at, WD_HTTP_MAX_BODY_OTHER), 201);
    free(at);
    free(past);
    free(k.env);
    /* a roster padded to exactly 256 KiB */
    at = pad_to(roster_env[2], roster_len[2], WD_HTTP_MAX_BODY_ROSTER);
    past = pad_to(roster_env[2], roster_len[2], WD_HTTP_MAX_BODY_ROSTER + 1);
    put("roster", past, WD_HTTP_MAX_BODY_ROSTER + 1);
    expect_error(413, "too-large");
    assert_int_equal(E.L.api->roster->r->version, 1);
    assert_int_equal(put("roster", at, WD_HTTP_MAX_BODY_ROSTER), 201);
    assert_int_equal(E.L.api->roster->r->version, 2);
    free(at);
    free(past);
    /* a status report of 64 KiB (white space), and one byte more */
    char body[2048];
    int n = snprintf(body, sizeof body, STATUS_FMT, "i-1", "{}", "null");
    at = pad_to(body, (size_t)n, WD_HTTP_MAX_BODY_OTHER);
    past = pad_to(body, (size_t)n, WD_HTTP_MAX_BODY_OTHER + 1);
    run((treq){"POST", path("status"), &F1, past, WD_HTTP_MAX_BODY_OTHER + 1, NULL, NULL, 0});
    expect_error(413, "too-large");
    assert_int_equal(run((treq){"POST", path("status"), &F1, at, WD_HTTP_MAX_BODY_OTHER, NULL,
                                NULL, 0}),
                     204);
    free(at);
    free(past);
}

typedef struct racer {
    const msg *m;
    int status;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    wd_http_req q;
    memset(&q, 0, sizeof q);
    snprintf(q.method, sizeof q.method, "PUT");
    q.target = q.path = P "policy-bundles";
    q.query = "";
    q.body = (unsigned char *)r->m->env;
    q.body_len = r->m->len;
    q.content_length = (int64_t)r->m->len;
    q.peer = &ADMIN;
    wd_http_resp rs;
    memset(&rs, 0, sizeof rs);
    wd_api_handle(&E.L, &q, &rs);
    r->status = rs.status;
    wd_http_resp_free(&rs);
    return NULL;
}

static void t07_concurrent_publish(void **state)
{
    (void)state;
    /* the same bytes from two threads: exactly one 201 */
    msg m = bundle(1, "prod");
    racer r[2] = {{&m, 0}, {&m, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal((r[0].status == 201) + (r[1].status == 201), 1);
    assert_int_equal((r[0].status == 200) + (r[1].status == 200), 1);
    /* version 2 with two different payloads: one 201, one 409 */
    msg a = bundle(2, "prod");
    json_t *o = bobj(2, "prod");
    json_object_set_new(o, "bundle_id", json_string("b-2b"));
    msg b = bundle_of(o);
    racer s[2] = {{&a, 0}, {&b, 0}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &s[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal((s[0].status == 201) + (s[1].status == 201), 1);
    assert_int_equal((s[0].status == 409) + (s[1].status == 409), 1);
    expect_served(&F1, s[0].status == 201 ? &a : &b);
    free(m.env);
    free(a.env);
    free(b.env);
}

/* ---- what a follower is served ---- */

static void t08_selection_by_instance(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    msg b2 = bundle_for(2, "i-2");
    expect_published(&b1, "policy-bundles", 201, "created");
    expect_published(&b2, "policy-bundles", 201, "created");
    expect_served(&F1, &b1);
    expect_served(&F2, &b2);
    assert_string_equal(RS.route, "policy/latest");
    /* another fleet has nothing */
    assert_int_equal(get("policy/latest", &FDEV), 204);
    assert_null(RS.body);
    free(b1.env);
    free(b2.env);
}


static int report(const wd_spiffe_id *peer, const char *labels, const char *active)
{
    char body[2048];
    snprintf(body, sizeof body, STATUS_FMT, peer->instance, labels, active);
    return post("status", peer, body);
}

static void t09_selection_by_labels(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    json_t *o = bobj(2, "prod");
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", "payments"));
    msg b2 = bundle_of(o);
    expect_published(&b1, "policy-bundles", 201, "created");
    expect_published(&b2, "policy-bundles", 201, "created");
    /* no labels reported yet */
    expect_served(&F1, &b1);
    int wakes = E.wakes;
    assert_int_equal(report(&F1, "{\"team\":\"payments\"}", "null"), 204);
    assert_int_equal(E.wakes, wakes + 1);
    assert_string_equal(E.last_wake, "acme/prod/eu1");
    expect_served(&F1, &b2);
    expect_served(&F2, &b1);
    /* the same labels again: no wake-up */
    assert_int_equal(report(&F1, "{\"team\":\"payments\"}", "null"), 204);
    assert_int_equal(E.wakes, wakes + 1);
    /* labels change again: back to the all-hosts bundle */
    assert_int_equal(report(&F1, "{\"team\":\"search\"}", "null"), 204);
    expect_served(&F1, &b1);
    /* the labels survive a restart (read back from the store) */
    assert_int_equal(report(&F1, "{\"team\":\"payments\"}", "null"), 204);
    leader_down();
    leader_up();
    expect_served(&F1, &b2);
    free(b1.env);
    free(b2.env);
}

static void t10_not_modified_reads_no_store(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    expect_published(&b1, "policy-bundles", 201, "created");
    char etag[WD_DIGEST_STRLEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", b1.hash);
    W.fail_all = true;
    W.calls = 0;
    assert_int_equal(get_inm("policy/latest", &F1, etag), 304);
    assert_string_equal(hdr("ETag"), etag);
    assert_null(RS.body);
    assert_int_equal(get_inm("policy/latest", &F1, "W/\"x\", \"" "nothing" "\", *"), 304);
    assert_int_equal(get("policy/latest", &FDEV), 204);
    assert_int_equal(get("remote-kill/latest", &F1), 204);
    assert_int_equal(get_inm("roster", &F1, "*"), 304);
    assert_int_equal(W.calls, 0);
    /* the 200 path does read, and a broken store is 503 there */
    get("policy/latest", &F1);
    expect_error(503, "unavailable");
    assert_int_equal(W.calls, 1);
    W.fail_all = false;
    /* an ETag that is not the current one: 200 */
    assert_int_equal(get_inm("policy/latest", &F1, "\"sha256:00\""), 200);
    expect_body(b1.env, b1.len);
    free(b1.env);
}

static int poll(const wd_spiffe_id *peer, const char *inm, int wake)
{
    return run((treq){"GET", path("policy/latest"), peer, NULL, 0, inm, "wait=30", wake});
}

static void t11_long_poll(void **state)
{
    (void)state;
    /* nothing for dev: held, keyed by the follower's stream */
    assert_int_equal(poll(&FDEV, NULL, 0), 0);
    assert_int_equal(RS.hold_s, 30);
    assert_string_equal(RS.hold_key, "acme/dev/eu1");
    /* a wake-up with nothing new: held again */
    assert_int_equal(poll(&FDEV, NULL, 1), 0);
    assert_int_equal(RS.hold_s, 30);
    /* a publish to dev wakes that key; the re-run answers 200 */
    msg d1 = bundle(1, "dev");
    expect_published(&d1, "policy-bundles", 201, "created");
    assert_string_equal(E.last_wake, "acme/dev/eu1");
    assert_int_equal(poll(&FDEV, NULL, 1), 200);
    expect_body(d1.env, d1.len);
    assert_string_equal(hdr("Preference-Applied"), "wait=30");
    assert_int_equal(RS.hold_s, 0);
    /* with the current ETag: held; the final call answers 304 with Preference-Applied */
    char etag[WD_DIGEST_STRLEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", d1.hash);
    assert_int_equal(poll(&FDEV, etag, 0), 0);
    assert_int_equal(RS.hold_s, 30);
    assert_int_equal(poll(&FDEV, etag, 2), 304);
    assert_string_equal(hdr("Preference-Applied"), "wait=30");
    assert_string_equal(hdr("ETag"), etag);
    /* nothing at all, final call: 204 with Preference-Applied */
    assert_int_equal(run((treq){"GET", path("remote-kill/latest"), &FDEV, NULL, 0, NULL,
                                "wait=5", 2}), 204);
    assert_string_equal(hdr("Preference-Applied"), "wait=5");
    /* no (or an out-of-range) wait: answered at once, without the header */
    assert_int_equal(run((treq){"GET", path("policy/latest"), &FDEV, NULL, 0, etag,
                                "wait=301", 0}), 304);
    assert_null(hdr("Preference-Applied"));
    assert_int_equal(get_inm("policy/latest", &FDEV, etag), 304);
    /* draining: answered at once */
    E.L.draining = 1;
    assert_int_equal(poll(&FDEV, etag, 0), 304);
    E.L.draining = 0;
    free(d1.env);
}

static void t12_rollback(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    msg b2 = bundle(2, "prod");
    expect_published(&b1, "policy-bundles", 201, "created");
    expect_published(&b2, "policy-bundles", 201, "created");
    /* one signature under a threshold of 2 */
    msg weak = sign_msg(WD_ROLLBACK_PAYLOAD_TYPE, robj("r-1", &b2, 2, &b1, 1), &F.rb1, 1);
    put("rollback-authorizations", weak.env, weak.len);
    expect_error(422, "threshold");
    /* current is not the active bundle */
    msg wrong = rollback_of(robj("r-1", &b1, 2, &b1, 1));
    put("rollback-authorizations", wrong.env, wrong.len);
    expect_error(409, "stale");
    /* the target is not held */
    msg b0 = bundle(7, "dev");
    msg missing = rollback_of(robj("r-1", &b2, 2, &b0, 1));
    put("rollback-authorizations", missing.env, missing.len);
    expect_error(409, "conflict");
    expect_served(&F1, &b2);
    /* a valid one: the target is served, with the header */
    int wakes = E.wakes;
    msg rb = rollback_of(robj("r-1", &b2, 2, &b1, 1));
    expect_published(&rb, "rollback-authorizations", 201, "created");
    json_t *v = body_json();
    assert_string_equal(json_string_value(json_object_get(v, "id")), "r-1");
    json_decref(v);
    assert_int_equal(E.wakes, wakes + 1);
    expect_served(&F1, &b1);
    assert_string_equal(hdr("Warden-Rollback-Authorization"), "r-1");
    expect_published(&rb, "rollback-authorizations", 200, "unchanged");
    /* the authorization itself, to any peer of the org */
    assert_int_equal(get("rollback-authorizations/r-1", &F2), 200);
    expect_body(rb.env, rb.len);
    get("rollback-authorizations/r-9", &F2);
    expect_error(404, "not-found");
    get("rollback-authorizations/..", &F2);
    expect_error(400, "bad-request");
    /* it survives a restart */
    leader_down();
    leader_up();
    expect_served(&F1, &b1);
    assert_string_equal(hdr("Warden-Rollback-Authorization"), "r-1");
    /* a higher version supersedes it */
    msg b3 = bundle(3, "prod");
    expect_published(&b3, "policy-bundles", 201, "created");
    expect_served(&F1, &b3);
    assert_null(hdr("Warden-Rollback-Authorization"));
    leader_down();
    leader_up();
    expect_served(&F1, &b3);
    assert_null(hdr("Warden-Rollback-Authorization"));
    msg *all[] = {&b0, &b1, &b2, &b3, &weak, &wrong, &missing, &rb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->env);
}

static void t13_kills(void **state)
{
    (void)state;
    msg k5 = kill_of(kobj(5, "incident 1"));
    expect_published(&k5, "remote-kill", 201, "created");
    json_t *v = body_json();
    assert_int_equal(json_integer_value(json_object_get(v, "counter")), 5);
    assert_string_equal(json_string_value(json_object_get(v, "kind")), "kill");
    json_decref(v);
    assert_string_equal(E.last_wake, "acme/prod/eu1");
    expect_published(&k5, "remote-kill", 200, "unchanged");
    msg k4 = kill_of(kobj(4, "older"));
    put("remote-kill", k4.env, k4.len);
    expect_error(409, "stale");
    msg k5b = kill_of(kobj(5, "same counter, other text"));
    put("remote-kill", k5b.env, k5b.len);
    expect_error(409, "stale");
    assert_int_equal(get("remote-kill/latest", &F1), 200);
    expect_body(k5.env, k5.len);
    char etag[WD_DIGEST_STRLEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", k5.hash);
    assert_string_equal(hdr("ETag"), etag);
    assert_int_equal(get_inm("remote-kill/latest", &F1, etag), 304);
    /* a newer kill for i-2 only: i-1 keeps the older one */
    json_t *o = kobj(6, "only i-2");
    json_object_set_new(o, "audience", json_pack("{s:[s]}", "instance_ids", "i-2"));
    msg k6 = kill_of(o);
    expect_published(&k6, "remote-kill", 201, "created");
    assert_int_equal(get("remote-kill/latest", &F1), 200);
    expect_body(k5.env, k5.len);
    assert_int_equal(get("remote-kill/latest", &F2), 200);
    expect_body(k6.env, k6.len);
    assert_int_equal(get("remote-kill/latest", &FDEV), 204);
    /* a kill valid for more than 72 h is malformed */
    o = kobj(7, "too long");
    json_object_set_new(o, "expires_at", tjson(T0 + 4 * DAY));
    msg k7 = kill_of(o);
    put("remote-kill", k7.env, k7.len);
    expect_error(422, "malformed");
    assert_int_equal(published("kill", "created"), 2);
    assert_int_equal(published("kill", "stale"), 2);
    msg *all[] = {&k4, &k5, &k5b, &k6, &k7};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->env);
}

static void t14_roster(void **state)
{
    (void)state;
    char etag[WD_DIGEST_STRLEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", roster_hash[1]);
    assert_int_equal(get("roster", &F1), 200);
    expect_body(roster_env[1], roster_len[1]);
    assert_string_equal(hdr("ETag"), etag);
    assert_int_equal(get_inm("roster", &F1, etag), 304);
    assert_int_equal(get("roster/1", &ADMIN), 200);
    expect_body(roster_env[1], roster_len[1]);
    get("roster/2", &F1);
    expect_error(404, "not-found");
    get("roster/01", &F1);
    expect_error(400, "bad-request");
    /* a gap, a stale version, then the rotation */
    put("roster", roster_env[4], roster_len[4]);
    expect_error(422, "untrusted-root");
    put("roster", "{}", 2);
    expect_error(422, "malformed");
    assert_int_equal(put("roster", roster_env[2], roster_len[2]), 201);
    json_t *v = body_json();
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(v, "hash")), roster_hash[2]);
    json_decref(v);
    assert_int_equal(put("roster", roster_env[2], roster_len[2]), 200);
    put("roster", roster_env[1], roster_len[1]);
    expect_error(409, "stale");
    assert_int_equal(get("roster", &F2), 200);
    expect_body(roster_env[2], roster_len[2]);
    snprintf(etag, sizeof etag, "\"%s\"", roster_hash[2]);
    assert_string_equal(hdr("ETag"), etag);
    /* the older version comes from the store, with its own ETag */
    assert_int_equal(get("roster/1", &F2), 200);
    expect_body(roster_env[1], roster_len[1]);
    snprintf(etag, sizeof etag, "\"%s\"", roster_hash[1]);
    assert_string_equal(hdr("ETag"), etag);
    /* a restart from the version-1 file walks the store's chain to version 2, also once the
     * file's roster has expired: the newest one reached counts, and must not be expired */
    leader_down();
    now_t = T0 + 366 * DAY;
    leader_up();
    assert_int_equal(E.L.api->roster->r->version, 2);
    leader_down();
    now_t = T0 + 600 * DAY;
    wd_err e;
    assert_int_equal(wd_api_init_clock(&E.L, test_clock, NULL, &e), WD_E_EXPIRED);
    assert_null(E.L.api);
    now_t = T0;
    leader_down();
    leader_up();
    assert_int_equal(E.L.api->roster->r->version, 2);
    assert_int_equal(get("roster", &F2), 200);
    expect_body(roster_env[2], roster_len[2]);
    assert_int_equal(published("roster", "created"), 1);
}

static void t15_bundle_by_hash(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    msg b2 = bundle_for(2, "i-2");
    msg d1 = bundle(1, "dev");
    expect_published(&b1, "policy-bundles", 201, "created");
    expect_published(&b2, "policy-bundles", 201, "created");
    expect_published(&d1, "policy-bundles", 201, "created");
    char rel[160];
    snprintf(rel, sizeof rel, "policy-bundles/%s", b2.hash);
    assert_int_equal(get(rel, &ADMIN), 200);
    expect_body(b2.env, b2.len);
    assert_int_equal(get(rel, &F2), 200);
    expect_body(b2.env, b2.len);
    /* not in its audience, another fleet's: answered as if it did not exist */
    get(rel, &F1);
    expect_error(404, "not-found");
    snprintf(rel, sizeof rel, "policy-bundles/%s", d1.hash);
    get(rel, &F1);
    expect_error(404, "not-found");
    assert_int_equal(get(rel, &FDEV), 200);
    /* uppercase hex is the same digest */
    for (char *c = rel + strlen("policy-bundles/sha256:"); *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    assert_int_equal(get(rel, &ADMIN), 200);
    get("policy-bundles/sha256:1234", &ADMIN);
    expect_error(400, "bad-request");
    get("policy-bundles/sha256:0000000000000000000000000000000000000000000000000000000000000000",
        &ADMIN);
    expect_error(404, "not-found");
    free(b1.env);
    free(b2.env);
    free(d1.env);
}

/* ---- audit batches ---- */

static char *batch(const char *instance, int64_t first, int64_t last, const char *prev,
                   char last_digest[WD_DIGEST_STRLEN + 1])
{
    json_t *recs = json_array();
    char p[WD_DIGEST_STRLEN + 1];
    snprintf(p, sizeof p, "%s", prev);
    for (int64_t s = first; s <= last; s++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"seq\":%lld,\"ts\":\"2027-01-15T08:00:00Z\",\"prev\":\"%s\",\"kind\":"
                 "\"tool_call\"}", (long long)s, p);
        json_array_append_new(recs, json_string(line));
        digest_of(line, strlen(line), p);
    }
    if (last_digest != NULL)
        snprintf(last_digest, WD_DIGEST_STRLEN + 1, "%s", p);
    char id[160];
    snprintf(id, sizeof id, "%s-%lld", instance, (long long)first);
    json_t *o = json_pack("{s:i,s:s,s:s,s:I,s:I,s:o}", "schema_version", 1, "batch_id", id,
                          "instance_id", instance, "first_seq", (json_int_t)first, "last_seq",
                          (json_int_t)last, "records", recs);
    char *text = wd_json_dump(o, NULL);
    json_decref(o);
    return text;
}

static const char GENESIS[] =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

static bool batch_gap(void)
{
    json_t *v = body_json();
    bool gap = json_is_true(json_object_get(v, "gap"));
    json_decref(v);
    return gap;
}

static void t16_audit(void **state)
{
    (void)state;
    char d3[WD_DIGEST_STRLEN + 1], d5[WD_DIGEST_STRLEN + 1];
    char *b1 = batch("i-1", 1, 3, GENESIS, d3);
    assert_int_equal(post("audit/batches", &F1, b1), 202);
    assert_false(batch_gap());
    assert_int_equal(post("audit/batches", &F1, b1), 200);
    /* same id, other bytes */
    char *b1x = batch("i-1", 1, 3, d3, NULL);
    post("audit/batches", &F1, b1x);
    expect_error(409, "conflict");
    /* another instance's batch */
    char *other = batch("i-2", 1, 1, GENESIS, NULL);
    post("audit/batches", &F1, other);
    expect_error(403, "forbidden");
    /* the chain continues */
    char *b2 = batch("i-1", 4, 5, d3, d5);
    assert_int_equal(post("audit/batches", &F1, b2), 202);
    assert_false(batch_gap());
    /* a jump in sequence: stored, flagged */
    char *b3 = batch("i-1", 10, 11, d5, NULL);
    assert_int_equal(post("audit/batches", &F1, b3), 202);
    assert_true(batch_gap());
    /* the right sequence with the wrong prev: flagged */
    char *b4 = batch("i-1", 12, 12, d5, NULL);
    assert_int_equal(post("audit/batches", &F1, b4), 202);
    assert_true(batch_gap());
    /* a first batch that does not start the chain */
    char *b5 = batch("i-2", 7, 7, d5, NULL);
    assert_int_equal(post("audit/batches", &F2, b5), 202);
    assert_true(batch_gap());
    char *list[] = {b1, b1x, other, b2, b3, b4, b5};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        free(list[i]);
}

static void t17_audit_bad_bodies(void **state)
{
    (void)state;
    char *good = batch("i-1", 1, 2, GENESIS, NULL);
    json_t *o = NULL;
    assert_int_equal(wd_json_parse((unsigned char *)good, strlen(good), 1u << 20, &o, NULL),
                     WD_OK);
    struct {
        const char *key;
        json_t *value;
        const char *code;
    } cases[] = {
        {"extra", json_true(), "unknown-field"},
        {"first_seq", json_string("1"), "malformed"},
        {"last_seq", json_integer(3), "malformed"},     /* count differs */
        {"batch_id", json_string("i-1-2"), "malformed"},
        {"instance_id", json_string("bad id"), "malformed"},
        {"schema_version", json_integer(2), "unsupported-version"},
        {"records", json_pack("[s,s]", "not json", "x"), "malformed"},
        {"records", json_pack("[s,s]", "{\"seq\":1}", "x"), "malformed"},
        {"records", json_pack("[s,i]", "{\"prev\":\"x\"}", 1), "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *c = json_deep_copy(o);
        json_object_set_new(c, cases[i].key, cases[i].value);
        char *text = wd_json_dump(c, NULL);
        json_decref(c);
        post("audit/batches", &F1, text);
        expect_error(400, cases[i].code);
        free(text);
    }
    post("audit/batches", &F1, "{\"a\":1,\"a\":2}");
    expect_error(400, "duplicate-key");
    post("audit/batches", &F1, "{} x");
    expect_error(400, "trailing-data");
    json_decref(o);
    free(good);
    /* nothing was stored: the first batch still starts the chain */
    char *b = batch("i-1", 1, 1, GENESIS, NULL);
    assert_int_equal(post("audit/batches", &F1, b), 202);
    assert_false(batch_gap());
    free(b);
}

/* A batch of n records: the first carries the chain link, the rest are one byte each (only
 * the first record is read by the leader). */
static char *batch_small(const char *instance, int64_t n)
{
    json_t *recs = json_array();
    char first[160];
    snprintf(first, sizeof first, "{\"seq\":1,\"prev\":\"%s\"}",
             "sha256:0000000000000000000000000000000000000000000000000000000000000000");
    json_array_append_new(recs, json_string(first));
    for (int64_t i = 1; i < n; i++)
        json_array_append_new(recs, json_string("x"));
    char id[160];
    snprintf(id, sizeof id, "%s-1", instance);
    json_t *o = json_pack("{s:i,s:s,s:s,s:I,s:I,s:o}", "schema_version", 1, "batch_id", id,
                          "instance_id", instance, "first_seq", (json_int_t)1, "last_seq",
                          (json_int_t)n, "records", recs);
    char *text = wd_json_dump(o, NULL);
    json_decref(o);
    return text;
}

static void t18_audit_record_limit(void **state)
{
    (void)state;
    char *at = batch_small("i-1", WD_API_MAX_BATCH_RECORDS);
    assert_true(strlen(at) <= WD_HTTP_MAX_BODY_BUNDLE);
    assert_int_equal(post("audit/batches", &F1, at), 202);
    char *past = batch_small("i-2", WD_API_MAX_BATCH_RECORDS + 1);
    assert_true(strlen(past) <= WD_HTTP_MAX_BODY_BUNDLE);
    post("audit/batches", &F2, past);
    expect_error(400, "oversized");
    free(at);
    free(past);
}

/* ---- status and the followers view ---- */

static void t19_status(void **state)
{
    (void)state;
    assert_int_equal(report(&F1, "{}", "null"), 204);
    assert_int_equal(RS.body_len, 0);
    /* another instance's report */
    char body[2048];
    snprintf(body, sizeof body, STATUS_FMT, "i-2", "{}", "null");
    post("status", &F1, body);
    expect_error(403, "forbidden");
    struct {
        const char *from, *to, *code;
    } cases[] = {
        {"\"recorder_key\":null", "\"recorder_key\":null,\"x\":1", "unknown-field"},
        {"\"policy_state\":\"enforcing\"", "\"policy_state\":\"asleep\"", "malformed"},
        {"\"policy_state\":\"enforcing\"", "\"policy_state\":1", "malformed"},
        {"\"schema_version\":1", "\"schema_version\":2", "unsupported-version"},
        {"\"labels\":{}", "\"labels\":[]", "malformed"},
        {"\"labels\":{}", "\"labels\":{\"team\":1}", "malformed"},
        {"\"labels\":{}", "\"labels\":{\"bad key\":\"x\"}", "malformed"},
        {"\"warden_version\":\"0.1.0\"", "\"warden_version\":\"1\"", "malformed"},
        {"\"started_at\":\"2027-01-15T07:00:00Z\"", "\"started_at\":\"yesterday\"",
         "malformed"},
        {"\"active_bundle\":null", "\"active_bundle\":{\"version\":1}", "malformed"},
        {"\"active_bundle\":null", "\"active_bundle\":{\"version\":1,\"hash\":\"x\"}",
         "malformed"},
        {"\"kill\":null", "\"kill\":{\"counter\":1,\"state\":\"on\",\"honored\":true}",
         "malformed"},
        {"\"last_error\":null", "\"last_error\":{\"code\":\"x\",\"message\":\"y\"}",
         "malformed"},
        {"\"recorder_key\":null", "\"recorder_key\":\"sha256:12\"", "malformed"},
        {"\"instance_id\":\"i-1\",", "", "malformed"},
    };
    snprintf(body, sizeof body, STATUS_FMT, "i-1", "{}", "null");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char bad[2048];
        const char *at = strstr(body, cases[i].from);
        assert_non_null(at);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - body), body, cases[i].to,
                 at + strlen(cases[i].from));
        post("status", &F1, bad);
        expect_error(400, cases[i].code);
    }
    run((treq){"POST", path("status"), &F1, NULL, 0, NULL, NULL, 0});
    expect_error(400, "malformed");
    run((treq){"POST", path("audit/batches"), &F1, NULL, 0, NULL, NULL, 0});
    expect_error(400, "malformed");
    post("status", &F1, "[]");
    expect_error(400, "malformed");
    /* 65 labels: one past the limit */
    char labels[4096] = "{";
    for (int i = 0; i <= WD_MAX_LABELS; i++)
        snprintf(labels + strlen(labels), sizeof labels - strlen(labels), "%s\"k%d\":\"v\"",
                 i ? "," : "", i);
    strcat(labels, "}");
    report(&F1, labels, "null");
    expect_error(400, "oversized");
    /* 64: accepted */
    char *cut = strstr(labels, ",\"k64\"");
    assert_non_null(cut);
    strcpy(cut, "}");
    assert_int_equal(report(&F1, labels, "null"), 204);
}

static void t20_followers_view(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    msg b2 = bundle(2, "prod");
    expect_published(&b1, "policy-bundles", 201, "created");
    expect_published(&b2, "policy-bundles", 201, "created");
    char active[200];
    snprintf(active, sizeof active, "{\"version\":1,\"hash\":\"%s\"}", b1.hash);
    assert_int_equal(report(&F1, "{\"team\":\"payments\"}", active), 204);
    now_t = T0 + 3 * 60 + 1; /* i-1 has now been quiet for three intervals and a second */
    snprintf(active, sizeof active, "{\"version\":2,\"hash\":\"%s\"}", b2.hash);
    assert_int_equal(report(&F2, "{}", active), 204);
    char *dev = NULL;
    {
        char body[2048];
        snprintf(body, sizeof body, STATUS_FMT, "i-9", "{}", "null");
        dev = strdup(body);
    }
    assert_int_equal(post("status", &FDEV, dev), 204);
    free(dev);
    assert_int_equal(get("followers", &ADMIN), 200);
    json_t *v = body_json();
    json_t *list = json_object_get(v, "followers");
    assert_int_equal(json_array_size(list), 3);
    size_t i;
    json_t *f;
    int seen = 0;
    json_array_foreach(list, i, f) {
        const char *id = json_string_value(json_object_get(f, "instance_id"));
        assert_non_null(json_object_get(f, "last_seen"));
        assert_non_null(json_object_get(f, "labels"));
        assert_string_equal(json_string_value(json_object_get(f, "policy_state")), "enforcing");
        if (strcmp(id, "i-1") == 0) {
            seen++;
            assert_true(json_is_true(json_object_get(f, "silent")));
            assert_int_equal(json_integer_value(json_object_get(f, "lag")), 1);
            assert_string_equal(json_string_value(json_object_get(json_object_get(f, "labels"),
                                                                  "team")), "payments");
            assert_string_equal(json_string_value(json_object_get(f, "fleet_id")), "prod");
        } else if (strcmp(id, "i-2") == 0) {
            seen++;
            assert_true(json_is_false(json_object_get(f, "silent")));
            assert_int_equal(json_integer_value(json_object_get(f, "lag")), 0);
        } else {
            seen++;
            assert_string_equal(id, "i-9");
            assert_true(json_is_null(json_object_get(f, "lag")));
            assert_true(json_is_null(json_object_get(f, "active_bundle")));
        }
    }
    assert_int_equal(seen, 3);
    json_t *act = json_object_get(json_object_get(v, "active"), "prod/eu1");
    assert_int_equal(json_integer_value(json_object_get(act, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(act, "hash")), b2.hash);
    assert_null(json_object_get(json_object_get(v, "active"), "dev/eu1"));
    json_decref(v);
    get("followers", &F1);
    expect_error(403, "forbidden");
    free(b1.env);
    free(b2.env);
}

/* ---- a store that cannot be written ---- */

static void t21_store_write_failure(void **state)
{
    (void)state;
    msg b1 = bundle(1, "prod");
    expect_published(&b1, "policy-bundles", 201, "created");
    W.fail_writes = true;
    int wakes = E.wakes;
    msg b2 = bundle(2, "prod");
    put("policy-bundles", b2.env, b2.len);
    expect_error(503, "unavailable");
    assert_int_equal(published("bundle", "unavailable"), 1);
    assert_int_equal(E.wakes, wakes);
    msg k = kill_of(kobj(1, "x"));
    put("remote-kill", k.env, k.len);
    expect_error(503, "unavailable");
    put("roster", roster_env[2], roster_len[2]);
    expect_error(503, "unavailable");
    assert_int_equal(E.L.api->roster->r->version, 1);
    assert_int_equal(report(&F1, "{}", "null"), 503);
    char *b = batch("i-1", 1, 1, GENESIS, NULL);
    post("audit/batches", &F1, b);
    expect_error(503, "unavailable");
    free(b);
    /* reads go on, and the view did not take the refused bundle */
    expect_served(&F1, &b1);
    char etag[WD_DIGEST_STRLEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", b1.hash);
    assert_int_equal(get_inm("policy/latest", &F1, etag), 304);
    assert_int_equal(get("remote-kill/latest", &F1), 204);
    /* once the store is back, the same publish works */
    W.fail_writes = false;
    expect_published(&b2, "policy-bundles", 201, "created");
    expect_served(&F1, &b2);
    free(b1.env);
    free(b2.env);
    free(k.env);
}

/* ---- init ---- */

static void t22_init_refuses_bad_roster(void **state)
{
    (void)state;
    leader_down();
    wd_err e;
    /* the wrong pin */
    E.L.cfg.pin = (char *)wd_key_id(F.bsign);
    assert_int_equal(wd_api_init_clock(&E.L, test_clock, NULL, &e), WD_E_UNTRUSTED_ROOT);
    assert_null(E.L.api);
    assert_false(wd_api_ready(&E.L));
    E.L.cfg.pin = E.pin;
    /* expired at the time of loading */
    now_t = T0 + 400 * DAY;
    assert_int_equal(wd_api_init_clock(&E.L, test_clock, NULL, &e), WD_E_EXPIRED);
    now_t = T0;
    /* a tampered file */
    char *bad = strdup(roster_env[1]);
    char *at = strstr(bad, "\"payload\":\"") + 11;
    at[40] = at[40] == 'A' ? 'B' : 'A';
    assert_int_equal(wd_write_file(E.roster_path, bad, roster_len[1], 0644, &e), WD_OK);
    free(bad);
    wd_code c = wd_api_init_clock(&E.L, test_clock, NULL, &e);
    assert_true(wd_code_is_rejection(c));
    /* a store that cannot be read */
    assert_int_equal(wd_write_file(E.roster_path, roster_env[1], roster_len[1], 0644, &e),
                     WD_OK);
    W.fail_all = true;
    assert_int_equal(wd_api_init_clock(&E.L, test_clock, NULL, &e), WD_E_IO);
    assert_null(E.L.api);
    W.fail_all = false;
    leader_up();
    assert_true(wd_api_ready(&E.L));
    /* loading twice is refused and keeps what is loaded */
    wd_api *A = E.L.api;
    assert_int_equal(wd_api_init_clock(&E.L, test_clock, NULL, &e), WD_E_USAGE);
    assert_ptr_equal(E.L.api, A);
}

static void t23_init_walks_the_store_chain(void **state)
{
    (void)state;
    /* the store holds 1, 2, 3; the leader restarts from a file at version 1 */
    assert_int_equal(put("roster", roster_env[2], roster_len[2]), 201);
    assert_int_equal(put("roster", roster_env[3], roster_len[3]), 201);
    leader_down();
    leader_up();
    assert_int_equal(E.L.api->roster->r->version, 3);
    /* a file newer than the store's chain: the file's roster (it verified from the pin) */
    leader_down();
    wd_err e;
    assert_int_equal(wd_write_file(E.roster_path, roster_env[4], roster_len[4], 0644, &e),
                     WD_OK);
    leader_up();
    assert_int_equal(E.L.api->roster->r->version, 4);
    assert_int_equal(get("roster", &F1), 200);
    expect_body(roster_env[4], roster_len[4]);
}

static void t24_init_keeps_file_roster_when_store_chain_breaks(void **state)
{
    (void)state;
    /* a version 2 in the store that the version 1 roster's root did not sign */
    wd_roster *r = NULL;
    wd_err e;
    assert_int_equal(wd_roster_copy(F.roster, &r, &e), WD_OK);
    r->version = 2;
    r->expires_at += 1; /* another payload than the administrators' version 2 */
    char *env = NULL;
    size_t len = 0;
    assert_int_equal(wd_roster_sign(r, &F.outsider, 1, &env, &len, &e), WD_OK);
    wd_roster_free(r);
    wd_dsse d;
    char hash[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_msg_decode_unverified((unsigned char *)env, len, WD_MAX_ROSTER_ENVELOPE,
                                              WD_ROSTER_PAYLOAD_TYPE, &d, &e),
                     WD_OK);
    digest_of((char *)d.payload, d.payload_len, hash);
    wd_dsse_free(&d);
    wd_put_result res;
    assert_int_equal(E.real->ops->put_roster(E.real, 2, hash, (unsigned char *)env, len, &res,
                                             &e),
                     WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    leader_down();
    leader_up();
    assert_int_equal(E.L.api->roster->r->version, 1);
    assert_int_equal(get("roster", &F1), 200);
    expect_body(roster_env[1], roster_len[1]);
    /* and a rotation by the administrators is refused by the store's chain: stale */
    put("roster", roster_env[2], roster_len[2]);
    expect_error(409, "stale");
    free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t01_capabilities_and_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(t02_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_body_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_publish_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(t04b_retry_of_a_lost_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_publish_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(t06_publish_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(t06b_body_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(t07_concurrent_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(t08_selection_by_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(t09_selection_by_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(t10_not_modified_reads_no_store, setup, teardown),
        cmocka_unit_test_setup_teardown(t11_long_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(t12_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(t13_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(t14_roster, setup, teardown),
        cmocka_unit_test_setup_teardown(t15_bundle_by_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(t16_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(t17_audit_bad_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(t18_audit_record_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(t19_status, setup, teardown),
        cmocka_unit_test_setup_teardown(t20_followers_view, setup, teardown),
        cmocka_unit_test_setup_teardown(t21_store_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(t22_init_refuses_bad_roster, setup, teardown),
        cmocka_unit_test_setup_teardown(t23_init_walks_the_store_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(t24_init_keeps_file_roster_when_store_chain_breaks,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
