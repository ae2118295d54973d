/* store_sqlite.c — the leader's store on SQLite (SPEC §12.2 "Store"): one database file in WAL
 * mode with synchronous=FULL, a versioned schema migrated at open, and every put one BEGIN
 * IMMEDIATE transaction that applies its stream rule against what is stored, so that racing
 * writers — threads of one leader or several processes on the same file — get exactly one
 * CREATED. It keeps bytes exactly as given and never verifies a signature. It must never leave
 * a transaction open on an error path, never put stored values (hashes, ids, JSON) in an error
 * message, and never hand out a blob larger than the limit of its kind.
 *
 * Concurrency: a small pool of connections, each guarded by its own mutex (a connection's
 * transaction is shared by every thread that uses it, so one operation owns a connection from
 * its first statement to its last). Walks (each_*) copy their rows first and call the callback
 * with no connection held, so a callback may call the store again. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "base/base.h"
#include "store.h"
#include "stream_rule.h"

#define SQ_NCONN 4
#define SQ_BUSY_TIMEOUT_MS 10000
/* The largest JSON text (audience, labels, status) the store takes or hands back. */
#define SQ_MAX_TEXT (1024u * 1024u)
/* An audit batch body is capped like a bundle envelope (1 MiB). */
#define SQ_MAX_AUDIT_BATCH (1024u * 1024u)

/* Test hooks: not part of store.h. Declared here so the compiler checks them against the
 * definitions; tests/unit/test_store.c declares them again. */
wd_code wd_store_sqlite_test_exec(wd_store *s, const char *sql, wd_err *e);
void wd_store_sqlite_test_stop_at(wd_store *s, const char *point);

typedef struct sq_conn {
    pthread_mutex_t mu;
    sqlite3 *db;
} sq_conn;

typedef struct sq_store {
    wd_store base; /* first: callers see only this */
    sq_conn conn[SQ_NCONN];
    size_t nconn;
    atomic_uint next;
    char stop_at[16]; /* test hook: a point inside a put where the process stops itself */
} sq_store;

/* ---- the schema: MIGRATIONS[v] brings version v to v+1 ---- */

static const char *const MIGRATIONS[WD_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE bundles ("
    "  org TEXT NOT NULL, fleet TEXT NOT NULL, env TEXT NOT NULL,"
    "  version INTEGER NOT NULL, hash TEXT NOT NULL, audience_json TEXT NOT NULL,"
    "  bytes BLOB NOT NULL, stored_at INTEGER NOT NULL,"
    "  PRIMARY KEY (org, fleet, env, version), UNIQUE (org, hash));"
    "CREATE TABLE kills ("
    "  org TEXT NOT NULL, fleet TEXT NOT NULL, env TEXT NOT NULL,"
    "  counter INTEGER NOT NULL, hash TEXT NOT NULL, audience_json TEXT NOT NULL,"
    "  bytes BLOB NOT NULL, stored_at INTEGER NOT NULL,"
    "  PRIMARY KEY (org, fleet, env, counter), UNIQUE (org, hash));"
    "CREATE TABLE rollbacks ("
    "  org TEXT NOT NULL, id TEXT NOT NULL, fleet TEXT NOT NULL, env TEXT NOT NULL,"
    "  audience_json TEXT NOT NULL, current_hash TEXT NOT NULL, target_hash TEXT NOT NULL,"
    "  current_version INTEGER NOT NULL, target_version INTEGER NOT NULL,"
    "  bytes BLOB NOT NULL, stored_at INTEGER NOT NULL,"
    "  PRIMARY KEY (org, id));"
    "CREATE TABLE active_rollbacks ("
    "  org TEXT NOT NULL, fleet TEXT NOT NULL, env TEXT NOT NULL, rollback_id TEXT NOT NULL,"
    "  PRIMARY KEY (org, fleet, env),"
    "  FOREIGN KEY (org, rollback_id) REFERENCES rollbacks (org, id));"
    "CREATE TABLE rosters ("
    "  version INTEGER PRIMARY KEY, hash TEXT NOT NULL, bytes BLOB NOT NULL,"
    "  stored_at INTEGER NOT NULL);"
    "CREATE TABLE audit_batches ("
    "  org TEXT NOT NULL, batch_id TEXT NOT NULL, fleet TEXT NOT NULL, env TEXT NOT NULL,"
    "  instance TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
    "  last_digest TEXT NOT NULL, gap INTEGER NOT NULL, bytes BLOB NOT NULL,"
    "  stored_at INTEGER NOT NULL,"
    "  PRIMARY KEY (org, batch_id));"
    "CREATE INDEX audit_batches_instance ON audit_batches (org, instance, first_seq);"
    "CREATE TABLE audit_heads ("
    "  org TEXT NOT NULL, instance TEXT NOT NULL, last_seq INTEGER NOT NULL,"
    "  last_digest TEXT NOT NULL,"
    "  PRIMARY KEY (org, instance));"
    "CREATE TABLE followers ("
    "  org TEXT NOT NULL, instance TEXT NOT NULL, fleet TEXT NOT NULL, env TEXT NOT NULL,"
    "  labels_json TEXT NOT NULL, status_json TEXT NOT NULL, last_seen INTEGER NOT NULL,"
    "  PRIMARY KEY (org, instance));"
    "CREATE INDEX followers_order ON followers (org, fleet, env, instance);",
};

/* ---- small helpers ---- */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void observe(sq_store *s, const char *op, double t0)
{
    if (s->base.observe != NULL)
        s->base.observe(s->base.observe_ctx, op, mono_now() - t0);
}

/* What a SQLite result code means to the caller: the store cannot be read or written (full
 * disk, read-only file, lock not obtained in time, damaged file): WD_E_IO; out of memory:
 * WD_E_NOMEM; anything else (misuse, a constraint the rules should have prevented): a fault. */
static wd_code map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_NOLFS:
    case SQLITE_AUTH:
        return WD_E_IO;
    case SQLITE_NOMEM:
        return WD_E_NOMEM;
    default:
        return WD_E_INTERNAL;
    }
}

/* Fill e for a failed SQLite call of op; the message names the operation and SQLite's text for
 * the code, never a stored value. */
static wd_code sq_fail(wd_err *e, const char *op, int rc)
{
    wd_code c = map_rc(rc);
    return wd_err_set(e, c, "store: %s: %s (sqlite code %d)", op, sqlite3_errstr(rc), rc);
}

static int vbind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int rc = SQLITE_OK;
    for (int i = 0; fmt[i] != '\0' && rc == SQLITE_OK; i++) {
        switch (fmt[i]) {
        case 't': {
            const char *t = va_arg(ap, const char *);
            rc = sqlite3_bind_text(st, i + 1, t, -1, SQLITE_STATIC);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(st, i + 1, (sqlite3_int64)va_arg(ap, int64_t));
            break;
        case 'b': {
            const unsigned char *p = va_arg(ap, const unsigned char *);
            size_t n = va_arg(ap, size_t);
            if (n == 0)
                rc = sqlite3_bind_zeroblob(st, i + 1, 0);
            else
                rc = sqlite3_bind_blob64(st, i + 1, p, (sqlite3_uint64)n, SQLITE_STATIC);
            break;
        }
        default:
            rc = SQLITE_MISUSE;
        }
    }
    return rc;
}

/* Prepare sql and bind its parameters by fmt: 't' const char *, 'i' int64_t, 'b' (const
 * unsigned char *, size_t). On failure *st is NULL. */
static int prep(sqlite3 *db, sqlite3_stmt **st, const char *sql, const char *fmt, ...)
{
    *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return rc;
    }
    va_list ap;
    va_start(ap, fmt);
    rc = vbind(*st, fmt, ap);
    va_end(ap);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return rc;
}

/* Prepare, bind, run to the end and finalize a statement that returns no rows. */
static int run(sqlite3 *db, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        va_list ap;
        va_start(ap, fmt);
        rc = vbind(st, fmt, ap);
        va_end(ap);
    }
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* End a transaction that failed or only read. Never fails the caller: when SQLite has already
 * rolled back (some errors do), there is nothing to end. */
static void rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Test hook: stop this process (SIGSTOP) at a named point inside a put, so a test can kill it
 * there. Does nothing unless wd_store_sqlite_test_stop_at named that point. */
static void stop_point(const sq_store *s, const char *point)
{
    if (s->stop_at[0] != '\0' && strcmp(s->stop_at, point) == 0)
        raise(SIGSTOP);
}

/* Copy a text column of at most max bytes into out (max+1 bytes). false when the column is
 * NULL or longer (a damaged or foreign row). */
static bool col_copy(sqlite3_stmt *st, int col, char *out, size_t max)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (t == NULL || n < 0 || (size_t)n > max)
        return false;
    memcpy(out, t, (size_t)n);
    out[n] = '\0';
    return true;
}

/* A new copy of a text column of at most max bytes; NULL with *rc set on failure. */
static char *col_dup(sqlite3_stmt *st, int col, size_t max, wd_code *rc)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (t == NULL || n < 0 || (size_t)n > max) {
        *rc = WD_E_INTERNAL;
        return NULL;
    }
    char *p = malloc((size_t)n + 1);
    if (p == NULL) {
        *rc = WD_E_NOMEM;
        return NULL;
    }
    memcpy(p, t, (size_t)n);
    p[n] = '\0';
    return p;
}

/* The blob of column col as a new buffer with `extra` spare bytes after it; refuses a blob
 * above max before allocating. */
static wd_code col_blob(sqlite3_stmt *st, int col, size_t max, size_t extra, unsigned char **out,
                        size_t *len, const char *op, wd_err *e)
{
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (n < 0 || (size_t)n > max)
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored value is larger than its limit",
                          op);
    if (p == NULL && n > 0)
        return wd_err_set(e, WD_E_NOMEM, "store: %s: out of memory", op);
    unsigned char *buf = malloc((size_t)n + extra + 1);
    if (buf == NULL)
        return wd_err_set(e, WD_E_NOMEM, "store: %s: out of memory", op);
    if (n > 0)
        memcpy(buf, p, (size_t)n);
    buf[n] = 0;
    *out = buf;
    *len = (size_t)n;
    return WD_OK;
}

static sq_conn *acquire(sq_store *s)
{
    unsigned start = atomic_fetch_add(&s->next, 1u);
    for (size_t i = 0; i < s->nconn; i++) {
        sq_conn *c = &s->conn[(start + i) % s->nconn];
        if (pthread_mutex_trylock(&c->mu) == 0)
            return c;
    }
    sq_conn *c = &s->conn[start % s->nconn];
    pthread_mutex_lock(&c->mu);
    return c;
}

static void release(sq_conn *c)
{
    pthread_mutex_unlock(&c->mu);
}

static bool text_ok(const char *t, size_t max)
{
    return t != NULL && strnlen(t, max + 1) <= max;
}

static bool stream_ok(const wd_stream *st)
{
    return st->org[0] != '\0' && st->fleet[0] != '\0' && st->env[0] != '\0' &&
           memchr(st->org, '\0', sizeof st->org) != NULL &&
           memchr(st->fleet, '\0', sizeof st->fleet) != NULL &&
           memchr(st->env, '\0', sizeof st->env) != NULL;
}

static bool hash_ok(const char *h)
{
    return h != NULL && h[0] != '\0' && strnlen(h, WD_DIGEST_STRLEN + 1) <= WD_DIGEST_STRLEN;
}

/* stored_at / last_seen / now given as 0 (or below) mean "now". */
static int64_t stamp(int64_t t)
{
    return t > 0 ? t : (int64_t)time(NULL);
}

/* ---- ping ---- */

static wd_code sq_ping(wd_store *base, wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    sq_conn *c = acquire(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, "SELECT 1", "");
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    release(c);
    observe(s, "ping", t0);
    return rc == SQLITE_OK ? WD_OK : sq_fail(e, "ping", rc);
}

/* ---- signed messages (bundles and kills share their shape) ---- */

typedef struct msg_kind {
    const char *table;   /* "bundles" / "kills" */
    const char *seq_col; /* "version" / "counter" */
    size_t max_bytes;
    const char *put_op, *each_op, *get_op;
} msg_kind;

static const msg_kind BUNDLE = {"bundles", "version", WD_MAX_BUNDLE_ENVELOPE,
                                "put_bundle", "each_bundle", "get_bundle"};
static const msg_kind KILL = {"kills", "counter", WD_MAX_KILL_ENVELOPE,
                              "put_kill", "each_kill", "get_kill"};

static wd_code msg_check(const msg_kind *k, const wd_store_msg *m, const unsigned char *bytes,
                         size_t len, const void *res, wd_err *e)
{
    if (m == NULL || res == NULL || (bytes == NULL && len > 0) || !stream_ok(&m->stream) ||
        !hash_ok(m->hash) || !text_ok(m->audience_json, SQ_MAX_TEXT) || m->seq < 1)
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: incomplete or invalid arguments",
                          k->put_op);
    if (len > k->max_bytes)
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: %zu bytes is above the limit of %zu",
                          k->put_op, len, k->max_bytes);
    return WD_OK;
}

/* Inside an open transaction: is there a row of table `k` in org with this hash? */
static int msg_hash_held(sqlite3 *db, const msg_kind *k, const wd_store_msg *m, bool *held)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE org = ?1 AND hash = ?2", k->table);
    sqlite3_stmt *st;
    int rc = prep(db, &st, sql, "tt", m->stream.org, m->hash);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    *held = rc == SQLITE_ROW;
    rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SQLITE_OK : rc;
    sqlite3_finalize(st);
    return rc;
}

/* Inside an open transaction: the highest sequence number of the stream (0 when none). */
static int msg_max_seq(sqlite3 *db, const msg_kind *k, const wd_stream *sm, int64_t *max)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT MAX(%s) FROM %s WHERE org = ?1 AND fleet = ?2 AND env = ?3", k->seq_col,
             k->table);
    sqlite3_stmt *st;
    int rc = prep(db, &st, sql, "ttt", sm->org, sm->fleet, sm->env);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    *max = 0;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            *max = (int64_t)sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int msg_insert(sqlite3 *db, const msg_kind *k, const wd_store_msg *m,
                      const unsigned char *bytes, size_t len)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (org, fleet, env, %s, hash, audience_json, bytes, stored_at) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
             k->table, k->seq_col);
    return run(db, sql, "tttittbi", m->stream.org, m->stream.fleet, m->stream.env,
               (int64_t)m->seq, m->hash, m->audience_json, bytes, len,
               (int64_t)stamp(m->stored_at));
}

/* Inside an open transaction: the hash held at m's version (f->seq_hash pointing at h, or NULL)
 * and the stream's highest version. *damaged when the stored hash is not one. */
static int bundle_seq_facts(sqlite3 *db, const wd_store_msg *m, wd_stream_facts *f,
                            char h[WD_DIGEST_STRLEN + 1], bool *damaged)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st,
                  "SELECT hash FROM bundles WHERE org = ?1 AND fleet = ?2 AND env = ?3 AND "
                  "version = ?4",
                  "ttti", m->stream.org, m->stream.fleet, m->stream.env, (int64_t)m->seq);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *damaged = !col_copy(st, 0, h, WD_DIGEST_STRLEN);
        f->seq_hash = h;
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE || *damaged)
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    return msg_max_seq(db, &BUNDLE, &m->stream, &f->max_seq);
}

/* The bundle rule (stream_rule.h), inside the caller's connection (SPEC §12.2 publish). */
static wd_code bundle_put_tx(sq_store *s, sqlite3 *db, const wd_store_msg *m,
                             const unsigned char *bytes, size_t len, wd_put_result *res,
                             char *held_hash, wd_err *e)
{
    const char *op = BUNDLE.put_op;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "begin");

    /* the facts the rule decides on: the hash held, else the version's hash and the highest
     * version */
    wd_stream_facts f = {0};
    rc = msg_hash_held(db, &BUNDLE, m, &f.hash_held);
    if (rc != SQLITE_OK)
        goto fail;
    char h[WD_DIGEST_STRLEN + 1];
    bool damaged = false;
    if (!f.hash_held)
        rc = bundle_seq_facts(db, m, &f, h, &damaged);
    if (rc != SQLITE_OK)
        goto fail;
    if (damaged) {
        rollback(db);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored hash is damaged", op);
    }
    *res = wd_stream_rule_msg(WD_STREAM_BUNDLE, m->seq, m->hash, &f, held_hash);
    if (*res != WD_PUT_CREATED) {
        rollback(db);
        return WD_OK;
    }
    /* store it (and end the stream's rollback) */
    rc = msg_insert(db, &BUNDLE, m, bytes, len);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "write");
    if (wd_stream_rule_ends_rollback(WD_STREAM_BUNDLE, *res))
        rc = run(db, "DELETE FROM active_rollbacks WHERE org = ?1 AND fleet = ?2 AND env = ?3",
                 "ttt", m->stream.org, m->stream.fleet, m->stream.env);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "commit");
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "committed");
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    rollback(db);
    return sq_fail(e, op, rc);
}

static wd_code sq_put_bundle(wd_store *base, const wd_store_msg *m, const unsigned char *bytes,
                             size_t len, wd_put_result *res, char held_hash[WD_DIGEST_STRLEN + 1],
                             wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    if (held_hash != NULL)
        held_hash[0] = '\0';
    wd_code rc = msg_check(&BUNDLE, m, bytes, len, res, e);
    if (rc == WD_OK) {
        sq_conn *c = acquire(s);
        rc = bundle_put_tx(s, c->db, m, bytes, len, res, held_hash, e);
        release(c);
        if (rc != WD_OK && held_hash != NULL)
            held_hash[0] = '\0';
    }
    observe(s, BUNDLE.put_op, t0);
    return rc;
}

/* The kill rule (stream_rule.h): SAME when the hash is stored; STALE when the counter is not
 * above the stream's highest; else CREATED. */
static wd_code kill_put_tx(sq_store *s, sqlite3 *db, const wd_store_msg *m,
                           const unsigned char *bytes, size_t len, wd_put_result *res, wd_err *e)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "begin");
    wd_stream_facts f = {0};
    rc = msg_hash_held(db, &KILL, m, &f.hash_held);
    if (rc == SQLITE_OK && !f.hash_held)
        rc = msg_max_seq(db, &KILL, &m->stream, &f.max_seq);
    if (rc != SQLITE_OK)
        goto fail;
    *res = wd_stream_rule_msg(WD_STREAM_KILL, m->seq, m->hash, &f, NULL);
    if (*res != WD_PUT_CREATED) {
        rollback(db);
        return WD_OK;
    }
    rc = msg_insert(db, &KILL, m, bytes, len);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "commit");
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "committed");
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    rollback(db);
    return sq_fail(e, KILL.put_op, rc);
}

static wd_code sq_put_kill(wd_store *base, const wd_store_msg *m, const unsigned char *bytes,
                           size_t len, wd_put_result *res, wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    wd_code rc = msg_check(&KILL, m, bytes, len, res, e);
    if (rc == WD_OK) {
        sq_conn *c = acquire(s);
        rc = kill_put_tx(s, c->db, m, bytes, len, res, e);
        release(c);
    }
    observe(s, KILL.put_op, t0);
    return rc;
}

/* Fill m (its audience pointing at *aud, a new copy) from columns org, fleet, env, seq, hash,
 * audience_json, stored_at starting at col 0. */
static wd_code msg_from_row(sqlite3_stmt *st, wd_store_msg *m, char **aud)
{
    memset(m, 0, sizeof *m);
    if (!col_copy(st, 0, m->stream.org, WD_MAX_ID_LEN) ||
        !col_copy(st, 1, m->stream.fleet, WD_MAX_ID_LEN) ||
        !col_copy(st, 2, m->stream.env, WD_MAX_ID_LEN) ||
        !col_copy(st, 4, m->hash, WD_DIGEST_STRLEN))
        return WD_E_INTERNAL;
    m->seq = (int64_t)sqlite3_column_int64(st, 3);
    m->stored_at = (int64_t)sqlite3_column_int64(st, 6);
    wd_code rc = WD_OK;
    *aud = col_dup(st, 5, SQ_MAX_TEXT, &rc);
    m->audience_json = *aud;
    return rc;
}

typedef struct msg_row {
    wd_store_msg m;
    char *aud;
} msg_row;

static wd_code msg_each(sq_store *s, const msg_kind *k,
                        bool (*cb)(void *ctx, const wd_store_msg *m), void *ctx, wd_err *e)
{
    double t0 = mono_now();
    if (cb == NULL) {
        observe(s, k->each_op, t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: no callback", k->each_op);
    }
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT org, fleet, env, %s, hash, audience_json, stored_at FROM %s "
             "ORDER BY org, fleet, env, %s",
             k->seq_col, k->table, k->seq_col);
    msg_row *rows = NULL;
    size_t n = 0, cap = 0;
    wd_code code = WD_OK;
    sq_conn *c = acquire(s);
    sqlite3_stmt *st;
    int rc = prep(c->db, &st, sql, "");
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                msg_row *nr = realloc(rows, ncap * sizeof *nr);
                if (nr == NULL) {
                    code = wd_err_set(e, WD_E_NOMEM, "store: %s: out of memory", k->each_op);
                    break;
                }
                rows = nr;
                cap = ncap;
            }
            code = msg_from_row(st, &rows[n].m, &rows[n].aud);
            if (code != WD_OK) {
                free(rows[n].aud);
                wd_err_set(e, code, "store: %s: a stored row is damaged or too large",
                           k->each_op);
                break;
            }
            n++;
        }
        if (code == WD_OK && rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    release(c);
    observe(s, k->each_op, t0);
    if (code == WD_OK && rc != SQLITE_OK)
        code = sq_fail(e, k->each_op, rc);
    for (size_t i = 0; code == WD_OK && i < n; i++)
        if (!cb(ctx, &rows[i].m))
            break;
    for (size_t i = 0; i < n; i++)
        free(rows[i].aud);
    free(rows);
    return code;
}

static wd_code sq_each_bundle(wd_store *base, bool (*cb)(void *ctx, const wd_store_msg *m),
                              void *ctx, wd_err *e)
{
    return msg_each((sq_store *)base, &BUNDLE, cb, ctx, e);
}

static wd_code sq_each_kill(wd_store *base, bool (*cb)(void *ctx, const wd_store_msg *m),
                            void *ctx, wd_err *e)
{
    return msg_each((sq_store *)base, &KILL, cb, ctx, e);
}

/* get: *bytes is one allocation (the caller's) that holds the envelope and, after it, the
 * audience JSON that meta->audience_json points at: free(*bytes) frees both, and the audience
 * is valid until then. Not found: *found false, *bytes NULL. On error nothing is allocated. */
static wd_code msg_get(sq_store *s, const msg_kind *k, const char *org, const char *hash,
                       wd_store_msg *meta, unsigned char **bytes, size_t *len, bool *found,
                       wd_err *e)
{
    double t0 = mono_now();
    if (bytes == NULL || len == NULL || found == NULL || org == NULL || hash == NULL) {
        observe(s, k->get_op, t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: incomplete arguments", k->get_op);
    }
    *bytes = NULL;
    *len = 0;
    *found = false;
    if (meta != NULL)
        memset(meta, 0, sizeof *meta);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT org, fleet, env, %s, hash, audience_json, stored_at, bytes FROM %s "
             "WHERE org = ?1 AND hash = ?2",
             k->seq_col, k->table);
    wd_code code = WD_OK;
    sq_conn *c = acquire(s);
    sqlite3_stmt *st;
    int rc = prep(c->db, &st, sql, "tt", org, hash);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            wd_store_msg m;
            char *aud = NULL;
            code = msg_from_row(st, &m, &aud);
            if (code != WD_OK) {
                wd_err_set(e, code, "store: %s: a stored row is damaged or too large",
                           k->get_op);
            } else {
                size_t alen = strlen(aud);
                code = col_blob(st, 7, k->max_bytes, alen + 1, bytes, len, k->get_op, e);
                if (code == WD_OK) {
                    char *a = (char *)*bytes + *len + 1;
                    memcpy(a, aud, alen + 1);
                    m.audience_json = a;
                    if (meta != NULL)
                        *meta = m;
                    *found = true;
                }
            }
            free(aud);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    release(c);
    observe(s, k->get_op, t0);
    if (code == WD_OK && rc != SQLITE_OK)
        code = sq_fail(e, k->get_op, rc);
    if (code != WD_OK) {
        free(*bytes);
        *bytes = NULL;
        *len = 0;
        *found = false;
        if (meta != NULL)
            memset(meta, 0, sizeof *meta);
    }
    return code;
}

static wd_code sq_get_bundle(wd_store *base, const char *org, const char *hash,
                             wd_store_msg *meta, unsigned char **bytes, size_t *len, bool *found,
                             wd_err *e)
{
    return msg_get((sq_store *)base, &BUNDLE, org, hash, meta, bytes, len, found, e);
}

static wd_code sq_get_kill(wd_store *base, const char *org, const char *hash, wd_store_msg *meta,
                           unsigned char **bytes, size_t *len, bool *found, wd_err *e)
{
    return msg_get((sq_store *)base, &KILL, org, hash, meta, bytes, len, found, e);
}

/* ---- rollback authorizations ---- */

/* Inside an open transaction: the by-id rule (stream_rule.h) for bytes against the blob of
 * the first column of the row that sql (with org and id bound) selects: *res CREATED when there
 * is none, SAME for the same bytes, FORK for others. */
static int by_id(sqlite3 *db, const char *sql, const char *a, const char *b,
                 const unsigned char *bytes, size_t len, wd_put_result *res)
{
    sqlite3_stmt *st;
    int rc = prep(db, &st, sql, "tt", a, b);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    *res = WD_PUT_CREATED;
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (p == NULL && n > 0) {
            rc = SQLITE_NOMEM;
        } else {
            *res = wd_stream_rule_by_id(true, p, n < 0 ? 0 : (size_t)n, bytes, len);
            rc = SQLITE_OK;
        }
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static wd_code rollback_put_tx(sq_store *s, sqlite3 *db, const wd_store_rollback *r,
                               const unsigned char *bytes, size_t len, wd_put_result *res,
                               wd_err *e)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "begin");
    rc = by_id(db, "SELECT bytes FROM rollbacks WHERE org = ?1 AND id = ?2", r->stream.org,
               r->id, bytes, len, res);
    if (rc != SQLITE_OK)
        goto fail;
    if (*res != WD_PUT_CREATED) {
        rollback(db);
        return WD_OK;
    }
    rc = run(db,
             "INSERT INTO rollbacks (org, id, fleet, env, audience_json, current_hash, "
             "target_hash, current_version, target_version, bytes, stored_at) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
             "tttttttiibi", r->stream.org, r->id, r->stream.fleet, r->stream.env,
             r->audience_json, r->current_hash, r->target_hash, (int64_t)r->current_version,
             (int64_t)r->target_version, bytes, len, (int64_t)stamp(r->stored_at));
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "write");
    rc = run(db,
             "INSERT INTO active_rollbacks (org, fleet, env, rollback_id) "
             "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (org, fleet, env) "
             "DO UPDATE SET rollback_id = excluded.rollback_id",
             "tttt", r->stream.org, r->stream.fleet, r->stream.env, r->id);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "commit");
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "committed");
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    rollback(db);
    return sq_fail(e, "put_rollback", rc);
}

static wd_code sq_put_rollback(wd_store *base, const wd_store_rollback *r,
                               const unsigned char *bytes, size_t len, wd_put_result *res,
                               wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    wd_code rc;
    if (r == NULL || res == NULL || (bytes == NULL && len > 0) || !stream_ok(&r->stream) ||
        r->id[0] == '\0' || memchr(r->id, '\0', sizeof r->id) == NULL ||
        !hash_ok(r->current_hash) || !hash_ok(r->target_hash) ||
        !text_ok(r->audience_json, SQ_MAX_TEXT)) {
        rc = wd_err_set(e, WD_E_INTERNAL, "store: put_rollback: incomplete or invalid arguments");
    } else if (len > WD_MAX_ROLLBACK_ENVELOPE) {
        rc = wd_err_set(e, WD_E_INTERNAL,
                        "store: put_rollback: %zu bytes is above the limit of %u", len,
                        WD_MAX_ROLLBACK_ENVELOPE);
    } else {
        sq_conn *c = acquire(s);
        rc = rollback_put_tx(s, c->db, r, bytes, len, res, e);
        release(c);
    }
    observe(s, "put_rollback", t0);
    return rc;
}

/* Run a single-row query whose column 0 is a blob (bound "tt" or "i" by the caller through
 * st) and copy it out. Finalizes st. */
static wd_code blob_row(sqlite3_stmt *st, int rc, size_t max, unsigned char **bytes,
                        size_t *len, bool *found, const char *op, wd_err *e)
{
    wd_code code = WD_OK;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            code = col_blob(st, 0, max, 0, bytes, len, op, e);
            *found = code == WD_OK;
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (code == WD_OK && rc != SQLITE_OK)
        code = sq_fail(e, op, rc);
    return code;
}

static wd_code sq_get_rollback(wd_store *base, const char *org, const char *id,
                               unsigned char **bytes, size_t *len, bool *found, wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    if (bytes == NULL || len == NULL || found == NULL || org == NULL || id == NULL) {
        observe(s, "get_rollback", t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: get_rollback: incomplete arguments");
    }
    *bytes = NULL;
    *len = 0;
    *found = false;
    sq_conn *c = acquire(s);
    sqlite3_stmt *st;
    int rc = prep(c->db, &st, "SELECT bytes FROM rollbacks WHERE org = ?1 AND id = ?2", "tt",
                  org, id);
    wd_code code = blob_row(st, rc, WD_MAX_ROLLBACK_ENVELOPE, bytes, len, found,
                            "get_rollback", e);
    release(c);
    observe(s, "get_rollback", t0);
    return code;
}

typedef struct rb_row {
    wd_store_rollback r;
    char *aud;
} rb_row;

static wd_code sq_each_active_rollback(wd_store *base,
                                       bool (*cb)(void *ctx, const wd_store_rollback *r),
                                       void *ctx, wd_err *e)
{
    sq_store *s = (sq_store *)base;
    const char *op = "each_active_rollback";
    double t0 = mono_now();
    if (cb == NULL) {
        observe(s, op, t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: no callback", op);
    }
    rb_row *rows = NULL;
    size_t n = 0, cap = 0;
    wd_code code = WD_OK;
    sq_conn *c = acquire(s);
    sqlite3_stmt *st;
    int rc = prep(c->db, &st,
                  "SELECT r.id, r.org, r.fleet, r.env, r.audience_json, r.current_hash, "
                  "r.target_hash, r.current_version, r.target_version, r.stored_at "
                  "FROM active_rollbacks a JOIN rollbacks r "
                  "ON r.org = a.org AND r.id = a.rollback_id "
                  "ORDER BY a.org, a.fleet, a.env",
                  "");
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                rb_row *nr = realloc(rows, ncap * sizeof *nr);
                if (nr == NULL) {
                    code = wd_err_set(e, WD_E_NOMEM, "store: %s: out of memory", op);
                    break;
                }
                rows = nr;
                cap = ncap;
            }
            wd_store_rollback *r = &rows[n].r;
            memset(r, 0, sizeof *r);
            rows[n].aud = NULL;
            if (!col_copy(st, 0, r->id, WD_MAX_ID_LEN) ||
                !col_copy(st, 1, r->stream.org, WD_MAX_ID_LEN) ||
                !col_copy(st, 2, r->stream.fleet, WD_MAX_ID_LEN) ||
                !col_copy(st, 3, r->stream.env, WD_MAX_ID_LEN) ||
                !col_copy(st, 5, r->current_hash, WD_DIGEST_STRLEN) ||
                !col_copy(st, 6, r->target_hash, WD_DIGEST_STRLEN))
                code = WD_E_INTERNAL;
            else
                rows[n].aud = col_dup(st, 4, SQ_MAX_TEXT, &code);
            if (code != WD_OK) {
                wd_err_set(e, code, "store: %s: a stored row is damaged or too large", op);
                break;
            }
            r->audience_json = rows[n].aud;
            r->current_version = (int64_t)sqlite3_column_int64(st, 7);
            r->target_version = (int64_t)sqlite3_column_int64(st, 8);
            r->stored_at = (int64_t)sqlite3_column_int64(st, 9);
            n++;
        }
        if (code == WD_OK && rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    release(c);
    observe(s, op, t0);
    if (code == WD_OK && rc != SQLITE_OK)
        code = sq_fail(e, op, rc);
    for (size_t i = 0; code == WD_OK && i < n; i++)
        if (!cb(ctx, &rows[i].r))
            break;
    for (size_t i = 0; i < n; i++)
        free(rows[i].aud);
    free(rows);
    return code;
}

/* ---- rosters ---- */

static wd_code roster_put_tx(sq_store *s, sqlite3 *db, int64_t version, const char *hash,
                             const unsigned char *bytes, size_t len, wd_put_result *res,
                             wd_err *e)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "begin");
    sqlite3_stmt *st;
    rc = prep(db, &st, "SELECT hash FROM rosters WHERE version = ?1", "i", (int64_t)version);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(st);
    char h[WD_DIGEST_STRLEN + 1];
    const char *held = NULL;
    if (rc == SQLITE_ROW) {
        if (col_copy(st, 0, h, WD_DIGEST_STRLEN))
            held = h;
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        goto fail;
    rc = prep(db, &st, "SELECT MAX(version) FROM rosters", "");
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(st);
    bool any = false;
    int64_t newest = 0;
    if (rc == SQLITE_ROW) {
        any = sqlite3_column_type(st, 0) != SQLITE_NULL;
        newest = any ? (int64_t)sqlite3_column_int64(st, 0) : 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        goto fail;
    *res = wd_stream_rule_roster(version, hash, held, any, newest);
    if (*res != WD_PUT_CREATED) {
        rollback(db);
        return WD_OK;
    }
    rc = run(db, "INSERT INTO rosters (version, hash, bytes, stored_at) VALUES (?1, ?2, ?3, ?4)",
             "itbi", (int64_t)version, hash, bytes, len, (int64_t)time(NULL));
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "commit");
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "committed");
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    rollback(db);
    return sq_fail(e, "put_roster", rc);
}

static wd_code sq_put_roster(wd_store *base, int64_t version, const char *hash,
                             const unsigned char *bytes, size_t len, wd_put_result *res,
                             wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    wd_code rc;
    if (res == NULL || (bytes == NULL && len > 0) || !hash_ok(hash) || version < 1)
        rc = wd_err_set(e, WD_E_INTERNAL, "store: put_roster: incomplete or invalid arguments");
    else if (len > WD_MAX_ROSTER_ENVELOPE)
        rc = wd_err_set(e, WD_E_INTERNAL, "store: put_roster: %zu bytes is above the limit of %u",
                        len, WD_MAX_ROSTER_ENVELOPE);
    else {
        sq_conn *c = acquire(s);
        rc = roster_put_tx(s, c->db, version, hash, bytes, len, res, e);
        release(c);
    }
    observe(s, "put_roster", t0);
    return rc;
}

static wd_code sq_get_roster(wd_store *base, int64_t version, unsigned char **bytes, size_t *len,
                             bool *found, wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    if (bytes == NULL || len == NULL || found == NULL) {
        observe(s, "get_roster", t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: get_roster: incomplete arguments");
    }
    *bytes = NULL;
    *len = 0;
    *found = false;
    sq_conn *c = acquire(s);
    sqlite3_stmt *st;
    int rc = version == 0
                 ? prep(c->db, &st, "SELECT bytes FROM rosters ORDER BY version DESC LIMIT 1", "")
                 : prep(c->db, &st, "SELECT bytes FROM rosters WHERE version = ?1", "i",
                        (int64_t)version);
    wd_code code = blob_row(st, rc, WD_MAX_ROSTER_ENVELOPE, bytes, len, found, "get_roster", e);
    release(c);
    observe(s, "get_roster", t0);
    return code;
}

/* ---- audit batches ---- */

typedef struct audit_in {
    const wd_stream *st;
    const char *instance, *batch_id, *last_digest;
    int64_t first_seq, last_seq, now;
    bool gap;
    const unsigned char *bytes;
    size_t len;
} audit_in;

static wd_code audit_put_tx(sq_store *s, sqlite3 *db, const audit_in *a, wd_put_result *res,
                            wd_err *e)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "begin");
    rc = by_id(db, "SELECT bytes FROM audit_batches WHERE org = ?1 AND batch_id = ?2",
               a->st->org, a->batch_id, a->bytes, a->len, res);
    if (rc != SQLITE_OK)
        goto fail;
    if (*res != WD_PUT_CREATED) {
        rollback(db);
        return WD_OK;
    }
    rc = run(db,
             "INSERT INTO audit_batches (org, batch_id, fleet, env, instance, first_seq, "
             "last_seq, last_digest, gap, bytes, stored_at) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
             "tttttiitibi", a->st->org, a->batch_id, a->st->fleet, a->st->env, a->instance,
             (int64_t)a->first_seq, (int64_t)a->last_seq, a->last_digest,
             (int64_t)(a->gap ? 1 : 0), a->bytes, a->len, (int64_t)stamp(a->now));
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "write");
    rc = run(db,
             "INSERT INTO audit_heads (org, instance, last_seq, last_digest) "
             "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (org, instance) "
             "DO UPDATE SET last_seq = excluded.last_seq, last_digest = excluded.last_digest",
             "ttit", a->st->org, a->instance, (int64_t)a->last_seq, a->last_digest);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "commit");
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    stop_point(s, "committed");
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    rollback(db);
    return sq_fail(e, "put_audit_batch", rc);
}

static wd_code sq_put_audit_batch(wd_store *base, const wd_stream *st, const char *instance,
                                  const char *batch_id, int64_t first_seq, int64_t last_seq,
                                  const char *last_digest, bool gap, const unsigned char *bytes,
                                  size_t len, int64_t now, wd_put_result *res, wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    wd_code rc;
    if (st == NULL || res == NULL || (bytes == NULL && len > 0) || !stream_ok(st) ||
        !text_ok(instance, WD_MAX_ID_LEN) || instance[0] == '\0' ||
        !text_ok(batch_id, 2 * WD_MAX_ID_LEN + 32) || batch_id[0] == '\0' ||
        !hash_ok(last_digest) || first_seq < 1 || last_seq < first_seq) {
        rc = wd_err_set(e, WD_E_INTERNAL,
                        "store: put_audit_batch: incomplete or invalid arguments");
    } else if (len > SQ_MAX_AUDIT_BATCH) {
        rc = wd_err_set(e, WD_E_INTERNAL,
                        "store: put_audit_batch: %zu bytes is above the limit of %u", len,
                        SQ_MAX_AUDIT_BATCH);
    } else {
        audit_in a = {st, instance, batch_id, last_digest, first_seq, last_seq, now,
                      gap, bytes, len};
        sq_conn *c = acquire(s);
        rc = audit_put_tx(s, c->db, &a, res, e);
        release(c);
    }
    observe(s, "put_audit_batch", t0);
    return rc;
}

static wd_code sq_audit_head(wd_store *base, const char *org, const char *instance,
                             wd_audit_head *out, wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    if (org == NULL || instance == NULL || out == NULL) {
        observe(s, "audit_head", t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: audit_head: incomplete arguments");
    }
    out->last_seq = 0;
    out->last_digest[0] = '\0';
    wd_code code = WD_OK;
    sq_conn *c = acquire(s);
    sqlite3_stmt *st;
    int rc = prep(c->db, &st,
                  "SELECT last_seq, last_digest FROM audit_heads WHERE org = ?1 AND "
                  "instance = ?2",
                  "tt", org, instance);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            out->last_seq = (int64_t)sqlite3_column_int64(st, 0);
            if (!col_copy(st, 1, out->last_digest, WD_DIGEST_STRLEN)) {
                out->last_seq = 0;
                out->last_digest[0] = '\0';
                code = wd_err_set(e, WD_E_INTERNAL, "store: audit_head: a stored row is damaged");
            }
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    release(c);
    observe(s, "audit_head", t0);
    if (code == WD_OK && rc != SQLITE_OK)
        code = sq_fail(e, "audit_head", rc);
    return code;
}

/* ---- followers ---- */

static wd_code sq_put_status(wd_store *base, const wd_store_follower *f, wd_err *e)
{
    sq_store *s = (sq_store *)base;
    double t0 = mono_now();
    wd_code code = WD_OK;
    if (f == NULL || !stream_ok(&f->stream) || f->instance[0] == '\0' ||
        memchr(f->instance, '\0', sizeof f->instance) == NULL ||
        (f->labels_json != NULL && !text_ok(f->labels_json, SQ_MAX_TEXT)) ||
        !text_ok(f->status_json, SQ_MAX_TEXT)) {
        code = wd_err_set(e, WD_E_INTERNAL, "store: put_status: incomplete or invalid arguments");
    } else {
        sq_conn *c = acquire(s);
        /* one statement: atomic on its own */
        int rc = run(c->db,
                     "INSERT INTO followers (org, instance, fleet, env, labels_json, "
                     "status_json, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                     "ON CONFLICT (org, instance) DO UPDATE SET fleet = excluded.fleet, "
                     "env = excluded.env, labels_json = excluded.labels_json, "
                     "status_json = excluded.status_json, last_seen = excluded.last_seen",
                     "tttttti", f->stream.org, f->instance, f->stream.fleet, f->stream.env,
                     f->labels_json != NULL ? f->labels_json : "{}", f->status_json,
                     (int64_t)stamp(f->last_seen));
        release(c);
        if (rc != SQLITE_OK)
            code = sq_fail(e, "put_status", rc);
    }
    observe(s, "put_status", t0);
    return code;
}

typedef struct fol_row {
    wd_store_follower f;
    char *labels, *status;
} fol_row;

static wd_code sq_each_follower(wd_store *base, const char *org,
                                bool (*cb)(void *ctx, const wd_store_follower *f), void *ctx,
                                wd_err *e)
{
    sq_store *s = (sq_store *)base;
    const char *op = "each_follower";
    double t0 = mono_now();
    if (cb == NULL || org == NULL) {
        observe(s, op, t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: incomplete arguments", op);
    }
    fol_row *rows = NULL;
    size_t n = 0, cap = 0;
    wd_code code = WD_OK;
    sq_conn *c = acquire(s);
    sqlite3_stmt *st;
    int rc = prep(c->db, &st,
                  "SELECT org, fleet, env, instance, labels_json, status_json, last_seen "
                  "FROM followers WHERE org = ?1 ORDER BY fleet, env, instance",
                  "t", org);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                fol_row *nr = realloc(rows, ncap * sizeof *nr);
                if (nr == NULL) {
                    code = wd_err_set(e, WD_E_NOMEM, "store: %s: out of memory", op);
                    break;
                }
                rows = nr;
                cap = ncap;
            }
            fol_row *r = &rows[n];
            memset(r, 0, sizeof *r);
            if (!col_copy(st, 0, r->f.stream.org, WD_MAX_ID_LEN) ||
                !col_copy(st, 1, r->f.stream.fleet, WD_MAX_ID_LEN) ||
                !col_copy(st, 2, r->f.stream.env, WD_MAX_ID_LEN) ||
                !col_copy(st, 3, r->f.instance, WD_MAX_ID_LEN))
                code = WD_E_INTERNAL;
            if (code == WD_OK)
                r->labels = col_dup(st, 4, SQ_MAX_TEXT, &code);
            if (code == WD_OK)
                r->status = col_dup(st, 5, SQ_MAX_TEXT, &code);
            if (code != WD_OK) {
                free(r->labels);
                free(r->status);
                wd_err_set(e, code, "store: %s: a stored row is damaged or too large", op);
                break;
            }
            r->f.labels_json = r->labels;
            r->f.status_json = r->status;
            r->f.last_seen = (int64_t)sqlite3_column_int64(st, 6);
            n++;
        }
        if (code == WD_OK && rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    release(c);
    observe(s, op, t0);
    if (code == WD_OK && rc != SQLITE_OK)
        code = sq_fail(e, op, rc);
    for (size_t i = 0; code == WD_OK && i < n; i++)
        if (!cb(ctx, &rows[i].f))
            break;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].labels);
        free(rows[i].status);
    }
    free(rows);
    return code;
}

/* ---- open, migrate, close ---- */

static void sq_close(wd_store *base)
{
    sq_store *s = (sq_store *)base;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nconn; i++) {
        sqlite3_close_v2(s->conn[i].db);
        pthread_mutex_destroy(&s->conn[i].mu);
    }
    free(s);
}

static const wd_store_ops SQ_OPS = {
    .name = "sqlite",
    .close = sq_close,
    .ping = sq_ping,
    .put_bundle = sq_put_bundle,
    .each_bundle = sq_each_bundle,
    .get_bundle = sq_get_bundle,
    .put_kill = sq_put_kill,
    .each_kill = sq_each_kill,
    .get_kill = sq_get_kill,
    .put_rollback = sq_put_rollback,
    .get_rollback = sq_get_rollback,
    .each_active_rollback = sq_each_active_rollback,
    .put_roster = sq_put_roster,
    .get_roster = sq_get_roster,
    .put_audit_batch = sq_put_audit_batch,
    .audit_head = sq_audit_head,
    .put_status = sq_put_status,
    .each_follower = sq_each_follower,
};

/* Bring the schema to WD_STORE_SCHEMA_VERSION in one transaction; a newer schema is refused
 * (WD_E_USAGE) and left untouched. */
static wd_code migrate(sqlite3 *db, wd_err *e)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_stmt *st;
    rc = prep(db, &st, "PRAGMA user_version", "");
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? (int64_t)sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        goto fail;
    if (v > WD_STORE_SCHEMA_VERSION || v < 0) {
        rollback(db);
        return wd_err_set(e, WD_E_USAGE,
                          "store: the database has schema version %lld; this build knows "
                          "versions up to %d: use a newer warden, or another database",
                          (long long)v, WD_STORE_SCHEMA_VERSION);
    }
    for (; v < WD_STORE_SCHEMA_VERSION; v++) {
        rc = sqlite3_exec(db, MIGRATIONS[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto fail;
        char sql[48];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", (long long)(v + 1));
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto fail;
    }
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    return WD_OK;
fail:
    rollback(db);
    return sq_fail(e, "migrate", rc);
}

/* Open one connection with the durability settings. On error *db is NULL. */
static wd_code open_conn(const char *path, bool first, sqlite3 **out, wd_err *e)
{
    sqlite3 *db = NULL;
    *out = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(db);
        return sq_fail(e, "open", rc);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    if (sqlite3_db_readonly(db, "main") == 1) {
        sqlite3_close_v2(db);
        return wd_err_set(e, WD_E_IO, "store: open: the database file is read-only");
    }
    if (first) {
        /* WAL is a property of the file: set once, checked on what SQLite reports */
        sqlite3_stmt *st = NULL;
        rc = prep(db, &st, "PRAGMA journal_mode = WAL", "");
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                const unsigned char *m = sqlite3_column_text(st, 0);
                rc = (m != NULL && sqlite3_stricmp((const char *)m, "wal") == 0)
                         ? SQLITE_OK
                         : SQLITE_CANTOPEN;
            }
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_OK) {
            sqlite3_close_v2(db);
            return rc == SQLITE_CANTOPEN
                       ? wd_err_set(e, WD_E_IO,
                                    "store: open: the database cannot be put in WAL mode")
                       : sq_fail(e, "open", rc);
        }
    }
    rc = sqlite3_exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(db);
        return sq_fail(e, "open", rc);
    }
    *out = db;
    return WD_OK;
}

/* The parent directory of path must exist: the store creates the file, never directories. */
static wd_code check_parent(const char *path, wd_err *e)
{
    char dir[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return wd_err_set(e, WD_E_USAGE, "store: the database path is too long");
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        char clean[256];
        return wd_err_set(e, WD_E_IO, "store: cannot use the directory %s: %s",
                          wd_clean_text(dir, clean, sizeof clean), strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) {
        char clean[256];
        return wd_err_set(e, WD_E_IO, "store: %s is not a directory",
                          wd_clean_text(dir, clean, sizeof clean));
    }
    return WD_OK;
}

/* Open (creating the file when missing) and migrate. On error *out is NULL; a database file
 * that did not exist may be left created and empty. */
wd_code wd_store_sqlite_open(const char *path, wd_store **out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_USAGE, "store: no place to return the store");
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return wd_err_set(e, WD_E_USAGE, "store: the SQLite store needs a file path");
    if (sqlite3_threadsafe() == 0)
        return wd_err_set(e, WD_E_INTERNAL, "store: this SQLite is built without threads");
    wd_code rc = check_parent(path, e);
    if (rc != WD_OK)
        return rc;
    sq_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return wd_err_set(e, WD_E_NOMEM, "store: out of memory");
    s->base.ops = &SQ_OPS;
    atomic_init(&s->next, 0u);
    for (size_t i = 0; i < SQ_NCONN; i++) {
        if (pthread_mutex_init(&s->conn[i].mu, NULL) != 0) {
            sq_close(&s->base);
            return wd_err_set(e, WD_E_INTERNAL, "store: cannot create a mutex");
        }
        rc = open_conn(path, i == 0, &s->conn[i].db, e);
        s->nconn = i + 1;
        if (rc == WD_OK && i == 0)
            rc = migrate(s->conn[0].db, e);
        if (rc != WD_OK) {
            sq_close(&s->base);
            return rc;
        }
    }
    *out = &s->base;
    return WD_OK;
}

/* ---- test hooks ---- */

/* Run sql on every connection of a SQLite store (tests use it to make the store read-only or
 * full: PRAGMA query_only, PRAGMA max_page_count). */
wd_code wd_store_sqlite_test_exec(wd_store *base, const char *sql, wd_err *e)
{
    if (base == NULL || base->ops != &SQ_OPS || sql == NULL)
        return wd_err_set(e, WD_E_USAGE, "store: not a SQLite store");
    sq_store *s = (sq_store *)base;
    for (size_t i = 0; i < s->nconn; i++) {
        pthread_mutex_lock(&s->conn[i].mu);
        int rc = sqlite3_exec(s->conn[i].db, sql, NULL, NULL, NULL);
        pthread_mutex_unlock(&s->conn[i].mu);
        if (rc != SQLITE_OK)
            return sq_fail(e, "test_exec", rc);
    }
    return WD_OK;
}

/* Make every later put of this store stop the process (SIGSTOP) at point: "begin" (after
 * BEGIN), "write" (between a put's two writes), "commit" (just before COMMIT), "committed"
 * (just after). NULL or "" turns it off. */
void wd_store_sqlite_test_stop_at(wd_store *base, const char *point)
{
    if (base == NULL || base->ops != &SQ_OPS)
        return;
    sq_store *s = (sq_store *)base;
    snprintf(s->stop_at, sizeof s->stop_at, "%s", point != NULL ? point : "");
}
