/* cmd_gate.c — `warden gate check` (SPEC §6–§8): would the gate let this RunConfig create a
 * server? Goes through the gate chain with the built-in policy gate registered, exactly as
 * `warden run` does. It must never print an environment value, and never report allow for a
 * RunConfig or policy it could not read. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "codec/json.h"
#include "warden/gate.h"
#include "warden/policy.h"

static const char usage_group[] =
    "usage: warden gate <command> [flags]\n"
    "\n"
    "The create-server gate.\n"
    "\n"
    "commands:\n"
    "  check    decide whether a RunConfig may create a server under a policy\n"
    "\n"
    "Run 'warden gate <command> --help' for its flags.\n";

static const char usage_check[] =
    "usage: warden gate check --policy FILE --config RUNCONFIG.json [--explain] [--json]\n"
    "\n"
    "Decide whether the server described by RUNCONFIG.json may be created under the\n"
    "policy FILE, through the gate chain with the policy gate registered.\n"
    "Allowed: prints 'allow: <reason> (rule <name>)' and, when the allowing rule bounds the\n"
    "server, 'profile: <name>'. In audit mode a would-be denial is allowed and printed as\n"
    "'allow (audit): would be blocked: <reason> (rule <name>)'. Denied: prints\n"
    "  server creation blocked by policy: <reason> (rule <name>)\n"
    "on stderr. An invalid policy or RunConfig prints 'rejected (<code>): <detail>'.\n"
    "\n"
    "  --policy FILE        policy document (YAML, at most 256 KiB)\n"
    "  --config FILE        RunConfig (JSON, at most 64 KiB), or - for standard input\n"
    "  --explain            also print every rule considered and why it matched or not\n"
    "  --json               print the decision as one JSON object on stdout instead:\n"
    "                       {verdict, rule, reason, mode, audit_would_deny, warn, profile}\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 allowed, 1 operational error, 2 usage error, 3 denied or rejected.\n";

static void print_step(void *arg, const wd_explain_step *s)
{
    (void)arg;
    printf("rule %zu %s (%s): %s\n", s->index + 1, s->rule, s->action, s->detail);
}

static int print_json(const wd_decision *d)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s}", "verdict",
                          d->verdict == WD_VERDICT_ALLOW ? "allow" : "deny", "rule", d->rule,
                          "reason", d->reason, "mode",
                          d->mode == WD_MODE_AUDIT ? "audit" : "enforce", "audit_would_deny",
                          (int)d->audit_would_deny, "warn", (int)d->warn, "profile", d->profile);
    char *s = o ? wd_json_dump(o, NULL) : NULL;
    json_decref(o);
    if (s == NULL) {
        fprintf(stderr, "warden: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

static int do_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"config", required_argument, NULL, 'c'},
        {"explain", no_argument, NULL, 'x'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *policy_path = NULL, *config_path = NULL;
    bool explain = false, json = false;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': return cli_help(usage_check);
        case 'p': policy_path = optarg; break;
        case 'c': config_path = optarg; break;
        case 'x': explain = true; break;
        case 'j': json = true; break;
        default:
            return cli_usage_error(usage_check, "unknown option or missing value: %s",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_check, "unexpected argument: %s", argv[optind]);
    if (policy_path == NULL || config_path == NULL)
        return cli_usage_error(usage_check, "--policy and --config are required");

    wd_err e;
    wd_err_clear(&e);
    wd_policy *p = NULL;
    if (cli_load_policy(policy_path, &p, &e) != WD_OK)
        return cli_report(&e);
    wd_runconfig *rc = NULL;
    if (wd_runconfig_load_file(config_path, &rc, &e) != WD_OK) {
        wd_policy_unref(p);
        return cli_report(&e);
    }
    wd_gate_id id = 0;
    int status = 1;
    if (cli_register_policy_gate(p, &id, &e) != WD_OK) {
        status = cli_report(&e);
        goto out;
    }
    if (explain) {
        wd_decision x;
        wd_policy_explain_server(p, rc, print_step, NULL, &x);
    }
    wd_decision d;
    wd_code r = wd_gate_check_create(rc, &d, &e);
    status = 0;
    if (json) {
        status = print_json(&d);
    } else if (r == WD_OK && d.audit_would_deny) {
        printf("allow (audit): would be blocked: %s (rule %s)\n", d.reason, d.rule);
    } else if (r == WD_OK) {
        printf("allow: %s (rule %s)\n", d.reason, d.rule);
        if (d.profile[0] != '\0')
            printf("profile: %s\n", d.profile);
    }
    if (r != WD_OK)
        status = cli_report(&e);
    wd_gate_unregister(id, NULL);
out:
    wd_runconfig_free(rc);
    wd_policy_unref(p);
    return status;
}

int cmd_gate(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage_group, "a command is required");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(usage_group);
    if (strcmp(sub, "check") == 0)
        return do_check(argc - 1, argv + 1);
    return cli_usage_error(usage_group, "unknown command '%.64s'", sub);
}
