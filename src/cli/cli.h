/* cli.h — what every warden command shares: reporting results with SPEC §9's exit codes and
 * lines, usage errors, --help, and reading input files under a size cap. Commands stay thin:
 * they parse flags, call libwarden, and report through these. */
#ifndef WD_CLI_H
#define WD_CLI_H

#include <stdbool.h>
#include <stddef.h>

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

/* Print "warden: <message>" and the usage text to stderr; return 2. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
int cmd_agent(int argc, char **argv);

#endif
