/* kill.h — the signed remote kill message (SPEC §4): strict parsing, verification in SPEC
 * §1.2's order, the per-follower counter floor, and building one its own verifier accepts.
 * Pure: bytes, a roster and a time in, a verdict out; touches no disk. */
#ifndef WD_KILL_H
#define WD_KILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "msg/message.h"

#define WD_KILL_PAYLOAD_TYPE "application/vnd.warden.remote-kill.v1+json"

/* The smallest counter a kill may carry. 0 is left for "nothing received yet", so the first
 * kill a follower ever sees is always above its floor. */
#define WD_KILL_MIN_COUNTER 1

/* A kill's payload, decoded; strings owned by the struct. */
typedef struct wd_kill {
    char *message_id;
    wd_scope scope;
    wd_audience audience;
    bool active;                       /* state "active" (true) or "inactive" */
    int64_t counter;                   /* WD_KILL_MIN_COUNTER .. WD_MAX_SAFE_INTEGER */
    char *reason;                      /* <= WD_MAX_KILL_REASON bytes, no control characters */
    int64_t created_at, not_before, expires_at;
    char hash[WD_DIGEST_STRLEN + 1];   /* message hash */
} wd_kill;

/* Parse a payload strictly without trusting it: strict JSON, schema_version 1 (else
 * unsupported-version), exactly SPEC §4's fields (unknown-field / malformed), ids and times well
 * formed, state active|inactive and counter in WD_KILL_MIN_COUNTER .. 2^53-1 (malformed), reason
 * at most WD_MAX_KILL_REASON bytes (oversized) without control characters (malformed), the
 * audience (wd_audience_decode). On success the caller owns *out (wd_kill_free); on error *out
 * is NULL. */
wd_code wd_kill_parse(const unsigned char *payload, size_t len, wd_kill **out, wd_err *e);

/* The window's shape: created_at <= not_before < expires_at and expires_at - created_at <=
 * WD_MAX_KILL_VALIDITY_S (malformed). Pure. */
wd_code wd_kill_check_content(const wd_kill *k, wd_err *e);

/* Semantic checks, in order: scope (wrong-scope), audience (wrong-audience; skipped with
 * WD_MSG_ANY_AUDIENCE), window shape
 * (malformed), validity at now (not-yet-valid, expired; skipped with WD_MSG_ACTIVE). Pure.
 * r may be NULL to skip the roster's org. */
wd_code wd_kill_check(const wd_kill *k, const wd_roster *r, const wd_follower *f, int64_t now,
                      unsigned flags, wd_err *e);

/* Verify a kill envelope end to end: wd_msg_open with the 64 KiB cap and the
 * remote-kill-signing purpose, wd_kill_parse, wd_kill_check. On success the caller owns *out
 * (wd_kill_free); on error *out is NULL. */
wd_code wd_kill_verify(const unsigned char *buf, size_t len, const wd_roster *r,
                       const wd_follower *f, int64_t now, unsigned flags, wd_kill **out,
                       wd_err *e);

void wd_kill_free(wd_kill *k);

/* ---- the counter floor (SPEC §4) ---- */

typedef enum wd_kill_step {
    WD_KILL_FIRST,   /* no kill seen before: applies */
    WD_KILL_APPLY,   /* counter above the active one: applies */
    WD_KILL_NOOP,    /* same hash as the active one: nothing to do */
} wd_kill_step;

/* "applies" or "no-op" (a static string). */
const char *wd_kill_step_name(wd_kill_step s);

/* Decide what a follower whose last applied kill is active (NULL: none) does with next, both
 * verified: a higher counter applies, the same hash is a no-op, anything else is WD_E_STALE
 * (the message gives both counters). On success *step is set and note (may be NULL) describes
 * it. Pure. */
wd_code wd_kill_transition(const wd_kill *active, const wd_kill *next, wd_kill_step *step,
                           char *note, size_t notesz, wd_err *e);

/* ---- building ---- */

/* The payload as compact JSON in SPEC §4's field order (k->hash unused). The caller frees
 * *out; on error *out is NULL. */
wd_code wd_kill_encode(const wd_kill *k, char **out, size_t *len, wd_err *e);

/* Encode, parse back, check content, refuse one already expired at now or whose envelope is
 * larger than WD_MAX_KILL_ENVELOPE, then sign with every key (0..16: none gives an unsigned draft). Refuses with the code the
 * verifier would give. The caller frees *out; on error *out is NULL. */
wd_code wd_kill_build(const wd_kill *k, wd_key *const *keys, size_t nkeys, int64_t now,
                      char **out, size_t *len, wd_err *e);

#endif
