/* test_policy_glob.c — focus: SPEC §6 globs: `*` and `?` stop at '/', `**` crosses it, classes,
 * literal everything else, syntax errors, the length limit, linear time on hostile input, and
 * the conservative glob-within-glob test used for permission limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/glob.h"

typedef struct mcase {
    const char *glob, *text;
    bool want;
} mcase;

static void run_cases(const mcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool got = wd_glob_match_str(c[i].glob, c[i].text);
        if (got != c[i].want)
            fail_msg("glob '%s' on '%s': got %d, want %d", c[i].glob, c[i].text, got, c[i].want);
    }
}

static void t01_literal_globs_match_exactly(void **state)
{
    (void)state;
    static const mcase c[] = {
        {"fs-docs", "fs-docs", true},   {"fs-docs", "fs-doc", false},
        {"fs-docs", "fs-docsx", false}, {"fs-docs", "FS-DOCS", false},
        {"/usr/bin/node", "/usr/bin/node", true},
        {"a\\*", "a\\xyz", true},      {"a\\*", "a*", false}, /* backslash escapes nothing */
        {"a\\b", "a\\b", true},
        {"{a,b}", "{a,b}", true},       {"{a,b}", "a", false},  /* no braces */
        {"a+b", "a+b", true},           {"a.b", "axb", false},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void t02_star_stops_at_slash(void **state)
{
    (void)state;
    static const mcase c[] = {
        {"*", "", true},          {"*", "abc", true},          {"*", "a/b", false},
        {"fs-*", "fs-", true},    {"fs-*", "fs-docs", true},   {"fs-*", "fs/docs", false},
        {"*.txt", "a.txt", true}, {"*.txt", "d/a.txt", false}, {"/srv/*", "/srv/a", true},
        {"/srv/*", "/srv/a/b", false}, {"/srv/*/x", "/srv/a/x", true},
        {"/srv/*/x", "/srv/a/b/x", false}, {"*a*b*c*", "xaybzc", true},
        {"*a*b*c*", "xaybz", false},   {"a*", "b", false},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void t03_double_star_crosses_slash(void **state)
{
    (void)state;
    static const mcase c[] = {
        {"**", "", true},
        {"**", "a/b/c", true},
        {"/srv/data/**", "/srv/data/x", true},
        {"/srv/data/**", "/srv/data/x/y/z", true},
        {"/srv/data/**", "/srv/data/", true},
        {"/srv/data/**", "/srv/data", false}, /* ** is a string, the slash before it is literal */
        {"/srv/data/**", "/srv/database/x", false},
        {"**/c", "a/b/c", true},
        {"**/c", "/c", true},
        {"**/c", "c", false},
        {"a/**/c", "a/x/c", true},
        {"a/**/c", "a/x/y/c", true},
        {"a/**/c", "a/c", false},
        {"a/**/c", "a//c", true},
        {"a**b", "a/x/yb", true},
        {"a**b", "ab", true},
        {"***", "a/b", true}, /* three stars are a double star */
        {"/opt/**/bin/*", "/opt/a/b/bin/tool", true},
        {"/opt/**/bin/*", "/opt/a/b/bin/x/tool", false}, /* the last * cannot take "x/tool" */
        {"/opt/**/bin/*", "/opt/bin/tool", false},
        {"**.json", "a/b/c.json", true},
        {"**.json", "a/b/c.yaml", false},
        {"x/**/y/**/z", "x/1/y/2/z", true},
        {"x/**/y/**/z", "x/1/2/z", false},
        {"*/**", "a/", true},
        {"*/**", "a", false},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void t04_question_mark_is_one_byte_not_slash(void **state)
{
    (void)state;
    static const mcase c[] = {
        {"a?c", "abc", true}, {"a?c", "ac", false}, {"a?c", "abbc", false},
        {"a?c", "a/c", false}, {"???", "abc", true}, {"???", "ab", false},
        {"?*", "", false},    {"?*", "x", true},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void t05_classes(void **state)
{
    (void)state;
    static const mcase c[] = {
        {"svc-[0-9]", "svc-7", true},  {"svc-[0-9]", "svc-x", false},
        {"svc-[0-9][0-9]", "svc-42", true}, {"svc-[0-9][0-9]", "svc-4", false},
        {"[abc]", "b", true},          {"[abc]", "d", false},
        {"[!abc]", "d", true},         {"[!abc]", "a", false},
        {"[^abc]", "d", true},         {"[^abc]", "c", false},
        {"[]]", "]", true},            {"[]a]", "a", true},        {"[!]]", "]", false},
        {"[a-]", "-", true},           {"[-a]", "-", true},        {"[a-c-e]", "-", true},
        {"[!a]", "/", false}, /* a class never matches '/' */
        {"a[!x]b", "a/b", false},      {"[*?[]", "*", true},       {"[*?[]", "[", true},
        {"[A-Za-z_]*", "PATH", true},  {"[A-Za-z_]*", "9PATH", false},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void t06_syntax_errors_are_reported(void **state)
{
    (void)state;
    static const struct {
        const char *glob, *why;
    } c[] = {
        {"fs-[a", "unterminated ["},
        {"[", "unterminated ["},
        {"[!", "unterminated ["},
        {"[]", "unterminated ["},
        {"[z-a]", "bad range in [...]: end before start"},
        {"[/]", "[...] matches no character"},
        {"", "empty glob"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        wd_glob_buf buf;
        wd_glob g;
        char why[96] = "";
        assert_false(wd_glob_parse(c[i].glob, &buf, &g, why, sizeof why));
        assert_string_equal(why, c[i].why);
        assert_false(wd_glob_match_str(c[i].glob, c[i].glob)); /* a bad glob matches nothing */
    }
}

static void t07_length_limit_at_and_past(void **state)
{
    (void)state;
    char *g = malloc(WD_MAX_GLOB_LEN + 2);
    assert_non_null(g);
    memset(g, 'a', WD_MAX_GLOB_LEN);
    g[WD_MAX_GLOB_LEN] = '\0';
    wd_glob_buf buf;
    wd_glob gl;
    char why[96];
    assert_true(wd_glob_parse(g, &buf, &gl, why, sizeof why));
    assert_true(wd_glob_match(&gl, g, WD_MAX_GLOB_LEN));
    /* at the limit with every token magic */
    for (size_t i = 0; i < WD_MAX_GLOB_LEN; i++)
        g[i] = (i % 2) ? '*' : '?';
    assert_true(wd_glob_parse(g, &buf, &gl, why, sizeof why));
    g[WD_MAX_GLOB_LEN] = 'a';
    g[WD_MAX_GLOB_LEN + 1] = '\0';
    assert_false(wd_glob_parse(g, &buf, &gl, why, sizeof why));
    assert_string_equal(why, "glob longer than 512 bytes");
    free(g);
}

static void t08_fast_paths_agree_with_the_general_matcher(void **state)
{
    (void)state;
    /* Each pattern takes a fast path (literal, or literal text around one * or **); the same
     * pattern with its first byte written as a one-byte class takes the general matcher. */
    static const char *const pats[] = {"abc", "abc*", "abc**", "a*c", "a**c", "ab*/c", "a/**/c",
                                       "x*.json", "x**.json", "a*", "a**", "abc/*", "a*bc"};
    static const char *const texts[] = {"abc", "abcd", "abc/d", "ab", "abcdef/g/h", "xabc", "ac",
                                        "a/c", "abbc", "ab/c", "ab/x/c", "a//c", "a/x/y/c",
                                        "x.json", "xa.json", "xa/b.json", "a", "abc/", "abcbcc",
                                        "abc/c", "a/bc/c", ""};
    wd_glob_buf b1, b2;
    wd_glob fast, slow;
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        char forced[64];
        snprintf(forced, sizeof forced, "[%c]%s", pats[i][0], pats[i] + 1);
        assert_true(wd_glob_parse(pats[i], &b1, &fast, NULL, 0));
        assert_true(wd_glob_parse(forced, &b2, &slow, NULL, 0));
        assert_int_not_equal(fast.kind, WD_GLOB_GENERAL);
        assert_int_equal(slow.kind, WD_GLOB_GENERAL);
        for (size_t j = 0; j < sizeof texts / sizeof texts[0]; j++) {
            bool a = wd_glob_match(&fast, texts[j], strlen(texts[j]));
            bool b = wd_glob_match(&slow, texts[j], strlen(texts[j]));
            if (a != b)
                fail_msg("'%s' (fast %d) and '%s' (general %d) disagree on '%s'", pats[i], a,
                         forced, b, texts[j]);
        }
    }
}

static void t09_hostile_input_runs_in_linear_time(void **state)
{
    (void)state;
    /* The classic exponential case for backtracking matchers: a*a*a*...b on aaaa...a */
    char pat[256], *text = malloc(100001);
    assert_non_null(text);
    size_t k = 0;
    for (int i = 0; i < 60; i++) {
        pat[k++] = 'a';
        pat[k++] = '*';
        if (i % 3 == 0) {
            pat[k++] = '*';
            pat[k++] = '*'; /* mix in double stars */
        }
    }
    pat[k++] = 'b';
    pat[k] = '\0';
    memset(text, 'a', 100000);
    text[100000] = '\0';
    clock_t t0 = clock();
    assert_false(wd_glob_match_str(pat, text));
    text[99999] = 'b';
    assert_true(wd_glob_match_str(pat, text));
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    /* generous: a blow-up would take years; linear time takes milliseconds */
    assert_true(secs < 20.0);
    free(text);
}

static bool covers(const char *limit, const char *req)
{
    wd_glob_buf b1, b2;
    wd_glob l, r;
    assert_true(wd_glob_parse(limit, &b1, &l, NULL, 0));
    assert_true(wd_glob_parse(req, &b2, &r, NULL, 0));
    return wd_glob_covers(&l, &r);
}

static void t10_coverage_of_one_glob_by_another(void **state)
{
    (void)state;
    static const struct {
        const char *limit, *req;
        bool want;
    } c[] = {
        {"/srv/data/**", "/srv/data/x", true},
        {"/srv/data/**", "/srv/data/x/**", true},
        {"/srv/data/**", "/srv/data/*", true},
        {"/srv/data/**", "/srv/**", false},
        {"/srv/data/**", "/srv/*/x", false},
        {"/srv/*", "/srv/a", true},
        {"/srv/*", "/srv/*", true},
        {"/srv/*", "/srv/**", false},
        {"/srv/*", "/srv/a/b", false},
        {"/srv/?", "/srv/*", false},
        {"/srv/*", "/srv/?", true},
        {"/srv/*", "/srv/[ab]", true},
        {"/srv/[a-z]", "/srv/[ab]", true},
        {"/srv/[ab]", "/srv/[a-z]", false},
        {"/srv/?", "/srv/[a-z]", true},
        {"/srv/a", "/srv/[a]", true},
        {"/srv/[!x]", "/srv/?", false},
        {"MCP_*", "MCP_*", true},
        {"MCP_*", "MCP_TOKEN", true},
        {"MCP_*", "*", false},
        {"*", "MCP_*", true},
        {"**", "/anything/**", true},
        {"*.acme.example", "api.acme.example", true},
        {"*.acme.example", "*.acme.example", true},
        {"*.acme.example", "*.example", false},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (covers(c[i].limit, c[i].req) != c[i].want)
            fail_msg("'%s' covers '%s': want %d", c[i].limit, c[i].req, c[i].want);
}

/* A random cross-check: whenever covers(L, R) says yes, every string drawn from R must match L
 * (the check is conservative, never wrong in the permissive direction). */
static void t11_coverage_is_never_too_generous(void **state)
{
    (void)state;
    static const char *const globs[] = {"a/**", "a/*", "a/?", "*", "**", "a*", "a/*/b",
                                        "a/**/b", "[ab]/*", "?/**", "a/[!c]", "*/*", "a"};
    static const char alphabet[] = "ab/c";
    srand(7);
    size_t n = sizeof globs / sizeof globs[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            if (!covers(globs[i], globs[j]))
                continue;
            for (int t = 0; t < 4000; t++) {
                char s[8];
                size_t len = (size_t)(rand() % 7);
                for (size_t k = 0; k < len; k++)
                    s[k] = alphabet[rand() % 4];
                s[len] = '\0';
                if (wd_glob_match_str(globs[j], s) && !wd_glob_match_str(globs[i], s))
                    fail_msg("'%s' said to cover '%s' but '%s' escapes", globs[i], globs[j], s);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_literal_globs_match_exactly),
        cmocka_unit_test(t02_star_stops_at_slash),
        cmocka_unit_test(t03_double_star_crosses_slash),
        cmocka_unit_test(t04_question_mark_is_one_byte_not_slash),
        cmocka_unit_test(t05_classes),
        cmocka_unit_test(t06_syntax_errors_are_reported),
        cmocka_unit_test(t07_length_limit_at_and_past),
        cmocka_unit_test(t08_fast_paths_agree_with_the_general_matcher),
        cmocka_unit_test(t09_hostile_input_runs_in_linear_time),
        cmocka_unit_test(t10_coverage_of_one_glob_by_another),
        cmocka_unit_test(t11_coverage_is_never_too_generous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
