/* proxy.h — the MCP proxy's message logic (SPEC §14.1), without any I/O: the relay hands it one
 * complete newline-delimited line at a time from either side and it says what to send where.
 * It reads only `jsonrpc`, `method`, `id`, `params.name`, `params.arguments` and `tools/list`
 * results; every other byte passes through unchanged. Decisions go through the gate chain
 * (wd_gate_check_tool), so a policy swapped in the registry applies to the next message.
 * It must never forward a denied or unparseable client message, never change a server line
 * other than a tools/list result it filters, and never hold a line after it returns. */
#ifndef WARDEN_RUNNER_PROXY_H
#define WARDEN_RUNNER_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "warden/error.h"
#include "warden/gate.h"

/* JSON-RPC error codes the proxy answers with. */
#define WD_RPC_POLICY_DENIED 403    /* a tool call the policy denies */
#define WD_RPC_PARSE_ERROR (-32700) /* a client line that is not JSON */
#define WD_RPC_INVALID_REQUEST (-32600) /* over the cap, NUL, not a JSON-RPC 2.0 message */
#define WD_RPC_INVALID_PARAMS (-32602)  /* a tools/call without a readable name or arguments */
#define WD_RPC_INTERNAL_ERROR (-32603)  /* the server went away with the call pending */

/* Most client requests waiting for the server's answer at once; one more is answered with
 * WD_RPC_INTERNAL_ERROR instead of being forwarded (the proxy must see every answer). */
#define WD_PROXY_MAX_PENDING 65536u

/* What the embedding runner lends the proxy. Every member may be NULL. */
typedef struct wd_proxy_hooks {
    void *ctx;
    /* A host-wide denial in force (a remote kill, deny-all, a stale policy past its grace):
     * return true and write the whole client-facing message (e.g. "remote kill active:
     * <reason>") into msg; every tool call is then answered with it. */
    bool (*host_denial)(void *ctx, char *msg, size_t cap);
    /* Record one flight-recorder entry (kind "tool_call" or "tools_list", fields borrowed).
     * A failure makes the decision deny ("flight recorder cannot write: ..."). */
    wd_code (*record)(void *ctx, const char *kind, json_t *fields, wd_err *e);
} wd_proxy_hooks;

typedef struct wd_proxy wd_proxy;

/* What to do with one line. to_server / to_client are malloc'd, owned by the caller
 * (wd_proxy_out_clear frees them), each a whole line WITHOUT its newline, or NULL.
 * forward_original: send the input line unchanged to the other side (no copy made). */
typedef struct wd_proxy_out {
    bool forward_original;
    char *to_server;
    size_t to_server_len;
    char *to_client;
    size_t to_client_len;
} wd_proxy_out;

void wd_proxy_out_clear(wd_proxy_out *out);

/* A proxy for the server named server_name (what tool rules' `server` globs match), with lines
 * of at most max_line bytes (WD_MAX_MCP_MESSAGE by default when 0). hooks is copied.
 * On error nothing is allocated. */
wd_code wd_proxy_new(const char *server_name, size_t max_line, const wd_proxy_hooks *hooks,
                     wd_proxy **out, wd_err *e);
void wd_proxy_free(wd_proxy *p);

/* The proxy's fast strict reader, exposed for its differential test: true and *out the tree
 * wd_json_parse would give (caller owns it) when it can vouch that the strict reader accepts the
 * line; false and *out NULL otherwise (it cannot tell cheaply, the line is refused, or out of
 * memory) — the proxy then asks wd_json_parse. It never accepts a line wd_json_parse refuses. */
bool wd_proxy_fast_parse(const char *line, size_t len, json_t **out);

/* The end (one past) of the JSON value starting at s[i], 0 when there is none: with validated
 * false the proxy's validating scanner; with validated true its quick crossing of bytes the
 * scanner already accepted (the same end for them; anything for other bytes). Exposed for the
 * differential test. */
size_t wd_proxy_value_end(const char *s, size_t n, size_t i, bool validated);

/* A line from the client (without its newline; len may exceed max_line, in which case the
 * caller passes only what it kept and over_cap = true). Fills *out; WD_OK unless out of
 * memory (then nothing is sent anywhere and *out is empty). A blank line (only JSON whitespace)
 * sends nothing anywhere. */
wd_code wd_proxy_client_line(wd_proxy *p, const char *line, size_t len, bool over_cap,
                             wd_proxy_out *out, wd_err *e);

/* A line from the server. Fills *out: forward_original, or to_client with a filtered
 * tools/list result. */
wd_code wd_proxy_server_line(wd_proxy *p, const char *line, size_t len, wd_proxy_out *out,
                             wd_err *e);

/* The policy changed: *out->to_client is the tool-list change notification for this session's
 * negotiated protocol version, or NULL when the client did not ask for one. */
wd_code wd_proxy_policy_changed(wd_proxy *p, wd_proxy_out *out, wd_err *e);

/* The server is gone: an error line (WD_RPC_INTERNAL_ERROR) for every client request still
 * waiting for an answer, joined with newlines into out->to_client (NULL when none). */
wd_code wd_proxy_server_gone(wd_proxy *p, wd_proxy_out *out, wd_err *e);

/* The protocol version of this session: the one the server's initialize result named (2025-11-25
 * and earlier), else the last one a request declared in params._meta (2026-07-28 and later);
 * NULL when none is known yet. Valid until the next call on p. */
const char *wd_proxy_protocol_version(const wd_proxy *p);

#endif
