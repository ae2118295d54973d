/* glob.c — parsing and matching of SPEC §6 globs. Must never recurse, backtrack without bound,
 * allocate, or treat any byte but * ? [ as magic (no escapes, no braces). */
#include "glob.h"

#include <stdio.h>
#include <string.h>

enum { T_LIT = 0, T_ANY, T_CLASS, T_STAR, T_DSTAR };

#define NWORDS ((WD_MAX_GLOB_LEN + 1 + 63) / 64)

#define TOK(kind, arg) ((uint32_t)(kind) | ((uint32_t)(arg) << 8))
#define TKIND(t) ((t) & 0xffu)
#define TARG(t) ((t) >> 8)

static inline bool bit_get(const uint8_t *m, unsigned char c) { return (m[c >> 3] >> (c & 7)) & 1u; }
static inline void bit_set(uint8_t *m, unsigned char c) { m[c >> 3] |= (uint8_t)(1u << (c & 7)); }
static inline void st_set(uint64_t *s, size_t i) { s[i >> 6] |= (uint64_t)1 << (i & 63); }
static inline bool st_get(const uint64_t *s, size_t i) { return (s[i >> 6] >> (i & 63)) & 1u; }

static bool fail(char *err, size_t errsz, const char *msg)
{
    if (err != NULL && errsz > 0)
        snprintf(err, errsz, "%s", msg);
    return false;
}

/* Parse "[...]" starting at text[*i] == '['; on success *i is just past ']'. */
static bool parse_class(const char *text, size_t len, size_t *i, uint8_t out[32], char *err,
                        size_t errsz)
{
    size_t j = *i + 1;
    bool neg = false;
    memset(out, 0, 32);
    if (j < len && (text[j] == '!' || text[j] == '^')) {
        neg = true;
        j++;
    }
    bool first = true;
    for (;;) {
        if (j >= len)
            return fail(err, errsz, "unterminated [");
        unsigned char c = (unsigned char)text[j];
        if (c == ']' && !first)
            break;
        first = false;
        if (j + 2 < len && text[j + 1] == '-' && text[j + 2] != ']') {
            unsigned char d = (unsigned char)text[j + 2];
            if (d < c)
                return fail(err, errsz, "bad range in [...]: end before start");
            for (unsigned x = c; x <= d; x++)
                bit_set(out, (unsigned char)x);
            j += 3;
        } else {
            bit_set(out, c);
            j++;
        }
    }
    if (neg)
        for (int k = 0; k < 32; k++)
            out[k] = (uint8_t)~out[k];
    out[0] &= (uint8_t)~1u;                         /* never NUL */
    out['/' >> 3] &= (uint8_t)~(1u << ('/' & 7));  /* never '/' */
    bool any = false;
    for (int k = 0; k < 32; k++)
        any |= out[k] != 0;
    if (!any)
        return fail(err, errsz, "[...] matches no character");
    *i = j + 1;
    return true;
}

bool wd_glob_parse(const char *text, wd_glob_buf *buf, wd_glob *g, char *err, size_t errsz)
{
    size_t len = strlen(text);
    if (len == 0)
        return fail(err, errsz, "empty glob");
    if (len > WD_MAX_GLOB_LEN) {
        if (err != NULL && errsz > 0)
            snprintf(err, errsz, "glob longer than %d bytes", WD_MAX_GLOB_LEN);
        return false;
    }
    size_t ntok = 0, ncls = 0;
    bool has_slash = false;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (c == '*') {
            if (i + 1 < len && text[i + 1] == '*') {
                i += 2;
                while (i < len && text[i] == '*')
                    i++;
                buf->tok[ntok++] = TOK(T_DSTAR, 0);
            } else {
                i++;
                buf->tok[ntok++] = TOK(T_STAR, 0);
            }
        } else if (c == '?') {
            buf->tok[ntok++] = TOK(T_ANY, 0);
            i++;
        } else if (c == '[') {
            if (!parse_class(text, len, &i, buf->cls[ncls], err, errsz))
                return false;
            buf->tok[ntok++] = TOK(T_CLASS, ncls);
            ncls++;
        } else {
            if (c == '/')
                has_slash = true;
            buf->tok[ntok++] = TOK(T_LIT, c);
            i++;
        }
    }
    size_t prefix = 0;
    while (prefix < ntok && TKIND(buf->tok[prefix]) == T_LIT)
        prefix++;
    g->text = text;
    g->tok = buf->tok;
    g->cls = (const uint8_t(*)[32])buf->cls;
    g->len = (uint16_t)len;
    g->ntok = (uint16_t)ntok;
    g->ncls = (uint16_t)ncls;
    g->prefix = (uint16_t)prefix;
    g->has_slash = has_slash;
    size_t suffix = 0;
    while (suffix < ntok - prefix && TKIND(buf->tok[ntok - 1 - suffix]) == T_LIT)
        suffix++;
    g->suffix = 0;
    if (prefix == ntok) {
        g->kind = WD_GLOB_LITERAL;
    } else if (prefix + 1 + suffix == ntok && TKIND(buf->tok[prefix]) == T_STAR) {
        g->kind = WD_GLOB_STAR_FIX;
        g->suffix = (uint16_t)suffix;
    } else if (prefix + 1 + suffix == ntok && TKIND(buf->tok[prefix]) == T_DSTAR) {
        g->kind = WD_GLOB_DSTAR_FIX;
        g->suffix = (uint16_t)suffix;
    } else {
        g->kind = WD_GLOB_GENERAL;
    }
    return true;
}

/* Add to s every state reachable through stars (a star may match nothing). Ascending order
 * makes one pass enough: a star at i adds i+1, which is visited later in the same pass. */
static void closure(const wd_glob *g, uint64_t *s, size_t nw)
{
    for (size_t w = 0; w < nw; w++) {
        uint64_t done = 0;
        for (;;) {
            uint64_t bits = s[w] & ~done;
            if (bits == 0)
                break;
            unsigned b = (unsigned)__builtin_ctzll(bits);
            done |= (uint64_t)1 << b;
            size_t i = w * 64 + b;
            if (i < g->ntok) {
                unsigned k = TKIND(g->tok[i]);
                if (k == T_STAR || k == T_DSTAR)
                    st_set(s, i + 1);
            }
        }
    }
}

/* An input symbol: a literal byte, or (for coverage) a token of another glob. */
typedef struct sym {
    unsigned kind;
    unsigned char c;
    const uint8_t *cls;
} sym;

static bool class_is_all(const uint8_t *m)
{
    for (unsigned x = 1; x < 256; x++)
        if (x != '/' && !bit_get(m, (unsigned char)x))
            return false;
    return true;
}

static bool class_subset(const uint8_t *a, const uint8_t *b)
{
    for (int k = 0; k < 32; k++)
        if ((a[k] & (uint8_t)~b[k]) != 0)
            return false;
    return true;
}

static bool class_is_single(const uint8_t *m, unsigned char c)
{
    for (unsigned x = 0; x < 256; x++)
        if (bit_get(m, (unsigned char)x) != (x == c))
            return false;
    return true;
}

/* Transition of pattern token t on symbol s: 0 none, 1 advance, 2 stay (a star absorbing). */
static int trans(const wd_glob *g, uint32_t t, const sym *s)
{
    unsigned k = TKIND(t);
    switch (s->kind) {
    case T_LIT:
        switch (k) {
        case T_LIT: return s->c == (unsigned char)TARG(t);
        case T_ANY: return s->c != '/';
        case T_CLASS: return bit_get(g->cls[TARG(t)], s->c);
        case T_STAR: return s->c != '/' ? 2 : 0;
        default: return 2;
        }
    case T_ANY:
        switch (k) {
        case T_ANY: return 1;
        case T_CLASS: return class_is_all(g->cls[TARG(t)]);
        case T_STAR:
        case T_DSTAR: return 2;
        default: return 0;
        }
    case T_CLASS:
        switch (k) {
        case T_LIT: return class_is_single(s->cls, (unsigned char)TARG(t));
        case T_ANY: return 1;
        case T_CLASS: return class_subset(s->cls, g->cls[TARG(t)]);
        case T_STAR:
        case T_DSTAR: return 2;
        default: return 0;
        }
    case T_STAR:
        return (k == T_STAR || k == T_DSTAR) ? 2 : 0;
    default: /* T_DSTAR */
        return k == T_DSTAR ? 2 : 0;
    }
}

typedef struct nfa {
    uint64_t cur[NWORDS];
    uint64_t nxt[NWORDS];
    size_t nw;
} nfa;

static void nfa_start(nfa *m, const wd_glob *g, size_t state)
{
    m->nw = ((size_t)g->ntok + 1 + 63) / 64;
    memset(m->cur, 0, m->nw * sizeof m->cur[0]);
    st_set(m->cur, state);
    closure(g, m->cur, m->nw);
}

/* Feed one symbol; false when no state is left (the match has failed). */
static bool nfa_feed(nfa *m, const wd_glob *g, const sym *s)
{
    bool any = false;
    memset(m->nxt, 0, m->nw * sizeof m->nxt[0]);
    for (size_t w = 0; w < m->nw; w++) {
        uint64_t bits = m->cur[w];
        while (bits != 0) {
            unsigned b = (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            size_t i = w * 64 + b;
            if (i >= g->ntok)
                continue;
            int r = trans(g, g->tok[i], s);
            if (r == 1) {
                st_set(m->nxt, i + 1);
                any = true;
            } else if (r == 2) {
                st_set(m->nxt, i);
                any = true;
            }
        }
    }
    if (!any)
        return false;
    closure(g, m->nxt, m->nw);
    memcpy(m->cur, m->nxt, m->nw * sizeof m->cur[0]);
    return true;
}

bool wd_glob_match(const wd_glob *g, const char *s, size_t n)
{
    size_t p = g->prefix, x = g->suffix;
    switch (g->kind) {
    case WD_GLOB_LITERAL:
        return n == g->len && memcmp(s, g->text, n) == 0;
    case WD_GLOB_STAR_FIX:
        return n >= p + x && memcmp(s, g->text, p) == 0 &&
               memcmp(s + n - x, g->text + g->len - x, x) == 0 &&
               memchr(s + p, '/', n - p - x) == NULL && memchr(s + p, '\0', n - p - x) == NULL;
    case WD_GLOB_DSTAR_FIX:
        return n >= p + x && memcmp(s, g->text, p) == 0 &&
               memcmp(s + n - x, g->text + g->len - x, x) == 0 &&
               memchr(s + p, '\0', n - p - x) == NULL;
    default:
        break;
    }
    if (n < p || memcmp(s, g->text, p) != 0)
        return false;
    nfa m;
    nfa_start(&m, g, p);
    sym y = {T_LIT, 0, NULL};
    for (size_t i = p; i < n; i++) {
        y.c = (unsigned char)s[i];
        if (y.c == '\0' || !nfa_feed(&m, g, &y))
            return false;
    }
    return st_get(m.cur, g->ntok);
}

bool wd_glob_covers(const wd_glob *limit, const wd_glob *req)
{
    if (req->kind == WD_GLOB_LITERAL)
        return wd_glob_match(limit, req->text, req->len);
    /* "P**" takes every string that starts with P: enough that req's literal start does */
    if (limit->kind == WD_GLOB_DSTAR_FIX && limit->suffix == 0 && req->prefix >= limit->prefix &&
        memcmp(req->text, limit->text, limit->prefix) == 0)
        return true;
    nfa m;
    nfa_start(&m, limit, 0);
    for (size_t i = 0; i < req->ntok; i++) {
        uint32_t t = req->tok[i];
        sym y = {TKIND(t), 0, NULL};
        if (y.kind == T_LIT)
            y.c = (unsigned char)TARG(t);
        else if (y.kind == T_CLASS)
            y.cls = req->cls[TARG(t)];
        if (!nfa_feed(&m, limit, &y))
            return false;
    }
    return st_get(m.cur, limit->ntok);
}

bool wd_glob_match_str(const char *pattern, const char *s)
{
    wd_glob_buf buf;
    wd_glob g;
    if (pattern == NULL || s == NULL || !wd_glob_parse(pattern, &buf, &g, NULL, 0))
        return false;
    return wd_glob_match(&g, s, strlen(s));
}
