/* bench_proxy.c — what `warden run`'s proxy adds to an MCP session: request/response round trips
 * (tools/call echo with a 1 KiB and a 64 KiB argument) against the same echo server, once over a
 * bare pipe and once through `warden run` (relay + proxy message logic + the tool-call gate with
 * a small policy). Prints p50 and p99 round-trip latency for both, the added latency, and the
 * throughput of a pipelined run (16 KiB of requests in flight: 16 of 1 KiB, one of 64 KiB) as
 * a ratio. The echo server is this
 * program (`bench_proxy --echo`). It never asserts timings: numbers are for reading.
 * Usage: bench_proxy [--warden PATH] (default: ../src/cli/warden next to this program). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Requests in flight in the pipelined run: as many as fit in 16 KiB (at least one), so that a
 * bare pipe (64 KiB of kernel buffer each way, no relay buffering) cannot deadlock. */
#define INFLIGHT_BYTES (16 * 1024)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the echo server: answers each tools/call line with its message as the result ---- */

static int echo_server(void)
{
    static const char pre[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    static const char key[] = "\"message\":\"";
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return 1;
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl == NULL) {
            if (len == cap) {
                char *nb = realloc(buf, cap *= 2);
                if (nb == NULL)
                    return 1;
                buf = nb;
            }
            ssize_t n = read(0, buf + len, cap - len);
            if (n <= 0)
                return 0;
            len += (size_t)n;
            continue;
        }
        *nl = '\0';
        /* the id follows "id": in the request; the message follows "message":" */
        const char *id = strstr(buf, "\"id\":");
        const char *msg = strstr(buf, key);
        if (id != NULL && msg != NULL) {
            id += 5;
            size_t idl = strcspn(id, ",}");
            msg += sizeof key - 1;
            size_t ml = strcspn(msg, "\"");
            printf("%s%.*s,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"%.*s\"}]}}\n",
                   pre, (int)idl, id, (int)ml, msg);
            fflush(stdout);
        }
        size_t used = (size_t)(nl - buf) + 1;
        memmove(buf, buf + used, len - used);
        len -= used;
    }
}

/* ---- the client side ---- */

typedef struct peer {
    pid_t pid;
    FILE *to;   /* its stdin */
    FILE *from; /* its stdout */
} peer;

static bool start(peer *p, char *const argv[])
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return false;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->pid = pid;
    p->to = fdopen(in[1], "w");
    p->from = fdopen(out[0], "r");
    return p->to != NULL && p->from != NULL;
}

static int stop(peer *p)
{
    fclose(p->to);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, p->from) > 0)
        ;
    free(line);
    fclose(p->from);
    int st = 0;
    waitpid(p->pid, &st, 0);
    return st;
}

static void send_req(peer *p, long id, const char *pad)
{
    fprintf(p->to, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"tools/call\",\"params\":{\"name\":"
                   "\"echo\",\"arguments\":{\"message\":\"%s\"}}}\n", id, pad);
}

static bool recv_resp(peer *p, char **line, size_t *cap, size_t want)
{
    ssize_t n = getline(line, cap, p->from);
    return n > 0 && (size_t)n >= want;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct result {
    double p50_us, p99_us, mib_s;
} result;

/* samples sequential round trips, then `piped` requests with WINDOW in flight. */
static bool measure(char *const argv[], size_t size, int samples, int piped, result *r)
{
    peer p;
    if (!start(&p, argv))
        return false;
    char *pad = malloc(size + 1);
    uint64_t *t = calloc((size_t)samples, sizeof *t);
    char *line = NULL;
    size_t cap = 0;
    bool ok = pad != NULL && t != NULL;
    if (ok) {
        memset(pad, 'a', size);
        pad[size] = '\0';
    }
    /* warm-up */
    for (int i = 0; ok && i < 50; i++) {
        send_req(&p, i, pad);
        fflush(p.to);
        ok = recv_resp(&p, &line, &cap, size);
    }
    for (int i = 0; ok && i < samples; i++) {
        uint64_t t0 = now_ns();
        send_req(&p, 1000 + i, pad);
        fflush(p.to);
        ok = recv_resp(&p, &line, &cap, size);
        t[i] = now_ns() - t0;
    }
    if (ok) {
        qsort(t, (size_t)samples, sizeof *t, cmp_u64);
        r->p50_us = (double)t[samples / 2] / 1e3;
        r->p99_us = (double)t[(size_t)samples * 99 / 100] / 1e3;
        uint64_t t0 = now_ns();
        int sent = 0, got = 0;
        while (ok && got < piped) {
            int window = size >= INFLIGHT_BYTES ? 1 : (int)(INFLIGHT_BYTES / size);
            while (sent < piped && sent - got < window) {
                send_req(&p, 100000 + sent, pad);
                sent++;
            }
            fflush(p.to);
            ok = recv_resp(&p, &line, &cap, size);
            got++;
        }
        double s = (double)(now_ns() - t0) / 1e9;
        r->mib_s = (double)piped * (double)size * 2.0 / (1024.0 * 1024.0) / s;
    }
    free(line);
    free(pad);
    free(t);
    int st = stop(&p);
    return ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--echo") == 0)
        return echo_server();
    signal(SIGPIPE, SIG_IGN);
    char self[PATH_MAX], warden[PATH_MAX + 32];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "bench_proxy: cannot find itself\n");
        return 1;
    }
    self[sl] = '\0';
    if (argc == 3 && strcmp(argv[1], "--warden") == 0) {
        snprintf(warden, sizeof warden, "%s", argv[2]);
    } else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", self);
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(warden, sizeof warden, "%s/../src/cli/warden", dir);
    }
    if (access(warden, X_OK) != 0) {
        fprintf(stderr, "bench_proxy: no warden at %s (use --warden PATH)\n", warden);
        return 1;
    }
    /* The policy sits in a directory of its own: warden watches the policy's directory, and
     * other programs' files coming and going in /tmp would wake it and be measured too. */
    char pdir[] = "/tmp/bench_proxy_XXXXXX";
    if (mkdtemp(pdir) == NULL)
        return 1;
    char policy[sizeof pdir + 16];
    snprintf(policy, sizeof policy, "%s/policy.yaml", pdir);
    FILE *pf = fopen(policy, "w");
    if (pf == NULL) {
        rmdir(pdir);
        return 1;
    }
    fprintf(pf, "version: 1\nservers:\n  default: deny\n  rules:\n    - name: bench\n"
                "      action: allow\n      match: {name: [echo-bench], command: [\"%s\"]}\n"
                "mcp_tool_policy:\n  default: allow\n  rules:\n    - name: no-writes\n"
                "      action: deny\n      tool: [\"write_*\", \"delete_*\"]\n"
                "    - name: no-etc\n      action: deny\n      tool: [echo]\n"
                "      args:\n        - {key: message, regex: \"^/etc/\"}\n", self);
    fclose(pf);

    char *bare[] = {self, "--echo", NULL};
    char *proxied[] = {warden, "run", "--policy", policy, "--name", "echo-bench", "--", self,
                       "--echo", NULL};
    static const struct {
        size_t size;
        int samples, piped;
    } cases[] = {{1024, 5000, 20000}, {65536, 500, 1000}};
    double load[3];
    if (getloadavg(load, 3) == 3)
        printf("load average %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    printf("proxy round trips: tools/call echo, sequential (p50/p99) and pipelined with 16 KiB "
           "in flight (throughput, request + answer bytes)\n");
    int rc = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result a, b;
        if (!measure(bare, cases[i].size, cases[i].samples, cases[i].piped, &a) ||
            !measure(proxied, cases[i].size, cases[i].samples, cases[i].piped, &b)) {
            fprintf(stderr, "bench_proxy: a run failed (%zu bytes)\n", cases[i].size);
            rc = 1;
            break;
        }
        printf("  %3zu KiB  bare pipe: p50 %7.1f us  p99 %7.1f us  %8.1f MiB/s\n",
               cases[i].size / 1024, a.p50_us, a.p99_us, a.mib_s);
        printf("  %3zu KiB  warden run: p50 %7.1f us  p99 %7.1f us  %8.1f MiB/s\n",
               cases[i].size / 1024, b.p50_us, b.p99_us, b.mib_s);
        printf("  %3zu KiB  added: p50 %+.1f us  p99 %+.1f us  throughput ratio %.2f\n",
               cases[i].size / 1024, b.p50_us - a.p50_us, b.p99_us - a.p99_us, b.mib_s / a.mib_s);
    }
    unlink(policy);
    rmdir(pdir);
    return rc;
}
