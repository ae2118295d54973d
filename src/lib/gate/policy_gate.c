/* policy_gate.c — the built-in gate: SPEC §6 decisions over a compiled policy, plugged into the
 * chain like any downstream gate. Must never keep state besides its policy reference. */
#include "warden/gate.h"
#include "warden/policy.h"

static wd_code create_server(void *ctx, const wd_runconfig *rc, wd_decision *d)
{
    wd_policy_decide_server(ctx, rc, d);
    return WD_OK;
}

static wd_code tool_call(void *ctx, const wd_tool_call *call, wd_decision *d)
{
    wd_policy_decide_tool(ctx, call, d);
    return WD_OK;
}

static void destroy(void *ctx) { wd_policy_unref(ctx); }

static const wd_gate_ops policy_gate_ops = {
    .size = sizeof(wd_gate_ops),
    .check_create_server = create_server,
    .check_restart_server = create_server, /* a restart is decided as a new creation */
    .check_tool_call = tool_call,
    .destroy = destroy,
};

wd_code wd_policy_gate_new(wd_policy *policy, const wd_gate_ops **ops, void **ctx, wd_err *e)
{
    if (policy == NULL || ops == NULL || ctx == NULL)
        return wd_err_set(e, WD_E_USAGE, "policy gate: no policy given");
    *ops = &policy_gate_ops;
    *ctx = wd_policy_ref(policy);
    return WD_OK;
}
