/* bench_fleet.c — N simulated followers in one process against real warden leaders on
 * 127.0.0.1. Each follower has its own certificate and key (issued here from the fleet CA with
 * warden's PKI code, cached in a file between runs), its own mTLS connection, and does what
 * `warden agent`'s bundle poller does on the wire: a first GET policy/latest, verify the
 * bundle (wd_bundle_verify + wd_bundle_transition, each follower its own copy), then long polls
 * with If-None-Match and Prefer: wait=N. The bench then runs an administrator's publish command
 * for each round and measures, per follower, publish -> the new bundle received and verified;
 * and the handshake rate while connecting, the leaders' RSS before and with the N held polls,
 * and the leaders' CPU time.
 *
 * What it does not do: write the state directory, compile the policy, post status reports,
 * poll kills or ship audit (the agent does all of these; see docs/PERFORMANCE.md).
 *
 * It must never connect anywhere but 127.0.0.x, never run unbounded (every phase has a
 * deadline), and never be a pass/fail on timing: its exit status says only whether every
 * follower received and verified every published bundle. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "warden/error.h"
#include "warden/limits.h"
#include "base/base.h"
#include "msg/bundle.h"
#include "pki/pki.h"
#include "trust/roster.h"

#include "benchutil.h"

#define PROG        "bench_fleet"
#define MAX_THREADS 64
#define MAX_PORTS   8
#define MAX_ROUNDS  32
#define MAX_N       60000
#define MAX_ATTEMPTS 5             /* connections per follower after its first */
#define HEAD_CAP    4096
#define REQ_CAP     1024
#define CACHE_MAGIC "warden-bench-fleet-leaves v1"

typedef struct opts {
    int ports[MAX_PORTS];
    int nports;
    const char *ca_dir;          /* the fleet CA (ca.crt, ca.key): issues the leaves */
    const char *ca;              /* verifies the leaders (default ca_dir/ca.crt) */
    const char *cache;           /* leaf cache file, or NULL */
    const char *roster, *pin;
    const char *org, *fleet, *env, *prefix;
    const char *servername, *host, *path, *label;
    int n, threads, max_handshakes, sources, wait_s, rounds, first_version;
    const char *publish_cmd;     /* "%d" stands for the round's version */
    const char *pids;            /* leader processes: RSS and CPU */
    double timeout_s, settle_s, connect_timeout_s;
} opts;

enum { PH_RUN, PH_STOP };
enum { ST_NEW, ST_CONNECTING, ST_HANDSHAKE, ST_SENDING, ST_HEAD, ST_BODY, ST_DEAD };

typedef struct follower {
    int fd;
    SSL *ssl;
    uint8_t state;
    bool holding;                 /* the request in flight is a held poll */
    bool counted_hold;
    bool established_once;
    uint8_t attempts;             /* reconnections so far */
    uint32_t events;
    uint32_t idx;
    int port, src;
    char etag[WD_DIGEST_STRLEN + 3];   /* "sha256:…" with its quotes, or "" */
    wd_bundle *active;
    int64_t floor;
    char *head;
    size_t hlen;
    unsigned char *body;
    size_t blen, bwant;
    int status;
    bool close_after;
    uint64_t t_recv[MAX_ROUNDS], t_ok[MAX_ROUNDS];  /* ns since start; 0: not yet */
} follower;

typedef struct shared {
    const opts *o;
    uint64_t t_start;
    _Atomic int phase;
    _Atomic int round;                 /* -1 before the first publish */
    _Atomic long established, failed, dead, held, synced, rejected, bad_status, reconnects;
    _Atomic long done[MAX_ROUNDS];
    _Atomic uint64_t t_first_hs, t_last_hs;
    _Atomic long last_code;            /* wd_code of the last rejection */
    X509 **cert;
    EVP_PKEY **key;
    wd_roster *roster;
} shared;

typedef struct worker {
    pthread_t th;
    int ep;
    shared *sh;
    SSL_CTX *ctx;
    follower *f;
    follower **retry;             /* lost connections waiting to connect again */
    size_t nretry;
    size_t n, next_open;
    int inflight;
    uint64_t verify_ns, verify_n;
    char scratch[16384];
} worker;

static void usage(void)
{
    fprintf(stderr,
"usage: bench_fleet --port P[,P...] --ca-dir DIR --roster R --pin D --org O --fleet F --env E\n"
"                   --publish-cmd CMD --pid PID[,PID...] [--n N] [--rounds R]\n"
"                   [--first-version V] [--cache FILE] [--ca CA] [--prefix P] [--threads T]\n"
"                   [--max-handshakes K] [--sources S] [--wait S] [--timeout S] [--settle S]\n"
"                   [--connect-timeout S] [--servername NAME] [--label TEXT]\n"
"Simulates N followers (instance ids P00000..), each with its own certificate from the CA in\n"
"DIR and its own mTLS connection to 127.0.0.1:P (followers split between the ports), long\n"
"polling GET /api/v1/conductor/policy/latest. Each round runs CMD with %%d replaced by the\n"
"round's bundle version (V, V+1, ...) and measures publish -> each follower holding the new\n"
"bundle, verified. --sources S spreads the connections over source addresses 127.0.0.1..S.\n"
"Exit 0 when every follower verified every round's bundle, 1 otherwise, 2 on usage.\n");
    exit(2);
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

/* ---------- certificates: issued with warden's PKI code, cached in a file ---------- */

static void instance_name(const opts *o, uint32_t i, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s%05u", o->prefix, i);
}

/* Read up to want leaves from the cache file when its header matches this CA and identity
 * prefix; returns how many were read (0 for a missing or stale file). Leaves that expire
 * within a day end the read. */
static int cache_read(const opts *o, const char *header, shared *sh, int want)
{
    if (o->cache == NULL)
        return 0;
    FILE *f = fopen(o->cache, "r");
    if (f == NULL)
        return 0;
    char line[1024];
    if (fgets(line, sizeof line, f) == NULL || strcmp(line, header) != 0) {
        fclose(f);
        return 0;
    }
    time_t limit = time(NULL) + 86400;
    int got = 0;
    /* one decoder for every key: PEM_read_PrivateKey sets up OpenSSL 3's decoder chain for
     * each key, which costs more than issuing the key afresh */
    EVP_PKEY *k = NULL;
    OSSL_DECODER_CTX *dc = OSSL_DECODER_CTX_new_for_pkey(&k, "DER", "PrivateKeyInfo", "EC",
                                                         OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
    while (dc != NULL && got < want) {
        X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
        char *name = NULL, *hdr = NULL;
        unsigned char *der = NULL;
        long dlen = 0;
        bool ok = x != NULL && PEM_read(f, &name, &hdr, &der, &dlen) == 1
                  && strcmp(name, "PRIVATE KEY") == 0;
        const unsigned char *dp = der;
        size_t dleft = (size_t)dlen;
        k = NULL;
        ok = ok && OSSL_DECODER_from_data(dc, &dp, &dleft) == 1 && k != NULL
             && X509_cmp_time(X509_get0_notAfter(x), &limit) > 0;
        OPENSSL_free(name);
        OPENSSL_free(hdr);
        OPENSSL_clear_free(der, (size_t)(dlen > 0 ? dlen : 0));
        if (!ok) {
            X509_free(x);
            EVP_PKEY_free(k);
            break;
        }
        sh->cert[got] = x;
        sh->key[got] = k;
        got++;
    }
    OSSL_DECODER_CTX_free(dc);
    ERR_clear_error();
    fclose(f);
    return got;
}

/* Write all n leaves to the cache (a new file 0600, renamed over the old one). On error the
 * old cache stays and a warning is printed: the run goes on without caching. */
static void cache_write(const opts *o, const char *header, const shared *sh, int n)
{
    if (o->cache == NULL)
        return;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->cache, (long)getpid()) >= (int)sizeof tmp)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        fprintf(stderr, PROG ": warning: cannot write the leaf cache %s\n", tmp);
        return;
    }
    bool ok = fputs(header, f) >= 0;
    for (int i = 0; ok && i < n; i++)
        ok = PEM_write_X509(f, sh->cert[i]) == 1
             && PEM_write_PrivateKey(f, sh->key[i], NULL, NULL, 0, NULL, NULL) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, o->cache) != 0) {
        unlink(tmp);
        fprintf(stderr, PROG ": warning: cannot write the leaf cache %s\n", o->cache);
    }
}

/* One certificate and key per follower: from the cache, the rest issued with wd_pki_issue
 * (each a new P-256 key), then the cache rewritten. Exits on error. */
static void make_leaves(const opts *o, shared *sh)
{
    wd_err e;
    wd_err_clear(&e);
    wd_pki_ca *ca = NULL;
    if (wd_pki_ca_load(o->ca_dir, &ca, &e) != WD_OK) {
        fprintf(stderr, PROG ": cannot load the CA in %s: %s\n", o->ca_dir, e.msg);
        exit(1);
    }
    char fp[WD_DIGEST_STRLEN + 1], header[1024];
    if (wd_pki_fingerprint(wd_pki_ca_cert(ca), fp, &e) != WD_OK)
        bu_die_ssl(PROG, "cannot fingerprint the CA");
    snprintf(header, sizeof header, "%s %s %s %s %s %s\n", CACHE_MAGIC, fp, o->org, o->fleet,
             o->env, o->prefix);
    sh->cert = calloc((size_t)o->n, sizeof *sh->cert);
    sh->key = calloc((size_t)o->n, sizeof *sh->key);
    if (sh->cert == NULL || sh->key == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    uint64_t t = bu_now_ns();
    int have = cache_read(o, header, sh, o->n);
    double t_read = (double)(bu_now_ns() - t) / 1e9;
    t = bu_now_ns();
    int64_t now = (int64_t)time(NULL);
    for (int i = have; i < o->n; i++) {
        wd_pki_request req;
        memset(&req, 0, sizeof req);
        req.kind = WD_PKI_FOLLOWER;
        req.id.kind = WD_PEER_FOLLOWER;
        snprintf(req.id.org, sizeof req.id.org, "%s", o->org);
        snprintf(req.id.fleet, sizeof req.id.fleet, "%s", o->fleet);
        snprintf(req.id.env, sizeof req.id.env, "%s", o->env);
        instance_name(o, (uint32_t)i, req.id.instance, sizeof req.id.instance);
        req.valid_for = 30LL * 86400;
        wd_pki_leaf *l = NULL;
        if (wd_pki_issue(ca, &req, now, &l, &e) != WD_OK) {
            fprintf(stderr, PROG ": cannot issue a follower certificate: %s\n", e.msg);
            exit(1);
        }
        sh->cert[i] = wd_pki_leaf_cert(l);
        sh->key[i] = wd_pki_leaf_key(l);
        X509_up_ref(sh->cert[i]);
        EVP_PKEY_up_ref(sh->key[i]);
        wd_pki_leaf_free(l);
    }
    double t_issue = (double)(bu_now_ns() - t) / 1e9;
    if (have < o->n)
        cache_write(o, header, sh, o->n);
    fprintf(stderr, PROG ": %d follower certificates: %d from the cache (%.2f s), %d issued "
            "(%.2f s, %.0f per second), each with its own P-256 key\n", o->n, have, t_read,
            o->n - have, t_issue, o->n > have && t_issue > 0 ? (o->n - have) / t_issue : 0.0);
    wd_pki_ca_free(ca);
}

/* ---------- connections ---------- */

static void set_events(worker *w, follower *c, uint32_t ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = { .events = ev, .data.ptr = c };
    epoll_ctl(w->ep, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void conn_close(worker *w, follower *c)
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
    free(c->body);
    c->body = NULL;
}

/* The follower is out of the run: an answer it cannot use, or a rejection. */
static void conn_dead(worker *w, follower *c)
{
    shared *sh = w->sh;
    if (c->counted_hold) {
        c->counted_hold = false;
        atomic_fetch_sub(&sh->held, 1);
    }
    conn_close(w, c);
    c->state = ST_DEAD;
    atomic_fetch_add(c->established_once ? &sh->dead : &sh->failed, 1);
}

/* The connection failed or was closed: connect again, as an agent does, at most MAX_ATTEMPTS
 * times per follower; then the follower is out of the run. */
static void conn_lost(worker *w, follower *c)
{
    shared *sh = w->sh;
    if (c->attempts >= MAX_ATTEMPTS || atomic_load(&sh->phase) != PH_RUN) {
        conn_dead(w, c);
        return;
    }
    if (c->counted_hold) {
        c->counted_hold = false;
        atomic_fetch_sub(&sh->held, 1);
    }
    conn_close(w, c);
    c->attempts++;
    c->state = ST_NEW;
    w->retry[w->nretry++] = c;
    atomic_fetch_add(&sh->reconnects, 1);
}

static void conn_open(worker *w, follower *c)
{
    c->fd = bu_connect_loopback(c->port, c->src);
    c->events = 0;
    if (c->fd < 0) {
        conn_lost(w, c);
        return;
    }
    uint64_t t = bu_now_ns(), zero = 0;
    atomic_compare_exchange_strong(&w->sh->t_first_hs, &zero, t);
    c->state = ST_CONNECTING;
    w->inflight++;
    set_events(w, c, EPOLLOUT);
}

/* The next request: a held poll with the follower's ETag, or (no bundle yet) a plain GET. */
static void start_request(follower *c)
{
    c->holding = c->etag[0] != '\0';
    c->state = ST_SENDING;
    c->hlen = 0;
}

static bool ssl_wait(worker *w, follower *c, int r)
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

/* Verify the body as the follower's bundle poller does: wd_bundle_verify against the roster
 * for this follower's identity, then the transition rule from its active bundle. Applies it
 * (in memory) on success. Returns false on a rejection (counted, with its code). */
static bool verify_apply(worker *w, follower *c)
{
    shared *sh = w->sh;
    const opts *o = sh->o;
    char inst[WD_MAX_ID_LEN + 1];
    instance_name(o, c->idx, inst, sizeof inst);
    wd_follower id = { .org_id = o->org, .fleet_id = o->fleet, .environment = o->env,
                       .instance_id = inst, .labels = NULL, .nlabels = 0 };
    int64_t now = (int64_t)time(NULL);
    wd_err e;
    wd_err_clear(&e);
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    wd_bundle *b = NULL;
    wd_code code = wd_bundle_verify(c->body, c->blen, sh->roster, &id, now, 0, &b, &e);
    wd_bundle_step step = WD_BUNDLE_NOOP;
    int64_t floor = c->floor;
    if (code == WD_OK)
        code = wd_bundle_transition(c->active, c->floor, b, NULL, 0, sh->roster, &id, now,
                                    &step, &floor, NULL, 0, &e);
    if (code == WD_OK && step != WD_BUNDLE_NOOP) {
        wd_bundle_free(c->active);
        c->active = b;
        b = NULL;
        c->floor = floor;
        snprintf(c->etag, sizeof c->etag, "\"%s\"", c->active->hash);
    }
    wd_bundle_free(b);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    w->verify_ns += (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000000LL + (c1.tv_nsec - c0.tv_nsec));
    w->verify_n++;
    if (code != WD_OK) {
        atomic_fetch_add(&sh->rejected, 1);
        atomic_store(&sh->last_code, (long)code);
        return false;
    }
    return true;
}

/* A complete response: 200 -> verify and apply, then the next held poll; 304 (the wait ran
 * out) -> poll again; anything else, or a rejection, puts the follower out of the run. */
static void response_done(worker *w, follower *c)
{
    shared *sh = w->sh;
    const opts *o = sh->o;
    if (c->counted_hold) {
        c->counted_hold = false;
        atomic_fetch_sub(&sh->held, 1);
    }
    uint64_t t_recv = bu_now_ns() - sh->t_start;
    if (c->status == 200) {
        bool first = c->active == NULL;
        if (!verify_apply(w, c)) {
            conn_dead(w, c);
            return;
        }
        if (first)
            atomic_fetch_add(&sh->synced, 1);
        int r = atomic_load(&sh->round);
        if (r >= 0 && r < o->rounds && c->active->version >= o->first_version + r
            && c->t_ok[r] == 0) {
            c->t_recv[r] = t_recv;
            c->t_ok[r] = bu_now_ns() - sh->t_start;
            atomic_fetch_add(&sh->done[r], 1);
        }
    } else if (c->status != 304 || !c->holding) {
        atomic_fetch_add(&sh->bad_status, 1);
        conn_dead(w, c);
        return;
    }
    free(c->body);
    c->body = NULL;
    if (c->close_after) {
        conn_lost(w, c);
        return;
    }
    start_request(c);
}

static void conn_step(worker *w, follower *c)
{
    shared *sh = w->sh;
    const opts *o = sh->o;
    for (;;) {
        switch (c->state) {
        case ST_CONNECTING: {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                conn_lost(w, c);
                return;
            }
            c->ssl = SSL_new(w->ctx);
            if (c->ssl == NULL || SSL_use_certificate(c->ssl, sh->cert[c->idx]) != 1
                || SSL_use_PrivateKey(c->ssl, sh->key[c->idx]) != 1)
                bu_die_ssl(PROG, "cannot set up a follower's TLS connection");
            SSL_set_tlsext_host_name(c->ssl, o->servername);
            SSL_set_fd(c->ssl, c->fd);
            SSL_set_connect_state(c->ssl);
            c->state = ST_HANDSHAKE;
            break;
        }
        case ST_HANDSHAKE: {
            int r = SSL_do_handshake(c->ssl);
            if (r != 1) {
                if (!ssl_wait(w, c, r))
                    conn_lost(w, c);
                return;
            }
            w->inflight--;
            if (!c->established_once) {
                c->established_once = true;
                atomic_fetch_add(&sh->established, 1);
            }
            atomic_store(&sh->t_last_hs, bu_now_ns());
            /* as an agent does on start: fetch the current bundle at once, then hold polls */
            start_request(c);
            break;
        }
        case ST_SENDING: {
            char req[REQ_CAP];
            int n;
            if (c->etag[0] != '\0')
                n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nIf-None-Match: %s\r\n"
                             "Prefer: wait=%d\r\nUser-Agent: bench_fleet\r\n\r\n", o->path,
                             o->host, c->etag, o->wait_s);
            else
                n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n"
                             "User-Agent: bench_fleet\r\n\r\n", o->path, o->host);
            int r = SSL_write(c->ssl, req, n);
            if (r <= 0) {
                if (!ssl_wait(w, c, r))
                    conn_lost(w, c);
                return;
            }
            if (c->holding) {
                c->counted_hold = true;
                atomic_fetch_add(&sh->held, 1);
            }
            c->state = ST_HEAD;
            c->hlen = 0;
            set_events(w, c, EPOLLIN);
            break;
        }
        case ST_HEAD: {
            int r = SSL_read(c->ssl, c->head + c->hlen, (int)(HEAD_CAP - c->hlen));
            if (r <= 0) {
                if (!ssl_wait(w, c, r))
                    conn_lost(w, c);
                return;
            }
            c->hlen += (size_t)r;
            bu_head h;
            int ph = bu_parse_head(c->head, c->hlen, HEAD_CAP, &h);
            if (ph < 0 || (ph > 0 && (size_t)h.content_length > WD_MAX_BUNDLE_ENVELOPE)) {
                atomic_fetch_add(&sh->bad_status, 1);
                conn_dead(w, c);
                return;
            }
            if (ph == 0)
                break;
            c->status = h.status;
            c->close_after = h.close_after;
            size_t extra = c->hlen - h.len;
            if (extra > (size_t)h.content_length) {
                conn_dead(w, c);   /* pipelined or unframed bytes: not expected */
                return;
            }
            c->bwant = (size_t)h.content_length;
            c->blen = 0;
            if (c->bwant > 0) {
                c->body = malloc(c->bwant);
                if (c->body == NULL) {
                    conn_dead(w, c);
                    return;
                }
                memcpy(c->body, c->head + h.len, extra);
                c->blen = extra;
            }
            if (c->blen < c->bwant) {
                c->state = ST_BODY;
                break;
            }
            response_done(w, c);
            if (c->state != ST_SENDING)
                return;
            break;
        }
        case ST_BODY: {
            int r = SSL_read(c->ssl, c->body + c->blen, (int)(c->bwant - c->blen));
            if (r <= 0) {
                if (!ssl_wait(w, c, r))
                    conn_lost(w, c);
                return;
            }
            c->blen += (size_t)r;
            if (c->blen == c->bwant) {
                response_done(w, c);
                if (c->state != ST_SENDING)
                    return;
            }
            break;
        }
        default:
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    struct epoll_event ev[256];
    for (;;) {
        int ph = atomic_load(&sh->phase);
        if (ph == PH_STOP)
            break;
        while (w->nretry > 0 && w->inflight < sh->o->max_handshakes)
            conn_open(w, w->retry[--w->nretry]);
        while (w->next_open < w->n && w->inflight < sh->o->max_handshakes) {
            follower *c = &w->f[w->next_open++];
            conn_open(w, c);
        }
        int n = epoll_wait(w->ep, ev, 256, 5);
        for (int i = 0; i < n; i++) {
            follower *c = ev[i].data.ptr;
            if (c->fd >= 0)
                conn_step(w, c);
        }
    }
    for (size_t i = 0; i < w->n; i++) {
        if (w->f[i].fd >= 0 || w->f[i].ssl != NULL)
            conn_close(w, &w->f[i]);
    }
    return NULL;
}

/* ---------- main ---------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The value at quantile q of the sorted v[0..n) (nearest rank), 0 when empty. */
static uint64_t quant(const uint64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

/* cmd with every "%d" replaced by v, into out; false when it does not fit. */
static bool subst_version(const char *cmd, int v, char *out, size_t outsz)
{
    size_t at = 0;
    for (const char *p = cmd; *p != '\0'; p++) {
        char num[24];
        const char *piece = p;
        size_t len = 1;
        if (p[0] == '%' && p[1] == 'd') {
            snprintf(num, sizeof num, "%d", v);
            piece = num;
            len = strlen(num);
            p++;
        }
        if (at + len >= outsz)
            return false;
        memcpy(out + at, piece, len);
        at += len;
    }
    out[at] = '\0';
    return true;
}

static bool parse_ports(const char *s, opts *o)
{
    o->nports = 0;
    while (*s != '\0') {
        char *end;
        long p = strtol(s, &end, 10);
        if (end == s || p <= 0 || p > 65535 || o->nports == MAX_PORTS
            || (*end != ',' && *end != '\0'))
            return false;
        o->ports[o->nports++] = (int)p;
        s = *end == ',' ? end + 1 : end;
    }
    return o->nports > 0;
}

/* Wait until cond(sh) or the deadline; true when cond held. */
static bool wait_until(shared *sh, bool (*cond)(shared *), double timeout_s)
{
    uint64_t deadline = bu_now_ns() + (uint64_t)(timeout_s * 1e9);
    while (!cond(sh)) {
        if (bu_now_ns() >= deadline)
            return false;
        bu_sleep_s(0.005);
    }
    return true;
}

static bool all_connected(shared *sh)
{
    return atomic_load(&sh->established) + atomic_load(&sh->failed) >= sh->o->n;
}

static bool all_held(shared *sh)
{
    long alive = atomic_load(&sh->established) - atomic_load(&sh->dead);
    return atomic_load(&sh->held) >= alive;
}

static bool round_done(shared *sh)
{
    long alive = atomic_load(&sh->established) - atomic_load(&sh->dead);
    return atomic_load(&sh->done[atomic_load(&sh->round)]) >= alive;
}

int main(int argc, char **argv)
{
    opts o = { .n = 1000, .rounds = 3, .first_version = 2, .max_handshakes = 16,
               .wait_s = 300, .timeout_s = 120, .connect_timeout_s = 900, .settle_s = 1, .servername = "localhost",
               .host = "localhost", .path = "/api/v1/conductor/policy/latest", .label = "",
               .prefix = "sim-" };
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = nproc > 0 && nproc <= MAX_THREADS ? (int)nproc : 2;
    static const struct option lo[] = {
        { "port", 1, NULL, 'p' }, { "ca-dir", 1, NULL, 'D' }, { "ca", 1, NULL, 'a' },
        { "cache", 1, NULL, 'K' }, { "roster", 1, NULL, 'R' }, { "pin", 1, NULL, 'Q' },
        { "org", 1, NULL, 'o' }, { "fleet", 1, NULL, 'f' }, { "env", 1, NULL, 'E' },
        { "prefix", 1, NULL, 'x' }, { "n", 1, NULL, 'n' }, { "rounds", 1, NULL, 'r' },
        { "first-version", 1, NULL, 'V' }, { "threads", 1, NULL, 't' },
        { "max-handshakes", 1, NULL, 'm' }, { "sources", 1, NULL, 's' },
        { "wait", 1, NULL, 'W' }, { "timeout", 1, NULL, 'T' }, { "settle", 1, NULL, 'S' },
        { "publish-cmd", 1, NULL, 'C' }, { "pid", 1, NULL, 'P' },
        { "connect-timeout", 1, NULL, 'c' }, { "servername", 1, NULL, 'N' }, { "label", 1, NULL, 'l' }, { "help", 0, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    bool ports_ok = false;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'p': ports_ok = parse_ports(optarg, &o); break;
        case 'D': o.ca_dir = optarg; break;
        case 'a': o.ca = optarg; break;
        case 'K': o.cache = optarg; break;
        case 'R': o.roster = optarg; break;
        case 'Q': o.pin = optarg; break;
        case 'o': o.org = optarg; break;
        case 'f': o.fleet = optarg; break;
        case 'E': o.env = optarg; break;
        case 'x': o.prefix = optarg; break;
        case 'n': o.n = atoi(optarg); break;
        case 'r': o.rounds = atoi(optarg); break;
        case 'V': o.first_version = atoi(optarg); break;
        case 't': o.threads = atoi(optarg); break;
        case 'm': o.max_handshakes = atoi(optarg); break;
        case 's': o.sources = atoi(optarg); break;
        case 'W': o.wait_s = atoi(optarg); break;
        case 'T': o.timeout_s = atof(optarg); break;
        case 'S': o.settle_s = atof(optarg); break;
        case 'c': o.connect_timeout_s = atof(optarg); break;
        case 'C': o.publish_cmd = optarg; break;
        case 'P': o.pids = optarg; break;
        case 'N': o.servername = optarg; break;
        case 'l': o.label = optarg; break;
        default: usage();
        }
    }
    if (optind != argc || !ports_ok || o.ca_dir == NULL || o.roster == NULL || o.pin == NULL
        || o.org == NULL || o.fleet == NULL || o.env == NULL || o.publish_cmd == NULL
        || o.pids == NULL || bu_rss_kib(o.pids) < 0 || o.n < 1 || o.n > MAX_N
        || o.rounds < 1 || o.rounds > MAX_ROUNDS || o.first_version < 1 || o.threads < 1
        || o.threads > MAX_THREADS || o.max_handshakes < 1 || o.sources < 0
        || o.sources > 254 || o.wait_s < 1 || o.wait_s > 300 || o.timeout_s <= 0
        || o.timeout_s > 3600 || o.connect_timeout_s <= 0 || o.connect_timeout_s > 3600
        || o.settle_s < 0 || o.settle_s > 60
        || strlen(o.prefix) + 5 > WD_MAX_ID_LEN)
        usage();
    char ca_default[4096];
    if (o.ca == NULL) {
        if (snprintf(ca_default, sizeof ca_default, "%s/ca.crt", o.ca_dir)
            >= (int)sizeof ca_default)
            usage();
        o.ca = ca_default;
    }
    if (o.threads > o.n)
        o.threads = o.n;
    /* loopback source addresses: one per 20,000 connections, unless told */
    if (o.sources == 0)
        o.sources = o.n > 20000 ? (o.n + 19999) / 20000 : 0;

    signal(SIGPIPE, SIG_IGN);
    bu_raise_nofile(PROG, (long)o.n + 256);

    /* the roster, verified against the pin once (each agent holds its verified roster) */
    wd_err e;
    wd_err_clear(&e);
    wd_roster *roster = NULL;
    unsigned char *rbuf = NULL;
    size_t rlen = 0;
    if (wd_read_file(o.roster, WD_MAX_ROSTER_ENVELOPE, &rbuf, &rlen, &e) != WD_OK
        || wd_roster_verify(rbuf, rlen, o.pin, NULL, (int64_t)time(NULL), &roster, &e)
               != WD_OK) {
        fprintf(stderr, PROG ": roster %s: %s (%s)\n", o.roster, e.msg, wd_code_name(e.code));
        free(rbuf);
        return 1;
    }
    free(rbuf);

    shared *sh = calloc(1, sizeof *sh);
    worker *ws = calloc((size_t)o.threads, sizeof *ws);
    follower *fs = calloc((size_t)o.n, sizeof *fs);
    char *heads = malloc((size_t)o.n * HEAD_CAP);
    if (sh == NULL || ws == NULL || fs == NULL || heads == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    sh->o = &o;
    sh->roster = roster;
    atomic_store(&sh->round, -1);

    make_leaves(&o, sh);

    for (int i = 0; i < o.n; i++) {
        fs[i].fd = -1;
        fs[i].idx = (uint32_t)i;
        fs[i].port = o.ports[i % o.nports];
        fs[i].src = o.sources > 0 ? 1 + i % o.sources : 0;
        fs[i].head = heads + (size_t)i * HEAD_CAP;
    }
    size_t per = (size_t)o.n / (size_t)o.threads, rem = (size_t)o.n % (size_t)o.threads, at = 0;
    for (int t = 0; t < o.threads; t++) {
        worker *w = &ws[t];
        w->sh = sh;
        w->ctx = bu_client_ctx(PROG, o.ca, o.servername, NULL, NULL);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0) {
            perror(PROG ": epoll_create1");
            return 1;
        }
        w->n = per + ((size_t)t < rem ? 1 : 0);
        w->f = fs + at;
        w->retry = calloc(w->n, sizeof *w->retry);
        if (w->retry == NULL) {
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
        at += w->n;
    }

    char ports_s[128] = "";
    for (int i = 0; i < o.nports; i++)
        snprintf(ports_s + strlen(ports_s), sizeof ports_s - strlen(ports_s), "%s%d",
                 i ? "," : "", o.ports[i]);
    printf("%s%sfleet of %d followers on 127.0.0.1:%s  threads=%d sources=%d wait=%ds\n",
           o.label, *o.label ? "  " : "", o.n, ports_s, o.threads,
           o.sources > 0 ? o.sources : 1, o.wait_s);

    /* 1. connect: every follower's mTLS handshake; each then fetches and verifies the
     * current bundle and holds a poll, as an agent does when it starts */
    long rss0 = bu_rss_kib(o.pids);
    double lcpu0 = bu_cpu_s(o.pids), scpu0 = bu_self_cpu_s();
    sh->t_start = bu_now_ns();
    atomic_store(&sh->phase, PH_RUN);
    for (int t = 0; t < o.threads; t++)
        if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) {
            fprintf(stderr, PROG ": cannot start a thread\n");
            return 1;
        }
    bool ok = wait_until(sh, all_connected, o.connect_timeout_s);
    double lcpu1 = bu_cpu_s(o.pids), scpu1 = bu_self_cpu_s();
    long est = atomic_load(&sh->established);
    uint64_t hs0 = atomic_load(&sh->t_first_hs), hs1 = atomic_load(&sh->t_last_hs);
    double hs_s = hs1 > hs0 ? (double)(hs1 - hs0) / 1e9 : 0;
    double hs_rate = hs_s > 0 ? (double)est / hs_s : 0;
    printf("  connect: %ld of %d established (%ld failed%s) in %.2f s: %.0f handshakes/s; "
           "leader CPU %.2f s (%.0f us per connection: handshake, first GET, held poll), "
           "simulator CPU %.2f s\n", est, o.n,
           atomic_load(&sh->failed), ok ? "" : ", deadline passed", hs_s, hs_rate,
           lcpu1 - lcpu0, est > 0 ? (lcpu1 - lcpu0) * 1e6 / (double)est : 0.0, scpu1 - scpu0);

    /* 2. sync: each follower fetches and verifies the current bundle, then holds a poll */
    uint64_t ts = bu_now_ns();
    ok = wait_until(sh, all_held, o.timeout_s) && ok;
    double t_sync = (double)(bu_now_ns() - ts) / 1e9;
    bu_sleep_s(o.settle_s);   /* the leaders parse and park the last polls */
    long rss_held = bu_rss_kib(o.pids);
    long held = atomic_load(&sh->held);
    double per_poll = held > 0 ? (double)(rss_held - rss0) * 1024.0 / (double)held : 0;
    printf("  sync: %ld followers fetched and verified the current bundle and hold a poll "
           "(%.2f s after the last handshake); %ld rejected, %ld other answers, %ld followers "
           "lost, %ld reconnections\n", held, t_sync, atomic_load(&sh->rejected),
           atomic_load(&sh->bad_status), atomic_load(&sh->dead), atomic_load(&sh->reconnects));
    printf("  leader RSS: %ld KiB before the connections, %ld KiB with %ld held polls: %.0f B "
           "per held poll (its TLS connection included)\n", rss0, rss_held, held, per_poll);
    printf("RESULT mode=fleet label=%s n=%d established=%ld held=%ld hs_s=%.3f hs_per_s=%.0f "
           "hs_leader_cpu_s=%.2f rss0_kib=%ld rss_held_kib=%ld per_poll_b=%.0f\n",
           *o.label ? o.label : "-", o.n, est, held, hs_s, hs_rate, lcpu1 - lcpu0, rss0,
           rss_held, per_poll);
    fflush(stdout);

    /* 3. rounds: publish version V+r, then every follower's answer, verified */
    uint64_t *lat = malloc((size_t)o.n * sizeof *lat), *rlat = malloc((size_t)o.n * sizeof *rlat);
    uint64_t *plat = malloc((size_t)o.n * sizeof *plat);
    if (lat == NULL || rlat == NULL || plat == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    for (int r = 0; r < o.rounds && ok; r++) {
        int v = o.first_version + r;
        char cmd[8192];
        if (!subst_version(o.publish_cmd, v, cmd, sizeof cmd)) {
            fprintf(stderr, PROG ": --publish-cmd is too long\n");
            return 2;
        }
        if (r > 0) {
            ok = wait_until(sh, all_held, o.timeout_s);
            bu_sleep_s(o.settle_s);
        }
        long alive = atomic_load(&sh->established) - atomic_load(&sh->dead);
        for (int t = 0; t < o.threads; t++)
            ws[t].verify_ns = ws[t].verify_n = 0;   /* read after the round: racy only by a count */
        double l0 = bu_cpu_s(o.pids), s0 = bu_self_cpu_s();
        uint64_t t0 = bu_now_ns();
        atomic_store(&sh->round, r);
        int prc = system(cmd);
        uint64_t t1 = bu_now_ns();
        bool all = wait_until(sh, round_done, o.timeout_s);
        uint64_t t2 = bu_now_ns();
        double l1 = bu_cpu_s(o.pids), s1 = bu_self_cpu_s();
        uint64_t t0s = t0 - sh->t_start, vns = 0, vn = 0;
        for (int t = 0; t < o.threads; t++) {
            vns += ws[t].verify_ns;
            vn += ws[t].verify_n;
        }
        size_t nl = 0;
        for (int i = 0; i < o.n; i++)
            if (fs[i].t_ok[r] != 0) {
                lat[nl] = fs[i].t_ok[r] - t0s;
                rlat[nl] = fs[i].t_recv[r] - t0s;
                nl++;
            }
        qsort(lat, nl, sizeof *lat, cmp_u64);
        qsort(rlat, nl, sizeof *rlat, cmp_u64);
        int pexit = WIFEXITED(prc) ? WEXITSTATUS(prc) : -1;
        printf("  round %d: version %d published (command exit %d, %.1f ms); %zu of %ld "
               "followers verified it%s in %.2f s\n", r + 1, v, pexit, ms(t1 - t0), nl, alive,
               all ? "" : " (deadline passed)", (double)(t2 - t0) / 1e9);
        printf("    publish -> received and verified: p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  "
               "max %.1f ms   (received: first %.1f  p50 %.1f  p99 %.1f  max %.1f ms)\n",
               ms(quant(lat, nl, 0.5)), ms(quant(lat, nl, 0.9)), ms(quant(lat, nl, 0.99)),
               ms(quant(lat, nl, 1.0)), ms(nl ? rlat[0] : 0), ms(quant(rlat, nl, 0.5)),
               ms(quant(rlat, nl, 0.99)), ms(quant(rlat, nl, 1.0)));
        /* with several leaders: each one's followers (the publish goes through the first) */
        for (int pi = 0; o.nports > 1 && pi < o.nports; pi++) {
            size_t np = 0;
            for (int i = 0; i < o.n; i++)
                if (fs[i].t_ok[r] != 0 && fs[i].port == o.ports[pi])
                    plat[np++] = fs[i].t_ok[r] - t0s;
            qsort(plat, np, sizeof *plat, cmp_u64);
            printf("    followers of 127.0.0.1:%d%s: %zu verified, p50 %.1f ms  p99 %.1f ms  "
                   "max %.1f ms\n", o.ports[pi], pi == 0 ? " (published through it)" : "", np,
                   ms(quant(plat, np, 0.5)), ms(quant(plat, np, 0.99)), ms(quant(plat, np, 1.0)));
            printf("RESULT mode=port label=%s n=%d round=%d port_index=%d verified=%zu "
                   "p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n", *o.label ? o.label : "-", o.n, r + 1,
                   pi, np, ms(quant(plat, np, 0.5)), ms(quant(plat, np, 0.99)),
                   ms(quant(plat, np, 1.0)));
        }
        printf("    leader CPU %.2f s, simulator CPU %.2f s (verification: %.0f us of CPU per "
               "bundle, %.2f s for %llu bundles)\n", l1 - l0, s1 - s0,
               vn ? (double)vns / 1e3 / (double)vn : 0.0, (double)vns / 1e9,
               (unsigned long long)vn);
        printf("RESULT mode=round label=%s n=%d round=%d version=%d alive=%ld verified=%zu "
               "publish_exit=%d publish_ms=%.1f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f "
               "recv_first_ms=%.1f recv_p50_ms=%.1f recv_p99_ms=%.1f leader_cpu_s=%.2f sim_cpu_s=%.2f "
               "verify_us=%.0f\n", *o.label ? o.label : "-", o.n, r + 1, v, alive, nl, pexit,
               ms(t1 - t0), ms(quant(lat, nl, 0.5)), ms(quant(lat, nl, 0.9)),
               ms(quant(lat, nl, 0.99)), ms(quant(lat, nl, 1.0)), ms(nl ? rlat[0] : 0),
               ms(quant(rlat, nl, 0.5)), ms(quant(rlat, nl, 0.99)), l1 - l0, s1 - s0,
               vn ? (double)vns / 1e3 / (double)vn : 0.0);
        fflush(stdout);
        if (!all || pexit != 0 || (long)nl != (long)o.n)
            ok = false;
    }
    long rej = atomic_load(&sh->rejected);
    if (rej > 0)
        printf("  %ld rejections, the last: %s\n", rej,
               wd_code_name((wd_code)atomic_load(&sh->last_code)));
    if (atomic_load(&sh->bad_status) > 0 || atomic_load(&sh->dead) > 0
        || atomic_load(&sh->failed) > 0 || atomic_load(&sh->reconnects) > 0)
        printf("  %ld unexpected answers, %ld followers lost, %ld never established, "
               "%ld reconnections\n", atomic_load(&sh->bad_status), atomic_load(&sh->dead),
               atomic_load(&sh->failed), atomic_load(&sh->reconnects));
    if (rej > 0 || atomic_load(&sh->failed) > 0)
        ok = false;

    atomic_store(&sh->phase, PH_STOP);
    for (int t = 0; t < o.threads; t++) {
        pthread_join(ws[t].th, NULL);
        SSL_CTX_free(ws[t].ctx);
        close(ws[t].ep);
        free(ws[t].retry);
    }
    for (int i = 0; i < o.n; i++) {
        wd_bundle_free(fs[i].active);
        X509_free(sh->cert[i]);
        EVP_PKEY_free(sh->key[i]);
    }
    wd_roster_free(sh->roster);
    free(sh->cert);
    free(sh->key);
    free(lat);
    free(rlat);
    free(plat);
    free(heads);
    free(fs);
    free(ws);
    free(sh);
    printf("  %s\n", ok ? "every follower verified every published bundle" : "INCOMPLETE");
    return ok ? 0 : 1;
}
