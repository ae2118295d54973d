/* api_sync.c — keeping the in-memory view in step with what other leaders sharing the store
 * write (SPEC §16): a changed stream is re-read from the store and merged into the view (new
 * bundles and kills added, the active rollback set or cleared), newer rosters are followed by
 * rotation, and after a reconnection the whole view is rebuilt; then the held polls concerned
 * are woken; a follower's labels stored through another leader are followed too. It runs on
 * the store watcher's thread, never on a worker's loop. It must never
 * drop what a local publish put in the view (it holds A->publish while it reads and merges,
 * so no local publish lands in between), never take a roster that does not rotate from the
 * current one, and never hold the view's lock while reading the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "base/base.h"
#include "codec/json.h"
#include "metrics.h"

static void wake_key(wd_leader *L, const char *key)
{
    if (L->wake != NULL)
        L->wake(L, key);
}

static void sync_error(wd_leader *L, const char *what, const wd_err *e)
{
    wd_log(L, WD_LOG_WARN, "store-watch", "outcome", "not-refreshed", "what", what, "error",
           e->msg, NULL);
    wd_metrics_error(L->metrics, "operational");
}

/* ---- one stream ---- */

typedef struct merge_ctx {
    wd_leader *L;
    wd_api *A;
    bool oom;
} merge_ctx;

static bool has_seq(const api_msg *list, size_t n, int64_t seq)
{
    for (size_t i = n; i > 0; i--)
        if (list[i - 1].seq == seq)
            return true;
    return false;
}

static bool merge_msg(merge_ctx *x, const wd_store_msg *m, bool kill)
{
    wd_api *A = x->A;
    pthread_rwlock_rdlock(&A->lock);
    const api_stream *s = api_view_stream(A, &m->stream);
    bool held = s != NULL && (kill ? has_seq(s->kills, s->nkills, m->seq)
                                   : has_seq(s->bundles, s->nbundles, m->seq));
    pthread_rwlock_unlock(&A->lock);
    if (held)
        return true;
    wd_audience a;
    if (!api_decode_audience(x->L, kill ? "stored kill" : "stored bundle", m->audience_json, &a))
        return true;
    pthread_rwlock_wrlock(&A->lock);
    bool ok = kill ? api_view_add_kill(A, &m->stream, m->seq, m->hash, &a, NULL)
                   : api_view_add_bundle(A, &m->stream, m->seq, m->hash, &a, NULL);
    pthread_rwlock_unlock(&A->lock);
    if (!ok) {
        wd_audience_free(&a);
        x->oom = true;
    }
    return ok;
}

static bool merge_bundle(void *ctx, const wd_store_msg *m)
{
    return merge_msg(ctx, m, false);
}

static bool merge_kill(void *ctx, const wd_store_msg *m)
{
    return merge_msg(ctx, m, true);
}

/* The stream's active rollback as the store has it (r NULL: none). */
static bool merge_rollback(void *ctx, const wd_store_rollback *r)
{
    merge_ctx *x = ctx;
    wd_api *A = x->A;
    if (r == NULL)
        return true; /* cleared by the caller's stream, see refresh_stream */
    wd_audience a;
    if (!api_decode_audience(x->L, "stored rollback", r->audience_json, &a))
        return true;
    api_rollback rb;
    memset(&rb, 0, sizeof rb);
    snprintf(rb.id, sizeof rb.id, "%s", r->id);
    snprintf(rb.current_hash, sizeof rb.current_hash, "%s", r->current_hash);
    snprintf(rb.target_hash, sizeof rb.target_hash, "%s", r->target_hash);
    rb.current_version = r->current_version;
    rb.target_version = r->target_version;
    pthread_rwlock_wrlock(&A->lock);
    bool ok = api_view_set_rollback(A, &r->stream, &rb, &a);
    pthread_rwlock_unlock(&A->lock);
    if (!ok) {
        wd_audience_free(&a);
        x->oom = true;
    }
    return ok;
}

typedef struct rb_seen {
    merge_ctx *x;
    const wd_stream *st;
    bool any;
} rb_seen;

static bool seen_rollback(void *ctx, const wd_store_rollback *r)
{
    rb_seen *v = ctx;
    if (r != NULL) {
        v->any = true;
        return merge_rollback(v->x, r);
    }
    /* no active rollback in the store: none in the view either */
    pthread_rwlock_wrlock(&v->x->A->lock);
    api_view_set_rollback(v->x->A, v->st, NULL, NULL);
    pthread_rwlock_unlock(&v->x->A->lock);
    return true;
}

typedef struct stream_ctx {
    merge_ctx m;
    rb_seen rb;
} stream_ctx;

static bool s_bundle(void *ctx, const wd_store_msg *m)
{
    return merge_bundle(&((stream_ctx *)ctx)->m, m);
}

static bool s_kill(void *ctx, const wd_store_msg *m)
{
    return merge_kill(&((stream_ctx *)ctx)->m, m);
}

static bool s_rollback(void *ctx, const wd_store_rollback *r)
{
    return seen_rollback(&((stream_ctx *)ctx)->rb, r);
}

static void resync_all(wd_leader *L);

static void refresh_stream(wd_leader *L, const wd_stream *st, const char *key)
{
    wd_api *A = L->api;
    wd_store *s = L->store;
    if (s->ops->each_of_stream == NULL) {
        resync_all(L);
        return;
    }
    stream_ctx x;
    memset(&x, 0, sizeof x);
    x.m.L = L;
    x.m.A = A;
    x.rb.x = &x.m;
    x.rb.st = st;
    wd_store_stream_cb cb = {s_bundle, s_kill, s_rollback, &x};
    wd_err e;
    wd_err_clear(&e);
    pthread_mutex_lock(&A->publish);
    wd_code c = s->ops->each_of_stream(s, st, &cb, &e);
    pthread_mutex_unlock(&A->publish);
    if (c == WD_OK && x.m.oom)
        c = wd_err_set(&e, WD_E_NOMEM, "out of memory");
    if (c != WD_OK)
        sync_error(L, key, &e);
    /* wake even after an error: a poll re-run with what the view has costs nothing */
    wake_key(L, key);
}

/* ---- rosters ---- */

static void roster_advance(wd_leader *L)
{
    wd_api *A = L->api;
    wd_store *s = L->store;
    pthread_mutex_lock(&A->publish);
    for (;;) {
        api_roster *R = api_roster_get(A);
        unsigned char *nb = NULL;
        size_t nl = 0;
        bool found = false;
        wd_err e;
        wd_err_clear(&e);
        wd_code c = s->ops->get_roster(s, R->r->version + 1, &nb, &nl, &found, &e);
        if (c != WD_OK || !found) {
            if (c != WD_OK)
                sync_error(L, "roster", &e);
            api_roster_put(R);
            break;
        }
        wd_roster *next = NULL;
        c = wd_roster_verify(nb, nl, L->cfg.pin, R->r, api_now(A), &next, &e);
        api_roster_put(R);
        api_roster *N = c == WD_OK ? calloc(1, sizeof *N) : NULL;
        if (N == NULL) {
            if (c == WD_OK)
                wd_err_set(&e, WD_E_NOMEM, "out of memory");
            wd_log(L, WD_LOG_WARN, "roster", "outcome", "not-continued", "code",
                   wd_code_name(e.code), "error", e.msg, NULL);
            wd_roster_free(next);
            free(nb);
            break;
        }
        N->r = next;
        N->bytes = nb;
        N->len = nl;
        N->refs = 1;
        pthread_rwlock_wrlock(&A->lock);
        api_roster *old = A->roster;
        A->roster = N;
        pthread_rwlock_unlock(&A->lock);
        api_roster_put(old);
        char v[24];
        snprintf(v, sizeof v, "%lld", (long long)next->version);
        wd_log(L, WD_LOG_INFO, "roster", "outcome", "followed", "version", v, "hash",
               next->hash, NULL);
    }
    pthread_mutex_unlock(&A->publish);
}

/* ---- everything ---- */

static void resync_all(wd_leader *L)
{
    wd_api *A = L->api;
    roster_advance(L);
    wd_api *fresh = calloc(1, sizeof *fresh);
    if (fresh == NULL) {
        wd_err e;
        wd_err_set(&e, WD_E_NOMEM, "out of memory");
        sync_error(L, "everything", &e);
        return;
    }
    snprintf(fresh->org, sizeof fresh->org, "%s", A->org);
    wd_err e;
    wd_err_clear(&e);
    pthread_mutex_lock(&A->publish);
    wd_code c = api_load_view(L, fresh, &e);
    if (c == WD_OK) {
        /* swap the whole view: the old one goes with `fresh` */
        pthread_rwlock_wrlock(&A->lock);
        api_stream *st = A->streams;
        size_t n = A->nstreams, cap = A->capstreams;
        api_follower *fo = A->followers;
        size_t nf = A->nfollowers, capf = A->capfollowers;
        A->streams = fresh->streams;
        A->nstreams = fresh->nstreams;
        A->capstreams = fresh->capstreams;
        A->followers = fresh->followers;
        A->nfollowers = fresh->nfollowers;
        A->capfollowers = fresh->capfollowers;
        fresh->streams = st;
        fresh->nstreams = n;
        fresh->capstreams = cap;
        fresh->followers = fo;
        fresh->nfollowers = nf;
        fresh->capfollowers = capf;
        pthread_rwlock_unlock(&A->lock);
    }
    pthread_mutex_unlock(&A->publish);
    api_view_free(fresh);
    free(fresh);
    if (c != WD_OK) {
        sync_error(L, "everything", &e);
        return;
    }
    /* wake every stream: keys copied under the lock, woken without it */
    pthread_rwlock_rdlock(&A->lock);
    size_t n = A->nstreams;
    char (*keys)[3 * (WD_MAX_ID_LEN + 1)] = n ? calloc(n, sizeof *keys) : NULL;
    for (size_t i = 0; keys != NULL && i < n; i++)
        api_stream_key(&A->streams[i].st, keys[i], sizeof keys[i]);
    pthread_rwlock_unlock(&A->lock);
    for (size_t i = 0; keys != NULL && i < n; i++)
        wake_key(L, keys[i]);
    free(keys);
}

/* ---- a follower's labels ---- */

typedef struct lab_ctx {
    const char *instance;
    bool found;
    wd_stream st;
    char *labels;
} lab_ctx;

static bool find_follower(void *ctx, const wd_store_follower *f)
{
    lab_ctx *x = ctx;
    if (strcmp(f->instance, x->instance) != 0)
        return true;
    x->found = true;
    x->st = f->stream;
    x->labels = strdup(f->labels_json);
    return false;
}

/* "org/instance": another leader stored other labels for that follower; a held poll of it may
 * now be entitled to another bundle or kill. */
static void labels_changed(wd_leader *L, const char *rest)
{
    wd_api *A = L->api;
    const char *slash = strchr(rest, '/');
    if (slash == NULL || (size_t)(slash - rest) != strlen(A->org) ||
        strncmp(rest, A->org, strlen(A->org)) != 0 || !wd_id_valid(slash + 1))
        return;
    lab_ctx x = {slash + 1, false, {{0}, {0}, {0}}, NULL};
    wd_err e;
    wd_err_clear(&e);
    wd_code c = L->store->ops->each_follower(L->store, A->org, find_follower, &x, &e);
    if (c == WD_OK && x.found && x.labels == NULL)
        c = wd_err_set(&e, WD_E_NOMEM, "out of memory");
    if (c != WD_OK) {
        sync_error(L, "labels", &e);
        free(x.labels);
        return;
    }
    if (!x.found)
        return;
    json_t *v = NULL;
    bool changed = false;
    if (wd_json_parse((const unsigned char *)x.labels, strlen(x.labels),
                      WD_HTTP_MAX_BODY_OTHER, &v, NULL) == WD_OK && json_is_object(v)) {
        pthread_rwlock_wrlock(&A->lock);
        if (!api_view_set_labels(A, &x.st, x.instance, v, &changed)) {
            wd_err_set(&e, WD_E_NOMEM, "out of memory");
            sync_error(L, "labels", &e);
        }
        pthread_rwlock_unlock(&A->lock);
    }
    json_decref(v);
    free(x.labels);
    if (changed) {
        char key[3 * (WD_MAX_ID_LEN + 1)];
        api_stream_key(&x.st, key, sizeof key);
        wake_key(L, key);
    }
}

/* Split "org/fleet/env" into st; false when key is not three ids. */
static bool parse_key(const char *key, wd_stream *st)
{
    memset(st, 0, sizeof *st);
    const char *a = strchr(key, '/');
    const char *b = a != NULL ? strchr(a + 1, '/') : NULL;
    if (a == NULL || b == NULL || strchr(b + 1, '/') != NULL)
        return false;
    size_t n1 = (size_t)(a - key), n2 = (size_t)(b - a - 1), n3 = strlen(b + 1);
    if (n1 == 0 || n2 == 0 || n3 == 0 || n1 > WD_MAX_ID_LEN || n2 > WD_MAX_ID_LEN ||
        n3 > WD_MAX_ID_LEN)
        return false;
    memcpy(st->org, key, n1);
    memcpy(st->fleet, a + 1, n2);
    memcpy(st->env, b + 1, n3);
    return wd_id_valid(st->org) && wd_id_valid(st->fleet) && wd_id_valid(st->env);
}

void wd_api_changed(wd_leader *L, const char *key)
{
    if (L == NULL || L->api == NULL || L->store == NULL)
        return;
    if (key == NULL) {
        resync_all(L);
        return;
    }
    if (strcmp(key, "!roster") == 0) {
        roster_advance(L);
        return;
    }
    if (strncmp(key, "!labels/", 8) == 0) {
        labels_changed(L, key + 8);
        return;
    }
    wd_stream st;
    if (!parse_key(key, &st) || strcmp(st.org, L->api->org) != 0)
        return; /* another org's stream, or not a stream: nothing of ours */
    char clean[3 * (WD_MAX_ID_LEN + 1)];
    api_stream_key(&st, clean, sizeof clean);
    refresh_stream(L, &st, clean);
}
