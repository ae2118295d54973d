/* gate.c — the deny-by-name gate: a table of operations and a context, as gate.h asks. It must
 * never allow a listed name, and never touch the RunConfig it is shown. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deny_by_name.h"

typedef struct names {
    size_t n;
    char **v;
} names;

static void destroy(void *ctx)
{
    names *l = ctx;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    free(l);
}

static wd_code check(void *ctx, const wd_runconfig *rc, wd_decision *d)
{
    const names *l = ctx;
    const char *name = rc && rc->name ? rc->name : "";
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], name) == 0) {
            d->verdict = WD_VERDICT_DENY;
            snprintf(d->rule, sizeof d->rule, "deny-by-name");
            snprintf(d->reason, sizeof d->reason, "server name %.64s is on the deny list", name);
            break;
        }
    }
    return WD_OK; /* no match: d stays the allow it arrived as */
}

static const wd_gate_ops ops = {
    .size = sizeof(wd_gate_ops),
    .check_create_server = check,
    .check_restart_server = check,
    .check_tool_call = NULL, /* tool calls: this gate has no opinion */
    .destroy = destroy,
};

wd_code deny_by_name_register(const char *const *list, size_t n, wd_gate_id *id, wd_err *e)
{
    names *l = calloc(1, sizeof *l);
    if (l == NULL || (n > 0 && (l->v = calloc(n, sizeof *l->v)) == NULL)) {
        free(l);
        return wd_err_set(e, WD_E_NOMEM, "deny-by-name: out of memory");
    }
    for (; l->n < n; l->n++)
        if ((l->v[l->n] = strdup(list[l->n])) == NULL) {
            destroy(l);
            return wd_err_set(e, WD_E_NOMEM, "deny-by-name: out of memory");
        }
    wd_code rc = wd_gate_register(&ops, l, id, e);
    if (rc != WD_OK)
        destroy(l); /* on failure the registry did not take it */
    return rc;
}
