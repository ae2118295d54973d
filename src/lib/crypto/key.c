/* key.c — Ed25519 keys on OpenSSL 3 EVP: generate, save (PKCS#8 PEM 0600 + SPKI PEM 0644),
 * load with the ssh-style permission check, keyid, sign and verify. It must never overwrite a
 * file, never read a private key that group or others can read, never prompt for a passphrase,
 * and never leave key material in memory it releases (key-file buffers are wiped, and private
 * keys are decoded here rather than by OpenSSL's PEM reader, which leaves copies behind). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "base/base.h"
#include "warden/limits.h"

struct wd_key {
    EVP_PKEY *pkey;
    bool has_private;
    unsigned char pub[WD_ED25519_PUB_LEN];
    char id[WD_DIGEST_STRLEN + 1];
};

/* Room for a cleaned path in a message. */
#define NAME_MAX_SHOWN 256

/* The encodings of the eight points of order dividing 8 (y-coordinate, sign bit of x ignored),
 * as listed by libsodium's ge25519_has_small_order: 0, 1, the two order-8 y values, p-1, p, p+1.
 * Anyone can make a signature that verifies under such a key, so none may sign for warden. */
static const unsigned char small_order[7][WD_ED25519_PUB_LEN] = {
    {0x00},
    {0x01},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
     0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
     0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

/* Why pub may not be a warden key, or NULL: a small-order point, or a y-coordinate that is not
 * reduced modulo p = 2^255-19 (a second spelling of another key). Public data: not secret. */
static const char *weak_public_key(const unsigned char pub[WD_ED25519_PUB_LEN])
{
    unsigned char y[WD_ED25519_PUB_LEN];
    memcpy(y, pub, sizeof y);
    y[31] &= 0x7f;
    for (size_t i = 0; i < sizeof small_order / sizeof small_order[0]; i++)
        if (memcmp(y, small_order[i], sizeof y) == 0)
            return "a point of small order, for which anyone can forge signatures";
    bool top_all_ones = y[31] == 0x7f && y[0] >= 0xed;
    for (size_t i = 1; top_all_ones && i < 31; i++)
        top_all_ones = y[i] == 0xff;
    if (top_all_ones)
        return "not canonically encoded (y >= 2^255-19)";
    return NULL;
}

/* Wrap pk (ownership passes to this function: freed on error) into a wd_key. Refuses weak
 * public keys (see weak_public_key) with WD_E_MALFORMED. */
static wd_code key_wrap(EVP_PKEY *pk, bool priv, const char *what, wd_key **out, wd_err *e)
{
    *out = NULL;
    if (!EVP_PKEY_is_a(pk, "ED25519")) {
        const char *type = EVP_PKEY_get0_type_name(pk);
        wd_err_set(e, WD_E_MALFORMED, "%s: not an Ed25519 key (found %s)", what,
                   type ? type : "an unknown type");
        EVP_PKEY_free(pk);
        return WD_E_MALFORMED;
    }
    wd_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pk);
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
    }
    size_t publen = sizeof k->pub;
    if (EVP_PKEY_get_raw_public_key(pk, k->pub, &publen) != 1 || publen != WD_ED25519_PUB_LEN) {
        ERR_clear_error();
        EVP_PKEY_free(pk);
        free(k);
        return wd_err_set(e, WD_E_CRYPTO, "%s: cannot read the raw public key", what);
    }
    const char *weak = weak_public_key(k->pub);
    if (weak != NULL) {
        EVP_PKEY_free(pk);
        free(k);
        return wd_err_set(e, WD_E_MALFORMED, "%s: refused: the Ed25519 public key is %s", what,
                          weak);
    }
    wd_code c = wd_digest_of(k->pub, sizeof k->pub, k->id, e);
    if (c != WD_OK) {
        EVP_PKEY_free(pk);
        free(k);
        return c;
    }
    k->pkey = pk;
    k->has_private = priv;
    *out = k;
    return WD_OK;
}

void wd_key_free(wd_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey); /* OpenSSL wipes the private half */
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

wd_code wd_key_generate(wd_key **out, wd_err *e)
{
    *out = NULL;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pk == NULL) {
        ERR_clear_error();
        return wd_err_set(e, WD_E_CRYPTO, "key generation: OpenSSL could not generate an Ed25519 key");
    }
    return key_wrap(pk, true, "generated key", out, e);
}

wd_code wd_key_from_raw_public(const unsigned char pub[WD_ED25519_PUB_LEN], wd_key **out,
                               wd_err *e)
{
    *out = NULL;
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, WD_ED25519_PUB_LEN);
    if (pk == NULL) {
        ERR_clear_error();
        return wd_err_set(e, WD_E_MALFORMED, "public key: not a valid Ed25519 public key");
    }
    return key_wrap(pk, false, "public key", out, e);
}

wd_code wd_key_from_raw_private(const unsigned char seed[WD_ED25519_SEED_LEN], wd_key **out,
                                wd_err *e)
{
    *out = NULL;
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, WD_ED25519_SEED_LEN);
    if (pk == NULL) {
        ERR_clear_error();
        return wd_err_set(e, WD_E_MALFORMED, "private key: not a valid Ed25519 secret");
    }
    return key_wrap(pk, true, "private key", out, e);
}

const char *wd_key_id(const wd_key *k)
{
    return k->id;
}

const unsigned char *wd_key_raw_public(const wd_key *k)
{
    return k->pub;
}

bool wd_key_has_private(const wd_key *k)
{
    return k->has_private;
}

/* ---- sign and verify ---- */

wd_code wd_key_sign(const wd_key *k, const void *msg, size_t len,
                    unsigned char sig[WD_ED25519_SIG_LEN], wd_err *e)
{
    static const unsigned char empty[1] = {0};
    if (!k->has_private)
        return wd_err_set(e, WD_E_USAGE, "key %s: public key only, cannot sign", k->id);
    if (msg == NULL && len > 0)
        return wd_err_set(e, WD_E_INTERNAL, "sign: no message");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return wd_err_set(e, WD_E_NOMEM, "sign: out of memory");
    unsigned char out[WD_ED25519_SIG_LEN];
    size_t siglen = sizeof out;
    int ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, out, &siglen, msg ? msg : empty, len) == 1 &&
             siglen == WD_ED25519_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return wd_err_set(e, WD_E_CRYPTO, "key %s: OpenSSL could not sign", k->id);
    }
    memcpy(sig, out, sizeof out);
    return WD_OK;
}

bool wd_key_verify(const wd_key *k, const void *msg, size_t len, const unsigned char *sig,
                   size_t siglen)
{
    static const unsigned char empty[1] = {0};
    if (k == NULL || sig == NULL || siglen != WD_ED25519_SIG_LEN || (msg == NULL && len > 0))
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return false;
    bool ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, msg ? msg : empty, len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* ---- PEM text ---- */

/* Contents of a memory BIO as a new NUL-terminated string (NULL on failure). */
static char *bio_to_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0 || data == NULL)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

char *wd_key_public_pem(const wd_key *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL)
        return NULL;
    char *s = NULL;
    if (PEM_write_bio_PUBKEY(b, k->pkey) == 1)
        s = bio_to_string(b);
    BIO_free(b);
    ERR_clear_error();
    return s;
}

/* ---- save ---- */

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Create path (which must not exist) with exactly mode, write data, fsync. Returns 0, or -1
 * with errno set; *created tells whether the file now exists because of this call. */
static int create_file(const char *path, unsigned mode, const void *data, size_t len,
                       bool *created)
{
    *created = false;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                  (mode_t)mode);
    if (fd < 0)
        return -1;
    *created = true;
    int err = 0;
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

wd_code wd_key_save(const wd_key *k, const char *path, wd_err *e)
{
    char name[NAME_MAX_SHOWN];
    wd_clean_text(path, name, sizeof name);
    if (!k->has_private)
        return wd_err_set(e, WD_E_USAGE, "%s: key %s has no private half to save", name, k->id);

    size_t plen = strlen(path);
    char *pubpath = malloc(plen + 5);
    if (pubpath == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", name);
    memcpy(pubpath, path, plen);
    memcpy(pubpath + plen, ".pub", 5);

    wd_code rc = WD_OK;
    bool priv_created = false, pub_created = false;
    char *pubpem = NULL;
    /* The secure-heap BIO wipes its buffer (also on growth) when freed. */
    BIO *b = BIO_new(BIO_s_secmem());
    char *pem = NULL;
    long pemlen = 0;
    if (b == NULL || PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        (pemlen = BIO_get_mem_data(b, &pem)) <= 0) {
        ERR_clear_error();
        rc = wd_err_set(e, WD_E_CRYPTO, "%s: OpenSSL could not encode the private key", name);
        goto out;
    }
    pubpem = wd_key_public_pem(k);
    if (pubpem == NULL) {
        rc = wd_err_set(e, WD_E_CRYPTO, "%s.pub: OpenSSL could not encode the public key", name);
        goto out;
    }
    if (create_file(path, 0600, pem, (size_t)pemlen, &priv_created) != 0) {
        int err = errno;
        rc = wd_err_set(e, WD_E_IO, "%s: cannot create private key file: %s%s", name,
                        strerror(err), err == EEXIST ? " (refusing to overwrite)" : "");
        goto out;
    }
    if (create_file(pubpath, 0644, pubpem, strlen(pubpem), &pub_created) != 0) {
        int err = errno;
        rc = wd_err_set(e, WD_E_IO, "%s.pub: cannot create public key file: %s%s", name,
                        strerror(err), err == EEXIST ? " (refusing to overwrite)" : "");
        goto out;
    }
    if (wd_fsync_parent(path) != 0) {
        rc = wd_err_set(e, WD_E_IO, "%s: cannot sync its directory: %s", name, strerror(errno));
        goto out;
    }
out:
    if (rc != WD_OK) {
        if (pub_created)
            unlink(pubpath);
        if (priv_created)
            unlink(path);
    }
    BIO_free(b);
    free(pubpem);
    free(pubpath);
    return rc;
}

/* ---- load ---- */

enum want { WANT_PRIVATE, WANT_PUBLIC, WANT_ANY };

/* Never prompt: an encrypted private key is refused, not asked about. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static bool has_text(const unsigned char *buf, size_t len, const char *needle)
{
    return memmem(buf, len, needle, strlen(needle)) != NULL;
}

static wd_code refuse_mode(const char *name, const struct stat *st, wd_err *e)
{
    return wd_err_set(e, WD_E_IO,
                      "private key %s is readable by group or others (mode %04o); chmod 600 it",
                      name, (unsigned)(st->st_mode & 07777));
}

/* ---- private keys: PKCS#8 decoded here, into buffers that are wiped ----
 * OpenSSL's PEM and PKCS#8 decoders copy the secret into buffers of their own that they free
 * without wiping, so a private key file is decoded here instead: the PEM body is base64-decoded
 * into a buffer of ours and the key is built from its 32-byte seed with
 * EVP_PKEY_new_raw_private_key (whose key object wipes its copy when freed). Every buffer that
 * held key bytes is wiped with OPENSSL_cleanse on every path. The one form read is the one
 * OpenSSL, Node and Go write: unencrypted PKCS#8 v1 (RFC 8410 §7), a fixed 48-byte DER. The v2
 * form (OneAsymmetricKey with the public key, RFC 5958) is refused, as OpenSSL 3.0 refuses it:
 * it adds nothing but a public key that would have to be checked against the seed. */

#define PEM_PRIVATE_BEGIN "-----BEGIN PRIVATE KEY-----"
#define PEM_PRIVATE_END "-----END PRIVATE KEY-----"
/* 30 2e (SEQUENCE, 46) 02 01 00 (version 0 = v1) 30 05 06 03 2b 65 70 (id-Ed25519, no
 * parameters) 04 22 (privateKey OCTET STRING) 04 20 (CurvePrivateKey, 32 bytes): the seed. */
static const unsigned char ed25519_pkcs8_v1[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
                                                   0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                                   0x04, 0x22, 0x04, 0x20};
#define ED25519_PKCS8_V1_LEN (sizeof ed25519_pkcs8_v1 + WD_ED25519_SEED_LEN)

/* The algorithm a PKCS#8 DER that is not the Ed25519 v1 shape names, for a message ("EC",
 * "RSA", ...); "Ed25519" when it is an Ed25519 key in another form; NULL when der is not
 * PKCS#8 at all. OpenSSL's ASN.1 decoder clears the key's OCTET STRING when it frees it. */
static const char *pkcs8_type(const unsigned char *der, size_t len)
{
    if (len > (size_t)LONG_MAX)
        return NULL;
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 == NULL) {
        ERR_clear_error();
        return NULL;
    }
    const ASN1_OBJECT *obj = NULL;
    const char *name = "an unknown type";
    if (PKCS8_pkey_get0(&obj, NULL, NULL, NULL, p8) == 1) {
        switch (OBJ_obj2nid(obj)) {
        case NID_ED25519: name = "Ed25519"; break;
        case NID_X9_62_id_ecPublicKey: name = "EC"; break;
        case NID_rsaEncryption: name = "RSA"; break;
        case NID_rsassaPss: name = "RSA-PSS"; break;
        case NID_X25519: name = "X25519"; break;
        case NID_X448: name = "X448"; break;
        case NID_ED448: name = "ED448"; break;
        case NID_dsa: name = "DSA"; break;
        case NID_dhKeyAgreement: name = "DH"; break;
        default: break;
        }
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return name;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decode the PEM private key text in buf into a key. b64 and der are scratch buffers of the
 * caller (each at least len bytes), wiped by the caller. */
static wd_code decode_private(const unsigned char *buf, size_t len, const char *name,
                              char *b64, unsigned char *der, wd_key **out, wd_err *e)
{
    static const char not_pem[] = "%s: not a PEM private key (PKCS#8)";
    const unsigned char *begin = memmem(buf, len, PEM_PRIVATE_BEGIN, strlen(PEM_PRIVATE_BEGIN));
    if (begin == NULL)
        return wd_err_set(e, WD_E_MALFORMED, not_pem, name);
    const unsigned char *body = begin + strlen(PEM_PRIVATE_BEGIN);
    size_t rest = len - (size_t)(body - buf);
    const unsigned char *end = memmem(body, rest, PEM_PRIVATE_END, strlen(PEM_PRIVATE_END));
    if (end == NULL)
        return wd_err_set(e, WD_E_MALFORMED, not_pem, name);
    /* The body without its line breaks: base64 characters only. */
    size_t nb = 0;
    for (const unsigned char *p = body; p < end; p++) {
        if (is_space(*p))
            continue;
        bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || *p == '+' || *p == '/' || *p == '=';
        if (!ok)
            return wd_err_set(e, WD_E_MALFORMED, not_pem, name);
        b64[nb++] = (char)*p;
    }
    if (nb == 0 || nb % 4 != 0 || nb > (size_t)INT_MAX)
        return wd_err_set(e, WD_E_MALFORMED, not_pem, name);
    size_t pad = b64[nb - 1] == '=' ? (b64[nb - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < nb - pad; i++)
        if (b64[i] == '=')
            return wd_err_set(e, WD_E_MALFORMED, not_pem, name);
    int r = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)nb);
    if (r < 0 || (size_t)r < pad) {
        ERR_clear_error();
        return wd_err_set(e, WD_E_MALFORMED, not_pem, name);
    }
    size_t derlen = (size_t)r - pad;
    if (derlen != ED25519_PKCS8_V1_LEN ||
        memcmp(der, ed25519_pkcs8_v1, sizeof ed25519_pkcs8_v1) != 0) {
        /* The same algorithm identifier (id-Ed25519) after another length or version: an
         * Ed25519 key in a form not read here (v2, attributes, trailing bytes). */
        bool ed25519 = derlen >= sizeof ed25519_pkcs8_v1 && der[0] == 0x30 &&
                       memcmp(der + 2, ed25519_pkcs8_v1 + 2, 2) == 0 &&
                       memcmp(der + 5, ed25519_pkcs8_v1 + 5, 7) == 0;
        const char *type = ed25519 ? "Ed25519" : pkcs8_type(der, derlen);
        if (type == NULL)
            return wd_err_set(e, WD_E_MALFORMED, not_pem, name);
        if (strcmp(type, "Ed25519") == 0)
            return wd_err_set(e, WD_E_MALFORMED,
                              "%s: an Ed25519 private key, but not in the one form read: "
                              "unencrypted PKCS#8 v1 of exactly 48 bytes (no attributes, no "
                              "public key, nothing after it), as OpenSSL, Node and Go write it",
                              name);
        return wd_err_set(e, WD_E_MALFORMED, "%s: not an Ed25519 key (found %s)", name, type);
    }
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
                                                der + sizeof ed25519_pkcs8_v1,
                                                WD_ED25519_SEED_LEN);
    if (pk == NULL) {
        ERR_clear_error();
        return wd_err_set(e, WD_E_CRYPTO, "%s: OpenSSL could not build the Ed25519 key", name);
    }
    return key_wrap(pk, true, name, out, e);
}

/* A private key from PEM text, through decode_private with scratch buffers that are wiped
 * and freed on every path. */
static wd_code parse_private(const unsigned char *buf, size_t len, const char *name,
                             wd_key **out, wd_err *e)
{
    if (has_text(buf, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        return wd_err_set(e, WD_E_MALFORMED, "%s: encrypted private keys are not supported",
                          name);
    char *b64 = malloc(len + 1);
    unsigned char *der = malloc(len + 1);
    wd_code c;
    if (b64 == NULL || der == NULL)
        c = wd_err_set(e, WD_E_NOMEM, "%s: out of memory", name);
    else
        c = decode_private(buf, len, name, b64, der, out, e);
    if (b64 != NULL)
        OPENSSL_cleanse(b64, len + 1);
    if (der != NULL)
        OPENSSL_cleanse(der, len + 1);
    free(b64);
    free(der);
    return c;
}

/* Parse the PEM text in buf as the kind decided by the caller. */
static wd_code parse_pem(const unsigned char *buf, size_t len, bool priv, const char *name,
                         wd_key **out, wd_err *e)
{
    if (priv)
        return parse_private(buf, len, name, out, e);
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    if (b == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", name);
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (pk == NULL)
        return wd_err_set(e, WD_E_MALFORMED, "%s: not a PEM public key (SubjectPublicKeyInfo)",
                          name);
    return key_wrap(pk, false, name, out, e);
}

static wd_code load(const char *path, enum want want, wd_key **out, wd_err *e)
{
    char name[NAME_MAX_SHOWN];
    *out = NULL;
    wd_clean_text(path, name, sizeof name);
    /* O_NONBLOCK: a FIFO must not hang the open; it is refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "%s: cannot open key file: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "%s: not a regular file", name);
    }
    if (want == WANT_PRIVATE && (st.st_mode & 077) != 0) {
        close(fd);
        return refuse_mode(name, &st, e);
    }
    if ((uintmax_t)st.st_size > WD_MAX_KEY_FILE) {
        close(fd);
        return wd_err_set(e, WD_E_OVERSIZED, "%s: %jd bytes, larger than the key file limit of %u",
                          name, (intmax_t)st.st_size, WD_MAX_KEY_FILE);
    }
    /* Read through this descriptor (the one whose mode was checked), at most the cap + 1. */
    size_t cap = WD_MAX_KEY_FILE + 1;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", name);
    }
    size_t n = 0;
    int err = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    wd_code rc;
    if (err != 0) {
        rc = wd_err_set(e, WD_E_IO, "%s: read failed: %s", name, strerror(err));
    } else if (n > WD_MAX_KEY_FILE) {
        rc = wd_err_set(e, WD_E_OVERSIZED, "%s: larger than the key file limit of %u bytes", name,
                        WD_MAX_KEY_FILE);
    } else {
        bool priv = want == WANT_PRIVATE;
        rc = WD_OK;
        if (want == WANT_ANY) {
            /* Decide by the PEM label; a private key of any label gets the mode check. */
            if (has_text(buf, n, "PRIVATE KEY-----"))
                priv = true;
            else if (!has_text(buf, n, "-----BEGIN PUBLIC KEY-----"))
                rc = wd_err_set(e, WD_E_MALFORMED, "%s: not a PEM private or public key", name);
            if (rc == WD_OK && priv && (st.st_mode & 077) != 0)
                rc = refuse_mode(name, &st, e);
        }
        if (rc == WD_OK)
            rc = parse_pem(buf, n, priv, name, out, e);
    }
    OPENSSL_cleanse(buf, cap);
    free(buf);
    return rc;
}

wd_code wd_key_load_private(const char *path, wd_key **out, wd_err *e)
{
    return load(path, WANT_PRIVATE, out, e);
}

wd_code wd_key_load_public(const char *path, wd_key **out, wd_err *e)
{
    return load(path, WANT_PUBLIC, out, e);
}

wd_code wd_key_load_any(const char *path, wd_key **out, wd_err *e)
{
    return load(path, WANT_ANY, out, e);
}
