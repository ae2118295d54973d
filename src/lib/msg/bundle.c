/* bundle.c — the signed policy bundle (SPEC §3): strict payload parsing, the semantic checks in
 * their fixed order, the transition rule, and building a bundle its own verifier accepts.
 * It must never parse a payload before wd_msg_open has checked its signatures, never trust a
 * bundle's policy before its digest, size, sections and schema are checked, and never change
 * anything outside the structs it returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/bundle.h"
#include "msg/rollback.h"
#include "base/base.h"
#include "codec/json.h"
#include "codec/yaml.h"
#include "policy/policy_doc.h"

#define WHAT "bundle"

/* Top-level policy sections a bundle may carry (SPEC §3). Everything else is local-only or
 * not yet allowlisted. */
static const char *const allowlist[] = {
    "version", "mode", "servers", "permission_profiles", "mcp_tool_policy",
};

/* Sections SPEC §3 names as local-only, for a clearer message. */
static const char *const local_only[] = {
    "conductor", "leader", "agent", "tls", "logging", "flight_recorder", "sandbox", "metrics",
    "state_dir", "kill_switch",
};

static bool in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return true;
    return false;
}

void wd_bundle_free(wd_bundle *b)
{
    if (b == NULL)
        return;
    free(b->bundle_id);
    wd_scope_free(&b->scope);
    wd_audience_free(&b->audience);
    free(b->policy_yaml);
    json_decref(b->policy);
    free(b);
}

static const wd_jfield bundle_fields[] = {
    {"schema_version", WD_JT_INT, true},
    {"bundle_id", WD_JT_STRING, true},
    {"org_id", WD_JT_STRING, true},
    {"fleet_id", WD_JT_STRING, true},
    {"environment", WD_JT_STRING, true},
    {"audience", WD_JT_OBJECT, true},
    {"version", WD_JT_INT, true},
    {"previous_bundle_hash", WD_JT_STRING, true},
    {"created_at", WD_JT_STRING, true},
    {"not_before", WD_JT_STRING, true},
    {"expires_at", WD_JT_STRING, true},
    {"min_warden_version", WD_JT_STRING, true},
    {"policy_yaml", WD_JT_STRING, true},
    {"policy_sha256", WD_JT_STRING, true},
};

static wd_code parse_min_version(const json_t *v, wd_bundle *b, wd_err *e)
{
    const char *s = wd_json_str(v, "min_warden_version");
    char shown[48];
    if (!wd_semver_parse(s, b->min_warden_version))
        return wd_err_set(e, WD_E_MALFORMED,
                          WHAT ": min_warden_version '%s' is not MAJOR.MINOR.PATCH",
                          wd_clean_text(s, shown, sizeof shown));
    unsigned mine[3];
    if (!wd_semver_parse(WARDEN_VERSION, mine))
        return wd_err_set(e, WD_E_INTERNAL, "this warden's version is not a version string");
    if (wd_semver_cmp(b->min_warden_version, mine) > 0)
        return wd_err_set(e, WD_E_UNSUPPORTED_VERSION,
                          WHAT ": needs warden %s or newer, this is %s",
                          wd_clean_text(s, shown, sizeof shown), WARDEN_VERSION);
    return WD_OK;
}

wd_code wd_bundle_parse(const unsigned char *payload, size_t len, wd_bundle **out, wd_err *e)
{
    *out = NULL;
    json_t *v = NULL;
    wd_code c = wd_msg_payload(payload, len, WD_MAX_BUNDLE_ENVELOPE, WHAT, bundle_fields,
                               sizeof bundle_fields / sizeof bundle_fields[0], &v, e);
    if (c != WD_OK)
        return c;
    wd_bundle *b = calloc(1, sizeof *b);
    if (b == NULL) {
        json_decref(v);
        return wd_err_set(e, WD_E_NOMEM, WHAT ": out of memory");
    }
    c = wd_msg_id(v, "bundle_id", WHAT, &b->bundle_id, e);
    if (c == WD_OK)
        c = wd_msg_target_decode(v, WHAT, &b->scope, &b->audience, e);
    if (c == WD_OK)
        c = wd_msg_int(v, "version", WHAT, 1, WD_MAX_SAFE_INTEGER, &b->version, e);
    if (c == WD_OK)
        c = wd_msg_digest(v, "previous_bundle_hash", WHAT, true, b->previous_bundle_hash, e);
    if (c == WD_OK)
        c = wd_msg_time(v, "created_at", WHAT, &b->created_at, e);
    if (c == WD_OK)
        c = wd_msg_time(v, "not_before", WHAT, &b->not_before, e);
    if (c == WD_OK)
        c = wd_msg_time(v, "expires_at", WHAT, &b->expires_at, e);
    if (c == WD_OK)
        c = parse_min_version(v, b, e);
    if (c == WD_OK)
        c = wd_msg_digest(v, "policy_sha256", WHAT, false, b->policy_sha256, e);
    if (c == WD_OK) {
        const json_t *py = json_object_get(v, "policy_yaml");
        b->policy_len = json_string_length(py);
        b->policy_yaml = malloc(b->policy_len + 1);
        if (b->policy_yaml == NULL) {
            c = wd_err_set(e, WD_E_NOMEM, WHAT ": out of memory");
        } else {
            memcpy(b->policy_yaml, json_string_value(py), b->policy_len);
            b->policy_yaml[b->policy_len] = '\0';
        }
    }
    if (c == WD_OK)
        c = wd_digest_of(payload, len, b->hash, e);
    json_decref(v);
    if (c != WD_OK) {
        wd_bundle_free(b);
        return c;
    }
    *out = b;
    return WD_OK;
}

static wd_code window_shape(const wd_bundle *b, wd_err *e)
{
    return wd_window_check(b->created_at, b->not_before, b->expires_at, 0, WHAT, e);
}

/* Everything after the window: digest, size, YAML, sections, schema. Sets b->policy. */
static wd_code check_policy(wd_bundle *b, wd_err *e)
{
    unsigned char want[WD_SHA256_LEN], got[WD_SHA256_LEN];
    wd_code c = wd_digest_parse(b->policy_sha256, want, e);
    if (c != WD_OK)
        return wd_msg_prefix(c, e, WHAT ": policy_sha256");
    c = wd_sha256(b->policy_yaml, b->policy_len, got, e);
    if (c != WD_OK)
        return c;
    if (!wd_ct_eq(want, got, WD_SHA256_LEN)) {
        char hex[WD_DIGEST_STRLEN + 1];
        wd_digest_format(got, hex);
        return wd_err_set(e, WD_E_HASH_MISMATCH,
                          WHAT ": policy_sha256 %s is not the digest of policy_yaml (%s)",
                          b->policy_sha256, hex);
    }
    if (b->policy_len > WD_MAX_POLICY_BYTES)
        return wd_err_set(e, WD_E_OVERSIZED,
                          WHAT ": policy_yaml is %zu bytes, more than the limit of %u",
                          b->policy_len, WD_MAX_POLICY_BYTES);
    json_t *doc = NULL;
    c = wd_yaml_load((const unsigned char *)b->policy_yaml, b->policy_len, &doc, e);
    if (c != WD_OK) {
        if (!wd_code_is_rejection(c))
            return c;
        wd_msg_prefix(c, e, WHAT ": policy_yaml (%s)", wd_code_name(c));
        if (e != NULL)
            e->code = WD_E_INVALID_POLICY;
        return WD_E_INVALID_POLICY;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return wd_err_set(e, WD_E_INVALID_POLICY,
                          WHAT ": policy_yaml: the document must be a mapping of sections");
    }
    const char *k;
    json_t *sec;
    json_object_foreach(doc, k, sec) {
        if (in_list(k, allowlist, sizeof allowlist / sizeof allowlist[0]))
            continue;
        char shown[80];
        wd_clean_text(k, shown, sizeof shown);
        bool local = in_list(k, local_only, sizeof local_only / sizeof local_only[0]);
        json_decref(doc);
        return wd_err_set(e, WD_E_FORBIDDEN_SECTION,
                          WHAT ": policy_yaml: section '%s' may not come from a bundle (%s); "
                          "allowed: version, mode, servers, permission_profiles, mcp_tool_policy",
                          shown, local ? "local-only" : "not on the bundle allowlist");
    }
    c = wd_policy_validate_doc(doc, e);
    if (c != WD_OK) {
        json_decref(doc);
        return wd_msg_prefix(c, e, WHAT ": policy_yaml");
    }
    json_decref(b->policy);
    b->policy = doc;
    return WD_OK;
}

wd_code wd_bundle_check_content(wd_bundle *b, wd_err *e)
{
    wd_code c = window_shape(b, e);
    return c != WD_OK ? c : check_policy(b, e);
}

wd_code wd_bundle_check(wd_bundle *b, const wd_roster *r, const wd_follower *f, int64_t now,
                        unsigned flags, wd_err *e)
{
    wd_code c = (flags & WD_MSG_ANY_AUDIENCE)
                    ? wd_scope_match(&b->scope, r, f, WHAT, e)
                    : wd_msg_target_match(&b->scope, &b->audience, r, f, WHAT, e);
    if (c == WD_OK)
        c = window_shape(b, e);
    if (c == WD_OK && !(flags & WD_MSG_ACTIVE))
        c = wd_window_at(b->not_before, b->expires_at, now, WHAT, e);
    if (c == WD_OK)
        c = check_policy(b, e);
    return c;
}

wd_code wd_bundle_verify(const unsigned char *buf, size_t len, const wd_roster *r,
                         const wd_follower *f, int64_t now, unsigned flags, wd_bundle **out,
                         wd_err *e)
{
    *out = NULL;
    wd_dsse env;
    wd_code c = wd_msg_open(buf, len, WD_MAX_BUNDLE_ENVELOPE, WD_BUNDLE_PAYLOAD_TYPE, r,
                            WD_PURPOSE_BUNDLE_SIGNING, now, &env, e);
    if (c != WD_OK)
        return wd_msg_prefix(c, e, WHAT);
    wd_bundle *b = NULL;
    c = wd_bundle_parse(env.payload, env.payload_len, &b, e);
    wd_dsse_free(&env);
    if (c != WD_OK)
        return c;
    c = wd_bundle_check(b, r, f, now, flags, e);
    if (c != WD_OK) {
        wd_bundle_free(b);
        return c;
    }
    *out = b;
    return WD_OK;
}

/* ---- transition ---- */

const char *wd_bundle_step_name(wd_bundle_step s)
{
    switch (s) {
    case WD_BUNDLE_FIRST: return "accepted";
    case WD_BUNDLE_NOOP: return "no-op";
    case WD_BUNDLE_FORWARD: return "accepted";
    case WD_BUNDLE_SKIP: return "accepted, versions skipped";
    case WD_BUNDLE_ROLLBACK: return "accepted, authorized rollback";
    }
    return "unknown";
}

static bool same_digest(const char *a, const char *b)
{
    return strlen(a) == WD_DIGEST_STRLEN && strlen(b) == WD_DIGEST_STRLEN &&
           wd_ct_eq(a, b, WD_DIGEST_STRLEN);
}

/* A lower version: accepted only with a valid authorization for exactly active -> next. */
static wd_code rollback_step(const wd_bundle *active, const wd_bundle *next,
                             const unsigned char *auth, size_t auth_len, const wd_roster *r,
                             const wd_follower *f, int64_t now, wd_bundle_step *step, char *note,
                             size_t notesz, wd_err *e)
{
    long long from = (long long)active->version, to = (long long)next->version;
    if (auth == NULL)
        return wd_err_set(e, WD_E_STALE,
                          WHAT ": version %lld is lower than the active version %lld, and no "
                          "rollback authorization was given", to, from);
    wd_rollback *a = NULL;
    wd_err sub;
    wd_err_clear(&sub);
    wd_code c = wd_rollback_verify(auth, auth_len, r, f, now, &a, &sub);
    if (c != WD_OK) {
        if (!wd_code_is_rejection(c)) {
            if (e != NULL)
                *e = sub;
            return c;
        }
        return wd_err_set(e, WD_E_STALE,
                          WHAT ": version %lld is lower than the active version %lld, and the "
                          "rollback authorization is not valid (%s): %s", to, from,
                          wd_code_name(c), sub.msg);
    }
    bool match = a->current_version == active->version && a->target_version == next->version &&
                 same_digest(a->current_bundle_hash, active->hash) &&
                 same_digest(a->target_bundle_hash, next->hash);
    if (!match) {
        c = wd_err_set(e, WD_E_STALE,
                       WHAT ": version %lld is lower than the active version %lld, and rollback "
                       "authorization %s is for %lld (%s) -> %lld (%s), not %lld (%s) -> %lld (%s)",
                       to, from, a->authorization_id, (long long)a->current_version,
                       a->current_bundle_hash, (long long)a->target_version,
                       a->target_bundle_hash, from, active->hash, to, next->hash);
        wd_rollback_free(a);
        return c;
    }
    wd_msg_note(note, notesz, "rollback from version %lld to %lld authorized by %s", from, to,
                a->authorization_id);
    wd_rollback_free(a);
    *step = WD_BUNDLE_ROLLBACK;
    return WD_OK;
}

/* The floor check (SPEC §3): next is not the active bundle and is not a rollback; a version
 * at or below the floor was applied (or passed) before and is refused. */
static wd_code above_floor(const wd_bundle *next, int64_t floor, wd_err *e)
{
    if (next->version > floor)
        return WD_OK;
    return wd_err_set(e, WD_E_STALE,
                      WHAT ": version %lld is not above the floor %lld, the highest version "
                      "applied here (a rollback does not reopen the versions it rolled back; "
                      "the way forward is version %lld or higher)",
                      (long long)next->version, (long long)floor, (long long)floor + 1);
}

wd_code wd_bundle_transition(const wd_bundle *active, int64_t floor, const wd_bundle *next,
                             const unsigned char *auth, size_t auth_len, const wd_roster *r,
                             const wd_follower *f, int64_t now, wd_bundle_step *step,
                             int64_t *floor_out, char *note, size_t notesz, wd_err *e)
{
    if (floor < 0 || floor > WD_MAX_SAFE_INTEGER)
        return wd_err_set(e, WD_E_USAGE, WHAT ": floor %lld is not in 0 .. %lld",
                          (long long)floor, (long long)WD_MAX_SAFE_INTEGER);
    if (active != NULL && active->version > floor)
        floor = active->version;
    wd_bundle_step s;
    wd_code c = WD_OK;
    long long to = (long long)next->version;
    if (active == NULL) {
        c = above_floor(next, floor, e);
        if (c != WD_OK)
            return c;
        s = WD_BUNDLE_FIRST;
        if (floor > 0)
            wd_msg_note(note, notesz, "version %lld, no active bundle before it (floor %lld)",
                        to, (long long)floor);
        else
            wd_msg_note(note, notesz, "version %lld, no active bundle before it", to);
    } else if (same_digest(active->hash, next->hash)) {
        s = WD_BUNDLE_NOOP;
        wd_msg_note(note, notesz, "version %lld is already the active bundle", to);
    } else if (next->version > active->version) {
        long long from = (long long)active->version;
        c = above_floor(next, floor, e);
        if (c != WD_OK)
            return c;
        if (same_digest(next->previous_bundle_hash, active->hash)) {
            s = WD_BUNDLE_FORWARD;
            wd_msg_note(note, notesz, "version %lld -> %lld", from, to);
        } else {
            s = WD_BUNDLE_SKIP;
            wd_msg_note(note, notesz,
                        "version %lld -> %lld; previous_bundle_hash %s is not the active bundle's "
                        "hash %s, so versions were skipped", from, to,
                        next->previous_bundle_hash[0] ? next->previous_bundle_hash : "\"\"",
                        active->hash);
        }
    } else if (next->version == active->version) {
        return wd_err_set(e, WD_E_FORK,
                          WHAT ": version %lld has hash %s, but the active version %lld "
                          "has hash %s",
                          to, next->hash, (long long)active->version, active->hash);
    } else {
        c = rollback_step(active, next, auth, auth_len, r, f, now, &s, note, notesz, e);
        if (c != WD_OK)
            return c;
    }
    *step = s;
    if (floor_out != NULL)
        *floor_out = next->version > floor ? next->version : floor;
    return WD_OK;
}

/* ---- building ---- */

wd_code wd_bundle_encode(const wd_bundle *b, char **out, size_t *len, wd_err *e)
{
    *out = NULL;
    char ver[40];
    snprintf(ver, sizeof ver, "%u.%u.%u", b->min_warden_version[0], b->min_warden_version[1],
             b->min_warden_version[2]);
    json_t *policy = json_stringn(b->policy_yaml ? b->policy_yaml : "", b->policy_len);
    if (policy == NULL)
        return wd_err_set(e, WD_E_MALFORMED, WHAT ": policy_yaml is not valid UTF-8");
    json_t *o = wd_msg_head("bundle_id", b->bundle_id, &b->scope, &b->audience);
    bool ok = o != NULL &&
              wd_msg_put(o, "version", json_integer(b->version)) &&
              wd_msg_put(o, "previous_bundle_hash", json_string(b->previous_bundle_hash)) &&
              wd_msg_put_time(o, "created_at", b->created_at) &&
              wd_msg_put_time(o, "not_before", b->not_before) &&
              wd_msg_put_time(o, "expires_at", b->expires_at) &&
              wd_msg_put(o, "min_warden_version", json_string(ver)) &&
              wd_msg_put(o, "policy_yaml", policy) &&
              wd_msg_put(o, "policy_sha256", json_string(b->policy_sha256));
    if (o == NULL)
        json_decref(policy);
    return wd_msg_encode_end(o, ok, WHAT, out, len, e);
}

wd_code wd_bundle_build(const wd_bundle *spec, wd_key *const *keys, size_t nkeys, int64_t now,
                        char **out, size_t *len, wd_err *e)
{
    *out = NULL;
    char *payload = NULL;
    size_t plen = 0;
    wd_code c = wd_bundle_encode(spec, &payload, &plen, e);
    if (c != WD_OK)
        return c;
    wd_bundle *b = NULL;
    c = wd_bundle_parse((const unsigned char *)payload, plen, &b, e);
    if (c == WD_OK)
        c = wd_bundle_check_content(b, e);
    if (c == WD_OK && now >= b->expires_at)
        c = wd_window_at(b->not_before, b->expires_at, now, WHAT, e);
    if (c == WD_OK)
        c = wd_msg_sign(WD_BUNDLE_PAYLOAD_TYPE, (const unsigned char *)payload, plen, keys, nkeys,
                        WD_MAX_BUNDLE_ENVELOPE, out, len, e);
    wd_bundle_free(b);
    free(payload);
    return c;
}
