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
/* The payload schema version this warden reads; any other integer is unsupported-version. */
#define WD_ROSTER_SCHEMA_VERSION 1

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
    int64_t version;        /* 1 .. WD_MAX_SAFE_INTEGER */
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
 * signature. Used on the pin-only bootstrap path and by tooling. Caller frees *out. Codes: an
 * integer schema_version other than 1 -> WD_E_UNSUPPORTED_VERSION (checked first); a field not
 * in the schema, including an unknown purpose name as a key of "thresholds" ->
 * WD_E_UNKNOWN_FIELD; more than WD_MAX_ROSTER_KEYS keys in root.keys and keys together ->
 * WD_E_OVERSIZED (counted before any key is decoded); JSON strictness codes from wd_json_parse;
 * everything else (missing field, wrong type, bad id/time/base64, keyid not the digest of
 * public_key, public key not 32 bytes, unknown purpose in a key, roster-root outside root.keys
 * or a root key with another purpose, a public key listed twice (in one list, or in both
 * root.keys and keys: the message names both places), a threshold outside 1..7, root.threshold
 * above the number of root keys, a version outside 1 .. 2^53-1, expires_at <= created_at,
 * valid_until <= valid_from) -> WD_E_MALFORMED. "thresholds" may be absent. On error *out is
 * NULL and nothing is allocated. */
wd_code wd_roster_parse(const unsigned char *payload, size_t len, wd_roster **out, wd_err *e);

/* Verify a roster envelope (the raw file bytes, <= WD_MAX_ROSTER_ENVELOPE; larger is
 * WD_E_OVERSIZED; envelope codes from wd_dsse_decode; another payloadType is WD_E_WRONG_TYPE).
 * previous == NULL: bootstrap — pin must be the keyid of one of root.keys (else
 * WD_E_UNTRUSTED_ROOT), root.threshold valid root-key signatures, the pinned key's among them,
 * not expired at now.
 * previous != NULL: rotation — version exactly previous->version+1 (<= is WD_E_STALE, > +1 is
 * WD_E_UNTRUSTED_ROOT), signed by previous's root threshold AND the new roster's root threshold,
 * not expired, same org. previous->version == this version with the same hash is accepted as
 * the same roster. On success the caller owns *out (wd_roster_free). */
wd_code wd_roster_verify(const unsigned char *buf, size_t len, const char *pin,
                         const wd_roster *previous, int64_t now, wd_roster **out, wd_err *e);
/* In detail (both entries below follow it):
 * - Root keys count only when active, valid at now and distinct; when a threshold is not
 *   reached, a failing signature by a root key is WD_E_BAD_SIGNATURE, else a valid one by a
 *   revoked root key WD_E_REVOKED_KEY, else one outside its window WD_E_EXPIRED_KEY, else
 *   WD_E_THRESHOLD. Extra signatures (failing, or by other keys) do not matter once the
 *   threshold is reached.
 * - Bootstrap (pin required, a digest in either case, else WD_E_USAGE): the payload is parsed
 *   first (SPEC §1.2's one exception; parse codes as wd_roster_parse), then the pin must name
 *   a root key (WD_E_UNTRUSTED_ROOT), then signatures: none by a root key of this roster (e.g.
 *   only by keys of "keys", or by unknown keys) is WD_E_UNTRUSTED_ROOT; the pinned key must
 *   itself be one of the valid root signers that count (else WD_E_UNTRUSTED_ROOT, or the
 *   code for why its signature did not count; when the pinned key is revoked in this
 *   roster, the message says so and to replay the chain of rosters with --previous): otherwise anyone could list the pinned public
 *   key beside a root key of their own and sign with that; then expiry (now >= expires_at is
 *   WD_E_EXPIRED). A follower whose pinned key has left the root set reaches newer rosters
 *   by rotation only.
 * - Rotation (pin ignored): previous's root threshold is checked before the payload is parsed
 *   (no signature by a previous root key is WD_E_THRESHOLD, "previous roster's root keys ...");
 *   then parse, org (WD_E_WRONG_SCOPE), version, the new root threshold (WD_E_THRESHOLD, "new
 *   roster's root keys ..."), expiry. */

/* Flag for wd_roster_verify_ex: the roster is one this host already trusts (its stored
 * current roster, or a link in a chain being replayed): its own expires_at is not checked,
 * as TUF keeps using expired trusted metadata as the starting point of an update. Signatures,
 * the pin, version and key windows are checked as always. */
#define WD_ROSTER_KEEP_EXPIRED 1u

/* wd_roster_verify with flags (0 or WD_ROSTER_KEEP_EXPIRED). Same codes and ownership. */
wd_code wd_roster_verify_ex(const unsigned char *buf, size_t len, const char *pin,
                            const wd_roster *previous, int64_t now, unsigned flags,
                            wd_roster **out, wd_err *e);

/* The threshold the roster sets for purpose p (defaults 1, 2, 2, 1 applied at parse;
 * root.threshold for WD_PURPOSE_ROSTER_ROOT); 0 for a value that is not one purpose. */
int wd_roster_threshold(const wd_roster *r, wd_purpose p);

/* Check env's signatures for purpose p at time now: a signature counts when its keyid names a
 * key of r.keys that is active, valid at now (valid_from <= now < valid_until), carries p, and
 * verifies over PAE; distinct keyids and distinct public keys count once. WD_OK when the count
 * reaches wd_roster_threshold(r, p). Otherwise, in this order of precedence:
 * WD_E_BAD_SIGNATURE (a signature by a roster key does not verify, or no signer is in the
 * roster), WD_E_REVOKED_KEY, WD_E_EXPIRED_KEY, WD_E_WRONG_PURPOSE (a valid signature by a key
 * that is revoked / outside its window / lacks p, and nothing counted reached the threshold),
 * WD_E_THRESHOLD. The message names the keyid concerned and counts (e.g. "1 of 2").
 * A valid signature by a root key (root.keys, not in keys) counts as a key that lacks p.
 * p == WD_PURPOSE_ROSTER_ROOT checks root.keys against root.threshold instead.
 * p not exactly one purpose is WD_E_INTERNAL. Pure: changes nothing. */
wd_code wd_roster_check_signatures(const wd_roster *r, const wd_dsse *env, wd_purpose p,
                                   int64_t now, wd_err *e);

/* How far an envelope's signatures go toward one purpose's threshold in a roster. */
typedef struct wd_sig_count {
    wd_purpose purpose;
    int threshold;      /* wd_roster_threshold(r, purpose) */
    size_t counted;     /* distinct keys whose valid signatures count (as the verifier counts) */
    size_t eligible;    /* keys of the roster that could count now: active, in their window,
                         * carrying the purpose (root keys for WD_PURPOSE_ROSTER_ROOT) */
    size_t signatures;  /* signatures the envelope carries, counting or not */
} wd_sig_count;

/* Count env's signatures for purpose p at now exactly as wd_roster_check_signatures does
 * (root keys against root.threshold for WD_PURPOSE_ROSTER_ROOT), without deciding: for the
 * status of a draft being signed. An envelope with 0 signatures is allowed. On error *out is
 * zeroed. Pure. */
wd_code wd_roster_count(const wd_roster *r, const wd_dsse *env, wd_purpose p, int64_t now,
                        wd_sig_count *out, wd_err *e);

/* Would a valid signature by keyid count toward p in r at now? WD_OK when it would. Otherwise
 * the code the verifier gives such a signature, with a message naming the key and the roster:
 * not in the roster, a root key for another purpose, or another key for roster-root ->
 * WD_E_WRONG_PURPOSE; revoked -> WD_E_REVOKED_KEY; outside its window -> WD_E_EXPIRED_KEY;
 * lacking p -> WD_E_WRONG_PURPOSE. Pure. */
wd_code wd_roster_key_counts(const wd_roster *r, const char *keyid, wd_purpose p, int64_t now,
                             wd_err *e);

/* Free r and everything it owns; NULL is allowed. */
void wd_roster_free(wd_roster *r);

/* ---- building rosters (signing tools) ---- */

/* A new empty roster for org_id (an id, else WD_E_USAGE): version 1, root threshold 1,
 * default purpose thresholds, no keys, times 0 (set them before encoding). Caller frees *out
 * with wd_roster_free; on error *out is NULL. */
wd_code wd_roster_new(const char *org_id, wd_roster **out, wd_err *e);

/* A deep copy of r (keys, principals, hash). Caller frees *out; on error *out is NULL. */
wd_code wd_roster_copy(const wd_roster *r, wd_roster **out, wd_err *e);

/* Append a copy of k's public half to root.keys (root) or keys, active. WD_E_USAGE when the
 * purposes are empty or unknown, a root key does not carry exactly roster-root, a non-root key
 * carries it, valid_until <= valid_from (INT64_MAX means no end), the principal has control
 * characters, or the public key is already in the roster (in either list: a key appears once
 * in a roster; the message names where it is); WD_E_OVERSIZED past WD_MAX_ROSTER_KEYS.
 * On error r is unchanged. */
wd_code wd_roster_add_key(wd_roster *r, bool root, const wd_key *k, unsigned purposes,
                          int64_t valid_from, int64_t valid_until, const char *principal,
                          wd_err *e);

/* The key with this keyid (either hex case), searching root.keys then keys; *is_root (may be
 * NULL) says which. NULL when absent or keyid is not a digest. Points into r. */
wd_roster_key *wd_roster_find(const wd_roster *r, const char *keyid, bool *is_root);

/* r as a compact JSON payload (SPEC §2 field order, every threshold written out). The result
 * is parsed back with wd_roster_parse and refused (that code, message prefixed) if it would
 * not parse. Caller frees *out; on error *out is NULL. */
wd_code wd_roster_encode(const wd_roster *r, char **out, size_t *outlen, wd_err *e);

/* wd_roster_encode, then a DSSE envelope of type WD_ROSTER_PAYLOAD_TYPE signed by every key
 * (private halves; 0..16: with none, an unsigned draft that no verifier accepts). Caller frees *out; on error *out is NULL. This does not check that
 * the signers meet any threshold: verify the result with wd_roster_verify for that. */
wd_code wd_roster_sign(const wd_roster *r, wd_key *const *keys, size_t nkeys, char **out,
                       size_t *outlen, wd_err *e);

#endif
