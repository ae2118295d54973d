/* test_roster.c — focus: the trust roster (SPEC §2): strict parsing with its exact rejection
 * codes, bootstrap against a pin, rotation N -> N+1, the signature-threshold check every signed
 * message uses, limits at the limit and one past it, and the roster builder and encoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base.h"
#include "codec/json.h"
#include "crypto/crypto.h"
#include "msg/dsse.h"
#include "trust/roster.h"
#include "warden/limits.h"

#define T0 "2026-01-01T00:00:00Z"
#define T_EXP "2027-01-01T00:00:00Z"
#define BUNDLE_TYPE "application/vnd.warden.policy-bundle.v1+json"

/* Keys shared by the tests: roots, purpose keys, and one stranger no roster lists. */
enum { R0, R1, R2, B0, B1, K0, K1, A0, X0, NKEYS };
static wd_key *K[NKEYS];
static int64_t NOW;  /* 2026-06-01T00:00:00Z: inside every default window */
static int64_t TEXP; /* T_EXP in seconds */

static int64_t tm(const char *s)
{
    int64_t t = 0;
    assert_int_equal(wd_time_parse(s, &t, NULL), WD_OK);
    return t;
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < NKEYS; i++)
        if (wd_key_generate(&K[i], NULL) != WD_OK)
            return -1;
    if (wd_time_parse("2026-06-01T00:00:00Z", &NOW, NULL) != WD_OK ||
        wd_time_parse(T_EXP, &TEXP, NULL) != WD_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NKEYS; i++)
        wd_key_free(K[i]);
    return 0;
}

/* ---- building payloads and envelopes ---- */

/* A KEY object; purposes is a comma-separated list; until NULL means null. */
static json_t *jkey_raw(const unsigned char *pub, size_t publen, const char *keyid,
                        const char *purposes, const char *from, const char *until,
                        const char *status)
{
    char *b64 = wd_b64_encode(pub, publen);
    assert_non_null(b64);
    json_t *ps = json_array();
    char buf[256];
    snprintf(buf, sizeof buf, "%s", purposes);
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
        json_array_append_new(ps, json_string(p));
    json_t *k = json_pack("{s:s, s:s, s:o, s:s, s:o, s:s}", "keyid", keyid, "public_key", b64,
                          "purposes", ps, "valid_from", from, "valid_until",
                          until ? json_string(until) : json_null(), "status", status);
    free(b64);
    assert_non_null(k);
    return k;
}

static json_t *jkey(const wd_key *k, const char *purposes, const char *from, const char *until,
                    const char *status)
{
    return jkey_raw(wd_key_raw_public(k), WD_ED25519_PUB_LEN, wd_key_id(k), purposes, from,
                    until, status);
}

static json_t *jroot(int i)
{
    return jkey(K[i], "roster-root", T0, NULL, "active");
}

/* A roster payload tree: root keys and keys are arrays (stolen). */
static json_t *jroster(const char *org, long long version, int rthr, json_t *roots, json_t *keys)
{
    json_t *r = json_pack(
        "{s:i, s:s, s:I, s:s, s:s, s:{s:i, s:o}, s:o, s:{s:i, s:i, s:i}}", "schema_version", 1,
        "org_id", org, "version", (json_int_t)version, "created_at", T0, "expires_at", T_EXP,
        "root", "threshold", rthr, "keys", roots, "keys", keys, "thresholds",
        "policy-bundle-signing", 1, "policy-bundle-rollback", 2, "remote-kill-signing", 2);
    assert_non_null(r);
    return r;
}

/* The usual roster: root R0 (threshold 1), keys B0 (bundle), K0 and K1 (kill). */
static json_t *std_roster(const char *org, long long version)
{
    return jroster(org, version, 1, json_pack("[o]", jroot(R0)),
                   json_pack("[o,o,o]", jkey(K[B0], "policy-bundle-signing", T0, NULL, "active"),
                             jkey(K[K0], "remote-kill-signing", T0, NULL, "active"),
                             jkey(K[K1], "remote-kill-signing", T0, NULL, "active")));
}

static char *dump(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT);
    assert_non_null(s);
    *len = strlen(s);
    return s;
}

/* Sign payload bytes of type with keys[0..n); returns the envelope text. */
static char *sign_bytes(const char *type, const char *payload, size_t plen, wd_key **keys,
                        size_t n, size_t *len)
{
    char *env = NULL;
    wd_err e;
    assert_int_equal(wd_dsse_sign(type, (const unsigned char *)payload, plen, keys, n, &env, len,
                                  &e),
                     WD_OK);
    return env;
}

/* Sign a roster tree (released) with the given keys. */
static char *roster_env(json_t *r, wd_key **keys, size_t n, size_t *len)
{
    size_t plen;
    char *p = dump(r, &plen);
    json_decref(r);
    char *env = sign_bytes(WD_ROSTER_PAYLOAD_TYPE, p, plen, keys, n, len);
    free(p);
    return env;
}

/* Verify and return the code; on success hand out the roster (or free it when out is NULL);
 * on error assert that nothing was handed out and the message is set. */
static wd_code verify_at(const char *env, size_t len, const char *pin, const wd_roster *prev,
                         int64_t now, wd_roster **out, wd_err *e)
{
    wd_roster *r = (wd_roster *)e; /* any non-NULL value: must be reset */
    wd_code c = wd_roster_verify((const unsigned char *)env, len, pin, prev, now, &r, e);
    if (c != WD_OK) {
        assert_int_equal(e->code, c);
        assert_null(r);
        assert_true(strlen(e->msg) > 0);
    } else if (out != NULL) {
        *out = r;
    } else {
        wd_roster_free(r);
    }
    return c;
}

static wd_code verify(const char *env, size_t len, const char *pin, const wd_roster *prev,
                      wd_roster **out, wd_err *e)
{
    wd_err_clear(e);
    return verify_at(env, len, pin, prev, NOW, out, e);
}

/* Parse a tree and return the code (freeing any result); on error nothing is handed out. */
static wd_code parse_tree(const json_t *v, wd_err *e)
{
    size_t len;
    char *s = dump(v, &len);
    wd_roster *r = (wd_roster *)e;
    wd_err_clear(e);
    wd_code c = wd_roster_parse((const unsigned char *)s, len, &r, e);
    free(s);
    if (c == WD_OK) {
        wd_roster_free(r);
    } else {
        assert_null(r);
        assert_int_equal(e->code, c);
    }
    return c;
}

static wd_code parse_text(const char *s, wd_err *e)
{
    wd_roster *r = (wd_roster *)e;
    wd_err_clear(e);
    wd_code c = wd_roster_parse((const unsigned char *)s, strlen(s), &r, e);
    if (c == WD_OK)
        wd_roster_free(r);
    else
        assert_null(r);
    return c;
}

/* Replace an envelope's payload (keeping its signatures) or edit it as JSON. */
static char *env_with_payload(const char *env, const char *payload, size_t *len)
{
    json_t *v = json_loads(env, 0, NULL);
    assert_non_null(v);
    char *b64 = wd_b64_encode((const unsigned char *)payload, strlen(payload));
    json_object_set_new(v, "payload", json_string(b64));
    free(b64);
    char *s = dump(v, len);
    json_decref(v);
    return s;
}

/* The payload text of an envelope (caller frees). */
static char *env_payload(const char *env)
{
    json_t *v = json_loads(env, 0, NULL);
    assert_non_null(v);
    const char *b = json_string_value(json_object_get(v, "payload"));
    unsigned char *p = NULL;
    size_t plen = 0;
    assert_int_equal(wd_b64_decode(b, strlen(b), &p, &plen, NULL), WD_OK);
    json_decref(v);
    char *s = malloc(plen + 1);
    memcpy(s, p, plen);
    s[plen] = '\0';
    free(p);
    return s;
}

/* Replace the first occurrence of from by to in s (same length). */
static void replace_same_len(char *s, const char *from, const char *to)
{
    assert_int_equal(strlen(from), strlen(to));
    char *p = strstr(s, from);
    assert_non_null(p);
    memcpy(p, to, strlen(to));
}

/* The envelope with its first signature repeated; upper spells the copy's keyid in uppercase
 * hex (the signer refuses to sign with one key twice, so the copy is made here). */
static char *dup_first_sig(const char *env, bool upper, size_t *len)
{
    json_t *v = json_loads(env, 0, NULL);
    assert_non_null(v);
    json_t *sigs = json_object_get(v, "signatures");
    json_t *copy = json_deep_copy(json_array_get(sigs, 0));
    char kid[WD_DIGEST_STRLEN + 1];
    snprintf(kid, sizeof kid, "%s", json_string_value(json_object_get(copy, "keyid")));
    if (upper) {
        for (char *c = kid + 7; *c; c++)
            if (*c >= 'a' && *c <= 'f')
                *c = (char)(*c - 'a' + 'A');
        assert_string_not_equal(kid, json_string_value(json_object_get(copy, "keyid")));
    }
    json_object_set_new(copy, "keyid", json_string(kid));
    json_array_append_new(sigs, copy);
    char *s = dump(v, len);
    json_decref(v);
    return s;
}

/* A bootstrap roster (std_roster v1) signed by R0, parsed. */
static wd_roster *v1_roster(char **env_out, size_t *len_out)
{
    size_t len;
    char *env = roster_env(std_roster("acme", 1), &K[R0], 1, &len);
    wd_roster *r = NULL;
    wd_err e;
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, &r, &e), WD_OK);
    if (env_out != NULL) {
        *env_out = env;
        *len_out = len;
    } else {
        free(env);
    }
    return r;
}

/* ---- tests ---- */

static void t01_purpose_names_round_trip(void **state)
{
    (void)state;
    const wd_purpose all[] = {WD_PURPOSE_ROSTER_ROOT, WD_PURPOSE_BUNDLE_SIGNING,
                              WD_PURPOSE_BUNDLE_ROLLBACK, WD_PURPOSE_KILL_SIGNING,
                              WD_PURPOSE_AUDIT_SIGNING};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *n = wd_purpose_name(all[i]);
        assert_non_null(n);
        assert_int_equal(wd_purpose_parse(n), all[i]);
    }
    assert_string_equal(wd_purpose_name(WD_PURPOSE_KILL_SIGNING), "remote-kill-signing");
    assert_null(wd_purpose_name((wd_purpose)(WD_PURPOSE_KILL_SIGNING | WD_PURPOSE_ROSTER_ROOT)));
    assert_null(wd_purpose_name((wd_purpose)0));
    assert_int_equal(wd_purpose_parse("remote-kill"), 0);
    assert_int_equal(wd_purpose_parse("Roster-Root"), 0);
    assert_int_equal(wd_purpose_parse(""), 0);
    assert_int_equal(wd_purpose_parse(NULL), 0);
}

static void t02_bootstrap_accepts_and_decodes(void **state)
{
    (void)state;
    size_t len;
    char *env = NULL;
    wd_roster *r = v1_roster(&env, &len);
    assert_string_equal(r->org_id, "acme");
    assert_int_equal(r->version, 1);
    assert_int_equal(r->created_at, tm(T0));
    assert_int_equal(r->expires_at, TEXP);
    assert_int_equal(r->root_threshold, 1);
    assert_int_equal(r->nroot, 1);
    assert_int_equal(r->nkeys, 3);
    assert_string_equal(wd_key_id(r->root_keys[0].key), wd_key_id(K[R0]));
    assert_int_equal(r->root_keys[0].purposes, WD_PURPOSE_ROSTER_ROOT);
    assert_int_equal(r->root_keys[0].valid_until, INT64_MAX);
    assert_false(r->root_keys[0].revoked);
    assert_null(r->root_keys[0].principal);
    assert_int_equal(r->keys[1].purposes, WD_PURPOSE_KILL_SIGNING);
    assert_int_equal(wd_roster_threshold(r, WD_PURPOSE_ROSTER_ROOT), 1);
    assert_int_equal(wd_roster_threshold(r, WD_PURPOSE_BUNDLE_SIGNING), 1);
    assert_int_equal(wd_roster_threshold(r, WD_PURPOSE_BUNDLE_ROLLBACK), 2);
    assert_int_equal(wd_roster_threshold(r, WD_PURPOSE_KILL_SIGNING), 2);
    assert_int_equal(wd_roster_threshold(r, WD_PURPOSE_AUDIT_SIGNING), 1);
    assert_int_equal(wd_roster_threshold(r, (wd_purpose)0), 0);
    /* The hash is the digest of the payload bytes. */
    char *p = env_payload(env);
    char want[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_digest_of(p, strlen(p), want, NULL), WD_OK);
    assert_string_equal(r->hash, want);
    /* The pin may use uppercase hex. */
    char upper[WD_DIGEST_STRLEN + 1];
    snprintf(upper, sizeof upper, "sha256:%s", wd_key_id(K[R0]) + 7);
    for (char *c = upper + 7; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    wd_err e;
    assert_int_equal(verify(env, len, upper, NULL, NULL, &e), WD_OK);
    free(p);
    free(env);
    wd_roster_free(r);
}

static void t03_defaults_when_thresholds_absent_and_principal(void **state)
{
    (void)state;
    json_t *t = std_roster("acme", 1);
    json_object_del(t, "thresholds");
    json_t *k = jkey(K[A0], "audit-batch-signing,policy-bundle-rollback", T0, "2026-12-01T00:00:00Z",
                     "active");
    json_object_set_new(k, "principal", json_string("alice@acme.example (security)"));
    json_array_append_new(json_object_get(t, "keys"), k);
    size_t plen;
    char *p = dump(t, &plen);
    json_decref(t);
    wd_roster *r = NULL;
    wd_err e;
    assert_int_equal(wd_roster_parse((const unsigned char *)p, plen, &r, &e), WD_OK);
    assert_int_equal(r->threshold_bundle, 1);
    assert_int_equal(r->threshold_rollback, 2);
    assert_int_equal(r->threshold_kill, 2);
    assert_int_equal(r->threshold_audit, 1);
    assert_int_equal(r->nkeys, 4);
    assert_string_equal(r->keys[3].principal, "alice@acme.example (security)");
    assert_int_equal(r->keys[3].purposes, WD_PURPOSE_AUDIT_SIGNING | WD_PURPOSE_BUNDLE_ROLLBACK);
    assert_int_equal(r->keys[3].valid_until, tm("2026-12-01T00:00:00Z"));
    wd_roster_free(r);
    free(p);
}

static void t04_untrusted_root_when_pin_names_no_root_key(void **state)
{
    (void)state;
    size_t len;
    char *env = roster_env(std_roster("acme", 1), &K[R0], 1, &len);
    wd_err e;
    /* A stranger's keyid, and the keyid of a non-root key listed in keys. */
    assert_int_equal(verify(env, len, wd_key_id(K[X0]), NULL, NULL, &e), WD_E_UNTRUSTED_ROOT);
    assert_non_null(strstr(e.msg, wd_key_id(K[X0])));
    assert_int_equal(verify(env, len, wd_key_id(K[B0]), NULL, NULL, &e), WD_E_UNTRUSTED_ROOT);
    /* A pin that is not a digest is the caller's mistake. */
    assert_int_equal(verify(env, len, "sha256:abc", NULL, NULL, &e), WD_E_USAGE);
    assert_int_equal(verify(env, len, NULL, NULL, NULL, &e), WD_E_USAGE);
    free(env);
}

static void t05_untrusted_root_when_signed_by_non_root_keys_only(void **state)
{
    (void)state;
    size_t len;
    wd_err e;
    /* Signed by a key of "keys": it verifies, but it is not a root key. */
    char *env = roster_env(std_roster("acme", 1), &K[B0], 1, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_UNTRUSTED_ROOT);
    char want[256];
    snprintf(want, sizeof want, "signed by %s, which is not a root key of it",
             wd_key_id(K[B0]));
    assert_non_null(strstr(e.msg, want));
    free(env);
    /* Signed by keys the roster does not list at all: the first is named. */
    wd_key *two[] = {K[X0], K[R1]};
    env = roster_env(std_roster("acme", 1), two, 2, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_UNTRUSTED_ROOT);
    snprintf(want, sizeof want, "signed by %s and others, which are not root keys of it",
             wd_key_id(K[X0]));
    assert_non_null(strstr(e.msg, want));
    free(env);
}

static void t06_bad_signature_on_tampered_payload_or_sig(void **state)
{
    (void)state;
    size_t len, len2;
    wd_err e;
    char *env = roster_env(std_roster("acme", 1), &K[R0], 1, &len);
    /* Tampered payload, still a valid roster: other org, same signature. */
    char *p = env_payload(env);
    replace_same_len(p, "\"acme\"", "\"acmf\"");
    char *bad = env_with_payload(env, p, &len2);
    assert_int_equal(verify(bad, len2, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_BAD_SIGNATURE);
    assert_non_null(strstr(e.msg, wd_key_id(K[R0])));
    free(bad);
    free(p);
    /* Tampered signature: flip one bit of the decoded signature. */
    json_t *v = json_loads(env, 0, NULL);
    json_t *sig = json_array_get(json_object_get(v, "signatures"), 0);
    const char *sb = json_string_value(json_object_get(sig, "sig"));
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    assert_int_equal(wd_b64_decode(sb, strlen(sb), &raw, &rawlen, NULL), WD_OK);
    raw[10] ^= 0x01;
    char *nb = wd_b64_encode(raw, rawlen);
    json_object_set_new(sig, "sig", json_string(nb));
    free(nb);
    free(raw);
    bad = dump(v, &len2);
    json_decref(v);
    assert_int_equal(verify(bad, len2, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_BAD_SIGNATURE);
    free(bad);
    free(env);
}

static void t07_threshold_two_roots(void **state)
{
    (void)state;
    size_t len;
    wd_err e;
    json_t *two = jroster("acme", 1, 2, json_pack("[o,o]", jroot(R0), jroot(R1)), json_array());
    size_t plen;
    char *p = dump(two, &plen);
    json_decref(two);
    /* One signature of two. */
    char *env = sign_bytes(WD_ROSTER_PAYLOAD_TYPE, p, plen, &K[R0], 1, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "1 of 2"));
    free(env);
    /* The same key twice counts once. */
    env = sign_bytes(WD_ROSTER_PAYLOAD_TYPE, p, plen, &K[R0], 1, &len);
    size_t len2;
    char *twice = dup_first_sig(env, false, &len2);
    assert_int_equal(verify(twice, len2, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "1 of 2"));
    free(twice);
    free(env);
    /* Two different root keys: accepted; with a stranger's signature added too. */
    wd_key *both[] = {K[R0], K[X0], K[R1]};
    env = sign_bytes(WD_ROSTER_PAYLOAD_TYPE, p, plen, both, 3, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R1]), NULL, NULL, &e), WD_OK);
    free(env);
    free(p);
}

static void t08_same_key_with_keyid_in_other_hex_case_counts_once(void **state)
{
    (void)state;
    json_t *two = jroster("acme", 1, 2, json_pack("[o,o]", jroot(R0), jroot(R1)), json_array());
    size_t len, len2;
    char *env = roster_env(two, &K[R0], 1, &len);
    char *env2 = dup_first_sig(env, true, &len2);
    wd_err e;
    assert_int_equal(verify(env2, len2, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "1 of 2"));
    free(env2);
    free(env);
}

static void t09_expired_roster(void **state)
{
    (void)state;
    size_t len;
    char *env = roster_env(std_roster("acme", 1), &K[R0], 1, &len);
    wd_err e;
    wd_err_clear(&e);
    assert_int_equal(verify_at(env, len, wd_key_id(K[R0]), NULL, TEXP - 1, NULL, &e), WD_OK);
    assert_int_equal(verify_at(env, len, wd_key_id(K[R0]), NULL, TEXP, NULL, &e), WD_E_EXPIRED);
    assert_non_null(strstr(e.msg, T_EXP));
    assert_int_equal(verify_at(env, len, wd_key_id(K[R0]), NULL, TEXP + 86400, NULL, &e),
                     WD_E_EXPIRED);
    /* A roster this host already trusts may be re-read past its expiry. */
    wd_roster *r = NULL;
    assert_int_equal(wd_roster_verify_ex((const unsigned char *)env, len, wd_key_id(K[R0]), NULL,
                                         TEXP + 86400, WD_ROSTER_KEEP_EXPIRED, &r, &e),
                     WD_OK);
    assert_int_equal(r->version, 1);
    wd_roster_free(r);
    /* Signatures are still checked first: a tampered, expired roster is bad-signature. */
    char *p = env_payload(env);
    replace_same_len(p, "\"acme\"", "\"acmf\"");
    size_t len2;
    char *bad = env_with_payload(env, p, &len2);
    assert_int_equal(verify_at(bad, len2, wd_key_id(K[R0]), NULL, TEXP, NULL, &e),
                     WD_E_BAD_SIGNATURE);
    free(bad);
    free(p);
    free(env);
}

static void t10_root_key_revoked_or_outside_window(void **state)
{
    (void)state;
    size_t len;
    wd_err e;
    /* Root R0 revoked, R1 active, threshold 1; signed by R0 only. */
    json_t *t = jroster("acme", 1, 1,
                        json_pack("[o,o]", jkey(K[R0], "roster-root", T0, NULL, "revoked"),
                                  jroot(R1)),
                        json_array());
    char *env = roster_env(t, &K[R0], 1, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R1]), NULL, NULL, &e), WD_E_REVOKED_KEY);
    assert_non_null(strstr(e.msg, wd_key_id(K[R0])));
    free(env);
    /* Root R0 valid only from 2026-07-01. */
    t = jroster("acme", 1, 1,
                json_pack("[o]", jkey(K[R0], "roster-root", "2026-07-01T00:00:00Z", NULL,
                                      "active")),
                json_array());
    env = roster_env(t, &K[R0], 1, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_EXPIRED_KEY);
    wd_err_clear(&e);
    assert_int_equal(verify_at(env, len, wd_key_id(K[R0]), NULL, tm("2026-07-01T00:00:00Z"),
                               NULL, &e),
                     WD_OK);
    free(env);
}

static void t11_rotation_accepts_next_version(void **state)
{
    (void)state;
    wd_roster *v1 = v1_roster(NULL, NULL);
    char hash1[WD_DIGEST_STRLEN + 1];
    memcpy(hash1, v1->hash, sizeof hash1);
    size_t len;
    wd_err e;
    /* Same root, one more key. */
    json_t *t = std_roster("acme", 2);
    json_array_append_new(json_object_get(t, "keys"),
                          jkey(K[B1], "policy-bundle-signing", T0, NULL, "active"));
    char *env = roster_env(t, &K[R0], 1, &len);
    wd_roster *v2 = NULL;
    assert_int_equal(verify(env, len, "ignored on rotation", v1, &v2, &e), WD_OK);
    assert_int_equal(v2->version, 2);
    assert_int_equal(v2->nkeys, 4);
    free(env);
    /* Root rotation R0 -> R1, signed by both. */
    t = jroster("acme", 3, 1, json_pack("[o]", jroot(R1)), json_array());
    wd_key *both[] = {K[R0], K[R1]};
    env = roster_env(t, both, 2, &len);
    wd_roster *v3 = NULL;
    assert_int_equal(verify(env, len, NULL, v2, &v3, &e), WD_OK);
    assert_string_equal(wd_key_id(v3->root_keys[0].key), wd_key_id(K[R1]));
    free(env);
    /* Nothing changed in the previous rosters. */
    assert_string_equal(v1->hash, hash1);
    assert_int_equal(v1->version, 1);
    assert_int_equal(v2->version, 2);
    wd_roster_free(v3);
    wd_roster_free(v2);
    wd_roster_free(v1);
}

static void t12_rotation_needs_old_and_new_roots(void **state)
{
    (void)state;
    wd_roster *v1 = v1_roster(NULL, NULL);
    size_t len;
    wd_err e;
    /* v2 moves the root to R1. Only the old root signs: the new side is short. */
    char *env = roster_env(jroster("acme", 2, 1, json_pack("[o]", jroot(R1)), json_array()),
                           &K[R0], 1, &len);
    assert_int_equal(verify(env, len, NULL, v1, NULL, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "new roster's root keys"));
    free(env);
    /* Only the new root signs: the old side is short. */
    env = roster_env(jroster("acme", 2, 1, json_pack("[o]", jroot(R1)), json_array()), &K[R1], 1,
                     &len);
    assert_int_equal(verify(env, len, NULL, v1, NULL, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "previous roster's root keys"));
    free(env);
    /* A bad old-root signature: bad-signature, before the payload is looked at. */
    env = roster_env(jroster("acme", 2, 1, json_pack("[o]", jroot(R1)), json_array()), &K[R0], 1,
                     &len);
    char *p = env_payload(env);
    replace_same_len(p, "\"version\":2", "\"version\":9");
    size_t len2;
    char *bad = env_with_payload(env, p, &len2);
    assert_int_equal(verify(bad, len2, NULL, v1, NULL, &e), WD_E_BAD_SIGNATURE);
    /* Even a payload that is not JSON at all: the signature check comes first. */
    char *junk = env_with_payload(env, "not json", &len2);
    assert_int_equal(verify(junk, len2, NULL, v1, NULL, &e), WD_E_BAD_SIGNATURE);
    free(junk);
    free(bad);
    free(p);
    free(env);
    assert_int_equal(v1->version, 1);
    wd_roster_free(v1);
}

static void t13_rotation_version_gap_is_untrusted_root(void **state)
{
    (void)state;
    wd_roster *v1 = v1_roster(NULL, NULL);
    size_t len;
    wd_err e;
    char *env = roster_env(std_roster("acme", 3), &K[R0], 1, &len);
    assert_int_equal(verify(env, len, NULL, v1, NULL, &e), WD_E_UNTRUSTED_ROOT);
    assert_non_null(strstr(e.msg, "gap"));
    assert_non_null(strstr(e.msg, "(fetch version 2 first)"));
    free(env);
    wd_roster_free(v1);
}

static void t14_rotation_stale_versions(void **state)
{
    (void)state;
    size_t len;
    wd_err e;
    /* Current roster is v2 (same root R0). */
    char *env2 = roster_env(std_roster("acme", 2), &K[R0], 1, &len);
    wd_roster *v1 = v1_roster(NULL, NULL), *v2 = NULL;
    assert_int_equal(verify(env2, len, NULL, v1, &v2, &e), WD_OK);
    /* The same v2 again: accepted as the same roster. */
    wd_roster *again = NULL;
    assert_int_equal(verify(env2, len, NULL, v2, &again, &e), WD_OK);
    assert_string_equal(again->hash, v2->hash);
    wd_roster_free(again);
    /* Another v2 (different content): stale. */
    json_t *t = std_roster("acme", 2);
    json_array_append_new(json_object_get(t, "keys"),
                          jkey(K[B1], "policy-bundle-signing", T0, NULL, "active"));
    size_t len2;
    char *other2 = roster_env(t, &K[R0], 1, &len2);
    assert_int_equal(verify(other2, len2, NULL, v2, NULL, &e), WD_E_STALE);
    /* v1 again: stale. */
    char *env1 = roster_env(std_roster("acme", 1), &K[R0], 1, &len2);
    assert_int_equal(verify(env1, len2, NULL, v2, NULL, &e), WD_E_STALE);
    assert_non_null(strstr(e.msg, "version 1"));
    free(env1);
    free(other2);
    free(env2);
    wd_roster_free(v2);
    wd_roster_free(v1);
}

static void t15_rotation_other_org_is_wrong_scope(void **state)
{
    (void)state;
    wd_roster *v1 = v1_roster(NULL, NULL);
    size_t len;
    wd_err e;
    char *env = roster_env(std_roster("globex", 2), &K[R0], 1, &len);
    assert_int_equal(verify(env, len, NULL, v1, NULL, &e), WD_E_WRONG_SCOPE);
    assert_non_null(strstr(e.msg, "globex"));
    free(env);
    wd_roster_free(v1);
}

static void t16_unsupported_schema_version(void **state)
{
    (void)state;
    wd_err e;
    json_t *t = std_roster("acme", 1);
    json_object_set_new(t, "schema_version", json_integer(2));
    assert_int_equal(parse_tree(t, &e), WD_E_UNSUPPORTED_VERSION);
    /* Checked before unknown fields: a newer schema may add fields. */
    json_object_set_new(t, "mirrors", json_array());
    assert_int_equal(parse_tree(t, &e), WD_E_UNSUPPORTED_VERSION);
    json_object_set_new(t, "schema_version", json_integer(0));
    assert_int_equal(parse_tree(t, &e), WD_E_UNSUPPORTED_VERSION);
    json_decref(t);
    /* Through verify as well. */
    t = std_roster("acme", 1);
    json_object_set_new(t, "schema_version", json_integer(2));
    size_t len;
    char *env = roster_env(t, &K[R0], 1, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e),
                     WD_E_UNSUPPORTED_VERSION);
    free(env);
    /* Not an integer: malformed. */
    t = std_roster("acme", 1);
    json_object_set_new(t, "schema_version", json_string("1"));
    assert_int_equal(parse_tree(t, &e), WD_E_MALFORMED);
    json_decref(t);
}

/* A mutation of the standard roster tree and the code it must produce. */
typedef struct mutation {
    const char *name;
    void (*fn)(json_t *t);
    wd_code code;
} mutation;

static json_t *root_key0(json_t *t)
{
    return json_array_get(json_object_get(json_object_get(t, "root"), "keys"), 0);
}
static json_t *key0(json_t *t)
{
    return json_array_get(json_object_get(t, "keys"), 0);
}

static void m_keyid_mismatch(json_t *t)
{
    json_object_set_new(key0(t), "keyid", json_string(wd_key_id(K[B1])));
}
static void m_keyid_not_digest(json_t *t)
{
    json_object_set_new(key0(t), "keyid", json_string("sha256:1234"));
}
static void m_pub_bad_base64(json_t *t)
{
    json_object_set_new(key0(t), "public_key", json_string("not base64!"));
}
static void m_pub_unpadded(json_t *t)
{
    char *b = wd_b64_encode(wd_key_raw_public(K[B0]), 32);
    b[strlen(b) - 1] = '\0'; /* drop the '=' */
    json_object_set_new(key0(t), "public_key", json_string(b));
    free(b);
}
static void set_raw_pub(json_t *k, size_t n)
{
    unsigned char raw[40];
    memset(raw, 0x42, sizeof raw);
    char *b = wd_b64_encode(raw, n);
    char kid[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_digest_of(raw, n, kid, NULL), WD_OK);
    json_object_set_new(k, "public_key", json_string(b));
    json_object_set_new(k, "keyid", json_string(kid));
    free(b);
}
static void m_pub_31(json_t *t)
{
    set_raw_pub(key0(t), 31);
}
static void m_pub_33(json_t *t)
{
    set_raw_pub(key0(t), 33);
}
/* the identity point (y = 1): a key anyone can sign for, with its true keyid */
static void m_pub_small_order(json_t *t)
{
    unsigned char raw[32] = {1};
    char *b = wd_b64_encode(raw, sizeof raw);
    char kid[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_digest_of(raw, sizeof raw, kid, NULL), WD_OK);
    json_object_set_new(key0(t), "public_key", json_string(b));
    json_object_set_new(key0(t), "keyid", json_string(kid));
    free(b);
}
static void m_bad_time(json_t *t)
{
    json_object_set_new(t, "created_at", json_string("2026-01-01 00:00:00Z"));
}
static void m_bad_time_offset(json_t *t)
{
    json_object_set_new(t, "expires_at", json_string("2027-01-01T00:00:00+00:00"));
}
static void m_bad_valid_from(json_t *t)
{
    json_object_set_new(key0(t), "valid_from", json_string("2026-02-30T00:00:00Z"));
}
static void m_bad_valid_until(json_t *t)
{
    json_object_set_new(key0(t), "valid_until", json_string("tomorrow"));
}
static void m_until_before_from(json_t *t)
{
    json_object_set_new(key0(t), "valid_until", json_string(T0));
}
static void m_expires_before_created(json_t *t)
{
    json_object_set_new(t, "expires_at", json_string(T0));
}
static void m_bad_org(json_t *t)
{
    json_object_set_new(t, "org_id", json_string("-acme"));
}
static void m_org_too_long(json_t *t)
{
    char id[WD_MAX_ID_LEN + 2];
    memset(id, 'a', WD_MAX_ID_LEN + 1);
    id[WD_MAX_ID_LEN + 1] = '\0';
    json_object_set_new(t, "org_id", json_string(id));
}
static void m_org_at_limit(json_t *t)
{
    char id[WD_MAX_ID_LEN + 1];
    memset(id, 'a', WD_MAX_ID_LEN);
    id[WD_MAX_ID_LEN] = '\0';
    json_object_set_new(t, "org_id", json_string(id));
}
static void m_version0(json_t *t)
{
    json_object_set_new(t, "version", json_integer(0));
}
static void m_version_neg(json_t *t)
{
    json_object_set_new(t, "version", json_integer(-3));
}
static void m_unknown_purpose(json_t *t)
{
    json_array_append_new(json_object_get(key0(t), "purposes"), json_string("tool-signing"));
}
static void m_purpose_twice(json_t *t)
{
    json_array_append_new(json_object_get(key0(t), "purposes"),
                          json_string("policy-bundle-signing"));
}
static void m_purpose_not_string(json_t *t)
{
    json_array_append_new(json_object_get(key0(t), "purposes"), json_integer(1));
}
static void m_no_purposes(json_t *t)
{
    json_object_set_new(key0(t), "purposes", json_array());
}
static void m_root_purpose_on_key(json_t *t)
{
    json_array_append_new(json_object_get(key0(t), "purposes"), json_string("roster-root"));
}
static void m_root_without_root_purpose(json_t *t)
{
    json_object_set_new(root_key0(t), "purposes", json_pack("[s]", "policy-bundle-signing"));
}
static void m_root_extra_purpose(json_t *t)
{
    json_array_append_new(json_object_get(root_key0(t), "purposes"),
                          json_string("remote-kill-signing"));
}
static void set_thr(json_t *t, const char *k, int v)
{
    json_object_set_new(json_object_get(t, "thresholds"), k, json_integer(v));
}
static void m_thr0(json_t *t)
{
    set_thr(t, "remote-kill-signing", 0);
}
static void m_thr8(json_t *t)
{
    set_thr(t, "policy-bundle-signing", 8);
}
static void m_thr7(json_t *t)
{
    set_thr(t, "policy-bundle-rollback", 7);
}
static void m_thr1(json_t *t)
{
    set_thr(t, "audit-batch-signing", 1);
}
static void m_thr_unknown(json_t *t)
{
    set_thr(t, "tool-signing", 1);
}
static void m_thr_root(json_t *t)
{
    set_thr(t, "roster-root", 1);
}
static void m_thr_string(json_t *t)
{
    json_object_set_new(json_object_get(t, "thresholds"), "remote-kill-signing",
                        json_string("2"));
}
static void m_root_thr0(json_t *t)
{
    json_object_set_new(json_object_get(t, "root"), "threshold", json_integer(0));
}
static void m_root_thr8(json_t *t)
{
    json_object_set_new(json_object_get(t, "root"), "threshold", json_integer(8));
}
static void m_root_thr_over_keys(json_t *t)
{
    json_object_set_new(json_object_get(t, "root"), "threshold", json_integer(2));
}
static void m_root_keys_empty(json_t *t)
{
    json_object_set_new(json_object_get(t, "root"), "keys", json_array());
}
static void m_keys_empty(json_t *t)
{
    json_object_set_new(t, "keys", json_array());
}
static void m_unknown_top(json_t *t)
{
    json_object_set_new(t, "comment", json_string("hi"));
}
static void m_unknown_in_key(json_t *t)
{
    json_object_set_new(key0(t), "email", json_string("a@b"));
}
static void m_unknown_in_root(json_t *t)
{
    json_object_set_new(json_object_get(t, "root"), "quorum", json_integer(1));
}
static void m_missing_top(json_t *t)
{
    json_object_del(t, "created_at");
}
static void m_missing_in_key(json_t *t)
{
    json_object_del(key0(t), "valid_until");
}
static void m_wrong_type_top(json_t *t)
{
    json_object_set_new(t, "version", json_string("1"));
}
static void m_wrong_type_key(json_t *t)
{
    json_object_set_new(key0(t), "status", json_true());
}
static void m_key_not_object(json_t *t)
{
    json_array_append_new(json_object_get(t, "keys"), json_string("sha256:00"));
}
static void m_bad_status(json_t *t)
{
    json_object_set_new(key0(t), "status", json_string("suspended"));
}
static void m_dup_keyid(json_t *t)
{
    json_array_append_new(json_object_get(t, "keys"),
                          jkey(K[B0], "remote-kill-signing", T0, NULL, "active"));
}
static void m_dup_root(json_t *t)
{
    json_array_append_new(json_object_get(json_object_get(t, "root"), "keys"), jroot(R0));
}
static void m_same_key_in_both_lists(json_t *t)
{
    json_array_append_new(json_object_get(t, "keys"),
                          jkey(K[R0], "remote-kill-signing", T0, NULL, "active"));
}
static void m_version_2p53(json_t *t)
{
    json_object_set_new(t, "version", json_integer(WD_MAX_SAFE_INTEGER + 1));
}
static void m_version_max64(json_t *t)
{
    json_object_set_new(t, "version", json_integer(INT64_MAX));
}
static void m_principal_control(json_t *t)
{
    json_object_set_new(key0(t), "principal", json_string("alice\nbob"));
}
static void m_principal_null(json_t *t)
{
    json_object_set_new(key0(t), "principal", json_null());
}
static void m_version_float(json_t *t)
{
    json_object_set_new(t, "version", json_real(2.0));
}

static void t17_malformed_and_field_codes(void **state)
{
    (void)state;
    static const mutation ms[] = {
        {"keyid mismatch", m_keyid_mismatch, WD_E_MALFORMED},
        {"keyid not a digest", m_keyid_not_digest, WD_E_MALFORMED},
        {"public_key bad base64", m_pub_bad_base64, WD_E_MALFORMED},
        {"public_key unpadded", m_pub_unpadded, WD_E_MALFORMED},
        {"public_key 31 bytes", m_pub_31, WD_E_MALFORMED},
        {"public_key of small order", m_pub_small_order, WD_E_MALFORMED},
        {"public_key 33 bytes", m_pub_33, WD_E_MALFORMED},
        {"created_at bad time", m_bad_time, WD_E_MALFORMED},
        {"expires_at with offset", m_bad_time_offset, WD_E_MALFORMED},
        {"valid_from no such day", m_bad_valid_from, WD_E_MALFORMED},
        {"valid_until not a time", m_bad_valid_until, WD_E_MALFORMED},
        {"valid_until = valid_from", m_until_before_from, WD_E_MALFORMED},
        {"expires_at = created_at", m_expires_before_created, WD_E_MALFORMED},
        {"org_id not an id", m_bad_org, WD_E_MALFORMED},
        {"org_id 129 chars", m_org_too_long, WD_E_MALFORMED},
        {"org_id 128 chars", m_org_at_limit, WD_OK},
        {"version 0", m_version0, WD_E_MALFORMED},
        {"version negative", m_version_neg, WD_E_MALFORMED},
        {"version not integer", m_version_float, WD_E_MALFORMED},
        {"unknown purpose", m_unknown_purpose, WD_E_MALFORMED},
        {"purpose twice", m_purpose_twice, WD_E_MALFORMED},
        {"purpose not a string", m_purpose_not_string, WD_E_MALFORMED},
        {"no purposes", m_no_purposes, WD_E_MALFORMED},
        {"roster-root on a non-root key", m_root_purpose_on_key, WD_E_MALFORMED},
        {"root key without roster-root", m_root_without_root_purpose, WD_E_MALFORMED},
        {"root key with another purpose", m_root_extra_purpose, WD_E_MALFORMED},
        {"threshold 0", m_thr0, WD_E_MALFORMED},
        {"threshold 8", m_thr8, WD_E_MALFORMED},
        {"threshold 7", m_thr7, WD_OK},
        {"threshold 1", m_thr1, WD_OK},
        {"threshold unknown purpose", m_thr_unknown, WD_E_UNKNOWN_FIELD},
        {"threshold roster-root", m_thr_root, WD_E_UNKNOWN_FIELD},
        {"threshold not integer", m_thr_string, WD_E_MALFORMED},
        {"root threshold 0", m_root_thr0, WD_E_MALFORMED},
        {"root threshold 8", m_root_thr8, WD_E_MALFORMED},
        {"root threshold > root keys", m_root_thr_over_keys, WD_E_MALFORMED},
        {"root keys empty", m_root_keys_empty, WD_E_MALFORMED},
        {"keys empty", m_keys_empty, WD_OK},
        {"unknown field at top", m_unknown_top, WD_E_UNKNOWN_FIELD},
        {"unknown field in KEY", m_unknown_in_key, WD_E_UNKNOWN_FIELD},
        {"unknown field in root", m_unknown_in_root, WD_E_UNKNOWN_FIELD},
        {"missing field at top", m_missing_top, WD_E_MALFORMED},
        {"missing field in KEY", m_missing_in_key, WD_E_MALFORMED},
        {"wrong type at top", m_wrong_type_top, WD_E_MALFORMED},
        {"wrong type in KEY", m_wrong_type_key, WD_E_MALFORMED},
        {"KEY not an object", m_key_not_object, WD_E_MALFORMED},
        {"status unknown", m_bad_status, WD_E_MALFORMED},
        {"keyid twice in keys", m_dup_keyid, WD_E_MALFORMED},
        {"keyid twice in root.keys", m_dup_root, WD_E_MALFORMED},
        {"same key in root.keys and keys", m_same_key_in_both_lists, WD_E_MALFORMED},
        {"version 2^53", m_version_2p53, WD_E_MALFORMED},
        {"version 2^63-1", m_version_max64, WD_E_MALFORMED},
        {"principal with control character", m_principal_control, WD_E_MALFORMED},
        {"principal null", m_principal_null, WD_E_MALFORMED},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        json_t *t = std_roster("acme", 1);
        ms[i].fn(t);
        wd_err e;
        wd_code c = parse_tree(t, &e);
        if (c != ms[i].code)
            fail_msg("%s: got %s (%s), wanted %s", ms[i].name, wd_code_name(c), e.msg,
                     wd_code_name(ms[i].code));
        json_decref(t);
    }
}

static void t18_malformed_payload_reaches_bootstrap_as_malformed(void **state)
{
    (void)state;
    /* The pin path parses before it checks signatures: a malformed roster is malformed even
     * when it is signed correctly. */
    json_t *t = std_roster("acme", 1);
    m_keyid_mismatch(t);
    size_t len;
    char *env = roster_env(t, &K[R0], 1, &len);
    wd_err e;
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "keys[0].keyid"));
    free(env);
}

static void t19_duplicate_key_and_trailing_data(void **state)
{
    (void)state;
    size_t len;
    json_t *t = std_roster("acme", 1);
    char *s = dump(t, &len);
    json_decref(t);
    wd_err e;
    /* A repeated top-level key. */
    char *dup = malloc(len + 32);
    snprintf(dup, len + 32, "{\"org_id\":\"acme\",%s", s + 1);
    assert_int_equal(parse_text(dup, &e), WD_E_DUPLICATE_KEY);
    /* A repeated key inside a KEY. */
    char *at = strstr(s, "\"status\":\"active\"");
    assert_non_null(at);
    snprintf(dup, len + 32, "%.*s\"status\":\"active\",%s", (int)(at - s), s, at);
    assert_int_equal(parse_text(dup, &e), WD_E_DUPLICATE_KEY);
    free(dup);
    /* Trailing data; trailing whitespace is fine. */
    char *tr = malloc(len + 8);
    snprintf(tr, len + 8, "%s {}", s);
    assert_int_equal(parse_text(tr, &e), WD_E_TRAILING_DATA);
    snprintf(tr, len + 8, "%s \n", s);
    assert_int_equal(parse_text(tr, &e), WD_OK);
    free(tr);
    /* Not JSON; top-level array. */
    assert_int_equal(parse_text("{\"schema_version\":1,", &e), WD_E_MALFORMED);
    assert_int_equal(parse_text("[1]", &e), WD_E_MALFORMED);
    free(s);
}

/* A roster with one root key and n - 1 other keys (fresh keys), signed by R0. */
static char *many_keys_env(size_t n, size_t *len)
{
    json_t *keys = json_array();
    for (size_t i = 1; i < n; i++) {
        wd_key *k = NULL;
        assert_int_equal(wd_key_generate(&k, NULL), WD_OK);
        json_array_append_new(keys, jkey(k, "policy-bundle-signing", T0, NULL, "active"));
        wd_key_free(k);
    }
    return roster_env(jroster("acme", 1, 1, json_pack("[o]", jroot(R0)), keys), &K[R0], 1, len);
}

static void t20_key_count_at_limit_and_past_it(void **state)
{
    (void)state;
    size_t len;
    wd_err e;
    char *env = many_keys_env(WD_MAX_ROSTER_KEYS, &len);
    wd_roster *r = NULL;
    assert_true(len <= WD_MAX_ROSTER_ENVELOPE);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, &r, &e), WD_OK);
    assert_int_equal(r->nroot + r->nkeys, WD_MAX_ROSTER_KEYS);
    wd_roster_free(r);
    free(env);
    env = many_keys_env(WD_MAX_ROSTER_KEYS + 1, &len);
    assert_true(len <= WD_MAX_ROSTER_ENVELOPE);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_OVERSIZED);
    free(env);
    /* The limit counts root keys too. */
    json_t *roots = json_array();
    json_t *keys = json_array();
    for (size_t i = 0; i < WD_MAX_ROSTER_KEYS + 1; i++) {
        wd_key *k = NULL;
        assert_int_equal(wd_key_generate(&k, NULL), WD_OK);
        if (i < 2)
            json_array_append_new(roots, jkey(k, "roster-root", T0, NULL, "active"));
        else
            json_array_append_new(keys, jkey(k, "remote-kill-signing", T0, NULL, "active"));
        wd_key_free(k);
    }
    json_t *t = jroster("acme", 1, 1, roots, keys);
    assert_int_equal(parse_tree(t, &e), WD_E_OVERSIZED);
    json_array_remove(json_object_get(t, "keys"), 0);
    assert_int_equal(parse_tree(t, &e), WD_OK);
    json_decref(t);
}

static void t21_envelope_size_at_limit_and_past_it(void **state)
{
    (void)state;
    size_t len;
    char *env = roster_env(std_roster("acme", 1), &K[R0], 1, &len);
    /* Pad with whitespace after the document up to exactly the limit. */
    char *big = malloc(WD_MAX_ROSTER_ENVELOPE + 1);
    memcpy(big, env, len);
    memset(big + len, ' ', WD_MAX_ROSTER_ENVELOPE + 1 - len);
    wd_err e;
    assert_int_equal(verify(big, WD_MAX_ROSTER_ENVELOPE, wd_key_id(K[R0]), NULL, NULL, &e),
                     WD_OK);
    assert_int_equal(verify(big, WD_MAX_ROSTER_ENVELOPE + 1, wd_key_id(K[R0]), NULL, NULL, &e),
                     WD_E_OVERSIZED);
    free(big);
    free(env);
}

static void t22_wrong_payload_type(void **state)
{
    (void)state;
    size_t plen, len;
    json_t *t = std_roster("acme", 1);
    char *p = dump(t, &plen);
    json_decref(t);
    char *env = sign_bytes(BUNDLE_TYPE, p, plen, &K[R0], 1, &len);
    wd_err e;
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_WRONG_TYPE);
    assert_non_null(strstr(e.msg, "policy-bundle"));
    wd_roster *v1 = v1_roster(NULL, NULL);
    assert_int_equal(verify(env, len, NULL, v1, NULL, &e), WD_E_WRONG_TYPE);
    wd_roster_free(v1);
    free(env);
    /* Envelope-level strictness comes from the DSSE decoder. */
    assert_int_equal(verify("{\"payloadType\":1}", 17, wd_key_id(K[R0]), NULL, NULL, &e),
                     WD_E_MALFORMED);
    free(p);
}

/* ---- wd_roster_check_signatures ---- */

/* A roster for the threshold checks: B0, B1 bundle (threshold 2); K0 kill; A0 bundle but
 * revoked; B1's twin window key X0 bundle valid 2026-03-01 .. 2026-05-01. */
static wd_roster *check_roster(void)
{
    json_t *keys = json_pack(
        "[o,o,o,o,o]", jkey(K[B0], "policy-bundle-signing", T0, NULL, "active"),
        jkey(K[B1], "policy-bundle-signing,policy-bundle-rollback", T0, NULL, "active"),
        jkey(K[K0], "remote-kill-signing", T0, NULL, "active"),
        jkey(K[A0], "policy-bundle-signing", T0, NULL, "revoked"),
        jkey(K[K1], "policy-bundle-signing", "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z",
             "active"));
    json_t *t = jroster("acme", 1, 1, json_pack("[o]", jroot(R0)), keys);
    json_object_set_new(json_object_get(t, "thresholds"), "policy-bundle-signing",
                        json_integer(2));
    size_t len;
    char *p = dump(t, &len);
    json_decref(t);
    wd_roster *r = NULL;
    assert_int_equal(wd_roster_parse((const unsigned char *)p, len, &r, NULL), WD_OK);
    free(p);
    return r;
}

/* Sign "{}" as a bundle with keys and check it for purpose p at now. */
static wd_code check_with(const wd_roster *r, wd_key **keys, size_t n, wd_purpose p, int64_t now,
                          wd_err *e)
{
    size_t len;
    char *env = sign_bytes(BUNDLE_TYPE, "{}", 2, keys, n, &len);
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((const unsigned char *)env, len, WD_MAX_ENVELOPE, &d, NULL),
                     WD_OK);
    wd_err_clear(e);
    wd_code c = wd_roster_check_signatures(r, &d, p, now, e);
    assert_int_equal(e->code, c);
    wd_dsse_free(&d);
    free(env);
    return c;
}

static void t23_check_signatures_ok_and_threshold(void **state)
{
    (void)state;
    wd_roster *r = check_roster();
    wd_err e;
    wd_key *two[] = {K[B0], K[B1]};
    assert_int_equal(check_with(r, two, 2, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e), WD_OK);
    assert_int_equal(check_with(r, &K[B1], 1, WD_PURPOSE_BUNDLE_ROLLBACK, NOW, &e),
                     WD_E_THRESHOLD); /* rollback threshold 2 by default */
    assert_int_equal(check_with(r, &K[B0], 1, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "1 of 2"));
    /* Kill threshold 2 with one kill key and one stranger. */
    wd_key *ks[] = {K[K0], K[X0]};
    assert_int_equal(check_with(r, ks, 2, WD_PURPOSE_KILL_SIGNING, NOW, &e), WD_E_THRESHOLD);
    /* Audit threshold 1: no key carries it, a bundle key signs: wrong-purpose. */
    assert_int_equal(check_with(r, &K[B0], 1, WD_PURPOSE_AUDIT_SIGNING, NOW, &e),
                     WD_E_WRONG_PURPOSE);
    /* Not one purpose: an internal error, never a pass. */
    assert_int_equal(check_with(r, two, 2, (wd_purpose)0, NOW, &e), WD_E_INTERNAL);
    assert_int_equal(check_with(r, two, 2,
                                (wd_purpose)(WD_PURPOSE_BUNDLE_SIGNING |
                                             WD_PURPOSE_KILL_SIGNING),
                                NOW, &e),
                     WD_E_INTERNAL);
    wd_roster_free(r);
}

/* Check a copy of a B0-signed bundle envelope with its signature repeated. */
static wd_code check_twice(const wd_roster *r, bool upper, wd_err *e)
{
    size_t len, len2;
    char *env = sign_bytes(BUNDLE_TYPE, "{}", 2, &K[B0], 1, &len);
    char *env2 = dup_first_sig(env, upper, &len2);
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((const unsigned char *)env2, len2, WD_MAX_ENVELOPE, &d, NULL),
                     WD_OK);
    assert_int_equal(d.nsigs, 2);
    wd_err_clear(e);
    wd_code c = wd_roster_check_signatures(r, &d, WD_PURPOSE_BUNDLE_SIGNING, NOW, e);
    wd_dsse_free(&d);
    free(env2);
    free(env);
    return c;
}

static void t24_check_counts_one_key_once(void **state)
{
    (void)state;
    wd_roster *r = check_roster();
    wd_err e;
    /* The same signature twice, and again with the keyid in uppercase hex. */
    assert_int_equal(check_twice(r, false, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "1 of 2"));
    assert_int_equal(check_twice(r, true, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "1 of 2"));
    wd_roster_free(r);
}

static void t25_check_revoked_expired_and_purpose(void **state)
{
    (void)state;
    wd_roster *r = check_roster();
    wd_err e;
    /* Revoked A0 with a valid B0: 1 counted, revoked-key names A0. */
    wd_key *rv[] = {K[B0], K[A0]};
    assert_int_equal(check_with(r, rv, 2, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e), WD_E_REVOKED_KEY);
    assert_non_null(strstr(e.msg, wd_key_id(K[A0])));
    /* K1 valid [2026-03-01, 2026-05-01). */
    wd_key *w[] = {K[B0], K[K1]};
    assert_int_equal(check_with(r, w, 2, WD_PURPOSE_BUNDLE_SIGNING,
                                tm("2026-02-28T23:59:59Z"), &e),
                     WD_E_EXPIRED_KEY);
    assert_non_null(strstr(e.msg, wd_key_id(K[K1])));
    assert_int_equal(check_with(r, w, 2, WD_PURPOSE_BUNDLE_SIGNING,
                                tm("2026-03-01T00:00:00Z"), &e),
                     WD_OK);
    assert_int_equal(check_with(r, w, 2, WD_PURPOSE_BUNDLE_SIGNING,
                                tm("2026-04-30T23:59:59Z"), &e),
                     WD_OK);
    assert_int_equal(check_with(r, w, 2, WD_PURPOSE_BUNDLE_SIGNING,
                                tm("2026-05-01T00:00:00Z"), &e),
                     WD_E_EXPIRED_KEY);
    /* A kill key signs for the bundle purpose. */
    wd_key *kp[] = {K[B0], K[K0]};
    assert_int_equal(check_with(r, kp, 2, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_WRONG_PURPOSE);
    assert_non_null(strstr(e.msg, wd_key_id(K[K0])));
    assert_non_null(strstr(e.msg, "policy-bundle-signing"));
    /* A root key signs for the bundle purpose. */
    wd_key *rp[] = {K[B0], K[R0]};
    assert_int_equal(check_with(r, rp, 2, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_WRONG_PURPOSE);
    assert_non_null(strstr(e.msg, wd_key_id(K[R0])));
    /* Precedence: revoked over expired over wrong-purpose. */
    wd_key *all3[] = {K[K0], K[K1], K[A0]};
    assert_int_equal(check_with(r, all3, 3, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_REVOKED_KEY);
    wd_key *two3[] = {K[K0], K[K1]};
    assert_int_equal(check_with(r, two3, 2, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_EXPIRED_KEY);
    /* The threshold reached wins over a revoked extra signer. */
    wd_key *ok3[] = {K[A0], K[B0], K[B1]};
    assert_int_equal(check_with(r, ok3, 3, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e), WD_OK);
    /* Root purpose checks root.keys. */
    assert_int_equal(check_with(r, &K[R0], 1, WD_PURPOSE_ROSTER_ROOT, NOW, &e), WD_OK);
    assert_int_equal(check_with(r, &K[B0], 1, WD_PURPOSE_ROSTER_ROOT, NOW, &e),
                     WD_E_BAD_SIGNATURE);
    wd_roster_free(r);
}

static void t26_check_bad_signatures(void **state)
{
    (void)state;
    wd_roster *r = check_roster();
    wd_err e;
    /* Signed only by keys not in the roster. */
    assert_int_equal(check_with(r, &K[X0], 1, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_BAD_SIGNATURE);
    /* Tampered payload: the signatures by roster keys fail. */
    wd_key *two[] = {K[B0], K[B1]};
    size_t len;
    char *env = sign_bytes(BUNDLE_TYPE, "{\"a\":1}", 7, two, 2, &len);
    char *bad = env_with_payload(env, "{\"a\":2}", &len);
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((const unsigned char *)bad, len, WD_MAX_ENVELOPE, &d, NULL),
                     WD_OK);
    assert_int_equal(wd_roster_check_signatures(r, &d, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_BAD_SIGNATURE);
    assert_non_null(strstr(e.msg, wd_key_id(K[B0])));
    /* For another purpose too: a failing signature by a roster key comes first. */
    assert_int_equal(wd_roster_check_signatures(r, &d, WD_PURPOSE_KILL_SIGNING, NOW, &e),
                     WD_E_BAD_SIGNATURE);
    wd_dsse_free(&d);
    free(bad);
    free(env);
    /* A bad root-key signature on a message is bad-signature too. */
    env = sign_bytes(BUNDLE_TYPE, "{\"a\":1}", 7, &K[R0], 1, &len);
    bad = env_with_payload(env, "{\"a\":3}", &len);
    assert_int_equal(wd_dsse_decode((const unsigned char *)bad, len, WD_MAX_ENVELOPE, &d, NULL),
                     WD_OK);
    assert_int_equal(wd_roster_check_signatures(r, &d, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_BAD_SIGNATURE);
    wd_dsse_free(&d);
    free(bad);
    free(env);
    wd_roster_free(r);
}

/* ---- building ---- */

static void t27_builder_round_trip(void **state)
{
    (void)state;
    wd_err e;
    wd_roster *r = NULL;
    assert_int_equal(wd_roster_new("acme", &r, &e), WD_OK);
    r->created_at = tm(T0);
    r->expires_at = TEXP;
    assert_int_equal(wd_roster_add_key(r, true, K[R0], WD_PURPOSE_ROSTER_ROOT, tm(T0), INT64_MAX,
                                       NULL, &e),
                     WD_OK);
    assert_int_equal(wd_roster_add_key(r, true, K[R1], WD_PURPOSE_ROSTER_ROOT, tm(T0), INT64_MAX,
                                       "bob", &e),
                     WD_OK);
    r->root_threshold = 2;
    assert_int_equal(wd_roster_add_key(r, false, K[K0],
                                       WD_PURPOSE_KILL_SIGNING | WD_PURPOSE_AUDIT_SIGNING, tm(T0),
                                       TEXP, "ops", &e),
                     WD_OK);
    wd_key *both[] = {K[R0], K[R1]};
    char *env = NULL;
    size_t len = 0;
    assert_int_equal(wd_roster_sign(r, both, 2, &env, &len, &e), WD_OK);
    wd_roster *v = NULL;
    assert_int_equal(verify(env, len, wd_key_id(K[R1]), NULL, &v, &e), WD_OK);
    assert_int_equal(v->nroot, 2);
    assert_int_equal(v->root_threshold, 2);
    assert_string_equal(v->root_keys[1].principal, "bob");
    assert_int_equal(v->keys[0].purposes, WD_PURPOSE_KILL_SIGNING | WD_PURPOSE_AUDIT_SIGNING);
    assert_int_equal(v->keys[0].valid_until, TEXP);
    /* The payload is SPEC §2's field order. */
    char *p = env_payload(env);
    static const char head[] = "{\"schema_version\":1,\"org_id\":\"acme\",\"version\":1,";
    assert_true(strncmp(p, head, strlen(head)) == 0);
    free(p);
    free(env);
    /* One root signature of two: the encoder does not check thresholds, the verifier does. */
    assert_int_equal(wd_roster_sign(r, &K[R0], 1, &env, &len, &e), WD_OK);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_THRESHOLD);
    free(env);

    /* Copy, find, revoke, and the copy is independent. */
    wd_roster *c = NULL;
    assert_int_equal(wd_roster_copy(v, &c, &e), WD_OK);
    bool is_root = false;
    wd_roster_key *k = wd_roster_find(c, wd_key_id(K[K0]), &is_root);
    assert_non_null(k);
    assert_false(is_root);
    k->revoked = true;
    assert_false(v->keys[0].revoked);
    assert_non_null(wd_roster_find(c, wd_key_id(K[R1]), &is_root));
    assert_true(is_root);
    assert_null(wd_roster_find(c, wd_key_id(K[X0]), NULL));
    assert_null(wd_roster_find(c, "R1", NULL));
    assert_string_equal(c->hash, v->hash);
    wd_roster_free(c);
    wd_roster_free(v);
    wd_roster_free(r);
}

static void t28_builder_refuses_bad_input(void **state)
{
    (void)state;
    wd_err e;
    wd_roster *r = (wd_roster *)&e;
    assert_int_equal(wd_roster_new("-bad", &r, &e), WD_E_USAGE);
    assert_null(r);
    assert_int_equal(wd_roster_new("acme", &r, &e), WD_OK);
    int64_t t0 = tm(T0);
    assert_int_equal(wd_roster_add_key(r, true, K[R0], WD_PURPOSE_BUNDLE_SIGNING, t0, INT64_MAX,
                                       NULL, &e),
                     WD_E_USAGE);
    assert_int_equal(wd_roster_add_key(r, false, K[B0],
                                       WD_PURPOSE_ROSTER_ROOT | WD_PURPOSE_BUNDLE_SIGNING, t0,
                                       INT64_MAX, NULL, &e),
                     WD_E_USAGE);
    assert_int_equal(wd_roster_add_key(r, false, K[B0], 0, t0, INT64_MAX, NULL, &e), WD_E_USAGE);
    assert_int_equal(wd_roster_add_key(r, false, K[B0], 1u << 9, t0, INT64_MAX, NULL, &e),
                     WD_E_USAGE);
    assert_int_equal(wd_roster_add_key(r, false, K[B0], WD_PURPOSE_BUNDLE_SIGNING, t0, t0, NULL,
                                       &e),
                     WD_E_USAGE);
    assert_int_equal(wd_roster_add_key(r, false, K[B0], WD_PURPOSE_BUNDLE_SIGNING, t0, INT64_MAX,
                                       "a\tb", &e),
                     WD_E_USAGE);
    assert_int_equal(r->nroot + r->nkeys, 0);
    assert_int_equal(wd_roster_add_key(r, false, K[B0], WD_PURPOSE_BUNDLE_SIGNING, t0, INT64_MAX,
                                       NULL, &e),
                     WD_OK);
    assert_int_equal(wd_roster_add_key(r, false, K[B0], WD_PURPOSE_KILL_SIGNING, t0, INT64_MAX,
                                       NULL, &e),
                     WD_E_USAGE);
    assert_int_equal(r->nkeys, 1);
    /* No root key and no times: the encoder refuses what the parser would. */
    char *out = (char *)&e;
    size_t len = 7;
    assert_int_equal(wd_roster_encode(r, &out, &len, &e), WD_E_MALFORMED);
    assert_null(out);
    assert_int_equal(len, 0);
    /* At the key limit: the next key is oversized and nothing changes. */
    r->created_at = t0;
    r->expires_at = TEXP;
    assert_int_equal(wd_roster_add_key(r, true, K[R0], WD_PURPOSE_ROSTER_ROOT, t0, INT64_MAX,
                                       NULL, &e),
                     WD_OK);
    while (r->nroot + r->nkeys < WD_MAX_ROSTER_KEYS) {
        wd_key *k = NULL;
        assert_int_equal(wd_key_generate(&k, NULL), WD_OK);
        assert_int_equal(wd_roster_add_key(r, false, k, WD_PURPOSE_KILL_SIGNING, t0, INT64_MAX,
                                           NULL, &e),
                         WD_OK);
        wd_key_free(k);
    }
    assert_int_equal(wd_roster_add_key(r, false, K[X0], WD_PURPOSE_KILL_SIGNING, t0, INT64_MAX,
                                       NULL, &e),
                     WD_E_OVERSIZED);
    assert_int_equal(r->nroot + r->nkeys, WD_MAX_ROSTER_KEYS);
    assert_int_equal(wd_roster_encode(r, &out, &len, &e), WD_OK);
    free(out);
    wd_roster_free(r);
}

static void t29_bootstrap_needs_the_pinned_key_to_sign(void **state)
{
    (void)state;
    size_t len;
    wd_err e;
    /* The pinned public key listed beside a root key of someone else's, who signs alone. */
    json_t *t = jroster("acme", 1, 1, json_pack("[o,o]", jroot(R0), jroot(X0)), json_array());
    size_t plen;
    char *p = dump(t, &plen);
    json_decref(t);
    char *env = sign_bytes(WD_ROSTER_PAYLOAD_TYPE, p, plen, &K[X0], 1, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_UNTRUSTED_ROOT);
    assert_non_null(strstr(e.msg, "did not sign"));
    /* The same roster is fine for a follower that pinned X0. */
    assert_int_equal(verify(env, len, wd_key_id(K[X0]), NULL, NULL, &e), WD_OK);
    free(env);
    /* Signed by both: fine for either pin. */
    wd_key *both[] = {K[X0], K[R0]};
    env = sign_bytes(WD_ROSTER_PAYLOAD_TYPE, p, plen, both, 2, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_OK);
    free(env);
    free(p);
    /* The pinned key revoked, the roster signed by it and by an active root: revoked-key. */
    t = jroster("acme", 1, 1,
                json_pack("[o,o]", jkey(K[R0], "roster-root", T0, NULL, "revoked"), jroot(R1)),
                json_array());
    wd_key *two[] = {K[R0], K[R1]};
    env = roster_env(t, two, 2, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_REVOKED_KEY);
    assert_non_null(strstr(e.msg, "is revoked in version 1; if a root rotation replaced it, "
                                  "pass the chain of rosters from one it signed (--previous"));
    assert_int_equal(verify(env, len, wd_key_id(K[R1]), NULL, NULL, &e), WD_OK);
    free(env);
}

static void t30_root_threshold_seven_of_seven(void **state)
{
    (void)state;
    static const int ids[] = {R0, R1, R2, B0, B1, K0, K1};
    json_t *roots = json_array();
    for (size_t i = 0; i < 7; i++)
        json_array_append_new(roots, jroot(ids[i]));
    json_t *t = jroster("acme", 1, WD_MAX_THRESHOLD, roots, json_array());
    size_t plen, len;
    char *p = dump(t, &plen);
    json_decref(t);
    wd_key *ks[7];
    for (size_t i = 0; i < 7; i++)
        ks[i] = K[ids[i]];
    wd_err e;
    wd_roster *r = NULL;
    char *env = sign_bytes(WD_ROSTER_PAYLOAD_TYPE, p, plen, ks, 7, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R2]), NULL, &r, &e), WD_OK);
    assert_int_equal(r->root_threshold, 7);
    wd_roster_free(r);
    free(env);
    env = sign_bytes(WD_ROSTER_PAYLOAD_TYPE, p, plen, ks, 6, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R2]), NULL, NULL, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "6 of 7"));
    free(env);
    free(p);
}

/* A public key appears once in a roster (SPEC §2). Listed in both root.keys and keys (either
 * purpose in keys), the parser refuses it naming both places; the builder refuses adding a key
 * already present, in both directions, naming where it is. With one entry, revoking it leaves
 * nothing active, and a bundle signed by it is revoked-key. */
static void t31_a_key_appears_once(void **state)
{
    (void)state;
    wd_err e;
    /* parser: a root key listed again in keys with policy-bundle-signing (it could sign
     * bundles), and a bundle key listed again as a root key */
    json_t *t = std_roster("acme", 1);
    json_array_append_new(json_object_get(t, "keys"),
                          jkey(K[R0], "policy-bundle-signing", T0, NULL, "active"));
    assert_int_equal(parse_tree(t, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "keys[3]"));
    assert_non_null(strstr(e.msg, "root.keys[0]"));
    assert_non_null(strstr(e.msg, wd_key_id(K[R0])));
    json_decref(t);
    t = std_roster("acme", 1);
    json_array_append_new(json_object_get(json_object_get(t, "root"), "keys"), jroot(B0));
    assert_int_equal(parse_tree(t, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "keys[0]"));
    assert_non_null(strstr(e.msg, "root.keys[1]"));
    json_decref(t);
    /* a revoked entry does not make a second, active one acceptable */
    t = std_roster("acme", 1);
    json_array_append_new(json_object_get(t, "keys"),
                          jkey(K[B0], "policy-bundle-signing", T0, NULL, "revoked"));
    assert_int_equal(parse_tree(t, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "keys[3]"));
    assert_non_null(strstr(e.msg, "keys[0]"));
    json_decref(t);
    /* such a roster, signed by its root, is rejected by the verifier before anything counts */
    t = std_roster("acme", 1);
    json_array_append_new(json_object_get(json_object_get(t, "root"), "keys"), jroot(B0));
    size_t len;
    char *env = roster_env(t, &K[R0], 1, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_MALFORMED);
    free(env);

    /* builder, both directions */
    wd_roster *r = NULL;
    assert_int_equal(wd_roster_new("acme", &r, &e), WD_OK);
    int64_t from = tm(T0);
    assert_int_equal(wd_roster_add_key(r, true, K[R0], WD_PURPOSE_ROSTER_ROOT, from, INT64_MAX,
                                       NULL, &e),
                     WD_OK);
    assert_int_equal(wd_roster_add_key(r, false, K[B0], WD_PURPOSE_BUNDLE_SIGNING, from,
                                       INT64_MAX, NULL, &e),
                     WD_OK);
    wd_err_clear(&e);
    assert_int_equal(wd_roster_add_key(r, true, K[B0], WD_PURPOSE_ROSTER_ROOT, from, INT64_MAX,
                                       NULL, &e),
                     WD_E_USAGE);
    assert_non_null(strstr(e.msg, "keys[0]"));
    assert_int_equal(wd_roster_add_key(r, false, K[R0], WD_PURPOSE_BUNDLE_SIGNING, from,
                                       INT64_MAX, NULL, &e),
                     WD_E_USAGE);
    assert_non_null(strstr(e.msg, "root.keys[0]"));
    assert_int_equal(r->nroot, 1);
    assert_int_equal(r->nkeys, 1);
    /* revoke the one entry: a bundle signed by B0 is revoked-key */
    wd_roster_key *k = wd_roster_find(r, wd_key_id(K[B0]), NULL);
    assert_non_null(k);
    k->revoked = true;
    assert_int_equal(check_with(r, &K[B0], 1, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_REVOKED_KEY);
    /* and the root key cannot sign bundles */
    assert_int_equal(check_with(r, &K[R0], 1, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_WRONG_PURPOSE);
    wd_roster_free(r);
}

/* Roster versions are integers in 1 .. 2^53-1: a roster at the limit verifies; the next
 * version cannot exist, so a rotation to it is malformed. */
static void t32_version_range(void **state)
{
    (void)state;
    wd_err e;
    size_t len;
    char *env = roster_env(std_roster("acme", WD_MAX_SAFE_INTEGER), &K[R0], 1, &len);
    wd_roster *top = NULL;
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, &top, &e), WD_OK);
    assert_int_equal(top->version, WD_MAX_SAFE_INTEGER);
    free(env);
    env = roster_env(std_roster("acme", WD_MAX_SAFE_INTEGER + 1), &K[R0], 1, &len);
    assert_int_equal(verify(env, len, NULL, top, NULL, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "version"));
    assert_int_equal(verify(env, len, wd_key_id(K[R0]), NULL, NULL, &e), WD_E_MALFORMED);
    free(env);
    wd_roster_free(top);
}

/* A chain across a root rotation that dropped the pinned key: v1 (root R0, pinned), v2 (roots
 * R0 and R1), v3 (root R1 only). v3 alone does not verify against the pin; v1 -> v2 -> v3 does,
 * and a bundle key revoked in v3 no longer counts, while the older v2 still lets it count. */
static void t33_chain_across_a_root_rotation(void **state)
{
    (void)state;
    wd_err e;
    size_t len;
    const char *pin = wd_key_id(K[R0]);
    char *e1 = roster_env(std_roster("acme", 1), &K[R0], 1, &len);
    wd_roster *v1 = NULL, *v2 = NULL, *v3 = NULL;
    assert_int_equal(verify(e1, len, pin, NULL, &v1, &e), WD_OK);
    json_t *t = std_roster("acme", 2);
    json_array_append_new(json_object_get(json_object_get(t, "root"), "keys"), jroot(R1));
    wd_key *both[] = {K[R0], K[R1]};
    size_t len2;
    char *e2 = roster_env(t, both, 2, &len2);
    assert_int_equal(verify(e2, len2, NULL, v1, &v2, &e), WD_OK);
    t = jroster("acme", 3, 1, json_pack("[o]", jroot(R1)),
                json_pack("[o]", jkey(K[B0], "policy-bundle-signing", T0, NULL, "revoked")));
    size_t len3;
    char *e3 = roster_env(t, both, 2, &len3);
    assert_int_equal(verify(e3, len3, pin, NULL, NULL, &e), WD_E_UNTRUSTED_ROOT);
    assert_int_equal(verify(e3, len3, NULL, v2, &v3, &e), WD_OK);
    assert_int_equal(v3->nroot, 1);
    assert_int_equal(check_with(v3, &K[B0], 1, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_REVOKED_KEY);
    assert_int_equal(check_with(v2, &K[B0], 1, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e), WD_OK);
    /* skipping v2 is a gap */
    assert_int_equal(verify(e3, len3, NULL, v1, NULL, &e), WD_E_UNTRUSTED_ROOT);
    free(e1);
    free(e2);
    free(e3);
    wd_roster_free(v1);
    wd_roster_free(v2);
    wd_roster_free(v3);
}

/* ---- counting for drafts, and whether a signer would count ---- */

/* Sign "{}" as a bundle with keys (0 keys: an unsigned draft) and count it for p at now. */
static wd_sig_count count_with(const wd_roster *r, wd_key **keys, size_t n, wd_purpose p,
                               int64_t now)
{
    char *env = NULL;
    size_t len = 0;
    assert_int_equal(wd_dsse_sign_draft(BUNDLE_TYPE, (const unsigned char *)"{}", 2, keys, n,
                                        &env, &len, NULL),
                     WD_OK);
    wd_dsse d;
    assert_int_equal(
        wd_dsse_decode_draft((const unsigned char *)env, len, WD_MAX_ENVELOPE, &d, NULL), WD_OK);
    wd_sig_count sc;
    assert_int_equal(wd_roster_count(r, &d, p, now, &sc, NULL), WD_OK);
    wd_dsse_free(&d);
    free(env);
    return sc;
}

static void t34_count_matches_the_verifier(void **state)
{
    (void)state;
    wd_roster *r = check_roster();
    /* bundle signing: B0, B1 count; A0 revoked; K1 in window only 2026-03..05 (NOW is June) */
    wd_sig_count sc = count_with(r, NULL, 0, WD_PURPOSE_BUNDLE_SIGNING, NOW);
    assert_int_equal(sc.counted, 0);
    assert_int_equal(sc.eligible, 2);
    assert_int_equal(sc.threshold, 2);
    assert_int_equal(sc.signatures, 0);
    wd_key *one[] = {K[B0], K[A0], K[X0]};
    sc = count_with(r, one, 3, WD_PURPOSE_BUNDLE_SIGNING, NOW);
    assert_int_equal(sc.counted, 1);
    assert_int_equal(sc.signatures, 3);
    wd_key *two[] = {K[B0], K[B1]};
    sc = count_with(r, two, 2, WD_PURPOSE_BUNDLE_SIGNING, NOW);
    assert_int_equal(sc.counted, 2);
    /* in K1's window it is eligible too */
    sc = count_with(r, two, 2, WD_PURPOSE_BUNDLE_SIGNING, tm("2026-04-01T00:00:00Z"));
    assert_int_equal(sc.eligible, 3);
    /* root keys for roster-root */
    wd_key *root[] = {K[R0]};
    sc = count_with(r, root, 1, WD_PURPOSE_ROSTER_ROOT, NOW);
    assert_int_equal(sc.counted, 1);
    assert_int_equal(sc.eligible, 1);
    assert_int_equal(sc.threshold, 1);
    sc = count_with(r, root, 1, WD_PURPOSE_BUNDLE_SIGNING, NOW);
    assert_int_equal(sc.counted, 0);
    wd_roster_free(r);
}

static void t35_key_counts_says_why_not(void **state)
{
    (void)state;
    wd_roster *r = check_roster();
    wd_err e;
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[B0]), WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_OK);
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[R0]), WD_PURPOSE_ROSTER_ROOT, NOW, &e),
                     WD_OK);
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[A0]), WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_REVOKED_KEY);
    assert_non_null(strstr(e.msg, "is revoked in roster acme version 1"));
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[K1]), WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_EXPIRED_KEY);
    assert_non_null(strstr(e.msg, "is valid from 2026-03-01T00:00:00Z until 2026-05-01T00:00:00Z"));
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[K1]), WD_PURPOSE_BUNDLE_SIGNING,
                                          tm("2026-04-01T00:00:00Z"), &e),
                     WD_OK);
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[K0]), WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_WRONG_PURPOSE);
    assert_non_null(strstr(e.msg, "does not carry policy-bundle-signing"));
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[X0]), WD_PURPOSE_KILL_SIGNING, NOW, &e),
                     WD_E_WRONG_PURPOSE);
    assert_non_null(strstr(e.msg, "is not in roster acme version 1"));
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[R0]), WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_WRONG_PURPOSE);
    assert_non_null(strstr(e.msg, "is a root key"));
    assert_int_equal(wd_roster_key_counts(r, wd_key_id(K[B0]), WD_PURPOSE_ROSTER_ROOT, NOW, &e),
                     WD_E_WRONG_PURPOSE);
    assert_non_null(strstr(e.msg, "is not a root key"));
    wd_roster_free(r);
}

static void t36_messages_name_the_signer_and_the_gap(void **state)
{
    (void)state;
    wd_roster *r = check_roster();
    wd_err e;
    /* a bundle signed only by a key the roster does not have names that key */
    assert_int_equal(check_with(r, &K[X0], 1, WD_PURPOSE_BUNDLE_SIGNING, NOW, &e),
                     WD_E_BAD_SIGNATURE);
    char want[256];
    snprintf(want, sizeof want, "signed by %s, which is not in the roster", wd_key_id(K[X0]));
    assert_non_null(strstr(e.msg, want));
    wd_roster_free(r);
    /* a gap of two versions names both */
    wd_roster *v1 = v1_roster(NULL, NULL);
    size_t len;
    char *env = roster_env(std_roster("acme", 4), &K[R0], 1, &len);
    assert_int_equal(verify(env, len, NULL, v1, NULL, &e), WD_E_UNTRUSTED_ROOT);
    assert_non_null(strstr(e.msg, "(fetch versions 2 to 3 first)"));
    free(env);
    /* a pin that is not a root key says how to go on */
    env = roster_env(std_roster("acme", 1), &K[R0], 1, &len);
    assert_int_equal(verify(env, len, wd_key_id(K[R1]), NULL, NULL, &e), WD_E_UNTRUSTED_ROOT);
    assert_non_null(strstr(e.msg, "is not a root key of version 1; if a root rotation replaced "
                                  "it, pass the chain of rosters from one it signed (--previous"));
    free(env);
    wd_roster_free(v1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_purpose_names_round_trip),
        cmocka_unit_test(t02_bootstrap_accepts_and_decodes),
        cmocka_unit_test(t03_defaults_when_thresholds_absent_and_principal),
        cmocka_unit_test(t04_untrusted_root_when_pin_names_no_root_key),
        cmocka_unit_test(t05_untrusted_root_when_signed_by_non_root_keys_only),
        cmocka_unit_test(t06_bad_signature_on_tampered_payload_or_sig),
        cmocka_unit_test(t07_threshold_two_roots),
        cmocka_unit_test(t08_same_key_with_keyid_in_other_hex_case_counts_once),
        cmocka_unit_test(t09_expired_roster),
        cmocka_unit_test(t10_root_key_revoked_or_outside_window),
        cmocka_unit_test(t11_rotation_accepts_next_version),
        cmocka_unit_test(t12_rotation_needs_old_and_new_roots),
        cmocka_unit_test(t13_rotation_version_gap_is_untrusted_root),
        cmocka_unit_test(t14_rotation_stale_versions),
        cmocka_unit_test(t15_rotation_other_org_is_wrong_scope),
        cmocka_unit_test(t16_unsupported_schema_version),
        cmocka_unit_test(t17_malformed_and_field_codes),
        cmocka_unit_test(t18_malformed_payload_reaches_bootstrap_as_malformed),
        cmocka_unit_test(t19_duplicate_key_and_trailing_data),
        cmocka_unit_test(t20_key_count_at_limit_and_past_it),
        cmocka_unit_test(t21_envelope_size_at_limit_and_past_it),
        cmocka_unit_test(t22_wrong_payload_type),
        cmocka_unit_test(t23_check_signatures_ok_and_threshold),
        cmocka_unit_test(t24_check_counts_one_key_once),
        cmocka_unit_test(t25_check_revoked_expired_and_purpose),
        cmocka_unit_test(t26_check_bad_signatures),
        cmocka_unit_test(t27_builder_round_trip),
        cmocka_unit_test(t28_builder_refuses_bad_input),
        cmocka_unit_test(t29_bootstrap_needs_the_pinned_key_to_sign),
        cmocka_unit_test(t30_root_threshold_seven_of_seven),
        cmocka_unit_test(t31_a_key_appears_once),
        cmocka_unit_test(t32_version_range),
        cmocka_unit_test(t33_chain_across_a_root_rotation),
        cmocka_unit_test(t34_count_matches_the_verifier),
        cmocka_unit_test(t35_key_counts_says_why_not),
        cmocka_unit_test(t36_messages_name_the_signer_and_the_gap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
