/* bench_leader.c — a load generator for mTLS HTTPS servers on 127.0.0.1 (the warden leader, and
 * nginx configured the same way for comparison). Tools like wrk cannot present a client
 * certificate, so this one is ours: OpenSSL over nonblocking sockets, one epoll loop per thread.
 *
 *   rps:  N keep-alive TLS 1.3 connections each sending conditional GETs (If-None-Match) back to
 *         back for a warm-up then D seconds; counts 304s (anything else is an error); prints
 *         requests/s and per-request latency p50/p99/max.
 *         With --pid, also the server's CPU time per request over the window.
 *   hold: N connections, each served one plain conditional GET, then each holding one long poll
 *         (Prefer: wait=S); reads the server's RSS (/proc/PID/status) before, with N idle
 *         keep-alive connections and with N held polls; then runs a publish command and times
 *         publish -> each poll's answer. Can issue one client certificate per connection.
 *   tlsmem: OpenSSL's heap per server-side connection, both ends in this process.
 *
 * It must never connect anywhere but 127.0.0.1, never run unbounded (every phase has a
 * deadline), and never be run as a test: its numbers are for reading, not for passing. */
#include <ctype.h>
#include <malloc.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "benchutil.h"

#define MAX_THREADS   64
#define MAX_CONNS     60000
#define HEAD_CAP      8192          /* response head bytes kept per connection */
#define REQ_CAP       2048
#define REFRESH_S     60            /* hold: idle seconds before a connection is used again */

/* ---------- options and shared state ---------- */

typedef enum { MODE_RPS, MODE_HOLD, MODE_TLSMEM } bench_mode;

typedef struct opts {
    bench_mode mode;
    int port;
    const char *cert, *key, *ca;
    const char *servername;        /* SNI and the name checked in the server certificate */
    const char *host;              /* Host header */
    const char *path;
    const char *etag;              /* If-None-Match value, sent as given (quotes included) */
    int conns, threads;
    double duration_s, warmup_s;
    int max_handshakes;            /* per thread, in flight at once */
    /* hold mode */
    int wait_s;
    const char *pids;              /* server processes whose RSS is summed */
    const char *publish_cmd;
    double settle_s, timeout_s, open_timeout_s;
    const char *issue_ca_cert, *issue_ca_key, *issue_uri;  /* one leaf per connection */
    const char *label;
    const char *server_cert, *server_key;   /* tlsmem: the server side, in this process */
} opts;

enum { PH_OPEN, PH_SEND, PH_PUBLISHED, PH_STOP };

typedef struct shared {
    const opts *o;
    uint64_t t_start;                 /* CLOCK_MONOTONIC ns at start */
    _Atomic int phase;
    _Atomic long established, failed, sent, answered, closed_by_peer, primed, prime_errors;
    _Atomic long prime_status[6];     /* hold: statuses of the plain GETs, 1xx..5xx, other */
    _Atomic uint64_t win_start, win_end;  /* rps: the measured window (0 until every
                                             connection is up) */
    X509 **leaf;                      /* hold mode with --issue-*: one per connection, or NULL */
    EVP_PKEY *leaf_key;
    char req[REQ_CAP];                /* rps: the conditional GET; hold: the held poll */
    size_t req_len;
    char plain[REQ_CAP];              /* hold: the same GET without Prefer (answered at once) */
    size_t plain_len;
} shared;

enum { ST_NEW, ST_CONNECTING, ST_HANDSHAKE, ST_READY, ST_SENDING, ST_HEAD, ST_BODY, ST_DONE,
       ST_DEAD };

typedef struct conn {
    int fd;
    SSL *ssl;
    uint8_t state;
    uint32_t events;                  /* what epoll watches for this fd */
    uint32_t idx;                     /* global connection number */
    uint64_t t_send;
    size_t hlen;                      /* bytes in buf */
    long body_left;
    int status;
    bool close_after;
    bool established_once;
    bool holding;                     /* hold: the request in flight is the held poll */
    bool primed;                      /* hold: its first plain GET was answered */
    uint64_t t_last;                  /* hold: when it last finished a request */
    char *buf;
    uint64_t t_resp;                  /* hold: when the response completed (ns since start) */
    int resp_status;
} conn;

typedef struct worker {
    pthread_t th;
    int id, ep;
    shared *sh;
    SSL_CTX *ctx;
    conn *c;
    size_t n;
    size_t next_open;
    int inflight;
    uint64_t ok, bad_status, conn_err, reconnects, in_window;
    uint64_t status_class[6];         /* 1xx..5xx, then unparseable */
    bu_hist h;
    char scratch[16384];
} worker;

static uint64_t now_ns(void) { return bu_now_ns(); }
static void sleep_s(double s) { bu_sleep_s(s); }
static _Noreturn void die_ssl(const char *what) { bu_die_ssl("bench_leader", what); }
static long rss_kib(const char *pids) { return bu_rss_kib(pids); }
static double cpu_s(const char *pids) { return bu_cpu_s(pids); }

/* ---------- TLS setup ---------- */

/* A client context: TLS 1.3 only, our certificate and key (unless leaves are given per
 * connection), the server verified against the CA and servername. Exits on error. */
static SSL_CTX *make_ctx(const opts *o, bool with_own_cert)
{
    return bu_client_ctx("bench_leader", o->ca, o->servername, with_own_cert ? o->cert : NULL,
                         with_own_cert ? o->key : NULL);
}

/* One ECDSA P-256 key shared by all leaves (a bench shortcut: real followers have their own),
 * and n leaf certificates signed by the CA, each with the URI SAN uri_fmt % i. Exits on error. */
static void issue_leaves(shared *sh, const opts *o, int n)
{
    FILE *f = fopen(o->issue_ca_cert, "r");
    if (f == NULL)
        die_ssl("cannot open --issue-ca-cert");
    X509 *ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    f = fopen(o->issue_ca_key, "r");
    if (f == NULL)
        die_ssl("cannot open --issue-ca-key");
    EVP_PKEY *cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (ca == NULL || cakey == NULL)
        die_ssl("cannot read the issuing CA");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (key == NULL)
        die_ssl("EVP_EC_gen");
    sh->leaf = calloc((size_t)n, sizeof *sh->leaf);
    if (sh->leaf == NULL)
        die_ssl("out of memory");
    for (int i = 0; i < n; i++) {
        X509 *x = X509_new();
        char uri[512], san[520], cn[64];
        const char *at = strstr(o->issue_uri, "%d");   /* checked in main */
        snprintf(uri, sizeof uri, "%.*s%d%s", (int)(at - o->issue_uri), o->issue_uri, i, at + 2);
        snprintf(san, sizeof san, "URI:%s", uri);
        snprintf(cn, sizeof cn, "bench-%d", i);
        unsigned char serial[16];
        RAND_bytes(serial, sizeof serial);
        serial[0] &= 0x7f;
        BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
        X509_NAME *name = X509_NAME_new();
        if (x == NULL || bn == NULL || name == NULL
            || X509_set_version(x, X509_VERSION_3) != 1
            || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL
            || X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1
            || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                                          -1, -1, 0) != 1
            || X509_set_subject_name(x, name) != 1
            || X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL
            || X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL
            || X509_set_pubkey(x, key) != 1)
            die_ssl("cannot build a leaf certificate");
        X509V3_CTX v3;
        X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
        static const struct { int nid; const char *val; } ext[] = {
            { NID_basic_constraints, "critical,CA:FALSE" },
            { NID_key_usage, "critical,digitalSignature" },
            { NID_ext_key_usage, "clientAuth" },
            { NID_subject_key_identifier, "hash" },
            { NID_authority_key_identifier, "keyid:always" },
        };
        for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++) {
            X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &v3, ext[k].nid, ext[k].val);
            if (ex == NULL || X509_add_ext(x, ex, -1) != 1)
                die_ssl("cannot add an extension");
            X509_EXTENSION_free(ex);
        }
        X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        if (ex == NULL || X509_add_ext(x, ex, -1) != 1)
            die_ssl("cannot add the URI SAN");
        X509_EXTENSION_free(ex);
        if (X509_sign(x, cakey, EVP_sha256()) <= 0)
            die_ssl("cannot sign a leaf certificate");
        BN_free(bn);
        X509_NAME_free(name);
        sh->leaf[i] = x;
    }
    sh->leaf_key = key;
    X509_free(ca);
    EVP_PKEY_free(cakey);
}

/* ---------- connections ---------- */

static void set_events(worker *w, conn *c, uint32_t ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = { .events = ev, .data.ptr = c };
    epoll_ctl(w->ep, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void conn_close(worker *w, conn *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->events = 0;
    if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE)
        w->inflight--;
}

/* Start a nonblocking connect to 127.0.0.1:port. On failure the connection is DEAD. */
static void conn_open(worker *w, conn *c)
{
    const opts *o = w->sh->o;
    c->fd = bu_connect_loopback(o->port, 0);
    c->hlen = 0;
    c->events = 0;
    if (c->fd < 0) {
        c->state = ST_DEAD;
        w->conn_err++;
        return;
    }
    c->state = ST_CONNECTING;
    w->inflight++;
    set_events(w, c, EPOLLOUT);
}

static void conn_fail(worker *w, conn *c)
{
    conn_close(w, c);
    c->state = ST_DEAD;
    w->conn_err++;
}

/* Queue the next request: the held poll when hold is true, else the plain conditional GET. */
static void start_request(conn *c, bool hold)
{
    c->holding = hold;
    c->state = ST_SENDING;
    c->t_send = now_ns();
    c->hlen = 0;
}

/* Map an SSL result to epoll interest; true when the connection can go on. */
static bool ssl_wait(worker *w, conn *c, int r)
{
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
        set_events(w, c, EPOLLIN);
        return true;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        set_events(w, c, EPOLLOUT);
        return true;
    }
    ERR_clear_error();
    return false;
}

/* Parse the response head in c->buf: status, Content-Length, Connection: close. Returns the
 * head's length, 0 when incomplete, -1 when malformed or unsupported (chunked). */
static long parse_head(conn *c)
{
    bu_head h;
    int r = bu_parse_head(c->buf, c->hlen, HEAD_CAP, &h);
    if (r <= 0)
        return r;
    c->status = h.status;
    c->body_left = h.content_length;
    c->close_after = h.close_after;
    return (long)h.len;
}

static void response_done(worker *w, conn *c)
{
    shared *sh = w->sh;
    const opts *o = sh->o;
    uint64_t t = now_ns();
    int cls = c->status / 100;
    w->status_class[cls >= 1 && cls <= 5 ? cls - 1 : 5]++;
    if (o->mode == MODE_RPS) {
        uint64_t w0 = atomic_load(&sh->win_start), w1 = atomic_load(&sh->win_end);
        bool in = w0 != 0 && t >= w0 && t < w1;
        if (c->status == 304) {
            if (in) {
                w->ok++;
                bu_hist_add(&w->h, t - c->t_send);
            }
        } else if (in) {
            w->bad_status++;
        }
        if (c->close_after) {
            conn_close(w, c);
            w->reconnects++;
            conn_open(w, c);
            return;
        }
        start_request(c, false);
        return;
    }
    if (!c->holding) {
        /* hold mode's plain GET: the connection is now an idle keep-alive one */
        if (c->status != 304)
            atomic_fetch_add(&sh->prime_errors, 1);
        atomic_fetch_add(&sh->prime_status[cls >= 1 && cls <= 5 ? cls - 1 : 5], 1);
        if (!c->primed) {
            c->primed = true;
            atomic_fetch_add(&sh->primed, 1);
        }
        c->t_last = t;
        c->state = ST_READY;
        set_events(w, c, EPOLLIN);
        if (atomic_load(&sh->phase) >= PH_SEND)
            start_request(c, true);
        return;
    }
    c->t_resp = t - sh->t_start;
    c->resp_status = c->status;
    c->state = ST_DONE;
    atomic_fetch_add(&sh->answered, 1);
    set_events(w, c, EPOLLIN);
}

/* Drive one connection as far as it can go without blocking. */
static void conn_step(worker *w, conn *c)
{
    shared *sh = w->sh;
    for (;;) {
        switch (c->state) {
        case ST_CONNECTING: {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                conn_fail(w, c);
                atomic_fetch_add(&sh->failed, 1);
                return;
            }
            c->ssl = SSL_new(w->ctx);
            if (c->ssl == NULL)
                die_ssl("SSL_new");
            if (sh->leaf != NULL) {
                if (SSL_use_certificate(c->ssl, sh->leaf[c->idx]) != 1
                    || SSL_use_PrivateKey(c->ssl, sh->leaf_key) != 1)
                    die_ssl("cannot use a leaf certificate");
            }
            SSL_set_tlsext_host_name(c->ssl, sh->o->servername);
            SSL_set_fd(c->ssl, c->fd);
            SSL_set_connect_state(c->ssl);
            c->state = ST_HANDSHAKE;
            break;
        }
        case ST_HANDSHAKE: {
            int r = SSL_do_handshake(c->ssl);
            if (r != 1) {
                if (!ssl_wait(w, c, r)) {
                    conn_fail(w, c);
                    atomic_fetch_add(&sh->failed, 1);
                }
                return;
            }
            w->inflight--;
            if (!c->established_once) {
                c->established_once = true;
                atomic_fetch_add(&sh->established, 1);
            }
            c->state = ST_READY;
            set_events(w, c, EPOLLIN);
            /* rps: straight to work; hold: one plain GET first, so that every connection is
             * measured as a keep-alive connection that has served a request */
            start_request(c, sh->o->mode == MODE_HOLD && c->primed
                                    && atomic_load(&sh->phase) >= PH_SEND);
            break;
        }
        case ST_READY: {
            /* idle (hold mode before the requests go out): session tickets, or the peer
             * closing the connection */
            int r = SSL_read(c->ssl, w->scratch, sizeof w->scratch);
            if (r > 0)
                continue;
            if (!ssl_wait(w, c, r)) {
                conn_close(w, c);
                c->state = ST_DEAD;
                atomic_fetch_add(&sh->closed_by_peer, 1);
            }
            return;
        }
        case ST_SENDING: {
            const char *rq = c->holding || sh->o->mode == MODE_RPS ? sh->req : sh->plain;
            size_t rql = c->holding || sh->o->mode == MODE_RPS ? sh->req_len : sh->plain_len;
            int r = SSL_write(c->ssl, rq, (int)rql);
            if (r <= 0) {
                if (!ssl_wait(w, c, r))
                    goto broken;
                return;
            }
            if (sh->o->mode == MODE_HOLD && c->holding)
                atomic_fetch_add(&sh->sent, 1);
            c->state = ST_HEAD;
            c->hlen = 0;
            set_events(w, c, EPOLLIN);
            break;
        }
        case ST_HEAD: {
            int r = SSL_read(c->ssl, c->buf + c->hlen, (int)(HEAD_CAP - c->hlen));
            if (r <= 0) {
                if (!ssl_wait(w, c, r))
                    goto broken;
                return;
            }
            c->hlen += (size_t)r;
            long head = parse_head(c);
            if (head < 0)
                goto broken;
            if (head == 0)
                break;
            long extra = (long)c->hlen - head;
            if (extra > c->body_left)
                goto broken;   /* pipelined or unframed bytes: not expected */
            c->body_left -= extra;
            if (c->body_left > 0) {
                c->state = ST_BODY;
                break;
            }
            response_done(w, c);
            if (c->state != ST_SENDING)
                return;
            break;
        }
        case ST_BODY: {
            int r = SSL_read(c->ssl, w->scratch, sizeof w->scratch);
            if (r <= 0) {
                if (!ssl_wait(w, c, r))
                    goto broken;
                return;
            }
            if (r > c->body_left)
                goto broken;
            c->body_left -= r;
            if (c->body_left == 0) {
                response_done(w, c);
                if (c->state != ST_SENDING)
                    return;
            }
            break;
        }
        case ST_DONE: {
            int r = SSL_read(c->ssl, w->scratch, sizeof w->scratch);
            if (r > 0)
                continue;
            if (!ssl_wait(w, c, r)) {
                conn_close(w, c);
                c->state = ST_DEAD;
            }
            return;
        }
        default:
            return;
        }
    }
broken:
    /* the peer closed or sent something we cannot frame: an error; rps reconnects */
    w->conn_err++;
    if (sh->o->mode == MODE_HOLD && c->holding && (c->state == ST_HEAD || c->state == ST_BODY)) {
        c->t_resp = now_ns() - sh->t_start;
        c->resp_status = -1;
        atomic_fetch_add(&sh->answered, 1);
    } else if (sh->o->mode == MODE_HOLD && !c->holding) {
        atomic_fetch_add(&sh->closed_by_peer, 1);
    }
    conn_close(w, c);
    c->state = ST_DEAD;
    if (sh->o->mode == MODE_RPS) {
        w->reconnects++;
        conn_open(w, c);
    }
}

static void open_more(worker *w)
{
    /* hold: once the polls go out, connections not yet opened stay unopened */
    if (w->sh->o->mode == MODE_HOLD && atomic_load(&w->sh->phase) >= PH_SEND)
        return;
    while (w->next_open < w->n && w->inflight < w->sh->o->max_handshakes) {
        conn *c = &w->c[w->next_open++];
        conn_open(w, c);
        if (c->state == ST_DEAD)
            atomic_fetch_add(&w->sh->failed, 1);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    const opts *o = sh->o;
    struct epoll_event ev[256];
    int seen_phase = PH_OPEN;
    uint64_t next_scan = now_ns() + 1000000000u;
    for (;;) {
        open_more(w);
        int n = epoll_wait(w->ep, ev, 256, 5);
        for (int i = 0; i < n; i++) {
            conn *c = ev[i].data.ptr;
            if (c->fd >= 0)
                conn_step(w, c);
        }
        if (o->mode == MODE_RPS) {
            uint64_t end = atomic_load(&sh->win_end);
            if (atomic_load(&sh->phase) == PH_STOP || (end != 0 && now_ns() >= end))
                break;
            continue;
        }
        int ph = atomic_load(&sh->phase);
        if (ph == PH_STOP)
            break;
        if (ph >= PH_SEND && seen_phase < PH_SEND) {
            for (size_t i = 0; i < w->n; i++)
                if (w->c[i].state == ST_READY) {
                    start_request(&w->c[i], true);
                    conn_step(w, &w->c[i]);
                }
        }
        /* while the others are still connecting, keep early connections from reaching the
         * server's idle timeout: another plain GET after REFRESH_S idle seconds */
        uint64_t t = now_ns();
        if (ph == PH_OPEN && t >= next_scan) {
            next_scan = t + 1000000000u;
            for (size_t i = 0; i < w->n; i++)
                if (w->c[i].state == ST_READY && w->c[i].primed
                    && t - w->c[i].t_last > (uint64_t)REFRESH_S * 1000000000u) {
                    start_request(&w->c[i], false);
                    conn_step(w, &w->c[i]);
                }
        }
        seen_phase = ph;
    }
    for (size_t i = 0; i < w->n; i++)
        if (w->c[i].fd >= 0)
            conn_close(w, &w->c[i]);
    return NULL;
}


/* ---------- tlsmem: OpenSSL's own memory per server-side connection ---------- */

/* Heap bytes in use in this process (glibc's arenas and mmapped blocks). */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Move bytes between two SSL objects joined by a BIO pair until both handshakes are done, then
 * one request and one response, as a follower's conditional GET and a 304. Exits on error. */
static void pump(SSL *cli, SSL *srv, const char *req, size_t req_len)
{
    int cdone = 0, sdone = 0;
    for (int i = 0; i < 100 && !(cdone && sdone); i++) {
        if (!cdone) {
            int r = SSL_do_handshake(cli);
            if (r == 1)
                cdone = 1;
            else if (SSL_get_error(cli, r) != SSL_ERROR_WANT_READ)
                die_ssl("tlsmem: client handshake");
        }
        if (!sdone) {
            int r = SSL_do_handshake(srv);
            if (r == 1)
                sdone = 1;
            else if (SSL_get_error(srv, r) != SSL_ERROR_WANT_READ)
                die_ssl("tlsmem: server handshake");
        }
    }
    if (!(cdone && sdone))
        die_ssl("tlsmem: the handshake did not finish");
    static const char resp[] = "HTTP/1.1 304 Not Modified\r\nDate: Mon, 30 Nov 2026 09:00:00 GMT\r\n"
        "ETag: \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\r\n"
        "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n";
    char buf[4096];
    if (SSL_write(cli, req, (int)req_len) != (int)req_len)
        die_ssl("tlsmem: client write");
    int got = 0;
    for (int i = 0; i < 10 && got < (int)req_len; i++) {
        int r = SSL_read(srv, buf, sizeof buf);
        if (r > 0)
            got += r;
    }
    if (got != (int)req_len)
        die_ssl("tlsmem: the server did not read the request");
    if (SSL_write(srv, resp, (int)sizeof resp - 1) != (int)sizeof resp - 1)
        die_ssl("tlsmem: server write");
    got = 0;
    for (int i = 0; i < 10 && got < (int)sizeof resp - 1; i++) {
        int r = SSL_read(cli, buf, sizeof buf);   /* session tickets first, then the response */
        if (r > 0)
            got += r;
    }
    if (got != (int)sizeof resp - 1)
        die_ssl("tlsmem: the client did not read the response");
}

/* Per server-side connection after a handshake with a client certificate and one request:
 * heap bytes OpenSSL keeps, for a server context configured like the leader's, and variants. */
static int run_tlsmem(const opts *o, const char *req, size_t req_len)
{
    static const struct { const char *what; bool release; int tickets; bool verify; } var[] = {
        { "TLS 1.3, client certificate, SSL_MODE_RELEASE_BUFFERS, 2 tickets (the leader's)",
          true, 2, true },
        { "same without SSL_MODE_RELEASE_BUFFERS", false, 2, true },
        { "same with RELEASE_BUFFERS and no session tickets", true, 0, true },
        { "same with RELEASE_BUFFERS, 2 tickets, no client certificate asked", true, 2, false },
    };
    SSL_CTX *cctx = make_ctx(o, true);
    SSL_CTX_set_read_ahead(cctx, 0);
    SSL **srv = calloc((size_t)o->conns, sizeof *srv);
    if (srv == NULL)
        die_ssl("out of memory");
    printf("OpenSSL heap per server-side connection (in-process, %d connections, %s)\n",
           o->conns, OpenSSL_version(OPENSSL_VERSION));
    for (size_t v = 0; v < sizeof var / sizeof var[0]; v++) {
        SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
        static const unsigned char sid[] = "bench";
        if (sctx == NULL || SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION) != 1
            || SSL_CTX_use_certificate_chain_file(sctx, o->server_cert) != 1
            || SSL_CTX_use_PrivateKey_file(sctx, o->server_key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_load_verify_locations(sctx, o->ca, NULL) != 1
            || SSL_CTX_set_session_id_context(sctx, sid, sizeof sid - 1) != 1)
            die_ssl("tlsmem: server context");
        if (var[v].verify)
            SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        SSL_CTX_set_num_tickets(sctx, (size_t)var[v].tickets);
        if (var[v].release)
            SSL_CTX_set_mode(sctx, SSL_MODE_RELEASE_BUFFERS);
        /* one connection first, so one-time allocations (tables, caches) are not counted */
        for (int warm = 0; warm < 2; warm++) {
            size_t m0 = heap_in_use();
            int n = warm ? o->conns : 1;
            for (int i = 0; i < n; i++) {
                SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
                BIO *bc = NULL, *bs = NULL;
                if (c == NULL || s == NULL || BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
                    die_ssl("tlsmem: SSL_new");
                SSL_set_bio(c, bc, bc);
                SSL_set_bio(s, bs, bs);
                SSL_set_tlsext_host_name(c, o->servername);
                SSL_set_connect_state(c);
                SSL_set_accept_state(s);
                pump(c, s, req, req_len);
                SSL_free(c);
                /* a server holds a socket BIO, not a pair with its 17 KiB buffers */
                BIO *nb = BIO_new(BIO_s_null());
                SSL_set_bio(s, nb, nb);
                srv[i] = s;
            }
            size_t m1 = heap_in_use();
            if (warm)
                printf("  %-80s %6.0f B\n", var[v].what, (double)(m1 - m0) / (double)n);
            for (int i = 0; i < n; i++)
                SSL_free(srv[i]);
        }
        SSL_CTX_free(sctx);
    }
    free(srv);
    SSL_CTX_free(cctx);
    return 0;
}

/* ---------- main ---------- */

static void usage(void)
{
    fprintf(stderr,
"usage: bench_leader rps  --port P --cert C --key K --ca CA --path PATH --etag ETAG\n"
"                         [--conns N] [--duration S] [--warmup S] [--threads T] [--pid PID[,PID...]]\n"
"       bench_leader hold --port P (--cert C --key K | --issue-ca-cert F --issue-ca-key F\n"
"                         --issue-uri FMT) --ca CA --path PATH --etag ETAG --pid PID[,PID...]\n"
"                         [--conns N] [--wait S] [--publish-cmd CMD] [--settle S] [--timeout S]\n"
"       bench_leader tlsmem --server-cert C --server-key K --cert C --key K --ca CA [--conns N]\n"
"common: [--servername NAME] [--host HOST] [--max-handshakes N] [--open-timeout S] [--label TEXT]\n"
"Connects only to 127.0.0.1:P. ETAG is the If-None-Match value, quotes included.\n"
"--issue-uri is the URI SAN with %%d standing for the connection number.\n");
    exit(2);
}

static double pct_ms(uint64_t ns) { return (double)ns / 1e6; }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    opts o = { .conns = 64, .duration_s = 10, .warmup_s = 2, .max_handshakes = 64,
               .open_timeout_s = 300,
               .servername = "localhost", .host = "localhost", .wait_s = 300, .settle_s = 3,
               .timeout_s = 60, .label = "" };
    if (strcmp(argv[1], "rps") == 0)
        o.mode = MODE_RPS;
    else if (strcmp(argv[1], "hold") == 0)
        o.mode = MODE_HOLD;
    else if (strcmp(argv[1], "tlsmem") == 0)
        o.mode = MODE_TLSMEM;
    else
        usage();
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = nproc > 0 && nproc <= MAX_THREADS ? (int)nproc : 2;
    static const struct option lo[] = {
        { "port", 1, NULL, 'p' }, { "cert", 1, NULL, 'c' }, { "key", 1, NULL, 'k' },
        { "ca", 1, NULL, 'a' }, { "path", 1, NULL, 'u' }, { "etag", 1, NULL, 'e' },
        { "conns", 1, NULL, 'n' }, { "duration", 1, NULL, 'd' }, { "warmup", 1, NULL, 'w' },
        { "threads", 1, NULL, 't' }, { "servername", 1, NULL, 's' }, { "host", 1, NULL, 'H' },
        { "max-handshakes", 1, NULL, 'm' }, { "wait", 1, NULL, 'W' }, { "pid", 1, NULL, 'P' },
        { "publish-cmd", 1, NULL, 'C' }, { "settle", 1, NULL, 'S' }, { "timeout", 1, NULL, 'T' },
        { "issue-ca-cert", 1, NULL, 'x' }, { "issue-ca-key", 1, NULL, 'y' },
        { "issue-uri", 1, NULL, 'z' }, { "label", 1, NULL, 'l' },
        { "open-timeout", 1, NULL, 'O' }, { "server-cert", 1, NULL, 'X' }, { "server-key", 1, NULL, 'Y' }, { NULL, 0, NULL, 0 },
    };
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'p': o.port = atoi(optarg); break;
        case 'c': o.cert = optarg; break;
        case 'k': o.key = optarg; break;
        case 'a': o.ca = optarg; break;
        case 'u': o.path = optarg; break;
        case 'e': o.etag = optarg; break;
        case 'n': o.conns = atoi(optarg); break;
        case 'd': o.duration_s = atof(optarg); break;
        case 'w': o.warmup_s = atof(optarg); break;
        case 't': o.threads = atoi(optarg); break;
        case 's': o.servername = optarg; break;
        case 'H': o.host = optarg; break;
        case 'm': o.max_handshakes = atoi(optarg); break;
        case 'W': o.wait_s = atoi(optarg); break;
        case 'P': o.pids = optarg; break;
        case 'C': o.publish_cmd = optarg; break;
        case 'S': o.settle_s = atof(optarg); break;
        case 'T': o.timeout_s = atof(optarg); break;
        case 'x': o.issue_ca_cert = optarg; break;
        case 'y': o.issue_ca_key = optarg; break;
        case 'z': o.issue_uri = optarg; break;
        case 'l': o.label = optarg; break;
        case 'X': o.server_cert = optarg; break;
        case 'O': o.open_timeout_s = atof(optarg); break;
        case 'Y': o.server_key = optarg; break;
        default: usage();
        }
    }
    if (o.mode == MODE_TLSMEM) {
        if (optind != argc || o.server_cert == NULL || o.server_key == NULL || o.cert == NULL
            || o.key == NULL || o.ca == NULL || o.conns < 1 || o.conns > MAX_CONNS)
            usage();
        static const char req[] = "GET /api/v1/conductor/policy/latest HTTP/1.1\r\n"
            "Host: localhost\r\nIf-None-Match: \"sha256:00000000000000000000000000000000000000"
            "00000000000000000000000000\"\r\nUser-Agent: bench_leader\r\n\r\n";
        return run_tlsmem(&o, req, sizeof req - 1);
    }
    bool issue = o.issue_ca_cert != NULL || o.issue_ca_key != NULL || o.issue_uri != NULL;
    if (optind != argc || o.port <= 0 || o.port > 65535 || o.ca == NULL || o.path == NULL
        || o.etag == NULL || o.conns < 1 || o.conns > MAX_CONNS || o.threads < 1
        || o.threads > MAX_THREADS || o.duration_s <= 0 || o.duration_s > 3600
        || o.warmup_s < 0 || o.warmup_s > 600 || o.max_handshakes < 1
        || o.wait_s < 1 || o.wait_s > 300 || o.timeout_s <= 0 || o.timeout_s > 600
        || o.settle_s < 0 || o.settle_s > 60 || o.open_timeout_s <= 0 || o.open_timeout_s > 3600
        || (issue && (o.mode != MODE_HOLD || o.issue_ca_cert == NULL || o.issue_ca_key == NULL
                      || o.issue_uri == NULL || strstr(o.issue_uri, "%d") == NULL))
        || (!issue && (o.cert == NULL || o.key == NULL))
        || (o.mode == MODE_HOLD && (o.pids == NULL || rss_kib(o.pids) < 0))
        || (o.mode == MODE_RPS && o.pids != NULL && cpu_s(o.pids) < 0)
        || strpbrk(o.path, "\r\n ") != NULL || strpbrk(o.etag, "\r\n") != NULL
        || strpbrk(o.host, "\r\n") != NULL)
        usage();
    if (o.threads > o.conns)
        o.threads = o.conns;

    signal(SIGPIPE, SIG_IGN);
    /* enough descriptors for the connections: up to the hard limit, never above it */
    bu_raise_nofile("bench_leader", (long)o.conns + 64);

    shared *sh = calloc(1, sizeof *sh);
    worker *ws = calloc((size_t)o.threads, sizeof *ws);
    conn *cs = calloc((size_t)o.conns, sizeof *cs);
    char *bufs = malloc((size_t)o.conns * HEAD_CAP);
    if (sh == NULL || ws == NULL || cs == NULL || bufs == NULL) {
        fprintf(stderr, "bench_leader: out of memory\n");
        return 1;
    }
    sh->o = &o;
    int rl_len;
    if (o.mode == MODE_HOLD)
        rl_len = snprintf(sh->req, sizeof sh->req,
                          "GET %s HTTP/1.1\r\nHost: %s\r\nIf-None-Match: %s\r\n"
                          "Prefer: wait=%d\r\nUser-Agent: bench_leader\r\n\r\n",
                          o.path, o.host, o.etag, o.wait_s);
    else
        rl_len = snprintf(sh->req, sizeof sh->req,
                          "GET %s HTTP/1.1\r\nHost: %s\r\nIf-None-Match: %s\r\n"
                          "User-Agent: bench_leader\r\n\r\n", o.path, o.host, o.etag);
    if (rl_len <= 0 || (size_t)rl_len >= sizeof sh->req)
        usage();
    sh->req_len = (size_t)rl_len;
    rl_len = snprintf(sh->plain, sizeof sh->plain,
                      "GET %s HTTP/1.1\r\nHost: %s\r\nIf-None-Match: %s\r\n"
                      "User-Agent: bench_leader\r\n\r\n", o.path, o.host, o.etag);
    if (rl_len <= 0 || (size_t)rl_len >= sizeof sh->plain)
        usage();
    sh->plain_len = (size_t)rl_len;
    if (issue) {
        uint64_t t = now_ns();
        issue_leaves(sh, &o, o.conns);
        fprintf(stderr, "bench_leader: issued %d leaf certificates in %.2f s (one shared P-256 "
                "key)\n", o.conns, (double)(now_ns() - t) / 1e9);
    }
    for (int i = 0; i < o.conns; i++) {
        cs[i].fd = -1;
        cs[i].idx = (uint32_t)i;
        cs[i].buf = bufs + (size_t)i * HEAD_CAP;
        cs[i].resp_status = 0;
    }
    /* split connections evenly between threads */
    size_t per = (size_t)o.conns / (size_t)o.threads, rem = (size_t)o.conns % (size_t)o.threads;
    size_t at = 0;
    for (int t = 0; t < o.threads; t++) {
        worker *w = &ws[t];
        w->id = t;
        w->sh = sh;
        w->ctx = make_ctx(&o, !issue);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0) {
            perror("bench_leader: epoll_create1");
            return 1;
        }
        w->n = per + ((size_t)t < rem ? 1 : 0);
        w->c = cs + at;
        at += w->n;
    }

    long rss0 = 0, rss1 = 0, rss2 = 0;
    if (o.mode == MODE_HOLD) {
        rss0 = rss_kib(o.pids);
    }
    sh->t_start = now_ns();
    atomic_store(&sh->phase, PH_OPEN);
    for (int t = 0; t < o.threads; t++)
        if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) {
            fprintf(stderr, "bench_leader: cannot start a thread\n");
            return 1;
        }

    int rc = 0;
    if (o.mode == MODE_RPS) {
        /* the warm-up starts when every connection is up (or the open deadline passed) */
        uint64_t deadline = now_ns() + (uint64_t)(o.open_timeout_s * 1e9);
        while (atomic_load(&sh->established) + atomic_load(&sh->failed) < o.conns
               && now_ns() < deadline)
            sleep_s(0.01);
        double t_open = (double)(now_ns() - sh->t_start) / 1e9;
        uint64_t w0 = now_ns() + (uint64_t)(o.warmup_s * 1e9);
        uint64_t w1 = w0 + (uint64_t)(o.duration_s * 1e9);
        atomic_store(&sh->win_end, w1);
        atomic_store(&sh->win_start, w0);
        /* the server's CPU time over the window, when its processes are given */
        double cpu0 = -1, cpu1 = -1, self0, self1;
        struct rusage ru;
        uint64_t tn = now_ns();
        if (tn < w0)
            sleep_s((double)(w0 - tn) / 1e9);
        if (o.pids != NULL)
            cpu0 = cpu_s(o.pids);
        getrusage(RUSAGE_SELF, &ru);
        self0 = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
                + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        tn = now_ns();
        if (tn < w1)
            sleep_s((double)(w1 - tn) / 1e9);
        if (o.pids != NULL)
            cpu1 = cpu_s(o.pids);
        getrusage(RUSAGE_SELF, &ru);
        self1 = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
                + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        for (int t = 0; t < o.threads; t++)
            pthread_join(ws[t].th, NULL);
        bu_hist h;
        memset(&h, 0, sizeof h);
        uint64_t ok = 0, bad = 0, cerr = 0, rec = 0, cls[6] = { 0 };
        for (int t = 0; t < o.threads; t++) {
            bu_hist_merge(&h, &ws[t].h);
            ok += ws[t].ok;
            bad += ws[t].bad_status;
            cerr += ws[t].conn_err;
            rec += ws[t].reconnects;
            for (int k = 0; k < 6; k++)
                cls[k] += ws[t].status_class[k];
        }
        double rps = (double)ok / o.duration_s;
        printf("%s%s127.0.0.1:%d  conns=%d threads=%d warmup=%.0fs duration=%.0fs  "
               "established=%ld in %.1f s\n", o.label, *o.label ? "  " : "", o.port, o.conns,
               o.threads, o.warmup_s, o.duration_s, atomic_load(&sh->established), t_open);
        printf("  %.0f requests/s (304s in the window: %llu)  latency p50 %.3f ms  p99 %.3f ms  "
               "max %.3f ms  mean %.3f ms\n", rps, (unsigned long long)ok,
               pct_ms(bu_hist_q(&h, 0.50)), pct_ms(bu_hist_q(&h, 0.99)), pct_ms(h.max),
               h.n ? pct_ms(h.sum / h.n) : 0.0);
        printf("  errors: %llu non-304 responses, %llu connection errors (%llu reconnects); "
               "statuses seen 2xx=%llu 3xx=%llu 4xx=%llu 5xx=%llu\n",
               (unsigned long long)bad, (unsigned long long)cerr, (unsigned long long)rec,
               (unsigned long long)cls[1], (unsigned long long)cls[2],
               (unsigned long long)cls[3], (unsigned long long)cls[4]);
        double srv_cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
        double us_per_req = srv_cpu >= 0 && ok > 0 ? srv_cpu * 1e6 / (double)ok : -1;
        if (srv_cpu >= 0)
            printf("  server CPU over the window: %.2f s (%.0f%% of one core), %.1f us per "
                   "request; this generator: %.2f s\n", srv_cpu, srv_cpu * 100 / o.duration_s,
                   us_per_req, self1 - self0);
        printf("RESULT mode=rps label=%s conns=%d rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f "
               "errors=%llu conn_errors=%llu srv_cpu_s=%.2f us_per_req=%.1f gen_cpu_s=%.2f\n",
               *o.label ? o.label : "-", o.conns, rps, (double)bu_hist_q(&h, 0.50) / 1e3,
               (double)bu_hist_q(&h, 0.99) / 1e3, (double)h.max / 1e3, (unsigned long long)bad,
               (unsigned long long)cerr, srv_cpu, us_per_req, self1 - self0);
        if (ok == 0)
            rc = 1;
    } else {
        /* 1. every connection established (or failed), then idle TLS connections measured */
        uint64_t deadline = now_ns() + (uint64_t)(o.open_timeout_s * 1e9);
        while ((atomic_load(&sh->established) + atomic_load(&sh->failed) < o.conns
                || atomic_load(&sh->primed) + atomic_load(&sh->closed_by_peer)
                       < atomic_load(&sh->established))
               && now_ns() < deadline)
            sleep_s(0.05);
        double t_open = (double)(now_ns() - sh->t_start) / 1e9;
        long est = atomic_load(&sh->established);
        sleep_s(o.settle_s);
        rss1 = rss_kib(o.pids);
        /* 2. the held polls */
        atomic_store(&sh->phase, PH_SEND);
        deadline = now_ns() + (uint64_t)(o.timeout_s * 1e9);
        while (atomic_load(&sh->sent) < est - atomic_load(&sh->closed_by_peer)
               && now_ns() < deadline)
            sleep_s(0.05);
        sleep_s(o.settle_s);
        rss2 = rss_kib(o.pids);
        long sent = atomic_load(&sh->sent);
        long early = atomic_load(&sh->answered);
        /* 3. publish, then every held poll's answer */
        uint64_t t0 = now_ns();
        atomic_store(&sh->phase, PH_PUBLISHED);
        int prc = -1;
        uint64_t t1 = t0;
        if (o.publish_cmd != NULL) {
            prc = system(o.publish_cmd);
            t1 = now_ns();
            deadline = now_ns() + (uint64_t)(o.timeout_s * 1e9);
            while (atomic_load(&sh->answered) < sent && now_ns() < deadline)
                sleep_s(0.01);
        }
        atomic_store(&sh->phase, PH_STOP);
        for (int t = 0; t < o.threads; t++)
            pthread_join(ws[t].th, NULL);
        uint64_t *lat = malloc((size_t)o.conns * sizeof *lat);
        if (lat == NULL) {
            fprintf(stderr, "bench_leader: out of memory\n");
            return 1;
        }
        size_t nlat = 0, n200 = 0, nother = 0, nunanswered = 0;
        uint64_t t0s = t0 - sh->t_start;
        for (int i = 0; i < o.conns; i++) {
            /* only polls that were held when the publish started */
            if (!cs[i].holding || cs[i].t_send >= t0 || (cs[i].resp_status != 0
                                                          && cs[i].t_resp < t0s))
                continue;
            if (cs[i].resp_status == 0) {
                nunanswered++;
                continue;
            }
            if (cs[i].resp_status == 200) {
                n200++;
                lat[nlat++] = cs[i].t_resp - t0s;
            } else {
                nother++;
            }
        }
        qsort(lat, nlat, sizeof *lat, cmp_u64);
        printf("%s%sheld polls on 127.0.0.1:%d  conns=%d threads=%d wait=%ds  established=%ld "
               "in %.1f s, failed=%ld, closed by the server while idle=%ld\n", o.label,
               *o.label ? "  " : "", o.port, o.conns, o.threads, o.wait_s, est, t_open,
               atomic_load(&sh->failed), atomic_load(&sh->closed_by_peer));
        printf("  plain GETs before holding: 2xx=%ld 3xx=%ld 4xx=%ld 5xx=%ld other=%ld\n",
               atomic_load(&sh->prime_status[1]), atomic_load(&sh->prime_status[2]),
               atomic_load(&sh->prime_status[3]), atomic_load(&sh->prime_status[4]),
               atomic_load(&sh->prime_status[5]) + atomic_load(&sh->prime_status[0]));
        printf("  server RSS: %ld KiB before, %ld KiB with %ld idle keep-alive TLS connections "
               "(each after one 304; %ld non-304), %ld KiB with %ld held polls\n", rss0, rss1, est,
               atomic_load(&sh->prime_errors), rss2, sent);
        double per_tls = est > 0 ? (double)(rss1 - rss0) * 1024.0 / (double)est : 0;
        double per_hold = sent > 0 ? (double)(rss2 - rss1) * 1024.0 / (double)sent : 0;
        double per_all = sent > 0 ? (double)(rss2 - rss0) * 1024.0 / (double)sent : 0;
        printf("  per connection: %.0f B idle keep-alive TLS connection, +%.0f B for holding the "
               "poll, %.0f B in all\n", per_tls, per_hold, per_all);
        printf("  answered before the publish: %ld\n", early);
        if (o.publish_cmd != NULL) {
            printf("  publish command: exit %d, took %.1f ms\n",
                   WIFEXITED(prc) ? WEXITSTATUS(prc) : -1, (double)(t1 - t0) / 1e6);
            printf("  publish -> 200 received: %zu of the %zu polls held at the publish answered "
                   "200, %zu otherwise, %zu not within %.0f s; from the publish's start p50 %.1f ms"
                   "  p99 %.1f ms  max %.1f ms\n", n200, n200 + nother + nunanswered, nother,
                   nunanswered, o.timeout_s, nlat ? pct_ms(lat[nlat / 2]) : 0.0,
                   nlat ? pct_ms(lat[(size_t)((double)(nlat - 1) * 0.99)]) : 0.0,
                   nlat ? pct_ms(lat[nlat - 1]) : 0.0);
        }
        printf("RESULT mode=hold label=%s conns=%d established=%ld held=%ld rss0_kib=%ld "
               "rss_idle_kib=%ld rss_held_kib=%ld per_tls_b=%.0f per_hold_b=%.0f per_all_b=%.0f "
               "early=%ld publish_ms=%.1f n200=%zu other=%zu p50_ms=%.1f p99_ms=%.1f "
               "max_ms=%.1f\n", *o.label ? o.label : "-", o.conns, est, sent, rss0, rss1, rss2,
               per_tls, per_hold, per_all, early, (double)(t1 - t0) / 1e6, n200, nother,
               nlat ? pct_ms(lat[nlat / 2]) : 0.0,
               nlat ? pct_ms(lat[(size_t)((double)(nlat - 1) * 0.99)]) : 0.0,
               nlat ? pct_ms(lat[nlat - 1]) : 0.0);
        free(lat);
        if (est == 0)
            rc = 1;
    }

    for (int t = 0; t < o.threads; t++) {
        SSL_CTX_free(ws[t].ctx);
        close(ws[t].ep);
    }
    if (sh->leaf != NULL) {
        for (int i = 0; i < o.conns; i++)
            X509_free(sh->leaf[i]);
        free(sh->leaf);
        EVP_PKEY_free(sh->leaf_key);
    }
    free(bufs);
    free(cs);
    free(ws);
    free(sh);
    return rc;
}
