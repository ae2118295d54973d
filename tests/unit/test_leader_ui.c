/* test_leader_ui.c — the fleet page's requests (ui.c): the token file (its mode, each length
 * limit at the limit and one past it, its characters), and what each request gets with and
 * without a token: the page and its files, 401 without the token (bearer header, cookie, the
 * ?token= redirect), 404/405, the event stream, and 503 while the leader has no view. The
 * stream itself and the followers data are driven through a real leader by
 * tests/interop/fleet_page.mjs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "http.h"
#include "leader.h"
#include "ui.h"

static char dir[] = "/tmp/wd-leader-ui-XXXXXX";
static const char TOKEN[] = "0123456789abcdef-._~ABCDEFxyz";

static int setup(void **st)
{
    (void)st;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write len bytes of text to DIR/name with mode; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text, size_t len, mode_t mode)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

/* Load a token file holding text; returns the code, e filled. */
static wd_code load_text(const char *text, mode_t mode, wd_err *e)
{
    wd_ui *u = NULL;
    wd_code rc = wd_ui_new(write_file("t", text, strlen(text), mode), &u, e);
    if (rc == WD_OK) {
        assert_non_null(u);
        assert_true(wd_ui_has_token(u));
    } else {
        assert_null(u);
    }
    wd_ui_free(u);
    return rc;
}

static void refused_text(const char *text, const char *want)
{
    wd_err e;
    wd_code rc = load_text(text, 0600, &e);
    if (rc != WD_E_IO || strstr(e.msg, want) == NULL)
        fail_msg("for '%s': wanted WD_E_IO with '%s', got %d '%s'", text, want, rc,
                 rc ? e.msg : "");
}

static void test_token_file(void **st)
{
    (void)st;
    wd_err e;
    char buf[200];
    /* no file: no token */
    wd_ui *u = NULL;
    assert_int_equal(wd_ui_new(NULL, &u, &e), WD_OK);
    assert_false(wd_ui_has_token(u));
    wd_ui_free(u);
    /* lengths: 16 and 128 taken, 15 and 129 refused; a trailing LF or CRLF is cut */
    memset(buf, 'a', sizeof buf);
    buf[16] = '\0';
    assert_int_equal(load_text(buf, 0600, &e), WD_OK);
    buf[15] = '\0';
    refused_text(buf, "one token of 16 to 128 characters");
    memset(buf, 'b', sizeof buf);
    buf[128] = '\0';
    assert_int_equal(load_text(buf, 0600, &e), WD_OK);
    buf[128] = '\n';
    buf[129] = '\0';
    assert_int_equal(load_text(buf, 0600, &e), WD_OK);
    buf[128] = '\r';
    buf[129] = '\n';
    buf[130] = '\0';
    assert_int_equal(load_text(buf, 0600, &e), WD_OK);
    memset(buf, 'b', sizeof buf);
    buf[129] = '\0';
    refused_text(buf, "one token of 16 to 128 characters");
    /* characters */
    refused_text("", "one token");
    refused_text("\n", "one token");
    refused_text("0123456789abcdef\n\n", "one token");
    refused_text("01234567 89abcdef", "one token");
    refused_text("0123456789abcdef+", "one token");
    refused_text("0123456789abcdef/", "one token");
    refused_text("0123456789abcdéf", "one token");
    assert_int_equal(load_text(TOKEN, 0600, &e), WD_OK);
    assert_int_equal(load_text(TOKEN, 0400, &e), WD_OK);
    /* the mode: refused when group or others may read (or write) it */
    static const mode_t bad[] = {0640, 0604, 0644, 0620, 0602, 0660};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wd_code rc = load_text(TOKEN, bad[i], &e);
        assert_int_equal(rc, WD_E_IO);
        assert_non_null(strstr(e.msg, "is readable by group or others"));
    }
    /* size: 4 KiB at most */
    char *big = malloc(4097);
    assert_non_null(big);
    memset(big, 'c', 4097);
    u = NULL;
    assert_int_equal(wd_ui_new(write_file("big", big, 4097, 0600), &u, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "4097 bytes, more than 4096"));
    assert_null(u);
    assert_int_equal(wd_ui_new(write_file("big", big, 4096, 0600), &u, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "one token"));
    free(big);
    /* not a file */
    assert_int_equal(wd_ui_new(dir, &u, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "not a regular file"));
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    assert_int_equal(wd_ui_new(missing, &u, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "cannot open"));
    assert_null(u);
}

/* ---- requests ---- */

typedef struct answer {
    wd_ui_result r;
    wd_http_resp rs;
} answer;

/* Run head (a request head, CRLFs and all) through wd_ui_handle with ui u and a leader with
 * no view loaded. */
static answer ask(const wd_ui *u, const char *head)
{
    wd_http_req req;
    size_t used = 0;
    if (wd_http_parse_head((const unsigned char *)head, strlen(head), &req, &used) !=
        WD_HTTP_HEAD_DONE)
        fail_msg("head did not parse: %s", head);
    wd_leader L;
    memset(&L, 0, sizeof L);
    answer a;
    memset(&a, 0, sizeof a);
    a.r = wd_ui_handle(u, &L, &req, &a.rs);
    wd_http_req_free(&req);
    assert_non_null(a.rs.route);
    return a;
}

static const char *header(const answer *a, const char *name)
{
    for (size_t i = 0; i < a->rs.nheaders; i++)
        if (strcmp(a->rs.headers[i].name, name) == 0)
            return a->rs.headers[i].value;
    return NULL;
}

static bool body_has(const answer *a, const char *s)
{
    return a->rs.body != NULL && memmem(a->rs.body, a->rs.body_len, s, strlen(s)) != NULL;
}

/* GET path with extra header lines (each ending in CRLF): status and route expected. */
static void expect_get(const wd_ui *u, const char *path, const char *extra, int status,
                       const char *route)
{
    char head[1024];
    snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, extra);
    answer a = ask(u, head);
    if (a.r != WD_UI_ANSWER || a.rs.status != status || strcmp(a.rs.route, route) != 0)
        fail_msg("GET %s [%s]: wanted %d %s, got %s %d %s", path, extra, status, route,
                 a.r == WD_UI_STREAM ? "stream" : "answer", a.rs.status, a.rs.route);
    if (status == 401) {
        assert_true(body_has(&a, "\"unauthenticated\""));
        assert_false(body_has(&a, TOKEN));
        assert_non_null(header(&a, "WWW-Authenticate"));
    }
    wd_http_resp_free(&a.rs);
}

static void test_open_page(void **st)
{
    (void)st;
    wd_ui *u = NULL;
    wd_err e;
    assert_int_equal(wd_ui_new(NULL, &u, &e), WD_OK);
    answer a = ask(u, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(a.r, WD_UI_ANSWER);
    assert_int_equal(a.rs.status, 200);
    assert_string_equal(a.rs.route, "ui/page");
    assert_string_equal(a.rs.content_type, "text/html; charset=utf-8");
    assert_true(body_has(&a, "<table id=\"fleet\">"));
    assert_true(body_has(&a, "src=\"/ui/app.js\""));
    assert_non_null(strstr(header(&a, "Content-Security-Policy"), "default-src 'none'"));
    assert_string_equal(header(&a, "X-Frame-Options"), "DENY");
    assert_string_equal(header(&a, "Cache-Control"), "no-store");
    wd_http_resp_free(&a.rs);
    a = ask(u, "GET /ui/app.js HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(a.rs.status, 200);
    assert_string_equal(a.rs.route, "ui/asset");
    assert_string_equal(a.rs.content_type, "text/javascript; charset=utf-8");
    assert_true(body_has(&a, "EventSource"));
    wd_http_resp_free(&a.rs);
    a = ask(u, "HEAD /ui/app.css HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(a.rs.status, 200);
    assert_string_equal(a.rs.content_type, "text/css; charset=utf-8");
    wd_http_resp_free(&a.rs);
    expect_get(u, "/favicon.ico", "", 204, "ui/asset");
    expect_get(u, "/?token=0123456789abcdef", "", 200, "ui/page"); /* no token: ignored */
    expect_get(u, "/nope", "", 404, "ui/unknown");
    expect_get(u, "/ui/", "", 404, "ui/unknown");
    expect_get(u, "/ui/index.html", "", 404, "ui/unknown");
    expect_get(u, "/api/v1/conductor/followers", "", 404, "ui/unknown");
    expect_get(u, "/ui/v1/followers", "", 503, "ui/followers"); /* no view loaded */
    /* the stream */
    a = ask(u, "GET /ui/v1/events HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(a.r, WD_UI_STREAM);
    assert_string_equal(a.rs.route, "ui/events");
    wd_http_resp_free(&a.rs);
    /* read-only */
    static const char *const methods[] = {"POST", "PUT"};
    for (size_t i = 0; i < 2; i++) {
        char head[128];
        snprintf(head, sizeof head, "%s / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                 methods[i]);
        a = ask(u, head);
        assert_int_equal(a.rs.status, 405);
        assert_string_equal(header(&a, "Allow"), "GET, HEAD");
        wd_http_resp_free(&a.rs);
    }
    a = ask(u, "HEAD /ui/v1/events HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(a.r, WD_UI_ANSWER);
    assert_int_equal(a.rs.status, 405);
    assert_string_equal(header(&a, "Allow"), "GET");
    wd_http_resp_free(&a.rs);
    wd_ui_free(u);
}

static void test_token_required(void **st)
{
    (void)st;
    wd_ui *u = NULL;
    wd_err e;
    assert_int_equal(wd_ui_new(write_file("tok", TOKEN, strlen(TOKEN), 0600), &u, &e), WD_OK);
    char ok_bearer[128], ok_lower[128], ok_cookie[160], ok_cookie2[160];
    snprintf(ok_bearer, sizeof ok_bearer, "Authorization: Bearer %s\r\n", TOKEN);
    snprintf(ok_lower, sizeof ok_lower, "Authorization: bearer %s\r\n", TOKEN);
    snprintf(ok_cookie, sizeof ok_cookie, "Cookie: a=1; warden_ui=%s; b=2\r\n", TOKEN);
    snprintf(ok_cookie2, sizeof ok_cookie2, "Cookie: a=1\r\nCookie: warden_ui=%s\r\n", TOKEN);
    static const char *const paths[][2] = {
        {"/", "ui/page"},
        {"/ui/app.js", "ui/asset"},
        {"/ui/v1/followers", "ui/followers"},
    };
    for (size_t i = 0; i < 3; i++) {
        const char *p = paths[i][0], *r = paths[i][1];
        int good = i == 2 ? 503 : 200; /* no view loaded: the data route says 503 */
        expect_get(u, p, "", 401, r);
        expect_get(u, p, ok_bearer, good, r);
        expect_get(u, p, ok_lower, good, r);
        expect_get(u, p, ok_cookie, good, r);
        expect_get(u, p, ok_cookie2, good, r);
        char bad[256];
        /* one character more, one less, one changed, another scheme, another cookie name */
        snprintf(bad, sizeof bad, "Authorization: Bearer %sx\r\n", TOKEN);
        expect_get(u, p, bad, 401, r);
        snprintf(bad, sizeof bad, "Authorization: Bearer %.*s\r\n", (int)strlen(TOKEN) - 1,
                 TOKEN);
        expect_get(u, p, bad, 401, r);
        snprintf(bad, sizeof bad, "Authorization: Bearer X%s\r\n", TOKEN + 1);
        expect_get(u, p, bad, 401, r);
        snprintf(bad, sizeof bad, "Authorization: Basic %s\r\n", TOKEN);
        expect_get(u, p, bad, 401, r);
        snprintf(bad, sizeof bad, "Authorization: Bearer\r\n");
        expect_get(u, p, bad, 401, r);
        snprintf(bad, sizeof bad, "Cookie: xwarden_ui=%s\r\n", TOKEN);
        expect_get(u, p, bad, 401, r);
        snprintf(bad, sizeof bad, "Cookie: warden_ui=%sx\r\n", TOKEN);
        expect_get(u, p, bad, 401, r);
        snprintf(bad, sizeof bad, "Cookie: warden_ui=\r\n");
        expect_get(u, p, bad, 401, r);
        snprintf(bad, sizeof bad, "X-Token: %s\r\n", TOKEN);
        expect_get(u, p, bad, 401, r);
    }
    /* the stream: 401 without, a stream with */
    expect_get(u, "/ui/v1/events", "", 401, "ui/events");
    char head[512];
    snprintf(head, sizeof head, "GET /ui/v1/events HTTP/1.1\r\nHost: x\r\n%s\r\n", ok_cookie);
    answer a = ask(u, head);
    assert_int_equal(a.r, WD_UI_STREAM);
    wd_http_resp_free(&a.rs);
    /* ?token= on the page: a cookie and a redirect; wrong: 401; elsewhere: not taken */
    snprintf(head, sizeof head, "GET /?token=%s HTTP/1.1\r\nHost: x\r\n\r\n", TOKEN);
    a = ask(u, head);
    assert_int_equal(a.rs.status, 303);
    assert_string_equal(a.rs.route, "ui/login");
    assert_string_equal(header(&a, "Location"), "/");
    char want[256];
    snprintf(want, sizeof want, "warden_ui=%s; Path=/; HttpOnly; SameSite=Strict", TOKEN);
    assert_string_equal(header(&a, "Set-Cookie"), want);
    assert_false(body_has(&a, TOKEN));
    wd_http_resp_free(&a.rs);
    snprintf(head, sizeof head, "GET /?a=1&token=%s&b=2 HTTP/1.1\r\nHost: x\r\n\r\n", TOKEN);
    a = ask(u, head);
    assert_int_equal(a.rs.status, 303);
    wd_http_resp_free(&a.rs);
    /* with the cookie already: still redirected, so the address loses the token */
    snprintf(head, sizeof head, "GET /?token=%s HTTP/1.1\r\nHost: x\r\n%s\r\n", TOKEN,
             ok_cookie);
    a = ask(u, head);
    assert_int_equal(a.rs.status, 303);
    wd_http_resp_free(&a.rs);
    char path[256];
    snprintf(path, sizeof path, "/?token=%sx", TOKEN);
    expect_get(u, path, "", 401, "ui/page");
    snprintf(path, sizeof path, "/?xtoken=%s", TOKEN);
    expect_get(u, path, "", 401, "ui/page");
    snprintf(path, sizeof path, "/ui/v1/followers?token=%s", TOKEN);
    expect_get(u, path, "", 401, "ui/followers");
    snprintf(path, sizeof path, "/ui/v1/events?token=%s", TOKEN);
    expect_get(u, path, "", 401, "ui/events");
    /* unknown paths and methods are answered the same with or without the token */
    expect_get(u, "/nope", "", 404, "ui/unknown");
    wd_ui_free(u);
}

/* A 128-character token (the limit): its cookie fits the response header whole. */
static void test_longest_token_cookie(void **st)
{
    (void)st;
    char tok[129];
    memset(tok, 'Z', 128);
    tok[128] = '\0';
    wd_ui *u = NULL;
    wd_err e;
    assert_int_equal(wd_ui_new(write_file("long", tok, 128, 0600), &u, &e), WD_OK);
    char head[400];
    snprintf(head, sizeof head, "GET /?token=%s HTTP/1.1\r\nHost: x\r\n\r\n", tok);
    answer a = ask(u, head);
    assert_int_equal(a.rs.status, 303);
    char want[256];
    snprintf(want, sizeof want, "warden_ui=%s; Path=/; HttpOnly; SameSite=Strict", tok);
    assert_string_equal(header(&a, "Set-Cookie"), want);
    wd_http_resp_free(&a.rs);
    /* 129 characters offered: never equal */
    snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %sZ\r\n\r\n",
             tok);
    a = ask(u, head);
    assert_int_equal(a.rs.status, 401);
    wd_http_resp_free(&a.rs);
    wd_ui_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_open_page),
        cmocka_unit_test(test_token_required),
        cmocka_unit_test(test_longest_token_cookie),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
