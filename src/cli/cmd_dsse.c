/* cmd_dsse.c — `warden dsse sign|verify` (SPEC §1.2, §9): wrap raw payload bytes in a signed
 * DSSE envelope, and check an envelope's signatures against given keys. Signature checks
 * only: no roster, purpose or payload semantics. It must never write OUT after an error, and
 * never parse a payload. */
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
#include "warden/limits.h"

static const char usage_group[] =
    "usage: warden dsse <command> [flags]\n"
    "\n"
    "DSSE v1 envelopes, at the level of signatures only.\n"
    "\n"
    "commands:\n"
    "  sign     sign raw payload bytes into an envelope\n"
    "  verify   check an envelope's signatures against public keys\n"
    "  merge    join the signatures of copies of one message signed apart\n"
    "\n"
    "Run 'warden dsse <command> --help' for its flags.\n";

static const char usage_sign[] =
    "usage: warden dsse sign --type TYPE --key KEY [--key KEY...] [--force] IN OUT\n"
    "\n"
    "Sign the bytes of IN, as they are (no validation, no canonicalisation), with every KEY\n"
    "over PAE(TYPE, bytes), and write the envelope as compact JSON to OUT. The envelope may\n"
    "be at most 1 MiB. An existing OUT is refused unless --force, which replaces it\n"
    "atomically; OUT is not touched on any error.\n"
    "\n"
    "  --type TYPE   the payloadType, e.g. application/vnd.warden.policy-bundle.v1+json\n"
    "  --key KEY     private key file (PKCS#8 PEM, mode 0600) to sign with; repeatable,\n"
    "                1 to 16 distinct keys, one signature each\n"
    "  IN            payload file, or - for standard input\n"
    "  OUT           envelope file to write, or - for standard output\n"
    "  --force       replace OUT when it exists\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error, 2 usage error, 3 rejected (oversized).\n";

static const char usage_merge[] =
    "usage: warden dsse merge ENVELOPE ENVELOPE... --out FILE [--force]\n"
    "         [--roster FILE --pin DIGEST [--previous ROSTER...]]\n"
    "\n"
    "Join the signatures of copies of one message that were signed apart (with 'warden\n"
    "sign', on different machines): the result has the payload of the first ENVELOPE and\n"
    "every distinct signature of all of them, in order. Each ENVELOPE may be a draft with\n"
    "no signature. Every ENVELOPE must carry the same payloadType (else wrong-type) and\n"
    "byte-identical payload (else hash-mismatch), naming the file that differs. A keyid that\n"
    "appears more than once is kept once; the same keyid with two different signatures is\n"
    "refused (bad-signature: at most one can verify). Signatures are not verified here: the\n"
    "verify commands do that. Then prints how far the signatures go, as 'warden sign' does.\n"
    "\n"
    "  ENVELOPE           a copy of the message (two or more)\n"
    "  --out FILE         where to write the merged envelope\n"
    "  --force            replace --out when it exists (default: refuse, exit 1)\n"
    "  --roster FILE      the roster to count against (for a roster: the one it replaces)\n"
    "  --pin DIGEST       root key fingerprint (keyid) --roster must chain to\n"
    "  --previous ROSTER  an older roster of the chain from the pin to --roster (repeatable)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 merged, 1 operational error (I/O, --out exists), 2 usage error,\n"
    "3 rejected (wrong-type, hash-mismatch, bad-signature, oversized: more than 16\n"
    "signatures; an ENVELOPE that does not decode: its code).\n";

static const char usage_verify[] =
    "usage: warden dsse verify --key PUB [--key PUB...] [--type TYPE] ENVELOPE\n"
    "\n"
    "Decode ENVELOPE strictly and check its signatures: at least one must verify with one of\n"
    "the PUB keys, and every signature made under one of their keyids must verify. Signatures\n"
    "by other keyids are ignored. The payload is not parsed. On success prints\n"
    "  verified: N signature(s), payloadType TYPE, message hash sha256:<hex>\n"
    "where N counts distinct keys.\n"
    "\n"
    "  --key PUB     public key file (SubjectPublicKeyInfo PEM; a private key file also\n"
    "                works); repeatable, at most 16\n"
    "  --type TYPE   require this payloadType (else rejected: wrong-type)\n"
    "  ENVELOPE      envelope file (at most 1 MiB), or - for standard input\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit codes: 0 verified, 1 operational error, 2 usage error,\n"
    "3 rejected (malformed, oversized, unknown-field, duplicate-key, trailing-data,\n"
    "wrong-type, bad-signature).\n";

/* Most --key flags one command takes. */
#define MAX_KEYS WD_MAX_SIGNATURES

static void free_keys(wd_key **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wd_key_free(keys[i]);
}

/* Load key files with load (private or any); on error none stays loaded. */
static wd_code load_keys(char *const *paths, size_t n, bool private_only, wd_key **keys,
                         wd_err *e)
{
    for (size_t i = 0; i < n; i++) {
        wd_code c = private_only ? wd_key_load_private(paths[i], &keys[i], e)
                                 : wd_key_load_any(paths[i], &keys[i], e);
        if (c != WD_OK) {
            free_keys(keys, i);
            return wd_err_prefix(e, c, "--key");
        }
    }
    return WD_OK;
}

static wd_code write_out(const char *out, const char *data, size_t len, bool force, wd_err *e)
{
    if (strcmp(out, "-") != 0)
        return msgcli_write_out(out, data, len, force, e);
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
        return wd_err_set(e, WD_E_IO, "standard output: write failed");
    return WD_OK;
}

/* Parse --type and --key (at most MAX_KEYS) into *type and keypaths[0..*nkeys). Returns -1
 * when parsing is done, else the exit code to return now (--help: 0; a usage error: 2, after
 * printing it with usage). Nothing is allocated: the values point into argv. */
static int parse_flags(int argc, char **argv, const char *usage, const char **type,
                       char **keypaths, size_t *nkeys, bool *force)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},
        {"force", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
            *type = optarg;
            break;
        case 'k':
            if (*nkeys == MAX_KEYS)
                return cli_usage_error(usage, "at most %d --key flags", MAX_KEYS);
            keypaths[(*nkeys)++] = optarg;
            break;
        case 'F':
            if (force == NULL)
                return cli_usage_error(usage, "unknown option or missing value: %s",
                                       argv[optind - 1]);
            *force = true;
            break;
        case 'h':
            return cli_help(usage);
        default:
            return cli_usage_error(usage, "unknown option or missing value: %s",
                                   argv[optind - 1]);
        }
    }
    return -1;
}

static int do_sign(int argc, char **argv)
{
    const char *type = NULL;
    char *keypaths[MAX_KEYS];
    size_t nkeys = 0;
    bool force = false;
    int rc = parse_flags(argc, argv, usage_sign, &type, keypaths, &nkeys, &force);
    if (rc >= 0)
        return rc;
    if (argc - optind != 2)
        return cli_usage_error(usage_sign, "IN and OUT are required (and nothing else)");
    if (type == NULL || type[0] == '\0' || nkeys == 0)
        return cli_usage_error(usage_sign, "--type (not empty) and --key are required");
    const char *in = argv[optind], *out = argv[optind + 1];

    wd_err e;
    wd_err_clear(&e);
    wd_key *keys[MAX_KEYS];
    if (load_keys(keypaths, nkeys, true, keys, &e) != WD_OK)
        return cli_report(&e);
    unsigned char *payload = NULL;
    size_t plen = 0;
    char *env = NULL;
    size_t envlen = 0;
    wd_code c = wd_read_file(in, WD_MAX_ENVELOPE, &payload, &plen, &e);
    if (c == WD_OK)
        c = wd_dsse_sign(type, payload, plen, keys, nkeys, &env, &envlen, &e);
    if (c == WD_OK && envlen > WD_MAX_ENVELOPE)
        c = wd_err_set(&e, WD_E_OVERSIZED,
                       "envelope would be %zu bytes, more than the limit of %u", envlen,
                       WD_MAX_ENVELOPE);
    if (c == WD_OK)
        c = write_out(out, env, envlen, force, &e);
    free(env);
    free(payload);
    free_keys(keys, nkeys);
    return cli_report(&e);
}

static int do_verify(int argc, char **argv)
{
    const char *type = NULL;
    char *keypaths[MAX_KEYS];
    size_t nkeys = 0;
    int rc = parse_flags(argc, argv, usage_verify, &type, keypaths, &nkeys, NULL);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error(usage_verify, "exactly one ENVELOPE is required");
    if (nkeys == 0)
        return cli_usage_error(usage_verify, "at least one --key is required");
    const char *path = argv[optind];

    wd_err e;
    wd_err_clear(&e);
    wd_key *keys[MAX_KEYS];
    if (load_keys(keypaths, nkeys, false, keys, &e) != WD_OK)
        return cli_report(&e);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_dsse d;
    memset(&d, 0, sizeof d);
    size_t nvalid = 0;
    char hash[WD_DIGEST_STRLEN + 1];
    wd_code c = wd_read_file(path, WD_MAX_ENVELOPE, &buf, &len, &e);
    if (c == WD_OK)
        c = wd_dsse_decode(buf, len, WD_MAX_ENVELOPE, &d, &e);
    if (c == WD_OK && type != NULL && strcmp(d.payload_type, type) != 0) {
        char got[128];
        c = wd_err_set(&e, WD_E_WRONG_TYPE, "payloadType is \"%s\", expected \"%s\"",
                       wd_clean_text(d.payload_type, got, sizeof got), type);
    }
    if (c == WD_OK)
        c = wd_dsse_verify_any(&d, keys, nkeys, &nvalid, &e);
    if (c == WD_OK)
        c = wd_dsse_message_hash(&d, hash, &e);
    if (c == WD_OK) {
        char shown[256];
        printf("verified: %zu signature(s), payloadType %s, message hash %s\n", nvalid,
               wd_clean_text(d.payload_type, shown, sizeof shown), hash);
    }
    wd_dsse_free(&d);
    free(buf);
    free_keys(keys, nkeys);
    return cli_report(&e);
}

static int do_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'O'},
        {"force", no_argument, NULL, SIGNFLOW_OPT_FORCE},
        SIGNFLOW_ROSTER_OPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    bool force = false;
    signflow_roster ro;
    memset(&ro, 0, sizeof ro);
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int s = signflow_roster_flag(ch, optarg, &ro, usage_merge);
        if (s > 0)
            return s;
        if (s == 0)
            continue;
        switch (ch) {
        case 'O': out = optarg; break;
        case SIGNFLOW_OPT_FORCE: force = true; break;
        case 'h': return cli_help(usage_merge);
        default: return msgcli_bad_option(usage_merge, argv);
        }
    }
    if (argc - optind < 2)
        return cli_usage_error(usage_merge, "give two or more ENVELOPE files");
    if (out == NULL)
        return cli_usage_error(usage_merge, "--out is required");
    int64_t now = wd_now();
    wd_roster *r = NULL;
    int rc = signflow_roster_load(&ro, now, usage_merge, &r);
    if (rc != 0)
        return rc;
    wd_err e;
    wd_err_clear(&e);
    wd_dsse all;
    size_t max = 0, added = 0;
    char *text = NULL;
    size_t len = 0;
    wd_code c = signflow_read(argv[optind], &all, &max, &e);
    for (int i = optind + 1; i < argc && c == WD_OK; i++) {
        wd_dsse d;
        c = signflow_read(argv[i], &d, NULL, &e);
        if (c != WD_OK)
            break;
        size_t n = 0;
        c = wd_dsse_merge(&all, &d, &n, &e);
        wd_dsse_free(&d);
        if (c != WD_OK) {
            char shown[200];
            wd_msg_prefix(c, &e, "%s", wd_clean_text(argv[i], shown, sizeof shown));
        }
        added += n;
    }
    if (c == WD_OK)
        c = signflow_check_previous(&all, r, &e);
    if (c == WD_E_USAGE) {
        rc = cli_usage_error(usage_merge, "%s", e.msg);
        goto done;
    }
    if (c == WD_OK)
        c = wd_dsse_encode(&all, &text, &len, &e);
    if (c == WD_OK && len > max)
        c = wd_err_set(&e, WD_E_OVERSIZED,
                       "the merged envelope would be %zu bytes, more than the limit of %zu", len,
                       max);
    if (c == WD_OK)
        c = msgcli_write_out(out, text, len, force, &e);
    if (c != WD_OK) {
        rc = cli_report(&e);
        goto done;
    }
    printf("merged %d files: %zu signature%s (%zu added to the first), written to %s\n",
           argc - optind, all.nsigs, all.nsigs == 1 ? "" : "s", added, out);
    signflow_status(&all, r, now, true);
done:
    free(text);
    wd_dsse_free(&all);
    wd_roster_free(r);
    return rc;
}

int cmd_dsse(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage_group, "a dsse command is required");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(usage_group);
    if (strcmp(sub, "sign") == 0)
        return do_sign(argc - 1, argv + 1);
    if (strcmp(sub, "verify") == 0)
        return do_verify(argc - 1, argv + 1);
    if (strcmp(sub, "merge") == 0)
        return do_merge(argc - 1, argv + 1);
    char shown[64];
    return cli_usage_error(usage_group, "unknown dsse command '%s'",
                           wd_clean_text(sub, shown, sizeof shown));
}
