/* server.h — the process of `warden leader`: worker event loops serving mutual-TLS HTTP/1.1 to
 * the route handlers it is given, held long polls and their wake-ups, the plain-HTTP probe
 * listener, signals and the drain. The handlers are passed in, so the transport is tested with
 * stubs and the real API is plugged in by the command line.
 * It must never run a handler for a peer without a valid identity, read a body above the
 * route's cap, or spend a thread on a held request. */
#ifndef WD_LEADER_SERVER_H
#define WD_LEADER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "warden/error.h"
#include "http.h"
#include "leader.h"
#include "metrics.h"

typedef struct wd_server_handlers {
    /* Answer (or hold: rs->hold_s > 0) one request of a peer with a valid identity. */
    void (*handle)(wd_leader *L, const wd_http_req *req, wd_http_resp *rs);
    /* The largest body (method, target) accepts; 0 for none. */
    size_t (*body_cap)(const char *method, const char *target);
    /* Ready to serve (for /readyz, with the store's ping). */
    bool (*ready)(const wd_leader *L);
    /* Optional: another leader sharing the store changed the stream of key ("org/fleet/env";
     * "!roster"; NULL: anything may have changed): re-read it, then wake its held polls
     * (L->wake). Called on the store watcher's thread (watch.h), only for stores that announce
     * changes; /readyz is 503 while the watcher is not listening. */
    void (*changed)(wd_leader *L, const char *key);
    /* Optional: open what the handlers need (the store, then the API over it). Called on the
     * main thread once every listener is bound, before any request is handled. On error it
     * sets *retry: true when the cause may pass by itself (the database is not up yet) — the
     * leader then serves meanwhile, answering every API and fleet-page request 503
     * `unavailable` (Retry-After) and /readyz 503 "not ready: store unreachable: WHY", and calls
     * it again after 1 s, doubling to 30 s, logging one warn line `store-unreachable` and
     * counting one operational error each time; false: the start fails with e (a later
     * attempt failing for good stops the leader with e). On error it must leave nothing half
     * open. NULL: everything was ready before wd_server_run. */
    wd_code (*prepare)(wd_leader *L, bool *retry, wd_err *e);
    /* Optional (tests): once every listener is bound, this file is written (atomically) with
     * the lines "mtls ADDR:PORT" (one per --listen) and "probe ADDR:PORT". NULL: not written. */
    const char *ports_file;
} wd_server_handlers;

/* Run the leader until SIGTERM or SIGINT, then drain: stop accepting, answer every held poll,
 * let requests in flight finish (bounded by cfg.drain_timeout_s), close, return WD_OK.
 * Needs L->cfg (listen, cert, key, client_ca, trust_domain, ...), L->metrics; L->store may be
 * NULL (then /readyz is 503) or opened later by h->prepare (see there). A SIGTERM while
 * h->prepare is still being retried drains as usual and returns WD_OK. Sets L->wake for the handlers. Blocks SIGTERM, SIGINT and SIGHUP
 * in the calling thread (and the workers) for its duration; SIGHUP is logged and ignored.
 * On a start error (a port in use, a TLS file) nothing is left running and e says why
 * (WD_E_IO: "cannot listen on ADDR: address already in use"). */
wd_code wd_server_run(wd_leader *L, const wd_server_handlers *h, wd_err *e);

/* Check, before anything else is loaded, what wd_server_run would fail to start with: the TLS
 * files (cert, key and its mode, client CA) and that every listen and probe address can be
 * bound now (nobody listens there). Binds nothing that stays open. On error e says why exactly
 * as wd_server_run would ("cannot listen on ADDR: address already in use"), counted in m (may
 * be NULL) as an operational error. A race with another process is still caught at start. */
wd_code wd_server_preflight(const wd_leader_config *cfg, wd_metrics *m, wd_err *e);

#endif
