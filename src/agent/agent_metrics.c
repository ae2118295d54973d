/* agent_metrics.c — counters and gauges of the agent (see agent_metrics.h), updated with atomic
 * builtins and rendered in Prometheus' text format. It must never block an update. */
#include "agent_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INC(x) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

const char *wd_poll_outcome_name(wd_poll_outcome o)
{
    switch (o) {
    case WD_POLL_APPLIED: return "applied";
    case WD_POLL_UNCHANGED: return "unchanged";
    case WD_POLL_NOT_MODIFIED: return "not-modified";
    case WD_POLL_NO_CONTENT: return "no-content";
    case WD_POLL_REJECTED: return "rejected";
    case WD_POLL_HTTP_ERROR: return "http-error";
    case WD_POLL_TRANSPORT: return "transport-error";
    case WD_POLL_OUTCOMES: break;
    }
    return "unknown";
}

const char *wd_agent_loop_name(wd_agent_loop l)
{
    return l == WD_LOOP_POLICY ? "policy" : "kill";
}

void wd_agent_metrics_poll(wd_agent_metrics *m, wd_agent_loop l, wd_poll_outcome o)
{
    INC(m->polls[l][o]);
}

void wd_agent_metrics_apply(wd_agent_metrics *m, int kind)
{
    if (kind >= 0 && kind < 3)
        INC(m->applies[kind]);
}

void wd_agent_metrics_reject(wd_agent_metrics *m, wd_code c)
{
    if ((int)c >= 0 && c <= WD_E_USAGE)
        INC(m->rejections[c]);
}

void wd_agent_metrics_backoff(wd_agent_metrics *m, wd_agent_loop l, long seconds)
{
    __atomic_store_n(&m->backoff_s[l], seconds, __ATOMIC_RELAXED);
}

void wd_agent_metrics_state(wd_agent_metrics *m, wd_policy_state s)
{
    __atomic_store_n(&m->policy_state, (int)s, __ATOMIC_RELAXED);
}

void wd_agent_metrics_status(wd_agent_metrics *m, int ok)
{
    INC(m->status_reports[ok ? 0 : 1]);
}

void wd_agent_metrics_operational(wd_agent_metrics *m)
{
    INC(m->errors_operational);
}

void wd_agent_metrics_audit_batch(wd_agent_metrics *m, int ok)
{
    INC(m->audit_batches[ok ? 0 : 1]);
}

void wd_agent_metrics_audit_dropped(wd_agent_metrics *m, unsigned long long records)
{
    __atomic_add_fetch(&m->audit_dropped_records, (unsigned long)records, __ATOMIC_RELAXED);
}

void wd_agent_metrics_recorder_error(wd_agent_metrics *m)
{
    INC(m->recorder_errors);
}

void wd_agent_metrics_spool(wd_agent_metrics *m, unsigned long long bytes, size_t batches)
{
    __atomic_store_n(&m->spool_bytes, bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&m->spool_batches, (unsigned long)batches, __ATOMIC_RELAXED);
}

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf;

__attribute__((format(printf, 2, 3))) static void put(buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap * 2 + (size_t)n;
        char *q = realloc(b->p, nc);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
}

char *wd_agent_metrics_render(wd_agent_metrics *m, size_t *len)
{
    buf b = {.p = malloc(4096), .cap = 4096};
    if (b.p == NULL)
        return NULL;
    b.p[0] = '\0';
    put(&b, "# HELP warden_agent_polls_total Polls of the leader by loop and outcome.\n"
            "# TYPE warden_agent_polls_total counter\n");
    for (int l = 0; l < WD_LOOP_COUNT; l++)
        for (int o = 0; o < WD_POLL_OUTCOMES; o++)
            put(&b, "warden_agent_polls_total{loop=\"%s\",outcome=\"%s\"} %lu\n",
                wd_agent_loop_name((wd_agent_loop)l), wd_poll_outcome_name((wd_poll_outcome)o),
                LOAD(m->polls[l][o]));
    static const char *const kinds[] = {"bundle", "kill", "roster"};
    put(&b, "# HELP warden_agent_applies_total Signed messages applied to the state directory.\n"
            "# TYPE warden_agent_applies_total counter\n");
    for (int k = 0; k < 3; k++)
        put(&b, "warden_agent_applies_total{kind=\"%s\"} %lu\n", kinds[k], LOAD(m->applies[k]));
    put(&b, "# HELP warden_agent_rejections_total Messages refused, by rejection code.\n"
            "# TYPE warden_agent_rejections_total counter\n");
    for (int c = WD_E_MALFORMED; c <= WD_E_UNSUPPORTED_VERSION; c++)
        put(&b, "warden_agent_rejections_total{code=\"%s\"} %lu\n", wd_code_name((wd_code)c),
            LOAD(m->rejections[c]));
    put(&b, "# HELP warden_agent_backoff_seconds Current backoff of a poller (0: none).\n"
            "# TYPE warden_agent_backoff_seconds gauge\n");
    for (int l = 0; l < WD_LOOP_COUNT; l++)
        put(&b, "warden_agent_backoff_seconds{loop=\"%s\"} %ld\n",
            wd_agent_loop_name((wd_agent_loop)l), LOAD(m->backoff_s[l]));
    put(&b, "# HELP warden_agent_policy_state The host's policy state (1 for the current one).\n"
            "# TYPE warden_agent_policy_state gauge\n");
    int ps = LOAD(m->policy_state);
    for (int s = WD_PSTATE_NONE; s <= WD_PSTATE_KILLED; s++)
        put(&b, "warden_agent_policy_state{state=\"%s\"} %d\n",
            wd_policy_state_name((wd_policy_state)s), s == ps);
    put(&b, "# HELP warden_agent_status_reports_total Status reports sent to the leader.\n"
            "# TYPE warden_agent_status_reports_total counter\n"
            "warden_agent_status_reports_total{outcome=\"ok\"} %lu\n"
            "warden_agent_status_reports_total{outcome=\"failed\"} %lu\n",
        LOAD(m->status_reports[0]), LOAD(m->status_reports[1]));
    put(&b, "# HELP warden_agent_errors_total Operational errors (network, disk, a port in use).\n"
            "# TYPE warden_agent_errors_total counter\n"
            "warden_agent_errors_total{class=\"operational\"} %lu\n",
        LOAD(m->errors_operational));
    put(&b, "# HELP warden_agent_audit_batches_total Audit batches sent to the leader.\n"
            "# TYPE warden_agent_audit_batches_total counter\n"
            "warden_agent_audit_batches_total{outcome=\"acknowledged\"} %lu\n"
            "warden_agent_audit_batches_total{outcome=\"failed\"} %lu\n",
        LOAD(m->audit_batches[0]), LOAD(m->audit_batches[1]));
    put(&b, "# HELP warden_agent_audit_dropped_records_total Recorder lines dropped from the "
            "spool unsent (audit.spool_max).\n"
            "# TYPE warden_agent_audit_dropped_records_total counter\n"
            "warden_agent_audit_dropped_records_total %lu\n",
        LOAD(m->audit_dropped_records));
    put(&b, "# HELP warden_agent_audit_spool_bytes Bytes of audit batches waiting in the spool.\n"
            "# TYPE warden_agent_audit_spool_bytes gauge\n"
            "warden_agent_audit_spool_bytes %llu\n"
            "# HELP warden_agent_audit_spool_batches Audit batches waiting in the spool.\n"
            "# TYPE warden_agent_audit_spool_batches gauge\n"
            "warden_agent_audit_spool_batches %lu\n",
        LOAD(m->spool_bytes), LOAD(m->spool_batches));
    put(&b, "# HELP warden_agent_recorder_errors_total Flight recorder entries that could not "
            "be written.\n"
            "# TYPE warden_agent_recorder_errors_total counter\n"
            "warden_agent_recorder_errors_total %lu\n",
        LOAD(m->recorder_errors));
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
