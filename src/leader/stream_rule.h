/* stream_rule.h — the publish rules of a stream (SPEC §12.2), decided once for both stores
 * (store_sqlite.c, store_pg.c): given what a store read inside its put's transaction, which
 * outcome the put has (same, fork, stale, created) and whether it ends the stream's active
 * rollback. Pure: it never reads or writes a store, allocates nothing and cannot fail; the
 * stores only gather the facts and carry the decision out. */
#ifndef WD_LEADER_STREAM_RULE_H
#define WD_LEADER_STREAM_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Which monotonic message a put carries. */
typedef enum wd_stream_kind {
    WD_STREAM_BUNDLE, /* seq is the version: one hash per version, a lower version is stale */
    WD_STREAM_KILL,   /* seq is the counter: it must rise above the highest held */
} wd_stream_kind;

/* What a store holds that decides a bundle or kill put, read in the put's transaction. The
 * strings are borrowed for the call. */
typedef struct wd_stream_facts {
    bool hash_held;        /* a message of this kind with the put's hash is stored in its org */
    const char *seq_hash;  /* bundle: the hash stored at the put's version in its stream, NULL
                              when that version is free (ignored for kills) */
    int64_t max_seq;       /* the stream's highest version or counter, 0 when it holds none */
} wd_stream_facts;

/* The rule of a bundle or kill put of sequence number seq and hash:
 *   the hash already held                      -> WD_PUT_SAME   (held_hash = hash)
 *   bundle: its version held with another hash -> WD_PUT_FORK   (held_hash = f->seq_hash)
 *   bundle: a version below the highest        -> WD_PUT_STALE
 *   kill: a counter not above the highest      -> WD_PUT_STALE
 *   else                                       -> WD_PUT_CREATED: store it
 * held_hash (may be NULL) is "" for STALE and CREATED. Never fails. */
wd_put_result wd_stream_rule_msg(wd_stream_kind k, int64_t seq, const char *hash,
                                 const wd_stream_facts *f,
                                 char held_hash[WD_DIGEST_STRLEN + 1]);

/* True when a put of kind k with result r ends the stream's active rollback: a new bundle
 * version (CREATED) replaces what a rollback pointed the followers to. */
bool wd_stream_rule_ends_rollback(wd_stream_kind k, wd_put_result r);

/* The rule of a put keyed by an id (rollback authorizations, audit batches): nothing stored
 * under the id (held_exists false; held and held_len are then ignored) -> CREATED; the same
 * bytes (held, held_len: what is stored) -> SAME; other bytes -> FORK. The bytes are compared in constant time. Never fails. */
wd_put_result wd_stream_rule_by_id(bool held_exists, const void *held, size_t held_len,
                                   const void *bytes, size_t len);

/* The roster rule: the version already held with this hash (held_hash, the hash stored at
 * version, NULL when none) -> SAME; when any roster is held (any, newest the highest version),
 * a version other than newest + 1 -> STALE; else CREATED. Whether the roster may follow the
 * previous one (rotation) is the API's check, not this rule's. Never fails. */
wd_put_result wd_stream_rule_roster(int64_t version, const char *hash, const char *held_hash,
                                    bool any, int64_t newest);

#endif
