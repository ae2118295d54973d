/* test_store_pg.c — focus: the leader's PostgreSQL store against a scratch cluster
 * (tests/unit/with_pg.sh starts it and sets WD_TEST_PG_URL; without it every test is skipped):
 * every stream rule of every put and every outcome with bytes kept exactly, reads of absent
 * things, one stream read in one snapshot, the schema version and migrations (fresh, previous,
 * newer refused and untouched), racing writers through two stores on one database (exactly one
 * CREATED), announcements on commit to another store's listening connection (not to the
 * writer itself), a lost listening connection reported as WD_E_IO, a pool connection ended by
 * the server replaced on its next use, and an unreachable database as WD_E_IO without the
 * password. Each test works in a database of its own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store.h"

static char base_url[512]; /* the cluster's URL (database warden) */
static char url[600];      /* this test's database */
static char dbname[64];
static int ndb;

/* The cluster's URL with another database name. */
static void url_for(const char *db, char *out, size_t n)
{
    const char *slash = strrchr(base_url, '/');
    snprintf(out, n, "%.*s/%s", (int)(slash - base_url), base_url, db);
}

static PGconn *admin(const char *db)
{
    char u[600];
    url_for(db, u, sizeof u);
    PGconn *c = PQconnectdb(u);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("admin connect: %s", PQerrorMessage(c));
    return c;
}

static void sql_in(const char *db, const char *sql)
{
    PGconn *c = admin(db);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("sql %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static long long sql_int(const char *sql)
{
    PGconn *c = admin(dbname);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("sql %s: %s", sql, PQerrorMessage(c));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

static int setup(void **state)
{
    (void)state;
    const char *u = getenv("WD_TEST_PG_URL");
    if (u == NULL || u[0] == '\0')
        return 0;
    snprintf(base_url, sizeof base_url, "%s", u);
    snprintf(dbname, sizeof dbname, "t_%d_%d", (int)getpid(), ++ndb);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    sql_in("warden", sql);
    url_for(dbname, url, sizeof url);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (base_url[0] == '\0')
        return 0;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", dbname);
    sql_in("warden", sql);
    return 0;
}

#define NEED_PG()                                                                             \
    do {                                                                                      \
        if (base_url[0] == '\0')                                                              \
            skip();                                                                           \
    } while (0)

static wd_store *open_store(void)
{
    wd_store *s = NULL;
    wd_err e = {0};
    if (wd_store_open(url, &s, &e) != WD_OK)
        fail_msg("open: %s", e.msg);
    assert_string_equal(s->ops->name, "postgres");
    return s;
}

static void mkhash(char out[WD_DIGEST_STRLEN + 1], char c)
{
    memcpy(out, "sha256:", 7);
    memset(out + 7, c, 64);
    out[71] = '\0';
}

static wd_store_msg mkmsg(const char *fleet, int64_t seq, char hc)
{
    wd_store_msg m;
    memset(&m, 0, sizeof m);
    snprintf(m.stream.org, sizeof m.stream.org, "acme");
    snprintf(m.stream.fleet, sizeof m.stream.fleet, "%s", fleet);
    snprintf(m.stream.env, sizeof m.stream.env, "eu1");
    m.seq = seq;
    mkhash(m.hash, hc);
    m.audience_json = "{\"instance_ids\":[\"*\"]}";
    m.stored_at = 1700000000;
    return m;
}

static wd_put_result put_b(wd_store *s, const wd_store_msg *m, const char *bytes, char *held)
{
    wd_put_result res = (wd_put_result)-1;
    wd_err e = {0};
    if (s->ops->put_bundle(s, m, (const unsigned char *)bytes, strlen(bytes), &res, held, &e) !=
        WD_OK)
        fail_msg("put_bundle: %s", e.msg);
    return res;
}

static wd_put_result put_k(wd_store *s, const wd_store_msg *m, const char *bytes)
{
    wd_put_result res = (wd_put_result)-1;
    wd_err e = {0};
    if (s->ops->put_kill(s, m, (const unsigned char *)bytes, strlen(bytes), &res, &e) != WD_OK)
        fail_msg("put_kill: %s", e.msg);
    return res;
}

static wd_store_rollback mkrb(const char *id, int64_t cur, int64_t tgt)
{
    wd_store_rollback r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.stream.org, sizeof r.stream.org, "acme");
    snprintf(r.stream.fleet, sizeof r.stream.fleet, "prod");
    snprintf(r.stream.env, sizeof r.stream.env, "eu1");
    r.audience_json = "{\"labels\":{\"team\":\"payments\"}}";
    mkhash(r.current_hash, 'c');
    mkhash(r.target_hash, 'd');
    r.current_version = cur;
    r.target_version = tgt;
    r.stored_at = 1700000001;
    return r;
}

static wd_put_result put_r(wd_store *s, const wd_store_rollback *r, const char *bytes)
{
    wd_put_result res = (wd_put_result)-1;
    wd_err e = {0};
    if (s->ops->put_rollback(s, r, (const unsigned char *)bytes, strlen(bytes), &res, &e) !=
        WD_OK)
        fail_msg("put_rollback: %s", e.msg);
    return res;
}

/* ---- schema ---- */

static void test_fresh_and_reopen(void **state)
{
    (void)state;
    NEED_PG();
    wd_store *s = open_store();
    assert_int_equal(sql_int("SELECT version FROM warden_schema"), WD_STORE_SCHEMA_VERSION);
    assert_int_equal(sql_int("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 9);
    wd_store_msg m = mkmsg("prod", 1, 'a');
    assert_int_equal(put_b(s, &m, "v1", NULL), WD_PUT_CREATED);
    wd_err e = {0};
    assert_int_equal(s->ops->ping(s, &e), WD_OK);
    wd_store_close(s);
    s = open_store(); /* reopening migrates nothing and keeps the data */
    assert_int_equal(sql_int("SELECT version FROM warden_schema"), WD_STORE_SCHEMA_VERSION);
    assert_int_equal(put_b(s, &m, "v1", NULL), WD_PUT_SAME);
    wd_store_close(s);
}

static void test_previous_version_migrated(void **state)
{
    (void)state;
    NEED_PG();
    sql_in(dbname, "CREATE TABLE warden_schema (id integer PRIMARY KEY CHECK (id = 1), "
                   "version integer NOT NULL); INSERT INTO warden_schema VALUES (1, 0)");
    wd_store *s = open_store();
    assert_int_equal(sql_int("SELECT version FROM warden_schema"), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM pg_tables WHERE tablename = 'bundles'"), 1);
    wd_store_close(s);
}

static void test_newer_version_refused(void **state)
{
    (void)state;
    NEED_PG();
    sql_in(dbname, "CREATE TABLE warden_schema (id integer PRIMARY KEY CHECK (id = 1), "
                   "version integer NOT NULL); INSERT INTO warden_schema VALUES (1, 2)");
    wd_store *s = (wd_store *)1;
    wd_err e = {0};
    assert_int_equal(wd_store_open(url, &s, &e), WD_E_USAGE);
    assert_null(s);
    assert_non_null(strstr(e.msg, "schema version 2"));
    assert_int_equal(sql_int("SELECT version FROM warden_schema"), 2);
    assert_int_equal(sql_int("SELECT count(*) FROM pg_tables WHERE tablename = 'bundles'"), 0);
}

static void test_unreachable(void **state)
{
    (void)state;
    wd_store *s = (wd_store *)1;
    wd_err e = {0};
    assert_int_equal(wd_store_open("postgres://u:topsecret@127.0.0.1:1/x?connect_timeout=2", &s,
                                   &e),
                     WD_E_IO);
    assert_null(s);
    assert_null(strstr(e.msg, "topsecret"));
    assert_int_equal(wd_store_open("postgres://u:topsecret@127.0.0.1:1/x?nope=1", &s, &e),
                     WD_E_USAGE);
    assert_null(strstr(e.msg, "topsecret"));
}

/* ---- the stream rules ---- */

static void test_bundle_rules(void **state)
{
    (void)state;
    NEED_PG();
    wd_store *s = open_store();
    char held[WD_DIGEST_STRLEN + 1];
    wd_store_msg m1 = mkmsg("prod", 1, 'a'), m2 = mkmsg("prod", 2, 'b');
    assert_int_equal(put_b(s, &m1, "one", held), WD_PUT_CREATED);
    assert_string_equal(held, "");
    assert_int_equal(put_b(s, &m1, "one", held), WD_PUT_SAME);
    assert_string_equal(held, m1.hash);
    wd_store_msg f = mkmsg("prod", 1, 'f');
    assert_int_equal(put_b(s, &f, "fork", held), WD_PUT_FORK);
    assert_string_equal(held, m1.hash);
    assert_int_equal(put_b(s, &m2, "two", NULL), WD_PUT_CREATED);
    wd_store_msg st = mkmsg("prod", 1, 'g');
    assert_int_equal(put_b(s, &st, "x", held), WD_PUT_FORK); /* v1 held with another hash */
    wd_store_msg lo = mkmsg("staging", 5, 'h');
    assert_int_equal(put_b(s, &lo, "s5", NULL), WD_PUT_CREATED);
    wd_store_msg below = mkmsg("staging", 3, 'i');
    assert_int_equal(put_b(s, &below, "s3", held), WD_PUT_STALE);
    assert_string_equal(held, "");
    assert_int_equal(sql_int("SELECT count(*) FROM bundles"), 3);
    /* bytes exactly as given, binary included */
    wd_store_msg bin = mkmsg("prod", 3, 'j');
    unsigned char raw[5] = {0, 1, 0xff, '\\', 0};
    wd_put_result res;
    wd_err e = {0};
    assert_int_equal(s->ops->put_bundle(s, &bin, raw, sizeof raw, &res, NULL, &e), WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    unsigned char *b = NULL;
    size_t n = 0;
    bool found = false;
    wd_store_msg meta;
    assert_int_equal(s->ops->get_bundle(s, "acme", bin.hash, &meta, &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_int_equal(n, sizeof raw);
    assert_memory_equal(b, raw, sizeof raw);
    assert_int_equal(meta.seq, 3);
    assert_string_equal(meta.audience_json, bin.audience_json);
    assert_string_equal(meta.stream.fleet, "prod");
    assert_int_equal(meta.stored_at, 1700000000);
    free(b);
    b = NULL;
    assert_int_equal(s->ops->get_bundle(s, "other", bin.hash, &meta, &b, &n, &found, &e), WD_OK);
    assert_false(found);
    assert_null(b);
    /* a bundle above the limit is refused before the database sees it */
    wd_store_msg big = mkmsg("prod", 9, 'k');
    assert_int_equal(s->ops->put_bundle(s, &big, raw, WD_MAX_BUNDLE_ENVELOPE + 1, &res, NULL, &e),
                     WD_E_INTERNAL);
    assert_int_equal(sql_int("SELECT count(*) FROM bundles WHERE version = 9"), 0);
    wd_store_close(s);
}

static void test_kill_rules(void **state)
{
    (void)state;
    NEED_PG();
    wd_store *s = open_store();
    wd_store_msg k2 = mkmsg("prod", 2, 'a');
    assert_int_equal(put_k(s, &k2, "k2"), WD_PUT_CREATED);
    assert_int_equal(put_k(s, &k2, "k2"), WD_PUT_SAME);
    wd_store_msg eq = mkmsg("prod", 2, 'b');
    assert_int_equal(put_k(s, &eq, "k2b"), WD_PUT_STALE);
    wd_store_msg lo = mkmsg("prod", 1, 'c');
    assert_int_equal(put_k(s, &lo, "k1"), WD_PUT_STALE);
    wd_store_msg k3 = mkmsg("prod", 3, 'd');
    assert_int_equal(put_k(s, &k3, "k3"), WD_PUT_CREATED);
    assert_int_equal(sql_int("SELECT count(*) FROM kills"), 2);
    wd_store_close(s);
}

typedef struct walk {
    int bundles, kills, rollbacks, nulls;
    int64_t last_seq;
    char rb_id[WD_MAX_ID_LEN + 1];
    bool order_ok;
} walk;

static bool w_bundle(void *ctx, const wd_store_msg *m)
{
    walk *w = ctx;
    if (m->seq <= w->last_seq)
        w->order_ok = false;
    w->last_seq = m->seq;
    w->bundles++;
    return true;
}

static bool w_kill(void *ctx, const wd_store_msg *m)
{
    (void)m;
    ((walk *)ctx)->kills++;
    return true;
}

static bool w_rb(void *ctx, const wd_store_rollback *r)
{
    walk *w = ctx;
    if (r == NULL) {
        w->nulls++;
    } else {
        w->rollbacks++;
        snprintf(w->rb_id, sizeof w->rb_id, "%s", r->id);
    }
    return true;
}

static void test_rollbacks_and_one_stream(void **state)
{
    (void)state;
    NEED_PG();
    wd_store *s = open_store();
    wd_store_msg m1 = mkmsg("prod", 1, 'd'), m2 = mkmsg("prod", 2, 'c');
    assert_int_equal(put_b(s, &m1, "one", NULL), WD_PUT_CREATED);
    assert_int_equal(put_b(s, &m2, "two", NULL), WD_PUT_CREATED);
    wd_store_msg other = mkmsg("staging", 7, 'e');
    assert_int_equal(put_b(s, &other, "s7", NULL), WD_PUT_CREATED);
    wd_store_msg k = mkmsg("prod", 1, 'f');
    assert_int_equal(put_k(s, &k, "k1"), WD_PUT_CREATED);
    wd_store_rollback r = mkrb("rb-1", 2, 1);
    assert_int_equal(put_r(s, &r, "auth1"), WD_PUT_CREATED);
    assert_int_equal(put_r(s, &r, "auth1"), WD_PUT_SAME);
    assert_int_equal(put_r(s, &r, "auth1-other"), WD_PUT_FORK);
    wd_err e = {0};
    unsigned char *b = NULL;
    size_t n = 0;
    bool found = false;
    assert_int_equal(s->ops->get_rollback(s, "acme", "rb-1", &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_int_equal(n, 5);
    assert_memory_equal(b, "auth1", 5);
    free(b);

    wd_stream st = {"acme", "prod", "eu1"};
    walk w = {.order_ok = true};
    wd_store_stream_cb cb = {w_bundle, w_kill, w_rb, &w};
    assert_int_equal(s->ops->each_of_stream(s, &st, &cb, &e), WD_OK);
    assert_int_equal(w.bundles, 2); /* not staging's */
    assert_true(w.order_ok);
    assert_int_equal(w.kills, 1);
    assert_int_equal(w.rollbacks, 1);
    assert_string_equal(w.rb_id, "rb-1");
    /* a higher version ends the rollback */
    wd_store_msg m3 = mkmsg("prod", 3, 'g');
    assert_int_equal(put_b(s, &m3, "three", NULL), WD_PUT_CREATED);
    memset(&w, 0, sizeof w);
    w.order_ok = true;
    assert_int_equal(s->ops->each_of_stream(s, &st, &cb, &e), WD_OK);
    assert_int_equal(w.bundles, 3);
    assert_int_equal(w.rollbacks, 0);
    assert_int_equal(w.nulls, 1);
    wd_store_stream_cb none = {NULL, w_kill, w_rb, &w};
    assert_int_equal(s->ops->each_of_stream(s, &st, &none, &e), WD_E_INTERNAL);
    wd_store_close(s);
}

static void test_roster_audit_followers(void **state)
{
    (void)state;
    NEED_PG();
    wd_store *s = open_store();
    char h[WD_DIGEST_STRLEN + 1], h2[WD_DIGEST_STRLEN + 1];
    mkhash(h, 'a');
    mkhash(h2, 'b');
    wd_put_result res;
    wd_err e = {0};
    assert_int_equal(s->ops->put_roster(s, 4, h, (const unsigned char *)"r4", 2, &res, &e), WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    assert_int_equal(s->ops->put_roster(s, 4, h, (const unsigned char *)"r4", 2, &res, &e), WD_OK);
    assert_int_equal(res, WD_PUT_SAME);
    assert_int_equal(s->ops->put_roster(s, 6, h2, (const unsigned char *)"r6", 2, &res, &e),
                     WD_OK);
    assert_int_equal(res, WD_PUT_STALE);
    assert_int_equal(s->ops->put_roster(s, 5, h2, (const unsigned char *)"r5", 2, &res, &e),
                     WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    unsigned char *b = NULL;
    size_t n = 0;
    bool found = false;
    assert_int_equal(s->ops->get_roster(s, 0, &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_memory_equal(b, "r5", 2);
    free(b);
    b = NULL;
    assert_int_equal(s->ops->get_roster(s, 9, &b, &n, &found, &e), WD_OK);
    assert_false(found);

    wd_stream st = {"acme", "prod", "eu1"};
    char d[WD_DIGEST_STRLEN + 1];
    mkhash(d, 'd');
    assert_int_equal(s->ops->put_audit_batch(s, &st, "i-1", "i-1.1", 1, 10, d, false,
                                             (const unsigned char *)"batch", 5, 0, &res, &e),
                     WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    assert_int_equal(s->ops->put_audit_batch(s, &st, "i-1", "i-1.1", 1, 10, d, false,
                                             (const unsigned char *)"batch", 5, 0, &res, &e),
                     WD_OK);
    assert_int_equal(res, WD_PUT_SAME);
    assert_int_equal(s->ops->put_audit_batch(s, &st, "i-1", "i-1.1", 1, 10, d, false,
                                             (const unsigned char *)"other", 5, 0, &res, &e),
                     WD_OK);
    assert_int_equal(res, WD_PUT_FORK);
    wd_audit_head head;
    assert_int_equal(s->ops->audit_head(s, "acme", "i-1", &head, &e), WD_OK);
    assert_int_equal(head.last_seq, 10);
    assert_string_equal(head.last_digest, d);
    assert_int_equal(s->ops->audit_head(s, "acme", "i-2", &head, &e), WD_OK);
    assert_int_equal(head.last_seq, 0);
    assert_string_equal(head.last_digest, "");

    wd_store_follower f;
    memset(&f, 0, sizeof f);
    f.stream = st;
    snprintf(f.instance, sizeof f.instance, "i-1");
    f.labels_json = "{\"zone\":\"a\"}";
    f.status_json = "{\"x\":1}";
    f.last_seen = 1700000100;
    assert_int_equal(s->ops->put_status(s, &f, &e), WD_OK);
    f.labels_json = "{\"zone\":\"b\"}";
    assert_int_equal(s->ops->put_status(s, &f, &e), WD_OK);
    assert_int_equal(sql_int("SELECT count(*) FROM followers"), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM followers WHERE labels_json = "
                             "'{\"zone\":\"b\"}'"),
                     1);
    wd_store_close(s);
}

/* ---- two stores on one database: racing writers and announcements ---- */

#define NRACERS 8

typedef struct racer {
    wd_store *s;
    pthread_barrier_t *bar;
    int idx, round;
    wd_put_result res;
    wd_code rc;
} racer;

static void *race_one(void *arg)
{
    racer *r = arg;
    wd_store_msg m = mkmsg("prod", 7 + r->round, (char)('A' + r->round * NRACERS + r->idx));
    char bytes[32];
    snprintf(bytes, sizeof bytes, "bundle-%d-%d", r->round, r->idx);
    wd_err e = {0};
    pthread_barrier_wait(r->bar);
    r->rc = r->s->ops->put_bundle(r->s, &m, (const unsigned char *)bytes, strlen(bytes),
                                  &r->res, NULL, &e);
    return NULL;
}

static void test_race_two_stores(void **state)
{
    (void)state;
    NEED_PG();
    wd_store *a = open_store(), *b = open_store();
    for (int round = 0; round < 5; round++) {
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, NRACERS);
        racer r[NRACERS];
        pthread_t t[NRACERS];
        for (int i = 0; i < NRACERS; i++) {
            r[i] = (racer){.s = i % 2 ? b : a, .bar = &bar, .idx = i, .round = round};
            assert_int_equal(pthread_create(&t[i], NULL, race_one, &r[i]), 0);
        }
        int created = 0, fork = 0;
        for (int i = 0; i < NRACERS; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(r[i].rc, WD_OK);
            created += r[i].res == WD_PUT_CREATED;
            fork += r[i].res == WD_PUT_FORK;
        }
        pthread_barrier_destroy(&bar);
        /* one version per round, eight writers through two stores: exactly one stored */
        assert_int_equal(created, 1);
        assert_int_equal(fork, NRACERS - 1);
    }
    assert_int_equal(sql_int("SELECT count(*) FROM bundles"), 5);
    wd_store_close(a);
    wd_store_close(b);
}

typedef struct heard {
    int n;
    char keys[8][64];
} heard;

static void hear(void *ctx, const char *key)
{
    heard *h = ctx;
    if (h->n < 8)
        snprintf(h->keys[h->n], sizeof h->keys[h->n], "%s", key);
    h->n++;
}

/* Wait up to ms for fd to become readable, then read announcements into h. */
static wd_code listen_for(wd_store *s, int fd, int ms, heard *h)
{
    struct pollfd p = {fd, POLLIN, 0};
    wd_err e = {0};
    if (poll(&p, 1, ms) <= 0)
        return WD_OK;
    return s->ops->watch_read(s, hear, h, &e);
}

static void test_announcements(void **state)
{
    (void)state;
    NEED_PG();
    wd_store *a = open_store(), *b = open_store();
    wd_err e = {0};
    int fd = -1;
    assert_int_equal(b->ops->watch_open(b, &fd, &e), WD_OK);
    assert_true(fd >= 0);
    heard h = {0};
    /* a bundle created through a: b hears its stream's key */
    wd_store_msg m = mkmsg("prod", 1, 'a');
    assert_int_equal(put_b(a, &m, "one", NULL), WD_PUT_CREATED);
    for (int i = 0; i < 50 && h.n == 0; i++)
        assert_int_equal(listen_for(b, fd, 100, &h), WD_OK);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.keys[0], "acme/prod/eu1");
    /* the same again (SAME): nothing is announced */
    assert_int_equal(put_b(a, &m, "one", NULL), WD_PUT_SAME);
    /* a kill and a rollback through a, a bundle through b itself (not heard by b) */
    wd_store_msg k = mkmsg("staging", 1, 'k');
    assert_int_equal(put_k(a, &k, "k1"), WD_PUT_CREATED);
    wd_store_msg own = mkmsg("own", 1, 'o');
    assert_int_equal(put_b(b, &own, "own", NULL), WD_PUT_CREATED);
    wd_store_msg m2 = mkmsg("prod", 2, 'c');
    assert_int_equal(put_b(a, &m2, "two", NULL), WD_PUT_CREATED);
    wd_store_rollback r = mkrb("rb-1", 2, 1);
    mkhash(r.target_hash, 'a');
    assert_int_equal(put_r(a, &r, "auth"), WD_PUT_CREATED);
    for (int i = 0; i < 50 && h.n < 4; i++)
        assert_int_equal(listen_for(b, fd, 100, &h), WD_OK);
    assert_int_equal(listen_for(b, fd, 300, &h), WD_OK); /* anything more would show now */
    assert_int_equal(h.n, 4);
    assert_string_equal(h.keys[1], "acme/staging/eu1");
    assert_string_equal(h.keys[2], "acme/prod/eu1");
    assert_string_equal(h.keys[3], "acme/prod/eu1");
    /* the listening connection ended by the server: WD_E_IO, then it can be opened again */
    sql_in("warden", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE query = 'LISTEN warden_changes'");
    wd_code rc = WD_OK;
    for (int i = 0; i < 50 && rc == WD_OK; i++)
        rc = listen_for(b, fd, 100, &h);
    assert_int_equal(rc, WD_E_IO);
    b->ops->watch_close(b);
    b->ops->watch_close(b); /* idempotent */
    assert_int_equal(b->ops->watch_open(b, &fd, &e), WD_OK);
    h.n = 0;
    wd_store_msg m3 = mkmsg("prod", 3, 'e');
    assert_int_equal(put_b(a, &m3, "three", NULL), WD_PUT_CREATED);
    for (int i = 0; i < 50 && h.n == 0; i++)
        assert_int_equal(listen_for(b, fd, 100, &h), WD_OK);
    assert_int_equal(h.n, 1);
    wd_store_close(a);
    wd_store_close(b);
}

static void test_pool_reconnects(void **state)
{
    (void)state;
    NEED_PG();
    wd_store *s = open_store();
    wd_err e = {0};
    assert_int_equal(s->ops->ping(s, &e), WD_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' "
             "AND application_name = 'warden-leader'",
             dbname);
    sql_in("warden", sql);
    usleep(200 * 1000);
    /* every connection the server ended is replaced on its next use */
    for (int i = 0; i < 8; i++)
        assert_int_equal(s->ops->ping(s, &e), WD_OK);
    wd_store_msg m = mkmsg("prod", 1, 'a');
    assert_int_equal(put_b(s, &m, "one", NULL), WD_PUT_CREATED);
    wd_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_previous_version_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test_setup_teardown(test_bundle_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollbacks_and_one_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roster_audit_followers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_two_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announcements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_reconnects, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
