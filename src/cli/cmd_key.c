/* cmd_key.c — `warden key gen|id` (SPEC §1.3, §9): create an Ed25519 key pair on disk and print
 * the keyid of a key file. It must never overwrite a key file, never print private key
 * material, and never read a private key that group or others can read. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "base/base.h"
#include "crypto/crypto.h"

static const char usage_group[] =
    "usage: warden key <command> [flags]\n"
    "\n"
    "Ed25519 signing keys.\n"
    "\n"
    "commands:\n"
    "  gen    generate a key pair: PATH (private, 0600) and PATH.pub; print the keyid\n"
    "  id     print the keyid of a private or public key file\n"
    "\n"
    "Run 'warden key <command> --help' for its flags.\n";

static const char usage_gen[] =
    "usage: warden key gen PATH\n"
    "\n"
    "Generate an Ed25519 key pair. The private key is written to PATH as PKCS#8 PEM with mode\n"
    "0600, the public key to PATH.pub as SubjectPublicKeyInfo PEM (0644). Neither file may\n"
    "exist already: nothing is overwritten, and on any error neither file is left behind.\n"
    "Prints the keyid (sha256:<hex of SHA-256 of the raw 32-byte public key>) on stdout.\n"
    "\n"
    "  PATH         where to write the private key (the public key goes to PATH.pub)\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error (I/O, file exists), 2 usage error.\n";

static const char usage_id[] =
    "usage: warden key id FILE\n"
    "\n"
    "Print the keyid of FILE, an Ed25519 private key (PKCS#8 PEM) or public key\n"
    "(SubjectPublicKeyInfo PEM), told apart by the PEM label. A private key file that group or\n"
    "others can read is refused (chmod 600 it).\n"
    "\n"
    "  FILE         the key file\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit codes: 0 printed, 1 operational error (I/O, file mode), 2 usage error,\n"
    "3 rejected (not an Ed25519 key: malformed; larger than 16 KiB: oversized).\n";

/* Parse "CMD [-h] ARG": returns -1 with *arg set, or the exit code to return. */
static int one_argument(int argc, char **argv, const char *usage, const char *what,
                        const char **arg)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'h')
            return cli_help(usage);
        return cli_usage_error(usage, "unknown option: %s", argv[optind - 1]);
    }
    if (argc - optind != 1)
        return cli_usage_error(usage, "exactly one %s is required", what);
    *arg = argv[optind];
    return -1;
}

static int do_gen(int argc, char **argv)
{
    const char *path = NULL;
    int rc = one_argument(argc, argv, usage_gen, "PATH", &path);
    if (rc >= 0)
        return rc;
    wd_err e;
    wd_err_clear(&e);
    wd_key *k = NULL;
    if (wd_key_generate(&k, &e) != WD_OK)
        return cli_report(&e);
    if (wd_key_save(k, path, &e) != WD_OK) {
        wd_key_free(k);
        return cli_report(&e);
    }
    printf("%s\n", wd_key_id(k));
    wd_key_free(k);
    return 0;
}

static int do_id(int argc, char **argv)
{
    const char *path = NULL;
    int rc = one_argument(argc, argv, usage_id, "FILE", &path);
    if (rc >= 0)
        return rc;
    wd_err e;
    wd_err_clear(&e);
    wd_key *k = NULL;
    if (wd_key_load_any(path, &k, &e) != WD_OK)
        return cli_report(&e);
    printf("%s\n", wd_key_id(k));
    wd_key_free(k);
    return 0;
}

int cmd_key(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage_group, "a key command is required");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(usage_group);
    if (strcmp(sub, "gen") == 0)
        return do_gen(argc - 1, argv + 1);
    if (strcmp(sub, "id") == 0)
        return do_id(argc - 1, argv + 1);
    char shown[64];
    return cli_usage_error(usage_group, "unknown key command '%s'",
                           wd_clean_text(sub, shown, sizeof shown));
}
