/* store_pg.c — the leader's store on PostgreSQL (SPEC §12.2 "Store", §16), through libpq, for
 * several leaders sharing one database. The schema mirrors the SQLite store's, carries its
 * version in the table warden_schema, and is migrated at open under an advisory lock (two
 * leaders starting together migrate once). Every put is one READ COMMITTED transaction that
 * first takes a transaction-scoped advisory lock on its stream (pg_advisory_xact_lock), so
 * racing writers — threads of one leader or several leaders — are decided one after the other
 * and exactly one gets CREATED; the unique keys stay as a backstop (a violation is retried).
 * A put that creates something in a stream announces it with pg_notify on the channel
 * warden_changes, delivered to every listening leader when (and only when) it commits.
 * It keeps bytes exactly as given and never verifies a signature. It must never leave a
 * transaction open on an error path, never put stored values or the URL's password in an error
 * message (only PostgreSQL's primary message, cleaned), and never hand out a value larger than
 * the limit of its kind.
 *
 * Bounded: connect_timeout 5 s, statement_timeout and lock_timeout 10 s, TCP keepalives; a
 * lost connection is reopened on its next use. Operational failures (the database down or
 * unreachable, a timeout, a serialization failure, disk full) are WD_E_IO; a statement the
 * server refuses for any other reason (a bug, a foreign schema) is WD_E_INTERNAL.
 *
 * Concurrency: a pool of PG_NCONN connections, each guarded by its own mutex and used by one
 * operation from its first statement to its last, like the SQLite store; plus one dedicated
 * connection for LISTEN, driven by the one watcher (watch_*). Walks copy their rows (a
 * PGresult) and call back with no connection held, so a callback may call the store again. */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "base/base.h"
#include "store.h"
#include "stream_rule.h"

#define PG_NCONN 4
#define PG_CONNECT_TIMEOUT "5"
#define PG_STATEMENT_TIMEOUT_MS 10000
#define PG_LOCK_TIMEOUT_MS 10000
#define PG_IDLE_TX_TIMEOUT_MS 60000
#define PG_CHANNEL "warden_changes"
#define PG_MAX_TEXT (1024u * 1024u)
#define PG_MAX_AUDIT_BATCH (1024u * 1024u)
#define PG_RETRIES 3
#define PG_MAX_PARAMS 12
/* The key of the advisory lock the migrations take (any constant; "wardnmig"). */
#define PG_MIGRATE_LOCK "7761726400006d67"

typedef struct pg_conn {
    pthread_mutex_t mu;
    PGconn *db;
} pg_conn;

typedef struct pg_store {
    wd_store base; /* first: callers see only this */
    char *url;
    pg_conn conn[PG_NCONN];
    size_t nconn;
    atomic_uint next;
    atomic_int pids[PG_NCONN]; /* backend pids of the pool, to leave our own announcements out */
    PGconn *watch;             /* the LISTEN connection (the watcher's) */
} pg_store;

/* ---- the schema: MIGRATIONS[v] brings version v to v+1 ---- */

static const char *const MIGRATIONS[WD_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE bundles ("
    "  org text NOT NULL, fleet text NOT NULL, env text NOT NULL,"
    "  version bigint NOT NULL, hash text NOT NULL, audience_json text NOT NULL,"
    "  bytes bytea NOT NULL, stored_at bigint NOT NULL,"
    "  PRIMARY KEY (org, fleet, env, version), UNIQUE (org, hash));"
    "CREATE TABLE kills ("
    "  org text NOT NULL, fleet text NOT NULL, env text NOT NULL,"
    "  counter bigint NOT NULL, hash text NOT NULL, audience_json text NOT NULL,"
    "  bytes bytea NOT NULL, stored_at bigint NOT NULL,"
    "  PRIMARY KEY (org, fleet, env, counter), UNIQUE (org, hash));"
    "CREATE TABLE rollbacks ("
    "  org text NOT NULL, id text NOT NULL, fleet text NOT NULL, env text NOT NULL,"
    "  audience_json text NOT NULL, current_hash text NOT NULL, target_hash text NOT NULL,"
    "  current_version bigint NOT NULL, target_version bigint NOT NULL,"
    "  bytes bytea NOT NULL, stored_at bigint NOT NULL,"
    "  PRIMARY KEY (org, id));"
    "CREATE TABLE active_rollbacks ("
    "  org text NOT NULL, fleet text NOT NULL, env text NOT NULL, rollback_id text NOT NULL,"
    "  PRIMARY KEY (org, fleet, env),"
    "  FOREIGN KEY (org, rollback_id) REFERENCES rollbacks (org, id));"
    "CREATE TABLE rosters ("
    "  version bigint PRIMARY KEY, hash text NOT NULL, bytes bytea NOT NULL,"
    "  stored_at bigint NOT NULL);"
    "CREATE TABLE audit_batches ("
    "  org text NOT NULL, batch_id text NOT NULL, fleet text NOT NULL, env text NOT NULL,"
    "  instance text NOT NULL, first_seq bigint NOT NULL, last_seq bigint NOT NULL,"
    "  last_digest text NOT NULL, gap boolean NOT NULL, bytes bytea NOT NULL,"
    "  stored_at bigint NOT NULL,"
    "  PRIMARY KEY (org, batch_id));"
    "CREATE INDEX audit_batches_instance ON audit_batches (org, instance, first_seq);"
    "CREATE TABLE audit_heads ("
    "  org text NOT NULL, instance text NOT NULL, last_seq bigint NOT NULL,"
    "  last_digest text NOT NULL,"
    "  PRIMARY KEY (org, instance));"
    "CREATE TABLE followers ("
    "  org text NOT NULL, instance text NOT NULL, fleet text NOT NULL, env text NOT NULL,"
    "  labels_json text NOT NULL, status_json text NOT NULL, last_seen bigint NOT NULL,"
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

static void observe(pg_store *s, const char *op, double t0)
{
    if (s->base.observe != NULL)
        s->base.observe(s->base.observe_ctx, op, mono_now() - t0);
}

static int64_t stamp(int64_t t)
{
    return t > 0 ? t : (int64_t)time(NULL);
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

static void stream_key(const wd_stream *st, char *out, size_t n)
{
    snprintf(out, n, "%s/%s/%s", st->org, st->fleet, st->env);
}

/* The first line of libpq's text, cleaned of control characters, into out. */
static const char *first_line(const char *msg, char *out, size_t n)
{
    char line[256];
    snprintf(line, sizeof line, "%s", msg != NULL && msg[0] != '\0' ? msg : "unknown error");
    line[strcspn(line, "\r\n")] = '\0';
    return wd_clean_text(line, out, n);
}

/* Is a SQLSTATE an operational failure: connection (08), resources (53), operator
 * intervention and timeouts (57), system (58), transaction rollback (40: serialization,
 * deadlock), lock not available (55P03), a read-only transaction (25006)? */
static bool state_is_io(const char *st)
{
    if (st == NULL)
        return true; /* no SQLSTATE: the connection went away */
    return strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 ||
           strncmp(st, "57", 2) == 0 || strncmp(st, "58", 2) == 0 ||
           strncmp(st, "40", 2) == 0 || strcmp(st, "55P03") == 0 || strcmp(st, "25006") == 0;
}

/* Fill e for a failed statement of op (r may be NULL). The message names the operation, the
 * SQLSTATE and PostgreSQL's primary message — never the DETAIL, which can quote stored
 * values. */
static wd_code pg_fail(PGconn *db, PGresult *r, const char *op, wd_err *e)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char clean[200];
    if (msg == NULL)
        msg = db != NULL ? PQerrorMessage(db) : NULL;
    bool lost = db == NULL || PQstatus(db) != CONNECTION_OK;
    wd_code c = lost || state_is_io(state) ? WD_E_IO : WD_E_INTERNAL;
    if (r == NULL && !lost)
        c = WD_E_NOMEM; /* libpq could not make a result: out of memory */
    return wd_err_set(e, c, "store: %s: %s%s (postgres %s)", op,
                      lost ? "the database connection is lost: " : "",
                      first_line(msg, clean, sizeof clean), state != NULL ? state : "-");
}

static bool retryable(PGresult *r)
{
    const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return st != NULL &&
           (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "23505") == 0);
}

/* Parameters of one statement: text, 64-bit integers (as text) and bytes (binary). */
typedef struct pq_params {
    int n;
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
} pq_params;

static void p_text(pq_params *p, const char *t)
{
    p->v[p->n] = t;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

static void p_int(pq_params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)x);
    p_text(p, p->num[p->n]);
}

static void p_bytes(pq_params *p, const unsigned char *b, size_t n)
{
    p->v[p->n] = b != NULL ? (const char *)b : "";
    p->len[p->n] = (int)n;
    p->fmt[p->n] = 1;
    p->n++;
}

/* Run sql with p (may be NULL); results in binary format. Returns the result (the caller's,
 * PQclear) when its status is want, else NULL with *bad the failed result (the caller's) or
 * NULL. */
static PGresult *q(PGconn *db, const char *sql, const pq_params *p, ExecStatusType want,
                   PGresult **bad)
{
    *bad = NULL;
    PGresult *r = PQexecParams(db, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->v : NULL,
                               p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 1);
    if (r != NULL && PQresultStatus(r) == want)
        return r;
    *bad = r;
    return NULL;
}

/* A statement that returns no rows (or whose rows are not needed): NULL on success, else the
 * failed result (or NULL with a lost connection: see pg_fail). */
static bool cmd(PGconn *db, const char *sql, const pq_params *p, PGresult **bad)
{
    PGresult *r = PQexecParams(db, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->v : NULL,
                               p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 1);
    *bad = NULL;
    if (r != NULL &&
        (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)) {
        PQclear(r);
        return true;
    }
    *bad = r;
    return false;
}

/* End a transaction that failed or only read; never fails the caller. */
static void tx_rollback(PGconn *db)
{
    if (PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
}

/* Binary column readers. */
static bool col_i64(const PGresult *r, int row, int col, int64_t *out)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return false;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    *out = (int64_t)v;
    return true;
}

/* A text column of at most max bytes without a NUL, as a string inside r (libpq ends every
 * value with a zero byte); NULL when absent, longer or damaged. */
static const char *col_str(const PGresult *r, int row, int col, size_t max)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    int n = PQgetlength(r, row, col);
    const char *v = PQgetvalue(r, row, col);
    if (n < 0 || (size_t)n > max || memchr(v, '\0', (size_t)n) != NULL)
        return NULL;
    return v;
}

static bool col_copy(const PGresult *r, int row, int col, char *out, size_t max)
{
    const char *v = col_str(r, row, col, max);
    if (v == NULL)
        return false;
    memcpy(out, v, strlen(v) + 1);
    return true;
}

/* ---- connections ---- */

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Open one connection with the store's settings. On error *out is NULL and e says why
 * (WD_E_IO: the database cannot be reached or refuses us). */
static wd_code connect_db(const char *url, PGconn **out, wd_err *e)
{
    *out = NULL;
    /* later entries win, and the URL comes last, so it may override these defaults */
    const char *keys[] = {"connect_timeout", "application_name", "keepalives",
                          "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "dbname", NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT, "warden-leader", "1", "10", "5", "3", url, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    if (db == NULL)
        return wd_err_set(e, WD_E_NOMEM, "store: connect: out of memory");
    if (PQstatus(db) != CONNECTION_OK) {
        char clean[200];
        wd_code c = wd_err_set(e, WD_E_IO, "store: cannot connect to PostgreSQL: %s",
                               first_line(PQerrorMessage(db), clean, sizeof clean));
        PQfinish(db);
        return c;
    }
    PQsetNoticeProcessor(db, quiet_notices, NULL);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SET statement_timeout = %d; SET lock_timeout = %d; "
             "SET idle_in_transaction_session_timeout = %d",
             PG_STATEMENT_TIMEOUT_MS, PG_LOCK_TIMEOUT_MS, PG_IDLE_TX_TIMEOUT_MS);
    PGresult *r = PQexec(db, sql);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        wd_code c = pg_fail(db, r, "connect", e);
        PQclear(r);
        PQfinish(db);
        return c;
    }
    PQclear(r);
    *out = db;
    return WD_OK;
}

/* Is an idle connection still usable? A pool connection listens to nothing, so a healthy
 * server sends it nothing between statements: input waiting on an idle connection is a server
 * ending it (a restart, an administrator's pg_terminate_backend) with its last words, and the
 * connection is replaced now instead of failing the next statement. */
static bool conn_alive(PGconn *db)
{
    if (PQstatus(db) != CONNECTION_OK || PQtransactionStatus(db) != PQTRANS_IDLE)
        return false;
    struct pollfd p = {PQsocket(db), POLLIN, 0};
    return p.fd >= 0 && poll(&p, 1, 0) == 0;
}

/* Take a pool connection, (re)connected when it was lost. On error no connection is held. */
static pg_conn *acquire(pg_store *s, wd_err *e)
{
    unsigned start = atomic_fetch_add(&s->next, 1u);
    pg_conn *c = NULL;
    size_t at = 0;
    for (size_t i = 0; i < s->nconn && c == NULL; i++) {
        at = (start + i) % s->nconn;
        if (pthread_mutex_trylock(&s->conn[at].mu) == 0)
            c = &s->conn[at];
    }
    if (c == NULL) {
        at = start % s->nconn;
        c = &s->conn[at];
        pthread_mutex_lock(&c->mu);
    }
    if (c->db != NULL && conn_alive(c->db))
        return c;
    if (c->db != NULL)
        PQfinish(c->db);
    c->db = NULL;
    atomic_store(&s->pids[at], 0);
    if (connect_db(s->url, &c->db, e) != WD_OK) {
        pthread_mutex_unlock(&c->mu);
        return NULL;
    }
    atomic_store(&s->pids[at], PQbackendPID(c->db));
    return c;
}

static void release(pg_conn *c)
{
    pthread_mutex_unlock(&c->mu);
}

/* BEGIN and the transaction-scoped advisory lock on key. false with *bad on failure. */
static bool tx_begin(PGconn *db, const char *key, PGresult **bad)
{
    if (!cmd(db, "BEGIN", NULL, bad))
        return false;
    pq_params p = {0};
    p_text(&p, key);
    return cmd(db, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &p, bad);
}

static bool tx_commit(PGconn *db, PGresult **bad)
{
    return cmd(db, "COMMIT", NULL, bad);
}

/* ---- ping ---- */

static wd_code pg_ping(wd_store *base, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    double t0 = mono_now();
    pg_conn *c = acquire(s, e);
    wd_code code = WD_OK;
    if (c == NULL) {
        code = WD_E_IO;
    } else {
        PGresult *bad;
        if (!cmd(c->db, "SELECT 1", NULL, &bad))
            code = pg_fail(c->db, bad, "ping", e);
        PQclear(bad);
        release(c);
    }
    observe(s, "ping", t0);
    return code;
}

/* ---- signed messages (bundles and kills share their shape) ---- */

typedef struct msg_kind {
    const char *table;
    const char *seq_col;
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
        !hash_ok(m->hash) || !text_ok(m->audience_json, PG_MAX_TEXT) || m->seq < 1)
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: incomplete or invalid arguments",
                          k->put_op);
    if (len > k->max_bytes)
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: %zu bytes is above the limit of %zu",
                          k->put_op, len, k->max_bytes);
    return WD_OK;
}

/* One attempt of a bundle or kill put, inside c. *retry set when a race with another writer
 * surfaced as a unique violation or serialization failure (nothing was changed). */
static wd_code msg_put_once(const msg_kind *k, PGconn *db, const wd_store_msg *m,
                            const unsigned char *bytes, size_t len, wd_put_result *res,
                            char *held_hash, bool *retry, wd_err *e)
{
    char key[3 * (WD_MAX_ID_LEN + 1)];
    stream_key(&m->stream, key, sizeof key);
    PGresult *bad = NULL, *r = NULL;
    *retry = false;
    if (!tx_begin(db, key, &bad))
        goto fail;
    /* in one round trip: is the hash held, what does the version hold, the highest seq */
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT hash FROM %1$s WHERE org = $1 AND hash = $5),"
             " (SELECT hash FROM %1$s WHERE org = $1 AND fleet = $2 AND env = $3 AND %2$s = $4),"
             " (SELECT max(%2$s) FROM %1$s WHERE org = $1 AND fleet = $2 AND env = $3)",
             k->table, k->seq_col);
    pq_params p = {0};
    p_text(&p, m->stream.org);
    p_text(&p, m->stream.fleet);
    p_text(&p, m->stream.env);
    p_int(&p, m->seq);
    p_text(&p, m->hash);
    r = q(db, sql, &p, PGRES_TUPLES_OK, &bad);
    if (r == NULL)
        goto fail;
    if (PQntuples(r) != 1) {
        PQclear(r);
        tx_rollback(db);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: unexpected answer", k->put_op);
    }
    /* the facts the rule (stream_rule.h) decides on */
    bool is_bundle = k == &BUNDLE;
    wd_stream_kind kind = is_bundle ? WD_STREAM_BUNDLE : WD_STREAM_KILL;
    wd_stream_facts f = {.hash_held = !PQgetisnull(r, 0, 0)};
    f.seq_hash = PQgetisnull(r, 0, 1) ? NULL : col_str(r, 0, 1, WD_DIGEST_STRLEN);
    bool at_seq_bad = !PQgetisnull(r, 0, 1) && f.seq_hash == NULL;
    if (!PQgetisnull(r, 0, 2) && !col_i64(r, 0, 2, &f.max_seq)) {
        PQclear(r);
        tx_rollback(db);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: unexpected answer", k->put_op);
    }
    if (!f.hash_held && at_seq_bad) {
        PQclear(r);
        tx_rollback(db);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored hash is damaged", k->put_op);
    }
    *res = wd_stream_rule_msg(kind, m->seq, m->hash, &f, held_hash);
    PQclear(r); /* f.seq_hash pointed into r: not used past here */
    r = NULL;
    if (*res != WD_PUT_CREATED) {
        tx_rollback(db);
        return WD_OK;
    }
    /* store it (a bundle also ends the stream's rollback) and announce the stream */
    snprintf(sql, sizeof sql,
             "WITH i AS (INSERT INTO %s (org, fleet, env, %s, hash, audience_json, bytes, "
             "stored_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING 1)%s "
             "SELECT pg_notify('" PG_CHANNEL "', $9)",
             k->table, k->seq_col,
             wd_stream_rule_ends_rollback(kind, *res)
                 ? ", d AS (DELETE FROM active_rollbacks WHERE org = $1 AND fleet = $2 "
                   "AND env = $3 RETURNING 1)"
                 : "");
    p_text(&p, m->audience_json);
    p_bytes(&p, bytes, len);
    p_int(&p, stamp(m->stored_at));
    p_text(&p, key);
    if (!cmd(db, sql, &p, &bad) || !tx_commit(db, &bad))
        goto fail;
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    if (retryable(bad) && PQstatus(db) == CONNECTION_OK) {
        *retry = true;
        PQclear(bad);
        tx_rollback(db);
        return WD_OK;
    }
    {
        wd_code c = pg_fail(db, bad, k->put_op, e);
        PQclear(bad);
        tx_rollback(db);
        return c;
    }
}

static wd_code msg_put(pg_store *s, const msg_kind *k, const wd_store_msg *m,
                       const unsigned char *bytes, size_t len, wd_put_result *res,
                       char *held_hash, wd_err *e)
{
    double t0 = mono_now();
    if (held_hash != NULL)
        held_hash[0] = '\0';
    wd_code rc = msg_check(k, m, bytes, len, res, e);
    if (rc == WD_OK) {
        pg_conn *c = acquire(s, e);
        if (c == NULL) {
            rc = WD_E_IO;
        } else {
            bool retry = true;
            for (int i = 0; i < PG_RETRIES && retry && rc == WD_OK; i++)
                rc = msg_put_once(k, c->db, m, bytes, len, res, held_hash, &retry, e);
            release(c);
            if (rc == WD_OK && retry)
                rc = wd_err_set(e, WD_E_IO, "store: %s: still racing with other writers "
                                "after %d attempts", k->put_op, PG_RETRIES);
        }
        if (rc != WD_OK && held_hash != NULL)
            held_hash[0] = '\0';
    }
    observe(s, k->put_op, t0);
    return rc;
}

static wd_code pg_put_bundle(wd_store *base, const wd_store_msg *m, const unsigned char *bytes,
                             size_t len, wd_put_result *res, char held_hash[WD_DIGEST_STRLEN + 1],
                             wd_err *e)
{
    return msg_put((pg_store *)base, &BUNDLE, m, bytes, len, res, held_hash, e);
}

static wd_code pg_put_kill(wd_store *base, const wd_store_msg *m, const unsigned char *bytes,
                           size_t len, wd_put_result *res, wd_err *e)
{
    return msg_put((pg_store *)base, &KILL, m, bytes, len, res, NULL, e);
}

/* Fill m from a row with columns org, fleet, env, seq, hash, audience_json, stored_at from
 * col 0; the audience points into r. false when the row is damaged or too large. */
static bool msg_from_row(const PGresult *r, int row, wd_store_msg *m)
{
    memset(m, 0, sizeof *m);
    m->audience_json = col_str(r, row, 5, PG_MAX_TEXT);
    return col_copy(r, row, 0, m->stream.org, WD_MAX_ID_LEN) &&
           col_copy(r, row, 1, m->stream.fleet, WD_MAX_ID_LEN) &&
           col_copy(r, row, 2, m->stream.env, WD_MAX_ID_LEN) &&
           col_i64(r, row, 3, &m->seq) && col_copy(r, row, 4, m->hash, WD_DIGEST_STRLEN) &&
           m->audience_json != NULL && col_i64(r, row, 6, &m->stored_at);
}

/* Run a query that returns rows, on a pool connection; *out the result (the caller's). */
static wd_code rows(pg_store *s, const char *op, const char *sql, const pq_params *p,
                    PGresult **out, wd_err *e)
{
    *out = NULL;
    pg_conn *c = acquire(s, e);
    if (c == NULL)
        return WD_E_IO;
    PGresult *bad = NULL;
    PGresult *r = q(c->db, sql, p, PGRES_TUPLES_OK, &bad);
    wd_code code = WD_OK;
    if (r == NULL)
        code = pg_fail(c->db, bad, op, e);
    PQclear(bad);
    release(c);
    *out = r;
    return code;
}

static wd_code msg_walk(const msg_kind *k, PGresult *r,
                        bool (*cb)(void *ctx, const wd_store_msg *m), void *ctx, wd_err *e)
{
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        wd_store_msg m;
        if (!msg_from_row(r, i, &m))
            return wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored row is damaged or too "
                              "large", k->each_op);
        if (!cb(ctx, &m))
            break;
    }
    return WD_OK;
}

static wd_code msg_each(pg_store *s, const msg_kind *k,
                        bool (*cb)(void *ctx, const wd_store_msg *m), void *ctx, wd_err *e)
{
    double t0 = mono_now();
    if (cb == NULL) {
        observe(s, k->each_op, t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: no callback", k->each_op);
    }
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT org, fleet, env, %1$s, hash, audience_json, stored_at FROM %2$s "
             "ORDER BY org, fleet, env, %1$s",
             k->seq_col, k->table);
    PGresult *r = NULL;
    wd_code code = rows(s, k->each_op, sql, NULL, &r, e);
    observe(s, k->each_op, t0);
    if (code == WD_OK)
        code = msg_walk(k, r, cb, ctx, e);
    PQclear(r);
    return code;
}

static wd_code pg_each_bundle(wd_store *base, bool (*cb)(void *ctx, const wd_store_msg *m),
                              void *ctx, wd_err *e)
{
    return msg_each((pg_store *)base, &BUNDLE, cb, ctx, e);
}

static wd_code pg_each_kill(wd_store *base, bool (*cb)(void *ctx, const wd_store_msg *m),
                            void *ctx, wd_err *e)
{
    return msg_each((pg_store *)base, &KILL, cb, ctx, e);
}

/* get: *bytes is one allocation (the caller's) holding the envelope and, after it, the
 * audience JSON meta->audience_json points at; free(*bytes) frees both. */
static wd_code msg_get(pg_store *s, const msg_kind *k, const char *org, const char *hash,
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
             "WHERE org = $1 AND hash = $2",
             k->seq_col, k->table);
    pq_params p = {0};
    p_text(&p, org);
    p_text(&p, hash);
    PGresult *r = NULL;
    wd_code code = rows(s, k->get_op, sql, &p, &r, e);
    if (code == WD_OK && PQntuples(r) > 0) {
        wd_store_msg m;
        int n = PQgetlength(r, 0, 7);
        if (!msg_from_row(r, 0, &m) || PQgetisnull(r, 0, 7) || n < 0 ||
            (size_t)n > k->max_bytes) {
            code = wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored row is damaged or too "
                              "large", k->get_op);
        } else {
            size_t alen = strlen(m.audience_json);
            unsigned char *buf = malloc((size_t)n + alen + 2);
            if (buf == NULL) {
                code = wd_err_set(e, WD_E_NOMEM, "store: %s: out of memory", k->get_op);
            } else {
                memcpy(buf, PQgetvalue(r, 0, 7), (size_t)n);
                buf[n] = 0;
                char *a = (char *)buf + n + 1;
                memcpy(a, m.audience_json, alen + 1);
                m.audience_json = a;
                if (meta != NULL)
                    *meta = m;
                *bytes = buf;
                *len = (size_t)n;
                *found = true;
            }
        }
    }
    PQclear(r);
    observe(s, k->get_op, t0);
    return code;
}

static wd_code pg_get_bundle(wd_store *base, const char *org, const char *hash,
                             wd_store_msg *meta, unsigned char **bytes, size_t *len, bool *found,
                             wd_err *e)
{
    return msg_get((pg_store *)base, &BUNDLE, org, hash, meta, bytes, len, found, e);
}

static wd_code pg_get_kill(wd_store *base, const char *org, const char *hash, wd_store_msg *meta,
                           unsigned char **bytes, size_t *len, bool *found, wd_err *e)
{
    return msg_get((pg_store *)base, &KILL, org, hash, meta, bytes, len, found, e);
}

/* ---- rollback authorizations ---- */

/* The by-id rule (stream_rule.h) for bytes against the bytea of column 0 of r's first row:
 * CREATED when r has no row, SAME for the same bytes, FORK for others. */
static wd_put_result by_id(const PGresult *r, const unsigned char *bytes, size_t len)
{
    if (PQntuples(r) == 0)
        return wd_stream_rule_by_id(false, NULL, 0, bytes, len);
    int n = PQgetlength(r, 0, 0);
    return wd_stream_rule_by_id(true, PQgetvalue(r, 0, 0), n < 0 ? 0 : (size_t)n, bytes, len);
}

static wd_code rollback_put_once(PGconn *db, const wd_store_rollback *rb,
                                 const unsigned char *bytes, size_t len, wd_put_result *res,
                                 bool *retry, wd_err *e)
{
    char key[3 * (WD_MAX_ID_LEN + 1)];
    stream_key(&rb->stream, key, sizeof key);
    PGresult *bad = NULL;
    *retry = false;
    if (!tx_begin(db, key, &bad))
        goto fail;
    pq_params p = {0};
    p_text(&p, rb->stream.org);
    p_text(&p, rb->id);
    PGresult *r = q(db, "SELECT bytes FROM rollbacks WHERE org = $1 AND id = $2", &p,
                    PGRES_TUPLES_OK, &bad);
    if (r == NULL)
        goto fail;
    *res = by_id(r, bytes, len);
    PQclear(r);
    if (*res != WD_PUT_CREATED) {
        tx_rollback(db);
        return WD_OK;
    }
    p_text(&p, rb->stream.fleet);
    p_text(&p, rb->stream.env);
    p_text(&p, rb->audience_json);
    p_text(&p, rb->current_hash);
    p_text(&p, rb->target_hash);
    p_int(&p, rb->current_version);
    p_int(&p, rb->target_version);
    p_bytes(&p, bytes, len);
    p_int(&p, stamp(rb->stored_at));
    if (!cmd(db,
             "INSERT INTO rollbacks (org, id, fleet, env, audience_json, current_hash, "
             "target_hash, current_version, target_version, bytes, stored_at) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
             &p, &bad))
        goto fail;
    /* a separate statement: the foreign key must see the row inserted above */
    pq_params a = {0};
    p_text(&a, rb->stream.org);
    p_text(&a, rb->stream.fleet);
    p_text(&a, rb->stream.env);
    p_text(&a, rb->id);
    p_text(&a, key);
    if (!cmd(db,
             "WITH u AS (INSERT INTO active_rollbacks (org, fleet, env, rollback_id) "
             "VALUES ($1, $2, $3, $4) ON CONFLICT (org, fleet, env) "
             "DO UPDATE SET rollback_id = excluded.rollback_id RETURNING 1) "
             "SELECT pg_notify('" PG_CHANNEL "', $5)",
             &a, &bad) ||
        !tx_commit(db, &bad))
        goto fail;
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    if (retryable(bad) && PQstatus(db) == CONNECTION_OK) {
        *retry = true;
        PQclear(bad);
        tx_rollback(db);
        return WD_OK;
    }
    {
        wd_code c = pg_fail(db, bad, "put_rollback", e);
        PQclear(bad);
        tx_rollback(db);
        return c;
    }
}

static wd_code pg_put_rollback(wd_store *base, const wd_store_rollback *r,
                               const unsigned char *bytes, size_t len, wd_put_result *res,
                               wd_err *e)
{
    pg_store *s = (pg_store *)base;
    double t0 = mono_now();
    wd_code rc = WD_OK;
    if (r == NULL || res == NULL || (bytes == NULL && len > 0) || !stream_ok(&r->stream) ||
        r->id[0] == '\0' || memchr(r->id, '\0', sizeof r->id) == NULL ||
        !hash_ok(r->current_hash) || !hash_ok(r->target_hash) ||
        !text_ok(r->audience_json, PG_MAX_TEXT)) {
        rc = wd_err_set(e, WD_E_INTERNAL, "store: put_rollback: incomplete or invalid arguments");
    } else if (len > WD_MAX_ROLLBACK_ENVELOPE) {
        rc = wd_err_set(e, WD_E_INTERNAL,
                        "store: put_rollback: %zu bytes is above the limit of %u", len,
                        WD_MAX_ROLLBACK_ENVELOPE);
    } else {
        pg_conn *c = acquire(s, e);
        if (c == NULL) {
            rc = WD_E_IO;
        } else {
            bool retry = true;
            for (int i = 0; i < PG_RETRIES && retry && rc == WD_OK; i++)
                rc = rollback_put_once(c->db, r, bytes, len, res, &retry, e);
            release(c);
            if (rc == WD_OK && retry)
                rc = wd_err_set(e, WD_E_IO, "store: put_rollback: still racing with other "
                                "writers after %d attempts", PG_RETRIES);
        }
    }
    observe(s, "put_rollback", t0);
    return rc;
}

/* A single-row query whose column 0 is a bytea of at most max bytes, copied out. */
static wd_code blob_row(pg_store *s, const char *op, const char *sql, const pq_params *p,
                        size_t max, unsigned char **bytes, size_t *len, bool *found, wd_err *e)
{
    PGresult *r = NULL;
    wd_code code = rows(s, op, sql, p, &r, e);
    if (code == WD_OK && PQntuples(r) > 0) {
        int n = PQgetlength(r, 0, 0);
        if (PQgetisnull(r, 0, 0) || n < 0 || (size_t)n > max) {
            code = wd_err_set(e, WD_E_INTERNAL,
                              "store: %s: a stored value is larger than its limit", op);
        } else {
            unsigned char *buf = malloc((size_t)n + 1);
            if (buf == NULL) {
                code = wd_err_set(e, WD_E_NOMEM, "store: %s: out of memory", op);
            } else {
                memcpy(buf, PQgetvalue(r, 0, 0), (size_t)n);
                buf[n] = 0;
                *bytes = buf;
                *len = (size_t)n;
                *found = true;
            }
        }
    }
    PQclear(r);
    return code;
}

static wd_code pg_get_rollback(wd_store *base, const char *org, const char *id,
                               unsigned char **bytes, size_t *len, bool *found, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    double t0 = mono_now();
    if (bytes == NULL || len == NULL || found == NULL || org == NULL || id == NULL) {
        observe(s, "get_rollback", t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: get_rollback: incomplete arguments");
    }
    *bytes = NULL;
    *len = 0;
    *found = false;
    pq_params p = {0};
    p_text(&p, org);
    p_text(&p, id);
    wd_code code = blob_row(s, "get_rollback",
                            "SELECT bytes FROM rollbacks WHERE org = $1 AND id = $2", &p,
                            WD_MAX_ROLLBACK_ENVELOPE, bytes, len, found, e);
    observe(s, "get_rollback", t0);
    return code;
}

#define RB_COLS                                                                               \
    "r.id, r.org, r.fleet, r.env, r.audience_json, r.current_hash, r.target_hash, "           \
    "r.current_version, r.target_version, r.stored_at"

static bool rb_from_row(const PGresult *res, int row, wd_store_rollback *r)
{
    memset(r, 0, sizeof *r);
    r->audience_json = col_str(res, row, 4, PG_MAX_TEXT);
    return col_copy(res, row, 0, r->id, WD_MAX_ID_LEN) &&
           col_copy(res, row, 1, r->stream.org, WD_MAX_ID_LEN) &&
           col_copy(res, row, 2, r->stream.fleet, WD_MAX_ID_LEN) &&
           col_copy(res, row, 3, r->stream.env, WD_MAX_ID_LEN) && r->audience_json != NULL &&
           col_copy(res, row, 5, r->current_hash, WD_DIGEST_STRLEN) &&
           col_copy(res, row, 6, r->target_hash, WD_DIGEST_STRLEN) &&
           col_i64(res, row, 7, &r->current_version) &&
           col_i64(res, row, 8, &r->target_version) && col_i64(res, row, 9, &r->stored_at);
}

static wd_code pg_each_active_rollback(wd_store *base,
                                       bool (*cb)(void *ctx, const wd_store_rollback *r),
                                       void *ctx, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    const char *op = "each_active_rollback";
    double t0 = mono_now();
    if (cb == NULL) {
        observe(s, op, t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: no callback", op);
    }
    PGresult *r = NULL;
    wd_code code = rows(s, op,
                        "SELECT " RB_COLS " FROM active_rollbacks a JOIN rollbacks r "
                        "ON r.org = a.org AND r.id = a.rollback_id "
                        "ORDER BY a.org, a.fleet, a.env",
                        NULL, &r, e);
    observe(s, op, t0);
    for (int i = 0; code == WD_OK && i < PQntuples(r); i++) {
        wd_store_rollback rb;
        if (!rb_from_row(r, i, &rb))
            code = wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored row is damaged or too "
                              "large", op);
        else if (!cb(ctx, &rb))
            break;
    }
    PQclear(r);
    return code;
}

/* ---- one stream, in one snapshot ---- */

static wd_code pg_each_of_stream(wd_store *base, const wd_stream *st,
                                 const wd_store_stream_cb *cb, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    const char *op = "each_of_stream";
    double t0 = mono_now();
    if (st == NULL || cb == NULL || cb->bundle == NULL || cb->kill == NULL ||
        cb->rollback == NULL || !stream_ok(st)) {
        observe(s, op, t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: incomplete arguments", op);
    }
    pg_conn *c = acquire(s, e);
    if (c == NULL) {
        observe(s, op, t0);
        return WD_E_IO;
    }
    PGresult *bad = NULL, *rb = NULL, *rk = NULL, *rr = NULL;
    pq_params p = {0};
    p_text(&p, st->org);
    p_text(&p, st->fleet);
    p_text(&p, st->env);
    wd_code code = WD_OK;
    if (!cmd(c->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, &bad) ||
        (rb = q(c->db,
                "SELECT org, fleet, env, version, hash, audience_json, stored_at FROM bundles "
                "WHERE org = $1 AND fleet = $2 AND env = $3 ORDER BY version",
                &p, PGRES_TUPLES_OK, &bad)) == NULL ||
        (rk = q(c->db,
                "SELECT org, fleet, env, counter, hash, audience_json, stored_at FROM kills "
                "WHERE org = $1 AND fleet = $2 AND env = $3 ORDER BY counter",
                &p, PGRES_TUPLES_OK, &bad)) == NULL ||
        (rr = q(c->db,
                "SELECT " RB_COLS " FROM active_rollbacks a JOIN rollbacks r "
                "ON r.org = a.org AND r.id = a.rollback_id "
                "WHERE a.org = $1 AND a.fleet = $2 AND a.env = $3",
                &p, PGRES_TUPLES_OK, &bad)) == NULL)
        code = pg_fail(c->db, bad, op, e);
    PQclear(bad);
    tx_rollback(c->db);
    release(c);
    observe(s, op, t0);
    bool go = true;
    if (code == WD_OK) {
        for (int i = 0; go && code == WD_OK && i < PQntuples(rb); i++) {
            wd_store_msg m;
            if (!msg_from_row(rb, i, &m))
                code = wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored row is damaged", op);
            else
                go = cb->bundle(cb->ctx, &m);
        }
        for (int i = 0; go && code == WD_OK && i < PQntuples(rk); i++) {
            wd_store_msg m;
            if (!msg_from_row(rk, i, &m))
                code = wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored row is damaged", op);
            else
                go = cb->kill(cb->ctx, &m);
        }
        if (go && code == WD_OK) {
            wd_store_rollback r;
            if (PQntuples(rr) == 0)
                cb->rollback(cb->ctx, NULL);
            else if (!rb_from_row(rr, 0, &r))
                code = wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored row is damaged", op);
            else
                cb->rollback(cb->ctx, &r);
        }
    }
    PQclear(rb);
    PQclear(rk);
    PQclear(rr);
    return code;
}

/* ---- rosters ---- */

static wd_code roster_put_once(PGconn *db, int64_t version, const char *hash,
                               const unsigned char *bytes, size_t len, wd_put_result *res,
                               bool *retry, wd_err *e)
{
    PGresult *bad = NULL;
    *retry = false;
    if (!tx_begin(db, "!roster", &bad))
        goto fail;
    pq_params p = {0};
    p_int(&p, version);
    PGresult *r = q(db,
                    "SELECT (SELECT hash FROM rosters WHERE version = $1),"
                    " (SELECT max(version) FROM rosters)",
                    &p, PGRES_TUPLES_OK, &bad);
    if (r == NULL)
        goto fail;
    const char *h = PQgetisnull(r, 0, 0) ? NULL : col_str(r, 0, 0, WD_DIGEST_STRLEN);
    bool any = !PQgetisnull(r, 0, 1);
    int64_t newest = 0;
    if (any && !col_i64(r, 0, 1, &newest)) {
        PQclear(r);
        tx_rollback(db);
        return wd_err_set(e, WD_E_INTERNAL, "store: put_roster: unexpected answer");
    }
    *res = wd_stream_rule_roster(version, hash, h, any, newest);
    PQclear(r); /* h pointed into r */
    if (*res != WD_PUT_CREATED) {
        tx_rollback(db);
        return WD_OK;
    }
    p_text(&p, hash);
    p_bytes(&p, bytes, len);
    p_int(&p, (int64_t)time(NULL));
    if (!cmd(db,
             "WITH i AS (INSERT INTO rosters (version, hash, bytes, stored_at) "
             "VALUES ($1, $2, $3, $4) RETURNING 1) SELECT pg_notify('" PG_CHANNEL "', '!roster')",
             &p, &bad) ||
        !tx_commit(db, &bad))
        goto fail;
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    if (retryable(bad) && PQstatus(db) == CONNECTION_OK) {
        *retry = true;
        PQclear(bad);
        tx_rollback(db);
        return WD_OK;
    }
    {
        wd_code c = pg_fail(db, bad, "put_roster", e);
        PQclear(bad);
        tx_rollback(db);
        return c;
    }
}

static wd_code pg_put_roster(wd_store *base, int64_t version, const char *hash,
                             const unsigned char *bytes, size_t len, wd_put_result *res,
                             wd_err *e)
{
    pg_store *s = (pg_store *)base;
    double t0 = mono_now();
    wd_code rc = WD_OK;
    if (res == NULL || (bytes == NULL && len > 0) || !hash_ok(hash) || version < 1) {
        rc = wd_err_set(e, WD_E_INTERNAL, "store: put_roster: incomplete or invalid arguments");
    } else if (len > WD_MAX_ROSTER_ENVELOPE) {
        rc = wd_err_set(e, WD_E_INTERNAL, "store: put_roster: %zu bytes is above the limit of %u",
                        len, WD_MAX_ROSTER_ENVELOPE);
    } else {
        pg_conn *c = acquire(s, e);
        if (c == NULL) {
            rc = WD_E_IO;
        } else {
            bool retry = true;
            for (int i = 0; i < PG_RETRIES && retry && rc == WD_OK; i++)
                rc = roster_put_once(c->db, version, hash, bytes, len, res, &retry, e);
            release(c);
            if (rc == WD_OK && retry)
                rc = wd_err_set(e, WD_E_IO, "store: put_roster: still racing with other "
                                "writers after %d attempts", PG_RETRIES);
        }
    }
    observe(s, "put_roster", t0);
    return rc;
}

static wd_code pg_get_roster(wd_store *base, int64_t version, unsigned char **bytes, size_t *len,
                             bool *found, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    double t0 = mono_now();
    if (bytes == NULL || len == NULL || found == NULL) {
        observe(s, "get_roster", t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: get_roster: incomplete arguments");
    }
    *bytes = NULL;
    *len = 0;
    *found = false;
    pq_params p = {0};
    wd_code code;
    if (version == 0) {
        code = blob_row(s, "get_roster",
                        "SELECT bytes FROM rosters ORDER BY version DESC LIMIT 1", NULL,
                        WD_MAX_ROSTER_ENVELOPE, bytes, len, found, e);
    } else {
        p_int(&p, version);
        code = blob_row(s, "get_roster", "SELECT bytes FROM rosters WHERE version = $1", &p,
                        WD_MAX_ROSTER_ENVELOPE, bytes, len, found, e);
    }
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

static wd_code audit_put_once(PGconn *db, const audit_in *a, wd_put_result *res, bool *retry,
                              wd_err *e)
{
    char key[2 * (WD_MAX_ID_LEN + 1) + 8];
    snprintf(key, sizeof key, "!audit/%s/%s", a->st->org, a->instance);
    PGresult *bad = NULL;
    *retry = false;
    if (!tx_begin(db, key, &bad))
        goto fail;
    pq_params p = {0};
    p_text(&p, a->st->org);
    p_text(&p, a->batch_id);
    PGresult *r = q(db, "SELECT bytes FROM audit_batches WHERE org = $1 AND batch_id = $2", &p,
                    PGRES_TUPLES_OK, &bad);
    if (r == NULL)
        goto fail;
    *res = by_id(r, a->bytes, a->len);
    PQclear(r);
    if (*res != WD_PUT_CREATED) {
        tx_rollback(db);
        return WD_OK;
    }
    p_text(&p, a->st->fleet);
    p_text(&p, a->st->env);
    p_text(&p, a->instance);
    p_int(&p, a->first_seq);
    p_int(&p, a->last_seq);
    p_text(&p, a->last_digest);
    p_text(&p, a->gap ? "true" : "false");
    p_bytes(&p, a->bytes, a->len);
    p_int(&p, stamp(a->now));
    if (!cmd(db,
             "WITH i AS (INSERT INTO audit_batches (org, batch_id, fleet, env, instance, "
             "first_seq, last_seq, last_digest, gap, bytes, stored_at) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING 1) "
             "INSERT INTO audit_heads (org, instance, last_seq, last_digest) "
             "VALUES ($1, $5, $7, $8) ON CONFLICT (org, instance) "
             "DO UPDATE SET last_seq = excluded.last_seq, last_digest = excluded.last_digest",
             &p, &bad) ||
        !tx_commit(db, &bad))
        goto fail;
    *res = WD_PUT_CREATED;
    return WD_OK;
fail:
    if (retryable(bad) && PQstatus(db) == CONNECTION_OK) {
        *retry = true;
        PQclear(bad);
        tx_rollback(db);
        return WD_OK;
    }
    {
        wd_code c = pg_fail(db, bad, "put_audit_batch", e);
        PQclear(bad);
        tx_rollback(db);
        return c;
    }
}

static wd_code pg_put_audit_batch(wd_store *base, const wd_stream *st, const char *instance,
                                  const char *batch_id, int64_t first_seq, int64_t last_seq,
                                  const char *last_digest, bool gap, const unsigned char *bytes,
                                  size_t len, int64_t now, wd_put_result *res, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    double t0 = mono_now();
    wd_code rc = WD_OK;
    if (st == NULL || res == NULL || (bytes == NULL && len > 0) || !stream_ok(st) ||
        !text_ok(instance, WD_MAX_ID_LEN) || instance[0] == '\0' ||
        !text_ok(batch_id, 2 * WD_MAX_ID_LEN + 32) || batch_id[0] == '\0' ||
        !hash_ok(last_digest) || first_seq < 1 || last_seq < first_seq) {
        rc = wd_err_set(e, WD_E_INTERNAL,
                        "store: put_audit_batch: incomplete or invalid arguments");
    } else if (len > PG_MAX_AUDIT_BATCH) {
        rc = wd_err_set(e, WD_E_INTERNAL,
                        "store: put_audit_batch: %zu bytes is above the limit of %u", len,
                        PG_MAX_AUDIT_BATCH);
    } else {
        audit_in a = {st, instance, batch_id, last_digest, first_seq, last_seq, now,
                      gap, bytes, len};
        pg_conn *c = acquire(s, e);
        if (c == NULL) {
            rc = WD_E_IO;
        } else {
            bool retry = true;
            for (int i = 0; i < PG_RETRIES && retry && rc == WD_OK; i++)
                rc = audit_put_once(c->db, &a, res, &retry, e);
            release(c);
            if (rc == WD_OK && retry)
                rc = wd_err_set(e, WD_E_IO, "store: put_audit_batch: still racing with other "
                                "writers after %d attempts", PG_RETRIES);
        }
    }
    observe(s, "put_audit_batch", t0);
    return rc;
}

static wd_code pg_audit_head(wd_store *base, const char *org, const char *instance,
                             wd_audit_head *out, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    double t0 = mono_now();
    if (org == NULL || instance == NULL || out == NULL) {
        observe(s, "audit_head", t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: audit_head: incomplete arguments");
    }
    out->last_seq = 0;
    out->last_digest[0] = '\0';
    pq_params p = {0};
    p_text(&p, org);
    p_text(&p, instance);
    PGresult *r = NULL;
    wd_code code = rows(s, "audit_head",
                        "SELECT last_seq, last_digest FROM audit_heads WHERE org = $1 AND "
                        "instance = $2",
                        &p, &r, e);
    if (code == WD_OK && PQntuples(r) > 0 &&
        (!col_i64(r, 0, 0, &out->last_seq) ||
         !col_copy(r, 0, 1, out->last_digest, WD_DIGEST_STRLEN))) {
        out->last_seq = 0;
        out->last_digest[0] = '\0';
        code = wd_err_set(e, WD_E_INTERNAL, "store: audit_head: a stored row is damaged");
    }
    PQclear(r);
    observe(s, "audit_head", t0);
    return code;
}

/* ---- followers ---- */

static wd_code pg_put_status(wd_store *base, const wd_store_follower *f, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    double t0 = mono_now();
    wd_code code = WD_OK;
    if (f == NULL || !stream_ok(&f->stream) || f->instance[0] == '\0' ||
        memchr(f->instance, '\0', sizeof f->instance) == NULL ||
        (f->labels_json != NULL && !text_ok(f->labels_json, PG_MAX_TEXT)) ||
        !text_ok(f->status_json, PG_MAX_TEXT)) {
        code = wd_err_set(e, WD_E_INTERNAL, "store: put_status: incomplete or invalid arguments");
    } else {
        pq_params p = {0};
        p_text(&p, f->stream.org);
        p_text(&p, f->instance);
        p_text(&p, f->stream.fleet);
        p_text(&p, f->stream.env);
        p_text(&p, f->labels_json != NULL ? f->labels_json : "{}");
        p_text(&p, f->status_json);
        p_int(&p, stamp(f->last_seen));
        pg_conn *c = acquire(s, e);
        if (c == NULL) {
            code = WD_E_IO;
        } else {
            /* one statement, atomic on its own; when the labels differ from the stored ones
             * (or the follower is new) other leaders hear "!labels/org/instance" */
            PGresult *bad = NULL;
            if (!cmd(c->db,
                     "WITH old AS (SELECT labels_json FROM followers WHERE org = $1 AND "
                     "instance = $2), "
                     "up AS (INSERT INTO followers (org, instance, fleet, env, labels_json, "
                     "status_json, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                     "ON CONFLICT (org, instance) DO UPDATE SET fleet = excluded.fleet, "
                     "env = excluded.env, labels_json = excluded.labels_json, "
                     "status_json = excluded.status_json, last_seen = excluded.last_seen "
                     "RETURNING 1) "
                     "SELECT pg_notify('" PG_CHANNEL "', '!labels/' || $1 || '/' || $2) "
                     "WHERE (SELECT labels_json FROM old) IS DISTINCT FROM $5",
                     &p, &bad))
                code = pg_fail(c->db, bad, "put_status", e);
            PQclear(bad);
            release(c);
        }
    }
    observe(s, "put_status", t0);
    return code;
}

static wd_code pg_each_follower(wd_store *base, const char *org,
                                bool (*cb)(void *ctx, const wd_store_follower *f), void *ctx,
                                wd_err *e)
{
    pg_store *s = (pg_store *)base;
    const char *op = "each_follower";
    double t0 = mono_now();
    if (cb == NULL || org == NULL) {
        observe(s, op, t0);
        return wd_err_set(e, WD_E_INTERNAL, "store: %s: incomplete arguments", op);
    }
    pq_params p = {0};
    p_text(&p, org);
    PGresult *r = NULL;
    wd_code code = rows(s, op,
                        "SELECT org, fleet, env, instance, labels_json, status_json, last_seen "
                        "FROM followers WHERE org = $1 ORDER BY fleet, env, instance",
                        &p, &r, e);
    observe(s, op, t0);
    for (int i = 0; code == WD_OK && i < PQntuples(r); i++) {
        wd_store_follower f;
        memset(&f, 0, sizeof f);
        f.labels_json = col_str(r, i, 4, PG_MAX_TEXT);
        f.status_json = col_str(r, i, 5, PG_MAX_TEXT);
        if (!col_copy(r, i, 0, f.stream.org, WD_MAX_ID_LEN) ||
            !col_copy(r, i, 1, f.stream.fleet, WD_MAX_ID_LEN) ||
            !col_copy(r, i, 2, f.stream.env, WD_MAX_ID_LEN) ||
            !col_copy(r, i, 3, f.instance, WD_MAX_ID_LEN) || f.labels_json == NULL ||
            f.status_json == NULL || !col_i64(r, i, 6, &f.last_seen))
            code = wd_err_set(e, WD_E_INTERNAL, "store: %s: a stored row is damaged or too "
                              "large", op);
        else if (!cb(ctx, &f))
            break;
    }
    PQclear(r);
    return code;
}

/* ---- hearing of other leaders' changes (LISTEN/NOTIFY) ---- */

static void pg_watch_close(wd_store *base)
{
    pg_store *s = (pg_store *)base;
    if (s->watch != NULL)
        PQfinish(s->watch);
    s->watch = NULL;
}

static wd_code pg_watch_open(wd_store *base, int *fd, wd_err *e)
{
    pg_store *s = (pg_store *)base;
    pg_watch_close(base);
    if (fd == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "store: watch_open: no place for the socket");
    *fd = -1;
    PGconn *db = NULL;
    wd_code c = connect_db(s->url, &db, e);
    if (c != WD_OK)
        return c;
    PGresult *bad = NULL;
    if (!cmd(db, "LISTEN " PG_CHANNEL, NULL, &bad)) {
        c = pg_fail(db, bad, "watch_open", e);
        PQclear(bad);
        PQfinish(db);
        return c;
    }
    /* reads never wait: the watcher calls watch_read only when the socket is readable */
    if (PQsetnonblocking(db, 1) != 0 || PQsocket(db) < 0) {
        PQfinish(db);
        return wd_err_set(e, WD_E_IO, "store: watch_open: the connection has no socket");
    }
    s->watch = db;
    *fd = PQsocket(db);
    return WD_OK;
}

static bool own_pid(pg_store *s, int pid)
{
    for (size_t i = 0; i < s->nconn; i++)
        if (atomic_load(&s->pids[i]) == pid)
            return true;
    return false;
}

static wd_code pg_watch_read(wd_store *base, void (*cb)(void *ctx, const char *key), void *ctx,
                             wd_err *e)
{
    pg_store *s = (pg_store *)base;
    if (s->watch == NULL || cb == NULL)
        return wd_err_set(e, WD_E_IO, "store: watch_read: not listening");
    if (PQconsumeInput(s->watch) == 0 || PQstatus(s->watch) != CONNECTION_OK) {
        char clean[200];
        return wd_err_set(e, WD_E_IO, "store: the listening connection is lost: %s",
                          first_line(PQerrorMessage(s->watch), clean, sizeof clean));
    }
    /* results of nothing we sent (an error the server reports before closing) are dropped */
    PGresult *r;
    while (!PQisBusy(s->watch) && (r = PQgetResult(s->watch)) != NULL)
        PQclear(r);
    PGnotify *n;
    while ((n = PQnotifies(s->watch)) != NULL) {
        if (n->extra != NULL && strnlen(n->extra, 3 * (WD_MAX_ID_LEN + 1)) <
                                    3 * (WD_MAX_ID_LEN + 1) &&
            !own_pid(s, n->be_pid))
            cb(ctx, n->extra);
        PQfreemem(n);
    }
    if (PQstatus(s->watch) != CONNECTION_OK)
        return wd_err_set(e, WD_E_IO, "store: the listening connection is lost");
    return WD_OK;
}

/* ---- open, migrate, close ---- */

static void pg_close(wd_store *base)
{
    pg_store *s = (pg_store *)base;
    if (s == NULL)
        return;
    pg_watch_close(base);
    for (size_t i = 0; i < s->nconn; i++) {
        if (s->conn[i].db != NULL)
            PQfinish(s->conn[i].db);
        pthread_mutex_destroy(&s->conn[i].mu);
    }
    if (s->url != NULL) {
        OPENSSL_cleanse(s->url, strlen(s->url)); /* it may carry a password */
        free(s->url);
    }
    free(s);
}

static const wd_store_ops PG_OPS = {
    .name = "postgres",
    .close = pg_close,
    .ping = pg_ping,
    .put_bundle = pg_put_bundle,
    .each_bundle = pg_each_bundle,
    .get_bundle = pg_get_bundle,
    .put_kill = pg_put_kill,
    .each_kill = pg_each_kill,
    .get_kill = pg_get_kill,
    .put_rollback = pg_put_rollback,
    .get_rollback = pg_get_rollback,
    .each_active_rollback = pg_each_active_rollback,
    .put_roster = pg_put_roster,
    .get_roster = pg_get_roster,
    .put_audit_batch = pg_put_audit_batch,
    .audit_head = pg_audit_head,
    .put_status = pg_put_status,
    .each_follower = pg_each_follower,
    .each_of_stream = pg_each_of_stream,
    .watch_open = pg_watch_open,
    .watch_read = pg_watch_read,
    .watch_close = pg_watch_close,
};

/* Bring the schema to WD_STORE_SCHEMA_VERSION in one transaction, under an advisory lock so
 * that leaders starting together migrate once; a newer schema is refused (WD_E_USAGE) and left
 * untouched. */
static wd_code migrate(PGconn *db, wd_err *e)
{
    PGresult *bad = NULL, *r = NULL;
    if (!cmd(db, "BEGIN", NULL, &bad) ||
        !cmd(db, "SELECT pg_advisory_xact_lock(x'" PG_MIGRATE_LOCK "'::bigint)", NULL, &bad) ||
        (r = q(db, "SELECT to_regclass('warden_schema') IS NULL", NULL, PGRES_TUPLES_OK,
               &bad)) == NULL)
        goto fail;
    /* created only when missing: a user that may no longer create tables can still start */
    bool missing = PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0] == 1;
    PQclear(r);
    r = NULL;
    if ((missing && !cmd(db,
                         "CREATE TABLE warden_schema (id integer PRIMARY KEY CHECK (id = 1), "
                         "version integer NOT NULL)",
                         NULL, &bad)) ||
        (r = q(db, "SELECT version::bigint FROM warden_schema WHERE id = 1", NULL,
               PGRES_TUPLES_OK, &bad)) == NULL)
        goto fail;
    int64_t v = 0;
    if (PQntuples(r) > 0 && !col_i64(r, 0, 0, &v)) {
        PQclear(r);
        tx_rollback(db);
        return wd_err_set(e, WD_E_INTERNAL, "store: migrate: the schema version is damaged");
    }
    PQclear(r);
    if (v > WD_STORE_SCHEMA_VERSION || v < 0) {
        tx_rollback(db);
        return wd_err_set(e, WD_E_USAGE,
                          "store: the database has schema version %lld; this build knows "
                          "versions up to %d: use a newer warden, or another database",
                          (long long)v, WD_STORE_SCHEMA_VERSION);
    }
    for (; v < WD_STORE_SCHEMA_VERSION; v++) {
        PGresult *x = PQexec(db, MIGRATIONS[v]);
        if (x == NULL || PQresultStatus(x) != PGRES_COMMAND_OK) {
            bad = x;
            goto fail;
        }
        PQclear(x);
        pq_params p = {0};
        p_int(&p, v + 1);
        if (!cmd(db,
                 "INSERT INTO warden_schema (id, version) VALUES (1, $1::integer) "
                 "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                 &p, &bad))
            goto fail;
    }
    if (!tx_commit(db, &bad))
        goto fail;
    return WD_OK;
fail: {
    wd_code c = pg_fail(db, bad, "migrate", e);
    PQclear(bad);
    tx_rollback(db);
    return c;
}
}

/* Connect, migrate, and open the pool. On error *out is NULL, nothing stays connected, and a
 * migration that failed changed nothing. */
wd_code wd_store_pg_open(const char *url, wd_store **out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_USAGE, "store: no place to return the store");
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return wd_err_set(e, WD_E_USAGE, "store: the PostgreSQL store needs a URL");
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (opts == NULL) {
        PQfreemem(perr); /* its text may quote the URL, password included: not shown */
        return wd_err_set(e, WD_E_USAGE,
                          "store: the PostgreSQL URL cannot be parsed (postgres://USER@HOST:"
                          "PORT/DATABASE?OPTION=VALUE...)");
    }
    PQconninfoFree(opts);
    if (PQisthreadsafe() == 0)
        return wd_err_set(e, WD_E_INTERNAL, "store: this libpq is built without threads");
    pg_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return wd_err_set(e, WD_E_NOMEM, "store: out of memory");
    s->base.ops = &PG_OPS;
    atomic_init(&s->next, 0u);
    for (size_t i = 0; i < PG_NCONN; i++)
        atomic_init(&s->pids[i], 0);
    s->url = strdup(url);
    if (s->url == NULL) {
        free(s);
        return wd_err_set(e, WD_E_NOMEM, "store: out of memory");
    }
    wd_code rc = WD_OK;
    for (size_t i = 0; i < PG_NCONN; i++) {
        if (pthread_mutex_init(&s->conn[i].mu, NULL) != 0) {
            pg_close(&s->base);
            return wd_err_set(e, WD_E_INTERNAL, "store: cannot create a mutex");
        }
        s->nconn = i + 1;
    }
    /* the first connection now (an unreachable database fails the start); the others when
     * first used */
    rc = connect_db(s->url, &s->conn[0].db, e);
    if (rc == WD_OK) {
        atomic_store(&s->pids[0], PQbackendPID(s->conn[0].db));
        rc = migrate(s->conn[0].db, e);
    }
    if (rc != WD_OK) {
        pg_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return WD_OK;
}
