/* api_view.c — the conductor API's in-memory view of the store: per stream the metadata of its
 * bundles and kills (version or counter, hash, parsed audience) and its active rollback, and
 * the labels each follower last reported; and the selection of what a follower is served.
 * Reading it never touches the store, so a conditional poll answered 304 costs no store read.
 * Callers hold A->lock (read to select, write to change); this file never takes it itself and
 * never blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "crypto/crypto.h"

static bool same_stream(const wd_stream *a, const wd_stream *b)
{
    return strcmp(a->org, b->org) == 0 && strcmp(a->fleet, b->fleet) == 0 &&
           strcmp(a->env, b->env) == 0;
}

static bool same_hash(const char *a, const char *b)
{
    return strlen(a) == WD_DIGEST_STRLEN && strlen(b) == WD_DIGEST_STRLEN &&
           wd_ct_eq(a, b, WD_DIGEST_STRLEN);
}

api_stream *api_view_stream(const wd_api *A, const wd_stream *st)
{
    for (size_t i = 0; i < A->nstreams; i++)
        if (same_stream(&A->streams[i].st, st))
            return &A->streams[i];
    return NULL;
}

/* The stream, created empty when missing; NULL when out of memory. */
static api_stream *stream_get(wd_api *A, const wd_stream *st)
{
    api_stream *s = api_view_stream(A, st);
    if (s != NULL)
        return s;
    if (A->nstreams == A->capstreams) {
        size_t cap = A->capstreams ? 2 * A->capstreams : 8;
        api_stream *n = realloc(A->streams, cap * sizeof *n);
        if (n == NULL)
            return NULL;
        A->streams = n;
        A->capstreams = cap;
    }
    s = &A->streams[A->nstreams++];
    memset(s, 0, sizeof *s);
    s->st = *st;
    return s;
}

/* Insert (seq, hash, *aud) into the ascending list, unless seq is already there; *added (may
 * be NULL) says which. */
static bool list_add(api_msg **list, size_t *n, size_t *cap, int64_t seq, const char *hash,
                     wd_audience *aud, bool *added)
{
    if (added != NULL)
        *added = false;
    size_t at = *n;
    while (at > 0 && (*list)[at - 1].seq >= seq) {
        if ((*list)[at - 1].seq == seq)
            return true;
        at--;
    }
    if (*n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 8;
        api_msg *m = realloc(*list, ncap * sizeof *m);
        if (m == NULL)
            return false;
        *list = m;
        *cap = ncap;
    }
    memmove(&(*list)[at + 1], &(*list)[at], (*n - at) * sizeof **list);
    api_msg *m = &(*list)[at];
    memset(m, 0, sizeof *m);
    m->seq = seq;
    snprintf(m->hash, sizeof m->hash, "%s", hash);
    m->aud = *aud;
    memset(aud, 0, sizeof *aud);
    (*n)++;
    if (added != NULL)
        *added = true;
    return true;
}

bool api_view_add_bundle(wd_api *A, const wd_stream *st, int64_t version, const char *hash,
                         wd_audience *aud, bool *added)
{
    api_stream *s = stream_get(A, st);
    return s != NULL &&
           list_add(&s->bundles, &s->nbundles, &s->capbundles, version, hash, aud, added);
}

bool api_view_add_kill(wd_api *A, const wd_stream *st, int64_t counter, const char *hash,
                       wd_audience *aud, bool *added)
{
    api_stream *s = stream_get(A, st);
    return s != NULL && list_add(&s->kills, &s->nkills, &s->capkills, counter, hash, aud, added);
}

bool api_view_set_rollback(wd_api *A, const wd_stream *st, const api_rollback *r,
                           wd_audience *aud)
{
    api_stream *s = r != NULL ? stream_get(A, st) : api_view_stream(A, st);
    if (s == NULL)
        return r == NULL;
    wd_audience_free(&s->rb.aud);
    memset(&s->rb, 0, sizeof s->rb);
    if (r != NULL) {
        s->rb = *r;
        s->rb.active = true;
        s->rb.aud = *aud;
        memset(aud, 0, sizeof *aud);
    }
    return true;
}

/* Binary search of instance in the sorted follower list: its index, or where it goes. */
static size_t follower_at(const wd_api *A, const char *instance, bool *found)
{
    size_t lo = 0, hi = A->nfollowers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(A->followers[mid].instance, instance);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Do the follower's labels equal the object's? */
static bool same_labels(const api_follower *f, const json_t *labels)
{
    if (f->nlabels != json_object_size(labels))
        return false;
    for (size_t i = 0; i < f->nlabels; i++) {
        const json_t *v = json_object_get(labels, f->labels[i].key);
        if (!json_is_string(v) || strcmp(json_string_value(v), f->labels[i].value) != 0)
            return false;
    }
    return true;
}

bool api_view_set_labels(wd_api *A, const wd_stream *st, const char *instance,
                         const json_t *labels, bool *changed)
{
    bool dummy;
    if (changed == NULL)
        changed = &dummy;
    *changed = true;
    {
        bool found;
        size_t at = follower_at(A, instance, &found);
        if (found && same_stream(&A->followers[at].st, st) &&
            same_labels(&A->followers[at], labels)) {
            *changed = false;
            return true;
        }
    }
    size_t n = json_object_size(labels);
    wd_label *ls = n ? calloc(n, sizeof *ls) : NULL;
    if (n && ls == NULL)
        return false;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v) {
        ls[i].key = strdup(k);
        ls[i].value = strdup(json_is_string(v) ? json_string_value(v) : "");
        i++;
        if (ls[i - 1].key == NULL || ls[i - 1].value == NULL) {
            wd_labels_free(ls, i);
            return false;
        }
    }
    bool found;
    size_t at = follower_at(A, instance, &found);
    if (!found) {
        if (A->nfollowers == A->capfollowers) {
            size_t cap = A->capfollowers ? 2 * A->capfollowers : 64;
            api_follower *f = realloc(A->followers, cap * sizeof *f);
            if (f == NULL) {
                wd_labels_free(ls, n);
                return false;
            }
            A->followers = f;
            A->capfollowers = cap;
        }
        memmove(&A->followers[at + 1], &A->followers[at],
                (A->nfollowers - at) * sizeof *A->followers);
        A->nfollowers++;
        memset(&A->followers[at], 0, sizeof A->followers[at]);
        snprintf(A->followers[at].instance, sizeof A->followers[at].instance, "%s", instance);
    } else {
        wd_labels_free(A->followers[at].labels, A->followers[at].nlabels);
    }
    A->followers[at].st = *st;
    A->followers[at].labels = ls;
    A->followers[at].nlabels = n;
    return true;
}

const api_follower *api_view_follower(const wd_api *A, const wd_stream *st,
                                      const char *instance)
{
    bool found;
    size_t at = follower_at(A, instance, &found);
    if (!found || !same_stream(&A->followers[at].st, st))
        return NULL;
    return &A->followers[at];
}

void api_view_as_follower(const wd_api *A, const wd_spiffe_id *p, wd_follower *f)
{
    memset(f, 0, sizeof *f);
    f->org_id = p->org;
    f->fleet_id = p->fleet;
    f->environment = p->env;
    f->instance_id = p->instance;
    wd_stream st;
    api_peer_stream(p, &st);
    const api_follower *af = api_view_follower(A, &st, p->instance);
    if (af != NULL) {
        f->labels = af->labels;
        f->nlabels = af->nlabels;
    }
}

static bool includes(const wd_audience *a, const wd_follower *f)
{
    return wd_audience_match(a, f, "audience", NULL) == WD_OK;
}

static const api_stream *follower_stream(const wd_api *A, const wd_follower *f)
{
    wd_stream st;
    memset(&st, 0, sizeof st);
    snprintf(st.org, sizeof st.org, "%s", f->org_id);
    snprintf(st.fleet, sizeof st.fleet, "%s", f->fleet_id);
    snprintf(st.env, sizeof st.env, "%s", f->environment);
    return api_view_stream(A, &st);
}

static void pick_from(const api_msg *m, api_pick *out)
{
    out->found = true;
    out->seq = m->seq;
    snprintf(out->hash, sizeof out->hash, "%s", m->hash);
}

void api_view_pick_bundle(const wd_api *A, const wd_follower *f, api_pick *out)
{
    memset(out, 0, sizeof *out);
    const api_stream *s = follower_stream(A, f);
    if (s == NULL)
        return;
    const api_msg *best = NULL;
    for (size_t i = s->nbundles; i > 0; i--)
        if (includes(&s->bundles[i - 1].aud, f)) {
            best = &s->bundles[i - 1];
            break;
        }
    if (best == NULL)
        return;
    pick_from(best, out);
    const api_rollback *rb = &s->rb;
    if (!rb->active || best->seq != rb->current_version ||
        !same_hash(best->hash, rb->current_hash) || !includes(&rb->aud, f))
        return;
    for (size_t i = 0; i < s->nbundles; i++) {
        const api_msg *t = &s->bundles[i];
        if (t->seq == rb->target_version && same_hash(t->hash, rb->target_hash) &&
            includes(&t->aud, f)) {
            pick_from(t, out);
            out->rollback = true;
            snprintf(out->rb_id, sizeof out->rb_id, "%s", rb->id);
            return;
        }
    }
}

void api_view_pick_kill(const wd_api *A, const wd_follower *f, api_pick *out)
{
    memset(out, 0, sizeof *out);
    const api_stream *s = follower_stream(A, f);
    if (s == NULL)
        return;
    for (size_t i = s->nkills; i > 0; i--)
        if (includes(&s->kills[i - 1].aud, f)) {
            pick_from(&s->kills[i - 1], out);
            return;
        }
}

void api_view_free(wd_api *A)
{
    for (size_t i = 0; i < A->nstreams; i++) {
        api_stream *s = &A->streams[i];
        for (size_t j = 0; j < s->nbundles; j++)
            wd_audience_free(&s->bundles[j].aud);
        for (size_t j = 0; j < s->nkills; j++)
            wd_audience_free(&s->kills[j].aud);
        wd_audience_free(&s->rb.aud);
        free(s->bundles);
        free(s->kills);
    }
    free(A->streams);
    A->streams = NULL;
    A->nstreams = A->capstreams = 0;
    for (size_t i = 0; i < A->nfollowers; i++)
        wd_labels_free(A->followers[i].labels, A->followers[i].nlabels);
    free(A->followers);
    A->followers = NULL;
    A->nfollowers = A->capfollowers = 0;
}
