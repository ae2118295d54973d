/* cmd_recorder.c — `warden recorder verify DIR --key PUB` (SPEC §15.1): check a flight
 * recorder's hash chain and checkpoint signatures, and print what was verified or the first
 * broken link. It must never change the recorder directory and never print a line's contents
 * (they may hold tool arguments). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "recorder/recorder.h"

static const char usage_group[] =
    "usage: warden recorder <command> [flags]\n"
    "\n"
    "The flight recorder: the hash-chained log of decisions on this host.\n"
    "\n"
    "commands:\n"
    "  verify   check the chain and its signed checkpoints\n"
    "\n"
    "Run 'warden recorder <command> --help' for its flags.\n";

static const char usage_verify[] =
    "usage: warden recorder verify DIR --key PUB\n"
    "\n"
    "Check the flight recorder in DIR: its segment files (seg-<first seq>.jsonl) in order, every\n"
    "line a JSON object whose seq follows the line before it and whose prev is the SHA-256 of\n"
    "the line before it, and every checkpoint line signed by the recorder key PUB. Lines are\n"
    "read with a bound: a line longer than 262144 bytes is rejected. On success prints\n"
    "  verified: N entries, last checkpoint at seq K, M unsigned after it\n"
    "(K is 0 when there is no checkpoint; the M lines after it are chained but not signed). On\n"
    "the first broken link prints one line on stderr:\n"
    "  rejected (<code>): <segment>:<line>: <reason>\n"
    "with code hash-mismatch (a line changed, removed or moved: the next line's prev does not\n"
    "match), bad-signature (a checkpoint that does not verify with PUB), oversized (a line too\n"
    "long), malformed (not JSON, a missing or wrong field, a seq out of order, a truncated last\n"
    "line, a segment not named after its first seq) or the JSON decoder's own code\n"
    "(duplicate-key, trailing-data). Changes nothing.\n"
    "\n"
    "  DIR          the recorder directory (flight_recorder.dir)\n"
    "  --key PUB    the recorder's public key (or its private key file)\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit codes: 0 verified, 1 operational error (unreadable directory or key), 2 usage error,\n"
    "3 rejected (the first broken link).\n";

static int do_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keypath = NULL;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'h')
            return cli_help(usage_verify);
        if (ch == 'k')
            keypath = optarg;
        else
            return cli_option_error(usage_verify, opts, argv);
    }
    if (keypath == NULL)
        return cli_usage_error(usage_verify, "missing --key");
    if (argc - optind != 1)
        return cli_usage_error(usage_verify, "exactly one DIR is required");
    const char *dir = argv[optind];
    wd_err e;
    wd_err_clear(&e);
    wd_key *k = NULL;
    if (wd_key_load_any(keypath, &k, &e) != WD_OK)
        return cli_report(&e);
    wd_recorder_report rep;
    wd_code c = wd_recorder_verify(dir, k, &rep, &e);
    wd_key_free(k);
    if (c != WD_OK)
        return cli_report(&e);
    printf("verified: %" PRIu64 " entries, last checkpoint at seq %" PRIu64 ", %" PRIu64
           " unsigned after it\n", rep.entries, rep.last_checkpoint_seq, rep.unsigned_after);
    return 0;
}

int cmd_recorder(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage_group, "a recorder command is required");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(usage_group);
    if (strcmp(sub, "verify") == 0)
        return do_verify(argc - 1, argv + 1);
    char shown[64];
    return cli_usage_error(usage_group, "unknown recorder command '%s'",
                           wd_clean_text(sub, shown, sizeof shown));
}
