/* cmd_sign.c — `warden sign`: add one signature to an existing envelope of any warden type
 * (a draft written with --draft, or a message another holder has signed already), so that two
 * people on two machines can sign one message. Prints how far the signatures go.
 * It must never change the payload (the signature is made over the bytes as they are), never
 * drop a signature already there, never write after an error, and never add a signature the
 * roster it was given would not count. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "msgcli.h"
#include "signflow.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "msg/dsse.h"

static const char usage_sign[] =
    "usage: warden sign --key KEY [--roster FILE --pin DIGEST [--previous ROSTER...]]\n"
    "         [--out FILE [--force]] ENVELOPE\n"
    "\n"
    "Add one signature, by KEY, to ENVELOPE: a roster, policy bundle, remote kill or rollback\n"
    "authorization, signed already or a draft (written by a create command with --draft).\n"
    "The payload is never changed: KEY signs its bytes as they are, and every signature\n"
    "already there is kept. Then prints how many signatures count and, when more are needed,\n"
    "how many and by whom, e.g.\n"
    "  roster acme version 3: 1 of 2 remote-kill-signing signatures (need 2): needs one more\n"
    "  by a key with purpose remote-kill-signing\n"
    "Without --out, ENVELOPE itself is replaced (atomically) by the signed envelope.\n"
    "\n"
    "Refused, with nothing written: a KEY that already signed ENVELOPE (usage error: already\n"
    "signed); for a roster, a KEY that is not a root key that counts (active, in its window)\n"
    "in that roster or in the roster it replaces (give that one with --roster and --pin);\n"
    "for any other message, when --roster is given, a KEY whose signature that roster would\n"
    "not count: not in it or without the message's purpose (wrong-purpose), revoked\n"
    "(revoked-key), outside its validity window (expired-key).\n"
    "\n"
    "  --key KEY          private key file to sign with (PKCS#8 PEM, mode 0600)\n"
    "  --roster FILE      the roster to count against: the newest you hold; for a roster\n"
    "                     envelope, the roster it replaces\n"
    "  --pin DIGEST       root key fingerprint (keyid) --roster must chain to\n"
    "  --previous ROSTER  an older roster of the chain from the pin to --roster, oldest\n"
    "                     first (repeatable, at most 64)\n"
    "  --out FILE         write the signed envelope to FILE instead of replacing ENVELOPE\n"
    "  --force            replace --out when it exists (default: refuse, exit 1)\n"
    "  ENVELOPE           the envelope to sign (- reads standard input; then give --out)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 signed (whether or not the threshold is met now), 1 operational error\n"
    "(I/O, --out exists), 2 usage error (also: already signed), 3 rejected (the envelope\n"
    "does not decode, or is of a type warden does not sign: its code; a KEY that would not\n"
    "count: wrong-purpose, revoked-key, expired-key).\n";

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'O'},
        {"force", no_argument, NULL, SIGNFLOW_OPT_FORCE},
        SIGNFLOW_ROSTER_OPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keypath = NULL, *out = NULL;
    bool force = false;
    signflow_roster ro;
    memset(&ro, 0, sizeof ro);
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int s = signflow_roster_flag(ch, optarg, &ro, usage_sign);
        if (s > 0)
            return s;
        if (s == 0)
            continue;
        switch (ch) {
        case 'k': keypath = optarg; break;
        case 'O': out = optarg; break;
        case SIGNFLOW_OPT_FORCE: force = true; break;
        case 'h': return cli_help(usage_sign);
        default: return msgcli_bad_option(usage_sign, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(usage_sign, "give exactly one ENVELOPE");
    if (keypath == NULL)
        return cli_usage_error(usage_sign, "--key is required");
    if (force && out == NULL)
        return cli_usage_error(usage_sign, "--force goes with --out (without --out, ENVELOPE "
                                           "is replaced anyway)");
    const char *path = argv[optind];
    if (strcmp(path, "-") == 0 && out == NULL)
        return cli_usage_error(usage_sign, "ENVELOPE - (standard input) needs --out");
    int64_t now = wd_now();
    wd_roster *r = NULL;
    int rc = signflow_roster_load(&ro, now, usage_sign, &r);
    if (rc != 0)
        return rc;

    wd_err e;
    wd_err_clear(&e);
    wd_key *k = NULL;
    wd_dsse d;
    memset(&d, 0, sizeof d);
    char *text = NULL;
    size_t len = 0, max = 0;
    wd_code c = wd_key_load_private(keypath, &k, &e);
    if (c != WD_OK)
        wd_err_prefix(&e, c, "--key %s", keypath);
    if (c == WD_OK)
        c = signflow_read(path, &d, &max, &e);
    if (c == WD_OK) {
        c = signflow_check_previous(&d, r, &e);
        if (c == WD_E_USAGE) {
            rc = cli_usage_error(usage_sign, "%s", e.msg);
            goto done;
        }
    }
    if (c == WD_OK && wd_dsse_find_sig(&d, wd_key_id(k)) >= 0)
        c = wd_err_set(&e, WD_E_USAGE, "%s: already signed by %s (a key signs once)", path,
                       wd_key_id(k));
    if (c == WD_OK)
        c = signflow_signer_counts(&d, k, r, now, &e);
    if (c == WD_OK)
        c = wd_dsse_add_signature(&d, k, &e);
    if (c == WD_OK)
        c = wd_dsse_encode(&d, &text, &len, &e);
    if (c == WD_OK && len > max)
        c = wd_err_set(&e, WD_E_OVERSIZED,
                       "the signed envelope would be %zu bytes, more than the limit of %zu", len,
                       max);
    if (c == WD_OK)
        c = out != NULL ? msgcli_write_out(out, text, len, force, &e)
                        : wd_write_file(path, text, len, 0644, &e);
    if (c != WD_OK) {
        rc = cli_report(&e);
        goto done;
    }
    printf("signed by %s: %zu signature%s, written to %s\n", wd_key_id(k), d.nsigs,
           d.nsigs == 1 ? "" : "s", out != NULL ? out : path);
    signflow_status(&d, r, now, true);
    rc = 0;
done:
    free(text);
    wd_dsse_free(&d);
    wd_key_free(k);
    wd_roster_free(r);
    return rc;
}
