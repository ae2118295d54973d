/* cmd_pki.c — `warden pki init|issue` (SPEC §12.1, §12.3): make the fleet CA and issue the mTLS
 * certificates of leaders, followers and administrators. Thin over src/lib/pki. It must never
 * overwrite a file, never print private key material, and never write anything after a usage
 * error or a refusal. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/base.h"
#include "codec/spiffe.h"
#include "pki/pki.h"

static const char usage_group[] =
    "usage: warden pki <command> [flags]\n"
    "\n"
    "The fleet's mTLS certificates: a CA (ECDSA P-256) and the certificates it issues. A\n"
    "follower or administrator is known by the single URI SAN of its certificate, a SPIFFE ID:\n"
    "  spiffe://<trust-domain>/org/<org>/fleet/<fleet>/env/<env>/instance/<instance>\n"
    "  spiffe://<trust-domain>/org/<org>/admin/<name>\n"
    "Any other CA works too, as long as its certificates follow these rules.\n"
    "\n"
    "commands:\n"
    "  init    make the fleet CA: DIR/ca.crt and DIR/ca.key\n"
    "  issue   issue a leader, follower or administrator certificate and its key\n"
    "\n"
    "Run 'warden pki <command> --help' for its flags.\n";

static const char usage_init[] =
    "usage: warden pki init --trust-domain TD --dir DIR [--valid-for DUR]\n"
    "\n"
    "Make a fleet CA for trust domain TD: a new ECDSA P-256 key in DIR/ca.key (PKCS#8 PEM,\n"
    "mode 0600) and a self-signed certificate in DIR/ca.crt (0644) named\n"
    "\"CN=warden fleet CA TD\", with basicConstraints CA:TRUE (critical, path length 0),\n"
    "keyUsage keyCertSign and cRLSign (critical), a subjectKeyIdentifier, and the URI SAN\n"
    "spiffe://TD, which is where 'warden pki issue' reads the trust domain from. DIR is created\n"
    "(mode 0700) when missing. Neither file may exist already: nothing is overwritten, and on\n"
    "any error neither file is left behind. Prints what was written and the CA certificate's\n"
    "SHA-256 fingerprint.\n"
    "\n"
    "  --trust-domain TD  the fleet's SPIFFE trust domain: lowercase letters, digits, '.', '-'\n"
    "                     and '_', at most 48 characters (e.g. fleet.example.org)\n"
    "  --dir DIR          directory for ca.crt and ca.key\n"
    "  --valid-for DUR    validity, a Go-style duration such as 8760h (default 87600h, ten\n"
    "                     years); the certificate starts 5 minutes in the past for clock skew\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error (I/O, a file exists), 2 usage error.\n";

static const char usage_issue[] =
    "usage: warden pki issue --dir DIR (--leader NAME[,NAME...] | --follower O/F/E/I |\n"
    "         --admin O/NAME) [--valid-for DUR] --out PREFIX\n"
    "\n"
    "Issue a certificate signed by the fleet CA in DIR, with a new ECDSA P-256 key. The key is\n"
    "written to PREFIX.key (PKCS#8 PEM, mode 0600) and the certificate to PREFIX.crt (0644).\n"
    "Neither file may exist already: nothing is overwritten, and on any error neither file is\n"
    "left behind. Every certificate has basicConstraints CA:FALSE, keyUsage digitalSignature\n"
    "(critical), an authorityKeyIdentifier and a random 159-bit serial number, and starts 5\n"
    "minutes in the past for clock skew. Prints the identity, the expiry and the files written.\n"
    "Give exactly one of --leader, --follower and --admin.\n"
    "\n"
    "  --dir DIR          the CA directory made by 'warden pki init' (ca.crt, ca.key); ca.key\n"
    "                     is refused when group or others can read it\n"
    "  --leader NAME[,NAME...]\n"
    "                     a leader's server certificate (extendedKeyUsage serverAuth) for the\n"
    "                     DNS names and IP addresses followers and administrators use to\n"
    "                     reach it (at most 32), e.g. leader.example.org,10.0.0.5\n"
    "  --follower O/F/E/I a follower's client certificate (extendedKeyUsage clientAuth) for\n"
    "                     org O, fleet F, environment E, instance I; its only URI SAN is\n"
    "                     spiffe://<trust-domain>/org/O/fleet/F/env/E/instance/I\n"
    "  --admin O/NAME     an administrator's client certificate (clientAuth) for org O; its\n"
    "                     only URI SAN is spiffe://<trust-domain>/org/O/admin/NAME\n"
    "                     Each of O, F, E, I and NAME is an id: 1-128 letters, digits, '_', '.'\n"
    "                     and '-', starting with a letter or digit.\n"
    "  --valid-for DUR    validity, a Go-style duration such as 720h (default 2160h, 90 days);\n"
    "                     it may not end after the CA certificate does\n"
    "  --out PREFIX       write PREFIX.crt and PREFIX.key\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error (I/O, a file exists, a readable CA key),\n"
    "2 usage error, 3 rejected (ca.crt or ca.key is not a warden fleet CA: malformed; larger\n"
    "than the file limit: oversized).\n";

/* Show the value of a flag in a message (cleaned, short). */
static const char *shown(const char *s, char *buf, size_t n)
{
    return wd_clean_text(s, buf, n);
}

/* Split s at '/' into exactly n ids. Returns false when the count or an id is wrong. */
static bool split_ids(const char *s, size_t n, char out[][WD_MAX_ID_LEN + 1])
{
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if ((i + 1 < n) != (slash != NULL) || len == 0 || len > WD_MAX_ID_LEN)
            return false;
        memcpy(out[i], p, len);
        out[i][len] = '\0';
        if (!wd_id_valid(out[i]))
            return false;
        p = slash ? slash + 1 : p + len;
    }
    return true;
}

static int parse_duration(const char *flag, const char *v, int64_t *out, const char *usage)
{
    wd_err e;
    if (wd_duration_parse(v, out, &e) != WD_OK)
        return cli_usage_error(usage, "%s: %s", flag, e.msg);
    return 0;
}

static void print_written(const char *crt, const char *key)
{
    printf("wrote %s\n", crt);
    printf("wrote %s (private key, mode 0600)\n", key);
}

static int do_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"trust-domain", required_argument, NULL, 't'},
        {"dir", required_argument, NULL, 'd'},
        {"valid-for", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *td = NULL, *dir = NULL, *valid = NULL;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 't': td = optarg; break;
        case 'd': dir = optarg; break;
        case 'v': valid = optarg; break;
        case 'h': return cli_help(usage_init);
        default:
            return cli_usage_error(usage_init, "unknown option or missing value: %s",
                                   argv[optind - 1]);
        }
    }
    char buf[96];
    if (optind != argc)
        return cli_usage_error(usage_init, "unexpected argument: %s",
                               shown(argv[optind], buf, sizeof buf));
    if (td == NULL)
        return cli_usage_error(usage_init, "--trust-domain is required");
    if (dir == NULL)
        return cli_usage_error(usage_init, "--dir is required");
    if (*dir == '\0')
        return cli_usage_error(usage_init, "--dir: empty");
    int64_t validity = WD_PKI_CA_VALIDITY_S;
    int rc = valid ? parse_duration("--valid-for", valid, &validity, usage_init) : 0;
    if (rc != 0)
        return rc;
    wd_err e;
    wd_err_clear(&e);
    wd_pki_ca *ca = NULL;
    wd_code c = wd_pki_ca_create(td, wd_now(), validity, &ca, &e);
    if (c == WD_E_USAGE)
        return cli_usage_error(usage_init, "--%s: %s",
                               strncmp(e.msg, "validity", 8) == 0 ? "valid-for" : "trust-domain",
                               e.msg);
    if (c != WD_OK)
        return cli_report(&e);
    char fp[WD_DIGEST_STRLEN + 1];
    c = wd_pki_fingerprint(wd_pki_ca_cert(ca), fp, &e);
    if (c == WD_OK)
        c = wd_pki_ca_save(ca, dir, &e);
    if (c != WD_OK) {
        wd_pki_ca_free(ca);
        return cli_report(&e);
    }
    char until[WD_TIME_STRLEN + 1];
    wd_time_format(wd_pki_ca_not_after(ca), until);
    size_t n = strlen(dir) + 8;
    char *crt = malloc(n), *key = malloc(n);
    if (crt && key) {
        snprintf(crt, n, "%s/ca.crt", dir);
        snprintf(key, n, "%s/ca.key", dir);
        printf("fleet CA for trust domain %s, valid until %s, fingerprint %s\n", td, until, fp);
        print_written(crt, key);
    }
    free(crt);
    free(key);
    wd_pki_ca_free(ca);
    return 0;
}

/* Split the --leader list at commas into names (pointers into a copy the caller frees). */
static int leader_list(const char *v, char **copy, const char **names, size_t *n)
{
    *n = 0;
    *copy = strdup(v);
    if (*copy == NULL)
        return -1;
    char *p = *copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*n == WD_PKI_MAX_NAMES + 1)
            return 1; /* too many: the library says so with the limit */
        names[(*n)++] = p;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int do_issue(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"leader", required_argument, NULL, 'L'},
        {"follower", required_argument, NULL, 'F'},
        {"admin", required_argument, NULL, 'A'},
        {"valid-for", required_argument, NULL, 'v'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *leader = NULL, *follower = NULL, *admin = NULL, *valid = NULL;
    const char *out = NULL;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'L': leader = optarg; break;
        case 'F': follower = optarg; break;
        case 'A': admin = optarg; break;
        case 'v': valid = optarg; break;
        case 'o': out = optarg; break;
        case 'h': return cli_help(usage_issue);
        default:
            return cli_usage_error(usage_issue, "unknown option or missing value: %s",
                                   argv[optind - 1]);
        }
    }
    char buf[96];
    if (optind != argc)
        return cli_usage_error(usage_issue, "unexpected argument: %s",
                               shown(argv[optind], buf, sizeof buf));
    if (dir == NULL)
        return cli_usage_error(usage_issue, "--dir is required");
    if (out == NULL)
        return cli_usage_error(usage_issue, "--out is required");
    if (*out == '\0')
        return cli_usage_error(usage_issue, "--out: empty");
    if ((leader != NULL) + (follower != NULL) + (admin != NULL) != 1)
        return cli_usage_error(usage_issue,
                               "give exactly one of --leader, --follower and --admin");

    wd_pki_request req;
    memset(&req, 0, sizeof req);
    req.valid_for = WD_PKI_LEAF_VALIDITY_S;
    int rc = valid ? parse_duration("--valid-for", valid, &req.valid_for, usage_issue) : 0;
    if (rc != 0)
        return rc;
    const char *flag;
    char ids[4][WD_MAX_ID_LEN + 1];
    const char *names[WD_PKI_MAX_NAMES + 1];
    char *list = NULL;
    if (follower) {
        flag = "--follower";
        if (!split_ids(follower, 4, ids))
            return cli_usage_error(usage_issue,
                                   "--follower: '%s' is not O/F/E/I (four ids separated by '/')",
                                   shown(follower, buf, sizeof buf));
        req.kind = WD_PKI_FOLLOWER;
        req.id.kind = WD_PEER_FOLLOWER;
        memcpy(req.id.org, ids[0], sizeof ids[0]);
        memcpy(req.id.fleet, ids[1], sizeof ids[1]);
        memcpy(req.id.env, ids[2], sizeof ids[2]);
        memcpy(req.id.instance, ids[3], sizeof ids[3]);
    } else if (admin) {
        flag = "--admin";
        if (!split_ids(admin, 2, ids))
            return cli_usage_error(usage_issue,
                                   "--admin: '%s' is not O/NAME (two ids separated by '/')",
                                   shown(admin, buf, sizeof buf));
        req.kind = WD_PKI_ADMIN;
        req.id.kind = WD_PEER_ADMIN;
        memcpy(req.id.org, ids[0], sizeof ids[0]);
        memcpy(req.id.admin, ids[1], sizeof ids[1]);
    } else {
        flag = "--leader";
        req.kind = WD_PKI_LEADER;
        if (leader_list(leader, &list, names, &req.nnames) < 0) {
            free(list);
            fprintf(stderr, "warden: out of memory\n");
            return 1;
        }
        req.names = names;
    }

    wd_err e;
    wd_err_clear(&e);
    wd_pki_ca *ca = NULL;
    wd_pki_leaf *leaf = NULL;
    wd_code c = wd_pki_ca_load(dir, &ca, &e);
    if (c != WD_OK) {
        wd_err_prefix(&e, c, "--dir");
        goto report;
    }
    c = wd_pki_issue(ca, &req, wd_now(), &leaf, &e);
    if (c == WD_E_USAGE) {
        rc = cli_usage_error(usage_issue, "%s: %s",
                             strncmp(e.msg, "validity", 8) == 0 ? "--valid-for" : flag, e.msg);
        goto done;
    }
    if (c != WD_OK)
        goto report;
    c = wd_pki_leaf_save(leaf, out, &e);
    if (c != WD_OK)
        goto report;
    char until[WD_TIME_STRLEN + 1];
    wd_time_format(wd_pki_leaf_not_after(leaf), until);
    const char *kind = req.kind == WD_PKI_LEADER     ? "leader (serverAuth)"
                       : req.kind == WD_PKI_FOLLOWER ? "follower (clientAuth)"
                                                     : "administrator (clientAuth)";
    printf("issued %s certificate for %s, valid until %s\n", kind, wd_pki_leaf_identity(leaf),
           until);
    printf("wrote %s.crt\n", out);
    printf("wrote %s.key (private key, mode 0600)\n", out);
    rc = 0;
    goto done;
report:
    rc = cli_report(&e);
done:
    wd_pki_leaf_free(leaf);
    wd_pki_ca_free(ca);
    free(list);
    return rc;
}

int cmd_pki(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage_group, "a pki command is required");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(usage_group);
    if (strcmp(sub, "init") == 0)
        return do_init(argc - 1, argv + 1);
    if (strcmp(sub, "issue") == 0)
        return do_issue(argc - 1, argv + 1);
    char s[64];
    return cli_usage_error(usage_group, "unknown pki command '%s'",
                           wd_clean_text(sub, s, sizeof s));
}
