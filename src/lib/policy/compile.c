/* compile.c — turns a validated policy tree into the immutable wd_policy: rules with parsed
 * globs and compiled regexes, profiles, and per-section indexes (exact names, literal prefixes,
 * and the rules no key can exclude). Must never keep a pointer into the source tree, and never
 * produce a half-built policy: on any failure everything built so far is freed. */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "policy_doc.h"
#include "policy_int.h"

/* ---- arena ---- */

#define ARENA_CHUNK (64u * 1024u)

void *wd_arena_alloc(wd_arena *a, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    if (n == 0)
        n = 16;
    wd_arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        wd_arena_chunk *nc = malloc(sizeof *nc + cap);
        if (nc == NULL)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        a->bytes += sizeof *nc + cap;
        if (c != NULL && cap != ARENA_CHUNK) {
            /* a big block: keep allocating from the current chunk afterwards */
            nc->next = c->next;
            c->next = nc;
            nc->used = n;
            memset(nc->data, 0, n);
            return nc->data;
        }
        nc->next = c;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *wd_arena_strdup(wd_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = wd_arena_alloc(a, n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void wd_arena_free(wd_arena *a)
{
    wd_arena_chunk *c = a->head;
    while (c != NULL) {
        wd_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->bytes = 0;
}

/* ---- building blocks ---- */

typedef struct cc {
    wd_policy *p;
    wd_err *e;
} cc;

static bool oom(cc *c)
{
    wd_err_set(c->e, WD_E_NOMEM, "compiling the policy: out of memory");
    return false;
}

static bool glob_into(cc *c, const char *text, wd_glob *out)
{
    wd_glob_buf buf;
    wd_glob g;
    char *t = wd_arena_strdup(&c->p->arena, text);
    if (t == NULL)
        return oom(c);
    if (!wd_glob_parse(t, &buf, &g, NULL, 0)) {
        wd_err_set(c->e, WD_E_INTERNAL, "compiling the policy: a validated glob did not parse");
        return false;
    }
    uint32_t *tok = wd_arena_alloc(&c->p->arena, (size_t)g.ntok * sizeof *tok);
    uint8_t(*cls)[32] = NULL;
    if (g.ncls > 0)
        cls = wd_arena_alloc(&c->p->arena, (size_t)g.ncls * 32);
    if (tok == NULL || (g.ncls > 0 && cls == NULL))
        return oom(c);
    memcpy(tok, buf.tok, (size_t)g.ntok * sizeof *tok);
    if (g.ncls > 0)
        memcpy(cls, buf.cls, (size_t)g.ncls * 32);
    g.tok = tok;
    g.cls = (const uint8_t(*)[32])cls;
    *out = g;
    return true;
}

static bool glist_from(cc *c, const json_t *arr, wd_glist *out)
{
    out->g = NULL;
    out->n = 0;
    if (arr == NULL)
        return true;
    size_t n = json_array_size(arr);
    wd_glob *g = wd_arena_alloc(&c->p->arena, n * sizeof *g);
    if (g == NULL)
        return oom(c);
    for (size_t i = 0; i < n; i++)
        if (!glob_into(c, json_string_value(json_array_get(arr, i)), &g[i]))
            return false;
    out->g = g;
    out->n = (uint32_t)n;
    return true;
}

static bool strv_from(cc *c, const json_t *arr, char ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (arr == NULL)
        return true;
    size_t n = json_array_size(arr);
    char **v = wd_arena_alloc(&c->p->arena, (n + 1) * sizeof *v);
    if (v == NULL)
        return oom(c);
    for (size_t i = 0; i < n; i++)
        if ((v[i] = wd_arena_strdup(&c->p->arena, json_string_value(json_array_get(arr, i)))) ==
            NULL)
            return oom(c);
    *out = v;
    *n_out = n;
    return true;
}

static uint8_t action_of(const char *s)
{
    if (strcmp(s, "deny") == 0)
        return WD_ACT_DENY;
    if (strcmp(s, "warn") == 0)
        return WD_ACT_WARN;
    return WD_ACT_ALLOW;
}

/* ---- profiles ---- */

static bool compile_profile(cc *c, const char *name, const json_t *v, wd_cprofile *out)
{
    wd_arena *a = &c->p->arena;
    if ((out->name = wd_arena_strdup(a, name)) == NULL)
        return oom(c);
    wd_profile *pub = &out->pub;
    const json_t *net = json_object_get(v, "network");
    pub->network = WD_NET_NONE;
    if (json_is_string(net) && strcmp(json_string_value(net), "host") == 0) {
        pub->network = WD_NET_HOST;
    } else if (json_is_object(net)) {
        pub->network = WD_NET_ALLOW;
        const json_t *hosts = json_object_get(net, "allow_hosts");
        const json_t *ports = json_object_get(net, "allow_ports");
        if (!strv_from(c, hosts, &pub->allow_hosts, &pub->n_allow_hosts) ||
            !glist_from(c, hosts, &out->hosts))
            return false;
        size_t np = json_array_size(ports);
        if (np > 0) {
            if ((pub->allow_ports = wd_arena_alloc(a, np * sizeof(uint16_t))) == NULL)
                return oom(c);
            for (size_t i = 0; i < np; i++)
                pub->allow_ports[i] = (uint16_t)json_integer_value(json_array_get(ports, i));
            pub->n_allow_ports = np;
        }
    }
    const json_t *rd = json_object_get(v, "read"), *wr = json_object_get(v, "write"),
                 *env = json_object_get(v, "env");
    if (!strv_from(c, rd, &pub->read, &pub->n_read) || !glist_from(c, rd, &out->read) ||
        !strv_from(c, wr, &pub->write, &pub->n_write) || !glist_from(c, wr, &out->write) ||
        !strv_from(c, env, &pub->env, &pub->n_env) || !glist_from(c, env, &out->env))
        return false;
    pub->privileged = json_is_true(json_object_get(v, "privileged"));
    return true;
}

const wd_cprofile *wd_policy_cprofile(const wd_policy *p, const char *name)
{
    if (name == NULL)
        return NULL;
    for (uint32_t i = 0; i < p->n_profiles; i++)
        if (strcmp(p->profiles[i].name, name) == 0)
            return &p->profiles[i];
    return NULL;
}

/* ---- rules ---- */

static bool compile_srule(cc *c, const json_t *r, wd_srule *out)
{
    wd_arena *a = &c->p->arena;
    const json_t *reason = json_object_get(r, "reason");
    out->name = wd_arena_strdup(a, json_string_value(json_object_get(r, "name")));
    out->reason = wd_arena_strdup(a, reason ? json_string_value(reason) : "");
    if (out->name == NULL || out->reason == NULL)
        return oom(c);
    out->action = action_of(json_string_value(json_object_get(r, "action")));
    const json_t *m = json_object_get(r, "match");
    static const struct {
        const char *key;
        uint32_t bit;
        size_t off;
    } fields[] = {
        {"name", WD_F_NAME, offsetof(wd_srule, mname)},
        {"command", WD_F_COMMAND, offsetof(wd_srule, command)},
        {"args", WD_F_ARGS, offsetof(wd_srule, args)},
        {"image", WD_F_IMAGE, offsetof(wd_srule, image)},
        {"remote_url", WD_F_REMOTE, offsetof(wd_srule, remote)},
        {"registry", WD_F_REGISTRY, offsetof(wd_srule, registry)},
        {"registry_server", WD_F_REGSERVER, offsetof(wd_srule, regserver)},
        {"group", WD_F_GROUP, offsetof(wd_srule, group)},
    };
    for (size_t i = 0; m != NULL && i < sizeof fields / sizeof fields[0]; i++) {
        const json_t *v = json_object_get(m, fields[i].key);
        if (v == NULL)
            continue;
        out->fields |= fields[i].bit;
        if (!glist_from(c, v, (wd_glist *)((char *)out + fields[i].off)))
            return false;
    }
    const json_t *tr = m ? json_object_get(m, "transport") : NULL;
    if (tr != NULL) {
        out->fields |= WD_F_TRANSPORT;
        for (size_t i = 0; i < json_array_size(tr); i++) {
            const char *t = json_string_value(json_array_get(tr, i));
            out->transports |= strcmp(t, "stdio") == 0 ? WD_TR_STDIO
                               : strcmp(t, "sse") == 0 ? WD_TR_SSE
                                                       : WD_TR_HTTP;
        }
    }
    const json_t *labels = m ? json_object_get(m, "labels") : NULL;
    if (labels != NULL) {
        out->fields |= WD_F_LABELS;
        size_t n = json_object_size(labels), i = 0;
        wd_kv *kv = wd_arena_alloc(a, n * sizeof *kv);
        if (n > 0 && kv == NULL)
            return oom(c);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)labels, k, v) {
            kv[i].key = wd_arena_strdup(a, k);
            kv[i].value = wd_arena_strdup(a, json_string_value(v));
            if (kv[i].key == NULL || kv[i].value == NULL)
                return oom(c);
            i++;
        }
        out->labels = kv;
        out->n_labels = (uint32_t)n;
    }
    const json_t *lim = json_object_get(r, "limits");
    if (lim != NULL)
        out->limits =
            wd_policy_cprofile(c->p, json_string_value(json_object_get(lim, "profile")));
    return true;
}

static bool compile_trule(cc *c, const json_t *r, wd_trule *out)
{
    wd_arena *a = &c->p->arena;
    const json_t *reason = json_object_get(r, "reason");
    out->name = wd_arena_strdup(a, json_string_value(json_object_get(r, "name")));
    out->reason = wd_arena_strdup(a, reason ? json_string_value(reason) : "");
    if (out->name == NULL || out->reason == NULL)
        return oom(c);
    out->action = action_of(json_string_value(json_object_get(r, "action")));
    const json_t *srv = json_object_get(r, "server"), *tool = json_object_get(r, "tool");
    out->has_server = srv != NULL;
    out->has_tool = tool != NULL;
    if (!glist_from(c, srv, &out->server) || !glist_from(c, tool, &out->tool))
        return false;
    const json_t *args = json_object_get(r, "args");
    size_t n = json_array_size(args);
    if (n == 0)
        return true;
    wd_targ *ta = wd_arena_alloc(a, n * sizeof *ta);
    if (ta == NULL)
        return oom(c);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(args, i), *rx = json_object_get(x, "regex");
        ta[i].key = wd_arena_strdup(a, json_string_value(json_object_get(x, "key")));
        ta[i].src = wd_arena_strdup(a, json_string_value(rx));
        if (ta[i].key == NULL || ta[i].src == NULL)
            return oom(c);
        int err = 0;
        PCRE2_SIZE off = 0;
        ta[i].re = pcre2_compile((PCRE2_SPTR)json_string_value(rx), json_string_length(rx), 0,
                                 &err, &off, NULL);
        if (ta[i].re == NULL)
            return oom(c); /* validated already: only memory can fail here */
        c->p->codes[c->p->n_codes++] = ta[i].re;
        size_t sz = 0;
        if (pcre2_pattern_info(ta[i].re, PCRE2_INFO_SIZE, &sz) == 0)
            c->p->regex_bytes += sz;
    }
    out->args = ta;
    out->n_args = (uint32_t)n;
    return true;
}

/* ---- indexes ---- */

typedef struct ikey {
    const char *key;
    uint32_t len;
    uint32_t rule;
    uint8_t prefix; /* 0 exact, 1 prefix */
} ikey;

static int ikey_cmp(const void *a, const void *b)
{
    const ikey *x = a, *y = b;
    if (x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->key, y->key, n);
    if (r != 0)
        return r;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

uint32_t wd_index_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool htab_init(cc *c, wd_htab *t, size_t n)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    if ((t->slots = wd_arena_alloc(&c->p->arena, cap * sizeof *t->slots)) == NULL)
        return oom(c);
    t->mask = (uint32_t)(cap - 1);
    return true;
}

static void htab_put(wd_htab *t, const char *key, uint32_t len, uint32_t off, uint32_t n)
{
    uint32_t h = wd_index_hash(key, len);
    uint32_t i = h & t->mask;
    while (t->slots[i].key != NULL)
        i = (i + 1) & t->mask;
    t->slots[i] = (wd_hent){key, len, h, off, n};
}

/* Build an index over n rules; globs_of(i) is the keyed list of rule i, or NULL when the rule
 * has no such constraint (it then goes to "always"). */
static bool build_index(cc *c, wd_index *ix, uint32_t n, const wd_glist *(*globs_of)(cc *, uint32_t))
{
    size_t nk = 0;
    for (uint32_t i = 0; i < n; i++) {
        const wd_glist *gl = globs_of(c, i);
        if (gl != NULL)
            nk += gl->n;
    }
    ikey *keys = nk ? malloc(nk * sizeof *keys) : NULL;
    uint32_t *always = wd_arena_alloc(&c->p->arena, ((size_t)n + 1) * sizeof *always);
    if ((nk && keys == NULL) || always == NULL) {
        free(keys);
        return oom(c);
    }
    size_t k = 0;
    uint32_t na = 0;
    for (uint32_t i = 0; i < n; i++) {
        const wd_glist *gl = globs_of(c, i);
        bool keyed = gl != NULL;
        for (uint32_t j = 0; keyed && j < gl->n; j++)
            if (gl->g[j].prefix == 0)
                keyed = false;
        if (!keyed) {
            always[na++] = i;
            continue;
        }
        for (uint32_t j = 0; j < gl->n; j++) {
            const wd_glob *g = &gl->g[j];
            ikey *x = &keys[k++];
            x->key = g->text;
            x->rule = i;
            x->prefix = g->kind != WD_GLOB_LITERAL;
            x->len = x->prefix ? (g->prefix > WD_MAX_PREFIX_INDEX ? WD_MAX_PREFIX_INDEX : g->prefix)
                               : g->len;
        }
    }
    ix->always = always;
    ix->n_always = na;
    if (k > 0)
        qsort(keys, k, sizeof *keys, ikey_cmp);
    /* dedupe (same key, same rule), count distinct keys per table, collect prefix lengths */
    uint32_t *post = wd_arena_alloc(&c->p->arena, (k + 1) * sizeof *post);
    uint16_t *plens = wd_arena_alloc(&c->p->arena, (WD_MAX_PREFIX_INDEX + 1) * sizeof *plens);
    bool seen_len[WD_MAX_PREFIX_INDEX + 1] = {false};
    size_t ndist[2] = {0, 0};
    if (post == NULL || plens == NULL) {
        free(keys);
        return oom(c);
    }
    for (size_t i = 0; i < k; i++) {
        bool same_key = i > 0 && keys[i - 1].prefix == keys[i].prefix &&
                        keys[i - 1].len == keys[i].len &&
                        memcmp(keys[i - 1].key, keys[i].key, keys[i].len) == 0;
        if (!same_key)
            ndist[keys[i].prefix]++;
        if (keys[i].prefix)
            seen_len[keys[i].len] = true;
    }
    if (!htab_init(c, &ix->exact, ndist[0]) || !htab_init(c, &ix->prefix, ndist[1])) {
        free(keys);
        return false;
    }
    uint32_t np = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        uint32_t off = np;
        while (j < k && keys[j].prefix == keys[i].prefix && keys[j].len == keys[i].len &&
               memcmp(keys[j].key, keys[i].key, keys[i].len) == 0) {
            if (np == off || post[np - 1] != keys[j].rule)
                post[np++] = keys[j].rule;
            j++;
        }
        htab_put(keys[i].prefix ? &ix->prefix : &ix->exact, keys[i].key, keys[i].len, off,
                 np - off);
        i = j;
    }
    uint32_t nl = 0;
    for (uint32_t L = 1; L <= WD_MAX_PREFIX_INDEX; L++)
        if (seen_len[L])
            plens[nl++] = (uint16_t)L;
    ix->postings = post;
    ix->plens = plens;
    ix->n_plens = nl;
    free(keys);
    return true;
}

static const wd_glist *server_key(cc *c, uint32_t i)
{
    const wd_srule *r = &c->p->srules[i];
    return (r->fields & WD_F_NAME) ? &r->mname : NULL;
}

static const wd_glist *tool_key(cc *c, uint32_t i)
{
    const wd_trule *r = &c->p->trules[i];
    return r->has_tool ? &r->tool : NULL;
}

/* ---- whole policy ---- */

static void policy_free(wd_policy *p)
{
    for (uint32_t i = 0; i < p->n_codes; i++)
        pcre2_code_free(p->codes[i]);
    wd_arena_free(&p->arena);
    free(p);
}

static size_t count_regexes(const json_t *tools)
{
    size_t n = 0;
    const json_t *rules = json_object_get(tools, "rules");
    for (size_t i = 0; i < json_array_size(rules); i++)
        n += json_array_size(json_object_get(json_array_get(rules, i), "args"));
    return n;
}

static bool compile_all(cc *c, const json_t *doc)
{
    wd_policy *p = c->p;
    wd_arena *a = &p->arena;
    const json_t *mode = json_object_get(doc, "mode");
    p->mode = mode && strcmp(json_string_value(mode), "audit") == 0 ? WD_MODE_AUDIT
                                                                     : WD_MODE_ENFORCE;
    const json_t *profs = json_object_get(doc, "permission_profiles");
    size_t npr = json_object_size(profs);
    if (npr > 0) {
        if ((p->profiles = wd_arena_alloc(a, npr * sizeof *p->profiles)) == NULL)
            return oom(c);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)profs, k, v) {
            if (!compile_profile(c, k, v, &p->profiles[p->n_profiles]))
                return false;
            p->n_profiles++;
        }
    }
    const json_t *srv = json_object_get(doc, "servers");
    p->has_servers = srv != NULL;
    const json_t *def = json_object_get(srv, "default");
    p->server_default = def && strcmp(json_string_value(def), "allow") == 0 ? WD_ACT_ALLOW
                                                                             : WD_ACT_DENY;
    const json_t *rules = json_object_get(srv, "rules");
    size_t n = json_array_size(rules);
    if (n > 0) {
        wd_srule *sr = wd_arena_alloc(a, n * sizeof *sr);
        if (sr == NULL)
            return oom(c);
        p->srules = sr;
        for (size_t i = 0; i < n; i++) {
            if (!compile_srule(c, json_array_get(rules, i), &sr[i]))
                return false;
            p->n_srules++;
        }
    }
    const json_t *tools = json_object_get(doc, "mcp_tool_policy");
    p->has_tools = tools != NULL;
    def = json_object_get(tools, "default");
    p->tool_default = def && strcmp(json_string_value(def), "deny") == 0 ? WD_ACT_DENY
                                                                          : WD_ACT_ALLOW;
    size_t nrx = count_regexes(tools);
    if (nrx > 0 && (p->codes = wd_arena_alloc(a, nrx * sizeof *p->codes)) == NULL)
        return oom(c);
    rules = json_object_get(tools, "rules");
    n = json_array_size(rules);
    if (n > 0) {
        wd_trule *tr = wd_arena_alloc(a, n * sizeof *tr);
        if (tr == NULL)
            return oom(c);
        p->trules = tr;
        for (size_t i = 0; i < n; i++) {
            if (!compile_trule(c, json_array_get(rules, i), &tr[i]))
                return false;
            p->n_trules++;
        }
    }
    return build_index(c, &p->sidx, p->n_srules, server_key) &&
           build_index(c, &p->tidx, p->n_trules, tool_key);
}

wd_code wd_policy_compile_doc(const json_t *doc, wd_policy **out, wd_err *e)
{
    return wd_policy_compile_doc_at(doc, out, NULL, 0, e);
}

wd_code wd_policy_compile_doc_at(const json_t *doc, wd_policy **out, char *path, size_t cap,
                                 wd_err *e)
{
    *out = NULL;
    wd_code rc = wd_policy_validate_doc_at(doc, path, cap, e);
    if (rc != WD_OK)
        return rc;
    wd_policy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return wd_err_set(e, WD_E_NOMEM, "compiling the policy: out of memory");
    atomic_init(&p->refs, 1);
    cc c = {p, e};
    if (!compile_all(&c, doc)) {
        wd_code code = e ? e->code : WD_E_NOMEM;
        policy_free(p);
        return code == WD_OK ? WD_E_NOMEM : code;
    }
    *out = p;
    return WD_OK;
}

wd_policy *wd_policy_ref(wd_policy *p)
{
    if (p != NULL)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void wd_policy_unref(wd_policy *p)
{
    if (p == NULL)
        return;
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        policy_free(p);
}

void wd_policy_get_info(const wd_policy *p, wd_policy_info *info)
{
    memset(info, 0, sizeof *info);
    info->mode = p->mode;
    info->server_rules = p->n_srules;
    info->tool_rules = p->n_trules;
    info->profiles = p->n_profiles;
    info->has_servers = p->has_servers;
    info->has_tools = p->has_tools;
    info->bytes = sizeof *p + p->arena.bytes + p->regex_bytes;
}

const wd_profile *wd_policy_find_profile(const wd_policy *p, const char *name)
{
    const wd_cprofile *c = wd_policy_cprofile(p, name);
    return c ? &c->pub : NULL;
}
