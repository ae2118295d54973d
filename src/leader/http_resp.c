/* http_resp.c — the parts of the leader's HTTP layer that handlers use: responses (status,
 * headers, JSON error bodies), header lookup, and the two request headers the conductor API
 * interprets itself, Prefer: wait=N and If-None-Match. Pure: no sockets, no global state.
 * It must never copy an unbounded value or put untrusted text unclean into an error body. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/base.h"
#include "http.h"

const char *wd_http_header_get(const wd_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* Skip optional white space (RFC 9110 OWS). */
static const char *ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool prefer_wait(const char *value, int *wait_s)
{
    *wait_s = 0;
    if (value == NULL)
        return true;
    const char *p = value;
    for (;;) {
        p = ows(p);
        /* one preference: token [ "=" word ] *( ";" parameter ) — only "wait" is read */
        const char *tok = p;
        while (*p && *p != '=' && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t toklen = (size_t)(p - tok);
        if (toklen == 0)
            return false;
        p = ows(p);
        const char *val = NULL;
        size_t vallen = 0;
        if (*p == '=') {
            p = ows(p + 1);
            if (*p == '"') {
                val = ++p;
                while (*p && *p != '"')
                    p++;
                if (*p != '"')
                    return false;
                vallen = (size_t)(p - val);
                p++;
            } else {
                val = p;
                while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
                    p++;
                vallen = (size_t)(p - val);
            }
        }
        while (*p && *p != ',') /* parameters of this preference are ignored */
            p++;
        if (toklen == 4 && strncasecmp(tok, "wait", 4) == 0 && val != NULL) {
            if (vallen == 0 || vallen > 6)
                return false;
            int n = 0;
            for (size_t i = 0; i < vallen; i++) {
                if (!isdigit((unsigned char)val[i]))
                    return false;
                n = n * 10 + (val[i] - '0');
            }
            *wait_s = (n >= 1 && n <= 300) ? n : 0;
        }
        if (*p == '\0')
            return true;
        p++; /* ',' */
    }
}

bool wd_http_parse_prefer_wait(const char *value, int *wait_s)
{
    /* a malformed header is answered as if absent: no wait, even when an earlier preference
     * of the list said one */
    if (!prefer_wait(value, wait_s)) {
        *wait_s = 0;
        return false;
    }
    return true;
}

bool wd_http_etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL || etag == NULL)
        return false;
    size_t elen = strlen(etag);
    const char *p = inm;
    for (;;) {
        p = ows(p);
        if (*p == '*') {
            p = ows(p + 1);
            if (*p == '\0' || *p == ',')
                return true;
            return false;
        }
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p != '"')
            return false;
        const char *tag = ++p;
        while (*p && *p != '"')
            p++;
        if (*p != '"')
            return false;
        size_t tlen = (size_t)(p - tag);
        if (tlen == elen && memcmp(tag, etag, elen) == 0)
            return true;
        p = ows(p + 1);
        if (*p == '\0')
            return false;
        if (*p != ',')
            return false;
        p++;
    }
}

bool wd_http_resp_header(wd_http_resp *rs, const char *name, const char *fmt, ...)
{
    if (rs->nheaders >= WD_HTTP_MAX_RESP_HEADERS)
        return false;
    size_t i = rs->nheaders++;
    snprintf(rs->headers[i].name, sizeof rs->headers[i].name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rs->headers[i].value, sizeof rs->headers[i].value, fmt, ap);
    va_end(ap);
    /* a header value never carries CR, LF or other control bytes */
    for (char *c = rs->headers[i].value; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return true;
}

void wd_http_resp_body(wd_http_resp *rs, int status, const void *data, size_t len)
{
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
    if (len > 0) {
        rs->body = malloc(len + 1);
        if (rs->body == NULL) {
            rs->status = 500;
            return;
        }
        memcpy(rs->body, data, len);
        rs->body[len] = '\0';
        rs->body_len = len;
    }
    rs->status = status;
}

void wd_http_resp_error(wd_http_resp *rs, int status, const char *code, const char *fmt, ...)
{
    char raw[WD_ERR_MSG_MAX], msg[WD_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    wd_clean_text(raw, msg, sizeof msg);
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    snprintf(rs->content_type, sizeof rs->content_type, "application/json");
    if (text == NULL) {
        static const char fallback[] =
            "{\"error\":{\"code\":\"unavailable\",\"message\":\"out of memory\"}}";
        wd_http_resp_body(rs, 500, fallback, sizeof fallback - 1);
        return;
    }
    wd_http_resp_body(rs, status, text, strlen(text));
    free(text);
}

void wd_http_resp_free(wd_http_resp *rs)
{
    if (rs == NULL)
        return;
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
}

const char *wd_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}
