/* benchutil.c — the pieces bench_leader and bench_fleet share (see benchutil.h). Bench code
 * only: it connects to loopback addresses and nothing else, and is never part of warden. */
#include "benchutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---------- histogram ---------- */

static unsigned hist_idx(uint64_t v)
{
    if (v < 2 * BU_HSUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);   /* >= 7 */
    uint64_t m = v >> (msb - 6);                          /* 64..127 */
    return 2 * BU_HSUB + (msb - 7) * BU_HSUB + (unsigned)(m - BU_HSUB);
}

static uint64_t hist_val(unsigned i)
{
    if (i < 2 * BU_HSUB)
        return i;
    unsigned k = i - 2 * BU_HSUB, e = k / BU_HSUB;
    uint64_t m = BU_HSUB + k % BU_HSUB, low = m << (e + 1), width = (uint64_t)1 << (e + 1);
    return low + width / 2;
}

void bu_hist_add(bu_hist *h, uint64_t v)
{
    h->b[hist_idx(v)]++;
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

void bu_hist_merge(bu_hist *into, const bu_hist *h)
{
    for (unsigned i = 0; i < BU_HBUCKETS; i++)
        into->b[i] += h->b[i];
    into->n += h->n;
    into->sum += h->sum;
    if (h->max > into->max)
        into->max = h->max;
}

uint64_t bu_hist_q(const bu_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < BU_HBUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = hist_val(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---------- clocks, errors ---------- */

uint64_t bu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bu_sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

_Noreturn void bu_die_ssl(const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s\n", prog, what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* ---------- /proc ---------- */

static long rss_kib1(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) {
            v = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

long bu_rss_kib(const char *pids)
{
    long sum = 0;
    const char *p = pids;
    while (*p != '\0') {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p || pid <= 0 || (*end != ',' && *end != '\0'))
            return -1;
        long v = rss_kib1(pid);
        if (v < 0)
            return -1;
        sum += v;
        p = *end == ',' ? end + 1 : end;
    }
    return sum;
}

double bu_cpu_s(const char *pids)
{
    double sum = 0;
    long hz = sysconf(_SC_CLK_TCK);
    const char *p = pids;
    while (*p != '\0') {
        char *end, path[64], buf[1024];
        long pid = strtol(p, &end, 10);
        if (end == p || pid <= 0 || (*end != ',' && *end != '\0'))
            return -1;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            return -1;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* fields after the command name, which ends at the last ')': state is field 3,
         * utime 14 and stime 15 */
        char *q = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (q == NULL || sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                &ut, &st) != 2)
            return -1;
        sum += (double)(ut + st) / (double)hz;
        p = *end == ',' ? end + 1 : end;
    }
    return sum;
}

double bu_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
           + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

long bu_raise_nofile(const char *prog, long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < (rlim_t)want) {
        rl.rlim_cur = (rlim_t)want < rl.rlim_max ? (rlim_t)want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < (rlim_t)want)
        fprintf(stderr, "%s: warning: RLIMIT_NOFILE is %lu (hard limit %lu) < %ld\n", prog,
                (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max, want);
    return (long)rl.rlim_cur;
}

/* ---------- TLS and sockets ---------- */

SSL_CTX *bu_client_ctx(const char *prog, const char *ca_file, const char *servername,
                       const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        bu_die_ssl(prog, "SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);   /* fewer reads; every loop drains to WANT_READ */
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
        bu_die_ssl(prog, "cannot load --ca");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(ctx);
    if (X509_VERIFY_PARAM_set1_host(vp, servername, 0) != 1)
        bu_die_ssl(prog, "bad --servername");
    if (cert != NULL && key != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
            bu_die_ssl(prog, "cannot load --cert");
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
            bu_die_ssl(prog, "cannot load --key");
        if (SSL_CTX_check_private_key(ctx) != 1)
            bu_die_ssl(prog, "--cert and --key do not match");
    }
    return ctx;
}

int bu_connect_loopback(int port, int src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src > 0 && src < 255) {
        struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = 0 };
        la.sin_addr.s_addr = htonl(INADDR_LOOPBACK - 1u + (uint32_t)src);   /* 127.0.0.src */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&la, sizeof la) != 0) {
            int err = errno;
            close(fd);
            errno = err;
            return -1;
        }
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* ---------- HTTP response head ---------- */

static bool header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

int bu_parse_head(const char *buf, size_t n, size_t cap, bu_head *h)
{
    const char *end = memmem(buf, n, "\r\n\r\n", 4);
    if (end == NULL)
        return n >= cap ? -1 : 0;
    size_t head = (size_t)(end - buf) + 4;
    if (n < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)buf[9]))
        return -1;
    h->len = head;
    h->status = atoi(buf + 9);
    h->content_length = -1;
    h->close_after = strncmp(buf, "HTTP/1.0", 8) == 0;
    const char *line = (const char *)memchr(buf, '\n', head) + 1;
    while (line < buf + head - 2) {
        const char *eol = memchr(line, '\r', (size_t)(buf + head - line));
        size_t len = (size_t)(eol - line);
        if (header_is(line, len, "content-length"))
            h->content_length = strtol(line + 15, NULL, 10);
        else if (header_is(line, len, "transfer-encoding"))
            return -1;
        else if (header_is(line, len, "connection")) {
            if (memmem(line, len, "close", 5) != NULL)
                h->close_after = true;
            else if (memmem(line, len, "keep-alive", 10) != NULL)
                h->close_after = false;
        }
        line = eol + 2;
    }
    if (h->status == 304 || h->status == 204 || (h->status >= 100 && h->status < 200))
        h->content_length = 0;
    if (h->content_length < 0)
        return -1;   /* read-until-close bodies are not supported */
    return 1;
}
