/* cmd_policy.c — `warden policy check FILE` (SPEC §6, §9): lint a policy document and report
 * the path of its first error; `warden policy test POLICY CASES`: decide a file of cases (server
 * creations and tool calls) and compare with what each expects, in the spirit of `opa test`.
 * It must never accept a document the engine would refuse to load, never run cases from a case
 * file that has an error anywhere, and never print an environment value. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "cli.h"
#include "codec/yaml.h"
#include "policy/runconfig_json.h"
#include "warden/limits.h"
#include "warden/policy.h"

static const char usage_group[] =
    "usage: warden policy <command> [flags]\n"
    "\n"
    "Policy documents.\n"
    "\n"
    "commands:\n"
    "  check    validate a policy document and compile it\n"
    "  test     decide a file of test cases under a policy and report the ones that fail\n"
    "\n"
    "Run 'warden policy <command> --help' for its flags.\n";

static const char usage_check[] =
    "usage: warden policy check [--default] [FILE]\n"
    "\n"
    "Load FILE (YAML, at most 256 KiB) as warden would: parse it with the limited loader,\n"
    "check it against the full schema (keys, types, enums, ids, globs, regexes, profiles),\n"
    "and compile it. On success prints\n"
    "  ok: N server rules, M tool rules, K profiles\n"
    "On the first error prints one line 'rejected (<code>): <path>: <why>' on stderr, e.g.\n"
    "  rejected (invalid-policy): servers.rules[2].mtach: unknown key\n"
    "Loader errors keep their own codes: oversized (size, depth, nodes), duplicate-key,\n"
    "malformed (YAML syntax, tags, several documents).\n"
    "\n"
    "  FILE          the policy document, or - for standard input\n"
    "  --default     check the policy built into warden instead of a file\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit codes: 0 valid, 1 operational error (I/O), 2 usage error, 3 rejected.\n";

static const char usage_test[] =
    "usage: warden policy test [--default] [POLICY] CASES\n"
    "\n"
    "Decide every case of CASES (YAML) under the policy POLICY (or the policy built into\n"
    "warden with --default) and compare each decision with what the case expects:\n"
    "\n"
    "  cases:\n"
    "    - name: shells are denied\n"
    "      server: {name: sh, command: [bash, -c, \"echo hi\"]}     # a RunConfig\n"
    "      expect: {verdict: deny, rule: no-shells}\n"
    "    - name: writes to /etc are denied\n"
    "      tool_call: {server: fs-docs, tool: write_file, args: {path: /etc/passwd}}\n"
    "      expect: {verdict: deny}\n"
    "\n"
    "Each case has a name and exactly one of server (a RunConfig, as 'warden gate check\n"
    "--config' reads it) or tool_call ({server, tool, args}; args is a mapping, a string value\n"
    "is matched as its text, any other as its compact JSON; keys and values at most 64 KiB in\n"
    "all). expect has verdict (allow or\n"
    "deny: the decision's verdict, so an audit-mode would-be denial is allow), and optionally\n"
    "rule (the rule that decided, e.g. servers.default) and warn (true or false).\n"
    "The file is checked strictly before any case runs: an unknown key, a missing or wrong\n"
    "value is reported as 'warden: policy test: FILE:LINE:COL: PATH: WHY' and nothing runs.\n"
    "Limits are those of a policy document (256 KiB, depth 64, 10,000 nodes).\n"
    "\n"
    "Prints one line per failing case on stdout,\n"
    "  FAIL cases[I] NAME: want VERDICT [(rule R)] [with warn], got VERDICT: REASON (rule R)\n"
    "then 'policy test: N passed, M failed'.\n"
    "\n"
    "  POLICY        the policy document (YAML), or - for standard input\n"
    "  CASES         the case file (YAML), or - for standard input\n"
    "  --default     test the policy built into warden (then only CASES is given)\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit codes: 0 every case passed, 1 operational error (I/O), 2 usage error or an error in\n"
    "CASES, 3 a case failed or POLICY was rejected.\n";

static int do_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"default", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool builtin = false;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'h')
            return cli_help(usage_check);
        if (ch == 'd') {
            builtin = true;
            continue;
        }
        return cli_option_error(usage_check, opts, argv);
    }
    int nargs = argc - optind;
    if (builtin ? nargs != 0 : nargs != 1)
        return cli_usage_error(usage_check, builtin ? "--default takes no FILE"
                                                    : "exactly one FILE is required");
    wd_err e;
    wd_err_clear(&e);
    wd_policy *p = NULL;
    wd_code rc = cli_load_policy(builtin ? NULL : argv[optind], &p, &e);
    if (rc != WD_OK)
        return cli_report(&e);
    wd_policy_info info;
    wd_policy_get_info(p, &info);
    printf("ok: %zu server rules, %zu tool rules, %zu profiles\n", info.server_rules,
           info.tool_rules, info.profiles);
    wd_policy_unref(p);
    return 0;
}

/* ---- policy test ---- */

/* One case of a case file, checked and ready to decide. */
typedef struct tcase {
    const char *name;     /* points into the tree */
    char where[32];       /* "cases[3]" */
    wd_runconfig *rc;     /* a server case, or NULL */
    const char *server;   /* a tool-call case: points into the tree */
    const char *tool;
    cli_tool_args args;
    wd_verdict want;
    const char *want_rule; /* NULL: any */
    int want_warn;         /* -1: any */
} tcase;

/* A case-file error at path: "FILE:LINE:COL: PATH: WHY" (or "FILE: WHY" without a path),
 * printed as a usage error line; returns 2. */
static int case_error(const char *file, const wd_yaml_marks *m, const json_t *root,
                      const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int case_error(const char *file, const wd_yaml_marks *m, const json_t *root,
                      const char *path, const char *fmt, ...)
{
    char why[WD_ERR_MSG_MAX], shown[256], where[64] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    wd_clean_text(file, shown, sizeof shown);
    size_t line, col;
    if (path != NULL && wd_yaml_marks_find(m, root, path, &line, &col))
        snprintf(where, sizeof where, ":%zu:%zu", line, col);
    char clean[WD_ERR_MSG_MAX];
    wd_clean_text(why, clean, sizeof clean);
    if (path != NULL && path[0] != '\0')
        fprintf(stderr, "warden: policy test: %s%s: %s: %s\n", shown, where, path, clean);
    else
        fprintf(stderr, "warden: policy test: %s%s: %s\n", shown, where, clean);
    return 2;
}

/* Unknown keys of obj at path, with a suggestion; 0 when all are known. */
static int case_keys(const char *file, const wd_yaml_marks *m, const json_t *root,
                     const json_t *obj, const char *path, const char *const *names)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool known = false;
        for (size_t i = 0; names[i] != NULL && !known; i++)
            known = strcmp(k, names[i]) == 0;
        if (known)
            continue;
        char p[300], kk[130];
        wd_clean_text(k, kk, sizeof kk);
        snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", kk);
        const char *near = wd_suggest(k, names, (size_t)-1);
        if (near != NULL)
            return case_error(file, m, root, p, "unknown key (did you mean '%s'?)", near);
        return case_error(file, m, root, p, "unknown key");
    }
    return 0;
}

static void free_cases(tcase *c, size_t n)
{
    for (size_t i = 0; c != NULL && i < n; i++) {
        wd_runconfig_free(c[i].rc);
        cli_tool_args_free(&c[i].args);
    }
    free(c);
}

/* Check every case of the tree; on success *out holds them (free_cases). Returns 0, or 2 after
 * printing the first error. */
static int load_cases(const char *file, const wd_yaml_marks *m, const json_t *root,
                      tcase **out, size_t *n_out)
{
    static const char *const top_keys[] = {"cases", NULL};
    static const char *const case_keys_[] = {"name", "server", "tool_call", "expect", NULL};
    static const char *const call_keys[] = {"server", "tool", "args", NULL};
    static const char *const expect_keys[] = {"verdict", "rule", "warn", NULL};
    *out = NULL;
    *n_out = 0;
    if (!json_is_object(root))
        return case_error(file, m, root, "", "expected a mapping with a list 'cases'");
    int st = case_keys(file, m, root, root, "", top_keys);
    if (st != 0)
        return st;
    const json_t *cases = json_object_get(root, "cases");
    if (cases == NULL)
        return case_error(file, m, root, "cases", "missing required key");
    if (!json_is_array(cases) || json_array_size(cases) == 0)
        return case_error(file, m, root, "cases", "expected a non-empty list of cases");
    size_t n = json_array_size(cases);
    tcase *tc = calloc(n, sizeof *tc);
    if (tc == NULL) {
        fprintf(stderr, "warden: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        tcase *t = &tc[i];
        t->want_warn = -1;
        snprintf(t->where, sizeof t->where, "cases[%zu]", i);
        char p[300];
        const json_t *c = json_array_get(cases, i);
        if (!json_is_object(c)) {
            st = case_error(file, m, root, t->where, "expected a mapping");
            break;
        }
        if ((st = case_keys(file, m, root, c, t->where, case_keys_)) != 0)
            break;
        const json_t *name = json_object_get(c, "name");
        snprintf(p, sizeof p, "%s.name", t->where);
        if (name == NULL) {
            st = case_error(file, m, root, p, "missing required key");
            break;
        }
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            json_string_length(name) > 256) {
            st = case_error(file, m, root, p, "expected a non-empty string of at most 256 bytes");
            break;
        }
        t->name = json_string_value(name);
        const json_t *server = json_object_get(c, "server");
        const json_t *call = json_object_get(c, "tool_call");
        if ((server == NULL) == (call == NULL)) {
            st = case_error(file, m, root, t->where,
                            "give exactly one of server (a RunConfig) or tool_call");
            break;
        }
        wd_err e;
        wd_err_clear(&e);
        if (server != NULL) {
            snprintf(p, sizeof p, "%s.server", t->where);
            if (!json_is_object(server)) {
                st = case_error(file, m, root, p, "expected a RunConfig mapping");
                break;
            }
            if (wd_runconfig_from_json(server, &t->rc, &e) != WD_OK) {
                /* the message starts with the field's path inside the RunConfig */
                char inner[WD_ERR_MSG_MAX + 320];
                size_t pl = strcspn(e.msg, ":");
                snprintf(inner, sizeof inner, "%s.%.*s", p, (int)pl, e.msg);
                bool has_path = e.msg[pl] == ':' && strncmp(e.msg, "RunConfig:", 10) != 0;
                st = case_error(file, m, root, has_path ? inner : p, "%s",
                                has_path ? e.msg + pl + 2
                                         : (e.msg[pl] == ':' ? e.msg + pl + 2 : e.msg));
                break;
            }
        } else {
            snprintf(p, sizeof p, "%s.tool_call", t->where);
            if (!json_is_object(call)) {
                st = case_error(file, m, root, p, "expected a mapping {server, tool, args}");
                break;
            }
            if ((st = case_keys(file, m, root, call, p, call_keys)) != 0)
                break;
            const json_t *s = json_object_get(call, "server"), *tl = json_object_get(call, "tool");
            const json_t *a = json_object_get(call, "args");
            char q[320];
            if (!json_is_string(s) || json_string_length(s) == 0) {
                snprintf(q, sizeof q, "%s.server", p);
                st = case_error(file, m, root, q, s ? "expected a non-empty string"
                                                    : "missing required key");
                break;
            }
            if (!json_is_string(tl) || json_string_length(tl) == 0) {
                snprintf(q, sizeof q, "%s.tool", p);
                st = case_error(file, m, root, q, tl ? "expected a non-empty string"
                                                     : "missing required key");
                break;
            }
            t->server = json_string_value(s);
            t->tool = json_string_value(tl);
            snprintf(q, sizeof q, "%s.args", p);
            json_t *empty = a ? NULL : json_object();
            wd_code r = cli_tool_args_from(a ? a : empty, q, &t->args, &e);
            json_decref(empty); /* an empty object: no argument points into it */
            if (r != WD_OK) {
                if (r == WD_E_NOMEM) {
                    st = cli_report(&e);
                    break;
                }
                st = case_error(file, m, root, q, "%s", e.msg + strlen(q) + 2);
                break;
            }
        }
        const json_t *ex = json_object_get(c, "expect");
        snprintf(p, sizeof p, "%s.expect", t->where);
        if (ex == NULL) {
            st = case_error(file, m, root, p, "missing required key");
            break;
        }
        if (!json_is_object(ex)) {
            st = case_error(file, m, root, p, "expected a mapping {verdict, rule, warn}");
            break;
        }
        if ((st = case_keys(file, m, root, ex, p, expect_keys)) != 0)
            break;
        const json_t *v = json_object_get(ex, "verdict");
        char q[320];
        snprintf(q, sizeof q, "%s.verdict", p);
        if (v == NULL) {
            st = case_error(file, m, root, q, "missing required key");
            break;
        }
        const char *vs = json_string_value(v);
        if (vs == NULL || (strcmp(vs, "allow") != 0 && strcmp(vs, "deny") != 0)) {
            st = case_error(file, m, root, q, "must be allow or deny");
            break;
        }
        t->want = strcmp(vs, "allow") == 0 ? WD_VERDICT_ALLOW : WD_VERDICT_DENY;
        const json_t *r = json_object_get(ex, "rule");
        if (r != NULL) {
            snprintf(q, sizeof q, "%s.rule", p);
            if (!json_is_string(r) || json_string_length(r) == 0) {
                st = case_error(file, m, root, q, "expected a rule name");
                break;
            }
            t->want_rule = json_string_value(r);
        }
        const json_t *w = json_object_get(ex, "warn");
        if (w != NULL) {
            snprintf(q, sizeof q, "%s.warn", p);
            if (!json_is_boolean(w)) {
                st = case_error(file, m, root, q, "expected true or false");
                break;
            }
            t->want_warn = json_is_true(w);
        }
    }
    if (st != 0) {
        free_cases(tc, n);
        return st;
    }
    *out = tc;
    *n_out = n;
    return 0;
}

/* Decide one case; true when it passed. A failure prints one line saying what decided. */
static bool run_case(const wd_policy *p, const tcase *t)
{
    wd_decision d;
    if (t->rc != NULL) {
        wd_policy_decide_server(p, t->rc, &d);
    } else {
        wd_tool_call call = {t->server, t->tool, t->args.args, t->args.n};
        wd_policy_decide_tool(p, &call, &d);
    }
    bool ok = d.verdict == t->want && (t->want_rule == NULL || strcmp(t->want_rule, d.rule) == 0) &&
              (t->want_warn < 0 || (bool)t->want_warn == d.warn);
    if (ok)
        return true;
    char name[260], want_rule[140], want[200], got[40];
    wd_clean_text(t->name, name, sizeof name);
    snprintf(want, sizeof want, "%s", t->want == WD_VERDICT_ALLOW ? "allow" : "deny");
    if (t->want_rule != NULL) {
        wd_clean_text(t->want_rule, want_rule, sizeof want_rule);
        size_t l = strlen(want);
        snprintf(want + l, sizeof want - l, " (rule %s)", want_rule);
    }
    if (t->want_warn >= 0) {
        size_t l = strlen(want);
        snprintf(want + l, sizeof want - l, t->want_warn ? " with warn" : " without warn");
    }
    snprintf(got, sizeof got, "%s%s%s", d.verdict == WD_VERDICT_ALLOW ? "allow" : "deny",
             d.warn ? " (warn)" : "", d.audit_would_deny ? " (audit)" : "");
    printf("FAIL %s %s: want %s, got %s: %s (rule %s)\n", t->where, name, want, got, d.reason,
           d.rule);
    return false;
}

static int do_test(int argc, char **argv)
{
    static const struct option opts[] = {
        {"default", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool builtin = false;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'h')
            return cli_help(usage_test);
        if (ch == 'd') {
            builtin = true;
            continue;
        }
        return cli_option_error(usage_test, opts, argv);
    }
    int nargs = argc - optind;
    if (builtin ? nargs != 1 : nargs != 2)
        return cli_usage_error(usage_test, builtin ? "--default takes only CASES"
                                                   : "POLICY and CASES are required");
    const char *policy_path = builtin ? NULL : argv[optind];
    const char *cases_path = argv[argc - 1];
    const char *shown_name = strcmp(cases_path, "-") == 0 ? "<stdin>" : cases_path;

    wd_err e;
    wd_err_clear(&e);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (wd_read_file(cases_path, WD_MAX_POLICY_BYTES, &buf, &len, &e) != WD_OK) {
        if (e.code == WD_E_OVERSIZED) { /* the message names the file already */
            fprintf(stderr, "warden: policy test: %s\n", e.msg);
            return 2;
        }
        return cli_report(&e);
    }
    json_t *root = NULL;
    wd_yaml_marks *marks = NULL;
    wd_code r = wd_yaml_load_marked(buf, len, &root, &marks, &e);
    free(buf);
    if (r != WD_OK)
        return r == WD_E_NOMEM ? cli_report(&e) : case_error(shown_name, NULL, NULL, NULL, "%s", e.msg);
    tcase *tc = NULL;
    size_t n = 0;
    int status = load_cases(shown_name, marks, root, &tc, &n);
    wd_policy *p = NULL;
    if (status == 0 && cli_load_policy(policy_path, &p, &e) != WD_OK)
        status = cli_report(&e);
    if (status == 0) {
        size_t passed = 0;
        for (size_t i = 0; i < n; i++)
            passed += run_case(p, &tc[i]);
        printf("policy test: %zu passed, %zu failed\n", passed, n - passed);
        status = passed == n ? 0 : 3;
    }
    wd_policy_unref(p);
    free_cases(tc, n);
    wd_yaml_marks_free(marks);
    json_decref(root);
    return status;
}

int cmd_policy(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage_group, "a command is required");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(usage_group);
    if (strcmp(sub, "check") == 0)
        return do_check(argc - 1, argv + 1);
    if (strcmp(sub, "test") == 0)
        return do_test(argc - 1, argv + 1);
    return cli_usage_error(usage_group, "unknown command '%.64s'", sub);
}
