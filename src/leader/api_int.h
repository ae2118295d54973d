/* api_int.h — what the files of the conductor API (api*.c) share: the in-memory view of the
 * store (streams with their bundles' and kills' metadata, active rollbacks, followers' labels),
 * the reference-counted current roster, and small response helpers. Only api*.c and the API's
 * unit test include it. The view must never be read or written without A->lock, and nothing
 * here may block on the network. */
#ifndef WD_LEADER_API_INT_H
#define WD_LEADER_API_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"
#include "msg/message.h"
#include "trust/roster.h"

/* How many records one audit batch may carry (the agent's batch_max_records cannot be set
 * higher). */
#define WD_API_MAX_BATCH_RECORDS 10000

/* The roster the leader verifies against, shared by requests in flight: a PUT roster swaps
 * A->roster while older requests finish with the one they took. */
typedef struct api_roster {
    wd_roster *r;
    unsigned char *bytes; /* its envelope, as served by GET roster */
    size_t len;
    int refs;             /* atomic */
} api_roster;

/* Metadata of one stored bundle or kill: no bytes (those stay in the store). */
typedef struct api_msg {
    int64_t seq; /* bundle version or kill counter */
    char hash[WD_DIGEST_STRLEN + 1];
    wd_audience aud;
} api_msg;

typedef struct api_rollback {
    bool active;
    char id[WD_MAX_ID_LEN + 1];
    wd_audience aud;
    char current_hash[WD_DIGEST_STRLEN + 1], target_hash[WD_DIGEST_STRLEN + 1];
    int64_t current_version, target_version;
} api_rollback;

typedef struct api_stream {
    wd_stream st;
    api_msg *bundles; /* ascending version */
    size_t nbundles, capbundles;
    api_msg *kills;   /* ascending counter */
    size_t nkills, capkills;
    api_rollback rb;
} api_stream;

/* What the leader knows of a follower for audience selection: its labels from its last
 * POST status. */
typedef struct api_follower {
    wd_stream st;
    char instance[WD_MAX_ID_LEN + 1];
    wd_label *labels;
    size_t nlabels;
} api_follower;

/* Recently served message bytes (bundles and kills are immutable once stored, so a hash names
 * its bytes for good): a publish wakes every held poll of its stream at once, and each would
 * otherwise read the same bytes from the store. At most API_BYTES_CACHE entries (8 MiB at the
 * largest bundles); the least recently used goes first. */
#define API_BYTES_CACHE 8
typedef struct api_bytes {
    bool used, kill;
    char hash[WD_DIGEST_STRLEN + 1];
    unsigned char *bytes;
    size_t len;
    uint64_t tick; /* last use */
} api_bytes;

struct wd_api {
    pthread_mutex_t bytes_mu; /* bytes[] and bytes_tick */
    api_bytes bytes[API_BYTES_CACHE];
    uint64_t bytes_tick;
    pthread_rwlock_t lock;   /* the view and A->roster */
    pthread_mutex_t publish; /* one store put and its view update at a time */
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    char org[WD_MAX_ID_LEN + 1]; /* the one org this leader serves: its roster's */
    api_roster *roster;
    api_stream *streams;
    size_t nstreams, capstreams;
    api_follower *followers; /* sorted by instance */
    size_t nfollowers, capfollowers;
};

/* wd_api_init with a clock (tests pin the time; wd_api_init passes the wall clock). Same
 * contract as wd_api_init. */
wd_code wd_api_init_clock(wd_leader *L, int64_t (*clock)(void *ctx), void *ctx, wd_err *e);

/* ---- helpers (api.c) ---- */

int64_t api_now(const wd_api *A);
/* The current roster with a reference the caller drops with api_roster_put. Never NULL after
 * a successful init. */
api_roster *api_roster_get(wd_api *A);
void api_roster_put(api_roster *R);
/* "org/fleet/env" into out (3 * (WD_MAX_ID_LEN + 1) bytes). */
void api_stream_key(const wd_stream *st, char *out, size_t outsz);
/* Set rs to status with the compact dump of o (consumed; NULL means out of memory: 500). */
void api_json(wd_http_resp *rs, int status, json_t *o);
/* A 503 "unavailable" for a store error, logged and counted as operational. */
void api_store_error(wd_leader *L, wd_http_resp *rs, const char *op, const wd_err *e);
/* A 500 for an internal fault (out of memory, a bug), logged and counted. */
void api_internal(wd_leader *L, wd_http_resp *rs, const char *what, const wd_err *e);
/* Fill a stream from a follower peer. */
void api_peer_stream(const wd_spiffe_id *p, wd_stream *st);
/* Add to A's view (A->org's streams only) every bundle, kill, active rollback and follower the
 * store holds; entries already there stay. The caller owns A's view exclusively (no lock is
 * taken). On error e says why and the view may hold part of the store. */
wd_code api_load_view(wd_leader *L, wd_api *A, wd_err *e);
/* Decode a stored audience (what names it in the warning logged when it does not decode). */
bool api_decode_audience(wd_leader *L, const char *what, const char *json, wd_audience *a);

/* ---- the view (api_view.c); every function expects the caller to hold A->lock as said ---- */

/* Write lock. Record a bundle (or kill) of st: takes *aud (zeroed on success); an entry
 * already there with that seq is left as it is. *added (may be NULL) says whether it was new.
 * false when out of memory (nothing changed, *aud still the caller's). */
bool api_view_add_bundle(wd_api *A, const wd_stream *st, int64_t version, const char *hash,
                         wd_audience *aud, bool *added);
bool api_view_add_kill(wd_api *A, const wd_stream *st, int64_t counter, const char *hash,
                       wd_audience *aud, bool *added);
/* Write lock. Make r the active rollback of its stream (takes *aud as above), or clear the
 * stream's rollback (r NULL). */
bool api_view_set_rollback(wd_api *A, const wd_stream *st, const api_rollback *r,
                           wd_audience *aud);
/* Write lock. Replace the labels of (st, instance) with labels (a JSON object of strings,
 * already checked); *changed (may be NULL) says whether they differ from what was held.
 * false when out of memory (nothing changed). */
bool api_view_set_labels(wd_api *A, const wd_stream *st, const char *instance,
                         const json_t *labels, bool *changed);
/* Read lock. The stream, or NULL. */
api_stream *api_view_stream(const wd_api *A, const wd_stream *st);
/* Read lock. The follower entry of instance in st, or NULL. */
const api_follower *api_view_follower(const wd_api *A, const wd_stream *st,
                                      const char *instance);
/* Read lock. The follower as wd_follower (strings point into the view and p). */
void api_view_as_follower(const wd_api *A, const wd_spiffe_id *p, wd_follower *f);

/* What a follower is served. */
typedef struct api_pick {
    bool found;
    int64_t seq;
    char hash[WD_DIGEST_STRLEN + 1];
    bool rollback;                /* served through the stream's active rollback */
    char rb_id[WD_MAX_ID_LEN + 1];
} api_pick;

/* Read lock. The bundle f is served: the highest version of its stream whose audience
 * includes it, unless the stream's active rollback covers f, names that bundle as current,
 * and the target's audience includes f: then the target. */
void api_view_pick_bundle(const wd_api *A, const wd_follower *f, api_pick *out);
/* Read lock. The highest-counter kill of f's stream whose audience includes f. */
void api_view_pick_kill(const wd_api *A, const wd_follower *f, api_pick *out);
/* Write lock (or sole owner). Free the whole view. */
void api_view_free(wd_api *A);

/* ---- route handlers; rest is what follows the route's own path ("" or the parameter) ---- */

typedef void api_handler(wd_leader *L, const wd_http_req *req, const char *rest,
                         wd_http_resp *rs);
api_handler api_h_policy_latest, api_h_kill_latest;          /* api_follower.c */
api_handler api_h_status, api_h_audit;                       /* api_follower.c */
api_handler api_h_bundle_put, api_h_kill_put;                /* api_publish.c */
api_handler api_h_rollback_put, api_h_roster_put;            /* api_publish.c */
api_handler api_h_roster_get, api_h_roster_version;          /* api_read.c */
api_handler api_h_rollback_get, api_h_bundle_get;            /* api_read.c */
api_handler api_h_followers, api_h_capabilities;             /* api_read.c */

#endif
