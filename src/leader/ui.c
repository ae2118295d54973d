/* ui.c — the fleet page's requests (`--ui-listen`): the token (read once from a 0600 file,
 * compared as SHA-256 digests in constant time), the routes (the embedded page, its data, the
 * event stream's events) and their answers. The data is the followers view of api_read.c,
 * called as it is, so the page and GET followers show the same JSON.
 * It must never answer a request without the token when one is configured, put the token in a
 * log line or an answer, or accept anything but GET/HEAD. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api_int.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "ui.h"

#define TOKEN_FILE_MAX 4096

struct wd_ui {
    bool has_token;
    unsigned char digest[WD_SHA256_LEN]; /* SHA-256 of the token; the token itself is wiped */
};

static bool token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Read and check the token file into u->digest; on error u is unchanged and e says why. */
static wd_code load_token(wd_ui *u, const char *path, wd_err *e)
{
    char name[200];
    wd_clean_text(path, name, sizeof name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "ui token file %s: cannot open: %s", name,
                          strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "ui token file %s: not a regular file", name);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "ui token file %s is readable by group or others "
                          "(mode %04o); chmod 600 it", name, (unsigned)(st.st_mode & 07777));
    }
    if (st.st_size > TOKEN_FILE_MAX) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "ui token file %s: %jd bytes, more than %d", name,
                          (intmax_t)st.st_size, TOKEN_FILE_MAX);
    }
    unsigned char buf[TOKEN_FILE_MAX + 1];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            OPENSSL_cleanse(buf, sizeof buf);
            return wd_err_set(e, WD_E_IO, "ui token file %s: %s", name, strerror(err));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf)
            break;
    }
    close(fd);
    wd_code rc = WD_OK;
    size_t len = n;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    bool good = n <= TOKEN_FILE_MAX && len >= WD_UI_TOKEN_MIN && len <= WD_UI_TOKEN_MAX;
    for (size_t i = 0; good && i < len; i++)
        good = token_char(buf[i]);
    if (!good)
        rc = wd_err_set(e, WD_E_IO, "ui token file %s: one token of %d to %d characters "
                        "(A-Z a-z 0-9 - . _ ~) is expected, e.g. from `openssl rand -hex 32`",
                        name, WD_UI_TOKEN_MIN, WD_UI_TOKEN_MAX);
    else
        rc = wd_sha256(buf, len, u->digest, e);
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

wd_code wd_ui_new(const char *token_file, wd_ui **out, wd_err *e)
{
    *out = NULL;
    wd_ui *u = calloc(1, sizeof *u);
    if (u == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    if (token_file != NULL) {
        wd_code rc = load_token(u, token_file, e);
        if (rc != WD_OK) {
            wd_ui_free(u);
            return rc;
        }
        u->has_token = true;
    }
    *out = u;
    return WD_OK;
}

void wd_ui_free(wd_ui *u)
{
    if (u == NULL)
        return;
    OPENSSL_cleanse(u, sizeof *u);
    free(u);
}

bool wd_ui_has_token(const wd_ui *u)
{
    return u != NULL && u->has_token;
}

/* Does the candidate (n bytes) equal the token? Both sides are hashed first, so the compare
 * takes the same time whatever the candidate's length and bytes. */
static bool token_is(const wd_ui *u, const char *cand, size_t n)
{
    unsigned char d[WD_SHA256_LEN];
    if (n == 0 || n > WD_UI_TOKEN_MAX || wd_sha256(cand, n, d, NULL) != WD_OK)
        return false;
    bool eq = wd_ct_eq(d, u->digest, sizeof d);
    OPENSSL_cleanse(d, sizeof d);
    return eq;
}

/* The value of cookie name in a Cookie header ("a=1; b=2"), as a pointer into it and its
 * length; NULL when absent. */
static const char *cookie_value(const char *hdr, const char *name, size_t *n)
{
    size_t nl = strlen(name);
    const char *p = hdr;
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            *n = len - nl - 1;
            return p + nl + 1;
        }
        p = end;
    }
    return NULL;
}

/* The value of parameter name in a query string ("a=1&b=2"), as for cookie_value. */
static const char *query_value(const char *q, const char *name, size_t *n)
{
    size_t nl = strlen(name);
    const char *p = q;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            *n = len - nl - 1;
            return p + nl + 1;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

/* Does the request carry the token (a bearer header, or the cookie)? */
static bool authorized(const wd_ui *u, const wd_http_req *req)
{
    if (!u->has_token)
        return true;
    const char *a = wd_http_header_get(req, "Authorization");
    if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
        const char *t = a + 7;
        while (*t == ' ')
            t++;
        if (token_is(u, t, strlen(t)))
            return true;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, "Cookie") != 0)
            continue;
        size_t n = 0;
        const char *v = cookie_value(req->headers[i].value, WD_UI_COOKIE, &n);
        if (v != NULL && token_is(u, v, n))
            return true;
    }
    return false;
}

/* Headers every answer of the page carries: nothing is cached, framed, sniffed or referred. */
static void page_headers(wd_http_resp *rs)
{
    wd_http_resp_header(rs, "Cache-Control", "no-store");
    wd_http_resp_header(rs, "X-Content-Type-Options", "nosniff");
    wd_http_resp_header(rs, "Referrer-Policy", "no-referrer");
    wd_http_resp_header(rs, "X-Frame-Options", "DENY");
    wd_http_resp_header(rs, "Content-Security-Policy",
                        "default-src 'none'; script-src 'self'; style-src 'self'; "
                        "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                        "form-action 'none'; frame-ancestors 'none'");
}

static const wd_ui_file *find_file(const char *path)
{
    for (const wd_ui_file *f = wd_ui_files; f->path != NULL; f++)
        if (strcmp(f->path, path) == 0)
            return f;
    return NULL;
}

wd_ui_result wd_ui_handle(const wd_ui *u, wd_leader *L, const wd_http_req *req,
                          wd_http_resp *rs)
{
    const char *path = req->path != NULL ? req->path : req->target;
    const wd_ui_file *f = find_file(path);
    if (strcmp(path, "/favicon.ico") == 0) { /* browsers ask for it: nothing, quietly */
        rs->route = "ui/asset";
        rs->status = 204;
        return WD_UI_ANSWER;
    }
    bool data = strcmp(path, "/ui/v1/followers") == 0;
    bool events = strcmp(path, "/ui/v1/events") == 0;
    rs->route = f != NULL ? (strcmp(path, "/") == 0 ? "ui/page" : "ui/asset")
                : data    ? "ui/followers"
                : events  ? "ui/events"
                          : "ui/unknown";
    if (f == NULL && !data && !events) {
        wd_http_resp_error(rs, 404, "not-found", "no such page");
        return WD_UI_ANSWER;
    }
    bool head = strcmp(req->method, "HEAD") == 0;
    if (strcmp(req->method, "GET") != 0 && !(head && !events)) {
        wd_http_resp_header(rs, "Allow", "%s", events ? "GET" : "GET, HEAD");
        wd_http_resp_error(rs, 405, "bad-request", "method %s is not allowed here",
                           req->method);
        return WD_UI_ANSWER;
    }
    /* the page also takes ?token=T: it becomes a cookie and the address loses it (also when
     * the browser holds the cookie already) */
    size_t qn = 0;
    const char *q = u->has_token && f != NULL && strcmp(path, "/") == 0 && req->query != NULL
                        ? query_value(req->query, "token", &qn) : NULL;
    if (q != NULL && token_is(u, q, qn)) {
        rs->route = "ui/login";
        rs->status = 303;
        wd_http_resp_header(rs, "Location", "/");
        /* WD_UI_TOKEN_MAX keeps this header within its 208 bytes */
        char tok[WD_UI_TOKEN_MAX + 1];
        memcpy(tok, q, qn);
        tok[qn] = '\0';
        wd_http_resp_header(rs, "Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Strict",
                            WD_UI_COOKIE, tok);
        OPENSSL_cleanse(tok, sizeof tok);
        wd_http_resp_header(rs, "Cache-Control", "no-store");
        wd_http_resp_header(rs, "Referrer-Policy", "no-referrer");
        return WD_UI_ANSWER;
    }
    if (!authorized(u, req)) {
        wd_http_resp_header(rs, "WWW-Authenticate", "Bearer realm=\"warden fleet page\"");
        wd_http_resp_error(rs, 401, "unauthenticated",
                           "this page needs its token: open /?token=TOKEN, or send "
                           "Authorization: Bearer TOKEN");
        return WD_UI_ANSWER;
    }
    if (events)
        return WD_UI_STREAM;
    if (f != NULL) {
        wd_http_resp_body(rs, 200, f->data, f->len);
        if (rs->status == 200)
            snprintf(rs->content_type, sizeof rs->content_type, "%s", f->content_type);
        page_headers(rs);
        return WD_UI_ANSWER;
    }
    if (L->api == NULL || L->store == NULL) {
        wd_http_resp_error(rs, 503, "unavailable", "the leader is not ready");
        return WD_UI_ANSWER;
    }
    api_h_followers(L, req, "", rs);
    rs->route = "ui/followers";
    wd_http_resp_header(rs, "Cache-Control", "no-store");
    return WD_UI_ANSWER;
}

bool wd_ui_event(wd_leader *L, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (L->api == NULL || L->store == NULL)
        return false;
    wd_http_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "GET");
    req.target = req.path = "/ui/v1/followers";
    req.query = "";
    wd_http_resp rs;
    memset(&rs, 0, sizeof rs);
    api_h_followers(L, &req, "", &rs);
    bool ok = rs.status == 200 && rs.body != NULL &&
              memchr(rs.body, '\n', rs.body_len) == NULL; /* compact JSON: one data line */
    if (ok) {
        static const char pre[] = "event: followers\ndata: ";
        size_t n = sizeof pre - 1 + rs.body_len + 2;
        char *s = malloc(n + 1);
        if (s != NULL) {
            memcpy(s, pre, sizeof pre - 1);
            memcpy(s + sizeof pre - 1, rs.body, rs.body_len);
            memcpy(s + sizeof pre - 1 + rs.body_len, "\n\n", 3);
            *out = s;
            *len = n;
        }
        ok = s != NULL;
    }
    wd_http_resp_free(&rs);
    return ok;
}
