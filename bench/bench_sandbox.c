/* bench_sandbox.c — start-up cost of the sandbox: the time from asking to start /bin/true to
 * having reaped it, with the full sandbox (network none: user, mount, PID, IPC, UTS and network
 * namespaces, /proc mounted, loopback up, capabilities dropped, Landlock, seccomp), with
 * network host (no network namespace), and with a plain fork/exec; the runs are interleaved so
 * that load on the machine hits all three alike. Also the plan (wd_sandbox_new, which includes
 * a dry run of the set-up). Prints p50/p99 in ms; it never asserts timings.
 *   bench_sandbox [RUNS]   (default 200) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    int i99 = (n * 99 + 99) / 100 - 1;
    printf("%-44s p50 %7.2f ms   p99 %7.2f ms   (n=%d)\n", what, (double)v[n / 2] / 1e6,
           (double)v[i99 < 0 ? 0 : i99] / 1e6, n);
}

/* CPU time (user + system) of this process and its reaped children, in ns: a figure the load
 * of a shared machine does not inflate the way it inflates wall-clock time. */
static uint64_t cpu_ns(void)
{
    struct rusage s, c;
    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    uint64_t us = (uint64_t)(s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec +
                             c.ru_stime.tv_sec) * 1000000u +
                  (uint64_t)(s.ru_utime.tv_usec + s.ru_stime.tv_usec + c.ru_utime.tv_usec +
                             c.ru_stime.tv_usec);
    return us * 1000u;
}

static int wait_ok(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 200;
    if (runs < 1 || runs > 100000) {
        fprintf(stderr, "usage: bench_sandbox [RUNS]\n");
        return 2;
    }
    char *const targv[] = {"/bin/true", NULL};
    char *const tenv[] = {NULL};
    wd_profile host;
    memset(&host, 0, sizeof host);
    host.network = WD_NET_HOST;
    uint64_t *plan = calloc((size_t)runs, sizeof *plan), *full = calloc((size_t)runs, sizeof *full),
             *hostv = calloc((size_t)runs, sizeof *hostv), *plain = calloc((size_t)runs, sizeof *plain);
    if (!plan || !full || !hostv || !plain)
        return 1;
    wd_err e;
    wd_sandbox *sb_none = NULL, *sb_host = NULL;
    for (int i = 0; i < runs; i++) {
        wd_sandbox *t = NULL;
        uint64_t t0 = now_ns();
        if (wd_sandbox_new(NULL, "/bin/true", &t, &e) != WD_OK) {
            fprintf(stderr, "bench_sandbox: %s\n", e.msg);
            return 1;
        }
        plan[i] = now_ns() - t0;
        wd_sandbox_free(t);
    }
    if (wd_sandbox_new(NULL, "/bin/true", &sb_none, &e) != WD_OK ||
        wd_sandbox_new(&host, "/bin/true", &sb_host, &e) != WD_OK) {
        fprintf(stderr, "bench_sandbox: %s\n", e.msg);
        return 1;
    }
    uint64_t cpu[3] = {0, 0, 0};
    for (int i = 0; i < runs; i++) {
        pid_t pid;
        uint64_t c0 = cpu_ns();
        uint64_t t0 = now_ns();
        if (wd_sandbox_spawn(sb_none, targv, tenv, 0, 1, 2, NULL, NULL, &pid, &e) != WD_OK ||
            wait_ok(pid) != 0) {
            fprintf(stderr, "bench_sandbox: full sandbox run failed: %s\n", e.msg);
            return 1;
        }
        full[i] = now_ns() - t0;
        cpu[0] += cpu_ns() - c0;
        c0 = cpu_ns();
        t0 = now_ns();
        if (wd_sandbox_spawn(sb_host, targv, tenv, 0, 1, 2, NULL, NULL, &pid, &e) != WD_OK ||
            wait_ok(pid) != 0) {
            fprintf(stderr, "bench_sandbox: host sandbox run failed: %s\n", e.msg);
            return 1;
        }
        hostv[i] = now_ns() - t0;
        cpu[1] += cpu_ns() - c0;
        c0 = cpu_ns();
        t0 = now_ns();
        pid = fork();
        if (pid == 0) {
            execve(targv[0], targv, tenv);
            _exit(127);
        }
        if (pid < 0 || wait_ok(pid) != 0) {
            fprintf(stderr, "bench_sandbox: plain fork/exec failed\n");
            return 1;
        }
        plain[i] = now_ns() - t0;
        cpu[2] += cpu_ns() - c0;
    }
    report("plan (wd_sandbox_new, with its dry run)", plan, runs);
    report("spawn+reap /bin/true, full sandbox (none)", full, runs);
    report("spawn+reap /bin/true, sandbox, network host", hostv, runs);
    report("spawn+reap /bin/true, plain fork/exec", plain, runs);
    printf("CPU per run (user+sys, warden and children): full %.2f ms, host %.2f ms, plain "
           "%.2f ms\n",
           (double)cpu[0] / runs / 1e6, (double)cpu[1] / runs / 1e6, (double)cpu[2] / runs / 1e6);
    wd_sandbox_free(sb_none);
    wd_sandbox_free(sb_host);
    free(plan);
    free(full);
    free(hostv);
    free(plain);
    return 0;
}
