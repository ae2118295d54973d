/* http.h — the leader's HTTP/1.1 messages: a strict, bounded request parser that works on bytes
 * (no sockets, fuzzed by fuzz/fuzz_http.c) and the response that handlers fill. The server
 * (server.c) feeds it bytes from TLS connections; handlers (api.c) see only these structs.
 * It must never read past the caps below or accept a request it cannot frame exactly. */
#ifndef WD_LEADER_HTTP_H
#define WD_LEADER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "codec/spiffe.h"

#define WD_HTTP_MAX_HEADER_BYTES (16u * 1024u)  /* request line + headers: 431 past it */
#define WD_HTTP_MAX_HEADERS      64             /* header lines: 431 past it */
#define WD_HTTP_MAX_BODY_BUNDLE  (1024u * 1024u) /* PUT policy-bundles, POST audit/batches */
#define WD_HTTP_MAX_BODY_ROSTER  (256u * 1024u)  /* PUT roster */
#define WD_HTTP_MAX_BODY_OTHER   (64u * 1024u)   /* everything else */
#define WD_HTTP_MAX_RESP_HEADERS 8

typedef struct wd_http_header {
    const char *name;   /* as received; compare case-insensitively */
    const char *value;  /* leading and trailing blanks removed */
} wd_http_header;

/* A parsed request. Strings point into storage the parser owns (wd_http_req_free). */
typedef struct wd_http_req {
    char method[8];            /* "GET", "PUT", "POST", "HEAD" */
    const char *target;        /* request-target as received, origin-form ("/api/v1/...") */
    const char *path;          /* target up to '?' */
    const char *query;         /* after '?', or "" */
    int minor;                 /* HTTP/1.<minor>: 0 or 1 */
    wd_http_header headers[WD_HTTP_MAX_HEADERS];
    size_t nheaders;
    bool keep_alive;           /* after Connection and the version's default */
    int64_t content_length;    /* -1 when absent */
    unsigned char *body;       /* content_length bytes (NUL-terminated), or NULL */
    size_t body_len;

    /* Set by the server, not the parser. */
    const wd_spiffe_id *peer;  /* the client certificate's identity; NULL on the probe port */
    int wake;                  /* 0: first call; 1: re-run after a wake-up; 2: final (the wait
                                  ended, or the leader is draining): the handler must answer */
    void *storage;             /* the parser's copy of the head */
} wd_http_req;

/* Result of feeding the parser. */
typedef enum wd_http_parse {
    WD_HTTP_NEED_MORE,   /* the head is not complete yet */
    WD_HTTP_HEAD_DONE,   /* request line and headers parsed; *consumed bytes used */
    WD_HTTP_BAD,         /* malformed: answer 400 and close */
    WD_HTTP_TOO_LARGE,   /* head over WD_HTTP_MAX_HEADER_BYTES or too many headers: 431 */
    WD_HTTP_NOT_IMPL,    /* Transfer-Encoding or an unknown method: 501 and close */
} wd_http_parse;

/* Parse a request head from buf[0..len) (the bytes received so far). On WD_HTTP_HEAD_DONE,
 * *req is filled (the caller frees it with wd_http_req_free) and *consumed is the head's
 * length; the body, if content_length > 0, follows and is read by the caller. Rules: request
 * line "METHOD SP origin-form SP HTTP/1.0|1.1" CRLF; header lines "name: value" CRLF with a
 * token name, no obs-fold, no NUL or bare CR; one Content-Length at most, decimal, and no
 * Transfer-Encoding; HTTP/1.1 requires Host. Nothing is allocated unless HEAD_DONE. */
wd_http_parse wd_http_parse_head(const unsigned char *buf, size_t len, wd_http_req *req,
                                 size_t *consumed);
/* Same as wd_http_parse_head, and *why (may be NULL) gets a static text saying why a head was
 * refused ("" on NEED_MORE and HEAD_DONE), for the 400/431/501 message and the log. */
wd_http_parse wd_http_parse_head_why(const unsigned char *buf, size_t len, wd_http_req *req,
                                     size_t *consumed, const char **why);
/* Free what the parser and the server attached to req (storage, body); req is zeroed. */
void wd_http_req_free(wd_http_req *req);

/* The value of the first header with this name (case-insensitive), or NULL. */
const char *wd_http_header_get(const wd_http_req *req, const char *name);

/* Parse "Prefer: wait=N" (RFC 7240; other preferences ignored): *wait_s = N when present and
 * 1 <= N <= 300, else 0 (absent or out of range: no wait). Returns false when the header is
 * not well formed (the request is answered as if it had no Prefer). */
bool wd_http_parse_prefer_wait(const char *value, int *wait_s);

/* Does an If-None-Match header value hold the entity tag etag (given without quotes)? "*"
 * matches any; weak tags (W/"...") compare by their opaque part; a list is comma-separated.
 * A malformed value matches nothing. */
bool wd_http_etag_matches(const char *if_none_match, const char *etag);

/* A response a handler fills. */
typedef struct wd_http_resp {
    int status;                          /* 0 until set */
    const char *route;                   /* static route label for logs and metrics */
    char content_type[64];               /* "application/json" unless set */
    struct { char name[48]; char value[208]; } headers[WD_HTTP_MAX_RESP_HEADERS];
    size_t nheaders;
    unsigned char *body;                 /* malloc'd; the server frees it after sending */
    size_t body_len;
    /* To hold the request instead of answering (long poll): hold_s > 0 (1..300) and hold_key
     * the stream it waits on ("org/fleet/env"); status stays 0. The server calls the handler
     * again (req->wake 1) after every wake-up of that key, and once more with wake 2 when
     * hold_s has passed from the first call or the leader drains. A re-run may hold again
     * (the original deadline stands). */
    int hold_s;
    char hold_key[3 * (WD_MAX_ID_LEN + 1)];
} wd_http_resp;

/* Add a response header (name and value are copied, cut to fit; false when full). */
bool wd_http_resp_header(wd_http_resp *rs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set status and a JSON error body {"error":{"code":code,"message":msg}} (msg cleaned). */
void wd_http_resp_error(wd_http_resp *rs, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Set status and a body copied from data (content type application/json). On allocation
 * failure the response becomes 500 internal. */
void wd_http_resp_body(wd_http_resp *rs, int status, const void *data, size_t len);
void wd_http_resp_free(wd_http_resp *rs);

/* The reason phrase of a status code ("OK", "Not Modified", ...). */
const char *wd_http_reason(int status);

#endif
