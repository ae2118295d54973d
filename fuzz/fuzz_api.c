/* fuzz_api.c — libFuzzer target for the request bodies and headers the leader's conductor API
 * parses itself: status reports, audit batches, every publish body (bundle, kill, rollback,
 * roster) and the conditional headers of a poll, each driven through wd_api_handle exactly as a
 * worker thread would, against a real SQLite store in a scratch directory and a roster made at
 * start. The first input byte picks the route; the rest is the body (or header value). Any
 * crash, leak or sanitizer report is a finding; every answer must be a complete response. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "leader.h"
#include "metrics.h"
#include "store.h"
#include "trust/roster.h"

/* Declared by the SQLite store for tests (store_sqlite.c). */
wd_code wd_store_sqlite_test_exec(wd_store *s, const char *sql, wd_err *e);

static wd_leader L;
static const wd_spiffe_id ADMIN = {WD_PEER_ADMIN, "acme", "", "", "", "alice"};
static const wd_spiffe_id FOLLOWER = {WD_PEER_FOLLOWER, "acme", "prod", "eu1", "web-7", ""};

static void no_wake(wd_leader *l, const char *key)
{
    (void)l;
    (void)key;
}

static void die(const char *what, const wd_err *e)
{
    fprintf(stderr, "fuzz_api: %s: %s\n", what, e ? e->msg : "");
    abort();
}

/* A roster of one root key (also the pin) and one bundle-signing key, in a scratch dir. */
static void setup(void)
{
    static char dir[] = "/tmp/wd_fuzz_api_XXXXXX";
    static char roster_path[64], pin[WD_DIGEST_STRLEN + 1];
    wd_err e;
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", NULL);
    wd_key *root = NULL, *bsign = NULL;
    wd_roster *r = NULL;
    if (wd_key_generate(&root, &e) != WD_OK || wd_key_generate(&bsign, &e) != WD_OK ||
        wd_roster_new("acme", &r, &e) != WD_OK)
        die("keys", &e);
    int64_t now = wd_now();
    r->created_at = now - 60;
    r->expires_at = now + 365 * 86400;
    if (wd_roster_add_key(r, true, root, WD_PURPOSE_ROSTER_ROOT, now - 60, INT64_MAX, NULL,
                          &e) != WD_OK ||
        wd_roster_add_key(r, false, bsign, WD_PURPOSE_BUNDLE_SIGNING, now - 60, INT64_MAX,
                          NULL, &e) != WD_OK)
        die("roster keys", &e);
    char *env = NULL;
    size_t len = 0;
    if (wd_roster_sign(r, &root, 1, &env, &len, &e) != WD_OK)
        die("roster sign", &e);
    snprintf(roster_path, sizeof roster_path, "%s/roster.json", dir);
    if (wd_write_file(roster_path, env, len, 0644, &e) != WD_OK)
        die("roster write", &e);
    snprintf(pin, sizeof pin, "%s", wd_key_id(root));
    free(env);
    wd_roster_free(r);
    wd_key_free(bsign);
    wd_key_free(root);

    char url[96];
    snprintf(url, sizeof url, "sqlite:%s/leader.db", dir);
    if (wd_store_open(url, &L.store, &e) != WD_OK)
        die("store", &e);
    /* speed over durability: nothing here must survive a crash */
    if (wd_store_sqlite_test_exec(L.store, "PRAGMA synchronous=OFF", &e) != WD_OK)
        die("pragma", &e);
    L.cfg.roster_path = roster_path;
    L.cfg.pin = pin;
    L.cfg.log_level = WD_LOG_ERROR + 1; /* quiet */
    L.cfg.log_format = WD_LOG_TEXT;
    L.metrics = wd_metrics_new();
    L.wake = no_wake;
    if (wd_api_init(&L, &e) != WD_OK)
        die("api init", &e);
}

typedef struct route {
    const char *method, *target;
    const wd_spiffe_id *peer;
    const char *header; /* when set, the input is this header's value instead of a body */
} route;

static const route routes[] = {
    {"POST", WD_API_PREFIX "status", &FOLLOWER, NULL},
    {"POST", WD_API_PREFIX "audit/batches", &FOLLOWER, NULL},
    {"PUT", WD_API_PREFIX "policy-bundles", &ADMIN, NULL},
    {"PUT", WD_API_PREFIX "remote-kill", &ADMIN, NULL},
    {"PUT", WD_API_PREFIX "rollback-authorizations", &ADMIN, NULL},
    {"PUT", WD_API_PREFIX "roster", &ADMIN, NULL},
    {"GET", WD_API_PREFIX "policy/latest", &FOLLOWER, "If-None-Match"},
    {"GET", WD_API_PREFIX "policy/latest", &FOLLOWER, "Prefer"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (L.store == NULL)
        setup();
    if (size < 1)
        return 0;
    const route *rt = &routes[data[0] % (sizeof routes / sizeof routes[0])];
    data++;
    size--;

    wd_http_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "%s", rt->method);
    req.target = rt->target;
    req.path = rt->target;
    req.query = "";
    req.minor = 1;
    req.keep_alive = true;
    req.peer = rt->peer;
    req.content_length = -1;
    char *copy = malloc(size + 1); /* a body is NUL-terminated, as the server gives it */
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    if (rt->header != NULL) {
        if (memchr(copy, '\0', size) != NULL || memchr(copy, '\r', size) ||
            memchr(copy, '\n', size)) { /* the parser never hands these to a handler */
            free(copy);
            return 0;
        }
        req.headers[0].name = rt->header;
        req.headers[0].value = copy;
        req.nheaders = 1;
    } else {
        if (size > wd_api_body_cap(rt->method, rt->target)) { /* answered 413 before us */
            free(copy);
            return 0;
        }
        req.body = (unsigned char *)copy;
        req.body_len = size;
        req.content_length = (int64_t)size;
    }
    for (int wake = 0; wake <= 2; wake += 2) { /* a held poll is answered on its final call */
        req.wake = wake;
        wd_http_resp rs;
        memset(&rs, 0, sizeof rs);
        wd_api_handle(&L, &req, &rs);
        if (rs.hold_s == 0 && (rs.status < 200 || rs.status > 599))
            abort(); /* every answer is a complete response */
        bool held = rs.hold_s > 0;
        wd_http_resp_free(&rs);
        if (!held)
            break;
    }
    free(copy);
    return 0;
}
