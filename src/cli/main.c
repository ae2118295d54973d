/* main.c — the warden command: dispatch "warden <group> ..." to one file per group.
 * Holds no logic of its own beyond the table and `warden version`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1 && cli_wants_help(argc, argv))
        return cli_help("usage: warden version\n\nPrint warden's version.\n");
    if (argc > 1)
        return cli_usage_error("usage: warden version\n", "version takes no arguments");
    printf("warden %s\n", WARDEN_VERSION);
    return 0;
}

static const cli_group groups[] = {
    {"version", "print the version", cmd_version},
    {"key", "generate Ed25519 keys and print keyids", cmd_key},
    {"dsse", "sign raw payloads and check envelope signatures", cmd_dsse},
    {"roster", "create, extend and verify trust rosters", cmd_roster},
    {"bundle", "create, verify and inspect signed policy bundles", cmd_bundle},
    {"kill", "create and verify signed remote kill messages", cmd_kill},
    {"rollback", "create and verify signed rollback authorizations", cmd_rollback},
    {"sign", "add one signature to a roster, bundle, kill or rollback (a draft too)", cmd_sign},
    {"policy", "check policy documents and run policy tests", cmd_policy},
    {"gate", "decide server creations and tool calls under a policy", cmd_gate},
    {"run", "start an MCP server if the policy allows it", cmd_run},
    {"pki", "make the fleet CA and mTLS certificates", cmd_pki},
    {"leader", "run the control plane that followers poll", cmd_leader},
    {"publish", "send a signed bundle, kill, rollback or roster to a leader", cmd_publish},
    {"status", "show the fleet as a leader sees it", cmd_status},
    {"agent", "apply signed files to this host's state directory; the follower", cmd_agent},
    {"recorder", "verify the flight recorder's hash chain and signed checkpoints", cmd_recorder},
};

static int usage(FILE *f)
{
    fprintf(f, "usage: warden <command> [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        fprintf(f, "  %-10s %s\n", groups[i].name, groups[i].summary);
    fprintf(f, "\nRun 'warden <command> --help' for a command's flags.\n"
               "Exit codes: 0 ok, 1 operational error, 2 usage error, 3 rejected or denied.\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("usage: warden <command> [args]\n", "a command is required");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (strcmp(argv[1], groups[i].name) == 0)
            return groups[i].fn(argc - 1, argv + 1);
    return cli_usage_error("usage: warden <command> [args]\n", "unknown command '%.64s'", argv[1]);
}
