/* connect_proxy.c — the CONNECT proxy for allow_hosts (see connect_proxy.h, docs/SANDBOX.md):
 * one accepting thread, one thread per tunnel (at most WD_SANDBOX_PROXY_MAX_CONN). A request
 * head is read with a cap and a deadline; `CONNECT host:port HTTP/1.x` is admitted only when
 * host matches a host glob and port is listed, then the name is resolved and connected from
 * warden's network namespace and bytes are relayed both ways until either side closes.
 * It must never connect before the check, never relay a request that is not CONNECT, and never
 * write a request's bytes into a log line uncleaned. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "connect_proxy.h"
#include "sandbox.h"
#include "base/base.h"
#include "policy/glob.h"

/* Milliseconds a client has to send its request head, and a connect to complete. */
#define HEAD_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 10000

struct wd_cproxy {
    pthread_mutex_t mu;
    int refs;         /* the owner, the acceptor, one per tunnel thread */
    int conns;
    int stop_pipe[2]; /* readable once stopping */
    int listen_fd;
    int log_fd;
    pthread_t acceptor;
    char **hosts;
    size_t n_hosts;
    uint16_t *ports;
    size_t n_ports;
};

typedef struct conn {
    wd_cproxy *p;
    int fd;
} conn;

static void cp_unref(wd_cproxy *p)
{
    pthread_mutex_lock(&p->mu);
    int left = --p->refs;
    pthread_mutex_unlock(&p->mu);
    if (left > 0)
        return;
    for (size_t i = 0; i < p->n_hosts; i++)
        free(p->hosts[i]);
    free(p->hosts);
    free(p->ports);
    if (p->stop_pipe[0] >= 0)
        close(p->stop_pipe[0]);
    if (p->stop_pipe[1] >= 0)
        close(p->stop_pipe[1]);
    if (p->log_fd >= 0)
        close(p->log_fd);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

bool wd_cproxy_admits(char *const *hosts, size_t n_hosts, const uint16_t *ports, size_t n_ports,
                      const char *host, unsigned port)
{
    char low[256];
    size_t n = strlen(host);
    if (n == 0 || n >= sizeof low)
        return false;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i]);
    bool port_ok = false;
    for (size_t i = 0; i < n_ports && !port_ok; i++)
        port_ok = ports[i] == port;
    if (!port_ok)
        return false;
    for (size_t i = 0; i < n_hosts; i++)
        if (wd_glob_match_str(hosts[i], low))
            return true;
    return false;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, const char *status)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     status);
    send_all(fd, buf, (size_t)n);
}

/* One line on the log for a refused CONNECT (the host cleaned). */
static void log_refused(const wd_cproxy *p, const char *host, unsigned port)
{
    if (p->log_fd < 0)
        return;
    char shown[160], line[320];
    wd_clean_text(host, shown, sizeof shown);
    int n = snprintf(line, sizeof line,
                     "warden: sandbox proxy: refused CONNECT %s:%u (not in allow_hosts and "
                     "allow_ports)\n",
                     shown, port);
    if (n > 0) {
        ssize_t w = write(p->log_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the request head (through the blank line) into buf. Returns its length with any bytes
 * after it in *extra, or -1 (closed, timed out, stopping, or over the cap). */
static ssize_t read_head(wd_cproxy *p, int fd, char *buf, size_t cap, size_t *total)
{
    size_t len = 0;
    int64_t deadline = now_ms() + HEAD_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd pf[2] = {{fd, POLLIN, 0}, {p->stop_pipe[0], POLLIN, 0}};
        int pr = poll(pf, 2, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0 || pf[1].revents != 0)
            return -1;
        if (len == cap)
            return -1;
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        len += (size_t)n;
        for (size_t i = 3; i < len; i++) {
            if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' && buf[i] == '\n') {
                *total = len;
                return (ssize_t)(i + 1);
            }
        }
    }
}

/* "CONNECT host:port HTTP/1.x" → host (brackets of an IPv6 literal removed) and port. */
static bool parse_connect(const char *line, char *host, size_t hostsz, unsigned *port)
{
    if (strncmp(line, "CONNECT ", 8) != 0)
        return false;
    const char *t = line + 8;
    const char *sp = strchr(t, ' ');
    if (sp == NULL || (strcmp(sp + 1, "HTTP/1.1") != 0 && strcmp(sp + 1, "HTTP/1.0") != 0))
        return false;
    const char *colon = NULL;
    for (const char *c = t; c < sp; c++)
        if (*c == ':')
            colon = c;
    if (colon == NULL || colon == t || sp - colon < 2 || sp - colon > 6)
        return false;
    unsigned v = 0;
    for (const char *c = colon + 1; c < sp; c++) {
        if (*c < '0' || *c > '9')
            return false;
        v = v * 10 + (unsigned)(*c - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    const char *hs = t, *he = colon;
    if (*hs == '[') {
        if (he[-1] != ']')
            return false;
        hs++;
        he--;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= hostsz)
        return false;
    for (const char *c = hs; c < he; c++)
        if (*c <= ' ' || *c == 0x7f || *c == '/' || *c == '@' || (unsigned char)*c >= 0x80)
            return false;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *port = v;
    return true;
}

/* Connect to host:port from warden's network namespace, with a deadline; -1 on failure. */
static int dial(wd_cproxy *p, const char *host, unsigned port)
{
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    if (getaddrinfo(host, ps, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        int cr = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (cr != 0 && errno == EINPROGRESS) {
            struct pollfd pf[2] = {{fd, POLLOUT, 0}, {p->stop_pipe[0], POLLIN, 0}};
            int pr;
            do
                pr = poll(pf, 2, CONNECT_TIMEOUT_MS);
            while (pr < 0 && errno == EINTR);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (pr > 0 && pf[1].revents == 0 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                cr = 0;
        }
        if (cr != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

/* Relay both ways until both directions are closed or the proxy stops. */
static void relay(wd_cproxy *p, int a, int b)
{
    char buf[16384];
    bool a_open = true, b_open = true; /* a_open: a still sends to b */
    while (a_open || b_open) {
        struct pollfd pf[3] = {{a, a_open ? POLLIN : 0, 0}, {b, b_open ? POLLIN : 0, 0},
                               {p->stop_pipe[0], POLLIN, 0}};
        int pr = poll(pf, 3, -1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0 || pf[2].revents != 0)
            return;
        for (int s = 0; s < 2; s++) {
            int from = s == 0 ? a : b, to = s == 0 ? b : a;
            bool *open_ = s == 0 ? &a_open : &b_open;
            if (!*open_ || pf[s].revents == 0)
                continue;
            ssize_t n = recv(from, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                *open_ = false;
                shutdown(to, SHUT_WR);
                if (n < 0)
                    return;
                continue;
            }
            send_all(to, buf, (size_t)n);
        }
    }
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    wd_cproxy *p = c->p;
    int fd = c->fd;
    free(c);
    char head[WD_SANDBOX_PROXY_MAX_HEAD + 1];
    size_t total = 0;
    ssize_t hl = read_head(p, fd, head, WD_SANDBOX_PROXY_MAX_HEAD, &total);
    if (hl < 0 || memchr(head, '\0', (size_t)hl) != NULL) {
        reply(fd, "400 Bad Request"); /* closed, slow, over the cap, or a NUL byte in it */
    } else {
        /* the request line, copied: bytes after the head (a client that did not wait for the
         * 200) stay untouched in head for the tunnel */
        char line[WD_SANDBOX_PROXY_MAX_HEAD + 1];
        const char *eol = memmem(head, (size_t)hl, "\r\n", 2); /* found: the head ends so */
        size_t ll = (size_t)(eol - head);
        memcpy(line, head, ll);
        line[ll] = '\0';
        char host[256];
        unsigned port = 0;
        if (strncmp(line, "CONNECT ", 8) == 0 && !parse_connect(line, host, sizeof host, &port)) {
            reply(fd, "400 Bad Request");
        } else if (!parse_connect(line, host, sizeof host, &port)) {
            reply(fd, "405 Method Not Allowed");
            if (p->log_fd >= 0) {
                static const char m[] = "warden: sandbox proxy: refused a request that is not "
                                        "CONNECT\n";
                ssize_t w = write(p->log_fd, m, sizeof m - 1);
                (void)w;
            }
        } else if (!wd_cproxy_admits(p->hosts, p->n_hosts, p->ports, p->n_ports, host, port)) {
            reply(fd, "403 Forbidden");
            log_refused(p, host, port);
        } else {
            int up = dial(p, host, port);
            if (up < 0) {
                reply(fd, "502 Bad Gateway");
            } else {
                static const char ok[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
                send_all(fd, ok, sizeof ok - 1);
                if (total > (size_t)hl)
                    send_all(up, head + hl, total - (size_t)hl);
                relay(p, fd, up);
                close(up);
            }
        }
    }
    close(fd);
    pthread_mutex_lock(&p->mu);
    p->conns--;
    pthread_mutex_unlock(&p->mu);
    cp_unref(p);
    return NULL;
}

static void *accept_main(void *arg)
{
    wd_cproxy *p = arg;
    for (;;) {
        struct pollfd pf[2] = {{p->listen_fd, POLLIN, 0}, {p->stop_pipe[0], POLLIN, 0}};
        int pr = poll(pf, 2, -1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0 || pf[1].revents != 0)
            break;
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&p->mu);
        bool full = p->conns >= WD_SANDBOX_PROXY_MAX_CONN;
        if (!full) {
            p->conns++;
            p->refs++;
        }
        pthread_mutex_unlock(&p->mu);
        if (full) {
            reply(fd, "503 Service Unavailable");
            close(fd);
            continue;
        }
        conn *c = malloc(sizeof *c);
        pthread_t t;
        pthread_attr_t at;
        bool started = false;
        if (c != NULL && pthread_attr_init(&at) == 0) {
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            c->p = p;
            c->fd = fd;
            started = pthread_create(&t, &at, conn_main, c) == 0;
            pthread_attr_destroy(&at);
        }
        if (!started) {
            free(c);
            reply(fd, "503 Service Unavailable");
            close(fd);
            pthread_mutex_lock(&p->mu);
            p->conns--;
            pthread_mutex_unlock(&p->mu);
            cp_unref(p);
        }
    }
    return NULL;
}

wd_code wd_cproxy_start(int listen_fd, char *const *hosts, size_t n_hosts, const uint16_t *ports,
                        size_t n_ports, int log_fd, wd_cproxy **out, wd_err *e)
{
    *out = NULL;
    wd_cproxy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        close(listen_fd);
        return wd_err_set(e, WD_E_NOMEM, "sandbox proxy: out of memory");
    }
    p->listen_fd = listen_fd;
    p->log_fd = log_fd >= 0 ? fcntl(log_fd, F_DUPFD_CLOEXEC, 3) : -1;
    p->refs = 1;
    p->stop_pipe[0] = p->stop_pipe[1] = -1;
    wd_code r = WD_OK;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        close(listen_fd);
        if (p->log_fd >= 0)
            close(p->log_fd);
        free(p);
        return wd_err_set(e, WD_E_NOMEM, "sandbox proxy: cannot create a mutex");
    }
    if (pipe2(p->stop_pipe, O_CLOEXEC) != 0)
        r = wd_err_set(e, WD_E_IO, "sandbox proxy: pipe: %s", strerror(errno));
    if (r == WD_OK && n_hosts > 0 && (p->hosts = calloc(n_hosts, sizeof *p->hosts)) == NULL)
        r = wd_err_set(e, WD_E_NOMEM, "sandbox proxy: out of memory");
    for (size_t i = 0; r == WD_OK && i < n_hosts; i++, p->n_hosts++)
        if ((p->hosts[i] = strdup(hosts[i])) == NULL)
            r = wd_err_set(e, WD_E_NOMEM, "sandbox proxy: out of memory");
    if (r == WD_OK && n_ports > 0) {
        if ((p->ports = calloc(n_ports, sizeof *p->ports)) == NULL) {
            r = wd_err_set(e, WD_E_NOMEM, "sandbox proxy: out of memory");
        } else {
            memcpy(p->ports, ports, n_ports * sizeof *ports);
            p->n_ports = n_ports;
        }
    }
    if (r == WD_OK) {
        p->refs++;
        if (pthread_create(&p->acceptor, NULL, accept_main, p) != 0) {
            p->refs--;
            r = wd_err_set(e, WD_E_IO, "sandbox proxy: cannot start its thread");
        }
    }
    if (r != WD_OK) {
        close(listen_fd);
        cp_unref(p);
        return r;
    }
    *out = p;
    return WD_OK;
}

void wd_cproxy_stop(wd_cproxy *p)
{
    if (p == NULL)
        return;
    ssize_t w;
    do
        w = write(p->stop_pipe[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(p->acceptor, NULL);
    close(p->listen_fd);
    cp_unref(p); /* the acceptor's reference */
    cp_unref(p); /* the owner's */
}
