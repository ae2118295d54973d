/* test_yaml.c — focus: the limited YAML loader (core-schema scalars, one document, no tags, no
 * duplicate keys, scalar keys, aliases counted in full, depth/size/node limits, messages). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json.h"
#include "codec/yaml.h"
#include "warden/limits.h"

static wd_code load(const char *s, json_t **v, wd_err *e)
{
    return wd_yaml_load((const unsigned char *)s, strlen(s), v, e);
}

/* Load s (len bytes) and expect rejection with code; nothing may be handed out. Returns the
 * message in msg (when not NULL) for further checks. */
static void expect_reject_n(const char *s, size_t len, wd_code code, char *msg, size_t msgsz)
{
    wd_err e;
    wd_err_clear(&e);
    json_t *v = (json_t *)&e; /* any non-NULL value: must be reset */
    wd_code c = wd_yaml_load((const unsigned char *)s, len, &v, &e);
    if (c != code)
        fprintf(stderr, "# got %d (%s) for input starting '%.40s'\n", c, e.msg, s ? s : "");
    assert_int_equal(c, code);
    assert_int_equal(e.code, code);
    assert_null(v);
    assert_true(strlen(e.msg) > 0);
    if (msg != NULL)
        snprintf(msg, msgsz, "%s", e.msg);
}

static void expect_reject(const char *s, wd_code code)
{
    expect_reject_n(s, strlen(s), code, NULL, 0);
}

/* Load s and compare with the JSON text expect (compact, insertion order). */
static void expect_json(const char *s, const char *expect)
{
    json_t *v = NULL;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = load(s, &v, &e);
    if (c != WD_OK)
        fprintf(stderr, "# %s\n", e.msg);
    assert_int_equal(c, WD_OK);
    assert_non_null(v);
    char *got = wd_json_dump(v, NULL);
    assert_non_null(got);
    assert_string_equal(got, expect);
    free(got);
    json_decref(v);
}

/* A growing text buffer for generated documents. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k + 1 > b->cap) {
        size_t cap = (b->n + k + 1) * 2;
        char *q = realloc(b->p, cap);
        assert_non_null(q);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}

static void t01_plain_scalars_resolve_by_core_schema(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *json;
    } table[] = {
        {"", "null"}, {"~", "null"}, {"null", "null"}, {"Null", "null"}, {"NULL", "null"},
        {"true", "true"}, {"True", "true"}, {"TRUE", "true"},
        {"false", "false"}, {"False", "false"}, {"FALSE", "false"},
        {"0", "0"}, {"-17", "-17"}, {"+5", "5"}, {"007", "7"}, {"-0", "0"},
        {"0o17", "15"}, {"0x1F", "31"}, {"0xff", "255"},
        {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"},
        {"0x7FFFFFFFFFFFFFFF", "9223372036854775807"},
        {"1.5", "1.5"}, {"-.5", "-0.5"}, {"+.5", "0.5"}, {"1e3", "1000.0"}, {"1.5E-2", "0.015"},
        {"1.", "1.0"}, {"2.5e+1", "25.0"},
        /* everything else is a string */
        {"yes", "\"yes\""}, {"no", "\"no\""}, {"on", "\"on\""}, {"off", "\"off\""},
        {"tRUE", "\"tRUE\""}, {"nulls", "\"nulls\""}, {"0x", "\"0x\""}, {"0o8", "\"0o8\""},
        {"0xG1", "\"0xG1\""}, {"-0x1", "\"-0x1\""}, {"1_000", "\"1_000\""},
        {"1.2.3", "\"1.2.3\""}, {"12:30", "\"12:30\""}, {"2026-10-01", "\"2026-10-01\""},
        {"e3", "\"e3\""}, {"1e", "\"1e\""}, {".", "\".\""}, {"+", "\"+\""}, {"fs-*", "\"fs-*\""},
        {"inf", "\"inf\""}, {"nan", "\"nan\""},
        /* quoted scalars are strings whatever they say */
        {"'true'", "\"true\""}, {"\"1\"", "\"1\""}, {"'~'", "\"~\""}, {"\"\"", "\"\""},
        {"'null'", "\"null\""}, {"\"0x1F\"", "\"0x1F\""}, {"\"a\\tb\\u00e9\"", "\"a\\tb\xc3\xa9\""},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char doc[128], expect[128];
        snprintf(doc, sizeof doc, "v: %s\n", table[i].yaml);
        snprintf(expect, sizeof expect, "{\"v\":%s}", table[i].json);
        json_t *v = NULL;
        wd_err e;
        assert_int_equal(load(doc, &v, &e), WD_OK);
        json_t *want = json_loads(expect, 0, NULL);
        assert_non_null(want);
        if (!json_equal(v, want)) {
            char *got = wd_json_dump(v, NULL);
            fprintf(stderr, "# '%s' gave %s, want %s\n", table[i].yaml, got, expect);
            free(got);
        }
        assert_true(json_equal(v, want));
        json_decref(want);
        json_decref(v);
    }
}

static void t02_block_scalars_are_strings(void **state)
{
    (void)state;
    expect_json("lit: |\n  true\n  2\nfold: >\n  a\n  b\nkeep: |+\n  x\n\nstrip: |-\n  7\n",
                "{\"lit\":\"true\\n2\\n\",\"fold\":\"a b\\n\",\"keep\":\"x\\n\\n\",\"strip\":\"7\"}");
}

static void t03_nested_maps_and_lists(void **state)
{
    (void)state;
    expect_json("version: 1\n"
                "servers:\n"
                "  default: deny\n"
                "  rules:\n"
                "    - name: a\n"
                "      match: {name: [\"fs-*\"], labels: {team: payments}}\n"
                "    - name: b\n"
                "      args:\n"
                "        - {key: path, regex: \"^/(etc|usr)/\"}\n"
                "empty_map: {}\n"
                "empty_list: []\n",
                "{\"version\":1,\"servers\":{\"default\":\"deny\",\"rules\":["
                "{\"name\":\"a\",\"match\":{\"name\":[\"fs-*\"],\"labels\":{\"team\":\"payments\"}}},"
                "{\"name\":\"b\",\"args\":[{\"key\":\"path\",\"regex\":\"^/(etc|usr)/\"}]}]},"
                "\"empty_map\":{},\"empty_list\":[]}");
    expect_json("- [1, [2, [3]]]\n- - x\n  - y\n", "[[1,[2,[3]]],[\"x\",\"y\"]]");
    /* keys are strings, whatever they look like */
    expect_json("1: a\ntrue: b\nnull: c\n~: d\n'q': e\n", "{\"1\":\"a\",\"true\":\"b\",\"null\":\"c\","
                                                      "\"~\":\"d\",\"q\":\"e\"}");
    /* a top-level scalar or list is fine here; the caller decides what it wants */
    expect_json("just text\n", "\"just text\"");
}

static void t04_rejects_duplicate_keys(void **state)
{
    (void)state;
    char msg[WD_ERR_MSG_MAX];
    expect_reject_n("a: 1\nb: 2\na: 3\n", 15, WD_E_DUPLICATE_KEY, msg, sizeof msg);
    assert_non_null(strstr(msg, "line 3"));
    assert_non_null(strstr(msg, "'a'"));
    expect_reject("servers:\n  rules:\n    - name: x\n    - name: y\n      action: allow\n"
                  "      name: z\n",
                  WD_E_DUPLICATE_KEY);
    expect_reject("{a: 1, a: 2}", WD_E_DUPLICATE_KEY);
    /* the same key however it is quoted */
    expect_reject("a: 1\n'a': 2\n", WD_E_DUPLICATE_KEY);
    expect_reject("\"a\": 1\na: 2\n", WD_E_DUPLICATE_KEY);
    expect_reject("1: x\n'1': y\n", WD_E_DUPLICATE_KEY);
    /* "<<" is an ordinary key, not a merge */
    expect_reject("<<: 1\n<<: 2\n", WD_E_DUPLICATE_KEY);
    /* the same key in sibling maps is fine */
    expect_json("- {a: 1}\n- {a: 2}\n", "[{\"a\":1},{\"a\":2}]");
}

static void t05_rejects_a_second_document(void **state)
{
    (void)state;
    expect_reject("a: 1\n---\nb: 2\n", WD_E_MALFORMED);
    expect_reject("--- a\n--- b\n", WD_E_MALFORMED);
    expect_reject("a: 1\n...\n---\n", WD_E_MALFORMED);
    expect_reject("a\n...\nb\n", WD_E_MALFORMED);
    /* one document with explicit markers is fine */
    expect_json("---\na: 1\n...\n", "{\"a\":1}");
}

static void t06_rejects_tags(void **state)
{
    (void)state;
    expect_reject("!!str x", WD_E_MALFORMED);
    expect_reject("!custom x", WD_E_MALFORMED);
    expect_reject("a: !!str 1\n", WD_E_MALFORMED);
    expect_reject("a: !!map {b: 1}\n", WD_E_MALFORMED);
    expect_reject("a: !!seq [1]\n", WD_E_MALFORMED);
    expect_reject("a: ! x\n", WD_E_MALFORMED);
    expect_reject("!!str k: v\n", WD_E_MALFORMED);
    expect_reject("a: !<tag:yaml.org,2002:str> x\n", WD_E_MALFORMED);
    expect_reject("%TAG !e! tag:example.com,2000:\n--- x\n", WD_E_MALFORMED);
}

static void t07_aliases_share_what_they_name(void **state)
{
    (void)state;
    expect_json("base: &b {network: none, read: [\"/srv/**\"]}\n"
                "p1: *b\n"
                "p2: *b\n"
                "name: &n fs\n"
                "list: [*n, *n]\n",
                "{\"base\":{\"network\":\"none\",\"read\":[\"/srv/**\"]},"
                "\"p1\":{\"network\":\"none\",\"read\":[\"/srv/**\"]},"
                "\"p2\":{\"network\":\"none\",\"read\":[\"/srv/**\"]},"
                "\"name\":\"fs\",\"list\":[\"fs\",\"fs\"]}");
    /* an anchored scalar keeps its resolved type; a redefined anchor means the latest one */
    expect_json("a: &x 5\nb: *x\nc: &x 'q'\nd: *x\n", "{\"a\":5,\"b\":5,\"c\":\"q\",\"d\":\"q\"}");
    /* an anchor on a key names that key's scalar */
    expect_json("&k true: *k\n", "{\"true\":true}");
    json_t *v = NULL;
    wd_err e;
    assert_int_equal(load("a: &x [1]\nb: *x\n", &v, &e), WD_OK);
    assert_ptr_equal(json_object_get(v, "a"), json_object_get(v, "b"));
    json_decref(v);
}

static void t08_rejects_alias_bomb(void **state)
{
    (void)state;
    sbuf b = {0};
    put(&b, "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (char level = 'b'; level <= 'i'; level++) {
        char line[128];
        char prev = (char)(level - 1);
        snprintf(line, sizeof line, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", level,
                 level, prev, prev, prev, prev, prev, prev, prev, prev, prev);
        put(&b, line);
    }
    char msg[WD_ERR_MSG_MAX];
    expect_reject_n(b.p, b.n, WD_E_OVERSIZED, msg, sizeof msg);
    assert_non_null(strstr(msg, "nodes"));
    free(b.p);

    /* the same shape in block style, with the bomb's root aliased repeatedly at top level */
    sbuf c = {0};
    put(&c, "l0: &l0 [x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++) {
        char line[160];
        snprintf(line, sizeof line, "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n",
                 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        put(&c, line);
    }
    expect_reject_n(c.p, c.n, WD_E_OVERSIZED, NULL, 0);
    free(c.p);
}

/* A flow list of `scalars` scalars: 1 + scalars nodes. */
static char *flat_list(size_t scalars)
{
    sbuf b = {0};
    put(&b, "[");
    for (size_t i = 0; i < scalars; i++)
        put(&b, i ? ",0" : "0");
    put(&b, "]");
    return b.p;
}

static void t09_node_count_at_limit_and_past_it(void **state)
{
    (void)state;
    json_t *v = NULL;
    wd_err e;
    char *s = flat_list(WD_MAX_POLICY_NODES - 1);
    assert_int_equal(load(s, &v, &e), WD_OK);
    assert_int_equal(json_array_size(v), WD_MAX_POLICY_NODES - 1);
    json_decref(v);
    free(s);
    s = flat_list(WD_MAX_POLICY_NODES);
    expect_reject(s, WD_E_OVERSIZED);
    free(s);

    /* mapping keys count: {k0: 0, ...} has 1 + 2 * pairs nodes */
    sbuf m = {0};
    put(&m, "{");
    for (int i = 0; i < (WD_MAX_POLICY_NODES - 1) / 2; i++) {
        char kv[32];
        snprintf(kv, sizeof kv, "%sk%d: 0", i ? ", " : "", i);
        put(&m, kv);
    }
    put(&m, "}");
    v = NULL;
    assert_int_equal(load(m.p, &v, &e), WD_OK); /* 9999 nodes */
    json_decref(v);
    m.n--;
    put(&m, ", z: 0}"); /* 10001 nodes */
    expect_reject(m.p, WD_E_OVERSIZED);
    free(m.p);

    /* aliases count at full size: [&x [nine scalars] (10 nodes), *x * k, 0 * j] */
    for (size_t extra = 0; extra < 2; extra++) {
        sbuf b = {0};
        put(&b, "[&x [0,0,0,0,0,0,0,0,0]");
        size_t k = (WD_MAX_POLICY_NODES - 11) / 10;     /* 998 aliases: 9980 nodes */
        for (size_t i = 0; i < k; i++)
            put(&b, ",*x");
        size_t pad = WD_MAX_POLICY_NODES - 11 - 10 * k; /* 9 scalars: 10000 in all */
        for (size_t i = 0; i < pad + extra; i++)
            put(&b, ",0");
        put(&b, "]");
        if (extra == 0) {
            v = NULL;
            assert_int_equal(load(b.p, &v, &e), WD_OK);
            assert_int_equal(json_array_size(v), 1 + k + pad);
            json_decref(v);
        } else {
            expect_reject(b.p, WD_E_OVERSIZED);
        }
        free(b.p);
    }
}

/* `levels` nested mappings in block style: a:\n  a:\n ... a: 1 */
static char *nested_block(size_t levels)
{
    sbuf b = {0};
    for (size_t i = 0; i < levels; i++) {
        for (size_t k = 0; k < i; k++)
            put(&b, "  ");
        put(&b, i + 1 == levels ? "a: 1\n" : "a:\n");
    }
    return b.p;
}

/* `levels` nested flow sequences around 1. */
static char *nested_flow(size_t levels)
{
    sbuf b = {0};
    for (size_t i = 0; i < levels; i++)
        put(&b, "[");
    put(&b, "1");
    for (size_t i = 0; i < levels; i++)
        put(&b, "]");
    return b.p;
}

static void t10_depth_at_limit_and_past_it(void **state)
{
    (void)state;
    json_t *v = NULL;
    wd_err e;
    char *s = nested_block(WD_MAX_POLICY_DEPTH);
    assert_int_equal(load(s, &v, &e), WD_OK);
    assert_int_equal(wd_json_depth(v), WD_MAX_POLICY_DEPTH);
    json_decref(v);
    free(s);
    s = nested_block(WD_MAX_POLICY_DEPTH + 1);
    expect_reject(s, WD_E_OVERSIZED);
    free(s);

    s = nested_flow(WD_MAX_POLICY_DEPTH);
    v = NULL;
    assert_int_equal(load(s, &v, &e), WD_OK);
    assert_int_equal(wd_json_depth(v), WD_MAX_POLICY_DEPTH);
    json_decref(v);
    free(s);
    s = nested_flow(WD_MAX_POLICY_DEPTH + 1);
    expect_reject(s, WD_E_OVERSIZED);
    free(s);
    s = nested_flow(100000); /* far past the limit: stopped early, no deep recursion */
    expect_reject(s, WD_E_OVERSIZED);
    free(s);

    /* an alias adds the depth of what it names: a: &x [[[1]]] is height 3 */
    for (size_t extra = 0; extra < 2; extra++) {
        sbuf b = {0};
        put(&b, "a: &x [[[1]]]\nb: ");
        size_t around = WD_MAX_POLICY_DEPTH - 1 - 3 + extra; /* map + around + 3 */
        for (size_t i = 0; i < around; i++)
            put(&b, "[");
        put(&b, "*x");
        for (size_t i = 0; i < around; i++)
            put(&b, "]");
        put(&b, "\n");
        if (extra == 0) {
            v = NULL;
            assert_int_equal(load(b.p, &v, &e), WD_OK);
            assert_int_equal(wd_json_depth(v), WD_MAX_POLICY_DEPTH);
            json_decref(v);
        } else {
            expect_reject(b.p, WD_E_OVERSIZED);
        }
        free(b.p);
    }
}

static void t11_size_at_limit_and_past_it(void **state)
{
    (void)state;
    size_t max = WD_MAX_POLICY_BYTES;
    char *s = malloc(max + 2);
    assert_non_null(s);
    /* a: 'xxx...x'\n of exactly max bytes */
    memset(s, 'x', max + 1);
    memcpy(s, "a: '", 4);
    memcpy(s + max - 2, "'\n", 2);
    json_t *v = NULL;
    wd_err e;
    assert_int_equal(wd_yaml_load((unsigned char *)s, max, &v, &e), WD_OK);
    assert_int_equal(strlen(json_string_value(json_object_get(v, "a"))), max - 6);
    json_decref(v);
    s[max] = '\n';
    expect_reject_n(s, max + 1, WD_E_OVERSIZED, NULL, 0);
    /* checked before parsing: anything past the limit is oversized */
    memset(s, '[', max + 1);
    expect_reject_n(s, max + 1, WD_E_OVERSIZED, NULL, 0);
    free(s);
}

static void t12_rejects_undefined_and_self_aliases(void **state)
{
    (void)state;
    char msg[WD_ERR_MSG_MAX];
    expect_reject_n("a: 1\nb: *nope\n", 14, WD_E_MALFORMED, msg, sizeof msg);
    assert_non_null(strstr(msg, "line 2"));
    assert_non_null(strstr(msg, "nope"));
    /* used before it is defined */
    expect_reject("a: *x\nb: &x 1\n", WD_E_MALFORMED);
    /* inside the node it names */
    expect_reject("&a [1, *a]", WD_E_MALFORMED);
    expect_reject("a: &a {b: [*a]}\n", WD_E_MALFORMED);
}

static void t13_rejects_non_scalar_keys(void **state)
{
    (void)state;
    expect_reject("? [a, b]\n: 1\n", WD_E_MALFORMED);
    expect_reject("? {a: 1}\n: 1\n", WD_E_MALFORMED);
    expect_reject("{[a]: 1}", WD_E_MALFORMED);
    expect_reject("? - a\n: 1\n", WD_E_MALFORMED);
    /* an alias as a key */
    expect_reject("a: &k x\n*k : 1\n", WD_E_MALFORMED);
}

static void t14_syntax_errors_name_line_and_column(void **state)
{
    (void)state;
    char msg[WD_ERR_MSG_MAX];
    const char *doc = "version: 1\nmode: enforce\nservers: [a, b\nrules: x\n";
    expect_reject_n(doc, strlen(doc), WD_E_MALFORMED, msg, sizeof msg);
    assert_non_null(strstr(msg, "line 4"));
    assert_non_null(strstr(msg, "column"));
    doc = "a: 1\nb: 2\n c: 3\n";
    expect_reject_n(doc, strlen(doc), WD_E_MALFORMED, msg, sizeof msg);
    assert_non_null(strstr(msg, "line 3"));
    doc = "a:\n\t- b\n";
    expect_reject_n(doc, strlen(doc), WD_E_MALFORMED, msg, sizeof msg);
    assert_non_null(strstr(msg, "line 2"));
    expect_reject("a: 'unterminated\n", WD_E_MALFORMED);
    expect_reject("a: \"bad \\q escape\"\n", WD_E_MALFORMED);
    expect_reject("- a\nb: c\n", WD_E_MALFORMED);
    expect_reject("a: [1, 2]]\n", WD_E_MALFORMED);
    expect_reject("a: &\n", WD_E_MALFORMED);
}

static void t15_rejects_nul_and_invalid_utf8(void **state)
{
    (void)state;
    char msg[WD_ERR_MSG_MAX];
    expect_reject_n("a: 1\nb: x\0y\n", 11, WD_E_MALFORMED, msg, sizeof msg);
    assert_non_null(strstr(msg, "line 2"));
    assert_non_null(strstr(msg, "column 5"));
    expect_reject_n("\0", 1, WD_E_MALFORMED, NULL, 0);
    expect_reject("a: \"x\\0y\"\n", WD_E_MALFORMED);  /* NUL by escape */
    expect_reject("\"k\\0\": 1\n", WD_E_MALFORMED);   /* NUL in a key */
    expect_reject("a: \xff\n", WD_E_MALFORMED);
    expect_reject("a: \xc0\x80\n", WD_E_MALFORMED);   /* overlong */
    expect_reject("a: \xed\xa0\x80\n", WD_E_MALFORMED); /* encoded surrogate */
    expect_reject("a: \xc3\n", WD_E_MALFORMED);       /* truncated */
    expect_reject("a: \"\\ud800\"\n", WD_E_MALFORMED); /* surrogate by escape */
    expect_reject_n("\xff\xfe" "a\0:\0 \0" "1\0", 10, WD_E_MALFORMED, NULL, 0); /* UTF-16 */
    expect_reject("a: \x01\n", WD_E_MALFORMED);       /* raw control character */
    /* valid UTF-8 is kept */
    expect_json("k\xc3\xa9: \"\xe2\x82\xac\"\n", "{\"k\xc3\xa9\":\"\xe2\x82\xac\"}");
}

static void t16_empty_input_is_null(void **state)
{
    (void)state;
    static const char *const docs[] = {"", "\n\n", "# only a comment\n", "---\n", "--- \n...\n"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_t *v = NULL;
        wd_err e;
        assert_int_equal(load(docs[i], &v, &e), WD_OK);
        assert_true(json_is_null(v));
        json_decref(v);
    }
    json_t *v = NULL;
    wd_err e;
    assert_int_equal(wd_yaml_load(NULL, 0, &v, &e), WD_OK);
    assert_true(json_is_null(v));
    json_decref(v);
}

static void t17_rejects_numbers_json_cannot_hold(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a: 9223372036854775808\n", "a: -9223372036854775809\n", "a: 99999999999999999999\n",
        "a: 0x8000000000000000\n",  "a: 0o1000000000000000000000\n",
        "a: 1e400\n",               "a: -1e400\n",
        "a: .inf\n",                "a: -.Inf\n",  "a: +.INF\n", "a: .nan\n", "a: .NaN\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(bad[i], WD_E_MALFORMED);
    /* quoted, the same text is just a string */
    expect_json("a: '.inf'\nb: \"99999999999999999999\"\n",
                "{\"a\":\".inf\",\"b\":\"99999999999999999999\"}");
}

static void t18_messages_are_clean(void **state)
{
    (void)state;
    char msg[WD_ERR_MSG_MAX];
    const char *doc = "\"\\e[31mkey\\u00e9\": 1\n\"\\e[31mkey\\u00e9\": 2\n";
    expect_reject_n(doc, strlen(doc), WD_E_DUPLICATE_KEY, msg, sizeof msg);
    for (const char *p = msg; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    assert_non_null(strstr(msg, "?[31mkey??"));
}

static void t19_loads_a_policy_document(void **state)
{
    (void)state;
    const char *doc =
        "version: 1\n"
        "mode: enforce              # enforce | audit\n"
        "servers:\n"
        "  default: deny\n"
        "  rules:\n"
        "    - name: official-filesystem\n"
        "      action: allow\n"
        "      reason: \"approved by security review 2026-10\"\n"
        "      match:\n"
        "        name: [\"fs-*\"]\n"
        "        command: [\"npx\", \"/usr/bin/node\"]\n"
        "        transport: [stdio, sse, streamable-http]\n"
        "        labels: {team: payments}\n"
        "      limits:\n"
        "        profile: restricted\n"
        "permission_profiles:\n"
        "  restricted:\n"
        "    network: none\n"
        "    read: [\"/srv/data/**\"]\n"
        "    env: [\"HOME\", \"PATH\", \"MCP_*\"]\n"
        "    privileged: false\n"
        "mcp_tool_policy:\n"
        "  default: allow\n"
        "  rules:\n"
        "    - name: no-system-paths\n"
        "      action: deny\n"
        "      args:\n"
        "        - {key: path, regex: \"^/(etc|usr|boot)/\"}\n";
    json_t *v = NULL;
    wd_err e;
    assert_int_equal(load(doc, &v, &e), WD_OK);
    assert_true(json_integer_value(json_object_get(v, "version")) == 1);
    json_t *rule = json_array_get(json_object_get(json_object_get(v, "servers"), "rules"), 0);
    assert_string_equal(wd_json_str(rule, "name"), "official-filesystem");
    json_t *tr = json_object_get(json_object_get(rule, "match"), "transport");
    assert_string_equal(json_string_value(json_array_get(tr, 2)), "streamable-http");
    json_t *prof = json_object_get(json_object_get(v, "permission_profiles"), "restricted");
    assert_true(json_is_false(json_object_get(prof, "privileged")));
    json_t *arg = json_array_get(
        json_object_get(json_array_get(json_object_get(json_object_get(v, "mcp_tool_policy"),
                                                       "rules"),
                                       0),
                        "args"),
        0);
    assert_string_equal(wd_json_str(arg, "regex"), "^/(etc|usr|boot)/");
    json_decref(v);
}

static void expect_at(const wd_yaml_marks *m, const json_t *root, const char *path, size_t line,
                      size_t col)
{
    size_t l = 0, c = 0;
    assert_true(wd_yaml_marks_find(m, root, path, &l, &c));
    if (l != line || c != col)
        fail_msg("%s: got %zu:%zu, want %zu:%zu", path, l, c, line, col);
}

static void t20_marks_give_line_and_column_of_a_path(void **state)
{
    (void)state;
    const char *y = "version: 1\n"                                 /* 1 */
                    "servers:\n"                                   /* 2 */
                    "  rules:\n"                                   /* 3 */
                    "    - {name: a, action: allow}\n"             /* 4 */
                    "    - name: b\n"                              /* 5 */
                    "      mtach: {name: [x, \"y\"]}\n"            /* 6 */
                    "  base: &b {k.x: [1, 2]}\n"                   /* 7 */
                    "  other: *b\n";                               /* 8 */
    json_t *v = NULL;
    wd_yaml_marks *m = NULL;
    wd_err e;
    assert_int_equal(wd_yaml_load_marked((const unsigned char *)y, strlen(y), &v, &m, &e), WD_OK);
    assert_non_null(m);
    expect_at(m, v, "version", 1, 1);
    expect_at(m, v, "servers.rules", 3, 3);
    expect_at(m, v, "servers.rules[0]", 4, 7);
    expect_at(m, v, "servers.rules[0].action", 4, 17);
    expect_at(m, v, "servers.rules[1].mtach", 6, 7);
    expect_at(m, v, "servers.rules[1].mtach.name[1]", 6, 25);
    /* a key holding a '.' is found whole */
    expect_at(m, v, "servers.base.k.x[1]", 7, 22);
    /* through an alias: the position of what it names */
    expect_at(m, v, "servers.other.k.x[0]", 7, 19);
    /* a path that leaves the tree: the deepest node reached */
    expect_at(m, v, "servers.rules[1].action", 5, 7);
    expect_at(m, v, "servers.rules[9].name", 3, 3);
    expect_at(m, v, "nothing", 1, 1);
    assert_false(wd_yaml_marks_find(NULL, v, "version", &(size_t){0}, &(size_t){0}));
    wd_yaml_marks_free(m);
    json_decref(v);
}

static void t21_marked_load_keeps_the_limits_and_codes(void **state)
{
    (void)state;
    json_t *v = (json_t *)&v;
    wd_yaml_marks *m = (wd_yaml_marks *)&m;
    wd_err e;
    const char *dup = "a: 1\na: 2\n";
    assert_int_equal(wd_yaml_load_marked((const unsigned char *)dup, strlen(dup), &v, &m, &e),
                     WD_E_DUPLICATE_KEY);
    assert_null(v);
    assert_null(m);
    /* at the node limit and one past it, as the plain loader */
    size_t n = WD_MAX_POLICY_NODES - 1; /* the list itself is one node */
    char *buf = malloc(n * 4 + 8);
    assert_non_null(buf);
    size_t k = 0;
    buf[k++] = '[';
    for (size_t i = 0; i < n; i++) {
        buf[k++] = '1';
        buf[k++] = ',';
    }
    buf[k - 1] = ']';
    assert_int_equal(wd_yaml_load_marked((const unsigned char *)buf, k, &v, &m, &e), WD_OK);
    size_t l = 0, c = 0;
    char path[32];
    snprintf(path, sizeof path, "[%zu]", n - 1);
    assert_true(wd_yaml_marks_find(m, v, path, &l, &c));
    assert_int_equal(l, 1);
    assert_int_equal(c, 2 * (n - 1) + 2);
    wd_yaml_marks_free(m);
    json_decref(v);
    buf[k - 1] = ',';
    buf[k++] = '1';
    buf[k++] = ']';
    assert_int_equal(wd_yaml_load_marked((const unsigned char *)buf, k, &v, &m, &e),
                     WD_E_OVERSIZED);
    assert_null(v);
    assert_null(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_plain_scalars_resolve_by_core_schema),
        cmocka_unit_test(t02_block_scalars_are_strings),
        cmocka_unit_test(t03_nested_maps_and_lists),
        cmocka_unit_test(t04_rejects_duplicate_keys),
        cmocka_unit_test(t05_rejects_a_second_document),
        cmocka_unit_test(t06_rejects_tags),
        cmocka_unit_test(t07_aliases_share_what_they_name),
        cmocka_unit_test(t08_rejects_alias_bomb),
        cmocka_unit_test(t09_node_count_at_limit_and_past_it),
        cmocka_unit_test(t10_depth_at_limit_and_past_it),
        cmocka_unit_test(t11_size_at_limit_and_past_it),
        cmocka_unit_test(t12_rejects_undefined_and_self_aliases),
        cmocka_unit_test(t13_rejects_non_scalar_keys),
        cmocka_unit_test(t14_syntax_errors_name_line_and_column),
        cmocka_unit_test(t15_rejects_nul_and_invalid_utf8),
        cmocka_unit_test(t16_empty_input_is_null),
        cmocka_unit_test(t17_rejects_numbers_json_cannot_hold),
        cmocka_unit_test(t18_messages_are_clean),
        cmocka_unit_test(t19_loads_a_policy_document),
        cmocka_unit_test(t20_marks_give_line_and_column_of_a_path),
        cmocka_unit_test(t21_marked_load_keeps_the_limits_and_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
