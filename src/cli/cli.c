/* cli.c — shared reporting and small parsing helpers for the warden command.
 * Never prints a secret: messages come from wd_err, which is cleaned at the source. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_report(const wd_err *e)
{
    if (e->code == WD_OK)
        return 0;
    if (wd_code_is_rejection(e->code))
        fprintf(stderr, "rejected (%s): %s\n", wd_code_name(e->code), e->msg);
    else if (e->code == WD_E_DENIED)
        fprintf(stderr, "%s\n", e->msg);
    else
        fprintf(stderr, "warden: %s\n", e->msg[0] ? e->msg : wd_code_name(e->code));
    return wd_code_exit(e->code);
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    fputs("warden: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int cli_help(const char *usage)
{
    fputs(usage, stdout);
    return 0;
}

bool cli_split_kv(const char *s, char **buf, const char **k, const char **v)
{
    *buf = NULL;
    const char *eq = strchr(s, '=');
    if (eq == NULL || eq == s)
        return false;
    char *copy = strdup(s);
    if (copy == NULL)
        return false;
    copy[eq - s] = '\0';
    *buf = copy;
    *k = copy;
    *v = copy + (eq - s) + 1;
    return true;
}

wd_code cli_load_policy(const char *path, wd_policy **out, wd_err *e)
{
    return path != NULL ? wd_policy_load_file(path, out, e) : wd_policy_load_default(out, e);
}

wd_code cli_register_policy_gate(wd_policy *p, wd_gate_id *id, wd_err *e)
{
    const wd_gate_ops *ops = NULL;
    void *ctx = NULL;
    wd_code c = wd_policy_gate_new(p, &ops, &ctx, e);
    if (c != WD_OK)
        return c;
    c = wd_gate_register(ops, ctx, id, e);
    if (c != WD_OK)
        ops->destroy(ctx);
    return c;
}
