/* state.h — the follower's state directory (SPEC §13.3): what this host holds (the newest
 * accepted roster, the active bundle, the applied kill, the bundle floor, cached ETags, the
 * last error), how a signed file gets in (verify -> transition rule -> durable apply), and the
 * policy state that results (none | enforcing | stale | deny-all | killed).
 * It must never: switch the active policy to anything that did not verify and compile; change
 * a byte of the directory when a message is rejected; leave a mix of old and new after a crash
 * at any instant; or report "enforcing" for something that failed to re-verify (fail closed).
 *
 * Layout (every file written temp -> fsync -> rename -> fsync dir):
 *   roster.json                  newest accepted roster envelope
 *   rosters/<version>.json       every roster accepted, the chain from the pin to roster.json
 *   bundles/<version>-<hex>/     bundle.json (envelope) and policy.yaml
 *   active -> bundles/<v>-<hex>  symbolic link, replaced by rename(2)
 *   kill.json                    the applied kill envelope (its counter is the replay floor)
 *   kill-seen.json               the newest verified kill that was NOT applied (honor off)
 *   floor                        decimal: the highest bundle version ever applied
 *   etag.policy, etag.kill       the cached ETags (quoted, as sent in If-None-Match)
 *   last_error.json              {"code","message","at"} or absent
 *   enforce.json                 what `warden run` needs beyond active and kill.json: the
 *                                stale-policy settings and, when the state failed to verify,
 *                                the deny-all reason
 *   status.json                  what `warden agent status` prints (SPEC §13.5 fields)
 *   spool/                       audit batches not yet acknowledged (created, not used here)
 * bundles/, rosters/ and spool/ are created (0700) by the first apply that writes: opening an
 * empty directory, or a rejected message, writes nothing.
 *
 * Threads: a wd_agent_state is used by one thread at a time (the caller serialises). The
 * directory is written by one process at a time: wd_agent_state_open takes an exclusive
 * flock(2) on the state directory itself for the lifetime of the state (a second opener gets
 * WD_E_IO). */
#ifndef WD_AGENT_STATE_H
#define WD_AGENT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "warden/error.h"
#include "warden/policy.h"
#include "msg/bundle.h"
#include "msg/kill.h"
#include "msg/message.h"
#include "trust/roster.h"
#include "stateview.h" /* policy states, the stale rule, the read side (shared with the runner) */

/* Everything that configures a state: where it is, what to trust, who this follower is.
 * Nothing is owned; every string must outlive the wd_agent_state opened with it. */
typedef struct wd_agent_config {
    const char *state_dir;     /* created 0700 if absent */
    const char *pin;           /* root fingerprint (a digest); required */
    wd_follower follower;      /* org, fleet, environment, instance, labels (all required but labels) */
    bool honor_kill;           /* conductor.honor_remote_kill_switch */
    int64_t stale_grace;       /* seconds, >= 0 (stale_policy.grace) */
    wd_stale_then stale_then;  /* stale_policy.then */
    bool slim;                 /* once the active bundle is verified and its policy compiled,
                                * keep only what the transition rule and the status need: drop
                                * its policy text, document tree and compiled form (the daemon;
                                * `warden run` compiles its own) */
} wd_agent_config;

typedef struct wd_agent_state wd_agent_state;

/* Open (creating the directory, 0700, if absent) the state directory and load what it holds,
 * re-verifying it:
 * the roster chain rosters/ from the pin to roster.json (stored rosters may have expired:
 * WD_ROSTER_KEEP_EXPIRED), the bundle `active` points to (WD_MSG_ACTIVE: its signatures,
 * scope, audience and content against the held roster; expiry is the stale rule's business),
 * policy.yaml equal to the bundle's policy and compiling, and kill.json (WD_MSG_ACTIVE).
 * Leftovers of an interrupted apply (temporary files and directories) are removed.
 * Anything that fails to verify does NOT fail the open: the state is deny-all, the reason is
 * kept (wd_agent_state_failure) and written to enforce.json and last_error.json (fail closed).
 * Errors: WD_E_USAGE for a bad config (no pin, bad ids, negative grace), WD_E_IO when the
 * directory cannot be created, locked or read, WD_E_NOMEM. On success the caller owns *out
 * (wd_agent_state_free); on error *out is NULL and nothing on disk was changed beyond creating
 * a missing directory. */
wd_code wd_agent_state_open(const wd_agent_config *cfg, int64_t now, wd_agent_state **out,
                            wd_err *e);

/* Release the lock and everything held; NULL is allowed. */
void wd_agent_state_free(wd_agent_state *s);

/* ---- reading the state (nothing here changes anything or allocates, except _policy_ref) ---- */

/* The effective policy state at now: DENY_ALL when something failed to verify; KILLED when an
 * honored active kill is applied; NONE without an active bundle; else wd_stale_state. */
wd_policy_state wd_agent_state_policy_state(const wd_agent_state *s, int64_t now);

/* A new reference to the compiled active policy (wd_policy_unref it), or NULL when there is
 * none, the state failed to verify or it was opened slim. Callers decide with it only when the policy state is
 * ENFORCING or STALE. */
wd_policy *wd_agent_state_policy_ref(const wd_agent_state *s);

/* The verified active bundle, or NULL. Points into s: valid until the next apply or free. */
const wd_bundle *wd_agent_state_bundle(const wd_agent_state *s);
/* The highest bundle version ever applied (0: none). */
int64_t wd_agent_state_floor(const wd_agent_state *s);
/* The held roster (newest accepted), or NULL when none is held. Points into s. */
const wd_roster *wd_agent_state_roster(const wd_agent_state *s);
/* The applied kill (kill.json), or NULL. Points into s. */
const wd_kill *wd_agent_state_kill(const wd_agent_state *s);
/* The newest verified kill that was not applied because honor_kill is off, or NULL. */
const wd_kill *wd_agent_state_kill_seen(const wd_agent_state *s);
/* Why the state is deny-all (code, message), or WD_OK / "" when it verified. */
wd_code wd_agent_state_failure(const wd_agent_state *s, const char **message);

typedef enum wd_etag_kind { WD_ETAG_POLICY, WD_ETAG_KILL } wd_etag_kind;
/* The cached ETag (e.g. "\"sha256:…\"", quotes included), or "" when none. Points into s. */
const char *wd_agent_state_etag(const wd_agent_state *s, wd_etag_kind k);

/* ---- applying signed files: verify -> transition -> durable apply ---- */

/* What an apply did. note is a human line ("accepted, versions skipped: 3 -> 7"). */
typedef struct wd_apply_result {
    bool changed;           /* something was written (false for a no-op) */
    int step;               /* wd_bundle_step / wd_kill_step of the transition; -1 for rosters */
    char note[256];
} wd_apply_result;

/* Apply a policy bundle envelope buf[0..len): verify it against the held roster (none held is
 * WD_E_UNTRUSTED_ROOT; an expired held roster is WD_E_EXPIRED: nothing new is accepted under
 * it) with the follower's scope and audience at now; the transition rule with the floor
 * (wd_bundle_transition; auth/auth_len an optional rollback authorization envelope, NULL/0
 * when none); then durably: write bundles/<v>-<hex>/{bundle.json,policy.yaml} (each file
 * fsynced, the directory renamed into place and fsynced), compile the policy (it must), switch
 * `active` (symlink + rename), fsync state_dir, then write the floor and the policy ETag
 * ("\"<hash>\""). Same hash as the active bundle: no-op (the ETag is still cached). A
 * successful apply also clears a deny-all state (the new bundle verified) and rewrites
 * enforce.json. On any rejection the directory is unchanged byte for byte, the state in memory
 * too, and the rejection code is returned with e set; res (may be NULL) is filled on success. */
wd_code wd_agent_apply_bundle(wd_agent_state *s, const unsigned char *buf, size_t len,
                              const unsigned char *auth, size_t auth_len, int64_t now,
                              wd_apply_result *res, wd_err *e);

/* Apply a remote kill envelope: verify (remote-kill-signing threshold, scope, audience,
 * validity at now) against the held roster, then the counter floor (wd_kill_transition against
 * kill.json: equal hash no-op, lower or equal counter WD_E_STALE). When honor_kill is on, write
 * kill.json (state active or inactive) and the kill ETag. When it is off, the kill is NOT
 * applied and kill.json is not touched: it is written to kill-seen.json (status reports it with
 * honored=false) and the kill ETag advances, so it is not fetched again and again. Rejections
 * change nothing. Ownership as wd_agent_apply_bundle. */
wd_code wd_agent_apply_kill(wd_agent_state *s, const unsigned char *buf, size_t len,
                            int64_t now, wd_apply_result *res, wd_err *e);

/* Apply a roster envelope: by rotation from the held roster only (version N+1 signed by both
 * root sets; <= N is WD_E_STALE unless it is the same roster (no-op); > N+1 is
 * WD_E_UNTRUSTED_ROOT), or from the pin when none is held. Written to rosters/<v>.json then
 * roster.json. The active bundle and kill are then re-verified against the new roster (a
 * revoked signer puts the state in deny-all). Rejections change nothing. */
wd_code wd_agent_apply_roster(wd_agent_state *s, const unsigned char *buf, size_t len,
                              int64_t now, wd_apply_result *res, wd_err *e);

/* One envelope in a list. */
typedef struct wd_agent_blob {
    const unsigned char *data;
    size_t len;
} wd_agent_blob;

/* Walk a roster chain: the envelopes in any order (e.g. `GET roster/<v>` answers); each is
 * applied in version order with wd_agent_apply_roster (the held roster again is a no-op, an
 * older one WD_E_STALE: give only the held one and newer). Stops
 * at the first rejection and returns its code (the rosters applied before it stay applied: each
 * was a valid rotation); *applied (may be NULL) gets how many were applied. */
wd_code wd_agent_apply_roster_chain(wd_agent_state *s, const wd_agent_blob *envs, size_t n,
                                    int64_t now, size_t *applied, wd_err *e);

/* ---- small durable records (each written atomically with wd_write_file) ---- */

/* Cache an ETag as the server sent it (at most 256 bytes of printable ASCII, else WD_E_USAGE).
 * The apply functions already cache "\"<message hash>\""; this is for a server whose ETag
 * differs. On error nothing is changed. */
wd_code wd_agent_state_set_etag(wd_agent_state *s, wd_etag_kind k, const char *etag,
                                wd_err *e);

/* Record the last error (code, a message that is cleaned of control characters, time at) in
 * last_error.json. The apply functions do not call this (a rejection leaves the directory
 * untouched); the daemon records what it logs. On error nothing is changed. */
wd_code wd_agent_state_record_error(wd_agent_state *s, wd_code code, const char *message,
                                    int64_t at, wd_err *e);
/* Remove last_error.json. */
wd_code wd_agent_state_clear_error(wd_agent_state *s, wd_err *e);

/* ---- status (SPEC §13.5) ---- */

/* What the status carries besides the state itself. Nothing is owned. */
typedef struct wd_agent_status_extra {
    int64_t started_at;        /* 0: the time of the call */
    const char *recorder_key;  /* keyid, or NULL */
} wd_agent_status_extra;

/* The status object: schema_version, instance_id, labels, warden_version, started_at,
 * policy_state (at now), active_bundle, kill ({counter, state, honored}: the applied kill, or
 * the seen one with honored=false when it is newer), last_error, recorder_key. A new
 * reference the caller owns (json_decref), or NULL when out of memory. */
json_t *wd_agent_status_json(const wd_agent_state *s, int64_t now,
                             const wd_agent_status_extra *x);

/* Write wd_agent_status_json to status.json (atomically). On error the old file stays. */
wd_code wd_agent_state_write_status(wd_agent_state *s, int64_t now,
                                    const wd_agent_status_extra *x, wd_err *e);

/* ---- the crash test hook ---- */

/* The environment variable naming where a test wants the process to die:
 * "<step>:<n>" raises SIGKILL the n-th time (1-based) this process reaches step <step>;
 * "*:<n>" the n-th step of any name. Steps are listed in docs/AGENT.md ("Crash safety"). */
#define WD_AGENT_CRASH_ENV "WARDEN_TEST_CRASH_AT"

#endif
