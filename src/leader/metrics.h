/* metrics.h — the leader's Prometheus metrics: counters and one histogram, updated lock-free
 * from every worker thread and rendered in the text exposition format on the probe listener.
 * It must never block a request or allocate on an update. */
#ifndef WD_LEADER_METRICS_H
#define WD_LEADER_METRICS_H

#include <stddef.h>

typedef struct wd_metrics wd_metrics;

/* New metrics, all zero; NULL when out of memory. */
wd_metrics *wd_metrics_new(void);
void wd_metrics_free(wd_metrics *m);

/* warden_leader_requests_total{route,status}. route is a static label from the API. */
void wd_metrics_request(wd_metrics *m, const char *route, int status);
/* warden_leader_held_polls (gauge): +1 when a request is held, -1 when it is answered. */
void wd_metrics_held(wd_metrics *m, int delta);
/* warden_leader_connections (gauge). */
void wd_metrics_conns(wd_metrics *m, int delta);
/* warden_leader_ui_streams (gauge): the fleet page's open event streams. */
void wd_metrics_ui_streams(wd_metrics *m, int delta);
/* warden_leader_handshake_failures_total{reason}: "no-certificate", "bad-certificate",
 * "identity", "timeout", "protocol", "capacity". */
void wd_metrics_handshake_failure(wd_metrics *m, const char *reason);
/* warden_leader_publishes_total{kind,outcome}: kind bundle|kill|rollback|roster; outcome
 * created|same|fork|stale|rejected|too-large|unavailable. */
void wd_metrics_publish(wd_metrics *m, const char *kind, const char *outcome);
/* warden_leader_store_seconds (histogram) of one store operation. */
void wd_metrics_store(wd_metrics *m, double seconds);
/* warden_leader_errors_total{class}: "operational" (a peer, the disk, the network) or
 * "internal" (a bug: should never happen). */
void wd_metrics_error(wd_metrics *m, const char *klass);

/* The text exposition (version 0.0.4). The caller frees *out. Returns 0, or -1 when out of
 * memory (*out NULL). */
int wd_metrics_render(wd_metrics *m, char **out, size_t *len);

#endif
