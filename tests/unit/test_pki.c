/* test_pki.c — focus: the fleet CA and the certificates it issues, field by field (constraints,
 * key usages, key identifiers, SANs, serials, validity), chains checked with X509_verify_cert
 * for the TLS client and server purposes, saving and loading with their refusals (no overwrite,
 * key file permissions, wrong keys, size limits), and reading a peer's SPIFFE identity. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/base.h"
#include "pki/pki.h"

#define TD "example.org"
#define NOW ((int64_t)1900000000) /* 2030-03-17 */

static char tmpdir[64];
static char path_buf[512];

static const char *path(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", tmpdir, name);
    return path_buf;
}

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/wd-pki-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static unsigned mode_of(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static void write_text(const char *p, const char *s, unsigned mode)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static wd_pki_ca *new_ca(void)
{
    wd_pki_ca *ca = NULL;
    wd_err e;
    assert_int_equal(wd_pki_ca_create(TD, NOW, WD_PKI_CA_VALIDITY_S, &ca, &e), WD_OK);
    assert_non_null(ca);
    return ca;
}

static wd_pki_request follower_req(const char *instance)
{
    wd_pki_request r;
    memset(&r, 0, sizeof r);
    r.kind = WD_PKI_FOLLOWER;
    r.id.kind = WD_PEER_FOLLOWER;
    strcpy(r.id.org, "acme");
    strcpy(r.id.fleet, "prod");
    strcpy(r.id.env, "eu1");
    snprintf(r.id.instance, sizeof r.id.instance, "%s", instance);
    r.valid_for = WD_PKI_LEAF_VALIDITY_S;
    return r;
}

static wd_pki_request admin_req(const char *name)
{
    wd_pki_request r;
    memset(&r, 0, sizeof r);
    r.kind = WD_PKI_ADMIN;
    r.id.kind = WD_PEER_ADMIN;
    strcpy(r.id.org, "acme");
    snprintf(r.id.admin, sizeof r.id.admin, "%s", name);
    r.valid_for = WD_PKI_LEAF_VALIDITY_S;
    return r;
}

static wd_pki_leaf *issue(const wd_pki_ca *ca, const wd_pki_request *r)
{
    wd_pki_leaf *l = NULL;
    wd_err e;
    wd_code c = wd_pki_issue(ca, r, NOW, &l, &e);
    if (c != WD_OK)
        fail_msg("issue: %s", e.msg);
    return l;
}

static int64_t cert_time(const ASN1_TIME *t)
{
    int64_t v = 0;
    assert_true(wd_pki_time(t, &v));
    return v;
}

static int ext_critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    assert_true(i >= 0);
    assert_int_equal(X509_get_ext_by_NID(x, nid, i), -1); /* only one */
    return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* Check cert against the CA alone, for purpose (X509_PURPOSE_SSL_CLIENT / _SERVER), at NOW.
 * host and ip, when given, must match too. Returns the verify result (1 = ok). */
static int chain_ok(X509 *ca, X509 *cert, int purpose, const char *host, const char *ip)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_non_null(st);
    assert_non_null(ctx);
    assert_int_equal(X509_STORE_add_cert(st, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, st, cert, NULL), 1);
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(vp, (time_t)NOW + 60);
    X509_VERIFY_PARAM_set_purpose(vp, purpose);
    if (host)
        X509_VERIFY_PARAM_set1_host(vp, host, 0);
    if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(vp, ip);
    int r = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return r;
}

/* The SANs of x as "TYPE:value" lines (URI:, DNS:, IP:), in order. */
static void sans(X509 *x, char *out, size_t outsz)
{
    out[0] = '\0';
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(g);
    size_t used = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(g); i++) {
        GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
        const ASN1_STRING *s = NULL;
        const char *t = "?";
        if (n->type == GEN_URI) {
            s = n->d.uniformResourceIdentifier;
            t = "URI";
        } else if (n->type == GEN_DNS) {
            s = n->d.dNSName;
            t = "DNS";
        } else if (n->type == GEN_IPADD) {
            s = n->d.iPAddress;
            t = "IP";
        }
        assert_non_null(s);
        if (n->type == GEN_IPADD) {
            used += (size_t)snprintf(out + used, outsz - used, "%sIP:%d", i ? "\n" : "",
                                     ASN1_STRING_length(s));
            for (int k = 0; k < ASN1_STRING_length(s); k++)
                used += (size_t)snprintf(out + used, outsz - used, ".%u",
                                         ASN1_STRING_get0_data(s)[k]);
        } else {
            used += (size_t)snprintf(out + used, outsz - used, "%s%s:%.*s", i ? "\n" : "", t,
                                     ASN1_STRING_length(s), ASN1_STRING_get0_data(s));
        }
    }
    GENERAL_NAMES_free(g);
}

/* A test certificate with arbitrary URI SANs (NULL-terminated list; none means no SAN
 * extension), CA or not, self-signed with a new P-256 key (returned in *key). */
static X509 *craft(const char *const *uris, bool ca, EVP_PKEY **key)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"crafted", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)NOW - 3600);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)NOW + 86400 * 365 * 20LL);
    X509_set_pubkey(x, k);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *bc = X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints,
                                             ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(bc);
    if (uris && uris[0]) {
        GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
        for (size_t i = 0; uris[i]; i++) {
            GENERAL_NAME *n = GENERAL_NAME_new();
            ASN1_IA5STRING *s = ASN1_IA5STRING_new();
            ASN1_STRING_set(s, uris[i], (int)strlen(uris[i]));
            GENERAL_NAME_set0_value(n, GEN_URI, s);
            sk_GENERAL_NAME_push(g, n);
        }
        X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, X509V3_ADD_DEFAULT);
        GENERAL_NAMES_free(g);
    }
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    *key = k;
    return x;
}

static void write_pem_cert(const char *p, X509 *x)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
}

static void write_pem_key(const char *p, EVP_PKEY *k)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    chmod(p, 0600);
}

/* ---- the CA ---- */

static void t01_ca_fields(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    X509 *x = wd_pki_ca_cert(ca);
    assert_string_equal(wd_pki_ca_trust_domain(ca), TD);
    char cn[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                                          sizeof cn) > 0);
    assert_string_equal(cn, "warden fleet CA " TD);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    /* basicConstraints CA:TRUE, critical, path length 0 */
    assert_int_equal(X509_check_ca(x), 1);
    assert_int_equal(ext_critical(x, NID_basic_constraints), 1);
    assert_int_equal(X509_get_pathlen(x), 0);
    /* keyUsage keyCertSign + cRLSign, critical */
    assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(ext_critical(x, NID_key_usage), 1);
    assert_non_null(X509_get0_subject_key_id(x));
    /* the trust domain as the only URI SAN */
    char s[256];
    sans(x, s, sizeof s);
    assert_string_equal(s, "URI:spiffe://" TD);
    /* validity: now - 5 minutes to now + 10 years */
    assert_int_equal(cert_time(X509_get0_notBefore(x)), NOW - 300);
    assert_int_equal(cert_time(X509_get0_notAfter(x)), NOW + 87600LL * 3600);
    assert_int_equal(wd_pki_ca_not_after(ca), NOW + 87600LL * 3600);
    /* ECDSA P-256, self-signed with SHA-256 */
    EVP_PKEY *pk = X509_get0_pubkey(x);
    assert_true(EVP_PKEY_is_a(pk, "EC"));
    char group[32];
    assert_int_equal(EVP_PKEY_get_group_name(pk, group, sizeof group, NULL), 1);
    assert_string_equal(group, "prime256v1");
    assert_int_equal(X509_verify(x, pk), 1);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    wd_pki_ca_free(ca);
}

static void t02_ca_refusals(void **state)
{
    (void)state;
    wd_pki_ca *ca = (wd_pki_ca *)1;
    wd_err e;
    const char *bad[] = {"", "Example.org", "example.org:443", "a/b", "spiffe://example.org"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wd_pki_ca_create(bad[i], NOW, 3600, &ca, &e), WD_E_USAGE);
        assert_null(ca);
    }
    /* trust domain length: 48 fits the CA's name, 49 does not */
    char td[64];
    memset(td, 'a', 48);
    td[48] = '\0';
    assert_int_equal(wd_pki_ca_create(td, NOW, 3600, &ca, &e), WD_OK);
    char cn[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(wd_pki_ca_cert(ca)),
                                          NID_commonName, cn, sizeof cn) == 64);
    wd_pki_ca_free(ca);
    td[48] = 'a';
    td[49] = '\0';
    assert_int_equal(wd_pki_ca_create(td, NOW, 3600, &ca, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "longer than 48"));
    assert_null(ca);
    /* validity */
    assert_int_equal(wd_pki_ca_create(TD, NOW, 0, &ca, &e), WD_E_USAGE);
    assert_int_equal(wd_pki_ca_create(TD, NOW, -1, &ca, &e), WD_E_USAGE);
    assert_int_equal(wd_pki_ca_create(TD, NOW, WD_PKI_LATEST - NOW + 1, &ca, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "9999-12-31T23:59:59Z"));
    /* a clock that cannot be right (notBefore would fall before the epoch) */
    assert_int_equal(wd_pki_ca_create(TD, 0, 3600, &ca, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "clock"));
    assert_null(ca);
    /* the last second that can be written is fine */
    assert_int_equal(wd_pki_ca_create(TD, NOW, WD_PKI_LATEST - NOW, &ca, &e), WD_OK);
    assert_int_equal(cert_time(X509_get0_notAfter(wd_pki_ca_cert(ca))), WD_PKI_LATEST);
    wd_pki_ca_free(ca);
    wd_pki_ca_free(NULL);
}

/* ---- leaves ---- */

static void check_leaf_common(wd_pki_ca *ca, wd_pki_leaf *l, int64_t valid_for)
{
    X509 *x = wd_pki_leaf_cert(l);
    X509 *cax = wd_pki_ca_cert(ca);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_int_equal(X509_check_ca(x), 0);
    assert_true(X509_get_extension_flags(x) & EXFLAG_BCONS);
    assert_int_equal(ext_critical(x, NID_basic_constraints), 1);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_int_equal(ext_critical(x, NID_key_usage), 1);
    /* authorityKeyIdentifier = the CA's subjectKeyIdentifier */
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
    assert_non_null(aki);
    assert_int_equal(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(cax)), 0);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(cax)), 0);
    /* serial: positive, at most 159 bits */
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    assert_non_null(bn);
    assert_false(BN_is_negative(bn));
    assert_false(BN_is_zero(bn));
    assert_true(BN_num_bits(bn) <= 159);
    BN_free(bn);
    assert_int_equal(cert_time(X509_get0_notBefore(x)), NOW - 300);
    assert_int_equal(cert_time(X509_get0_notAfter(x)), NOW + valid_for);
    assert_int_equal(wd_pki_leaf_not_after(l), NOW + valid_for);
    /* a fresh P-256 key that belongs to the certificate, signed by the CA */
    assert_int_equal(X509_check_private_key(x, wd_pki_leaf_key(l)), 1);
    char group[32];
    assert_int_equal(EVP_PKEY_get_group_name(wd_pki_leaf_key(l), group, sizeof group, NULL), 1);
    assert_string_equal(group, "prime256v1");
    assert_int_equal(X509_verify(x, X509_get0_pubkey(cax)), 1);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
}

static void t03_follower_certificate(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    wd_pki_request r = follower_req("i-1");
    wd_pki_leaf *l = issue(ca, &r);
    check_leaf_common(ca, l, WD_PKI_LEAF_VALIDITY_S);
    X509 *x = wd_pki_leaf_cert(l);
    char s[1024];
    sans(x, s, sizeof s);
    assert_string_equal(s, "URI:spiffe://" TD "/org/acme/fleet/prod/env/eu1/instance/i-1");
    assert_string_equal(wd_pki_leaf_identity(l),
                        "spiffe://" TD "/org/acme/fleet/prod/env/eu1/instance/i-1");
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
    assert_int_equal(ext_critical(x, NID_subject_alt_name), 0); /* the subject is not empty */
    char cn[160];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                                          sizeof cn) > 0);
    assert_string_equal(cn, "i-1");
    assert_int_equal(chain_ok(wd_pki_ca_cert(ca), x, X509_PURPOSE_SSL_CLIENT, NULL, NULL), 1);
    assert_int_equal(chain_ok(wd_pki_ca_cert(ca), x, X509_PURPOSE_SSL_SERVER, NULL, NULL), 0);
    /* the identity reads back */
    wd_spiffe_id id;
    wd_err e;
    assert_int_equal(wd_pki_peer_id(x, TD, &id, &e), WD_OK);
    assert_int_equal(id.kind, WD_PEER_FOLLOWER);
    assert_string_equal(id.instance, "i-1");
    wd_pki_leaf_free(l);
    wd_pki_ca_free(ca);
}

static void t04_admin_certificate(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    wd_pki_request r = admin_req("alice");
    r.valid_for = 24 * 3600;
    wd_pki_leaf *l = issue(ca, &r);
    check_leaf_common(ca, l, 24 * 3600);
    X509 *x = wd_pki_leaf_cert(l);
    char s[1024];
    sans(x, s, sizeof s);
    assert_string_equal(s, "URI:spiffe://" TD "/org/acme/admin/alice");
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
    assert_int_equal(chain_ok(wd_pki_ca_cert(ca), x, X509_PURPOSE_SSL_CLIENT, NULL, NULL), 1);
    assert_int_equal(chain_ok(wd_pki_ca_cert(ca), x, X509_PURPOSE_SSL_SERVER, NULL, NULL), 0);
    wd_spiffe_id id;
    wd_err e;
    assert_int_equal(wd_pki_peer_id(x, TD, &id, &e), WD_OK);
    assert_int_equal(id.kind, WD_PEER_ADMIN);
    assert_string_equal(id.admin, "alice");
    assert_int_equal(wd_pki_peer_id(x, "example.com", &id, &e), WD_E_WRONG_SCOPE);
    wd_pki_leaf_free(l);
    wd_pki_ca_free(ca);
}

static void t05_leader_certificate(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    const char *names[] = {"leader.example.org", "127.0.0.1", "::1", "localhost"};
    wd_pki_request r;
    memset(&r, 0, sizeof r);
    r.kind = WD_PKI_LEADER;
    r.names = names;
    r.nnames = 4;
    r.valid_for = WD_PKI_LEAF_VALIDITY_S;
    wd_pki_leaf *l = issue(ca, &r);
    check_leaf_common(ca, l, WD_PKI_LEAF_VALIDITY_S);
    X509 *x = wd_pki_leaf_cert(l);
    char s[1024];
    sans(x, s, sizeof s);
    assert_string_equal(s, "DNS:leader.example.org\nIP:4.127.0.0.1\n"
                           "IP:16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1\nDNS:localhost");
    assert_string_equal(wd_pki_leaf_identity(l), "leader.example.org, 127.0.0.1, ::1, localhost");
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
    X509 *cax = wd_pki_ca_cert(ca);
    assert_int_equal(chain_ok(cax, x, X509_PURPOSE_SSL_SERVER, "leader.example.org", NULL), 1);
    assert_int_equal(chain_ok(cax, x, X509_PURPOSE_SSL_SERVER, NULL, "127.0.0.1"), 1);
    assert_int_equal(chain_ok(cax, x, X509_PURPOSE_SSL_SERVER, NULL, "::1"), 1);
    assert_int_equal(chain_ok(cax, x, X509_PURPOSE_SSL_SERVER, "other.example.org", NULL), 0);
    assert_int_equal(chain_ok(cax, x, X509_PURPOSE_SSL_SERVER, NULL, "127.0.0.2"), 0);
    assert_int_equal(chain_ok(cax, x, X509_PURPOSE_SSL_CLIENT, NULL, NULL), 0);
    /* a leader certificate is no peer identity */
    wd_spiffe_id id;
    wd_err e;
    assert_int_equal(wd_pki_peer_id(x, TD, &id, &e), WD_E_MALFORMED);
    wd_pki_leaf_free(l);
    wd_pki_ca_free(ca);
}

static wd_code leader_with(const wd_pki_ca *ca, const char **names, size_t n)
{
    wd_pki_request r;
    memset(&r, 0, sizeof r);
    r.kind = WD_PKI_LEADER;
    r.names = names;
    r.nnames = n;
    r.valid_for = 3600;
    wd_pki_leaf *l = (wd_pki_leaf *)1;
    wd_err e;
    wd_code c = wd_pki_issue(ca, &r, NOW, &l, &e);
    if (c != WD_OK)
        assert_null(l);
    wd_pki_leaf_free(l);
    return c;
}

static void t06_leader_name_rules(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    const char *bad[] = {"", "*.example.org", "bad_name.example", "-a.example", "a-.example",
                         "a..example", ".example", "example.", "1.2.3.999", "10.0.0",
                         "a b", "l\303\251ader", "leader:8443", "http://leader", "[::1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *one[] = {bad[i]};
        if (leader_with(ca, one, 1) != WD_E_USAGE)
            fail_msg("accepted leader name '%s'", bad[i]);
    }
    const char *good[] = {"a", "leader", "LEADER.Example.ORG", "x-1.example", "10.0.0.1",
                          "fe80::1", "2001:db8::5"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *one[] = {good[i]};
        if (leader_with(ca, one, 1) != WD_OK)
            fail_msg("refused leader name '%s'", good[i]);
    }
    /* duplicates, in any case or spelling of an address */
    const char *dup1[] = {"a.example", "A.EXAMPLE"};
    assert_int_equal(leader_with(ca, dup1, 2), WD_E_USAGE);
    const char *dup2[] = {"::1", "0:0::1"};
    assert_int_equal(leader_with(ca, dup2, 2), WD_E_USAGE);
    assert_int_equal(leader_with(ca, NULL, 0), WD_E_USAGE);
    /* label 63 / 64, name 253 / 254 bytes */
    char label[80], name[300];
    memset(label, 'a', 63);
    strcpy(label + 63, ".example");
    const char *l63[] = {label};
    assert_int_equal(leader_with(ca, l63, 1), WD_OK);
    memset(label, 'a', 64);
    strcpy(label + 64, ".example");
    assert_int_equal(leader_with(ca, l63, 1), WD_E_USAGE);
    /* 253 = 3 x (63 + '.') + 61 */
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        memset(name + n, 'b', 63);
        n += 63;
        name[n++] = '.';
    }
    memset(name + n, 'c', 61);
    n += 61;
    name[n] = '\0';
    assert_int_equal(strlen(name), 253);
    const char *nm[] = {name};
    assert_int_equal(leader_with(ca, nm, 1), WD_OK);
    name[n - 1] = 'c';
    name[n] = 'c';
    name[n + 1] = '\0';
    assert_int_equal(strlen(name), 254);
    assert_int_equal(leader_with(ca, nm, 1), WD_E_USAGE);
    /* 32 names, 33 names */
    char hosts[WD_PKI_MAX_NAMES + 1][16];
    const char *list[WD_PKI_MAX_NAMES + 1];
    for (int i = 0; i <= WD_PKI_MAX_NAMES; i++) {
        snprintf(hosts[i], sizeof hosts[i], "h%d.example", i);
        list[i] = hosts[i];
    }
    assert_int_equal(leader_with(ca, list, WD_PKI_MAX_NAMES), WD_OK);
    assert_int_equal(leader_with(ca, list, WD_PKI_MAX_NAMES + 1), WD_E_USAGE);
    wd_pki_ca_free(ca);
}

static void t07_request_refusals(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    wd_pki_leaf *l = (wd_pki_leaf *)1;
    wd_err e;
    /* a kind that does not match its identity */
    wd_pki_request r = follower_req("i-1");
    r.kind = WD_PKI_ADMIN;
    assert_int_equal(wd_pki_issue(ca, &r, NOW, &l, &e), WD_E_USAGE);
    assert_null(l);
    /* segments that are not ids */
    const char *bad[] = {"", "..", "-x", "a/b", "a b", "a%20"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = follower_req(bad[i]);
        assert_int_equal(wd_pki_issue(ca, &r, NOW, &l, &e), WD_E_USAGE);
        r = admin_req(bad[i]);
        assert_int_equal(wd_pki_issue(ca, &r, NOW, &l, &e), WD_E_USAGE);
        assert_null(l);
    }
    r = admin_req("alice");
    strcpy(r.id.org, "ac/me");
    assert_int_equal(wd_pki_issue(ca, &r, NOW, &l, &e), WD_E_USAGE);
    /* an unknown kind */
    r = admin_req("alice");
    r.kind = (wd_pki_kind)9;
    assert_int_equal(wd_pki_issue(ca, &r, NOW, &l, &e), WD_E_USAGE);
    /* validity: positive, and not past the CA's end (at the end is fine) */
    r = admin_req("alice");
    r.valid_for = 0;
    assert_int_equal(wd_pki_issue(ca, &r, NOW, &l, &e), WD_E_USAGE);
    r.valid_for = wd_pki_ca_not_after(ca) - NOW + 1;
    assert_int_equal(wd_pki_issue(ca, &r, NOW, &l, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "outlive the CA"));
    assert_null(l);
    r.valid_for = wd_pki_ca_not_after(ca) - NOW;
    assert_int_equal(wd_pki_issue(ca, &r, NOW, &l, &e), WD_OK);
    wd_pki_leaf_free(l);
    wd_pki_ca_free(ca);
}

static void t08_long_ids_leave_the_subject_empty(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    char id[WD_MAX_ID_LEN + 1];
    memset(id, 'n', 65);
    id[65] = '\0';
    wd_pki_request r = admin_req(id); /* 65 > the 64 characters of a common name */
    wd_pki_leaf *l = issue(ca, &r);
    X509 *x = wd_pki_leaf_cert(l);
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
    assert_int_equal(ext_critical(x, NID_subject_alt_name), 1);
    assert_int_equal(chain_ok(wd_pki_ca_cert(ca), x, X509_PURPOSE_SSL_CLIENT, NULL, NULL), 1);
    wd_pki_leaf_free(l);
    id[64] = '\0';
    r = admin_req(id); /* 64: fits */
    l = issue(ca, &r);
    x = wd_pki_leaf_cert(l);
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 1);
    assert_int_equal(ext_critical(x, NID_subject_alt_name), 0);
    wd_pki_leaf_free(l);
    /* the longest ids all fit in the SAN */
    memset(id, 'z', WD_MAX_ID_LEN);
    id[WD_MAX_ID_LEN] = '\0';
    r = follower_req(id);
    strcpy(r.id.org, id);
    strcpy(r.id.fleet, id);
    strcpy(r.id.env, id);
    l = issue(ca, &r);
    wd_spiffe_id got;
    wd_err e;
    assert_int_equal(wd_pki_peer_id(wd_pki_leaf_cert(l), TD, &got, &e), WD_OK);
    assert_string_equal(got.instance, id);
    wd_pki_leaf_free(l);
    wd_pki_ca_free(ca);
}

static void t09_serials_are_random(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    wd_pki_request r = admin_req("alice");
    wd_pki_leaf *a = issue(ca, &r), *b = issue(ca, &r);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(wd_pki_leaf_cert(a)),
                                          X509_get0_serialNumber(wd_pki_leaf_cert(b))),
                         0);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(wd_pki_leaf_cert(a)),
                                          X509_get0_serialNumber(wd_pki_ca_cert(ca))),
                         0);
    wd_pki_leaf_free(a);
    wd_pki_leaf_free(b);
    wd_pki_ca_free(ca);
}

/* ---- files ---- */

static void t10_save_and_load_round_trip(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    wd_err e;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/a/b/ca", tmpdir);
    assert_int_equal(wd_pki_ca_save(ca, dir, &e), WD_OK);
    char crt[600], key[600];
    snprintf(crt, sizeof crt, "%s/ca.crt", dir);
    snprintf(key, sizeof key, "%s/ca.key", dir);
    assert_int_equal(mode_of(dir), 0700);
    assert_int_equal(mode_of(path("a")), 0700);
    assert_int_equal(mode_of(crt), 0644);
    assert_int_equal(mode_of(key), 0600);
    wd_pki_ca *back = NULL;
    assert_int_equal(wd_pki_ca_load(dir, &back, &e), WD_OK);
    assert_string_equal(wd_pki_ca_trust_domain(back), TD);
    assert_int_equal(X509_cmp(wd_pki_ca_cert(back), wd_pki_ca_cert(ca)), 0);
    assert_int_equal(wd_pki_ca_not_after(back), wd_pki_ca_not_after(ca));
    /* a leaf from the loaded CA chains to the saved certificate */
    wd_pki_request r = follower_req("i-7");
    wd_pki_leaf *l = issue(back, &r);
    assert_int_equal(chain_ok(wd_pki_ca_cert(ca), wd_pki_leaf_cert(l), X509_PURPOSE_SSL_CLIENT,
                              NULL, NULL),
                     1);
    /* the leaf's files */
    char prefix[600], lcrt[700], lkey[700];
    snprintf(prefix, sizeof prefix, "%s/f", tmpdir);
    snprintf(lcrt, sizeof lcrt, "%s.crt", prefix);
    snprintf(lkey, sizeof lkey, "%s.key", prefix);
    assert_int_equal(wd_pki_leaf_save(l, prefix, &e), WD_OK);
    assert_int_equal(mode_of(lcrt), 0644);
    assert_int_equal(mode_of(lkey), 0600);
    FILE *f = fopen(lkey, "r");
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "-----BEGIN PRIVATE KEY-----\n");
    f = fopen(lkey, "r");
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    f = fopen(lcrt, "r");
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_int_equal(X509_cmp(x, wd_pki_leaf_cert(l)), 0);
    assert_int_equal(X509_check_private_key(x, k), 1);
    X509_free(x);
    EVP_PKEY_free(k);
    /* no temporary files remain */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp.*' | grep -q .", tmpdir);
    assert_int_not_equal(system(cmd), 0);
    wd_pki_leaf_free(l);
    wd_pki_ca_free(back);
    wd_pki_ca_free(ca);
}

static void t11_save_never_overwrites(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    wd_err e;
    mkdir(path("s1"), 0700);
    write_text(path("s1/ca.key"), "keep\n", 0600);
    assert_int_equal(wd_pki_ca_save(ca, path("s1"), &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "refusing to overwrite"));
    assert_false(exists(path("s1/ca.crt")));
    mkdir(path("s2"), 0700);
    write_text(path("s2/ca.crt"), "keep\n", 0644);
    assert_int_equal(wd_pki_ca_save(ca, path("s2"), &e), WD_E_IO);
    assert_false(exists(path("s2/ca.key")));
    /* a dangling symlink counts as existing, and nothing is written through it */
    mkdir(path("s3"), 0700);
    char target[600];
    snprintf(target, sizeof target, "%s", path("target"));
    assert_int_equal(symlink(target, path("s3/ca.key")), 0);
    assert_int_equal(wd_pki_ca_save(ca, path("s3"), &e), WD_E_IO);
    assert_false(exists(path("target")));
    assert_false(exists(path("s3/ca.crt")));
    /* leaves */
    wd_pki_request r = admin_req("alice");
    wd_pki_leaf *l = issue(ca, &r);
    write_text(path("p1.key"), "keep\n", 0600);
    assert_int_equal(wd_pki_leaf_save(l, path("p1"), &e), WD_E_IO);
    assert_false(exists(path("p1.crt")));
    write_text(path("p2.crt"), "keep\n", 0644);
    assert_int_equal(wd_pki_leaf_save(l, path("p2"), &e), WD_E_IO);
    assert_false(exists(path("p2.key")));
    /* a directory that does not exist: nothing left behind */
    assert_int_equal(wd_pki_leaf_save(l, path("nodir/p"), &e), WD_E_IO);
    assert_false(exists(path("nodir")));
    assert_int_equal(wd_pki_leaf_save(l, "", &e), WD_E_USAGE);
    /* a CA directory that cannot be created is removed again (here: its parent is a file) */
    write_text(path("file"), "x\n", 0644);
    assert_int_equal(wd_pki_ca_save(ca, path("file/ca"), &e), WD_E_IO);
    wd_pki_leaf_free(l);
    wd_pki_ca_free(ca);
}

/* Save a fresh CA into tmpdir/name and return the directory path (static buffer). */
static const char *saved_ca(const char *name)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    wd_pki_ca *ca = new_ca();
    wd_err e;
    assert_int_equal(wd_pki_ca_save(ca, dir, &e), WD_OK);
    wd_pki_ca_free(ca);
    return dir;
}

static wd_code load_code(const char *dir, wd_err *e)
{
    wd_pki_ca *ca = (wd_pki_ca *)1;
    wd_code c = wd_pki_ca_load(dir, &ca, e);
    if (c != WD_OK)
        assert_null(ca);
    wd_pki_ca_free(ca);
    return c;
}

static void t12_load_refuses_readable_keys(void **state)
{
    (void)state;
    const char *dir = saved_ca("perm");
    char key[600];
    snprintf(key, sizeof key, "%s/ca.key", dir);
    wd_err e;
    const unsigned modes[] = {0640, 0604, 0644, 0660, 0610};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        chmod(key, modes[i]);
        assert_int_equal(load_code(dir, &e), WD_E_IO);
        assert_non_null(strstr(e.msg, "readable by group or others"));
    }
    chmod(key, 0400);
    assert_int_equal(load_code(dir, &e), WD_OK);
    chmod(key, 0600);
    assert_int_equal(load_code(dir, &e), WD_OK);
}

static void t13_load_refuses_wrong_files(void **state)
{
    (void)state;
    wd_err e;
    char p[600], q[600];
    /* another CA's key */
    const char *d1 = saved_ca("w1");
    char d1s[512];
    snprintf(d1s, sizeof d1s, "%s", d1);
    const char *d2 = saved_ca("w2");
    snprintf(p, sizeof p, "%s/ca.key", d1s);
    snprintf(q, sizeof q, "%s/ca.key", d2);
    assert_int_equal(rename(q, p), 0);
    assert_int_equal(load_code(d1s, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "not the key of"));
    /* an Ed25519 key */
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unlink(p);
    write_pem_key(p, ed);
    EVP_PKEY_free(ed);
    assert_int_equal(load_code(d1s, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "not an ECDSA P-256 key"));
    /* a P-384 key */
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    unlink(p);
    write_pem_key(p, p384);
    EVP_PKEY_free(p384);
    assert_int_equal(load_code(d1s, &e), WD_E_MALFORMED);
    /* an encrypted key: refused, never prompted for */
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    unlink(p);
    FILE *f = fopen(p, "w");
    assert_int_equal(PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(), NULL, 0, NULL,
                                               (void *)"secret"),
                     1);
    fclose(f);
    chmod(p, 0600);
    EVP_PKEY_free(k);
    assert_int_equal(load_code(d1s, &e), WD_E_MALFORMED);
    /* not PEM at all */
    unlink(p);
    write_text(p, "hello\n", 0600);
    assert_int_equal(load_code(d1s, &e), WD_E_MALFORMED);
    /* a key file that is a directory, or missing */
    unlink(p);
    mkdir(p, 0700);
    assert_int_equal(load_code(d1s, &e), WD_E_IO);
    rmdir(p);
    assert_int_equal(load_code(d1s, &e), WD_E_IO);
    /* the certificate: missing, not PEM, not a CA, a CA without the trust-domain SAN, two */
    assert_int_equal(load_code(path("nothing-here"), &e), WD_E_IO);
    const char *d3 = saved_ca("w3");
    snprintf(p, sizeof p, "%s/ca.crt", d3);
    unlink(p);
    write_text(p, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0644);
    assert_int_equal(load_code(d3, &e), WD_E_MALFORMED);
    struct {
        const char *uris[3];
        bool ca;
    } crafted[] = {
        {{NULL}, true},                                              /* no SAN */
        {{"spiffe://" TD, NULL}, false},                             /* not a CA */
        {{"spiffe://" TD, "spiffe://other.org", NULL}, true},        /* two URIs */
        {{"spiffe://" TD "/org/acme", NULL}, true},                  /* a path */
        {{"spiffe://Example.org", NULL}, true},                      /* not lowercase */
        {{"https://" TD, NULL}, true},                               /* another scheme */
        {{"spiffe://", NULL}, true},                                 /* no trust domain */
    };
    snprintf(q, sizeof q, "%s/ca.key", d3);
    for (size_t i = 0; i < sizeof crafted / sizeof crafted[0]; i++) {
        EVP_PKEY *ck = NULL;
        X509 *x = craft(crafted[i].uris, crafted[i].ca, &ck);
        unlink(p);
        unlink(q);
        write_pem_cert(p, x);
        write_pem_key(q, ck);
        if (load_code(d3, &e) != WD_E_MALFORMED)
            fail_msg("crafted CA %zu accepted", i);
        X509_free(x);
        EVP_PKEY_free(ck);
    }
    /* and the positive control: the same crafting with the right SAN loads */
    const char *ok_uris[] = {"spiffe://" TD, NULL};
    EVP_PKEY *ck = NULL;
    X509 *x = craft(ok_uris, true, &ck);
    unlink(p);
    unlink(q);
    write_pem_cert(p, x);
    write_pem_key(q, ck);
    wd_pki_ca *ca = NULL;
    assert_int_equal(wd_pki_ca_load(d3, &ca, &e), WD_OK);
    assert_string_equal(wd_pki_ca_trust_domain(ca), TD);
    wd_pki_ca_free(ca);
    X509_free(x);
    EVP_PKEY_free(ck);
}

/* Append n bytes of '\n' to the file at p. */
static void pad_file(const char *p, size_t n)
{
    FILE *f = fopen(p, "a");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc('\n', f);
    fclose(f);
}

static size_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return (size_t)st.st_size;
}

static void t14_file_size_limits(void **state)
{
    (void)state;
    wd_err e;
    const char *dir = saved_ca("big");
    char crt[600], key[600];
    snprintf(crt, sizeof crt, "%s/ca.crt", dir);
    snprintf(key, sizeof key, "%s/ca.key", dir);
    /* certificate: exactly WD_MAX_CERT_FILE loads; one byte more is oversized */
    pad_file(crt, WD_MAX_CERT_FILE - file_size(crt));
    assert_int_equal(file_size(crt), WD_MAX_CERT_FILE);
    assert_int_equal(load_code(dir, &e), WD_OK);
    pad_file(crt, 1);
    assert_int_equal(load_code(dir, &e), WD_E_OVERSIZED);
    assert_int_equal(truncate(crt, WD_MAX_CERT_FILE), 0);
    assert_int_equal(load_code(dir, &e), WD_OK);
    /* key: exactly WD_MAX_KEY_FILE loads; one byte more is oversized */
    pad_file(key, WD_MAX_KEY_FILE - file_size(key));
    assert_int_equal(file_size(key), WD_MAX_KEY_FILE);
    assert_int_equal(load_code(dir, &e), WD_OK);
    pad_file(key, 1);
    assert_int_equal(load_code(dir, &e), WD_E_OVERSIZED);
}

/* ---- peers ---- */

static void t15_peer_identity_rules(void **state)
{
    (void)state;
    wd_spiffe_id id;
    wd_err e;
    struct {
        const char *uris[4];
        wd_code want;
    } cases[] = {
        {{"spiffe://" TD "/org/acme/admin/alice", NULL}, WD_OK},
        {{"spiffe://" TD "/org/acme/fleet/f/env/e/instance/i", NULL}, WD_OK},
        {{NULL}, WD_E_MALFORMED},
        {{"spiffe://" TD "/org/acme/admin/alice", "spiffe://" TD "/org/acme/admin/bob", NULL},
         WD_E_MALFORMED},
        {{"spiffe://" TD "/org/acme/admin/alice", "spiffe://" TD "/org/acme/admin/alice", NULL},
         WD_E_MALFORMED},
        {{"spiffe://other.org/org/acme/admin/alice", NULL}, WD_E_WRONG_SCOPE},
        {{"spiffe://" TD "/org/acme/admin/alice/", NULL}, WD_E_MALFORMED},
        {{"spiffe://" TD "/ns/default/sa/x", NULL}, WD_E_MALFORMED},
        {{"spiffe://" TD, NULL}, WD_E_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EVP_PKEY *k = NULL;
        X509 *x = craft(cases[i].uris, false, &k);
        memset(&id, 0x5a, sizeof id);
        wd_code c = wd_pki_peer_id(x, TD, &id, &e);
        if (c != cases[i].want)
            fail_msg("case %zu: got %d, wanted %d (%s)", i, (int)c, (int)cases[i].want, e.msg);
        if (c != WD_OK) {
            static const wd_spiffe_id zero;
            assert_memory_equal(&id, &zero, sizeof id);
        }
        X509_free(x);
        EVP_PKEY_free(k);
    }
    assert_int_equal(wd_pki_peer_id(NULL, TD, &id, &e), WD_E_MALFORMED);
}

static void t16_fingerprint(void **state)
{
    (void)state;
    wd_pki_ca *ca = new_ca();
    char fp[WD_DIGEST_STRLEN + 1], want[WD_DIGEST_STRLEN + 1];
    wd_err e;
    assert_int_equal(wd_pki_fingerprint(wd_pki_ca_cert(ca), fp, &e), WD_OK);
    unsigned char *der = NULL;
    int n = i2d_X509(wd_pki_ca_cert(ca), &der);
    assert_true(n > 0);
    assert_int_equal(wd_digest_of(der, (size_t)n, want, &e), WD_OK);
    OPENSSL_free(der);
    assert_string_equal(fp, want);
    wd_pki_ca_free(ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_ca_fields),
        cmocka_unit_test(t02_ca_refusals),
        cmocka_unit_test(t03_follower_certificate),
        cmocka_unit_test(t04_admin_certificate),
        cmocka_unit_test(t05_leader_certificate),
        cmocka_unit_test(t06_leader_name_rules),
        cmocka_unit_test(t07_request_refusals),
        cmocka_unit_test(t08_long_ids_leave_the_subject_empty),
        cmocka_unit_test(t09_serials_are_random),
        cmocka_unit_test(t10_save_and_load_round_trip),
        cmocka_unit_test(t11_save_never_overwrites),
        cmocka_unit_test(t12_load_refuses_readable_keys),
        cmocka_unit_test(t13_load_refuses_wrong_files),
        cmocka_unit_test(t14_file_size_limits),
        cmocka_unit_test(t15_peer_identity_rules),
        cmocka_unit_test(t16_fingerprint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
