/* fuzz_policy.c — libFuzzer target for policy documents: any input must load or be rejected
 * cleanly, and a loaded policy must decide every probe the same way through its indexes as by
 * walking every rule (the explanation). It must never find the two disagreeing. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nothing(void *arg, const wd_explain_step *s)
{
    (void)arg;
    (void)s;
}

static void same(const wd_decision *a, const wd_decision *b)
{
    if (a->verdict != b->verdict || strcmp(a->rule, b->rule) != 0 ||
        strcmp(a->reason, b->reason) != 0 || strcmp(a->profile, b->profile) != 0 ||
        a->warn != b->warn || a->audit_would_deny != b->audit_would_deny)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wd_policy *p = NULL;
    wd_err e;
    wd_code c = wd_policy_load(data, size, &p, &e);
    if (c != WD_OK) {
        if (p != NULL || e.code != c || e.msg[0] == '\0')
            __builtin_trap();
        return 0;
    }
    static char *names[] = {"fs-docs", "a", "evil-x", "svc-42", "team-1-srv", "x", ""};
    static char *cmd1[] = {"npx", "-y", "@modelcontextprotocol/server-filesystem@1", "/srv"};
    static char *cmd2[] = {"/usr/bin/node", "server.js"};
    static char *rd[] = {"/srv/data/**"}, *en[] = {"MCP_*"};
    static wd_profile prof = {WD_NET_HOST, NULL, 0, NULL, 0, rd, 1, NULL, 0, en, 1, true};
    static wd_kv env[] = {{"HOME", "/h"}}, labels[] = {{"team", "payments"}};
    static char *vols[] = {"/srv/data:/data:ro"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        wd_runconfig rc;
        memset(&rc, 0, sizeof rc);
        rc.name = names[i];
        rc.group = "default";
        rc.transport = i % 2 ? "stdio" : "sse";
        rc.command = i % 2 ? cmd1 : cmd2;
        rc.n_command = i % 2 ? 4 : 2;
        rc.image = i % 3 ? "" : "ghcr.io/acme/x@sha256:00";
        rc.profile = i % 3 == 1 ? &prof : NULL;
        rc.profile_name = i % 3 == 2 ? "restricted" : NULL;
        rc.env = env;
        rc.n_env = i % 2;
        rc.labels = labels;
        rc.n_labels = 1;
        rc.volumes = vols;
        rc.n_volumes = i % 4 == 0;
        wd_decision a, b;
        wd_policy_decide_server(p, &rc, &a);
        wd_policy_explain_server(p, &rc, nothing, NULL, &b);
        same(&a, &b);
        wd_tool_arg args[] = {{"path", "/etc/passwd", 11}, {"q", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 31}};
        wd_tool_call call = {names[i], i % 2 ? "write_file" : names[i], args, 2};
        wd_policy_decide_tool(p, &call, &a);
        wd_policy_explain_tool(p, &call, nothing, NULL, &b);
        same(&a, &b);
    }
    wd_policy_unref(p);
    return 0;
}
