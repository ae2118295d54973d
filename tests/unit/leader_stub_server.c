/* leader_stub_server.c — the leader's transport (server.c, tls.c, http.c, config.c) with stub
 * route handlers, for tests/cli/test_leader_transport.sh. Built only for tests. It serves:
 *   GET  /whoami              200 {"kind":...,"org":...,...}: the peer identity the server saw
 *   GET  /hold?key=K&wait=N   held on key K for N s; answered 200 {"wake":1} when woken,
 *                             {"wake":2} at the deadline or on drain
 *   POST /wake?key=K          calls L->wake(L, K) from this worker; 200 {"woke":"K"}
 *   PUT  /body                takes a body of at most 1024 bytes; 200 {"len":N}
 *   GET  /broken              a bug: neither answers nor holds (the server must answer 500)
 *   GET  /stubborn            a bug: holds again on its final call (500 at the deadline)
 *   anything else             404
 * usage: leader_stub_server CONFIG.yaml PORTS_FILE [not-ready]
 * It must never be installed or linked into warden. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "leader.h"
#include "metrics.h"
#include "server.h"
#include "store.h"

#define STUB_BODY_CAP 1024

static bool stub_ready_flag = true;

/* The value of query parameter name in q ("a=1&b=2"), copied into out; false when absent. */
static bool query_param(const char *q, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    const char *p = q;
    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t vl = strcspn(v, "&");
            if (vl >= n)
                vl = n - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return false;
}

static void stub_handle(wd_leader *L, const wd_http_req *req, wd_http_resp *rs)
{
    char buf[1024], key[256];
    if (strcmp(req->path, "/whoami") == 0 && strcmp(req->method, "GET") == 0) {
        rs->route = "whoami";
        const wd_spiffe_id *p = req->peer;
        int n = snprintf(buf, sizeof buf,
                         "{\"kind\":\"%s\",\"org\":\"%s\",\"fleet\":\"%s\",\"env\":\"%s\","
                         "\"instance\":\"%s\",\"admin\":\"%s\"}",
                         p->kind == WD_PEER_FOLLOWER ? "follower" : "admin", p->org, p->fleet,
                         p->env, p->instance, p->admin);
        wd_http_resp_body(rs, 200, buf, (size_t)n);
        return;
    }
    if (strcmp(req->path, "/hold") == 0 && strcmp(req->method, "GET") == 0) {
        rs->route = "hold";
        char wait[16] = "5";
        if (!query_param(req->query, "key", key, sizeof key)) {
            wd_http_resp_error(rs, 400, "bad-request", "key missing");
            return;
        }
        query_param(req->query, "wait", wait, sizeof wait);
        if (req->wake == 0) {
            rs->hold_s = atoi(wait);
            snprintf(rs->hold_key, sizeof rs->hold_key, "%s", key);
            return;
        }
        int n = snprintf(buf, sizeof buf, "{\"wake\":%d}", req->wake);
        wd_http_resp_header(rs, "Preference-Applied", "wait=%s", wait);
        wd_http_resp_body(rs, 200, buf, (size_t)n);
        return;
    }
    if (strcmp(req->path, "/wake") == 0 && strcmp(req->method, "POST") == 0) {
        rs->route = "wake";
        if (!query_param(req->query, "key", key, sizeof key)) {
            wd_http_resp_error(rs, 400, "bad-request", "key missing");
            return;
        }
        L->wake(L, key);
        int n = snprintf(buf, sizeof buf, "{\"woke\":\"%s\"}", key);
        wd_http_resp_body(rs, 200, buf, (size_t)n);
        return;
    }
    if (strcmp(req->path, "/body") == 0 && strcmp(req->method, "PUT") == 0) {
        rs->route = "body";
        int n = snprintf(buf, sizeof buf, "{\"len\":%zu}", req->body_len);
        wd_http_resp_body(rs, 200, buf, (size_t)n);
        return;
    }
    if (strcmp(req->path, "/broken") == 0) {
        rs->route = "broken";
        return;
    }
    if (strcmp(req->path, "/stubborn") == 0) {
        rs->route = "stubborn";
        rs->hold_s = 1;
        snprintf(rs->hold_key, sizeof rs->hold_key, "stubborn");
        return;
    }
    rs->route = "not-found";
    wd_http_resp_error(rs, 404, "not-found", "no such route");
}

static size_t stub_body_cap(const char *method, const char *target)
{
    return strcmp(method, "PUT") == 0 && strcmp(target, "/body") == 0 ? STUB_BODY_CAP : 0;
}

static bool stub_ready(const wd_leader *L)
{
    (void)L;
    return stub_ready_flag;
}

static wd_code stub_ping(wd_store *s, wd_err *e)
{
    (void)s;
    (void)e;
    return WD_OK;
}

static void stub_close(wd_store *s)
{
    (void)s;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: leader_stub_server CONFIG.yaml PORTS_FILE [not-ready]\n");
        return 2;
    }
    if (argc == 4 && strcmp(argv[3], "not-ready") == 0)
        stub_ready_flag = false;
    static const wd_store_ops ops = {.name = "stub", .close = stub_close, .ping = stub_ping};
    wd_store store = {.ops = &ops};
    wd_leader L;
    memset(&L, 0, sizeof L);
    wd_err e;
    if (wd_leader_config_init(&L.cfg, &e) != WD_OK ||
        wd_leader_config_load(argv[1], &L.cfg, &e) != WD_OK ||
        wd_leader_config_check(&L.cfg, &e) != WD_OK) {
        fprintf(stderr, "leader_stub_server: %s\n", e.msg);
        wd_leader_config_free(&L.cfg);
        return wd_code_exit(e.code);
    }
    L.metrics = wd_metrics_new();
    L.store = &store;
    wd_server_handlers h = {
        .handle = stub_handle,
        .body_cap = stub_body_cap,
        .ready = stub_ready,
        .ports_file = argv[2],
    };
    int rc = 0;
    if (wd_server_run(&L, &h, &e) != WD_OK) {
        fprintf(stderr, "warden leader: %s\n", e.msg);
        rc = wd_code_exit(e.code);
    }
    wd_metrics_free(L.metrics);
    wd_leader_config_free(&L.cfg);
    return rc;
}
