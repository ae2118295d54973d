/* api_publish.c — the administrators' PUT routes: policy bundles, remote kills, rollback
 * authorizations and rosters. Each message is verified as a follower would verify it (roster,
 * purpose, threshold, org, validity, content) before the store sees it; then the store applies
 * the stream rule atomically and the in-memory view follows. It must never store a message that
 * does not verify, never change the view when the store did not change, and never hold the
 * view's lock while verifying or writing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "base/base.h"
#include "codec/json.h"
#include "metrics.h"
#include "msg/bundle.h"
#include "msg/kill.h"
#include "msg/rollback.h"

/* Log and count one publish outcome; detail (may be NULL) says why it was refused. */
static void published_why(wd_leader *L, const wd_spiffe_id *admin, const char *kind,
                          const char *outcome, const char *code, int64_t seq, const char *hash,
                          const char *detail)
{
    char v[24] = "";
    if (seq > 0)
        snprintf(v, sizeof v, "%lld", (long long)seq);
    wd_log(L, strcmp(outcome, "created") == 0 || strcmp(outcome, "same") == 0 ? WD_LOG_INFO
                                                                               : WD_LOG_WARN,
           "publish", "kind", kind, "outcome", outcome, "code", code, "seq", v, "hash",
           hash ? hash : "", "admin", admin->admin, "detail", detail ? detail : "", NULL);
    wd_metrics_publish(L->metrics, kind, outcome);
}

static void published(wd_leader *L, const wd_spiffe_id *admin, const char *kind,
                      const char *outcome, const char *code, int64_t seq, const char *hash)
{
    published_why(L, admin, kind, outcome, code, seq, hash, NULL);
}

/* Answer a verification failure: 409 for stale/fork, 422 for other rejections, 500 for
 * anything else. */
static void reject(wd_leader *L, wd_http_resp *rs, const wd_spiffe_id *admin, const char *kind,
                   wd_code c, const wd_err *e)
{
    if (!wd_code_is_rejection(c)) {
        published_why(L, admin, kind, "rejected", wd_code_name(c), 0, NULL, e->msg);
        api_internal(L, rs, kind, e);
        return;
    }
    const char *outcome = c == WD_E_STALE ? "stale" : c == WD_E_FORK ? "fork" : "rejected";
    int status = c == WD_E_STALE || c == WD_E_FORK ? 409 : 422;
    wd_http_resp_error(rs, status, wd_code_name(c), "%s", e->msg);
    published_why(L, admin, kind, outcome, wd_code_name(c), 0, NULL, e->msg);
}

/* 201/200 body: {"status","kind",<seq_key>:seq | "id":id,"hash"}. */
static void answer(wd_http_resp *rs, bool created, const char *kind, const char *seq_key,
                   int64_t seq, const char *id, const char *hash)
{
    json_t *o = json_object();
    bool ok = o != NULL &&
              json_object_set_new(o, "status", json_string(created ? "created" : "unchanged")) ==
                  0 &&
              json_object_set_new(o, "kind", json_string(kind)) == 0 &&
              (id != NULL ? json_object_set_new(o, "id", json_string(id))
                          : json_object_set_new(o, seq_key, json_integer(seq))) == 0 &&
              json_object_set_new(o, "hash", json_string(hash)) == 0;
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    api_json(rs, created ? 201 : 200, o);
}

static void wake(wd_leader *L, const wd_stream *st)
{
    char key[3 * (WD_MAX_ID_LEN + 1)];
    api_stream_key(st, key, sizeof key);
    if (L->wake != NULL)
        L->wake(L, key);
}

static void scope_stream(const wd_scope *sc, wd_stream *st)
{
    memset(st, 0, sizeof *st);
    snprintf(st->org, sizeof st->org, "%s", sc->org_id);
    snprintf(st->fleet, sizeof st->fleet, "%s", sc->fleet_id);
    snprintf(st->env, sizeof st->env, "%s", sc->environment);
}

/* The follower a publisher verifies as: the admin's org and the message's own fleet and
 * environment (the audience is not matched: WD_MSG_ANY_AUDIENCE). */
static void publisher(const wd_spiffe_id *admin, const wd_scope *sc, wd_follower *f)
{
    memset(f, 0, sizeof *f);
    f->org_id = admin->org;
    f->fleet_id = sc->fleet_id;
    f->environment = sc->environment;
    f->instance_id = "";
}

/* ---- PUT policy-bundles ---- */

void api_h_bundle_put(wd_leader *L, const wd_http_req *req, const char *rest,
                      wd_http_resp *rs)
{
    (void)rest;
    wd_api *A = L->api;
    const wd_spiffe_id *admin = req->peer;
    const char *kind = "bundle";
    wd_err e;
    wd_err_clear(&e);
    int64_t now = api_now(A);
    api_roster *R = api_roster_get(A);
    wd_dsse env;
    wd_bundle *b = NULL;
    wd_code c = wd_msg_open(req->body, req->body_len, WD_MAX_BUNDLE_ENVELOPE,
                            WD_BUNDLE_PAYLOAD_TYPE, R->r, WD_PURPOSE_BUNDLE_SIGNING, now, &env,
                            &e);
    if (c == WD_OK) {
        c = wd_bundle_parse(env.payload, env.payload_len, &b, &e);
        wd_dsse_free(&env);
    } else {
        wd_msg_prefix(c, &e, "bundle");
    }
    if (c == WD_OK) {
        wd_follower f;
        publisher(admin, &b->scope, &f);
        c = wd_bundle_check(b, R->r, &f, now, WD_MSG_ANY_AUDIENCE, &e);
    }
    api_roster_put(R);
    if (c != WD_OK) {
        wd_bundle_free(b);
        reject(L, rs, admin, kind, c, &e);
        return;
    }
    wd_store_msg m;
    memset(&m, 0, sizeof m);
    scope_stream(&b->scope, &m.stream);
    m.seq = b->version;
    snprintf(m.hash, sizeof m.hash, "%s", b->hash);
    json_t *aj = wd_audience_to_json(&b->audience);
    char *aud = aj != NULL ? wd_json_dump(aj, NULL) : NULL;
    json_decref(aj);
    if (aud == NULL) {
        wd_bundle_free(b);
        api_internal(L, rs, kind, NULL);
        return;
    }
    m.audience_json = aud;
    m.stored_at = now;
    wd_put_result res = WD_PUT_CREATED;
    char held[WD_DIGEST_STRLEN + 1] = "";
    bool view_ok = true, added = false;
    pthread_mutex_lock(&A->publish);
    c = L->store->ops->put_bundle(L->store, &m, req->body, req->body_len, &res, held, &e);
    if (c == WD_OK && (res == WD_PUT_CREATED || res == WD_PUT_SAME)) {
        pthread_rwlock_wrlock(&A->lock);
        view_ok = api_view_add_bundle(A, &m.stream, m.seq, m.hash, &b->audience, &added);
        if (res == WD_PUT_CREATED)
            api_view_set_rollback(A, &m.stream, NULL, NULL);
        pthread_rwlock_unlock(&A->lock);
    }
    pthread_mutex_unlock(&A->publish);
    free(aud);
    if (c != WD_OK) {
        published(L, admin, kind, "unavailable", wd_code_name(c), m.seq, m.hash);
        api_store_error(L, rs, "put_bundle", &e);
    } else if (!view_ok) {
        api_internal(L, rs, "bundle view", NULL);
    } else if (res == WD_PUT_CREATED || res == WD_PUT_SAME) {
        bool created = res == WD_PUT_CREATED;
        published(L, admin, kind, created ? "created" : "same", "ok", m.seq, m.hash);
        answer(rs, created, kind, "version", m.seq, NULL, m.hash);
        /* also when unchanged but new to the view: this leader's first attempt was stored,
         * its answer lost with the connection, and the store's announcement of it taken for
         * this leader's own */
        if (created || added)
            wake(L, &m.stream);
    } else if (res == WD_PUT_FORK) {
        wd_http_resp_error(rs, 409, "fork",
                           "bundle: version %lld of %s/%s is already held with hash %s; this "
                           "one has hash %s", (long long)m.seq, m.stream.fleet, m.stream.env,
                           held, m.hash);
        published(L, admin, kind, "fork", "fork", m.seq, m.hash);
    } else {
        wd_http_resp_error(rs, 409, "stale",
                           "bundle: version %lld of %s/%s is below the highest version held",
                           (long long)m.seq, m.stream.fleet, m.stream.env);
        published(L, admin, kind, "stale", "stale", m.seq, m.hash);
    }
    wd_bundle_free(b);
}

/* ---- PUT remote-kill ---- */

void api_h_kill_put(wd_leader *L, const wd_http_req *req, const char *rest, wd_http_resp *rs)
{
    (void)rest;
    wd_api *A = L->api;
    const wd_spiffe_id *admin = req->peer;
    const char *kind = "kill";
    wd_err e;
    wd_err_clear(&e);
    int64_t now = api_now(A);
    api_roster *R = api_roster_get(A);
    wd_dsse env;
    wd_kill *k = NULL;
    wd_code c = wd_msg_open(req->body, req->body_len, WD_MAX_KILL_ENVELOPE, WD_KILL_PAYLOAD_TYPE,
                            R->r, WD_PURPOSE_KILL_SIGNING, now, &env, &e);
    if (c == WD_OK) {
        c = wd_kill_parse(env.payload, env.payload_len, &k, &e);
        wd_dsse_free(&env);
    } else {
        wd_msg_prefix(c, &e, "kill");
    }
    if (c == WD_OK) {
        wd_follower f;
        publisher(admin, &k->scope, &f);
        c = wd_kill_check(k, R->r, &f, now, WD_MSG_ANY_AUDIENCE, &e);
    }
    api_roster_put(R);
    if (c != WD_OK) {
        wd_kill_free(k);
        reject(L, rs, admin, kind, c, &e);
        return;
    }
    wd_store_msg m;
    memset(&m, 0, sizeof m);
    scope_stream(&k->scope, &m.stream);
    m.seq = k->counter;
    snprintf(m.hash, sizeof m.hash, "%s", k->hash);
    json_t *aj = wd_audience_to_json(&k->audience);
    char *aud = aj != NULL ? wd_json_dump(aj, NULL) : NULL;
    json_decref(aj);
    if (aud == NULL) {
        wd_kill_free(k);
        api_internal(L, rs, kind, NULL);
        return;
    }
    m.audience_json = aud;
    m.stored_at = now;
    wd_put_result res = WD_PUT_CREATED;
    bool view_ok = true, added = false;
    pthread_mutex_lock(&A->publish);
    c = L->store->ops->put_kill(L->store, &m, req->body, req->body_len, &res, &e);
    if (c == WD_OK && (res == WD_PUT_CREATED || res == WD_PUT_SAME)) {
        pthread_rwlock_wrlock(&A->lock);
        view_ok = api_view_add_kill(A, &m.stream, m.seq, m.hash, &k->audience, &added);
        pthread_rwlock_unlock(&A->lock);
    }
    pthread_mutex_unlock(&A->publish);
    free(aud);
    if (c != WD_OK) {
        published(L, admin, kind, "unavailable", wd_code_name(c), m.seq, m.hash);
        api_store_error(L, rs, "put_kill", &e);
    } else if (!view_ok) {
        api_internal(L, rs, "kill view", NULL);
    } else if (res == WD_PUT_CREATED || res == WD_PUT_SAME) {
        bool created = res == WD_PUT_CREATED;
        published(L, admin, kind, created ? "created" : "same", "ok", m.seq, m.hash);
        answer(rs, created, kind, "counter", m.seq, NULL, m.hash);
        if (created || added) /* unchanged but new to the view: see api_h_bundle_put */
            wake(L, &m.stream);
    } else {
        const char *code = res == WD_PUT_FORK ? "fork" : "stale";
        wd_http_resp_error(rs, 409, code,
                           "kill: counter %lld of %s/%s is not above the highest counter held, "
                           "and its hash differs", (long long)m.seq, m.stream.fleet,
                           m.stream.env);
        published(L, admin, kind, code, code, m.seq, m.hash);
    }
    wd_kill_free(k);
}

/* ---- PUT rollback-authorizations ---- */

static bool same_hash(const char *a, const char *b)
{
    return strlen(a) == WD_DIGEST_STRLEN && strlen(b) == WD_DIGEST_STRLEN &&
           wd_ct_eq(a, b, WD_DIGEST_STRLEN);
}

/* Under the view's read lock: 0 when current is the stream's highest version and target a
 * bundle it holds; else fills rs (409) and returns -1 (stale) or -2 (no such target). */
static int rollback_fits(const wd_api *A, const wd_rollback *a, const wd_stream *st,
                         wd_http_resp *rs)
{
    const api_stream *s = api_view_stream(A, st);
    const api_msg *top = s != NULL && s->nbundles > 0 ? &s->bundles[s->nbundles - 1] : NULL;
    if (top == NULL || top->seq != a->current_version ||
        !same_hash(top->hash, a->current_bundle_hash)) {
        if (top == NULL)
            wd_http_resp_error(rs, 409, "stale",
                               "rollback: %s/%s has no bundle, so version %lld is not its "
                               "active bundle", st->fleet, st->env,
                               (long long)a->current_version);
        else
            wd_http_resp_error(rs, 409, "stale",
                               "rollback: current is version %lld (%s), but the active bundle "
                               "of %s/%s is version %lld (%s)", (long long)a->current_version,
                               a->current_bundle_hash, st->fleet, st->env,
                               (long long)top->seq, top->hash);
        return -1;
    }
    for (size_t i = 0; i < s->nbundles; i++)
        if (s->bundles[i].seq == a->target_version &&
            same_hash(s->bundles[i].hash, a->target_bundle_hash))
            return 0;
    wd_http_resp_error(rs, 409, "conflict",
                       "rollback: target version %lld (%s) is not a bundle this leader holds "
                       "for %s/%s; publish it first", (long long)a->target_version,
                       a->target_bundle_hash, st->fleet, st->env);
    return -2;
}

void api_h_rollback_put(wd_leader *L, const wd_http_req *req, const char *rest,
                        wd_http_resp *rs)
{
    (void)rest;
    wd_api *A = L->api;
    const wd_spiffe_id *admin = req->peer;
    const char *kind = "rollback";
    wd_err e;
    wd_err_clear(&e);
    int64_t now = api_now(A);
    api_roster *R = api_roster_get(A);
    wd_dsse env;
    wd_rollback *a = NULL;
    wd_code c = wd_msg_open(req->body, req->body_len, WD_MAX_ROLLBACK_ENVELOPE,
                            WD_ROLLBACK_PAYLOAD_TYPE, R->r, WD_PURPOSE_BUNDLE_ROLLBACK, now,
                            &env, &e);
    if (c == WD_OK) {
        c = wd_rollback_parse(env.payload, env.payload_len, &a, &e);
        wd_dsse_free(&env);
    } else {
        wd_msg_prefix(c, &e, "rollback");
    }
    /* wd_rollback_check without its audience match: a publisher is in no audience */
    if (c == WD_OK) {
        wd_follower f;
        publisher(admin, &a->scope, &f);
        c = wd_scope_match(&a->scope, R->r, &f, "rollback", &e);
    }
    if (c == WD_OK)
        c = wd_rollback_check_content(a, &e);
    if (c == WD_OK)
        c = wd_window_at(a->created_at, a->expires_at, now, "rollback", &e);
    api_roster_put(R);
    if (c != WD_OK) {
        wd_rollback_free(a);
        reject(L, rs, admin, kind, c, &e);
        return;
    }
    wd_store_rollback sr;
    memset(&sr, 0, sizeof sr);
    snprintf(sr.id, sizeof sr.id, "%s", a->authorization_id);
    scope_stream(&a->scope, &sr.stream);
    snprintf(sr.current_hash, sizeof sr.current_hash, "%s", a->current_bundle_hash);
    snprintf(sr.target_hash, sizeof sr.target_hash, "%s", a->target_bundle_hash);
    sr.current_version = a->current_version;
    sr.target_version = a->target_version;
    sr.stored_at = now;
    json_t *aj = wd_audience_to_json(&a->audience);
    char *aud = aj != NULL ? wd_json_dump(aj, NULL) : NULL;
    json_decref(aj);
    if (aud == NULL) {
        wd_rollback_free(a);
        api_internal(L, rs, kind, NULL);
        return;
    }
    sr.audience_json = aud;
    wd_put_result res = WD_PUT_CREATED;
    bool view_ok = true;
    pthread_mutex_lock(&A->publish);
    pthread_rwlock_rdlock(&A->lock);
    int fits = rollback_fits(A, a, &sr.stream, rs);
    pthread_rwlock_unlock(&A->lock);
    if (fits == 0) {
        c = L->store->ops->put_rollback(L->store, &sr, req->body, req->body_len, &res, &e);
        if (c == WD_OK && res == WD_PUT_CREATED) {
            api_rollback rb;
            memset(&rb, 0, sizeof rb);
            snprintf(rb.id, sizeof rb.id, "%s", sr.id);
            snprintf(rb.current_hash, sizeof rb.current_hash, "%s", sr.current_hash);
            snprintf(rb.target_hash, sizeof rb.target_hash, "%s", sr.target_hash);
            rb.current_version = sr.current_version;
            rb.target_version = sr.target_version;
            pthread_rwlock_wrlock(&A->lock);
            view_ok = api_view_set_rollback(A, &sr.stream, &rb, &a->audience);
            pthread_rwlock_unlock(&A->lock);
        }
    }
    pthread_mutex_unlock(&A->publish);
    free(aud);
    if (fits != 0) {
        published(L, admin, kind, fits == -1 ? "stale" : "rejected",
                  fits == -1 ? "stale" : "conflict", a->current_version, a->hash);
    } else if (c != WD_OK) {
        published(L, admin, kind, "unavailable", wd_code_name(c), 0, a->hash);
        api_store_error(L, rs, "put_rollback", &e);
    } else if (!view_ok) {
        api_internal(L, rs, "rollback view", NULL);
    } else if (res == WD_PUT_CREATED || res == WD_PUT_SAME) {
        bool created = res == WD_PUT_CREATED;
        published(L, admin, kind, created ? "created" : "same", "ok", a->target_version,
                  a->hash);
        answer(rs, created, kind, NULL, 0, sr.id, a->hash);
        if (created)
            wake(L, &sr.stream);
    } else {
        wd_http_resp_error(rs, 409, "conflict",
                           "rollback: authorization %s is already held with other bytes", sr.id);
        published(L, admin, kind, "fork", "conflict", 0, a->hash);
    }
    wd_rollback_free(a);
}

/* ---- PUT roster ---- */

void api_h_roster_put(wd_leader *L, const wd_http_req *req, const char *rest,
                      wd_http_resp *rs)
{
    (void)rest;
    wd_api *A = L->api;
    const wd_spiffe_id *admin = req->peer;
    const char *kind = "roster";
    wd_err e;
    wd_err_clear(&e);
    int64_t now = api_now(A);
    pthread_mutex_lock(&A->publish); /* rotation is from the current roster: one at a time */
    api_roster *R = api_roster_get(A);
    wd_roster *next = NULL;
    wd_code c = wd_roster_verify(req->body, req->body_len, L->cfg.pin, R->r, now, &next, &e);
    if (c != WD_OK) {
        api_roster_put(R);
        pthread_mutex_unlock(&A->publish);
        reject(L, rs, admin, kind, c, &e);
        return;
    }
    int64_t version = next->version;
    char hash[WD_DIGEST_STRLEN + 1];
    snprintf(hash, sizeof hash, "%s", next->hash);
    if (version == R->r->version) { /* the current roster again */
        wd_roster_free(next);
        api_roster_put(R);
        pthread_mutex_unlock(&A->publish);
        published(L, admin, kind, "same", "ok", version, hash);
        answer(rs, false, kind, "version", version, NULL, hash);
        return;
    }
    api_roster_put(R);
    wd_put_result res = WD_PUT_CREATED;
    c = L->store->ops->put_roster(L->store, version, hash, req->body, req->body_len, &res, &e);
    api_roster *N = NULL;
    unsigned char *copy = NULL;
    if (c == WD_OK && (res == WD_PUT_CREATED || res == WD_PUT_SAME)) {
        copy = malloc(req->body_len + 1);
        N = copy != NULL ? calloc(1, sizeof *N) : NULL;
        if (N != NULL) {
            memcpy(copy, req->body, req->body_len);
            copy[req->body_len] = '\0';
            N->r = next;
            N->bytes = copy;
            N->len = req->body_len;
            N->refs = 1;
            next = NULL;
            pthread_rwlock_wrlock(&A->lock);
            api_roster *old = A->roster;
            A->roster = N;
            pthread_rwlock_unlock(&A->lock);
            api_roster_put(old);
        } else {
            free(copy);
        }
    }
    pthread_mutex_unlock(&A->publish);
    wd_roster_free(next);
    if (c != WD_OK) {
        published(L, admin, kind, "unavailable", wd_code_name(c), version, hash);
        api_store_error(L, rs, "put_roster", &e);
    } else if (res == WD_PUT_CREATED || res == WD_PUT_SAME) {
        if (N == NULL) {
            api_internal(L, rs, "roster", NULL);
            return;
        }
        bool created = res == WD_PUT_CREATED;
        published(L, admin, kind, created ? "created" : "same", "ok", version, hash);
        answer(rs, created, kind, "version", version, NULL, hash);
    } else {
        wd_http_resp_error(rs, 409, "stale",
                           "roster: version %lld does not follow the newest roster the store "
                           "holds", (long long)version);
        published(L, admin, kind, "stale", "stale", version, hash);
    }
}
