/* gate.h — the PolicyGate extension point (SPEC §8): a chain of gates that decide whether an MCP
 * server may be created or restarted and whether a tool call may proceed. Every registered gate
 * must allow; the first denial wins; with nothing registered everything is allowed.
 * The registry is the only process-wide mutable state of libwarden. */
#ifndef WARDEN_GATE_H
#define WARDEN_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "warden/limits.h"
#include "warden/runconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wd_verdict { WD_VERDICT_ALLOW = 0, WD_VERDICT_DENY = 1 } wd_verdict;

typedef enum wd_policy_mode {
    WD_MODE_ENFORCE = 0, /* a deny denies */
    WD_MODE_AUDIT = 1    /* a deny is recorded (audit_would_deny) and allowed */
} wd_policy_mode;

#define WD_DECISION_RULE_MAX   (WD_MAX_ID_LEN + 1) /* a rule name (an id) and its NUL */
#define WD_DECISION_REASON_MAX 320                 /* a reason (cut if longer) and its NUL */

/* A decision. rule names the rule that decided ("servers.default" or "mcp_tool_policy.default"
 * when a section's default did); reason is the rule's reason or, for a limits denial, the
 * permission that exceeds the profile. In audit mode a would-be denial has verdict ALLOW,
 * audit_would_deny set and the rule and reason of the denial. warn: a matching tool rule with
 * action warn allowed the call (rule and reason are that rule's). profile: the permission
 * profile that bounded an allow (the allowing rule's limits.profile), "" when none. */
typedef struct wd_decision {
    wd_verdict verdict;
    wd_policy_mode mode;
    bool audit_would_deny;
    bool warn;
    bool regex_limit; /* a regex hit its match limit and was counted fail-closed */
    char rule[WD_DECISION_RULE_MAX];
    char reason[WD_DECISION_REASON_MAX];
    char profile[WD_MAX_ID_LEN + 1];
} wd_decision;

/* One argument of a tool call: its key and its value as text (a JSON string's contents, or the
 * compact JSON of any other value). value_len counts the bytes of value. */
typedef struct wd_tool_arg {
    const char *key;
    const char *value;
    size_t value_len;
} wd_tool_arg;

/* A tool call: which server, which tool, with which arguments. */
typedef struct wd_tool_call {
    const char *server;
    const char *tool;
    const wd_tool_arg *args;
    size_t n_args;
} wd_tool_call;

/* A gate: a table of operations plus the ctx pointer given at registration.
 * ABI rule: the implementer sets size = sizeof(wd_gate_ops) as compiled against its header.
 * The registry calls an operation only when size covers that member, so a gate compiled
 * against an older, shorter table keeps working when members are added at the end; a member
 * not covered, or NULL, allows (the counterpart of ToolHive's NoopPolicyGate).
 * An operation fills *d (it arrives initialised to an allow with empty rule and reason) and
 * returns WD_OK; any other return means "could not decide" and the chain denies (fail closed).
 * Operations run concurrently from any thread; no lock is held while one runs, so an operation
 * may itself register or unregister gates. */
typedef struct wd_gate_ops {
    size_t size;
    wd_code (*check_create_server)(void *ctx, const wd_runconfig *rc, wd_decision *d);
    wd_code (*check_restart_server)(void *ctx, const wd_runconfig *rc, wd_decision *d);
    wd_code (*check_tool_call)(void *ctx, const wd_tool_call *call, wd_decision *d);
    void (*destroy)(void *ctx); /* called once, when the gate is gone and no check uses it */
} wd_gate_ops;

/* Handle of a registered gate; 0 is never a valid handle. */
typedef uint64_t wd_gate_id;

/* Most gates registered at once. */
#define WD_GATE_MAX 16

/* Append a gate to the end of the chain. The table is copied (up to its size); from success on,
 * the registry owns ctx and hands it to destroy exactly once, after wd_gate_unregister.
 * Failures: ops NULL or size smaller than the size field -> WD_E_USAGE; WD_GATE_MAX gates
 * already registered -> WD_E_USAGE. On failure nothing is registered and the caller still
 * owns ctx. */
wd_code wd_gate_register(const wd_gate_ops *ops, void *ctx, wd_gate_id *id, wd_err *e);

/* Remove a gate. New checks no longer see it; a check already running with it finishes, and
 * destroy(ctx) runs when the last such check is done (or now, when none is). An unknown id
 * -> WD_E_USAGE and nothing changes. */
wd_code wd_gate_unregister(wd_gate_id id, wd_err *e);

/* Number of gates registered now. */
size_t wd_gate_count(void);

/* Walk the chain in registration order. WD_OK when every gate allows; *d is then the most
 * telling allow (the first carrying audit_would_deny or warn, else the first naming a rule, else
 * a plain allow). WD_E_DENIED at the first denial: *d is that gate's decision and e's message
 * is exactly "server creation blocked by policy: <reason> (rule <name>)" (restart: "server
 * restart blocked by policy: ...", tool: "tool call blocked by policy: ..."). A gate that fails
 * to decide counts as a denial (rule "gate", reason "a gate could not decide: <code>"). Checks
 * take only a read lock: they never wait for each other. d must not be NULL; e may be. */
wd_code wd_gate_check_create(const wd_runconfig *rc, wd_decision *d, wd_err *e);
wd_code wd_gate_check_restart(const wd_runconfig *rc, wd_decision *d, wd_err *e);
wd_code wd_gate_check_tool(const wd_tool_call *call, wd_decision *d, wd_err *e);

/* The built-in policy gate over a compiled policy (see policy.h). On success *ops points to a
 * static table and *ctx holds a new reference to policy; pass both to wd_gate_register, which
 * then owns ctx (on a failed register, release it with (*ops)->destroy(*ctx)). Creation and
 * restart evaluate the servers section, tool calls mcp_tool_policy. Allocates nothing; fails
 * only when an argument is NULL (WD_E_USAGE), changing nothing. */
typedef struct wd_policy wd_policy;
wd_code wd_policy_gate_new(wd_policy *policy, const wd_gate_ops **ops, void **ctx, wd_err *e);

#ifdef __cplusplus
}
#endif
#endif
