/* test_dsse.c — focus: DSSE v1 envelopes (PAE, signing, strict decoding with the exact rejection
 * code for every bad input, and per-signature verification). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "msg/dsse.h"
#include "warden/limits.h"

#define TYPE "application/vnd.warden.test+json"
#define BODY "{\"a\":1}"

/* Fixtures built once: two keys (RFC 8032 TEST 1 and TEST 2 secrets), and a valid signature by
 * key A over PAE(TYPE, BODY). */
static wd_key *key_a, *key_b;
static char keyid_a[WD_DIGEST_STRLEN + 1], keyid_b[WD_DIGEST_STRLEN + 1];
static char sig_a[100], sig_b[100], payload_b64[64];

static void seed_from_hex(const char *hex, unsigned char out[32])
{
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

static void sign_b64(wd_key *k, const char *type, const char *body, char *out, size_t outsz)
{
    unsigned char *pae = NULL;
    size_t n = 0;
    assert_int_equal(wd_dsse_pae(type, (const unsigned char *)body, strlen(body), &pae, &n, NULL),
                     WD_OK);
    unsigned char sig[WD_ED25519_SIG_LEN];
    assert_int_equal(wd_key_sign(k, pae, n, sig, NULL), WD_OK);
    char *s = wd_b64_encode(sig, sizeof sig);
    assert_non_null(s);
    assert_true(strlen(s) < outsz);
    strcpy(out, s);
    free(s);
    free(pae);
}

static int setup(void **state)
{
    (void)state;
    unsigned char seed[32];
    seed_from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed);
    if (wd_key_from_raw_private(seed, &key_a, NULL) != WD_OK)
        return -1;
    seed_from_hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", seed);
    if (wd_key_from_raw_private(seed, &key_b, NULL) != WD_OK)
        return -1;
    strcpy(keyid_a, wd_key_id(key_a));
    strcpy(keyid_b, wd_key_id(key_b));
    sign_b64(key_a, TYPE, BODY, sig_a, sizeof sig_a);
    sign_b64(key_b, TYPE, BODY, sig_b, sizeof sig_b);
    char *p = wd_b64_encode((const unsigned char *)BODY, strlen(BODY));
    if (p == NULL)
        return -1;
    strcpy(payload_b64, p);
    free(p);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wd_key_free(key_a);
    wd_key_free(key_b);
    return 0;
}

/* A valid envelope with one signature by A. */
static char *valid_envelope(void)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    return buf;
}

static bool zeroed(const wd_dsse *d)
{
    return d->payload_type == NULL && d->payload == NULL && d->payload_len == 0 && d->nsigs == 0;
}

/* Decode text and expect exactly code; on error the output holds nothing. */
static void expect_decode(const char *text, size_t len, wd_code want, const char *msg_part)
{
    wd_dsse d;
    memset(&d, 0x5a, sizeof d);
    wd_err e;
    wd_err_clear(&e);
    wd_code c = wd_dsse_decode((const unsigned char *)text, len, WD_MAX_ENVELOPE, &d, &e);
    if (c != want)
        fail_msg("decode of %.200s: got %s (%s), wanted %s", text, wd_code_name(c), e.msg,
                 wd_code_name(want));
    if (want == WD_OK) {
        wd_dsse_free(&d);
        return;
    }
    assert_int_equal(e.code, want);
    assert_true(zeroed(&d));
    if (msg_part != NULL && strstr(e.msg, msg_part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, msg_part);
}

static void reject(const char *text, wd_code want, const char *msg_part)
{
    expect_decode(text, strlen(text), want, msg_part);
}

static void t01_pae_known_answer(void **state)
{
    (void)state;
    unsigned char *out = NULL;
    size_t n = 0;
    assert_int_equal(wd_dsse_pae("http://example.com/HelloWorld",
                                 (const unsigned char *)"hello world", 11, &out, &n, NULL),
                     WD_OK);
    const char *want = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    free(out);
    assert_int_equal(wd_dsse_pae("", NULL, 0, &out, &n, NULL), WD_OK);
    assert_int_equal(n, 12);
    assert_memory_equal(out, "DSSEv1 0  0 ", 12);
    free(out);
    /* the body is taken as bytes, NUL included */
    assert_int_equal(wd_dsse_pae("t", (const unsigned char *)"a\0b", 3, &out, &n, NULL), WD_OK);
    assert_int_equal(n, 16);
    assert_memory_equal(out, "DSSEv1 1 t 3 a\0b", 16);
    free(out);
}

static void t02_sign_decode_check_round_trip(void **state)
{
    (void)state;
    wd_key *keys[2] = {key_a, key_b};
    char *env = NULL;
    size_t len = 0;
    wd_err e;
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)BODY, strlen(BODY), keys, 2, &env,
                                  &len, &e),
                     WD_OK);
    assert_int_equal(len, strlen(env));
    /* compact, fixed key order, deterministic signatures */
    char want[1024];
    snprintf(want, sizeof want,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"},{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a, keyid_b, sig_b);
    assert_string_equal(env, want);

    wd_dsse d;
    assert_int_equal(wd_dsse_decode((unsigned char *)env, len, WD_MAX_ENVELOPE, &d, &e), WD_OK);
    assert_string_equal(d.payload_type, TYPE);
    assert_int_equal(d.payload_len, strlen(BODY));
    assert_memory_equal(d.payload, BODY, d.payload_len);
    assert_int_equal(d.payload[d.payload_len], 0);
    assert_int_equal(d.nsigs, 2);
    assert_string_equal(d.sigs[0].keyid, keyid_a);
    assert_string_equal(d.sigs[1].keyid, keyid_b);

    int result[WD_MAX_SIGNATURES];
    wd_key *rev[2] = {key_b, key_a};
    assert_int_equal(wd_dsse_check(&d, rev, 2, result, &e), WD_OK);
    assert_int_equal(result[0], 1);
    assert_int_equal(result[1], 0);
    assert_int_equal(wd_dsse_check(&d, rev, 1, result, &e), WD_OK);
    assert_int_equal(result[0], WD_SIG_UNKNOWN_KEY);
    assert_int_equal(result[1], 0);

    size_t nvalid = 0;
    assert_int_equal(wd_dsse_verify_any(&d, keys, 2, &nvalid, &e), WD_OK);
    assert_int_equal(nvalid, 2);
    assert_int_equal(wd_dsse_verify_any(&d, &key_b, 1, &nvalid, &e), WD_OK);
    assert_int_equal(nvalid, 1);

    char hash[WD_DIGEST_STRLEN + 1], want_hash[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_dsse_message_hash(&d, hash, &e), WD_OK);
    assert_int_equal(wd_digest_of(BODY, strlen(BODY), want_hash, &e), WD_OK);
    assert_string_equal(hash, want_hash);
    wd_dsse_free(&d);
    assert_true(zeroed(&d));
    free(env);
}

static void t03_sign_refuses_bad_arguments(void **state)
{
    (void)state;
    char *env = (char *)"x";
    size_t len = 7;
    wd_err e;
    wd_key *keys[WD_MAX_SIGNATURES + 1];
    for (size_t i = 0; i < WD_MAX_SIGNATURES + 1; i++)
        keys[i] = key_a;
    const unsigned char *p = (const unsigned char *)BODY;
    assert_int_equal(wd_dsse_sign(TYPE, p, 7, keys, 0, &env, &len, &e), WD_E_USAGE);
    assert_null(env);
    assert_int_equal(len, 0);
    assert_int_equal(wd_dsse_sign(TYPE, p, 7, keys, WD_MAX_SIGNATURES + 1, &env, &len, &e),
                     WD_E_USAGE);
    assert_int_equal(wd_dsse_sign(TYPE, p, 7, keys, 2, &env, &len, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "given twice"));
    assert_int_equal(wd_dsse_sign("", p, 7, keys, 1, &env, &len, &e), WD_E_USAGE);
    assert_int_equal(wd_dsse_sign("bad\xff", p, 7, keys, 1, &env, &len, &e), WD_E_USAGE);
    wd_key *pub = NULL;
    assert_int_equal(wd_key_from_raw_public(wd_key_raw_public(key_a), &pub, &e), WD_OK);
    assert_int_equal(wd_dsse_sign(TYPE, p, 7, &pub, 1, &env, &len, &e), WD_E_USAGE);
    assert_null(env);
    wd_key_free(pub);
}

static void t04_binary_and_empty_payloads_round_trip(void **state)
{
    (void)state;
    unsigned char bin[256];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)i;
    size_t lens[] = {0, 1, 2, 3, 256};
    for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
        char *env = NULL;
        size_t len = 0;
        assert_int_equal(wd_dsse_sign(TYPE, bin, lens[t], &key_a, 1, &env, &len, NULL), WD_OK);
        wd_dsse d;
        assert_int_equal(wd_dsse_decode((unsigned char *)env, len, WD_MAX_ENVELOPE, &d, NULL),
                         WD_OK);
        assert_int_equal(d.payload_len, lens[t]);
        if (lens[t])
            assert_memory_equal(d.payload, bin, lens[t]);
        assert_int_equal(wd_dsse_verify_any(&d, &key_a, 1, NULL, NULL), WD_OK);
        wd_dsse_free(&d);
        free(env);
    }
}

static void t05_valid_fixture_decodes(void **state)
{
    (void)state;
    reject(valid_envelope(), WD_OK, NULL);
    /* whitespace around and inside is fine */
    char buf[1200];
    snprintf(buf, sizeof buf,
             " \n{ \"payloadType\" : \"" TYPE "\",\n \"payload\": \"%s\", \"signatures\": [ "
             "{ \"sig\": \"%s\", \"keyid\": \"%s\" } ] }\n\t ",
             payload_b64, sig_a, keyid_a);
    reject(buf, WD_OK, NULL);
}

static void t06_malformed_base64_payload(void **state)
{
    (void)state;
    static const char *bad[] = {"eyJhIjoxfQ", "eyJhIjoxfQ=", "eyJhIjoxfR==", "eyJh Ijoxf==",
                                "eyJhIjoxfQ==\\n", "eyJhIjoxfQ-_", "e===",
                                /* padding in the middle */
                                "eyJhIjoxfQ==eyJh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf,
                 "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
                 "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
                 bad[i], keyid_a, sig_a);
        reject(buf, WD_E_MALFORMED, "envelope.payload: base64");
    }
}

static void t07_malformed_base64_sig(void **state)
{
    (void)state;
    char sig[128];
    static const char *suffix[] = {" ", "\\n", "A", "===="};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char buf[1024];
        snprintf(sig, sizeof sig, "%s%s", sig_a, suffix[i]);
        snprintf(buf, sizeof buf,
                 "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
                 "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
                 payload_b64, keyid_a, sig);
        reject(buf, WD_E_MALFORMED, "envelope.signatures[0].sig");
    }
    /* one character outside the alphabet, length unchanged */
    strcpy(sig, sig_a);
    sig[10] = '*';
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig);
    reject(buf, WD_E_MALFORMED, "envelope.signatures[0].sig: base64");
    /* non-canonical last character (64 bytes end in "==" with 4 unused bits) */
    strcpy(sig, sig_a);
    size_t n = strlen(sig);
    assert_string_equal(sig + n - 2, "==");
    sig[n - 3] = (char)(sig[n - 3] + 1); /* A, Q, g, w -> B, R, h, x: low bits set */
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig);
    reject(buf, WD_E_MALFORMED, "not canonical");
}

static void t08_duplicate_keys(void **state)
{
    (void)state;
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payloadType\":\"" TYPE "\",\"payload\":\"%s\","
             "\"signatures\":[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_DUPLICATE_KEY, NULL);
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a, sig_a);
    reject(buf, WD_E_DUPLICATE_KEY, NULL);
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, keyid_b, sig_a);
    reject(buf, WD_E_DUPLICATE_KEY, NULL);
}

static void t09_unknown_fields(void **state)
{
    (void)state;
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}],\"extra\":1}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_UNKNOWN_FIELD, "envelope.extra: unknown field");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\",\"cert\":null}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_UNKNOWN_FIELD, "envelope.signatures[0].cert: unknown field");
    /* field names are case-sensitive */
    snprintf(buf, sizeof buf,
             "{\"payloadtype\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_UNKNOWN_FIELD, "payloadtype");
}

static void t10_missing_fields(void **state)
{
    (void)state;
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payload\":\"%s\",\"signatures\":[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.payloadType: missing required field");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"signatures\":[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.payload: missing required field");
    snprintf(buf, sizeof buf, "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\"}", payload_b64);
    reject(buf, WD_E_MALFORMED, "envelope.signatures: missing required field");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}",
             payload_b64, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.signatures[0].keyid: missing required field");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":[{\"keyid\":\"%s\"}]}",
             payload_b64, keyid_a);
    reject(buf, WD_E_MALFORMED, "envelope.signatures[0].sig: missing required field");
    reject("{}", WD_E_MALFORMED, "missing required field");
}

static void t11_trailing_data(void **state)
{
    (void)state;
    char buf[1200];
    snprintf(buf, sizeof buf, "%s{}", valid_envelope());
    reject(buf, WD_E_TRAILING_DATA, NULL);
    snprintf(buf, sizeof buf, "%s x", valid_envelope());
    reject(buf, WD_E_TRAILING_DATA, NULL);
    snprintf(buf, sizeof buf, "%s\n", valid_envelope());
    reject(buf, WD_OK, NULL);
    /* a NUL byte after the document is data, not an end */
    const char *v = valid_envelope();
    size_t n = strlen(v);
    memcpy(buf, v, n);
    buf[n] = '\0';
    buf[n + 1] = ' ';
    expect_decode(buf, n + 2, WD_E_TRAILING_DATA, NULL);
}

static void t12_wrong_json_types(void **state)
{
    (void)state;
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":7,\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.payloadType: expected string");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":null,\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.payload: expected string");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "{\"keyid\":\"%s\",\"sig\":\"%s\"}}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.signatures: expected array");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":[\"%s\"]}",
             payload_b64, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.signatures[0]: expected object");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":1,\"sig\":\"%s\"}]}",
             payload_b64, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.signatures[0].keyid: expected string");
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":[]}]}",
             payload_b64, keyid_a);
    reject(buf, WD_E_MALFORMED, "envelope.signatures[0].sig: expected string");
    reject("[]", WD_E_MALFORMED, "expected object");
    reject("\"x\"", WD_E_MALFORMED, NULL);
    reject("", WD_E_MALFORMED, NULL);
    reject("{", WD_E_MALFORMED, NULL);
}

static void t13_invalid_utf8(void **state)
{
    (void)state;
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"app\xc3\x28\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, NULL);
    /* an overlong encoding of '/' */
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"a\xc0\xaf\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, NULL);
    /* a lone surrogate escape */
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"a\\ud800\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, NULL);
}

static void t14_nul_in_string(void **state)
{
    (void)state;
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"app\\u0000x\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, NULL);
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\\u0000\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, NULL);
    /* a raw NUL byte inside a string */
    const char *v = valid_envelope();
    size_t n = strlen(v);
    memcpy(buf, v, n + 1);
    buf[17] = '\0'; /* inside the payloadType value */
    expect_decode(buf, n, WD_E_MALFORMED, NULL);
}

static void t15_oversized_at_limit_and_past_it(void **state)
{
    (void)state;
    const char *v = valid_envelope();
    size_t n = strlen(v);
    char *big = malloc(WD_MAX_ENVELOPE + 2);
    assert_non_null(big);
    memcpy(big, v, n);
    memset(big + n, ' ', WD_MAX_ENVELOPE + 1 - n);
    big[WD_MAX_ENVELOPE + 1] = '\0';
    expect_decode(big, WD_MAX_ENVELOPE, WD_OK, NULL);
    expect_decode(big, WD_MAX_ENVELOPE + 1, WD_E_OVERSIZED, NULL);
    free(big);
    /* a caller's smaller limit applies too */
    wd_dsse d;
    wd_err e;
    assert_int_equal(wd_dsse_decode((const unsigned char *)v, n, n, &d, &e), WD_OK);
    wd_dsse_free(&d);
    assert_int_equal(wd_dsse_decode((const unsigned char *)v, n, n - 1, &d, &e), WD_E_OVERSIZED);
    assert_true(zeroed(&d));
}

/* The valid envelope plus an unknown field nested depth levels deep in total. */
static char *nested(size_t depth)
{
    size_t inner = depth - 1; /* the envelope object is depth 1 */
    char *buf = malloc(1200 + 2 * inner);
    assert_non_null(buf);
    const char *v = valid_envelope();
    size_t n = strlen(v);
    memcpy(buf, v, n - 1);
    size_t w = n - 1;
    memcpy(buf + w, ",\"x\":", 5);
    w += 5;
    for (size_t i = 0; i < inner; i++)
        buf[w++] = '[';
    for (size_t i = 0; i < inner; i++)
        buf[w++] = ']';
    buf[w++] = '}';
    buf[w] = '\0';
    return buf;
}

static void t16_too_deep(void **state)
{
    (void)state;
    char *at = nested(WD_MAX_JSON_DEPTH);
    reject(at, WD_E_UNKNOWN_FIELD, "envelope.x: unknown field"); /* depth passes */
    free(at);
    char *past = nested(WD_MAX_JSON_DEPTH + 1);
    reject(past, WD_E_OVERSIZED, "nesting");
    free(past);
}

static void t17_empty_signatures(void **state)
{
    (void)state;
    char buf[256];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":[]}", payload_b64);
    reject(buf, WD_E_MALFORMED, "no signatures");
}

static void t18_sixteen_signatures_ok_seventeen_oversized(void **state)
{
    (void)state;
    wd_key *keys[WD_MAX_SIGNATURES];
    for (size_t i = 0; i < WD_MAX_SIGNATURES; i++)
        assert_int_equal(wd_key_generate(&keys[i], NULL), WD_OK);
    char *env = NULL;
    size_t len = 0;
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)BODY, strlen(BODY), keys,
                                  WD_MAX_SIGNATURES, &env, &len, NULL),
                     WD_OK);
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((unsigned char *)env, len, WD_MAX_ENVELOPE, &d, NULL), WD_OK);
    assert_int_equal(d.nsigs, WD_MAX_SIGNATURES);
    size_t nvalid = 0;
    assert_int_equal(wd_dsse_verify_any(&d, keys, WD_MAX_SIGNATURES, &nvalid, NULL), WD_OK);
    assert_int_equal(nvalid, WD_MAX_SIGNATURES);
    wd_dsse_free(&d);

    /* one more signature entry (a valid one by A) */
    json_t *root = json_loadb(env, len, 0, NULL);
    assert_non_null(root);
    json_t *o = json_pack("{s:s,s:s}", "keyid", keyid_a, "sig", sig_a);
    assert_int_equal(json_array_append_new(json_object_get(root, "signatures"), o), 0);
    char *more = json_dumps(root, JSON_COMPACT);
    assert_non_null(more);
    reject(more, WD_E_OVERSIZED, "more than the limit of 16");
    free(more);
    json_decref(root);
    free(env);
    for (size_t i = 0; i < WD_MAX_SIGNATURES; i++)
        wd_key_free(keys[i]);
}

static void t19_bad_keyid(void **state)
{
    (void)state;
    const char *hex = keyid_a + 7;
    char bad[6][128];
    snprintf(bad[0], 128, "sha512:%s", hex);
    snprintf(bad[1], 128, "%s", hex);
    snprintf(bad[2], 128, "sha256:%.63s", hex);
    snprintf(bad[3], 128, "sha256:%s0", hex);
    snprintf(bad[4], 128, "sha256:x%s", hex + 1);
    snprintf(bad[5], 128, "%s", "");
    for (size_t i = 0; i < 6; i++) {
        char buf[1200];
        snprintf(buf, sizeof buf,
                 "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
                 "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
                 payload_b64, bad[i], sig_a);
        reject(buf, WD_E_MALFORMED, "envelope.signatures[0].keyid");
    }
}

static void t20_uppercase_keyid_is_normalised(void **state)
{
    (void)state;
    char upper[WD_DIGEST_STRLEN + 1];
    strcpy(upper, keyid_a);
    for (char *p = upper + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_string_not_equal(upper, keyid_a);
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, upper, sig_a);
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((unsigned char *)buf, strlen(buf), WD_MAX_ENVELOPE, &d, NULL),
                     WD_OK);
    assert_string_equal(d.sigs[0].keyid, keyid_a);
    assert_int_equal(wd_dsse_verify_any(&d, &key_a, 1, NULL, NULL), WD_OK);
    wd_dsse_free(&d);
}

static void t21_sig_not_64_bytes(void **state)
{
    (void)state;
    unsigned char raw[65];
    memset(raw, 7, sizeof raw);
    size_t lens[] = {0, 1, 63, 65};
    for (size_t i = 0; i < 4; i++) {
        char *s = wd_b64_encode(raw, lens[i]);
        char buf[1200];
        snprintf(buf, sizeof buf,
                 "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
                 "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
                 payload_b64, keyid_a, s);
        reject(buf, WD_E_MALFORMED, "an Ed25519 signature has 64");
        free(s);
    }
}

static void t22_empty_payload_type(void **state)
{
    (void)state;
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    reject(buf, WD_E_MALFORMED, "envelope.payloadType: empty");
}

/* Decode text (which must decode) and run verify_any with keys; return its code. */
static wd_code verify_text(const char *text, wd_key *const *keys, size_t nkeys, size_t *nvalid,
                           wd_err *e)
{
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((const unsigned char *)text, strlen(text), WD_MAX_ENVELOPE, &d,
                                    NULL),
                     WD_OK);
    wd_code c = wd_dsse_verify_any(&d, keys, nkeys, nvalid, e);
    wd_dsse_free(&d);
    return c;
}

static void t23_tampered_payload_is_bad_signature(void **state)
{
    (void)state;
    char *p = wd_b64_encode((const unsigned char *)"{\"a\":2}", 7);
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             p, keyid_a, sig_a);
    free(p);
    wd_err e;
    size_t nvalid = 9;
    assert_int_equal(verify_text(buf, &key_a, 1, &nvalid, &e), WD_E_BAD_SIGNATURE);
    assert_int_equal(nvalid, 0);
    assert_non_null(strstr(e.msg, keyid_a));
    /* a payload that is not even JSON still fails on the signature, not on parsing */
    p = wd_b64_encode((const unsigned char *)"{not json", 9);
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             p, keyid_a, sig_a);
    free(p);
    assert_int_equal(verify_text(buf, &key_a, 1, NULL, &e), WD_E_BAD_SIGNATURE);
    /* so does a changed payloadType: PAE covers it */
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "x\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a);
    assert_int_equal(verify_text(buf, &key_a, 1, NULL, &e), WD_E_BAD_SIGNATURE);
}

static void t24_tampered_signature_is_bad_signature(void **state)
{
    (void)state;
    char sig[100];
    strcpy(sig, sig_a);
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig);
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((unsigned char *)buf, strlen(buf), WD_MAX_ENVELOPE, &d, NULL),
                     WD_OK);
    int result[WD_MAX_SIGNATURES];
    assert_int_equal(wd_dsse_check(&d, &key_a, 1, result, NULL), WD_OK);
    assert_int_equal(result[0], WD_SIG_INVALID);
    wd_err e;
    assert_int_equal(wd_dsse_verify_any(&d, &key_a, 1, NULL, &e), WD_E_BAD_SIGNATURE);
    assert_non_null(strstr(e.msg, "does not verify"));
    wd_dsse_free(&d);
}

static void t25_wrong_key_is_bad_signature(void **state)
{
    (void)state;
    wd_err e;
    /* the verifier holds only B: nothing verifies */
    assert_int_equal(verify_text(valid_envelope(), &key_b, 1, NULL, &e), WD_E_BAD_SIGNATURE);
    assert_non_null(strstr(e.msg, "no signature by any"));
    /* B's signature filed under A's keyid */
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_b);
    assert_int_equal(verify_text(buf, &key_a, 1, NULL, &e), WD_E_BAD_SIGNATURE);
    assert_non_null(strstr(e.msg, "does not verify"));
    /* a valid signature by A beside a failing one under B's keyid, with B known: rejected */
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"},{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a, keyid_b, sig_a);
    wd_key *both[2] = {key_a, key_b};
    assert_int_equal(verify_text(buf, both, 2, NULL, &e), WD_E_BAD_SIGNATURE);
    /* ... and accepted when only A is asked about (B's entry is under an unknown key) */
    size_t nvalid = 0;
    assert_int_equal(verify_text(buf, &key_a, 1, &nvalid, &e), WD_OK);
    assert_int_equal(nvalid, 1);
    /* no keys at all */
    assert_int_equal(verify_text(valid_envelope(), NULL, 0, NULL, &e), WD_E_BAD_SIGNATURE);
}

static void t26_duplicate_keyid_counts_once(void **state)
{
    (void)state;
    char upper[WD_DIGEST_STRLEN + 1];
    strcpy(upper, keyid_a);
    for (char *p = upper + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    char buf[1200];
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"},{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a, upper, sig_a);
    size_t nvalid = 0;
    assert_int_equal(verify_text(buf, &key_a, 1, &nvalid, NULL), WD_OK);
    assert_int_equal(nvalid, 1);
    /* the same key given twice to the verifier also counts once */
    wd_key *twice[2] = {key_a, key_a};
    assert_int_equal(verify_text(buf, twice, 2, &nvalid, NULL), WD_OK);
    assert_int_equal(nvalid, 1);
    /* two distinct keys count twice */
    snprintf(buf, sizeof buf,
             "{\"payloadType\":\"" TYPE "\",\"payload\":\"%s\",\"signatures\":"
             "[{\"keyid\":\"%s\",\"sig\":\"%s\"},{\"keyid\":\"%s\",\"sig\":\"%s\"},"
             "{\"keyid\":\"%s\",\"sig\":\"%s\"}]}",
             payload_b64, keyid_a, sig_a, keyid_b, sig_b, keyid_a, sig_a);
    wd_key *both[2] = {key_a, key_b};
    assert_int_equal(verify_text(buf, both, 2, &nvalid, NULL), WD_OK);
    assert_int_equal(nvalid, 2);
}

/* ---- drafts: decoding with no signature, adding one signature, merging ---- */

/* Decode env text (with the draft decoder) into *d; asserts it works. */
static void decode_draft_text(const char *text, wd_dsse *d)
{
    assert_int_equal(wd_dsse_decode_draft((const unsigned char *)text, strlen(text),
                                          WD_MAX_ENVELOPE, d, NULL),
                     WD_OK);
}

/* Does signature i of d verify with k? */
static bool sig_verifies(const wd_dsse *d, wd_key *k)
{
    int res[WD_MAX_SIGNATURES];
    assert_int_equal(wd_dsse_check(d, &k, 1, res, NULL), WD_OK);
    for (size_t i = 0; i < d->nsigs; i++)
        if (res[i] == 0)
            return true;
    return false;
}

static void t27_unsigned_draft_decodes_only_as_a_draft(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    wd_err e;
    assert_int_equal(wd_dsse_sign_draft(TYPE, (const unsigned char *)BODY, strlen(BODY), NULL, 0,
                                        &text, &len, &e),
                     WD_OK);
    assert_non_null(strstr(text, "\"signatures\":[]"));
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((const unsigned char *)text, len, WD_MAX_ENVELOPE, &d, &e),
                     WD_E_MALFORMED);
    assert_string_equal(e.msg, "envelope.signatures: no signatures (an unsigned draft: add "
                               "signatures with 'warden sign' first)");
    decode_draft_text(text, &d);
    assert_int_equal(d.nsigs, 0);
    assert_int_equal(d.payload_len, strlen(BODY));
    wd_dsse_free(&d);
    free(text);
    /* wd_dsse_sign itself still wants at least one key */
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)BODY, strlen(BODY), NULL, 0,
                                  &text, &len, &e),
                     WD_E_USAGE);
    assert_null(text);
}

static void t28_encode_round_trips_byte_for_byte(void **state)
{
    (void)state;
    wd_key *ks[2] = {key_a, key_b};
    char *signed_text = NULL, *again = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)BODY, strlen(BODY), ks, 2,
                                  &signed_text, &n1, NULL),
                     WD_OK);
    wd_dsse d;
    decode_draft_text(signed_text, &d);
    assert_int_equal(wd_dsse_encode(&d, &again, &n2, NULL), WD_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(signed_text, again, n1);
    wd_dsse_free(&d);
    free(signed_text);
    free(again);
}

static void t29_add_signature_keeps_payload_and_refuses_twice(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    wd_err e;
    assert_int_equal(wd_dsse_sign_draft(TYPE, (const unsigned char *)BODY, strlen(BODY), NULL, 0,
                                        &text, &len, NULL),
                     WD_OK);
    wd_dsse d;
    decode_draft_text(text, &d);
    free(text);
    assert_int_equal(wd_dsse_add_signature(&d, key_a, &e), WD_OK);
    assert_int_equal(d.nsigs, 1);
    assert_string_equal(d.sigs[0].keyid, keyid_a);
    assert_true(sig_verifies(&d, key_a));
    assert_int_equal(d.payload_len, strlen(BODY));
    assert_memory_equal(d.payload, BODY, strlen(BODY));
    /* the same key again: refused, nothing changed */
    assert_int_equal(wd_dsse_add_signature(&d, key_a, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "already signed by"));
    assert_int_equal(d.nsigs, 1);
    assert_int_equal(wd_dsse_add_signature(&d, key_b, &e), WD_OK);
    assert_int_equal(d.nsigs, 2);
    assert_true(sig_verifies(&d, key_b));
    assert_int_equal(wd_dsse_find_sig(&d, keyid_b), 1);
    /* a public key cannot sign */
    wd_key *pub = NULL;
    assert_int_equal(wd_key_from_raw_public(wd_key_raw_public(key_a), &pub, NULL), WD_OK);
    assert_int_equal(wd_dsse_add_signature(&d, pub, &e), WD_E_USAGE);
    wd_key_free(pub);
    wd_dsse_free(&d);
}

static void t30_add_signature_at_the_limit_and_past_it(void **state)
{
    (void)state;
    wd_dsse d;
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(wd_dsse_sign_draft(TYPE, (const unsigned char *)BODY, strlen(BODY), NULL, 0,
                                        &text, &len, NULL),
                     WD_OK);
    decode_draft_text(text, &d);
    free(text);
    /* fill 15 slots with other keyids, so that the 16th (key_a) is the last allowed */
    for (size_t i = 0; i < WD_MAX_SIGNATURES - 1; i++) {
        snprintf(d.sigs[i].keyid, sizeof d.sigs[i].keyid, "sha256:%064zx", i + 1);
        memset(d.sigs[i].sig, 0, sizeof d.sigs[i].sig);
    }
    d.nsigs = WD_MAX_SIGNATURES - 1;
    assert_int_equal(wd_dsse_add_signature(&d, key_a, NULL), WD_OK);
    assert_int_equal(d.nsigs, WD_MAX_SIGNATURES);
    wd_err e;
    assert_int_equal(wd_dsse_add_signature(&d, key_b, &e), WD_E_OVERSIZED);
    assert_int_equal(d.nsigs, WD_MAX_SIGNATURES);
    wd_dsse_free(&d);
}

static void t31_merge_unions_signatures(void **state)
{
    (void)state;
    char *ta = NULL, *tb = NULL;
    size_t la = 0, lb = 0;
    wd_err e;
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)BODY, strlen(BODY), &key_a, 1,
                                  &ta, &la, NULL),
                     WD_OK);
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)BODY, strlen(BODY), &key_b, 1,
                                  &tb, &lb, NULL),
                     WD_OK);
    wd_dsse a, b, a2;
    decode_draft_text(ta, &a);
    decode_draft_text(tb, &b);
    decode_draft_text(ta, &a2);
    size_t added = 99;
    assert_int_equal(wd_dsse_merge(&a, &a2, &added, &e), WD_OK);
    assert_int_equal(added, 0); /* the same signature again counts once */
    assert_int_equal(a.nsigs, 1);
    assert_int_equal(wd_dsse_merge(&a, &b, &added, &e), WD_OK);
    assert_int_equal(added, 1);
    assert_int_equal(a.nsigs, 2);
    assert_true(sig_verifies(&a, key_a));
    assert_true(sig_verifies(&a, key_b));
    assert_memory_equal(a.payload, BODY, strlen(BODY));
    wd_dsse_free(&a);
    wd_dsse_free(&b);
    wd_dsse_free(&a2);
    free(ta);
    free(tb);
}

static void t32_merge_refusals_change_nothing(void **state)
{
    (void)state;
    char *ta = NULL, *tother = NULL, *ttype = NULL;
    size_t n = 0;
    wd_err e;
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)BODY, strlen(BODY), &key_a, 1,
                                  &ta, &n, NULL),
                     WD_OK);
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)"{\"a\":2}", 7, &key_b, 1,
                                  &tother, &n, NULL),
                     WD_OK);
    assert_int_equal(wd_dsse_sign(TYPE "x", (const unsigned char *)BODY, strlen(BODY), &key_b,
                                  1, &ttype, &n, NULL),
                     WD_OK);
    wd_dsse a, other, type, forged;
    decode_draft_text(ta, &a);
    decode_draft_text(tother, &other);
    decode_draft_text(ttype, &type);
    decode_draft_text(ta, &forged);
    forged.sigs[0].sig[0] ^= 1; /* the same keyid, another signature */
    size_t added = 99;
    assert_int_equal(wd_dsse_merge(&a, &other, &added, &e), WD_E_HASH_MISMATCH);
    assert_non_null(strstr(e.msg, "the payload differs (message hash sha256:"));
    assert_int_equal(wd_dsse_merge(&a, &type, &added, &e), WD_E_WRONG_TYPE);
    assert_int_equal(wd_dsse_merge(&a, &forged, &added, &e), WD_E_BAD_SIGNATURE);
    assert_non_null(strstr(e.msg, "two different signatures"));
    assert_int_equal(added, 0);
    assert_int_equal(a.nsigs, 1);
    assert_true(sig_verifies(&a, key_a));
    /* 16 in all is the limit: one more is oversized, and nothing is added */
    wd_dsse many;
    decode_draft_text(ta, &many);
    for (size_t i = 1; i < WD_MAX_SIGNATURES; i++) {
        snprintf(many.sigs[i].keyid, sizeof many.sigs[i].keyid, "sha256:%064zx", i);
        memset(many.sigs[i].sig, 0, sizeof many.sigs[i].sig);
    }
    many.nsigs = WD_MAX_SIGNATURES;
    wd_dsse b;
    char *tb = NULL;
    assert_int_equal(wd_dsse_sign(TYPE, (const unsigned char *)BODY, strlen(BODY), &key_b, 1,
                                  &tb, &n, NULL),
                     WD_OK);
    decode_draft_text(tb, &b);
    assert_int_equal(wd_dsse_merge(&many, &b, &added, &e), WD_E_OVERSIZED);
    assert_int_equal(many.nsigs, WD_MAX_SIGNATURES);
    assert_int_equal(wd_dsse_merge(&many, &a, &added, &e), WD_OK); /* nothing new: fine */
    assert_int_equal(added, 0);
    wd_dsse_free(&many);
    wd_dsse_free(&b);
    wd_dsse_free(&a);
    wd_dsse_free(&other);
    wd_dsse_free(&type);
    wd_dsse_free(&forged);
    free(ta);
    free(tb);
    free(tother);
    free(ttype);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_pae_known_answer),
        cmocka_unit_test(t02_sign_decode_check_round_trip),
        cmocka_unit_test(t03_sign_refuses_bad_arguments),
        cmocka_unit_test(t04_binary_and_empty_payloads_round_trip),
        cmocka_unit_test(t05_valid_fixture_decodes),
        cmocka_unit_test(t06_malformed_base64_payload),
        cmocka_unit_test(t07_malformed_base64_sig),
        cmocka_unit_test(t08_duplicate_keys),
        cmocka_unit_test(t09_unknown_fields),
        cmocka_unit_test(t10_missing_fields),
        cmocka_unit_test(t11_trailing_data),
        cmocka_unit_test(t12_wrong_json_types),
        cmocka_unit_test(t13_invalid_utf8),
        cmocka_unit_test(t14_nul_in_string),
        cmocka_unit_test(t15_oversized_at_limit_and_past_it),
        cmocka_unit_test(t16_too_deep),
        cmocka_unit_test(t17_empty_signatures),
        cmocka_unit_test(t18_sixteen_signatures_ok_seventeen_oversized),
        cmocka_unit_test(t19_bad_keyid),
        cmocka_unit_test(t20_uppercase_keyid_is_normalised),
        cmocka_unit_test(t21_sig_not_64_bytes),
        cmocka_unit_test(t22_empty_payload_type),
        cmocka_unit_test(t23_tampered_payload_is_bad_signature),
        cmocka_unit_test(t24_tampered_signature_is_bad_signature),
        cmocka_unit_test(t25_wrong_key_is_bad_signature),
        cmocka_unit_test(t26_duplicate_keyid_counts_once),
        cmocka_unit_test(t27_unsigned_draft_decodes_only_as_a_draft),
        cmocka_unit_test(t28_encode_round_trips_byte_for_byte),
        cmocka_unit_test(t29_add_signature_keeps_payload_and_refuses_twice),
        cmocka_unit_test(t30_add_signature_at_the_limit_and_past_it),
        cmocka_unit_test(t31_merge_unions_signatures),
        cmocka_unit_test(t32_merge_refusals_change_nothing),
    };
    return cmocka_run_group_tests_name("dsse", tests, setup, teardown);
}
