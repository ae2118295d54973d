/* pki.h — the fleet's X.509 certificates (SPEC §12.1) on OpenSSL 3: a fleet CA (ECDSA P-256,
 * self-signed) and the leaf certificates it issues to leaders (serverAuth, DNS/IP names),
 * followers and administrators (clientAuth, exactly one URI SAN: a SPIFFE ID), plus reading the
 * SPIFFE identity out of a peer certificate. Files are PEM: keys PKCS#8 0600, certificates 0644.
 * Nothing here overwrites a file, reads a private key that group or others can read, prompts
 * for a passphrase, or leaves private key bytes in memory it releases.
 *
 * Where the trust domain lives: the CA certificate carries it as its only URI SAN,
 * "spiffe://<td>" (the SPIFFE ID of a trust domain, with an empty path, as the X.509-SVID
 * standard allows for signing certificates), and in its name "CN=warden fleet CA <td>".
 * wd_pki_ca_load reads it from the URI SAN. */
#ifndef WD_PKI_H
#define WD_PKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "warden/error.h"
#include "warden/limits.h"
#include "codec/spiffe.h"
#include "crypto/crypto.h"

#define WD_PKI_CA_VALIDITY_S   (87600LL * 3600)  /* 10 years of 365 days: 87600h */
#define WD_PKI_LEAF_VALIDITY_S (2160LL * 3600)   /* 90 days: 2160h */
#define WD_PKI_SKEW_S          300               /* notBefore = issue time - 5 minutes */
/* "warden fleet CA " + the trust domain must fit X.509's 64-character common name. */
#define WD_PKI_MAX_CA_TD       48
#define WD_PKI_MAX_NAMES       32   /* DNS names and IP addresses of one leader */
#define WD_PKI_MAX_DNS_NAME    253
#define WD_PKI_SERIAL_BITS     159
/* Latest notAfter written: 9999-12-31T23:59:59Z (RFC 5280's GeneralizedTime range). */
#define WD_PKI_LATEST          253402300799LL

typedef struct wd_pki_ca wd_pki_ca;     /* CA certificate, its key and its trust domain */
typedef struct wd_pki_leaf wd_pki_leaf; /* an issued certificate and its new key */

/* ---- the fleet CA ---- */

/* Make a new CA for trust domain td (wd_spiffe_td_valid, at most WD_PKI_MAX_CA_TD bytes),
 * valid from now - WD_PKI_SKEW_S to now + valid_for. WD_E_USAGE for a bad td or validity
 * (valid_for <= 0, or an end past WD_PKI_LATEST). On error *out is NULL; otherwise the caller
 * frees it with wd_pki_ca_free. */
wd_code wd_pki_ca_create(const char *td, int64_t now, int64_t valid_for, wd_pki_ca **out,
                         wd_err *e);

/* Write dir/ca.crt (0644) and dir/ca.key (PKCS#8 PEM, 0600), creating dir (and missing
 * parents) with mode 0700 when it does not exist. Refuses (WD_E_IO, "refusing to overwrite")
 * when either file exists, before writing anything. On error neither file is left behind, and
 * a directory this call created is removed again. */
wd_code wd_pki_ca_save(const wd_pki_ca *ca, const char *dir, wd_err *e);

/* Load dir/ca.crt and dir/ca.key. The key file is refused when group or others can read it
 * (WD_E_IO), when it is over WD_MAX_KEY_FILE (WD_E_OVERSIZED), encrypted, not ECDSA P-256, or
 * not the certificate's key (WD_E_MALFORMED). The certificate must be PEM, at most
 * WD_MAX_CERT_FILE bytes (WD_E_OVERSIZED), a CA, and carry exactly one URI SAN
 * "spiffe://<td>" (else WD_E_MALFORMED). On error *out is NULL; otherwise the caller frees it
 * with wd_pki_ca_free. */
wd_code wd_pki_ca_load(const char *dir, wd_pki_ca **out, wd_err *e);

const char *wd_pki_ca_trust_domain(const wd_pki_ca *ca); /* valid while ca lives */
int64_t wd_pki_ca_not_after(const wd_pki_ca *ca);
X509 *wd_pki_ca_cert(const wd_pki_ca *ca); /* borrowed: valid while ca lives */
/* Releases the certificate and the key (OpenSSL wipes the private key). NULL is a no-op. */
void wd_pki_ca_free(wd_pki_ca *ca);

/* ---- leaf certificates ---- */

typedef enum wd_pki_kind {
    WD_PKI_LEADER = 1,   /* serverAuth; DNS SANs, IP SANs for names that are addresses */
    WD_PKI_FOLLOWER = 2, /* clientAuth; URI SAN spiffe://<td>/org/O/fleet/F/env/E/instance/I */
    WD_PKI_ADMIN = 3,    /* clientAuth; URI SAN spiffe://<td>/org/O/admin/NAME */
} wd_pki_kind;

typedef struct wd_pki_request {
    wd_pki_kind kind;
    const char *const *names; /* leader: 1..WD_PKI_MAX_NAMES DNS names or IP addresses */
    size_t nnames;
    wd_spiffe_id id;          /* follower / admin: id.kind must match kind */
    int64_t valid_for;        /* seconds, > 0 */
} wd_pki_request;

/* Issue a certificate for req, signed by ca, valid from now - WD_PKI_SKEW_S to now +
 * req->valid_for, with a new ECDSA P-256 key and a random 159-bit serial. WD_E_USAGE for a
 * request that is not well formed: a name that is neither a DNS name (letters, digits and '-'
 * in dot-separated labels of 1..63, at most 253 bytes, no wildcard, not all-numeric at the end)
 * nor an IPv4/IPv6 address, a name given twice, too many or no names, an identity whose
 * segments are not ids, a kind mismatch, or an end later than the CA's notAfter. On error *out
 * is NULL; otherwise the caller frees it with wd_pki_leaf_free. */
wd_code wd_pki_issue(const wd_pki_ca *ca, const wd_pki_request *req, int64_t now,
                     wd_pki_leaf **out, wd_err *e);

/* Write prefix.crt (0644) and prefix.key (PKCS#8 PEM, 0600). Same refusal and clean-up rules
 * as wd_pki_ca_save (no directory is created). */
wd_code wd_pki_leaf_save(const wd_pki_leaf *l, const char *prefix, wd_err *e);

/* What the certificate names: the SPIFFE URI, or the leader's names joined by ", ".
 * Valid while l lives. */
const char *wd_pki_leaf_identity(const wd_pki_leaf *l);
int64_t wd_pki_leaf_not_after(const wd_pki_leaf *l);
X509 *wd_pki_leaf_cert(const wd_pki_leaf *l);     /* borrowed */
EVP_PKEY *wd_pki_leaf_key(const wd_pki_leaf *l);  /* borrowed */
void wd_pki_leaf_free(wd_pki_leaf *l);

/* ---- peers ---- */

/* The warden identity of a peer certificate: its subjectAltName must hold exactly one URI, a
 * SPIFFE ID of one of the two shapes in trust domain td. Zero or several URIs, several SAN
 * extensions, or a bad shape: WD_E_MALFORMED; another trust domain: WD_E_WRONG_SCOPE (a leader
 * answers both with 403). Chain and key usage checks are the TLS stack's job, not this one's.
 * On error *out is zeroed. */
wd_code wd_pki_peer_id(const X509 *cert, const char *td, wd_spiffe_id *out, wd_err *e);

/* "sha256:<hex>" of the certificate's DER encoding (what `openssl x509 -fingerprint -sha256`
 * shows, in warden's digest spelling). */
wd_code wd_pki_fingerprint(const X509 *cert, char out[WD_DIGEST_STRLEN + 1], wd_err *e);

/* Seconds since the epoch of an ASN1_TIME into *out; false (and *out unchanged) when it
 * cannot be read. */
bool wd_pki_time(const ASN1_TIME *t, int64_t *out);

#endif
