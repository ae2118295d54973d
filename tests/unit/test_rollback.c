/* test_rollback.c — focus: verifying rollback authorizations (policy-bundle-rollback thresholds,
 * strict payload, version order, 24 h window, scope, audience, validity) and building them. */
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
#include "msg/message.h"
#include "msg/rollback.h"
#include "trust/roster.h"

#include "msg_fixtures.h"

static wd_label follower_labels[] = {{(char *)"team", (char *)"payments"}};
static const wd_follower FOLLOWER = {"acme", "prod", "eu1", "i-1", follower_labels, 1};

static int setup(void **state)
{
    (void)state;
    return msgfx_setup(MSGFX_ROLLBACK, WD_PURPOSE_BUNDLE_ROLLBACK);
}

static int teardown(void **state)
{
    (void)state;
    return msgfx_teardown();
}

#define HASH_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* A valid authorization 42 -> 40, created at T0-10min, valid for 1 h, audience "*". */
static json_t *rb_obj(void)
{
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:s,s:i,s:s,s:i,s:s,s:o,s:o}",
                          "schema_version", 1, "authorization_id", "r-3", "org_id", "acme",
                          "fleet_id", "prod", "environment", "eu1", "audience", "instance_ids",
                          "*", "current_bundle_hash", HASH_A, "current_version", 42,
                          "target_bundle_hash", HASH_B, "target_version", 40, "reason",
                          "bad deploy", "created_at", tjson(T0 - 600), "expires_at",
                          tjson(T0 + 3000));
    assert_non_null(o);
    return o;
}

static char *sign_rb(json_t *o, size_t *len)
{
    wd_key *keys[] = {F.rb1, F.rb2};
    return sign_obj(WD_ROLLBACK_PAYLOAD_TYPE, o, keys, 2, len);
}

static wd_code verify_at(const char *env, size_t len, const wd_follower *f, int64_t now,
                         wd_rollback **out, wd_err *e)
{
    wd_rollback *a = (wd_rollback *)&F; /* any non-NULL value: must be reset */
    wd_err_clear(e);
    wd_code c = wd_rollback_verify((const unsigned char *)env, len, F.roster, f, now, &a, e);
    check_verdict(c, a, e);
    if (out != NULL)
        *out = a;
    else
        wd_rollback_free(a);
    return c;
}

static void expect_obj(json_t *o, wd_code code, wd_err *e)
{
    size_t len = 0;
    char *env = sign_rb(o, &len);
    wd_code c = verify_at(env, len, &FOLLOWER, T0, NULL, e);
    expect_code(c, code, e);
    free(env);
}

static void expect_text(const char *payload, wd_code code, wd_err *e)
{
    size_t len = 0;
    wd_key *keys[] = {F.rb1, F.rb2};
    char *env = sign_text(WD_ROLLBACK_PAYLOAD_TYPE, payload, strlen(payload), keys, 2, &len);
    wd_code c = verify_at(env, len, &FOLLOWER, T0, NULL, e);
    expect_code(c, code, e);
    free(env);
}

/* ---- tests ---- */

static void t01_valid_authorization_verifies(void **state)
{
    (void)state;
    json_t *o = rb_obj();
    size_t len = 0;
    char *env = sign_rb(o, &len);
    wd_rollback *a = NULL;
    wd_err e;
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, &a, &e), WD_OK);
    assert_string_equal(a->authorization_id, "r-3");
    assert_string_equal(a->current_bundle_hash, HASH_A);
    assert_string_equal(a->target_bundle_hash, HASH_B);
    assert_int_equal(a->current_version, 42);
    assert_int_equal(a->target_version, 40);
    assert_string_equal(a->reason, "bad deploy");
    wd_rollback_free(a);
    free(env);
    json_decref(o);
}

static void t02_signature_checks(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    size_t len = 0;
    char *env = sign_obj(WD_ROLLBACK_PAYLOAD_TYPE, o, &F.rb1, 1, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_THRESHOLD);
    free(env);
    wd_key *purpose[] = {F.rb1, F.bsign};
    env = sign_obj(WD_ROLLBACK_PAYLOAD_TYPE, o, purpose, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_WRONG_PURPOSE);
    free(env);
    wd_key *revoked[] = {F.rb1, F.revoked};
    env = sign_obj(WD_ROLLBACK_PAYLOAD_TYPE, o, revoked, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_REVOKED_KEY);
    free(env);
    wd_key *expired[] = {F.rb1, F.expired};
    env = sign_obj(WD_ROLLBACK_PAYLOAD_TYPE, o, expired, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_EXPIRED_KEY);
    free(env);
    env = sign_obj(WD_ROLLBACK_PAYLOAD_TYPE, o, &F.outsider, 1, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_BAD_SIGNATURE);
    free(env);
    /* tampered payload: the target version changed under valid signatures */
    env = sign_rb(o, &len);
    json_t *v = NULL;
    assert_int_equal(wd_json_parse((unsigned char *)env, len, WD_MAX_ENVELOPE, &v, NULL), WD_OK);
    json_object_set_new(o, "target_version", json_integer(39));
    char *p = wd_json_dump(o, NULL);
    char *b64 = wd_b64_encode((unsigned char *)p, strlen(p));
    json_object_set_new(v, "payload", json_string(b64));
    char *bad = wd_json_dump(v, &len);
    assert_int_equal(verify_at(bad, len, &FOLLOWER, T0, NULL, &e), WD_E_BAD_SIGNATURE);
    free(bad);
    free(b64);
    free(p);
    json_decref(v);
    free(env);
    json_decref(o);
}

static void t03_wrong_type(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    size_t len = 0;
    wd_key *keys[] = {F.rb1, F.rb2};
    char *env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, keys, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, NULL, &e), WD_E_WRONG_TYPE);
    free(env);
    json_decref(o);
}

static void t04_oversized_envelope_at_limit_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    size_t len = 0;
    char *env = sign_rb(o, &len);
    char *at = pad_to(env, len, WD_MAX_ROLLBACK_ENVELOPE);
    assert_int_equal(verify_at(at, WD_MAX_ROLLBACK_ENVELOPE, &FOLLOWER, T0, NULL, &e), WD_OK);
    char *past = pad_to(env, len, WD_MAX_ROLLBACK_ENVELOPE + 1);
    assert_int_equal(verify_at(past, WD_MAX_ROLLBACK_ENVELOPE + 1, &FOLLOWER, T0, NULL, &e),
                     WD_E_OVERSIZED);
    free(at);
    free(past);
    free(env);
    json_decref(o);
}

static void t05_target_must_be_lower_than_current(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    json_object_set_new(o, "target_version", json_integer(42));
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "target_version"));
    json_object_set_new(o, "target_version", json_integer(43));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "target_version", json_integer(0));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "target_version", json_integer(41));
    expect_obj(o, WD_OK, &e);
    /* versions are integers in 1 .. 2^53-1 */
    json_object_set_new(o, "current_version", json_integer(WD_MAX_SAFE_INTEGER));
    json_object_set_new(o, "target_version", json_integer(WD_MAX_SAFE_INTEGER - 1));
    expect_obj(o, WD_OK, &e);
    json_object_set_new(o, "current_version", json_integer(WD_MAX_SAFE_INTEGER + 1));
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "current_version"));
    json_object_set_new(o, "current_version", json_integer(INT64_MAX));
    json_object_set_new(o, "target_version", json_integer(WD_MAX_SAFE_INTEGER + 1));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

static void t06_window_at_24h_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    json_object_set_new(o, "expires_at", tjson(T0 - 600 + WD_MAX_ROLLBACK_VALIDITY_S));
    expect_obj(o, WD_OK, &e);
    json_object_set_new(o, "expires_at", tjson(T0 - 600 + WD_MAX_ROLLBACK_VALIDITY_S + 1));
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "24 h"));
    json_object_set_new(o, "expires_at", tjson(T0 - 600));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

static void t07_expired_and_not_yet_valid(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    size_t len = 0;
    char *env = sign_rb(o, &len);
    int64_t created = T0 - 600, expires = T0 + 3000;
    assert_int_equal(verify_at(env, len, &FOLLOWER, created - 61, NULL, &e), WD_E_NOT_YET_VALID);
    assert_int_equal(verify_at(env, len, &FOLLOWER, created - 59, NULL, &e), WD_OK);
    assert_int_equal(verify_at(env, len, &FOLLOWER, expires - 1, NULL, &e), WD_OK);
    assert_int_equal(verify_at(env, len, &FOLLOWER, expires, NULL, &e), WD_E_EXPIRED);
    free(env);
    json_decref(o);
}

static void t08_scope_and_audience(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    size_t len = 0;
    char *env = sign_rb(o, &len);
    wd_follower f = FOLLOWER;
    f.org_id = "other";
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_WRONG_SCOPE);
    f = FOLLOWER;
    f.fleet_id = "other";
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_WRONG_SCOPE);
    f = FOLLOWER;
    f.environment = "other";
    assert_int_equal(verify_at(env, len, &f, T0, NULL, &e), WD_E_WRONG_SCOPE);
    free(env);
    json_object_set_new(o, "audience", json_pack("{s:[s]}", "instance_ids", "i-9"));
    expect_obj(o, WD_E_WRONG_AUDIENCE, &e);
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", "x"));
    expect_obj(o, WD_E_WRONG_AUDIENCE, &e);
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", "payments"));
    expect_obj(o, WD_OK, &e);
    json_decref(o);
}

static void t09_strict_payload(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    json_object_set_new(o, "approved_by", json_string("x"));
    expect_obj(o, WD_E_UNKNOWN_FIELD, &e);
    json_object_del(o, "approved_by");
    char *s = text_replace(o, "\"reason\"", "\"reason\":\"a\",\"reason\"");
    expect_text(s, WD_E_DUPLICATE_KEY, &e);
    free(s);
    char *p = wd_json_dump(o, NULL);
    size_t n = strlen(p);
    s = malloc(n + 3);
    memcpy(s, p, n);
    strcpy(s + n, "[]");
    expect_text(s, WD_E_TRAILING_DATA, &e);
    free(s);
    free(p);
    json_object_set_new(o, "schema_version", json_integer(2));
    expect_obj(o, WD_E_UNSUPPORTED_VERSION, &e);
    json_object_set_new(o, "schema_version", json_integer(1));
    json_object_set_new(o, "current_bundle_hash", json_string("sha256:abc"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "current_bundle_hash", json_string(""));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "current_bundle_hash", json_string(HASH_A));
    json_object_set_new(o, "expires_at", json_string("tomorrow"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "expires_at", tjson(T0 + 3000));
    json_object_set_new(o, "authorization_id", json_string("r 3"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_del(o, "authorization_id");
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

static void t10_reason_at_limit_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = rb_obj();
    char reason[WD_MAX_KILL_REASON + 2];
    memset(reason, 'r', sizeof reason);
    reason[WD_MAX_KILL_REASON] = '\0';
    json_object_set_new(o, "reason", json_string(reason));
    expect_obj(o, WD_OK, &e);
    reason[WD_MAX_KILL_REASON] = 'r';
    reason[WD_MAX_KILL_REASON + 1] = '\0';
    json_object_set_new(o, "reason", json_string(reason));
    expect_obj(o, WD_E_OVERSIZED, &e);
    json_object_set_new(o, "reason", json_string("tab\there"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

static void t11_build_refuses_and_round_trips(void **state)
{
    (void)state;
    wd_err e;
    wd_rollback s;
    memset(&s, 0, sizeof s);
    assert_int_equal(wd_audience_from_text("*", NULL, 0, &s.audience, &e), WD_OK);
    s.authorization_id = (char *)"r-5";
    s.scope.org_id = (char *)"acme";
    s.scope.fleet_id = (char *)"prod";
    s.scope.environment = (char *)"eu1";
    snprintf(s.current_bundle_hash, sizeof s.current_bundle_hash, "%s", HASH_A);
    snprintf(s.target_bundle_hash, sizeof s.target_bundle_hash, "%s", HASH_B);
    s.current_version = 5;
    s.target_version = 5;
    s.reason = (char *)"revert";
    s.created_at = T0;
    s.expires_at = T0 + 3600;
    wd_key *keys[] = {F.rb1, F.rb2};
    char *out = (char *)&s;
    size_t len = 0;
    assert_int_equal(wd_rollback_build(&s, keys, 2, T0, &out, &len, &e), WD_E_MALFORMED);
    assert_null(out);
    s.target_version = 4;
    s.expires_at = T0 + WD_MAX_ROLLBACK_VALIDITY_S + 1;
    assert_int_equal(wd_rollback_build(&s, keys, 2, T0, &out, &len, &e), WD_E_MALFORMED);
    assert_null(out);
    s.expires_at = T0 + 3600;
    assert_int_equal(wd_rollback_build(&s, keys, 2, T0 + 3600, &out, &len, &e), WD_E_EXPIRED);
    assert_null(out);
    assert_int_equal(wd_rollback_build(&s, keys, 2, T0, &out, &len, &e), WD_OK);
    wd_rollback *a = NULL;
    assert_int_equal(verify_at(out, len, &FOLLOWER, T0, &a, &e), WD_OK);
    assert_int_equal(a->target_version, 4);
    wd_rollback_free(a);
    free(out);
    wd_audience_free(&s.audience);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_valid_authorization_verifies),
        cmocka_unit_test(t02_signature_checks),
        cmocka_unit_test(t03_wrong_type),
        cmocka_unit_test(t04_oversized_envelope_at_limit_and_past),
        cmocka_unit_test(t05_target_must_be_lower_than_current),
        cmocka_unit_test(t06_window_at_24h_and_past),
        cmocka_unit_test(t07_expired_and_not_yet_valid),
        cmocka_unit_test(t08_scope_and_audience),
        cmocka_unit_test(t09_strict_payload),
        cmocka_unit_test(t10_reason_at_limit_and_past),
        cmocka_unit_test(t11_build_refuses_and_round_trips),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
