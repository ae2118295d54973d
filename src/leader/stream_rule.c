/* stream_rule.c — the publish rules of a stream (stream_rule.h), the one copy both stores call
 * inside their put transactions. It must never touch a store, allocate, or decide anything from
 * data other than the facts it is given. */
#include "stream_rule.h"

#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"

static void held_set(char held_hash[WD_DIGEST_STRLEN + 1], const char *h)
{
    if (held_hash != NULL)
        snprintf(held_hash, WD_DIGEST_STRLEN + 1, "%s", h ? h : "");
}

wd_put_result wd_stream_rule_msg(wd_stream_kind k, int64_t seq, const char *hash,
                                 const wd_stream_facts *f,
                                 char held_hash[WD_DIGEST_STRLEN + 1])
{
    held_set(held_hash, "");
    /* the same hash: the hash covers the payload, so the same message of the stream */
    if (f->hash_held) {
        held_set(held_hash, hash);
        return WD_PUT_SAME;
    }
    if (k == WD_STREAM_BUNDLE) {
        /* the version held with another hash: a fork of the stream */
        if (f->seq_hash != NULL) {
            held_set(held_hash, f->seq_hash);
            return WD_PUT_FORK;
        }
        /* below the highest version: the stream has moved on */
        return seq < f->max_seq ? WD_PUT_STALE : WD_PUT_CREATED;
    }
    /* a kill counter must rise */
    return seq <= f->max_seq ? WD_PUT_STALE : WD_PUT_CREATED;
}

bool wd_stream_rule_ends_rollback(wd_stream_kind k, wd_put_result r)
{
    return k == WD_STREAM_BUNDLE && r == WD_PUT_CREATED;
}

wd_put_result wd_stream_rule_by_id(bool held_exists, const void *held, size_t held_len,
                                   const void *bytes, size_t len)
{
    if (!held_exists)
        return WD_PUT_CREATED;
    bool eq = held_len == len && (len == 0 || (held != NULL && bytes != NULL &&
                                               wd_ct_eq(held, bytes, len)));
    return eq ? WD_PUT_SAME : WD_PUT_FORK;
}

wd_put_result wd_stream_rule_roster(int64_t version, const char *hash, const char *held_hash,
                                    bool any, int64_t newest)
{
    if (held_hash != NULL && hash != NULL && strcmp(held_hash, hash) == 0)
        return WD_PUT_SAME;
    if (any && (newest == INT64_MAX || version != newest + 1))
        return WD_PUT_STALE;
    return WD_PUT_CREATED;
}
