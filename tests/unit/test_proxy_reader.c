/* test_proxy_reader.c — focus: the proxy's fast strict reader of client lines
 * (wd_proxy_fast_parse) against the strict reader it stands in for (wd_json_parse): on fixed
 * lines at every limit it vouches for, on lines it must leave to the strict reader, and on
 * hundreds of thousands of random and mutated lines, it never accepts a line the strict reader
 * refuses, and when it accepts, its tree is the strict reader's (same members, same order, same
 * numbers); and the quick crossing of validated values (wd_proxy_value_end) ends each value
 * where the validating scanner does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec/json.h"
#include "proxy.h"
#include "warden/limits.h"

/* ---- helpers ---- */

typedef struct tally {
    size_t fast, strict, both;
} tally;

/* Both readers on one line: the fast one must not accept what the strict one refuses, and its
 * tree must dump to the same bytes. Returns whether the fast reader accepted. */
static bool agree(const char *s, size_t n, tally *t)
{
    json_t *fast = NULL, *strict = NULL;
    bool f = wd_proxy_fast_parse(s, n, &fast);
    bool ok = wd_json_parse((const unsigned char *)s, n, WD_MAX_MCP_MESSAGE, &strict, NULL) ==
              WD_OK;
    if (f && !ok) {
        fprintf(stderr, "# fast reader accepted what the strict one refuses: %.*s\n", (int)n, s);
        fail();
    }
    if (f) {
        assert_non_null(fast);
        char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = json_dumps(strict, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(a);
        assert_non_null(b);
        if (strcmp(a, b) != 0 || !json_equal(fast, strict)) {
            fprintf(stderr, "# trees differ for %.*s:\n# %s\n# %s\n", (int)n, s, a, b);
            fail();
        }
        free(a);
        free(b);
    } else {
        assert_null(fast);
    }
    /* the quick crossing of validated bytes ends every value where the scanner does: at every
     * byte where the scanner reads a value that a delimiter follows, as inside a container */
    for (size_t i = 0; i < n; i++) {
        size_t e = wd_proxy_value_end(s, n, i, false);
        if (e == 0 || (e < n && strchr(",:]} \t\r\n", s[e]) == NULL))
            continue;
        if (wd_proxy_value_end(s, n, i, true) != e) {
            fprintf(stderr, "# value ends differ at %zu in %.*s\n", i, (int)n, s);
            fail();
        }
    }
    if (t != NULL) {
        t->fast += f;
        t->strict += ok;
        t->both += f && ok;
    }
    json_decref(fast);
    json_decref(strict);
    return f;
}

static bool agree_str(const char *s)
{
    return agree(s, strlen(s), NULL);
}

/* ---- fixed lines ---- */

static void t_vouches_for_mcp_lines(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
        "\"arguments\":{\"message\":\"hello\"}}}",
        "  {\"jsonrpc\" : \"2.0\" , \"id\" : \"a\\\"b\\\\c\\u0041\\n\" , \"method\":\"ping\"}\t\r ",
        "[{\"jsonrpc\":\"2.0\",\"id\":-0,\"method\":\"tools/list\"},{\"jsonrpc\":\"2.0\","
        "\"method\":\"notifications/initialized\"}]",
        "{\"a\":[1,-2,3.5,-1e10,2E-3,0.0,123456789012345678,-123456789012345678],\"b\":true,"
        "\"c\":false,\"d\":null,\"e\":{},\"f\":[],\"g\":\"h\\u00e9\\u4e2d\\/\"}",
        "{\"text\":\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \x7f\"}",
        "{\"x\":1e308,\"y\":-1e308,\"z\":1e-400}",
        "[]",
        "{}",
        /* the same key in two different objects is no repetition */
        "{\"a\":{\"k\":1},\"b\":{\"k\":2},\"k\":[{\"k\":3},{\"k\":4}]}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        assert_true(agree_str(lines[i]));
}

/* Lines the fast reader leaves to the strict reader (which refuses some, accepts others). */
static void t_leaves_the_rest(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"a\":1,\"a\":2}",                       /* repeated key: refused */
        "{\"o\":{\"a\":1,\"b\":{},\"a\":3}}",      /* repeated key, nested: refused */
        "[{\"a\":1,\"a\":1}]",                     /* repeated key in a batch element: refused */
        "{\"\\u0061\":1,\"a\":2}",                 /* escaped key: refused (a repeat) */
        "{\"\\u0061\":1}",                         /* escaped key: accepted by the strict one */
        "{\"a\":\"\\u0000\"}",                     /* U+0000: refused */
        "{\"a\":\"\\ud800\"}",                     /* lone surrogate: refused */
        "{\"a\":\"\\ud83d\\ude00\"}",              /* a pair: accepted by the strict one */
        "{\"a\":1234567890123456789}",             /* 19 digits, within int64: accepted */
        "{\"a\":99999999999999999999}",            /* past int64: refused */
        "{\"a\":1e400}",                           /* real overflow: refused */
        "{\"a\":-1e400}",
        "\"a\"",                                   /* a scalar: refused */
        "1",
        "{\"a\":1} x",                             /* trailing bytes: refused */
        "{\"a\":1}{}",
        "{\"a\":\"\xc3\"}",                        /* bad UTF-8: refused */
        "{\"a\":\"\xed\xa0\x80\"}",                /* an encoded surrogate: refused */
        "{\"a\":\"\xc0\xaf\"}",                    /* overlong: refused */
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":[1,]}",
        "{\"a\":1,}",
        "{\"a\":tru}",
        "{\"a\":\"\t\"}",                          /* a raw control byte: refused */
        "",
        "   ",
        "{",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        assert_false(agree_str(lines[i]));
    /* a NUL byte inside the line */
    static const char nul[] = "{\"a\":\"x\0y\"}";
    assert_false(agree(nul, sizeof nul - 1, NULL));
}

/* Nesting: FAST_DEPTH (60) levels are read, 61 are left to the strict reader (which takes up to
 * 64 and refuses 65). */
static void t_depth_limits(void **state)
{
    (void)state;
    char s[300];
    for (size_t depth = 58; depth <= 66; depth++) {
        size_t n = 0;
        for (size_t i = 0; i < depth; i++)
            s[n++] = '[';
        for (size_t i = 0; i < depth; i++)
            s[n++] = ']';
        tally t = {0, 0, 0};
        bool f = agree(s, n, &t);
        assert_int_equal(f, depth <= 60);
        assert_int_equal(t.strict, depth <= 64);
    }
}

/* Keys: 32 in one object are compared and read, 33 are left to the strict reader. */
static void t_key_limits(void **state)
{
    (void)state;
    char s[1024];
    for (size_t keys = 31; keys <= 34; keys++) {
        size_t n = 0;
        s[n++] = '{';
        for (size_t i = 0; i < keys; i++)
            n += (size_t)snprintf(s + n, sizeof s - n, "%s\"k%zu\":%zu", i ? "," : "", i, i);
        s[n++] = '}';
        tally t = {0, 0, 0};
        assert_int_equal(agree(s, n, &t), keys <= 32);
        assert_int_equal(t.strict, 1);
    }
    /* a repeat among 32 keys, at the last one */
    size_t n = 0;
    s[n++] = '{';
    for (size_t i = 0; i < 32; i++)
        n += (size_t)snprintf(s + n, sizeof s - n, "%s\"k%zu\":1", i ? "," : "", i == 31 ? 0 : i);
    s[n++] = '}';
    tally t = {0, 0, 0};
    assert_false(agree(s, n, &t));
    assert_int_equal(t.strict, 0);
}

/* ---- random and mutated lines ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t rn(size_t n)
{
    return (size_t)(rnd() % n);
}

typedef struct gen {
    char *p;
    size_t len, cap;
} gen;

static void put(gen *g, const char *s, size_t n)
{
    if (g->len + n >= g->cap)
        return; /* the line is cut: still a line to read */
    memcpy(g->p + g->len, s, n);
    g->len += n;
}

static void puts_(gen *g, const char *s)
{
    put(g, s, strlen(s));
}

static const char *const pieces[] = {
    "a", "k", "id", "\\\"", "\\\\", "\\/", "\\n", "\\u0041", "\\u00e9", "\\u0000", "\\ud800",
    "\\udc00", "\\ud83d\\ude00", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xc3", "\xed\xa0\x80",
    "\x7f", " ", "\t", "x",
};

static void gen_string(gen *g)
{
    puts_(g, "\"");
    size_t n = rn(4);
    for (size_t i = 0; i < n; i++)
        puts_(g, pieces[rn(sizeof pieces / sizeof *pieces)]);
    puts_(g, "\"");
}

static void gen_key(gen *g)
{
    /* few distinct keys, so that repeats happen */
    static const char *const keys[] = {"\"a\"", "\"b\"", "\"id\"", "\"\\u0061\"", "\"\"",
                                       "\"c\\n\""};
    puts_(g, keys[rn(sizeof keys / sizeof *keys)]);
}

static void gen_value(gen *g, int depth)
{
    static const char *const scalars[] = {
        "0", "-0", "1", "-1", "12.5", "1e5", "1E-5", "-2.5e+3", "123456789012345678",
        "1234567890123456789", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "1e308", "1e309", "1e-400", "0.1e999",
        "true", "false", "null",
    };
    size_t k = depth > 6 ? rn(2) + 2 : rn(5);
    if (k == 0) {
        puts_(g, "{");
        size_t n = rn(4);
        for (size_t i = 0; i < n; i++) {
            if (i)
                puts_(g, ",");
            gen_key(g);
            puts_(g, rn(4) == 0 ? " : " : ":");
            gen_value(g, depth + 1);
        }
        puts_(g, "}");
    } else if (k == 1) {
        puts_(g, "[");
        size_t n = rn(4);
        for (size_t i = 0; i < n; i++) {
            if (i)
                puts_(g, rn(4) == 0 ? " , " : ",");
            gen_value(g, depth + 1);
        }
        puts_(g, "]");
    } else if (k == 2) {
        gen_string(g);
    } else {
        puts_(g, scalars[rn(sizeof scalars / sizeof *scalars)]);
    }
}

/* Break a line a little: flip, drop, insert or repeat a byte or a structural character. */
static void mutate(gen *g)
{
    static const char structural[] = "{}[],:\"\\ 0-.eE\t\nu";
    size_t times = rn(3) + 1;
    for (size_t t = 0; t < times && g->len > 0; t++) {
        size_t at = rn(g->len);
        switch (rn(5)) {
        case 0: g->p[at] = structural[rn(sizeof structural - 1)]; break;
        case 1: g->p[at] = (char)(rnd() & 0xff); break;
        case 2:
            memmove(g->p + at, g->p + at + 1, g->len - at - 1);
            g->len--;
            break;
        case 3:
            if (g->len + 1 < g->cap) {
                memmove(g->p + at + 1, g->p + at, g->len - at);
                g->p[at] = structural[rn(sizeof structural - 1)];
                g->len++;
            }
            break;
        default: g->len = at; break; /* cut */
        }
    }
}

static void t_random_and_mutated(void **state)
{
    (void)state;
    char mem[4096];
    gen g = {mem, 0, sizeof mem};
    tally t = {0, 0, 0};
    size_t rounds = 300000;
    for (size_t i = 0; i < rounds; i++) {
        g.len = 0;
        if (rn(2) == 0) {
            gen_value(&g, 0);
        } else {
            puts_(&g, "{\"jsonrpc\":\"2.0\",\"id\":");
            gen_value(&g, 3);
            puts_(&g, ",\"method\":\"tools/call\",\"params\":{\"name\":");
            gen_string(&g);
            puts_(&g, ",\"arguments\":");
            gen_value(&g, 2);
            puts_(&g, "}}");
        }
        if (rn(3) == 0)
            mutate(&g);
        agree(g.p, g.len, &t);
    }
    printf("# %zu lines: the strict reader accepted %zu, the fast one vouched for %zu\n", rounds,
           t.strict, t.fast);
    /* both sides are exercised: many lines read fast, and lines left to the strict reader */
    assert_true(t.fast > rounds / 10);
    assert_true(t.strict > t.fast);
    assert_true(t.strict < rounds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_vouches_for_mcp_lines),
        cmocka_unit_test(t_leaves_the_rest),
        cmocka_unit_test(t_depth_limits),
        cmocka_unit_test(t_key_limits),
        cmocka_unit_test(t_random_and_mutated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
