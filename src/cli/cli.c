/* cli.c — shared reporting and small parsing helpers for the warden command.
 * Never prints a secret: messages come from wd_err, which is cleaned at the source. */
#include "cli.h"

#include "codec/json.h"
#include "warden/limits.h"

#include <getopt.h>
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

/* The command a usage text is for: the words after "usage: warden" up to the first that is not
 * a plain lower-case word ("bundle create" from "usage: warden bundle create --org ..."), into
 * out; "" for the top level. */
static void usage_command(const char *usage, char *out, size_t outsz)
{
    out[0] = '\0';
    const char *p = strstr(usage, "usage: warden");
    if (p == NULL)
        return;
    p += strlen("usage: warden");
    size_t n = 0;
    while (*p == ' ') {
        const char *w = p + 1;
        size_t wl = 0;
        while ((w[wl] >= 'a' && w[wl] <= 'z') || (w[wl] >= '0' && w[wl] <= '9') ||
               (wl > 0 && w[wl] == '-'))
            wl++;
        if (wl == 0 || !(w[wl] == ' ' || w[wl] == '\n' || w[wl] == '\0'))
            break;
        if (n + (n > 0) + wl + 1 > outsz)
            break;
        if (n > 0)
            out[n++] = ' ';
        memcpy(out + n, w, wl);
        n += wl;
        out[n] = '\0';
        p = w + wl;
    }
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    char cmd[128], msg[WD_ERR_MSG_MAX];
    usage_command(usage, cmd, sizeof cmd);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one line: a message that carries a newline keeps only its first line */
    msg[strcspn(msg, "\n")] = '\0';
    if (cmd[0] != '\0')
        fprintf(stderr, "warden: %s: %s (see 'warden %s --help')\n", cmd, msg, cmd);
    else
        fprintf(stderr, "warden: %s (see 'warden --help')\n", msg);
    return 2;
}

int cli_option_error(const char *usage, const struct option *opts, char **argv)
{
    const char *arg = argv[optind - 1];
    if (optopt != 0 && strncmp(arg, "--", 2) == 0) {
        size_t al = strcspn(arg + 2, "=");
        for (const struct option *o = opts; o->name != NULL; o++)
            if (o->val == optopt && o->has_arg == required_argument &&
                strlen(o->name) == al && strncmp(o->name, arg + 2, al) == 0)
                return cli_usage_error(usage, "--%s needs a value", o->name);
    }
    return cli_usage_error(usage, "unknown option: %.64s", arg);
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

void cli_tool_args_free(cli_tool_args *a)
{
    wd_tool_args_free(a);
}

wd_code cli_tool_args_from(const json_t *obj, const char *what, cli_tool_args *out, wd_err *e)
{
    return wd_tool_args_from(obj, what, WD_MAX_TOOL_ARGS, out, e);
}
