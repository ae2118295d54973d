/* rollback.h — the signed rollback authorization (SPEC §5): permission for a follower to move
 * from one named bundle (hash and version) to a named older one. Strict parsing, verification
 * in SPEC §1.2's order, and building one its own verifier accepts. Pure; touches no disk. */
#ifndef WD_ROLLBACK_H
#define WD_ROLLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "msg/message.h"

#define WD_ROLLBACK_PAYLOAD_TYPE "application/vnd.warden.rollback.v1+json"

/* A rollback authorization's payload, decoded; strings owned by the struct. */
typedef struct wd_rollback {
    char *authorization_id;
    wd_scope scope;
    wd_audience audience;
    char current_bundle_hash[WD_DIGEST_STRLEN + 1]; /* lowercase */
    int64_t current_version;                        /* 1 .. WD_MAX_SAFE_INTEGER */
    char target_bundle_hash[WD_DIGEST_STRLEN + 1];  /* lowercase */
    int64_t target_version;                         /* >= 1, < current_version */
    char *reason;                                   /* <= WD_MAX_KILL_REASON bytes */
    int64_t created_at, expires_at;
    char hash[WD_DIGEST_STRLEN + 1];                /* message hash */
} wd_rollback;

/* Parse a payload strictly without trusting it: strict JSON, schema_version 1 (else
 * unsupported-version), exactly SPEC §5's fields (unknown-field / malformed), ids, digests and
 * times well formed, versions in 1 .. 2^53-1 and target_version < current_version (malformed),
 * reason at most WD_MAX_KILL_REASON bytes (oversized) without control characters (malformed),
 * the audience (wd_audience_decode). On success the caller owns *out (wd_rollback_free); on
 * error *out is NULL. */
wd_code wd_rollback_parse(const unsigned char *payload, size_t len, wd_rollback **out,
                          wd_err *e);

/* Semantic checks, in order: scope (wrong-scope), audience (wrong-audience), created_at <
 * expires_at and expires_at - created_at <= WD_MAX_ROLLBACK_VALIDITY_S (malformed), valid at
 * now: now >= created_at - WD_NOT_BEFORE_SKEW_S (not-yet-valid) and now < expires_at (expired).
 * Pure. r may be NULL to skip the roster's org. */
wd_code wd_rollback_check(const wd_rollback *a, const wd_roster *r, const wd_follower *f,
                          int64_t now, wd_err *e);

/* The checks that depend on neither follower nor time (the window's shape). Pure. */
wd_code wd_rollback_check_content(const wd_rollback *a, wd_err *e);

/* Verify an authorization envelope end to end: wd_msg_open with the 64 KiB cap and the
 * policy-bundle-rollback purpose, wd_rollback_parse, wd_rollback_check. On success the caller
 * owns *out (wd_rollback_free); on error *out is NULL. */
wd_code wd_rollback_verify(const unsigned char *buf, size_t len, const wd_roster *r,
                           const wd_follower *f, int64_t now, wd_rollback **out, wd_err *e);

void wd_rollback_free(wd_rollback *a);

/* The payload as compact JSON in SPEC §5's field order (a->hash unused). The caller frees
 * *out; on error *out is NULL. */
wd_code wd_rollback_encode(const wd_rollback *a, char **out, size_t *len, wd_err *e);

/* Encode, parse back, check content, refuse one already expired at now or whose envelope is
 * larger than WD_MAX_ROLLBACK_ENVELOPE, then sign with every key (0..16: none gives an unsigned draft). Refuses with the code the
 * verifier would give. The caller frees *out; on error *out is NULL. */
wd_code wd_rollback_build(const wd_rollback *a, wd_key *const *keys, size_t nkeys, int64_t now,
                          char **out, size_t *len, wd_err *e);

#endif
