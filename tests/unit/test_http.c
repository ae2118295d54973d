/* test_http.c — the leader's HTTP/1.1 head parser (http.c) and the request headers the API
 * reads itself (Prefer: wait=N, If-None-Match): every framing rule, each limit at the limit and
 * one past it, and that nothing is allocated unless a head is accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http.h"

/* Parse the NUL-terminated text s; keeps the request for the caller to inspect and free. */
static wd_http_parse parse(const char *s, wd_http_req *req, size_t *used)
{
    return wd_http_parse_head((const unsigned char *)s, strlen(s), req, used);
}

/* Parse s and expect result r; for a refusal, that nothing was allocated. */
static void expect(const char *s, wd_http_parse r)
{
    wd_http_req req;
    size_t used = 99;
    wd_http_parse got = parse(s, &req, &used);
    if (got != r)
        fail_msg("wanted %d, got %d for: %s", r, got, s);
    if (r != WD_HTTP_HEAD_DONE) {
        assert_null(req.storage);
        assert_int_equal(used, 0);
    }
    wd_http_req_free(&req);
}

static void test_simple_get(void **st)
{
    (void)st;
    const char *s = "GET /api/v1/conductor/policy/latest?x=1&y=2 HTTP/1.1\r\n"
                    "Host: leader.example\r\n"
                    "If-None-Match:   \"sha256:ab\"  \r\n"
                    "Prefer: wait=30\r\n\r\nBODYBYTES";
    wd_http_req req;
    size_t used;
    assert_int_equal(parse(s, &req, &used), WD_HTTP_HEAD_DONE);
    assert_int_equal(used, strlen(s) - strlen("BODYBYTES"));
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.target, "/api/v1/conductor/policy/latest?x=1&y=2");
    assert_string_equal(req.path, "/api/v1/conductor/policy/latest");
    assert_string_equal(req.query, "x=1&y=2");
    assert_int_equal(req.minor, 1);
    assert_int_equal(req.nheaders, 3);
    assert_true(req.keep_alive);
    assert_int_equal(req.content_length, -1);
    assert_string_equal(wd_http_header_get(&req, "host"), "leader.example");
    assert_string_equal(wd_http_header_get(&req, "IF-NONE-MATCH"), "\"sha256:ab\"");
    assert_null(wd_http_header_get(&req, "Content-Length"));
    assert_null(req.body);
    wd_http_req_free(&req);
    assert_null(req.storage);
}

static void test_methods(void **st)
{
    (void)st;
    expect("GET / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_HEAD_DONE);
    expect("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_HEAD_DONE);
    expect("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", WD_HTTP_HEAD_DONE);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", WD_HTTP_HEAD_DONE);
    expect("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_NOT_IMPL);
    expect("OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_NOT_IMPL);
    expect("get / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_NOT_IMPL); /* methods are case-sensitive */
    expect("VERYLONGMETHOD / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_NOT_IMPL);
    expect("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect(" GET / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
}

static void test_request_line(void **st)
{
    (void)st;
    expect("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD); /* absolute-form */
    expect("GET * HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/2.0\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.2\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET / http/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET /\r\nHost: x\r\n\r\n", WD_HTTP_BAD); /* HTTP/0.9 */
    expect("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
    /* DELETE with a broken version is malformed first */
    expect("DELETE / HTTP/3\r\nHost: x\r\n\r\n", WD_HTTP_BAD);
}

static void test_line_endings_and_bytes(void **st)
{
    (void)st;
    expect("GET / HTTP/1.1\nHost: x\r\n\r\n", WD_HTTP_BAD);       /* bare LF */
    expect("GET / HTTP/1.1\r\nHost: x\n\n", WD_HTTP_BAD);         /* bare LF blank line */
    expect("GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", WD_HTTP_BAD);  /* bare CR in a value */
    expect("GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n", WD_HTTP_BAD); /* control byte */
    expect("GET / HTTP/1.1\r\nHost: x\x7f\r\n\r\n", WD_HTTP_BAD);
    /* NUL: the string helper cannot carry it */
    static const unsigned char nul[] = "GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n";
    wd_http_req req;
    size_t used;
    assert_int_equal(wd_http_parse_head(nul, sizeof nul - 1, &req, &used), WD_HTTP_BAD);
    assert_null(req.storage);
    /* a tab and obs-text are allowed in values */
    expect("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb \xc3\xa9\r\n\r\n", WD_HTTP_HEAD_DONE);
}

static void test_obs_fold_and_names(void **st)
{
    (void)st;
    expect("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1\r\nHost : x\r\n\r\n", WD_HTTP_BAD); /* space before the colon */
    expect("GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n", WD_HTTP_HEAD_DONE);
}

static void test_host(void **st)
{
    (void)st;
    expect("GET / HTTP/1.1\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1\r\nX-Host: x\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", WD_HTTP_BAD);
    expect("GET / HTTP/1.0\r\n\r\n", WD_HTTP_HEAD_DONE);
    expect("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", WD_HTTP_HEAD_DONE);
}

static int64_t cl_of(const char *value, wd_http_parse *r)
{
    char s[256];
    snprintf(s, sizeof s, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n", value);
    wd_http_req req;
    size_t used;
    *r = parse(s, &req, &used);
    int64_t cl = req.content_length;
    wd_http_req_free(&req);
    return cl;
}

static void test_content_length(void **st)
{
    (void)st;
    wd_http_parse r;
    assert_int_equal(cl_of("0", &r), 0);
    assert_int_equal(r, WD_HTTP_HEAD_DONE);
    assert_int_equal(cl_of("1048576", &r), 1048576);
    assert_int_equal(r, WD_HTTP_HEAD_DONE);
    assert_int_equal(cl_of("  12  ", &r), 12); /* optional white space around the value */
    assert_int_equal(r, WD_HTTP_HEAD_DONE);
    assert_int_equal(cl_of("007", &r), 7);
    assert_int_equal(r, WD_HTTP_HEAD_DONE);
    assert_int_equal(cl_of("999999999999999999", &r), 999999999999999999LL); /* 18 digits */
    assert_int_equal(r, WD_HTTP_HEAD_DONE);
    const char *bad[] = {"", "-1", "+1", "1 2", "1,1", "1, 1", "0x10", "1e3", "12a",
                         "9999999999999999999" /* 19 digits */, "\"5\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cl_of(bad[i], &r);
        if (r != WD_HTTP_BAD)
            fail_msg("Content-Length '%s' accepted", bad[i]);
    }
    expect("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
           WD_HTTP_BAD);
    expect("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
           WD_HTTP_BAD);
}

static void test_transfer_encoding(void **st)
{
    (void)st;
    expect("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
           WD_HTTP_NOT_IMPL);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
           WD_HTTP_NOT_IMPL);
    expect("POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: identity\r\n\r\n",
           WD_HTTP_NOT_IMPL);
}

static bool keep_alive_of(const char *s)
{
    wd_http_req req;
    size_t used;
    assert_int_equal(parse(s, &req, &used), WD_HTTP_HEAD_DONE);
    bool k = req.keep_alive;
    wd_http_req_free(&req);
    return k;
}

static void test_keep_alive(void **st)
{
    (void)st;
    assert_true(keep_alive_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_false(keep_alive_of("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    assert_false(keep_alive_of("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
    assert_true(keep_alive_of("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n"));
    assert_false(keep_alive_of("GET / HTTP/1.0\r\n\r\n"));
    assert_true(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    assert_true(keep_alive_of("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert_false(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"));
}

/* A complete head of exactly total bytes: "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: aaa...\r\n\r\n". */
static char *head_of_size(size_t total)
{
    const char *pre = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    size_t fixed = strlen(pre) + 4;
    char *s = malloc(total + 1);
    assert_non_null(s);
    strcpy(s, pre);
    memset(s + strlen(pre), 'a', total - fixed);
    memcpy(s + total - 4, "\r\n\r\n", 5);
    assert_int_equal(strlen(s), total);
    return s;
}

static void test_head_size_limit(void **st)
{
    (void)st;
    char *s = head_of_size(WD_HTTP_MAX_HEADER_BYTES);
    wd_http_req req;
    size_t used;
    assert_int_equal(parse(s, &req, &used), WD_HTTP_HEAD_DONE);
    assert_int_equal(used, WD_HTTP_MAX_HEADER_BYTES);
    wd_http_req_free(&req);
    free(s);
    s = head_of_size(WD_HTTP_MAX_HEADER_BYTES + 1);
    expect(s, WD_HTTP_TOO_LARGE);
    /* incomplete: at the limit it may still complete; past it, it cannot */
    assert_int_equal(wd_http_parse_head((const unsigned char *)s, WD_HTTP_MAX_HEADER_BYTES,
                                        &req, &used), WD_HTTP_NEED_MORE);
    assert_null(req.storage);
    free(s);
    char *big = malloc(WD_HTTP_MAX_HEADER_BYTES + 1);
    assert_non_null(big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(big + 19, 'b', WD_HTTP_MAX_HEADER_BYTES + 1 - 19);
    assert_int_equal(wd_http_parse_head((unsigned char *)big, WD_HTTP_MAX_HEADER_BYTES + 1, &req,
                                        &used), WD_HTTP_TOO_LARGE);
    assert_null(req.storage);
    free(big);
}

static char *head_with_headers(size_t n)
{
    size_t cap = 64 + n * 16;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t off = (size_t)snprintf(s, cap, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (size_t i = 1; i < n; i++)
        off += (size_t)snprintf(s + off, cap - off, "X-%zu: v\r\n", i);
    snprintf(s + off, cap - off, "\r\n");
    return s;
}

static void test_header_count_limit(void **st)
{
    (void)st;
    char *s = head_with_headers(WD_HTTP_MAX_HEADERS);
    wd_http_req req;
    size_t used;
    assert_int_equal(parse(s, &req, &used), WD_HTTP_HEAD_DONE);
    assert_int_equal(req.nheaders, WD_HTTP_MAX_HEADERS);
    assert_string_equal(wd_http_header_get(&req, "X-63"), "v");
    wd_http_req_free(&req);
    free(s);
    s = head_with_headers(WD_HTTP_MAX_HEADERS + 1);
    expect(s, WD_HTTP_TOO_LARGE);
    free(s);
}

static void test_need_more(void **st)
{
    (void)st;
    const char *full = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t n = 0; n < strlen(full); n++) {
        wd_http_req req;
        size_t used = 7;
        assert_int_equal(wd_http_parse_head((const unsigned char *)full, n, &req, &used),
                         WD_HTTP_NEED_MORE);
        assert_null(req.storage);
        assert_int_equal(used, 0);
    }
}

static void test_why(void **st)
{
    (void)st;
    wd_http_req req;
    size_t used;
    const char *why = NULL;
    const char *s = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
    assert_int_equal(wd_http_parse_head_why((const unsigned char *)s, strlen(s), &req, &used,
                                            &why), WD_HTTP_BAD);
    assert_string_equal(why, "more than one Content-Length");
    s = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(wd_http_parse_head_why((const unsigned char *)s, strlen(s), &req, &used,
                                            &why), WD_HTTP_HEAD_DONE);
    assert_string_equal(why, "");
    wd_http_req_free(&req);
}

static void test_prefer_wait(void **st)
{
    (void)st;
    int w = -1;
    assert_true(wd_http_parse_prefer_wait(NULL, &w));
    assert_int_equal(w, 0);
    assert_true(wd_http_parse_prefer_wait("wait=30", &w));
    assert_int_equal(w, 30);
    assert_true(wd_http_parse_prefer_wait("wait=1", &w));
    assert_int_equal(w, 1);
    assert_true(wd_http_parse_prefer_wait("wait=300", &w));
    assert_int_equal(w, 300);
    assert_true(wd_http_parse_prefer_wait("wait=301", &w)); /* out of range: no wait */
    assert_int_equal(w, 0);
    assert_true(wd_http_parse_prefer_wait("wait=0", &w));
    assert_int_equal(w, 0);
    assert_true(wd_http_parse_prefer_wait("respond-async, wait=12", &w));
    assert_int_equal(w, 12);
    assert_true(wd_http_parse_prefer_wait("WAIT = 7", &w));
    assert_int_equal(w, 7);
    assert_true(wd_http_parse_prefer_wait("wait=\"9\"", &w));
    assert_int_equal(w, 9);
    assert_true(wd_http_parse_prefer_wait("wait=5;foo=bar", &w));
    assert_int_equal(w, 5);
    assert_true(wd_http_parse_prefer_wait("return=minimal", &w));
    assert_int_equal(w, 0);
    assert_false(wd_http_parse_prefer_wait("wait=abc", &w));
    assert_int_equal(w, 0);
    assert_false(wd_http_parse_prefer_wait("wait=", &w));
    assert_false(wd_http_parse_prefer_wait("wait=1234567", &w));
    assert_false(wd_http_parse_prefer_wait("wait=\"5", &w));
    assert_false(wd_http_parse_prefer_wait("", &w));
    assert_false(wd_http_parse_prefer_wait(",", &w));
    /* a well-formed wait followed by a malformed one: no wait at all (found by fuzz_http) */
    assert_false(wd_http_parse_prefer_wait("wait=8, wait=8x", &w));
    assert_int_equal(w, 0);
}

static void test_etag(void **st)
{
    (void)st;
    const char *tag = "sha256:abc";
    assert_true(wd_http_etag_matches("\"sha256:abc\"", tag));
    assert_true(wd_http_etag_matches("W/\"sha256:abc\"", tag));
    assert_true(wd_http_etag_matches("\"x\", \"sha256:abc\"", tag));
    assert_true(wd_http_etag_matches("  \"x\" ,\"sha256:abc\"  ", tag));
    assert_true(wd_http_etag_matches("*", tag));
    assert_false(wd_http_etag_matches("\"sha256:abd\"", tag));
    assert_false(wd_http_etag_matches("sha256:abc", tag)); /* unquoted: malformed */
    assert_false(wd_http_etag_matches("\"sha256:abc", tag));
    assert_false(wd_http_etag_matches("\"x\" \"sha256:abc\"", tag));
    assert_false(wd_http_etag_matches("\"SHA256:ABC\"", tag));
    assert_false(wd_http_etag_matches("", tag));
    assert_false(wd_http_etag_matches(NULL, tag));
}

static void test_response_helpers(void **st)
{
    (void)st;
    wd_http_resp rs;
    memset(&rs, 0, sizeof rs);
    wd_http_resp_error(&rs, 403, "forbidden", "bad\nline");
    assert_int_equal(rs.status, 403);
    assert_string_equal((char *)rs.body,
                        "{\"error\":{\"code\":\"forbidden\",\"message\":\"bad?line\"}}");
    assert_true(wd_http_resp_header(&rs, "ETag", "\"%s\"", "a\r\nX: y"));
    assert_string_equal(rs.headers[0].value, "\"a??X: y\"");
    for (int i = 1; i < WD_HTTP_MAX_RESP_HEADERS; i++)
        assert_true(wd_http_resp_header(&rs, "X", "%d", i));
    assert_false(wd_http_resp_header(&rs, "X", "full"));
    wd_http_resp_free(&rs);
    assert_string_equal(wd_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(wd_http_reason(599), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_line_endings_and_bytes),
        cmocka_unit_test(test_obs_fold_and_names),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_head_size_limit),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_need_more),
        cmocka_unit_test(test_why),
        cmocka_unit_test(test_prefer_wait),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_response_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
