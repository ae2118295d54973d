/* leader.h — what the parts of `warden leader` share: the configuration, the store, the
 * metrics, the log, the API's own state, and the wake-up hook through which a publish releases
 * held long polls. server.c owns the process (threads, sockets, signals); api.c owns the
 * routes and the in-memory view of the store. Neither reaches into the other's state. */
#ifndef WD_LEADER_H
#define WD_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "http.h"
#include "store.h"

/* Defaults (SPEC §12.2, §12.3). */
#define WD_LEADER_DEFAULT_STORE       "sqlite:/var/lib/warden/leader.db"
#define WD_LEADER_DEFAULT_PROBE       "127.0.0.1:9465"
#define WD_LEADER_MAX_CONNS           20000
#define WD_LEADER_HANDSHAKE_S         10
#define WD_LEADER_IDLE_S              120
#define WD_LEADER_BODY_S              30
#define WD_LEADER_MAX_WAIT_S          300
#define WD_LEADER_STATUS_INTERVAL_S   60   /* a follower reports at least this often */
#define WD_LEADER_SILENT_AFTER        3    /* status intervals without a report: "silent" */
#define WD_LEADER_MAX_LISTEN          16
#define WD_LEADER_DRAIN_S             10   /* in-flight requests may finish during a drain */

typedef enum wd_log_format { WD_LOG_JSON, WD_LOG_TEXT } wd_log_format;
typedef enum wd_log_level { WD_LOG_DEBUG, WD_LOG_INFO, WD_LOG_WARN, WD_LOG_ERROR } wd_log_level;

/* Everything `warden leader` is told, from flags and --config (flags win). Strings owned. */
typedef struct wd_leader_config {
    char *listen[WD_LEADER_MAX_LISTEN];
    size_t nlisten;
    char *cert, *key, *client_ca;
    char *trust_domain;
    char *roster_path;
    char *pin;
    char *store_url;
    char *probe_listen;
    char *ui_listen;            /* the fleet page's plain-HTTP address, or NULL */
    char *ui_token_file;        /* its token (required off loopback), or NULL */
    int workers;                /* event loops; 0 = one per core */
    int max_conns;
    wd_log_format log_format;
    wd_log_level log_level;
    /* Timeouts in seconds (config keys only; tests lower them): TLS handshake, idle keep-alive
     * (also the time a request head may take), a request body, and the drain after SIGTERM. */
    int handshake_timeout_s;
    int idle_timeout_s;
    int body_timeout_s;
    int drain_timeout_s;
} wd_leader_config;

typedef struct wd_metrics wd_metrics;   /* metrics.h */
typedef struct wd_api wd_api;           /* api.c's state */

typedef struct wd_leader {
    wd_leader_config cfg;
    wd_store *store;
    wd_metrics *metrics;
    wd_api *api;
    /* Wake every held request waiting on key ("org/fleet/env"), in every worker. Set by the
     * server; safe to call from any thread; never blocks on a held request. */
    void (*wake)(struct wd_leader *L, const char *key);
    void *wake_ctx;
    /* Set while the leader drains after SIGTERM/SIGINT. */
    volatile int draining;
} wd_leader;

/* One log line (JSON or text, to stderr, per cfg): event is a short word ("request",
 * "publish", "start", ...), then "key=value" pairs given as alternating strings, ended by NULL.
 * Values are cleaned of control characters. Thread-safe (one write(2) per line). Never pass a
 * body, a key or an environment value. */
void wd_log(const wd_leader *L, wd_log_level level, const char *event, ...)
    __attribute__((sentinel));

#endif
