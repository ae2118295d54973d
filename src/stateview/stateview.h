/* stateview.h — the state directory's read side, shared by the agent (src/agent, which writes
 * the directory; see src/agent/state.h for its layout) and `warden run --state-dir`
 * (src/runner, which only reads it): the policy states, the stale-policy rule, and the view a
 * runner enforces. It must never write to the directory, take its lock, open a socket, or
 * report an enforcing view on any doubt (fail closed). */
#ifndef WD_STATEVIEW_H
#define WD_STATEVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "warden/error.h"
#include "warden/policy.h"
#include "crypto/crypto.h"

/* The effective policy state (SPEC §13.4-§13.5). */
typedef enum wd_policy_state {
    WD_PSTATE_NONE,       /* no active bundle (nothing ever applied) */
    WD_PSTATE_ENFORCING,  /* the active bundle is verified and not expired */
    WD_PSTATE_STALE,      /* expired, within grace (or after it with keep-last-known-good): still enforces */
    WD_PSTATE_DENY_ALL,   /* fail closed: something did not verify, or stale past grace with deny-all */
    WD_PSTATE_KILLED,     /* an honored kill in state "active" is applied */
} wd_policy_state;

/* "none", "enforcing", "stale", "deny-all", "killed" (static strings). */
const char *wd_policy_state_name(wd_policy_state s);

/* What happens once an expired active bundle's grace is over. */
typedef enum wd_stale_then {
    WD_STALE_DENY_ALL = 0,            /* default */
    WD_STALE_KEEP_LAST_KNOWN_GOOD,
} wd_stale_then;

/* "deny-all" / "keep-last-known-good"; parse returns false for anything else. */
const char *wd_stale_then_name(wd_stale_then t);
bool wd_stale_then_parse(const char *s, wd_stale_then *out);

/* The stale-policy rule alone (pure): the state of a verified active bundle expiring at
 * expires_at, at time now, with grace seconds (>= 0) and then. ENFORCING before expires_at,
 * STALE in [expires_at, expires_at + grace), then DENY_ALL or STALE (keep-last-known-good). */
wd_policy_state wd_stale_state(int64_t expires_at, int64_t grace, wd_stale_then then,
                               int64_t now);

/* ---- the read side for enforcement (`warden run --state-dir`) ---- */

/* What a runner enforces, read from a state directory WITHOUT the pin: the agent verified
 * everything before writing it; the runner checks consistency and fails closed on anything
 * odd (missing or unreadable files, policy.yaml not matching the bundle's policy_sha256, a
 * policy that does not compile, an unparseable kill.json, a deny-all reason in enforce.json).
 * Takes no lock (readers never block the agent: every file is replaced by rename). */
typedef struct wd_agent_view {
    wd_policy_state state;     /* at the time given */
    wd_policy *policy;         /* a reference when ENFORCING or STALE, else NULL */
    int64_t bundle_version;    /* 0 when none */
    char bundle_hash[WD_DIGEST_STRLEN + 1];
    char reason[WD_ERR_MSG_MAX]; /* KILLED: the kill's reason (cleaned); DENY_ALL: why; else "" */
} wd_agent_view;

/* Fill *v from state_dir at now. A directory that does not exist or cannot be read at all is
 * WD_E_IO (the caller fails closed); every inconsistency is a DENY_ALL view with its reason,
 * returned as WD_OK. The caller releases with wd_agent_view_clear. */
wd_code wd_agent_view_load(const char *state_dir, int64_t now, wd_agent_view *v, wd_err *e);
void wd_agent_view_clear(wd_agent_view *v);

#endif
