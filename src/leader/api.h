/* api.h — the leader's routes (SPEC §12.2) over the store: authorization by peer identity,
 * publish-time verification (a bundle is checked as a follower would check it), the stream
 * rules, ETags, long polls, the followers view. Handlers are called from any worker thread and
 * never block on the network; they may call the store. */
#ifndef WD_LEADER_API_H
#define WD_LEADER_API_H

#include <stddef.h>

#include "warden/error.h"
#include "http.h"
#include "leader.h"

#define WD_API_PREFIX "/api/v1/conductor/"

/* Load the roster (cfg.roster_path verified from cfg.pin, then any newer rosters the store
 * holds, by rotation), and build the in-memory view of active bundles, kills and rollbacks
 * from the store. On error nothing is kept and e says why (WD_E_IO for a store that cannot be
 * read: the caller may retry; a rejection code for a roster that does not verify). */
wd_code wd_api_init(wd_leader *L, wd_err *e);
void wd_api_fini(wd_leader *L);

/* Another leader sharing the store changed something (server handler `changed`, called on
 * the store watcher's thread): key "org/fleet/env" re-reads that stream's bundles, kills and
 * active rollback into the view; "!roster" follows the store's newer rosters by rotation; NULL
 * re-reads everything (after the watcher reconnected). Then the held polls of every stream
 * re-read are woken. A store error is logged and counted as operational; the view keeps what
 * it had. */
void wd_api_changed(wd_leader *L, const char *key);

/* True when the roster is loaded (for /readyz). */
bool wd_api_ready(const wd_leader *L);

/* The largest body the route of (method, target) accepts, so the server answers 413 before
 * reading a larger one. 0 for a route that takes no body. */
size_t wd_api_body_cap(const char *method, const char *target);

/* Answer (or hold) one request on the mTLS listener. req->peer is set. Fills rs; never fails:
 * errors become error responses (4xx for the peer's mistakes, 503 for a store that cannot be
 * written, 500 only for internal faults, counted as such). */
void wd_api_handle(wd_leader *L, const wd_http_req *req, wd_http_resp *rs);

#endif
