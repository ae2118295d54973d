/* cli.h — what every warden command shares: reporting results with SPEC §9's exit codes and
 * lines, usage errors, --help, and reading input files under a size cap. Commands stay thin:
 * they parse flags, call libwarden, and report through these. */
#ifndef WD_CLI_H
#define WD_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "gate/tool_args.h"
#include "warden/error.h"
#include "warden/gate.h"
#include "warden/policy.h"

/* One command group: "warden <name> ...". fn gets argc/argv starting at the group name. */
typedef struct cli_group {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
} cli_group;

/* Report e on stderr and return its exit code: a rejection prints exactly
 * "rejected (<code>): <message>"; a denial prints the message; others "warden: <message>". */
int cli_report(const wd_err *e);

/* Print one line to stderr naming the command (taken from the "usage: warden ..." line of
 * usage) and pointing at its help: "warden: bundle create: missing --org (see 'warden bundle
 * create --help')"; return 2. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* After getopt_long returned '?': "--NAME needs a value" when argv[optind-1] is a known option
 * that lacks its value, else "unknown option: ARG", through cli_usage_error; returns 2. */
struct option;
int cli_option_error(const char *usage, const struct option *opts, char **argv);

/* True when argv[1..] holds -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);

/* Print usage to stdout and return 0 (for --help). */
int cli_help(const char *usage);

/* Parse "k=v" into key/value (pointers into a copy the caller frees via *buf). */
bool cli_split_kv(const char *s, char **buf, const char **k, const char **v);

/* Load the policy document at path, or the built-in policy when path is NULL. On error *out is
 * NULL and e says why; on success the caller releases *out with wd_policy_unref. */
wd_code cli_load_policy(const char *path, wd_policy **out, wd_err *e);

/* Register the policy gate for p in the gate chain. On success *id names it for
 * wd_gate_unregister; on error nothing stays registered or allocated and e says why. */
wd_code cli_register_policy_gate(wd_policy *p, wd_gate_id *id, wd_err *e);

/* The arguments of a tool call built from a JSON object: the library's wd_tool_args
 * (gate/tool_args.h), shared with the proxy of warden run. A string value is passed as its text,
 * any other value as its compact JSON; keys and string values point into the object, which must
 * outlive the result. */
typedef wd_tool_args cli_tool_args;

/* wd_tool_args_from with the WD_MAX_TOOL_ARGS cap: obj not an object is WD_E_MALFORMED
 * ("<what>: expected a JSON object"), more is WD_E_OVERSIZED ("<what>: more than 65536 bytes of
 * arguments"). On error *out is empty and nothing is left allocated; on success free it with
 * cli_tool_args_free. */
wd_code cli_tool_args_from(const json_t *obj, const char *what, cli_tool_args *out, wd_err *e);
void cli_tool_args_free(cli_tool_args *a);

/* Groups, one file each (src/cli/cmd_<name>.c). */
int cmd_key(int argc, char **argv);
int cmd_dsse(int argc, char **argv);
int cmd_roster(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_pki(int argc, char **argv);
int cmd_leader(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#endif
