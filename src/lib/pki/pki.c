/* pki.c — the fleet CA and the certificates it issues (SPEC §12.1), on OpenSSL 3's X509 and
 * EVP APIs: ECDSA P-256 keys, SHA-256 signatures, the extensions TLS stacks check (basic
 * constraints, key usage, extended key usage, key identifiers, subject alternative names), and
 * the single-URI-SAN rule by which a leader knows its peers. It must never overwrite a file
 * (new files appear by link(2), which fails when the name exists), never read a private key that
 * group or others can read, never prompt for a passphrase, and never release memory that held
 * private key bytes without wiping it (secure-heap BIOs on the way out, OPENSSL_cleanse on the
 * way in). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "base/base.h"

#define TD_MAX 255
#define SHOWN 256 /* room for a cleaned path in a message */

struct wd_pki_ca {
    X509 *cert;
    EVP_PKEY *key;
    int64_t not_after;
    char td[TD_MAX + 1];
};

struct wd_pki_leaf {
    X509 *cert;
    EVP_PKEY *key;
    int64_t not_after;
    char *identity;
};

/* Fail with code and a message, dropping whatever OpenSSL queued. */
#define OSSL_FAIL(e, code, ...) (ERR_clear_error(), wd_err_set((e), (code), __VA_ARGS__))

/* ---- small helpers ---- */

bool wd_pki_time(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();
        return false;
    }
    time_t v = timegm(&tm);
    if (v == (time_t)-1)
        return false;
    *out = (int64_t)v;
    return true;
}

wd_code wd_pki_fingerprint(const X509 *cert, char out[WD_DIGEST_STRLEN + 1], wd_err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != WD_SHA256_LEN)
        return OSSL_FAIL(e, WD_E_CRYPTO, "certificate: OpenSSL could not hash it");
    wd_digest_format(md, out);
    return WD_OK;
}

static EVP_PKEY *new_p256_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (k == NULL)
        ERR_clear_error();
    return k;
}

static bool is_p256(EVP_PKEY *k)
{
    char group[64];
    size_t n = 0;
    if (!EVP_PKEY_is_a(k, "EC") ||
        EVP_PKEY_get_group_name(k, group, sizeof group, &n) != 1) {
        ERR_clear_error();
        return false;
    }
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* A random positive serial of at most WD_PKI_SERIAL_BITS bits (RFC 5280: at most 20 octets). */
static bool set_random_serial(X509 *x)
{
    unsigned char b[(WD_PKI_SERIAL_BITS + 1) / 8];
    if (RAND_bytes(b, (int)sizeof b) != 1)
        return false;
    b[0] &= 0x7f;       /* 159 bits: the top bit of 20 octets stays clear */
    b[sizeof b - 1] |= 1; /* never zero */
    BIGNUM *bn = BN_bin2bn(b, (int)sizeof b, NULL);
    bool ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static bool add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    if (ex == NULL)
        return false;
    bool ok = X509_add_ext(x, ex, -1) == 1;
    X509_EXTENSION_free(ex);
    return ok;
}

/* Append a name of type GEN_URI or GEN_DNS (IA5 text) to gens. */
static bool push_text_name(GENERAL_NAMES *gens, int type, const char *s)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *v = ASN1_IA5STRING_new();
    if (g == NULL || v == NULL || ASN1_STRING_set(v, s, (int)strlen(s)) != 1) {
        GENERAL_NAME_free(g);
        ASN1_IA5STRING_free(v);
        return false;
    }
    GENERAL_NAME_set0_value(g, type, v);
    if (sk_GENERAL_NAME_push(gens, g) <= 0) {
        GENERAL_NAME_free(g);
        return false;
    }
    return true;
}

static bool push_ip_name(GENERAL_NAMES *gens, const char *s)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);
    GENERAL_NAME *g = ip ? GENERAL_NAME_new() : NULL;
    if (g == NULL) {
        ASN1_OCTET_STRING_free(ip);
        return false;
    }
    GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
    if (sk_GENERAL_NAME_push(gens, g) <= 0) {
        GENERAL_NAME_free(g);
        return false;
    }
    return true;
}

/* subjectAltName from gens; critical when the subject name is empty (RFC 5280 §4.2.1.6). */
static bool add_san(X509 *x, GENERAL_NAMES *gens)
{
    int critical = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
    return X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical, X509V3_ADD_DEFAULT) == 1;
}

static bool set_cn(X509 *x, const char *cn)
{
    return X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName, MBSTRING_UTF8,
                                      (const unsigned char *)cn, -1, -1, 0) == 1;
}

static bool set_validity(X509 *x, int64_t nb, int64_t na)
{
    return ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) != NULL &&
           ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) != NULL;
}

/* The end of a validity period that starts now and lasts valid_for, checked. */
static wd_code validity_end(int64_t now, int64_t valid_for, int64_t *end, wd_err *e)
{
    if (valid_for <= 0)
        return wd_err_set(e, WD_E_USAGE, "validity: must be a positive duration");
    if (now < WD_PKI_SKEW_S || now > WD_PKI_LATEST)
        return wd_err_set(e, WD_E_USAGE, "validity: the clock reads %lld, not a usable time",
                          (long long)now);
    if (valid_for > WD_PKI_LATEST - now)
        return wd_err_set(e, WD_E_USAGE, "validity: would end after 9999-12-31T23:59:59Z");
    *end = now + valid_for;
    return WD_OK;
}

static char *pem_of_cert(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL, *data = NULL;
    long n;
    if (b != NULL && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &data)) > 0 &&
        (s = malloc((size_t)n + 1)) != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    BIO_free(b);
    ERR_clear_error();
    return s;
}

/* ---- files ---- */

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s != NULL) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb + 1);
    }
    return s;
}

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

/* Write data to a temporary file beside path (mode set before any byte), fsync it, then give it
 * the name path with link(2), which fails with EEXIST rather than replace anything. Returns 0,
 * or -1 with errno set; no temporary file remains either way. */
static int create_new(const char *path, const void *data, size_t len, unsigned mode)
{
    char *tmp = join(path, ".tmp.XXXXXX");
    if (tmp == NULL) {
        errno = ENOMEM;
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        errno = err;
        return -1;
    }
    int err = 0;
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err == 0 && link(tmp, path) != 0)
        err = errno;
    unlink(tmp);
    free(tmp);
    errno = err;
    return err == 0 ? 0 : -1;
}

/* Refuse (WD_E_IO) when path exists in any form, a dangling symlink included. */
static wd_code must_not_exist(const char *path, wd_err *e)
{
    char name[SHOWN];
    struct stat st;
    if (lstat(path, &st) == 0)
        return wd_err_set(e, WD_E_IO, "%s: already exists (refusing to overwrite)",
                          wd_clean_text(path, name, sizeof name));
    if (errno != ENOENT && errno != ENOTDIR) /* ENOTDIR: no such file can exist there */
        return wd_err_set(e, WD_E_IO, "%s: cannot check: %s",
                          wd_clean_text(path, name, sizeof name), strerror(errno));
    return WD_OK;
}

/* Write a key (PKCS#8 PEM, 0600) and a certificate (PEM, 0644) as two new files: both names are
 * checked before either is written, and on any error neither is left behind. */
static wd_code save_pair(X509 *cert, EVP_PKEY *key, const char *crt_path, const char *key_path,
                         wd_err *e)
{
    char name[SHOWN];
    wd_code rc = must_not_exist(crt_path, e);
    if (rc == WD_OK)
        rc = must_not_exist(key_path, e);
    if (rc != WD_OK)
        return rc;
    bool key_written = false, crt_written = false;
    char *crt_pem = pem_of_cert(cert);
    /* The secure-heap BIO wipes its buffer (also on growth) when freed. */
    BIO *b = BIO_new(BIO_s_secmem());
    char *pem = NULL;
    long pemlen = 0;
    if (crt_pem == NULL) {
        rc = OSSL_FAIL(e, WD_E_CRYPTO, "%s: OpenSSL could not encode the certificate",
                       wd_clean_text(crt_path, name, sizeof name));
        goto out;
    }
    if (b == NULL || PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        (pemlen = BIO_get_mem_data(b, &pem)) <= 0) {
        rc = OSSL_FAIL(e, WD_E_CRYPTO, "%s: OpenSSL could not encode the private key",
                       wd_clean_text(key_path, name, sizeof name));
        goto out;
    }
    if (create_new(key_path, pem, (size_t)pemlen, 0600) != 0) {
        int err = errno;
        rc = wd_err_set(e, WD_E_IO, "%s: cannot create: %s%s",
                        wd_clean_text(key_path, name, sizeof name), strerror(err),
                        err == EEXIST ? " (refusing to overwrite)" : "");
        goto out;
    }
    key_written = true;
    if (create_new(crt_path, crt_pem, strlen(crt_pem), 0644) != 0) {
        int err = errno;
        rc = wd_err_set(e, WD_E_IO, "%s: cannot create: %s%s",
                        wd_clean_text(crt_path, name, sizeof name), strerror(err),
                        err == EEXIST ? " (refusing to overwrite)" : "");
        goto out;
    }
    crt_written = true;
    if (wd_fsync_parent(crt_path) != 0)
        rc = wd_err_set(e, WD_E_IO, "%s: cannot sync its directory: %s",
                        wd_clean_text(crt_path, name, sizeof name), strerror(errno));
out:
    if (rc != WD_OK) {
        if (crt_written)
            unlink(crt_path);
        if (key_written)
            unlink(key_path);
    }
    BIO_free(b);
    free(crt_pem);
    return rc;
}

/* mkdir -p with mode 0700 for what is missing. Records in *created (up to max) the directories
 * made, outermost first, so that a failure can remove them again. Returns 0, or -1 with errno. */
#define MAX_CREATED 64
static int make_dirs(const char *dir, char **created, size_t *ncreated)
{
    *ncreated = 0;
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (p == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        struct stat st;
        if (stat(p, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                free(p);
                errno = ENOTDIR;
                return -1;
            }
        } else if (errno == ENOENT) {
            int err = 0;
            if (*ncreated == MAX_CREATED)
                err = ENAMETOOLONG;
            else if ((created[*ncreated] = strdup(p)) == NULL)
                err = ENOMEM;
            else if (mkdir(p, 0700) != 0) {
                err = errno;
                free(created[*ncreated]);
            }
            if (err != 0) {
                free(p);
                errno = err;
                return -1;
            }
            (*ncreated)++;
        } else {
            int err = errno;
            free(p);
            errno = err;
            return -1;
        }
        p[i] = c;
    }
    free(p);
    return 0;
}

/* Read a private key file through one descriptor: regular, not readable by group or others, at
 * most WD_MAX_KEY_FILE bytes, PKCS#8 PEM, unencrypted. The read buffer is wiped. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static wd_code load_private_key(const char *path, EVP_PKEY **out, wd_err *e)
{
    char name[SHOWN];
    *out = NULL;
    wd_clean_text(path, name, sizeof name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "%s: cannot open key file: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "%s: not a regular file", name);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return wd_err_set(e, WD_E_IO,
                          "private key %s is readable by group or others (mode %04o); chmod 600 "
                          "it", name, (unsigned)(st.st_mode & 07777));
    }
    if ((uintmax_t)st.st_size > WD_MAX_KEY_FILE) {
        close(fd);
        return wd_err_set(e, WD_E_OVERSIZED, "%s: %jd bytes, larger than the key file limit of %u",
                          name, (intmax_t)st.st_size, WD_MAX_KEY_FILE);
    }
    size_t cap = WD_MAX_KEY_FILE + 1, n = 0;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", name);
    }
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
    wd_code rc = WD_OK;
    if (err != 0) {
        rc = wd_err_set(e, WD_E_IO, "%s: read failed: %s", name, strerror(err));
    } else if (n > WD_MAX_KEY_FILE) {
        rc = wd_err_set(e, WD_E_OVERSIZED, "%s: larger than the key file limit of %u bytes", name,
                        WD_MAX_KEY_FILE);
    } else {
        BIO *b = BIO_new_mem_buf(buf, (int)n);
        EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
        BIO_free(b);
        ERR_clear_error();
        if (k == NULL)
            rc = wd_err_set(e, WD_E_MALFORMED, "%s: not an unencrypted PEM private key (PKCS#8)",
                            name);
        else if (!is_p256(k)) {
            EVP_PKEY_free(k);
            rc = wd_err_set(e, WD_E_MALFORMED, "%s: not an ECDSA P-256 key", name);
        } else
            *out = k;
    }
    OPENSSL_cleanse(buf, cap);
    free(buf);
    return rc;
}

/* ---- the CA ---- */

void wd_pki_ca_free(wd_pki_ca *ca)
{
    if (ca == NULL)
        return;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key); /* OpenSSL wipes the private half */
    OPENSSL_cleanse(ca, sizeof *ca);
    free(ca);
}

const char *wd_pki_ca_trust_domain(const wd_pki_ca *ca)
{
    return ca->td;
}

int64_t wd_pki_ca_not_after(const wd_pki_ca *ca)
{
    return ca->not_after;
}

X509 *wd_pki_ca_cert(const wd_pki_ca *ca)
{
    return ca->cert;
}

wd_code wd_pki_ca_create(const char *td, int64_t now, int64_t valid_for, wd_pki_ca **out,
                         wd_err *e)
{
    *out = NULL;
    char shown[64];
    if (!wd_spiffe_td_valid(td))
        return wd_err_set(e, WD_E_USAGE, "trust domain '%s': not a valid name (1-255 of a-z, "
                                         "0-9, '.', '-', '_')",
                          wd_clean_text(td, shown, sizeof shown));
    if (strlen(td) > WD_PKI_MAX_CA_TD)
        return wd_err_set(e, WD_E_USAGE, "trust domain '%s': longer than %d bytes, which do not "
                                         "fit the CA's name",
                          wd_clean_text(td, shown, sizeof shown), WD_PKI_MAX_CA_TD);
    int64_t end = 0;
    wd_code rc = validity_end(now, valid_for, &end, e);
    if (rc != WD_OK)
        return rc;
    wd_pki_ca *ca = calloc(1, sizeof *ca);
    if (ca == NULL)
        return wd_err_set(e, WD_E_NOMEM, "CA: out of memory");
    snprintf(ca->td, sizeof ca->td, "%s", td);
    ca->not_after = end;
    char cn[80], uri[16 + TD_MAX];
    snprintf(cn, sizeof cn, "warden fleet CA %s", td);
    snprintf(uri, sizeof uri, "spiffe://%s", td);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    ca->key = new_p256_key();
    ca->cert = X509_new();
    X509 *x = ca->cert;
    bool ok = gens != NULL && ca->key != NULL && x != NULL &&
              X509_set_version(x, X509_VERSION_3) == 1 && set_random_serial(x) && set_cn(x, cn) &&
              X509_set_issuer_name(x, X509_get_subject_name(x)) == 1 &&
              set_validity(x, now - WD_PKI_SKEW_S, end) && X509_set_pubkey(x, ca->key) == 1 &&
              add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
              add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
              add_ext(x, x, NID_subject_key_identifier, "hash") &&
              push_text_name(gens, GEN_URI, uri) && add_san(x, gens) &&
              X509_sign(x, ca->key, EVP_sha256()) > 0;
    GENERAL_NAMES_free(gens);
    if (!ok) {
        wd_pki_ca_free(ca);
        return OSSL_FAIL(e, WD_E_CRYPTO, "CA: OpenSSL could not make the certificate");
    }
    *out = ca;
    return WD_OK;
}

wd_code wd_pki_ca_save(const wd_pki_ca *ca, const char *dir, wd_err *e)
{
    char name[SHOWN];
    char *crt = join(dir, "/ca.crt"), *key = join(dir, "/ca.key");
    char *created[MAX_CREATED];
    size_t ncreated = 0;
    wd_code rc = WD_OK;
    if (crt == NULL || key == NULL) {
        rc = wd_err_set(e, WD_E_NOMEM, "out of memory");
        goto out;
    }
    if (*dir == '\0') {
        rc = wd_err_set(e, WD_E_USAGE, "CA directory: empty name");
        goto out;
    }
    /* Refuse before creating any directory, so a refusal changes nothing. */
    rc = must_not_exist(crt, e);
    if (rc == WD_OK)
        rc = must_not_exist(key, e);
    if (rc != WD_OK)
        goto out;
    if (make_dirs(dir, created, &ncreated) != 0) {
        rc = wd_err_set(e, WD_E_IO, "%s: cannot create directory: %s",
                        wd_clean_text(dir, name, sizeof name), strerror(errno));
        goto out;
    }
    rc = save_pair(ca->cert, ca->key, crt, key, e);
out:
    for (size_t i = ncreated; i > 0; i--) {
        if (rc != WD_OK)
            rmdir(created[i - 1]);
        free(created[i - 1]);
    }
    free(crt);
    free(key);
    return rc;
}

/* The CA's trust domain: its only URI SAN must be "spiffe://<td>" with a valid td. */
static wd_code ca_trust_domain(const X509 *cert, const char *name, char td[TD_MAX + 1],
                               wd_err *e)
{
    int crit = -1;
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    ERR_clear_error();
    const ASN1_IA5STRING *uri = NULL;
    int nuri = 0;
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_URI) {
            uri = g->d.uniformResourceIdentifier;
            nuri++;
        }
    }
    wd_code rc = WD_OK;
    if (nuri != 1) {
        rc = wd_err_set(e, WD_E_MALFORMED,
                        "%s: not a warden fleet CA: it must name its trust domain in exactly one "
                        "URI SAN spiffe://<trust-domain> (found %d)", name, nuri);
    } else {
        const char *s = (const char *)ASN1_STRING_get0_data(uri);
        int n = ASN1_STRING_length(uri);
        if (n <= 9 || n > 9 + TD_MAX || memcmp(s, "spiffe://", 9) != 0) {
            rc = wd_err_set(e, WD_E_MALFORMED, "%s: its URI SAN is not spiffe://<trust-domain>",
                            name);
        } else {
            memcpy(td, s + 9, (size_t)n - 9);
            td[n - 9] = '\0';
            if (strlen(td) != (size_t)n - 9 || !wd_spiffe_td_valid(td))
                rc = wd_err_set(e, WD_E_MALFORMED, "%s: its URI SAN does not hold a valid trust "
                                                   "domain name", name);
        }
    }
    GENERAL_NAMES_free(gens);
    return rc;
}

wd_code wd_pki_ca_load(const char *dir, wd_pki_ca **out, wd_err *e)
{
    *out = NULL;
    char name[SHOWN];
    char *crt = join(dir, "/ca.crt"), *key = join(dir, "/ca.key");
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_pki_ca *ca = calloc(1, sizeof *ca);
    wd_code rc = WD_OK;
    if (crt == NULL || key == NULL || ca == NULL) {
        rc = wd_err_set(e, WD_E_NOMEM, "out of memory");
        goto out;
    }
    wd_clean_text(crt, name, sizeof name);
    rc = wd_read_file(crt, WD_MAX_CERT_FILE, &buf, &len, e);
    if (rc != WD_OK)
        goto out;
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    ca->cert = b ? PEM_read_bio_X509(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    if (ca->cert == NULL) {
        rc = wd_err_set(e, WD_E_MALFORMED, "%s: not a PEM certificate", name);
        goto out;
    }
    if (X509_check_ca(ca->cert) != 1) {
        rc = OSSL_FAIL(e, WD_E_MALFORMED, "%s: not a CA certificate", name);
        goto out;
    }
    if (!wd_pki_time(X509_get0_notAfter(ca->cert), &ca->not_after)) {
        rc = wd_err_set(e, WD_E_MALFORMED, "%s: unreadable notAfter", name);
        goto out;
    }
    rc = ca_trust_domain(ca->cert, name, ca->td, e);
    if (rc != WD_OK)
        goto out;
    rc = load_private_key(key, &ca->key, e);
    if (rc != WD_OK)
        goto out;
    if (X509_check_private_key(ca->cert, ca->key) != 1) {
        char kname[SHOWN];
        rc = OSSL_FAIL(e, WD_E_MALFORMED, "%s: not the key of %s",
                       wd_clean_text(key, kname, sizeof kname), name);
        goto out;
    }
    if (X509_verify(ca->cert, ca->key) != 1) {
        rc = OSSL_FAIL(e, WD_E_MALFORMED, "%s: not self-signed by its key", name);
        goto out;
    }
out:
    if (rc == WD_OK) {
        *out = ca;
        ca = NULL;
    }
    wd_pki_ca_free(ca);
    free(buf);
    free(crt);
    free(key);
    return rc;
}

/* ---- leaves ---- */

void wd_pki_leaf_free(wd_pki_leaf *l)
{
    if (l == NULL)
        return;
    X509_free(l->cert);
    EVP_PKEY_free(l->key);
    free(l->identity);
    OPENSSL_cleanse(l, sizeof *l);
    free(l);
}

const char *wd_pki_leaf_identity(const wd_pki_leaf *l)
{
    return l->identity;
}

int64_t wd_pki_leaf_not_after(const wd_pki_leaf *l)
{
    return l->not_after;
}

X509 *wd_pki_leaf_cert(const wd_pki_leaf *l)
{
    return l->cert;
}

EVP_PKEY *wd_pki_leaf_key(const wd_pki_leaf *l)
{
    return l->key;
}

/* A host name: dot-separated labels of letters, digits and '-' (not first or last), 1..63
 * bytes each, at most WD_PKI_MAX_DNS_NAME in all, and a last label that is not all digits (that
 * would be a mistyped address). */
static bool dns_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WD_PKI_MAX_DNS_NAME)
        return false;
    size_t lab = 0;
    bool digits_only = true;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (lab == 0 || lab > 63 || s[i - 1] == '-')
                return false;
            if (c == '\0')
                return !digits_only;
            lab = 0;
            digits_only = true;
            continue;
        }
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !digit && !(c == '-' && lab > 0))
            return false;
        digits_only = digits_only && digit;
        lab++;
    }
    return false;
}

/* The binary form of an IPv4 or IPv6 address (length 4 or 16), or 0 when s is not one. */
static int ip_bytes(const char *s, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, out) == 1)
        return 16;
    return 0;
}

/* Check the leader's names and put them into gens; the identity text is their list. */
static wd_code leader_names(const wd_pki_request *req, GENERAL_NAMES *gens, char **identity,
                            wd_err *e)
{
    char shown[80];
    if (req->nnames == 0 || req->names == NULL)
        return wd_err_set(e, WD_E_USAGE, "leader: at least one DNS name or IP address is needed");
    if (req->nnames > WD_PKI_MAX_NAMES)
        return wd_err_set(e, WD_E_USAGE, "leader: more than %d names",
                          WD_PKI_MAX_NAMES);
    size_t total = 1;
    for (size_t i = 0; i < req->nnames; i++) {
        const char *s = req->names[i];
        unsigned char ip[16], ip2[16];
        int iplen = ip_bytes(s, ip);
        if (iplen == 0 && !dns_name_ok(s))
            return wd_err_set(e, WD_E_USAGE, "leader name '%s': neither a DNS name nor an IP "
                                             "address",
                              wd_clean_text(s, shown, sizeof shown));
        for (size_t j = 0; j < i; j++) {
            const char *t = req->names[j];
            bool same = iplen ? ip_bytes(t, ip2) == iplen && memcmp(ip, ip2, (size_t)iplen) == 0
                              : strcasecmp(s, t) == 0;
            if (same)
                return wd_err_set(e, WD_E_USAGE, "leader name '%s': given twice",
                                  wd_clean_text(s, shown, sizeof shown));
        }
        if (!(iplen ? push_ip_name(gens, s) : push_text_name(gens, GEN_DNS, s)))
            return OSSL_FAIL(e, WD_E_CRYPTO, "leader: OpenSSL could not add a name");
        total += strlen(s) + 2;
    }
    char *id = malloc(total);
    if (id == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    size_t used = 0;
    for (size_t i = 0; i < req->nnames; i++) {
        size_t k = strlen(req->names[i]);
        if (i > 0) {
            memcpy(id + used, ", ", 2);
            used += 2;
        }
        memcpy(id + used, req->names[i], k);
        used += k;
    }
    id[used] = '\0';
    *identity = id;
    return WD_OK;
}

wd_code wd_pki_issue(const wd_pki_ca *ca, const wd_pki_request *req, int64_t now,
                     wd_pki_leaf **out, wd_err *e)
{
    *out = NULL;
    int64_t end = 0;
    wd_code rc = validity_end(now, req->valid_for, &end, e);
    if (rc != WD_OK)
        return rc;
    if (end > ca->not_after) {
        char t[WD_TIME_STRLEN + 1];
        wd_time_format(ca->not_after, t);
        return wd_err_set(e, WD_E_USAGE, "validity: the certificate would outlive the CA, which "
                                         "expires %s", t);
    }
    wd_pki_leaf *l = calloc(1, sizeof *l);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    if (l == NULL || gens == NULL) {
        free(l);
        GENERAL_NAMES_free(gens);
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    }
    l->not_after = end;
    const char *cn = NULL, *eku = "clientAuth";
    switch (req->kind) {
    case WD_PKI_LEADER:
        rc = leader_names(req, gens, &l->identity, e);
        cn = req->nnames > 0 ? req->names[0] : NULL;
        eku = "serverAuth";
        break;
    case WD_PKI_FOLLOWER:
    case WD_PKI_ADMIN: {
        wd_peer_kind want = req->kind == WD_PKI_FOLLOWER ? WD_PEER_FOLLOWER : WD_PEER_ADMIN;
        char uri[WD_SPIFFE_MAX];
        if (req->id.kind != want) {
            rc = wd_err_set(e, WD_E_USAGE, "identity: its kind does not match the request");
            break;
        }
        rc = wd_spiffe_format(&req->id, ca->td, uri, sizeof uri, e);
        if (rc != WD_OK)
            break;
        if (!push_text_name(gens, GEN_URI, uri)) {
            rc = OSSL_FAIL(e, WD_E_CRYPTO, "identity: OpenSSL could not add the URI");
            break;
        }
        if ((l->identity = strdup(uri)) == NULL)
            rc = wd_err_set(e, WD_E_NOMEM, "out of memory");
        cn = req->kind == WD_PKI_FOLLOWER ? req->id.instance : req->id.admin;
        break;
    }
    default:
        rc = wd_err_set(e, WD_E_USAGE, "unknown certificate kind %d", (int)req->kind);
    }
    if (rc != WD_OK) {
        GENERAL_NAMES_free(gens);
        wd_pki_leaf_free(l);
        return rc;
    }
    /* The common name is for people reading the certificate; the SAN is the identity. X.509
     * caps it at 64 characters: a longer name leaves the subject empty (and the SAN critical). */
    bool with_cn = cn != NULL && strlen(cn) <= 64;
    l->key = new_p256_key();
    l->cert = X509_new();
    X509 *x = l->cert;
    char ekuv[32];
    snprintf(ekuv, sizeof ekuv, "%s", eku);
    bool ok = l->key != NULL && x != NULL && X509_set_version(x, X509_VERSION_3) == 1 &&
              set_random_serial(x) && (!with_cn || set_cn(x, cn)) &&
              X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) == 1 &&
              set_validity(x, now - WD_PKI_SKEW_S, end) && X509_set_pubkey(x, l->key) == 1 &&
              add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") &&
              add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") &&
              add_ext(x, ca->cert, NID_ext_key_usage, ekuv) &&
              add_ext(x, ca->cert, NID_subject_key_identifier, "hash") &&
              add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") &&
              add_san(x, gens) && X509_sign(x, ca->key, EVP_sha256()) > 0;
    GENERAL_NAMES_free(gens);
    if (!ok) {
        wd_pki_leaf_free(l);
        return OSSL_FAIL(e, WD_E_CRYPTO, "OpenSSL could not make the certificate");
    }
    *out = l;
    return WD_OK;
}

wd_code wd_pki_leaf_save(const wd_pki_leaf *l, const char *prefix, wd_err *e)
{
    if (*prefix == '\0')
        return wd_err_set(e, WD_E_USAGE, "output prefix: empty");
    char *crt = join(prefix, ".crt"), *key = join(prefix, ".key");
    wd_code rc = crt && key ? save_pair(l->cert, l->key, crt, key, e)
                            : wd_err_set(e, WD_E_NOMEM, "out of memory");
    free(crt);
    free(key);
    return rc;
}

/* ---- peers ---- */

wd_code wd_pki_peer_id(const X509 *cert, const char *td, wd_spiffe_id *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    if (cert == NULL)
        return wd_err_set(e, WD_E_MALFORMED, "peer: no certificate");
    int crit = -1;
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    ERR_clear_error();
    if (gens == NULL)
        return wd_err_set(e, WD_E_MALFORMED, crit == -2
                                                 ? "peer: several subjectAltName extensions"
                                                 : "peer: no subjectAltName with a SPIFFE ID");
    const ASN1_IA5STRING *uri = NULL;
    int nuri = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_URI) {
            uri = g->d.uniformResourceIdentifier;
            nuri++;
        }
    }
    wd_code rc;
    if (nuri != 1)
        rc = wd_err_set(e, WD_E_MALFORMED, "peer: %d URI SANs; exactly one SPIFFE ID is needed",
                        nuri);
    else
        rc = wd_spiffe_parse((const char *)ASN1_STRING_get0_data(uri),
                             (size_t)ASN1_STRING_length(uri), td, out, e);
    GENERAL_NAMES_free(gens);
    return rc;
}
