/* tls.c — the leader's TLS 1.3 server context for mutual TLS, the peer identity taken from the
 * client certificate's single URI SAN (a SPIFFE ID of the leader's trust domain), and the
 * classification of failed handshakes for metrics (SPEC §12.1).
 * It must never accept TLS below 1.3, a handshake without a verified client certificate, or a
 * private key file that group or others can access; it never logs key material. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/base.h"
#include "tls.h"

/* The last OpenSSL error as text (the queue is cleared). */
static const char *ossl_why(char *buf, size_t n)
{
    unsigned long err = ERR_peek_last_error();
    if (err == 0)
        snprintf(buf, n, "unknown error");
    else
        ERR_error_string_n(err, buf, n);
    ERR_clear_error();
    return buf;
}

/* Read the private key at path, refusing a file group or others can access. */
static wd_code load_key(const char *path, EVP_PKEY **out, wd_err *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "%s: cannot open key file: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "%s: not a regular file", path);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return wd_err_set(e, WD_E_IO,
                          "private key %s is readable by group or others (mode %04o); chmod 600 it",
                          path, (unsigned)(st.st_mode & 07777));
    }
    if (st.st_size > (off_t)WD_MAX_KEY_FILE) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "%s: larger than %u bytes: not a key", path,
                          WD_MAX_KEY_FILE);
    }
    unsigned char buf[WD_MAX_KEY_FILE];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            OPENSSL_cleanse(buf, len);
            return wd_err_set(e, WD_E_IO, "%s: %s", path, strerror(err));
        }
        if (r == 0 || len + (size_t)r == sizeof buf) {
            len += (size_t)r;
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"") : NULL;
    BIO_free(b);
    OPENSSL_cleanse(buf, len);
    if (k == NULL) {
        char why[256];
        return wd_err_set(e, WD_E_IO, "%s: not a PEM private key (%s)", path,
                          ossl_why(why, sizeof why));
    }
    *out = k;
    return WD_OK;
}

wd_code wd_tls_server_ctx(const char *cert, const char *key, const char *client_ca,
                          SSL_CTX **out, wd_err *e)
{
    *out = NULL;
    char why[256];
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return wd_err_set(e, WD_E_CRYPTO, "TLS context: %s", ossl_why(why, sizeof why));
    wd_code rc = WD_OK;
    EVP_PKEY *pk = NULL;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        rc = wd_err_set(e, WD_E_CRYPTO, "TLS 1.3: %s", ossl_why(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        rc = wd_err_set(e, WD_E_IO, "%s: cannot load the certificate chain (%s)", cert,
                        ossl_why(why, sizeof why));
        goto fail;
    }
    rc = load_key(key, &pk, e);
    if (rc != WD_OK)
        goto fail;
    if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        rc = wd_err_set(e, WD_E_IO, "%s: the key does not match the certificate %s (%s)", key,
                        cert, ossl_why(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
        rc = wd_err_set(e, WD_E_IO, "%s: cannot load the client CA (%s)", client_ca,
                        ossl_why(why, sizeof why));
        goto fail;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
    if (names == NULL) {
        rc = wd_err_set(e, WD_E_IO, "%s: no CA certificate in the file (%s)", client_ca,
                        ossl_why(why, sizeof why));
        goto fail;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    /* resumed sessions keep the verified peer certificate; tickets are on (the default) */
    static const unsigned char sid_ctx[] = "warden-leader";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 2);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    EVP_PKEY_free(pk);
    *out = ctx;
    return WD_OK;
fail:
    EVP_PKEY_free(pk);
    SSL_CTX_free(ctx);
    return rc;
}

bool wd_tls_peer_identity(SSL *ssl, const char *td, wd_spiffe_id *id, char *uri, size_t urisz,
                          char *why, size_t whysz)
{
    memset(id, 0, sizeof *id);
    if (urisz > 0)
        uri[0] = '\0';
    X509 *x = SSL_get1_peer_certificate(ssl);
    if (x == NULL) {
        snprintf(why, whysz, "no client certificate");
        return false;
    }
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    X509_free(x);
    const ASN1_IA5STRING *found = NULL;
    int nuri = 0;
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_URI) {
            nuri++;
            found = g->d.uniformResourceIdentifier;
        }
    }
    bool ok = false;
    if (nuri == 0) {
        snprintf(why, whysz, "the client certificate has no URI SAN (a SPIFFE ID is required)");
    } else if (nuri > 1) {
        snprintf(why, whysz, "the client certificate has %d URI SANs; exactly one is allowed",
                 nuri);
    } else {
        const char *s = (const char *)ASN1_STRING_get0_data(found);
        size_t n = (size_t)ASN1_STRING_length(found);
        wd_err err;
        wd_code rc = wd_spiffe_parse(s, n, td, id, &err);
        char shown[WD_SPIFFE_MAX + 1];
        size_t sn = n < WD_SPIFFE_MAX ? n : WD_SPIFFE_MAX;
        memcpy(shown, s, sn);
        shown[sn] = '\0';
        if (urisz > 0)
            wd_clean_text(shown, uri, urisz);
        if (rc == WD_OK) {
            ok = true;
        } else if (rc == WD_E_WRONG_SCOPE) {
            snprintf(why, whysz, "the client certificate's SPIFFE ID is not in trust domain %s",
                     td);
        } else {
            snprintf(why, whysz, "the client certificate's URI SAN is not a warden SPIFFE ID: %s",
                     err.msg);
        }
        if (!ok)
            memset(id, 0, sizeof *id);
    }
    GENERAL_NAMES_free(sans);
    return ok;
}

const char *wd_tls_failure_reason(unsigned long err, long verify_result)
{
    if (verify_result != X509_V_OK)
        return "bad-certificate";
    if (ERR_GET_LIB(err) == ERR_LIB_SSL) {
        switch (ERR_GET_REASON(err)) {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            return "no-certificate";
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            return "bad-certificate";
        }
    }
    return "protocol";
}
