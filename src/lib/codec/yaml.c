/* yaml.c — a limited YAML loader on libyaml's event API that builds the same json_t tree as the
 * JSON decoder. Size, depth and node limits are checked as events arrive and before anything is
 * copied, so an alias bomb is refused without building it. It must never expand an alias by
 * copying (aliases share the anchored value), never accept tags, and never recurse on input. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "codec/yaml.h"
#include "base/base.h"
#include "warden/limits.h"

/* Longest piece of untrusted text (a key, an anchor name) shown in a message. */
#define SHOWN 64

/* One open sequence or mapping. */
typedef struct frame {
    json_t *node;       /* the container being filled (owned) */
    bool is_map;
    json_t *key;        /* mapping: the key waiting for its value (a json string, owned) */
    size_t start_nodes; /* node total before this container was counted */
    size_t height;      /* 1 + the height of its tallest child so far */
    char *anchor;       /* its anchor name, or NULL (owned) */
    yaml_mark_t start;  /* where it starts */
    yaml_mark_t key_at; /* mapping: where the waiting key starts */
} frame;

/* A completed anchored node. */
typedef struct anchor {
    json_t *value; /* one reference owned here */
    size_t nodes;  /* nodes it stands for, aliases inside it expanded */
    size_t height; /* 0 for a scalar */
} anchor;

typedef struct ctx {
    frame stack[WD_MAX_POLICY_DEPTH];
    size_t depth;         /* open containers */
    size_t nodes;         /* running total, aliases counted at full size */
    anchor *anchors;      /* in order of definition */
    size_t n_anchors, cap_anchors;
    json_t *anchor_index; /* anchor name -> index in anchors (latest definition wins) */
    json_t *root;
    int documents;
    wd_err *e;
    wd_yaml_marks *marks; /* NULL: positions are not recorded */
} ctx;

/* Where one value was placed: the child at position pos of parent (NULL: the root), with the
 * positions of its key (mappings) and of the value itself, 0-based as libyaml gives them. */
typedef struct mark_rec {
    const json_t *parent;
    size_t pos;
    size_t key_line, key_col;
    size_t line, col;
} mark_rec;

struct wd_yaml_marks {
    mark_rec *recs;
    size_t n, cap;
};

/* ---- messages ---- */

static wd_code at(ctx *c, const yaml_mark_t *m, wd_code code, const char *what, const char *text)
{
    char shown[SHOWN + 1];
    if (text != NULL) {
        wd_clean_text(text, shown, sizeof shown);
        return wd_err_set(c->e, code, "YAML line %zu, column %zu: %s '%s'", m->line + 1,
                          m->column + 1, what, shown);
    }
    return wd_err_set(c->e, code, "YAML line %zu, column %zu: %s", m->line + 1, m->column + 1,
                      what);
}

/* 1-based line and column of byte off in buf. */
static void locate(const unsigned char *buf, size_t off, size_t *line, size_t *col)
{
    size_t l = 1, start = 0;
    for (size_t i = 0; i < off; i++)
        if (buf[i] == '\n') {
            l++;
            start = i + 1;
        }
    *line = l;
    *col = off - start + 1;
}

static wd_code parser_error(ctx *c, const yaml_parser_t *p, const unsigned char *buf, size_t len)
{
    const char *problem = p->problem ? p->problem : "syntax error";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return wd_err_set(c->e, WD_E_NOMEM, "YAML: out of memory");
    case YAML_READER_ERROR: {
        size_t off = p->problem_offset < len ? p->problem_offset : len;
        size_t line, col;
        locate(buf, off, &line, &col);
        return wd_err_set(c->e, WD_E_MALFORMED, "YAML line %zu, column %zu (byte %zu): %s", line,
                          col, off, problem);
    }
    default:
        if (p->context != NULL)
            return wd_err_set(c->e, WD_E_MALFORMED, "YAML line %zu, column %zu: %s %s",
                              p->problem_mark.line + 1, p->problem_mark.column + 1, p->context,
                              problem);
        return wd_err_set(c->e, WD_E_MALFORMED, "YAML line %zu, column %zu: %s",
                          p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
    }
}

/* ---- scalars ---- */

static bool is_digits(const char *s, size_t n, const char *set)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    return true;
}

#define DEC "0123456789"

/* YAML 1.2 core float: [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float_text(const char *s, size_t n)
{
    size_t i = 0, d;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++, d++) {}
        if (d == 0)
            return false;
    } else {
        for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++, d++) {}
        if (d == 0)
            return false;
        if (i < n && s[i] == '.')
            for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {}
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++, d++) {}
        if (d == 0)
            return false;
    }
    return i == n;
}

static bool one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

/* A json string of s[0..n): NUL and invalid UTF-8 are malformed. */
static wd_code make_string(ctx *c, const yaml_mark_t *m, const char *s, size_t n, json_t **out)
{
    *out = NULL;
    if (memchr(s, '\0', n) != NULL)
        return at(c, m, WD_E_MALFORMED, "NUL character in scalar", NULL);
    json_t *v = json_stringn(s, n);
    if (v == NULL) {
        /* jansson refuses invalid UTF-8; the unchecked constructor tells that from no memory. */
        json_t *probe = json_stringn_nocheck(s, n);
        if (probe == NULL)
            return wd_err_set(c->e, WD_E_NOMEM, "YAML: out of memory");
        json_decref(probe);
        return at(c, m, WD_E_MALFORMED, "scalar is not valid UTF-8", NULL);
    }
    *out = v;
    return WD_OK;
}

static wd_code no_memory(ctx *c)
{
    return wd_err_set(c->e, WD_E_NOMEM, "YAML: out of memory");
}

/* Resolve a plain scalar by the YAML 1.2 core schema. */
static wd_code resolve_plain(ctx *c, const yaml_mark_t *m, const char *s, size_t n, json_t **out)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const infs[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                                       "-.inf", "-.Inf", "-.INF", NULL};
    static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
    *out = NULL;
    if (memchr(s, '\0', n) != NULL)
        return at(c, m, WD_E_MALFORMED, "NUL character in scalar", NULL);
    json_t *v = NULL;
    if (n == 0 || one_of(s, nulls)) {
        v = json_null();
    } else if (one_of(s, trues)) {
        v = json_true();
    } else if (one_of(s, falses)) {
        v = json_false();
    } else if (one_of(s, infs) || one_of(s, nans)) {
        return at(c, m, WD_E_MALFORMED, "non-finite number not supported", s);
    } else if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        bool octal = s[1] == 'o';
        if (!is_digits(s + 2, n - 2, octal ? "01234567" : DEC "abcdefABCDEF"))
            return make_string(c, m, s, n, out);
        errno = 0;
        char *end = NULL;
        unsigned long long u = strtoull(s + 2, &end, octal ? 8 : 16);
        if (errno == ERANGE || end != s + n || u > (unsigned long long)INT64_MAX)
            return at(c, m, WD_E_MALFORMED, "integer out of range", s);
        v = json_integer((json_int_t)u);
    } else if (is_digits(s + (s[0] == '-' || s[0] == '+'), n - (s[0] == '-' || s[0] == '+'),
                         DEC)) {
        errno = 0;
        char *end = NULL;
        long long i = strtoll(s, &end, 10);
        if (errno == ERANGE || end != s + n)
            return at(c, m, WD_E_MALFORMED, "integer out of range", s);
        v = json_integer((json_int_t)i);
    } else if (is_float_text(s, n)) {
        locale_t cl = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (cl == (locale_t)0)
            return no_memory(c);
        char *end = NULL;
        double d = strtod_l(s, &end, cl);
        freelocale(cl);
        if (end != s + n)
            return at(c, m, WD_E_MALFORMED, "bad number", s);
        if (!isfinite(d))
            return at(c, m, WD_E_MALFORMED, "number out of range", s);
        v = json_real(d);
    } else {
        return make_string(c, m, s, n, out);
    }
    if (v == NULL)
        return no_memory(c);
    *out = v;
    return WD_OK;
}

/* ---- tree building ---- */

static wd_code count(ctx *c, const yaml_mark_t *m, size_t n)
{
    if (n > WD_MAX_POLICY_NODES - c->nodes)
        return wd_err_set(c->e, WD_E_OVERSIZED,
                          "YAML line %zu, column %zu: more than %u nodes (aliases counted in full)",
                          m->line + 1, m->column + 1, (unsigned)WD_MAX_POLICY_NODES);
    c->nodes += n;
    return WD_OK;
}

static bool expecting_key(const ctx *c)
{
    return c->depth > 0 && c->stack[c->depth - 1].is_map && c->stack[c->depth - 1].key == NULL;
}

/* Record where the value placed at position pos of parent starts (and its key, when key is not
 * NULL). Bounded: every record is a placed node, and nodes are counted against the limit. */
static wd_code note(ctx *c, const json_t *parent, size_t pos, const yaml_mark_t *key,
                    const yaml_mark_t *m)
{
    wd_yaml_marks *t = c->marks;
    if (t == NULL)
        return WD_OK;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        if (cap > WD_MAX_POLICY_NODES + 1)
            cap = WD_MAX_POLICY_NODES + 1;
        if (cap <= t->n) /* cannot happen: every record is a counted node */
            return wd_err_set(c->e, WD_E_INTERNAL, "YAML: position table full");
        mark_rec *r = realloc(t->recs, cap * sizeof *r);
        if (r == NULL)
            return no_memory(c);
        t->recs = r;
        t->cap = cap;
    }
    const yaml_mark_t *k = key ? key : m;
    t->recs[t->n++] = (mark_rec){parent, pos, k->line, k->column, m->line, m->column};
    return WD_OK;
}

/* Place v (reference taken over) of the given height as the next value; m is where it starts. */
static wd_code place(ctx *c, const yaml_mark_t *m, json_t *v, size_t height)
{
    if (c->depth == 0) {
        c->root = v;
        return note(c, NULL, 0, NULL, m);
    }
    frame *f = &c->stack[c->depth - 1];
    if (height + 1 > f->height)
        f->height = height + 1;
    if (f->is_map) {
        int rc = json_object_set_new_nocheck(f->node, json_string_value(f->key), v);
        json_decref(f->key);
        f->key = NULL;
        if (rc != 0)
            return no_memory(c);
        return note(c, f->node, json_object_size(f->node) - 1, &f->key_at, m);
    }
    if (json_array_append_new(f->node, v) != 0)
        return no_memory(c);
    return note(c, f->node, json_array_size(f->node) - 1, NULL, m);
}

static wd_code add_anchor(ctx *c, const char *name, json_t *v, size_t nodes, size_t height)
{
    if (c->n_anchors == c->cap_anchors) {
        size_t cap = c->cap_anchors ? c->cap_anchors * 2 : 16;
        if (cap > WD_MAX_POLICY_NODES)
            cap = WD_MAX_POLICY_NODES;
        if (cap <= c->n_anchors) /* cannot happen: every anchor is a counted node */
            return wd_err_set(c->e, WD_E_INTERNAL, "YAML: anchor table full");
        anchor *a = realloc(c->anchors, cap * sizeof *a);
        if (a == NULL)
            return no_memory(c);
        c->anchors = a;
        c->cap_anchors = cap;
    }
    json_t *idx = json_integer((json_int_t)c->n_anchors);
    if (idx == NULL || json_object_set_new(c->anchor_index, name, idx) != 0)
        return no_memory(c);
    c->anchors[c->n_anchors++] = (anchor){json_incref(v), nodes, height};
    return WD_OK;
}

static wd_code no_tag(ctx *c, const yaml_mark_t *m, const yaml_char_t *tag)
{
    if (tag != NULL)
        return at(c, m, WD_E_MALFORMED, "tags are not allowed", (const char *)tag);
    return WD_OK;
}

static wd_code on_scalar(ctx *c, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *anchor_name = (const char *)ev->data.scalar.anchor;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    wd_code r = no_tag(c, m, ev->data.scalar.tag);
    if (r == WD_OK)
        r = count(c, m, 1);
    if (r != WD_OK)
        return r;

    if (expecting_key(c)) {
        frame *f = &c->stack[c->depth - 1];
        json_t *key = NULL;
        if ((r = make_string(c, m, s, n, &key)) != WD_OK)
            return r;
        if (json_object_get(f->node, json_string_value(key)) != NULL) {
            json_decref(key);
            return at(c, m, WD_E_DUPLICATE_KEY, "duplicate mapping key", s);
        }
        f->key = key;
        f->key_at = *m;
        if (anchor_name != NULL) {
            json_t *v = NULL;
            r = plain ? resolve_plain(c, m, s, n, &v) : make_string(c, m, s, n, &v);
            if (r == WD_OK)
                r = add_anchor(c, anchor_name, v, 1, 0);
            json_decref(v);
        }
        return r;
    }

    json_t *v = NULL;
    r = plain ? resolve_plain(c, m, s, n, &v) : make_string(c, m, s, n, &v);
    if (r == WD_OK && anchor_name != NULL)
        r = add_anchor(c, anchor_name, v, 1, 0);
    if (r != WD_OK) {
        json_decref(v);
        return r;
    }
    return place(c, m, v, 0);
}

static wd_code on_alias(ctx *c, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    const char *name = (const char *)ev->data.alias.anchor;
    if (expecting_key(c))
        return at(c, m, WD_E_MALFORMED, "alias used as a mapping key", name);
    for (size_t i = 0; i < c->depth; i++)
        if (c->stack[i].anchor != NULL && strcmp(c->stack[i].anchor, name) == 0)
            return at(c, m, WD_E_MALFORMED, "alias refers to a node that contains it", name);
    json_t *idx = json_object_get(c->anchor_index, name);
    if (idx == NULL)
        return at(c, m, WD_E_MALFORMED, "undefined alias", name);
    const anchor *a = &c->anchors[json_integer_value(idx)];
    wd_code r = count(c, m, a->nodes);
    if (r != WD_OK)
        return r;
    if (c->depth + a->height > WD_MAX_POLICY_DEPTH)
        return wd_err_set(c->e, WD_E_OVERSIZED, "YAML line %zu, column %zu: nesting deeper than %d",
                          m->line + 1, m->column + 1, WD_MAX_POLICY_DEPTH);
    return place(c, m, json_incref(a->value), a->height);
}

static wd_code on_start(ctx *c, const yaml_event_t *ev, bool is_map)
{
    const yaml_mark_t *m = &ev->start_mark;
    const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    const char *anchor_name = (const char *)(is_map ? ev->data.mapping_start.anchor
                                                    : ev->data.sequence_start.anchor);
    wd_code r = no_tag(c, m, tag);
    if (r != WD_OK)
        return r;
    if (expecting_key(c))
        return at(c, m, WD_E_MALFORMED, "mapping key must be a scalar", NULL);
    size_t before = c->nodes;
    if ((r = count(c, m, 1)) != WD_OK)
        return r;
    if (c->depth >= WD_MAX_POLICY_DEPTH)
        return wd_err_set(c->e, WD_E_OVERSIZED, "YAML line %zu, column %zu: nesting deeper than %d",
                          m->line + 1, m->column + 1, WD_MAX_POLICY_DEPTH);
    json_t *node = is_map ? json_object() : json_array();
    char *name = anchor_name ? strdup(anchor_name) : NULL;
    if (node == NULL || (anchor_name != NULL && name == NULL)) {
        json_decref(node);
        free(name);
        return no_memory(c);
    }
    c->stack[c->depth++] = (frame){node, is_map, NULL, before, 1, name, *m, *m};
    return WD_OK;
}

static wd_code on_end(ctx *c, const yaml_event_t *ev)
{
    if (c->depth == 0)
        return wd_err_set(c->e, WD_E_INTERNAL, "YAML: unbalanced end event");
    frame f = c->stack[--c->depth];
    json_decref(f.key); /* libyaml always pairs keys with values; kept for safety */
    wd_code r = WD_OK;
    if (f.anchor != NULL)
        r = add_anchor(c, f.anchor, f.node, c->nodes - f.start_nodes, f.height);
    free(f.anchor);
    if (r != WD_OK) {
        json_decref(f.node);
        return r;
    }
    return place(c, &f.start, f.node, f.height);
}

static wd_code on_event(ctx *c, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (c->documents++ > 0)
            return at(c, &ev->start_mark, WD_E_MALFORMED, "more than one document", NULL);
        if (ev->data.document_start.tag_directives.start !=
            ev->data.document_start.tag_directives.end)
            return at(c, &ev->start_mark, WD_E_MALFORMED, "tag directives are not allowed", NULL);
        return WD_OK;
    case YAML_SCALAR_EVENT:
        return on_scalar(c, ev);
    case YAML_ALIAS_EVENT:
        return on_alias(c, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(c, ev, false);
    case YAML_MAPPING_START_EVENT:
        return on_start(c, ev, true);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(c, ev);
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_STREAM_END_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return WD_OK;
    }
    return WD_OK;
}

static void ctx_free(ctx *c)
{
    while (c->depth > 0) {
        frame *f = &c->stack[--c->depth];
        json_decref(f->node);
        json_decref(f->key);
        free(f->anchor);
    }
    for (size_t i = 0; i < c->n_anchors; i++)
        json_decref(c->anchors[i].value);
    free(c->anchors);
    json_decref(c->anchor_index);
    json_decref(c->root);
}

static wd_code load(const unsigned char *buf, size_t len, json_t **out, wd_yaml_marks *marks,
                    wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "YAML: no output given");
    *out = NULL;
    if (len > WD_MAX_POLICY_BYTES)
        return wd_err_set(e, WD_E_OVERSIZED, "YAML document: %zu bytes, more than the limit of %u",
                          len, (unsigned)WD_MAX_POLICY_BYTES);
    if (buf == NULL && len > 0)
        return wd_err_set(e, WD_E_INTERNAL, "YAML: no input buffer");
    static const unsigned char empty[1] = "";
    if (buf == NULL)
        buf = empty;
    const unsigned char *nul = memchr(buf, '\0', len);
    if (nul != NULL) {
        size_t line, col, off = (size_t)(nul - buf);
        locate(buf, off, &line, &col);
        return wd_err_set(e, WD_E_MALFORMED, "YAML line %zu, column %zu (byte %zu): NUL byte",
                          line, col, off);
    }

    ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return wd_err_set(e, WD_E_NOMEM, "YAML: out of memory");
    c->e = e;
    c->marks = marks;
    c->anchor_index = json_object();
    yaml_parser_t p;
    if (c->anchor_index == NULL || !yaml_parser_initialize(&p)) {
        ctx_free(c);
        free(c);
        return wd_err_set(e, WD_E_NOMEM, "YAML: out of memory");
    }
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&p, buf, len);

    wd_code r = WD_OK;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            r = parser_error(c, &p, buf, len);
            break;
        }
        r = on_event(c, &ev);
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (r != WD_OK || end)
            break;
    }
    yaml_parser_delete(&p);
    if (r == WD_OK && c->depth != 0)
        r = wd_err_set(e, WD_E_INTERNAL, "YAML: stream ended inside a collection");
    if (r == WD_OK) {
        *out = c->root ? c->root : json_null();
        c->root = NULL;
    }
    ctx_free(c);
    free(c);
    return r;
}

wd_code wd_yaml_load(const unsigned char *buf, size_t len, json_t **out, wd_err *e)
{
    return load(buf, len, out, NULL, e);
}

void wd_yaml_marks_free(wd_yaml_marks *m)
{
    if (m == NULL)
        return;
    free(m->recs);
    free(m);
}

wd_code wd_yaml_load_marked(const unsigned char *buf, size_t len, json_t **out,
                            wd_yaml_marks **marks, wd_err *e)
{
    if (marks == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "YAML: no position table given");
    *marks = NULL;
    wd_yaml_marks *m = calloc(1, sizeof *m);
    if (m == NULL) {
        if (out != NULL)
            *out = NULL;
        return wd_err_set(e, WD_E_NOMEM, "YAML: out of memory");
    }
    wd_code r = load(buf, len, out, m, e);
    if (r != WD_OK) {
        wd_yaml_marks_free(m);
        return r;
    }
    *marks = m;
    return WD_OK;
}

static const mark_rec *find_rec(const wd_yaml_marks *m, const json_t *parent, size_t pos)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->recs[i].parent == parent && m->recs[i].pos == pos)
            return &m->recs[i];
    return NULL;
}

bool wd_yaml_marks_find(const wd_yaml_marks *m, const json_t *root, const char *path,
                        size_t *line, size_t *col)
{
    if (m == NULL || root == NULL || path == NULL)
        return false;
    const mark_rec *at = find_rec(m, NULL, 0);
    if (at == NULL)
        return false;
    size_t l = at->line, c = at->col;
    const json_t *cur = root;
    const char *p = path;
    bool first = true;
    while (*p != '\0') {
        if (*p == '[') {
            char *end = NULL;
            unsigned long long i = strtoull(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || !json_is_array(cur) ||
                i >= json_array_size(cur))
                break;
            const mark_rec *r = find_rec(m, cur, (size_t)i);
            if (r == NULL)
                break;
            l = r->line;
            c = r->col;
            cur = json_array_get(cur, (size_t)i);
            p = end + 1;
        } else {
            if (!first) {
                if (*p != '.')
                    break;
                p++;
            }
            if (!json_is_object(cur))
                break;
            /* the longest key that the path continues with (keys may hold '.' or '[') */
            const char *k, *best = NULL;
            size_t best_len = 0, best_pos = 0, pos = 0;
            json_t *v, *best_v = NULL;
            json_object_foreach((json_t *)cur, k, v) {
                size_t kl = strlen(k);
                if (kl >= best_len && strncmp(p, k, kl) == 0 &&
                    (p[kl] == '\0' || p[kl] == '.' || p[kl] == '[')) {
                    best = k;
                    best_len = kl;
                    best_pos = pos;
                    best_v = v;
                }
                pos++;
            }
            if (best == NULL)
                break;
            const mark_rec *r = find_rec(m, cur, best_pos);
            if (r == NULL)
                break;
            l = r->key_line;
            c = r->key_col;
            cur = best_v;
            p += best_len;
        }
        first = false;
    }
    *line = l + 1;
    *col = c + 1;
    return true;
}
