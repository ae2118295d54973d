/* fuzz_http.c — libFuzzer target for the leader's HTTP/1.1 head parser and the request headers
 * the API interprets (Prefer: wait=N, If-None-Match). Input: the bytes a client sends. Any input
 * must be accepted, wanted more of, or refused (400/431/501) with nothing allocated; an accepted
 * head must be framed exactly (ends with the blank line, within 16 KiB and 64 headers, a known
 * method, an origin-form path) and every strict prefix of it must want more. Every header value
 * goes through the Prefer and If-None-Match parsers, whose results must stay in range. It must
 * never crash, leak or read past the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_headers(const wd_http_req *req)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *v = req->headers[i].value;
        if (req->headers[i].name[0] == '\0')
            abort();
        int w = -1;
        bool ok = wd_http_parse_prefer_wait(v, &w);
        if (w < 0 || w > 300 || (!ok && w != 0))
            abort();
        (void)wd_http_etag_matches(v, "sha256:0123");
        /* a single quoted tag without quotes or commas inside matches itself */
        size_t n = strlen(v);
        if (n >= 2 && n < 200 && v[0] == '"' && v[n - 1] == '"') {
            char tag[200];
            memcpy(tag, v + 1, n - 2);
            tag[n - 2] = '\0';
            if (strchr(tag, '"') == NULL && !wd_http_etag_matches(v, tag))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so that ASan sees any read past the end */
    unsigned char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    wd_http_req req;
    size_t used = 12345;
    wd_http_parse r = wd_http_parse_head(buf, size, &req, &used);
    if (r != WD_HTTP_HEAD_DONE) {
        if (req.storage != NULL || used != 0)
            abort();
        if (r == WD_HTTP_NEED_MORE && size > WD_HTTP_MAX_HEADER_BYTES)
            abort();
        free(buf);
        return 0;
    }
    if (used < 4 || used > size || used > WD_HTTP_MAX_HEADER_BYTES ||
        memcmp(buf + used - 4, "\r\n\r\n", 4) != 0)
        abort();
    if (req.nheaders > WD_HTTP_MAX_HEADERS || req.path[0] != '/' || req.target[0] != '/' ||
        req.content_length < -1 || (req.minor != 0 && req.minor != 1))
        abort();
    if (strcmp(req.method, "GET") && strcmp(req.method, "PUT") && strcmp(req.method, "POST") &&
        strcmp(req.method, "HEAD"))
        abort();
    if (strncmp(req.target, req.path, strlen(req.path)) != 0)
        abort();
    if (req.minor == 1 && wd_http_header_get(&req, "Host") == NULL)
        abort();
    check_headers(&req);
    wd_http_req_free(&req);
    /* the head alone parses the same; any strict prefix wants more */
    size_t used2 = 0;
    if (wd_http_parse_head(buf, used, &req, &used2) != WD_HTTP_HEAD_DONE || used2 != used)
        abort();
    wd_http_req_free(&req);
    if (wd_http_parse_head(buf, used - 1, &req, &used2) != WD_HTTP_NEED_MORE)
        abort();
    free(buf);
    return 0;
}
