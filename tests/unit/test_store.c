/* test_store.c — focus: the leader's SQLite store: opening by URL, schema version and
 * migration, every stream rule of every put and every outcome, reads of absent things, walks
 * that stop early or call back into the store, the observe hook, racing writers (threads of
 * one store and separate processes on one file), a read-only and a full database (nothing
 * changes, reads still work), and a process killed inside a put (the file holds the old or the
 * new state, never half). Runs as root too: read-only and full are made with PRAGMA query_only
 * and max_page_count, which bind root as well. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

/* test hooks of store_sqlite.c */
wd_code wd_store_sqlite_test_exec(wd_store *s, const char *sql, wd_err *e);
void wd_store_sqlite_test_stop_at(wd_store *s, const char *point);

static char tmpdir[64];
static char dbpath[128];
static char url[160];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/wd_store_XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/leader.db", tmpdir);
    snprintf(url, sizeof url, "sqlite:%s", dbpath);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    chmod(tmpdir, 0700);
    return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static wd_store *open_store(void)
{
    wd_store *s = NULL;
    wd_err e = {0};
    wd_code rc = wd_store_open(url, &s, &e);
    if (rc != WD_OK)
        fail_msg("open: %s", e.msg);
    assert_non_null(s);
    return s;
}

static void mkhash(char out[WD_DIGEST_STRLEN + 1], char c)
{
    memcpy(out, "sha256:", 7);
    memset(out + 7, c, 64);
    out[71] = '\0';
}

static wd_store_msg mkmsg(const char *org, const char *fleet, const char *env, int64_t seq,
                          char hc)
{
    wd_store_msg m;
    memset(&m, 0, sizeof m);
    snprintf(m.stream.org, sizeof m.stream.org, "%s", org);
    snprintf(m.stream.fleet, sizeof m.stream.fleet, "%s", fleet);
    snprintf(m.stream.env, sizeof m.stream.env, "%s", env);
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
    wd_code rc = s->ops->put_bundle(s, m, (const unsigned char *)bytes, strlen(bytes), &res,
                                    held, &e);
    if (rc != WD_OK)
        fail_msg("put_bundle: %s", e.msg);
    return res;
}

static wd_put_result put_k(wd_store *s, const wd_store_msg *m, const char *bytes)
{
    wd_put_result res = (wd_put_result)-1;
    wd_err e = {0};
    wd_code rc = s->ops->put_kill(s, m, (const unsigned char *)bytes, strlen(bytes), &res, &e);
    if (rc != WD_OK)
        fail_msg("put_kill: %s", e.msg);
    return res;
}

static wd_store_rollback mkrb(const char *id, const char *fleet, int64_t cur, int64_t tgt)
{
    wd_store_rollback r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.stream.org, sizeof r.stream.org, "acme");
    snprintf(r.stream.fleet, sizeof r.stream.fleet, "%s", fleet);
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
    wd_code rc = s->ops->put_rollback(s, r, (const unsigned char *)bytes, strlen(bytes), &res,
                                      &e);
    if (rc != WD_OK)
        fail_msg("put_rollback: %s", e.msg);
    return res;
}

static wd_put_result put_ro(wd_store *s, int64_t v, char hc, const char *bytes)
{
    char h[WD_DIGEST_STRLEN + 1];
    mkhash(h, hc);
    wd_put_result res = (wd_put_result)-1;
    wd_err e = {0};
    wd_code rc = s->ops->put_roster(s, v, h, (const unsigned char *)bytes, strlen(bytes), &res,
                                    &e);
    if (rc != WD_OK)
        fail_msg("put_roster: %s", e.msg);
    return res;
}

static const wd_stream STREAM = {"acme", "prod", "eu1"};

static wd_put_result put_a(wd_store *s, const char *instance, const char *batch, int64_t first,
                           int64_t last, char dc, bool gap, const char *bytes)
{
    char d[WD_DIGEST_STRLEN + 1];
    mkhash(d, dc);
    wd_put_result res = (wd_put_result)-1;
    wd_err e = {0};
    wd_code rc = s->ops->put_audit_batch(s, &STREAM, instance, batch, first, last, d, gap,
                                         (const unsigned char *)bytes, strlen(bytes), 1700000002,
                                         &res, &e);
    if (rc != WD_OK)
        fail_msg("put_audit_batch: %s", e.msg);
    return res;
}

/* The bytes of the bundle with hash char hc in acme, as a string ("" when absent). */
static void get_b(wd_store *s, char hc, char *out, size_t outsz, bool *found)
{
    char h[WD_DIGEST_STRLEN + 1];
    mkhash(h, hc);
    unsigned char *b = NULL;
    size_t n = 0;
    wd_store_msg meta;
    wd_err e = {0};
    wd_code rc = s->ops->get_bundle(s, "acme", h, &meta, &b, &n, found, &e);
    if (rc != WD_OK)
        fail_msg("get_bundle: %s", e.msg);
    out[0] = '\0';
    if (*found) {
        assert_string_equal(meta.hash, h);
        snprintf(out, outsz, "%.*s", (int)n, (const char *)b);
    } else {
        assert_null(b);
    }
    free(b);
}

static int64_t raw_int(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("raw exec: %s", msg ? msg : "?");
    sqlite3_close(db);
}

/* ---- open and schema ---- */

static void test_open_new_file(void **state)
{
    (void)state;
    wd_store *s = open_store();
    assert_string_equal(s->ops->name, "sqlite");
    wd_err e = {0};
    assert_int_equal(s->ops->ping(s, &e), WD_OK);
    wd_store_close(s);
    assert_int_equal(raw_int("PRAGMA user_version"), WD_STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name "
                             "IN ('bundles','kills','rollbacks','active_rollbacks','rosters',"
                             "'audit_batches','audit_heads','followers')"),
                     8);
    /* WAL is a property of the file */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_reopen_keeps_data(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_store_msg m = mkmsg("acme", "prod", "eu1", 1, 'a');
    assert_int_equal(put_b(s, &m, "bundle-1", NULL), WD_PUT_CREATED);
    assert_int_equal(put_ro(s, 1, 'r', "roster-1"), WD_PUT_CREATED);
    wd_store_close(s);
    s = open_store();
    char buf[64];
    bool found = false;
    get_b(s, 'a', buf, sizeof buf, &found);
    assert_true(found);
    assert_string_equal(buf, "bundle-1");
    assert_int_equal(put_b(s, &m, "bundle-1", NULL), WD_PUT_SAME);
    wd_store_close(s);
    assert_int_equal(raw_int("PRAGMA user_version"), 1);
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_store_close(s);
    raw_exec("PRAGMA user_version = 2");
    wd_err e = {0};
    s = (wd_store *)1;
    assert_int_equal(wd_store_open(url, &s, &e), WD_E_USAGE);
    assert_null(s);
    assert_non_null(strstr(e.msg, "schema version 2"));
    assert_int_equal(raw_int("PRAGMA user_version"), 2);
}

static void test_open_url_forms(void **state)
{
    (void)state;
    wd_store *s = (wd_store *)1;
    wd_err e = {0};
    /* a PostgreSQL URL is the PostgreSQL store's: nobody listens on port 1, so it cannot
     * connect (operational), and the password never shows in the message */
    assert_int_equal(wd_store_open("postgres://u:secret@127.0.0.1:1/warden?connect_timeout=2",
                                   &s, &e), WD_E_IO);
    assert_null(s);
    assert_non_null(strstr(e.msg, "cannot connect to PostgreSQL"));
    assert_null(strstr(e.msg, "secret"));
    assert_int_equal(wd_store_open("postgresql://u:secret@127.0.0.1:1/warden?nosuchoption=1",
                                   &s, &e), WD_E_USAGE);
    assert_null(s);
    assert_non_null(strstr(e.msg, "cannot be parsed"));
    assert_null(strstr(e.msg, "secret"));
    assert_int_equal(wd_store_open("mysql://x", &s, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "sqlite:PATH"));
    assert_int_equal(wd_store_open("sqlite:", &s, &e), WD_E_USAGE);
    assert_int_equal(wd_store_open("", &s, &e), WD_E_USAGE);
    assert_int_equal(wd_store_open(NULL, &s, &e), WD_E_USAGE);
    assert_null(s);
    wd_store_close(NULL);

    /* the parent directory must exist; it is not created */
    char u[256], d[200];
    snprintf(d, sizeof d, "%s/missing", tmpdir);
    snprintf(u, sizeof u, "sqlite:%s/leader.db", d);
    assert_int_equal(wd_store_open(u, &s, &e), WD_E_IO);
    assert_null(s);
    struct stat sb;
    assert_int_equal(stat(d, &sb), -1);

    /* a file that is not a database */
    FILE *f = fopen(dbpath, "w");
    assert_non_null(f);
    fputs("this is not a database, just some text that is long enough to matter............"
          "...............................................................................",
          f);
    fclose(f);
    assert_int_equal(wd_store_open(url, &s, &e), WD_E_IO);
    assert_null(s);
}

/* ---- bundles ---- */

typedef struct walk {
    int n, stop_after;
    char seen[16][1024];
} walk;

static bool walk_msg(void *ctx, const wd_store_msg *m)
{
    walk *w = ctx;
    if (w->n < 16)
        snprintf(w->seen[w->n], sizeof w->seen[0], "%s/%s/%s/%lld/%c/%s", m->stream.org,
                 m->stream.fleet, m->stream.env, (long long)m->seq, m->hash[7],
                 m->audience_json);
    w->n++;
    return w->stop_after == 0 || w->n < w->stop_after;
}

static void test_bundle_rules(void **state)
{
    (void)state;
    wd_store *s = open_store();
    char held[WD_DIGEST_STRLEN + 1], h[WD_DIGEST_STRLEN + 1];
    wd_store_msg m1 = mkmsg("acme", "prod", "eu1", 1, 'a');
    memset(held, 'x', sizeof held);
    assert_int_equal(put_b(s, &m1, "b1", held), WD_PUT_CREATED);
    assert_string_equal(held, "");
    /* same hash again: SAME, held is that hash */
    assert_int_equal(put_b(s, &m1, "b1", held), WD_PUT_SAME);
    assert_string_equal(held, m1.hash);
    /* same version, other hash: FORK, held is the stored hash */
    wd_store_msg f1 = mkmsg("acme", "prod", "eu1", 1, 'b');
    assert_int_equal(put_b(s, &f1, "b1-fork", held), WD_PUT_FORK);
    assert_string_equal(held, m1.hash);
    assert_int_equal(put_b(s, &f1, "b1-fork", NULL), WD_PUT_FORK);
    /* a jump is fine */
    wd_store_msg m3 = mkmsg("acme", "prod", "eu1", 3, 'c');
    assert_int_equal(put_b(s, &m3, "b3", held), WD_PUT_CREATED);
    /* below the highest: STALE, held "" */
    wd_store_msg m2 = mkmsg("acme", "prod", "eu1", 2, 'd');
    memset(held, 'x', sizeof held);
    assert_int_equal(put_b(s, &m2, "b2", held), WD_PUT_STALE);
    assert_string_equal(held, "");
    /* the highest with another hash: FORK */
    wd_store_msg f3 = mkmsg("acme", "prod", "eu1", 3, 'e');
    assert_int_equal(put_b(s, &f3, "b3-fork", held), WD_PUT_FORK);
    mkhash(h, 'c');
    assert_string_equal(held, h);
    /* streams are independent */
    wd_store_msg o1 = mkmsg("acme", "staging", "eu1", 1, 'f');
    assert_int_equal(put_b(s, &o1, "o1", NULL), WD_PUT_CREATED);
    wd_store_msg g1 = mkmsg("globex", "prod", "eu1", 1, 'g');
    assert_int_equal(put_b(s, &g1, "g1", NULL), WD_PUT_CREATED);
    wd_store_msg m4 = mkmsg("acme", "prod", "us1", 4, 'h');
    assert_int_equal(put_b(s, &m4, "u4", NULL), WD_PUT_CREATED);

    /* the losers left nothing */
    char buf[64];
    bool found = true;
    get_b(s, 'b', buf, sizeof buf, &found);
    assert_false(found);
    get_b(s, 'd', buf, sizeof buf, &found);
    assert_false(found);
    get_b(s, 'c', buf, sizeof buf, &found);
    assert_true(found);
    assert_string_equal(buf, "b3");

    /* metadata, in (stream, version) order */
    walk w = {0};
    wd_err e = {0};
    assert_int_equal(s->ops->each_bundle(s, walk_msg, &w, &e), WD_OK);
    assert_int_equal(w.n, 5);
    assert_string_equal(w.seen[0], "acme/prod/eu1/1/a/{\"instance_ids\":[\"*\"]}");
    assert_string_equal(w.seen[1], "acme/prod/eu1/3/c/{\"instance_ids\":[\"*\"]}");
    assert_string_equal(w.seen[2], "acme/prod/us1/4/h/{\"instance_ids\":[\"*\"]}");
    assert_string_equal(w.seen[3], "acme/staging/eu1/1/f/{\"instance_ids\":[\"*\"]}");
    assert_string_equal(w.seen[4], "globex/prod/eu1/1/g/{\"instance_ids\":[\"*\"]}");
    /* stopping early */
    walk w2 = {.stop_after = 2};
    assert_int_equal(s->ops->each_bundle(s, walk_msg, &w2, &e), WD_OK);
    assert_int_equal(w2.n, 2);

    /* get: meta and bytes; the audience lives in the bytes' allocation */
    unsigned char *b = NULL;
    size_t n = 0;
    wd_store_msg meta;
    found = false;
    assert_int_equal(s->ops->get_bundle(s, "acme", m3.hash, &meta, &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_int_equal(n, 2);
    assert_memory_equal(b, "b3", 2);
    assert_string_equal(meta.stream.org, "acme");
    assert_string_equal(meta.stream.fleet, "prod");
    assert_string_equal(meta.stream.env, "eu1");
    assert_int_equal(meta.seq, 3);
    assert_int_equal(meta.stored_at, 1700000000);
    assert_string_equal(meta.audience_json, "{\"instance_ids\":[\"*\"]}");
    free(b);
    /* meta may be NULL */
    assert_int_equal(s->ops->get_bundle(s, "acme", m3.hash, NULL, &b, &n, &found, &e), WD_OK);
    assert_true(found);
    free(b);
    /* another org does not see it */
    b = (unsigned char *)1;
    assert_int_equal(s->ops->get_bundle(s, "globex", m3.hash, &meta, &b, &n, &found, &e),
                     WD_OK);
    assert_false(found);
    assert_null(b);
    assert_int_equal(n, 0);
    wd_store_close(s);
}

static void test_bundle_limits_and_args(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_err e = {0};
    wd_put_result res;
    size_t max = WD_MAX_BUNDLE_ENVELOPE;
    unsigned char *big = malloc(max + 1);
    assert_non_null(big);
    memset(big, 'z', max + 1);
    wd_store_msg m1 = mkmsg("acme", "prod", "eu1", 1, 'a');
    /* limit + 1: refused, nothing stored */
    assert_int_equal(s->ops->put_bundle(s, &m1, big, max + 1, &res, NULL, &e), WD_E_INTERNAL);
    char buf[8];
    bool found = true;
    get_b(s, 'a', buf, sizeof buf, &found);
    assert_false(found);
    /* at the limit: stored and read back whole */
    assert_int_equal(s->ops->put_bundle(s, &m1, big, max, &res, NULL, &e), WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    unsigned char *b = NULL;
    size_t n = 0;
    assert_int_equal(s->ops->get_bundle(s, "acme", m1.hash, NULL, &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_int_equal(n, max);
    assert_memory_equal(b, big, max);
    free(b);
    free(big);

    /* invalid arguments: refused before touching the database */
    wd_store_msg bad = mkmsg("acme", "prod", "eu1", 0, 'b');
    assert_int_equal(s->ops->put_bundle(s, &bad, (const unsigned char *)"x", 1, &res, NULL, &e),
                     WD_E_INTERNAL);
    bad = mkmsg("acme", "prod", "eu1", 2, 'b');
    bad.audience_json = NULL;
    assert_int_equal(s->ops->put_bundle(s, &bad, (const unsigned char *)"x", 1, &res, NULL, &e),
                     WD_E_INTERNAL);
    bad = mkmsg("acme", "", "eu1", 2, 'b');
    assert_int_equal(s->ops->put_bundle(s, &bad, (const unsigned char *)"x", 1, &res, NULL, &e),
                     WD_E_INTERNAL);
    get_b(s, 'b', buf, sizeof buf, &found);
    assert_false(found);
    assert_int_equal(raw_int("SELECT count(*) FROM bundles"), 1);

    /* a stored blob above the limit (a damaged or foreign file) is never handed out */
    wd_store_close(s);
    raw_exec("UPDATE bundles SET bytes = zeroblob(1048577)");
    s = open_store();
    b = (unsigned char *)1;
    assert_int_equal(s->ops->get_bundle(s, "acme", m1.hash, NULL, &b, &n, &found, &e),
                     WD_E_INTERNAL);
    assert_false(found);
    assert_null(b);
    wd_store_close(s);
}

/* ---- kills ---- */

static void test_kill_rules(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_store_msg k5 = mkmsg("acme", "prod", "eu1", 5, 'a');
    assert_int_equal(put_k(s, &k5, "k5"), WD_PUT_CREATED);
    assert_int_equal(put_k(s, &k5, "k5"), WD_PUT_SAME);
    wd_store_msg k5b = mkmsg("acme", "prod", "eu1", 5, 'b');
    assert_int_equal(put_k(s, &k5b, "k5b"), WD_PUT_STALE); /* equal counter, other hash */
    wd_store_msg k4 = mkmsg("acme", "prod", "eu1", 4, 'c');
    assert_int_equal(put_k(s, &k4, "k4"), WD_PUT_STALE);
    wd_store_msg k6 = mkmsg("acme", "prod", "eu1", 6, 'd');
    assert_int_equal(put_k(s, &k6, "k6"), WD_PUT_CREATED);
    assert_int_equal(put_k(s, &k5, "k5"), WD_PUT_SAME); /* an old one again is still SAME */
    wd_store_msg o1 = mkmsg("acme", "stage", "eu1", 1, 'e');
    assert_int_equal(put_k(s, &o1, "o1"), WD_PUT_CREATED);

    walk w = {0};
    wd_err e = {0};
    assert_int_equal(s->ops->each_kill(s, walk_msg, &w, &e), WD_OK);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.seen[0], "acme/prod/eu1/5/a/{\"instance_ids\":[\"*\"]}");
    assert_string_equal(w.seen[1], "acme/prod/eu1/6/d/{\"instance_ids\":[\"*\"]}");
    assert_string_equal(w.seen[2], "acme/stage/eu1/1/e/{\"instance_ids\":[\"*\"]}");
    walk w1 = {.stop_after = 1};
    assert_int_equal(s->ops->each_kill(s, walk_msg, &w1, &e), WD_OK);
    assert_int_equal(w1.n, 1);

    unsigned char *b = NULL;
    size_t n = 0;
    bool found = false;
    wd_store_msg meta;
    assert_int_equal(s->ops->get_kill(s, "acme", k6.hash, &meta, &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_int_equal(meta.seq, 6);
    assert_memory_equal(b, "k6", 2);
    assert_int_equal(n, 2);
    free(b);
    assert_int_equal(s->ops->get_kill(s, "acme", k5b.hash, &meta, &b, &n, &found, &e), WD_OK);
    assert_false(found);
    assert_null(b);
    /* kills and bundles are separate tables */
    assert_int_equal(s->ops->get_bundle(s, "acme", k6.hash, &meta, &b, &n, &found, &e), WD_OK);
    assert_false(found);

    /* limit + 1 */
    unsigned char *big = calloc(1, WD_MAX_KILL_ENVELOPE + 1);
    assert_non_null(big);
    wd_store_msg k9 = mkmsg("acme", "prod", "eu1", 9, 'f');
    wd_put_result res;
    assert_int_equal(s->ops->put_kill(s, &k9, big, WD_MAX_KILL_ENVELOPE + 1, &res, &e),
                     WD_E_INTERNAL);
    assert_int_equal(s->ops->put_kill(s, &k9, big, WD_MAX_KILL_ENVELOPE, &res, &e), WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    free(big);
    wd_store_close(s);
}

/* ---- rollbacks ---- */

typedef struct rwalk {
    int n, stop_after;
    char seen[8][1024];
} rwalk;

static bool walk_rb(void *ctx, const wd_store_rollback *r)
{
    rwalk *w = ctx;
    if (w->n < 8)
        snprintf(w->seen[w->n], sizeof w->seen[0], "%s/%s/%s/%s/%lld->%lld/%c->%c/%s", r->id,
                 r->stream.org, r->stream.fleet, r->stream.env, (long long)r->current_version,
                 (long long)r->target_version, r->current_hash[7], r->target_hash[7],
                 r->audience_json);
    w->n++;
    return w->stop_after == 0 || w->n < w->stop_after;
}

static void test_rollback_rules(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_err e = {0};
    rwalk w = {0};
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w, &e), WD_OK);
    assert_int_equal(w.n, 0);

    wd_store_rollback r3 = mkrb("r-3", "prod", 42, 40);
    assert_int_equal(put_r(s, &r3, "rb3"), WD_PUT_CREATED);
    assert_int_equal(put_r(s, &r3, "rb3"), WD_PUT_SAME);
    assert_int_equal(put_r(s, &r3, "rb3-other"), WD_PUT_FORK);
    assert_int_equal(put_r(s, &r3, "rb"), WD_PUT_FORK); /* a prefix is other bytes too */
    wd_store_rollback o = mkrb("r-9", "stage", 5, 4);
    assert_int_equal(put_r(s, &o, "rb9"), WD_PUT_CREATED);

    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w, &e), WD_OK);
    assert_int_equal(w.n, 2);
    assert_string_equal(w.seen[0],
                        "r-3/acme/prod/eu1/42->40/c->d/{\"labels\":{\"team\":\"payments\"}}");
    assert_string_equal(w.seen[1],
                        "r-9/acme/stage/eu1/5->4/c->d/{\"labels\":{\"team\":\"payments\"}}");
    rwalk w1 = {.stop_after = 1};
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w1, &e), WD_OK);
    assert_int_equal(w1.n, 1);

    /* a second rollback of the stream replaces the active one; the first stays readable */
    wd_store_rollback r4 = mkrb("r-4", "prod", 40, 39);
    assert_int_equal(put_r(s, &r4, "rb4"), WD_PUT_CREATED);
    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w, &e), WD_OK);
    assert_int_equal(w.n, 2);
    assert_non_null(strstr(w.seen[0], "r-4/acme/prod/eu1/40->39"));
    unsigned char *b = NULL;
    size_t n = 0;
    bool found = false;
    assert_int_equal(s->ops->get_rollback(s, "acme", "r-3", &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_int_equal(n, 3);
    assert_memory_equal(b, "rb3", 3);
    free(b);
    assert_int_equal(s->ops->get_rollback(s, "acme", "r-404", &b, &n, &found, &e), WD_OK);
    assert_false(found);
    assert_null(b);
    assert_int_equal(s->ops->get_rollback(s, "globex", "r-3", &b, &n, &found, &e), WD_OK);
    assert_false(found);

    /* a new highest bundle of the stream clears its rollback, not the other stream's */
    wd_store_msg b42 = mkmsg("acme", "prod", "eu1", 42, 'a');
    assert_int_equal(put_b(s, &b42, "b42", NULL), WD_PUT_CREATED);
    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w, &e), WD_OK);
    assert_int_equal(w.n, 1);
    assert_non_null(strstr(w.seen[0], "r-9/"));
    /* SAME, FORK and STALE bundles clear nothing */
    wd_store_rollback r5 = mkrb("r-5", "prod", 42, 41);
    assert_int_equal(put_r(s, &r5, "rb5"), WD_PUT_CREATED);
    assert_int_equal(put_b(s, &b42, "b42", NULL), WD_PUT_SAME);
    wd_store_msg f42 = mkmsg("acme", "prod", "eu1", 42, 'b');
    assert_int_equal(put_b(s, &f42, "f42", NULL), WD_PUT_FORK);
    wd_store_msg b41 = mkmsg("acme", "prod", "eu1", 41, 'e');
    assert_int_equal(put_b(s, &b41, "b41", NULL), WD_PUT_STALE);
    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w, &e), WD_OK);
    assert_int_equal(w.n, 2);
    assert_non_null(strstr(w.seen[0], "r-5/"));
    /* an earlier rollback id again is SAME and does not become active again */
    assert_int_equal(put_r(s, &r3, "rb3"), WD_PUT_SAME);
    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w, &e), WD_OK);
    assert_non_null(strstr(w.seen[0], "r-5/"));
    wd_store_close(s);
}

/* ---- rosters ---- */

static void test_roster_rules(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_err e = {0};
    unsigned char *b = NULL;
    size_t n = 0;
    bool found = true;
    assert_int_equal(s->ops->get_roster(s, 0, &b, &n, &found, &e), WD_OK);
    assert_false(found);
    assert_null(b);

    assert_int_equal(put_ro(s, 1, 'a', "roster-1"), WD_PUT_CREATED);
    assert_int_equal(put_ro(s, 1, 'a', "roster-1"), WD_PUT_SAME);
    assert_int_equal(put_ro(s, 1, 'b', "roster-1b"), WD_PUT_STALE);
    assert_int_equal(put_ro(s, 3, 'c', "roster-3"), WD_PUT_STALE); /* not newest+1 */
    assert_int_equal(put_ro(s, 2, 'd', "roster-2"), WD_PUT_CREATED);
    assert_int_equal(put_ro(s, 1, 'a', "roster-1"), WD_PUT_SAME); /* an older one again */
    assert_int_equal(put_ro(s, 2, 'e', "roster-2e"), WD_PUT_STALE);

    assert_int_equal(s->ops->get_roster(s, 0, &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_int_equal(n, 8);
    assert_memory_equal(b, "roster-2", 8);
    free(b);
    assert_int_equal(s->ops->get_roster(s, 1, &b, &n, &found, &e), WD_OK);
    assert_true(found);
    assert_memory_equal(b, "roster-1", 8);
    free(b);
    assert_int_equal(s->ops->get_roster(s, 3, &b, &n, &found, &e), WD_OK);
    assert_false(found);
    assert_null(b);

    /* limits */
    unsigned char *big = calloc(1, WD_MAX_ROSTER_ENVELOPE + 1);
    assert_non_null(big);
    char h[WD_DIGEST_STRLEN + 1];
    mkhash(h, 'f');
    wd_put_result res;
    assert_int_equal(s->ops->put_roster(s, 3, h, big, WD_MAX_ROSTER_ENVELOPE + 1, &res, &e),
                     WD_E_INTERNAL);
    assert_int_equal(s->ops->put_roster(s, 3, h, big, WD_MAX_ROSTER_ENVELOPE, &res, &e), WD_OK);
    assert_int_equal(res, WD_PUT_CREATED);
    free(big);
    wd_store_close(s);
}

/* The first roster may be any version: the leader starts from the roster it is given. */
static void test_roster_first_any_version(void **state)
{
    (void)state;
    wd_store *s = open_store();
    assert_int_equal(put_ro(s, 7, 'a', "roster-7"), WD_PUT_CREATED);
    assert_int_equal(put_ro(s, 9, 'b', "roster-9"), WD_PUT_STALE);
    assert_int_equal(put_ro(s, 8, 'b', "roster-8"), WD_PUT_CREATED);
    wd_store_close(s);
}

/* ---- audit ---- */

static void test_audit_rules(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_err e = {0};
    wd_audit_head head;
    memset(&head, 'x', sizeof head);
    assert_int_equal(s->ops->audit_head(s, "acme", "i-1", &head, &e), WD_OK);
    assert_int_equal(head.last_seq, 0);
    assert_string_equal(head.last_digest, "");

    assert_int_equal(put_a(s, "i-1", "i-1-1", 1, 10, 'a', false, "batch-1"), WD_PUT_CREATED);
    assert_int_equal(s->ops->audit_head(s, "acme", "i-1", &head, &e), WD_OK);
    assert_int_equal(head.last_seq, 10);
    char d[WD_DIGEST_STRLEN + 1];
    mkhash(d, 'a');
    assert_string_equal(head.last_digest, d);

    assert_int_equal(put_a(s, "i-1", "i-1-1", 1, 10, 'a', false, "batch-1"), WD_PUT_SAME);
    assert_int_equal(put_a(s, "i-1", "i-1-1", 1, 10, 'z', false, "batch-1-other"), WD_PUT_FORK);
    assert_int_equal(s->ops->audit_head(s, "acme", "i-1", &head, &e), WD_OK);
    assert_int_equal(head.last_seq, 10); /* SAME and FORK do not move the head */
    assert_string_equal(head.last_digest, d);

    /* a gap is stored and flagged */
    assert_int_equal(put_a(s, "i-1", "i-1-15", 15, 20, 'b', true, "batch-2"), WD_PUT_CREATED);
    assert_int_equal(s->ops->audit_head(s, "acme", "i-1", &head, &e), WD_OK);
    assert_int_equal(head.last_seq, 20);
    mkhash(d, 'b');
    assert_string_equal(head.last_digest, d);
    assert_int_equal(raw_int("SELECT gap FROM audit_batches WHERE batch_id = 'i-1-15'"), 1);
    assert_int_equal(raw_int("SELECT gap FROM audit_batches WHERE batch_id = 'i-1-1'"), 0);

    /* other instances and orgs have their own heads */
    assert_int_equal(s->ops->audit_head(s, "acme", "i-2", &head, &e), WD_OK);
    assert_int_equal(head.last_seq, 0);
    assert_int_equal(s->ops->audit_head(s, "globex", "i-1", &head, &e), WD_OK);
    assert_int_equal(head.last_seq, 0);

    /* bad arguments */
    wd_put_result res;
    assert_int_equal(s->ops->put_audit_batch(s, &STREAM, "i-1", "i-1-30", 30, 29, d, false,
                                             (const unsigned char *)"x", 1, 0, &res, &e),
                     WD_E_INTERNAL);
    assert_int_equal(raw_int("SELECT count(*) FROM audit_batches"), 2);
    wd_store_close(s);
}

/* ---- followers ---- */

typedef struct fwalk {
    int n, stop_after;
    char seen[8][1024];
} fwalk;

static bool walk_f(void *ctx, const wd_store_follower *f)
{
    fwalk *w = ctx;
    if (w->n < 8)
        snprintf(w->seen[w->n], sizeof w->seen[0], "%s/%s/%s/%s %s %s %lld", f->stream.org,
                 f->stream.fleet, f->stream.env, f->instance, f->labels_json, f->status_json,
                 (long long)f->last_seen);
    w->n++;
    return w->stop_after == 0 || w->n < w->stop_after;
}

static void put_f(wd_store *s, const char *org, const char *fleet, const char *inst,
                  const char *labels, const char *status, int64_t seen)
{
    wd_store_follower f;
    memset(&f, 0, sizeof f);
    snprintf(f.stream.org, sizeof f.stream.org, "%s", org);
    snprintf(f.stream.fleet, sizeof f.stream.fleet, "%s", fleet);
    snprintf(f.stream.env, sizeof f.stream.env, "eu1");
    snprintf(f.instance, sizeof f.instance, "%s", inst);
    f.labels_json = labels;
    f.status_json = status;
    f.last_seen = seen;
    wd_err e = {0};
    if (s->ops->put_status(s, &f, &e) != WD_OK)
        fail_msg("put_status: %s", e.msg);
}

static void test_followers(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_err e = {0};
    fwalk w = {0};
    assert_int_equal(s->ops->each_follower(s, "acme", walk_f, &w, &e), WD_OK);
    assert_int_equal(w.n, 0);

    put_f(s, "acme", "prod", "i-2", "{\"team\":\"a\"}", "{\"s\":1}", 100);
    put_f(s, "acme", "prod", "i-1", NULL, "{\"s\":2}", 101);
    put_f(s, "acme", "dev", "i-9", "{}", "{\"s\":3}", 102);
    put_f(s, "globex", "prod", "i-0", "{}", "{\"s\":4}", 103);
    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_follower(s, "acme", walk_f, &w, &e), WD_OK);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.seen[0], "acme/dev/eu1/i-9 {} {\"s\":3} 102");
    assert_string_equal(w.seen[1], "acme/prod/eu1/i-1 {} {\"s\":2} 101");
    assert_string_equal(w.seen[2], "acme/prod/eu1/i-2 {\"team\":\"a\"} {\"s\":1} 100");

    /* replace: one row per (org, instance), moved to another fleet */
    put_f(s, "acme", "zeta", "i-1", "{\"x\":\"y\"}", "{\"s\":5}", 200);
    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_follower(s, "acme", walk_f, &w, &e), WD_OK);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.seen[2], "acme/zeta/eu1/i-1 {\"x\":\"y\"} {\"s\":5} 200");
    fwalk w1 = {.stop_after = 1};
    assert_int_equal(s->ops->each_follower(s, "acme", walk_f, &w1, &e), WD_OK);
    assert_int_equal(w1.n, 1);
    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_follower(s, "globex", walk_f, &w, &e), WD_OK);
    assert_int_equal(w.n, 1);
    memset(&w, 0, sizeof w);
    assert_int_equal(s->ops->each_follower(s, "nobody", walk_f, &w, &e), WD_OK);
    assert_int_equal(w.n, 0);

    wd_store_follower bad;
    memset(&bad, 0, sizeof bad);
    assert_int_equal(s->ops->put_status(s, &bad, &e), WD_E_INTERNAL);
    wd_store_close(s);
}

/* ---- callbacks may call the store again ---- */

typedef struct reenter {
    wd_store *s;
    int found;
} reenter;

static bool walk_reenter(void *ctx, const wd_store_msg *m)
{
    reenter *r = ctx;
    unsigned char *b = NULL;
    size_t n = 0;
    bool found = false;
    wd_err e = {0};
    if (r->s->ops->get_bundle(r->s, m->stream.org, m->hash, NULL, &b, &n, &found, &e) == WD_OK &&
        found)
        r->found++;
    free(b);
    wd_store_msg next = *m;
    next.seq = m->seq + 100;
    next.hash[7] = 'q';
    wd_put_result res;
    r->s->ops->put_bundle(r->s, &next, (const unsigned char *)"x", 1, &res, NULL, &e);
    return true;
}

static void test_callback_reenters(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_store_msg m1 = mkmsg("acme", "prod", "eu1", 1, 'a');
    wd_store_msg m2 = mkmsg("acme", "prod", "eu1", 2, 'b');
    assert_int_equal(put_b(s, &m1, "b1", NULL), WD_PUT_CREATED);
    assert_int_equal(put_b(s, &m2, "b2", NULL), WD_PUT_CREATED);
    reenter r = {s, 0};
    wd_err e = {0};
    assert_int_equal(s->ops->each_bundle(s, walk_reenter, &r, &e), WD_OK);
    assert_int_equal(r.found, 2);
    wd_store_close(s);
}

/* ---- observe ---- */

typedef struct obs {
    int n;
    int put_bundle, get_bundle, ping, each_follower;
    bool negative;
} obs;

static void on_observe(void *ctx, const char *op, double seconds)
{
    obs *o = ctx;
    o->n++;
    if (seconds < 0)
        o->negative = true;
    if (strcmp(op, "put_bundle") == 0)
        o->put_bundle++;
    else if (strcmp(op, "get_bundle") == 0)
        o->get_bundle++;
    else if (strcmp(op, "ping") == 0)
        o->ping++;
    else if (strcmp(op, "each_follower") == 0)
        o->each_follower++;
}

static bool walk_none(void *ctx, const wd_store_follower *f)
{
    (void)ctx;
    (void)f;
    return true;
}

static void test_observe(void **state)
{
    (void)state;
    wd_store *s = open_store();
    obs o = {0};
    s->observe = on_observe;
    s->observe_ctx = &o;
    wd_store_msg m = mkmsg("acme", "prod", "eu1", 1, 'a');
    put_b(s, &m, "b1", NULL);
    put_b(s, &m, "b1", NULL);
    char buf[8];
    bool found;
    get_b(s, 'a', buf, sizeof buf, &found);
    wd_err e = {0};
    s->ops->ping(s, &e);
    s->ops->each_follower(s, "acme", walk_none, NULL, &e);
    put_ro(s, 1, 'r', "r");
    wd_audit_head h;
    s->ops->audit_head(s, "acme", "i-1", &h, &e);
    assert_int_equal(o.put_bundle, 2);
    assert_int_equal(o.get_bundle, 1);
    assert_int_equal(o.ping, 1);
    assert_int_equal(o.each_follower, 1);
    assert_int_equal(o.n, 7);
    assert_false(o.negative);
    /* failed operations are observed too */
    wd_put_result res;
    wd_store_msg bad = mkmsg("acme", "prod", "eu1", 0, 'b');
    assert_int_equal(s->ops->put_bundle(s, &bad, (const unsigned char *)"x", 1, &res, NULL, &e),
                     WD_E_INTERNAL);
    assert_int_equal(o.put_bundle, 3);
    wd_store_close(s);
}

/* ---- racing writers ---- */

#define NTHREADS 8

typedef struct racer {
    wd_store *s;
    pthread_barrier_t *bar;
    int idx;
    bool same_bytes;
    wd_code rc;
    wd_put_result res;
    char held[WD_DIGEST_STRLEN + 1];
} racer;

static void *race_one(void *arg)
{
    racer *r = arg;
    wd_store_msg m = mkmsg("acme", "prod", "eu1", 7, r->same_bytes ? 'a' : (char)('a' + r->idx));
    char bytes[32];
    snprintf(bytes, sizeof bytes, "bundle-%d", r->same_bytes ? 0 : r->idx);
    wd_err e = {0};
    pthread_barrier_wait(r->bar);
    r->rc = r->s->ops->put_bundle(r->s, &m, (const unsigned char *)bytes, strlen(bytes), &r->res,
                                  r->held, &e);
    return NULL;
}

static void race_threads(bool same_bytes)
{
    wd_store *s = open_store();
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, NTHREADS);
    racer r[NTHREADS];
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        r[i] = (racer){.s = s, .bar = &bar, .idx = i, .same_bytes = same_bytes};
        assert_int_equal(pthread_create(&t[i], NULL, race_one, &r[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    int created = 0, other = 0, winner = -1;
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(r[i].rc, WD_OK);
        if (r[i].res == WD_PUT_CREATED) {
            created++;
            winner = i;
        } else if (r[i].res == (same_bytes ? WD_PUT_SAME : WD_PUT_FORK)) {
            other++;
        }
    }
    assert_int_equal(created, 1);
    assert_int_equal(other, NTHREADS - 1);
    /* every loser was told the winner's hash */
    char wh[WD_DIGEST_STRLEN + 1];
    mkhash(wh, same_bytes ? 'a' : (char)('a' + winner));
    for (int i = 0; i < NTHREADS; i++)
        if (i != winner)
            assert_string_equal(r[i].held, wh);
    wd_store_close(s);
    assert_int_equal(raw_int("SELECT count(*) FROM bundles"), 1);
}

static void test_race_threads_fork(void **state)
{
    (void)state;
    race_threads(false);
}

static void test_race_threads_same(void **state)
{
    (void)state;
    race_threads(true);
}

#define NPROCS 4

/* Separate processes on one file: each child opens its own store, waits for the start signal
 * (the pipe closing), publishes version 7 with its own bytes and exits with its result. */
static void test_race_processes(void **state)
{
    (void)state;
    wd_store *s = open_store(); /* create and migrate first */
    wd_store_close(s);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pids[NPROCS];
    for (int i = 0; i < NPROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(pfd[1]);
            wd_store *cs = NULL;
            wd_err e = {0};
            if (wd_store_open(url, &cs, &e) != WD_OK)
                _exit(100);
            char c;
            if (read(pfd[0], &c, 1) != 0)
                _exit(101);
            wd_store_msg m = mkmsg("acme", "prod", "eu1", 7, (char)('a' + i));
            char bytes[32];
            snprintf(bytes, sizeof bytes, "bundle-%d", i);
            wd_put_result res;
            wd_code rc = cs->ops->put_bundle(cs, &m, (const unsigned char *)bytes,
                                             strlen(bytes), &res, NULL, &e);
            wd_store_close(cs);
            _exit(rc != WD_OK ? 102 : (int)res);
        }
    }
    close(pfd[0]);
    usleep(100 * 1000); /* let the children open; correctness does not depend on it */
    close(pfd[1]);
    int created = 0, forked = 0;
    for (int i = 0; i < NPROCS; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        int code = WEXITSTATUS(st);
        if (code == WD_PUT_CREATED)
            created++;
        else if (code == WD_PUT_FORK)
            forked++;
        else
            fail_msg("child %d exited %d", i, code);
    }
    assert_int_equal(created, 1);
    assert_int_equal(forked, NPROCS - 1);
    assert_int_equal(raw_int("SELECT count(*) FROM bundles"), 1);
}


/* Several processes open a file that does not exist yet at the same moment: every one of them
 * gets a working store, and the schema is created once. */
static void test_first_open_race(void **state)
{
    (void)state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pids[NPROCS];
    for (int i = 0; i < NPROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(pfd[1]);
            char c;
            if (read(pfd[0], &c, 1) != 0)
                _exit(101);
            wd_store *cs = NULL;
            wd_err e = {0};
            if (wd_store_open(url, &cs, &e) != WD_OK)
                _exit(100);
            char fleet[16];
            snprintf(fleet, sizeof fleet, "fleet-%d", i);
            wd_store_msg m = mkmsg("acme", fleet, "eu1", 1, (char)('a' + i));
            wd_put_result res;
            wd_code rc = cs->ops->put_kill(cs, &m, (const unsigned char *)"k", 1, &res, &e);
            wd_store_close(cs);
            _exit(rc != WD_OK ? 102 : res != WD_PUT_CREATED ? 103 : 0);
        }
    }
    close(pfd[0]);
    close(pfd[1]);
    for (int i = 0; i < NPROCS; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(raw_int("PRAGMA user_version"), WD_STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int("SELECT count(*) FROM kills"), NPROCS);
}

/* ---- a store that cannot be written ---- */

/* Opening a database file this process may not write is an operational error at open, not a
 * store that fails later. As root, file modes do not bind, so the open runs in a child that has
 * dropped to an unprivileged user. */
static int open_exit_code(void)
{
    wd_store *cs = NULL;
    wd_err e = {0};
    wd_code rc = wd_store_open(url, &cs, &e);
    wd_store_close(cs);
    return rc == WD_E_IO && strstr(e.msg, "store") != NULL ? 0 : 10 + (int)rc;
}

static void test_read_only_file(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_store_msg m1 = mkmsg("acme", "prod", "eu1", 1, 'a');
    assert_int_equal(put_b(s, &m1, "b1", NULL), WD_PUT_CREATED);
    wd_store_close(s);
    assert_int_equal(chmod(dbpath, 0444), 0);
    if (geteuid() != 0) {
        assert_int_equal(open_exit_code(), 0);
    } else {
        assert_int_equal(chmod(tmpdir, 0755), 0); /* the other user may enter, not write */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(99);
            _exit(open_exit_code());
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(chmod(dbpath, 0644), 0);
    assert_int_equal(raw_int("SELECT count(*) FROM bundles"), 1);
}


typedef struct snapshot {
    int64_t bundles, kills, rollbacks, active, rosters, batches, heads, followers;
} snapshot;

static snapshot snap(void)
{
    snapshot n;
    n.bundles = raw_int("SELECT count(*) FROM bundles");
    n.kills = raw_int("SELECT count(*) FROM kills");
    n.rollbacks = raw_int("SELECT count(*) FROM rollbacks");
    n.active = raw_int("SELECT count(*) FROM active_rollbacks WHERE rollback_id = 'r-1'");
    n.rosters = raw_int("SELECT count(*) FROM rosters");
    n.batches = raw_int("SELECT count(*) FROM audit_batches");
    n.heads = raw_int("SELECT coalesce(sum(last_seq), 0) FROM audit_heads");
    n.followers = raw_int("SELECT coalesce(sum(last_seen), 0) FROM followers");
    return n;
}

static void seed(wd_store *s)
{
    wd_store_msg m1 = mkmsg("acme", "prod", "eu1", 1, 'a');
    assert_int_equal(put_b(s, &m1, "b1", NULL), WD_PUT_CREATED);
    wd_store_rollback r = mkrb("r-1", "prod", 2, 1);
    assert_int_equal(put_r(s, &r, "rb1"), WD_PUT_CREATED);
    wd_store_msg k1 = mkmsg("acme", "prod", "eu1", 1, 'k');
    assert_int_equal(put_k(s, &k1, "k1"), WD_PUT_CREATED);
    assert_int_equal(put_ro(s, 1, 'r', "roster-1"), WD_PUT_CREATED);
    assert_int_equal(put_a(s, "i-1", "i-1-1", 1, 5, 'a', false, "batch-1"), WD_PUT_CREATED);
    put_f(s, "acme", "prod", "i-1", NULL, "{}", 100);
}

/* Every put fails with WD_E_IO, with a message that names the operation and no value. */
static void all_puts_fail(wd_store *s, size_t big, const char *why)
{
    wd_err e = {0};
    wd_put_result res;
    unsigned char *bytes = calloc(1, big);
    assert_non_null(bytes);
    wd_store_msg m2 = mkmsg("acme", "prod", "eu1", 2, 'b');
    char held[WD_DIGEST_STRLEN + 1];
    memset(held, 'x', sizeof held);
    assert_int_equal(s->ops->put_bundle(s, &m2, bytes, big, &res, held, &e), WD_E_IO);
    assert_string_equal(held, "");
    assert_non_null(strstr(e.msg, "put_bundle"));
    assert_non_null(strstr(e.msg, why));
    assert_null(strstr(e.msg, m2.hash));
    assert_null(strstr(e.msg, "acme"));
    wd_store_msg k2 = mkmsg("acme", "prod", "eu1", 2, 'l');
    assert_int_equal(s->ops->put_kill(s, &k2, bytes, big < 60000 ? big : 60000, &res, &e),
                     WD_E_IO);
    assert_non_null(strstr(e.msg, "put_kill"));
    wd_store_rollback r = mkrb("r-2", "prod", 2, 1);
    assert_int_equal(s->ops->put_rollback(s, &r, bytes, big < 60000 ? big : 60000, &res, &e),
                     WD_E_IO);
    assert_null(strstr(e.msg, "r-2"));
    char h[WD_DIGEST_STRLEN + 1];
    mkhash(h, 's');
    assert_int_equal(s->ops->put_roster(s, 2, h, bytes, big < 60000 ? big : 60000, &res, &e),
                     WD_E_IO);
    assert_int_equal(s->ops->put_audit_batch(s, &STREAM, "i-1", "i-1-6", 6, 9, h, false, bytes,
                                             big, 5, &res, &e),
                     WD_E_IO);
    wd_store_follower f;
    memset(&f, 0, sizeof f);
    f.stream = STREAM;
    snprintf(f.instance, sizeof f.instance, "i-1");
    char *status = calloc(1, big + 1);
    assert_non_null(status);
    memset(status, 'x', big);
    f.status_json = status;
    f.last_seen = 999;
    assert_int_equal(s->ops->put_status(s, &f, &e), WD_E_IO);
    free(status);
    free(bytes);
}

/* Reads still work and return what was there. */
static void reads_work(wd_store *s)
{
    wd_err e = {0};
    assert_int_equal(s->ops->ping(s, &e), WD_OK);
    char buf[16];
    bool found = false;
    get_b(s, 'a', buf, sizeof buf, &found);
    assert_true(found);
    assert_string_equal(buf, "b1");
    rwalk w = {0};
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w, &e), WD_OK);
    assert_int_equal(w.n, 1);
    wd_audit_head h;
    assert_int_equal(s->ops->audit_head(s, "acme", "i-1", &h, &e), WD_OK);
    assert_int_equal(h.last_seq, 5);
}

static void test_read_only(void **state)
{
    (void)state;
    wd_store *s = open_store();
    seed(s);
    snapshot before = snap();
    wd_err e = {0};
    assert_int_equal(wd_store_sqlite_test_exec(s, "PRAGMA query_only = 1", &e), WD_OK);
    all_puts_fail(s, 100, "readonly");
    reads_work(s);
    snapshot after = snap();
    assert_memory_equal(&before, &after, sizeof before);
    /* writable again: the store was left usable (no transaction left open) */
    assert_int_equal(wd_store_sqlite_test_exec(s, "PRAGMA query_only = 0", &e), WD_OK);
    wd_store_msg m2 = mkmsg("acme", "prod", "eu1", 2, 'b');
    assert_int_equal(put_b(s, &m2, "b2", NULL), WD_PUT_CREATED);
    wd_store_close(s);
}

static void test_full_disk(void **state)
{
    (void)state;
    wd_store *s = open_store();
    seed(s);
    snapshot before = snap();
    wd_err e = {0};
    /* the file may not grow: the next page the database needs is a full disk */
    int64_t pages = raw_int("PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
    assert_int_equal(wd_store_sqlite_test_exec(s, sql, &e), WD_OK);
    all_puts_fail(s, 200000, "full");
    reads_work(s);
    snapshot after = snap();
    assert_memory_equal(&before, &after, sizeof before);
    /* room again: the same put goes through */
    assert_int_equal(wd_store_sqlite_test_exec(s, "PRAGMA max_page_count = 1073741823", &e),
                     WD_OK);
    wd_store_msg m2 = mkmsg("acme", "prod", "eu1", 2, 'b');
    assert_int_equal(put_b(s, &m2, "b2", NULL), WD_PUT_CREATED);
    wd_store_close(s);
}

/* Another writer holds the write lock longer than the busy timeout: the put fails as an
 * operational error after waiting, nothing changes, reads go on (WAL), and the store works
 * once the lock is gone. */
static void test_busy_is_io(void **state)
{
    (void)state;
    wd_store *s = open_store();
    seed(s);
    snapshot before = snap();
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    wd_store_msg m2 = mkmsg("acme", "prod", "eu1", 2, 'b');
    wd_put_result res;
    wd_err e = {0};
    assert_int_equal(s->ops->put_bundle(s, &m2, (const unsigned char *)"b2", 2, &res, NULL, &e),
                     WD_E_IO);
    assert_non_null(strstr(e.msg, "put_bundle"));
    assert_non_null(strstr(e.msg, "locked"));
    reads_work(s);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    snapshot after = snap();
    assert_memory_equal(&before, &after, sizeof before);
    assert_int_equal(put_b(s, &m2, "b2", NULL), WD_PUT_CREATED);
    wd_store_close(s);
}

static void test_walks_need_a_callback(void **state)
{
    (void)state;
    wd_store *s = open_store();
    wd_err e = {0};
    assert_int_equal(s->ops->each_bundle(s, NULL, NULL, &e), WD_E_INTERNAL);
    assert_int_equal(s->ops->each_kill(s, NULL, NULL, &e), WD_E_INTERNAL);
    assert_int_equal(s->ops->each_active_rollback(s, NULL, NULL, &e), WD_E_INTERNAL);
    assert_int_equal(s->ops->each_follower(s, "acme", NULL, NULL, &e), WD_E_INTERNAL);
    wd_store_close(s);
}

/* ---- a process killed inside a put ---- */

typedef enum crash_op { CRASH_BUNDLE, CRASH_ROLLBACK, CRASH_AUDIT, CRASH_KILL, CRASH_ROSTER }
    crash_op;

/* Fork a child that opens the store, runs op with the stop point set, and is killed with
 * SIGKILL where it stopped. Returns true when the child did stop there. */
static bool crash_child(crash_op op, const char *point)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        wd_store *cs = NULL;
        wd_err e = {0};
        if (wd_store_open(url, &cs, &e) != WD_OK)
            _exit(100);
        wd_store_sqlite_test_stop_at(cs, point);
        wd_put_result res;
        char h[WD_DIGEST_STRLEN + 1];
        mkhash(h, 'n');
        if (op == CRASH_BUNDLE) {
            wd_store_msg m2 = mkmsg("acme", "prod", "eu1", 2, 'b');
            cs->ops->put_bundle(cs, &m2, (const unsigned char *)"b2", 2, &res, NULL, &e);
        } else if (op == CRASH_ROLLBACK) {
            wd_store_rollback r = mkrb("r-2", "prod", 2, 1);
            cs->ops->put_rollback(cs, &r, (const unsigned char *)"rb2", 3, &res, &e);
        } else if (op == CRASH_AUDIT) {
            cs->ops->put_audit_batch(cs, &STREAM, "i-1", "i-1-6", 6, 9, h, false,
                                     (const unsigned char *)"batch-2", 7, 5, &res, &e);
        } else if (op == CRASH_KILL) {
            wd_store_msg k2 = mkmsg("acme", "prod", "eu1", 2, 'l');
            cs->ops->put_kill(cs, &k2, (const unsigned char *)"k2", 2, &res, &e);
        } else {
            cs->ops->put_roster(cs, 2, h, (const unsigned char *)"roster-2", 8, &res, &e);
        }
        _exit(101); /* the stop point was not reached */
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
    bool stopped = WIFSTOPPED(st);
    kill(pid, SIGKILL);
    if (stopped)
        assert_int_equal(waitpid(pid, &st, 0), pid);
    return stopped;
}

typedef struct state_t {
    bool b2;             /* bundle v2 stored */
    char active[16];     /* active rollback of acme/prod/eu1 */
    int64_t head;        /* audit head of i-1 */
    bool batch2;         /* batch i-1-6 stored */
    bool r2;             /* rollback r-2 stored */
    bool k2, roster2;
} state_t;

static state_t read_state(void)
{
    wd_store *s = open_store(); /* recovery of the WAL happens here */
    state_t t;
    memset(&t, 0, sizeof t);
    char buf[16];
    get_b(s, 'b', buf, sizeof buf, &t.b2);
    rwalk w = {0};
    wd_err e = {0};
    assert_int_equal(s->ops->each_active_rollback(s, walk_rb, &w, &e), WD_OK);
    if (w.n > 0)
        snprintf(t.active, sizeof t.active, "%.3s", w.seen[0]);
    wd_audit_head h;
    assert_int_equal(s->ops->audit_head(s, "acme", "i-1", &h, &e), WD_OK);
    t.head = h.last_seq;
    unsigned char *b = NULL;
    size_t n;
    assert_int_equal(s->ops->get_rollback(s, "acme", "r-2", &b, &n, &t.r2, &e), WD_OK);
    free(b);
    char kh[WD_DIGEST_STRLEN + 1];
    mkhash(kh, 'l');
    assert_int_equal(s->ops->get_kill(s, "acme", kh, NULL, &b, &n, &t.k2, &e), WD_OK);
    free(b);
    assert_int_equal(s->ops->get_roster(s, 2, &b, &n, &t.roster2, &e), WD_OK);
    free(b);
    t.batch2 = raw_int("SELECT count(*) FROM audit_batches WHERE batch_id = 'i-1-6'") == 1;
    wd_store_close(s);
    assert_int_equal(raw_int("SELECT integrity_check = 'ok' FROM pragma_integrity_check"), 1);
    return t;
}

static void crash_case(crash_op op, const char *point, bool expect_new)
{
    /* a fresh file for every case */
    unlink(dbpath);
    char p[200];
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
    wd_store *s = open_store();
    seed(s);
    wd_store_close(s);
    bool stopped = crash_child(op, point);
    if (!stopped)
        fail_msg("the child did not stop at %s", point);
    state_t t = read_state();
    switch (op) {
    case CRASH_BUNDLE: /* store v2 and clear the rollback: both or neither */
        assert_int_equal(t.b2, expect_new);
        assert_string_equal(t.active, expect_new ? "" : "r-1");
        break;
    case CRASH_ROLLBACK: /* store r-2 and make it active: both or neither */
        assert_int_equal(t.r2, expect_new);
        assert_string_equal(t.active, expect_new ? "r-2" : "r-1");
        break;
    case CRASH_AUDIT: /* store the batch and move the head: both or neither */
        assert_int_equal(t.batch2, expect_new);
        assert_int_equal(t.head, expect_new ? 9 : 5);
        break;
    case CRASH_KILL:
        assert_int_equal(t.k2, expect_new);
        break;
    case CRASH_ROSTER:
        assert_int_equal(t.roster2, expect_new);
        break;
    }
}

static void test_crash_inside_put(void **state)
{
    (void)state;
    static const char *const before_commit[] = {"begin", "write", "commit"};
    for (size_t i = 0; i < 3; i++) {
        crash_case(CRASH_BUNDLE, before_commit[i], false);
        crash_case(CRASH_ROLLBACK, before_commit[i], false);
        crash_case(CRASH_AUDIT, before_commit[i], false);
    }
    crash_case(CRASH_BUNDLE, "committed", true);
    crash_case(CRASH_ROLLBACK, "committed", true);
    crash_case(CRASH_AUDIT, "committed", true);
    crash_case(CRASH_KILL, "begin", false);
    crash_case(CRASH_KILL, "commit", false);
    crash_case(CRASH_KILL, "committed", true);
    crash_case(CRASH_ROSTER, "commit", false);
    crash_case(CRASH_ROSTER, "committed", true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_url_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_limits_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roster_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roster_first_any_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_followers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_reenters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_threads_fork, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_threads_same, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_open_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_is_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walks_need_a_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_inside_put, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
