/* cmd_policy.c — `warden policy check FILE` (SPEC §6, §9): lint a policy document and report
 * the path of its first error. It must never print anything but the summary or one rejection
 * line, and never accept a document the engine would refuse to load. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "warden/policy.h"

static const char usage_group[] =
    "usage: warden policy <command> [flags]\n"
    "\n"
    "Policy documents.\n"
    "\n"
    "commands:\n"
    "  check    validate a policy document and compile it\n"
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
        return cli_usage_error(usage_check, "unknown option: %s", argv[optind - 1]);
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

int cmd_policy(int argc, char **argv)
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
