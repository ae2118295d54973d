/* api_follower.c — the followers' routes: GET policy/latest and remote-kill/latest (selection
 * from the in-memory view, ETags, long polls, the rollback header), POST status (labels for
 * audience selection) and POST audit/batches (the per-instance hash chain). It must never read
 * the store to answer 304 or 204, never serve a follower anything outside its own (org, fleet,
 * env) and audience, and never accept a report or a batch for another instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "ui.h"
#include "base/base.h"
#include "codec/json.h"
#include "crypto/crypto.h"

/* ---- GET policy/latest, GET remote-kill/latest ---- */

/* Answer 200 with the cached bytes of (kill, hash) when they are cached. Returns false when
 * they are not (rs untouched). */
static bool bytes_cached(wd_api *A, bool kill, const char *hash, wd_http_resp *rs)
{
    bool hit = false;
    pthread_mutex_lock(&A->bytes_mu);
    for (size_t i = 0; i < API_BYTES_CACHE; i++) {
        api_bytes *b = &A->bytes[i];
        if (b->used && b->kill == kill && strcmp(b->hash, hash) == 0) {
            b->tick = ++A->bytes_tick;
            wd_http_resp_body(rs, 200, b->bytes, b->len);
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&A->bytes_mu);
    return hit;
}

/* Keep a copy of bytes as (kill, hash), replacing the least recently used entry. Out of memory
 * only means nothing is cached. */
static void bytes_remember(wd_api *A, bool kill, const char *hash, const unsigned char *bytes,
                           size_t len)
{
    unsigned char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return;
    memcpy(copy, bytes, len);
    pthread_mutex_lock(&A->bytes_mu);
    api_bytes *slot = &A->bytes[0];
    for (size_t i = 0; i < API_BYTES_CACHE; i++) {
        api_bytes *b = &A->bytes[i];
        if (b->used && b->kill == kill && strcmp(b->hash, hash) == 0) {
            slot = NULL; /* another request cached it meanwhile */
            break;
        }
        if (!b->used || b->tick < slot->tick || (slot->used && !b->used))
            slot = b;
    }
    if (slot != NULL) {
        free(slot->bytes);
        slot->used = true;
        slot->kill = kill;
        snprintf(slot->hash, sizeof slot->hash, "%s", hash);
        slot->bytes = copy;
        slot->len = len;
        slot->tick = ++A->bytes_tick;
        copy = NULL;
    }
    pthread_mutex_unlock(&A->bytes_mu);
    free(copy);
}

static void latest(wd_leader *L, const wd_http_req *req, wd_http_resp *rs, bool bundle)
{
    wd_api *A = L->api;
    const wd_spiffe_id *p = req->peer;
    int wait = 0;
    if (!wd_http_parse_prefer_wait(wd_http_header_get(req, "Prefer"), &wait))
        wait = 0;
    api_pick pk;
    pthread_rwlock_rdlock(&A->lock);
    wd_follower f;
    api_view_as_follower(A, p, &f);
    if (bundle)
        api_view_pick_bundle(A, &f, &pk);
    else
        api_view_pick_kill(A, &f, &pk);
    pthread_rwlock_unlock(&A->lock);

    const char *inm = wd_http_header_get(req, "If-None-Match");
    bool not_modified = pk.found && wd_http_etag_matches(inm, pk.hash);
    if (!pk.found || not_modified) {
        if (wait > 0 && req->wake != 2 && !L->draining) {
            wd_stream st;
            api_peer_stream(p, &st);
            rs->hold_s = wait;
            api_stream_key(&st, rs->hold_key, sizeof rs->hold_key);
            return;
        }
        rs->status = pk.found ? 304 : 204;
        if (pk.found)
            wd_http_resp_header(rs, "ETag", "\"%s\"", pk.hash);
        if (pk.rollback)
            wd_http_resp_header(rs, "Warden-Rollback-Authorization", "%s", pk.rb_id);
        if (wait > 0 && req->wake != 0)
            wd_http_resp_header(rs, "Preference-Applied", "wait=%d", wait);
        return;
    }
    /* 200: the bytes, exactly as published: from the cache, else from the store */
    if (bytes_cached(A, !bundle, pk.hash, rs))
        goto headers;
    unsigned char *bytes = NULL;
    size_t len = 0;
    bool found = false;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = bundle ? L->store->ops->get_bundle(L->store, A->org, pk.hash, NULL, &bytes,
                                                   &len, &found, &e)
                       : L->store->ops->get_kill(L->store, A->org, pk.hash, NULL, &bytes, &len,
                                                 &found, &e);
    if (c != WD_OK) {
        api_store_error(L, rs, bundle ? "get_bundle" : "get_kill", &e);
        return;
    }
    if (!found) {
        wd_err_set(&e, WD_E_IO, "%s %s is in the view but not in the store",
                   bundle ? "bundle" : "kill", pk.hash);
        api_store_error(L, rs, bundle ? "get_bundle" : "get_kill", &e);
        return;
    }
    wd_http_resp_body(rs, 200, bytes, len);
    bytes_remember(A, !bundle, pk.hash, bytes, len);
    free(bytes);
headers:
    wd_http_resp_header(rs, "ETag", "\"%s\"", pk.hash);
    if (pk.rollback)
        wd_http_resp_header(rs, "Warden-Rollback-Authorization", "%s", pk.rb_id);
    if (wait > 0 && req->wake != 0)
        wd_http_resp_header(rs, "Preference-Applied", "wait=%d", wait);
}

void api_h_policy_latest(wd_leader *L, const wd_http_req *req, const char *rest,
                         wd_http_resp *rs)
{
    (void)rest;
    latest(L, req, rs, true);
}

void api_h_kill_latest(wd_leader *L, const wd_http_req *req, const char *rest,
                       wd_http_resp *rs)
{
    (void)rest;
    latest(L, req, rs, false);
}

/* ---- shared body checks ---- */

/* Parse a JSON object body strictly against fields; schema_version must be 1. On failure rs
 * is a 400 with the rejection code and NULL is returned. */
static json_t *strict_body(const wd_http_req *req, size_t max, const char *what,
                           const wd_jfield *fields, size_t nfields, wd_http_resp *rs)
{
    json_t *v = NULL;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = wd_json_parse(req->body, req->body_len, max, &v, &e);
    if (c == WD_OK && json_is_object(v)) {
        json_t *sv = json_object_get(v, "schema_version");
        if (json_is_integer(sv) && json_integer_value(sv) != 1)
            c = wd_err_set(&e, WD_E_UNSUPPORTED_VERSION, "%s: schema_version %lld is not 1",
                           what, (long long)json_integer_value(sv));
    }
    if (c == WD_OK)
        c = wd_json_check(v, what, fields, nfields, &e);
    if (c != WD_OK) {
        json_decref(v);
        wd_http_resp_error(rs, req->body_len > max ? 413 : 400,
                           wd_code_is_rejection(c) ? wd_code_name(c) : "bad-request", "%s",
                           e.msg);
        return NULL;
    }
    return v;
}

/* A 400 with the rejection code c and the message msg. */
static void bad(wd_http_resp *rs, wd_code c, const char *msg)
{
    wd_http_resp_error(rs, 400, wd_code_name(c), "%s", msg);
}

/* ---- POST status ---- */

static const char *const policy_states[] = {"none", "enforcing", "stale", "deny-all", "killed"};

/* Check a status report's fields beyond their JSON types. 0, or -1 with rs a 400. */
static int check_status(const json_t *v, wd_http_resp *rs)
{
    wd_err e;
    wd_err_clear(&e);
    const json_t *labels = json_object_get(v, "labels");
    if (json_object_size(labels) > WD_MAX_LABELS) {
        wd_http_resp_error(rs, 400, "oversized", "status.labels: more than %d labels",
                           WD_MAX_LABELS);
        return -1;
    }
    const char *k;
    json_t *lv;
    json_object_foreach((json_t *)labels, k, lv) {
        if (!json_is_string(lv)) {
            wd_http_resp_error(rs, 400, "malformed", "status.labels.%s: expected a string", k);
            return -1;
        }
        wd_code c = wd_label_check(k, json_string_value(lv), "status.labels", &e);
        if (c != WD_OK) {
            bad(rs, c, e.msg);
            return -1;
        }
    }
    unsigned ver[3];
    if (!wd_semver_parse(wd_json_str(v, "warden_version"), ver)) {
        bad(rs, WD_E_MALFORMED, "status.warden_version: not MAJOR.MINOR.PATCH");
        return -1;
    }
    int64_t t;
    if (wd_time_parse(wd_json_str(v, "started_at"), &t, NULL) != WD_OK) {
        bad(rs, WD_E_MALFORMED, "status.started_at: not a time");
        return -1;
    }
    const char *ps = wd_json_str(v, "policy_state");
    bool known = false;
    for (size_t i = 0; i < sizeof policy_states / sizeof policy_states[0]; i++)
        known = known || strcmp(ps, policy_states[i]) == 0;
    if (!known) {
        bad(rs, WD_E_MALFORMED,
            "status.policy_state: not one of none, enforcing, stale, deny-all, killed");
        return -1;
    }
    static const wd_jfield ab_fields[] = {
        {"version", WD_JT_INT, true},
        {"hash", WD_JT_STRING, true},
    };
    const json_t *ab = json_object_get(v, "active_bundle");
    if (ab != NULL && !json_is_null(ab)) {
        wd_code c = wd_json_check(ab, "status.active_bundle", ab_fields, 2, &e);
        unsigned char raw[WD_SHA256_LEN];
        if (c == WD_OK && json_integer_value(json_object_get(ab, "version")) < 1)
            c = wd_err_set(&e, WD_E_MALFORMED, "status.active_bundle.version: below 1");
        if (c == WD_OK && wd_digest_parse(wd_json_str(ab, "hash"), raw, NULL) != WD_OK)
            c = wd_err_set(&e, WD_E_MALFORMED, "status.active_bundle.hash: not a digest");
        if (c != WD_OK) {
            bad(rs, c, e.msg);
            return -1;
        }
    }
    static const wd_jfield kill_fields[] = {
        {"counter", WD_JT_INT, true},
        {"state", WD_JT_STRING, true},
        {"honored", WD_JT_BOOL, true},
    };
    const json_t *kl = json_object_get(v, "kill");
    if (kl != NULL && !json_is_null(kl)) {
        wd_code c = wd_json_check(kl, "status.kill", kill_fields, 3, &e);
        const char *s = c == WD_OK ? wd_json_str(kl, "state") : NULL;
        if (c == WD_OK && json_integer_value(json_object_get(kl, "counter")) < 0)
            c = wd_err_set(&e, WD_E_MALFORMED, "status.kill.counter: below 0");
        if (c == WD_OK && strcmp(s, "active") != 0 && strcmp(s, "inactive") != 0)
            c = wd_err_set(&e, WD_E_MALFORMED, "status.kill.state: not active or inactive");
        if (c != WD_OK) {
            bad(rs, c, e.msg);
            return -1;
        }
    }
    static const wd_jfield err_fields[] = {
        {"code", WD_JT_STRING, true},
        {"message", WD_JT_STRING, true},
        {"at", WD_JT_STRING, true},
    };
    const json_t *le = json_object_get(v, "last_error");
    if (le != NULL && !json_is_null(le)) {
        wd_code c = wd_json_check(le, "status.last_error", err_fields, 3, &e);
        if (c == WD_OK && wd_time_parse(wd_json_str(le, "at"), &t, NULL) != WD_OK)
            c = wd_err_set(&e, WD_E_MALFORMED, "status.last_error.at: not a time");
        if (c == WD_OK && (strlen(wd_json_str(le, "message")) > WD_MAX_KILL_REASON ||
                           strlen(wd_json_str(le, "code")) > WD_MAX_ID_LEN))
            c = wd_err_set(&e, WD_E_OVERSIZED, "status.last_error: too long");
        if (c != WD_OK) {
            bad(rs, c, e.msg);
            return -1;
        }
    }
    const json_t *rk = json_object_get(v, "recorder_key");
    unsigned char raw[WD_SHA256_LEN];
    if (rk != NULL && !json_is_null(rk) &&
        wd_digest_parse(json_string_value(rk), raw, NULL) != WD_OK) {
        bad(rs, WD_E_MALFORMED, "status.recorder_key: not a keyid");
        return -1;
    }
    return 0;
}

void api_h_status(wd_leader *L, const wd_http_req *req, const char *rest, wd_http_resp *rs)
{
    (void)rest;
    wd_api *A = L->api;
    const wd_spiffe_id *p = req->peer;
    static const wd_jfield fields[] = {
        {"schema_version", WD_JT_INT, true},
        {"instance_id", WD_JT_STRING, true},
        {"labels", WD_JT_OBJECT, true},
        {"warden_version", WD_JT_STRING, true},
        {"started_at", WD_JT_STRING, true},
        {"policy_state", WD_JT_STRING, true},
        {"active_bundle", WD_JT_ANY, false},
        {"kill", WD_JT_ANY, false},
        {"last_error", WD_JT_ANY, false},
        {"recorder_key", WD_JT_STRING_OR_NULL, false},
    };
    json_t *v = strict_body(req, WD_HTTP_MAX_BODY_OTHER, "status", fields,
                            sizeof fields / sizeof fields[0], rs);
    if (v == NULL)
        return;
    const char *inst = wd_json_str(v, "instance_id");
    if (!wd_id_valid(inst)) {
        json_decref(v);
        bad(rs, WD_E_MALFORMED, "status.instance_id: not an id");
        return;
    }
    if (strcmp(inst, p->instance) != 0) {
        json_decref(v);
        wd_http_resp_error(rs, 403, "forbidden",
                           "status: instance_id is not the certificate's instance");
        return;
    }
    if (check_status(v, rs) != 0) {
        json_decref(v);
        return;
    }
    const json_t *labels = json_object_get(v, "labels");
    char *labels_json = wd_json_dump(labels, NULL);
    char *status_json = malloc(req->body_len + 1);
    if (labels_json == NULL || status_json == NULL) {
        free(labels_json);
        free(status_json);
        json_decref(v);
        api_internal(L, rs, "status", NULL);
        return;
    }
    memcpy(status_json, req->body, req->body_len);
    status_json[req->body_len] = '\0';
    wd_store_follower sf;
    memset(&sf, 0, sizeof sf);
    api_peer_stream(p, &sf.stream);
    snprintf(sf.instance, sizeof sf.instance, "%s", p->instance);
    sf.labels_json = labels_json;
    sf.status_json = status_json;
    sf.last_seen = api_now(A);
    wd_err e;
    wd_err_clear(&e);
    wd_code c = L->store->ops->put_status(L->store, &sf, &e);
    bool ok = true, changed = false;
    if (c == WD_OK) {
        pthread_rwlock_wrlock(&A->lock);
        ok = api_view_set_labels(A, &sf.stream, p->instance, labels, &changed);
        pthread_rwlock_unlock(&A->lock);
    }
    free(labels_json);
    free(status_json);
    json_decref(v);
    if (c != WD_OK) {
        api_store_error(L, rs, "put_status", &e);
        return;
    }
    if (!ok) {
        api_internal(L, rs, "status labels", NULL);
        return;
    }
    rs->status = 204;
    /* new labels may select another bundle or kill now: re-run the stream's held polls (not
     * on every report: that would re-run them all every status interval of every host) */
    char key[3 * (WD_MAX_ID_LEN + 1)];
    api_stream_key(&sf.stream, key, sizeof key);
    if (changed && L->wake != NULL)
        L->wake(L, key);
    /* the fleet page's event streams show the report */
    if (L->cfg.ui_listen != NULL && L->wake != NULL)
        L->wake(L, WD_UI_WAKE_KEY);
}

/* ---- POST audit/batches ---- */

/* The prev of a recorder's first line: 64 zeros (as a digest or bare). */
static bool is_genesis(const char *prev)
{
    static const char zeros[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    if (strncmp(prev, "sha256:", 7) == 0)
        prev += 7;
    return strcmp(prev, zeros) == 0;
}

/* Check the batch's fields. 0, or -1 with rs filled. */
static int check_batch(const json_t *v, const wd_spiffe_id *p, wd_http_resp *rs)
{
    const char *inst = wd_json_str(v, "instance_id");
    if (!wd_id_valid(inst)) {
        bad(rs, WD_E_MALFORMED, "batch.instance_id: not an id");
        return -1;
    }
    if (strcmp(inst, p->instance) != 0) {
        wd_http_resp_error(rs, 403, "forbidden",
                           "batch: instance_id is not the certificate's instance");
        return -1;
    }
    json_int_t first = wd_json_int(v, "first_seq"), last = wd_json_int(v, "last_seq");
    const json_t *records = json_object_get(v, "records");
    if (first < 1 || last < first || last > ((json_int_t)1 << 53) - 1) {
        bad(rs, WD_E_MALFORMED, "batch: first_seq and last_seq must satisfy 1 <= first_seq <= "
            "last_seq < 2^53");
        return -1;
    }
    if (last - first + 1 > WD_API_MAX_BATCH_RECORDS) {
        wd_http_resp_error(rs, 400, "oversized", "batch: %lld records, more than the limit of "
                           "%d", (long long)(last - first + 1), WD_API_MAX_BATCH_RECORDS);
        return -1;
    }
    if ((json_int_t)json_array_size(records) != last - first + 1) {
        wd_http_resp_error(rs, 400, "malformed",
                           "batch: %zu records, but first_seq..last_seq counts %lld",
                           json_array_size(records), (long long)(last - first + 1));
        return -1;
    }
    char want[WD_MAX_ID_LEN + 32];
    snprintf(want, sizeof want, "%s-%lld", inst, (long long)first);
    if (strcmp(wd_json_str(v, "batch_id"), want) != 0) {
        wd_http_resp_error(rs, 400, "malformed", "batch.batch_id: must be %s", want);
        return -1;
    }
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        if (!json_is_string(r) || json_string_length(r) == 0) {
            wd_http_resp_error(rs, 400, "malformed",
                               "batch.records[%zu]: expected a non-empty string", i);
            return -1;
        }
    }
    return 0;
}

void api_h_audit(wd_leader *L, const wd_http_req *req, const char *rest, wd_http_resp *rs)
{
    (void)rest;
    wd_api *A = L->api;
    const wd_spiffe_id *p = req->peer;
    static const wd_jfield fields[] = {
        {"schema_version", WD_JT_INT, true},
        {"batch_id", WD_JT_STRING, true},
        {"instance_id", WD_JT_STRING, true},
        {"first_seq", WD_JT_INT, true},
        {"last_seq", WD_JT_INT, true},
        {"records", WD_JT_ARRAY, true},
    };
    json_t *v = strict_body(req, WD_HTTP_MAX_BODY_BUNDLE, "batch", fields,
                            sizeof fields / sizeof fields[0], rs);
    if (v == NULL)
        return;
    if (check_batch(v, p, rs) != 0) {
        json_decref(v);
        return;
    }
    const json_t *records = json_object_get(v, "records");
    /* the first record's prev: the chain link to what the leader holds */
    const json_t *r0 = json_array_get(records, 0);
    json_t *rec = NULL;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = wd_json_parse((const unsigned char *)json_string_value(r0),
                              json_string_length(r0), WD_HTTP_MAX_BODY_BUNDLE, &rec, &e);
    const json_t *prev = json_is_object(rec) ? json_object_get(rec, "prev") : NULL;
    if (c != WD_OK || !json_is_string(prev)) {
        json_decref(rec);
        json_decref(v);
        wd_http_resp_error(rs, 400, "malformed",
                           "batch.records[0]: not a JSON object with a string \"prev\"");
        return;
    }
    const json_t *rl = json_array_get(records, json_array_size(records) - 1);
    char last_digest[WD_DIGEST_STRLEN + 1];
    c = wd_digest_of(json_string_value(rl), json_string_length(rl), last_digest, &e);
    wd_stream st;
    api_peer_stream(p, &st);
    wd_audit_head head;
    memset(&head, 0, sizeof head);
    if (c == WD_OK)
        c = L->store->ops->audit_head(L->store, A->org, p->instance, &head, &e);
    if (c != WD_OK) {
        json_decref(rec);
        json_decref(v);
        api_store_error(L, rs, "audit_head", &e);
        return;
    }
    int64_t first = wd_json_int(v, "first_seq"), last = wd_json_int(v, "last_seq");
    const char *pv = json_string_value(prev);
    bool gap;
    if (head.last_seq == 0)
        gap = !(first == 1 && is_genesis(pv));
    else
        gap = !(first == head.last_seq + 1 && strlen(pv) == strlen(head.last_digest) &&
                wd_ct_eq(pv, head.last_digest, strlen(pv)));
    char batch_id[WD_MAX_ID_LEN + 32];
    snprintf(batch_id, sizeof batch_id, "%s", wd_json_str(v, "batch_id"));
    json_decref(rec);
    json_decref(v);
    wd_put_result res = WD_PUT_CREATED;
    c = L->store->ops->put_audit_batch(L->store, &st, p->instance, batch_id, first, last,
                                       last_digest, gap, req->body, req->body_len, api_now(A),
                                       &res, &e);
    if (c != WD_OK) {
        api_store_error(L, rs, "put_audit_batch", &e);
        return;
    }
    if (res == WD_PUT_FORK) {
        wd_http_resp_error(rs, 409, "conflict",
                           "batch %s is already held with other bytes", batch_id);
        return;
    }
    if (res != WD_PUT_CREATED && res != WD_PUT_SAME) {
        wd_http_resp_error(rs, 409, "conflict", "batch %s was not stored", batch_id);
        return;
    }
    bool created = res == WD_PUT_CREATED;
    if (created && gap) {
        char f[24], l[24], h[24];
        snprintf(f, sizeof f, "%lld", (long long)first);
        snprintf(l, sizeof l, "%lld", (long long)last);
        snprintf(h, sizeof h, "%lld", (long long)head.last_seq);
        wd_log(L, WD_LOG_WARN, "audit", "outcome", "gap", "instance", p->instance, "first_seq",
               f, "last_seq", l, "held_last_seq", h, NULL);
    }
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:b}", "status", created ? "stored" : "unchanged",
                          "batch_id", batch_id, "first_seq", (json_int_t)first, "last_seq",
                          (json_int_t)last, "gap", created ? gap : 0);
    api_json(rs, created ? 202 : 200, o);
}
