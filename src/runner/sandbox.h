/* sandbox.h — the confinement `warden run` starts an MCP server in, built from the effective
 * permission profile (SPEC §14.2, §6): new user, mount, PID, IPC and UTS namespaces (and a
 * network namespace with only loopback unless the profile says `network: host`), no_new_privs,
 * no capabilities, a seccomp filter and Landlock rules for the filesystem and TCP ports; for
 * allow_hosts an HTTP CONNECT proxy warden runs for the server. docs/SANDBOX.md describes it all.
 * It must never start a server less confined than its profile says: a kernel feature the
 * profile needs that is missing is an error naming it, never a silent downgrade. */
#ifndef WARDEN_RUNNER_SANDBOX_H
#define WARDEN_RUNNER_SANDBOX_H

#include <sys/types.h>

#include "warden/error.h"
#include "warden/runconfig.h"

/* The port the CONNECT proxy listens on inside the server's own network namespace
 * (allow_hosts): the namespace is new, so the port is always free there. */
#define WD_SANDBOX_PROXY_PORT 3128

/* Longest CONNECT request head the proxy reads. */
#define WD_SANDBOX_PROXY_MAX_HEAD 8192
/* Most tunnels the proxy holds open at once; one more is answered 503. */
#define WD_SANDBOX_PROXY_MAX_CONN 64

typedef struct wd_sandbox wd_sandbox;

/* How `warden run` uses it, in place of its fork/exec (eff: the effective profile or NULL;
 * last_check: the child's gate re-check, returning 0 or the exit status):
 *     wd_sandbox *sb = NULL;
 *     if (wd_sandbox_new(eff, rc->command[0], &sb, &e) != WD_OK)
 *         return cli_report(&e);
 *     pid_t pid;
 *     if (wd_sandbox_spawn(sb, args, envp, 0, 1, 2, last_check, &ctx, &pid, &e) != WD_OK) {
 *         wd_sandbox_free(sb);
 *         return cli_report(&e);
 *     }
 *     ... signal and waitpid(pid) exactly as for a forked child ...
 *     wd_sandbox_free(sb);
 */

/* Plan a sandbox: check that the profile can be expressed exactly (every read/write glob is
 * an absolute exact path or DIR/ followed by two stars) and that the kernel can do everything
 * it needs (user, mount, PID, IPC, UTS namespaces; a network namespace unless network is host;
 * Landlock ABI >= 3 for the filesystem, >= 4 when ports are restricted; seccomp filters).
 * profile NULL is the strictest one: network none, nothing beyond the system set, no env.
 * exe is the absolute path of the server's executable (it is made readable and executable).
 * Errors: WD_E_USAGE for a relative exe, WD_E_INVALID_POLICY for a glob Landlock cannot
 * express (the message names it), WD_E_IO for a missing kernel feature (the message names
 * it), WD_E_NOMEM. On success the caller owns *out (wd_sandbox_free); on error *out is NULL.
 * The profile is copied: it need not outlive the call. */
wd_code wd_sandbox_new(const wd_profile *profile, const char *exe, wd_sandbox **out, wd_err *e);

/* Start the server exe with argv/envp confined; in_fd/out_fd/err_fd become its 0/1/2 and every
 * other descriptor of the caller is closed on exec. With allow_hosts, HTTPS_PROXY, HTTP_PROXY,
 * https_proxy and http_proxy are added to envp (replacing any the caller passed) and the
 * CONNECT proxy starts (or is restarted, for a respawn). pre_exec (may be NULL) runs in the
 * child, inside the new namespaces with the caller's uid and gid mapped, before any mount,
 * capability drop, seccomp or Landlock rule: warden's last gate check; a non-zero return is
 * the child's exit status and nothing is executed. *pid is the sandbox's init (PID 1 of its
 * PID namespace, a child of the caller): signal it (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
 * SIGUSR2 are passed on to the server) and waitpid() it; it exits with the server's status, or
 * 128+N when the server was killed by signal N. Errors (the child could not be created or
 * could not set up its confinement: the message says what) return WD_E_IO with the child
 * already reaped and *pid = -1. Returns once the server has been executed (or pre_exec has
 * refused, or the child failed): a pre_exec that blocks blocks the caller. The sandbox is
 * killed when the calling THREAD ends (PR_SET_PDEATHSIG): call it from a thread that lives as
 * long as the server. Not thread-safe with respect to the same sb. */
wd_code wd_sandbox_spawn(wd_sandbox *sb, char *const argv[], char *const envp[], int in_fd,
                         int out_fd, int err_fd, int (*pre_exec)(void *), void *ctx, pid_t *pid,
                         wd_err *e);

/* Free the plan; stops the CONNECT proxy if one runs (open tunnels are cut). NULL is a no-op. */
void wd_sandbox_free(wd_sandbox *sb);

/* The Landlock ABI this kernel offers (0: none), after the test hook WARDEN_TEST_LANDLOCK_ABI
 * (which can only lower it). Exposed for tests and `--explain` style diagnostics. */
int wd_sandbox_landlock_abi(void);

#endif
