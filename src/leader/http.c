/* http.c — the leader's strict HTTP/1.1 request-head parser (RFC 9112 framing, SPEC §12.2
 * caps). Pure: bytes in, a request struct out; no sockets, no global state; fuzzed by
 * fuzz/fuzz_http.c. It must never read past len or WD_HTTP_MAX_HEADER_BYTES, never accept a
 * head it cannot frame exactly (obs-fold, bare CR or LF, NUL, two Content-Lengths,
 * Transfer-Encoding), and never allocate unless it returns WD_HTTP_HEAD_DONE. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte allowed in a field value: VCHAR, SP, HTAB, obs-text. */
static bool is_value_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A byte allowed in an origin-form target: visible ASCII except '#'. */
static bool is_target_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

/* Does the comma-separated token list v hold token tok (case-insensitive)? */
static bool list_has(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - s) == tl && strncasecmp(s, tok, tl) == 0)
            return true;
    }
    return false;
}

/* Find the end of the head in buf[0..len): the offset just past "\r\n\r\n", 0 when not there
 * yet. Sets *bad when a line ending is not CRLF or a NUL appears before the end. */
static size_t head_end(const unsigned char *buf, size_t len, bool *bad, const char **why)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = buf[i];
        if (c == '\0') {
            *bad = true;
            *why = "NUL byte in the request head";
            return 0;
        }
        if (c == '\n') {
            if (i == 0 || buf[i - 1] != '\r') {
                *bad = true;
                *why = "a line ends with a bare LF";
                return 0;
            }
            if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
                return i + 1;
        } else if (i > 0 && buf[i - 1] == '\r') {
            *bad = true;
            *why = "bare CR in the request head";
            return 0;
        }
    }
    return 0;
}

wd_http_parse wd_http_parse_head_why(const unsigned char *buf, size_t len, wd_http_req *req,
                                     size_t *consumed, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    *why = "";
    memset(req, 0, sizeof *req);
    req->content_length = -1;
    *consumed = 0;

    size_t scan = len > WD_HTTP_MAX_HEADER_BYTES ? WD_HTTP_MAX_HEADER_BYTES : len;
    bool bad = false;
    size_t end = head_end(buf, scan, &bad, why);
    if (bad)
        return WD_HTTP_BAD;
    if (end == 0) {
        if (len > WD_HTTP_MAX_HEADER_BYTES) {
            *why = "request head larger than 16 KiB";
            return WD_HTTP_TOO_LARGE;
        }
        return WD_HTTP_NEED_MORE;
    }

    /* ---- request line ---- */
    const unsigned char *p = buf;
    const unsigned char *lim = buf + end - 2; /* the final CRLF */
    const unsigned char *m = p;
    while (p < lim && is_tchar(*p))
        p++;
    size_t mlen = (size_t)(p - m);
    if (mlen == 0 || p >= lim || *p != ' ') {
        *why = "malformed request line";
        return WD_HTTP_BAD;
    }
    static const char *const known[] = {"GET", "PUT", "POST", "HEAD"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (mlen == strlen(known[i]) && memcmp(m, known[i], mlen) == 0)
            is_known = true;
    p++;
    const unsigned char *t = p;
    while (p < lim && is_target_byte(*p))
        p++;
    size_t tlen = (size_t)(p - t);
    if (tlen == 0 || t[0] != '/' || p >= lim || *p != ' ') {
        *why = "malformed request target (only origin-form is served)";
        return WD_HTTP_BAD;
    }
    p++;
    int minor;
    if (lim - p >= 10 && memcmp(p, "HTTP/1.1\r\n", 10) == 0)
        minor = 1;
    else if (lim - p >= 10 && memcmp(p, "HTTP/1.0\r\n", 10) == 0)
        minor = 0;
    else {
        *why = "malformed request line (HTTP/1.0 or HTTP/1.1 expected)";
        return WD_HTTP_BAD;
    }
    p += 10;
    if (!is_known) {
        *why = "method not implemented";
        return WD_HTTP_NOT_IMPL;
    }

    /* ---- header lines: validate and count before allocating ---- */
    size_t nh = 0;
    int64_t cl = -1;
    bool have_host = false, have_te = false, have_cl = false;
    for (const unsigned char *q = p; q < lim;) {
        const unsigned char *eol = memchr(q, '\r', (size_t)(lim - q));
        /* head_end guaranteed every CR is followed by LF, and lim ends with CRLF */
        if (q[0] == ' ' || q[0] == '\t') {
            *why = "obsolete line folding";
            return WD_HTTP_BAD;
        }
        const unsigned char *n = q;
        while (n < eol && is_tchar(*n))
            n++;
        if (n == q || n >= eol || *n != ':') {
            *why = "malformed header line";
            return WD_HTTP_BAD;
        }
        size_t nlen = (size_t)(n - q);
        for (const unsigned char *v = n + 1; v < eol; v++)
            if (!is_value_byte(*v)) {
                *why = "control byte in a header value";
                return WD_HTTP_BAD;
            }
        if (++nh > WD_HTTP_MAX_HEADERS) {
            *why = "more than 64 header lines";
            return WD_HTTP_TOO_LARGE;
        }
        const unsigned char *v = n + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (nlen == 14 && strncasecmp((const char *)q, "content-length", 14) == 0) {
            if (have_cl) {
                *why = "more than one Content-Length";
                return WD_HTTP_BAD;
            }
            have_cl = true;
            if (ve == v || ve - v > 18) {
                *why = "malformed Content-Length";
                return WD_HTTP_BAD;
            }
            cl = 0;
            for (const unsigned char *d = v; d < ve; d++) {
                if (*d < '0' || *d > '9') {
                    *why = "malformed Content-Length";
                    return WD_HTTP_BAD;
                }
                cl = cl * 10 + (*d - '0');
            }
        } else if (nlen == 17 && strncasecmp((const char *)q, "transfer-encoding", 17) == 0) {
            have_te = true;
        } else if (nlen == 4 && strncasecmp((const char *)q, "host", 4) == 0) {
            if (have_host) {
                *why = "more than one Host";
                return WD_HTTP_BAD;
            }
            have_host = true;
        }
        q = eol + 2;
    }
    if (have_te) {
        *why = "Transfer-Encoding is not supported: send Content-Length";
        return WD_HTTP_NOT_IMPL;
    }
    if (minor == 1 && !have_host) {
        *why = "HTTP/1.1 request without Host";
        return WD_HTTP_BAD;
    }

    /* ---- copy: the head (lines NUL-terminated in place) and the path ---- */
    size_t hlen = end;
    char *st = malloc(hlen + 1 + tlen + 1);
    if (st == NULL) {
        *why = "out of memory";
        return WD_HTTP_TOO_LARGE; /* refused like an oversized head: nothing kept */
    }
    memcpy(st, buf, hlen);
    st[hlen] = '\0';
    char *pathcopy = st + hlen + 1;
    memcpy(pathcopy, t, tlen);
    pathcopy[tlen] = '\0';

    memcpy(req->method, m, mlen);
    req->method[mlen] = '\0';
    char *target = st + (t - buf);
    target[tlen] = '\0';
    req->target = target;
    char *qm = strchr(pathcopy, '?');
    if (qm != NULL) {
        *qm = '\0';
        req->query = target + (qm - pathcopy) + 1;
    } else {
        req->query = "";
    }
    req->path = pathcopy;
    req->minor = minor;
    req->content_length = cl;
    req->storage = st;

    char *q = st + (p - buf);
    char *slim = st + (lim - buf);
    while (q < slim) {
        char *eol = strchr(q, '\r');
        *eol = '\0';
        char *colon = strchr(q, ':');
        *colon = '\0';
        char *v = colon + 1, *ve = eol;
        while (*v == ' ' || *v == '\t')
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        *ve = '\0';
        req->headers[req->nheaders].name = q;
        req->headers[req->nheaders].value = v;
        req->nheaders++;
        q = eol + 2;
    }

    const char *conn = wd_http_header_get(req, "Connection");
    if (minor == 1)
        req->keep_alive = !(conn && list_has(conn, "close"));
    else
        req->keep_alive = conn && list_has(conn, "keep-alive") && !list_has(conn, "close");
    *consumed = end;
    return WD_HTTP_HEAD_DONE;
}

wd_http_parse wd_http_parse_head(const unsigned char *buf, size_t len, wd_http_req *req,
                                 size_t *consumed)
{
    return wd_http_parse_head_why(buf, len, req, consumed, NULL);
}

void wd_http_req_free(wd_http_req *req)
{
    if (req == NULL)
        return;
    free(req->storage);
    free(req->body);
    memset(req, 0, sizeof *req);
    req->content_length = -1;
}
