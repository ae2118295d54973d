/* policy.h — policy documents (SPEC §6): load and validate a document, compile it into an
 * immutable, shareable, reference-counted policy with indexes, and decide server creations and
 * tool calls against it (deny overrides). A decision allocates nothing and never fails: what
 * cannot be decided is denied, never allowed. */
#ifndef WARDEN_POLICY_H
#define WARDEN_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "warden/error.h"
#include "warden/gate.h"
#include "warden/runconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wd_policy wd_policy;

/* Longest glob, in bytes (any glob in a policy, a profile or a RunConfig). */
#define WD_MAX_GLOB_LEN          512
/* Longest rule reason, in bytes; reasons are printable ASCII so they reach users unchanged. */
#define WD_MAX_RULE_REASON       256
/* Longest regex in a tool rule, in bytes, and the PCRE2 limits every match runs under. */
#define WD_MAX_REGEX_LEN         1024
#define WD_REGEX_MATCH_LIMIT     100000u
#define WD_REGEX_DEPTH_LIMIT     1000u

/* Load, validate and compile a policy document (YAML, at most WD_MAX_POLICY_BYTES).
 * Rejections: what the YAML loader rejects keeps its code (too large, too deep, too many nodes
 * -> WD_E_OVERSIZED; a repeated key -> WD_E_DUPLICATE_KEY; syntax, tags, several documents ->
 * WD_E_MALFORMED); anything against the schema -> WD_E_INVALID_POLICY with the path of the first
 * error ("servers.rules[2].mtach: unknown key"). Out of memory -> WD_E_NOMEM.
 * On success the caller owns one reference (*out; wd_policy_unref); on error *out is NULL. */
wd_code wd_policy_load(const unsigned char *buf, size_t len, wd_policy **out, wd_err *e);

/* wd_policy_load for a document read from the file name: every rejection message starts with
 * name, and a schema error also with the line and column of the node its path names
 * ("policy.yaml:14:7: servers.rules[2].mtach: unknown key (did you mean 'match'?)"); loader
 * errors keep their own position ("policy.yaml: YAML line 3, column 1: ..."). name may be NULL
 * ("policy"). Ownership as for wd_policy_load. */
wd_code wd_policy_load_named(const unsigned char *buf, size_t len, const char *name,
                             wd_policy **out, wd_err *e);

/* wd_policy_load_named on a file read with the WD_MAX_POLICY_BYTES cap ("-" is stdin, named
 * "<stdin>" in messages); I/O problems are WD_E_IO. Ownership as for wd_policy_load. */
wd_code wd_policy_load_file(const char *path, wd_policy **out, wd_err *e);

/* The policy built into warden (used by `warden run` without --policy; see docs/POLICY.md).
 * Its YAML text is static (never free it); loading it fails only with WD_E_NOMEM. */
const char *wd_policy_default_yaml(void);
wd_code wd_policy_load_default(wd_policy **out, wd_err *e);

/* Take another reference (returns p) / drop one; the last unref frees. Both are thread-safe;
 * a compiled policy is never modified, so any number of threads may decide with it at once. */
wd_policy *wd_policy_ref(wd_policy *p);
void wd_policy_unref(wd_policy *p);

typedef struct wd_policy_info {
    wd_policy_mode mode;
    size_t server_rules;
    size_t tool_rules;
    size_t profiles;
    bool has_servers;        /* a servers section is present */
    bool has_tools;          /* an mcp_tool_policy section is present */
    size_t bytes;            /* memory held by the compiled policy, regexes included */
} wd_policy_info;

/* Counts and sizes of a compiled policy. Never fails. */
void wd_policy_get_info(const wd_policy *p, wd_policy_info *info);

/* A permission profile of the policy by name, or NULL. The profile belongs to p. */
const wd_profile *wd_policy_find_profile(const wd_policy *p, const char *name);

/* True when name matches one of the profile's env globs. Never allocates. */
bool wd_profile_env_allowed(const wd_profile *profile, const char *name);

/* Decide whether the server described by rc may be created (SPEC §6 decision rule): the first
 * matching deny rule in file order denies; else the first matching allow rule whose
 * limits.profile admits the requested permissions allows (when matching allow rules exist but
 * none admits them, the first one denies, naming the permission that exceeds its profile); else
 * servers.default (deny when there is no servers section). Audit mode turns a deny into an
 * allow with audit_would_deny. rc missing its name, or asking for a profile the policy lacks,
 * is denied. Allocates nothing: the only scratch is on the stack (a few KiB). */
void wd_policy_decide_server(const wd_policy *p, const wd_runconfig *rc, wd_decision *d);

/* Decide a tool call: first matching deny rule denies; else the first matching warn rule
 * allows with warn set, else the first matching allow rule allows; else mcp_tool_policy.default
 * (allow when the section is missing). A regex that hits WD_REGEX_MATCH_LIMIT or
 * WD_REGEX_DEPTH_LIMIT counts as matching in a deny rule and not matching otherwise.
 * Allocates nothing: PCRE2's match data and frames come from a 64 KiB arena on the stack. */
void wd_policy_decide_tool(const wd_policy *p, const wd_tool_call *call, wd_decision *d);

/* One step of an explanation: a rule considered and why it matched or not. */
typedef struct wd_explain_step {
    const char *section;  /* "servers" or "mcp_tool_policy" */
    size_t index;         /* the rule's position in its section, from 0 */
    const char *rule;     /* its name */
    const char *action;   /* allow | deny | warn */
    bool matched;
    const char *detail;   /* why, e.g. "command 'bash' matched 'bash'"; valid during the call */
} wd_explain_step;

typedef void (*wd_explain_fn)(void *arg, const wd_explain_step *step);

/* The same decisions, walking every rule in file order (no index) and calling fn for each rule
 * considered, so `warden gate check --explain` can show why. The decision equals the one of
 * wd_policy_decide_server / _tool. Never fails. */
void wd_policy_explain_server(const wd_policy *p, const wd_runconfig *rc, wd_explain_fn fn,
                              void *arg, wd_decision *d);
void wd_policy_explain_tool(const wd_policy *p, const wd_tool_call *call, wd_explain_fn fn,
                            void *arg, wd_decision *d);

#ifdef __cplusplus
}
#endif
#endif
