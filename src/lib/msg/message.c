/* message.c — the parts of SPEC §3–§5 that bundles, kills and rollback authorizations share:
 * the envelope-opening order of SPEC §1.2, scope, audience, labels, times and windows.
 * It must never parse a payload before its signatures are checked, never allocate before a
 * count or size is checked, and never put untrusted text in a message uncleaned. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/message.h"
#include "base/base.h"
#include "codec/json.h"

/* How much of an untrusted value is shown in a message. */
#define SHOWN 80

wd_code wd_msg_prefix(wd_code c, wd_err *e, const char *fmt, ...)
{
    if (e == NULL || c == WD_OK)
        return c;
    char pre[WD_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    return wd_err_prefix(e, c, "%s", pre);
}

/* ---- envelopes ---- */

wd_code wd_msg_decode_unverified(const unsigned char *buf, size_t len, size_t max,
                                 const char *type, wd_dsse *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    wd_code c = wd_dsse_decode(buf, len, max, out, e);
    if (c != WD_OK) {
        memset(out, 0, sizeof *out);
        return c;
    }
    if (strcmp(out->payload_type, type) != 0) {
        char got[SHOWN];
        wd_clean_text(out->payload_type, got, sizeof got);
        wd_dsse_free(out);
        memset(out, 0, sizeof *out);
        return wd_err_set(e, WD_E_WRONG_TYPE, "envelope: payloadType is '%s', expected '%s'",
                          got, type);
    }
    return WD_OK;
}

wd_code wd_msg_open(const unsigned char *buf, size_t len, size_t max, const char *type,
                    const wd_roster *r, wd_purpose p, int64_t now, wd_dsse *out, wd_err *e)
{
    wd_code c = wd_msg_decode_unverified(buf, len, max, type, out, e);
    if (c != WD_OK)
        return c;
    if (r == NULL) {
        wd_dsse_free(out);
        memset(out, 0, sizeof *out);
        return wd_err_set(e, WD_E_INTERNAL, "envelope: no roster to check signatures against");
    }
    c = wd_roster_check_signatures(r, out, p, now, e);
    if (c != WD_OK) {
        wd_dsse_free(out);
        memset(out, 0, sizeof *out);
        return c;
    }
    return WD_OK;
}

wd_code wd_msg_sign(const char *type, const unsigned char *payload, size_t len,
                    wd_key *const *keys, size_t nkeys, size_t max, char **out, size_t *outlen,
                    wd_err *e)
{
    *out = NULL;
    char *env = NULL;
    size_t n = 0;
    wd_code c = wd_dsse_sign_draft(type, payload, len, keys, nkeys, &env, &n, e);
    if (c != WD_OK)
        return c;
    if (n > max) {
        free(env);
        return wd_err_set(e, WD_E_OVERSIZED, "envelope: %zu bytes, more than the limit of %zu",
                          n, max);
    }
    *out = env;
    if (outlen != NULL)
        *outlen = n;
    return WD_OK;
}

bool wd_msg_put(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL)
        return false;
    return json_object_set_new(obj, key, value) == 0;
}

bool wd_msg_put_time(json_t *obj, const char *key, int64_t t)
{
    char s[WD_TIME_STRLEN + 1];
    wd_time_format(t, s);
    return wd_msg_put(obj, key, json_string(s));
}

json_t *wd_msg_head(const char *id_key, const char *id, const wd_scope *s,
                    const wd_audience *a)
{
    json_t *o = json_object();
    bool ok = o != NULL && wd_msg_put(o, "schema_version", json_integer(WD_MSG_SCHEMA_VERSION)) &&
              wd_msg_put(o, id_key, json_string(id)) &&
              wd_msg_put(o, "org_id", json_string(s->org_id)) &&
              wd_msg_put(o, "fleet_id", json_string(s->fleet_id)) &&
              wd_msg_put(o, "environment", json_string(s->environment)) &&
              wd_msg_put(o, "audience", wd_audience_to_json(a));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

wd_code wd_msg_encode_end(json_t *o, bool ok, const char *what, char **out, size_t *len,
                          wd_err *e)
{
    *out = NULL;
    if (!ok) {
        json_decref(o);
        return wd_err_set(e, WD_E_MALFORMED,
                          "%s: cannot encode the payload (a field is missing or not UTF-8)", what);
    }
    size_t n = 0;
    char *s = wd_json_dump(o, &n);
    json_decref(o);
    if (s == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
    *out = s;
    if (len != NULL)
        *len = n;
    return WD_OK;
}

void wd_msg_note(char *note, size_t notesz, const char *fmt, ...)
{
    if (note == NULL || notesz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, notesz, fmt, ap);
    va_end(ap);
}

/* ---- payload fields ---- */

wd_code wd_msg_payload(const unsigned char *payload, size_t len, size_t max, const char *what,
                       const wd_jfield *fields, size_t nfields, json_t **out, wd_err *e)
{
    *out = NULL;
    json_t *v = NULL;
    wd_code c = wd_json_parse(payload, len, max, &v, e);
    if (c != WD_OK)
        return wd_msg_prefix(c, e, "%s payload", what);
    if (!json_is_object(v)) {
        json_decref(v);
        return wd_err_set(e, WD_E_MALFORMED, "%s payload: expected a JSON object", what);
    }
    const json_t *sv = json_object_get(v, "schema_version");
    if (json_is_integer(sv) && json_integer_value(sv) != WD_MSG_SCHEMA_VERSION) {
        long long got = (long long)json_integer_value(sv);
        json_decref(v);
        return wd_err_set(e, WD_E_UNSUPPORTED_VERSION,
                          "%s: schema_version %lld is not supported (this warden reads %d)", what,
                          got, WD_MSG_SCHEMA_VERSION);
    }
    c = wd_json_check(v, "", fields, nfields, e);
    if (c != WD_OK) {
        json_decref(v);
        return wd_msg_prefix(c, e, "%s", what);
    }
    *out = v;
    return WD_OK;
}

wd_code wd_msg_id(const json_t *obj, const char *key, const char *what, char **out, wd_err *e)
{
    *out = NULL;
    const char *s = wd_json_str(obj, key);
    if (s == NULL || !wd_id_valid(s)) {
        char shown[SHOWN];
        return wd_err_set(e, WD_E_MALFORMED, "%s: %s '%s' is not a valid id", what, key,
                          wd_clean_text(s, shown, sizeof shown));
    }
    char *copy = strdup(s);
    if (copy == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
    *out = copy;
    return WD_OK;
}

wd_code wd_msg_time(const json_t *obj, const char *key, const char *what, int64_t *out,
                    wd_err *e)
{
    const char *s = wd_json_str(obj, key);
    wd_err sub;
    if (s == NULL || wd_time_parse(s, out, &sub) != WD_OK) {
        char shown[SHOWN];
        return wd_err_set(e, WD_E_MALFORMED,
                          "%s: %s '%s' is not a time of the form YYYY-MM-DDTHH:MM:SSZ", what, key,
                          wd_clean_text(s, shown, sizeof shown));
    }
    return WD_OK;
}

wd_code wd_msg_digest(const json_t *obj, const char *key, const char *what, bool allow_empty,
                      char out[WD_DIGEST_STRLEN + 1], wd_err *e)
{
    const char *s = wd_json_str(obj, key);
    out[0] = '\0';
    if (s != NULL && allow_empty && s[0] == '\0')
        return WD_OK;
    unsigned char raw[WD_SHA256_LEN];
    wd_err sub;
    if (s == NULL || wd_digest_parse(s, raw, &sub) != WD_OK) {
        char shown[SHOWN];
        return wd_err_set(e, WD_E_MALFORMED, "%s: %s '%s' is not a digest (sha256: + 64 hex)%s",
                          what, key, wd_clean_text(s, shown, sizeof shown),
                          allow_empty ? " or \"\"" : "");
    }
    wd_digest_format(raw, out);
    return WD_OK;
}

wd_code wd_msg_int(const json_t *obj, const char *key, const char *what, int64_t min,
                   int64_t max, int64_t *out, wd_err *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return wd_err_set(e, WD_E_MALFORMED, "%s: %s: expected integer", what, key);
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return wd_err_set(e, WD_E_MALFORMED, "%s: %s is %lld, must be in %lld .. %lld", what,
                          key, (long long)n, (long long)min, (long long)max);
    *out = (int64_t)n;
    return WD_OK;
}

/* True when s (of n bytes, UTF-8) holds a control character: C0, DEL, or C1 (U+0080..U+009F,
 * encoded C2 80..C2 9F). */
static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

wd_code wd_msg_text(const json_t *obj, const char *key, const char *what, size_t max,
                    char **out, wd_err *e)
{
    *out = NULL;
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return wd_err_set(e, WD_E_MALFORMED, "%s: %s: expected string", what, key);
    size_t n = json_string_length(v);
    if (n > max)
        return wd_err_set(e, WD_E_OVERSIZED, "%s: %s is %zu bytes, more than the limit of %zu",
                          what, key, n, max);
    const char *s = json_string_value(v);
    if (has_control(s, n))
        return wd_err_set(e, WD_E_MALFORMED, "%s: %s contains a control character", what, key);
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
    memcpy(copy, s, n);
    copy[n] = '\0';
    *out = copy;
    return WD_OK;
}

/* ---- scope ---- */

void wd_scope_free(wd_scope *s)
{
    if (s == NULL)
        return;
    free(s->org_id);
    free(s->fleet_id);
    free(s->environment);
    memset(s, 0, sizeof *s);
}

wd_code wd_scope_decode(const json_t *obj, const char *what, wd_scope *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    wd_code c = wd_msg_id(obj, "org_id", what, &out->org_id, e);
    if (c == WD_OK)
        c = wd_msg_id(obj, "fleet_id", what, &out->fleet_id, e);
    if (c == WD_OK)
        c = wd_msg_id(obj, "environment", what, &out->environment, e);
    if (c != WD_OK)
        wd_scope_free(out);
    return c;
}

static wd_code scope_field(const char *what, const char *field, const char *mine,
                           const char *theirs, const char *whose, wd_err *e)
{
    if (theirs != NULL && strcmp(mine, theirs) == 0)
        return WD_OK;
    char a[SHOWN], b[SHOWN];
    return wd_err_set(e, WD_E_WRONG_SCOPE, "%s: %s '%s' is not %s '%s'", what, field,
                      wd_clean_text(mine, a, sizeof a), whose,
                      wd_clean_text(theirs, b, sizeof b));
}

wd_code wd_scope_match(const wd_scope *s, const wd_roster *r, const wd_follower *f,
                       const char *what, wd_err *e)
{
    wd_code c = WD_OK;
    if (r != NULL)
        c = scope_field(what, "org_id", s->org_id, r->org_id, "the roster's org", e);
    if (c == WD_OK)
        c = scope_field(what, "org_id", s->org_id, f->org_id, "this follower's org", e);
    if (c == WD_OK)
        c = scope_field(what, "fleet_id", s->fleet_id, f->fleet_id, "this follower's fleet", e);
    if (c == WD_OK)
        c = scope_field(what, "environment", s->environment, f->environment,
                        "this follower's environment", e);
    return c;
}

wd_code wd_msg_target_decode(const json_t *obj, const char *what, wd_scope *s, wd_audience *a,
                             wd_err *e)
{
    wd_code c = wd_scope_decode(obj, what, s, e);
    if (c == WD_OK)
        c = wd_audience_decode(json_object_get(obj, "audience"), what, a, e);
    return c;
}

wd_code wd_msg_target_match(const wd_scope *s, const wd_audience *a, const wd_roster *r,
                            const wd_follower *f, const char *what, wd_err *e)
{
    wd_code c = wd_scope_match(s, r, f, what, e);
    if (c == WD_OK)
        c = wd_audience_match(a, f, what, e);
    return c;
}

/* ---- labels and audience ---- */

wd_code wd_label_check(const char *key, const char *value, const char *path, wd_err *e)
{
    char shown[SHOWN];
    if (!wd_id_valid(key))
        return wd_err_set(e, WD_E_MALFORMED, "%s: label key '%s' is not a valid id", path,
                          wd_clean_text(key, shown, sizeof shown));
    size_t n = strlen(value);
    if (n > WD_MAX_LABEL_VALUE)
        return wd_err_set(e, WD_E_OVERSIZED,
                          "%s: label '%s' has a value of %zu bytes, more than the limit of %d",
                          path, key, n, WD_MAX_LABEL_VALUE);
    if (has_control(value, n))
        return wd_err_set(e, WD_E_MALFORMED, "%s: label '%s' contains a control character",
                          path, key);
    return WD_OK;
}

void wd_audience_free(wd_audience *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nids; i++)
        free(a->ids[i]);
    free(a->ids);
    for (size_t i = 0; i < a->nlabels; i++) {
        free(a->labels[i].key);
        free(a->labels[i].value);
    }
    free(a->labels);
    memset(a, 0, sizeof *a);
}

static wd_code decode_ids(const json_t *arr, const char *what, wd_audience *out, wd_err *e)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return wd_err_set(e, WD_E_MALFORMED, "%s: audience.instance_ids must not be empty", what);
    if (n > WD_MAX_AUDIENCE_IDS)
        return wd_err_set(e, WD_E_OVERSIZED,
                          "%s: audience.instance_ids has %zu entries, more than the limit of %d",
                          what, n, WD_MAX_AUDIENCE_IDS);
    /* Check every entry before copying any. */
    bool star = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_string(v))
            return wd_err_set(e, WD_E_MALFORMED, "%s: audience.instance_ids[%zu]: expected string",
                              what, i);
        const char *s = json_string_value(v);
        if (strcmp(s, "*") == 0) {
            star = true;
            continue;
        }
        if (!wd_id_valid(s)) {
            char shown[SHOWN];
            return wd_err_set(e, WD_E_MALFORMED,
                              "%s: audience.instance_ids[%zu] '%s' is not a valid id", what, i,
                              wd_clean_text(s, shown, sizeof shown));
        }
    }
    if (star && n != 1)
        return wd_err_set(e, WD_E_MALFORMED,
                          "%s: audience.instance_ids: \"*\" must be the only entry", what);
    if (star) {
        out->kind = WD_AUDIENCE_ALL;
        return WD_OK;
    }
    out->ids = calloc(n, sizeof *out->ids);
    if (out->ids == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
    out->kind = WD_AUDIENCE_IDS;
    for (size_t i = 0; i < n; i++) {
        out->ids[i] = strdup(json_string_value(json_array_get(arr, i)));
        if (out->ids[i] == NULL) {
            wd_audience_free(out);
            return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
        }
        out->nids = i + 1;
    }
    return WD_OK;
}

static wd_code decode_labels(const json_t *obj, const char *what, wd_audience *out, wd_err *e)
{
    size_t n = json_object_size(obj);
    if (n == 0)
        return wd_err_set(e, WD_E_MALFORMED, "%s: audience.labels must not be empty", what);
    if (n > WD_MAX_LABELS)
        return wd_err_set(e, WD_E_OVERSIZED,
                          "%s: audience.labels has %zu entries, more than the limit of %d", what,
                          n, WD_MAX_LABELS);
    const char *k;
    json_t *v;
    char path[160];
    snprintf(path, sizeof path, "%s: audience.labels", what);
    json_object_foreach((json_t *)obj, k, v) {
        if (!json_is_string(v)) {
            char shown[SHOWN];
            return wd_err_set(e, WD_E_MALFORMED, "%s.%s: expected string", path,
                              wd_clean_text(k, shown, sizeof shown));
        }
        /* A value with an embedded NUL cannot reach here: strict JSON rejects \u0000. */
        wd_code c = wd_label_check(k, json_string_value(v), path, e);
        if (c != WD_OK)
            return c;
    }
    out->labels = calloc(n, sizeof *out->labels);
    if (out->labels == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
    out->kind = WD_AUDIENCE_LABELS;
    json_object_foreach((json_t *)obj, k, v) {
        wd_label *l = &out->labels[out->nlabels];
        l->key = strdup(k);
        l->value = strdup(json_string_value(v));
        out->nlabels++;
        if (l->key == NULL || l->value == NULL) {
            wd_audience_free(out);
            return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
        }
    }
    return WD_OK;
}

wd_code wd_audience_decode(const json_t *v, const char *what, wd_audience *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    static const wd_jfield fields[] = {
        {"instance_ids", WD_JT_ARRAY, false},
        {"labels", WD_JT_OBJECT, false},
    };
    wd_code c = wd_json_check(v, "audience", fields, 2, e);
    if (c != WD_OK)
        return wd_msg_prefix(c, e, "%s", what);
    const json_t *ids = json_object_get(v, "instance_ids");
    const json_t *labels = json_object_get(v, "labels");
    if ((ids == NULL) == (labels == NULL))
        return wd_err_set(e, WD_E_MALFORMED,
                          "%s: audience must have exactly one of instance_ids and labels", what);
    return ids != NULL ? decode_ids(ids, what, out, e) : decode_labels(labels, what, out, e);
}

static const char *follower_label(const wd_follower *f, const char *key)
{
    for (size_t i = 0; i < f->nlabels; i++)
        if (f->labels[i].key != NULL && strcmp(f->labels[i].key, key) == 0)
            return f->labels[i].value;
    return NULL;
}

wd_code wd_audience_match(const wd_audience *a, const wd_follower *f, const char *what,
                          wd_err *e)
{
    char shown[SHOWN];
    switch (a->kind) {
    case WD_AUDIENCE_ALL:
        return WD_OK;
    case WD_AUDIENCE_IDS:
        if (f->instance_id != NULL)
            for (size_t i = 0; i < a->nids; i++)
                if (strcmp(a->ids[i], f->instance_id) == 0)
                    return WD_OK;
        return wd_err_set(e, WD_E_WRONG_AUDIENCE,
                          "%s: instance '%s' is not among the %zu instance_ids of its audience",
                          what, wd_clean_text(f->instance_id, shown, sizeof shown), a->nids);
    case WD_AUDIENCE_LABELS:
        for (size_t i = 0; i < a->nlabels; i++) {
            const char *mine = follower_label(f, a->labels[i].key);
            if (mine == NULL)
                return wd_err_set(e, WD_E_WRONG_AUDIENCE,
                                  "%s: audience needs label '%s', which this follower "
                                  "does not have",
                                  what, wd_clean_text(a->labels[i].key, shown, sizeof shown));
            if (strcmp(mine, a->labels[i].value) != 0) {
                char want[SHOWN], have[SHOWN];
                return wd_err_set(e, WD_E_WRONG_AUDIENCE,
                                  "%s: audience needs label %s='%s', this follower has '%s'", what,
                                  wd_clean_text(a->labels[i].key, shown, sizeof shown),
                                  wd_clean_text(a->labels[i].value, want, sizeof want),
                                  wd_clean_text(mine, have, sizeof have));
            }
        }
        return WD_OK;
    }
    return wd_err_set(e, WD_E_INTERNAL, "%s: unknown audience kind", what);
}

json_t *wd_audience_to_json(const wd_audience *a)
{
    json_t *obj = json_object();
    json_t *inner = NULL;
    if (obj == NULL)
        return NULL;
    switch (a->kind) {
    case WD_AUDIENCE_ALL:
        inner = json_array();
        if (inner == NULL || json_array_append_new(inner, json_string("*")) != 0)
            goto fail;
        if (json_object_set_new(obj, "instance_ids", inner) != 0) {
            inner = NULL;
            goto fail;
        }
        return obj;
    case WD_AUDIENCE_IDS:
        inner = json_array();
        if (inner == NULL)
            goto fail;
        for (size_t i = 0; i < a->nids; i++)
            if (json_array_append_new(inner, json_string(a->ids[i])) != 0)
                goto fail;
        if (json_object_set_new(obj, "instance_ids", inner) != 0) {
            inner = NULL;
            goto fail;
        }
        return obj;
    case WD_AUDIENCE_LABELS:
        inner = json_object();
        if (inner == NULL)
            goto fail;
        for (size_t i = 0; i < a->nlabels; i++)
            if (json_object_set_new(inner, a->labels[i].key, json_string(a->labels[i].value)) != 0)
                goto fail;
        if (json_object_set_new(obj, "labels", inner) != 0) {
            inner = NULL;
            goto fail;
        }
        return obj;
    }
fail:
    json_decref(inner);
    json_decref(obj);
    return NULL;
}

void wd_labels_free(wd_label *labels, size_t n)
{
    if (labels == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(labels[i].key);
        free(labels[i].value);
    }
    free(labels);
}

wd_code wd_labels_from_text(char *const *kv, size_t n, wd_label **out, wd_err *e)
{
    *out = NULL;
    if (n == 0)
        return WD_OK;
    if (n > WD_MAX_LABELS * 4u)
        return wd_err_set(e, WD_E_USAGE, "too many labels: %zu", n);
    wd_label *l = calloc(n, sizeof *l);
    if (l == NULL)
        return wd_err_set(e, WD_E_NOMEM, "labels: out of memory");
    char shown[SHOWN];
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        if (eq == NULL || eq == kv[i]) {
            wd_labels_free(l, n);
            return wd_err_set(e, WD_E_USAGE, "label '%s' is not of the form key=value",
                              wd_clean_text(kv[i], shown, sizeof shown));
        }
        l[i].key = strndup(kv[i], (size_t)(eq - kv[i]));
        l[i].value = strdup(eq + 1);
        if (l[i].key == NULL || l[i].value == NULL) {
            wd_labels_free(l, n);
            return wd_err_set(e, WD_E_NOMEM, "labels: out of memory");
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(l[j].key, l[i].key) == 0) {
                wd_err_set(e, WD_E_USAGE, "label '%s' is given twice",
                           wd_clean_text(l[i].key, shown, sizeof shown));
                wd_labels_free(l, n);
                return WD_E_USAGE;
            }
    }
    *out = l;
    return WD_OK;
}

wd_code wd_audience_from_text(const char *instances, char *const *labels, size_t nlabels,
                              wd_audience *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    if ((instances != NULL) == (nlabels > 0))
        return wd_err_set(e, WD_E_USAGE,
                          "give the audience as exactly one of --instances and --label");
    if (nlabels > 0) {
        wd_label *l = NULL;
        wd_code c = wd_labels_from_text(labels, nlabels, &l, e);
        if (c != WD_OK)
            return c;
        out->kind = WD_AUDIENCE_LABELS;
        out->labels = l;
        out->nlabels = nlabels;
        return WD_OK;
    }
    if (strcmp(instances, "*") == 0) {
        out->kind = WD_AUDIENCE_ALL;
        return WD_OK;
    }
    size_t n = 1;
    for (const char *p = instances; *p; p++)
        if (*p == ',')
            n++;
    if (n > WD_MAX_AUDIENCE_IDS * 4u)
        return wd_err_set(e, WD_E_USAGE, "--instances: too many entries (%zu)", n);
    out->ids = calloc(n, sizeof *out->ids);
    if (out->ids == NULL)
        return wd_err_set(e, WD_E_NOMEM, "audience: out of memory");
    out->kind = WD_AUDIENCE_IDS;
    const char *p = instances;
    for (size_t i = 0; i < n; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        out->ids[i] = strndup(p, len);
        if (out->ids[i] == NULL) {
            wd_audience_free(out);
            return wd_err_set(e, WD_E_NOMEM, "audience: out of memory");
        }
        out->nids = i + 1;
        p += len + (comma ? 1 : 0);
    }
    return WD_OK;
}

/* ---- windows ---- */

wd_code wd_window_check(int64_t created_at, int64_t not_before, int64_t expires_at,
                        int64_t max_span, const char *what, wd_err *e)
{
    char a[WD_TIME_STRLEN + 1], b[WD_TIME_STRLEN + 1];
    if (created_at > not_before) {
        wd_time_format(created_at, a);
        wd_time_format(not_before, b);
        return wd_err_set(e, WD_E_MALFORMED, "%s: created_at %s is after not_before %s", what, a,
                          b);
    }
    if (not_before >= expires_at) {
        wd_time_format(not_before, a);
        wd_time_format(expires_at, b);
        return wd_err_set(e, WD_E_MALFORMED, "%s: not_before %s is not before expires_at %s",
                          what, a, b);
    }
    if (max_span > 0 && expires_at - created_at > max_span)
        return wd_err_set(e, WD_E_MALFORMED,
                          "%s: valid for %lld s from created_at, more than the limit of "
                          "%lld s (%lld h)",
                          what, (long long)(expires_at - created_at), (long long)max_span,
                          (long long)(max_span / 3600));
    return WD_OK;
}

wd_code wd_window_at(int64_t not_before, int64_t expires_at, int64_t now, const char *what,
                     wd_err *e)
{
    char a[WD_TIME_STRLEN + 1], b[WD_TIME_STRLEN + 1];
    wd_time_format(now, a);
    if (now < not_before - WD_NOT_BEFORE_SKEW_S) {
        wd_time_format(not_before, b);
        return wd_err_set(e, WD_E_NOT_YET_VALID,
                          "%s: not valid before %s (now %s, allowed clock skew %d s)", what, b, a,
                          WD_NOT_BEFORE_SKEW_S);
    }
    if (now >= expires_at) {
        wd_time_format(expires_at, b);
        return wd_err_set(e, WD_E_EXPIRED, "%s: expired at %s (now %s)", what, b, a);
    }
    return WD_OK;
}
