/* cmd_kill.c — `warden kill create|verify` (SPEC §4, §9): build a signed remote kill its own
 * verifier accepts, and verify one as a follower would (roster from the pin, the kill, then the
 * counter floor against the last applied kill).
 * It must never write --out after an error, and never report an unverified kill as valid. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "msgcli.h"
#include "signflow.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "msg/kill.h"
#include "msg/message.h"
#include "trust/roster.h"

static const char usage_group[] =
    "usage: warden kill <command> [flags]\n"
    "\n"
    "Signed remote kill messages.\n"
    "\n"
    "commands:\n"
    "  create    build and sign a remote kill\n"
    "  verify    verify a remote kill as a follower would, and apply the counter floor\n"
    "\n"
    "Run 'warden kill <command> --help' for its flags.\n";

static const char usage_create[] =
    "usage: warden kill create --org ORG --fleet FLEET --env ENV\n"
    "         (--instances ID[,ID...] | --instances '*' | --label K=V [--label K=V...])\n"
    "         --state active|inactive --counter N --reason TEXT [--id ID] [--expires-in DUR]\n"
    "         --sign KEY [--sign KEY...] --out FILE\n"
    "         [--draft] [--force] [--roster FILE --pin DIGEST]\n"
    "\n"
    "Build a remote kill and sign it with every --sign key. It is checked as its verifier\n"
    "would check it (payload schema, sizes, window) and nothing is written when a check fails;\n"
    "signatures and thresholds (remote-kill-signing, default 2) are left to the verifier.\n"
    "created_at and not_before are now.\n"
    "\n"
    "  --org ORG            org_id\n"
    "  --fleet FLEET        fleet_id\n"
    "  --env ENV            environment\n"
    "  --instances LIST     audience: comma-separated instance ids, or '*' for all\n"
    "  --label K=V          audience: instances whose label K equals V (repeatable)\n"
    "  --state STATE        active (deny everything) or inactive (lift an earlier kill)\n"
    "  --counter N          replay floor, an integer in 1 .. 2^53-1, higher than any\n"
    "                       earlier kill's\n"
    "  --reason TEXT        why (at most 4096 bytes, no control characters); shown in denials\n"
    "  --id ID              message_id (default k-<counter>)\n"
    "  --expires-in DUR     how long it may first be applied (default 24h, at most 72h)\n"
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
    "usage: warden kill verify --roster FILE --pin DIGEST [--previous ROSTER...]\n"
    "         --org ORG --fleet FLEET --env ENV --instance ID [--label K=V...]\n"
    "         [--current KILL] [--at TIME] KILL\n"
    "\n"
    "Verify KILL as the follower ORG/FLEET/ENV/ID would: the roster against the pinned root\n"
    "fingerprint (through the --previous rosters, if any), then the envelope, signatures\n"
    "(remote-kill-signing threshold), payload, scope, audience and validity, then the counter\n"
    "floor against the last applied kill: a higher counter applies, the same message is a\n"
    "no-op, anything else is stale. Counters are integers in 1 .. 2^53-1.\n"
    "What is trusted is the newest roster of the chain, --roster: give the newest you hold.\n"
    "An older roster, in which a key revoked since is still active, is your choice to make.\n"
    "\n"
    MSGCLI_VERIFY_ROSTER_HELP
    "  --org ORG          this follower's org_id\n"
    "  --fleet FLEET      this follower's fleet_id\n"
    "  --env ENV          this follower's environment\n"
    "  --instance ID      this follower's instance id\n"
    "  --label K=V        one of this follower's labels (repeatable)\n"
    "  --current KILL     the last applied kill (verified too, except its validity window)\n"
    "  --at TIME          evaluate validity at TIME instead of now (YYYY-MM-DDTHH:MM:SSZ)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 applies or no-op, 1 operational error, 2 usage error, 3 rejected.\n";

static wd_code verify_kill(const unsigned char *buf, size_t len, const msgcli_verify *o,
                           unsigned flags, void **out, wd_err *e)
{
    wd_kill *k = NULL;
    wd_code c = wd_kill_verify(buf, len, o->r, &o->f, o->now, flags, &k, e);
    *out = k;
    return c;
}

static int do_create(int argc, char **argv)
{
    static const struct option opts[] = {
        MSGCLI_CREATE_OPTS,
        {"state", required_argument, NULL, 'S'},
        {"counter", required_argument, NULL, 'c'},
        {"reason", required_argument, NULL, 'r'},
        {"id", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msgcli_create o;
    memset(&o, 0, sizeof o);
    o.expires_in = "24h";
    const char *state = NULL, *counter = NULL, *reason = NULL, *id = NULL;
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
        case 'S': state = optarg; break;
        case 'c': counter = optarg; break;
        case 'r': reason = optarg; break;
        case 'I': id = optarg; break;
        case 'h': return cli_help(usage_create);
        default: return msgcli_bad_option(usage_create, argv);
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_create, "unexpected argument: %s", argv[optind]);
    int miss = msgcli_require(usage_create, "--org", o.org, "--fleet", o.fleet, "--env", o.env,
                              "--state", state, "--counter", counter, "--reason", reason,
                              "--out", o.out, (const char *)NULL);
    if (miss >= 0)
        return miss;
    if (o.nsigns == 0 && !o.draft)
        return cli_usage_error(usage_create,
                               "at least one --sign KEY is required (or --draft, to write it "
                               "unsigned for others to sign)");
    bool active;
    if (strcmp(state, "active") == 0)
        active = true;
    else if (strcmp(state, "inactive") == 0)
        active = false;
    else
        return cli_usage_error(usage_create, "--state must be active or inactive");
    int64_t n = 0;
    if (!msgcli_parse_int(counter, WD_KILL_MIN_COUNTER, WD_MAX_SAFE_INTEGER, &n))
        return cli_usage_error(usage_create, "--counter: '%s' is not an integer in %d .. %lld",
                               counter, WD_KILL_MIN_COUNTER, (long long)WD_MAX_SAFE_INTEGER);
    wd_err e;
    wd_err_clear(&e);
    int64_t ttl, now = wd_now();
    if (wd_duration_parse(o.expires_in, &ttl, &e) != WD_OK)
        return cli_usage_error(usage_create, "--expires-in: %s", e.msg);
    int64_t until = 0;
    if (!msgcli_time_after(now, ttl, &until))
        return cli_usage_error(usage_create, "--expires-in: %s from now is past %s",
                               o.expires_in, MSGCLI_LATEST_TIME);
    wd_kill spec;
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
    char idbuf[64];
    if (id == NULL) {
        snprintf(idbuf, sizeof idbuf, "k-%lld", (long long)n);
        id = idbuf;
    }
    spec.message_id = (char *)id;
    msgcli_scope(&o, &spec.scope);
    spec.active = active;
    spec.counter = n;
    spec.reason = (char *)reason;
    spec.created_at = spec.not_before = now;
    spec.expires_at = until;

    wd_key *keys[WD_MAX_SIGNATURES] = {0};
    char *envelope = NULL;
    size_t env_len = 0;
    wd_code c = msgcli_load_keys("--sign", o.signs, o.nsigns, keys, &e);
    if (c == WD_OK) {
        c = signflow_signers_count(r, WD_PURPOSE_KILL_SIGNING, keys, o.nsigns, o.signs, now,
                                   &e);
        if (c == WD_OK)
            c = wd_kill_build(&spec, keys, o.nsigns, now, &envelope, &env_len, &e);
        msgcli_free_keys(keys, o.nsigns);
    }
    if (c == WD_OK)
        c = msgcli_write_out(o.out, envelope, env_len, o.force, &e);
    if (c == WD_OK) {
        char t[WD_TIME_STRLEN + 1];
        wd_time_format(spec.expires_at, t);
        printf("remote kill %s counter %lld state %s (first applicable until %s) written to %s\n",
               id, (long long)n, state, t, o.out);
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
        {"current", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msgcli_verify o;
    memset(&o, 0, sizeof o);
    const char *current = NULL;
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
        case 'c': current = optarg; break;
        case 'h': return cli_help(usage_verify);
        default: return msgcli_bad_option(usage_verify, argv);
        }
    }
    wd_err e;
    int rc = msgcli_verify_start(&o, argc, "KILL", usage_verify, &e);
    if (rc != 0)
        return rc;
    const char *path = argv[optind];
    void *m = NULL, *cm = NULL;
    wd_code c = msgcli_verify_file(NULL, path, WD_MAX_KILL_ENVELOPE, verify_kill, &o, 0, &m, &e);
    wd_kill *k = m, *cur = NULL;
    if (c == WD_OK && current) {
        c = msgcli_verify_file("--current", current, WD_MAX_KILL_ENVELOPE, verify_kill, &o,
                               WD_MSG_ACTIVE, &cm, &e);
        cur = cm;
    }
    wd_kill_step step = WD_KILL_FIRST;
    char note[WD_ERR_MSG_MAX];
    note[0] = '\0';
    if (c == WD_OK)
        c = wd_kill_transition(cur, k, &step, note, sizeof note, &e);
    if (c == WD_OK) {
        char nb[WD_TIME_STRLEN + 1], ex[WD_TIME_STRLEN + 1], reason[600];
        wd_time_format(k->not_before, nb);
        wd_time_format(k->expires_at, ex);
        printf("verified: remote kill %s counter %lld state %s %s for %s/%s/%s, valid %s to %s, "
               "reason: %s\n",
               k->message_id, (long long)k->counter, k->active ? "active" : "inactive", k->hash,
               k->scope.org_id, k->scope.fleet_id, k->scope.environment, nb, ex,
               wd_clean_text(k->reason, reason, sizeof reason));
        printf("outcome: %s (%s)\n", wd_kill_step_name(step), note);
        msgcli_print_roster(o.r, o.nprevious);
        rc = 0;
    } else {
        rc = cli_report(&e);
    }
    wd_kill_free(k);
    wd_kill_free(cur);
    msgcli_verify_end(&o);
    return rc;
}

int cmd_kill(int argc, char **argv)
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
    return cli_usage_error(usage_group, "unknown command: kill %.64s", sub);
}
