/* roster.h — the trust roster (SPEC §2): who may sign what. Decoding, bootstrap against a pinned
 * root fingerprint, rotation N -> N+1 (TUF §5.3), and the signature-threshold check that every
 * other signed message goes through. Pure: reads bytes and a time, never changes state. */
#ifndef WD_ROSTER_H
#define WD_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "../crypto/crypto.h"
#include "../msg/dsse.h"

#define WD_ROSTER_PAYLOAD_TYPE "application/vnd.warden.roster.v1+json"

/* Key purposes, as bits. */
typedef enum wd_purpose {
    WD_PURPOSE_ROSTER_ROOT     = 1u << 0, /* "roster-root" (root keys only) */
    WD_PURPOSE_BUNDLE_SIGNING  = 1u << 1, /* "policy-bundle-signing" */
    WD_PURPOSE_BUNDLE_ROLLBACK = 1u << 2, /* "policy-bundle-rollback" */
    WD_PURPOSE_KILL_SIGNING    = 1u << 3, /* "remote-kill-signing" */
    WD_PURPOSE_AUDIT_SIGNING   = 1u << 4, /* "audit-batch-signing" */
} wd_purpose;

/* "policy-bundle-signing" etc.; NULL for a value that is not exactly one purpose bit. */
const char *wd_purpose_name(wd_purpose p);
/* Parse a purpose name; 0 when unknown. */
unsigned wd_purpose_parse(const char *s);

typedef struct wd_roster_key {
    wd_key *key;            /* public key; keyid via wd_key_id() */
    unsigned purposes;      /* bit set of wd_purpose */
    int64_t valid_from;
    int64_t valid_until;    /* INT64_MAX when null */
    bool revoked;           /* status "revoked" */
    char *principal;        /* may be NULL */
} wd_roster_key;

typedef struct wd_roster {
    char *org_id;
    int64_t version;        /* >= 1 */
    int64_t created_at, expires_at;
    int root_threshold;     /* 1..7 */
    wd_roster_key *root_keys;
    size_t nroot;
    wd_roster_key *keys;
    size_t nkeys;
    int threshold_bundle, threshold_rollback, threshold_kill, threshold_audit;
    char hash[WD_DIGEST_STRLEN + 1]; /* message hash of the payload it came from */
} wd_roster;

/* Parse and validate a roster payload (strict JSON, SPEC §2 schema) without checking any
 * signature. Used on the pin-only bootstrap path and by tooling. Caller frees *out. */
wd_code wd_roster_parse(const unsigned char *payload, size_t len, wd_roster **out, wd_err *e);

/* Verify a roster envelope (the raw file bytes, <= WD_MAX_ROSTER_ENVELOPE).
 * previous == NULL: bootstrap — pin must be the keyid of one of root.keys (else
 * WD_E_UNTRUSTED_ROOT), root.threshold valid root-key signatures, not expired at now.
 * previous != NULL: rotation — version exactly previous->version+1 (<= is WD_E_STALE, > +1 is
 * WD_E_UNTRUSTED_ROOT), signed by previous's root threshold AND the new roster's root threshold,
 * not expired, same org. previous->version == this version with the same hash is accepted as
 * the same roster. On success the caller owns *out (wd_roster_free). */
wd_code wd_roster_verify(const unsigned char *buf, size_t len, const char *pin,
                         const wd_roster *previous, int64_t now, wd_roster **out, wd_err *e);

/* The threshold the roster sets for purpose p (defaults 1, 2, 2, 1 applied at parse). */
int wd_roster_threshold(const wd_roster *r, wd_purpose p);

/* Check env's signatures for purpose p at time now: a signature counts when its keyid names a
 * key of r.keys that is active, valid at now (valid_from <= now < valid_until), carries p, and
 * verifies over PAE; distinct keyids and distinct public keys count once. WD_OK when the count
 * reaches wd_roster_threshold(r, p). Otherwise, in this order of precedence:
 * WD_E_BAD_SIGNATURE (a signature by a roster key does not verify, or no signer is in the
 * roster), WD_E_REVOKED_KEY, WD_E_EXPIRED_KEY, WD_E_WRONG_PURPOSE (a valid signature by a key
 * that is revoked / outside its window / lacks p, and nothing counted reached the threshold),
 * WD_E_THRESHOLD. The message names the keyid concerned and counts (e.g. "1 of 2"). */
wd_code wd_roster_check_signatures(const wd_roster *r, const wd_dsse *env, wd_purpose p,
                                   int64_t now, wd_err *e);

void wd_roster_free(wd_roster *r);

#endif
