/* crypto.h — encodings, digests and Ed25519 keys for libwarden, all on OpenSSL 3.
 * Owns no global state. Secrets are wiped (OPENSSL_cleanse) before memory is released. */
#ifndef WD_CRYPTO_H
#define WD_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"

#define WD_SHA256_LEN 32
#define WD_ED25519_PUB_LEN 32
#define WD_ED25519_SIG_LEN 64
/* "sha256:" + 64 hex */
#define WD_DIGEST_STRLEN 71

/* ---- base64 (RFC 4648 §4, standard alphabet, padding required, canonical) ---- */

/* Decode strictly: length a multiple of 4, only the standard alphabet, '=' only as the final
 * one or two characters, unused bits zero. Anything else is WD_E_MALFORMED.
 * *out is malloc'd (at least 1 byte, also for empty input); the caller frees it. */
wd_code wd_b64_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen,
                      wd_err *e);
/* Encode into a new NUL-terminated string, or NULL when out of memory. Caller frees. */
char *wd_b64_encode(const unsigned char *in, size_t len);

/* ---- hex and digests ---- */

/* Lowercase hex of in into out (2*len+1 bytes, NUL-terminated). */
void wd_hex_encode(const unsigned char *in, size_t len, char *out);

/* SHA-256 of data. Returns WD_E_CRYPTO only if OpenSSL fails. */
wd_code wd_sha256(const void *data, size_t len, unsigned char out[WD_SHA256_LEN], wd_err *e);

/* "sha256:<64 lowercase hex>" of a raw hash; out has WD_DIGEST_STRLEN+1 bytes. */
void wd_digest_format(const unsigned char h[WD_SHA256_LEN], char out[WD_DIGEST_STRLEN + 1]);

/* Parse "sha256:" + 64 hex (either case) into raw bytes; anything else is WD_E_MALFORMED. */
wd_code wd_digest_parse(const char *s, unsigned char out[WD_SHA256_LEN], wd_err *e);

/* Digest of data formatted as a string (combines the two above). */
wd_code wd_digest_of(const void *data, size_t len, char out[WD_DIGEST_STRLEN + 1], wd_err *e);

/* Constant-time equality of two buffers of the same length (CRYPTO_memcmp). */
bool wd_ct_eq(const void *a, const void *b, size_t len);

/* ---- Ed25519 keys ---- */

typedef struct wd_key wd_key; /* opaque; holds an EVP_PKEY, its raw public key and keyid */

/* Generate a new private key. Caller frees with wd_key_free; on error *out is NULL. */
wd_code wd_key_generate(wd_key **out, wd_err *e);

/* Write the private key to path as PKCS#8 PEM with mode 0600, and the public key to path.pub as
 * SubjectPublicKeyInfo PEM (0644). Refuses to overwrite an existing file (WD_E_IO).
 * On error, neither file is left behind. */
wd_code wd_key_save(const wd_key *k, const char *path, wd_err *e);

/* Load a private key (PKCS#8 PEM). A file that group or others can read is refused (WD_E_IO,
 * message says why) before any of its bytes is parsed, as is anything that is not an Ed25519
 * key or is encrypted (WD_E_MALFORMED), or a file over WD_MAX_KEY_FILE (WD_E_OVERSIZED). The
 * one form read is unencrypted Ed25519 PKCS#8 v1, a fixed 48-byte DER (what OpenSSL, Node and
 * Go write); v2 with the public key, attributes or trailing bytes are WD_E_MALFORMED. It is
 * decoded here, not by OpenSSL's PEM reader, and every buffer that held key bytes is wiped on
 * every path, so no copy of the seed is left in freed memory. The loaders below share these
 * rules. Caller frees *out with wd_key_free; on error *out is NULL. */
wd_code wd_key_load_private(const char *path, wd_key **out, wd_err *e);
/* Load a public key (SPKI PEM). Non-Ed25519 is WD_E_MALFORMED. */
wd_code wd_key_load_public(const char *path, wd_key **out, wd_err *e);
/* Load either kind, deciding by the PEM label. Private keys get the permission check. */
wd_code wd_key_load_any(const char *path, wd_key **out, wd_err *e);
/* A public key from its 32 raw bytes. Caller frees *out with wd_key_free; on error NULL. */
wd_code wd_key_from_raw_public(const unsigned char pub[WD_ED25519_PUB_LEN], wd_key **out,
                               wd_err *e);
/* A private key from its 32-byte RFC 8032 secret (seed), e.g. for known-answer tests.
 * The caller wipes seed when done; the key holds its own copy. On error *out is NULL.
 * Caller frees with wd_key_free. */
#define WD_ED25519_SEED_LEN 32
wd_code wd_key_from_raw_private(const unsigned char seed[WD_ED25519_SEED_LEN], wd_key **out,
                                wd_err *e);

/* "sha256:<hex of SHA-256 of the raw 32-byte public key>"; valid as long as k lives. */
const char *wd_key_id(const wd_key *k);
/* The 32 raw public key bytes; valid as long as k lives. */
const unsigned char *wd_key_raw_public(const wd_key *k);
bool wd_key_has_private(const wd_key *k);

/* Ed25519 (pure) signature of msg. WD_E_USAGE if k has no private half. */
wd_code wd_key_sign(const wd_key *k, const void *msg, size_t len,
                    unsigned char sig[WD_ED25519_SIG_LEN], wd_err *e);
/* True only for a valid signature of exactly WD_ED25519_SIG_LEN bytes. */
bool wd_key_verify(const wd_key *k, const void *msg, size_t len, const unsigned char *sig,
                   size_t siglen);

/* Public key as SPKI PEM text (malloc'd, NUL-terminated), or NULL on failure. */
char *wd_key_public_pem(const wd_key *k);

void wd_key_free(wd_key *k);

#endif
