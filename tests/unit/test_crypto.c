/* test_crypto.c — focus: the crypto layer (RFC 8032 Ed25519 known answers, strict base64, hex,
 * SHA-256 and digest strings, constant-time compare, and Ed25519 key files on disk). */
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

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/crypto.h"
#include "warden/limits.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/wd-crypto-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
    return n;
}

static void path_in_tmp(char *out, size_t outsz, const char *name)
{
    snprintf(out, outsz, "%s/%s", tmpdir, name);
}

static void write_file_mode(const char *path, const void *data, size_t len, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Whole file into a malloc'd NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* PEM of any EVP key (private PKCS#8 or public SPKI), written to path with mode. */
static void write_evp_pem(EVP_PKEY *pk, bool priv, const char *path, mode_t mode)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    if (priv)
        assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    assert_true(n > 0);
    write_file_mode(path, data, (size_t)n, mode);
    BIO_free(b);
}

/* ---- RFC 8032 §7.1 ---- */

struct rfc_vector {
    const char *secret, *pub, *msg, *sig, *keyid;
};

/* keyids: SHA-256 of the public key bytes, computed independently (Python hashlib). */
static const struct rfc_vector rfc[3] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
     "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
     "sha256:21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
     "sha256:39f713d0a644253f04529421b9f51b9b08979d08295959c4f3990ee617f5139f"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
     "sha256:dac073e0123bdea59dd9b3bda9cf6037f63aca82627d7abcd5c4ac29dd74003e"},
};

static void check_rfc_vector(const struct rfc_vector *v)
{
    unsigned char seed[32], pub[32], msg[8], want[64], sig[64];
    assert_int_equal(unhex(v->secret, seed, sizeof seed), 32);
    assert_int_equal(unhex(v->pub, pub, sizeof pub), 32);
    size_t mlen = unhex(v->msg, msg, sizeof msg);
    assert_int_equal(unhex(v->sig, want, sizeof want), 64);
    wd_err e;
    wd_key *k = NULL;
    assert_int_equal(wd_key_from_raw_private(seed, &k, &e), WD_OK);
    assert_true(wd_key_has_private(k));
    assert_memory_equal(wd_key_raw_public(k), pub, 32);
    assert_string_equal(wd_key_id(k), v->keyid);
    assert_int_equal(wd_key_sign(k, msg, mlen, sig, &e), WD_OK);
    assert_memory_equal(sig, want, 64);
    assert_true(wd_key_verify(k, msg, mlen, sig, 64));

    /* the public half alone verifies the published signature, and nothing else */
    wd_key *p = NULL;
    assert_int_equal(wd_key_from_raw_public(pub, &p, &e), WD_OK);
    assert_false(wd_key_has_private(p));
    assert_string_equal(wd_key_id(p), v->keyid);
    assert_true(wd_key_verify(p, msg, mlen, want, 64));
    unsigned char other[9];
    memcpy(other, msg, mlen);
    other[mlen] = 'x';
    assert_false(wd_key_verify(p, other, mlen + 1, want, 64));
    want[63] ^= 0x01;
    assert_false(wd_key_verify(p, msg, mlen, want, 64));
    wd_key_free(k);
    wd_key_free(p);
}

static void t01_rfc8032_test1(void **state)
{
    (void)state;
    check_rfc_vector(&rfc[0]);
}

static void t02_rfc8032_test2(void **state)
{
    (void)state;
    check_rfc_vector(&rfc[1]);
}

static void t03_rfc8032_test3(void **state)
{
    (void)state;
    check_rfc_vector(&rfc[2]);
}

static void t04_verify_needs_exactly_64_bytes(void **state)
{
    (void)state;
    unsigned char pub[32], sig[65];
    unhex(rfc[0].pub, pub, sizeof pub);
    unhex(rfc[0].sig, sig, 64);
    sig[64] = 0;
    wd_key *p = NULL;
    assert_int_equal(wd_key_from_raw_public(pub, &p, NULL), WD_OK);
    assert_true(wd_key_verify(p, "", 0, sig, 64));
    assert_false(wd_key_verify(p, "", 0, sig, 63));
    assert_false(wd_key_verify(p, "", 0, sig, 65));
    assert_false(wd_key_verify(p, "", 0, NULL, 64));
    /* a public-only key cannot sign */
    wd_err e;
    unsigned char out[64];
    assert_int_equal(wd_key_sign(p, "x", 1, out, &e), WD_E_USAGE);
    wd_key_free(p);
}

/* ---- base64 ---- */

static void t05_base64_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *s = wd_b64_encode((const unsigned char *)plain[i], strlen(plain[i]));
        assert_non_null(s);
        assert_string_equal(s, enc[i]);
        free(s);
        unsigned char *out = NULL;
        size_t n = 99;
        wd_err e;
        assert_int_equal(wd_b64_decode(enc[i], strlen(enc[i]), &out, &n, &e), WD_OK);
        assert_non_null(out);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
        assert_int_equal(out[n], 0);
        free(out);
    }
}

static void t06_base64_round_trip_all_lengths(void **state)
{
    (void)state;
    unsigned char in[300];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof in; len++) {
        char *s = wd_b64_encode(in, len);
        assert_non_null(s);
        assert_int_equal(strlen(s), (len + 2) / 3 * 4);
        unsigned char *out = NULL;
        size_t n = 0;
        assert_int_equal(wd_b64_decode(s, strlen(s), &out, &n, NULL), WD_OK);
        assert_int_equal(n, len);
        if (len)
            assert_memory_equal(out, in, len);
        free(out);
        free(s);
    }
}

static void expect_b64_malformed(const char *in, size_t len)
{
    unsigned char *out = (unsigned char *)"sentinel";
    size_t n = 42;
    wd_err e;
    e.code = WD_OK;
    assert_int_equal(wd_b64_decode(in, len, &out, &n, &e), WD_E_MALFORMED);
    assert_int_equal(e.code, WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "base64"));
    assert_null(out);
    assert_int_equal(n, 0);
}

static void t07_base64_strict_rejections(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zm9v!A==", /* character outside the alphabet */
        "Zm9v-_==", /* URL-safe alphabet */
        "Zg",       /* missing padding */
        "Zm8",      /* missing padding */
        "Zm9vY",    /* length not a multiple of 4 */
        "Zg==Zm9v", /* padding in the middle */
        "Z===",     /* three padding characters */
        "====",     /* padding only */
        "Zm=v",     /* padding followed by data */
        "Zh==",     /* non-zero unused bits (canonical is Zg==) */
        "Zm9=",     /* non-zero unused bits (canonical is Zm8=) */
        "Zm9v\n",   /* trailing newline */
        " Zm9v",    /* leading space */
        "Zm 9v",    /* space inside, length 5 */
        "Zm9 v==",  /* space inside, length 7 */
        "Zm9vYm\r\n", /* CRLF */
        "Zm\t9v",   /* tab */
        "Zm9v\xc3\xa9\x41\x41", /* non-ASCII bytes, then "AA" */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_b64_malformed(bad[i], strlen(bad[i]));
    /* an embedded NUL counts as a byte, not the end */
    expect_b64_malformed("Zm9v\0AAA", 8);
    /* whitespace that keeps the length a multiple of 4 */
    expect_b64_malformed("Zm9v    ", 8);
    expect_b64_malformed("Zm9vYg= ", 8);
}

/* ---- hex, SHA-256, digests ---- */

static void t08_hex_encode(void **state)
{
    (void)state;
    char out[9];
    static const unsigned char in[4] = {0x00, 0x9f, 0xab, 0xff};
    wd_hex_encode(in, 4, out);
    assert_string_equal(out, "009fabff");
    wd_hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void t09_sha256_known_answers(void **state)
{
    (void)state;
    char d[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_digest_of("abc", 3, d, NULL), WD_OK);
    assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(wd_digest_of(NULL, 0, d, NULL), WD_OK);
    assert_string_equal(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    unsigned char h[WD_SHA256_LEN];
    assert_int_equal(wd_sha256("abc", 3, h, NULL), WD_OK);
    assert_int_equal(h[0], 0xba);
    assert_int_equal(h[31], 0xad);
}

static void t10_digest_parse_accepts_upper_and_lower(void **state)
{
    (void)state;
    const char *lower = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *upper = "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
    unsigned char a[WD_SHA256_LEN], b[WD_SHA256_LEN];
    assert_int_equal(wd_digest_parse(lower, a, NULL), WD_OK);
    assert_int_equal(wd_digest_parse(upper, b, NULL), WD_OK);
    assert_memory_equal(a, b, WD_SHA256_LEN);
    char out[WD_DIGEST_STRLEN + 1];
    wd_digest_format(b, out);
    assert_string_equal(out, lower);
}

static void t11_digest_parse_rejections(void **state)
{
    (void)state;
    static const char *bad[] = {
        "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",   /* 63 */
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", /* 65 */
        "sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a ",
        "sha256: a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256:",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char out[WD_SHA256_LEN];
        memset(out, 0x5a, sizeof out);
        wd_err e;
        assert_int_equal(wd_digest_parse(bad[i], out, &e), WD_E_MALFORMED);
        for (size_t j = 0; j < sizeof out; j++)
            assert_int_equal(out[j], 0x5a); /* nothing changed */
    }
    wd_err e;
    unsigned char out[WD_SHA256_LEN];
    assert_int_equal(wd_digest_parse(NULL, out, &e), WD_E_MALFORMED);
}

static void t12_ct_eq(void **state)
{
    (void)state;
    assert_true(wd_ct_eq("abcd", "abcd", 4));
    assert_false(wd_ct_eq("abcd", "abce", 4));
    assert_false(wd_ct_eq("xbcd", "abcd", 4));
    assert_true(wd_ct_eq("abcd", "abce", 3));
    assert_true(wd_ct_eq("", "", 0));
}

/* ---- keys on disk ---- */

static void t13_key_gen_save_load_round_trip(void **state)
{
    (void)state;
    char path[128], pub[136];
    path_in_tmp(path, sizeof path, "k13");
    snprintf(pub, sizeof pub, "%s.pub", path);
    wd_err e;
    wd_key *k = NULL;
    assert_int_equal(wd_key_generate(&k, &e), WD_OK);
    assert_true(wd_key_has_private(k));
    unsigned char raw[WD_SHA256_LEN];
    assert_int_equal(wd_digest_parse(wd_key_id(k), raw, NULL), WD_OK);
    char want[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_digest_of(wd_key_raw_public(k), 32, want, NULL), WD_OK);
    assert_string_equal(wd_key_id(k), want);

    assert_int_equal(wd_key_save(k, path, &e), WD_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    char *text = slurp(path, NULL);
    assert_int_equal(strncmp(text, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
    free(text);
    text = slurp(pub, NULL);
    assert_int_equal(strncmp(text, "-----BEGIN PUBLIC KEY-----\n", 27), 0);
    char *pem = wd_key_public_pem(k);
    assert_non_null(pem);
    assert_string_equal(text, pem);
    free(pem);
    free(text);

    wd_key *lp = NULL, *lq = NULL, *la = NULL, *lb = NULL;
    assert_int_equal(wd_key_load_private(path, &lp, &e), WD_OK);
    assert_true(wd_key_has_private(lp));
    assert_string_equal(wd_key_id(lp), wd_key_id(k));
    assert_int_equal(wd_key_load_public(pub, &lq, &e), WD_OK);
    assert_false(wd_key_has_private(lq));
    assert_string_equal(wd_key_id(lq), wd_key_id(k));
    assert_int_equal(wd_key_load_any(path, &la, &e), WD_OK);
    assert_true(wd_key_has_private(la));
    assert_int_equal(wd_key_load_any(pub, &lb, &e), WD_OK);
    assert_false(wd_key_has_private(lb));
    assert_string_equal(wd_key_id(lb), wd_key_id(k));

    unsigned char sig[64];
    assert_int_equal(wd_key_sign(lp, "hello", 5, sig, &e), WD_OK);
    assert_true(wd_key_verify(lq, "hello", 5, sig, 64));
    assert_true(wd_key_verify(k, "hello", 5, sig, 64));
    assert_false(wd_key_verify(lq, "hellO", 5, sig, 64));

    /* a second generated key differs */
    wd_key *k2 = NULL;
    assert_int_equal(wd_key_generate(&k2, &e), WD_OK);
    assert_string_not_equal(wd_key_id(k2), wd_key_id(k));
    assert_false(wd_key_verify(k2, "hello", 5, sig, 64));

    wd_key_free(k);
    wd_key_free(k2);
    wd_key_free(lp);
    wd_key_free(lq);
    wd_key_free(la);
    wd_key_free(lb);
}

static void t14_private_key_readable_by_others_refused(void **state)
{
    (void)state;
    char path[128];
    path_in_tmp(path, sizeof path, "k14");
    wd_key *k = NULL;
    wd_err e;
    assert_int_equal(wd_key_generate(&k, &e), WD_OK);
    assert_int_equal(wd_key_save(k, path, &e), WD_OK);
    static const mode_t modes[] = {0644, 0640, 0604, 0660, 0602, 0620};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(path, modes[i]), 0);
        wd_key *out = (wd_key *)&e; /* must be reset to NULL */
        assert_int_equal(wd_key_load_private(path, &out, &e), WD_E_IO);
        assert_null(out);
        assert_non_null(strstr(e.msg, "readable by group or others"));
        assert_non_null(strstr(e.msg, "chmod 600"));
        out = (wd_key *)&e;
        assert_int_equal(wd_key_load_any(path, &out, &e), WD_E_IO);
        assert_null(out);
        assert_non_null(strstr(e.msg, "readable by group or others"));
    }
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(wd_key_load_private(path, &(wd_key *){NULL}, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "(mode 0644)"));
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(wd_key_load_private(path, &(wd_key *){NULL}, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "(mode 0640)"));
    /* owner-only modes load */
    assert_int_equal(chmod(path, 0400), 0);
    wd_key *ok = NULL;
    assert_int_equal(wd_key_load_private(path, &ok, &e), WD_OK);
    assert_string_equal(wd_key_id(ok), wd_key_id(k));
    wd_key_free(ok);
    wd_key_free(k);
}

static void t15_save_refuses_to_overwrite(void **state)
{
    (void)state;
    char path[128], pub[136];
    path_in_tmp(path, sizeof path, "k15");
    snprintf(pub, sizeof pub, "%s.pub", path);
    wd_key *a = NULL, *b = NULL;
    wd_err e;
    assert_int_equal(wd_key_generate(&a, &e), WD_OK);
    assert_int_equal(wd_key_generate(&b, &e), WD_OK);
    assert_int_equal(wd_key_save(a, path, &e), WD_OK);
    size_t l1, l2;
    char *before = slurp(path, &l1);
    char *before_pub = slurp(pub, &l2);
    assert_int_equal(wd_key_save(b, path, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "refusing to overwrite"));
    char *after = slurp(path, NULL);
    char *after_pub = slurp(pub, NULL);
    assert_string_equal(before, after);
    assert_string_equal(before_pub, after_pub);
    free(before);
    free(after);
    free(before_pub);
    free(after_pub);

    /* only PATH.pub exists: refused, and PATH is not left behind */
    char path2[128], pub2[136];
    path_in_tmp(path2, sizeof path2, "k15b");
    snprintf(pub2, sizeof pub2, "%s.pub", path2);
    write_file_mode(pub2, "keep me\n", 8, 0644);
    assert_int_equal(wd_key_save(b, path2, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, ".pub"));
    assert_false(exists(path2));
    char *kept = slurp(pub2, NULL);
    assert_string_equal(kept, "keep me\n");
    free(kept);

    /* a missing directory: nothing written anywhere */
    char path3[160];
    snprintf(path3, sizeof path3, "%s/no/such/dir/k", tmpdir);
    assert_int_equal(wd_key_save(b, path3, &e), WD_E_IO);

    /* a public-only key cannot be saved as a private key */
    wd_key *p = NULL;
    assert_int_equal(wd_key_from_raw_public(wd_key_raw_public(a), &p, &e), WD_OK);
    char path4[128];
    path_in_tmp(path4, sizeof path4, "k15d");
    assert_int_equal(wd_key_save(p, path4, &e), WD_E_USAGE);
    assert_false(exists(path4));
    wd_key_free(p);
    wd_key_free(a);
    wd_key_free(b);
}

static void t16_non_ed25519_keys_are_malformed(void **state)
{
    (void)state;
    static const char *types[] = {"EC", "X25519", "RSA"};
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *pk = i == 0   ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                       : i == 1 ? EVP_PKEY_Q_keygen(NULL, NULL, "X25519")
                                : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
        assert_non_null(pk);
        char priv[128], pub[128];
        path_in_tmp(priv, sizeof priv, types[i]);
        snprintf(pub, sizeof pub, "%s/%s.pub", tmpdir, types[i]);
        write_evp_pem(pk, true, priv, 0600);
        write_evp_pem(pk, false, pub, 0644);
        EVP_PKEY_free(pk);
        wd_err e;
        wd_key *k = (wd_key *)&e;
        assert_int_equal(wd_key_load_private(priv, &k, &e), WD_E_MALFORMED);
        assert_null(k);
        assert_non_null(strstr(e.msg, "not an Ed25519 key"));
        k = (wd_key *)&e;
        assert_int_equal(wd_key_load_public(pub, &k, &e), WD_E_MALFORMED);
        assert_null(k);
        assert_non_null(strstr(e.msg, "not an Ed25519 key"));
        assert_int_equal(wd_key_load_any(priv, &k, &e), WD_E_MALFORMED);
        assert_int_equal(wd_key_load_any(pub, &k, &e), WD_E_MALFORMED);
        assert_null(k);
    }
}

static void t17_key_file_at_limit_and_past_it(void **state)
{
    (void)state;
    char path[128], out[128];
    path_in_tmp(path, sizeof path, "k17");
    path_in_tmp(out, sizeof out, "k17big");
    wd_key *k = NULL;
    wd_err e;
    assert_int_equal(wd_key_generate(&k, &e), WD_OK);
    assert_int_equal(wd_key_save(k, path, &e), WD_OK);
    size_t n;
    char *pem = slurp(path, &n);
    /* text before the PEM block is ignored by the PEM reader: pad up to the limit with it */
    char *big = malloc(WD_MAX_KEY_FILE + 2);
    assert_non_null(big);
    size_t pad = WD_MAX_KEY_FILE - n;
    memset(big, '#', pad);
    big[pad - 1] = '\n';
    memcpy(big + pad, pem, n);
    write_file_mode(out, big, WD_MAX_KEY_FILE, 0600);
    wd_key *l = NULL;
    assert_int_equal(wd_key_load_private(out, &l, &e), WD_OK);
    assert_string_equal(wd_key_id(l), wd_key_id(k));
    wd_key_free(l);

    /* one byte more */
    memmove(big + 1, big, WD_MAX_KEY_FILE);
    big[0] = '#';
    write_file_mode(out, big, WD_MAX_KEY_FILE + 1, 0600);
    l = (wd_key *)&e;
    assert_int_equal(wd_key_load_private(out, &l, &e), WD_E_OVERSIZED);
    assert_null(l);
    assert_int_equal(wd_key_load_any(out, &l, &e), WD_E_OVERSIZED);
    assert_int_equal(wd_key_load_public(out, &l, &e), WD_E_OVERSIZED);
    free(big);
    free(pem);
    wd_key_free(k);
}

static void t18_encrypted_private_key_refused_without_prompt(void **state)
{
    (void)state;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pk);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, pk, EVP_aes_256_cbc(), "pass", 4, NULL,
                                                   NULL),
                     1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char path[128];
    path_in_tmp(path, sizeof path, "k18");
    write_file_mode(path, data, (size_t)n, 0600);
    BIO_free(b);
    EVP_PKEY_free(pk);
    wd_err e;
    wd_key *k = NULL;
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    assert_null(k);
    assert_non_null(strstr(e.msg, "encrypted"));
    assert_int_equal(wd_key_load_any(path, &k, &e), WD_E_MALFORMED);
    assert_null(k);
}

static void t19_not_a_key_file(void **state)
{
    (void)state;
    char path[128];
    wd_err e;
    wd_key *k = NULL;
    path_in_tmp(path, sizeof path, "k19");
    write_file_mode(path, "hello\n", 6, 0600);
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    assert_int_equal(wd_key_load_public(path, &k, &e), WD_E_MALFORMED);
    assert_int_equal(wd_key_load_any(path, &k, &e), WD_E_MALFORMED);
    write_file_mode(path, "", 0, 0600);
    assert_int_equal(wd_key_load_any(path, &k, &e), WD_E_MALFORMED);
    /* a damaged PEM body */
    static const char damaged[] = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI!!!\n"
                                  "-----END PRIVATE KEY-----\n";
    write_file_mode(path, damaged, strlen(damaged), 0600);
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    assert_null(k);
    /* missing file and a directory are operational errors */
    assert_int_equal(wd_key_load_private("/nonexistent/key", &k, &e), WD_E_IO);
    assert_int_equal(wd_key_load_any(tmpdir, &k, &e), WD_E_IO);
    assert_null(k);
}

static void t20_wrong_kind_for_the_loader(void **state)
{
    (void)state;
    char path[128], pub[136];
    path_in_tmp(path, sizeof path, "k20");
    snprintf(pub, sizeof pub, "%s.pub", path);
    wd_key *k = NULL;
    wd_err e;
    assert_int_equal(wd_key_generate(&k, &e), WD_OK);
    assert_int_equal(wd_key_save(k, path, &e), WD_OK);
    wd_key *l = NULL;
    /* a public key file is not a private key, even with mode 0600 */
    assert_int_equal(chmod(pub, 0600), 0);
    assert_int_equal(wd_key_load_private(pub, &l, &e), WD_E_MALFORMED);
    assert_null(l);
    /* a private key file is not a public key */
    assert_int_equal(wd_key_load_public(path, &l, &e), WD_E_MALFORMED);
    assert_null(l);
    wd_key_free(k);
}

static void t21_weak_public_keys_refused(void **state)
{
    (void)state;
    /* the small-order encodings, each also with the sign bit set, and non-reduced y values */
    static const unsigned char order8[2][32] = {
        {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
         0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
         0xfc, 0x05},
        {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
         0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
         0x03, 0x7a},
    };
    unsigned char pub[32];
    for (int variant = 0; variant < 2 * (4 + 19); variant++) {
        int which = variant / 2;
        memset(pub, 0, sizeof pub);
        if (which == 0) {
            /* y = 0 */
        } else if (which == 1) {
            pub[0] = 1; /* y = 1: the identity */
        } else if (which <= 3) {
            memcpy(pub, order8[which - 2], 32);
        } else {
            /* y = p-1 .. p+18: the order-2 point, then every unreduced y */
            memset(pub, 0xff, 32);
            pub[0] = (unsigned char)(0xec + (which - 4));
            pub[31] = 0x7f;
        }
        if (variant % 2)
            pub[31] |= 0x80;
        wd_key *k = NULL;
        wd_err e;
        assert_int_equal(wd_key_from_raw_public(pub, &k, &e), WD_E_MALFORMED);
        assert_null(k);
        assert_non_null(strstr(e.msg, "refused"));
    }
    wd_key *k = NULL;
    /* a generated key is never weak */
    assert_int_equal(wd_key_generate(&k, NULL), WD_OK);
    wd_key *again = NULL;
    assert_int_equal(wd_key_from_raw_public(wd_key_raw_public(k), &again, NULL), WD_OK);
    wd_key_free(again);
    wd_key_free(k);
}

/* Write a PEM private key file whose body is the base64 of der[0..len), lines of width w
 * (0: one line), with line ending eol and leading text lead. */
static void write_pkcs8(const char *path, const unsigned char *der, size_t len, size_t w,
                        const char *eol, const char *lead)
{
    unsigned char b64[256];
    int n = EVP_EncodeBlock(b64, der, (int)len);
    assert_true(n > 0);
    char text[512];
    size_t used = (size_t)snprintf(text, sizeof text, "%s-----BEGIN PRIVATE KEY-----%s", lead,
                                   eol);
    for (int i = 0; i < n; i++) {
        text[used++] = (char)b64[i];
        if (w > 0 && (size_t)(i + 1) % w == 0 && i + 1 < n)
            used += (size_t)snprintf(text + used, sizeof text - used, "%s", eol);
    }
    used += (size_t)snprintf(text + used, sizeof text - used, "%s-----END PRIVATE KEY-----%s",
                             eol, eol);
    write_file_mode(path, text, used, 0600);
}

/* Private keys are decoded by warden itself: exactly the 48-byte Ed25519 PKCS#8 v1 form, with
 * any line width and line ending; v2 (with the public key), trailing DER bytes, a damaged
 * body and other algorithms are refused with what they are. */
static void t22_pkcs8_v1_only(void **state)
{
    (void)state;
    static const unsigned char prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                             0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    unsigned char seed[32], der[96];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (unsigned char)(i * 7 + 1);
    memcpy(der, prefix, 16);
    memcpy(der + 16, seed, 32);
    wd_key *ref = NULL, *k = NULL;
    wd_err e;
    assert_int_equal(wd_key_from_raw_private(seed, &ref, &e), WD_OK);
    char path[128];
    path_in_tmp(path, sizeof path, "p8");
    /* v1, one line, 64-wide lines with CRLF, leading text: the same key */
    const struct {
        size_t w;
        const char *eol, *lead;
    } forms[] = {{0, "\n", ""}, {64, "\r\n", ""}, {16, "\n", "Bag Attributes\n"}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        write_pkcs8(path, der, 48, forms[i].w, forms[i].eol, forms[i].lead);
        assert_int_equal(wd_key_load_private(path, &k, &e), WD_OK);
        assert_string_equal(wd_key_id(k), wd_key_id(ref));
        assert_true(wd_key_has_private(k));
        wd_key_free(k);
        assert_int_equal(wd_key_load_any(path, &k, &e), WD_OK);
        assert_string_equal(wd_key_id(k), wd_key_id(ref));
        wd_key_free(k);
    }
    /* v2: version 1 and the public key as [1] */
    unsigned char v2[83];
    memcpy(v2, der, 48);
    v2[1] = 0x51;
    v2[4] = 0x01;
    v2[48] = 0x81;
    v2[49] = 0x21;
    v2[50] = 0x00;
    memcpy(v2 + 51, wd_key_raw_public(ref), 32);
    write_pkcs8(path, v2, sizeof v2, 64, "\n", "");
    k = (wd_key *)&e;
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    assert_null(k);
    assert_non_null(strstr(e.msg, "PKCS#8 v1"));
    /* trailing bytes after the DER */
    der[48] = 0x05;
    der[49] = 0x00;
    write_pkcs8(path, der, 50, 64, "\n", "");
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "PKCS#8 v1"));
    /* version 1 in the 48-byte shape, and another OID (X25519, 1.3.101.110) */
    der[4] = 0x01;
    write_pkcs8(path, der, 48, 64, "\n", "");
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    der[4] = 0x00;
    der[11] = 0x6e;
    write_pkcs8(path, der, 48, 64, "\n", "");
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "not an Ed25519 key (found X25519)"));
    der[11] = 0x70;
    /* a truncated body, a body with a foreign character, no END line */
    write_pkcs8(path, der, 45, 64, "\n", "");
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    static const char bad[] = "-----BEGIN PRIVATE KEY-----\nMC4CAQAw:QYDK2VwBCIEIA==\n"
                              "-----END PRIVATE KEY-----\n";
    write_file_mode(path, bad, strlen(bad), 0600);
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    static const char noend[] = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n";
    write_file_mode(path, noend, strlen(noend), 0600);
    assert_int_equal(wd_key_load_private(path, &k, &e), WD_E_MALFORMED);
    assert_null(k);
    wd_key_free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_rfc8032_test1),
        cmocka_unit_test(t02_rfc8032_test2),
        cmocka_unit_test(t03_rfc8032_test3),
        cmocka_unit_test(t04_verify_needs_exactly_64_bytes),
        cmocka_unit_test(t05_base64_rfc4648_vectors),
        cmocka_unit_test(t06_base64_round_trip_all_lengths),
        cmocka_unit_test(t07_base64_strict_rejections),
        cmocka_unit_test(t08_hex_encode),
        cmocka_unit_test(t09_sha256_known_answers),
        cmocka_unit_test(t10_digest_parse_accepts_upper_and_lower),
        cmocka_unit_test(t11_digest_parse_rejections),
        cmocka_unit_test(t12_ct_eq),
        cmocka_unit_test(t13_key_gen_save_load_round_trip),
        cmocka_unit_test(t14_private_key_readable_by_others_refused),
        cmocka_unit_test(t15_save_refuses_to_overwrite),
        cmocka_unit_test(t16_non_ed25519_keys_are_malformed),
        cmocka_unit_test(t17_key_file_at_limit_and_past_it),
        cmocka_unit_test(t18_encrypted_private_key_refused_without_prompt),
        cmocka_unit_test(t19_not_a_key_file),
        cmocka_unit_test(t20_wrong_kind_for_the_loader),
        cmocka_unit_test(t21_weak_public_keys_refused),
        cmocka_unit_test(t22_pkcs8_v1_only),
    };
    return cmocka_run_group_tests_name("crypto", tests, setup, teardown);
}
