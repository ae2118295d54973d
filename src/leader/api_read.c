/* api_read.c — the read routes any peer of the org (or an administrator) may call: rosters,
 * rollback authorizations and bundles by hash, the followers view and the capabilities. It
 * must never show a follower a bundle outside its stream and audience (it answers 404, as for
 * a bundle that does not exist), and never return anything of another org. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "base/base.h"
#include "codec/json.h"
#include "crypto/crypto.h"
#include "msg/bundle.h"
#include "msg/kill.h"
#include "msg/rollback.h"

/* Serve bytes with a quoted ETag. */
static void serve(wd_http_resp *rs, const unsigned char *bytes, size_t len, const char *etag)
{
    wd_http_resp_body(rs, 200, bytes, len);
    if (etag != NULL && etag[0] != '\0')
        wd_http_resp_header(rs, "ETag", "\"%s\"", etag);
}

/* ---- GET roster, GET roster/<version> ---- */

void api_h_roster_get(wd_leader *L, const wd_http_req *req, const char *rest,
                      wd_http_resp *rs)
{
    (void)rest;
    api_roster *R = api_roster_get(L->api);
    if (wd_http_etag_matches(wd_http_header_get(req, "If-None-Match"), R->r->hash)) {
        rs->status = 304;
        wd_http_resp_header(rs, "ETag", "\"%s\"", R->r->hash);
    } else {
        serve(rs, R->bytes, R->len, R->r->hash);
    }
    api_roster_put(R);
}

/* A version number as a path segment: 1 .. 2^53-1, decimal, no leading zero. */
static bool parse_version(const char *s, int64_t *out)
{
    if (s[0] < '1' || s[0] > '9' || strlen(s) > 16)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v > ((int64_t)1 << 53) - 1)
        return false;
    *out = v;
    return true;
}

void api_h_roster_version(wd_leader *L, const wd_http_req *req, const char *rest,
                          wd_http_resp *rs)
{
    (void)req;
    int64_t v = 0;
    if (!parse_version(rest, &v)) {
        wd_http_resp_error(rs, 400, "bad-request", "roster version must be a positive integer");
        return;
    }
    api_roster *R = api_roster_get(L->api);
    if (R->r->version == v) {
        serve(rs, R->bytes, R->len, R->r->hash);
        api_roster_put(R);
        return;
    }
    api_roster_put(R);
    unsigned char *bytes = NULL;
    size_t len = 0;
    bool found = false;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = L->store->ops->get_roster(L->store, v, &bytes, &len, &found, &e);
    if (c != WD_OK) {
        api_store_error(L, rs, "get_roster", &e);
        return;
    }
    if (!found) {
        wd_http_resp_error(rs, 404, "not-found", "no roster version %lld", (long long)v);
        return;
    }
    /* its ETag is its message hash: the digest of the payload inside the stored envelope */
    char hash[WD_DIGEST_STRLEN + 1] = "";
    wd_dsse env;
    if (wd_msg_decode_unverified(bytes, len, WD_MAX_ROSTER_ENVELOPE, WD_ROSTER_PAYLOAD_TYPE,
                                 &env, NULL) == WD_OK) {
        if (wd_digest_of(env.payload, env.payload_len, hash, NULL) != WD_OK)
            hash[0] = '\0';
        wd_dsse_free(&env);
    }
    serve(rs, bytes, len, hash);
    free(bytes);
}

/* ---- GET rollback-authorizations/<id> ---- */

void api_h_rollback_get(wd_leader *L, const wd_http_req *req, const char *rest,
                        wd_http_resp *rs)
{
    (void)req;
    if (!wd_id_valid(rest)) {
        wd_http_resp_error(rs, 400, "bad-request", "an authorization id is expected");
        return;
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    bool found = false;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = L->store->ops->get_rollback(L->store, L->api->org, rest, &bytes, &len, &found,
                                            &e);
    if (c != WD_OK) {
        api_store_error(L, rs, "get_rollback", &e);
        return;
    }
    if (!found) {
        wd_http_resp_error(rs, 404, "not-found", "no rollback authorization %s", rest);
        return;
    }
    serve(rs, bytes, len, NULL);
    free(bytes);
}

/* ---- GET policy-bundles/<hash> ---- */

void api_h_bundle_get(wd_leader *L, const wd_http_req *req, const char *rest,
                      wd_http_resp *rs)
{
    wd_api *A = L->api;
    const wd_spiffe_id *p = req->peer;
    unsigned char raw[WD_SHA256_LEN];
    if (wd_digest_parse(rest, raw, NULL) != WD_OK) {
        wd_http_resp_error(rs, 400, "bad-request", "a bundle hash (sha256:<hex>) is expected");
        return;
    }
    char hash[WD_DIGEST_STRLEN + 1];
    wd_digest_format(raw, hash);
    if (p->kind == WD_PEER_FOLLOWER) {
        /* only a bundle of its own stream whose audience includes it; anything else is
         * answered as if it did not exist */
        bool ok = false;
        pthread_rwlock_rdlock(&A->lock);
        wd_follower f;
        api_view_as_follower(A, p, &f);
        wd_stream st;
        api_peer_stream(p, &st);
        const api_stream *s = api_view_stream(A, &st);
        for (size_t i = 0; s != NULL && i < s->nbundles && !ok; i++)
            ok = strcmp(s->bundles[i].hash, hash) == 0 &&
                 wd_audience_match(&s->bundles[i].aud, &f, "bundle", NULL) == WD_OK;
        pthread_rwlock_unlock(&A->lock);
        if (!ok) {
            wd_http_resp_error(rs, 404, "not-found", "no bundle %s", hash);
            return;
        }
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    bool found = false;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = L->store->ops->get_bundle(L->store, A->org, hash, NULL, &bytes, &len, &found,
                                          &e);
    if (c != WD_OK) {
        api_store_error(L, rs, "get_bundle", &e);
        return;
    }
    if (!found) {
        wd_http_resp_error(rs, 404, "not-found", "no bundle %s", hash);
        return;
    }
    serve(rs, bytes, len, hash);
    free(bytes);
}

/* ---- GET followers ---- */

typedef struct frow {
    wd_stream st;
    char instance[WD_MAX_ID_LEN + 1];
    int64_t reported; /* active_bundle.version it reported, -1 when none */
    json_t *obj;
} frow;

typedef struct fwalk {
    wd_api *A;
    int64_t now;
    frow *rows;
    size_t n, cap;
    bool oom;
} fwalk;

/* status[key] copied, or null. */
static json_t *field_or_null(const json_t *status, const char *key)
{
    json_t *v = status != NULL ? json_object_get(status, key) : NULL;
    return v != NULL ? json_deep_copy(v) : json_null();
}

static bool collect(void *ctx, const wd_store_follower *f)
{
    fwalk *w = ctx;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        frow *r = realloc(w->rows, cap * sizeof *r);
        if (r == NULL) {
            w->oom = true;
            return false;
        }
        w->rows = r;
        w->cap = cap;
    }
    json_t *status = NULL, *labels = NULL;
    if (f->status_json != NULL)
        wd_json_parse((const unsigned char *)f->status_json, strlen(f->status_json),
                      WD_HTTP_MAX_BODY_OTHER, &status, NULL);
    if (f->labels_json != NULL)
        wd_json_parse((const unsigned char *)f->labels_json, strlen(f->labels_json),
                      WD_HTTP_MAX_BODY_OTHER, &labels, NULL);
    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object();
    }
    char seen[WD_TIME_STRLEN + 1];
    wd_time_format(f->last_seen, seen);
    bool silent = w->now - f->last_seen >
                  (int64_t)WD_LEADER_SILENT_AFTER * WD_LEADER_STATUS_INTERVAL_S;
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, "instance_id", json_string(f->instance)) != 0 ||
        json_object_set_new(o, "fleet_id", json_string(f->stream.fleet)) != 0 ||
        json_object_set_new(o, "environment", json_string(f->stream.env)) != 0) {
        json_decref(labels);
        json_decref(status);
        json_decref(o);
        w->oom = true;
        return false;
    }
    /* json_object_set_new consumes labels, also when it fails */
    bool ok = json_object_set_new(o, "labels", labels) == 0 &&
              json_object_set_new(o, "warden_version", field_or_null(status, "warden_version")) ==
                  0 &&
              json_object_set_new(o, "policy_state", field_or_null(status, "policy_state")) ==
                  0 &&
              json_object_set_new(o, "active_bundle", field_or_null(status, "active_bundle")) ==
                  0 &&
              json_object_set_new(o, "kill", field_or_null(status, "kill")) == 0 &&
              json_object_set_new(o, "last_error", field_or_null(status, "last_error")) == 0 &&
              json_object_set_new(o, "last_seen", json_string(seen)) == 0 &&
              json_object_set_new(o, "silent", json_boolean(silent)) == 0;
    int64_t reported = -1;
    json_t *ab = status != NULL ? json_object_get(status, "active_bundle") : NULL;
    if (json_is_object(ab) && json_is_integer(json_object_get(ab, "version")))
        reported = json_integer_value(json_object_get(ab, "version"));
    json_decref(status);
    if (!ok) {
        json_decref(o);
        w->oom = true;
        return false;
    }
    frow *r = &w->rows[w->n++];
    memset(r, 0, sizeof *r);
    r->st = f->stream;
    snprintf(r->instance, sizeof r->instance, "%s", f->instance);
    r->reported = reported;
    r->obj = o;
    return true;
}

void api_h_followers(wd_leader *L, const wd_http_req *req, const char *rest,
                     wd_http_resp *rs)
{
    (void)req;
    (void)rest;
    wd_api *A = L->api;
    fwalk w = {A, api_now(A), NULL, 0, 0, false};
    wd_err e;
    wd_err_clear(&e);
    wd_code c = L->store->ops->each_follower(L->store, A->org, collect, &w, &e);
    json_t *list = json_array(), *active = json_object(), *out = NULL;
    bool ok = c == WD_OK && !w.oom && list != NULL && active != NULL;
    if (ok) {
        pthread_rwlock_rdlock(&A->lock);
        for (size_t i = 0; i < w.n && ok; i++) {
            frow *r = &w.rows[i];
            wd_follower f;
            memset(&f, 0, sizeof f);
            f.org_id = r->st.org;
            f.fleet_id = r->st.fleet;
            f.environment = r->st.env;
            f.instance_id = r->instance;
            const api_follower *af = api_view_follower(A, &r->st, r->instance);
            if (af != NULL) {
                f.labels = af->labels;
                f.nlabels = af->nlabels;
            }
            api_pick pk;
            api_view_pick_bundle(A, &f, &pk);
            json_t *lag = pk.found && r->reported >= 0 ? json_integer(pk.seq - r->reported)
                                                       : json_null();
            char sid[1024];
            snprintf(sid, sizeof sid, "spiffe://%s/org/%s/fleet/%s/env/%s/instance/%s",
                     L->cfg.trust_domain ? L->cfg.trust_domain : "-", r->st.org, r->st.fleet,
                     r->st.env, r->instance);
            ok = json_object_set_new(r->obj, "lag", lag) == 0 &&
                 json_object_set_new(r->obj, "spiffe_id", json_string(sid)) == 0 &&
                 json_array_append(list, r->obj) == 0;
        }
        for (size_t i = 0; i < A->nstreams && ok; i++) {
            const api_stream *s = &A->streams[i];
            if (s->nbundles == 0 || strcmp(s->st.org, A->org) != 0)
                continue;
            char key[2 * (WD_MAX_ID_LEN + 1)];
            snprintf(key, sizeof key, "%s/%s", s->st.fleet, s->st.env);
            const api_msg *top = &s->bundles[s->nbundles - 1];
            const api_rollback *rb = &s->rb;
            if (rb->active && rb->current_version == top->seq &&
                strcmp(rb->current_hash, top->hash) == 0) /* rolled back: the target is served */
                ok = json_object_set_new(
                         active, key,
                         json_pack("{s:I,s:s,s:s}", "version", (json_int_t)rb->target_version,
                                   "hash", rb->target_hash, "rollback_authorization",
                                   rb->id)) == 0;
            else
                ok = json_object_set_new(active, key,
                                         json_pack("{s:I,s:s}", "version",
                                                   (json_int_t)top->seq, "hash",
                                                   top->hash)) == 0;
        }
        pthread_rwlock_unlock(&A->lock);
    }
    for (size_t i = 0; i < w.n; i++)
        json_decref(w.rows[i].obj);
    free(w.rows);
    if (c != WD_OK) {
        json_decref(list);
        json_decref(active);
        api_store_error(L, rs, "each_follower", &e);
        return;
    }
    if (ok) {
        out = json_object();
        if (out != NULL && (json_object_set(out, "followers", list) != 0 ||
                            json_object_set(out, "active", active) != 0)) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(list);
    json_decref(active);
    if (out == NULL) {
        api_internal(L, rs, "followers", NULL);
        return;
    }
    api_json(rs, 200, out);
}

/* ---- GET capabilities ---- */

void api_h_capabilities(wd_leader *L, const wd_http_req *req, const char *rest,
                        wd_http_resp *rs)
{
    (void)L;
    (void)req;
    (void)rest;
    json_t *o = json_pack("{s:s,s:[s,s,s,s],s:I,s:i}", "api", "v1", "payload_types",
                          WD_ROSTER_PAYLOAD_TYPE, WD_BUNDLE_PAYLOAD_TYPE, WD_KILL_PAYLOAD_TYPE,
                          WD_ROLLBACK_PAYLOAD_TYPE, "max_bundle_bytes",
                          (json_int_t)WD_HTTP_MAX_BODY_BUNDLE, "max_wait_s",
                          WD_LEADER_MAX_WAIT_S);
    api_json(rs, 200, o);
}
