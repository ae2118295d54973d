/* spawn.c — the plain way `warden run` creates the server process (fork + execve), behind the
 * one spawn function the sandbox replaces (see run.h). It must never exec when the pre-exec
 * check refuses, never leave one of warden's descriptors to the server beyond 0, 1 and 2, and
 * never print an environment value. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* In the child: fd onto target, open across exec. */
static int put_fd(int fd, int target)
{
    if (fd == target) {
        /* already in place (dup2 would do nothing): only clear close-on-exec */
        int f = fcntl(fd, F_GETFD);
        return f < 0 ? -1 : fcntl(fd, F_SETFD, f & ~FD_CLOEXEC);
    }
    return dup2(fd, target) < 0 ? -1 : 0;
}

wd_code wd_spawn_plain(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
                       wd_spawn_precheck precheck, void *ctx, pid_t *pid, wd_err *e)
{
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0)
        return wd_err_set(e, WD_E_IO, "cannot fork: %s", strerror(errno));
    if (p == 0) {
        /* the child: its own fds, default signals, the check once more, then exec */
        if (put_fd(in_fd, 0) != 0 || put_fd(out_fd, 1) != 0 || put_fd(err_fd, 2) != 0) {
            fprintf(stderr, "warden: cannot set up the server's standard streams: %s\n",
                    strerror(errno));
            _exit(126);
        }
        /* a server never outlives warden unsupervised: killed with it (even by SIGKILL) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        static const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGCHLD};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (precheck != NULL) {
            int rc = precheck(ctx);
            if (rc != 0)
                _exit(rc);
        }
        execve(argv[0], argv, envp);
        int err = errno;
        char shown[200];
        snprintf(shown, sizeof shown, "%.180s", argv[0]);
        fprintf(stderr, "warden: cannot run %s: %s\n", shown, strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }
    *pid = p;
    return WD_OK;
}
