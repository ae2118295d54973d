/* kill.c — the signed remote kill (SPEC §4): strict payload parsing, semantic checks in their
 * fixed order, the counter floor, and building a kill its own verifier accepts.
 * It must never parse a payload before wd_msg_open has checked its signatures, and never
 * change anything outside the structs it returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/kill.h"
#include "base/base.h"
#include "codec/json.h"

#define WHAT "remote kill"

void wd_kill_free(wd_kill *k)
{
    if (k == NULL)
        return;
    free(k->message_id);
    wd_scope_free(&k->scope);
    wd_audience_free(&k->audience);
    free(k->reason);
    free(k);
}

static const wd_jfield kill_fields[] = {
    {"schema_version", WD_JT_INT, true},
    {"message_id", WD_JT_STRING, true},
    {"org_id", WD_JT_STRING, true},
    {"fleet_id", WD_JT_STRING, true},
    {"environment", WD_JT_STRING, true},
    {"audience", WD_JT_OBJECT, true},
    {"state", WD_JT_STRING, true},
    {"counter", WD_JT_INT, true},
    {"reason", WD_JT_STRING, true},
    {"created_at", WD_JT_STRING, true},
    {"not_before", WD_JT_STRING, true},
    {"expires_at", WD_JT_STRING, true},
};

static wd_code parse_state(const json_t *v, wd_kill *k, wd_err *e)
{
    const char *s = wd_json_str(v, "state");
    if (strcmp(s, "active") == 0) {
        k->active = true;
        return WD_OK;
    }
    if (strcmp(s, "inactive") == 0) {
        k->active = false;
        return WD_OK;
    }
    char shown[48];
    return wd_err_set(e, WD_E_MALFORMED, WHAT ": state '%s' is not active or inactive",
                      wd_clean_text(s, shown, sizeof shown));
}

wd_code wd_kill_parse(const unsigned char *payload, size_t len, wd_kill **out, wd_err *e)
{
    *out = NULL;
    json_t *v = NULL;
    wd_code c = wd_msg_payload(payload, len, WD_MAX_KILL_ENVELOPE, WHAT, kill_fields,
                               sizeof kill_fields / sizeof kill_fields[0], &v, e);
    if (c != WD_OK)
        return c;
    wd_kill *k = calloc(1, sizeof *k);
    if (k == NULL) {
        json_decref(v);
        return wd_err_set(e, WD_E_NOMEM, WHAT ": out of memory");
    }
    c = wd_msg_id(v, "message_id", WHAT, &k->message_id, e);
    if (c == WD_OK)
        c = wd_msg_target_decode(v, WHAT, &k->scope, &k->audience, e);
    if (c == WD_OK)
        c = parse_state(v, k, e);
    if (c == WD_OK)
        c = wd_msg_int(v, "counter", WHAT, WD_KILL_MIN_COUNTER, WD_MAX_SAFE_INTEGER,
                       &k->counter, e);
    if (c == WD_OK)
        c = wd_msg_text(v, "reason", WHAT, WD_MAX_KILL_REASON, &k->reason, e);
    if (c == WD_OK)
        c = wd_msg_time(v, "created_at", WHAT, &k->created_at, e);
    if (c == WD_OK)
        c = wd_msg_time(v, "not_before", WHAT, &k->not_before, e);
    if (c == WD_OK)
        c = wd_msg_time(v, "expires_at", WHAT, &k->expires_at, e);
    if (c == WD_OK)
        c = wd_digest_of(payload, len, k->hash, e);
    json_decref(v);
    if (c != WD_OK) {
        wd_kill_free(k);
        return c;
    }
    *out = k;
    return WD_OK;
}

wd_code wd_kill_check_content(const wd_kill *k, wd_err *e)
{
    return wd_window_check(k->created_at, k->not_before, k->expires_at, WD_MAX_KILL_VALIDITY_S,
                           WHAT, e);
}

wd_code wd_kill_check(const wd_kill *k, const wd_roster *r, const wd_follower *f, int64_t now,
                      unsigned flags, wd_err *e)
{
    wd_code c = (flags & WD_MSG_ANY_AUDIENCE)
                    ? wd_scope_match(&k->scope, r, f, WHAT, e)
                    : wd_msg_target_match(&k->scope, &k->audience, r, f, WHAT, e);
    if (c == WD_OK)
        c = wd_kill_check_content(k, e);
    if (c == WD_OK && !(flags & WD_MSG_ACTIVE))
        c = wd_window_at(k->not_before, k->expires_at, now, WHAT, e);
    return c;
}

wd_code wd_kill_verify(const unsigned char *buf, size_t len, const wd_roster *r,
                       const wd_follower *f, int64_t now, unsigned flags, wd_kill **out,
                       wd_err *e)
{
    *out = NULL;
    wd_dsse env;
    wd_code c = wd_msg_open(buf, len, WD_MAX_KILL_ENVELOPE, WD_KILL_PAYLOAD_TYPE, r,
                            WD_PURPOSE_KILL_SIGNING, now, &env, e);
    if (c != WD_OK)
        return wd_msg_prefix(c, e, WHAT);
    wd_kill *k = NULL;
    c = wd_kill_parse(env.payload, env.payload_len, &k, e);
    wd_dsse_free(&env);
    if (c != WD_OK)
        return c;
    c = wd_kill_check(k, r, f, now, flags, e);
    if (c != WD_OK) {
        wd_kill_free(k);
        return c;
    }
    *out = k;
    return WD_OK;
}

/* ---- counter floor ---- */

const char *wd_kill_step_name(wd_kill_step s)
{
    switch (s) {
    case WD_KILL_FIRST: return "applies";
    case WD_KILL_APPLY: return "applies";
    case WD_KILL_NOOP: return "no-op";
    }
    return "unknown";
}

wd_code wd_kill_transition(const wd_kill *active, const wd_kill *next, wd_kill_step *step,
                           char *note, size_t notesz, wd_err *e)
{
    const char *state = next->active ? "active" : "inactive";
    if (active == NULL) {
        *step = WD_KILL_FIRST;
        wd_msg_note(note, notesz, "counter %lld, state %s; no kill applied before it",
                    (long long)next->counter, state);
        return WD_OK;
    }
    if (strlen(active->hash) == WD_DIGEST_STRLEN && strlen(next->hash) == WD_DIGEST_STRLEN &&
        wd_ct_eq(active->hash, next->hash, WD_DIGEST_STRLEN)) {
        *step = WD_KILL_NOOP;
        wd_msg_note(note, notesz, "counter %lld is already applied", (long long)next->counter);
        return WD_OK;
    }
    if (next->counter > active->counter) {
        *step = WD_KILL_APPLY;
        wd_msg_note(note, notesz, "counter %lld -> %lld, state %s", (long long)active->counter,
                    (long long)next->counter, state);
        return WD_OK;
    }
    return wd_err_set(e, WD_E_STALE,
                      WHAT ": counter %lld is not above the applied counter %lld%s",
                      (long long)next->counter, (long long)active->counter,
                      next->counter == active->counter ? " (same counter, other message)" : "");
}

/* ---- building ---- */

wd_code wd_kill_encode(const wd_kill *k, char **out, size_t *len, wd_err *e)
{
    *out = NULL;
    json_t *o = wd_msg_head("message_id", k->message_id, &k->scope, &k->audience);
    bool ok = o != NULL &&
              wd_msg_put(o, "state", json_string(k->active ? "active" : "inactive")) &&
              wd_msg_put(o, "counter", json_integer(k->counter)) &&
              wd_msg_put(o, "reason", json_string(k->reason)) &&
              wd_msg_put_time(o, "created_at", k->created_at) &&
              wd_msg_put_time(o, "not_before", k->not_before) &&
              wd_msg_put_time(o, "expires_at", k->expires_at);
    return wd_msg_encode_end(o, ok, WHAT, out, len, e);
}

wd_code wd_kill_build(const wd_kill *spec, wd_key *const *keys, size_t nkeys, int64_t now,
                      char **out, size_t *len, wd_err *e)
{
    *out = NULL;
    char *payload = NULL;
    size_t plen = 0;
    wd_code c = wd_kill_encode(spec, &payload, &plen, e);
    if (c != WD_OK)
        return c;
    wd_kill *k = NULL;
    c = wd_kill_parse((const unsigned char *)payload, plen, &k, e);
    if (c == WD_OK)
        c = wd_kill_check_content(k, e);
    if (c == WD_OK && now >= k->expires_at)
        c = wd_window_at(k->not_before, k->expires_at, now, WHAT, e);
    if (c == WD_OK)
        c = wd_msg_sign(WD_KILL_PAYLOAD_TYPE, (const unsigned char *)payload, plen, keys, nkeys,
                        WD_MAX_KILL_ENVELOPE, out, len, e);
    wd_kill_free(k);
    free(payload);
    return c;
}
