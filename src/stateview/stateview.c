/* stateview.c — the read side of the agent's state directory for `warden run --state-dir`: what
 * the runner enforces, read without the pin (the agent verified every file before it wrote
 * it), and the policy-state names and stale rule the agent shares. It must never allow on
 * doubt: a missing, unreadable or inconsistent file is a deny-all view, never an enforcing one,
 * and it never writes to the directory. */
#include "stateview.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/base.h"
#include "crypto/crypto.h"
#include "msg/bundle.h"
#include "msg/kill.h"
#include "msg/message.h"

/* ---- policy states and the stale rule ---- */

const char *wd_policy_state_name(wd_policy_state s)
{
    switch (s) {
    case WD_PSTATE_NONE: return "none";
    case WD_PSTATE_ENFORCING: return "enforcing";
    case WD_PSTATE_STALE: return "stale";
    case WD_PSTATE_DENY_ALL: return "deny-all";
    case WD_PSTATE_KILLED: return "killed";
    }
    return "deny-all";
}

const char *wd_stale_then_name(wd_stale_then t)
{
    return t == WD_STALE_KEEP_LAST_KNOWN_GOOD ? "keep-last-known-good" : "deny-all";
}

bool wd_stale_then_parse(const char *s, wd_stale_then *out)
{
    if (s && strcmp(s, "deny-all") == 0) {
        *out = WD_STALE_DENY_ALL;
        return true;
    }
    if (s && strcmp(s, "keep-last-known-good") == 0) {
        *out = WD_STALE_KEEP_LAST_KNOWN_GOOD;
        return true;
    }
    return false;
}

wd_policy_state wd_stale_state(int64_t expires_at, int64_t grace, wd_stale_then then,
                               int64_t now)
{
    if (now < expires_at)
        return WD_PSTATE_ENFORCING;
    if (grace > 0 && now - expires_at < grace)
        return WD_PSTATE_STALE;
    return then == WD_STALE_KEEP_LAST_KNOWN_GOOD ? WD_PSTATE_STALE : WD_PSTATE_DENY_ALL;
}

/* ---- the view ---- */

/* A deny-all view whose reason is "what: detail" (detail cleaned, both cut to fit). */
static void deny(wd_agent_view *v, const char *what, const char *detail)
{
    v->state = WD_PSTATE_DENY_ALL;
    char clean[WD_ERR_MSG_MAX / 2];
    wd_clean_text(detail ? detail : "", clean, sizeof clean);
    size_t n = strlen(what), m = strlen(clean);
    if (n > sizeof v->reason / 2 - 3)
        n = sizeof v->reason / 2 - 3;
    memcpy(v->reason, what, n);
    memcpy(v->reason + n, ": ", 2);
    memcpy(v->reason + n + 2, clean, m + 1);
    wd_policy_unref(v->policy);
    v->policy = NULL;
}

/* dir/rel read with cap; *exists false (WD_OK) when absent. */
static wd_code read_opt(const char *dir, const char *rel, size_t max, unsigned char **buf,
                        size_t *len, bool *exists, wd_err *e)
{
    char p[PATH_MAX];
    *buf = NULL;
    *exists = false;
    if (snprintf(p, sizeof p, "%s/%s", dir, rel) >= (int)sizeof p)
        return wd_err_set(e, WD_E_USAGE, "path too long");
    struct stat st;
    if (lstat(p, &st) != 0)
        return errno == ENOENT ? WD_OK : wd_err_set(e, WD_E_IO, "%s: %s", rel, strerror(errno));
    *exists = true;
    return wd_read_file(p, max, buf, len, e);
}

void wd_agent_view_clear(wd_agent_view *v)
{
    wd_policy_unref(v->policy);
    memset(v, 0, sizeof *v);
}

wd_code wd_agent_view_load(const char *dir, int64_t now, wd_agent_view *v, wd_err *e)
{
    memset(v, 0, sizeof *v);
    struct stat st;
    errno = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return wd_err_set(e, WD_E_IO, "state directory %s: %s", dir,
                          errno ? strerror(errno) : "not a directory");
    wd_err le;
    wd_err_clear(&le);
    unsigned char *buf = NULL;
    size_t len = 0;
    bool exists = false;

    /* kill.json first: an active kill denies whatever else is there */
    wd_code c = read_opt(dir, "kill.json", WD_MAX_KILL_ENVELOPE, &buf, &len, &exists, &le);
    if (c == WD_OK && exists) {
        wd_dsse d;
        c = wd_msg_decode_unverified(buf, len, WD_MAX_KILL_ENVELOPE, WD_KILL_PAYLOAD_TYPE, &d,
                                     &le);
        wd_kill *k = NULL;
        if (c == WD_OK) {
            c = wd_kill_parse(d.payload, d.payload_len, &k, &le);
            wd_dsse_free(&d);
        }
        if (c == WD_OK && k->active) {
            v->state = WD_PSTATE_KILLED;
            wd_clean_text(k->reason, v->reason, sizeof v->reason);
            wd_kill_free(k);
            free(buf);
            return WD_OK;
        }
        wd_kill_free(k);
    }
    free(buf);
    if (c != WD_OK) {
        deny(v, "kill.json cannot be read", le.msg);
        return WD_OK;
    }

    /* enforce.json: the stale-policy settings and the agent's deny-all reason */
    int64_t grace = 0;
    wd_stale_then then = WD_STALE_DENY_ALL;
    c = read_opt(dir, "enforce.json", 64 * 1024, &buf, &len, &exists, &le);
    if (c == WD_OK && exists) {
        json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
        json_t *g = json_object_get(o, "stale_grace"), *t = json_object_get(o, "stale_then"),
               *d = json_object_get(o, "deny_all");
        if (o == NULL || !json_is_integer(g) || json_integer_value(g) < 0 ||
            !wd_stale_then_parse(json_string_value(t), &then) ||
            !(json_is_null(d) || json_is_object(d))) {
            c = wd_err_set(&le, WD_E_MALFORMED, "not what the agent writes");
        } else {
            grace = (int64_t)json_integer_value(g);
            if (json_is_object(d)) {
                const char *m = json_string_value(json_object_get(d, "message"));
                deny(v, "the state did not verify", m ? m : "(no reason given)");
                json_decref(o);
                free(buf);
                return WD_OK;
            }
        }
        json_decref(o);
    }
    free(buf);
    if (c != WD_OK) {
        deny(v, "enforce.json cannot be read", le.msg);
        return WD_OK;
    }

    /* active -> bundles/<name>: bundle.json, policy.yaml equal to its policy, compiling */
    char lp[PATH_MAX], target[256];
    if (snprintf(lp, sizeof lp, "%s/active", dir) >= (int)sizeof lp)
        return wd_err_set(e, WD_E_USAGE, "path too long");
    ssize_t n = readlink(lp, target, sizeof target - 1);
    if (n < 0) {
        if (errno != ENOENT) {
            deny(v, "active cannot be read", strerror(errno));
            return WD_OK;
        }
        c = read_opt(dir, "floor", 32, &buf, &len, &exists, &le);
        free(buf);
        if (c != WD_OK || exists)
            deny(v, "active is missing", "bundles were applied (a floor is recorded)");
        else
            v->state = WD_PSTATE_NONE;
        return WD_OK;
    }
    target[n] = '\0';
    if (strncmp(target, "bundles/", 8) != 0 || strstr(target, "..") != NULL ||
        strchr(target + 8, '/') != NULL || (size_t)n > 200) {
        deny(v, "active points outside bundles/", target);
        return WD_OK;
    }
    char rel[512];
    snprintf(rel, sizeof rel, "%s/bundle.json", target);
    wd_bundle *b = NULL;
    c = read_opt(dir, rel, WD_MAX_BUNDLE_ENVELOPE, &buf, &len, &exists, &le);
    if (c == WD_OK && !exists)
        c = wd_err_set(&le, WD_E_IO, "%s is missing", rel);
    if (c == WD_OK) {
        wd_dsse d;
        c = wd_msg_decode_unverified(buf, len, WD_MAX_BUNDLE_ENVELOPE, WD_BUNDLE_PAYLOAD_TYPE,
                                     &d, &le);
        if (c == WD_OK) {
            c = wd_bundle_parse(d.payload, d.payload_len, &b, &le);
            wd_dsse_free(&d);
        }
    }
    free(buf);
    buf = NULL;
    if (c == WD_OK) {
        snprintf(rel, sizeof rel, "%s/policy.yaml", target);
        c = read_opt(dir, rel, WD_MAX_POLICY_BYTES, &buf, &len, &exists, &le);
        if (c == WD_OK && !exists)
            c = wd_err_set(&le, WD_E_IO, "%s is missing", rel);
        if (c == WD_OK && (len != b->policy_len || !wd_ct_eq(buf, b->policy_yaml, len)))
            c = wd_err_set(&le, WD_E_HASH_MISMATCH, "%s differs from the bundle's policy", rel);
        if (c == WD_OK)
            c = wd_policy_load(buf, len, &v->policy, &le);
        free(buf);
    }
    if (c != WD_OK) {
        wd_bundle_free(b);
        deny(v, "the active bundle cannot be used", le.msg);
        return WD_OK;
    }
    v->bundle_version = b->version;
    snprintf(v->bundle_hash, sizeof v->bundle_hash, "%s", b->hash);
    v->state = wd_stale_state(b->expires_at, grace, then, now);
    if (v->state == WD_PSTATE_DENY_ALL) {
        char t[WD_TIME_STRLEN + 1];
        wd_time_format(b->expires_at, t);
        wd_bundle_free(b);
        deny(v, "stale policy (deny-all): the active bundle expired and its grace is over; expired at", t);
        return WD_OK;
    }
    wd_bundle_free(b);
    return WD_OK;
}
