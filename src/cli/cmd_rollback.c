/* cmd_rollback.c — `warden rollback create|verify` (SPEC §5, §9): build a signed rollback
 * authorization from the two bundles it names, and verify one as a follower would.
 * It must never write --out after an error, and never report an unverified authorization as
 * valid. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "msgcli.h"
#include "signflow.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "msg/bundle.h"
#include "msg/message.h"
#include "msg/rollback.h"
#include "trust/roster.h"

static const char usage_group[] =
    "usage: warden rollback <command> [flags]\n"
    "\n"
    "Signed rollback authorizations: permission to go from one bundle back to an\n"
    "older one.\n"
    "\n"
    "commands:\n"
    "  create    build and sign an authorization for CURRENT -> TARGET\n"
    "  verify    verify an authorization as a follower would\n"
    "\n"
    "Run 'warden rollback <command> --help' for its flags.\n";

static const char usage_create[] =
    "usage: warden rollback create --org ORG --fleet FLEET --env ENV\n"
    "         (--instances ID[,ID...] | --instances '*' | --label K=V [--label K=V...])\n"
    "         --current BUNDLE --target BUNDLE --reason TEXT [--id ID] [--expires-in DUR]\n"
    "         --sign KEY [--sign KEY...] --out FILE\n"
    "         [--draft] [--force] [--roster FILE --pin DIGEST]\n"
    "\n"
    "Build a rollback authorization from the bundle now active (--current) to an older one\n"
    "(--target), taking their hashes and versions from the files, and sign it with every\n"
    "--sign key. It is checked as its verifier would check it (payload schema, target version\n"
    "lower than current, sizes, window) and nothing is written when a check fails; signatures\n"
    "and thresholds (policy-bundle-rollback, default 2) are left to the verifier. created_at\n"
    "is now.\n"
    "\n"
    "  --org ORG            org_id\n"
    "  --fleet FLEET        fleet_id\n"
    "  --env ENV            environment\n"
    "  --instances LIST     audience: comma-separated instance ids, or '*' for all\n"
    "  --label K=V          audience: instances whose label K equals V (repeatable)\n"
    "  --current BUNDLE     the bundle to roll back from\n"
    "  --target BUNDLE      the older bundle to roll back to\n"
    "  --reason TEXT        why (at most 4096 bytes, no control characters)\n"
    "  --id ID              authorization_id (default r-<current version>-<target version>)\n"
    "  --expires-in DUR     validity from now (default 1h, at most 24h)\n"
    "  --sign KEY           private key file to sign with (repeatable, at most 16)\n"
    "  --out FILE           where to write the envelope\n"
    "  --draft              write it even when unsigned or short of its threshold, for\n"
    "                       others to sign with 'warden sign'; prints how many more\n"
    "                       signatures it needs and by whom\n"
    "  --roster FILE        with --pin: count the signatures against this roster, and\n"
    "                       refuse a --sign key it would not count\n"
    "  --pin DIGEST         root key fingerprint (keyid) --roster must verify against\n"
    "  --force              replace --out when it exists (default: refuse, exit 1)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error, 2 usage error, 3 rejected.\n";

static const char usage_verify[] =
    "usage: warden rollback verify --roster FILE --pin DIGEST [--previous ROSTER...]\n"
    "         --org ORG --fleet FLEET --env ENV --instance ID [--label K=V...] [--at TIME]\n"
    "         AUTH\n"
    "\n"
    "Verify AUTH as the follower ORG/FLEET/ENV/ID would: the roster against the pinned root\n"
    "fingerprint (through the --previous rosters, if any), then the envelope, signatures\n"
    "(policy-bundle-rollback threshold), payload, scope, audience and validity. Prints the\n"
    "pair of bundles it authorizes and the roster it was checked against.\n"
    "What is trusted is the newest roster of the chain, --roster: give the newest you hold.\n"
    "An older roster, in which a key revoked since is still active, is your choice to make.\n"
    "\n"
    MSGCLI_VERIFY_ROSTER_HELP
    "  --org ORG          this follower's org_id\n"
    "  --fleet FLEET      this follower's fleet_id\n"
    "  --env ENV          this follower's environment\n"
    "  --instance ID      this follower's instance id\n"
    "  --label K=V        one of this follower's labels (repeatable)\n"
    "  --at TIME          evaluate validity at TIME instead of now (YYYY-MM-DDTHH:MM:SSZ)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 valid, 1 operational error, 2 usage error, 3 rejected.\n";

/* Read a bundle file the operator names, without verifying it: its hash and version. */
static wd_code read_bundle(const char *flag, const char *path, char hash[WD_DIGEST_STRLEN + 1],
                           int64_t *version, wd_err *e)
{
    wd_bundle *b = NULL;
    wd_code c = msgcli_read_bundle(flag, path, &b, e);
    if (c != WD_OK)
        return c;
    memcpy(hash, b->hash, WD_DIGEST_STRLEN + 1);
    *version = b->version;
    wd_bundle_free(b);
    return WD_OK;
}

static wd_code verify_rollback(const unsigned char *buf, size_t len, const msgcli_verify *o,
                               unsigned flags, void **out, wd_err *e)
{
    (void)flags;
    wd_rollback *a = NULL;
    wd_code c = wd_rollback_verify(buf, len, o->r, &o->f, o->now, &a, e);
    *out = a;
    return c;
}

static int do_create(int argc, char **argv)
{
    static const struct option opts[] = {
        MSGCLI_CREATE_OPTS,
        {"current", required_argument, NULL, 'c'},
        {"target", required_argument, NULL, 't'},
        {"reason", required_argument, NULL, 'r'},
        {"id", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msgcli_create o;
    memset(&o, 0, sizeof o);
    o.expires_in = "1h";
    const char *current = NULL, *target = NULL, *reason = NULL, *id = NULL;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int s = msgcli_create_flag(ch, optarg, &o, usage_create);
        if (s > 0)
            return s;
        if (s == 0)
            continue;
        switch (ch) {
        case 'c': current = optarg; break;
        case 't': target = optarg; break;
        case 'r': reason = optarg; break;
        case 'I': id = optarg; break;
        case 'h': return cli_help(usage_create);
        default: return msgcli_bad_option(usage_create, argv);
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_create, "unexpected argument: %s", argv[optind]);
    int miss = msgcli_require(usage_create, "--org", o.org, "--fleet", o.fleet, "--env", o.env,
                              "--current", current, "--target", target, "--reason", reason,
                              "--out", o.out, (const char *)NULL);
    if (miss >= 0)
        return miss;
    if (o.nsigns == 0 && !o.draft)
        return cli_usage_error(usage_create,
                               "at least one --sign KEY is required (or --draft, to write it "
                               "unsigned for others to sign)");
    wd_err e;
    wd_err_clear(&e);
    int64_t ttl, now = wd_now();
    if (wd_duration_parse(o.expires_in, &ttl, &e) != WD_OK)
        return cli_usage_error(usage_create, "--expires-in: %s", e.msg);
    int64_t until = 0;
    if (!msgcli_time_after(now, ttl, &until))
        return cli_usage_error(usage_create, "--expires-in: %s from now is past %s",
                               o.expires_in, MSGCLI_LATEST_TIME);
    wd_rollback spec;
    memset(&spec, 0, sizeof spec);
    int rc = msgcli_audience(&o, usage_create, &spec.audience);
    if (rc != 0)
        return rc;
    signflow_roster ro;
    memset(&ro, 0, sizeof ro);
    ro.roster = o.roster;
    ro.pin = o.pin;
    wd_roster *r = NULL;
    rc = signflow_roster_load(&ro, now, usage_create, &r);
    if (rc != 0) {
        wd_audience_free(&spec.audience);
        return rc;
    }
    char *envelope = NULL;
    size_t env_len = 0;
    char idbuf[64];
    wd_code c = read_bundle("--current", current, spec.current_bundle_hash,
                            &spec.current_version, &e);
    if (c == WD_OK)
        c = read_bundle("--target", target, spec.target_bundle_hash, &spec.target_version, &e);
    if (c == WD_OK) {
        if (id == NULL) {
            snprintf(idbuf, sizeof idbuf, "r-%lld-%lld", (long long)spec.current_version,
                     (long long)spec.target_version);
            id = idbuf;
        }
        spec.authorization_id = (char *)id;
        msgcli_scope(&o, &spec.scope);
        spec.reason = (char *)reason;
        spec.created_at = now;
        spec.expires_at = until;
        wd_key *keys[WD_MAX_SIGNATURES] = {0};
        c = msgcli_load_keys("--sign", o.signs, o.nsigns, keys, &e);
        if (c == WD_OK) {
            c = signflow_signers_count(r, WD_PURPOSE_BUNDLE_ROLLBACK, keys, o.nsigns, o.signs,
                                       now, &e);
            if (c == WD_OK)
                c = wd_rollback_build(&spec, keys, o.nsigns, now, &envelope, &env_len, &e);
            msgcli_free_keys(keys, o.nsigns);
        }
    }
    if (c == WD_OK)
        c = msgcli_write_out(o.out, envelope, env_len, o.force, &e);
    if (c == WD_OK) {
        char t[WD_TIME_STRLEN + 1];
        wd_time_format(spec.expires_at, t);
        printf("rollback authorization %s for version %lld -> %lld (valid until %s) "
               "written to %s\n",
               id, (long long)spec.current_version, (long long)spec.target_version, t, o.out);
        if (o.draft || r != NULL)
            signflow_print_written(envelope, env_len, r);
    } else {
        rc = cli_report(&e);
    }
    wd_roster_free(r);
    wd_audience_free(&spec.audience);
    free(envelope);
    return rc;
}

static int do_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        MSGCLI_VERIFY_OPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msgcli_verify o;
    memset(&o, 0, sizeof o);
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int s = msgcli_verify_flag(ch, optarg, &o, usage_verify);
        if (s > 0)
            return s;
        if (s == 0)
            continue;
        switch (ch) {
        case 'h': return cli_help(usage_verify);
        default: return msgcli_bad_option(usage_verify, argv);
        }
    }
    wd_err e;
    int rc = msgcli_verify_start(&o, argc, "AUTH", usage_verify, &e);
    if (rc != 0)
        return rc;
    void *m = NULL;
    wd_code c = msgcli_verify_file(NULL, argv[optind], WD_MAX_ROLLBACK_ENVELOPE, verify_rollback,
                                   &o, 0, &m, &e);
    wd_rollback *a = m;
    if (c == WD_OK) {
        char ex[WD_TIME_STRLEN + 1], reason[600];
        wd_time_format(a->expires_at, ex);
        printf("verified: rollback authorization %s %s for %s/%s/%s, valid until %s, "
               "reason: %s\n",
               a->authorization_id, a->hash, a->scope.org_id, a->scope.fleet_id,
               a->scope.environment, ex, wd_clean_text(a->reason, reason, sizeof reason));
        printf("authorizes: version %lld (%s) -> version %lld (%s)\n",
               (long long)a->current_version, a->current_bundle_hash,
               (long long)a->target_version, a->target_bundle_hash);
        msgcli_print_roster(o.r, o.nprevious);
        rc = 0;
    } else {
        rc = cli_report(&e);
    }
    wd_rollback_free(a);
    msgcli_verify_end(&o);
    return rc;
}

int cmd_rollback(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage_group, "missing command");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(usage_group);
    if (strcmp(sub, "create") == 0)
        return do_create(argc - 1, argv + 1);
    if (strcmp(sub, "verify") == 0)
        return do_verify(argc - 1, argv + 1);
    return cli_usage_error(usage_group, "unknown command: rollback %.64s", sub);
}
