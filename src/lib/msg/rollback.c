/* rollback.c — the signed rollback authorization (SPEC §5): strict payload parsing, semantic
 * checks in their fixed order, and building an authorization its own verifier accepts.
 * It must never parse a payload before wd_msg_open has checked its signatures, and never
 * change anything outside the structs it returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/rollback.h"
#include "base/base.h"
#include "codec/json.h"

#define WHAT "rollback authorization"

void wd_rollback_free(wd_rollback *a)
{
    if (a == NULL)
        return;
    free(a->authorization_id);
    wd_scope_free(&a->scope);
    wd_audience_free(&a->audience);
    free(a->reason);
    free(a);
}

static const wd_jfield rollback_fields[] = {
    {"schema_version", WD_JT_INT, true},
    {"authorization_id", WD_JT_STRING, true},
    {"org_id", WD_JT_STRING, true},
    {"fleet_id", WD_JT_STRING, true},
    {"environment", WD_JT_STRING, true},
    {"audience", WD_JT_OBJECT, true},
    {"current_bundle_hash", WD_JT_STRING, true},
    {"current_version", WD_JT_INT, true},
    {"target_bundle_hash", WD_JT_STRING, true},
    {"target_version", WD_JT_INT, true},
    {"reason", WD_JT_STRING, true},
    {"created_at", WD_JT_STRING, true},
    {"expires_at", WD_JT_STRING, true},
};

wd_code wd_rollback_parse(const unsigned char *payload, size_t len, wd_rollback **out,
                          wd_err *e)
{
    *out = NULL;
    json_t *v = NULL;
    wd_code c = wd_msg_payload(payload, len, WD_MAX_ROLLBACK_ENVELOPE, WHAT, rollback_fields,
                               sizeof rollback_fields / sizeof rollback_fields[0], &v, e);
    if (c != WD_OK)
        return c;
    wd_rollback *a = calloc(1, sizeof *a);
    if (a == NULL) {
        json_decref(v);
        return wd_err_set(e, WD_E_NOMEM, WHAT ": out of memory");
    }
    c = wd_msg_id(v, "authorization_id", WHAT, &a->authorization_id, e);
    if (c == WD_OK)
        c = wd_msg_target_decode(v, WHAT, &a->scope, &a->audience, e);
    if (c == WD_OK)
        c = wd_msg_digest(v, "current_bundle_hash", WHAT, false, a->current_bundle_hash, e);
    if (c == WD_OK)
        c = wd_msg_int(v, "current_version", WHAT, 1, WD_MAX_SAFE_INTEGER,
                       &a->current_version, e);
    if (c == WD_OK)
        c = wd_msg_digest(v, "target_bundle_hash", WHAT, false, a->target_bundle_hash, e);
    if (c == WD_OK)
        c = wd_msg_int(v, "target_version", WHAT, 1, WD_MAX_SAFE_INTEGER,
                       &a->target_version, e);
    if (c == WD_OK && a->target_version >= a->current_version)
        c = wd_err_set(e, WD_E_MALFORMED,
                       WHAT ": target_version %lld is not lower than current_version %lld",
                       (long long)a->target_version, (long long)a->current_version);
    if (c == WD_OK)
        c = wd_msg_text(v, "reason", WHAT, WD_MAX_KILL_REASON, &a->reason, e);
    if (c == WD_OK)
        c = wd_msg_time(v, "created_at", WHAT, &a->created_at, e);
    if (c == WD_OK)
        c = wd_msg_time(v, "expires_at", WHAT, &a->expires_at, e);
    if (c == WD_OK)
        c = wd_digest_of(payload, len, a->hash, e);
    json_decref(v);
    if (c != WD_OK) {
        wd_rollback_free(a);
        return c;
    }
    *out = a;
    return WD_OK;
}

wd_code wd_rollback_check_content(const wd_rollback *a, wd_err *e)
{
    /* No not_before: the authorization is valid from created_at. */
    return wd_window_check(a->created_at, a->created_at, a->expires_at,
                           WD_MAX_ROLLBACK_VALIDITY_S, WHAT, e);
}

wd_code wd_rollback_check(const wd_rollback *a, const wd_roster *r, const wd_follower *f,
                          int64_t now, wd_err *e)
{
    wd_code c = wd_msg_target_match(&a->scope, &a->audience, r, f, WHAT, e);
    if (c == WD_OK)
        c = wd_rollback_check_content(a, e);
    if (c == WD_OK)
        c = wd_window_at(a->created_at, a->expires_at, now, WHAT, e);
    return c;
}

wd_code wd_rollback_verify(const unsigned char *buf, size_t len, const wd_roster *r,
                           const wd_follower *f, int64_t now, wd_rollback **out, wd_err *e)
{
    *out = NULL;
    wd_dsse env;
    wd_code c = wd_msg_open(buf, len, WD_MAX_ROLLBACK_ENVELOPE, WD_ROLLBACK_PAYLOAD_TYPE, r,
                            WD_PURPOSE_BUNDLE_ROLLBACK, now, &env, e);
    if (c != WD_OK)
        return wd_msg_prefix(c, e, WHAT);
    wd_rollback *a = NULL;
    c = wd_rollback_parse(env.payload, env.payload_len, &a, e);
    wd_dsse_free(&env);
    if (c != WD_OK)
        return c;
    c = wd_rollback_check(a, r, f, now, e);
    if (c != WD_OK) {
        wd_rollback_free(a);
        return c;
    }
    *out = a;
    return WD_OK;
}

/* ---- building ---- */

wd_code wd_rollback_encode(const wd_rollback *a, char **out, size_t *len, wd_err *e)
{
    *out = NULL;
    json_t *o = wd_msg_head("authorization_id", a->authorization_id, &a->scope, &a->audience);
    bool ok = o != NULL &&
              wd_msg_put(o, "current_bundle_hash", json_string(a->current_bundle_hash)) &&
              wd_msg_put(o, "current_version", json_integer(a->current_version)) &&
              wd_msg_put(o, "target_bundle_hash", json_string(a->target_bundle_hash)) &&
              wd_msg_put(o, "target_version", json_integer(a->target_version)) &&
              wd_msg_put(o, "reason", json_string(a->reason)) &&
              wd_msg_put_time(o, "created_at", a->created_at) &&
              wd_msg_put_time(o, "expires_at", a->expires_at);
    return wd_msg_encode_end(o, ok, WHAT, out, len, e);
}

wd_code wd_rollback_build(const wd_rollback *spec, wd_key *const *keys, size_t nkeys,
                          int64_t now, char **out, size_t *len, wd_err *e)
{
    *out = NULL;
    char *payload = NULL;
    size_t plen = 0;
    wd_code c = wd_rollback_encode(spec, &payload, &plen, e);
    if (c != WD_OK)
        return c;
    wd_rollback *a = NULL;
    c = wd_rollback_parse((const unsigned char *)payload, plen, &a, e);
    if (c == WD_OK)
        c = wd_rollback_check_content(a, e);
    if (c == WD_OK && now >= a->expires_at)
        c = wd_window_at(a->created_at, a->expires_at, now, WHAT, e);
    if (c == WD_OK)
        c = wd_msg_sign(WD_ROLLBACK_PAYLOAD_TYPE, (const unsigned char *)payload, plen, keys,
                        nkeys, WD_MAX_ROLLBACK_ENVELOPE, out, len, e);
    wd_rollback_free(a);
    free(payload);
    return c;
}
