/* tls.h — the leader's TLS: the server context of the mTLS listener (TLS 1.3 only, a client
 * certificate required in the handshake and verified against the client CA), the peer's
 * identity from its certificate's single URI SAN, and why a handshake failed (for metrics).
 * It must never let a connection without a verified client certificate reach HTTP. */
#ifndef WD_LEADER_TLS_H
#define WD_LEADER_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "warden/error.h"
#include "codec/spiffe.h"

/* Build the server context: cert is the leader's PEM chain, key its PEM private key (refused,
 * WD_E_IO, when group or others can access it), client_ca the PEM CA bundle client certificates
 * must chain to. TLS 1.3 only; SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT; session
 * tickets on. On success the caller owns *out (SSL_CTX_free); on error *out is NULL and e says
 * which file and why. */
wd_code wd_tls_server_ctx(const char *cert, const char *key, const char *client_ca,
                          SSL_CTX **out, wd_err *e);

/* The identity of a peer whose handshake completed: exactly one URI SAN, parsed with
 * wd_spiffe_parse against td. On success *id is filled, uri gets the SAN (cleaned, cut to
 * urisz) and true is returned. Otherwise false, *id zeroed, and why (whysz bytes) says what is
 * wrong: no certificate, no URI SAN, several URI SANs, a malformed SPIFFE ID, another trust
 * domain. Nothing is allocated for the caller. */
bool wd_tls_peer_identity(SSL *ssl, const char *td, wd_spiffe_id *id, char *uri, size_t urisz,
                          char *why, size_t whysz);

/* The metrics reason of a failed handshake from one OpenSSL error code (as queued on the
 * connection) and the verify result: "no-certificate", "bad-certificate" or "protocol".
 * Static strings. */
const char *wd_tls_failure_reason(unsigned long err, long verify_result);

#endif
