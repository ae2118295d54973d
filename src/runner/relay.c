/* relay.c — the byte side of `warden run`'s proxy (SPEC §14.1); see relay.h. Lines are cut at
 * '\n' with bounded buffers and handed whole to the proxy's message logic; what it says is
 * queued and written without ever blocking. It must never forward a partial or over-cap line,
 * never read a side while an output buffer is full, and never log a line's contents. */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Slots of fd_index. */
enum { SLOT_CIN = 0, SLOT_SOUT = 1, SLOT_SIN = 2, SLOT_COUT = 3 };

static size_t pending(const wd_rbuf *b)
{
    return b->len - b->off;
}

/* Append n bytes (and a newline when nl). On OOM false and b is unchanged. */
static bool rbuf_put(wd_rbuf *b, const char *s, size_t n, bool nl)
{
    size_t need = n + (nl ? 1 : 0);
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->cap - b->len < need) {
        /* move the unwritten tail to the front before growing */
        if (b->off > 0) {
            memmove(b->d, b->d + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->cap - b->len < need) {
            if (need > SIZE_MAX / 2 - b->len)
                return false;
            size_t nc = b->cap ? b->cap : 4096;
            while (nc - b->len < need)
                nc *= 2;
            char *d = realloc(b->d, nc);
            if (d == NULL)
                return false;
            b->d = d;
            b->cap = nc;
        }
    }
    if (n > 0)
        memcpy(b->d + b->len, s, n);
    b->len += n;
    if (nl)
        b->d[b->len++] = '\n';
    return true;
}

static void rbuf_reset(wd_rbuf *b)
{
    b->off = b->len = 0;
    /* a buffer grown for one huge line is given back */
    if (b->cap > 4 * WD_RELAY_CHUNK) {
        free(b->d);
        b->d = NULL;
        b->cap = 0;
    }
}

static void rbuf_free(wd_rbuf *b)
{
    free(b->d);
    memset(b, 0, sizeof *b);
}

/* O_NONBLOCK on a pipe or socket; *flags gets the flags before. */
static bool make_nonblocking(int fd, int *flags)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return false;
    int f = fcntl(fd, F_GETFL);
    if (f < 0)
        return false;
    *flags = f;
    return (f & O_NONBLOCK) != 0 || fcntl(fd, F_SETFL, f | O_NONBLOCK) == 0;
}

void wd_relay_init(wd_relay *r, int cin, int cout, size_t max)
{
    memset(r, 0, sizeof *r);
    r->cin = cin;
    r->cout = cout;
    r->sin = r->sout = -1;
    r->max = max;
    r->client_paused = true;
    r->cin_set = make_nonblocking(cin, &r->cin_flags);
    r->cout_set = make_nonblocking(cout, &r->cout_flags);
}

void wd_relay_attach(wd_relay *r, int sin, int sout, wd_proxy *p)
{
    int f;
    r->sin = sin;
    r->sout = sout;
    if ((f = fcntl(sin, F_GETFL)) >= 0)
        fcntl(sin, F_SETFL, f | O_NONBLOCK);
    if ((f = fcntl(sout, F_GETFL)) >= 0)
        fcntl(sout, F_SETFL, f | O_NONBLOCK);
    r->proxy = p;
    r->sout_eof = false;
    r->sover = false;
    rbuf_reset(&r->sline);
    rbuf_reset(&r->to_srv);
    r->client_paused = false;
}

size_t wd_relay_pending_client(const wd_relay *r)
{
    return pending(&r->to_cli);
}

size_t wd_relay_pending_server(const wd_relay *r)
{
    return pending(&r->to_srv);
}

static wd_code queue(wd_relay *r, bool to_client, const char *s, size_t n, bool nl, wd_err *e)
{
    if (to_client ? r->cout_dead : r->sin < 0)
        return WD_OK; /* that side is gone: dropped */
    if (!rbuf_put(to_client ? &r->to_cli : &r->to_srv, s, n, nl))
        return wd_err_set(e, WD_E_NOMEM, "out of memory relaying a message");
    return WD_OK;
}

wd_code wd_relay_to_client(wd_relay *r, const char *line, size_t len, wd_err *e)
{
    return queue(r, true, line, len, true, e);
}

/* What the proxy said about one line from the client (from_client) or the server. */
static wd_code apply_out(wd_relay *r, bool from_client, const char *line, size_t len, bool nl,
                         wd_proxy_out *out, wd_err *e)
{
    wd_code c = WD_OK;
    if (out->forward_original)
        c = queue(r, !from_client, line, len, nl, e);
    if (c == WD_OK && out->to_server != NULL)
        c = queue(r, false, out->to_server, out->to_server_len, true, e);
    if (c == WD_OK && out->to_client != NULL)
        c = queue(r, true, out->to_client, out->to_client_len, true, e);
    wd_proxy_out_clear(out);
    return c;
}

static wd_code handle_line(wd_relay *r, bool from_client, const char *line, size_t len,
                           bool over, wd_err *e)
{
    wd_proxy_out out;
    memset(&out, 0, sizeof out);
    if (r->proxy == NULL)
        return WD_OK;
    if (!from_client && over) {
        /* the proxy takes no over-cap server line: it could be a tools/list result to filter,
         * so it is not passed on unchecked (fail closed); the client's request it answered
         * stays pending until the server is gone */
        r->dropped_server_lines++;
        fprintf(stderr, "warden: a server message longer than %zu bytes was dropped\n", r->max);
        return WD_OK;
    }
    wd_code c = from_client ? wd_proxy_client_line(r->proxy, line, len, over, &out, e)
                            : wd_proxy_server_line(r->proxy, line, len, &out, e);
    if (c != WD_OK) {
        wd_proxy_out_clear(&out);
        return c;
    }
    return apply_out(r, from_client, line, len, true, &out, e);
}

/* Cut n bytes read from a side into lines. */
static wd_code feed(wd_relay *r, bool from_client, const char *buf, size_t n, wd_err *e)
{
    wd_rbuf *lb = from_client ? &r->cline : &r->sline;
    bool *over = from_client ? &r->cover : &r->sover;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t seg = nl ? (size_t)(nl - (buf + i)) : n - i;
        if (!*over) {
            if (nl != NULL && lb->len == 0 && seg <= r->max) {
                /* a whole line inside this read: no copy */
                wd_code c = handle_line(r, from_client, buf + i, seg, false, e);
                if (c != WD_OK)
                    return c;
                i += seg + 1;
                continue;
            }
            size_t keep = seg;
            if (lb->len + seg > r->max) {
                keep = r->max - lb->len;
                *over = true;
            }
            if (!rbuf_put(lb, buf + i, keep, false))
                return wd_err_set(e, WD_E_NOMEM, "out of memory reading a message");
        }
        if (nl == NULL)
            break;
        wd_code c = handle_line(r, from_client, lb->d ? lb->d : "", lb->len, *over, e);
        rbuf_reset(lb);
        *over = false;
        if (c != WD_OK)
            return c;
        i += seg + 1;
    }
    return WD_OK;
}

/* Read once from a side. */
static wd_code do_read(wd_relay *r, bool from_client, wd_err *e)
{
    static const size_t chunk = WD_RELAY_CHUNK;
    if (r->rd == NULL && (r->rd = malloc(chunk)) == NULL) /* kept until wd_relay_close */
        return wd_err_set(e, WD_E_NOMEM, "out of memory reading a message");
    char *buf = r->rd;
    int fd = from_client ? r->cin : r->sout;
    ssize_t n = read(fd, buf, chunk);
    wd_code c = WD_OK;
    if (n > 0) {
        c = feed(r, from_client, buf, (size_t)n, e);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        if (from_client) {
            r->cin_eof = true;
            /* a client that closed in the middle of a message: the part is dropped */
            r->cin_partial = r->cline.len > 0 || r->cover;
            rbuf_reset(&r->cline);
            r->cover = false;
        } else {
            r->sout_eof = true;
        }
    }
    return c;
}

/* Write what is queued for a side, as much as it takes now. */
static void do_write(wd_relay *r, bool to_client)
{
    wd_rbuf *b = to_client ? &r->to_cli : &r->to_srv;
    int fd = to_client ? r->cout : r->sin;
    bool blocking = to_client && !r->cout_set;
    while (fd >= 0 && pending(b) > 0) {
        size_t n = pending(b);
        if (blocking && n > PIPE_BUF)
            n = PIPE_BUF;
        ssize_t w = write(fd, b->d + b->off, n);
        if (w > 0) {
            b->off += (size_t)w;
            if (blocking)
                break; /* once per poll: POLLOUT promised no more */
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* EPIPE or another error: that side is gone; what was queued is dropped */
        if (to_client) {
            r->cout_dead = true;
        } else {
            close(r->sin);
            r->sin = -1;
        }
        break;
    }
    if (pending(b) == 0)
        b->off = b->len = 0;
}

size_t wd_relay_pollfds(wd_relay *r, struct pollfd *pfds)
{
    size_t n = 0;
    /* A client line may queue bytes for both sides (a request, an answer); a server line only
     * for the client. So the server is read as long as the client's buffer has room, even when
     * the server's is full: a server that writes its answers before reading more requests
     * would otherwise wait on its full stdout for ever while warden waits on its stdin. */
    bool cli_room = pending(&r->to_cli) < WD_RELAY_HIGH;
    bool room = cli_room && pending(&r->to_srv) < WD_RELAY_HIGH;
    if (!r->cin_eof && !r->client_paused && r->proxy != NULL && room) {
        pfds[n] = (struct pollfd){r->cin, POLLIN, 0};
        r->fd_index[n++] = SLOT_CIN;
    }
    if (r->sout >= 0 && !r->sout_eof && cli_room) {
        pfds[n] = (struct pollfd){r->sout, POLLIN, 0};
        r->fd_index[n++] = SLOT_SOUT;
    }
    if (r->sin >= 0 && pending(&r->to_srv) > 0) {
        pfds[n] = (struct pollfd){r->sin, POLLOUT, 0};
        r->fd_index[n++] = SLOT_SIN;
    }
    if (!r->cout_dead && pending(&r->to_cli) > 0) {
        pfds[n] = (struct pollfd){r->cout, POLLOUT, 0};
        r->fd_index[n++] = SLOT_COUT;
    }
    return n;
}

wd_code wd_relay_io(wd_relay *r, const struct pollfd *pfds, size_t n, wd_err *e)
{
    wd_code c = WD_OK;
    bool wrote_cli = false, wrote_srv = false;
    for (size_t i = 0; i < n && c == WD_OK; i++) {
        short ev = pfds[i].revents;
        if (ev == 0)
            continue;
        switch (r->fd_index[i]) {
        case SLOT_CIN: c = do_read(r, true, e); break;
        case SLOT_SOUT: c = do_read(r, false, e); break;
        case SLOT_SIN: do_write(r, false); wrote_srv = true; break;
        case SLOT_COUT: do_write(r, true); wrote_cli = true; break;
        default: break;
        }
    }
    /* what a read just queued goes out now, without another round of poll (latency); a
     * blocking client stdout is written only after POLLOUT */
    if (!wrote_srv && r->sin >= 0 && pending(&r->to_srv) > 0)
        do_write(r, false);
    if (!wrote_cli && r->cout_set && !r->cout_dead && pending(&r->to_cli) > 0)
        do_write(r, true);
    return c;
}

void wd_relay_close_server_stdin(wd_relay *r)
{
    if (r->sin >= 0) {
        close(r->sin);
        r->sin = -1;
    }
    rbuf_reset(&r->to_srv);
}

wd_code wd_relay_server_gone(wd_relay *r, wd_err *e)
{
    wd_code c = WD_OK;
    if (r->proxy != NULL && r->sline.len > 0 && !r->sover) {
        /* the server's last words without a newline: a line, relayed as it was */
        wd_proxy_out out;
        memset(&out, 0, sizeof out);
        c = wd_proxy_server_line(r->proxy, r->sline.d, r->sline.len, &out, e);
        if (c == WD_OK)
            c = apply_out(r, false, r->sline.d, r->sline.len, false, &out, e);
        else
            wd_proxy_out_clear(&out);
    }
    rbuf_reset(&r->sline);
    r->sover = false;
    if (r->proxy != NULL) {
        wd_proxy_out out;
        memset(&out, 0, sizeof out);
        wd_err ge;
        wd_err_clear(&ge);
        wd_code g = wd_proxy_server_gone(r->proxy, &out, &ge);
        if (g == WD_OK && out.to_client != NULL)
            g = queue(r, true, out.to_client, out.to_client_len, true, &ge);
        wd_proxy_out_clear(&out);
        if (g != WD_OK && c == WD_OK) {
            c = g;
            if (e != NULL)
                *e = ge;
        }
    }
    if (r->sout >= 0)
        close(r->sout);
    r->sout = -1;
    wd_relay_close_server_stdin(r);
    r->proxy = NULL;
    r->client_paused = true;
    return c;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

bool wd_relay_flush_client(wd_relay *r, int timeout_ms)
{
    double until = mono_ms() + timeout_ms;
    while (!r->cout_dead && pending(&r->to_cli) > 0) {
        double left = until - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {r->cout, POLLOUT, 0};
        int pr = poll(&p, 1, (int)left + 1);
        if (pr < 0 && errno != EINTR)
            return false;
        if (pr > 0)
            do_write(r, true);
    }
    return true;
}

void wd_relay_close(wd_relay *r)
{
    if (r->sout >= 0)
        close(r->sout);
    if (r->sin >= 0)
        close(r->sin);
    r->sin = r->sout = -1;
    rbuf_free(&r->cline);
    rbuf_free(&r->sline);
    rbuf_free(&r->to_cli);
    rbuf_free(&r->to_srv);
    free(r->rd);
    r->rd = NULL;
    if (r->cin_set)
        fcntl(r->cin, F_SETFL, r->cin_flags);
    if (r->cout_set)
        fcntl(r->cout, F_SETFL, r->cout_flags);
    r->cin_set = r->cout_set = false;
}
