/* test_kill.c — focus: verifying remote kill messages (signature thresholds of
 * remote-kill-signing, strict payload, reason and window limits, scope, audience, validity)
 * and the counter floor. */
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
#include "trust/roster.h"

#include "msg_fixtures.h"

static wd_label follower_labels[] = {{(char *)"team", (char *)"payments"}};
static const wd_follower FOLLOWER = {"acme", "prod", "eu1", "i-1", follower_labels, 1};

static int setup(void **state)
{
    (void)state;
    return msgfx_setup(MSGFX_KILL, WD_PURPOSE_KILL_SIGNING);
}

static int teardown(void **state)
{
    (void)state;
    return msgfx_teardown();
}

/* A valid kill payload: counter n, created and valid from T0-1h for 24 h, audience "*". */
static json_t *kill_obj(int64_t n, const char *state)
{
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:[s]},s:s,s:I,s:s,s:o,s:o,s:o}",
                          "schema_version", 1, "message_id", "k-1", "org_id", "acme", "fleet_id",
                          "prod", "environment", "eu1", "audience", "instance_ids", "*", "state",
                          state, "counter", (json_int_t)n, "reason",
                          "incident 2211: exfiltration via tool X", "created_at",
                          tjson(T0 - HOUR), "not_before", tjson(T0 - HOUR), "expires_at",
                          tjson(T0 + 23 * HOUR));
    assert_non_null(o);
    return o;
}

static char *sign_kill(json_t *o, size_t *len)
{
    wd_key *keys[] = {F.kill1, F.kill2};
    return sign_obj(WD_KILL_PAYLOAD_TYPE, o, keys, 2, len);
}

static wd_code verify_at(const char *env, size_t len, const wd_follower *f, int64_t now,
                         unsigned flags, wd_kill **out, wd_err *e)
{
    wd_kill *k = (wd_kill *)&F; /* any non-NULL value: must be reset */
    wd_err_clear(e);
    wd_code c = wd_kill_verify((const unsigned char *)env, len, F.roster, f, now, flags, &k, e);
    check_verdict(c, k, e);
    if (out != NULL)
        *out = k;
    else
        wd_kill_free(k);
    return c;
}

static void expect_obj(json_t *o, wd_code code, wd_err *e)
{
    size_t len = 0;
    char *env = sign_kill(o, &len);
    wd_code c = verify_at(env, len, &FOLLOWER, T0, 0, NULL, e);
    expect_code(c, code, e);
    free(env);
}

static void expect_text(const char *payload, wd_code code, wd_err *e)
{
    size_t len = 0;
    wd_key *keys[] = {F.kill1, F.kill2};
    char *env = sign_text(WD_KILL_PAYLOAD_TYPE, payload, strlen(payload), keys, 2, &len);
    wd_code c = verify_at(env, len, &FOLLOWER, T0, 0, NULL, e);
    expect_code(c, code, e);
    free(env);
}

static wd_kill *must_verify(json_t *o)
{
    size_t len = 0;
    char *env = sign_kill(o, &len);
    wd_kill *k = NULL;
    wd_err e;
    if (verify_at(env, len, &FOLLOWER, T0, 0, &k, &e) != WD_OK)
        fail_msg("verify: %s", e.msg);
    free(env);
    return k;
}

/* ---- tests ---- */

static void t01_valid_kill_verifies(void **state)
{
    (void)state;
    json_t *o = kill_obj(7, "active");
    size_t plen = 0;
    char *p = wd_json_dump(o, &plen);
    wd_kill *k = must_verify(o);
    char want[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_digest_of(p, plen, want, NULL), WD_OK);
    assert_string_equal(k->hash, want);
    assert_string_equal(k->message_id, "k-1");
    assert_true(k->active);
    assert_int_equal(k->counter, 7);
    assert_string_equal(k->reason, "incident 2211: exfiltration via tool X");
    wd_kill_free(k);
    json_object_set_new(o, "state", json_string("inactive"));
    k = must_verify(o);
    assert_false(k->active);
    wd_kill_free(k);
    free(p);
    json_decref(o);
}

static void t02_threshold_one_of_two(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    size_t len = 0;
    char *env = sign_obj(WD_KILL_PAYLOAD_TYPE, o, &F.kill1, 1, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "1 of 2"));
    free(env);
    json_decref(o);
}

static void t03_threshold_same_key_twice(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    size_t len = 0;
    /* the signer refuses a key twice, so the envelope repeats one signature entry by hand */
    wd_key *keys[] = {F.kill1, F.kill1};
    char *env = NULL;
    assert_int_equal(wd_dsse_sign(WD_KILL_PAYLOAD_TYPE, (unsigned char *)"x", 1, keys, 2, &env,
                                  &len, &e),
                     WD_E_USAGE);
    assert_null(env);
    char *one = sign_obj(WD_KILL_PAYLOAD_TYPE, o, &F.kill1, 1, &len);
    json_t *v = NULL;
    assert_int_equal(wd_json_parse((unsigned char *)one, len, WD_MAX_ENVELOPE, &v, NULL), WD_OK);
    json_t *sigs = json_object_get(v, "signatures");
    json_array_append_new(sigs, json_deep_copy(json_array_get(sigs, 0)));
    env = wd_json_dump(v, &len);
    json_decref(v);
    free(one);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_THRESHOLD);
    assert_non_null(strstr(e.msg, "1 of 2"));
    free(env);
    json_decref(o);
}

static void t04_threshold_one_key_under_two_keyid_spellings(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    size_t len = 0;
    char *one = sign_obj(WD_KILL_PAYLOAD_TYPE, o, &F.kill1, 1, &len);
    json_t *v = NULL;
    assert_int_equal(wd_json_parse((unsigned char *)one, len, WD_MAX_ENVELOPE, &v, NULL), WD_OK);
    json_t *sigs = json_object_get(v, "signatures");
    json_t *upper = json_deep_copy(json_array_get(sigs, 0));
    char kid[WD_DIGEST_STRLEN + 1];
    snprintf(kid, sizeof kid, "%s", json_string_value(json_object_get(upper, "keyid")));
    for (char *p = kid + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    json_object_set_new(upper, "keyid", json_string(kid));
    json_array_append_new(sigs, upper);
    char *env = wd_json_dump(v, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_THRESHOLD);
    free(env);
    free(one);
    json_decref(v);
    json_decref(o);
    /* nor can a roster list one public key twice, under any keyid spelling */
    char *payload = NULL;
    size_t plen = 0;
    assert_int_equal(wd_roster_encode(F.roster, &payload, &plen, &e), WD_OK);
    json_t *r = NULL;
    assert_int_equal(wd_json_parse((unsigned char *)payload, plen, WD_MAX_ENVELOPE, &r, NULL),
                     WD_OK);
    json_t *keys = json_object_get(r, "keys");
    json_t *twin = NULL;
    for (size_t i = 0; i < json_array_size(keys); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(keys, i), "keyid")),
                   wd_key_id(F.kill1)) == 0)
            twin = json_deep_copy(json_array_get(keys, i));
    assert_non_null(twin);
    snprintf(kid, sizeof kid, "%s", wd_key_id(F.kill1));
    for (char *p = kid + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    json_object_set_new(twin, "keyid", json_string(kid));
    json_array_append_new(keys, twin);
    char *bad = wd_json_dump(r, &plen);
    wd_roster *parsed = NULL;
    assert_int_equal(wd_roster_parse((unsigned char *)bad, plen, &parsed, &e), WD_E_MALFORMED);
    assert_null(parsed);
    free(bad);
    free(payload);
    json_decref(r);
}

static void t05_wrong_purpose_revoked_expired_and_bad_signature(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    size_t len = 0;
    wd_key *purpose[] = {F.kill1, F.bsign};
    char *env = sign_obj(WD_KILL_PAYLOAD_TYPE, o, purpose, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_WRONG_PURPOSE);
    free(env);
    wd_key *revoked[] = {F.kill1, F.revoked};
    env = sign_obj(WD_KILL_PAYLOAD_TYPE, o, revoked, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_REVOKED_KEY);
    free(env);
    wd_key *expired[] = {F.kill1, F.expired};
    env = sign_obj(WD_KILL_PAYLOAD_TYPE, o, expired, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_EXPIRED_KEY);
    free(env);
    wd_key *outsider[] = {F.outsider};
    env = sign_obj(WD_KILL_PAYLOAD_TYPE, o, outsider, 1, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_BAD_SIGNATURE);
    free(env);
    /* tampered payload under valid signatures */
    env = sign_kill(o, &len);
    json_t *v = NULL;
    assert_int_equal(wd_json_parse((unsigned char *)env, len, WD_MAX_ENVELOPE, &v, NULL), WD_OK);
    json_object_set_new(o, "state", json_string("inactive"));
    char *p = wd_json_dump(o, NULL);
    char *b64 = wd_b64_encode((unsigned char *)p, strlen(p));
    json_object_set_new(v, "payload", json_string(b64));
    char *bad = wd_json_dump(v, &len);
    assert_int_equal(verify_at(bad, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_BAD_SIGNATURE);
    free(bad);
    free(b64);
    free(p);
    json_decref(v);
    free(env);
    json_decref(o);
}

static void t06_wrong_type_bundle_envelope_as_kill(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    size_t len = 0;
    wd_key *keys[] = {F.kill1, F.kill2};
    char *env = sign_obj(WD_BUNDLE_PAYLOAD_TYPE, o, keys, 2, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, T0, 0, NULL, &e), WD_E_WRONG_TYPE);
    free(env);
    json_decref(o);
}

static void t07_oversized_kill_envelope_at_limit_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    size_t len = 0;
    char *env = sign_kill(o, &len);
    char *at = pad_to(env, len, WD_MAX_KILL_ENVELOPE);
    assert_int_equal(verify_at(at, WD_MAX_KILL_ENVELOPE, &FOLLOWER, T0, 0, NULL, &e), WD_OK);
    char *past = pad_to(env, len, WD_MAX_KILL_ENVELOPE + 1);
    assert_int_equal(verify_at(past, WD_MAX_KILL_ENVELOPE + 1, &FOLLOWER, T0, 0, NULL, &e),
                     WD_E_OVERSIZED);
    free(at);
    free(past);
    free(env);
    json_decref(o);
}

static void t08_reason_at_limit_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    char reason[WD_MAX_KILL_REASON + 2];
    memset(reason, 'r', sizeof reason);
    reason[WD_MAX_KILL_REASON] = '\0';
    json_object_set_new(o, "reason", json_string(reason));
    wd_kill *k = must_verify(o);
    assert_int_equal(strlen(k->reason), WD_MAX_KILL_REASON);
    wd_kill_free(k);
    reason[WD_MAX_KILL_REASON] = 'r';
    reason[WD_MAX_KILL_REASON + 1] = '\0';
    json_object_set_new(o, "reason", json_string(reason));
    expect_obj(o, WD_E_OVERSIZED, &e);
    assert_non_null(strstr(e.msg, "reason"));
    json_object_set_new(o, "reason", json_string("line one\nline two"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "reason", json_string("C1 \xc2\x85 control"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "reason", json_string("caf\xc3\xa9 ok"));
    expect_obj(o, WD_OK, &e);
    json_decref(o);
}

static void t09_state_and_counter(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "paused");
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "state"));
    json_object_set_new(o, "state", json_string("ACTIVE"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "state", json_string("active"));
    json_object_set_new(o, "counter", json_integer(0));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "counter", json_integer(-1));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "counter", json_string("3"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "counter", json_integer(WD_KILL_MIN_COUNTER));
    expect_obj(o, WD_OK, &e);
    json_decref(o);
}

static void t10_validity_span_at_72h_and_past(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    json_object_set_new(o, "expires_at", tjson(T0 - HOUR + WD_MAX_KILL_VALIDITY_S));
    expect_obj(o, WD_OK, &e);
    json_object_set_new(o, "expires_at", tjson(T0 - HOUR + WD_MAX_KILL_VALIDITY_S + 1));
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "72 h"));
    /* not_before later than created_at does not extend the span */
    json_object_set_new(o, "not_before", tjson(T0 - 1800));
    expect_obj(o, WD_E_MALFORMED, &e);
    /* order */
    json_object_set_new(o, "created_at", tjson(T0));
    json_object_set_new(o, "not_before", tjson(T0 - HOUR));
    json_object_set_new(o, "expires_at", tjson(T0 + HOUR));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

static void t11_expired_and_not_yet_valid(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    int64_t nb = T0 + 600;
    json_object_set_new(o, "created_at", tjson(nb));
    json_object_set_new(o, "not_before", tjson(nb));
    json_object_set_new(o, "expires_at", tjson(nb + HOUR));
    size_t len = 0;
    char *env = sign_kill(o, &len);
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb - 61, 0, NULL, &e), WD_E_NOT_YET_VALID);
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb - 59, 0, NULL, &e), WD_OK);
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb + HOUR - 1, 0, NULL, &e), WD_OK);
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb + HOUR, 0, NULL, &e), WD_E_EXPIRED);
    /* an expired kill is still good as the one already applied */
    assert_int_equal(verify_at(env, len, &FOLLOWER, nb + 10 * DAY, WD_MSG_ACTIVE, NULL, &e),
                     WD_OK);
    free(env);
    json_decref(o);
}

static void t12_scope_and_audience(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    size_t len = 0;
    char *env = sign_kill(o, &len);
    for (int i = 0; i < 3; i++) {
        wd_follower f = FOLLOWER;
        if (i == 0)
            f.org_id = "other";
        else if (i == 1)
            f.fleet_id = "other";
        else
            f.environment = "other";
        assert_int_equal(verify_at(env, len, &f, T0, 0, NULL, &e), WD_E_WRONG_SCOPE);
    }
    free(env);
    json_object_set_new(o, "audience", json_pack("{s:[s]}", "instance_ids", "i-2"));
    expect_obj(o, WD_E_WRONG_AUDIENCE, &e);
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", "other"));
    expect_obj(o, WD_E_WRONG_AUDIENCE, &e);
    json_object_set_new(o, "audience", json_pack("{s:{s:s}}", "labels", "team", "payments"));
    expect_obj(o, WD_OK, &e);
    json_object_set_new(o, "audience", json_pack("{s:[s,s]}", "instance_ids", "i-1", "*"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

static void t13_strict_payload(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    json_object_set_new(o, "priority", json_integer(1));
    expect_obj(o, WD_E_UNKNOWN_FIELD, &e);
    json_object_del(o, "priority");
    char *s = text_replace(o, "\"counter\":1,", "\"counter\":1,\"counter\":9,");
    expect_text(s, WD_E_DUPLICATE_KEY, &e);
    free(s);
    s = text_replace(o, "\"expires_at\"", "\"x\":0} {\"expires_at\"");
    expect_text(s, WD_E_TRAILING_DATA, &e);
    free(s);
    json_object_set_new(o, "schema_version", json_integer(2));
    expect_obj(o, WD_E_UNSUPPORTED_VERSION, &e);
    json_object_set_new(o, "schema_version", json_integer(1));
    json_object_set_new(o, "created_at", json_string("2027-01-15T08:00Z"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_set_new(o, "created_at", tjson(T0 - HOUR));
    json_object_set_new(o, "message_id", json_string("k/1"));
    expect_obj(o, WD_E_MALFORMED, &e);
    json_object_del(o, "message_id");
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
}

static void t14_counter_floor(void **state)
{
    (void)state;
    wd_err e;
    char note[WD_ERR_MSG_MAX];
    wd_kill_step step;
    json_t *o5 = kill_obj(5, "active"), *o6 = kill_obj(6, "inactive");
    json_t *o5b = kill_obj(5, "inactive"), *o4 = kill_obj(4, "inactive");
    wd_kill *k5 = must_verify(o5), *k6 = must_verify(o6), *k5b = must_verify(o5b),
            *k4 = must_verify(o4), *k5again = must_verify(o5);
    assert_int_equal(wd_kill_transition(NULL, k5, &step, note, sizeof note, &e), WD_OK);
    assert_int_equal(step, WD_KILL_FIRST);
    assert_int_equal(wd_kill_transition(k5, k6, &step, note, sizeof note, &e), WD_OK);
    assert_int_equal(step, WD_KILL_APPLY);
    assert_string_equal(wd_kill_step_name(step), "applies");
    assert_non_null(strstr(note, "5 -> 6"));
    assert_int_equal(wd_kill_transition(k5, k5again, &step, note, sizeof note, &e), WD_OK);
    assert_int_equal(step, WD_KILL_NOOP);
    assert_string_equal(wd_kill_step_name(step), "no-op");
    step = WD_KILL_FIRST;
    assert_int_equal(wd_kill_transition(k5, k5b, &step, note, sizeof note, &e), WD_E_STALE);
    assert_int_equal(step, WD_KILL_FIRST);
    assert_non_null(strstr(e.msg, "same counter"));
    assert_int_equal(wd_kill_transition(k5, k4, &step, note, sizeof note, &e), WD_E_STALE);
    assert_int_equal(wd_kill_transition(k6, k5, &step, NULL, 0, &e), WD_E_STALE);
    wd_kill *all[] = {k5, k6, k5b, k4, k5again};
    for (int i = 0; i < 5; i++)
        wd_kill_free(all[i]);
    json_t *objs[] = {o5, o6, o5b, o4};
    for (int i = 0; i < 4; i++)
        json_decref(objs[i]);
}

static void t15_build_refuses_and_round_trips(void **state)
{
    (void)state;
    wd_err e;
    wd_kill s;
    memset(&s, 0, sizeof s);
    assert_int_equal(wd_audience_from_text("i-1,i-2", NULL, 0, &s.audience, &e), WD_OK);
    s.message_id = (char *)"k-3";
    s.scope.org_id = (char *)"acme";
    s.scope.fleet_id = (char *)"prod";
    s.scope.environment = (char *)"eu1";
    s.active = true;
    s.counter = 3;
    s.reason = (char *)"drill";
    s.created_at = s.not_before = T0;
    s.expires_at = T0 + WD_MAX_KILL_VALIDITY_S + 1;
    wd_key *keys[] = {F.kill1, F.kill2};
    char *out = (char *)&s;
    size_t len = 0;
    assert_int_equal(wd_kill_build(&s, keys, 2, T0, &out, &len, &e), WD_E_MALFORMED);
    assert_null(out);
    s.expires_at = T0 + WD_MAX_KILL_VALIDITY_S;
    s.counter = 0;
    assert_int_equal(wd_kill_build(&s, keys, 2, T0, &out, &len, &e), WD_E_MALFORMED);
    assert_null(out);
    s.counter = WD_MAX_SAFE_INTEGER + 1;
    assert_int_equal(wd_kill_build(&s, keys, 2, T0, &out, &len, &e), WD_E_MALFORMED);
    assert_null(out);
    s.counter = 3;
    char big[WD_MAX_KILL_REASON + 2];
    memset(big, 'r', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s.reason = big;
    assert_int_equal(wd_kill_build(&s, keys, 2, T0, &out, &len, &e), WD_E_OVERSIZED);
    assert_null(out);
    s.reason = (char *)"drill";
    assert_int_equal(wd_kill_build(&s, keys, 2, T0 + WD_MAX_KILL_VALIDITY_S, &out, &len, &e),
                     WD_E_EXPIRED);
    assert_null(out);
    assert_int_equal(wd_kill_build(&s, keys, 2, T0, &out, &len, &e), WD_OK);
    wd_kill *k = NULL;
    assert_int_equal(verify_at(out, len, &FOLLOWER, T0, 0, &k, &e), WD_OK);
    assert_int_equal(k->counter, 3);
    assert_int_equal(k->audience.nids, 2);
    wd_kill_free(k);
    free(out);
    wd_audience_free(&s.audience);
}

/* A publisher (WD_MSG_ANY_AUDIENCE) is in no audience: the audience is not matched, the scope
 * still is. */
static void t16_publisher_skips_audience_only(void **state)
{
    (void)state;
    wd_err e;
    json_t *o = kill_obj(1, "active");
    json_object_set_new(o, "audience", json_pack("{s:[s]}", "instance_ids", "i-2"));
    size_t len = 0;
    char *env = sign_kill(o, &len);
    wd_follower pub = {"acme", "prod", "eu1", "", NULL, 0};
    expect_code(verify_at(env, len, &pub, T0, 0, NULL, &e), WD_E_WRONG_AUDIENCE, &e);
    expect_code(verify_at(env, len, &pub, T0, WD_MSG_ANY_AUDIENCE, NULL, &e), WD_OK, &e);
    pub.fleet_id = "other";
    expect_code(verify_at(env, len, &pub, T0, WD_MSG_ANY_AUDIENCE, NULL, &e), WD_E_WRONG_SCOPE,
                &e);
    pub.fleet_id = "prod";
    expect_code(verify_at(env, len, &pub, T0 + DAY, WD_MSG_ANY_AUDIENCE, NULL, &e),
                WD_E_EXPIRED, &e);
    free(env);
    json_decref(o);
}

/* Counters are integers in 1 .. 2^53-1: a kill at the limit verifies and a later inactive
 * message can never lift it (nothing is above it), so a counter past the limit (2^53, or
 * 2^63-1 as a hostile signer might send) is malformed rather than a permanent kill. */
static void t16_counter_range(void **state)
{
    (void)state;
    wd_err e;
    json_t *top = kill_obj(WD_MAX_SAFE_INTEGER, "active");
    wd_kill *k = must_verify(top);
    assert_int_equal(k->counter, WD_MAX_SAFE_INTEGER);
    json_t *o = kill_obj(WD_MAX_SAFE_INTEGER - 1, "inactive");
    wd_kill *below = must_verify(o);
    wd_kill_step step;
    assert_int_equal(wd_kill_transition(below, k, &step, NULL, 0, &e), WD_OK);
    assert_int_equal(step, WD_KILL_APPLY);
    wd_kill_free(below);
    json_decref(o);
    o = kill_obj(WD_MAX_SAFE_INTEGER + 1, "inactive");
    expect_obj(o, WD_E_MALFORMED, &e);
    assert_non_null(strstr(e.msg, "counter"));
    json_decref(o);
    o = kill_obj(INT64_MAX, "active");
    expect_obj(o, WD_E_MALFORMED, &e);
    json_decref(o);
    wd_kill_free(k);
    json_decref(top);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_valid_kill_verifies),
        cmocka_unit_test(t02_threshold_one_of_two),
        cmocka_unit_test(t03_threshold_same_key_twice),
        cmocka_unit_test(t04_threshold_one_key_under_two_keyid_spellings),
        cmocka_unit_test(t05_wrong_purpose_revoked_expired_and_bad_signature),
        cmocka_unit_test(t06_wrong_type_bundle_envelope_as_kill),
        cmocka_unit_test(t07_oversized_kill_envelope_at_limit_and_past),
        cmocka_unit_test(t08_reason_at_limit_and_past),
        cmocka_unit_test(t09_state_and_counter),
        cmocka_unit_test(t10_validity_span_at_72h_and_past),
        cmocka_unit_test(t11_expired_and_not_yet_valid),
        cmocka_unit_test(t12_scope_and_audience),
        cmocka_unit_test(t13_strict_payload),
        cmocka_unit_test(t14_counter_floor),
        cmocka_unit_test(t15_build_refuses_and_round_trips),
        cmocka_unit_test(t16_publisher_skips_audience_only),
        cmocka_unit_test(t16_counter_range),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
