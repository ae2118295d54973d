/* benchutil.h — what the leader's load generators (bench_leader, bench_fleet) share: clocks, a
 * latency histogram, a server process's RSS and CPU time from /proc, the TLS 1.3 client
 * context, a nonblocking connect to 127.0.0.x, and the framing of an HTTP/1.1 response head.
 * Bench code only: it must never connect anywhere but a loopback address, and never be
 * linked into warden itself. Functions that cannot go on (OpenSSL setup) exit the program. */
#ifndef WD_BENCHUTIL_H
#define WD_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define BU_HSUB     64     /* histogram: 64 linear sub-buckets per power of two */
#define BU_HBUCKETS 4096

/* Latency histogram (ns), log-linear, ~0.8 % resolution. Zero it with memset to start. */
typedef struct bu_hist {
    uint64_t b[BU_HBUCKETS];
    uint64_t n, max, sum;
} bu_hist;

void bu_hist_add(bu_hist *h, uint64_t v);
void bu_hist_merge(bu_hist *into, const bu_hist *h);
/* The value at quantile q (0..1]; 0 for an empty histogram. */
uint64_t bu_hist_q(const bu_hist *h, double q);

uint64_t bu_now_ns(void);        /* CLOCK_MONOTONIC */
void bu_sleep_s(double s);       /* restarts after signals */
/* Print what and OpenSSL's error queue on stderr, then exit(1). prog prefixes the line. */
_Noreturn void bu_die_ssl(const char *prog, const char *what);

/* The summed VmRSS in KiB of the processes in pids ("PID[,PID...]"), or -1 when one cannot be
 * read. */
long bu_rss_kib(const char *pids);
/* CPU time (user + system, all threads) in seconds of the processes in pids, or -1. */
double bu_cpu_s(const char *pids);
/* This process's own CPU time (user + system) in seconds. */
double bu_self_cpu_s(void);

/* Raise RLIMIT_NOFILE's soft limit to want (never above the hard limit; never lowered).
 * Returns the soft limit in force afterwards; prints a warning naming prog when it is below
 * want. */
long bu_raise_nofile(const char *prog, long want);

/* A TLS 1.3-only client context: no session cache, released buffers, read-ahead, the server
 * verified against ca_file and servername; with cert/key (both non-NULL) as its own
 * certificate, else none (set per connection). Exits on error. The caller frees it. */
SSL_CTX *bu_client_ctx(const char *prog, const char *ca_file, const char *servername,
                       const char *cert, const char *key);

/* Start a nonblocking TCP connect (TCP_NODELAY) to 127.0.0.1:port from source address
 * 127.0.0.<src> (src 0: whatever the kernel picks; 1..254 binds that source address first,
 * without taking a port at bind time, so that each source address has its own ephemeral
 * ports). Returns the socket, or -1 with errno set (on error nothing stays open). */
int bu_connect_loopback(int port, int src);

/* An HTTP/1.1 response head. */
typedef struct bu_head {
    size_t len;          /* bytes of the head, its final CRLFCRLF included */
    int status;
    long content_length; /* 0 for 1xx/204/304; -1 never on success */
    bool close_after;    /* HTTP/1.0 or Connection: close */
} bu_head;

/* Parse the response head at the start of buf[0..n) (cap: the most the caller will buffer).
 * Returns 1 with *h filled, 0 when the head is not complete yet, -1 when it is malformed or
 * unsupported (chunked, no Content-Length, or no end within cap bytes). */
int bu_parse_head(const char *buf, size_t n, size_t cap, bu_head *h);

#endif
