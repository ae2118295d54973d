/* dsse.h — DSSE v1 envelopes (SPEC §1.2): strict decoding, PAE, signing, and per-signature
 * verification against a set of keys. Knows nothing of rosters, purposes or thresholds:
 * deciding which keys count is the caller's job (src/lib/trust). */
#ifndef WD_DSSE_H
#define WD_DSSE_H

#include <stdbool.h>
#include <stddef.h>

#include "warden/error.h"
#include "warden/limits.h"
#include "../crypto/crypto.h"

typedef struct wd_dsse_sig {
    char keyid[WD_DIGEST_STRLEN + 1]; /* normalised to lowercase */
    unsigned char sig[WD_ED25519_SIG_LEN];
} wd_dsse_sig;

typedef struct wd_dsse {
    char *payload_type;          /* NUL-terminated */
    unsigned char *payload;      /* decoded payload bytes (NUL-terminated for convenience) */
    size_t payload_len;
    size_t nsigs;                /* 1..WD_MAX_SIGNATURES */
    wd_dsse_sig sigs[WD_MAX_SIGNATURES];
} wd_dsse;

/* Decode an envelope strictly: at most max bytes (else WD_E_OVERSIZED), strict JSON (see
 * json.h), exactly the keys payloadType, payload, signatures (unknown -> WD_E_UNKNOWN_FIELD,
 * missing or wrong type -> WD_E_MALFORMED), payloadType non-empty, payload strict base64,
 * 1..16 signatures (0 -> WD_E_MALFORMED, 17 -> WD_E_OVERSIZED), each exactly {keyid, sig}
 * with keyid a digest (SPEC §1.1) and sig strict base64 of 64 bytes (else WD_E_MALFORMED).
 * The payload is not parsed. On success the caller calls wd_dsse_free(out); on error out holds
 * nothing that needs freeing. */
wd_code wd_dsse_decode(const unsigned char *buf, size_t len, size_t max, wd_dsse *out,
                       wd_err *e);
void wd_dsse_free(wd_dsse *d);

/* wd_dsse_decode for a draft: the same rules, except that 0 signatures is accepted (an
 * envelope with "signatures":[] is an unsigned draft, which every verifier refuses as
 * malformed and only the signing tools read). Ownership and codes as wd_dsse_decode. */
wd_code wd_dsse_decode_draft(const unsigned char *buf, size_t len, size_t max, wd_dsse *out,
                             wd_err *e);

/* PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. *out malloc'd. */
wd_code wd_dsse_pae(const char *type, const unsigned char *body, size_t len,
                    unsigned char **out, size_t *outlen, wd_err *e);

/* Sign payload with every key (each must have its private half) and return the envelope as
 * compact JSON text in *out (malloc'd, NUL-terminated; *outlen its length). 1..16 keys. */
wd_code wd_dsse_sign(const char *type, const unsigned char *payload, size_t len,
                     wd_key *const *keys, size_t nkeys, char **out, size_t *outlen, wd_err *e);

/* wd_dsse_sign for a draft: 0..16 keys; with none, the envelope carries "signatures":[]
 * (no verifier accepts it until it is signed). Ownership and codes as wd_dsse_sign. */
wd_code wd_dsse_sign_draft(const char *type, const unsigned char *payload, size_t len,
                           wd_key *const *keys, size_t nkeys, char **out, size_t *outlen,
                           wd_err *e);

/* d as compact JSON text (payloadType, payload, signatures in d's order; 0 signatures gives
 * a draft). The payload bytes are encoded as they are. Caller frees *out (NUL-terminated,
 * *outlen bytes, outlen may be NULL); on error *out is NULL. */
wd_code wd_dsse_encode(const wd_dsse *d, char **out, size_t *outlen, wd_err *e);

/* Index of the signature of d made under keyid (either hex case), or -1. Pure. */
int wd_dsse_find_sig(const wd_dsse *d, const char *keyid);

/* Sign d's payload (PAE over its type and bytes) with k's private half and append the
 * signature. The payload is never changed. WD_E_USAGE when d already carries a signature under
 * k's keyid ("already signed") or k has no private half; WD_E_OVERSIZED when d already has
 * WD_MAX_SIGNATURES. On error d is unchanged. */
wd_code wd_dsse_add_signature(wd_dsse *d, const wd_key *k, wd_err *e);

/* Add to into the signatures of from that it does not carry yet (by keyid; the same signature
 * twice counts once). from must have the same payloadType (else WD_E_WRONG_TYPE) and
 * byte-identical payload (else WD_E_HASH_MISMATCH naming both message hashes). A keyid with two
 * different signatures is WD_E_BAD_SIGNATURE (at most one of them can verify); more than
 * WD_MAX_SIGNATURES in all is WD_E_OVERSIZED. Signatures are not verified here. *added (may be
 * NULL) gets how many were added. On error into is unchanged. */
wd_code wd_dsse_merge(wd_dsse *into, const wd_dsse *from, size_t *added, wd_err *e);

/* Per-signature verdicts from wd_dsse_check. */
#define WD_SIG_UNKNOWN_KEY (-1) /* no key in the set has this keyid */
#define WD_SIG_INVALID     (-2) /* a key has this keyid but the signature does not verify */

/* For each signature i of d, result[i] is the index in keys[] of the key whose keyid equals
 * the signature's keyid and whose Ed25519 verification over PAE(type, payload) succeeds, or
 * WD_SIG_UNKNOWN_KEY / WD_SIG_INVALID. Operational errors only (WD_E_NOMEM...). */
wd_code wd_dsse_check(const wd_dsse *d, wd_key *const *keys, size_t nkeys,
                      int result[WD_MAX_SIGNATURES], wd_err *e);

/* Signature check only (warden dsse verify): WD_OK when at least one signature verifies with
 * one of keys and no signature made under one of keys' keyids fails; otherwise
 * WD_E_BAD_SIGNATURE naming the keyid. *nvalid (may be NULL) gets the number of distinct keys
 * that verified. */
wd_code wd_dsse_verify_any(const wd_dsse *d, wd_key *const *keys, size_t nkeys, size_t *nvalid,
                           wd_err *e);

/* Message hash (SPEC §1.2): digest of the payload bytes, "sha256:<hex>". */
wd_code wd_dsse_message_hash(const wd_dsse *d, char out[WD_DIGEST_STRLEN + 1], wd_err *e);

#endif
