/* msgcli.c — the command-line pieces the signed-message commands share: their common flags,
 * loading signing keys and rosters, and reading the files they name.
 * It must never write a file other than --out, never write --out after an error, and never
 * hand back a roster it has not verified. */
#include "msgcli.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "base/base.h"

int msgcli_require(const char *usage, ...)
{
    va_list ap;
    va_start(ap, usage);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        if (value == NULL) {
            va_end(ap);
            return cli_usage_error(usage, "missing %s", name);
        }
    }
    va_end(ap);
    return -1;
}

int msgcli_bad_option(const char *usage, char **argv)
{
    return cli_usage_error(usage, "unknown option or missing value: %s", argv[optind - 1]);
}

/* Append arg to the --label list; 2 after a usage error when it is full. */
static int add_label(char **labels, size_t *n, char *arg, const char *usage)
{
    if (*n == MSGCLI_MAX_LABELS)
        return cli_usage_error(usage, "too many --label flags (at most %d)", MSGCLI_MAX_LABELS);
    labels[(*n)++] = arg;
    return 0;
}

/* ---- create ---- */

int msgcli_add_sign(char **signs, size_t *n, char *arg, const char *usage)
{
    if (*n == WD_MAX_SIGNATURES)
        return cli_usage_error(usage, "too many --sign flags (at most %d)", WD_MAX_SIGNATURES);
    signs[(*n)++] = arg;
    return 0;
}

int msgcli_create_flag(int ch, char *arg, msgcli_create *o, const char *usage)
{
    switch (ch) {
    case 'o': o->org = arg; return 0;
    case 'f': o->fleet = arg; return 0;
    case 'e': o->env = arg; return 0;
    case 'i': o->instances = arg; return 0;
    case 'x': o->expires_in = arg; return 0;
    case 'O': o->out = arg; return 0;
    case 'l': return add_label(o->labels, &o->nlabels, arg, usage);
    case 's': return msgcli_add_sign(o->signs, &o->nsigns, arg, usage);
    case 1001: o->draft = true; return 0;
    case 1002: o->force = true; return 0;
    case 1003: o->roster = arg; return 0;
    case 1004: o->pin = arg; return 0;
    }
    return -1;
}

int msgcli_audience(const msgcli_create *o, const char *usage, wd_audience *out)
{
    wd_err e;
    wd_err_clear(&e);
    if (wd_audience_from_text(o->instances, o->labels, o->nlabels, out, &e) != WD_OK)
        return e.code == WD_E_USAGE ? cli_usage_error(usage, "%s", e.msg) : cli_report(&e);
    return 0;
}

void msgcli_scope(const msgcli_create *o, wd_scope *out)
{
    out->org_id = (char *)o->org;
    out->fleet_id = (char *)o->fleet;
    out->environment = (char *)o->env;
}

wd_code msgcli_load_keys(const char *flag, char *const *paths, size_t n, wd_key **keys,
                         wd_err *e)
{
    for (size_t i = 0; i < n; i++) {
        wd_code c = wd_key_load_private(paths[i], &keys[i], e);
        if (c != WD_OK) {
            msgcli_free_keys(keys, i);
            return wd_err_prefix(e, c, "%s %s", flag, paths[i]);
        }
    }
    return WD_OK;
}

void msgcli_free_keys(wd_key **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wd_key_free(keys[i]);
}

bool msgcli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || !(*s == '-' || (*s >= '0' && *s <= '9')))
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < min || v > max)
        return false;
    *out = (int64_t)v;
    return true;
}

bool msgcli_time_after(int64_t from, int64_t secs, int64_t *out)
{
    int64_t latest = 0;
    if (secs < 0 || wd_time_parse(MSGCLI_LATEST_TIME, &latest, NULL) != WD_OK || from > latest ||
        secs > latest - from)
        return false;
    *out = from + secs;
    return true;
}

wd_code msgcli_write_out(const char *path, const char *data, size_t len, bool force, wd_err *e)
{
    if (force)
        return wd_write_file(path, data, len, 0644, e);
    wd_code c = wd_write_file_new(path, data, len, 0644, e);
    if (c != WD_OK && e != NULL && access(path, F_OK) == 0) {
        char msg[WD_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", e->msg);
        wd_err_set(e, c, "%s (--force replaces it)", msg);
    }
    return c;
}

wd_code msgcli_read_bundle(const char *flag, const char *path, wd_bundle **out, wd_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_dsse d;
    wd_code c = wd_read_file(path, WD_MAX_BUNDLE_ENVELOPE, &buf, &len, e);
    if (c == WD_OK) {
        c = wd_msg_decode_unverified(buf, len, WD_MAX_BUNDLE_ENVELOPE, WD_BUNDLE_PAYLOAD_TYPE,
                                     &d, e);
        free(buf);
    }
    if (c == WD_OK) {
        c = wd_bundle_parse(d.payload, d.payload_len, out, e);
        wd_dsse_free(&d);
    }
    if (c != WD_OK) {
        wd_bundle_free(*out);
        *out = NULL;
        return wd_msg_prefix(c, e, "%s %s", flag, path);
    }
    return WD_OK;
}

/* ---- verify ---- */

int msgcli_verify_flag(int ch, char *arg, msgcli_verify *o, const char *usage)
{
    switch (ch) {
    case 'r': o->roster = arg; return 0;
    case 'p': o->pin = arg; return 0;
    case 'o': o->org = arg; return 0;
    case 'f': o->fleet = arg; return 0;
    case 'e': o->env = arg; return 0;
    case 'i': o->instance = arg; return 0;
    case 'a': o->at = arg; return 0;
    case 'l': return add_label(o->labels, &o->nlabels, arg, usage);
    case 'P': return msgcli_add_previous(o->previous, &o->nprevious, arg, usage);
    }
    return -1;
}

int msgcli_add_previous(char **chain, size_t *n, char *arg, const char *usage)
{
    if (*n == MSGCLI_MAX_CHAIN)
        return cli_usage_error(usage, "too many --previous flags (at most %d)", MSGCLI_MAX_CHAIN);
    chain[(*n)++] = arg;
    return 0;
}

wd_code msgcli_load_chain(char *const *chain, size_t n, const char *path, const char *pin,
                          int64_t now, wd_roster **out, wd_err *e)
{
    *out = NULL;
    wd_roster *prev = NULL;
    wd_code c = WD_OK;
    for (size_t i = 0; i < n && c == WD_OK; i++) {
        wd_roster *r = NULL;
        c = msgcli_load_roster(chain[i], pin, prev, now, WD_ROSTER_KEEP_EXPIRED, &r, e);
        if (c != WD_OK)
            wd_msg_prefix(c, e, "--previous %s", chain[i]);
        wd_roster_free(prev);
        prev = r;
    }
    if (c == WD_OK)
        c = msgcli_load_roster(path, pin, prev, now, 0, out, e);
    wd_roster_free(prev);
    return c;
}

void msgcli_print_roster(const wd_roster *r, size_t n)
{
    char exp[WD_TIME_STRLEN + 1];
    wd_time_format(r->expires_at, exp);
    printf("roster: %s version %lld %s, expires %s, ", r->org_id, (long long)r->version,
           r->hash, exp);
    if (n == 0)
        printf("verified against the pin\n");
    else
        printf("reached from the pin through %zu --previous roster(s)\n", n);
}

int msgcli_verify_start(msgcli_verify *o, int argc, const char *noun, const char *usage,
                        wd_err *e)
{
    o->fl = NULL;
    o->r = NULL;
    if (argc - optind != 1)
        return cli_usage_error(usage, "give exactly one %s", noun);
    int miss = msgcli_require(usage, "--roster", o->roster, "--pin", o->pin, "--org", o->org,
                              "--fleet", o->fleet, "--env", o->env, "--instance", o->instance,
                              (const char *)NULL);
    if (miss >= 0)
        return miss;
    wd_err_clear(e);
    o->now = wd_now();
    if (o->at && wd_time_parse(o->at, &o->now, e) != WD_OK)
        return cli_usage_error(usage, "--at: %s", e->msg);
    if (wd_labels_from_text(o->labels, o->nlabels, &o->fl, e) != WD_OK)
        return e->code == WD_E_USAGE ? cli_usage_error(usage, "--label: %s", e->msg)
                                     : cli_report(e);
    o->f = (wd_follower){o->org, o->fleet, o->env, o->instance, o->fl, o->nlabels};
    if (msgcli_load_chain(o->previous, o->nprevious, o->roster, o->pin, o->now, &o->r, e) !=
        WD_OK) {
        msgcli_verify_end(o);
        return cli_report(e);
    }
    return 0;
}

void msgcli_verify_end(msgcli_verify *o)
{
    wd_roster_free(o->r);
    o->r = NULL;
    wd_labels_free(o->fl, o->nlabels);
    o->fl = NULL;
}

wd_code msgcli_verify_file(const char *flag, const char *path, size_t max, msgcli_verify_fn fn,
                           const msgcli_verify *o, unsigned flags, void **out, wd_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code c = wd_read_file(path, max, &buf, &len, e);
    if (c == WD_OK) {
        c = fn(buf, len, o, flags, out, e);
        free(buf);
    }
    if (flag != NULL)
        wd_msg_prefix(c, e, "%s %s", flag, path);
    return c;
}

wd_code msgcli_load_roster(const char *path, const char *pin, const wd_roster *prev,
                           int64_t now, unsigned flags, wd_roster **out, wd_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code c = wd_read_file(path, WD_MAX_ROSTER_ENVELOPE, &buf, &len, e);
    if (c != WD_OK)
        return c;
    c = wd_roster_verify_ex(buf, len, pin, prev, now, flags, out, e);
    free(buf);
    return c;
}
