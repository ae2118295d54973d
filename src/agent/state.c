/* state.c — the follower's state directory (see state.h). Being written. */
#include <string.h>

#include "state.h"

const char *wd_policy_state_name(wd_policy_state s)
{
    switch (s) {
    case WD_PSTATE_NONE: return "none";
    case WD_PSTATE_ENFORCING: return "enforcing";
    case WD_PSTATE_STALE: return "stale";
    case WD_PSTATE_DENY_ALL: return "deny-all";
    case WD_PSTATE_KILLED: return "killed";
    }
    return "deny-all";
}

const char *wd_stale_then_name(wd_stale_then t)
{
    return t == WD_STALE_KEEP_LAST_KNOWN_GOOD ? "keep-last-known-good" : "deny-all";
}

bool wd_stale_then_parse(const char *s, wd_stale_then *out)
{
    if (s && strcmp(s, "deny-all") == 0) {
        *out = WD_STALE_DENY_ALL;
        return true;
    }
    if (s && strcmp(s, "keep-last-known-good") == 0) {
        *out = WD_STALE_KEEP_LAST_KNOWN_GOOD;
        return true;
    }
    return false;
}

wd_policy_state wd_stale_state(int64_t expires_at, int64_t grace, wd_stale_then then,
                               int64_t now)
{
    if (now < expires_at)
        return WD_PSTATE_ENFORCING;
    if (grace > 0 && now - expires_at < grace)
        return WD_PSTATE_STALE;
    return then == WD_STALE_KEEP_LAST_KNOWN_GOOD ? WD_PSTATE_STALE : WD_PSTATE_DENY_ALL;
}
