/* server.c — the process of `warden leader` (SPEC §12, §16): N worker threads, each with its own
 * libevent loop and its own SO_REUSEPORT listener per --listen address; TLS 1.3 connections on
 * bufferevent_openssl; the strict HTTP/1.1 framing of http.c with per-route body caps answered
 * before the body is read; held long polls as a table of small structs woken by key from any
 * thread; the plain-HTTP probe listener (/healthz, /readyz, /metrics); the plain-HTTP fleet
 * page listener (ui.c decides; its event streams live here, on worker 0); SIGTERM/SIGINT drain.
 * It must never run a handler for a peer without a valid identity, read a body above its
 * route's cap, keep a connection past its timeouts, or spend a thread on a held request.
 * Operational errors (peers, handshakes, sockets) and internal faults (impossible states) are
 * kept apart in code paths, log events and metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/base.h"
#include "config.h"
#include "metrics.h"
#include "server.h"
#include "tls.h"
#include "ui.h"
#include "watch.h"

#define HOLD_BUCKETS 1024
#define LINGER_S 2           /* after an error answer, unread bytes are discarded this long */
#define MAX_QUEUED_KEYS 4096 /* wake-ups queued per worker before they are merged */
#define WAKE_BATCH 64        /* woken polls re-run per turn of the loop (see wake_key) */
#define LISTEN_BACKLOG 1024

typedef struct server server;
typedef struct worker worker;
typedef struct conn conn;

typedef enum cstate {
    C_HANDSHAKE, /* TLS handshake in progress */
    C_HEAD,      /* waiting for (the rest of) a request head */
    C_BODY,      /* reading a body of req.content_length bytes */
    C_HELD,      /* a long poll: in the worker's hold table */
    C_WRITE,     /* a response is being written */
    C_LINGER,    /* answered with close: discarding what the peer still sends */
    C_STREAM,    /* the fleet page's event stream: events are written until the peer leaves */
} cstate;

struct conn {
    worker *w;
    struct bufferevent *bev;
    struct event *tmr;
    bool tls;
    bool ui;       /* a connection of the fleet page's listener */
    bool ui_dirty; /* a stream's view changed while its last event was still being written */
    int ui_stuck;  /* refreshes in a row that found the last event still unwritten */
    cstate st;
    wd_http_req req;
    bool have_req;
    wd_http_resp rs;
    size_t scanned;    /* head bytes searched for the blank line */
    bool close_after;  /* close once the response is written */
    bool linger;       /* ... after discarding the rest of the request for a while */
    bool peer_ok;
    wd_spiffe_id peer;
    char peer_uri[256];
    char peer_why[256];
    char remote[64];
    struct timespec t0;
    /* held */
    bool in_hold;
    unsigned hb;
    conn *hprev, *hnext;
    /* woken, waiting in the worker's wake queue for its turn to be re-run */
    bool in_wq;
    conn *wprev, *wnext;
    /* every connection of the worker */
    conn *prev, *next;
};

struct worker {
    server *srv;
    int idx;
    pthread_t th;
    bool started;
    struct event_base *base;
    struct evconnlistener *ls[WD_LEADER_MAX_LISTEN];
    size_t nls;
    struct evconnlistener *probe;
    struct evconnlistener *uil; /* the fleet page's listener (worker 0 only) */
    size_t nui, nstreams;       /* its connections, and event streams among them */
    struct event *ui_tmr;       /* a merged push is due */
    struct timespec ui_last;    /* when the streams were last pushed to */
    struct event *cmd_ev;
    struct event *drain_tmr;
    pthread_mutex_t mu; /* guards keys, nkeys, drain_cmd */
    bool mu_ok;
    char **keys;
    size_t nkeys;
    bool drain_cmd;
    bool draining;
    conn *conns;
    size_t nconns;
    conn *hold[HOLD_BUCKETS];
    /* held polls woken and not yet re-run, oldest first; wake_tmr re-runs them WAKE_BATCH at
     * a time (made with the worker) */
    conn *wq_head, *wq_tail;
    struct event *wake_tmr;
    /* the Date header of this second (respond) */
    time_t date_t;
    char date[40];
};

struct server {
    wd_leader *L;
    const wd_server_handlers *h;
    SSL_CTX *ctx;
    wd_ui *ui; /* the fleet page; NULL without --ui-listen */
    worker *w;
    int nw;
    atomic_int nconns; /* mTLS connections across workers, against cfg.max_conns */
    wd_watch *watch;   /* other leaders' changes (a shared store), or NULL */
    /* h->prepare has succeeded (or there is none): the handlers may run. Set once, by the
     * main thread, with release order after L->store and L->api are in place. */
    atomic_bool prepared;
    pthread_mutex_t why_mu; /* guards why */
    bool why_mu_ok;
    char why[WD_ERR_MSG_MAX]; /* the last reason h->prepare failed, for /readyz */
};

/* ---------------------------------------------------------------- small helpers */

/* The handlers may run: h->prepare has succeeded (acquire: what it opened is visible). */
static bool is_prepared(server *s)
{
    return atomic_load_explicit(&s->prepared, memory_order_acquire);
}


static void set_timer(conn *c, int seconds)
{
    struct timeval tv = {seconds, 0};
    evtimer_add(c->tmr, &tv);
}

/* FNV-1a of a hold key, reduced to a bucket of the worker's hold table. */
static unsigned key_hash(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h % HOLD_BUCKETS;
}

/* "ADDR:PORT" or "[ADDR]:PORT" of sa into out (n bytes, cut to fit; "?" when unknown). */
static void format_addr(const struct sockaddr *sa, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
        snprintf(out, n, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        port = ntohs(s6->sin6_port);
        snprintf(out, n, "[%s]:%d", host, port);
    } else {
        snprintf(out, n, "?");
    }
}

/* An operational error: a peer, a socket, a handshake. Logged at warn, counted. */
static void operational(server *s, const char *event, const char *what, const conn *c)
{
    wd_metrics_error(s->L->metrics, "operational");
    wd_log(s->L, WD_LOG_WARN, event, "detail", what, "remote", c ? c->remote : "-", NULL);
}

/* An internal fault: a bug or an impossible state. Logged at error, counted. */
static void internal(server *s, const char *what)
{
    wd_metrics_error(s->L->metrics, "internal");
    wd_log(s->L, WD_LOG_ERROR, "internal", "detail", what, NULL);
}

/* ---------------------------------------------------------------- connections */

/* Take c out of its worker's wake queue (no-op when it is not in it). */
static void wq_remove(conn *c)
{
    if (!c->in_wq)
        return;
    worker *w = c->w;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        w->wq_head = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    else
        w->wq_tail = c->wprev;
    c->wprev = c->wnext = NULL;
    c->in_wq = false;
}

/* Append c to its worker's wake queue (no-op when it is already in it). */
static void wq_push(conn *c)
{
    if (c->in_wq)
        return;
    worker *w = c->w;
    c->wnext = NULL;
    c->wprev = w->wq_tail;
    if (w->wq_tail)
        w->wq_tail->wnext = c;
    else
        w->wq_head = c;
    w->wq_tail = c;
    c->in_wq = true;
}

/* Take c out of the hold table (and the wake queue: only held polls wait there); held gauge
 * -1. No-op when c is not held. */
static void hold_remove(conn *c)
{
    wq_remove(c);
    if (!c->in_hold)
        return;
    worker *w = c->w;
    if (c->hprev)
        c->hprev->hnext = c->hnext;
    else
        w->hold[c->hb] = c->hnext;
    if (c->hnext)
        c->hnext->hprev = c->hprev;
    c->hprev = c->hnext = NULL;
    c->in_hold = false;
    wd_metrics_held(w->srv->L->metrics, -1);
}

/* Put c in the hold table under c->rs.hold_key; held gauge +1. Never fails. */
static void hold_insert(conn *c)
{
    worker *w = c->w;
    c->hb = key_hash(c->rs.hold_key);
    c->hprev = NULL;
    c->hnext = w->hold[c->hb];
    if (c->hnext)
        c->hnext->hprev = c;
    w->hold[c->hb] = c;
    c->in_hold = true;
    wd_metrics_held(w->srv->L->metrics, +1);
}

/* Close and free c and everything it owns (bufferevent, SSL, request, response, timer),
 * counting it out of the gauges; ends a draining worker's loop when it was the last. */
static void conn_free(conn *c)
{
    worker *w = c->w;
    server *s = w->srv;
    hold_remove(c);
    if (c->tmr)
        event_free(c->tmr);
    if (c->bev) {
        SSL *ssl = c->tls ? bufferevent_openssl_get_ssl(c->bev) : NULL;
        if (ssl != NULL && c->st != C_HANDSHAKE && SSL_is_init_finished(ssl))
            SSL_shutdown(ssl); /* close_notify, best effort: the socket closes next */
        ERR_clear_error();
        bufferevent_free(c->bev);
    }
    wd_http_req_free(&c->req);
    wd_http_resp_free(&c->rs);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    if (c->ui) {
        w->nui--;
        if (c->st == C_STREAM) {
            w->nstreams--;
            wd_metrics_ui_streams(s->L->metrics, -1);
        }
    }
    if (c->tls) {
        atomic_fetch_sub(&s->nconns, 1);
        wd_metrics_conns(s->L->metrics, -1);
    }
    free(c);
    if (w->draining && w->nconns == 0)
        event_base_loopexit(w->base, NULL);
}

/* Bytes arrived: what they mean depends on the state. */
static void read_cb(struct bufferevent *bev, void *arg);
/* The output buffer drained: a response is complete once nothing is left in it. */
static void write_cb(struct bufferevent *bev, void *arg);
/* Handshake done (identity taken from the certificate), or the connection ended: classify
 * why (handshake failure reason, peer error) and free it. */
static void event_cb(struct bufferevent *bev, short what, void *arg);
/* c's timer: handshake, head or idle, body, held-poll deadline, write, or linger ended. */
static void timer_cb(evutil_socket_t fd, short what, void *arg);

/* A connection for bev, linked into w. On failure (out of memory) NULL and bev is still the
 * caller's to free. The worker owns the result (conn_free). */
static conn *conn_new(worker *w, struct bufferevent *bev, bool tls, const struct sockaddr *sa)
{
    conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->tmr = evtimer_new(w->base, timer_cb, c);
    if (c->tmr == NULL) {
        free(c);
        return NULL;
    }
    c->w = w;
    c->bev = bev;
    c->tls = tls;
    c->req.content_length = -1;
    format_addr(sa, c->remote, sizeof c->remote);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    return c;
}

/* ---------------------------------------------------------------- responses */

/* Statuses after which the connection is closed whatever the client asked. */
static bool closes(int status)
{
    return status == 400 || status == 408 || status == 413 || status == 431 || status == 501;
}

/* Write c->rs to the peer, log and count it, and move to C_WRITE. Never frees c. */
static void respond(conn *c)
{
    worker *w = c->w;
    server *s = w->srv;
    wd_leader *L = s->L;
    wd_http_resp *rs = &c->rs;
    if (rs->status < 100 || rs->status > 599) {
        char what[96];
        snprintf(what, sizeof what, "a handler answered with status %d", rs->status);
        internal(s, what);
        rs->nheaders = 0;
        wd_http_resp_error(rs, 500, "unavailable", "internal error");
    }
    int status = rs->status;
    bool head_only = c->have_req && strcmp(c->req.method, "HEAD") == 0;
    bool keep = c->have_req && c->req.keep_alive && !c->close_after && !w->draining &&
                !closes(status);
    c->close_after = !keep;
    bool no_body = status == 204 || status == 304;

    struct evbuffer *out = bufferevent_get_output(c->bev);
    /* one contiguous run of free space for the whole response, so that it leaves in one TLS
     * record and one write instead of one per piece (the estimate only has to be large
     * enough; when it is not, the rest goes into a second piece) */
    size_t want = 256 + strlen(rs->content_type);
    for (size_t i = 0; i < rs->nheaders; i++)
        want += strlen(rs->headers[i].name) + strlen(rs->headers[i].value) + 4;
    if (!no_body && !head_only)
        want += rs->body_len;
    evbuffer_expand(out, want); /* out of memory: the pieces below are added one by one */
    time_t t = time(NULL);
    if (t != w->date_t || w->date[0] == '\0') { /* formatted once a second per worker */
        struct tm tm;
        gmtime_r(&t, &tm);
        if (strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
            w->date[0] = '\0';
        w->date_t = t;
    }
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, wd_http_reason(status),
                        w->date);
    if (!no_body) {
        if (rs->body_len > 0)
            evbuffer_add_printf(out, "Content-Type: %s\r\n",
                                rs->content_type[0] ? rs->content_type : "application/json");
        evbuffer_add_printf(out, "Content-Length: %zu\r\n", rs->body_len);
    }
    for (size_t i = 0; i < rs->nheaders; i++)
        evbuffer_add_printf(out, "%s: %s\r\n", rs->headers[i].name, rs->headers[i].value);
    if (!keep)
        evbuffer_add(out, "Connection: close\r\n", 19);
    else if (c->req.minor == 0)
        evbuffer_add(out, "Connection: keep-alive\r\n", 24);
    evbuffer_add(out, "\r\n", 2);
    if (!no_body && !head_only && rs->body_len > 0)
        evbuffer_add(out, rs->body, rs->body_len);

    const char *route = rs->route ? rs->route : "unknown";
    wd_metrics_request(L->metrics, route, status);
    wd_log_level lvl = c->tls || c->ui ? WD_LOG_INFO : WD_LOG_DEBUG;
    if (lvl >= L->cfg.log_level) { /* the line is formatted only when it is written */
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - c->t0.tv_sec) * 1e3 +
                    (double)(t1.tv_nsec - c->t0.tv_nsec) / 1e6;
        char st[8], dur[32];
        snprintf(st, sizeof st, "%d", status);
        snprintf(dur, sizeof dur, "%.1f", ms);
        wd_log(L, lvl, "request", "method", c->have_req ? c->req.method : "-", "route", route,
               "status", st, "peer", c->peer_ok ? c->peer_uri : c->ui ? "ui" : "-", "ms", dur,
               NULL);
    }

    c->st = C_WRITE;
    set_timer(c, L->cfg.idle_timeout_s); /* a peer that does not read is cut */
    bufferevent_enable(c->bev, EV_WRITE);
}

/* Answer an error and close after it (and linger, so the answer is not lost to a reset). */
static void respond_error(conn *c, int status, const char *code, const char *msg)
{
    wd_http_resp_free(&c->rs);
    memset(&c->rs, 0, sizeof c->rs);
    wd_http_resp_error(&c->rs, status, code, "%s", msg);
    c->close_after = true;
    c->linger = true;
    respond(c);
}

/* Answer 503 `unavailable` with Retry-After: the store is not open yet (h->prepare is being
 * retried). The connection stays open. */
static void respond_not_prepared(conn *c)
{
    wd_http_resp_free(&c->rs);
    memset(&c->rs, 0, sizeof c->rs);
    c->rs.route = "not-ready";
    wd_http_resp_header(&c->rs, "Retry-After", "5");
    wd_http_resp_error(&c->rs, 503, "unavailable",
                       "the leader is starting: its store cannot be reached yet");
    respond(c);
}

/* ---------------------------------------------------------------- the fleet page */

/* Write one event to stream c (ev, len), or, with ev NULL, the view computed for c alone (its
 * first event, the periodic refresh, a change it missed; a comment line when the view is
 * unavailable), and re-arm its refresh. While the last event is still being written, nothing
 * is added: the stream is marked, and gets the view then current once the last one is out, so
 * a slow reader holds one event at most. */
static void stream_push(conn *c, const char *ev, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) > 0) {
        c->ui_dirty = true;
        return;
    }
    c->ui_dirty = false;
    if (ev != NULL) {
        evbuffer_add(out, ev, len);
    } else {
        char *own = NULL;
        size_t n = 0;
        if (wd_ui_event(c->w->srv->L, &own, &n))
            evbuffer_add(out, own, n);
        else
            evbuffer_add(out, ": view unavailable\n\n", 20);
        free(own);
    }
    set_timer(c, WD_UI_REFRESH_S);
}

/* Push the current view to every event stream of w (computed once). */
static void ui_broadcast(worker *w)
{
    clock_gettime(CLOCK_MONOTONIC, &w->ui_last);
    if (w->nstreams == 0)
        return;
    char *ev = NULL;
    size_t n = 0;
    if (!wd_ui_event(w->srv->L, &ev, &n))
        return; /* each stream's refresh tries again */
    for (conn *c = w->conns; c != NULL;) {
        conn *next = c->next;
        if (c->st == C_STREAM)
            stream_push(c, ev, n);
        c = next;
    }
    free(ev);
}

/* The merged push is due. */
static void ui_tmr_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ui_broadcast(arg);
}

/* Something changed (a status report, a publish): push now, or once WD_UI_MIN_GAP_MS has
 * passed since the last push, so a burst of reports costs one view per gap. */
static void ui_kick(worker *w)
{
    if (w->nstreams == 0 || w->ui_tmr == NULL || evtimer_pending(w->ui_tmr, NULL))
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(now.tv_sec - w->ui_last.tv_sec) * 1000 +
                   (now.tv_nsec - w->ui_last.tv_nsec) / 1000000;
    if (ms >= WD_UI_MIN_GAP_MS) {
        ui_broadcast(w);
        return;
    }
    struct timeval tv = {0, (suseconds_t)((WD_UI_MIN_GAP_MS - ms) * 1000)};
    evtimer_add(w->ui_tmr, &tv);
}

/* Turn c into an event stream: the head (no length: the stream ends when the connection does),
 * its log line and count, then the first event. */
static void start_stream(conn *c)
{
    worker *w = c->w;
    wd_leader *L = w->srv->L;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nDate: %s\r\n"
                        "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                        "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
                        "retry: 3000\n\n", date);
    wd_metrics_request(L->metrics, c->rs.route, 200);
    wd_log(L, WD_LOG_INFO, "request", "method", c->req.method, "route", c->rs.route, "status",
           "200", "peer", "ui", "ms", "0.0", NULL);
    c->st = C_STREAM;
    c->close_after = true;
    w->nstreams++;
    wd_metrics_ui_streams(L->metrics, +1);
    c->ui_dirty = true; /* the first event follows the head (write_cb) */
    set_timer(c, WD_UI_REFRESH_S);
    bufferevent_enable(c->bev, EV_WRITE);
}

/* A request of the fleet page's listener: ui.c answers, or it becomes an event stream (at most
 * WD_UI_MAX_STREAMS at once; 503 beyond). */
static void handle_ui(conn *c)
{
    server *s = c->w->srv;
    wd_http_resp *rs = &c->rs;
    if (!is_prepared(s)) {
        respond_not_prepared(c);
        return;
    }
    if (wd_ui_handle(s->ui, s->L, &c->req, rs) == WD_UI_STREAM) {
        if (c->w->nstreams < WD_UI_MAX_STREAMS) {
            start_stream(c);
            return;
        }
        wd_http_resp_header(rs, "Retry-After", "10");
        wd_http_resp_error(rs, 503, "unavailable", "too many open event streams (at most %d)",
                           WD_UI_MAX_STREAMS);
    }
    respond(c);
}

/* ---------------------------------------------------------------- requests */

static void handle_probe(conn *c)
{
    server *s = c->w->srv;
    wd_leader *L = s->L;
    wd_http_resp *rs = &c->rs;
    const char *p = c->req.path;
    bool get = strcmp(c->req.method, "GET") == 0 || strcmp(c->req.method, "HEAD") == 0;
    snprintf(rs->content_type, sizeof rs->content_type, "text/plain; charset=utf-8");
    if (get && strcmp(p, "/healthz") == 0) {
        rs->route = "healthz";
        wd_http_resp_body(rs, 200, "ok\n", 3);
    } else if (get && strcmp(p, "/readyz") == 0) {
        rs->route = "readyz";
        char why[WD_ERR_MSG_MAX + 32] = "";
        wd_err e;
        if (__atomic_load_n(&L->draining, __ATOMIC_ACQUIRE)) {
            snprintf(why, sizeof why, "not ready: draining\n");
        } else if (!is_prepared(s)) {
            pthread_mutex_lock(&s->why_mu);
            snprintf(why, sizeof why, "not ready: store unreachable: %s\n", s->why);
            pthread_mutex_unlock(&s->why_mu);
        } else if (L->store == NULL) {
            snprintf(why, sizeof why, "not ready: no store\n");
        } else if (L->store->ops->ping(L->store, &e) != WD_OK) {
            snprintf(why, sizeof why, "not ready: store unreachable: %s\n", e.msg);
        } else if (s->h->ready == NULL || !s->h->ready(L)) {
            snprintf(why, sizeof why, "not ready: roster not loaded\n");
        } else if (!wd_watch_ok(s->watch)) {
            snprintf(why, sizeof why, "not ready: not hearing other leaders' changes to the "
                                      "store\n");
        }
        if (why[0])
            wd_http_resp_body(rs, 503, why, strlen(why));
        else
            wd_http_resp_body(rs, 200, "ready\n", 6);
    } else if (get && strcmp(p, "/metrics") == 0) {
        rs->route = "metrics";
        char *text = NULL;
        size_t len = 0;
        if (wd_metrics_render(L->metrics, &text, &len) != 0) {
            operational(s, "metrics", "out of memory rendering metrics", c);
            wd_http_resp_body(rs, 503, "out of memory\n", 14);
        } else {
            snprintf(rs->content_type, sizeof rs->content_type, "text/plain; version=0.0.4");
            rs->body = (unsigned char *)text;
            rs->body_len = len;
            rs->status = 200;
        }
    } else {
        rs->route = "probe-not-found";
        wd_http_resp_body(rs, 404, "not found: this listener serves /healthz, /readyz and "
                                   "/metrics\n", 63);
    }
    respond(c);
}

/* Call the route handler for c's request with req->wake = wake, into a fresh c->rs. */
static void run_handler(conn *c, int wake)
{
    server *s = c->w->srv;
    wd_http_resp_free(&c->rs);
    memset(&c->rs, 0, sizeof c->rs);
    c->req.wake = wake;
    c->req.peer = &c->peer;
    s->h->handle(s->L, &c->req, &c->rs);
}

/* After a handler ran: hold (first call or a re-run), or answer. */
static void after_handler(conn *c, bool first)
{
    server *s = c->w->srv;
    wd_http_resp *rs = &c->rs;
    if (rs->status == 0 && rs->hold_s > 0) {
        if (c->req.wake == 2) {
            internal(s, "a handler held a request on its final call");
            hold_remove(c);
            rs->hold_s = 0;
            wd_http_resp_error(rs, 500, "unavailable", "internal error");
            respond(c);
            return;
        }
        rs->hold_key[sizeof rs->hold_key - 1] = '\0';
        if (first) {
            int secs = rs->hold_s > WD_LEADER_MAX_WAIT_S ? WD_LEADER_MAX_WAIT_S : rs->hold_s;
            c->st = C_HELD;
            hold_insert(c);
            set_timer(c, secs); /* the deadline stands across re-runs */
            if (c->w->draining) {
                run_handler(c, 2);
                after_handler(c, false);
            }
        } else if (key_hash(rs->hold_key) != c->hb) {
            /* held again on another key: move it; the gauge stays as it is */
            hold_remove(c);
            hold_insert(c);
        }
        return;
    }
    hold_remove(c);
    if (rs->status == 0) {
        internal(s, "a handler neither answered nor held");
        wd_http_resp_error(rs, 500, "unavailable", "internal error");
    }
    respond(c);
}

/* A complete request (head and body): run its handler, or the probe's. */
static void dispatch(conn *c)
{
    if (c->ui) {
        handle_ui(c);
        return;
    }
    if (!c->tls) {
        handle_probe(c);
        return;
    }
    if (!is_prepared(c->w->srv)) {
        respond_not_prepared(c);
        return;
    }
    run_handler(c, 0);
    after_handler(c, true);
}

/* Take the body once all of it has arrived, then dispatch. Out of memory: 503 and close. */
static void try_body(conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t need = (size_t)c->req.content_length;
    if (evbuffer_get_length(in) < need)
        return;
    unsigned char *b = malloc(need + 1);
    if (b == NULL) {
        operational(c->w->srv, "memory", "out of memory for a request body", c);
        respond_error(c, 503, "unavailable", "out of memory");
        return;
    }
    evbuffer_remove(in, b, need);
    b[need] = '\0';
    c->req.body = b;
    c->req.body_len = need;
    bufferevent_setwatermark(c->bev, EV_READ, 0, WD_HTTP_MAX_HEADER_BYTES + 1);
    evtimer_del(c->tmr);
    dispatch(c);
}

/* Parse the head once the blank line is in (or 16 KiB passed): refuse with 400/431/501,
 * 403 for a refused identity, 413 when Content-Length is above the route's cap (nothing of the
 * body read); else wait for the body or dispatch. The parser's memory goes to c->req. */
static void try_head(conn *c)
{
    server *s = c->w->srv;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    if (len == 0)
        return;
    struct evbuffer_ptr start;
    evbuffer_ptr_set(in, &start, c->scanned > 3 ? c->scanned - 3 : 0, EVBUFFER_PTR_SET);
    struct evbuffer_ptr at = evbuffer_search(in, "\r\n\r\n", 4, &start);
    size_t n;
    if (at.pos >= 0 && (size_t)at.pos + 4 <= WD_HTTP_MAX_HEADER_BYTES) {
        n = (size_t)at.pos + 4;
    } else if (len > WD_HTTP_MAX_HEADER_BYTES || at.pos >= 0) {
        n = WD_HTTP_MAX_HEADER_BYTES + 1;
        if (n > len)
            n = len;
    } else {
        /* no blank line yet: a bare LF, a bare CR or a NUL already makes the head malformed,
         * so answer now instead of waiting for a CRLF CRLF that a peer using bare LFs never
         * sends */
        const unsigned char *d = evbuffer_pullup(in, (ev_ssize_t)len);
        bool bad = false;
        for (size_t i = c->scanned; d != NULL && i < len && !bad; i++)
            bad = d[i] == '\0' || (d[i] == '\n' && (i == 0 || d[i - 1] != '\r')) ||
                  (i > 0 && d[i - 1] == '\r' && d[i] != '\n');
        if (!bad) {
            c->scanned = len;
            return;
        }
        n = len;
    }
    const unsigned char *data = evbuffer_pullup(in, (ev_ssize_t)n);
    size_t used = 0;
    const char *why = "";
    wd_http_parse r = wd_http_parse_head_why(data, n, &c->req, &used, &why);
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    switch (r) {
    case WD_HTTP_NEED_MORE:
        /* the blank line was found, so this cannot happen; treat it as the bug it is */
        internal(s, "the parser wanted more after a complete head");
        respond_error(c, 400, "bad-request", "malformed request");
        return;
    case WD_HTTP_BAD:
        respond_error(c, 400, "bad-request", why);
        return;
    case WD_HTTP_TOO_LARGE:
        respond_error(c, 431, "too-large", why);
        return;
    case WD_HTTP_NOT_IMPL:
        respond_error(c, 501, "bad-request", why);
        return;
    case WD_HTTP_HEAD_DONE:
        break;
    }
    evbuffer_drain(in, used);
    c->have_req = true;
    c->scanned = 0;
    evtimer_del(c->tmr);
    int64_t cl = c->req.content_length > 0 ? c->req.content_length : 0;

    if (c->tls && !c->peer_ok) {
        wd_http_resp_free(&c->rs);
        memset(&c->rs, 0, sizeof c->rs);
        c->rs.route = "peer-identity";
        wd_http_resp_error(&c->rs, 403, "forbidden", "%s", c->peer_why);
        if (cl > 0) {
            c->close_after = true;
            c->linger = true;
        }
        respond(c);
        return;
    }
    size_t cap = c->tls ? s->h->body_cap(c->req.method, c->req.target) : 0;
    if ((uint64_t)cl > (uint64_t)cap) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body of %lld bytes is above this route's limit of "
                 "%zu bytes", (long long)cl, cap);
        respond_error(c, 413, "too-large", msg);
        return;
    }
    if (cl > 0) {
        c->st = C_BODY;
        set_timer(c, s->L->cfg.body_timeout_s);
        bufferevent_setwatermark(c->bev, EV_READ, 0,
                                 (size_t)cl + WD_HTTP_MAX_HEADER_BYTES + 1);
        const char *expect = wd_http_header_get(&c->req, "Expect");
        if (expect && c->req.minor == 1 && strcasecmp(expect, "100-continue") == 0 &&
            evbuffer_get_length(in) < (size_t)cl)
            evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        try_body(c);
        return;
    }
    dispatch(c);
}

/* A response has been written: close, linger, or wait for the next request. */
static void response_done(conn *c)
{
    wd_http_req_free(&c->req);
    wd_http_resp_free(&c->rs);
    memset(&c->rs, 0, sizeof c->rs);
    c->have_req = false;
    if (c->close_after) {
        if (!c->linger) {
            conn_free(c);
            return;
        }
        c->st = C_LINGER;
        /* tell the peer at once that nothing more comes (close_notify, then FIN), and keep
         * reading what it still sends for a while, so the answer is not lost to a reset */
        SSL *ssl = c->tls ? bufferevent_openssl_get_ssl(c->bev) : NULL;
        if (ssl != NULL && SSL_is_init_finished(ssl))
            SSL_shutdown(ssl);
        ERR_clear_error();
        shutdown(bufferevent_getfd(c->bev), SHUT_WR);
        bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
        evbuffer_drain(bufferevent_get_input(c->bev),
                       evbuffer_get_length(bufferevent_get_input(c->bev)));
        set_timer(c, LINGER_S);
        return;
    }
    c->st = C_HEAD;
    c->scanned = 0;
    bufferevent_setwatermark(c->bev, EV_READ, 0, WD_HTTP_MAX_HEADER_BYTES + 1);
    set_timer(c, c->w->srv->L->cfg.idle_timeout_s);
    bufferevent_enable(c->bev, EV_READ);
    try_head(c); /* a pipelined request may be waiting */
}

/* ---------------------------------------------------------------- libevent callbacks */

static void read_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    switch (c->st) {
    case C_HEAD:
        try_head(c);
        break;
    case C_BODY:
        try_body(c);
        break;
    case C_LINGER:
    case C_STREAM: {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        break;
    }
    case C_HANDSHAKE:
    case C_HELD:
    case C_WRITE:
        break; /* pipelined bytes wait, bounded by the read watermark */
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    if (c->st == C_STREAM) { /* an event is out: send what changed meanwhile */
        if (c->ui_dirty && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            stream_push(c, NULL, 0);
        return;
    }
    if (c->st != C_WRITE || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    response_done(c);
}

/* Count and log a failed handshake (an operational error). */
static void handshake_failed(conn *c, const char *reason)
{
    server *s = c->w->srv;
    wd_metrics_handshake_failure(s->L->metrics, reason);
    wd_metrics_error(s->L->metrics, "operational");
    wd_log(s->L, WD_LOG_INFO, "handshake-failed", "reason", reason, "remote", c->remote, NULL);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    server *s = c->w->srv;
    if (what & BEV_EVENT_CONNECTED) {
        if (c->st != C_HANDSHAKE)
            return;
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        c->peer_ok = wd_tls_peer_identity(ssl, s->L->cfg.trust_domain, &c->peer, c->peer_uri,
                                          sizeof c->peer_uri, c->peer_why, sizeof c->peer_why);
        if (!c->peer_ok) {
            wd_metrics_handshake_failure(s->L->metrics, "identity");
            wd_log(s->L, WD_LOG_INFO, "peer-refused", "detail", c->peer_why, "remote",
                   c->remote, NULL);
        }
        c->st = C_HEAD;
        bufferevent_setwatermark(bev, EV_READ, 0, WD_HTTP_MAX_HEADER_BYTES + 1);
        set_timer(c, s->L->cfg.idle_timeout_s);
        try_head(c);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    if (c->st == C_HANDSHAKE) {
        const char *reason = "protocol";
        SSL *ssl = c->tls ? bufferevent_openssl_get_ssl(bev) : NULL;
        long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
        unsigned long err;
        bool any = false;
        while ((err = bufferevent_get_openssl_error(bev)) != 0) {
            const char *r = wd_tls_failure_reason(err, vr);
            if (!any || strcmp(r, "protocol") != 0)
                reason = r;
            any = true;
        }
        if (!any && vr != X509_V_OK)
            reason = "bad-certificate";
        handshake_failed(c, reason);
    } else if (c->st == C_BODY || (c->st == C_HEAD &&
                                   evbuffer_get_length(bufferevent_get_input(bev)) > 0)) {
        operational(s, "peer-error", "the peer closed the connection in the middle of a request",
                    c);
    } else if (c->st == C_WRITE && (what & BEV_EVENT_ERROR)) {
        operational(s, "peer-error", "the connection failed while a response was written", c);
    }
    while (bufferevent_get_openssl_error(bev) != 0)
        ;
    conn_free(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    switch (c->st) {
    case C_HANDSHAKE:
        handshake_failed(c, "timeout");
        conn_free(c);
        return;
    case C_HEAD:
        if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
            conn_free(c); /* idle keep-alive connection */
            return;
        }
        operational(c->w->srv, "timeout", "request head not complete in time", c);
        respond_error(c, 408, "bad-request", "request head not complete in time");
        return;
    case C_BODY:
        operational(c->w->srv, "timeout", "request body not complete in time", c);
        respond_error(c, 408, "bad-request", "request body not complete in time");
        return;
    case C_HELD:
        run_handler(c, 2);
        after_handler(c, false);
        return;
    case C_WRITE:
        operational(c->w->srv, "timeout", "the peer does not read its response", c);
        conn_free(c);
        return;
    case C_LINGER:
        conn_free(c);
        return;
    case C_STREAM:
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
            c->ui_stuck = 0;
            stream_push(c, NULL, 0);
        } else if (++c->ui_stuck >= WD_UI_STUCK_ROUNDS) {
            operational(c->w->srv, "ui", "an event stream does not read: closed", c);
            conn_free(c);
        } else {
            c->ui_dirty = true;
            set_timer(c, WD_UI_REFRESH_S);
        }
        return;
    }
}

/* ---------------------------------------------------------------- accepting */

static void accept_tls(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                       int salen, void *arg)
{
    (void)l;
    (void)salen;
    worker *w = arg;
    server *s = w->srv;
    if (w->draining) {
        evutil_closesocket(fd);
        return;
    }
    if (atomic_fetch_add(&s->nconns, 1) >= s->L->cfg.max_conns) {
        atomic_fetch_sub(&s->nconns, 1);
        evutil_closesocket(fd);
        wd_metrics_handshake_failure(s->L->metrics, "capacity");
        wd_metrics_error(s->L->metrics, "operational");
        wd_log(s->L, WD_LOG_WARN, "capacity", "detail", "connection cap reached: refused", NULL);
        return;
    }
    wd_metrics_conns(s->L->metrics, +1);
    /* an answer goes out as it is written: a response split over several TLS records must not
     * wait for the peer's delayed ACK (Nagle), which held woken long polls back ~40 ms */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(s->ctx);
    struct bufferevent *bev = ssl ? bufferevent_openssl_socket_new(w->base, fd, ssl,
                                                                   BUFFEREVENT_SSL_ACCEPTING,
                                                                   BEV_OPT_CLOSE_ON_FREE)
                                  : NULL;
    conn *c = bev ? conn_new(w, bev, true, sa) : NULL;
    if (c == NULL) {
        if (bev)
            bufferevent_free(bev); /* frees ssl and closes fd */
        else {
            SSL_free(ssl);
            evutil_closesocket(fd);
        }
        atomic_fetch_sub(&s->nconns, 1);
        wd_metrics_conns(s->L->metrics, -1);
        operational(s, "accept", "out of memory for a new connection", NULL);
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    c->st = C_HANDSHAKE;
    set_timer(c, s->L->cfg.handshake_timeout_s);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A new probe connection: plain HTTP, not counted against max_conns. */
static void accept_probe(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                         int salen, void *arg)
{
    (void)l;
    (void)salen;
    worker *w = arg;
    server *s = w->srv;
    if (w->draining) {
        evutil_closesocket(fd);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    conn *c = bev ? conn_new(w, bev, false, sa) : NULL;
    if (c == NULL) {
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        operational(s, "accept", "out of memory for a new probe connection", NULL);
        return;
    }
    c->st = C_HEAD;
    bufferevent_setwatermark(bev, EV_READ, 0, WD_HTTP_MAX_HEADER_BYTES + 1);
    set_timer(c, s->L->cfg.idle_timeout_s);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A new connection of the fleet page: plain HTTP, at most WD_UI_MAX_CONNS at once (beyond,
 * it is closed and counted as operational). */
static void accept_ui(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)l;
    (void)salen;
    worker *w = arg;
    server *s = w->srv;
    if (w->draining) {
        evutil_closesocket(fd);
        return;
    }
    if (w->nui >= WD_UI_MAX_CONNS) {
        evutil_closesocket(fd);
        operational(s, "ui", "fleet page connection cap reached: refused", NULL);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    conn *c = bev ? conn_new(w, bev, false, sa) : NULL;
    if (c == NULL) {
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        operational(s, "accept", "out of memory for a new fleet page connection", NULL);
        return;
    }
    c->ui = true;
    w->nui++;
    c->st = C_HEAD;
    bufferevent_setwatermark(bev, EV_READ, 0, WD_HTTP_MAX_HEADER_BYTES + 1);
    set_timer(c, s->L->cfg.idle_timeout_s);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* accept(2) failed (descriptors exhausted, ...): an operational error; the listener goes on. */
static void accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    worker *w = arg;
    int err = EVUTIL_SOCKET_ERROR();
    char what[160];
    snprintf(what, sizeof what, "accept: %s", evutil_socket_error_to_string(err));
    operational(w->srv, "accept", what, NULL);
}

/* ---------------------------------------------------------------- wake-ups and drain */

/* Re-run (wake = 1) at most max woken polls from the head of w's wake queue; each answers
 * (or holds again) as a fresh request would. */
static void wake_run(worker *w, size_t max)
{
    for (size_t i = 0; i < max && w->wq_head != NULL; i++) {
        conn *c = w->wq_head;
        wq_remove(c);
        if (c->st != C_HELD || !c->in_hold)
            continue; /* cannot happen: leaving the hold table leaves the queue */
        run_handler(c, 1);
        after_handler(c, false);
    }
}

/* The wake queue's turn: re-run the next WAKE_BATCH woken polls, then give the loop back so
 * that their answers are written (the zero timer fires after the I/O the loop found ready)
 * before the next batch is prepared. */
static void wake_tmr_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    wake_run(w, WAKE_BATCH);
    if (w->wq_head != NULL) {
        static const struct timeval now = {0, 0};
        evtimer_add(w->wake_tmr, &now);
    }
}

/* Wake the polls w holds on key: queue them, and let wake_tmr re-run them WAKE_BATCH per turn
 * of the loop. So whatever the loop already has to write — the publisher's own answer first
 * of all — goes out before the first batch, and each batch's answers reach the wire while the
 * next one is prepared, instead of every held poll being re-run before any answer is written. */
static void wake_key(worker *w, const char *key)
{
    unsigned b = key_hash(key);
    for (conn *c = w->hold[b]; c != NULL; c = c->hnext)
        if (strcmp(c->rs.hold_key, key) == 0)
            wq_push(c);
    if (w->wq_head == NULL)
        return;
    if (!evtimer_pending(w->wake_tmr, NULL)) {
        static const struct timeval now = {0, 0};
        evtimer_add(w->wake_tmr, &now);
    }
}

/* Close w's listeners (mTLS and probe); idempotent. */
static void stop_listening(worker *w)
{
    for (size_t i = 0; i < w->nls; i++)
        if (w->ls[i])
            evconnlistener_free(w->ls[i]);
    w->nls = 0;
    if (w->probe)
        evconnlistener_free(w->probe);
    w->probe = NULL;
    if (w->uil)
        evconnlistener_free(w->uil);
    w->uil = NULL;
}

/* The drain took too long: end the loop; worker_main closes what is left. */
static void drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    event_base_loopexit(w->base, NULL);
}

/* Drain this worker: stop accepting, answer every held poll (wake = 2), close idle
 * connections, let the rest finish within drain_timeout_s. */
static void worker_drain(worker *w)
{
    server *s = w->srv;
    w->draining = true;
    stop_listening(w);
    /* every held poll is answered now */
    for (size_t b = 0; b < HOLD_BUCKETS; b++) {
        conn *c = w->hold[b];
        while (c != NULL) {
            conn *next = c->hnext;
            run_handler(c, 2);
            after_handler(c, false);
            c = next;
        }
    }
    for (conn *c = w->conns; c != NULL;) {
        conn *next = c->next;
        if (c->st == C_HANDSHAKE || c->st == C_STREAM ||
            (c->st == C_HEAD && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0))
            conn_free(c);
        else
            c->close_after = true;
        c = next;
    }
    w->drain_tmr = evtimer_new(w->base, drain_timeout_cb, w);
    if (w->drain_tmr != NULL) {
        struct timeval tv = {s->L->cfg.drain_timeout_s, 0};
        evtimer_add(w->drain_tmr, &tv);
    }
    if (w->nconns == 0 || w->drain_tmr == NULL)
        event_base_loopexit(w->base, NULL);
}

/* Run what other threads queued for this worker: wake-ups by key, and the drain. */
static void cmd_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    char **keys = w->keys;
    size_t n = w->nkeys;
    bool drain = w->drain_cmd;
    w->keys = NULL;
    w->nkeys = 0;
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        if (!w->draining && strcmp(keys[i], WD_UI_WAKE_KEY) != 0)
            wake_key(w, keys[i]);
        free(keys[i]);
    }
    free(keys);
    if (n > 0 && !w->draining)
        ui_kick(w); /* a report, a publish: the page's streams get the new view */
    if (drain && !w->draining)
        worker_drain(w);
}

/* L->wake: queue key to every worker (merged with an identical queued key). */
static void server_wake(wd_leader *L, const char *key)
{
    server *s = L->wake_ctx;
    if (s == NULL || key == NULL)
        return;
    for (int i = 0; i < s->nw; i++) {
        worker *w = &s->w[i];
        bool queued = false, failed = false;
        pthread_mutex_lock(&w->mu);
        for (size_t k = 0; k < w->nkeys; k++)
            if (strcmp(w->keys[k], key) == 0)
                queued = true;
        if (!queued) {
            char **nk = w->nkeys < MAX_QUEUED_KEYS
                            ? realloc(w->keys, (w->nkeys + 1) * sizeof *nk) : NULL;
            char *d = nk ? strdup(key) : NULL;
            if (nk)
                w->keys = nk;
            if (d)
                w->keys[w->nkeys++] = d;
            else
                failed = true;
        }
        pthread_mutex_unlock(&w->mu);
        if (failed)
            operational(s, "wake", "a wake-up could not be queued (out of memory or queue "
                        "full); held polls still end at their deadline", NULL);
        event_active(w->cmd_ev, EV_READ, 0);
    }
}

/* ---------------------------------------------------------------- start and stop */

static void *worker_main(void *arg)
{
    worker *w = arg;
    event_base_dispatch(w->base);
    /* the loop ended: drain finished or timed out; close whatever is left */
    while (w->conns != NULL)
        conn_free(w->conns);
    stop_listening(w);
    return NULL;
}

/* Free everything w owns; safe on a partly built worker (start errors). */
static void worker_free(worker *w)
{
    while (w->conns != NULL)
        conn_free(w->conns);
    stop_listening(w);
    if (w->drain_tmr)
        event_free(w->drain_tmr);
    if (w->wake_tmr)
        event_free(w->wake_tmr);
    if (w->ui_tmr)
        event_free(w->ui_tmr);
    if (w->cmd_ev)
        event_free(w->cmd_ev);
    if (w->base)
        event_base_free(w->base);
    for (size_t i = 0; i < w->nkeys; i++)
        free(w->keys[i]);
    free(w->keys);
    if (w->mu_ok)
        pthread_mutex_destroy(&w->mu);
}

typedef struct bound {
    struct sockaddr_storage ss;
    int len;
    char text[80];  /* as given */
    char actual[80]; /* with the port the kernel chose */
} bound;

/* A bind or listen error as e ("cannot listen on ADDR: ..."), counted as operational. */
static wd_code listen_error(wd_metrics *m, const char *addr, int err, wd_err *e)
{
    wd_metrics_error(m, "operational");
    wd_code rc;
    if (err == EADDRINUSE)
        rc = wd_err_set(e, WD_E_IO, "cannot listen on %s: address already in use", addr);
    else
        rc = wd_err_set(e, WD_E_IO, "cannot listen on %s: %s", addr, strerror(err));
    /* not logged here: the caller prints it as the one line of a start error */
    return rc;
}

/* Resolve addr, and check that nobody listens there yet: SO_REUSEPORT would otherwise let a
 * second leader of the same user share the port silently. The port the kernel picks for ":0"
 * is kept, so every worker binds the same one. */
static wd_code resolve_and_check(wd_metrics *m, const char *addr, bool reuseaddr, bound *b,
                                 wd_err *e)
{
    memset(b, 0, sizeof *b);
    snprintf(b->text, sizeof b->text, "%s", addr);
    b->len = (int)sizeof b->ss;
    if (!wd_leader_parse_addr(addr, &b->ss, &b->len))
        return wd_err_set(e, WD_E_USAGE, "cannot listen on %s: not ADDR:PORT", addr);
    int fd = socket(b->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return listen_error(m, addr, errno, e);
    int one = 1;
    if (reuseaddr)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&b->ss, (socklen_t)b->len) != 0) {
        int err = errno;
        close(fd);
        return listen_error(m, addr, err, e);
    }
    socklen_t sl = sizeof b->ss;
    getsockname(fd, (struct sockaddr *)&b->ss, &sl);
    b->len = (int)sl;
    close(fd);
    format_addr((struct sockaddr *)&b->ss, b->actual, sizeof b->actual);
    return WD_OK;
}

wd_code wd_server_preflight(const wd_leader_config *cfg, wd_metrics *m, wd_err *e)
{
    SSL_CTX *ctx = NULL;
    wd_code rc = wd_tls_server_ctx(cfg->cert, cfg->key, cfg->client_ca, &ctx, e);
    SSL_CTX_free(ctx);
    if (rc != WD_OK)
        return rc;
    bound b;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        rc = resolve_and_check(m, cfg->listen[i], true, &b, e);
        if (rc != WD_OK)
            return rc;
    }
    if (cfg->probe_listen != NULL)
        rc = resolve_and_check(m, cfg->probe_listen, true, &b, e);
    if (rc == WD_OK && cfg->ui_listen != NULL)
        rc = resolve_and_check(m, cfg->ui_listen, true, &b, e);
    if (rc == WD_OK && cfg->ui_listen != NULL) {
        wd_ui *u = NULL;
        rc = wd_ui_new(cfg->ui_token_file, &u, e);
        wd_ui_free(u);
    }
    return rc;
}

/* Write the bound addresses for tests (see wd_server_handlers.ports_file); on error the file
 * is unchanged and e says why. */
static wd_code write_ports_file(const char *path, const bound *ls, size_t n, const char *probe,
                                const char *ui, wd_err *e)
{
    char text[WD_LEADER_MAX_LISTEN * 96 + 128];
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "mtls %s\n", ls[i].actual);
    off += (size_t)snprintf(text + off, sizeof text - off, "probe %s\n", probe);
    if (ui != NULL)
        off += (size_t)snprintf(text + off, sizeof text - off, "ui %s\n", ui);
    return wd_write_file(path, text, off, 0644, e);
}

/* The first attempt and every retry of h->prepare. */
typedef struct prep {
    long delay_s;          /* the next wait (1 s doubling to PREPARE_MAX_DELAY_S) */
    struct timespec next;  /* CLOCK_MONOTONIC time of the next attempt */
} prep;

#define PREPARE_MAX_DELAY_S 30

/* Once h->prepare has succeeded: hear other leaders' changes (h->changed), then let the
 * handlers run. On error (the watcher cannot start) nothing is let in and e says why. */
static wd_code mark_prepared(server *s, wd_err *e)
{
    if (s->h->changed != NULL) {
        wd_code rc = wd_watch_start(s->L, s->h->changed, &s->watch, e);
        if (rc != WD_OK)
            return rc;
    }
    atomic_store_explicit(&s->prepared, true, memory_order_release);
    return WD_OK;
}

/* Try h->prepare once. WD_OK: done (or to be retried: *waiting set, why recorded, the warn
 * line logged, the next attempt scheduled in p). Any other result stops the leader with e. */
static wd_code try_prepare(server *s, prep *p, bool *waiting, wd_err *e)
{
    wd_leader *L = s->L;
    bool retry = false;
    wd_err pe;
    wd_err_clear(&pe);
    wd_code rc = s->h->prepare(L, &retry, &pe);
    if (rc == WD_OK) {
        *waiting = false;
        return mark_prepared(s, e);
    }
    if (!retry) {
        *e = pe;
        return rc;
    }
    *waiting = true;
    pthread_mutex_lock(&s->why_mu);
    snprintf(s->why, sizeof s->why, "%s", pe.msg);
    pthread_mutex_unlock(&s->why_mu);
    wd_metrics_error(L->metrics, "operational");
    char secs[24];
    snprintf(secs, sizeof secs, "%ld", p->delay_s);
    wd_log(L, WD_LOG_WARN, "store-unreachable", "detail", pe.msg, "retry_in_s", secs, NULL);
    clock_gettime(CLOCK_MONOTONIC, &p->next);
    p->next.tv_sec += p->delay_s;
    p->delay_s = p->delay_s * 2 > PREPARE_MAX_DELAY_S ? PREPARE_MAX_DELAY_S : p->delay_s * 2;
    return WD_OK;
}

/* The main thread's wait for a signal: at most 1 s, and no later than the next attempt of
 * h->prepare while waiting. */
static struct timespec wait_for(const prep *p, bool waiting)
{
    struct timespec ts = {1, 0};
    if (!waiting)
        return ts;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(p->next.tv_sec - now.tv_sec) * 1000 +
                   (p->next.tv_nsec - now.tv_nsec) / 1000000;
    if (ms < 1000) {
        ts.tv_sec = 0;
        ts.tv_nsec = ms > 0 ? ms * 1000000L : 1000000L;
    }
    return ts;
}

/* Whether the next attempt of h->prepare is due. */
static bool prepare_due(const prep *p)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > p->next.tv_sec ||
           (now.tv_sec == p->next.tv_sec && now.tv_nsec >= p->next.tv_nsec);
}

wd_code wd_server_run(wd_leader *L, const wd_server_handlers *h, wd_err *e)
{
    wd_leader_config *cfg = &L->cfg;
    if (h == NULL || h->handle == NULL || h->body_cap == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "server: no handlers");
    if (cfg->nlisten == 0 || cfg->trust_domain == NULL)
        return wd_err_set(e, WD_E_USAGE, "server: --listen and --trust-domain are required");
    if (evthread_use_pthreads() != 0)
        return wd_err_set(e, WD_E_INTERNAL, "libevent threads unavailable");
    signal(SIGPIPE, SIG_IGN); /* a peer that goes away is an error return, not a signal */

    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);

    server s = {.L = L, .h = h};
    atomic_init(&s.nconns, 0);
    atomic_init(&s.prepared, false);
    s.why_mu_ok = pthread_mutex_init(&s.why_mu, NULL) == 0;
    prep pr = {.delay_s = 1};
    bool waiting = false;
    wd_code rc = WD_OK;
    bound ls[WD_LEADER_MAX_LISTEN];
    char probe_actual[80] = "-";
    char ui_actual[80] = "-";
    int nw = cfg->workers;
    if (nw <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nw = n < 1 ? 1 : n > 256 ? 256 : (int)n;
    }

    if (!s.why_mu_ok) {
        rc = wd_err_set(e, WD_E_INTERNAL, "cannot create a lock");
        goto out;
    }
    rc = wd_tls_server_ctx(cfg->cert, cfg->key, cfg->client_ca, &s.ctx, e);
    if (rc != WD_OK)
        goto out;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        rc = resolve_and_check(L->metrics, cfg->listen[i], true, &ls[i], e);
        if (rc != WD_OK)
            goto out;
    }
    s.w = calloc((size_t)nw, sizeof *s.w);
    if (s.w == NULL) {
        rc = wd_err_set(e, WD_E_NOMEM, "out of memory");
        goto out;
    }
    s.nw = nw;
    for (int i = 0; i < nw; i++) {
        worker *w = &s.w[i];
        w->srv = &s;
        w->idx = i;
        w->mu_ok = pthread_mutex_init(&w->mu, NULL) == 0;
        w->base = w->mu_ok ? event_base_new() : NULL;
        w->cmd_ev = w->base ? event_new(w->base, -1, EV_PERSIST, cmd_cb, w) : NULL;
        w->wake_tmr = w->cmd_ev ? evtimer_new(w->base, wake_tmr_cb, w) : NULL;
        if (w->wake_tmr == NULL) {
            rc = wd_err_set(e, WD_E_NOMEM, "cannot create an event loop");
            goto out;
        }
        for (size_t k = 0; k < cfg->nlisten; k++) {
            w->ls[k] = evconnlistener_new_bind(
                w->base, accept_tls, w,
                LEV_OPT_REUSEABLE_PORT | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                    LEV_OPT_CLOSE_ON_FREE,
                LISTEN_BACKLOG, (struct sockaddr *)&ls[k].ss, ls[k].len);
            if (w->ls[k] == NULL) {
                rc = listen_error(L->metrics, ls[k].text, errno, e);
                goto out;
            }
            evconnlistener_set_error_cb(w->ls[k], accept_error);
            w->nls = k + 1;
        }
    }
    if (cfg->probe_listen != NULL) {
        bound pb;
        memset(&pb, 0, sizeof pb);
        pb.len = (int)sizeof pb.ss;
        if (!wd_leader_parse_addr(cfg->probe_listen, &pb.ss, &pb.len)) {
            rc = wd_err_set(e, WD_E_USAGE, "cannot listen on %s: not ADDR:PORT",
                            cfg->probe_listen);
            goto out;
        }
        worker *w0 = &s.w[0];
        w0->probe = evconnlistener_new_bind(w0->base, accept_probe, w0,
                                            LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                                                LEV_OPT_CLOSE_ON_FREE,
                                            LISTEN_BACKLOG, (struct sockaddr *)&pb.ss, pb.len);
        if (w0->probe == NULL) {
            rc = listen_error(L->metrics, cfg->probe_listen, errno, e);
            goto out;
        }
        evconnlistener_set_error_cb(w0->probe, accept_error);
        socklen_t sl = sizeof pb.ss;
        getsockname(evconnlistener_get_fd(w0->probe), (struct sockaddr *)&pb.ss, &sl);
        format_addr((struct sockaddr *)&pb.ss, probe_actual, sizeof probe_actual);
    }
    if (cfg->ui_listen != NULL) {
        bound ub;
        rc = resolve_and_check(L->metrics, cfg->ui_listen, true, &ub, e);
        if (rc == WD_OK)
            rc = wd_ui_new(cfg->ui_token_file, &s.ui, e);
        if (rc != WD_OK)
            goto out;
        worker *w0 = &s.w[0];
        w0->ui_tmr = evtimer_new(w0->base, ui_tmr_cb, w0);
        w0->uil = w0->ui_tmr == NULL ? NULL
                  : evconnlistener_new_bind(w0->base, accept_ui, w0,
                                            LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                                                LEV_OPT_CLOSE_ON_FREE,
                                            LISTEN_BACKLOG, (struct sockaddr *)&ub.ss, ub.len);
        if (w0->uil == NULL) {
            rc = listen_error(L->metrics, cfg->ui_listen, errno, e);
            goto out;
        }
        evconnlistener_set_error_cb(w0->uil, accept_error);
        snprintf(ui_actual, sizeof ui_actual, "%s", ub.actual);
    }
    if (h->ports_file != NULL) {
        rc = write_ports_file(h->ports_file, ls, cfg->nlisten, probe_actual,
                              cfg->ui_listen != NULL ? ui_actual : NULL, e);
        if (rc != WD_OK)
            goto out;
    }

    /* the store and the API: serving starts even while they cannot be opened yet, so that
     * probes see 503 (not ready) rather than nothing listening */
    if (h->prepare != NULL) {
        rc = try_prepare(&s, &pr, &waiting, e);
        if (rc != WD_OK)
            goto out;
    } else {
        rc = mark_prepared(&s, e);
        if (rc != WD_OK)
            goto out;
    }

    char listen_text[WD_LEADER_MAX_LISTEN * 82] = "";
    for (size_t i = 0; i < cfg->nlisten; i++) {
        if (i)
            strcat(listen_text, ",");
        strcat(listen_text, ls[i].actual);
    }
    char workers_text[16];
    snprintf(workers_text, sizeof workers_text, "%d", nw);
    L->wake_ctx = &s;
    L->wake = server_wake;
    __atomic_store_n(&L->draining, 0, __ATOMIC_RELEASE);
    wd_log(L, WD_LOG_INFO, "start", "listen", listen_text, "probe", probe_actual, "ui",
           ui_actual, "ui_token", wd_ui_has_token(s.ui) ? "required" : "none",
           "workers", workers_text, "store",
           waiting ? "waiting" : L->store ? L->store->ops->name : "none", "trust_domain",
           cfg->trust_domain, NULL);

    for (int i = 0; i < nw && rc == WD_OK; i++) {
        if (pthread_create(&s.w[i].th, NULL, worker_main, &s.w[i]) != 0) {
            rc = wd_err_set(e, WD_E_IO, "cannot start a worker thread");
            break;
        }
        s.w[i].started = true;
    }

    while (rc == WD_OK) {
        struct timespec ts = wait_for(&pr, waiting);
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig < 0 && waiting && prepare_due(&pr)) {
            rc = try_prepare(&s, &pr, &waiting, e);
            if (rc == WD_OK && !waiting)
                wd_log(L, WD_LOG_INFO, "store-open", "store", L->store->ops->name, NULL);
            continue; /* an error ends the loop: drained, then returned */
        }
        if (sig == SIGHUP) {
            wd_log(L, WD_LOG_INFO, "sighup", "detail",
                   "SIGHUP ignored: nothing is reloaded; restart the leader to change its "
                   "configuration", NULL);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            wd_log(L, WD_LOG_INFO, "drain", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                   NULL);
            break;
        }
    }
    /* drain: every worker stops accepting, answers its held polls, finishes, exits */
    __atomic_store_n(&L->draining, 1, __ATOMIC_RELEASE); /* read by handlers on workers */
    for (int i = 0; i < nw; i++) {
        if (!s.w[i].started)
            continue;
        pthread_mutex_lock(&s.w[i].mu);
        s.w[i].drain_cmd = true;
        pthread_mutex_unlock(&s.w[i].mu);
        event_active(s.w[i].cmd_ev, EV_READ, 0);
    }
    for (int i = 0; i < nw; i++)
        if (s.w[i].started)
            pthread_join(s.w[i].th, NULL);
    if (rc == WD_OK)
        wd_log(L, WD_LOG_INFO, "stop", "detail", "drained", NULL);

out:
    /* after the workers (the probe reads s.watch), before their loops are freed (the watcher
     * queues wake-ups to them; draining workers ignore those) */
    wd_watch_stop(s.watch);
    s.watch = NULL;
    L->wake = NULL;
    L->wake_ctx = NULL;
    for (int i = 0; i < s.nw; i++)
        worker_free(&s.w[i]);
    free(s.w);
    wd_ui_free(s.ui);
    SSL_CTX_free(s.ctx);
    if (s.why_mu_ok)
        pthread_mutex_destroy(&s.why_mu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
