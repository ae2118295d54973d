/* test_json.c — focus: strict JSON decoding (duplicates, trailing data, UTF-8, NUL, size and depth
 * limits, numbers), the schema check with its field paths, path helpers, getters and dumping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json.h"
#include "warden/limits.h"

/* Parse a NUL-terminated text with a generous limit. */
static wd_code parse(const char *s, json_t **v, wd_err *e)
{
    return wd_json_parse((const unsigned char *)s, strlen(s), WD_MAX_ENVELOPE, v, e);
}

/* Parse and expect rejection with code; assert nothing is handed out. */
static void expect_reject_n(const char *s, size_t len, size_t max, wd_code code)
{
    wd_err e;
    json_t *v = (json_t *)&e; /* any non-NULL value: must be reset */
    wd_err_clear(&e);
    assert_int_equal(wd_json_parse((const unsigned char *)s, len, max, &v, &e), code);
    assert_int_equal(e.code, code);
    assert_null(v);
    assert_true(strlen(e.msg) > 0);
}

static void expect_reject(const char *s, wd_code code)
{
    expect_reject_n(s, strlen(s), WD_MAX_ENVELOPE, code);
}

/* A document nested depth levels deep, alternating arrays and objects: [{"a":[{"a":1}]}]... */
static char *nested(size_t depth)
{
    size_t cap = depth * 8 + 16;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = 0;
    for (size_t i = 0; i < depth; i++) {
        const char *open = (i % 2 == 0) ? "[" : "{\"a\":";
        memcpy(s + n, open, strlen(open));
        n += strlen(open);
    }
    s[n++] = '1';
    for (size_t i = depth; i-- > 0;)
        s[n++] = (i % 2 == 0) ? ']' : '}';
    s[n] = '\0';
    return s;
}

static void t01_decodes_valid_documents(void **state)
{
    (void)state;
    wd_err e;
    json_t *v = NULL;
    assert_int_equal(parse(" {\"a\": [1, -2, 3.5, true, false, null, \"x\\u00e9\\n\"],"
                           " \"b\": {\"c\": \"\xc3\xa9\"}, \"d\": {}}\r\n\t ", &v, &e),
                     WD_OK);
    assert_true(json_is_object(v));
    json_t *a = json_object_get(v, "a");
    assert_int_equal(json_array_size(a), 7);
    assert_int_equal(json_integer_value(json_array_get(a, 1)), -2);
    assert_true(json_is_real(json_array_get(a, 2)));
    assert_string_equal(json_string_value(json_array_get(a, 6)), "x\xc3\xa9\n");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "b"), "c")),
                        "\xc3\xa9");
    json_decref(v);

    v = NULL;
    assert_int_equal(parse("[]", &v, &e), WD_OK);
    assert_true(json_is_array(v));
    json_decref(v);
    v = NULL;
    assert_int_equal(parse("{}", &v, &e), WD_OK);
    assert_int_equal(json_object_size(v), 0);
    json_decref(v);
}

static void t02_rejects_duplicate_top_level_key(void **state)
{
    (void)state;
    expect_reject("{\"a\":1,\"b\":2,\"a\":1}", WD_E_DUPLICATE_KEY);
    /* Same key spelled with an escape is the same key. */
    expect_reject("{\"ab\":1,\"a\\u0062\":2}", WD_E_DUPLICATE_KEY);
}

static void t03_rejects_duplicate_nested_key(void **state)
{
    (void)state;
    expect_reject("{\"sigs\":[{\"keyid\":\"x\",\"sig\":\"y\"},{\"keyid\":\"x\",\"keyid\":\"z\"}]}",
                  WD_E_DUPLICATE_KEY);
    expect_reject("[[{\"a\":{\"b\":1,\"b\":1}}]]", WD_E_DUPLICATE_KEY);
    /* The same key in two different objects is fine. */
    wd_err e;
    json_t *v = NULL;
    assert_int_equal(parse("[{\"a\":1},{\"a\":2}]", &v, &e), WD_OK);
    json_decref(v);
}

static void t04_rejects_trailing_data(void **state)
{
    (void)state;
    expect_reject("{} x", WD_E_TRAILING_DATA);
    expect_reject("{}{}", WD_E_TRAILING_DATA);
    expect_reject("[1]\n[2]", WD_E_TRAILING_DATA);
    expect_reject("{}\n,", WD_E_TRAILING_DATA);
    expect_reject_n("{}\0", 3, 100, WD_E_TRAILING_DATA);
}

static void t05_rejects_invalid_utf8(void **state)
{
    (void)state;
    expect_reject("{\"a\":\"\xff\"}", WD_E_MALFORMED);
    expect_reject("{\"a\":\"\xc0\x80\"}", WD_E_MALFORMED);         /* overlong NUL */
    expect_reject("{\"a\":\"\xed\xa0\x80\"}", WD_E_MALFORMED);     /* encoded surrogate */
    expect_reject("{\"a\":\"\xc3\"}", WD_E_MALFORMED);             /* truncated sequence */
    expect_reject("{\"\xe9t\xe9\":1}", WD_E_MALFORMED);            /* Latin-1 key */
    expect_reject("{\"a\":\"\\ud800\"}", WD_E_MALFORMED);          /* lone surrogate escape */
}

static void t06_rejects_nul(void **state)
{
    (void)state;
    expect_reject("{\"a\":\"x\\u0000y\"}", WD_E_MALFORMED);
    expect_reject("{\"a\\u0000\":1}", WD_E_MALFORMED);
    expect_reject_n("{\"a\":\"x\0y\"}", 10, 100, WD_E_MALFORMED);
}

static void t07_rejects_raw_control_characters(void **state)
{
    (void)state;
    expect_reject("{\"a\":\"b\tc\"}", WD_E_MALFORMED);
    expect_reject("{\"a\":\"b\nc\"}", WD_E_MALFORMED);
    expect_reject("{\"a\":\"\x1b[31m\"}", WD_E_MALFORMED);
    expect_reject("{\"a\x01\":1}", WD_E_MALFORMED);
}

static void t08_size_at_limit_and_past_it(void **state)
{
    (void)state;
    size_t max = WD_MAX_ENVELOPE;
    char *s = malloc(max + 2);
    assert_non_null(s);
    /* {"a":"xxx...x"} of exactly max bytes */
    memset(s, 'x', max + 1);
    memcpy(s, "{\"a\":\"", 6);
    memcpy(s + max - 2, "\"}", 2);
    wd_err e;
    json_t *v = NULL;
    assert_int_equal(wd_json_parse((unsigned char *)s, max, max, &v, &e), WD_OK);
    assert_int_equal(strlen(wd_json_str(v, "a")), max - 8);
    json_decref(v);
    /* one byte more (a trailing space: valid JSON, but too large) */
    s[max] = ' ';
    expect_reject_n(s, max + 1, max, WD_E_OVERSIZED);
    /* the size check comes before parsing: garbage past the limit is still "oversized" */
    memset(s, '!', max + 1);
    expect_reject_n(s, max + 1, max, WD_E_OVERSIZED);
    free(s);
    /* a small limit too */
    expect_reject_n("{\"a\":1}", 7, 6, WD_E_OVERSIZED);
    v = NULL;
    assert_int_equal(wd_json_parse((const unsigned char *)"{\"a\":1}", 7, 7, &v, &e), WD_OK);
    json_decref(v);
}

static void t09_depth_at_limit_and_past_it(void **state)
{
    (void)state;
    wd_err e;
    json_t *v = NULL;
    char *s = nested(WD_MAX_JSON_DEPTH);
    assert_int_equal(parse(s, &v, &e), WD_OK);
    assert_int_equal(wd_json_depth(v), WD_MAX_JSON_DEPTH);
    json_decref(v);
    free(s);

    s = nested(WD_MAX_JSON_DEPTH + 1);
    expect_reject(s, WD_E_OVERSIZED);
    free(s);

    /* far past jansson's own recursion cap: still oversized, not a crash */
    s = nested(5000);
    expect_reject(s, WD_E_OVERSIZED);
    free(s);

    /* depth counts the deepest branch, not the first one */
    s = nested(WD_MAX_JSON_DEPTH - 1);
    char *doc = malloc(strlen(s) + 32);
    assert_non_null(doc);
    sprintf(doc, "[1,[],%s]", s);
    assert_int_equal(parse(doc, &v, &e), WD_OK);
    assert_int_equal(wd_json_depth(v), WD_MAX_JSON_DEPTH);
    json_decref(v);
    sprintf(doc, "[1,[],[%s]]", s);
    expect_reject(doc, WD_E_OVERSIZED);
    sprintf(doc, "[1,[],%s", s); /* the outer array is never closed */
    expect_reject(doc, WD_E_MALFORMED);
    free(doc);
    free(s);
}

static void t10_rejects_top_level_scalar_and_empty(void **state)
{
    (void)state;
    expect_reject("\"s\"", WD_E_MALFORMED);
    expect_reject("1", WD_E_MALFORMED);
    expect_reject("true", WD_E_MALFORMED);
    expect_reject("null", WD_E_MALFORMED);
    expect_reject("", WD_E_MALFORMED);
    expect_reject("   \n", WD_E_MALFORMED);
    expect_reject_n(NULL, 0, 10, WD_E_MALFORMED);
}

static void t11_numbers_in_range_and_overflow(void **state)
{
    (void)state;
    wd_err e;
    json_t *v = NULL;
    assert_int_equal(parse("[9223372036854775807,-9223372036854775808,1e308,0,-0]", &v, &e),
                     WD_OK);
    assert_true(json_integer_value(json_array_get(v, 0)) == INT64_MAX);
    assert_true(json_integer_value(json_array_get(v, 1)) == INT64_MIN);
    json_decref(v);
    expect_reject("[9223372036854775808]", WD_E_MALFORMED);
    expect_reject("[-9223372036854775809]", WD_E_MALFORMED);
    expect_reject("[1e400]", WD_E_MALFORMED);
    expect_reject("[01]", WD_E_MALFORMED);
    expect_reject("[1.]", WD_E_MALFORMED);
    expect_reject("[NaN]", WD_E_MALFORMED);
    expect_reject("[+1]", WD_E_MALFORMED);
}

static void t12_syntax_errors_name_their_position(void **state)
{
    (void)state;
    wd_err e;
    json_t *v = NULL;
    assert_int_equal(parse("{\n\"a\": 1,\n\"b\" 2}", &v, &e), WD_E_MALFORMED);
    assert_null(v);
    assert_non_null(strstr(e.msg, "line 3"));
    assert_non_null(strstr(e.msg, "column"));
    expect_reject("{\"a\":1,}", WD_E_MALFORMED);
    expect_reject("{'a':1}", WD_E_MALFORMED);
    expect_reject("{\"a\":1", WD_E_MALFORMED);
    expect_reject("[1 2]", WD_E_MALFORMED);
    expect_reject("{\"a\":\"\\x\"}", WD_E_MALFORMED);
    /* untrusted bytes echoed in the message are cleaned */
    assert_int_equal(parse("{\"a\":tru\x1b]0;x\x07}", &v, &e), WD_E_MALFORMED);
    for (const char *p = e.msg; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void t13_depth_of_values(void **state)
{
    (void)state;
    json_t *s = json_string("x");
    assert_int_equal(wd_json_depth(s), 0);
    json_decref(s);
    wd_err e;
    json_t *v = NULL;
    assert_int_equal(parse("{}", &v, &e), WD_OK);
    assert_int_equal(wd_json_depth(v), 1);
    json_decref(v);
    assert_int_equal(parse("{\"a\":[]}", &v, &e), WD_OK);
    assert_int_equal(wd_json_depth(v), 2);
    json_decref(v);
    assert_int_equal(parse("[1,{\"a\":[[]]},[]]", &v, &e), WD_OK);
    assert_int_equal(wd_json_depth(v), 4);
    json_decref(v);
}

static const wd_jfield sig_fields[] = {
    {"keyid", WD_JT_STRING, true},
    {"sig", WD_JT_STRING, true},
};

static const wd_jfield all_fields[] = {
    {"s", WD_JT_STRING, true},
    {"i", WD_JT_INT, true},
    {"b", WD_JT_BOOL, true},
    {"o", WD_JT_OBJECT, true},
    {"a", WD_JT_ARRAY, true},
    {"n", WD_JT_STRING_OR_NULL, true},
    {"x", WD_JT_ANY, true},
    {"opt", WD_JT_STRING, false},
};

static const char good_all[] =
    "{\"s\":\"v\",\"i\":3,\"b\":false,\"o\":{},\"a\":[],\"n\":null,\"x\":1.5}";

/* Check text against fields and return the code; asserts the check leaves v as it was. */
static wd_code check_text(const char *text, const char *path, const wd_jfield *f, size_t n,
                          wd_err *e)
{
    json_t *v = NULL;
    wd_err pe;
    assert_int_equal(parse(text, &v, &pe), WD_OK);
    char *before = wd_json_dump(v, NULL);
    assert_non_null(before);
    wd_err_clear(e);
    wd_code c = wd_json_check(v, path, f, n, e);
    char *after = wd_json_dump(v, NULL);
    assert_non_null(after);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(v);
    return c;
}

static void t14_check_accepts_schema_conforming_object(void **state)
{
    (void)state;
    wd_err e;
    assert_int_equal(check_text(good_all, "", all_fields, 8, &e), WD_OK);
    /* "n" may also be a string; "x" any type; optional field present with its type */
    assert_int_equal(check_text("{\"s\":\"v\",\"i\":-1,\"b\":true,\"o\":{\"z\":1},\"a\":[1],"
                                "\"n\":\"t\",\"x\":[],\"opt\":\"o\"}",
                                "", all_fields, 8, &e),
                     WD_OK);
    assert_int_equal(check_text("{\"keyid\":\"k\",\"sig\":\"s\"}", NULL, sig_fields, 2, &e), WD_OK);
}

static void t15_check_rejects_unknown_field_with_path(void **state)
{
    (void)state;
    wd_err e;
    assert_int_equal(check_text("{\"keyid\":\"k\",\"sig\":\"s\",\"extra\":1}", "", sig_fields, 2,
                                &e),
                     WD_E_UNKNOWN_FIELD);
    assert_string_equal(e.msg, "extra: unknown field");
    assert_int_equal(check_text("{\"keyid\":\"k\",\"sig\":\"s\",\"Sig\":\"t\"}", "signatures[3]",
                                sig_fields, 2, &e),
                     WD_E_UNKNOWN_FIELD);
    assert_string_equal(e.msg, "signatures[3].Sig: unknown field (did you mean 'sig'?)");
    /* a hostile key is cleaned before it reaches the message */
    assert_int_equal(check_text("{\"keyid\":\"k\",\"sig\":\"s\",\"a\\u001b[2Jb\\u00e9\":1}", "",
                                sig_fields, 2, &e),
                     WD_E_UNKNOWN_FIELD);
    assert_string_equal(e.msg, "a?[2Jb??: unknown field");
    /* unknown is reported even when a required field is also missing */
    assert_int_equal(check_text("{\"other\":1}", "", sig_fields, 2, &e), WD_E_UNKNOWN_FIELD);
}

static void t16_check_rejects_missing_required(void **state)
{
    (void)state;
    wd_err e;
    assert_int_equal(check_text("{\"keyid\":\"k\"}", "", sig_fields, 2, &e), WD_E_MALFORMED);
    assert_string_equal(e.msg, "sig: missing required field");
    assert_int_equal(check_text("{}", "signatures[0]", sig_fields, 2, &e), WD_E_MALFORMED);
    assert_string_equal(e.msg, "signatures[0].keyid: missing required field");
    /* an optional field may be absent */
    assert_int_equal(check_text(good_all, "", all_fields, 8, &e), WD_OK);
}

static void t17_check_rejects_wrong_type_for_each_type(void **state)
{
    (void)state;
    static const struct {
        const char *field, *bad, *expect;
    } cases[] = {
        {"s", "1", "s: expected string"},
        {"s", "null", "s: expected string"},
        {"i", "\"3\"", "i: expected integer"},
        {"i", "3.0", "i: expected integer"},
        {"i", "1e2", "i: expected integer"},
        {"b", "0", "b: expected boolean"},
        {"b", "\"true\"", "b: expected boolean"},
        {"o", "[]", "o: expected object"},
        {"a", "{}", "a: expected array"},
        {"n", "1", "n: expected string or null"},
        {"n", "false", "n: expected string or null"},
        {"opt", "[]", "opt: expected string"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_t *v = NULL;
        wd_err e;
        assert_int_equal(parse(good_all, &v, &e), WD_OK);
        json_t *bad = json_loads(cases[k].bad, JSON_DECODE_ANY, NULL);
        assert_non_null(bad);
        assert_int_equal(json_object_set_new(v, cases[k].field, bad), 0);
        char *text = wd_json_dump(v, NULL);
        json_decref(v);
        assert_int_equal(check_text(text, "", all_fields, 8, &e), WD_E_MALFORMED);
        assert_string_equal(e.msg, cases[k].expect);
        free(text);
    }
}

static void t18_check_nested_path_and_non_object(void **state)
{
    (void)state;
    static const wd_jfield env_fields[] = {
        {"payloadType", WD_JT_STRING, true},
        {"payload", WD_JT_STRING, true},
        {"signatures", WD_JT_ARRAY, true},
    };
    const char *doc = "{\"payloadType\":\"t\",\"payload\":\"p\",\"signatures\":"
                      "[{\"keyid\":\"k\",\"sig\":\"s\"},{\"keyid\":\"k\",\"sig\":7}]}";
    json_t *v = NULL;
    wd_err e;
    assert_int_equal(parse(doc, &v, &e), WD_OK);
    assert_int_equal(wd_json_check(v, "", env_fields, 3, &e), WD_OK);
    json_t *sigs = json_object_get(v, "signatures");
    char p[128], q[128];
    wd_path_key(p, sizeof p, "", "signatures");
    assert_int_equal(wd_json_check(json_array_get(sigs, 0), wd_path_index(q, sizeof q, p, 0),
                                   sig_fields, 2, &e),
                     WD_OK);
    assert_int_equal(wd_json_check(json_array_get(sigs, 1), wd_path_index(q, sizeof q, p, 1),
                                   sig_fields, 2, &e),
                     WD_E_MALFORMED);
    assert_string_equal(e.msg, "signatures[1].sig: expected string");
    /* not an object */
    assert_int_equal(wd_json_check(sigs, "signatures", sig_fields, 2, &e), WD_E_MALFORMED);
    assert_string_equal(e.msg, "signatures: expected object");
    assert_int_equal(wd_json_check(NULL, "", sig_fields, 2, &e), WD_E_MALFORMED);
    json_decref(v);
}

static void t19_path_helpers(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(wd_path_key(out, sizeof out, "", "a"), "a");
    assert_string_equal(wd_path_key(out, sizeof out, NULL, "a"), "a");
    assert_string_equal(wd_path_key(out, sizeof out, "servers", "rules"), "servers.rules");
    assert_string_equal(wd_path_index(out, sizeof out, "servers.rules", 2), "servers.rules[2]");
    assert_string_equal(wd_path_index(out, sizeof out, "", 0), "[0]");
    assert_string_equal(wd_path_key(out, sizeof out, "servers.rules[2]", "mtach"),
                        "servers.rules[2].mtach");
    /* untrusted keys are cleaned */
    assert_string_equal(wd_path_key(out, sizeof out, "x", "a\nb\x1b\xc3\xa9"), "x.a?b???");
    /* a long key is cut and marked */
    char longkey[300];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    char big[512];
    wd_path_key(big, sizeof big, "b", longkey);
    assert_true(strlen(big) < 100);
    assert_non_null(strstr(big, "..."));
    /* always NUL-terminated within outsz */
    char small[8];
    memset(small, 'Z', sizeof small);
    wd_path_key(small, sizeof small, "servers", "rules");
    assert_int_equal(strlen(small), 7);
    assert_string_equal(small, "servers");
    memset(small, 'Z', sizeof small);
    wd_path_index(small, sizeof small, "servers", 12345);
    assert_int_equal(strlen(small), 7);
    char one[1] = {'Z'};
    wd_path_key(one, 1, "a", "b");
    assert_int_equal(one[0], '\0');
    assert_null(wd_path_key(NULL, 0, "a", "b"));
}

static void t20_typed_getters(void **state)
{
    (void)state;
    json_t *v = NULL;
    wd_err e;
    assert_int_equal(parse("{\"s\":\"str\",\"i\":-42,\"r\":1.5,\"n\":null}", &v, &e), WD_OK);
    assert_string_equal(wd_json_str(v, "s"), "str");
    assert_null(wd_json_str(v, "i"));
    assert_null(wd_json_str(v, "missing"));
    assert_null(wd_json_str(NULL, "s"));
    assert_true(wd_json_int(v, "i") == -42);
    assert_true(wd_json_int(v, "r") == 0);
    assert_true(wd_json_int(v, "missing") == 0);
    assert_true(wd_json_int(v, "s") == 0);
    json_decref(v);
}

static void t21_dump_is_compact_and_keeps_order(void **state)
{
    (void)state;
    const char *in = "{ \"z\" : 1 , \"a\" : [ true , null , \"\\u00e9\\n\" ] ,\n \"m\" : {} }";
    json_t *v = NULL;
    wd_err e;
    assert_int_equal(parse(in, &v, &e), WD_OK);
    size_t len = 0;
    char *s = wd_json_dump(v, &len);
    assert_non_null(s);
    assert_string_equal(s, "{\"z\":1,\"a\":[true,null,\"\xc3\xa9\\n\"],\"m\":{}}");
    assert_int_equal(len, strlen(s));
    /* round trip gives the same text */
    json_t *w = NULL;
    assert_int_equal(wd_json_parse((unsigned char *)s, len, len, &w, &e), WD_OK);
    char *s2 = wd_json_dump(w, NULL);
    assert_string_equal(s, s2);
    free(s);
    free(s2);
    json_decref(v);
    json_decref(w);
    assert_null(wd_json_dump(NULL, &len));
    /* a NUL inside a value built in code is escaped, so the length is the whole text */
    json_t *o = json_object();
    assert_int_equal(json_object_set_new(o, "k", json_stringn("a\0b", 3)), 0);
    s = wd_json_dump(o, &len);
    assert_string_equal(s, "{\"k\":\"a\\u0000b\"}");
    assert_int_equal(len, 16);
    free(s);
    json_decref(o);
}

/* A rejection names the position only: jansson's " near '...'" would quote up to 20 bytes of
 * the input, e.g. an environment value in a RunConfig. */
static void t22_rejections_never_quote_string_values(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        wd_code code;
    } cases[] = {
        {"{\"env\":{\"T\":\"hunter2-pw\x01\"}}", WD_E_MALFORMED},  /* control character */
        {"{\"env\":{\"T\":\"hunter2-pw\xff\"}}", WD_E_MALFORMED},  /* invalid UTF-8 */
        {"{\"env\":{\"T\":\"hunter2-pw\\q\"}}", WD_E_MALFORMED}, /* bad escape */
        {"{\"env\":{\"T\":\"hunter2-pw\"x}}", WD_E_MALFORMED},     /* syntax after it */
        {"{\"env\":{\"T\":hunter2}}", WD_E_MALFORMED},             /* bare token */
        {"{\"hunter2\":1,\"hunter2\":2}", WD_E_DUPLICATE_KEY},     /* repeated key */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wd_err e;
        json_t *v = NULL;
        wd_err_clear(&e);
        assert_int_equal(parse(cases[i].doc, &v, &e), cases[i].code);
        assert_int_equal(e.code, cases[i].code);
        assert_null(v);
        assert_non_null(strstr(e.msg, "column"));
        if (strstr(e.msg, "hunter2") != NULL)
            fail_msg("case %zu quotes the input: %s", i, e.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_decodes_valid_documents),
        cmocka_unit_test(t02_rejects_duplicate_top_level_key),
        cmocka_unit_test(t03_rejects_duplicate_nested_key),
        cmocka_unit_test(t04_rejects_trailing_data),
        cmocka_unit_test(t05_rejects_invalid_utf8),
        cmocka_unit_test(t06_rejects_nul),
        cmocka_unit_test(t07_rejects_raw_control_characters),
        cmocka_unit_test(t08_size_at_limit_and_past_it),
        cmocka_unit_test(t09_depth_at_limit_and_past_it),
        cmocka_unit_test(t10_rejects_top_level_scalar_and_empty),
        cmocka_unit_test(t11_numbers_in_range_and_overflow),
        cmocka_unit_test(t12_syntax_errors_name_their_position),
        cmocka_unit_test(t13_depth_of_values),
        cmocka_unit_test(t14_check_accepts_schema_conforming_object),
        cmocka_unit_test(t15_check_rejects_unknown_field_with_path),
        cmocka_unit_test(t16_check_rejects_missing_required),
        cmocka_unit_test(t17_check_rejects_wrong_type_for_each_type),
        cmocka_unit_test(t18_check_nested_path_and_non_object),
        cmocka_unit_test(t19_path_helpers),
        cmocka_unit_test(t20_typed_getters),
        cmocka_unit_test(t21_dump_is_compact_and_keeps_order),
        cmocka_unit_test(t22_rejections_never_quote_string_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
