/* test_policy.c — focus: policy decisions (SPEC §6) as a table: deny overrides in both orders,
 * defaults and missing sections, every match field, limits profiles exceeded on each axis,
 * audit mode, warn, regex limits failing closed; and that the indexed decision always equals
 * the rule-by-rule explanation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "policy/policy_doc.h"
#include "warden/gate.h"
#include "warden/policy.h"
#include "warden/runconfig.h"

/* ---- policies under test ---- */

#define MAIN_BODY                                                                              \
    "servers:\n"                                                                               \
    "  default: deny\n"                                                                        \
    "  rules:\n"                                                                               \
    "    - name: deny-shells\n"                                                                \
    "      action: deny\n"                                                                     \
    "      reason: no shells\n"                                                                \
    "      match: {command: [sh, bash, \"/bin/*sh\"]}\n"                                       \
    "    - name: deny-evil-name\n"                                                             \
    "      action: deny\n"                                                                     \
    "      reason: evil servers\n"                                                             \
    "      match: {name: [\"evil-*\"]}\n"                                                      \
    "    - name: fs-allow\n"                                                                   \
    "      action: allow\n"                                                                    \
    "      reason: filesystem servers\n"                                                       \
    "      match:\n"                                                                           \
    "        name: [\"fs-*\"]\n"                                                               \
    "        command: [npx]\n"                                                                 \
    "        args: [\"-y\", \"@modelcontextprotocol/server-filesystem@*\"]\n"                  \
    "      limits: {profile: fsprof}\n"                                                        \
    "    - name: deny-after-allow\n"                                                           \
    "      action: deny\n"                                                                     \
    "      reason: fs-bad is blocked\n"                                                        \
    "      match: {name: [fs-bad]}\n"                                                          \
    "    - name: image-allow\n"                                                                \
    "      action: allow\n"                                                                    \
    "      match: {image: [\"ghcr.io/acme/*@sha256:*\"]}\n"                                    \
    "    - name: remote-allow\n"                                                               \
    "      action: allow\n"                                                                    \
    "      match: {remote_url: [\"https://mcp.acme.example/**\"], transport: [sse, "           \
    "streamable-http]}\n"                                                                      \
    "    - name: registry-allow\n"                                                             \
    "      action: allow\n"                                                                    \
    "      match: {registry: [\"https://registry.acme.example/*\"], registry_server: "         \
    "[\"io.acme/*\"], command: [node]}\n"                                                      \
    "    - name: group-allow\n"                                                                \
    "      action: allow\n"                                                                    \
    "      match: {group: [team-a], command: [python3]}\n"                                     \
    "      limits: {profile: netprof}\n"                                                       \
    "    - name: labels-allow\n"                                                               \
    "      action: allow\n"                                                                    \
    "      match: {labels: {team: payments, tier: gold}, command: [uvx]}\n"                    \
    "      limits: {profile: envprof}\n"                                                       \
    "    - name: abs-command\n"                                                                \
    "      action: allow\n"                                                                    \
    "      match: {command: [\"/opt/**/bin/tool\"]}\n"                                         \
    "      limits: {profile: privprof}\n"                                                      \
    "    - name: char-class\n"                                                                 \
    "      action: allow\n"                                                                    \
    "      match: {name: [\"svc-[0-9][0-9]\"], command: [deno]}\n"                             \
    "permission_profiles:\n"                                                                   \
    "  fsprof: {network: none, read: [\"/srv/data/**\"], write: [\"/tmp/mcp/**\"], env: "      \
    "[HOME, \"MCP_*\"], privileged: false}\n"                                                  \
    "  netprof: {network: {allow_hosts: [\"*.acme.example\"], allow_ports: [443, 8443]}}\n"    \
    "  envprof: {env: [HOME, PATH]}\n"                                                         \
    "  privprof: {privileged: true, network: host, read: [\"/**\"], write: [\"/tmp/**\"], "    \
    "env: [\"*\"]}\n"                                                                          \
    "mcp_tool_policy:\n"                                                                       \
    "  default: deny\n"                                                                        \
    "  rules:\n"                                                                               \
    "    - name: no-system-paths\n"                                                            \
    "      action: deny\n"                                                                     \
    "      reason: system paths are off limits\n"                                              \
    "      server: [\"fs-*\"]\n"                                                               \
    "      tool: [write_file, move_file, \"delete_*\"]\n"                                      \
    "      args: [{key: path, regex: \"^/(etc|usr|boot)/\"}]\n"                                \
    "    - name: warn-big\n"                                                                   \
    "      action: warn\n"                                                                     \
    "      reason: large reads are logged\n"                                                   \
    "      tool: [read_file]\n"                                                                \
    "      args: [{key: size, regex: \"^[0-9]{7,}$\"}]\n"                                      \
    "    - name: fs-tools\n"                                                                   \
    "      action: allow\n"                                                                    \
    "      server: [\"fs-*\"]\n"                                                               \
    "      tool: [\"read_*\", write_file, \"delete_*\"]\n"                                     \
    "    - name: redos-deny\n"                                                                 \
    "      action: deny\n"                                                                     \
    "      reason: catastrophic\n"                                                             \
    "      tool: [grep]\n"                                                                     \
    "      args: [{key: q, regex: \"^(a+)+$\"}]\n"                                             \
    "    - name: redos-allow\n"                                                                \
    "      action: allow\n"                                                                    \
    "      tool: [grep2]\n"                                                                    \
    "      args: [{key: q, regex: \"^(a+)+$\"}]\n"                                             \
    "    - name: safe-save\n"                                                                  \
    "      action: allow\n"                                                                    \
    "      tool: [save]\n"                                                                     \
    "      args: [{key: path, regex: \"^/tmp/\"}]\n"                                           \
    "    - name: any-echo\n"                                                                   \
    "      action: allow\n"                                                                    \
    "      tool: [echo]\n"

enum { P_MAIN, P_AUDIT, P_NOSECTIONS, P_EMPTYDENY, P_EMPTYALLOW, P_DEFALLOW, P_ORDER1, P_ORDER2,
       P_TWOALLOW, P_COUNT };

static const char *const policy_text[P_COUNT] = {
    [P_MAIN] = "version: 1\nmode: enforce\n" MAIN_BODY,
    [P_AUDIT] = "version: 1\nmode: audit\n" MAIN_BODY,
    [P_NOSECTIONS] = "version: 1\n",
    [P_EMPTYDENY] = "version: 1\nservers:\n  default: allow\n  rules:\n"
                    "    - {name: block-all, action: deny, reason: frozen, match: {}}\n",
    [P_EMPTYALLOW] = "version: 1\nservers:\n  default: deny\n  rules:\n"
                     "    - {name: allow-all, action: allow}\n",
    [P_DEFALLOW] = "version: 1\nservers: {default: allow}\n",
    [P_ORDER1] = "version: 1\nservers:\n  rules:\n"
                 "    - {name: d, action: deny, reason: first deny, match: {name: [x]}}\n"
                 "    - {name: a, action: allow, match: {name: [x]}}\n",
    [P_ORDER2] = "version: 1\nservers:\n  rules:\n"
                 "    - {name: a, action: allow, match: {name: [x]}}\n"
                 "    - {name: d, action: deny, reason: later deny, match: {name: [x]}}\n",
    [P_TWOALLOW] = "version: 1\nservers:\n  rules:\n"
                   "    - {name: small, action: allow, match: {name: [srv]}, limits: {profile: s}}\n"
                   "    - {name: big, action: allow, match: {name: [srv]}, limits: {profile: b}}\n"
                   "permission_profiles:\n"
                   "  s: {read: [\"/a/**\"]}\n"
                   "  b: {read: [\"/**\"]}\n",
};

static wd_policy *pol[P_COUNT];

static char redos[5003];

static int setup(void **state)
{
    (void)state;
    memset(redos, 'a', 5000); /* ^(a+)+$ backtracks catastrophically on a...ab */
    redos[5000] = 'b';
    redos[5001] = '\0';
    for (int i = 0; i < P_COUNT; i++) {
        wd_err e;
        if (wd_policy_load((const unsigned char *)policy_text[i], strlen(policy_text[i]), &pol[i],
                           &e) != WD_OK) {
            fprintf(stderr, "policy %d: %s\n", i, e.msg);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < P_COUNT; i++)
        wd_policy_unref(pol[i]);
    return 0;
}

/* RunConfigs are written with ' for " to keep the table readable. */
static wd_runconfig *rc_from(const char *squoted)
{
    char *j = strdup(squoted);
    assert_non_null(j);
    for (char *q = j; *q; q++)
        if (*q == '\'')
            *q = '"';
    wd_runconfig *rc = NULL;
    wd_err e;
    if (wd_runconfig_decode((const unsigned char *)j, strlen(j), &rc, &e) != WD_OK)
        fail_msg("RunConfig %s: %s", j, e.msg);
    free(j);
    return rc;
}

static void ignore_step(void *arg, const wd_explain_step *s)
{
    (void)s;
    (*(int *)arg)++;
}

static void same_decision(const wd_decision *a, const wd_decision *b)
{
    assert_int_equal(a->verdict, b->verdict);
    assert_string_equal(a->rule, b->rule);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->profile, b->profile);
    assert_int_equal(a->audit_would_deny, b->audit_would_deny);
    assert_int_equal(a->warn, b->warn);
    assert_int_equal(a->regex_limit, b->regex_limit);
}

#define ALLOW WD_VERDICT_ALLOW
#define DENY WD_VERDICT_DENY

typedef struct scase {
    int policy;
    const char *rc;
    wd_verdict verdict;
    const char *rule;
    const char *reason; /* exact, or NULL to skip */
    bool audit;
} scase;

#define FS_CMD "'command':['npx','-y','@modelcontextprotocol/server-filesystem@1.0','/srv/data']"
#define FS(extra) "{'name':'fs-docs'," FS_CMD extra "}"

static const scase server_cases[] = {
    /* 1 */ {P_MAIN, FS(""), ALLOW, "fs-allow", "filesystem servers", false},
    {P_MAIN, "{'name':'fs-docs','command':['npx','-y','other-package']}", DENY,
     "servers.default", "no rule matched (default deny)", false},
    {P_MAIN, "{'name':'fs-docs','command':['node','-y','@modelcontextprotocol/server-filesystem@1']}",
     DENY, "servers.default", NULL, false},
    {P_MAIN, "{'name':'fs-docs','command':['npx','-y']}", DENY, "servers.default", NULL, false},
    /* 5: deny overrides an earlier allow */
    {P_MAIN, "{'name':'fs-bad'," FS_CMD "}", DENY, "deny-after-allow", "fs-bad is blocked", false},
    /* two deny rules match: the first in file order names the reason */
    {P_MAIN, "{'name':'evil-x','command':['bash']}", DENY, "deny-shells", "no shells", false},
    {P_MAIN, "{'name':'evil-x','command':['node']}", DENY, "deny-evil-name", "evil servers", false},
    {P_MAIN, "{'name':'a','command':['/bin/bash','-c','x']}", DENY, "deny-shells", NULL, false},
    {P_MAIN, "{'name':'a','command':['/bin/zsh']}", DENY, "deny-shells", NULL, false},
    /* 10: the full-path pattern needs /bin; "zsh" is not in the basename list */
    {P_MAIN, "{'name':'a','command':['/usr/local/bin/zsh']}", DENY, "servers.default", NULL, false},
    {P_MAIN, "{'name':'a','command':['./sh']}", DENY, "deny-shells", NULL, false},
    /* limits: read */
    {P_MAIN, FS(",'permission_profile':{'read':['/srv/data/x/**']}"), ALLOW, "fs-allow", NULL, false},
    {P_MAIN, FS(",'permission_profile':{'read':['/srv/**']}"), DENY, "fs-allow",
     "read /srv/** exceeds profile fsprof", false},
    {P_MAIN, FS(",'permission_profile':{'read':['/srv/data/a','/srv/datax/b']}"), DENY, "fs-allow",
     "read /srv/datax/b exceeds profile fsprof", false},
    /* 15: write */
    {P_MAIN, FS(",'permission_profile':{'write':['/tmp/mcp/out/**']}"), ALLOW, "fs-allow", NULL, false},
    {P_MAIN, FS(",'permission_profile':{'write':['/tmp/**']}"), DENY, "fs-allow",
     "write /tmp/** exceeds profile fsprof", false},
    {P_MAIN, FS(",'permission_profile':{'write':['/srv/data/x']}"), DENY, "fs-allow",
     "write /srv/data/x exceeds profile fsprof", false},
    /* env names */
    {P_MAIN, FS(",'env':{'MCP_TOKEN':'s3cret','HOME':'/h'}"), ALLOW, "fs-allow", NULL, false},
    {P_MAIN, FS(",'env':{'MCP_TOKEN':'s3cret','AWS_SECRET':'x'}"), DENY, "fs-allow",
     "env AWS_SECRET exceeds profile fsprof", false},
    /* 20 */
    {P_MAIN, FS(",'permission_profile':{'env':['MCP_*']}"), ALLOW, "fs-allow", NULL, false},
    {P_MAIN, FS(",'permission_profile':{'env':['*']}"), DENY, "fs-allow",
     "env * exceeds profile fsprof", false},
    /* privileged and network */
    {P_MAIN, FS(",'permission_profile':{'privileged':true}"), DENY, "fs-allow",
     "privileged exceeds profile fsprof", false},
    {P_MAIN, FS(",'permission_profile':{'privileged':false}"), ALLOW, "fs-allow", NULL, false},
    {P_MAIN, FS(",'permission_profile':{'network':'host'}"), DENY, "fs-allow",
     "network host exceeds profile fsprof", false},
    /* 25 */
    {P_MAIN, FS(",'permission_profile':{'network':{'allow_hosts':['a.example']}}"), DENY, "fs-allow",
     "network exceeds profile fsprof", false},
    /* volumes: ro asks for read, rw for read and write */
    {P_MAIN, FS(",'volumes':['/srv/data/a:/data:ro']"), ALLOW, "fs-allow", NULL, false},
    {P_MAIN, FS(",'volumes':['/srv/data/a:/data']"), DENY, "fs-allow",
     "write /srv/data/a/** exceeds profile fsprof", false},
    {P_MAIN, FS(",'volumes':['/etc:/etc:ro']"), DENY, "fs-allow", "read /etc/** exceeds profile fsprof",
     false},
    /* images: '*' does not cross '/' */
    {P_MAIN, "{'name':'i','image':'ghcr.io/acme/x@sha256:abc'}", ALLOW, "image-allow", "allowed", false},
    /* 30 */
    {P_MAIN, "{'name':'i','image':'ghcr.io/acme/x:latest'}", DENY, "servers.default", NULL, false},
    {P_MAIN, "{'name':'i','image':'ghcr.io/acme/sub/x@sha256:abc'}", DENY, "servers.default", NULL,
     false},
    /* remote URLs ('**' crosses '/') and transports */
    {P_MAIN, "{'name':'r','remote_url':'https://mcp.acme.example/a/b','transport':'streamable-http'}",
     ALLOW, "remote-allow", NULL, false},
    {P_MAIN, "{'name':'r','remote_url':'https://mcp.acme.example/a/b','transport':'sse'}", ALLOW,
     "remote-allow", NULL, false},
    {P_MAIN, "{'name':'r','remote_url':'https://mcp.acme.example/a/b'}", DENY, "servers.default",
     NULL, false}, /* transport defaults to stdio */
    /* 35 */
    {P_MAIN, "{'name':'r','remote_url':'https://evil.example/mcp.acme.example/','transport':'sse'}",
     DENY, "servers.default", NULL, false},
    /* registry and registry_server */
    {P_MAIN, "{'name':'g','command':['node'],'registry_url':'https://registry.acme.example/v0',"
             "'registry_server_name':'io.acme/fs'}", ALLOW, "registry-allow", NULL, false},
    {P_MAIN, "{'name':'g','command':['node'],'registry_api_url':'https://registry.acme.example/api',"
             "'registry_server_name':'io.acme/fs'}", ALLOW, "registry-allow", NULL, false},
    {P_MAIN, "{'name':'g','command':['node'],'registry_url':'https://registry.acme.example/v0',"
             "'registry_server_name':'io.other/fs'}", DENY, "servers.default", NULL, false},
    {P_MAIN, "{'name':'g','command':['node'],'registry_server_name':'io.acme/fs'}", DENY,
     "servers.default", NULL, false},
    /* 40: group, and a network allow-list profile */
    {P_MAIN, "{'name':'p','group':'team-a','command':['python3','-m','srv']}", ALLOW, "group-allow",
     NULL, false},
    {P_MAIN, "{'name':'p','group':'team-b','command':['python3']}", DENY, "servers.default", NULL,
     false},
    {P_MAIN, "{'name':'p','command':['python3']}", DENY, "servers.default", NULL, false},
    {P_MAIN, "{'name':'p','group':'team-a','command':['python3'],'permission_profile':{'network':"
             "{'allow_hosts':['api.acme.example','*.acme.example'],'allow_ports':[443,8443]}}}",
     ALLOW, "group-allow", NULL, false},
    {P_MAIN, "{'name':'p','group':'team-a','command':['python3'],'permission_profile':{'network':"
             "{'allow_hosts':['api.acme.example','evil.com'],'allow_ports':[443]}}}",
     DENY, "group-allow", "host evil.com exceeds profile netprof", false},
    /* 45 */
    {P_MAIN, "{'name':'p','group':'team-a','command':['python3'],'permission_profile':{'network':"
             "{'allow_hosts':['api.acme.example'],'allow_ports':[443,80]}}}",
     DENY, "group-allow", "port 80 exceeds profile netprof", false},
    {P_MAIN, "{'name':'p','group':'team-a','command':['python3'],'permission_profile':{'network':"
             "'host'}}", DENY, "group-allow", "network host exceeds profile netprof", false},
    {P_MAIN, "{'name':'p','group':'team-a','command':['python3'],'permission_profile':{'network':"
             "{'allow_hosts':['*.example']}}}", DENY, "group-allow",
     "host *.example exceeds profile netprof", false},
    /* labels: every listed label must be present and equal */
    {P_MAIN, "{'name':'l','command':['uvx','srv'],'labels':{'team':'payments','tier':'gold','x':'y'}}",
     ALLOW, "labels-allow", NULL, false},
    {P_MAIN, "{'name':'l','command':['uvx'],'labels':{'team':'payments'}}", DENY, "servers.default",
     NULL, false},
    /* 50 */
    {P_MAIN, "{'name':'l','command':['uvx'],'labels':{'team':'payments','tier':'silver'}}", DENY,
     "servers.default", NULL, false},
    {P_MAIN, "{'name':'l','command':['uvx'],'labels':{'team':'payments','tier':'gold'},"
             "'env':{'PATH':'/bin'}}", ALLOW, "labels-allow", NULL, false},
    {P_MAIN, "{'name':'l','command':['uvx'],'labels':{'team':'payments','tier':'gold'},"
             "'env':{'HOMEX':'1'}}", DENY, "labels-allow", "env HOMEX exceeds profile envprof", false},
    /* '**' in a command path */
    {P_MAIN, "{'name':'t','command':['/opt/x/y/bin/tool']}", ALLOW, "abs-command", NULL, false},
    {P_MAIN, "{'name':'t','command':['/opt/bin/tool']}", DENY, "servers.default", NULL, false},
    /* 55 */
    {P_MAIN, "{'name':'t','command':['tool']}", DENY, "servers.default", NULL, false},
    {P_MAIN, "{'name':'t','command':['/opt/x/bin/tool'],'permission_profile':{'privileged':true,"
             "'network':'host','read':['/etc/**'],'env':['ANY_*']}}", ALLOW, "abs-command", NULL,
     false},
    /* classes in names */
    {P_MAIN, "{'name':'svc-42','command':['deno']}", ALLOW, "char-class", NULL, false},
    {P_MAIN, "{'name':'svc-4a','command':['deno']}", DENY, "servers.default", NULL, false},
    {P_MAIN, "{'name':'svc-123','command':['deno']}", DENY, "servers.default", NULL, false},
    /* 60: named profiles */
    {P_MAIN, FS(",'permission_profile':'fsprof'"), ALLOW, "fs-allow", NULL, false},
    {P_MAIN, FS(",'permission_profile':'privprof'"), DENY, "fs-allow",
     "network host exceeds profile fsprof", false},
    {P_MAIN, FS(",'permission_profile':'nope'"), DENY, "fs-allow", "unknown permission profile nope",
     false},
    /* a deny rule still wins over an unknown profile */
    {P_MAIN, "{'name':'evil-1','command':['node'],'permission_profile':'nope'}", DENY,
     "deny-evil-name", NULL, false},
    /* audit mode: would-be denials are allowed and flagged */
    {P_AUDIT, "{'name':'evil-x','command':['bash']}", ALLOW, "deny-shells", "no shells", true},
    /* 65 */
    {P_AUDIT, FS(""), ALLOW, "fs-allow", NULL, false},
    {P_AUDIT, "{'name':'nothing','command':['x']}", ALLOW, "servers.default",
     "no rule matched (default deny)", true},
    {P_AUDIT, FS(",'permission_profile':{'privileged':true}"), ALLOW, "fs-allow",
     "privileged exceeds profile fsprof", true},
    /* missing servers section: deny */
    {P_NOSECTIONS, FS(""), DENY, "servers.default", "no servers section: servers are denied by default",
     false},
    /* a rule with an empty match matches everything */
    {P_EMPTYDENY, FS(""), DENY, "block-all", "frozen", false},
    /* 70 */
    {P_EMPTYALLOW, "{'name':'anything','image':'x'}", ALLOW, "allow-all", "allowed", false},
    {P_DEFALLOW, FS(""), ALLOW, "servers.default", "no rule matched (default allow)", false},
    {P_DEFALLOW, FS(",'permission_profile':'ghost'"), DENY, "servers.default",
     "unknown permission profile ghost", false},
    /* deny overrides, both orders */
    {P_ORDER1, "{'name':'x','image':'i'}", DENY, "d", "first deny", false},
    {P_ORDER2, "{'name':'x','image':'i'}", DENY, "d", "later deny", false},
    /* 75: servers section without a default denies */
    {P_ORDER2, "{'name':'y','image':'i'}", DENY, "servers.default", NULL, false},
    /* the first matching allow rule whose profile admits the request decides */
    {P_TWOALLOW, "{'name':'srv','image':'i','permission_profile':{'read':['/a/x']}}", ALLOW, "small",
     NULL, false},
    {P_TWOALLOW, "{'name':'srv','image':'i','permission_profile':{'read':['/b/x']}}", ALLOW, "big",
     NULL, false},
    {P_TWOALLOW, "{'name':'srv','image':'i','permission_profile':{'privileged':true}}", DENY, "small",
     "privileged exceeds profile s", false},
};

static void t01_server_decision_table(void **state)
{
    (void)state;
    size_t n = sizeof server_cases / sizeof server_cases[0];
    assert_true(n >= 60);
    for (size_t i = 0; i < n; i++) {
        const scase *c = &server_cases[i];
        wd_runconfig *rc = rc_from(c->rc);
        wd_decision d, x;
        wd_policy_decide_server(pol[c->policy], rc, &d);
        int steps = 0;
        wd_policy_explain_server(pol[c->policy], rc, ignore_step, &steps, &x);
        if (d.verdict != c->verdict || strcmp(d.rule, c->rule) != 0 ||
            (c->reason != NULL && strcmp(d.reason, c->reason) != 0) ||
            d.audit_would_deny != c->audit)
            fail_msg("case %zu (%s): got verdict %d rule %s reason '%s' audit %d", i + 1, c->rc,
                     d.verdict, d.rule, d.reason, d.audit_would_deny);
        same_decision(&d, &x);
        assert_int_equal(d.mode, c->policy == P_AUDIT ? WD_MODE_AUDIT : WD_MODE_ENFORCE);
        wd_runconfig_free(rc);
    }
}

static void t02_allow_reports_the_bounding_profile(void **state)
{
    (void)state;
    wd_runconfig *rc = rc_from(FS(""));
    wd_decision d;
    wd_policy_decide_server(pol[P_MAIN], rc, &d);
    assert_string_equal(d.profile, "fsprof");
    wd_runconfig_free(rc);
    rc = rc_from("{'name':'i','image':'ghcr.io/acme/x@sha256:abc'}");
    wd_policy_decide_server(pol[P_MAIN], rc, &d);
    assert_string_equal(d.rule, "image-allow");
    assert_string_equal(d.profile, ""); /* no limits on that rule */
    wd_runconfig_free(rc);
}

static void t03_hand_built_runconfigs_fail_closed(void **state)
{
    (void)state;
    char *argv[] = {"npx", "-y", "@modelcontextprotocol/server-filesystem@1"};
    wd_runconfig rc;
    memset(&rc, 0, sizeof rc);
    rc.command = argv;
    rc.n_command = 3;
    wd_decision d;
    /* no name */
    wd_policy_decide_server(pol[P_MAIN], &rc, &d);
    assert_int_equal(d.verdict, DENY);
    assert_string_equal(d.rule, "runconfig");
    wd_policy_decide_server(pol[P_MAIN], NULL, &d);
    assert_int_equal(d.verdict, DENY);
    /* a requested path with '..' is never within a profile */
    rc.name = "fs-x";
    char *rd[] = {"/srv/data/../../etc/**"};
    wd_profile prof;
    memset(&prof, 0, sizeof prof);
    prof.read = rd;
    prof.n_read = 1;
    rc.profile = &prof;
    wd_policy_decide_server(pol[P_MAIN], &rc, &d);
    assert_int_equal(d.verdict, DENY);
    assert_string_equal(d.reason, "read /srv/data/../../etc/** exceeds profile fsprof");
    /* a malformed volume is never within a profile */
    rc.profile = NULL;
    char *vol[] = {"relative:/data"};
    rc.volumes = vol;
    rc.n_volumes = 1;
    wd_policy_decide_server(pol[P_MAIN], &rc, &d);
    assert_int_equal(d.verdict, DENY);
    assert_string_equal(d.reason, "volume relative:/data exceeds profile fsprof");
    /* the same RunConfig without the volume is allowed: the volume alone decided */
    rc.n_volumes = 0;
    wd_policy_decide_server(pol[P_MAIN], &rc, &d);
    assert_int_equal(d.verdict, ALLOW);
}

/* ---- tools ---- */

typedef struct tcase {
    int policy;
    const char *server, *tool;
    const char *args; /* "k=v;k=v" */
    wd_verdict verdict;
    const char *rule;
    bool warn, limit, audit;
} tcase;

static const tcase tool_cases[] = {
    /* 1 */ {P_MAIN, "fs-x", "write_file", "path=/etc/passwd", DENY, "no-system-paths", 0, 0, 0},
    {P_MAIN, "fs-x", "write_file", "path=/tmp/x", ALLOW, "fs-tools", 0, 0, 0},
    {P_MAIN, "fs-x", "delete_all", "path=/usr/lib/x", DENY, "no-system-paths", 0, 0, 0},
    {P_MAIN, "other", "write_file", "path=/etc/x", DENY, "mcp_tool_policy.default", 0, 0, 0},
    /* 5: warn allows and is reported */
    {P_MAIN, "fs-x", "read_file", "size=12345678", ALLOW, "warn-big", 1, 0, 0},
    {P_MAIN, "fs-x", "read_file", "size=12", ALLOW, "fs-tools", 0, 0, 0},
    {P_MAIN, "fs-x", "read_file", "", ALLOW, "fs-tools", 0, 0, 0},
    {P_MAIN, "other", "read_file", "size=12345678", ALLOW, "warn-big", 1, 0, 0},
    /* regex limits: catastrophic backtracking counts as a match for deny, not for allow */
    {P_MAIN, "x", "grep", "q=@REDOS", DENY, "redos-deny", 0, 1, 0},
    /* 10 */
    {P_MAIN, "x", "grep", "q=aaaa", DENY, "redos-deny", 0, 0, 0},
    {P_MAIN, "x", "grep", "q=b", DENY, "mcp_tool_policy.default", 0, 0, 0},
    {P_MAIN, "x", "grep2", "q=@REDOS", DENY, "mcp_tool_policy.default", 0, 1, 0},
    {P_MAIN, "x", "grep2", "q=aaaa", ALLOW, "redos-allow", 0, 0, 0},
    {P_MAIN, "x", "echo", "", ALLOW, "any-echo", 0, 0, 0},
    /* 15: repeated keys: any match for deny, all must match for allow */
    {P_MAIN, "fs-x", "write_file", "path=/tmp/a;path=/etc/b", DENY, "no-system-paths", 0, 0, 0},
    {P_MAIN, "x", "save", "path=/tmp/a;path=/etc/b", DENY, "mcp_tool_policy.default", 0, 0, 0},
    {P_MAIN, "x", "save", "path=/tmp/a", ALLOW, "safe-save", 0, 0, 0},
    {P_MAIN, "x", "save", "other=/tmp/a", DENY, "mcp_tool_policy.default", 0, 0, 0},
    {P_AUDIT, "fs-x", "write_file", "path=/etc/passwd", ALLOW, "no-system-paths", 0, 0, 1},
    /* 20: missing section allows */
    {P_NOSECTIONS, "x", "anything", "", ALLOW, "mcp_tool_policy.default", 0, 0, 0},
    {P_MAIN, "x", "unknown_tool", "", DENY, "mcp_tool_policy.default", 0, 0, 0},
};

static void t04_tool_decision_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tool_cases / sizeof tool_cases[0]; i++) {
        const tcase *c = &tool_cases[i];
        wd_tool_arg args[4];
        char buf[256];
        size_t n = 0;
        snprintf(buf, sizeof buf, "%s", c->args);
        for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok != NULL;
             tok = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(tok, '=');
            *eq = '\0';
            args[n].key = tok;
            args[n].value = strcmp(eq + 1, "@REDOS") == 0 ? redos : eq + 1;
            args[n].value_len = strlen(args[n].value);
            n++;
        }
        wd_tool_call call = {c->server, c->tool, args, n};
        wd_decision d, x;
        wd_policy_decide_tool(pol[c->policy], &call, &d);
        int steps = 0;
        wd_policy_explain_tool(pol[c->policy], &call, ignore_step, &steps, &x);
        if (d.verdict != c->verdict || strcmp(d.rule, c->rule) != 0 || d.warn != c->warn ||
            d.regex_limit != c->limit || d.audit_would_deny != c->audit)
            fail_msg("tool case %zu (%s %s %s): got verdict %d rule %s warn %d limit %d audit %d",
                     i + 1, c->server, c->tool, c->args, d.verdict, d.rule, d.warn, d.regex_limit,
                     d.audit_would_deny);
        same_decision(&d, &x);
    }
}

static void t05_tool_args_are_bytes_with_a_length(void **state)
{
    (void)state;
    static const char v[] = "/etc/\0hidden";
    wd_tool_arg a = {"path", v, sizeof v - 1};
    wd_tool_call call = {"fs-1", "write_file", &a, 1};
    wd_decision d;
    wd_policy_decide_tool(pol[P_MAIN], &call, &d);
    assert_int_equal(d.verdict, DENY);
    assert_string_equal(d.rule, "no-system-paths");
    wd_tool_call none = {NULL, NULL, NULL, 0};
    wd_policy_decide_tool(pol[P_MAIN], &none, &d);
    assert_int_equal(d.verdict, DENY);
    assert_string_equal(d.rule, "mcp_tool_policy.default");
    wd_policy_decide_tool(pol[P_MAIN], NULL, &d);
    assert_int_equal(d.verdict, DENY);
}

/* ---- explanations ---- */

typedef struct collect {
    char text[4096];
    int n;
} collect;

static void collect_step(void *arg, const wd_explain_step *s)
{
    collect *c = arg;
    size_t len = strlen(c->text);
    snprintf(c->text + len, sizeof c->text - len, "%s[%zu] %s %s %s: %s\n", s->section, s->index,
             s->rule, s->action, s->matched ? "match" : "no", s->detail);
    c->n++;
}

static void t06_explain_walks_every_rule_and_says_why(void **state)
{
    (void)state;
    wd_runconfig *rc = rc_from("{'name':'fs-docs','command':['npx','-y','other']}");
    collect c = {"", 0};
    wd_decision d;
    wd_policy_explain_server(pol[P_MAIN], rc, collect_step, &c, &d);
    assert_int_equal(c.n, 11); /* every server rule: none denies, so none stops the walk */
    assert_non_null(strstr(c.text, "servers[0] deny-shells deny no: no match: command 'npx'"));
    assert_non_null(strstr(c.text, "servers[2] fs-allow allow no: no match: args[1] 'other' does "
                                    "not match '@modelcontextprotocol/server-filesystem@*'"));
    assert_non_null(strstr(c.text, "servers[8] labels-allow allow no: no match: command 'npx'"));
    wd_runconfig_free(rc);

    rc = rc_from(FS(",'permission_profile':{'write':['/tmp/**']}"));
    c.text[0] = '\0';
    c.n = 0;
    wd_policy_explain_server(pol[P_MAIN], rc, collect_step, &c, &d);
    assert_non_null(strstr(c.text, "servers[2] fs-allow allow match: matched: every match field "
                                    "matched; but write /tmp/** exceeds profile fsprof"));
    wd_runconfig_free(rc);

    rc = rc_from("{'name':'evil-x','command':['bash']}");
    c.text[0] = '\0';
    c.n = 0;
    wd_policy_explain_server(pol[P_MAIN], rc, collect_step, &c, &d);
    assert_int_equal(c.n, 1); /* the first deny ends the walk */
    assert_non_null(strstr(c.text, "servers[0] deny-shells deny match"));
    wd_runconfig_free(rc);

    wd_tool_arg a = {"q", redos, strlen(redos)};
    wd_tool_call call = {"x", "grep", &a, 1};
    c.text[0] = '\0';
    c.n = 0;
    wd_policy_explain_tool(pol[P_MAIN], &call, collect_step, &c, &d);
    assert_non_null(strstr(c.text, "redos-deny deny match: args q: regex hit its match limit "
                                    "(counted as a match)"));
}

/* ---- the index never changes a decision ---- */

static void t07_index_agrees_with_the_linear_walk_on_random_policies(void **state)
{
    (void)state;
    static const char *const pats[] = {"a*", "ab*", "abc", "ab", "*c", "a?c", "[ab]*", "b**",
                                       "abcd*", "x", "*", "ba*c", "a[!b]*"};
    static const char *const names[] = {"a", "ab", "abc", "abcd", "abcde", "b", "ba", "bac",
                                        "c", "x", "xy", "acc", "aac", "bbc"};
    srand(11);
    for (int round = 0; round < 40; round++) {
        json_t *rules = json_array(), *trules = json_array();
        int nr = 1 + rand() % 40;
        for (int i = 0; i < nr; i++) {
            json_t *r = json_object(), *m = json_object(), *nl = json_array();
            char nm[32];
            snprintf(nm, sizeof nm, "r%d", i);
            json_object_set_new(r, "name", json_string(nm));
            json_object_set_new(r, "action", json_string(rand() % 3 ? "allow" : "deny"));
            int k = rand() % 4;
            for (int j = 0; j < k; j++)
                json_array_append_new(nl, json_string(pats[rand() % 13]));
            if (k > 0) {
                json_object_set_new(m, "name", nl);
                json_object_set_new(m, "image", json_pack("[s]", "*"));
            } else {
                json_decref(nl);
            }
            json_object_set_new(r, "match", m);
            json_array_append(rules, r);
            json_t *t = json_deep_copy(r);
            json_object_del(t, "match");
            json_object_set_new(t, "action", json_string(rand() % 3 == 0 ? "deny"
                                                         : rand() % 2   ? "warn"
                                                                        : "allow"));
            if (k > 0)
                json_object_set(t, "tool", json_object_get(m, "name"));
            json_array_append_new(trules, t);
            json_decref(r);
        }
        json_t *doc = json_pack("{s:i, s:{s:s, s:o}, s:{s:s, s:o}}", "version", 1, "servers",
                                "default", rand() % 2 ? "allow" : "deny", "rules", rules,
                                "mcp_tool_policy", "default", "deny", "rules", trules);
        assert_non_null(doc);
        wd_policy *p = NULL;
        wd_err e;
        if (wd_policy_compile_doc(doc, &p, &e) != WD_OK)
            fail_msg("round %d: %s", round, e.msg);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char *name = (char *)names[i];
            wd_runconfig rc;
            memset(&rc, 0, sizeof rc);
            rc.name = name;
            rc.image = "img";
            wd_decision d, x;
            wd_policy_decide_server(p, &rc, &d);
            wd_policy_explain_server(p, &rc, ignore_step, &(int){0}, &x);
            same_decision(&d, &x);
            wd_tool_call call = {"s", name, NULL, 0};
            wd_policy_decide_tool(p, &call, &d);
            wd_policy_explain_tool(p, &call, ignore_step, &(int){0}, &x);
            same_decision(&d, &x);
        }
        wd_policy_unref(p);
        json_decref(doc);
    }
}

static void t08_info_counts_and_memory(void **state)
{
    (void)state;
    wd_policy_info info;
    wd_policy_get_info(pol[P_MAIN], &info);
    assert_int_equal(info.server_rules, 11);
    assert_int_equal(info.tool_rules, 7);
    assert_int_equal(info.profiles, 4);
    assert_true(info.has_servers && info.has_tools);
    assert_int_equal(info.mode, WD_MODE_ENFORCE);
    assert_true(info.bytes > 0);
    wd_policy_get_info(pol[P_NOSECTIONS], &info);
    assert_int_equal(info.server_rules + info.tool_rules + info.profiles, 0);
    assert_false(info.has_servers || info.has_tools);
    const wd_profile *pr = wd_policy_find_profile(pol[P_MAIN], "fsprof");
    assert_non_null(pr);
    assert_int_equal(pr->n_env, 2);
    assert_true(wd_profile_env_allowed(pr, "MCP_TOKEN"));
    assert_true(wd_profile_env_allowed(pr, "HOME"));
    assert_false(wd_profile_env_allowed(pr, "HOMEDIR"));
    assert_false(wd_profile_env_allowed(NULL, "HOME"));
    assert_null(wd_policy_find_profile(pol[P_MAIN], "nope"));
    assert_null(wd_policy_find_profile(pol[P_MAIN], NULL));
}

static void t09_references_keep_a_policy_alive(void **state)
{
    (void)state;
    wd_policy *p = NULL;
    wd_err e;
    assert_int_equal(wd_policy_load_default(&p, &e), WD_OK);
    wd_policy *q = wd_policy_ref(p);
    assert_ptr_equal(p, q);
    wd_policy_unref(p);
    wd_runconfig *rc = rc_from("{'name':'n','command':['node','x.js']}");
    wd_decision d;
    wd_policy_decide_server(q, rc, &d); /* still valid after one unref */
    assert_int_equal(d.verdict, ALLOW);
    wd_runconfig_free(rc);
    wd_policy_unref(q);
    wd_policy_unref(NULL);
}

static void t10_the_built_in_policy_is_the_example_file(void **state)
{
    (void)state;
    const char *src = getenv("WD_SRCDIR");
    assert_non_null(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/default-policy.yaml", src);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_err e;
    assert_int_equal(wd_read_file(path, WD_MAX_POLICY_BYTES, &buf, &len, &e), WD_OK);
    assert_int_equal(len, strlen(wd_policy_default_yaml()));
    assert_memory_equal(buf, wd_policy_default_yaml(), len);
    free(buf);
}

static void t11_the_built_in_policy_decides_as_documented(void **state)
{
    (void)state;
    wd_policy *p = NULL;
    wd_err e;
    assert_int_equal(wd_policy_load_default(&p, &e), WD_OK);
    static const struct {
        const char *rc;
        wd_verdict v;
        const char *rule;
    } c[] = {
        {"{'name':'n','command':['node','server.js']}", ALLOW, "local-stdio-runtimes"},
        {"{'name':'n','command':['/usr/bin/npx','-y','pkg']}", ALLOW, "local-stdio-runtimes"},
        {"{'name':'n','command':['python3','-m','srv']}", ALLOW, "local-stdio-runtimes"},
        {"{'name':'n','command':['bash','-c','x']}", DENY, "no-shells"},
        {"{'name':'n','command':['/bin/sh']}", DENY, "no-shells"},
        {"{'name':'n','command':['env','node']}", DENY, "no-shells"},
        {"{'name':'n','command':['/opt/srv/bin/server']}", DENY, "servers.default"},
        {"{'name':'n','image':'ghcr.io/x/y'}", DENY, "servers.default"},
        {"{'name':'n','command':['node'],'transport':'sse'}", DENY, "servers.default"},
        {"{'name':'n','command':['node'],'permission_profile':{'privileged':true}}", DENY,
         "local-stdio-runtimes"},
        {"{'name':'n','command':['node'],'permission_profile':{'network':'host'}}", DENY,
         "local-stdio-runtimes"},
        {"{'name':'n','command':['node'],'env':{'MCP_X':'1','LC_ALL':'C'}}", ALLOW,
         "local-stdio-runtimes"},
        {"{'name':'n','command':['node'],'env':{'NODE_OPTIONS':'--require x'}}", DENY,
         "local-stdio-runtimes"},
        /* inline code, in the first argument or the second after an option */
        {"{'name':'n','command':['node','-e','1']}", DENY, "no-inline-code-eval"},
        {"{'name':'n','command':['/usr/bin/node','--no-warnings','-e','1']}", DENY,
         "no-inline-code-eval-2"},
        {"{'name':'n','command':['node','--print','1']}", DENY, "no-inline-code-print-long"},
        {"{'name':'n','command':['python3','-c','1']}", DENY, "no-inline-code-python"},
        {"{'name':'n','command':['python3','-Ic','1']}", DENY, "no-inline-code-python-flags"},
        {"{'name':'n','command':['deno','eval','1']}", DENY, "no-inline-code-deno"},
        {"{'name':'n','command':['node','server.js','-e']}", ALLOW, "local-stdio-runtimes"},
        {"{'name':'n','command':['python3','-m','srv','-c','x']}", ALLOW, "local-stdio-runtimes"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        wd_runconfig *rc = rc_from(c[i].rc);
        wd_decision d;
        wd_policy_decide_server(p, rc, &d);
        if (d.verdict != c[i].v || strcmp(d.rule, c[i].rule) != 0)
            fail_msg("default policy, %s: got %d %s (%s)", c[i].rc, d.verdict, d.rule, d.reason);
        wd_runconfig_free(rc);
    }
    wd_tool_call call = {"n", "anything", NULL, 0};
    wd_decision d;
    wd_policy_decide_tool(p, &call, &d);
    assert_int_equal(d.verdict, ALLOW);
    wd_policy_unref(p);
}

static void t12_deep_regex_recursion_fails_closed(void **state)
{
    (void)state;
    /* linear in steps but one backtracking frame per repetition: the depth and heap limits
     * stop it long before the match limit would */
    static const char *y = "version: 1\nmcp_tool_policy:\n  default: allow\n  rules:\n"
                           "    - {name: deep-deny, action: deny, tool: [t1], args: [{key: v, regex: \"^(?:(a)|b)*$\"}]}\n"
                           "    - {name: deep-allow, action: allow, tool: [t2], args: [{key: v, regex: \"^(?:(a)|b)*$\"}]}\n"
                           "  # t2 falls to the default when its regex cannot be decided\n";
    wd_policy *p = NULL;
    wd_err e;
    assert_int_equal(wd_policy_load((const unsigned char *)y, strlen(y), &p, &e), WD_OK);
    static char deep[20001];
    memset(deep, 'a', 20000);
    wd_tool_arg a = {"v", deep, 20000};
    wd_tool_call c = {"s", "t1", &a, 1};
    wd_decision d;
    wd_policy_decide_tool(p, &c, &d);
    assert_int_equal(d.verdict, DENY);
    assert_string_equal(d.rule, "deep-deny");
    assert_true(d.regex_limit);
    c.tool = "t2";
    wd_policy_decide_tool(p, &c, &d);
    assert_string_equal(d.rule, "mcp_tool_policy.default"); /* not counted as a match */
    assert_true(d.regex_limit);
    a.value = "abab";
    a.value_len = 4;
    wd_policy_decide_tool(p, &c, &d);
    assert_string_equal(d.rule, "deep-allow"); /* a short value matches for real */
    assert_false(d.regex_limit);
    wd_policy_unref(p);
}

static void t13_long_literal_prefixes_are_indexed(void **state)
{
    (void)state;
    /* prefixes longer than the 128 bytes the index keys on still find their rules */
    char pat[260], name[260], other[260];
    memset(pat, 't', 200);
    strcpy(pat + 200, "*");
    memset(name, 't', 200);
    strcpy(name + 200, "_x");
    memset(other, 't', 199);
    strcpy(other + 199, "u_x");
    json_t *doc = json_pack("{s:i, s:{s:s, s:[{s:s, s:s, s:[s]}]}, s:{s:s, s:[{s:s, s:s, s:{s:[s]}}]}}",
                            "version", 1, "mcp_tool_policy", "default", "allow", "rules", "name",
                            "long", "action", "deny", "tool", pat, "servers", "default", "deny",
                            "rules", "name", "long", "action", "allow", "match", "name", pat);
    assert_non_null(doc);
    wd_policy *p = NULL;
    wd_err e;
    assert_int_equal(wd_policy_compile_doc(doc, &p, &e), WD_OK);
    json_decref(doc);
    wd_tool_call c = {"s", name, NULL, 0};
    wd_decision d;
    wd_policy_decide_tool(p, &c, &d);
    assert_string_equal(d.rule, "long");
    c.tool = other; /* shares the first 128 bytes, not the whole prefix */
    wd_policy_decide_tool(p, &c, &d);
    assert_string_equal(d.rule, "mcp_tool_policy.default");
    wd_runconfig rc;
    memset(&rc, 0, sizeof rc);
    rc.name = name;
    wd_policy_decide_server(p, &rc, &d);
    assert_string_equal(d.rule, "long");
    rc.name = other;
    wd_policy_decide_server(p, &rc, &d);
    assert_string_equal(d.rule, "servers.default");
    wd_policy_unref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_server_decision_table),
        cmocka_unit_test(t02_allow_reports_the_bounding_profile),
        cmocka_unit_test(t03_hand_built_runconfigs_fail_closed),
        cmocka_unit_test(t04_tool_decision_table),
        cmocka_unit_test(t05_tool_args_are_bytes_with_a_length),
        cmocka_unit_test(t06_explain_walks_every_rule_and_says_why),
        cmocka_unit_test(t07_index_agrees_with_the_linear_walk_on_random_policies),
        cmocka_unit_test(t08_info_counts_and_memory),
        cmocka_unit_test(t09_references_keep_a_policy_alive),
        cmocka_unit_test(t10_the_built_in_policy_is_the_example_file),
        cmocka_unit_test(t11_the_built_in_policy_decides_as_documented),
        cmocka_unit_test(t12_deep_regex_recursion_fails_closed),
        cmocka_unit_test(t13_long_literal_prefixes_are_indexed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
