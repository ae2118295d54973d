/* store.h — the leader's durable store behind one small interface (SPEC §12.2 "Store", §16):
 * SQLite (store_sqlite.c, the default) and PostgreSQL (store_pg.c, several leaders on one
 * database) are two implementations of the same table of operations. The store keeps bytes exactly as published and answers the stream
 * rules atomically; it never verifies a signature (the API layer does that before calling).
 * Every operation is thread-safe: the leader's worker threads call it concurrently. */
#ifndef WD_LEADER_STORE_H
#define WD_LEADER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "warden/limits.h"
#include "crypto/crypto.h"

/* The schema version this build writes; migrations bring older stores up to it at open. */
#define WD_STORE_SCHEMA_VERSION 1

/* A stream: where bundle versions and kill counters are monotonic (SPEC §12.2). */
typedef struct wd_stream {
    char org[WD_MAX_ID_LEN + 1];
    char fleet[WD_MAX_ID_LEN + 1];
    char env[WD_MAX_ID_LEN + 1];
} wd_stream;

/* Outcome of a put. */
typedef enum wd_put_result {
    WD_PUT_CREATED,  /* new: 201 */
    WD_PUT_SAME,     /* these exact bytes were already stored: 200 */
    WD_PUT_FORK,     /* bundle: same version, other hash; batch/rollback: same id, other bytes */
    WD_PUT_STALE,    /* bundle: version below the highest held; kill: counter not above the
                        highest held (with another hash); roster: version not newest+1 */
} wd_put_result;

/* Metadata of a stored signed message (bundle or kill), without its bytes. */
typedef struct wd_store_msg {
    wd_stream stream;
    int64_t seq;                       /* bundle version or kill counter */
    char hash[WD_DIGEST_STRLEN + 1];   /* message hash (digest of the payload) */
    const char *audience_json;         /* the payload's "audience" object, compact JSON */
    int64_t stored_at;                 /* when the leader stored it */
} wd_store_msg;

/* An active rollback authorization of a stream: its target replaces the highest version for
 * the followers its audience covers, until a higher version is published. */
typedef struct wd_store_rollback {
    char id[WD_MAX_ID_LEN + 1];
    wd_stream stream;
    const char *audience_json;
    char current_hash[WD_DIGEST_STRLEN + 1];
    char target_hash[WD_DIGEST_STRLEN + 1];
    int64_t current_version, target_version;
    int64_t stored_at;
} wd_store_rollback;

/* What a follower last reported (SPEC §13.5), as the leader keeps it. */
typedef struct wd_store_follower {
    wd_stream stream;
    char instance[WD_MAX_ID_LEN + 1];
    const char *labels_json;   /* object, compact JSON ("{}" when none) */
    const char *status_json;   /* the last POST status body, as received */
    int64_t last_seen;
} wd_store_follower;

/* Where an instance's audit chain stands: the last sequence number stored and the digest of
 * that record's bytes (SPEC §15.2). last_seq 0 and prev "" when nothing is stored. */
typedef struct wd_audit_head {
    int64_t last_seq;
    char last_digest[WD_DIGEST_STRLEN + 1];
} wd_audit_head;

typedef struct wd_store wd_store;

/* What one stream holds, for re-reading a stream another leader changed (each_of_stream). */
typedef struct wd_store_stream_cb {
    bool (*bundle)(void *ctx, const wd_store_msg *m);        /* ascending version */
    bool (*kill)(void *ctx, const wd_store_msg *m);          /* ascending counter */
    /* the stream's active rollback: r NULL when it has none (called exactly once) */
    bool (*rollback)(void *ctx, const wd_store_rollback *r);
    void *ctx;
} wd_store_stream_cb;

/* The operations an implementation provides. Every function returns WD_OK or an operational
 * code (WD_E_IO when the store cannot be read or written — full disk, read-only file, lost
 * connection — WD_E_NOMEM, WD_E_INTERNAL) with e filled; stream-rule outcomes are results, not
 * errors. On error nothing was changed (each put is one transaction). Memory a function returns
 * is the caller's (free()); callback arguments are valid only during the callback. */
typedef struct wd_store_ops {
    const char *name; /* "sqlite", "postgres" */
    void (*close)(wd_store *s);
    /* A cheap round trip (SELECT 1), for /readyz. */
    wd_code (*ping)(wd_store *s, wd_err *e);

    /* Bundles. put: in one transaction against every version held for the stream — the same
     * hash already stored: SAME; the version held with another hash: FORK; a version below the
     * highest: STALE; else store it, clear the stream's active rollback, CREATED. *held_hash
     * (may be NULL) gets the stored hash of that version on SAME/FORK, "" otherwise. */
    wd_code (*put_bundle)(wd_store *s, const wd_store_msg *m, const unsigned char *bytes,
                          size_t len, wd_put_result *res, char held_hash[WD_DIGEST_STRLEN + 1],
                          wd_err *e);
    /* Metadata of every bundle of every stream, in (stream, version) order. cb returning
     * false stops the walk. */
    wd_code (*each_bundle)(wd_store *s, bool (*cb)(void *ctx, const wd_store_msg *m), void *ctx,
                           wd_err *e);
    /* The bytes of the bundle with this hash in org. *found false when there is none. */
    wd_code (*get_bundle)(wd_store *s, const char *org, const char *hash, wd_store_msg *meta,
                          unsigned char **bytes, size_t *len, bool *found, wd_err *e);

    /* Kills: SAME when the hash is stored; STALE when the counter is not above the highest
     * counter of the stream; else CREATED. */
    wd_code (*put_kill)(wd_store *s, const wd_store_msg *m, const unsigned char *bytes,
                        size_t len, wd_put_result *res, wd_err *e);
    wd_code (*each_kill)(wd_store *s, bool (*cb)(void *ctx, const wd_store_msg *m), void *ctx,
                         wd_err *e);
    wd_code (*get_kill)(wd_store *s, const char *org, const char *hash, wd_store_msg *meta,
                        unsigned char **bytes, size_t *len, bool *found, wd_err *e);

    /* Rollback authorizations: same id and bytes: SAME; same id, other bytes: FORK; else stored
     * and made the stream's active rollback (replacing any earlier one): CREATED. */
    wd_code (*put_rollback)(wd_store *s, const wd_store_rollback *r, const unsigned char *bytes,
                            size_t len, wd_put_result *res, wd_err *e);
    wd_code (*get_rollback)(wd_store *s, const char *org, const char *id, unsigned char **bytes,
                            size_t *len, bool *found, wd_err *e);
    /* The active rollback of every stream that has one. */
    wd_code (*each_active_rollback)(wd_store *s,
                                    bool (*cb)(void *ctx, const wd_store_rollback *r),
                                    void *ctx, wd_err *e);

    /* Rosters: the same version and hash: SAME; a version other than newest+1 (when one is
     * held): STALE; else CREATED. Whether the roster may follow the previous one is the API's
     * check (rotation), not the store's. */
    wd_code (*put_roster)(wd_store *s, int64_t version, const char *hash,
                          const unsigned char *bytes, size_t len, wd_put_result *res,
                          wd_err *e);
    /* version 0: the newest. *found false when none is held. */
    wd_code (*get_roster)(wd_store *s, int64_t version, unsigned char **bytes, size_t *len,
                          bool *found, wd_err *e);

    /* Audit batches (SPEC §15.2): same batch_id and bytes: SAME; same id, other bytes: FORK;
     * else stored with its gap flag and the instance's head moved to (last_seq, last_digest):
     * CREATED. */
    wd_code (*put_audit_batch)(wd_store *s, const wd_stream *st, const char *instance,
                               const char *batch_id, int64_t first_seq, int64_t last_seq,
                               const char *last_digest, bool gap, const unsigned char *bytes,
                               size_t len, int64_t now, wd_put_result *res, wd_err *e);
    wd_code (*audit_head)(wd_store *s, const char *org, const char *instance,
                          wd_audit_head *out, wd_err *e);

    /* Follower status: insert or replace the row of (org, instance). */
    wd_code (*put_status)(wd_store *s, const wd_store_follower *f, wd_err *e);
    /* Every follower of org, ordered by fleet, env, instance. */
    wd_code (*each_follower)(wd_store *s, const char *org,
                             bool (*cb)(void *ctx, const wd_store_follower *f), void *ctx,
                             wd_err *e);

    /* Optional (NULL in SQLite): the metadata of one stream's bundles and kills and its
     * active rollback, read in one snapshot. A callback returning false stops the walk. */
    wd_code (*each_of_stream)(wd_store *s, const wd_stream *st, const wd_store_stream_cb *cb,
                              wd_err *e);

    /* Optional (NULL when no other process can change the store behind the leader's back, as
     * in SQLite): hearing of the changes other leaders make. Every put that creates something
     * in a stream announces the stream's key ("org/fleet/env") when it commits.
     * watch_open: (re)open the one dedicated connection and start listening; *fd is its socket,
     * to watch for reading. On error nothing is open. Not thread-safe: one watcher calls these.
     * watch_read: after *fd became readable, hand every announcement received to cb (changes
     * this store's own connections made are left out); WD_E_IO when the connection is lost
     * (then call watch_close, and watch_open again later: what was announced in between is
     * lost, so the caller re-reads everything). watch_close: close it; idempotent. */
    wd_code (*watch_open)(wd_store *s, int *fd, wd_err *e);
    wd_code (*watch_read)(wd_store *s, void (*cb)(void *ctx, const char *key), void *ctx,
                          wd_err *e);
    void (*watch_close)(wd_store *s);
} wd_store_ops;

/* The common head of every implementation's struct: callers see only this. */
struct wd_store {
    const wd_store_ops *ops;
    /* Called after every operation with its duration, for the store latency histogram; may be
     * NULL. Set by the owner after open. */
    void (*observe)(void *ctx, const char *op, double seconds);
    void *observe_ctx;
};

/* Open the store a URL names: "sqlite:PATH" (created when missing, WAL, synchronous=FULL,
 * migrations run) or "postgres://..." / "postgresql://..." (a libpq URL; connected, migrations
 * run; a database that cannot be reached is WD_E_IO). Anything else is WD_E_USAGE. On success the caller owns *out (wd_store_close); on error *out is NULL. */
wd_code wd_store_open(const char *url, wd_store **out, wd_err *e);
void wd_store_close(wd_store *s);

/* The implementation's own opener, used by wd_store_open. */
wd_code wd_store_sqlite_open(const char *path, wd_store **out, wd_err *e);
/* The PostgreSQL store's opener (store_pg.c); url is the whole postgres:// URL. */
wd_code wd_store_pg_open(const char *url, wd_store **out, wd_err *e);

#endif
