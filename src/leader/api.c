/* api.c — the conductor API's entry points: loading the roster (the pinned file, then newer
 * rosters the store holds, by rotation), building the in-memory view from the store, routing a
 * request to its handler after checking who the peer is, and the helpers the handlers share.
 * It must never answer a peer of another org, never let a follower reach an administrator's
 * route (or the reverse), and never block on the network. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "base/base.h"
#include "codec/json.h"
#include "metrics.h"

/* ---- helpers ---- */

int64_t api_now(const wd_api *A)
{
    return A->clock != NULL ? A->clock(A->clock_ctx) : wd_now();
}

api_roster *api_roster_get(wd_api *A)
{
    pthread_rwlock_rdlock(&A->lock);
    api_roster *R = A->roster;
    __atomic_add_fetch(&R->refs, 1, __ATOMIC_ACQ_REL);
    pthread_rwlock_unlock(&A->lock);
    return R;
}

void api_roster_put(api_roster *R)
{
    if (R == NULL || __atomic_sub_fetch(&R->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    wd_roster_free(R->r);
    free(R->bytes);
    free(R);
}

void api_stream_key(const wd_stream *st, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%s/%s", st->org, st->fleet, st->env);
}

void api_peer_stream(const wd_spiffe_id *p, wd_stream *st)
{
    memset(st, 0, sizeof *st);
    snprintf(st->org, sizeof st->org, "%s", p->org);
    snprintf(st->fleet, sizeof st->fleet, "%s", p->fleet);
    snprintf(st->env, sizeof st->env, "%s", p->env);
}

void api_json(wd_http_resp *rs, int status, json_t *o)
{
    size_t n = 0;
    char *text = o != NULL ? wd_json_dump(o, &n) : NULL;
    json_decref(o);
    if (text == NULL) {
        wd_http_resp_error(rs, 500, "internal", "out of memory");
        return;
    }
    wd_http_resp_body(rs, status, text, n);
    free(text);
}

void api_store_error(wd_leader *L, wd_http_resp *rs, const char *op, const wd_err *e)
{
    wd_log(L, WD_LOG_ERROR, "store", "op", op, "code", wd_code_name(e->code), "error", e->msg,
           NULL);
    wd_metrics_error(L->metrics, "operational");
    wd_http_resp_error(rs, 503, "unavailable", "the store cannot be used now: %s",
                       wd_code_name(e->code));
}

void api_internal(wd_leader *L, wd_http_resp *rs, const char *what, const wd_err *e)
{
    wd_log(L, WD_LOG_ERROR, "internal", "what", what, "error", e ? e->msg : "out of memory",
           NULL);
    wd_metrics_error(L->metrics, "internal");
    wd_http_resp_error(rs, 500, "internal", "internal error: %s", what);
}

/* ---- init ---- */

static api_roster *roster_new(wd_roster *r, unsigned char *bytes, size_t len)
{
    api_roster *R = calloc(1, sizeof *R);
    if (R == NULL)
        return NULL;
    R->r = r;
    R->bytes = bytes;
    R->len = len;
    R->refs = 1;
    return R;
}

/* The file's roster from the pin, then each newer one the store holds by rotation; the newest
 * reached must not be expired (links before it may be, as in TUF). */
static wd_code load_roster(wd_leader *L, wd_api *A, api_roster **out, wd_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    int64_t now = api_now(A);
    wd_code c = wd_read_file(L->cfg.roster_path, WD_MAX_ROSTER_ENVELOPE, &buf, &len, e);
    if (c != WD_OK)
        return wd_msg_prefix(c, e, "roster %s", L->cfg.roster_path);
    /* an expired file is a starting point only: the store may hold its successors */
    wd_roster *r = NULL;
    c = wd_roster_verify_ex(buf, len, L->cfg.pin, NULL, now, WD_ROSTER_KEEP_EXPIRED, &r, e);
    if (c != WD_OK) {
        free(buf);
        return wd_msg_prefix(c, e, "roster %s", L->cfg.roster_path);
    }
    api_roster *R = roster_new(r, buf, len);
    if (R == NULL) {
        wd_roster_free(r);
        free(buf);
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    }
    wd_store *s = L->store;
    bool advanced = false;
    for (;;) {
        unsigned char *nb = NULL;
        size_t nl = 0;
        bool found = false;
        c = s->ops->get_roster(s, R->r->version + 1, &nb, &nl, &found, e);
        if (c != WD_OK) {
            api_roster_put(R);
            return wd_msg_prefix(c, e, "store: roster");
        }
        if (!found)
            break;
        wd_roster *next = NULL;
        wd_err sub;
        wd_err_clear(&sub);
        c = wd_roster_verify_ex(nb, nl, L->cfg.pin, R->r, now, WD_ROSTER_KEEP_EXPIRED, &next,
                                &sub);
        if (c != WD_OK) {
            char v[24];
            snprintf(v, sizeof v, "%lld", (long long)R->r->version + 1);
            wd_log(L, WD_LOG_WARN, "roster", "outcome", "not-continued", "version", v, "code",
                   wd_code_name(c), "error", sub.msg, NULL);
            free(nb);
            break;
        }
        api_roster *N = roster_new(next, nb, nl);
        if (N == NULL) {
            wd_roster_free(next);
            free(nb);
            api_roster_put(R);
            return wd_err_set(e, WD_E_NOMEM, "out of memory");
        }
        api_roster_put(R);
        R = N;
        advanced = true;
    }
    if (now >= R->r->expires_at) {
        char t[WD_TIME_STRLEN + 1];
        wd_time_format(R->r->expires_at, t);
        c = wd_err_set(e, WD_E_EXPIRED, "roster version %lld (the newest this leader reaches) "
                       "expired at %s", (long long)R->r->version, t);
        api_roster_put(R);
        return c;
    }
    if (!advanced) {
        /* Keep the store's chain complete: the file's roster becomes its link, unless the
         * store holds another chain, which is logged and left alone. */
        wd_put_result res;
        c = s->ops->put_roster(s, R->r->version, R->r->hash, R->bytes, R->len, &res, e);
        if (c != WD_OK) {
            api_roster_put(R);
            return wd_msg_prefix(c, e, "store: roster");
        }
        if (res == WD_PUT_STALE || res == WD_PUT_FORK) {
            char v[24];
            snprintf(v, sizeof v, "%lld", (long long)R->r->version);
            wd_log(L, WD_LOG_WARN, "roster", "outcome", "store-differs", "version", v,
                   "detail", "the store holds rosters that do not continue the file's; "
                   "serving the file's roster", NULL);
        }
    }
    *out = R;
    return WD_OK;
}

typedef struct load_ctx {
    wd_leader *L;
    wd_api *A;
    bool oom;
} load_ctx;

/* Decode a stored audience; false (logged) when it does not decode. */
static bool decode_audience(load_ctx *x, const char *what, const char *json, wd_audience *a)
{
    json_t *v = NULL;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = wd_json_parse((const unsigned char *)json, strlen(json), WD_MAX_BUNDLE_ENVELOPE,
                              &v, &e);
    if (c == WD_OK)
        c = wd_audience_decode(v, what, a, &e);
    json_decref(v);
    if (c != WD_OK)
        wd_log(x->L, WD_LOG_WARN, "store", "what", what, "outcome", "skipped", "error", e.msg,
               NULL);
    return c == WD_OK;
}

bool api_decode_audience(wd_leader *L, const char *what, const char *json, wd_audience *a)
{
    load_ctx x = {L, NULL, false};
    return decode_audience(&x, what, json, a);
}

static bool load_bundle(void *ctx, const wd_store_msg *m)
{
    load_ctx *x = ctx;
    wd_audience a;
    if (strcmp(m->stream.org, x->A->org) != 0 ||
        !decode_audience(x, "stored bundle", m->audience_json, &a))
        return true;
    if (!api_view_add_bundle(x->A, &m->stream, m->seq, m->hash, &a, NULL)) {
        wd_audience_free(&a);
        x->oom = true;
        return false;
    }
    return true;
}

static bool load_kill(void *ctx, const wd_store_msg *m)
{
    load_ctx *x = ctx;
    wd_audience a;
    if (strcmp(m->stream.org, x->A->org) != 0 ||
        !decode_audience(x, "stored kill", m->audience_json, &a))
        return true;
    if (!api_view_add_kill(x->A, &m->stream, m->seq, m->hash, &a, NULL)) {
        wd_audience_free(&a);
        x->oom = true;
        return false;
    }
    return true;
}

static bool load_rollback(void *ctx, const wd_store_rollback *r)
{
    load_ctx *x = ctx;
    wd_audience a;
    if (strcmp(r->stream.org, x->A->org) != 0 ||
        !decode_audience(x, "stored rollback", r->audience_json, &a))
        return true;
    api_rollback rb;
    memset(&rb, 0, sizeof rb);
    snprintf(rb.id, sizeof rb.id, "%s", r->id);
    snprintf(rb.current_hash, sizeof rb.current_hash, "%s", r->current_hash);
    snprintf(rb.target_hash, sizeof rb.target_hash, "%s", r->target_hash);
    rb.current_version = r->current_version;
    rb.target_version = r->target_version;
    if (!api_view_set_rollback(x->A, &r->stream, &rb, &a)) {
        wd_audience_free(&a);
        x->oom = true;
        return false;
    }
    return true;
}

static bool load_follower(void *ctx, const wd_store_follower *f)
{
    load_ctx *x = ctx;
    json_t *v = NULL;
    if (wd_json_parse((const unsigned char *)f->labels_json, strlen(f->labels_json),
                      WD_HTTP_MAX_BODY_OTHER, &v, NULL) != WD_OK ||
        !json_is_object(v)) {
        json_decref(v);
        wd_log(x->L, WD_LOG_WARN, "store", "what", "follower labels", "instance", f->instance,
               "outcome", "skipped", NULL);
        return true;
    }
    bool ok = api_view_set_labels(x->A, &f->stream, f->instance, v, NULL);
    json_decref(v);
    if (!ok)
        x->oom = true;
    return ok;
}

wd_code api_load_view(wd_leader *L, wd_api *A, wd_err *e)
{
    load_ctx x = {L, A, false};
    wd_store *s = L->store;
    wd_code c = s->ops->each_bundle(s, load_bundle, &x, e);
    if (c == WD_OK && !x.oom)
        c = s->ops->each_kill(s, load_kill, &x, e);
    if (c == WD_OK && !x.oom)
        c = s->ops->each_active_rollback(s, load_rollback, &x, e);
    if (c == WD_OK && !x.oom)
        c = s->ops->each_follower(s, A->org, load_follower, &x, e);
    if (c == WD_OK && x.oom)
        c = wd_err_set(e, WD_E_NOMEM, "out of memory");
    return c != WD_OK ? wd_msg_prefix(c, e, "store") : WD_OK;
}

static void api_free(wd_api *A)
{
    if (A == NULL)
        return;
    api_view_free(A);
    api_roster_put(A->roster);
    for (size_t i = 0; i < API_BYTES_CACHE; i++)
        free(A->bytes[i].bytes);
    pthread_mutex_destroy(&A->bytes_mu);
    pthread_rwlock_destroy(&A->lock);
    pthread_mutex_destroy(&A->publish);
    free(A);
}

wd_code wd_api_init_clock(wd_leader *L, int64_t (*clock)(void *ctx), void *ctx, wd_err *e)
{
    if (L->store == NULL || L->cfg.roster_path == NULL || L->cfg.pin == NULL)
        return wd_err_set(e, WD_E_USAGE, "leader: a store, a roster and a pin are needed");
    if (L->api != NULL)
        return wd_err_set(e, WD_E_USAGE, "leader: the API is already loaded");
    wd_api *A = calloc(1, sizeof *A);
    if (A == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    if (pthread_rwlock_init(&A->lock, NULL) != 0) {
        free(A);
        return wd_err_set(e, WD_E_INTERNAL, "leader: cannot create a lock");
    }
    if (pthread_mutex_init(&A->publish, NULL) != 0) {
        pthread_rwlock_destroy(&A->lock);
        free(A);
        return wd_err_set(e, WD_E_INTERNAL, "leader: cannot create a lock");
    }
    if (pthread_mutex_init(&A->bytes_mu, NULL) != 0) {
        pthread_mutex_destroy(&A->publish);
        pthread_rwlock_destroy(&A->lock);
        free(A);
        return wd_err_set(e, WD_E_INTERNAL, "leader: cannot create a lock");
    }
    A->clock = clock;
    A->clock_ctx = ctx;
    wd_code c = load_roster(L, A, &A->roster, e);
    if (c == WD_OK) {
        snprintf(A->org, sizeof A->org, "%s", A->roster->r->org_id);
        c = api_load_view(L, A, e);
    }
    if (c != WD_OK) {
        api_free(A);
        return c;
    }
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)A->roster->r->version);
    wd_log(L, WD_LOG_INFO, "roster", "outcome", "loaded", "org", A->org, "version", v, "hash",
           A->roster->r->hash, NULL);
    L->api = A;
    return WD_OK;
}

wd_code wd_api_init(wd_leader *L, wd_err *e)
{
    return wd_api_init_clock(L, NULL, NULL, e);
}

void wd_api_fini(wd_leader *L)
{
    if (L == NULL)
        return;
    api_free(L->api);
    L->api = NULL;
}

bool wd_api_ready(const wd_leader *L)
{
    return L != NULL && L->api != NULL && L->api->roster != NULL;
}

/* ---- routing ---- */

typedef enum who { WHO_ANY, WHO_FOLLOWER, WHO_ADMIN } who;

typedef struct route {
    const char *path;   /* under the prefix; ending in '/' takes one parameter segment */
    const char *method;
    who who;
    api_handler *fn;
    const char *label;
    size_t cap;         /* body cap */
    const char *kind;   /* publish kind for the metrics, or NULL */
} route;

static const route routes[] = {
    {"policy/latest", "GET", WHO_FOLLOWER, api_h_policy_latest, "policy/latest", 0, NULL},
    {"remote-kill/latest", "GET", WHO_FOLLOWER, api_h_kill_latest, "remote-kill/latest", 0,
     NULL},
    {"roster", "GET", WHO_ANY, api_h_roster_get, "roster", 0, NULL},
    {"roster", "PUT", WHO_ADMIN, api_h_roster_put, "roster", WD_HTTP_MAX_BODY_ROSTER, "roster"},
    {"roster/", "GET", WHO_ANY, api_h_roster_version, "roster/version", 0, NULL},
    {"rollback-authorizations/", "GET", WHO_ANY, api_h_rollback_get,
     "rollback-authorizations/id", 0, NULL},
    {"rollback-authorizations", "PUT", WHO_ADMIN, api_h_rollback_put,
     "rollback-authorizations", WD_HTTP_MAX_BODY_OTHER, "rollback"},
    /* followers are let in here; the handler checks the bundle's stream and audience */
    {"policy-bundles/", "GET", WHO_ANY, api_h_bundle_get, "policy-bundles/hash", 0, NULL},
    {"policy-bundles", "PUT", WHO_ADMIN, api_h_bundle_put, "policy-bundles",
     WD_HTTP_MAX_BODY_BUNDLE, "bundle"},
    {"remote-kill", "PUT", WHO_ADMIN, api_h_kill_put, "remote-kill", WD_HTTP_MAX_BODY_OTHER,
     "kill"},
    {"audit/batches", "POST", WHO_FOLLOWER, api_h_audit, "audit/batches",
     WD_HTTP_MAX_BODY_BUNDLE, NULL},
    {"status", "POST", WHO_FOLLOWER, api_h_status, "status", WD_HTTP_MAX_BODY_OTHER, NULL},
    {"followers", "GET", WHO_ADMIN, api_h_followers, "followers", 0, NULL},
    {"capabilities", "GET", WHO_ANY, api_h_capabilities, "capabilities", 0, NULL},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* Does path (under the prefix, n bytes) name r's path? *param gets the parameter. */
static bool path_matches(const route *r, const char *path, size_t n, const char **param,
                         size_t *plen)
{
    size_t rl = strlen(r->path);
    if (r->path[rl - 1] != '/') {
        *param = "";
        *plen = 0;
        return n == rl && memcmp(path, r->path, rl) == 0;
    }
    if (n <= rl || memcmp(path, r->path, rl) != 0)
        return false;
    *param = path + rl;
    *plen = n - rl;
    return memchr(*param, '/', *plen) == NULL;
}

/* The route for (method, path); *known says whether the path names any route (for 405). */
static const route *find_route(const char *method, const char *path, size_t n, bool *known,
                               const char **param, size_t *plen)
{
    *known = false;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!path_matches(&routes[i], path, n, param, plen))
            continue;
        *known = true;
        if (strcmp(routes[i].method, method) == 0)
            return &routes[i];
    }
    return NULL;
}

/* The path part of a request target under the prefix, or NULL. */
static const char *under_prefix(const char *target, size_t *n)
{
    size_t pl = strlen(WD_API_PREFIX);
    if (target == NULL || strncmp(target, WD_API_PREFIX, pl) != 0)
        return NULL;
    const char *p = target + pl;
    const char *q = strchr(p, '?');
    *n = q != NULL ? (size_t)(q - p) : strlen(p);
    return p;
}

size_t wd_api_body_cap(const char *method, const char *target)
{
    size_t n = 0;
    const char *p = under_prefix(target, &n);
    if (p == NULL || method == NULL)
        return 0;
    bool known;
    const char *param;
    size_t plen;
    const route *r = find_route(method, p, n, &known, &param, &plen);
    if (r != NULL)
        return r->cap;
    /* an unknown route is answered 404/405 without its body: the smallest cap */
    return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0 ? WD_HTTP_MAX_BODY_OTHER
                                                                     : 0;
}

static void allow_header(wd_http_resp *rs, const char *path, size_t n)
{
    char allow[64] = "";
    for (size_t i = 0; i < NROUTES; i++) {
        const char *param;
        size_t plen;
        if (path_matches(&routes[i], path, n, &param, &plen) &&
            strlen(allow) + strlen(routes[i].method) + 3 < sizeof allow) {
            if (allow[0] != '\0')
                strcat(allow, ", ");
            strcat(allow, routes[i].method);
        }
    }
    wd_http_resp_header(rs, "Allow", "%s", allow);
}

void wd_api_handle(wd_leader *L, const wd_http_req *req, wd_http_resp *rs)
{
    size_t n = 0;
    const char *path = under_prefix(req->path != NULL ? req->path : req->target, &n);
    if (path == NULL) {
        rs->route = "unknown";
        wd_http_resp_error(rs, 404, "not-found", "no such route");
        return;
    }
    bool known;
    const char *param;
    size_t plen;
    /* HEAD is GET without the body (RFC 9110 §9.3.2): the server sends only the head */
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    const route *r = find_route(method, path, n, &known, &param, &plen);
    if (r == NULL) {
        rs->route = "unknown";
        if (known) {
            allow_header(rs, path, n);
            wd_http_resp_error(rs, 405, "bad-request", "method %s is not allowed here",
                               req->method);
        } else {
            wd_http_resp_error(rs, 404, "not-found", "no such route");
        }
        return;
    }
    rs->route = r->label;
    wd_api *A = L->api;
    if (A == NULL) {
        wd_http_resp_error(rs, 503, "unavailable", "the leader is not ready");
        return;
    }
    const wd_spiffe_id *p = req->peer;
    if (p == NULL) {
        wd_http_resp_error(rs, 401, "unauthenticated", "a client certificate is required");
        return;
    }
    if (strcmp(p->org, A->org) != 0) {
        wd_http_resp_error(rs, 403, "forbidden", "this leader serves another org");
        return;
    }
    if (r->who == WHO_FOLLOWER && p->kind != WD_PEER_FOLLOWER) {
        wd_http_resp_error(rs, 403, "forbidden", "only a follower may call %s %s", r->method,
                           r->label);
        return;
    }
    if (r->who == WHO_ADMIN && p->kind != WD_PEER_ADMIN) {
        wd_http_resp_error(rs, 403, "forbidden", "only an administrator may call %s %s",
                           r->method, r->label);
        return;
    }
    if (p->kind != WD_PEER_FOLLOWER && p->kind != WD_PEER_ADMIN) {
        wd_http_resp_error(rs, 403, "forbidden", "unknown peer kind");
        return;
    }
    if (r->cap > 0 && req->body_len > r->cap) {
        wd_http_resp_error(rs, 413, "too-large", "the body is %zu bytes, more than the %zu "
                           "this route takes", req->body_len, r->cap);
        if (r->kind != NULL) {
            wd_log(L, WD_LOG_WARN, "publish", "kind", r->kind, "outcome", "too-large", "admin",
                   p->admin, NULL);
            wd_metrics_publish(L->metrics, r->kind, "too-large");
        }
        return;
    }
    char pbuf[WD_DIGEST_STRLEN + WD_MAX_ID_LEN + 2];
    if (plen >= sizeof pbuf) {
        wd_http_resp_error(rs, 404, "not-found", "no such resource");
        return;
    }
    memcpy(pbuf, param, plen);
    pbuf[plen] = '\0';
    r->fn(L, req, pbuf, rs);
    if (rs->status == 0 && rs->hold_s == 0)
        api_internal(L, rs, r->label, NULL);
}
