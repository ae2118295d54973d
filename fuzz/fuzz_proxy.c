/* fuzz_proxy.c — libFuzzer target for the MCP proxy's message logic (src/runner/proxy.c): a
 * session of client lines, server lines, policy changes and server exits, one per input line
 * ('c' client, 'o' client past the cap, 's' server, 'p' policy changed, 'g' server gone; the
 * first input byte's low bit makes the flight recorder fail). It traps when a denied tools/call
 * (exec_*), or any tools/call while the recorder fails, is forwarded; when a forwarded client
 * line is not strict JSON; when an answer is not JSON; and when a filtered tools/list still
 * lists a denied tool; and when the proxy's fast reader accepts a client line the strict reader
 * refuses, or reads it into another tree. It must never register more than its one policy gate. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec/json.h"
#include "proxy.h"
#include "warden/gate.h"
#include "warden/policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINE 1024

static const char POLICY[] =
    "version: 1\n"
    "mcp_tool_policy:\n"
    "  default: allow\n"
    "  rules:\n"
    "    - {name: no-exec, action: deny, reason: no command execution, tool: [\"exec_*\"]}\n"
    "    - {name: paths, action: deny, reason: system paths, tool: [write_file],\n"
    "       args: [{key: path, regex: \"^/(etc|usr)/\"}]}\n"
    "    - {name: redos, action: deny, reason: pathological, tool: [search],\n"
    "       args: [{key: q, regex: \"^(a+)+$\"}]}\n"
    "    - {name: careful, action: warn, reason: be careful, tool: [delete_file]}\n";

static bool record_fails;

static wd_code rec(void *ctx, const char *kind, json_t *fields, wd_err *e)
{
    (void)ctx;
    if (kind == NULL || fields == NULL || !json_is_object(fields))
        __builtin_trap();
    return record_fails ? wd_err_set(e, WD_E_IO, "disk full") : WD_OK;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    wd_policy *p = NULL;
    const wd_gate_ops *ops;
    void *ctx;
    wd_gate_id id;
    if (wd_policy_load((const unsigned char *)POLICY, sizeof POLICY - 1, &p, NULL) != WD_OK ||
        wd_policy_gate_new(p, &ops, &ctx, NULL) != WD_OK ||
        wd_gate_register(ops, ctx, &id, NULL) != WD_OK)
        abort();
    wd_policy_unref(p);
    return 0;
}

/* What the rule no-exec denies: "exec_*", where '*' does not cross '/'. */
static bool denied_name(const char *name)
{
    return name != NULL && strncmp(name, "exec_", 5) == 0 && strchr(name, '/') == NULL;
}

/* A message that must never reach the server. */
static bool forbidden(const json_t *m)
{
    if (!json_is_object(m))
        return false;
    const char *method = json_string_value(json_object_get(m, "method"));
    if (method == NULL || strcmp(method, "tools/call") != 0)
        return false;
    if (record_fails)
        return true;
    const char *name = json_string_value(json_object_get(json_object_get(m, "params"), "name"));
    return denied_name(name);
}

/* Bytes the proxy sent to the server: strict JSON without a forbidden message. */
static void check_to_server(const char *s, size_t n)
{
    json_t *v = NULL;
    if (wd_json_parse((const unsigned char *)s, n, MAX_LINE, &v, NULL) != WD_OK)
        __builtin_trap();
    if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            if (forbidden(m))
                __builtin_trap();
        }
    } else if (forbidden(v)) {
        __builtin_trap();
    }
    json_decref(v);
}

/* Lines the proxy wrote for the client (newline-joined): each one JSON. When strict is false a
 * line jansson cannot hold (a huge integer the server sent) is let go. */
static void check_json_lines(const char *s, size_t n, bool strict)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n;
        json_error_t je;
        json_t *v = json_loadb(s + i, end - i, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (v == NULL && strict)
            __builtin_trap();
        json_decref(v);
        i = end + 1;
    }
}

/* A single response the proxy rewrote is a filtered tools/list result (or an error): it must
 * not name a denied tool. (In a rewritten batch, answers to other requests stay as they are.) */
static void check_filtered(const char *s, size_t n)
{
    json_error_t je;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    json_t *tools = json_object_get(json_object_get(v, "result"), "tools");
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        if (denied_name(json_string_value(json_object_get(t, "name"))))
            __builtin_trap();
    }
    json_decref(v);
}

/* The fast reader never accepts what the strict one refuses, and reads the same tree. */
static void check_fast_reader(const char *s, size_t n)
{
    json_t *fast = NULL, *strict = NULL;
    bool f = wd_proxy_fast_parse(s, n, &fast);
    bool ok = wd_json_parse((const unsigned char *)s, n, MAX_LINE, &strict, NULL) == WD_OK;
    if (f && !ok)
        __builtin_trap();
    if (f) {
        char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = json_dumps(strict, JSON_COMPACT | JSON_ENCODE_ANY);
        if (a == NULL || b == NULL || strcmp(a, b) != 0 || !json_equal(fast, strict))
            __builtin_trap();
        free(a);
        free(b);
    }
    json_decref(fast);
    json_decref(strict);
}

static void client(wd_proxy *p, const char *s, size_t n, bool over)
{
    if (n > MAX_LINE) {
        n = MAX_LINE;
        over = true;
    }
    check_fast_reader(s, n);
    wd_proxy_out out;
    wd_err e;
    if (wd_proxy_client_line(p, s, n, over, &out, &e) != WD_OK)
        __builtin_trap();
    if (out.forward_original && out.to_server != NULL)
        __builtin_trap();
    if (out.forward_original) {
        if (over)
            __builtin_trap();
        check_to_server(s, n);
    }
    if (out.to_server != NULL)
        check_to_server(out.to_server, out.to_server_len);
    if (out.to_client != NULL)
        check_json_lines(out.to_client, out.to_client_len, true);
    wd_proxy_out_clear(&out);
}

static void server(wd_proxy *p, const char *s, size_t n)
{
    wd_proxy_out out;
    wd_err e;
    if (wd_proxy_server_line(p, s, n, &out, &e) != WD_OK)
        __builtin_trap();
    if (out.to_server != NULL || (out.forward_original && out.to_client != NULL))
        __builtin_trap();
    if (!out.forward_original && out.to_client == NULL)
        __builtin_trap();
    if (out.to_client != NULL) {
        check_json_lines(out.to_client, out.to_client_len, false);
        check_filtered(out.to_client, out.to_client_len);
    }
    wd_proxy_out_clear(&out);
}

static void other(wd_proxy *p, bool gone)
{
    wd_proxy_out out;
    wd_err e;
    wd_code c = gone ? wd_proxy_server_gone(p, &out, &e) : wd_proxy_policy_changed(p, &out, &e);
    if (c != WD_OK || out.forward_original || out.to_server != NULL)
        __builtin_trap();
    if (out.to_client != NULL)
        check_json_lines(out.to_client, out.to_client_len, true);
    wd_proxy_out_clear(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    record_fails = data[0] & 1;
    wd_proxy_hooks h = {NULL, NULL, rec};
    wd_proxy *p = NULL;
    if (wd_proxy_new("fuzz", MAX_LINE, &h, &p, NULL) != WD_OK)
        abort();
    const char *s = (const char *)data + 1;
    size_t n = size - 1, i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n;
        const char *l = s + i;
        size_t len = end - i;
        char kind = len > 0 ? l[0] : 'c';
        if (len > 0 && strchr("cospg", kind) != NULL && kind != '\0') {
            l++;
            len--;
        } else {
            kind = 'c';
        }
        switch (kind) {
        case 's': server(p, l, len); break;
        case 'p': other(p, false); break;
        case 'g': other(p, true); break;
        default: client(p, l, len, kind == 'o'); break;
        }
        i = end + 1;
    }
    other(p, true);
    wd_proxy_free(p);
    return 0;
}
