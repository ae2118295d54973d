/* watch.h — the leader's watcher of changes other leaders make to a shared store (SPEC §16,
 * PostgreSQL LISTEN/NOTIFY): a thread of its own that calls a hook with each changed stream's
 * key, and with NULL ("anything may have changed") after every (re)connection. It never blocks
 * the workers' loops. */
#ifndef WD_LEADER_WATCH_H
#define WD_LEADER_WATCH_H

#include <stdbool.h>

#include "leader.h"

typedef struct wd_watch wd_watch;

/* Start watching L->store when it can announce changes (store ops watch_open set); otherwise
 * *out is NULL and WD_OK (nothing to hear). changed(L, key) runs on the watcher's thread: key
 * "org/fleet/env", "!roster", or NULL for everything. A store that cannot be reached now is
 * not an error: the watcher keeps trying. On error (no thread, no memory) *out is NULL. */
wd_code wd_watch_start(wd_leader *L, void (*changed)(wd_leader *L, const char *key),
                       wd_watch **out, wd_err *e);
/* Listening now? true for a NULL watcher (nothing to hear). Any thread. */
bool wd_watch_ok(const wd_watch *w);
/* Stop the thread, close the connection, free w (may be NULL). The hook is not called after
 * this returns. */
void wd_watch_stop(wd_watch *w);

#endif
