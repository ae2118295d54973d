/* schema.c — the policy document schema (SPEC §6): every key, type, enum, id, glob and regex is
 * checked, and the first error is reported with its exact path ("servers.rules[2].mtach:
 * unknown key"). Must never change the tree it checks, nor accept a key it does not know. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "glob.h"
#include "policy_doc.h"
#include "policy_int.h"

#define PATH_MAX_LEN 400

typedef struct vctx {
    bool request;  /* RunConfig inline profile: JSON rejection codes */
    char *errpath; /* when not NULL: receives the path of the first error */
    size_t errcap;
} vctx;

static void keep_path(const vctx *c, const char *path)
{
    if (c->errpath != NULL && c->errcap > 0)
        snprintf(c->errpath, c->errcap, "%s", path);
}

static wd_code bad(const vctx *c, wd_err *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static wd_code bad(const vctx *c, wd_err *e, const char *path, const char *fmt, ...)
{
    char msg[WD_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    keep_path(c, path);
    return wd_err_set(e, c->request ? WD_E_MALFORMED : WD_E_INVALID_POLICY, "%s: %s", path, msg);
}

/* The key at path is not among names (NULL-terminated): say so, with the closest name when
 * one is within a small edit distance. */
static wd_code unknown(const vctx *c, wd_err *e, const char *path, const char *key,
                       const char *const *names)
{
    char hint[96] = "";
    const char *near = wd_suggest(key, names, (size_t)-1);
    if (near != NULL)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    keep_path(c, path);
    if (c->request)
        return wd_err_set(e, WD_E_UNKNOWN_FIELD, "%s: unknown field%s", path, hint);
    return wd_err_set(e, WD_E_INVALID_POLICY, "%s: unknown key%s", path, hint);
}

static const char *key_word(const vctx *c) { return c->request ? "field" : "key"; }

static void path_key(char *out, const char *base, const char *key)
{
    char k[160];
    wd_clean_text(key, k, sizeof k);
    int n;
    if (base[0] == '\0')
        n = snprintf(out, PATH_MAX_LEN, "%s", k);
    else
        n = snprintf(out, PATH_MAX_LEN, "%s.%s", base, k);
    if (n < 0)
        out[0] = '\0'; /* a longer path is cut: messages stay bounded */
}

static void path_index(char *out, const char *base, size_t i)
{
    if (snprintf(out, PATH_MAX_LEN, "%s[%zu]", base, i) < 0)
        out[0] = '\0';
}

static bool in_list(const char *k, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(k, names[i]) == 0)
            return true;
    return false;
}

/* Unknown keys first, in document order. */
static wd_code known_keys(const vctx *c, const json_t *obj, const char *path,
                          const char *const *names, wd_err *e)
{
    const char *k;
    json_t *v;
    char p[PATH_MAX_LEN];
    json_object_foreach((json_t *)obj, k, v) {
        if (!in_list(k, names)) {
            path_key(p, path, k);
            return unknown(c, e, p, k, names);
        }
    }
    return WD_OK;
}

static wd_code need(const vctx *c, const json_t *obj, const char *path, const char *key,
                    wd_err *e)
{
    if (json_object_get(obj, key) != NULL)
        return WD_OK;
    char p[PATH_MAX_LEN];
    path_key(p, path, key);
    return bad(c, e, p, "missing required %s", key_word(c));
}

static bool printable_ascii(const char *s)
{
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        if (*q < 0x20 || *q > 0x7e)
            return false;
    return true;
}

static wd_code check_id(const vctx *c, const json_t *v, const char *path, wd_err *e)
{
    if (!json_is_string(v))
        return bad(c, e, path, "expected a string");
    if (!wd_id_valid(json_string_value(v)))
        return bad(c, e, path, "not an id (letters, digits, '_', '.', '-'; at most 128)");
    return WD_OK;
}

static wd_code check_enum(const vctx *c, const json_t *v, const char *path,
                          const char *const *values, const char *expect, wd_err *e)
{
    if (!json_is_string(v) || !in_list(json_string_value(v), values))
        return bad(c, e, path, "must be %s", expect);
    return WD_OK;
}

static wd_code check_glob(const vctx *c, const json_t *v, const char *path, bool lower,
                          bool abs_path, wd_err *e)
{
    if (!json_is_string(v))
        return bad(c, e, path, "expected a string");
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return bad(c, e, path, "contains a NUL byte");
    wd_glob_buf buf;
    wd_glob g;
    char why[96];
    if (!wd_glob_parse(s, &buf, &g, why, sizeof why))
        return bad(c, e, path, "invalid glob: %s", why);
    if (lower)
        for (const char *q = s; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                return bad(c, e, path, "host globs are written in lower case");
    if (abs_path && !wd_path_normalized(s))
        return bad(c, e, path, "not an absolute path without '.', '..' or empty segments");
    return WD_OK;
}

static wd_code check_glob_list(const vctx *c, const json_t *v, const char *path, bool allow_empty,
                               bool lower, bool abs_path, wd_err *e)
{
    if (!json_is_array(v))
        return bad(c, e, path, "expected a list of strings");
    if (!allow_empty && json_array_size(v) == 0)
        return bad(c, e, path, "empty list (it would match nothing)");
    char p[PATH_MAX_LEN];
    for (size_t i = 0; i < json_array_size(v); i++) {
        path_index(p, path, i);
        wd_code rc = check_glob(c, json_array_get(v, i), p, lower, abs_path, e);
        if (rc != WD_OK)
            return rc;
    }
    return WD_OK;
}

bool wd_path_normalized(const char *p)
{
    if (p == NULL || p[0] != '/')
        return false;
    if (p[1] == '\0')
        return true;
    const char *seg = p + 1;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (end == NULL)
            return true;
        seg = end + 1;
    }
}

static wd_code check_labels(const vctx *c, const json_t *v, const char *path, wd_err *e)
{
    if (!json_is_object(v))
        return bad(c, e, path, "expected a mapping of id to string");
    if (json_object_size(v) > WD_MAX_LABELS)
        return bad(c, e, path, "more than %d labels", WD_MAX_LABELS);
    const char *k;
    json_t *x;
    char p[PATH_MAX_LEN];
    json_object_foreach((json_t *)v, k, x) {
        path_key(p, path, k);
        if (!wd_id_valid(k))
            return bad(c, e, p, "label key is not an id");
        if (!json_is_string(x))
            return bad(c, e, p, "expected a string");
        if (json_string_length(x) > WD_MAX_LABEL_VALUE)
            return bad(c, e, p, "label value longer than %d bytes", WD_MAX_LABEL_VALUE);
        for (const unsigned char *q = (const unsigned char *)json_string_value(x); *q; q++)
            if (*q < 0x20 || *q == 0x7f)
                return bad(c, e, p, "label value contains a control character");
        if (strlen(json_string_value(x)) != json_string_length(x))
            return bad(c, e, p, "label value contains a NUL byte");
    }
    return WD_OK;
}

/* ---- permission profiles ---- */

static wd_code profile_check(const vctx *c, const json_t *v, const char *path, wd_err *e);

static wd_code check_network(const vctx *c, const json_t *v, const char *path, wd_err *e)
{
    if (json_is_string(v)) {
        static const char *const nets[] = {"none", "host", NULL};
        return check_enum(c, v, path, nets, "none, host or {allow_hosts, allow_ports}", e);
    }
    if (!json_is_object(v))
        return bad(c, e, path, "must be none, host or {allow_hosts, allow_ports}");
    static const char *const keys[] = {"allow_hosts", "allow_ports", NULL};
    wd_code rc = known_keys(c, v, path, keys, e);
    if (rc != WD_OK)
        return rc;
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    const json_t *hosts = json_object_get(v, "allow_hosts");
    if (hosts != NULL) {
        path_key(p, path, "allow_hosts");
        if ((rc = check_glob_list(c, hosts, p, true, true, false, e)) != WD_OK)
            return rc;
    }
    const json_t *ports = json_object_get(v, "allow_ports");
    if (ports != NULL) {
        path_key(p, path, "allow_ports");
        if (!json_is_array(ports))
            return bad(c, e, p, "expected a list of port numbers");
        for (size_t i = 0; i < json_array_size(ports); i++) {
            const json_t *x = json_array_get(ports, i);
            path_index(q, p, i);
            if (!json_is_integer(x))
                return bad(c, e, q, "expected an integer");
            json_int_t n = json_integer_value(x);
            if (n < 1 || n > 65535)
                return bad(c, e, q, "port must be 1..65535");
        }
    }
    return WD_OK;
}

wd_code wd_profile_check(const json_t *v, const char *path, bool request, wd_err *e)
{
    vctx c = {request, NULL, 0};
    return profile_check(&c, v, path, e);
}

static wd_code profile_check(const vctx *cx, const json_t *v, const char *path, wd_err *e)
{
    vctx c = *cx;
    if (!json_is_object(v))
        return bad(&c, e, path, "expected a mapping");
    static const char *const keys[] = {"network", "read", "write", "env", "privileged", NULL};
    const char *k;
    json_t *x;
    char p[PATH_MAX_LEN];
    json_object_foreach((json_t *)v, k, x) {
        path_key(p, path, k);
        wd_code rc = WD_OK;
        if (!in_list(k, keys))
            rc = unknown(&c, e, p, k, keys);
        else if (strcmp(k, "network") == 0)
            rc = check_network(&c, x, p, e);
        else if (strcmp(k, "privileged") == 0)
            rc = json_is_boolean(x) ? WD_OK : bad(&c, e, p, "expected true or false");
        else if (strcmp(k, "env") == 0)
            rc = check_glob_list(&c, x, p, true, false, false, e);
        else /* read, write */
            rc = check_glob_list(&c, x, p, true, false, c.request, e);
        if (rc != WD_OK)
            return rc;
    }
    return WD_OK;
}

static wd_code check_profiles(const vctx *c, const json_t *v, const char *path, wd_err *e)
{
    if (!json_is_object(v))
        return bad(c, e, path, "expected a mapping of profile name to profile");
    const char *k;
    json_t *x;
    char p[PATH_MAX_LEN];
    json_object_foreach((json_t *)v, k, x) {
        path_key(p, path, k);
        if (!wd_id_valid(k))
            return bad(c, e, p, "profile name is not an id");
        wd_code rc = profile_check(c, x, p, e);
        if (rc != WD_OK)
            return rc;
    }
    return WD_OK;
}

/* ---- rules ---- */

static wd_code check_reason(const vctx *c, const json_t *v, const char *path, wd_err *e)
{
    if (!json_is_string(v))
        return bad(c, e, path, "expected a string");
    if (json_string_length(v) > WD_MAX_RULE_REASON)
        return bad(c, e, path, "longer than %d bytes", WD_MAX_RULE_REASON);
    if (strlen(json_string_value(v)) != json_string_length(v) ||
        !printable_ascii(json_string_value(v)))
        return bad(c, e, path, "only printable ASCII is allowed (it is shown to users as is)");
    return WD_OK;
}

static wd_code check_match(const vctx *c, const json_t *v, const char *path, wd_err *e)
{
    if (!json_is_object(v))
        return bad(c, e, path, "expected a mapping");
    static const char *const keys[] = {"name", "command", "args", "image", "remote_url",
                                       "registry", "registry_server", "transport", "group",
                                       "labels", NULL};
    static const char *const transports[] = {"stdio", "sse", "streamable-http", NULL};
    const char *k;
    json_t *x;
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    json_object_foreach((json_t *)v, k, x) {
        path_key(p, path, k);
        wd_code rc;
        if (!in_list(k, keys)) {
            rc = unknown(c, e, p, k, keys);
        } else if (strcmp(k, "labels") == 0) {
            rc = check_labels(c, x, p, e);
        } else if (strcmp(k, "transport") == 0) {
            if (!json_is_array(x))
                return bad(c, e, p, "expected a list of strings");
            if (json_array_size(x) == 0)
                return bad(c, e, p, "empty list (it would match nothing)");
            rc = WD_OK;
            for (size_t i = 0; i < json_array_size(x) && rc == WD_OK; i++) {
                path_index(q, p, i);
                rc = check_enum(c, json_array_get(x, i), q, transports,
                                "stdio, sse or streamable-http", e);
            }
        } else {
            rc = check_glob_list(c, x, p, false, false, false, e);
        }
        if (rc != WD_OK)
            return rc;
    }
    return WD_OK;
}

static wd_code check_limits(const vctx *c, const json_t *v, const char *path,
                            const json_t *profiles, wd_err *e)
{
    if (!json_is_object(v))
        return bad(c, e, path, "expected a mapping");
    static const char *const keys[] = {"profile", NULL};
    wd_code rc = known_keys(c, v, path, keys, e);
    if (rc == WD_OK)
        rc = need(c, v, path, "profile", e);
    if (rc != WD_OK)
        return rc;
    char p[PATH_MAX_LEN], name[160];
    path_key(p, path, "profile");
    const json_t *x = json_object_get(v, "profile");
    if ((rc = check_id(c, x, p, e)) != WD_OK)
        return rc;
    if (!json_is_object(profiles) || json_object_get(profiles, json_string_value(x)) == NULL)
        return bad(c, e, p, "unknown permission profile '%s'",
                   wd_clean_text(json_string_value(x), name, sizeof name));
    return WD_OK;
}

static wd_code check_regex(const vctx *c, const json_t *v, const char *path, wd_err *e)
{
    if (!json_is_string(v))
        return bad(c, e, path, "expected a string");
    size_t len = json_string_length(v);
    if (len > WD_MAX_REGEX_LEN)
        return bad(c, e, path, "regex longer than %d bytes", WD_MAX_REGEX_LEN);
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)json_string_value(v), len, 0, &err, &off, NULL);
    if (re == NULL) {
        if (err == PCRE2_ERROR_NOMEMORY || err == PCRE2_ERROR_HEAP_FAILED)
            return wd_err_set(e, WD_E_NOMEM, "%s: out of memory compiling a regex", path);
        PCRE2_UCHAR why[160];
        if (pcre2_get_error_message(err, why, sizeof why) < 0)
            snprintf((char *)why, sizeof why, "error %d", err);
        return bad(c, e, path, "invalid regex at offset %zu: %s", (size_t)off, (char *)why);
    }
    pcre2_code_free(re);
    return WD_OK;
}

static wd_code check_tool_args(const vctx *c, const json_t *v, const char *path, wd_err *e)
{
    if (!json_is_array(v))
        return bad(c, e, path, "expected a list of {key, regex}");
    if (json_array_size(v) == 0)
        return bad(c, e, path, "empty list (it would match nothing)");
    static const char *const keys[] = {"key", "regex", NULL};
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *a = json_array_get(v, i);
        path_index(p, path, i);
        if (!json_is_object(a))
            return bad(c, e, p, "expected a mapping {key, regex}");
        wd_code rc = known_keys(c, a, p, keys, e);
        if (rc == WD_OK)
            rc = need(c, a, p, "key", e);
        if (rc == WD_OK)
            rc = need(c, a, p, "regex", e);
        if (rc != WD_OK)
            return rc;
        const json_t *k = json_object_get(a, "key");
        path_key(q, p, "key");
        if (!json_is_string(k))
            return bad(c, e, q, "expected a string");
        if (json_string_length(k) == 0 || strlen(json_string_value(k)) != json_string_length(k))
            return bad(c, e, q, "must be a non-empty string without NUL");
        path_key(q, p, "regex");
        if ((rc = check_regex(c, json_object_get(a, "regex"), q, e)) != WD_OK)
            return rc;
    }
    return WD_OK;
}

/* One rule of either section. tools selects the mcp_tool_policy shape. */
static wd_code check_rule(const vctx *c, const json_t *r, const char *path, bool tools,
                          const json_t *profiles, wd_err *e)
{
    if (!json_is_object(r))
        return bad(c, e, path, "expected a mapping");
    static const char *const skeys[] = {"name", "action", "reason", "match", "limits", NULL};
    static const char *const tkeys[] = {"name", "action", "reason", "server", "tool", "args",
                                        NULL};
    static const char *const sacts[] = {"allow", "deny", NULL};
    static const char *const tacts[] = {"allow", "deny", "warn", NULL};
    wd_code rc = known_keys(c, r, path, tools ? tkeys : skeys, e);
    if (rc == WD_OK)
        rc = need(c, r, path, "name", e);
    if (rc == WD_OK)
        rc = need(c, r, path, "action", e);
    if (rc != WD_OK)
        return rc;
    const char *k;
    json_t *x;
    char p[PATH_MAX_LEN];
    json_object_foreach((json_t *)r, k, x) {
        path_key(p, path, k);
        if (strcmp(k, "name") == 0)
            rc = check_id(c, x, p, e);
        else if (strcmp(k, "action") == 0)
            rc = check_enum(c, x, p, tools ? tacts : sacts,
                            tools ? "allow, deny or warn" : "allow or deny", e);
        else if (strcmp(k, "reason") == 0)
            rc = check_reason(c, x, p, e);
        else if (strcmp(k, "match") == 0)
            rc = check_match(c, x, p, e);
        else if (strcmp(k, "limits") == 0)
            rc = check_limits(c, x, p, profiles, e);
        else if (strcmp(k, "args") == 0)
            rc = check_tool_args(c, x, p, e);
        else /* server, tool */
            rc = check_glob_list(c, x, p, false, false, false, e);
        if (rc != WD_OK)
            return rc;
    }
    const json_t *lim = json_object_get(r, "limits");
    const char *act = json_string_value(json_object_get(r, "action"));
    if (lim != NULL && strcmp(act, "allow") != 0) {
        path_key(p, path, "limits");
        return bad(c, e, p, "limits apply only to allow rules");
    }
    return WD_OK;
}

static wd_code check_section(const vctx *c, const json_t *v, const char *path, bool tools,
                             const json_t *profiles, wd_err *e)
{
    if (!json_is_object(v))
        return bad(c, e, path, "expected a mapping");
    static const char *const keys[] = {"default", "rules", NULL};
    static const char *const defs[] = {"allow", "deny", NULL};
    wd_code rc = known_keys(c, v, path, keys, e);
    if (rc != WD_OK)
        return rc;
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN], r[PATH_MAX_LEN];
    /* document order: report whichever of default/rules comes first */
    const char *k;
    json_t *rules;
    json_object_foreach((json_t *)v, k, rules) {
        path_key(p, path, k);
        if (strcmp(k, "default") == 0) {
            if ((rc = check_enum(c, rules, p, defs, "allow or deny", e)) != WD_OK)
                return rc;
            continue;
        }
        if (!json_is_array(rules))
            return bad(c, e, p, "expected a list of rules");
        json_t *seen = json_object();
        if (seen == NULL)
            return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", p);
        for (size_t i = 0; i < json_array_size(rules) && rc == WD_OK; i++) {
            const json_t *rule = json_array_get(rules, i);
            path_index(q, p, i);
            rc = check_rule(c, rule, q, tools, profiles, e);
            if (rc != WD_OK)
                break;
            const char *name = json_string_value(json_object_get(rule, "name"));
            json_t *first = json_object_get(seen, name);
            if (first != NULL) {
                path_key(r, q, "name");
                char nm[160];
                rc = bad(c, e, r, "duplicate rule name '%s' (first at %s[%lld])",
                         wd_clean_text(name, nm, sizeof nm), p,
                         (long long)json_integer_value(first));
            } else if (json_object_set_new(seen, name, json_integer((json_int_t)i)) != 0) {
                rc = wd_err_set(e, WD_E_NOMEM, "%s: out of memory", p);
            }
        }
        json_decref(seen);
        if (rc != WD_OK)
            return rc;
    }
    return WD_OK;
}

wd_code wd_policy_validate_doc(const json_t *doc, wd_err *e)
{
    return wd_policy_validate_doc_at(doc, NULL, 0, e);
}

wd_code wd_policy_validate_doc_at(const json_t *doc, char *path, size_t cap, wd_err *e)
{
    vctx c = {false, path, cap};
    keep_path(&c, "");
    if (!json_is_object(doc))
        return wd_err_set(e, WD_E_INVALID_POLICY, "policy document: expected a mapping");
    static const char *const keys[] = {"version", "mode", "servers", "permission_profiles",
                                       "mcp_tool_policy", NULL};
    static const char *const modes[] = {"enforce", "audit", NULL};
    const json_t *profiles = json_object_get(doc, "permission_profiles");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)doc, k, x) {
        char p[PATH_MAX_LEN];
        path_key(p, "", k);
        wd_code rc;
        if (!in_list(k, keys)) {
            rc = unknown(&c, e, p, k, keys);
        } else if (strcmp(k, "version") == 0) {
            if (!json_is_integer(x))
                rc = bad(&c, e, p, "expected an integer");
            else if (json_integer_value(x) != 1)
                rc = bad(&c, e, p, "unsupported version %lld (expected 1)",
                         (long long)json_integer_value(x));
            else
                rc = WD_OK;
        } else if (strcmp(k, "mode") == 0) {
            rc = check_enum(&c, x, p, modes, "enforce or audit", e);
        } else if (strcmp(k, "servers") == 0) {
            rc = check_section(&c, x, p, false, profiles, e);
        } else if (strcmp(k, "mcp_tool_policy") == 0) {
            rc = check_section(&c, x, p, true, profiles, e);
        } else {
            rc = check_profiles(&c, x, p, e);
        }
        if (rc != WD_OK)
            return rc;
    }
    return need(&c, doc, "", "version", e);
}
