/* sandbox_run.c — the internal test driver of the sandbox (docs/SANDBOX.md, "Testing"): plan
 * a sandbox from a permission profile given as JSON and run a command in it, the way
 * `warden run` does: streams passed through, the environment filtered by the profile's env
 * globs, SIGTERM/SIGINT passed on, the server's exit status returned.
 *   sandbox_run [--pre-exec-exit N] PROFILE.json|- -- /ABS/EXE [ARGS...]
 * "-" is the strictest sandbox (no profile). On a plan or spawn error it prints
 * "sandbox_run: <code>: <message>" and exits as warden would (1 operational, 2 usage,
 * 3 rejected). It is a test fixture: it must never be installed or used to start servers. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "sandbox.h"
#include "policy/runconfig_json.h"
#include "warden/policy.h"

extern char **environ;

static int fail(const wd_err *e)
{
    fprintf(stderr, "sandbox_run: %s: %s\n", wd_code_name(e->code), e->msg);
    return wd_code_exit(e->code);
}

static int pre_exec_exit(void *ctx)
{
    return *(int *)ctx;
}

int main(int argc, char **argv)
{
    int i = 1, pre = -1;
    if (i + 1 < argc && strcmp(argv[i], "--pre-exec-exit") == 0) {
        pre = atoi(argv[i + 1]);
        i += 2;
    }
    if (argc - i < 3 || strcmp(argv[i + 1], "--") != 0) {
        fprintf(stderr, "usage: sandbox_run [--pre-exec-exit N] PROFILE.json|- -- /ABS/EXE "
                        "[ARGS...]\n");
        return 2;
    }
    const char *prof_path = argv[i];
    char **args = argv + i + 2;
    wd_err e;
    wd_err_clear(&e);
    wd_runconfig *rc = NULL;
    const wd_profile *prof = NULL;
    if (strcmp(prof_path, "-") != 0) {
        json_error_t je;
        json_t *p = json_load_file(prof_path, JSON_REJECT_DUPLICATES, &je);
        if (p == NULL) {
            fprintf(stderr, "sandbox_run: %s: %s\n", prof_path, je.text);
            return 2;
        }
        json_t *cfg = json_pack("{s:s, s:[s], s:o}", "name", "sandbox-test", "command", args[0],
                                "permission_profile", p);
        wd_code r = cfg != NULL ? wd_runconfig_from_json(cfg, &rc, &e)
                                : wd_err_set(&e, WD_E_NOMEM, "out of memory");
        json_decref(cfg);
        if (r != WD_OK)
            return fail(&e);
        prof = rc->profile;
    }
    /* the environment warden run would give: only what the profile's env globs allow */
    size_t ne = 0;
    while (environ[ne] != NULL)
        ne++;
    char **envp = calloc(ne + 1, sizeof *envp);
    if (envp == NULL)
        return 1;
    size_t k = 0;
    for (size_t j = 0; j < ne && prof != NULL; j++) {
        char name[256];
        const char *eq = strchr(environ[j], '=');
        size_t nl = eq ? (size_t)(eq - environ[j]) : 0;
        if (nl == 0 || nl >= sizeof name)
            continue;
        memcpy(name, environ[j], nl);
        name[nl] = '\0';
        if (wd_profile_env_allowed(prof, name))
            envp[k++] = environ[j];
    }
    wd_sandbox *sb = NULL;
    int status = 1;
    if (wd_sandbox_new(prof, args[0], &sb, &e) != WD_OK) {
        status = fail(&e);
        goto out;
    }
    sigset_t block, prev;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &prev);
    pid_t pid;
    if (wd_sandbox_spawn(sb, args, envp, 0, 1, 2, pre >= 0 ? pre_exec_exit : NULL, &pre, &pid,
                         &e) != WD_OK) {
        sigprocmask(SIG_SETMASK, &prev, NULL);
        status = fail(&e);
        goto out;
    }
    /* pass SIGTERM and SIGINT on to the sandbox's init until it exits */
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        siginfo_t si;
        int sig = sigtimedwait(&block, &si, &ts);
        if (sig > 0)
            kill(pid, sig);
    }
    sigprocmask(SIG_SETMASK, &prev, NULL);
out:
    wd_sandbox_free(sb);
    free(envp);
    wd_runconfig_free(rc);
    return status;
}
