/* run.h — `warden run` as the enforcement process (SPEC §8, §13.4, §14): decide with the gate,
 * start the MCP server behind pipes, relay its stdio through the proxy's message logic, follow
 * the policy (a file or the agent's state directory) while it runs, stop it when the policy no
 * longer allows it, and restart it on failure when asked and allowed.
 * It must never start (or restart) the server after a denial, never write anything but relayed
 * protocol lines and the proxy's answers to stdout, never print an environment value, and
 * never hold an unbounded amount of either side's data. */
#ifndef WARDEN_RUNNER_RUN_H
#define WARDEN_RUNNER_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "warden/error.h"
#include "warden/runconfig.h"

/* Seconds between SIGTERM and SIGKILL when warden stops the server. */
#define WD_RUN_STOP_GRACE_S 10
/* Restart backoff: the first delay and the cap, in milliseconds (doubling; see run.c). */
#define WD_RUN_BACKOFF_FIRST_MS 500
#define WD_RUN_BACKOFF_MAX_MS 30000

/* What to do when the server exits. */
typedef enum wd_restart_mode {
    WD_RESTART_NO = 0,     /* never: warden exits with the server's status */
    WD_RESTART_ON_FAILURE, /* a non-zero exit, or a signal warden did not send */
} wd_restart_mode;

/* Parse "no", "on-failure" or "on-failure:N" (N a decimal 1..1000000; without N there is no
 * limit). On error WD_E_USAGE with the reason and nothing is changed. */
wd_code wd_restart_parse(const char *s, wd_restart_mode *mode, unsigned *max, wd_err *e);

/* In the child, right before exec: the last chance to refuse. Returns 0 to go on, or the exit
 * code the child exits with (after writing its own one-line reason on stderr). It runs after
 * fork in the child only: it must not touch the parent's state. */
typedef int (*wd_spawn_precheck)(void *ctx);

/* Start argv[0] (an absolute path) with argv and exactly envp, its standard input, output and
 * error on the given fds (dup2'd; every other descriptor warden holds is close-on-exec),
 * default signal dispositions and an empty signal mask; precheck (may be NULL) runs in the
 * child right before execve. A failed execve exits the child with 127 (ENOENT) or 126.
 * On success *pid is the child; on error (fork failed: WD_E_IO) nothing was started.
 * This is the one place a server process is created: the sandbox replaces it. */
typedef wd_code (*wd_spawn_fn)(char *const argv[], char *const envp[], int in_fd, int out_fd,
                               int err_fd, wd_spawn_precheck precheck, void *ctx, pid_t *pid,
                               wd_err *e);
wd_code wd_spawn_plain(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
                       wd_spawn_precheck precheck, void *ctx, pid_t *pid, wd_err *e);

/* Everything `warden run` was asked. Nothing is owned; all of it must outlive wd_runner_run. */
typedef struct wd_run_opts {
    const wd_runconfig *rc;   /* what the gate decides on; rc->command[0] is the program */
    char *const *argv;        /* the server's argv (argv[0] is replaced by rc->command[0]) */
    const char *policy_path;  /* --policy FILE, followed while running; NULL: the built-in one */
    const char *state_dir;    /* --state-dir DIR (not with policy_path), followed */
    size_t max_message;       /* one MCP line, bytes; 0: WD_MAX_MCP_MESSAGE */
    wd_restart_mode restart;
    unsigned max_restarts;    /* with WD_RESTART_ON_FAILURE: 0 means no limit */
    wd_spawn_fn spawn;        /* NULL: the sandbox (wd_sandbox_spawn), or wd_spawn_plain
                                 with no_sandbox */
    bool no_sandbox;          /* --no-sandbox: start the server unconfined (said on stderr
                                 and recorded) */
    const char *recorder_dir; /* --recorder DIR; NULL: with state_dir, the agent's recorder
                                 (state_dir/recorder.json) when it has one, else none */
    const char *recorder_key; /* --recorder-key KEY: signs checkpoints (may be NULL) */
} wd_run_opts;

/* Run the server under the policy: load the policy (the file, the built-in one, or the state
 * directory's), ask the gate, start the server, relay and supervise until it is over.
 * Returns WD_OK when a server was started; *exit_status is then warden's exit code: the
 * server's status (128+N for signal N), or 3 after policy_stopped. Any other return: nothing
 * was started and e says why (the caller reports it: cli_report prints a denial as its
 * message, a rejection as "rejected (<code>): ..."). Lines on stderr: the audit note, the
 * policy_stopped line, reload errors. */
wd_code wd_runner_run(const wd_run_opts *o, int *exit_status, wd_err *e);

#endif
