/* fleetclient.c — the mTLS client of fleetclient.h on libcurl: one easy handle per client,
 * reused for every request so the connection and TLS session are kept; TLS 1.3 minimum; the
 * leader verified (chain and host name) against the CA file alone; the client key read from a
 * file that group and others cannot read and handed to curl from memory, so the file checked
 * is the file used. It must never follow a redirect, use a proxy or the system CA store, read
 * a response past its cap, or put a body in a message. */
#include "fleetclient.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "warden/limits.h"
#include "base/base.h"
#include "codec/json.h"

struct wd_fleet_client {
    CURL *h;
    CURLM *m;                /* drives h: waits sleep until a socket, the deadline or cancel_fd */
    char *base;              /* https://host[:port] */
    unsigned char *key;      /* PEM text of the client key, wiped on close */
    size_t key_len;
    long timeout_s;
    const volatile int *cancel; /* wd_fleet_set_cancel: non-zero stops a request in flight */
    int cancel_fd;           /* wd_fleet_set_cancel_fd: readable stops a request, or -1 */
    char errbuf[CURL_ERROR_SIZE];
};

/* Names of the headers kept, by wd_fleet_hdr. */
static const char *const hdr_names[WD_FLEET_HDR_COUNT] = {
    "ETag", "Content-Type", "Preference-Applied", "Warden-Rollback-Authorization",
    "Retry-After", "Location",
};

/* ---- URL ---- */

static bool url_part_absent(CURLU *u, CURLUPart part, CURLUcode absent)
{
    char *v = NULL;
    CURLUcode rc = curl_url_get(u, part, &v, 0);
    curl_free(v);
    return rc == absent;
}

wd_code wd_fleet_parse_url(const char *url, char **base, wd_err *e)
{
    *base = NULL;
    if (url == NULL || *url == '\0')
        return wd_err_set(e, WD_E_USAGE, "leader URL is empty");
    char shown[128];
    wd_clean_text(url, shown, sizeof shown);
    if (strlen(url) > WD_FLEET_MAX_URL)
        return wd_err_set(e, WD_E_USAGE, "leader URL is longer than %d bytes", WD_FLEET_MAX_URL);
    /* A bare "?" or "#" leaves an empty part that the parser may not report. */
    if (strchr(url, '?') != NULL)
        return wd_err_set(e, WD_E_USAGE, "leader URL %s: a query is not allowed", shown);
    if (strchr(url, '#') != NULL)
        return wd_err_set(e, WD_E_USAGE, "leader URL %s: a fragment is not allowed", shown);
    CURLU *u = curl_url();
    if (u == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    wd_code rc = WD_OK;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: %s", shown, curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        strcmp(scheme, "https") != 0) {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: the scheme must be https", shown);
        goto out;
    }
    if (!url_part_absent(u, CURLUPART_USER, CURLUE_NO_USER) ||
        !url_part_absent(u, CURLUPART_PASSWORD, CURLUE_NO_PASSWORD) ||
        !url_part_absent(u, CURLUPART_OPTIONS, CURLUE_NO_OPTIONS)) {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: user information is not allowed", shown);
        goto out;
    }
    if (!url_part_absent(u, CURLUPART_QUERY, CURLUE_NO_QUERY)) {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: a query is not allowed", shown);
        goto out;
    }
    if (!url_part_absent(u, CURLUPART_FRAGMENT, CURLUE_NO_FRAGMENT)) {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: a fragment is not allowed", shown);
        goto out;
    }
    if (!url_part_absent(u, CURLUPART_ZONEID, CURLUE_NO_ZONEID)) {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: an IPv6 zone id is not allowed", shown);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") != 0 &&
        path[0] != '\0') {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: a path is not allowed (give https://host[:port])",
                        shown);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: no host", shown);
        goto out;
    }
    uc = curl_url_get(u, CURLUPART_PORT, &port, 0);
    if (uc != CURLUE_OK && uc != CURLUE_NO_PORT) {
        rc = wd_err_set(e, WD_E_USAGE, "leader URL %s: bad port", shown);
        goto out;
    }
    size_t n = strlen("https://") + strlen(host) + (port ? strlen(port) + 1 : 0) + 1;
    char *b = malloc(n);
    if (b == NULL) {
        rc = wd_err_set(e, WD_E_NOMEM, "out of memory");
        goto out;
    }
    snprintf(b, n, "https://%s%s%s", host, port ? ":" : "", port ? port : "");
    *base = b;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

/* ---- files ---- */

/* Read the client key: a regular file, mode without group/other bits, at most WD_MAX_KEY_FILE
 * bytes, PEM, not encrypted. On success the caller owns *out (wipe before free); on error
 * nothing is allocated. */
static wd_code read_key(const char *path, unsigned char **out, size_t *len, wd_err *e)
{
    char name[256];
    wd_clean_text(path, name, sizeof name);
    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO must not hang the open; it is refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "--key %s: cannot open key file: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "--key %s: not a regular file", name);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return wd_err_set(e, WD_E_IO,
                          "--key %s: private key is readable by group or others (mode %04o); "
                          "chmod 600 it",
                          name, (unsigned)(st.st_mode & 07777));
    }
    if ((uintmax_t)st.st_size > WD_MAX_KEY_FILE) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "--key %s: larger than the key file limit of %u bytes",
                          name, WD_MAX_KEY_FILE);
    }
    size_t cap = WD_MAX_KEY_FILE + 1;
    unsigned char *buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    }
    size_t n = 0;
    int err = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    wd_code rc = WD_OK;
    if (err != 0)
        rc = wd_err_set(e, WD_E_IO, "--key %s: read failed: %s", name, strerror(err));
    else if (n > WD_MAX_KEY_FILE)
        rc = wd_err_set(e, WD_E_IO, "--key %s: larger than the key file limit of %u bytes", name,
                        WD_MAX_KEY_FILE);
    else if (memmem(buf, n, "ENCRYPTED", 9) != NULL)
        rc = wd_err_set(e, WD_E_IO, "--key %s: encrypted private keys are not supported", name);
    else if (memmem(buf, n, "PRIVATE KEY-----", 16) == NULL)
        rc = wd_err_set(e, WD_E_IO, "--key %s: not a PEM private key", name);
    if (rc != WD_OK) {
        OPENSSL_cleanse(buf, cap + 1);
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return WD_OK;
}

/* A PEM file curl will read by path: check now that it opens, so the error names the flag. */
static wd_code check_readable(const char *flag, const char *path, wd_err *e)
{
    char name[256];
    wd_clean_text(path, name, sizeof name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "%s %s: cannot open: %s", flag, name, strerror(errno));
    struct stat st;
    bool reg = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!reg)
        return wd_err_set(e, WD_E_IO, "%s %s: not a regular file", flag, name);
    return WD_OK;
}

/* ---- client ---- */

static wd_code setup_handle(wd_fleet_client *c, const wd_fleet_opts *o, wd_err *e)
{
    CURL *h = c->h;
    struct curl_blob key = {.data = c->key, .len = c->key_len, .flags = CURL_BLOB_NOCOPY};
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (rc == CURLE_OK)                                                                    \
            rc = curl_easy_setopt(h, opt, val);                                                \
    } while (0)
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
    SET(CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
    SET(CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROXY, "");                 /* never a proxy, whatever the environment says */
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_CAINFO, o->ca_path);
    SET(CURLOPT_CAPATH, NULL);              /* no system CA directory */
    SET(CURLOPT_SSLCERT, o->cert_path);
    SET(CURLOPT_SSLCERTTYPE, "PEM");
    SET(CURLOPT_SSLKEY_BLOB, &key);
    SET(CURLOPT_SSLKEYTYPE, "PEM");
    SET(CURLOPT_CONNECTTIMEOUT, (long)WD_FLEET_CONNECT_TIMEOUT_S);
    SET(CURLOPT_TIMEOUT, c->timeout_s);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_USERAGENT, "warden/" WARDEN_VERSION);
#undef SET
    if (rc != CURLE_OK)
        return wd_err_set(e, WD_E_INTERNAL, "cannot set up the HTTPS client: %s",
                          curl_easy_strerror(rc));
    return WD_OK;
}

wd_code wd_fleet_open(const wd_fleet_opts *o, wd_fleet_client **out, wd_err *e)
{
    *out = NULL;
    if (o->leader_url == NULL || o->cert_path == NULL || o->key_path == NULL ||
        o->ca_path == NULL)
        return wd_err_set(e, WD_E_USAGE, "the leader URL, certificate, key and CA are required");
    long t = o->timeout_s == 0 ? WD_FLEET_DEFAULT_TIMEOUT_S : o->timeout_s;
    if (t < 1 || t > WD_FLEET_MAX_TIMEOUT_S)
        return wd_err_set(e, WD_E_USAGE, "timeout must be 1 to %d seconds", WD_FLEET_MAX_TIMEOUT_S);
    wd_fleet_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    c->timeout_s = t;
    c->cancel_fd = -1;
    wd_code rc = wd_fleet_parse_url(o->leader_url, &c->base, e);
    if (rc == WD_OK)
        rc = read_key(o->key_path, &c->key, &c->key_len, e);
    if (rc == WD_OK)
        rc = check_readable("--cert", o->cert_path, e);
    if (rc == WD_OK)
        rc = check_readable("--ca", o->ca_path, e);
    if (rc == WD_OK && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        rc = wd_err_set(e, WD_E_INTERNAL, "cannot initialise libcurl");
    else if (rc == WD_OK) {
        c->h = curl_easy_init();
        c->m = c->h != NULL ? curl_multi_init() : NULL;
        if (c->h == NULL) {
            curl_global_cleanup();
            rc = wd_err_set(e, WD_E_NOMEM, "cannot create a libcurl handle");
        } else if (c->m == NULL) {
            rc = wd_err_set(e, WD_E_NOMEM, "cannot create a libcurl handle");
        }
    }
    if (rc == WD_OK)
        rc = setup_handle(c, o, e);
    if (rc != WD_OK) {
        wd_fleet_close(c);
        return rc;
    }
    *out = c;
    return WD_OK;
}

wd_code wd_fleet_set_timeout(wd_fleet_client *c, long seconds, wd_err *e)
{
    if (seconds < 1 || seconds > WD_FLEET_MAX_TIMEOUT_S)
        return wd_err_set(e, WD_E_USAGE, "timeout must be 1 to %d seconds", WD_FLEET_MAX_TIMEOUT_S);
    if (curl_easy_setopt(c->h, CURLOPT_TIMEOUT, seconds) != CURLE_OK)
        return wd_err_set(e, WD_E_INTERNAL, "cannot set the timeout");
    c->timeout_s = seconds;
    return WD_OK;
}

/* libcurl calls this about once a second during a transfer: a non-zero answer aborts it. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    const wd_fleet_client *c = ud;
    return c->cancel != NULL && __atomic_load_n(c->cancel, __ATOMIC_SEQ_CST) != 0;
}

wd_code wd_fleet_set_cancel(wd_fleet_client *c, const volatile int *flag, wd_err *e)
{
    CURLcode rc = curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, c);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, flag != NULL ? 0L : 1L);
    if (rc != CURLE_OK)
        return wd_err_set(e, WD_E_INTERNAL, "cannot set the cancel hook: %s",
                          curl_easy_strerror(rc));
    c->cancel = flag;
    return WD_OK;
}

void wd_fleet_set_cancel_fd(wd_fleet_client *c, int fd)
{
    c->cancel_fd = fd;
}

static bool cancelled(const wd_fleet_client *c)
{
    return c->cancel != NULL && __atomic_load_n(c->cancel, __ATOMIC_SEQ_CST) != 0;
}

/* curl_easy_perform without its once-a-second wake-ups: the handle is driven through the
 * client's multi handle, whose wait sleeps until a socket is ready, libcurl's next deadline
 * (the request's timeout) or cancel_fd becomes readable. With only the cancel flag (no
 * descriptor) it looks at the flag at least once a second, as libcurl's progress hook did.
 * Returns the transfer's result; the handle is removed from the multi handle on every path
 * (its connection stays cached there for the next request). */
static CURLcode perform(wd_fleet_client *c)
{
    if (curl_multi_add_handle(c->m, c->h) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    CURLcode res = CURLE_OK;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(c->m, &running) != CURLM_OK) {
            res = CURLE_OUT_OF_MEMORY;
            break;
        }
        bool done = false;
        int left = 0;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(c->m, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->h) {
                res = msg->data.result;
                done = true;
            }
        }
        if (done)
            break;
        if (cancelled(c)) {
            res = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        long ms = -1;
        if (curl_multi_timeout(c->m, &ms) != CURLM_OK || ms < 0 || ms > 60000)
            ms = 60000; /* libcurl has no deadline of its own before then: sleep on the sockets */
        if (c->cancel != NULL && c->cancel_fd < 0 && ms > 1000)
            ms = 1000;
        struct curl_waitfd wfd = {.fd = c->cancel_fd, .events = CURL_WAIT_POLLIN, .revents = 0};
        if (curl_multi_poll(c->m, c->cancel_fd >= 0 ? &wfd : NULL, c->cancel_fd >= 0 ? 1u : 0u,
                            (int)ms, NULL) != CURLM_OK) {
            res = CURLE_OUT_OF_MEMORY;
            break;
        }
        if (wfd.revents != 0) {
            res = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
    }
    curl_multi_remove_handle(c->m, c->h);
    return res;
}

const char *wd_fleet_base_url(const wd_fleet_client *c)
{
    return c->base;
}

void wd_fleet_close(wd_fleet_client *c)
{
    if (c == NULL)
        return;
    if (c->m != NULL)
        curl_multi_cleanup(c->m); /* h is never left added: this closes the kept connection */
    if (c->h != NULL) {
        curl_easy_cleanup(c->h);
        curl_global_cleanup();
    }
    if (c->key != NULL) {
        OPENSSL_cleanse(c->key, c->key_len);
        free(c->key);
    }
    free(c->base);
    free(c);
}

void wd_fleet_response_free(wd_fleet_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    for (size_t i = 0; i < WD_FLEET_HDR_COUNT; i++)
        free(r->headers[i]);
    memset(r, 0, sizeof *r);
}

/* ---- one request ---- */

typedef struct sink {
    wd_fleet_response *r;
    size_t cap;       /* most body bytes accepted */
    size_t alloc;     /* bytes allocated in r->body */
    bool over;        /* the body went past cap */
    bool bad_header;  /* a kept header was too long or held a control character */
    wd_fleet_hdr bad_which;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    wd_fleet_response *r = s->r;
    if (n > s->cap - r->body_len) {
        s->over = true;
        return 0; /* stops the transfer: CURLE_WRITE_ERROR */
    }
    if (r->body_len + n + 1 > s->alloc) {
        size_t want = s->alloc ? s->alloc : 4096;
        while (want < r->body_len + n + 1)
            want *= 2;
        if (want > s->cap + 1)
            want = s->cap + 1;
        unsigned char *nb = realloc(r->body, want);
        if (nb == NULL)
            return 0;
        r->body = nb;
        s->alloc = want;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the previous one's headers. */
        s->bad_header = false;
        for (size_t i = 0; i < WD_FLEET_HDR_COUNT; i++) {
            free(s->r->headers[i]);
            s->r->headers[i] = NULL;
        }
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (colon == NULL)
        return n;
    size_t namelen = (size_t)(colon - data);
    for (size_t i = 0; i < WD_FLEET_HDR_COUNT; i++) {
        if (strlen(hdr_names[i]) != namelen || strncasecmp(data, hdr_names[i], namelen) != 0)
            continue;
        const char *v = colon + 1, *end = data + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                           end[-1] == '\t'))
            end--;
        size_t vlen = (size_t)(end - v);
        bool ok = vlen <= WD_FLEET_MAX_HEADER_VALUE;
        for (size_t k = 0; ok && k < vlen; k++)
            if ((unsigned char)v[k] < 0x20 || v[k] == 0x7f)
                ok = false;
        if (!ok) {
            s->bad_header = true;
            s->bad_which = (wd_fleet_hdr)i;
            return n;
        }
        char *copy = strndup(v, vlen);
        if (copy == NULL)
            return 0;
        free(s->r->headers[i]);
        s->r->headers[i] = copy;
        break;
    }
    return n;
}

static bool method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return false;
    return true;
}

static bool path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > WD_FLEET_MAX_URL || p[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f || p[i] == '#')
            return false;
    return true;
}

static bool header_line_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    if (colon == NULL || colon == h || strlen(h) > 8192)
        return false;
    return strpbrk(h, "\r\n") == NULL;
}

/* The message for a failed transfer: name the leader and curl's reason. */
static wd_code transport_error(wd_fleet_client *c, CURLcode cc, const char *method,
                               const char *path, wd_err *e)
{
    char why[CURL_ERROR_SIZE + 64];
    long oserr = 0;
    curl_easy_getinfo(c->h, CURLINFO_OS_ERRNO, &oserr);
    if (c->errbuf[0] != '\0')
        snprintf(why, sizeof why, "%s", c->errbuf);
    else
        snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        if (oserr != 0)
            snprintf(why, sizeof why, "%s", strerror((int)oserr));
        /* fall through */
    case CURLE_COULDNT_RESOLVE_HOST:
        return wd_err_set(e, WD_E_IO, "cannot connect to %s: %s", c->base, why);
    case CURLE_OPERATION_TIMEDOUT:
        return wd_err_set(e, WD_E_IO, "%s %s%s: no complete answer within the time limit: %s",
                          method, c->base, path, why);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return wd_err_set(e, WD_E_IO, "TLS with %s failed: %s", c->base, why);
    case CURLE_ABORTED_BY_CALLBACK:
        return wd_err_set(e, WD_E_IO, "%s %s%s: cancelled", method, c->base, path);
    case CURLE_GOT_NOTHING:
        /* TLS 1.3: a leader that refuses the client certificate does so after the handshake. */
        return wd_err_set(e, WD_E_IO,
                          "%s %s%s: the leader closed the connection without an answer (it does "
                          "this when it refuses the client certificate): %s",
                          method, c->base, path, why);
    default:
        return wd_err_set(e, WD_E_IO, "%s %s%s failed: %s", method, c->base, path, why);
    }
}

wd_code wd_fleet_request(wd_fleet_client *c, const char *method, const char *path,
                         const void *body, size_t len, const char *const *headers,
                         size_t max_body, wd_fleet_response *resp, wd_err *e)
{
    memset(resp, 0, sizeof *resp);
    if (method == NULL || !method_ok(method))
        return wd_err_set(e, WD_E_USAGE, "bad HTTP method");
    if (path == NULL || !path_ok(path))
        return wd_err_set(e, WD_E_USAGE, "bad request path");
    if (body == NULL && len != 0)
        return wd_err_set(e, WD_E_USAGE, "a body length without a body");
    if (max_body == 0 || max_body > SIZE_MAX / 2)
        return wd_err_set(e, WD_E_USAGE, "bad response cap");
    bool has_ct = false;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (!header_line_ok(headers[i]))
            return wd_err_set(e, WD_E_USAGE, "bad request header");
        if (strncasecmp(headers[i], "Content-Type:", 13) == 0)
            has_ct = true;
    }

    wd_code rc = WD_OK;
    struct curl_slist *list = NULL, *t;
    char *url = NULL;
    size_t ulen = strlen(c->base) + strlen(path) + 1;
    url = malloc(ulen);
    if (url == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    snprintf(url, ulen, "%s%s", c->base, path);

    /* No "Expect: 100-continue" round trip; JSON unless the caller says otherwise. */
    t = curl_slist_append(list, "Expect:");
    if (t != NULL) {
        list = t;
        if (body != NULL && !has_ct) {
            t = curl_slist_append(list, "Content-Type: application/json");
            if (t != NULL)
                list = t;
        }
    }
    for (size_t i = 0; t != NULL && headers != NULL && headers[i] != NULL; i++) {
        t = curl_slist_append(list, headers[i]);
        if (t != NULL)
            list = t;
    }
    if (t == NULL) {
        rc = wd_err_set(e, WD_E_NOMEM, "out of memory");
        goto out;
    }

    sink s = {.r = resp, .cap = max_body};
    CURL *h = c->h;
    CURLcode cc = CURLE_OK;
    c->errbuf[0] = '\0';
#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (cc == CURLE_OK)                                                                    \
            cc = curl_easy_setopt(h, opt, val);                                                \
    } while (0)
    SET(CURLOPT_URL, url);
    if (body != NULL) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDS, (const char *)body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        SET(CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
        SET(CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") == 0 ? NULL : method);
    }
    SET(CURLOPT_HTTPHEADER, list);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &s);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, &s);
#undef SET
    if (cc != CURLE_OK) {
        rc = wd_err_set(e, WD_E_INTERNAL, "cannot set up the request: %s", curl_easy_strerror(cc));
        goto out;
    }
    cc = perform(c);
    /* Nothing of this request may outlive it in the reused handle. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
    if (s.over) {
        rc = wd_err_set(e, WD_E_OVERSIZED, "the answer to %s %s is larger than %zu bytes", method,
                        path, max_body);
    } else if (cc != CURLE_OK) {
        rc = cc == CURLE_WRITE_ERROR ? wd_err_set(e, WD_E_NOMEM, "out of memory")
                                     : transport_error(c, cc, method, path, e);
    } else if (s.bad_header) {
        rc = wd_err_set(e, WD_E_IO, "the answer to %s %s has a bad %s header (too long or "
                        "control characters)", method, path, hdr_names[s.bad_which]);
    } else {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        resp->status = status;
        if (resp->body == NULL) {
            resp->body = calloc(1, 1);
            if (resp->body == NULL)
                rc = wd_err_set(e, WD_E_NOMEM, "out of memory");
        }
    }
out:
    if (rc != WD_OK)
        wd_fleet_response_free(resp);
    curl_slist_free_all(list);
    free(url);
    return rc;
}

bool wd_fleet_error_body(const wd_fleet_response *r, char *code, size_t codesz, char *message,
                         size_t messagesz)
{
    code[0] = '\0';
    message[0] = '\0';
    if (r == NULL || r->body == NULL || r->body_len == 0)
        return false;
    json_t *j = NULL;
    if (wd_json_parse(r->body, r->body_len, r->body_len, &j, NULL) != WD_OK)
        return false;
    json_t *err = json_object_get(j, "error");
    const char *cs = json_string_value(json_object_get(err, "code"));
    const char *ms = json_string_value(json_object_get(err, "message"));
    if (cs != NULL)
        wd_clean_text(cs, code, codesz);
    if (ms != NULL)
        wd_clean_text(ms, message, messagesz);
    json_decref(j);
    return cs != NULL;
}

const char *wd_fleet_reason(long status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    return "";
}
