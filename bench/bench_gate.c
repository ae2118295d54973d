/* bench_gate.c — speed of gate checks against compiled policies of 10, 100, 1,000 and 10,000
 * rules per section (a realistic mix: exact names, prefix globs, ** paths, regexes on tool
 * arguments), through the gate chain with the built-in policy gate registered. Prints
 * decisions per second, p50 and p99 latency in ns, and compiled bytes per rule. It never
 * asserts timings: numbers are for reading, not for passing. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "policy/policy_doc.h"
#include "warden/gate.h"
#include "warden/policy.h"

#define WORKLOAD 1024
#define SAMPLES 200000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static json_t *strs(int n, ...)
{
    json_t *a = json_array();
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(va_arg(ap, const char *)));
    va_end(ap);
    return a;
}

static json_t *str1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *str1(const char *fmt, ...)
{
    char b[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    return strs(1, b);
}

/* n server rules and n tool rules, plus a handful no index can exclude. */
static json_t *make_doc(int n)
{
    json_t *srules = json_array(), *trules = json_array();
    /* rules without a name constraint: always candidates */
    json_array_append_new(srules, json_pack("{s:s, s:s, s:s, s:{s:o}}", "name", "no-shells",
                                            "action", "deny", "reason", "shells run anything",
                                            "match", "command", strs(3, "sh", "bash", "dash")));
    json_array_append_new(srules, json_pack("{s:s, s:s, s:{s:o}}", "name", "no-docker-hub",
                                            "action", "deny", "match", "image",
                                            strs(1, "docker.io/**")));
    json_array_append_new(srules, json_pack("{s:s, s:s, s:{s:o, s:o}, s:{s:s}}", "name",
                                            "registry-servers", "action", "allow", "match",
                                            "registry", strs(1, "https://registry.acme.example/*"),
                                            "transport", strs(1, "stdio"), "limits", "profile",
                                            "std"));
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "r%d", i);
        json_t *m = json_object(), *r;
        int kind = i % 20;
        if (kind < 8) { /* exact names */
            json_object_set_new(m, "name", str1("team-%d-srv", i));
            json_object_set_new(m, "command", strs(2, "node", "npx"));
        } else if (kind < 14) { /* prefix globs with positional args */
            json_object_set_new(m, "name", str1("svc-%d-*", i));
            json_object_set_new(m, "command", strs(1, "npx"));
            json_t *args = json_array();
            json_array_append_new(args, json_string("-y"));
            char pkg[80];
            snprintf(pkg, sizeof pkg, "@acme/pkg-%d@*", i);
            json_array_append_new(args, json_string(pkg));
            json_object_set_new(m, "args", args);
        } else if (kind < 18) { /* ** paths */
            json_object_set_new(m, "name", str1("app-%d*", i));
            json_object_set_new(m, "command", str1("/opt/acme/%d/**/bin/server", i));
        } else { /* denies with labels */
            json_object_set_new(m, "name", str1("legacy-%d-*", i));
            json_object_set_new(m, "labels", json_pack("{s:s}", "tier", "deprecated"));
        }
        bool deny = kind >= 18;
        r = json_pack("{s:s, s:s, s:s, s:o}", "name", name, "action", deny ? "deny" : "allow",
                      "reason", deny ? "deprecated" : "approved", "match", m);
        if (!deny)
            json_object_set_new(r, "limits", json_pack("{s:s}", "profile", "std"));
        json_array_append_new(srules, r);

        json_t *t = json_pack("{s:s, s:s}", "name", name, "action",
                              i % 10 == 0 ? "deny" : i % 10 == 1 ? "warn" : "allow");
        if (i % 3 == 0)
            json_object_set_new(t, "tool", str1("tool_%d", i));
        else
            json_object_set_new(t, "tool", str1("ns%d_*", i));
        json_object_set_new(t, "server", str1("team-%d-*", i % 97));
        if (i % 4 == 0)
            json_object_set_new(t, "args",
                                json_pack("[{s:s, s:s}, {s:s, s:s}]", "key", "path", "regex",
                                          "^/(etc|usr|boot)/", "key", "query", "regex",
                                          "^[a-z0-9_ ]{1,64}$"));
        json_array_append_new(trules, t);
    }
    json_t *tools_always = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "name", "no-system-paths",
                                     "action", "deny", "reason", "system paths",
                                     "args", "key", "path", "regex", "^/(etc|boot)/");
    json_array_insert_new(trules, 0, tools_always);
    return json_pack("{s:i, s:{s:s, s:o}, s:{s:{s:o, s:o, s:o}}, s:{s:s, s:o}}", "version", 1,
                     "servers", "default", "deny", "rules", srules, "permission_profiles", "std",
                     "read", strs(2, "/srv/**", "/data/**"), "write", strs(1, "/tmp/mcp/**"), "env",
                     strs(3, "HOME", "PATH", "MCP_*"), "mcp_tool_policy", "default", "allow",
                     "rules", trules);
}

typedef struct work {
    char name[64];
    char *argv[3];
    char a1[64], a2[64];
    wd_runconfig rc;
    char tool[64], server[64];
    wd_tool_arg args[4];
    wd_tool_call call;
} work;

static char *read_globs[] = {"/srv/data/**"};
static wd_profile req_profile = {WD_NET_NONE, NULL, 0, NULL, 0, read_globs, 1, NULL, 0, NULL, 0, false};
static wd_kv req_env[] = {{"HOME", "/home/u"}, {"MCP_TOKEN", "t"}};

static void make_work(work *w, int n, unsigned *seed)
{
    for (int k = 0; k < WORKLOAD; k++) {
        work *x = &w[k];
        int i = (int)(rand_r(seed) % (unsigned)(n + n / 4 + 1)); /* some names match no rule */
        int kind = i % 20;
        memset(&x->rc, 0, sizeof x->rc);
        x->argv[0] = "npx";
        x->argv[1] = "-y";
        x->argv[2] = x->a2;
        snprintf(x->a2, sizeof x->a2, "@acme/pkg-%d@1.2.3", i);
        if (kind < 8) {
            snprintf(x->name, sizeof x->name, "team-%d-srv", i);
            x->argv[0] = "node";
        } else if (kind < 14) {
            snprintf(x->name, sizeof x->name, "svc-%d-prod", i);
        } else if (kind < 18) {
            snprintf(x->name, sizeof x->name, "app-%d-x", i);
            snprintf(x->a1, sizeof x->a1, "/opt/acme/%d/v2/x86/bin/server", i);
            x->argv[0] = x->a1;
        } else {
            snprintf(x->name, sizeof x->name, "legacy-%d-old", i);
        }
        x->rc.name = x->name;
        x->rc.group = "default";
        x->rc.transport = "stdio";
        x->rc.command = x->argv;
        x->rc.n_command = 3;
        x->rc.profile = &req_profile;
        x->rc.env = req_env;
        x->rc.n_env = 2;

        int t = (int)(rand_r(seed) % (unsigned)(n + 1));
        if (t % 3 == 0)
            snprintf(x->tool, sizeof x->tool, "tool_%d", t);
        else
            snprintf(x->tool, sizeof x->tool, "ns%d_list", t);
        snprintf(x->server, sizeof x->server, "team-%d-srv", t % 97);
        x->args[0] = (wd_tool_arg){"path", rand_r(seed) % 8 ? "/srv/data/report.csv" : "/etc/shadow", 0};
        x->args[1] = (wd_tool_arg){"query", "quarterly revenue 2026", 0};
        x->args[2] = (wd_tool_arg){"limit", "100", 0};
        x->args[3] = (wd_tool_arg){"format", "json", 0};
        for (int a = 0; a < 4; a++)
            x->args[a].value_len = strlen(x->args[a].value);
        x->call = (wd_tool_call){x->server, x->tool, x->args, 4};
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *what, int n, work *w, bool tools, size_t bytes_per_rule)
{
    static uint64_t lat[SAMPLES];
    wd_decision d;
    unsigned long allowed = 0;
    for (int i = 0; i < 20000; i++) { /* warm up */
        work *x = &w[i % WORKLOAD];
        wd_code r = tools ? wd_gate_check_tool(&x->call, &d, NULL)
                          : wd_gate_check_create(&x->rc, &d, NULL);
        allowed += r == WD_OK;
    }
    uint64_t t0 = now_ns();
    for (int i = 0; i < SAMPLES; i++) {
        work *x = &w[i % WORKLOAD];
        wd_code r = tools ? wd_gate_check_tool(&x->call, &d, NULL)
                          : wd_gate_check_create(&x->rc, &d, NULL);
        allowed += r == WD_OK;
    }
    uint64_t total = now_ns() - t0;
    for (int i = 0; i < SAMPLES; i++) {
        work *x = &w[i % WORKLOAD];
        uint64_t a = now_ns();
        if (tools)
            wd_gate_check_tool(&x->call, &d, NULL);
        else
            wd_gate_check_create(&x->rc, &d, NULL);
        lat[i] = now_ns() - a;
    }
    qsort(lat, SAMPLES, sizeof lat[0], cmp_u64);
    printf("%-7s %6d rules  %10.0f decisions/s  p50 %5llu ns  p99 %5llu ns  %5zu bytes/rule  "
           "(%.0f%% allowed)\n",
           what, n, (double)SAMPLES * 1e9 / (double)total, (unsigned long long)lat[SAMPLES / 2],
           (unsigned long long)lat[SAMPLES * 99 / 100], bytes_per_rule,
           100.0 * (double)allowed / (double)(SAMPLES + 20000));
}

int main(void)
{
    static const int sizes[] = {10, 100, 1000, 10000};
    static work w[WORKLOAD];
    uint64_t a = now_ns(), b = now_ns();
    printf("gate checks through the chain (policy gate registered); timer overhead ~%llu ns\n",
           (unsigned long long)(b - a));
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        json_t *doc = make_doc(n);
        wd_policy *p = NULL;
        wd_err e;
        uint64_t c0 = now_ns();
        if (doc == NULL || wd_policy_compile_doc(doc, &p, &e) != WD_OK) {
            fprintf(stderr, "bench_gate: cannot compile the %d-rule policy: %s\n", n,
                    doc ? e.msg : "out of memory");
            return 1;
        }
        uint64_t compile_ns = now_ns() - c0;
        json_decref(doc);
        wd_policy_info info;
        wd_policy_get_info(p, &info);
        const wd_gate_ops *ops;
        void *ctx;
        wd_gate_id id;
        if (wd_policy_gate_new(p, &ops, &ctx, &e) != WD_OK ||
            wd_gate_register(ops, ctx, &id, &e) != WD_OK) {
            fprintf(stderr, "bench_gate: %s\n", e.msg);
            return 1;
        }
        unsigned seed = 42;
        make_work(w, n, &seed);
        size_t per_rule = info.bytes / (info.server_rules + info.tool_rules);
        printf("-- %d rules per section: %zu server + %zu tool rules, %zu KiB compiled, "
               "validated and compiled in %.1f ms\n",
               n, info.server_rules, info.tool_rules, info.bytes / 1024, (double)compile_ns / 1e6);
        measure("create", n, w, false, per_rule);
        measure("tool", n, w, true, per_rule);
        wd_gate_unregister(id, NULL);
        wd_policy_unref(p);
    }
    return 0;
}
