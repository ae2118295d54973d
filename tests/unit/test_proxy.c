/* test_proxy.c — focus: the MCP proxy's message logic (SPEC §14.1) byte for byte: tools/call
 * decisions (denied names, argument regexes, a regex at its limit, warn, audit, host denial, a
 * recorder that cannot write), batches, malformed lines (not JSON, at the cap and past it, NUL,
 * not JSON-RPC), notifications, tools/list filtering page by page, list-changed notifications by
 * negotiated version, the answers when the server exits, and ids of every type echoed exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "gate/tool_args.h"
#include "proxy.h"
#include "warden/gate.h"
#include "warden/limits.h"
#include "warden/policy.h"

/* ---- fixture: a policy gate, a recorder and a host-denial switch ---- */

#define RULES                                                                                  \
    "mcp_tool_policy:\n"                                                                       \
    "  default: allow\n"                                                                       \
    "  rules:\n"                                                                               \
    "    - {name: no-exec, action: deny, reason: no command execution, tool: [\"exec_*\"]}\n"  \
    "    - name: no-system-paths\n"                                                            \
    "      action: deny\n"                                                                     \
    "      reason: system paths are off limits\n"                                              \
    "      tool: [write_file]\n"                                                               \
    "      args: [{key: path, regex: \"^/(etc|usr|boot)/\"}]\n"                                \
    "    - {name: redos, action: deny, reason: pathological, tool: [search],\n"                \
    "       args: [{key: q, regex: \"^(a+)+$\"}]}\n"                                           \
    "    - {name: careful, action: warn, reason: be careful, tool: [delete_file]}\n"           \
    "    - {name: elsewhere, action: deny, reason: not here, server: [other], tool: [read_file]}\n"

static const char POLICY_ENFORCE[] = "version: 1\nmode: enforce\n" RULES;
static const char POLICY_AUDIT[] = "version: 1\nmode: audit\n" RULES;

typedef struct fixture {
    wd_gate_id gate;
    json_t *records; /* [[kind, fields], ...] */
    bool record_fails;
    const char *host_msg; /* non-NULL: a host-wide denial is in force */
    wd_proxy *p;
} fixture;

static wd_code rec(void *ctx, const char *kind, json_t *fields, wd_err *e)
{
    fixture *f = ctx;
    if (f->record_fails)
        return wd_err_set(e, WD_E_IO, "disk full");
    json_array_append_new(f->records, json_pack("[s,O]", kind, fields));
    return WD_OK;
}

static bool host(void *ctx, char *msg, size_t cap)
{
    fixture *f = ctx;
    if (f->host_msg == NULL)
        return false;
    snprintf(msg, cap, "%s", f->host_msg);
    return true;
}

static int use_policy(fixture *f, const char *yaml)
{
    wd_policy *pol = NULL;
    const wd_gate_ops *ops;
    void *ctx;
    if (wd_policy_load((const unsigned char *)yaml, strlen(yaml), &pol, NULL) != WD_OK)
        return -1;
    int r = wd_policy_gate_new(pol, &ops, &ctx, NULL) == WD_OK &&
                    wd_gate_register(ops, ctx, &f->gate, NULL) == WD_OK
                ? 0
                : -1;
    wd_policy_unref(pol);
    return r;
}

static int make(void **state, const char *yaml, size_t max_line)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL || use_policy(f, yaml) != 0)
        return -1;
    f->records = json_array();
    wd_proxy_hooks h = {f, host, rec};
    if (wd_proxy_new("fs-docs", max_line, &h, &f->p, NULL) != WD_OK)
        return -1;
    *state = f;
    return 0;
}

static int setup(void **state) { return make(state, POLICY_ENFORCE, 0); }
static int setup_audit(void **state) { return make(state, POLICY_AUDIT, 0); }
static int setup_small(void **state) { return make(state, POLICY_ENFORCE, 200); }

static int teardown(void **state)
{
    fixture *f = *state;
    wd_gate_unregister(f->gate, NULL);
    wd_proxy_free(f->p);
    json_decref(f->records);
    free(f);
    return 0;
}

/* ---- helpers ---- */

typedef struct res {
    wd_code code;
    wd_proxy_out out;
} res;

static res client(fixture *f, const char *line)
{
    res r;
    r.code = wd_proxy_client_line(f->p, line, strlen(line), false, &r.out, NULL);
    return r;
}

static res server(fixture *f, const char *line)
{
    res r;
    r.code = wd_proxy_server_line(f->p, line, strlen(line), &r.out, NULL);
    return r;
}

/* out->to_x equals want exactly (want NULL: nothing). */
static void same(const char *got, size_t len, const char *want)
{
    if (want == NULL) {
        assert_null(got);
        assert_int_equal(len, 0);
        return;
    }
    assert_non_null(got);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
}

/* The line was forwarded unchanged and nothing was answered. */
static void forwarded(res *r)
{
    assert_int_equal(r->code, WD_OK);
    assert_true(r->out.forward_original);
    same(r->out.to_server, r->out.to_server_len, NULL);
    same(r->out.to_client, r->out.to_client_len, NULL);
    wd_proxy_out_clear(&r->out);
}

/* Nothing went to the server and the client got exactly want. */
static void answered(res *r, const char *want)
{
    assert_int_equal(r->code, WD_OK);
    assert_false(r->out.forward_original);
    same(r->out.to_server, r->out.to_server_len, NULL);
    same(r->out.to_client, r->out.to_client_len, want);
    wd_proxy_out_clear(&r->out);
}

/* Nothing anywhere. */
static void dropped(res *r)
{
    assert_int_equal(r->code, WD_OK);
    assert_false(r->out.forward_original);
    same(r->out.to_server, r->out.to_server_len, NULL);
    same(r->out.to_client, r->out.to_client_len, NULL);
    wd_proxy_out_clear(&r->out);
}

static size_t n_records(fixture *f) { return json_array_size(f->records); }

/* Record i's fields, after checking its kind. */
static json_t *record_at(fixture *f, size_t i, const char *kind)
{
    json_t *r = json_array_get(f->records, i);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_array_get(r, 0)), kind);
    return json_array_get(r, 1);
}

static const char *sfield(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void gone_is(fixture *f, const char *want)
{
    wd_proxy_out out;
    assert_int_equal(wd_proxy_server_gone(f->p, &out, NULL), WD_OK);
    assert_false(out.forward_original);
    same(out.to_server, out.to_server_len, NULL);
    same(out.to_client, out.to_client_len, want);
    wd_proxy_out_clear(&out);
}

static void changed_is(fixture *f, const char *want)
{
    wd_proxy_out out;
    assert_int_equal(wd_proxy_policy_changed(f->p, &out, NULL), WD_OK);
    same(out.to_client, out.to_client_len, want);
    same(out.to_server, out.to_server_len, NULL);
    assert_false(out.forward_original);
    wd_proxy_out_clear(&out);
}

#define DENY_EXEC(id)                                                                          \
    "{\"jsonrpc\":\"2.0\",\"id\":" id ",\"error\":{\"code\":403,\"message\":\"tool call "      \
    "blocked by policy: no command execution\",\"data\":{\"rule\":\"no-exec\",\"mode\":"       \
    "\"enforce\"}}}"

/* ---- tools/call ---- */

static void t_allowed_call_forwarded_and_recorded(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"read_file\",\"arguments\":{\"path\":\"/srv/secret-value\"}}}");
    forwarded(&r);
    assert_int_equal(n_records(f), 1);
    json_t *x = record_at(f, 0, "tool_call");
    assert_string_equal(sfield(x, "server"), "fs-docs");
    assert_string_equal(sfield(x, "tool"), "read_file");
    assert_string_equal(sfield(x, "verdict"), "allow");
    assert_string_equal(sfield(x, "rule"), "mcp_tool_policy.default");
    assert_string_equal(sfield(x, "mode"), "enforce");
    assert_false(json_is_true(json_object_get(x, "warn")));
    char want[WD_DIGEST_STRLEN + 1];
    const char *args = "{\"path\":\"/srv/secret-value\"}";
    assert_int_equal(wd_digest_of(args, strlen(args), want, NULL), WD_OK);
    assert_string_equal(sfield(x, "args_digest"), want);
    /* the value itself is never recorded */
    char *dump = json_dumps(f->records, JSON_COMPACT);
    assert_null(strstr(dump, "secret-value"));
    free(dump);
    /* a call without arguments has no digest */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                  "\"read_file\"}}");
    forwarded(&r);
    assert_true(json_is_null(json_object_get(record_at(f, 1, "tool_call"), "args_digest")));
}

static void t_denied_tool_name(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"exec_cmd\",\"arguments\":{\"cmd\":\"id\"}}}");
    answered(&r, DENY_EXEC("1"));
    json_t *x = record_at(f, 0, "tool_call");
    assert_string_equal(sfield(x, "verdict"), "deny");
    assert_string_equal(sfield(x, "rule"), "no-exec");
    assert_string_equal(sfield(x, "reason"), "no command execution");
    /* a denied call never waits for the server */
    gone_is(f, NULL);
}

static void t_deny_regex_on_argument(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"write_file\",\"arguments\":{\"path\":\"/etc/passwd\","
                      "\"content\":\"x\"}}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":403,\"message\":\"tool call "
                 "blocked by policy: system paths are off limits\",\"data\":{\"rule\":"
                 "\"no-system-paths\",\"mode\":\"enforce\"}}}");
    char *dump = json_dumps(f->records, JSON_COMPACT);
    assert_null(strstr(dump, "/etc/passwd"));
    free(dump);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"write_file\",\"arguments\":{\"path\":\"/srv/data/a\"}}}");
    forwarded(&r);
    /* a non-string argument is matched as its compact JSON */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"write_file\",\"arguments\":{\"path\":[\"/etc/x\"]}}}");
    forwarded(&r); /* ["/etc/x"] does not start with /etc/ */
}

static void t_regex_limit_denies(void **state)
{
    fixture *f = *state;
    static char line[6000];
    char q[5002];
    memset(q, 'a', 5000);
    q[5000] = 'b';
    q[5001] = '\0';
    snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                                "\"params\":{\"name\":\"search\",\"arguments\":{\"q\":\"%s\"}}}", q);
    res r = client(f, line);
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":403,\"message\":\"tool call "
                 "blocked by policy: pathological\",\"data\":{\"rule\":\"redos\",\"mode\":"
                 "\"enforce\"}}}");
    json_t *x = record_at(f, 0, "tool_call");
    assert_true(json_is_true(json_object_get(x, "regex_limit")));
}

static void t_warn_forwards_and_records(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"delete_file\",\"arguments\":{\"path\":\"/tmp/a\"}}}");
    forwarded(&r);
    json_t *x = record_at(f, 0, "tool_call");
    assert_string_equal(sfield(x, "verdict"), "allow");
    assert_string_equal(sfield(x, "rule"), "careful");
    assert_true(json_is_true(json_object_get(x, "warn")));
}

static void t_audit_mode_forwards_would_deny(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"exec_cmd\"}}");
    forwarded(&r);
    json_t *x = record_at(f, 0, "tool_call");
    assert_string_equal(sfield(x, "verdict"), "allow");
    assert_string_equal(sfield(x, "mode"), "audit");
    assert_string_equal(sfield(x, "rule"), "no-exec");
    assert_true(json_is_true(json_object_get(x, "audit_would_deny")));
    /* and the forwarded call now waits for its answer */
    gone_is(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"MCP server "
               "exited before answering\"}}");
}

static void t_host_denial_message(void **state)
{
    fixture *f = *state;
    f->host_msg = "remote kill active: incident 42";
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"read_file\"}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":403,\"message\":\"remote "
                 "kill active: incident 42\",\"data\":{\"rule\":\"host_denial\",\"mode\":"
                 "\"enforce\"}}}");
    json_t *x = record_at(f, 0, "tool_call");
    assert_string_equal(sfield(x, "verdict"), "deny");
    assert_string_equal(sfield(x, "rule"), "host_denial");
    assert_string_equal(sfield(x, "reason"), "remote kill active: incident 42");
    /* other messages still pass */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    forwarded(&r);
    f->host_msg = NULL;
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"read_file\"}}");
    forwarded(&r);
}

static void t_record_failure_denies(void **state)
{
    fixture *f = *state;
    f->record_fails = true;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"read_file\"}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":403,\"message\":\"tool call "
                 "blocked: flight recorder cannot write: disk full\",\"data\":{\"rule\":"
                 "\"flight_recorder\",\"mode\":\"enforce\"}}}");
    gone_is(f, NULL);
}

static void t_unreadable_call_refused(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"arguments\":{}}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,\"message\":"
                 "\"tools/call: params.name must be a string\",\"data\":{\"rule\":\"proxy\","
                 "\"mode\":\"enforce\"}}}");
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"read_file\",\"arguments\":[1]}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,\"message\":"
                 "\"tools/call: params.arguments must be an object\",\"data\":{\"rule\":"
                 "\"proxy\",\"mode\":\"enforce\"}}}");
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\"}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,\"message\":"
                 "\"tools/call: params must be an object\",\"data\":{\"rule\":\"proxy\","
                 "\"mode\":\"enforce\"}}}");
    assert_int_equal(n_records(f), 3);
    assert_string_equal(sfield(record_at(f, 0, "tool_call"), "verdict"), "deny");
}

/* A gate of someone else's: denies read_file with a reason cut inside a UTF-8 character. */
static wd_code odd_tool(void *ctx, const wd_tool_call *call, wd_decision *d)
{
    (void)ctx;
    if (strcmp(call->tool, "read_file") == 0) {
        d->verdict = WD_VERDICT_DENY;
        snprintf(d->rule, sizeof d->rule, "odd");
        snprintf(d->reason, sizeof d->reason, "caf\xc3 \"quoted\"\n");
    }
    return WD_OK;
}

static void t_other_gate_reason_escaped(void **state)
{
    fixture *f = *state;
    static const wd_gate_ops odd = {sizeof(wd_gate_ops), NULL, NULL, odd_tool, NULL};
    wd_gate_id id;
    assert_int_equal(wd_gate_register(&odd, NULL, &id, NULL), WD_OK);
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"read_file\"}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":403,\"message\":\"tool call "
                 "blocked by policy: caf\\ufffd \\\"quoted\\\"\\u000a\",\"data\":{\"rule\":\"odd\","
                 "\"mode\":\"enforce\"}}}");
    assert_string_equal(sfield(record_at(f, 0, "tool_call"), "reason"), "caf? \"quoted\"?");
    /* and its denial removes the tool from lists */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"read_file\"}]}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[]}}");
    assert_int_equal(wd_gate_unregister(id, NULL), WD_OK);
}

/* ---- notifications and batches ---- */

static void t_notifications(void **state)
{
    fixture *f = *state;
    /* a denied call sent as a notification: dropped without an answer, but recorded */
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":"
                      "\"exec_cmd\"}}");
    dropped(&r);
    assert_string_equal(sfield(record_at(f, 0, "tool_call"), "verdict"), "deny");
    r = client(f, "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":"
                  "\"read_file\"}}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    forwarded(&r);
    assert_int_equal(n_records(f), 2);
    gone_is(f, NULL); /* notifications wait for nothing */
}

static void t_batch_mixed(void **state)
{
    fixture *f = *state;
    const char *a = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"read_file\",\"arguments\":{}}}";
    const char *b = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"exec_cmd\"}}";
    const char *c = "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"exec_x\"}}";
    const char *d = "{ \"jsonrpc\" : \"2.0\", \"method\" : \"notifications/progress\" }";
    const char *g = "{\"jsonrpc\":\"2.0\",\"id\":\"z\",\"method\":\"tools/call\",\"params\":"
                    "{\"name\":\"exec_y\"}}";
    char line[1024], want_srv[1024];
    snprintf(line, sizeof line, "[%s, %s,%s ,\n%s,%s]", a, b, c, d, g);
    snprintf(want_srv, sizeof want_srv, "[%s,%s]", a, d);
    res r = client(f, line);
    assert_int_equal(r.code, WD_OK);
    assert_false(r.out.forward_original);
    same(r.out.to_server, r.out.to_server_len, want_srv);
    same(r.out.to_client, r.out.to_client_len, "[" DENY_EXEC("2") "," DENY_EXEC("\"z\"") "]");
    wd_proxy_out_clear(&r.out);
    assert_int_equal(n_records(f), 4); /* four calls decided, the notification of c included */
    /* only the forwarded request waits */
    gone_is(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"MCP server "
               "exited before answering\"}}");

    /* everything allowed: the line goes as it is */
    snprintf(line, sizeof line, "[%s,%s]", a, d);
    r = client(f, line);
    forwarded(&r);
    /* only denied notifications: nothing to anyone */
    snprintf(line, sizeof line, "[%s]", c);
    r = client(f, line);
    dropped(&r);
    /* an empty batch is one invalid request, not an array */
    r = client(f, "[]");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":"
                 "\"invalid request: empty batch\"}}");
    /* a batch element that is not a request is answered inside the batch */
    r = client(f, "[1,{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]");
    assert_int_equal(r.code, WD_OK);
    same(r.out.to_server, r.out.to_server_len, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]");
    same(r.out.to_client, r.out.to_client_len,
         "[{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"invalid "
         "request: not a JSON-RPC 2.0 message\"}}]");
    wd_proxy_out_clear(&r.out);
}

/* ---- malformed lines ---- */

#define PARSE_ERROR                                                                            \
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse error: the " \
    "message is not valid JSON\"}}"

static void t_invalid_json(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,");
    answered(&r, PARSE_ERROR);
    r = client(f, "x");
    answered(&r, PARSE_ERROR);
    /* a blank line carries no message */
    r = client(f, "");
    dropped(&r);
    r = client(f, " \r");
    dropped(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} {}");
    answered(&r, PARSE_ERROR);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffng\"}");
    answered(&r, PARSE_ERROR);
    assert_int_equal(n_records(f), 0);
}

static void t_not_jsonrpc(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"1.0\",\"id\":4,\"method\":\"tools/call\"}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: not a JSON-RPC 2.0 message\"}}");
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: not a JSON-RPC 2.0 message\"}}");
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":7}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: not a JSON-RPC 2.0 message\"}}");
    r = client(f, "5");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: not a JSON-RPC 2.0 message\"}}");
    /* a repeated key could make the server read another name than the one decided */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":"
                  "\"exec_cmd\",\"name\":\"read_file\"}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: a key appears twice in one object\"}}");
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"id\":10,\"method\":\"ping\"}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: a key appears twice in one object\"}}");
    /* \u0000 inside a string: valid JSON the strict reader refuses */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":"
                  "\"exec\\u0000\"}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":11,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: not a JSON-RPC 2.0 message\"}}");
    /* a response to a request of the server is relayed */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"roots\":[]}}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"result\":{}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: not a JSON-RPC 2.0 message\"}}");
    assert_int_equal(n_records(f), 0);
}

static void t_embedded_nul(void **state)
{
    fixture *f = *state;
    static const char l1[] = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
                             "{\"name\":\"read\0file\"}}";
    wd_proxy_out out;
    assert_int_equal(wd_proxy_client_line(f->p, l1, sizeof l1 - 1, false, &out, NULL), WD_OK);
    res r = {WD_OK, out};
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: NUL byte in the message\"}}");
    static const char l2[] = "{\"jsonrpc\":\"2.0\",\0\"id\":3}";
    assert_int_equal(wd_proxy_client_line(f->p, l2, sizeof l2 - 1, false, &out, NULL), WD_OK);
    r.out = out;
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: NUL byte in the message\"}}");
    /* an id glued to garbage, or one jansson cannot hold, is not recovered (found by
     * fuzz_proxy) */
    static const char l3[] = "{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999999999990B,"
                             "\"m\0\":1}";
    static const char l4[] = "{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999999999990,"
                             "\"m\0\":1}";
    static const char l5[] = "{\"jsonrpc\":\"2.0\",\"id\":12 ,\"m\0\":1}";
    /* a real past double's range is no id either; the largest double still is one */
    static const char l6[] = "{\"jsonrpc\":\"2.0\",\"id\":4.2e91167119,\"m\0\":1}";
    static const char l7[] = "{\"jsonrpc\":\"2.0\",\"id\":1.7976931348623157e308,\"m\0\":1}";
    /* a string id with a lone surrogate escape is no id (found by fuzz_proxy); a pair is */
    static const char l8[] = "{\"jsonrpc\":\"2.0\",\"id\":\"\\udddd1674\",\"m\0\":1}";
    static const char l9[] = "{\"jsonrpc\":\"2.0\",\"id\":\"\\ud83d\",\"m\0\":1}";
    static const char l10[] = "{\"jsonrpc\":\"2.0\",\"id\":\"\\ud83d\\ude00\",\"m\0\":1}";
    static const struct {
        const char *line;
        size_t len;
        const char *id;
    } cases[] = {{l3, sizeof l3 - 1, "null"}, {l4, sizeof l4 - 1, "null"}, {l5, sizeof l5 - 1, "12"},
                 {l6, sizeof l6 - 1, "null"}, {l7, sizeof l7 - 1, "1.7976931348623157e308"},
                 {l8, sizeof l8 - 1, "null"}, {l9, sizeof l9 - 1, "null"},
                 {l10, sizeof l10 - 1, "\"\\ud83d\\ude00\""}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[256];
        snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32600,"
                                    "\"message\":\"invalid request: NUL byte in the message\"}}",
                 cases[i].id);
        assert_int_equal(wd_proxy_client_line(f->p, cases[i].line, cases[i].len, false, &out,
                                              NULL), WD_OK);
        r.out = out;
        answered(&r, want);
    }
    assert_int_equal(n_records(f), 0);
}

/* A tools/call line of exactly n bytes (n >= 100), id 7 first; the caller frees it. */
static char *line_of(size_t n)
{
    const char *head = "{\"id\":7,\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":"
                       "\"read_file\",\"arguments\":{\"p\":\"";
    const char *tail = "\"}}}";
    char *s = malloc(n + 1);
    size_t h = strlen(head), t = strlen(tail);
    memcpy(s, head, h);
    memset(s + h, 'x', n - h - t);
    memcpy(s + n - t, tail, t);
    s[n] = '\0';
    return s;
}

static void t_line_at_cap_and_past(void **state)
{
    fixture *f = *state; /* max_line 200 */
    char *at = line_of(200);
    res r = client(f, at);
    forwarded(&r);
    free(at);
    char *past = line_of(201);
    static const char too_long[] =
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32600,\"message\":\"invalid request: "
        "message longer than 200 bytes\"}}";
    /* passed whole */
    r = client(f, past);
    answered(&r, too_long);
    /* passed as the kept prefix, as the relay does */
    wd_proxy_out out;
    assert_int_equal(wd_proxy_client_line(f->p, past, 200, true, &out, NULL), WD_OK);
    r.out = out;
    answered(&r, too_long);
    free(past);
    /* the id comes after the cut: null */
    char big[300], pad[200];
    memset(pad, 'y', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(big, sizeof big, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"pad\":\"%s\",\"id\":12}",
             pad);
    assert_int_equal(wd_proxy_client_line(f->p, big, 200, true, &out, NULL), WD_OK);
    r.out = out;
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: message longer than 200 bytes\"}}");
    /* the cap falls right after the digits of the id: they may go on, so it is not taken */
    snprintf(big, sizeof big, "%-199s", "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"x\":\"");
    const char *tail = "\",\"id\":12345"; /* its last digit is byte 199, the last one kept */
    memcpy(big + 200 - strlen(tail), tail, strlen(tail));
    memcpy(big + 200, "6}", 3);
    assert_int_equal(wd_proxy_client_line(f->p, big, 200, true, &out, NULL), WD_OK);
    r.out = out;
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"invalid "
                 "request: message longer than 200 bytes\"}}");
    assert_int_equal(n_records(f), 1); /* only the line at the cap was decided */
}

static void t_default_cap(void **state)
{
    fixture *f = *state;
    wd_proxy *p = NULL;
    wd_proxy_hooks h = {f, host, rec};
    assert_int_equal(wd_proxy_new("fs-docs", 0, &h, &p, NULL), WD_OK);
    char *at = line_of(WD_MAX_MCP_MESSAGE);
    wd_proxy_out out;
    assert_int_equal(wd_proxy_client_line(p, at, WD_MAX_MCP_MESSAGE, false, &out, NULL), WD_OK);
    res r = {WD_OK, out};
    forwarded(&r);
    free(at);
    char *past = line_of(WD_MAX_MCP_MESSAGE + 1);
    assert_int_equal(wd_proxy_client_line(p, past, WD_MAX_MCP_MESSAGE + 1, false, &out, NULL),
                     WD_OK);
    r.out = out;
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32600,\"message\":"
                 "\"invalid request: message longer than 4194304 bytes\"}}");
    free(past);
    wd_proxy_free(p);
}

static void t_pending_limit(void **state)
{
    fixture *f = *state;
    char line[96];
    res r;
    for (unsigned i = 0; i < WD_PROXY_MAX_PENDING; i++) {
        snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"ping\"}", i);
        r = client(f, line);
        assert_true(r.out.forward_original);
        wd_proxy_out_clear(&r.out);
    }
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":\"one-more\",\"method\":\"ping\"}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":\"one-more\",\"error\":{\"code\":-32603,"
                 "\"message\":\"proxy: cannot keep track of this request (too many waiting)\"}}");
    /* an answer frees a place */
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":65535,\"result\":{}}" /* the last one */);
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":\"one-more\",\"method\":\"ping\"}");
    forwarded(&r);
    wd_proxy_out out;
    assert_int_equal(wd_proxy_server_gone(f->p, &out, NULL), WD_OK);
    /* 65535 + 1 answers, the first and the last in order of arrival */
    const char *first = "{\"jsonrpc\":\"2.0\",\"id\":0,\"error\"";
    assert_memory_equal(out.to_client, first, strlen(first));
    const char *last = "{\"jsonrpc\":\"2.0\",\"id\":\"one-more\",\"error\":{\"code\":-32603,"
                       "\"message\":\"MCP server exited before answering\"}}";
    assert_true(out.to_client_len > strlen(last));
    assert_string_equal(out.to_client + out.to_client_len - strlen(last), last);
    size_t lines = 1;
    for (size_t i = 0; i < out.to_client_len; i++)
        lines += out.to_client[i] == '\n';
    assert_int_equal(lines, WD_PROXY_MAX_PENDING);
    wd_proxy_out_clear(&out);
}

/* ---- ids ---- */

static void t_ids_echoed_exactly(void **state)
{
    fixture *f = *state;
    static const char *ids[] = {"\"abc\"", "\"\\u0041\\n\"", "0", "-17", "1.50", "1e2", "null",
                                "9007199254740993", "\"\""};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char line[256], want[512];
        snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"tools/call\","
                                    "\"params\":{\"name\":\"exec_cmd\"}}", ids[i]);
        snprintf(want, sizeof want, DENY_EXEC("%s"), ids[i]);
        res r = client(f, line);
        answered(&r, want);
    }
    /* waiting requests are answered with the bytes the client used, whatever the server
     * spells back */
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041\",\"method\":\"ping\"}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1.50,\"method\":\"ping\"}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":\"B\",\"method\":\"ping\"}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":\"A\",\"result\":{}}"); /* = "\u0041" */
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":{}}"); /* = 1.50 */
    forwarded(&r);
    gone_is(f, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"MCP "
               "server exited before answering\"}}\n"
               "{\"jsonrpc\":\"2.0\",\"id\":\"B\",\"error\":{\"code\":-32603,\"message\":\"MCP "
               "server exited before answering\"}}");
}

/* ---- server lines ---- */

static void t_server_gone_answers_pending(void **state)
{
    fixture *f = *state;
    gone_is(f, NULL);
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"read_file\"}}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"tools/list\"}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\"}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}");
    forwarded(&r);
    /* a request of the server with a colliding id does not answer the client's */
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sampling/createMessage\"}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"contents\":[]}}");
    forwarded(&r);
    /* a server's notifications/cancelled names its own requests, not the client's */
    r = server(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                  "{\"requestId\":1}}");
    forwarded(&r);
    /* the client gave up on 4 */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                  "{\"requestId\":4}}");
    forwarded(&r);
    gone_is(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"MCP server "
               "exited before answering\"}}\n"
               "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32603,\"message\":\"MCP "
               "server exited before answering\"}}");
    gone_is(f, NULL); /* answered once */
}

static void t_tools_list_filtered(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}");
    forwarded(&r);
    /* exec_cmd is denied outright; write_file only for some arguments, so it stays; the
     * escaped name is read as exec_sh; the big integer and the spacing survive byte for byte */
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"read_file\","
                  "\"inputSchema\":{\"type\":\"object\",\"maximum\":18446744073709551616}}, "
                  "{\"name\":\"exec_cmd\"},{\"name\":\"write_file\"},{\"name\":\"exec\\u005fsh\"}"
                  "],\"nextCursor\":\"c2\"}}");
    assert_int_equal(r.code, WD_OK);
    assert_false(r.out.forward_original);
    same(r.out.to_server, r.out.to_server_len, NULL);
    same(r.out.to_client, r.out.to_client_len,
         "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"read_file\","
         "\"inputSchema\":{\"type\":\"object\",\"maximum\":18446744073709551616}},"
         "{\"name\":\"write_file\"}],\"nextCursor\":\"c2\"}}");
    wd_proxy_out_clear(&r.out);
    json_t *x = record_at(f, 0, "tools_list");
    assert_string_equal(sfield(x, "server"), "fs-docs");
    assert_int_equal(json_integer_value(json_object_get(x, "listed")), 4);
    json_t *removed = json_object_get(x, "removed");
    assert_int_equal(json_array_size(removed), 2);
    assert_string_equal(json_string_value(json_array_get(removed, 0)), "exec_cmd");
    assert_string_equal(json_string_value(json_array_get(removed, 1)), "exec_sh");

    /* the next page, filtered on its own; every tool removed leaves an empty list */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":"
                  "{\"cursor\":\"c2\"}}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"tools\":[{\"name\":\"exec_a\"}]}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"tools\":[]}}");
    /* a page with nothing to remove is relayed as it is, and still recorded */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"read_file\"}]}}");
    forwarded(&r);
    assert_int_equal(n_records(f), 3);
    /* a tools list answering a request the proxy did not see as tools/list is not touched */
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{\"tools\":[{\"name\":\"exec_a\"}]}}");
    forwarded(&r);
    /* an error answer to tools/list is relayed */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"error\":{\"code\":-1,\"message\":\"no\"}}");
    forwarded(&r);
    /* a result the proxy cannot read unambiguously is withheld */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{\"tools\":[{\"name\":\"read_file\"}],"
                  "\"tools\":[{\"name\":\"exec_a\"}]}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32603,\"message\":\"tools/list "
                 "result withheld: the proxy cannot read it\"}}");
    gone_is(f, NULL);
}

static void t_tools_list_argument_only_deny_stays(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    forwarded(&r);
    /* write_file is denied only for system paths; search only for some queries */
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"write_file\"},"
                  "{\"name\":\"search\"}]}}");
    forwarded(&r);
    json_t *x = record_at(f, 0, "tools_list");
    assert_int_equal(json_integer_value(json_object_get(x, "listed")), 2);
    assert_int_equal(json_array_size(json_object_get(x, "removed")), 0);
}

static void t_tools_list_record_failure_withholds(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    forwarded(&r);
    f->record_fails = true;
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"read_file\"}]}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"tools/list "
                 "blocked: flight recorder cannot write: disk full\"}}");
}

static void t_tools_list_in_server_batch(void **state)
{
    fixture *f = *state;
    res r = client(f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},{\"jsonrpc\":"
                      "\"2.0\",\"id\":2,\"method\":\"ping\"}]");
    forwarded(&r);
    r = server(f, "[{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}, {\"jsonrpc\":\"2.0\",\"id\":1,"
                  "\"result\":{\"tools\":[{\"name\":\"exec_x\"},{\"name\":\"read_file\"}]}}]");
    answered(&r, "[{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}, {\"jsonrpc\":\"2.0\",\"id\":1,"
                 "\"result\":{\"tools\":[{\"name\":\"read_file\"}]}}]");
    gone_is(f, NULL);
}

static void t_server_line_unreadable_passes(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    forwarded(&r);
    r = server(f, "not json at all");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":");
    forwarded(&r);
    gone_is(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"MCP server "
               "exited before answering\"}}");
}

static void t_tools_list_long_and_repeated_ids(void **state)
{
    fixture *f = *state;
    /* an id longer than any key is still followed */
    char id[400], line[1024], want[1024];
    memset(id, 'k', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"tools/list\"}",
             id);
    res r = client(f, line);
    forwarded(&r);
    snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{\"tools\":"
                                "[{\"name\":\"exec_a\"}]}}", id);
    snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{\"tools\":[]}}",
             id);
    r = server(f, line);
    answered(&r, want);
    /* a response naming its id twice is withheld */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"id\":2,\"result\":{\"tools\":[{\"name\":"
                  "\"exec_a\"}]}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32603,\"message\":"
                 "\"tools/list result withheld: the proxy cannot read it\"}}");
    /* a tool naming itself twice, or not by a string, is removed */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\"}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"tools\":[{\"name\":\"read_file\","
                  "\"name\":\"exec_a\"},{\"name\":5},7,{\"name\":\"ok\\u0000\"},{\"name\":\"b\"}]}}");
    answered(&r, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"tools\":[{\"name\":\"b\"}]}}");
    json_t *x = record_at(f, 1, "tools_list");
    assert_int_equal(json_integer_value(json_object_get(x, "listed")), 5);
    assert_int_equal(json_array_size(json_object_get(x, "removed")), 4);
    gone_is(f, NULL);
}

/* ---- tool-list change notifications ---- */

#define LEGACY_CHANGED "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}"

static void t_list_changed_legacy(void **state)
{
    fixture *f = *state;
    changed_is(f, NULL); /* nothing negotiated yet */
    assert_null(wd_proxy_protocol_version(f->p));
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                      "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"2025-06-18\","
                  "\"capabilities\":{\"tools\":{\"listChanged\":true}},\"serverInfo\":{}}}");
    forwarded(&r);
    assert_string_equal(wd_proxy_protocol_version(f->p), "2025-06-18");
    changed_is(f, LEGACY_CHANGED);
    changed_is(f, LEGACY_CHANGED); /* every change */
}

static void t_list_changed_legacy_not_announced(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                      "{\"protocolVersion\":\"2024-11-05\"}}");
    forwarded(&r);
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"2024-11-05\","
                  "\"capabilities\":{\"tools\":{}}}}");
    forwarded(&r);
    assert_string_equal(wd_proxy_protocol_version(f->p), "2024-11-05");
    changed_is(f, NULL);
}

static void t_list_changed_modern_subscription(void **state)
{
    fixture *f = *state;
    res r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":\"sub-1\",\"method\":\"subscriptions/listen\","
                      "\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
                      "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}},"
                      "\"notifications\":{\"toolsListChanged\":true}}}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"subscriptions/listen\",\"params\":"
                  "{\"notifications\":{\"resourcesListChanged\":true}}}");
    forwarded(&r);
    assert_string_equal(wd_proxy_protocol_version(f->p), "2026-07-28");
    /* the server's acknowledgement leaves the stream open */
    r = server(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\","
                  "\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":\"sub-1\"},"
                  "\"notifications\":{\"toolsListChanged\":true}}}");
    forwarded(&r);
    changed_is(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":"
                  "{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":\"sub-1\"}}}");
    /* the client closes it */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                  "{\"requestId\":\"sub-1\"}}");
    forwarded(&r);
    changed_is(f, NULL);
    /* a stream the server ends (notifications/cancelled naming it) */
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":"
                  "{\"notifications\":{\"toolsListChanged\":true}}}");
    forwarded(&r);
    r = client(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"subscriptions/listen\",\"params\":"
                  "{\"notifications\":{\"toolsListChanged\":true}}}");
    forwarded(&r);
    changed_is(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":"
                  "{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":3}}}\n"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":"
                  "{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":4}}}");
    r = server(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                  "{\"requestId\":3}}");
    forwarded(&r);
    /* and one it ends with a result */
    r = server(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}");
    forwarded(&r);
    changed_is(f, NULL);
}

/* ---- the shared argument builder (also behind warden gate check --args) ---- */

static void t_tool_args_limit(void **state)
{
    (void)state;
    json_t *o = json_loads("{\"k\":\"vvvv\",\"n\":[1, 2]}", 0, NULL);
    wd_tool_args a;
    wd_err e;
    /* k + vvvv + n + [1,2] = 1 + 4 + 1 + 5 = 11 bytes */
    assert_int_equal(wd_tool_args_from(o, "args", 11, &a, &e), WD_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.args[0].key, "k");
    assert_int_equal(a.args[0].value_len, 4);
    assert_memory_equal(a.args[1].value, "[1,2]", 5);
    wd_tool_args_free(&a);
    assert_int_equal(wd_tool_args_from(o, "args", 10, &a, &e), WD_E_OVERSIZED);
    assert_string_equal(e.msg, "args: more than 10 bytes of arguments");
    assert_null(a.args);
    assert_int_equal(a.n, 0);
    json_t *arr = json_array();
    assert_int_equal(wd_tool_args_from(arr, "args", 10, &a, &e), WD_E_MALFORMED);
    assert_string_equal(e.msg, "args: expected a JSON object");
    assert_null(a.args);
    json_decref(arr);
    json_decref(o);
}

/* ---- construction ---- */

static void t_new_and_usage(void **state)
{
    (void)state;
    wd_proxy *p = (wd_proxy *)1;
    wd_err e;
    assert_int_equal(wd_proxy_new(NULL, 0, NULL, &p, &e), WD_E_USAGE);
    assert_int_equal(wd_proxy_new("s", 0, NULL, &p, &e), WD_OK);
    /* no hooks: decisions are made, nothing is recorded */
    wd_proxy_out out;
    const char *l = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"exec_cmd\"}}";
    assert_int_equal(wd_proxy_client_line(p, l, strlen(l), false, &out, &e), WD_OK);
    res r = {WD_OK, out};
    answered(&r, DENY_EXEC("1"));
    assert_int_equal(wd_proxy_client_line(p, NULL, 3, false, &out, &e), WD_E_USAGE);
    assert_null(out.to_client);
    wd_proxy_free(p);
    wd_proxy_free(NULL);
    wd_proxy_out_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_allowed_call_forwarded_and_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(t_denied_tool_name, setup, teardown),
        cmocka_unit_test_setup_teardown(t_deny_regex_on_argument, setup, teardown),
        cmocka_unit_test_setup_teardown(t_regex_limit_denies, setup, teardown),
        cmocka_unit_test_setup_teardown(t_warn_forwards_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(t_audit_mode_forwards_would_deny, setup_audit, teardown),
        cmocka_unit_test_setup_teardown(t_host_denial_message, setup, teardown),
        cmocka_unit_test_setup_teardown(t_record_failure_denies, setup, teardown),
        cmocka_unit_test_setup_teardown(t_unreadable_call_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(t_other_gate_reason_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(t_notifications, setup, teardown),
        cmocka_unit_test_setup_teardown(t_batch_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(t_invalid_json, setup, teardown),
        cmocka_unit_test_setup_teardown(t_not_jsonrpc, setup, teardown),
        cmocka_unit_test_setup_teardown(t_embedded_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(t_line_at_cap_and_past, setup_small, teardown),
        cmocka_unit_test_setup_teardown(t_default_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(t_pending_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(t_ids_echoed_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(t_server_gone_answers_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tools_list_filtered, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tools_list_argument_only_deny_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tools_list_record_failure_withholds, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tools_list_in_server_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(t_server_line_unreadable_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tools_list_long_and_repeated_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(t_list_changed_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(t_list_changed_legacy_not_announced, setup, teardown),
        cmocka_unit_test_setup_teardown(t_list_changed_modern_subscription, setup, teardown),
        cmocka_unit_test(t_tool_args_limit),
        cmocka_unit_test_setup_teardown(t_new_and_usage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
