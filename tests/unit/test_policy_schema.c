/* test_policy_schema.c — focus: rejecting bad policy documents with the exact code and the exact
 * path of the first error, the loader's own codes, every policy limit at the limit and one past,
 * and that validation changes nothing. */
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
#include "policy/policy_doc.h"
#include "warden/policy.h"

#define PROFILES "permission_profiles:\n  p: {read: [\"/a/**\"]}\n"

typedef struct bad {
    const char *yaml;
    wd_code code;
    const char *msg; /* exact */
} bad;

static const bad cases[] = {
    /* 1: unknown keys, at every depth */
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow}\n    - {name: b, action: allow}\n"
     "    - {name: c, action: allow, mtach: {}}\n",
     WD_E_INVALID_POLICY, "servers.rules[2].mtach: unknown key (did you mean 'match'?)"},
    {"version: 1\nfrobnicate: true\n", WD_E_INVALID_POLICY, "frobnicate: unknown key"},
    {"version: 1\nconductor: {url: x}\n", WD_E_INVALID_POLICY, "conductor: unknown key"},
    {"version: 1\nservers: {rules: [], defualt: deny}\n", WD_E_INVALID_POLICY,
     "servers.defualt: unknown key (did you mean 'default'?)"},
    /* 5 */
    {"version: 1\npermission_profiles:\n  p:\n    network: {allow_hostz: [a]}\n", WD_E_INVALID_POLICY,
     "permission_profiles.p.network.allow_hostz: unknown key (did you mean 'allow_hosts'?)"},
    {"version: 1\nmcp_tool_policy:\n  rules:\n    - {name: t, action: deny, args: [{key: k, regexp: x}]}\n",
     WD_E_INVALID_POLICY, "mcp_tool_policy.rules[0].args[0].regexp: unknown key (did you mean 'regex'?)"},
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {names: [x]}}\n",
     WD_E_INVALID_POLICY, "servers.rules[0].match.names: unknown key (did you mean 'name'?)"},
    {"version: 1\nmcp_tool_policy:\n  rules:\n    - {name: t, action: deny, match: {}}\n",
     WD_E_INVALID_POLICY, "mcp_tool_policy.rules[0].match: unknown key"},
    /* wrong types */
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {name: fs-x}}\n",
     WD_E_INVALID_POLICY, "servers.rules[0].match.name: expected a list of strings"},
    /* 10 */
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {name: [x, 3]}}\n",
     WD_E_INVALID_POLICY, "servers.rules[0].match.name[1]: expected a string"},
    {"version: \"1\"\n", WD_E_INVALID_POLICY, "version: expected an integer"},
    {"version: 2\n", WD_E_INVALID_POLICY, "version: unsupported version 2 (expected 1)"},
    {"mode: enforce\n", WD_E_INVALID_POLICY, "version: missing required key"},
    {"version: 1\nservers: [a]\n", WD_E_INVALID_POLICY, "servers: expected a mapping"},
    /* 15 */
    {"version: 1\nservers:\n", WD_E_INVALID_POLICY, "servers: expected a mapping"},
    {"version: 1\nservers: {rules: {a: b}}\n", WD_E_INVALID_POLICY,
     "servers.rules: expected a list of rules"},
    {"version: 1\nservers: {rules: [x]}\n", WD_E_INVALID_POLICY,
     "servers.rules[0]: expected a mapping"},
    {"version: 1\npermission_profiles:\n  p: {privileged: \"yes\"}\n", WD_E_INVALID_POLICY,
     "permission_profiles.p.privileged: expected true or false"},
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {labels: {team: 3}}}\n",
     WD_E_INVALID_POLICY, "servers.rules[0].match.labels.team: expected a string"},
    /* 20: bad enums */
    {"version: 1\nmode: permissive\n", WD_E_INVALID_POLICY, "mode: must be enforce or audit"},
    {"version: 1\nservers: {default: maybe}\n", WD_E_INVALID_POLICY,
     "servers.default: must be allow or deny"},
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: warn}\n", WD_E_INVALID_POLICY,
     "servers.rules[0].action: must be allow or deny"},
    {"version: 1\nmcp_tool_policy:\n  rules:\n    - {name: a, action: block}\n", WD_E_INVALID_POLICY,
     "mcp_tool_policy.rules[0].action: must be allow, deny or warn"},
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {transport: [stdio, ws]}}\n",
     WD_E_INVALID_POLICY, "servers.rules[0].match.transport[1]: must be stdio, sse or streamable-http"},
    /* 25 */
    {"version: 1\npermission_profiles:\n  p: {network: bridge}\n", WD_E_INVALID_POLICY,
     "permission_profiles.p.network: must be none, host or {allow_hosts, allow_ports}"},
    /* bad globs */
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {name: [\"fs-[a\"]}}\n",
     WD_E_INVALID_POLICY, "servers.rules[0].match.name[0]: invalid glob: unterminated ["},
    {"version: 1\nmcp_tool_policy:\n  rules:\n    - {name: a, action: deny, tool: [\"x[z-a]\"]}\n",
     WD_E_INVALID_POLICY,
     "mcp_tool_policy.rules[0].tool[0]: invalid glob: bad range in [...]: end before start"},
    {"version: 1\npermission_profiles:\n  p: {read: [\"\"]}\n", WD_E_INVALID_POLICY,
     "permission_profiles.p.read[0]: invalid glob: empty glob"},
    {"version: 1\npermission_profiles:\n  p: {network: {allow_hosts: [API.example]}}\n",
     WD_E_INVALID_POLICY,
     "permission_profiles.p.network.allow_hosts[0]: host globs are written in lower case"},
    /* 30: bad regexes carry PCRE2's message and offset */
    {"version: 1\nmcp_tool_policy:\n  rules:\n    - {name: a, action: deny, args: [{key: k, regex: \"(\"}]}\n",
     WD_E_INVALID_POLICY,
     "mcp_tool_policy.rules[0].args[0].regex: invalid regex at offset 1: missing closing parenthesis"},
    {"version: 1\nmcp_tool_policy:\n  rules:\n    - {name: a, action: deny, args: [{key: k, regex: \"a{2,1}\"}]}\n",
     WD_E_INVALID_POLICY,
     "mcp_tool_policy.rules[0].args[0].regex: invalid regex at offset 5: numbers out of order in {} "
     "quantifier"},
    {"version: 1\nmcp_tool_policy:\n  rules:\n    - {name: a, action: deny, args: [{key: k}]}\n",
     WD_E_INVALID_POLICY, "mcp_tool_policy.rules[0].args[0].regex: missing required key"},
    {"version: 1\nmcp_tool_policy:\n  rules:\n    - {name: a, action: deny, args: []}\n",
     WD_E_INVALID_POLICY, "mcp_tool_policy.rules[0].args: empty list (it would match nothing)"},
    /* rule names */
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow}\n    - {name: a, action: deny}\n",
     WD_E_INVALID_POLICY, "servers.rules[1].name: duplicate rule name 'a' (first at servers.rules[0])"},
    /* 35 */
    {"version: 1\nservers:\n  rules:\n    - {name: \"bad name\", action: allow}\n", WD_E_INVALID_POLICY,
     "servers.rules[0].name: not an id (letters, digits, '_', '.', '-'; at most 128)"},
    {"version: 1\nservers:\n  rules:\n    - {name: a}\n", WD_E_INVALID_POLICY,
     "servers.rules[0].action: missing required key"},
    {"version: 1\nservers:\n  rules:\n    - {action: deny}\n", WD_E_INVALID_POLICY,
     "servers.rules[0].name: missing required key"},
    /* profiles */
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, limits: {profile: nope}}\n" PROFILES,
     WD_E_INVALID_POLICY, "servers.rules[0].limits.profile: unknown permission profile 'nope'"},
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: deny, limits: {profile: p}}\n" PROFILES,
     WD_E_INVALID_POLICY, "servers.rules[0].limits: limits apply only to allow rules"},
    /* 40 */
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, limits: {}}\n" PROFILES,
     WD_E_INVALID_POLICY, "servers.rules[0].limits.profile: missing required key"},
    {"version: 1\npermission_profiles:\n  \"bad name\": {}\n", WD_E_INVALID_POLICY,
     "permission_profiles.bad name: profile name is not an id"},
    {"version: 1\npermission_profiles:\n  p: {network: {allow_ports: [0]}}\n", WD_E_INVALID_POLICY,
     "permission_profiles.p.network.allow_ports[0]: port must be 1..65535"},
    {"version: 1\npermission_profiles:\n  p: {network: {allow_ports: [443, 65536]}}\n",
     WD_E_INVALID_POLICY, "permission_profiles.p.network.allow_ports[1]: port must be 1..65535"},
    {"version: 1\npermission_profiles:\n  p: {network: {allow_ports: [\"443\"]}}\n",
     WD_E_INVALID_POLICY, "permission_profiles.p.network.allow_ports[0]: expected an integer"},
    /* 45: match lists */
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: deny, match: {name: []}}\n",
     WD_E_INVALID_POLICY, "servers.rules[0].match.name: empty list (it would match nothing)"},
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: deny, reason: \"caf\xc3\xa9\"}\n",
     WD_E_INVALID_POLICY,
     "servers.rules[0].reason: only printable ASCII is allowed (it is shown to users as is)"},
    {"version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {labels: {\"no key\": x}}}\n",
     WD_E_INVALID_POLICY, "servers.rules[0].match.labels.no key: label key is not an id"},
    /* the loader's own rejections keep their codes */
    {"version: 1\nversion: 1\n", WD_E_DUPLICATE_KEY, NULL},
    {"version: 1\n  bad: [\n", WD_E_MALFORMED, NULL},
    /* 50 */
    {"version: !!int 1\n", WD_E_MALFORMED, NULL},
    {"--- \nversion: 1\n--- \nversion: 1\n", WD_E_MALFORMED, NULL},
    {"", WD_E_INVALID_POLICY, "policy document: expected a mapping"},
    {"- version: 1\n", WD_E_INVALID_POLICY, "policy document: expected a mapping"},
};

static void t01_rejections_name_the_path(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wd_policy *p = (wd_policy *)&p; /* must come back NULL */
        wd_err e;
        wd_code rc = wd_policy_load((const unsigned char *)cases[i].yaml, strlen(cases[i].yaml), &p,
                                    &e);
        if (rc != cases[i].code || (cases[i].msg != NULL && strcmp(e.msg, cases[i].msg) != 0))
            fail_msg("case %zu: got %s '%s', want %s '%s'", i + 1, wd_code_name(rc), e.msg,
                     wd_code_name(cases[i].code), cases[i].msg ? cases[i].msg : "");
        assert_null(p);
    }
}

static void t02_valid_documents_pass(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "version: 1\n",
        "version: 1\nmode: audit\nservers: {default: allow, rules: []}\n",
        "version: 1\nservers:\n  rules:\n    - {name: a, action: allow}\n"
        "mcp_tool_policy:\n  rules:\n    - {name: a, action: warn}\n", /* names are per section */
        "version: 1\npermission_profiles:\n  p: {network: {allow_hosts: [], allow_ports: [1, 65535]}}\n",
        "version: 1\npermission_profiles:\n  p: {network: none, read: [], write: [], env: [], "
        "privileged: true}\n",
        "version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {}, limits: {profile: p}}\n"
        PROFILES,
        /* anchors and aliases are plain YAML */
        "version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {name: &n [x, y]}}\n"
        "    - {name: b, action: deny, match: {group: *n}}\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        wd_policy *p = NULL;
        wd_err e;
        if (wd_policy_load((const unsigned char *)ok[i], strlen(ok[i]), &p, &e) != WD_OK)
            fail_msg("valid document %zu rejected: %s", i + 1, e.msg);
        wd_policy_unref(p);
    }
}

/* A document with one field made exactly n bytes long (filled with c). */
static char *doc_with(const char *before, size_t n, char c, const char *after)
{
    size_t lb = strlen(before), la = strlen(after);
    char *s = malloc(lb + n + la + 1);
    assert_non_null(s);
    memcpy(s, before, lb);
    memset(s + lb, c, n);
    memcpy(s + lb + n, after, la + 1);
    return s;
}

static wd_code load_text(const char *s, wd_err *e)
{
    wd_policy *p = NULL;
    wd_code rc = wd_policy_load((const unsigned char *)s, strlen(s), &p, e);
    wd_policy_unref(p);
    return rc;
}

static void t03_glob_length_at_and_past_the_limit(void **state)
{
    (void)state;
    wd_err e;
    const char *pre = "version: 1\nservers:\n  rules:\n    - {name: a, action: deny, match: {name: [\"";
    char *s = doc_with(pre, WD_MAX_GLOB_LEN, 'g', "\"]}}\n");
    assert_int_equal(load_text(s, &e), WD_OK);
    free(s);
    s = doc_with(pre, WD_MAX_GLOB_LEN + 1, 'g', "\"]}}\n");
    assert_int_equal(load_text(s, &e), WD_E_INVALID_POLICY);
    assert_string_equal(e.msg, "servers.rules[0].match.name[0]: invalid glob: glob longer than 512 bytes");
    free(s);
}

static void t04_reason_length_at_and_past_the_limit(void **state)
{
    (void)state;
    wd_err e;
    const char *pre = "version: 1\nservers:\n  rules:\n    - {name: a, action: deny, reason: \"";
    char *s = doc_with(pre, WD_MAX_RULE_REASON, 'r', "\"}\n");
    assert_int_equal(load_text(s, &e), WD_OK);
    free(s);
    s = doc_with(pre, WD_MAX_RULE_REASON + 1, 'r', "\"}\n");
    assert_int_equal(load_text(s, &e), WD_E_INVALID_POLICY);
    assert_string_equal(e.msg, "servers.rules[0].reason: longer than 256 bytes");
    free(s);
}

static void t05_regex_length_at_and_past_the_limit(void **state)
{
    (void)state;
    wd_err e;
    const char *pre = "version: 1\nmcp_tool_policy:\n  rules:\n    - {name: a, action: deny, args: [{key: k, regex: \"";
    char *s = doc_with(pre, WD_MAX_REGEX_LEN, 'x', "\"}]}\n");
    assert_int_equal(load_text(s, &e), WD_OK);
    free(s);
    s = doc_with(pre, WD_MAX_REGEX_LEN + 1, 'x', "\"}]}\n");
    assert_int_equal(load_text(s, &e), WD_E_INVALID_POLICY);
    assert_string_equal(e.msg, "mcp_tool_policy.rules[0].args[0].regex: regex longer than 1024 bytes");
    free(s);
}

static void t06_rule_and_profile_names_at_and_past_the_id_limit(void **state)
{
    (void)state;
    wd_err e;
    const char *pre = "version: 1\nservers:\n  rules:\n    - {name: ";
    char *s = doc_with(pre, WD_MAX_ID_LEN, 'n', ", action: deny}\n");
    assert_int_equal(load_text(s, &e), WD_OK);
    free(s);
    s = doc_with(pre, WD_MAX_ID_LEN + 1, 'n', ", action: deny}\n");
    assert_int_equal(load_text(s, &e), WD_E_INVALID_POLICY);
    free(s);
}

static void t07_labels_at_and_past_the_limits(void **state)
{
    (void)state;
    wd_err e;
    char *s = malloc(8192);
    assert_non_null(s);
    for (int n = WD_MAX_LABELS; n <= WD_MAX_LABELS + 1; n++) {
        size_t k = (size_t)snprintf(s, 8192, "version: 1\nservers:\n  rules:\n    - name: a\n"
                                             "      action: allow\n      match:\n        labels:\n");
        for (int i = 0; i < n; i++)
            k += (size_t)snprintf(s + k, 8192 - k, "          k%d: v\n", i);
        wd_code want = n == WD_MAX_LABELS ? WD_OK : WD_E_INVALID_POLICY;
        assert_int_equal(load_text(s, &e), want);
    }
    assert_string_equal(e.msg, "servers.rules[0].match.labels: more than 64 labels");
    free(s);
    const char *pre = "version: 1\nservers:\n  rules:\n    - {name: a, action: allow, match: {labels: {k: \"";
    s = doc_with(pre, WD_MAX_LABEL_VALUE, 'v', "\"}}}\n");
    assert_int_equal(load_text(s, &e), WD_OK);
    free(s);
    s = doc_with(pre, WD_MAX_LABEL_VALUE + 1, 'v', "\"}}}\n");
    assert_int_equal(load_text(s, &e), WD_E_INVALID_POLICY);
    assert_string_equal(e.msg, "servers.rules[0].match.labels.k: label value longer than 256 bytes");
    free(s);
}

static void t08_document_size_at_and_past_the_limit(void **state)
{
    (void)state;
    wd_err e;
    /* "version: 1\n#ccc...\n": a comment pads the document to exactly the limit */
    const char *pre = "version: 1\n#";
    size_t pad = WD_MAX_POLICY_BYTES - strlen(pre) - 1;
    char *s = doc_with(pre, pad, 'c', "\n");
    assert_int_equal(strlen(s), WD_MAX_POLICY_BYTES);
    assert_int_equal(load_text(s, &e), WD_OK);
    free(s);
    s = doc_with(pre, pad + 1, 'c', "\n");
    assert_int_equal(load_text(s, &e), WD_E_OVERSIZED);
    free(s);
}

static void t09_validate_doc_is_pure_and_agrees_with_load(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].code != WD_E_INVALID_POLICY || cases[i].yaml[0] == '\0')
            continue;
        json_t *doc = NULL;
        wd_err e;
        assert_int_equal(wd_yaml_load((const unsigned char *)cases[i].yaml, strlen(cases[i].yaml),
                                      &doc, &e),
                         WD_OK);
        char *before = wd_json_dump(doc, NULL);
        assert_int_equal(wd_policy_validate_doc(doc, &e), WD_E_INVALID_POLICY);
        assert_string_equal(e.msg, cases[i].msg);
        char *after = wd_json_dump(doc, NULL);
        assert_string_equal(before, after); /* nothing changed */
        free(before);
        free(after);
        json_decref(doc);
    }
    json_t *good = json_pack("{s:i}", "version", 1);
    wd_err e;
    assert_int_equal(wd_policy_validate_doc(good, &e), WD_OK);
    json_decref(good);
    assert_int_equal(wd_policy_validate_doc(NULL, &e), WD_E_INVALID_POLICY);
}

static void t10_load_file_reports_io_and_size(void **state)
{
    (void)state;
    wd_policy *p = (wd_policy *)&p;
    wd_err e;
    assert_int_equal(wd_policy_load_file("/nonexistent/policy.yaml", &p, &e), WD_E_IO);
    assert_null(p);
    char path[] = "/tmp/wd-policy-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    for (size_t i = 0; i < WD_MAX_POLICY_BYTES + 1; i++)
        fputc('#', f);
    fclose(f);
    assert_int_equal(wd_policy_load_file(path, &p, &e), WD_E_OVERSIZED);
    assert_null(p);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("version: 1\nservers: {default: allow}\n", f);
    fclose(f);
    assert_int_equal(wd_policy_load_file(path, &p, &e), WD_OK);
    assert_non_null(p);
    wd_policy_unref(p);
    remove(path);
}

static void t11_named_load_gives_file_line_and_column(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *name;
        wd_code code;
        const char *msg;
    } c[] = {
        {"version: 1\nservers:\n  rules:\n    - name: a\n      action: allow\n      mtach: {}\n",
         "p.yaml", WD_E_INVALID_POLICY,
         "p.yaml:6:7: servers.rules[0].mtach: unknown key (did you mean 'match'?)"},
        {"version: 1\nservers: {rules: [{name: a, action: allow, match: {name: [x, 3]}}]}\n",
         "p.yaml", WD_E_INVALID_POLICY,
         "p.yaml:2:62: servers.rules[0].match.name[1]: expected a string"},
        {"mode: enforce\n", NULL, WD_E_INVALID_POLICY, "policy:1:1: version: missing required key"},
        {"- 1\n", "p.yaml", WD_E_INVALID_POLICY, "p.yaml: policy document: expected a mapping"},
        {"a: 1\na: 2\n", "p.yaml", WD_E_DUPLICATE_KEY,
         "p.yaml: YAML line 2, column 1: duplicate mapping key 'a'"},
        {"version: 1\nfrob\x01: 1\n", "p\x1b.yaml", WD_E_MALFORMED, NULL},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        wd_policy *p = (wd_policy *)&p;
        wd_err e;
        wd_code rc = wd_policy_load_named((const unsigned char *)c[i].yaml, strlen(c[i].yaml),
                                          c[i].name, &p, &e);
        if (rc != c[i].code || (c[i].msg != NULL && strcmp(e.msg, c[i].msg) != 0))
            fail_msg("case %zu: got %s '%s'", i + 1, wd_code_name(rc), e.msg);
        assert_null(p);
        for (const char *q = e.msg; *q; q++) /* names are cleaned like everything else */
            assert_true(*q >= 0x20 && *q < 0x7f);
    }
    const char *ok = "version: 1\n";
    wd_policy *p = NULL;
    wd_err e;
    assert_int_equal(wd_policy_load_named((const unsigned char *)ok, strlen(ok), "x", &p, &e),
                     WD_OK);
    wd_policy_unref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_rejections_name_the_path),
        cmocka_unit_test(t02_valid_documents_pass),
        cmocka_unit_test(t03_glob_length_at_and_past_the_limit),
        cmocka_unit_test(t04_reason_length_at_and_past_the_limit),
        cmocka_unit_test(t05_regex_length_at_and_past_the_limit),
        cmocka_unit_test(t06_rule_and_profile_names_at_and_past_the_id_limit),
        cmocka_unit_test(t07_labels_at_and_past_the_limits),
        cmocka_unit_test(t08_document_size_at_and_past_the_limit),
        cmocka_unit_test(t09_validate_doc_is_pure_and_agrees_with_load),
        cmocka_unit_test(t10_load_file_reports_io_and_size),
        cmocka_unit_test(t11_named_load_gives_file_line_and_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
