/* test_bundle.c — focus: verifying signed policy bundles in SPEC §1.2's order (envelope, type,
 * signatures against the roster, strict payload, scope, audience, window, digest, policy), the
 * follower's transition rule with rollback authorizations, and building bundles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "codec/json.h"
#include "crypto/crypto.h"
#include "msg/bundle.h"
#include "msg/dsse.h"
#include "msg/kill.h"
#include "msg/message.h"
#include "msg/rollback.h"
#include "trust/roster.h"

#include "msg_fixtures.h"

/* ---- fixture: one roster with keys for every case ---- */

static const char POLICY[] = "version: 1\nmode: enforce\nservers:\n  default: deny\n";

static wd_label follower_labels[] = {
    {(char *)"team", (char *)"payments"},
    {(char *)"zone", (char *)"a"},
};
static const wd_follower FOLLOWER = {"acme", "prod", "eu1", "i-1", follower_labels, 2};

static int setup(void **state)
{
    (void)state;
    return msgfx_setup(MSGFX_KILL | MSGFX_ROLLBACK,
                       WD_PURPOSE_BUNDLE_SIGNING | WD_PURPOSE_KILL_SIGNING |
                           WD_PURPOSE_BUNDLE_ROLLBACK);
}

static int teardown(void **state)
{
    (void)state;
    return msgfx_teardown();
}

/* ---- payload and envelope helpers ---- */

static void digest(const char *s, size_t n, char out[WD_DIGEST_STRLEN + 1])
{
    assert_int_equal(wd_digest_of(s, n, out, NULL), WD_OK);
}

/* A valid bundle payload: version v, valid from T0-1h for 30 days, audience "*". */
static json_t *bundle_obj(int64_t v, const char *policy)
{
    char dig[WD_DIGEST_STRLEN + 1];
    digest(policy, strlen(policy), dig);
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:I,s:s,s:o,s:o,s:o,s:s,s:s,s:s}",
                          "schema_version", 1, "bundle_id", "b-1", "org_id", "acme", "fleet_id",
                          "prod", "environment", "eu1", "audience", "instance_ids", "*",
                          "version", (json_int_t)v, "previous_bundle_hash", "", "created_at",
                          tjson(T0 - 3600), "not_before", tjson(T0 - 3600), "expires_at",
                          tjson(T0 + 30 * DAY), "min_warden_version", "0.1.0", "policy_yaml",
                          policy, "policy_sha256", dig);
    assert_non_null(o);
    return o;
}

/* Replace policy_yaml and its digest. */
static void set_policy(json_t *o, const char *policy, size_t n)
{
    char dig[WD_DIGEST_STRLEN + 1];
    digest(policy, n, dig);
    assert_int_equal(json_object_set_new(o, "policy_yaml", json_stringn(policy, n)), 0);
    assert_int_equal(json_object_set_new(o, "policy_sha256", json_string(dig)), 0);
}

static char *sign_bundle(json_t *o, size_t *len)
{
    return sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, &F.bsign, 1, len);
}

/* Verify env as FOLLOWER at now; on rejection check that nothing was handed out. */
static wd_code verify_at(const char *env, size_t len, const wd_follower *f, int64_t now,
                         wd_bundle **out, wd_err *e)
{
    wd_bundle *b = (wd_bundle *)&F; /* any non-NULL value: must be reset */
    wd_err_clear(e);
    wd_code c = wd_bundle_verify((const unsigned char *)env, len, F.roster, f, now, 0, &b, e);
    check_verdict(c, b, e);
    if (out != NULL)
        *out = b;
    else
        wd_bundle_free(b);
    return c;
}

/* Sign o as a bundle and expect code at T0 (message in e for further checks). */
static void expect_obj(json_t *o, wd_code code, wd_err *e)
{
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_code c = verify_at(env, len, &FOLLOWER, T0, NULL, e);
    expect_code(c, code, e);
    free(env);
}

/* Sign raw payload text as a bundle and expect code at T0. */
static void expect_text(const char *payload, wd_code code, wd_err *e)
{
    size_t len = 0;
    char *env = sign_text(WD_BUNDLE_PAYLOAD_TYPE, payload, strlen(payload), &F.bsign, 1, &len);
    wd_code c = verify_at(env, len, &FOLLOWER, T0, NULL, e);
    expect_code(c, code, e);
    free(env);
}

/* Replace one top-level field of the envelope text (a JSON object) and return new text. */
static char *envelope_with(const char *env, size_t len, const char *key, json_t *value)
{
    json_t *v = NULL;
    assert_int_equal(wd_json_parse((const unsigned char *)env, len, WD_MAX_ENVELOPE, &v, NULL),
                     WD_OK);
    assert_int_equal(json_object_set_new(v, key, value), 0);
    char *s = wd_json_dump(v, NULL);
    json_decref(v);
    return s;
}

static wd_bundle *must_verify(json_t *o, int64_t now)
{
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_bundle *b = NULL;
    wd_err e;
    wd_code c = verify_at(env, len, &FOLLOWER, now, &b, &e);
    if (c != WD_OK)
        fail_msg("verify: %s", e.msg);
    free(env);
    return b;
}

static json_t *rollback_obj(const wd_bundle *cur, const wd_bundle *target, int64_t created,
                            int64_t expires)
{
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:s,s:I,s:s,s:I,s:s,s:o,s:o}",
                          "schema_version", 1, "authorization_id", "r-1", "org_id", "acme",
                          "fleet_id", "prod", "environment", "eu1", "audience", "instance_ids",
                          "*", "current_bundle_hash", cur->hash, "current_version",
                          (json_int_t)cur->version, "target_bundle_hash", target->hash,
                          "target_version", (json_int_t)target->version, "reason", "bad deploy",
                          "created_at", tjson(created), "expires_at", tjson(expires));
    assert_non_null(o);
    return o;
}

static char *sign_rollback(json_t *o, size_t *len)
{
    wd_key *keys[] = {F.rb1, F.rb2};
    return sign_obj(WD_ROLLBACK_PAYLOAD_TYPE, o, keys, 2, len);
}

/* ---- tests ---- */

static void t01_valid_bundle_verifies(void **state)
{
    (void)state;
    json_t *o = bundle_obj(7, POLICY);
    size_t plen = 0;
    char *payload = wd_json_dump(o, &plen);
    wd_bundle *b = must_verify(o, T0);
    char want[WD_DIGEST_STRLEN + 1];
    digest(payload, plen, want);
    assert_string_equal(b->hash, want);
    assert_string_equal(b->bundle_id, "b-1");
    assert_string_equal(b->scope.org_id, "acme");
    assert_int_equal(b->version, 7);
    assert_int_equal(b->audience.kind, WD_AUDIENCE_ALL);
    assert_int_equal(b->policy_len, strlen(POLICY));
    assert_memory_equal(b->policy_yaml, POLICY, strlen(POLICY));
    assert_non_null(b->policy);
    assert_string_equal(json_string_value(json_object_get(b->policy, "mode")), "enforce");
    wd_bundle_free(b);
    free(payload);
    json_decref(o);
}

static void t02_untrusted_root_when_pin_matches_no_root_key(void **state)
{
    (void)state;
    wd_err e;
    wd_roster *r = NULL;
    char *env = NULL;
    size_t len = 0;
    assert_int_equal(wd_roster_sign(F.roster, &F.root, 1, &env, &len, &e), WD_OK);
    /* a signing key of the roster is not a root key */
    assert_int_equal(wd_roster_verify((unsigned char *)env, len, wd_key_id(F.bsign), NULL, T0,
                                      &r, &e),
                     WD_E_UNTRUSTED_ROOT);
    assert_null(r);
    /* a key the roster does not list at all */
    assert_int_equal(wd_roster_verify((unsigned char *)env, len, wd_key_id(F.outsider), NULL, T0,
                                      &r, &e),
                     WD_E_UNTRUSTED_ROOT);
    assert_null(r);
    assert_string_equal(wd_code_name(e.code), "untrusted-root");
    free(env);
}

static void t03_bad_signature_when_payload_tampered(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    /* same signature over a payload whose version changed */
    json_object_set_new(o, "version", json_integer(2));
    char *p = wd_json_dump(o, NULL);
    char *b64 = wd_b64_encode((unsigned char *)p, strlen(p));
    char *bad = envelope_with(env, len, "payload", json_string(b64));
    wd_err e;
    assert_int_equal(verify_at(bad, strlen(bad), &FOLLOWER, T0, NULL, &e), WD_E_BAD_SIGNATURE);
    /* a tampered payload that is not even JSON is still a signature error, never a parse one */
    free(b64);
    b64 = wd_b64_encode((const unsigned char *)"{{{", 3);
    free(bad);
    bad = envelope_with(env, len, "payload", json_string(b64));
    assert_int_equal(verify_at(bad, strlen(bad), &FOLLOWER, T0, NULL, &e), WD_E_BAD_SIGNATURE);
    free(bad);
    free(b64);
    free(p);
    free(env);
    json_decref(o);
}

static void t04_bad_signature_when_signature_tampered(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_dsse d;
    assert_int_equal(wd_dsse_decode((unsigned char *)env, len, WD_MAX_ENVELOPE, &d, NULL), WD_OK);
    d.sigs[0].sig[10] ^= 0x01;
    char *sig = wd_b64_encode(d.sigs[0].sig, WD_ED25519_SIG_LEN);
    json_t *sigs = json_pack("[{s:s,s:s}]", "keyid", d.sigs[0].keyid, "sig", sig);
    char *bad = envelope_with(env, len, "signatures", sigs);
    wd_err e;
    assert_int_equal(verify_at(bad, strlen(bad), &FOLLOWER, T0, NULL, &e), WD_E_BAD_SIGNATURE);
    assert_non_null(strstr(e.msg, wd_key_id(F.bsign)));
    wd_dsse_free(&d);
    free(sig);
    free(bad);
    free(env);
    json_decref(o);
}

static void t05_signer_not_in_roster(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, &F.outsider, 1, &len);
    wd_err e;
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_BAD_SIGNATURE);
    free(env);
    json_decref(o);
}

static void t06_wrong_purpose_kill_key_signs_bundle(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, &F.kill1, 1, &len);
    wd_err e;
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_WRONG_PURPOSE);
    free(env);
    /* a root key does not carry policy-bundle-signing either */
    env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, &F.root, 1, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_WRONG_PURPOSE);
    free(env);
    json_decref(o);
}

static void t07_revoked_key(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, &F.revoked, 1, &len);
    wd_err e;
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_REVOKED_KEY);
    free(env);
    json_decref(o);
}

static void t08_expired_key_outside_its_window(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, &F.expired, 1, &len);
    wd_err e;
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_EXPIRED_KEY);
    /* before its valid_from too */
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0 - 31 * DAY, NULL, &e), WD_E_EXPIRED_KEY);
    free(env);
    json_decref(o);
}

static void t09_expired_at_expires_at(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_err e;
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0 + 30 * DAY - 1, NULL, &e), WD_OK);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0 + 30 * DAY, NULL, &e), WD_E_EXPIRED);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0 + 31 * DAY, NULL, &e), WD_E_EXPIRED);
    free(env);
    json_decref(o);
}

static void t10_not_yet_valid_beyond_60s_skew(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    int64_t nb = T0 + 3600;
    json_object_set_new(o, "not_before", tjson(nb));
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_err e;
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb - 61, NULL, &e), WD_E_NOT_YET_VALID);
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb - 60, NULL, &e), WD_OK);
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb - 59, NULL, &e), WD_OK);
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb, NULL, &e), WD_OK);
    free(env);
    json_decref(o);
}

static void t11_wrong_scope_org_fleet_env(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_err e;
    wd_follower f = FOLLOWER;
    f.org_id = "other";
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_WRONG_SCOPE);
    assert_non_null(strstr(e.msg, "org_id"));
    f = FOLLOWER;
    f.fleet_id = "staging";
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_WRONG_SCOPE);
    assert_non_null(strstr(e.msg, "fleet_id"));
    f = FOLLOWER;
    f.environment = "us1";
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_WRONG_SCOPE);
    assert_non_null(strstr(e.msg, "environment"));
    free(env);
    /* a bundle for another org is wrong-scope against the roster's org even when the follower
     * claims that org */
    json_object_set_new(o, "org_id", json_string("other"));
    env = sign_bundle(o, &len);
    f = FOLLOWER;
    f.org_id = "other";
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_WRONG_SCOPE);
    assert_non_null(strstr(e.msg, "roster"));
    free(env);
    json_decref(o);
}

static void t12_wrong_audience_instance_and_labels(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    json_object_set_new(o, "audience", json_pack("{s:[s,s]}", "instance_ids", "i-2", "i-3"));
    expect_obj(o, WD_E_WRONG_AUDIENCE, &e);
    assert_non_null(strstr(e.msg, "i-1"));
    /* one label off */
    json_object_set_new(o, "audience",
                        json_pack("{s:{s:s,s:s}}", "labels", "team", "payments", "zone", "b"));
    expect_obj(o, WD_E_WRONG_AUDIENCE, &e);
    assert_non_null(strstr(e.msg, "zone"));
    /* a label the follower lacks */
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "tier", "gold"));
    expect_obj(o, WD_E_WRONG_AUDIENCE, &e);
    /* a follower without labels */
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", "payments"));
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_follower f = FOLLOWER;
    f.labels = NULL;
    f.nlabels = 0;
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_WRONG_AUDIENCE);
    free(env);
    json_decref(o);
}

static void t13_malformed_audiences(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    json_object_set_new(o, "audience", json_pack("{s:[s,s]}", "instance_ids", "*", "i-1"));
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "\"*\""));
    json_object_set_new(o, "audience", json_pack("{s:[s,s]}", "instance_ids", "i-1", "*"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{s:[s,s]}", "instance_ids", "*", "*"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{s:[]}", "instance_ids"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{s:{}}", "labels"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{}"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience",
                        json_pack("{s:[s],s:{s:s}}", "instance_ids", "i-1", "labels", "a", "b"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{s:[s]}", "instance_ids", "-bad"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{s:[i]}", "instance_ids", 3));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "bad key", "v"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", "a\tb"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_pack("{s:{s:i}}", "labels", "team", 1));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "audience", json_string("*"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

static void t14_wrong_type_for_other_envelopes(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    /* a kill envelope (signed by kill keys) offered as a bundle */
    wd_key *kk[] = {F.kill1, F.kill2};
    char *env = sign_obj(WD_KILL_PAYLOAD_TYPE, o, kk, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_WRONG_TYPE);
    assert_non_null(strstr(e.msg, "remote-kill"));
    free(env);
    env = sign_obj(WD_ROSTER_PAYLOAD_TYPE, o, &F.root, 1, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_WRONG_TYPE);
    free(env);
    env = sign_obj("application/json", o, &F.bsign, 1, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_WRONG_TYPE);
    free(env);
    json_decref(o);
}

static void t15_hash_mismatch(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    char dig[WD_DIGEST_STRLEN + 1];
    digest("version: 1\n", 11, dig);
    json_object_set_new(o, "policy_sha256", json_string(dig));
    expect_obj(o, WD_E_HASH_MISMATCH, &e);
    /* one byte of the policy changed, digest kept */
    digest(POLICY, strlen(POLICY), dig);
    json_object_set_new(o, "policy_sha256", json_string(dig));
    json_object_set_new(o, "policy_yaml", json_string("version: 1\nmode: audit\n"));
    expect_obj(o, WD_E_HASH_MISMATCH, &e);
    json_decref(o);
}

static void t16_forbidden_sections_name_the_key(void **state)
{
    (void)state;
    static const char *const sections[] = {
        "conductor", "leader", "agent", "tls", "logging", "flight_recorder", "sandbox", "metrics",
        "state_dir", "kill_switch", "telemetry",
    };
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        char policy[256];
        snprintf(policy, sizeof policy, "version: 1\n%s:\n  x: 1\n", sections[i]);
        set_policy(o, policy, strlen(policy));
        expect_obj(o, WD_E_FORBIDDEN_SECTION, &e);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", sections[i]);
        assert_non_null(strstr(e.msg, quoted));
    }
    /* a scalar section value is forbidden the same way */
    set_policy(o, "version: 1\nstate_dir: /var/lib/x\n", 33);
    expect_obj(o, WD_E_FORBIDDEN_SECTION, &e);
    json_decref(o);
}

static void t17_oversized_bundle_envelope_at_limit_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    char *at = pad_to(env, len, WD_MAX_BUNDLE_ENVELOPE);
    assert_int_equal(verify_at(at, WD_MAX_BUNDLE_ENVELOPE, &FOLLOWER, T0, NULL, &e), WD_OK);
    char *past = pad_to(env, len, WD_MAX_BUNDLE_ENVELOPE + 1);
    assert_int_equal(verify_at(past, WD_MAX_BUNDLE_ENVELOPE + 1, &FOLLOWER, T0, NULL, &e),
                     WD_E_OVERSIZED);
    free(at);
    free(past);
    free(env);
    json_decref(o);
}

/* A valid policy of exactly n bytes: POLICY, then one comment line filling the rest. */
static char *policy_of(size_t n)
{
    size_t head = strlen(POLICY);
    assert_true(n > head + 3);
    char *p = malloc(n + 1);
    assert_non_null(p);
    memcpy(p, POLICY, head);
    p[head] = '#';
    memset(p + head + 1, 'x', n - head - 2);
    p[n - 1] = '\n';
    p[n] = '\0';
    return p;
}

static void t18_oversized_policy_yaml_at_limit_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    char *p = policy_of(WD_MAX_POLICY_BYTES);
    set_policy(o, p, WD_MAX_POLICY_BYTES);
    wd_bundle *b = must_verify(o, T0);
    assert_int_equal(b->policy_len, WD_MAX_POLICY_BYTES);
    wd_bundle_free(b);
    free(p);
    p = policy_of(WD_MAX_POLICY_BYTES + 1);
    set_policy(o, p, WD_MAX_POLICY_BYTES + 1);
    expect_obj(o, WD_E_OVERSIZED, &e);
    assert_non_null(strstr(e.msg, "policy_yaml"));
    free(p);
    json_decref(o);
}

static void t19_oversized_instance_ids_at_limit_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    json_t *ids = json_array();
    char id[32];
    for (int i = 0; i < WD_MAX_AUDIENCE_IDS; i++) {
        snprintf(id, sizeof id, "i-%d", WD_MAX_AUDIENCE_IDS - i);
        json_array_append_new(ids, json_string(id));
    }
    json_object_set_new(o, "audience", json_pack("{s:O}", "instance_ids", ids));
    wd_follower f = FOLLOWER;
    f.instance_id = "i-1"; /* the last entry */
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_bundle *b = NULL;
    assert_int_equal(verify_at(env, len, &f, T0, &b, &e), WD_OK);
    assert_int_equal(b->audience.nids, WD_MAX_AUDIENCE_IDS);
    wd_bundle_free(b);
    free(env);
    json_array_append_new(ids, json_string("i-0"));
    json_object_set_new(o, "audience", json_pack("{s:O}", "instance_ids", ids));
    expect_obj(o, WD_E_OVERSIZED, &e);
    json_decref(ids);
    json_decref(o);
}

static void t20_oversized_labels_and_label_values(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    wd_label fl[WD_MAX_LABELS + 1];
    char keys[WD_MAX_LABELS + 1][16];
    json_t *labels = json_object();
    for (int i = 0; i < WD_MAX_LABELS; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        fl[i].key = keys[i];
        fl[i].value = (char *)"v";
        json_object_set_new(labels, keys[i], json_string("v"));
    }
    json_object_set_new(o, "audience", json_pack("{s:O}", "labels", labels));
    wd_follower f = FOLLOWER;
    f.labels = fl;
    f.nlabels = WD_MAX_LABELS;
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_OK);
    free(env);
    json_object_set_new(labels, "k64", json_string("v"));
    json_object_set_new(o, "audience", json_pack("{s:O}", "labels", labels));
    expect_obj(o, WD_E_OVERSIZED, &e);
    json_decref(labels);

    /* a value of exactly 256 bytes, then 257 */
    char value[WD_MAX_LABEL_VALUE + 2];
    memset(value, 'v', sizeof value);
    value[WD_MAX_LABEL_VALUE] = '\0';
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", value));
    wd_label one = {(char *)"team", value};
    f.labels = &one;
    f.nlabels = 1;
    env = sign_bundle(o, &len);
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_OK);
    free(env);
    value[WD_MAX_LABEL_VALUE] = 'v';
    value[WD_MAX_LABEL_VALUE + 1] = '\0';
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", value));
    env = sign_bundle(o, &len);
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_OVERSIZED);
    free(env);
    json_decref(o);
}

static void t21_unknown_fields(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    json_object_set_new(o, "signed_by", json_string("me"));
    expect_obj(o, WD_E_UNKNOWN_FIELD, &e);
    assert_non_null(strstr(e.msg, "signed_by"));
    json_object_del(o, "signed_by");
    json_object_set_new(o, "audience", json_pack("{s:[s],s:b}", "instance_ids", "*", "all", 1));
    expect_obj(o, WD_E_UNKNOWN_FIELD, &e);
    assert_non_null(strstr(e.msg, "audience.all"));
    json_decref(o);
}

static void t22_duplicate_keys(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    char *s = text_replace(o, "\"version\":1,", "\"version\":1,\"version\":1,");
    expect_text(s, WD_E_DUPLICATE_KEY, &e);
    free(s);
    s = text_replace(o, "{\"instance_ids\":[\"*\"]}",
                     "{\"instance_ids\":[\"*\"],\"instance_ids\":[\"*\"]}");
    expect_text(s, WD_E_DUPLICATE_KEY, &e);
    free(s);
    json_decref(o);
}

static void t23_trailing_data(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    char *p = wd_json_dump(o, NULL);
    size_t n = strlen(p);
    char *s = malloc(n + 4);
    memcpy(s, p, n);
    strcpy(s + n, " {}");
    expect_text(s, WD_E_TRAILING_DATA, &e);
    /* whitespace after the document is fine */
    strcpy(s + n, " \n ");
    expect_text(s, WD_OK, &e);
    free(s);
    free(p);
    json_decref(o);
}

static void t24_malformed_fields(void **state)
{
    (void)state;
    wd_err e;
    struct {
        const char *key;
        json_t *value;
    } cases[] = {
        {"created_at", json_string("2027-01-15 08:00:00Z")},
        {"not_before", json_string("2027-01-15T08:00:00+00:00")},
        {"expires_at", json_string("2027-02-30T00:00:00Z")},
        {"bundle_id", json_string("b 1")},
        {"bundle_id", json_string("")},
        {"fleet_id", json_string("-prod")},
        {"policy_sha256", json_string("sha256:1234")},
        {"policy_sha256", json_string("md5:d41d8cd98f00b204e9800998ecf8427e")},
        {"previous_bundle_hash", json_string("sha256:zz")},
        {"version", json_integer(0)},
        {"version", json_integer(-3)},
        {"version", json_string("1")},
        {"schema_version", json_string("1")},
        {"audience", json_array()},
        {"policy_yaml", json_integer(1)},
        {"min_warden_version", json_string("0.1")},
        {"min_warden_version", json_string("00.1.0")},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = bundle_obj(1, POLICY);
        json_object_set_new(o, cases[i].key, cases[i].value);
        expect_obj(o, WD_E_MALFORMED, &e);
        json_decref(o);
    }
    /* a missing field */
    json_t *o = bundle_obj(1, POLICY);
    json_object_del(o, "not_before");
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "not_before"));
    json_decref(o);
    /* window out of order: created_at after not_before, not_before at expires_at */
    o = bundle_obj(1, POLICY);
    json_object_set_new(o, "created_at", tjson(T0 - 3599));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "created_at", tjson(T0 - 3600));
    json_object_set_new(o, "expires_at", tjson(T0 - 3600));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
    /* the payload is not an object */
    expect_text("[1,2]", WD_E_MALFORMED, &e);
    expect_text("not json", WD_E_MALFORMED, &e);
}

static void t25_unsupported_version(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    json_object_set_new(o, "schema_version", json_integer(2));
    expect_obj(o, WD_E_UNSUPPORTED_VERSION, &e);
    /* a newer schema is unsupported-version even with fields this warden does not know */
    json_object_set_new(o, "newer_field", json_true());
    expect_obj(o, WD_E_UNSUPPORTED_VERSION, &e);
    json_decref(o);
    o = bundle_obj(1, POLICY);
    json_object_set_new(o, "min_warden_version", json_string("9.0.0"));
    expect_obj(o, WD_E_UNSUPPORTED_VERSION, &e);
    assert_non_null(strstr(e.msg, "9.0.0"));
    json_object_set_new(o, "min_warden_version", json_string(WARDEN_VERSION));
    expect_obj(o, WD_OK, &e);
    json_object_set_new(o, "min_warden_version", json_string("0.0.1"));
    expect_obj(o, WD_OK, &e);
    json_decref(o);
}

static void t26_invalid_policy_keeps_the_detail(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    const char *syntax = "version: 1\nservers: [unclosed\n";
    set_policy(o, syntax, strlen(syntax));
    expect_obj(o, WD_E_INVALID_POLICY, &e);
    assert_non_null(strstr(e.msg, "line"));
    const char *unknown = "version: 1\nservers:\n  default: deny\n  mtach: 1\n";
    set_policy(o, unknown, strlen(unknown));
    expect_obj(o, WD_E_INVALID_POLICY, &e);
    assert_non_null(strstr(e.msg, "servers.mtach"));
    const char *dup = "version: 1\nversion: 1\n";
    set_policy(o, dup, strlen(dup));
    expect_obj(o, WD_E_INVALID_POLICY, &e);
    const char *list = "- version\n";
    set_policy(o, list, strlen(list));
    expect_obj(o, WD_E_INVALID_POLICY, &e);
    const char *noversion = "mode: enforce\n";
    set_policy(o, noversion, strlen(noversion));
    expect_obj(o, WD_E_INVALID_POLICY, &e);
    const char *empty = "";
    set_policy(o, empty, 0);
    expect_obj(o, WD_E_INVALID_POLICY, &e);
    json_decref(o);
}

static void t27_transition_first_forward_skip_noop(void **state)
{
    (void)state;
    wd_err e;
    char note[WD_ERR_MSG_MAX];
    wd_bundle_step step;
    json_t *o1 = bundle_obj(1, POLICY);
    wd_bundle *b1 = must_verify(o1, T0);
    assert_int_equal(wd_bundle_transition(NULL, 0, b1, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          NULL, note, sizeof note, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_FIRST);
    /* forward: version 2 names version 1 as previous */
    json_t *o2 = bundle_obj(2, POLICY);
    json_object_set_new(o2, "previous_bundle_hash", json_string(b1->hash));
    wd_bundle *b2 = must_verify(o2, T0);
    assert_int_equal(wd_bundle_transition(b1, 0, b2, NULL, 0, F.roster, &FOLLOWER, T0, &step, NULL,
                                          note, sizeof note, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_FORWARD);
    assert_string_equal(wd_bundle_step_name(step), "accepted");
    /* skip-forward: version 3 follows version 2, applied on top of version 1 */
    json_t *o3 = bundle_obj(3, POLICY);
    json_object_set_new(o3, "previous_bundle_hash", json_string(b2->hash));
    wd_bundle *b3 = must_verify(o3, T0);
    assert_int_equal(wd_bundle_transition(b1, 0, b3, NULL, 0, F.roster, &FOLLOWER, T0, &step, NULL,
                                          note, sizeof note, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_SKIP);
    assert_string_equal(wd_bundle_step_name(step), "accepted, versions skipped");
    assert_non_null(strstr(note, "skipped"));
    /* a higher version with an empty previous hash is a skip too */
    json_t *o4 = bundle_obj(4, POLICY);
    wd_bundle *b4 = must_verify(o4, T0);
    assert_int_equal(wd_bundle_transition(b3, 0, b4, NULL, 0, F.roster, &FOLLOWER, T0, &step, NULL,
                                          note, sizeof note, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_SKIP);
    /* idempotent re-apply */
    wd_bundle *b3again = must_verify(o3, T0);
    assert_int_equal(wd_bundle_transition(b3, 0, b3again, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          NULL, note, sizeof note, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_NOOP);
    assert_string_equal(wd_bundle_step_name(step), "no-op");
    wd_bundle *list[] = {b1, b2, b3, b4, b3again};
    for (size_t i = 0; i < 5; i++)
        wd_bundle_free(list[i]);
    json_decref(o1);
    json_decref(o2);
    json_decref(o3);
    json_decref(o4);
}

static void t28_transition_fork(void **state)
{
    (void)state;
    wd_err e;
    wd_bundle_step step = WD_BUNDLE_NOOP;
    json_t *a = bundle_obj(5, POLICY);
    json_t *b = bundle_obj(5, "version: 1\nmode: audit\n");
    wd_bundle *ba = must_verify(a, T0), *bb = must_verify(b, T0);
    assert_int_equal(
        wd_bundle_transition(ba, 0, bb, NULL, 0, F.roster, &FOLLOWER, T0, &step, NULL, NULL, 0, &e),
        WD_E_FORK);
    assert_int_equal(step, WD_BUNDLE_NOOP); /* untouched */
    assert_non_null(strstr(e.msg, ba->hash));
    wd_bundle_free(ba);
    wd_bundle_free(bb);
    json_decref(a);
    json_decref(b);
}

static void t29_transition_lower_version_without_authorization_is_stale(void **state)
{
    (void)state;
    wd_err e;
    wd_bundle_step step;
    json_t *a = bundle_obj(5, POLICY), *b = bundle_obj(4, POLICY);
    wd_bundle *ba = must_verify(a, T0), *bb = must_verify(b, T0);
    assert_int_equal(
        wd_bundle_transition(ba, 0, bb, NULL, 0, F.roster, &FOLLOWER, T0, &step, NULL, NULL, 0, &e),
        WD_E_STALE);
    assert_non_null(strstr(e.msg, "no rollback authorization"));
    wd_bundle_free(ba);
    wd_bundle_free(bb);
    json_decref(a);
    json_decref(b);
}

static void t30_transition_authorized_rollback(void **state)
{
    (void)state;
    wd_err e;
    char note[WD_ERR_MSG_MAX];
    wd_bundle_step step;
    json_t *a = bundle_obj(5, POLICY), *b = bundle_obj(3, POLICY);
    wd_bundle *ba = must_verify(a, T0), *bb = must_verify(b, T0);
    json_t *r = rollback_obj(ba, bb, T0 - 60, T0 + 3600);
    size_t len = 0;
    char *auth = sign_rollback(r, &len);
    assert_int_equal(wd_bundle_transition(ba, 0, bb, (unsigned char *)auth, len, F.roster,
                                          &FOLLOWER, T0, &step, NULL, note, sizeof note, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_ROLLBACK);
    assert_non_null(strstr(note, "r-1"));
    /* the authorization is irrelevant to a forward step */
    assert_int_equal(wd_bundle_transition(bb, 0, ba, (unsigned char *)auth, len, F.roster,
                                          &FOLLOWER, T0, &step, NULL, NULL, 0, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_SKIP);
    free(auth);
    json_decref(r);
    wd_bundle_free(ba);
    wd_bundle_free(bb);
    json_decref(a);
    json_decref(b);
}

static void t31_transition_rollback_for_another_pair_is_stale(void **state)
{
    (void)state;
    wd_err e;
    wd_bundle_step step;
    json_t *a = bundle_obj(5, POLICY), *b = bundle_obj(3, POLICY), *c = bundle_obj(2, POLICY);
    wd_bundle *ba = must_verify(a, T0), *bb = must_verify(b, T0), *bc = must_verify(c, T0);
    /* authorizes 5 -> 2, offered for 5 -> 3 */
    json_t *r = rollback_obj(ba, bc, T0 - 60, T0 + 3600);
    size_t len = 0;
    char *auth = sign_rollback(r, &len);
    assert_int_equal(wd_bundle_transition(ba, 0, bb, (unsigned char *)auth, len, F.roster,
                                          &FOLLOWER, T0, &step, NULL, NULL, 0, &e),
                     WD_E_STALE);
    assert_non_null(strstr(e.msg, "is for 5"));
    free(auth);
    json_decref(r);
    /* same versions, other hash for the current bundle */
    json_t *a2 = bundle_obj(5, "version: 1\nmode: audit\n");
    wd_bundle *ba2 = must_verify(a2, T0);
    r = rollback_obj(ba2, bb, T0 - 60, T0 + 3600);
    auth = sign_rollback(r, &len);
    assert_int_equal(wd_bundle_transition(ba, 0, bb, (unsigned char *)auth, len, F.roster,
                                          &FOLLOWER, T0, &step, NULL, NULL, 0, &e),
                     WD_E_STALE);
    free(auth);
    json_decref(r);
    /* a rollback signed by only one rollback key: not valid (threshold), so stale */
    r = rollback_obj(ba, bb, T0 - 60, T0 + 3600);
    auth = sign_obj(WD_ROLLBACK_PAYLOAD_TYPE, r, &F.rb1, 1, &len);
    assert_int_equal(wd_bundle_transition(ba, 0, bb, (unsigned char *)auth, len, F.roster,
                                          &FOLLOWER, T0, &step, NULL, NULL, 0, &e),
                     WD_E_STALE);
    assert_non_null(strstr(e.msg, "(threshold)"));
    free(auth);
    json_decref(r);
    wd_bundle *list[] = {ba, bb, bc, ba2};
    for (size_t i = 0; i < 4; i++)
        wd_bundle_free(list[i]);
    json_decref(a);
    json_decref(a2);
    json_decref(b);
    json_decref(c);
}

static void t32_transition_expired_rollback_is_stale_with_reason(void **state)
{
    (void)state;
    wd_err e;
    wd_bundle_step step;
    json_t *a = bundle_obj(5, POLICY), *b = bundle_obj(3, POLICY);
    wd_bundle *ba = must_verify(a, T0), *bb = must_verify(b, T0);
    json_t *r = rollback_obj(ba, bb, T0 - 7200, T0 - 3600);
    size_t len = 0;
    char *auth = sign_rollback(r, &len);
    assert_int_equal(wd_bundle_transition(ba, 0, bb, (unsigned char *)auth, len, F.roster,
                                          &FOLLOWER, T0, &step, NULL, NULL, 0, &e),
                     WD_E_STALE);
    assert_non_null(strstr(e.msg, "(expired)"));
    free(auth);
    json_decref(r);
    wd_bundle_free(ba);
    wd_bundle_free(bb);
    json_decref(a);
    json_decref(b);
}

static void t33_labels_and_star_audiences_accept(void **state)
{
    (void)state;
    json_t *o = bundle_obj(1, POLICY);
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", "payments"));
    wd_bundle *b = must_verify(o, T0);
    assert_int_equal(b->audience.kind, WD_AUDIENCE_LABELS);
    wd_bundle_free(b);
    json_object_set_new(o, "audience",
                        json_pack("{s:{s:s,s:s}}", "labels", "zone", "a", "team", "payments"));
    b = must_verify(o, T0);
    wd_bundle_free(b);
    json_object_set_new(o, "audience", json_pack("{s:[s,s]}", "instance_ids", "i-9", "i-1"));
    b = must_verify(o, T0);
    assert_int_equal(b->audience.kind, WD_AUDIENCE_IDS);
    assert_int_equal(b->audience.nids, 2);
    wd_bundle_free(b);
    json_object_set_new(o, "audience", json_pack("{s:[s]}", "instance_ids", "*"));
    b = must_verify(o, T0);
    assert_int_equal(b->audience.kind, WD_AUDIENCE_ALL);
    wd_bundle_free(b);
    json_decref(o);
}

/* A spec for wd_bundle_build: the fields a create command fills. */
static void spec_init(wd_bundle *s, const char *policy, wd_audience *aud)
{
    memset(s, 0, sizeof *s);
    s->bundle_id = (char *)"b-9";
    s->scope.org_id = (char *)"acme";
    s->scope.fleet_id = (char *)"prod";
    s->scope.environment = (char *)"eu1";
    s->audience = *aud;
    s->version = 9;
    s->created_at = s->not_before = T0 - 60;
    s->expires_at = T0 + DAY;
    s->min_warden_version[1] = 1;
    s->policy_yaml = (char *)policy;
    s->policy_len = strlen(policy);
    digest(policy, s->policy_len, s->policy_sha256);
}

static void t34_build_refuses_what_its_verifier_rejects(void **state)
{
    (void)state;
    wd_err e;
    wd_audience aud;
    assert_int_equal(wd_audience_from_text("*", NULL, 0, &aud, &e), WD_OK);
    wd_bundle s;
    char *out = (char *)&s;
    size_t len = 0;
    struct {
        const char *policy;
        wd_code code;
    } cases[] = {
        {"version: 1\nconductor: {}\n", WD_E_FORBIDDEN_SECTION},
        {"version: 1\nservers: {default: maybe}\n", WD_E_INVALID_POLICY},
    };
    for (size_t i = 0; i < 2; i++) {
        spec_init(&s, cases[i].policy, &aud);
        assert_int_equal(wd_bundle_build(&s, &F.bsign, 1, T0, &out, &len, &e), cases[i].code);
        assert_null(out);
    }
    spec_init(&s, POLICY, &aud);
    s.version = 0;
    assert_int_equal(wd_bundle_build(&s, &F.bsign, 1, T0, &out, &len, &e), WD_E_MALFORMED);
    assert_null(out);
    spec_init(&s, POLICY, &aud);
    s.expires_at = T0 - 1;
    s.created_at = s.not_before = T0 - 100;
    assert_int_equal(wd_bundle_build(&s, &F.bsign, 1, T0, &out, &len, &e), WD_E_EXPIRED);
    assert_null(out);
    spec_init(&s, POLICY, &aud);
    s.created_at = s.not_before + 1;
    assert_int_equal(wd_bundle_build(&s, &F.bsign, 1, T0, &out, &len, &e), WD_E_MALFORMED);
    spec_init(&s, POLICY, &aud);
    s.bundle_id = (char *)"no spaces";
    assert_int_equal(wd_bundle_build(&s, &F.bsign, 1, T0, &out, &len, &e), WD_E_MALFORMED);
    spec_init(&s, POLICY, &aud);
    s.min_warden_version[0] = 9;
    assert_int_equal(wd_bundle_build(&s, &F.bsign, 1, T0, &out, &len, &e),
                     WD_E_UNSUPPORTED_VERSION);
    spec_init(&s, POLICY, &aud);
    s.policy_sha256[10] = s.policy_sha256[10] == 'a' ? 'b' : 'a';
    assert_int_equal(wd_bundle_build(&s, &F.bsign, 1, T0, &out, &len, &e), WD_E_HASH_MISMATCH);
    wd_audience mixed;
    assert_int_equal(wd_audience_from_text("*,i-1", NULL, 0, &mixed, &e), WD_OK);
    spec_init(&s, POLICY, &mixed);
    assert_int_equal(wd_bundle_build(&s, &F.bsign, 1, T0, &out, &len, &e), WD_E_MALFORMED);
    assert_null(out);
    wd_audience_free(&mixed);
    wd_audience_free(&aud);
}

static void t35_build_then_verify_round_trip(void **state)
{
    (void)state;
    wd_err e;
    wd_audience aud;
    char *labels[] = {(char *)"team=payments"};
    assert_int_equal(wd_audience_from_text(NULL, labels, 1, &aud, &e), WD_OK);
    wd_bundle s;
    spec_init(&s, POLICY, &aud);
    /* an uppercase previous hash is accepted and comes back lowercase */
    char prev[WD_DIGEST_STRLEN + 1];
    digest("x", 1, prev);
    for (char *p = prev + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    memcpy(s.previous_bundle_hash, prev, sizeof prev);
    char *out = NULL;
    size_t len = 0;
    wd_key *keys[] = {F.bsign, F.kill1};
    assert_int_equal(wd_bundle_build(&s, keys, 2, T0, &out, &len, &e), WD_OK);
    wd_bundle *b = NULL;
    assert_int_equal(verify_at(out, len, &FOLLOWER, T0, &b, &e), WD_OK);
    assert_int_equal(b->version, 9);
    assert_int_equal(b->audience.kind, WD_AUDIENCE_LABELS);
    digest("x", 1, prev);
    assert_string_equal(b->previous_bundle_hash, prev);
    wd_bundle_free(b);
    free(out);
    wd_audience_free(&aud);
}

static void t36_active_bundle_is_checked_without_its_window(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(1, POLICY);
    size_t len = 0;
    char *env = sign_bundle(o, &len);
    wd_bundle *b = NULL;
    int64_t later = T0 + 40 * DAY;
    assert_int_equal(wd_bundle_verify((unsigned char *)env, len, F.roster, &FOLLOWER, later, 0,
                                      &b, &e),
                     WD_E_EXPIRED);
    assert_int_equal(wd_bundle_verify((unsigned char *)env, len, F.roster, &FOLLOWER, later,
                                      WD_MSG_ACTIVE, &b, &e),
                     WD_OK);
    wd_bundle_free(b);
    /* but not without its signatures or its scope */
    wd_follower f = FOLLOWER;
    f.fleet_id = "other";
    assert_int_equal(wd_bundle_verify((unsigned char *)env, len, F.roster, &f, later,
                                      WD_MSG_ACTIVE, &b, &e),
                     WD_E_WRONG_SCOPE);
    free(env);
    env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, &F.outsider, 1, &len);
    assert_int_equal(wd_bundle_verify((unsigned char *)env, len, F.roster, &FOLLOWER, later,
                                      WD_MSG_ACTIVE, &b, &e),
                     WD_E_BAD_SIGNATURE);
    assert_null(b);
    free(env);
    json_decref(o);
}

static void t37_check_order_signature_before_payload_and_scope_before_window(void **state)
{
    (void)state;
    wd_err e;
    /* a payload with every fault, signed by a key outside the roster: bad-signature */
    const char *junk = "{\"schema_version\":1,\"x\":1,\"x\":2} trailing";
    size_t len = 0;
    char *env = sign_text(WD_BUNDLE_PAYLOAD_TYPE, junk, strlen(junk), &F.outsider, 1, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_BAD_SIGNATURE);
    free(env);
    /* wrong scope and expired and a bad digest: the scope is reported first */
    json_t *o = bundle_obj(1, POLICY);
    json_object_set_new(o, "environment", json_string("us1"));
    json_object_set_new(o, "policy_sha256",
                        json_string("sha256:00000000000000000000000000000000"
                                    "00000000000000000000000000000000"));
    env = sign_bundle(o, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0 + 90 * DAY, NULL, &e), WD_E_WRONG_SCOPE);
    free(env);
    /* expired and a bad digest: expired first */
    json_object_set_new(o, "environment", json_string("eu1"));
    env = sign_bundle(o, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0 + 90 * DAY, NULL, &e), WD_E_EXPIRED);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_HASH_MISMATCH);
    free(env);
    json_decref(o);
}

/* The floor (SPEC §3): after an authorized rollback from 2 to 1, version 2 is not accepted
 * again as a forward step (stale), version 3 is; the floor only grows. */
static void t38_floor_after_rollback(void **state)
{
    (void)state;
    wd_err e;
    wd_bundle_step step;
    int64_t floor = -1;
    json_t *o1 = bundle_obj(1, POLICY), *o2 = bundle_obj(2, POLICY), *o3 = bundle_obj(3, POLICY);
    wd_bundle *b1 = must_verify(o1, T0), *b2 = must_verify(o2, T0), *b3 = must_verify(o3, T0);
    /* 1 -> 2: floor 2 */
    assert_int_equal(wd_bundle_transition(b1, 1, b2, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_OK);
    assert_int_equal(floor, 2);
    /* authorized rollback 2 -> 1: allowed below the floor, which stays 2 */
    json_t *r = rollback_obj(b2, b1, T0 - 60, T0 + 3600);
    size_t len = 0;
    char *auth = sign_rollback(r, &len);
    floor = -1;
    assert_int_equal(wd_bundle_transition(b2, 2, b1, (unsigned char *)auth, len, F.roster,
                                          &FOLLOWER, T0, &step, &floor, NULL, 0, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_ROLLBACK);
    assert_int_equal(floor, 2);
    /* active 1, floor 2: version 2 again (a replay) is stale, and nothing is handed out */
    floor = -1;
    step = WD_BUNDLE_NOOP;
    wd_err_clear(&e);
    assert_int_equal(wd_bundle_transition(b1, 2, b2, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_E_STALE);
    assert_int_equal(e.code, WD_E_STALE);
    assert_non_null(strstr(e.msg, "floor 2"));
    assert_int_equal(floor, -1);
    assert_int_equal(step, WD_BUNDLE_NOOP);
    /* with the rollback authorization offered again, still stale: it names 2 -> 1 */
    assert_int_equal(wd_bundle_transition(b1, 2, b2, (unsigned char *)auth, len, F.roster,
                                          &FOLLOWER, T0, &step, &floor, NULL, 0, &e),
                     WD_E_STALE);
    /* without the floor (the old rule), 2 would be a forward step: the floor is what stops it */
    assert_int_equal(wd_bundle_transition(b1, 0, b2, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_OK);
    /* version 3 is the way forward; floor 3 */
    floor = -1;
    assert_int_equal(wd_bundle_transition(b1, 2, b3, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_SKIP);
    assert_int_equal(floor, 3);
    /* the active bundle itself stays a no-op below or at the floor */
    assert_int_equal(wd_bundle_transition(b1, 2, b1, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_NOOP);
    assert_int_equal(floor, 2);
    /* no active bundle but a floor: at the floor is stale, above it is first */
    assert_int_equal(wd_bundle_transition(NULL, 2, b2, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_E_STALE);
    assert_int_equal(wd_bundle_transition(NULL, 2, b3, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_OK);
    assert_int_equal(step, WD_BUNDLE_FIRST);
    assert_int_equal(floor, 3);
    /* a floor below the active version counts as the active version */
    assert_int_equal(wd_bundle_transition(b2, 0, b2, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_OK);
    assert_int_equal(floor, 2);
    /* the floor's own range */
    assert_int_equal(wd_bundle_transition(b1, -1, b3, NULL, 0, F.roster, &FOLLOWER, T0, &step,
                                          &floor, NULL, 0, &e),
                     WD_E_USAGE);
    assert_int_equal(wd_bundle_transition(b1, WD_MAX_SAFE_INTEGER + 1, b3, NULL, 0, F.roster,
                                          &FOLLOWER, T0, &step, &floor, NULL, 0, &e),
                     WD_E_USAGE);
    assert_int_equal(wd_bundle_transition(b1, WD_MAX_SAFE_INTEGER, b3, NULL, 0, F.roster,
                                          &FOLLOWER, T0, &step, &floor, NULL, 0, &e),
                     WD_E_STALE);
    free(auth);
    json_decref(r);
    wd_bundle_free(b1);
    wd_bundle_free(b2);
    wd_bundle_free(b3);
    json_decref(o1);
    json_decref(o2);
    json_decref(o3);
}

/* Versions are integers in 1 .. 2^53-1: the limit verifies, one past it and INT64_MAX are
 * malformed. */
static void t39_version_range(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = bundle_obj(WD_MAX_SAFE_INTEGER, POLICY);
    wd_bundle *b = must_verify(o, T0);
    assert_int_equal(b->version, WD_MAX_SAFE_INTEGER);
    wd_bundle_free(b);
    json_decref(o);
    o = bundle_obj(WD_MAX_SAFE_INTEGER + 1, POLICY);
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "9007199254740991"));
    json_decref(o);
    o = bundle_obj(INT64_MAX, POLICY);
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
    o = bundle_obj(-1, POLICY);
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_valid_bundle_verifies),
        cmocka_unit_test(t02_untrusted_root_when_pin_matches_no_root_key),
        cmocka_unit_test(t03_bad_signature_when_payload_tampered),
        cmocka_unit_test(t04_bad_signature_when_signature_tampered),
        cmocka_unit_test(t05_signer_not_in_roster),
        cmocka_unit_test(t06_wrong_purpose_kill_key_signs_bundle),
        cmocka_unit_test(t07_revoked_key),
        cmocka_unit_test(t08_expired_key_outside_its_window),
        cmocka_unit_test(t09_expired_at_expires_at),
        cmocka_unit_test(t10_not_yet_valid_beyond_60s_skew),
        cmocka_unit_test(t11_wrong_scope_org_fleet_env),
        cmocka_unit_test(t12_wrong_audience_instance_and_labels),
        cmocka_unit_test(t13_malformed_audiences),
        cmocka_unit_test(t14_wrong_type_for_other_envelopes),
        cmocka_unit_test(t15_hash_mismatch),
        cmocka_unit_test(t16_forbidden_sections_name_the_key),
        cmocka_unit_test(t17_oversized_bundle_envelope_at_limit_and_past),
        cmocka_unit_test(t18_oversized_policy_yaml_at_limit_and_past),
        cmocka_unit_test(t19_oversized_instance_ids_at_limit_and_past),
        cmocka_unit_test(t20_oversized_labels_and_label_values),
        cmocka_unit_test(t21_unknown_fields),
        cmocka_unit_test(t22_duplicate_keys),
        cmocka_unit_test(t23_trailing_data),
        cmocka_unit_test(t24_malformed_fields),
        cmocka_unit_test(t25_unsupported_version),
        cmocka_unit_test(t26_invalid_policy_keeps_the_detail),
        cmocka_unit_test(t27_transition_first_forward_skip_noop),
        cmocka_unit_test(t28_transition_fork),
        cmocka_unit_test(t29_transition_lower_version_without_authorization_is_stale),
        cmocka_unit_test(t30_transition_authorized_rollback),
        cmocka_unit_test(t31_transition_rollback_for_another_pair_is_stale),
        cmocka_unit_test(t32_transition_expired_rollback_is_stale_with_reason),
        cmocka_unit_test(t33_labels_and_star_audiences_accept),
        cmocka_unit_test(t34_build_refuses_what_its_verifier_rejects),
        cmocka_unit_test(t35_build_then_verify_round_trip),
        cmocka_unit_test(t36_active_bundle_is_checked_without_its_window),
        cmocka_unit_test(t37_check_order_signature_before_payload_and_scope_before_window),
        cmocka_unit_test(t38_floor_after_rollback),
        cmocka_unit_test(t39_version_range),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
