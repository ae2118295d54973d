/* agent_metrics.h — the agent's Prometheus metrics: counters and gauges updated lock-free by the
 * pollers, rendered in the text format by the small /metrics listener (metrics.listen). It must
 * never allocate or block on an update. */
#ifndef WD_AGENT_METRICS_H
#define WD_AGENT_METRICS_H

#include <stddef.h>

#include "warden/error.h"
#include "state.h"

typedef enum wd_agent_loop { WD_LOOP_POLICY, WD_LOOP_KILL, WD_LOOP_COUNT } wd_agent_loop;

/* What one poll came to. */
typedef enum wd_poll_outcome {
    WD_POLL_APPLIED,       /* 200, applied and changed something */
    WD_POLL_UNCHANGED,     /* 200 of what is already applied (same hash) */
    WD_POLL_NOT_MODIFIED,  /* 304 */
    WD_POLL_NO_CONTENT,    /* 204 */
    WD_POLL_REJECTED,      /* 200 whose message was rejected (code counted apart) */
    WD_POLL_HTTP_ERROR,    /* another status */
    WD_POLL_TRANSPORT,     /* connect, TLS, reset, timeout, a body past the cap */
    WD_POLL_OUTCOMES
} wd_poll_outcome;

typedef struct wd_agent_metrics {
    unsigned long polls[WD_LOOP_COUNT][WD_POLL_OUTCOMES];
    unsigned long applies[3];                 /* bundle, kill, roster */
    unsigned long rejections[WD_E_USAGE + 1]; /* by wd_code */
    long backoff_s[WD_LOOP_COUNT];            /* current backoff (0: none) */
    int policy_state;                         /* wd_policy_state */
    unsigned long status_reports[2];          /* ok, failed */
    unsigned long errors_operational;
    /* audit shipping and the flight recorder */
    unsigned long audit_batches[2];           /* sent and acknowledged, failed */
    unsigned long audit_dropped_records;      /* dropped from the spool past spool_max */
    unsigned long recorder_errors;            /* entries the recorder failed to write */
    unsigned long long spool_bytes;           /* gauge */
    unsigned long spool_batches;              /* gauge */
} wd_agent_metrics;

const char *wd_poll_outcome_name(wd_poll_outcome o);
const char *wd_agent_loop_name(wd_agent_loop l);

void wd_agent_metrics_poll(wd_agent_metrics *m, wd_agent_loop l, wd_poll_outcome o);
void wd_agent_metrics_apply(wd_agent_metrics *m, int kind /* 0 bundle, 1 kill, 2 roster */);
void wd_agent_metrics_reject(wd_agent_metrics *m, wd_code c);
void wd_agent_metrics_backoff(wd_agent_metrics *m, wd_agent_loop l, long seconds);
void wd_agent_metrics_state(wd_agent_metrics *m, wd_policy_state s);
void wd_agent_metrics_status(wd_agent_metrics *m, int ok);
void wd_agent_metrics_operational(wd_agent_metrics *m);
void wd_agent_metrics_audit_batch(wd_agent_metrics *m, int ok);
void wd_agent_metrics_audit_dropped(wd_agent_metrics *m, unsigned long long records);
void wd_agent_metrics_recorder_error(wd_agent_metrics *m);
void wd_agent_metrics_spool(wd_agent_metrics *m, unsigned long long bytes, size_t batches);

/* Text exposition 0.0.4 into a new buffer (caller frees); NULL when out of memory. */
char *wd_agent_metrics_render(wd_agent_metrics *m, size_t *len);

#endif
