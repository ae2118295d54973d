/* decide.c — decisions against a compiled policy (SPEC §6): deny overrides, limits profiles,
 * defaults, audit mode, warn, regex limits failing closed, and explanations. Must never
 * allocate (scratch is on the stack), never modify the policy, and never fail open: whatever
 * cannot be decided is denied. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "policy_doc.h"
#include "policy_int.h"

static const char *S(const char *s) { return s ? s : ""; }

static void put(char *dst, size_t dstsz, const char *src)
{
    size_t n = strlen(src);
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void init_decision(const wd_policy *p, wd_decision *d)
{
    d->verdict = WD_VERDICT_ALLOW;
    d->mode = p->mode;
    d->audit_would_deny = d->warn = d->regex_limit = false;
    d->rule[0] = d->reason[0] = d->profile[0] = '\0';
}

static const char *action_name(uint8_t a)
{
    return a == WD_ACT_DENY ? "deny" : a == WD_ACT_WARN ? "warn" : "allow";
}

static void set_rule(wd_decision *d, wd_verdict v, const char *rule, const char *reason)
{
    d->verdict = v;
    put(d->rule, sizeof d->rule, rule);
    put(d->reason, sizeof d->reason, reason);
}

static void rule_reason(wd_decision *d, wd_verdict v, const char *name, const char *reason,
                        uint8_t action)
{
    set_rule(d, v, name, reason[0] ? reason
                         : action == WD_ACT_DENY ? "denied"
                         : action == WD_ACT_WARN ? "warned"
                                                 : "allowed");
}

static void finish(wd_decision *d)
{
    if (d->verdict == WD_VERDICT_DENY && d->mode == WD_MODE_AUDIT) {
        d->verdict = WD_VERDICT_ALLOW;
        d->audit_would_deny = true;
    }
}

/* ---- explain plumbing ---- */

typedef struct ex {
    wd_explain_fn fn;
    void *arg;
    const char *section;
    char why[640];
} ex;

static void why(ex *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why(ex *x, const char *fmt, ...)
{
    if (x == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(x->why, sizeof x->why, fmt, ap) < 0)
        x->why[0] = '\0';
    va_end(ap);
}

/* The arguments (often cleaned copies of input) are evaluated only when explaining. */
#define WHY(x, ...)                                                                            \
    do {                                                                                       \
        if ((x) != NULL)                                                                       \
            why((x), __VA_ARGS__);                                                             \
    } while (0)

static void step(ex *x, size_t i, const char *rule, uint8_t action, bool matched)
{
    if (x == NULL)
        return;
    wd_explain_step s = {x->section, i, rule, action_name(action), matched, x->why};
    x->fn(x->arg, &s);
    x->why[0] = '\0';
}

static const char *clean(const char *s, char *buf, size_t n) { return wd_clean_text(s, buf, n); }

/* ---- candidates from an index, merged in rule order ---- */

typedef struct cursor {
    const uint32_t *p, *end;
} cursor;

#define MAX_CURSORS (WD_MAX_PREFIX_INDEX + 2)

static const wd_hent *hlookup(const wd_htab *t, const char *s, uint32_t len, uint32_t h)
{
    uint32_t i = h & t->mask;
    for (;;) {
        const wd_hent *x = &t->slots[i];
        if (x->key == NULL)
            return NULL;
        if (x->hash == h && x->keylen == len && memcmp(x->key, s, len) == 0)
            return x;
        i = (i + 1) & t->mask;
    }
}

static size_t gather(const wd_index *ix, const char *key, cursor *cur)
{
    size_t k = 0;
    if (ix->n_always > 0)
        cur[k++] = (cursor){ix->always, ix->always + ix->n_always};
    size_t n = strlen(key);
    if (n > UINT32_MAX)
        return k;
    const wd_hent *h = hlookup(&ix->exact, key, (uint32_t)n, wd_index_hash(key, n));
    if (h != NULL)
        cur[k++] = (cursor){ix->postings + h->off, ix->postings + h->off + h->n};
    uint32_t hash = 2166136261u;
    size_t pos = 0;
    for (uint32_t i = 0; i < ix->n_plens; i++) {
        size_t L = ix->plens[i];
        if (L > n)
            break;
        for (; pos < L; pos++)
            hash = (hash ^ (unsigned char)key[pos]) * 16777619u;
        h = hlookup(&ix->prefix, key, (uint32_t)L, hash);
        if (h != NULL)
            cur[k++] = (cursor){ix->postings + h->off, ix->postings + h->off + h->n};
    }
    return k;
}

/* Next rule index above *last (or the first when *started is false); false when done. */
static bool next_candidate(cursor *cur, size_t k, bool *started, uint32_t *last)
{
    uint32_t best = UINT32_MAX;
    bool found = false;
    for (size_t i = 0; i < k; i++) {
        while (cur[i].p < cur[i].end && *started && *cur[i].p <= *last)
            cur[i].p++;
        if (cur[i].p < cur[i].end && *cur[i].p < best) {
            best = *cur[i].p;
            found = true;
        }
    }
    if (!found)
        return false;
    *started = true;
    *last = best;
    return true;
}

/* ---- server rules ---- */

static bool any_glob(const wd_glist *gl, const char *s)
{
    size_t n = strlen(s);
    for (uint32_t i = 0; i < gl->n; i++)
        if (wd_glob_match(&gl->g[i], s, n))
            return true;
    return false;
}

static bool command_matches(const wd_glist *gl, const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    const char *base = slash ? slash + 1 : argv0;
    size_t n = strlen(argv0), nb = strlen(base);
    for (uint32_t i = 0; i < gl->n; i++) {
        const wd_glob *g = &gl->g[i];
        if (g->has_slash ? wd_glob_match(g, argv0, n) : wd_glob_match(g, base, nb))
            return true;
    }
    return false;
}

static const char *label_of(const wd_runconfig *rc, const char *key)
{
    for (size_t i = 0; i < rc->n_labels; i++)
        if (rc->labels[i].key != NULL && strcmp(rc->labels[i].key, key) == 0)
            return S(rc->labels[i].value);
    return NULL;
}

static unsigned transport_bit(const char *t)
{
    if (strcmp(t, "stdio") == 0)
        return WD_TR_STDIO;
    if (strcmp(t, "sse") == 0)
        return WD_TR_SSE;
    if (strcmp(t, "streamable-http") == 0)
        return WD_TR_HTTP;
    return 0;
}

static bool field_fails(ex *x, const char *field, const char *value)
{
    char v[96];
    WHY(x, "no match: %s '%s' matches none of the rule's patterns", field,
        clean(value, v, sizeof v));
    return false;
}

static bool srule_matches(const wd_srule *r, const wd_runconfig *rc, ex *x)
{
    uint32_t f = r->fields;
    if ((f & WD_F_NAME) && !any_glob(&r->mname, S(rc->name)))
        return field_fails(x, "name", S(rc->name));
    if (f & WD_F_COMMAND) {
        const char *a0 = rc->n_command > 0 ? S(rc->command[0]) : "";
        if (rc->n_command == 0 || !command_matches(&r->command, a0))
            return field_fails(x, "command", a0);
    }
    if (f & WD_F_ARGS) {
        if (rc->n_command < (size_t)r->args.n + 1) {
            WHY(x, "no match: args: the command has %zu arguments, the rule constrains %u",
                rc->n_command ? rc->n_command - 1 : 0, (unsigned)r->args.n);
            return false;
        }
        for (uint32_t i = 0; i < r->args.n; i++) {
            const char *a = S(rc->command[i + 1]);
            if (!wd_glob_match(&r->args.g[i], a, strlen(a))) {
                char v[96], g[96];
                WHY(x, "no match: args[%u] '%s' does not match '%s'", (unsigned)i,
                    clean(a, v, sizeof v), clean(r->args.g[i].text, g, sizeof g));
                return false;
            }
        }
    }
    if ((f & WD_F_IMAGE) && (S(rc->image)[0] == '\0' || !any_glob(&r->image, rc->image)))
        return field_fails(x, "image", S(rc->image));
    if ((f & WD_F_REMOTE) &&
        (S(rc->remote_url)[0] == '\0' || !any_glob(&r->remote, rc->remote_url)))
        return field_fails(x, "remote_url", S(rc->remote_url));
    if (f & WD_F_REGISTRY) {
        const char *u = S(rc->registry_url), *au = S(rc->registry_api_url);
        if (!((u[0] && any_glob(&r->registry, u)) || (au[0] && any_glob(&r->registry, au))))
            return field_fails(x, "registry", u[0] ? u : au);
    }
    if ((f & WD_F_REGSERVER) &&
        (S(rc->registry_server_name)[0] == '\0' ||
         !any_glob(&r->regserver, rc->registry_server_name)))
        return field_fails(x, "registry_server", S(rc->registry_server_name));
    if ((f & WD_F_TRANSPORT) && (transport_bit(S(rc->transport)) & r->transports) == 0)
        return field_fails(x, "transport", S(rc->transport));
    if ((f & WD_F_GROUP) && !any_glob(&r->group, S(rc->group)))
        return field_fails(x, "group", S(rc->group));
    if (f & WD_F_LABELS) {
        for (uint32_t i = 0; i < r->n_labels; i++) {
            const char *v = label_of(rc, r->labels[i].key);
            if (v == NULL || strcmp(v, r->labels[i].value) != 0) {
                char a[96], b[96];
                if (v == NULL)
                    WHY(x, "no match: label %s is missing", r->labels[i].key);
                else
                    WHY(x, "no match: label %s is '%s', the rule wants '%s'", r->labels[i].key,
                        clean(v, a, sizeof a), clean(r->labels[i].value, b, sizeof b));
                return false;
            }
        }
    }
    WHY(x, f ? "matched: every match field matched" : "matched: no match fields (matches every server)");
    return true;
}

/* ---- limits ---- */

static bool covered_by(const wd_glist *lim, const char *req, wd_glob_buf *buf)
{
    wd_glob g;
    if (!wd_glob_parse(req, buf, &g, NULL, 0))
        return false;
    for (uint32_t i = 0; i < lim->n; i++)
        if (wd_glob_covers(&lim->g[i], &g))
            return true;
    return false;
}

static bool exceeds(char *out, size_t outsz, const char *what, const char *value,
                    const char *profile)
{
    char v[160];
    if (value == NULL)
        snprintf(out, outsz, "%s exceeds profile %s", what, profile);
    else
        snprintf(out, outsz, "%s %s exceeds profile %s", what, clean(value, v, sizeof v),
                 profile);
    return false;
}

bool wd_volume_parse(const char *v, char *host, size_t hostsz, bool *rw)
{
    const char *c1 = strchr(v, ':');
    if (c1 == NULL)
        return false;
    const char *c2 = strchr(c1 + 1, ':');
    size_t hn = (size_t)(c1 - v);
    if (hn == 0 || hn >= hostsz || c1[1] != '/')
        return false;
    *rw = true;
    if (c2 != NULL) {
        if (c2 == c1 + 1 || strchr(c2 + 1, ':') != NULL)
            return false;
        if (strcmp(c2 + 1, "ro") == 0)
            *rw = false;
        else if (strcmp(c2 + 1, "rw") != 0)
            return false;
    }
    memcpy(host, v, hn);
    host[hn] = '\0';
    return wd_path_normalized(host) && strchr(host, '*') == NULL && strchr(host, '?') == NULL &&
           strchr(host, '[') == NULL;
}

/* Are the permissions rc asks for (req = its profile, or NULL) within lim? If not, out says
 * which permission exceeds it. */
static bool within(const wd_cprofile *lim, const wd_profile *req, const wd_runconfig *rc,
                   char *out, size_t outsz)
{
    wd_glob_buf buf;
    const char *pn = lim->name;
    wd_network net = req ? req->network : WD_NET_NONE;
    if (net == WD_NET_HOST && lim->pub.network != WD_NET_HOST)
        return exceeds(out, outsz, "network host", NULL, pn);
    if (net == WD_NET_ALLOW && lim->pub.network == WD_NET_NONE)
        return exceeds(out, outsz, "network", NULL, pn);
    if (net == WD_NET_ALLOW && lim->pub.network == WD_NET_ALLOW) {
        for (size_t i = 0; i < req->n_allow_hosts; i++)
            if (!covered_by(&lim->hosts, S(req->allow_hosts[i]), &buf))
                return exceeds(out, outsz, "host", S(req->allow_hosts[i]), pn);
        for (size_t i = 0; i < req->n_allow_ports; i++) {
            bool ok = false;
            for (size_t j = 0; j < lim->pub.n_allow_ports && !ok; j++)
                ok = lim->pub.allow_ports[j] == req->allow_ports[i];
            if (!ok) {
                char port[16];
                snprintf(port, sizeof port, "%u", (unsigned)req->allow_ports[i]);
                return exceeds(out, outsz, "port", port, pn);
            }
        }
    }
    for (size_t i = 0; req && i < req->n_read; i++) {
        const char *r = S(req->read[i]);
        if (!wd_path_normalized(r) || !covered_by(&lim->read, r, &buf))
            return exceeds(out, outsz, "read", r, pn);
    }
    for (size_t i = 0; req && i < req->n_write; i++) {
        const char *w = S(req->write[i]);
        if (!wd_path_normalized(w) || !covered_by(&lim->write, w, &buf))
            return exceeds(out, outsz, "write", w, pn);
    }
    for (size_t i = 0; i < rc->n_volumes; i++) {
        char host[WD_MAX_GLOB_LEN + 1];
        bool rw;
        const char *v = S(rc->volumes[i]);
        if (strlen(v) > WD_MAX_GLOB_LEN || !wd_volume_parse(v, host, WD_MAX_GLOB_LEN - 2, &rw))
            return exceeds(out, outsz, "volume", v, pn);
        strcat(host, strcmp(host, "/") == 0 ? "**" : "/**");
        if (!covered_by(&lim->read, host, &buf))
            return exceeds(out, outsz, "read", host, pn);
        if (rw && !covered_by(&lim->write, host, &buf))
            return exceeds(out, outsz, "write", host, pn);
    }
    for (size_t i = 0; req && i < req->n_env; i++)
        if (!covered_by(&lim->env, S(req->env[i]), &buf))
            return exceeds(out, outsz, "env", S(req->env[i]), pn);
    for (size_t i = 0; i < rc->n_env; i++) {
        const char *k = S(rc->env[i].key);
        if (!any_glob(&lim->env, k))
            return exceeds(out, outsz, "env", k, pn);
    }
    if (req && req->privileged && !lim->pub.privileged)
        return exceeds(out, outsz, "privileged", NULL, pn);
    return true;
}

/* ---- server decision ---- */

static void decide_server(const wd_policy *p, const wd_runconfig *rc, ex *x, wd_decision *d)
{
    init_decision(p, d);
    if (rc == NULL || rc->name == NULL || rc->name[0] == '\0') {
        set_rule(d, WD_VERDICT_DENY, "runconfig", "the RunConfig names no server");
        finish(d);
        return;
    }
    if (!p->has_servers) {
        set_rule(d, WD_VERDICT_DENY, "servers.default",
                 "no servers section: servers are denied by default");
        finish(d);
        return;
    }
    const wd_profile *req = rc->profile;
    bool unknown_profile = false;
    if (req == NULL && rc->profile_name != NULL && rc->profile_name[0] != '\0') {
        req = wd_policy_find_profile(p, rc->profile_name);
        unknown_profile = req == NULL;
    }
    const wd_srule *deny = NULL, *first_allow = NULL, *admitted = NULL;
    char exceed[WD_DECISION_REASON_MAX] = "";
    cursor cur[MAX_CURSORS];
    size_t k = x ? 0 : gather(&p->sidx, rc->name, cur);
    bool started = false;
    uint32_t i = 0;
    for (;;) {
        if (x != NULL) {
            if (started && i + 1 >= p->n_srules)
                break;
            if (p->n_srules == 0)
                break;
            i = started ? i + 1 : 0;
            started = true;
        } else if (!next_candidate(cur, k, &started, &i)) {
            break;
        }
        const wd_srule *r = &p->srules[i];
        bool m = srule_matches(r, rc, x);
        if (m && r->action == WD_ACT_DENY) {
            deny = r;
            step(x, i, r->name, r->action, true);
            break;
        }
        if (m) {
            if (first_allow == NULL)
                first_allow = r;
            if (admitted == NULL && !unknown_profile) {
                char out[WD_DECISION_REASON_MAX];
                if (r->limits == NULL || within(r->limits, req, rc, out, sizeof out)) {
                    admitted = r;
                    if (x != NULL && r->limits != NULL)
                        snprintf(x->why + strlen(x->why), sizeof x->why - strlen(x->why),
                                 "; requested permissions are within profile %s",
                                 r->limits->name);
                } else {
                    if (exceed[0] == '\0')
                        put(exceed, sizeof exceed, out);
                    if (x != NULL)
                        snprintf(x->why + strlen(x->why), sizeof x->why - strlen(x->why),
                                 "; but %s", out);
                }
            }
        }
        step(x, i, r->name, r->action, m);
    }
    char nm[160];
    if (deny != NULL) {
        rule_reason(d, WD_VERDICT_DENY, deny->name, deny->reason, deny->action);
    } else if (unknown_profile) {
        snprintf(d->reason, sizeof d->reason, "unknown permission profile %s",
                 clean(rc->profile_name, nm, sizeof nm));
        d->verdict = WD_VERDICT_DENY;
        put(d->rule, sizeof d->rule, first_allow ? first_allow->name : "servers.default");
    } else if (admitted != NULL) {
        rule_reason(d, WD_VERDICT_ALLOW, admitted->name, admitted->reason, admitted->action);
        if (admitted->limits != NULL)
            put(d->profile, sizeof d->profile, admitted->limits->name);
    } else if (first_allow != NULL) {
        set_rule(d, WD_VERDICT_DENY, first_allow->name, exceed);
    } else if (p->server_default == WD_ACT_ALLOW) {
        set_rule(d, WD_VERDICT_ALLOW, "servers.default", "no rule matched (default allow)");
    } else {
        set_rule(d, WD_VERDICT_DENY, "servers.default", "no rule matched (default deny)");
    }
    finish(d);
}

void wd_policy_decide_server(const wd_policy *p, const wd_runconfig *rc, wd_decision *d)
{
    decide_server(p, rc, NULL, d);
}

void wd_policy_explain_server(const wd_policy *p, const wd_runconfig *rc, wd_explain_fn fn,
                              void *arg, wd_decision *d)
{
    ex x = {fn, arg, "servers", ""};
    decide_server(p, rc, fn ? &x : NULL, d);
}

/* ---- tool rules ---- */

#define RX_ARENA (64u * 1024u)
#define RX_HEAP_LIMIT_KIB 40u /* 20 KiB first frames + 40 KiB grown, within the arena */

typedef struct rx {
    size_t used;
    _Alignas(16) unsigned char buf[RX_ARENA];
} rx;

static void *rx_malloc(PCRE2_SIZE n, void *data)
{
    rx *r = data;
    n = (n + 15u) & ~(PCRE2_SIZE)15u;
    if (n > RX_ARENA - r->used)
        return NULL;
    void *p = r->buf + r->used;
    r->used += n;
    return p;
}

static void rx_free(void *p, void *data)
{
    (void)p;
    (void)data;
}

enum { RX_NO = 0, RX_YES = 1, RX_LIMIT = 2 };

typedef struct rxs {
    rx arena;
    pcre2_match_context *mc;
    pcre2_match_data *md;
    bool ready, broken;
} rxs;

static int rx_match(rxs *s, const pcre2_code *re, const char *v, size_t n)
{
    if (!s->ready) {
        s->ready = true;
        s->arena.used = 0;
        pcre2_general_context *g = pcre2_general_context_create(rx_malloc, rx_free, &s->arena);
        s->mc = g ? pcre2_match_context_create(g) : NULL;
        s->md = g ? pcre2_match_data_create(1, g) : NULL;
        if (s->mc == NULL || s->md == NULL) {
            s->broken = true;
        } else {
            pcre2_set_match_limit(s->mc, WD_REGEX_MATCH_LIMIT);
            pcre2_set_depth_limit(s->mc, WD_REGEX_DEPTH_LIMIT);
            pcre2_set_heap_limit(s->mc, RX_HEAP_LIMIT_KIB);
        }
    }
    if (s->broken)
        return RX_LIMIT;
    int r = pcre2_match(re, (PCRE2_SPTR)(v ? v : ""), v ? n : 0, 0, 0, s->md, s->mc);
    if (r >= 0)
        return RX_YES;
    return r == PCRE2_ERROR_NOMATCH ? RX_NO : RX_LIMIT;
}

/* The args entries of a rule: each must match. deny: an entry matches when any call argument
 * with its key matches (a limit counts as a match); allow/warn: only when every argument with
 * its key matches (a limit counts as no match). */
static bool args_match(const wd_trule *r, const wd_tool_call *call, rxs *s, bool *limit, ex *x)
{
    bool deny = r->action == WD_ACT_DENY;
    for (uint32_t i = 0; i < r->n_args; i++) {
        const wd_targ *a = &r->args[i];
        bool seen = false, any = false, all = true;
        for (size_t j = 0; j < call->n_args; j++) {
            const wd_tool_arg *ca = &call->args[j];
            if (ca->key == NULL || strcmp(ca->key, a->key) != 0)
                continue;
            seen = true;
            int m = rx_match(s, a->re, ca->value, ca->value_len);
            if (m == RX_LIMIT)
                *limit = true;
            bool yes = m == RX_YES || (m == RX_LIMIT && deny);
            any |= yes;
            all &= yes;
            if (m == RX_LIMIT && x != NULL) {
                char k[64];
                WHY(x, "args %s: regex hit its match limit (counted as %s)",
                    clean(a->key, k, sizeof k), deny ? "a match" : "no match");
            }
        }
        if (!seen) {
            char k[64];
            WHY(x, "no match: the call has no argument %s", clean(a->key, k, sizeof k));
            return false;
        }
        if (deny ? !any : !all) {
            char k[64], g[96];
            if (x != NULL && strstr(x->why, "match limit") == NULL)
                WHY(x, "no match: argument %s does not match /%s/", clean(a->key, k, sizeof k),
                    clean(a->src, g, sizeof g));
            return false;
        }
    }
    return true;
}

static bool trule_matches(const wd_trule *r, const wd_tool_call *call, rxs *s, bool *limit,
                          ex *x)
{
    const char *server = S(call->server), *tool = S(call->tool);
    if (r->has_server && !any_glob(&r->server, server))
        return field_fails(x, "server", server);
    if (r->has_tool && !any_glob(&r->tool, tool))
        return field_fails(x, "tool", tool);
    if (r->n_args > 0 && !args_match(r, call, s, limit, x))
        return false;
    if (x != NULL && strstr(x->why, "match limit") == NULL)
        WHY(x, "matched");
    return true;
}

static void decide_tool(const wd_policy *p, const wd_tool_call *call, ex *x, wd_decision *d)
{
    init_decision(p, d);
    if (call == NULL) {
        set_rule(d, WD_VERDICT_DENY, "tool_call", "no tool call given");
        finish(d);
        return;
    }
    if (!p->has_tools) {
        set_rule(d, WD_VERDICT_ALLOW, "mcp_tool_policy.default",
                 "no mcp_tool_policy section: tool calls are allowed by default");
        return;
    }
    rxs s;
    s.ready = s.broken = false;
    const wd_trule *deny = NULL, *warn = NULL, *allow = NULL;
    cursor cur[MAX_CURSORS];
    size_t k = x ? 0 : gather(&p->tidx, S(call->tool), cur);
    bool started = false;
    uint32_t i = 0;
    for (;;) {
        if (x != NULL) {
            if (p->n_trules == 0 || (started && i + 1 >= p->n_trules))
                break;
            i = started ? i + 1 : 0;
            started = true;
        } else if (!next_candidate(cur, k, &started, &i)) {
            break;
        }
        const wd_trule *r = &p->trules[i];
        bool limit = false;
        bool m = trule_matches(r, call, &s, &limit, x);
        d->regex_limit |= limit;
        step(x, i, r->name, r->action, m);
        if (!m)
            continue;
        if (r->action == WD_ACT_DENY) {
            deny = r;
            break;
        }
        if (r->action == WD_ACT_WARN && warn == NULL)
            warn = r;
        if (r->action == WD_ACT_ALLOW && allow == NULL)
            allow = r;
    }
    if (deny != NULL) {
        rule_reason(d, WD_VERDICT_DENY, deny->name, deny->reason, deny->action);
    } else if (warn != NULL) {
        rule_reason(d, WD_VERDICT_ALLOW, warn->name, warn->reason, warn->action);
        d->warn = true;
    } else if (allow != NULL) {
        rule_reason(d, WD_VERDICT_ALLOW, allow->name, allow->reason, allow->action);
    } else if (p->tool_default == WD_ACT_DENY) {
        set_rule(d, WD_VERDICT_DENY, "mcp_tool_policy.default", "no rule matched (default deny)");
    } else {
        set_rule(d, WD_VERDICT_ALLOW, "mcp_tool_policy.default",
                 "no rule matched (default allow)");
    }
    finish(d);
}

void wd_policy_decide_tool(const wd_policy *p, const wd_tool_call *call, wd_decision *d)
{
    decide_tool(p, call, NULL, d);
}

void wd_policy_explain_tool(const wd_policy *p, const wd_tool_call *call, wd_explain_fn fn,
                            void *arg, wd_decision *d)
{
    ex x = {fn, arg, "mcp_tool_policy", ""};
    decide_tool(p, call, fn ? &x : NULL, d);
}

bool wd_profile_env_allowed(const wd_profile *profile, const char *name)
{
    if (profile == NULL || name == NULL)
        return false;
    for (size_t i = 0; i < profile->n_env; i++)
        if (wd_glob_match_str(profile->env[i], name))
            return true;
    return false;
}
