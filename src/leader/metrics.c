/* metrics.c — the leader's Prometheus metrics: labelled counters in fixed tables, gauges and
 * one latency histogram, updated with atomics from every worker thread and rendered in the
 * text exposition format (version 0.0.4). An update never allocates and never waits on a
 * render; a new label combination takes a short mutex once, then it is lock-free. It must
 * never hold a lock while formatting output for the network. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define SLOTS 256 /* label combinations per family: routes × statuses stay far below this */

typedef struct slot {
    _Atomic(const char *) a; /* first label (static string), NULL = free */
    const char *b;           /* second label (static string) or NULL */
    int n;                   /* numeric label (status) or 0 */
    atomic_ullong count;
} slot;

typedef struct family {
    slot slots[SLOTS];
    atomic_int used;
    atomic_ullong dropped; /* updates lost because the table was full */
} family;

static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct wd_metrics {
    pthread_mutex_t mu; /* only to claim a new slot */
    family requests, handshakes, publishes, errors;
    atomic_llong held, conns, ui_streams;
    atomic_ullong store_bucket[NBUCKETS];
    atomic_ullong store_count, store_sum_ns;
};

wd_metrics *wd_metrics_new(void)
{
    wd_metrics *m = calloc(1, sizeof *m);
    if (m != NULL && pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void wd_metrics_free(wd_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static bool same(const slot *s, const char *a, const char *b, int n)
{
    const char *sa = atomic_load_explicit(&s->a, memory_order_acquire);
    return sa != NULL && strcmp(sa, a) == 0 && s->n == n &&
           ((s->b == NULL && b == NULL) || (s->b && b && strcmp(s->b, b) == 0));
}

/* Count one event under labels (a, b, n). Labels must be static strings. */
static void bump(wd_metrics *m, family *f, const char *a, const char *b, int n)
{
    int used = atomic_load_explicit(&f->used, memory_order_acquire);
    for (int i = 0; i < used; i++)
        if (same(&f->slots[i], a, b, n)) {
            atomic_fetch_add_explicit(&f->slots[i].count, 1, memory_order_relaxed);
            return;
        }
    pthread_mutex_lock(&m->mu);
    used = atomic_load_explicit(&f->used, memory_order_acquire);
    int i;
    for (i = 0; i < used; i++)
        if (same(&f->slots[i], a, b, n))
            break;
    if (i == used) {
        if (used == SLOTS) {
            pthread_mutex_unlock(&m->mu);
            atomic_fetch_add_explicit(&f->dropped, 1, memory_order_relaxed);
            return;
        }
        f->slots[i].b = b;
        f->slots[i].n = n;
        atomic_store_explicit(&f->slots[i].a, a, memory_order_release);
        atomic_store_explicit(&f->used, used + 1, memory_order_release);
    }
    pthread_mutex_unlock(&m->mu);
    atomic_fetch_add_explicit(&f->slots[i].count, 1, memory_order_relaxed);
}

void wd_metrics_request(wd_metrics *m, const char *route, int status)
{
    if (m != NULL)
        bump(m, &m->requests, route ? route : "unknown", NULL, status);
}

void wd_metrics_held(wd_metrics *m, int delta)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->held, delta, memory_order_relaxed);
}

void wd_metrics_conns(wd_metrics *m, int delta)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->conns, delta, memory_order_relaxed);
}

void wd_metrics_ui_streams(wd_metrics *m, int delta)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->ui_streams, delta, memory_order_relaxed);
}

void wd_metrics_handshake_failure(wd_metrics *m, const char *reason)
{
    if (m != NULL)
        bump(m, &m->handshakes, reason, NULL, 0);
}

void wd_metrics_publish(wd_metrics *m, const char *kind, const char *outcome)
{
    if (m != NULL)
        bump(m, &m->publishes, kind, outcome, 0);
}

void wd_metrics_error(wd_metrics *m, const char *klass)
{
    if (m != NULL)
        bump(m, &m->errors, klass, NULL, 0);
}

void wd_metrics_store(wd_metrics *m, double seconds)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= buckets[i])
            atomic_fetch_add_explicit(&m->store_bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->store_count, 1, memory_order_relaxed);
    unsigned long long ns = seconds > 0 ? (unsigned long long)(seconds * 1e9) : 0;
    atomic_fetch_add_explicit(&m->store_sum_ns, ns, memory_order_relaxed);
}

/* A growing text buffer; on allocation failure it stays failed. */
typedef struct buf {
    char *p;
    size_t len, cap;
    bool failed;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->p != NULL && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static void family_render(buf *b, family *f, const char *name, const char *help,
                          const char *la, const char *lb, const char *ln)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    int used = atomic_load_explicit(&f->used, memory_order_acquire);
    for (int i = 0; i < used; i++) {
        slot *s = &f->slots[i];
        unsigned long long c = atomic_load_explicit(&s->count, memory_order_relaxed);
        bprintf(b, "%s{%s=\"%s\"", name, la, atomic_load(&s->a));
        if (lb != NULL)
            bprintf(b, ",%s=\"%s\"", lb, s->b ? s->b : "");
        if (ln != NULL)
            bprintf(b, ",%s=\"%d\"", ln, s->n);
        bprintf(b, "} %llu\n", c);
    }
}

int wd_metrics_render(wd_metrics *m, char **out, size_t *len)
{
    buf b = {0};
    family_render(&b, &m->requests, "warden_leader_requests_total",
                  "Requests answered, by route and status.", "route", NULL, "status");
    bprintf(&b, "# HELP warden_leader_held_polls Long polls being held.\n"
                "# TYPE warden_leader_held_polls gauge\nwarden_leader_held_polls %lld\n",
            (long long)atomic_load(&m->held));
    bprintf(&b, "# HELP warden_leader_connections Open client connections.\n"
                "# TYPE warden_leader_connections gauge\nwarden_leader_connections %lld\n",
            (long long)atomic_load(&m->conns));
    bprintf(&b, "# HELP warden_leader_ui_streams Open event streams of the fleet page.\n"
                "# TYPE warden_leader_ui_streams gauge\nwarden_leader_ui_streams %lld\n",
            (long long)atomic_load(&m->ui_streams));
    family_render(&b, &m->handshakes, "warden_leader_handshake_failures_total",
                  "TLS handshakes refused, by reason.", "reason", NULL, NULL);
    family_render(&b, &m->publishes, "warden_leader_publishes_total",
                  "Publishes by kind and outcome.", "kind", "outcome", NULL);
    family_render(&b, &m->errors, "warden_leader_errors_total",
                  "Errors by class: operational (peer, disk, network) or internal (a bug).",
                  "class", NULL, NULL);
    bprintf(&b, "# HELP warden_leader_store_seconds Store operation latency.\n"
                "# TYPE warden_leader_store_seconds histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++)
        bprintf(&b, "warden_leader_store_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
                atomic_load(&m->store_bucket[i]));
    unsigned long long count = atomic_load(&m->store_count);
    bprintf(&b, "warden_leader_store_seconds_bucket{le=\"+Inf\"} %llu\n", count);
    bprintf(&b, "warden_leader_store_seconds_sum %.9f\n",
            (double)atomic_load(&m->store_sum_ns) / 1e9);
    bprintf(&b, "warden_leader_store_seconds_count %llu\n", count);
    if (b.failed) {
        free(b.p);
        *out = NULL;
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
