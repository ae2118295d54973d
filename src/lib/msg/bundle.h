/* bundle.h — the signed policy bundle (SPEC §3): strict payload parsing, verification in SPEC
 * §1.2's order, the follower's transition rule, and building a bundle that its own verifier
 * accepts. Pure: bytes, a roster and a time in; a verdict out. Nothing here touches disk. */
#ifndef WD_BUNDLE_H
#define WD_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "warden/error.h"
#include "msg/message.h"

#define WD_BUNDLE_PAYLOAD_TYPE "application/vnd.warden.policy-bundle.v1+json"

/* A bundle's payload, decoded. Strings are owned by the struct (wd_bundle_free). */
typedef struct wd_bundle {
    char *bundle_id;
    wd_scope scope;
    wd_audience audience;
    int64_t version;                                  /* 1 .. WD_MAX_SAFE_INTEGER */
    char previous_bundle_hash[WD_DIGEST_STRLEN + 1];  /* lowercase digest, or "" */
    int64_t created_at, not_before, expires_at;
    unsigned min_warden_version[3];
    char *policy_yaml;                                /* the bytes as signed, NUL-terminated */
    size_t policy_len;
    char policy_sha256[WD_DIGEST_STRLEN + 1];         /* lowercase */
    char hash[WD_DIGEST_STRLEN + 1];                  /* message hash: digest of the payload */
    json_t *policy;  /* the loaded policy document once the content is checked, else NULL */
} wd_bundle;

/* Parse a bundle payload strictly, without trusting it (its signatures are the caller's
 * business): strict JSON (duplicate-key, trailing-data, malformed), schema_version 1 (else
 * unsupported-version), exactly the SPEC §3 fields (unknown-field; missing or wrong type ->
 * malformed), ids, times and digests well formed and version in 1 .. 2^53-1 (else malformed), the
 * audience (see wd_audience_decode), min_warden_version a version string (malformed) not newer
 * than this warden (unsupported-version). len > WD_MAX_BUNDLE_ENVELOPE is oversized.
 * On success the caller owns *out (wd_bundle_free); on error *out is NULL. */
wd_code wd_bundle_parse(const unsigned char *payload, size_t len, wd_bundle **out, wd_err *e);

/* The checks that depend on neither the follower nor the time: created_at <= not_before <
 * expires_at (malformed); policy_sha256 equals the digest of policy_yaml (hash-mismatch,
 * compared in constant time); policy_yaml <= WD_MAX_POLICY_BYTES (oversized); it loads as YAML
 * (invalid-policy, with the loader's detail); its top-level keys are all on the bundle
 * allowlist (forbidden-section, naming the key); it is a valid policy document
 * (invalid-policy). On success b->policy holds the document tree (owned by b); on error b is
 * unchanged. */
wd_code wd_bundle_check_content(wd_bundle *b, wd_err *e);

/* Every semantic check, in order: scope against the roster and the follower (wrong-scope),
 * audience (wrong-audience; skipped with WD_MSG_ANY_AUDIENCE), window order (malformed),
 * validity at now (not-yet-valid, expired; skipped with WD_MSG_ACTIVE), then
 * wd_bundle_check_content's checks after the window order. r may be NULL only to skip the roster's org. Same ownership as
 * wd_bundle_check_content. */
wd_code wd_bundle_check(wd_bundle *b, const wd_roster *r, const wd_follower *f, int64_t now,
                        unsigned flags, wd_err *e);

/* Verify a bundle envelope (the file's bytes) end to end: wd_msg_open with the 1 MiB cap and
 * the policy-bundle-signing purpose, then wd_bundle_parse, then wd_bundle_check.
 * On success the caller owns *out (wd_bundle_free), with (*out)->policy set; on error *out is
 * NULL and e says what was rejected. */
wd_code wd_bundle_verify(const unsigned char *buf, size_t len, const wd_roster *r,
                         const wd_follower *f, int64_t now, unsigned flags, wd_bundle **out,
                         wd_err *e);

void wd_bundle_free(wd_bundle *b);

/* ---- the transition rule (SPEC §3) ---- */

typedef enum wd_bundle_step {
    WD_BUNDLE_FIRST,     /* no active bundle: accepted */
    WD_BUNDLE_NOOP,      /* same hash as the active bundle: nothing to do */
    WD_BUNDLE_FORWARD,   /* higher version whose previous_bundle_hash is the active hash */
    WD_BUNDLE_SKIP,      /* higher version, previous_bundle_hash is not the active hash */
    WD_BUNDLE_ROLLBACK,  /* lower version, with a valid rollback authorization for the pair */
} wd_bundle_step;

/* "accepted", "no-op", "accepted, versions skipped", "accepted, authorized rollback"
 * (static strings). */
const char *wd_bundle_step_name(wd_bundle_step s);

/* Decide what a follower whose active bundle is active (NULL: none) and whose floor is floor
 * does with next, both already verified. The floor is the highest bundle version this
 * follower ever applied (0: none yet; 0 .. WD_MAX_SAFE_INTEGER, else WD_E_USAGE); the follower
 * keeps it durably beside the active bundle, because after an authorized rollback the active
 * version is lower than what was once applied. A floor below active's version counts as
 * active's version. The rule (SPEC §3):
 * - next has active's hash: WD_BUNDLE_NOOP.
 * - next's version equals active's, other hash: WD_E_FORK.
 * - next's version is above active's (or there is no active bundle) but not above the floor:
 *   WD_E_STALE (a rollback does not reopen the versions it rolled back; the way forward is a
 *   version above the floor).
 * - above both: WD_BUNDLE_FIRST (no active bundle), WD_BUNDLE_FORWARD or WD_BUNDLE_SKIP.
 * - below active's version: needs a rollback authorization: auth[0..auth_len) (NULL when none
 *   was offered) is verified here with wd_rollback_verify against r, f and now (its own
 *   signatures, scope, audience, window) and must name exactly active's hash and version as
 *   current and next's as target; then WD_BUNDLE_ROLLBACK (allowed below the floor: that is
 *   what a rollback is). Without such an authorization, WD_E_STALE, whose message gives the
 *   reason (no authorization, the authorization's own rejection code and detail, or the pair
 *   it names).
 * On success *step is set, *floor_out (may be NULL) gets the floor to keep from now on (the
 * largest of floor, active's version and next's version), and note (notesz bytes, may be NULL)
 * describes the step. On error *step and *floor_out are unchanged. Pure. */
wd_code wd_bundle_transition(const wd_bundle *active, int64_t floor, const wd_bundle *next,
                             const unsigned char *auth, size_t auth_len, const wd_roster *r,
                             const wd_follower *f, int64_t now, wd_bundle_step *step,
                             int64_t *floor_out, char *note, size_t notesz, wd_err *e);

/* ---- building ---- */

/* The payload of b as compact JSON in SPEC §3's field order (b->hash and b->policy are not
 * used). *out is malloc'd and NUL-terminated (*len its length); the caller frees it.
 * A policy_yaml that is not valid UTF-8 is WD_E_MALFORMED. */
wd_code wd_bundle_encode(const wd_bundle *b, char **out, size_t *len, wd_err *e);

/* Build a signed bundle envelope from b that this warden's verifier accepts in everything but
 * signatures and thresholds: encode, parse back strictly, wd_bundle_check_content, not expired
 * at now, envelope within WD_MAX_BUNDLE_ENVELOPE; then sign with every key (0..16; none: an unsigned draft; each with
 * its private half). Refuses with the code the verifier would give. On success the caller
 * frees *out (NUL-terminated, *len bytes); on error *out is NULL. */
wd_code wd_bundle_build(const wd_bundle *b, wd_key *const *keys, size_t nkeys, int64_t now,
                        char **out, size_t *len, wd_err *e);

#endif
