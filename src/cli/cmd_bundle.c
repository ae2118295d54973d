/* cmd_bundle.c — `warden bundle create|verify|inspect` (SPEC §3, §9): build a signed policy
 * bundle its own verifier accepts, verify one as a follower would (roster from the pin, then the
 * bundle, then the transition rule), and show one without trusting it.
 * It must never write --out after an error, and never call an unverified bundle verified. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "msgcli.h"
#include "signflow.h"
#include "base/base.h"
#include "codec/json.h"
#include "crypto/crypto.h"
#include "msg/bundle.h"
#include "msg/message.h"
#include "trust/roster.h"

static const char usage_group[] =
    "usage: warden bundle <command> [flags]\n"
    "\n"
    "Signed policy bundles.\n"
    "\n"
    "commands:\n"
    "  create    build and sign a bundle from a policy file\n"
    "  verify    verify a bundle as a follower would, and decide the transition\n"
    "  inspect   show a bundle's fields without verifying its signatures\n"
    "\n"
    "Run 'warden bundle <command> --help' for its flags.\n";

static const char usage_create[] =
    "usage: warden bundle create --policy FILE --org ORG --fleet FLEET --env ENV --version N\n"
    "         (--instances ID[,ID...] | --instances '*' | --label K=V [--label K=V...])\n"
    "         [--previous BUNDLE | --previous-hash DIGEST] [--id ID] [--expires-in DUR]\n"
    "         [--not-before TIME] [--min-version V] --sign KEY [--sign KEY...] --out FILE\n"
    "         [--draft] [--force] [--roster FILE --pin DIGEST]\n"
    "\n"
    "Build a policy bundle and sign it with every --sign key. The bundle is checked as its\n"
    "verifier would check it (payload schema, window, sections, policy validity, sizes) and\n"
    "nothing is written when a check fails; only signatures and thresholds are left to the\n"
    "verifier, which knows the roster.\n"
    "\n"
    "  --policy FILE          policy document (YAML, at most 256 KiB); only the sections\n"
    "                         version, mode, servers, permission_profiles, mcp_tool_policy\n"
    "  --org ORG              org_id\n"
    "  --fleet FLEET          fleet_id\n"
    "  --env ENV              environment\n"
    "  --version N            bundle version, an integer >= 1\n"
    "  --instances LIST       audience: comma-separated instance ids, or '*' for all\n"
    "  --label K=V            audience: instances whose label K equals V (repeatable;\n"
    "                         every label must match)\n"
    "  --previous BUNDLE      the bundle this one follows: previous_bundle_hash is its hash\n"
    "  --previous-hash DIGEST previous_bundle_hash given directly (default \"\": first bundle)\n"
    "  --id ID                bundle_id (default b-<version>)\n"
    "  --expires-in DUR       validity from not_before, Go-style duration (default 720h)\n"
    "  --not-before TIME      start of validity, YYYY-MM-DDTHH:MM:SSZ (default now);\n"
    "                         created_at is now, or TIME when that is earlier\n"
    "  --min-version V        min_warden_version (default 0.1.0)\n"
    "  --sign KEY             private key file to sign with (repeatable, at most 16)\n"
    "  --out FILE             where to write the envelope\n"
    SIGNFLOW_DRAFT_HELP
    "  --roster FILE          with --pin: count the signatures against this roster, and\n"
    "                         refuse a --sign key it would not count\n"
    "  --pin DIGEST           root key fingerprint (keyid) --roster must verify against\n"
    SIGNFLOW_FORCE_HELP
    "  -h, --help             show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error, 2 usage error, 3 rejected.\n";

static const char usage_verify[] =
    "usage: warden bundle verify --roster FILE --pin DIGEST [--previous ROSTER...]\n"
    "         --org ORG --fleet FLEET --env ENV --instance ID [--label K=V...]\n"
    "         [--current BUNDLE] [--floor N] [--rollback AUTH] [--at TIME]\n"
    "         [--write-policy FILE [--force]] BUNDLE\n"
    "\n"
    "Verify BUNDLE as the follower ORG/FLEET/ENV/ID would: the roster against the pinned root\n"
    "fingerprint (through the --previous rosters, if any), then the bundle's envelope,\n"
    "signatures (policy-bundle-signing threshold), payload, scope, audience, validity and\n"
    "policy, then the transition from the active bundle and the floor. Prints one summary\n"
    "line, the outcome (accepted, no-op, accepted with versions skipped, or accepted as an\n"
    "authorized rollback), the floor to keep from now on, and the roster used. A rejection\n"
    "prints one line 'rejected (<code>): <detail>' on stderr.\n"
    "\n"
    "The floor is the highest bundle version ever applied. A bundle that is not the active\n"
    "one and whose version is at or below the floor is stale, except an authorized rollback:\n"
    "after a rollback from version 42 to 40, versions 41 and 42 stay refused and the way\n"
    "forward is 43. Versions are integers in 1 .. 2^53-1.\n"
    "\n"
    "What is trusted is the newest roster of the chain, --roster: give the newest you hold.\n"
    "An older roster, in which a key revoked since is still active, is your choice to make.\n"
    "\n"
    MSGCLI_VERIFY_ROSTER_HELP
    "  --org ORG          this follower's org_id\n"
    "  --fleet FLEET      this follower's fleet_id\n"
    "  --env ENV          this follower's environment\n"
    "  --instance ID      this follower's instance id\n"
    "  --label K=V        one of this follower's labels (repeatable)\n"
    "  --current BUNDLE   the active bundle (verified too, except its validity window)\n"
    "  --floor N          the highest bundle version this follower ever applied (0 .. 2^53-1;\n"
    "                     default 0, or the --current bundle's version when higher)\n"
    "  --rollback AUTH    rollback authorization, needed to accept a lower version\n"
    "  --at TIME          evaluate validity at TIME instead of now (YYYY-MM-DDTHH:MM:SSZ)\n"
    "  --write-policy FILE  once everything is accepted, write the bundle's policy document\n"
    "                     (the exact signed bytes) to FILE, for hosts managed by files; nothing\n"
    "                     is written on a rejection\n"
    "  --force            replace FILE when it exists (default: refuse, exit 1)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 accepted or no-op, 1 operational error, 2 usage error, 3 rejected.\n";

static const char usage_inspect[] =
    "usage: warden bundle inspect [--json] BUNDLE\n"
    "\n"
    "Decode BUNDLE and show its fields. Signatures are NOT verified: what is shown is what the\n"
    "file claims. Use 'warden bundle verify' to decide whether to trust it. The payload must\n"
    "still parse strictly; a file that does not is rejected with its code.\n"
    "\n"
    "  --json       print one JSON object instead of text\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit codes: 0 shown, 1 operational error, 2 usage error, 3 rejected.\n";

/* ---- shared helpers ---- */

static wd_code verify_bundle(const unsigned char *buf, size_t len, const msgcli_verify *o,
                             unsigned flags, void **out, wd_err *e)
{
    wd_bundle *b = NULL;
    wd_code c = wd_bundle_verify(buf, len, o->r, &o->f, o->now, flags, &b, e);
    *out = b;
    return c;
}

static const char *audience_text(const wd_audience *a, char *out, size_t outsz)
{
    size_t used = 0;
    out[0] = '\0';
    char piece[WD_MAX_LABEL_VALUE + WD_MAX_ID_LEN + 8];
    switch (a->kind) {
    case WD_AUDIENCE_ALL:
        snprintf(out, outsz, "all instances (*)");
        return out;
    case WD_AUDIENCE_IDS:
        used = (size_t)snprintf(out, outsz, "instance_ids");
        for (size_t i = 0; i < a->nids && used < outsz; i++) {
            snprintf(piece, sizeof piece, "%s%s", i ? ", " : " ", a->ids[i]);
            used += (size_t)snprintf(out + used, outsz - used, "%s", piece);
        }
        break;
    case WD_AUDIENCE_LABELS:
        used = (size_t)snprintf(out, outsz, "labels");
        for (size_t i = 0; i < a->nlabels && used < outsz; i++) {
            snprintf(piece, sizeof piece, "%s%s=%s", i ? ", " : " ", a->labels[i].key,
                     a->labels[i].value);
            used += (size_t)snprintf(out + used, outsz - used, "%s", piece);
        }
        break;
    }
    char *clean = strdup(out);
    if (clean != NULL) {
        wd_clean_text(clean, out, outsz);
        free(clean);
    }
    return out;
}

/* ---- create ---- */

static int do_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        MSGCLI_CREATE_OPTS,
        {"version", required_argument, NULL, 'v'},
        {"previous", required_argument, NULL, 'P'},
        {"previous-hash", required_argument, NULL, 'H'},
        {"id", required_argument, NULL, 'I'},
        {"not-before", required_argument, NULL, 'n'},
        {"min-version", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msgcli_create o;
    memset(&o, 0, sizeof o);
    o.expires_in = "720h";
    const char *policy = NULL, *version = NULL, *previous = NULL, *previous_hash = NULL;
    const char *id = NULL, *not_before = NULL, *min_version = "0.1.0";
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
        case 'p': policy = optarg; break;
        case 'v': version = optarg; break;
        case 'P': previous = optarg; break;
        case 'H': previous_hash = optarg; break;
        case 'I': id = optarg; break;
        case 'n': not_before = optarg; break;
        case 'm': min_version = optarg; break;
        case 'h': return cli_help(usage_create);
        default: return msgcli_bad_option(usage_create, argv);
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_create, "unexpected argument: %s", argv[optind]);
    int miss = msgcli_require(usage_create, "--policy", policy, "--org", o.org, "--fleet", o.fleet,
                              "--env", o.env, "--version", version, "--out", o.out,
                              (const char *)NULL);
    if (miss >= 0)
        return miss;
    if (o.nsigns == 0 && !o.draft)
        return cli_usage_error(usage_create,
                               "at least one --sign KEY is required (or --draft, to write it "
                               "unsigned for others to sign)");
    if (previous && previous_hash)
        return cli_usage_error(usage_create, "give at most one of --previous and --previous-hash");
    int64_t ver;
    if (!msgcli_parse_int(version, 1, WD_MAX_SAFE_INTEGER, &ver))
        return cli_usage_error(usage_create, "--version: '%s' is not an integer in 1 .. %lld",
                               version, (long long)WD_MAX_SAFE_INTEGER);
    int64_t ttl, now = wd_now(), nb = now;
    wd_err e;
    wd_err_clear(&e);
    if (wd_duration_parse(o.expires_in, &ttl, &e) != WD_OK)
        return cli_usage_error(usage_create, "--expires-in: %s", e.msg);
    if (not_before && wd_time_parse(not_before, &nb, &e) != WD_OK)
        return cli_usage_error(usage_create, "--not-before: %s", e.msg);
    int64_t until = 0;
    if (!msgcli_time_after(nb, ttl, &until))
        return cli_usage_error(usage_create, "--expires-in: %s after not_before is past %s",
                               o.expires_in, MSGCLI_LATEST_TIME);
    wd_bundle spec;
    memset(&spec, 0, sizeof spec);
    if (!wd_semver_parse(min_version, spec.min_warden_version))
        return cli_usage_error(usage_create, "--min-version: '%s' is not MAJOR.MINOR.PATCH",
                               min_version);
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

    unsigned char *yaml = NULL;
    size_t yaml_len = 0;
    char *envelope = NULL;
    size_t env_len = 0;
    wd_key *keys[WD_MAX_SIGNATURES] = {0};
    bool keys_loaded = false;
    char idbuf[64];

    wd_code c = wd_read_file(policy, WD_MAX_POLICY_BYTES, &yaml, &yaml_len, &e);
    if (c != WD_OK) {
        wd_msg_prefix(c, &e, "--policy");
        goto report;
    }
    if (previous) {
        wd_bundle *pb = NULL;
        c = msgcli_read_bundle("--previous", previous, &pb, &e);
        if (c != WD_OK)
            goto report;
        if (pb->version >= ver) {
            rc = cli_usage_error(usage_create,
                                 "--previous is version %lld, not lower than --version %lld",
                                 (long long)pb->version, (long long)ver);
            wd_bundle_free(pb);
            goto done;
        }
        memcpy(spec.previous_bundle_hash, pb->hash, sizeof spec.previous_bundle_hash);
        wd_bundle_free(pb);
    } else if (previous_hash) {
        snprintf(spec.previous_bundle_hash, sizeof spec.previous_bundle_hash, "%s", previous_hash);
        if (strlen(previous_hash) >= sizeof spec.previous_bundle_hash) {
            c = wd_err_set(&e, WD_E_MALFORMED,
                           "bundle: previous_bundle_hash is not a digest (sha256: + 64 hex)");
            goto report;
        }
    }
    if (id == NULL) {
        snprintf(idbuf, sizeof idbuf, "b-%lld", (long long)ver);
        id = idbuf;
    }
    spec.bundle_id = (char *)id;
    msgcli_scope(&o, &spec.scope);
    spec.version = ver;
    spec.not_before = nb;
    spec.created_at = nb < now ? nb : now;
    spec.expires_at = until;
    spec.policy_yaml = (char *)yaml;
    spec.policy_len = yaml_len;
    c = wd_digest_of(yaml, yaml_len, spec.policy_sha256, &e);
    if (c != WD_OK)
        goto report;
    c = msgcli_load_keys("--sign", o.signs, o.nsigns, keys, &e);
    if (c != WD_OK)
        goto report;
    keys_loaded = true;
    c = signflow_signers_count(r, WD_PURPOSE_BUNDLE_SIGNING, keys, o.nsigns, o.signs, now, &e);
    if (c != WD_OK)
        goto report;
    c = wd_bundle_build(&spec, keys, o.nsigns, now, &envelope, &env_len, &e);
    if (c != WD_OK)
        goto report;
    c = msgcli_write_out(o.out, envelope, env_len, o.force, &e);
    if (c != WD_OK)
        goto report;
    char hash[WD_DIGEST_STRLEN + 1];
    {
        wd_dsse d;
        c = wd_dsse_decode_draft((const unsigned char *)envelope, env_len,
                                 WD_MAX_BUNDLE_ENVELOPE, &d, &e);
        if (c != WD_OK)
            goto report;
        c = wd_dsse_message_hash(&d, hash, &e);
        wd_dsse_free(&d);
        if (c != WD_OK)
            goto report;
    }
    printf("bundle %s version %lld %s written to %s\n", id, (long long)ver, hash, o.out);
    if (o.draft || r != NULL)
        signflow_print_written(envelope, env_len, r);
    goto done;
report:
    rc = cli_report(&e);
done:
    if (keys_loaded)
        msgcli_free_keys(keys, o.nsigns);
    spec.policy_yaml = NULL;
    wd_roster_free(r);
    wd_audience_free(&spec.audience);
    free(yaml);
    free(envelope);
    return rc;
}

/* ---- verify ---- */

static int do_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        MSGCLI_VERIFY_OPTS,
        {"current", required_argument, NULL, 'c'},
        {"floor", required_argument, NULL, 'F'},
        {"rollback", required_argument, NULL, 'R'},
        {"write-policy", required_argument, NULL, 'W'},
        {"force", no_argument, NULL, 'X'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msgcli_verify o;
    memset(&o, 0, sizeof o);
    const char *current = NULL, *rollback = NULL, *floor_arg = NULL, *write_policy = NULL;
    bool force = false;
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
        case 'F': floor_arg = optarg; break;
        case 'R': rollback = optarg; break;
        case 'W': write_policy = optarg; break;
        case 'X': force = true; break;
        case 'h': return cli_help(usage_verify);
        default: return msgcli_bad_option(usage_verify, argv);
        }
    }
    if (force && write_policy == NULL)
        return cli_usage_error(usage_verify, "--force goes with --write-policy");
    int64_t floor = 0;
    if (floor_arg != NULL && !msgcli_parse_int(floor_arg, 0, WD_MAX_SAFE_INTEGER, &floor))
        return cli_usage_error(usage_verify, "--floor: '%s' is not an integer in 0 .. %lld",
                               floor_arg, (long long)WD_MAX_SAFE_INTEGER);
    wd_err e;
    int rc = msgcli_verify_start(&o, argc, "BUNDLE", usage_verify, &e);
    if (rc != 0)
        return rc;
    const char *path = argv[optind];
    unsigned char *auth = NULL;
    size_t auth_len = 0;
    void *m = NULL, *cm = NULL;
    wd_code c = msgcli_verify_file(NULL, path, WD_MAX_BUNDLE_ENVELOPE, verify_bundle, &o, 0, &m,
                                   &e);
    wd_bundle *b = m, *cur = NULL;
    if (c == WD_OK && current) {
        c = msgcli_verify_file("--current", current, WD_MAX_BUNDLE_ENVELOPE, verify_bundle, &o,
                               WD_MSG_ACTIVE, &cm, &e);
        cur = cm;
    }
    if (c == WD_OK && rollback) {
        c = wd_read_file(rollback, WD_MAX_ROLLBACK_ENVELOPE, &auth, &auth_len, &e);
        wd_msg_prefix(c, &e, "--rollback %s", rollback);
    }
    wd_bundle_step step = WD_BUNDLE_FIRST;
    char note[WD_ERR_MSG_MAX];
    note[0] = '\0';
    int64_t next_floor = 0;
    if (c == WD_OK)
        c = wd_bundle_transition(cur, floor, b, rollback ? auth : NULL, auth_len, o.r, &o.f,
                                 o.now, &step, &next_floor, note, sizeof note, &e);
    if (c == WD_OK && write_policy != NULL) {
        c = msgcli_write_out(write_policy, b->policy_yaml, b->policy_len, force, &e);
        wd_msg_prefix(c, &e, "--write-policy");
    }
    if (c == WD_OK) {
        char nb[WD_TIME_STRLEN + 1], ex[WD_TIME_STRLEN + 1], aud[512];
        wd_time_format(b->not_before, nb);
        wd_time_format(b->expires_at, ex);
        printf("verified: bundle %s version %lld %s for %s/%s/%s, %s, valid %s to %s\n",
               b->bundle_id, (long long)b->version, b->hash, b->scope.org_id,
               b->scope.fleet_id, b->scope.environment,
               audience_text(&b->audience, aud, sizeof aud), nb, ex);
        char clean[WD_ERR_MSG_MAX];
        printf("outcome: %s (%s)\n", wd_bundle_step_name(step),
               wd_clean_text(note, clean, sizeof clean));
        if (rollback && step != WD_BUNDLE_ROLLBACK)
            printf("note: --rollback was not needed: this is not a rollback\n");
        printf("floor: %lld\n", (long long)next_floor);
        if (write_policy != NULL) {
            char wp[WD_ERR_MSG_MAX];
            printf("policy written to %s (%zu bytes, %s)\n",
                   wd_clean_text(write_policy, wp, sizeof wp), b->policy_len,
                   b->policy_sha256);
        }
        msgcli_print_roster(o.r, o.nprevious);
        rc = 0;
    } else {
        rc = cli_report(&e);
    }
    wd_bundle_free(b);
    wd_bundle_free(cur);
    msgcli_verify_end(&o);
    free(auth);
    return rc;
}

/* ---- inspect ---- */

static void print_field(const char *name, const char *value)
{
    char clean[512];
    printf("%-21s %s\n", name, wd_clean_text(value, clean, sizeof clean));
}

static int do_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool as_json = false;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': as_json = true; break;
        case 'h': return cli_help(usage_inspect);
        default: return msgcli_bad_option(usage_inspect, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(usage_inspect, "give exactly one BUNDLE");
    wd_err e;
    wd_err_clear(&e);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_dsse d;
    memset(&d, 0, sizeof d);
    wd_bundle *b = NULL;
    json_t *payload = NULL;
    int rc = 0;
    wd_code c = wd_read_file(argv[optind], WD_MAX_BUNDLE_ENVELOPE, &buf, &len, &e);
    if (c == WD_OK)
        c = wd_msg_decode_unverified(buf, len, WD_MAX_BUNDLE_ENVELOPE, WD_BUNDLE_PAYLOAD_TYPE,
                                     &d, &e);
    if (c == WD_OK)
        c = wd_bundle_parse(d.payload, d.payload_len, &b, &e);
    if (c == WD_OK)
        c = wd_json_parse(d.payload, d.payload_len, WD_MAX_BUNDLE_ENVELOPE, &payload, &e);
    if (c != WD_OK) {
        rc = cli_report(&e);
        goto done;
    }
    if (as_json) {
        json_t *o = json_object();
        json_t *kids = json_array();
        bool ok = o != NULL && kids != NULL;
        for (size_t i = 0; ok && i < d.nsigs; i++)
            ok = json_array_append_new(kids, json_string(d.sigs[i].keyid)) == 0;
        ok = ok && wd_msg_put(o, "signatures_verified", json_false()) &&
             wd_msg_put(o, "payload_type", json_string(d.payload_type)) &&
             wd_msg_put(o, "hash", json_string(b->hash)) &&
             wd_msg_put(o, "signature_keyids", json_incref(kids)) &&
             wd_msg_put(o, "payload", json_incref(payload));
        char *s = ok ? json_dumps(o, JSON_INDENT(2)) : NULL;
        json_decref(kids);
        json_decref(o);
        if (s == NULL) {
            wd_err_set(&e, WD_E_NOMEM, "inspect: out of memory");
            rc = cli_report(&e);
            goto done;
        }
        printf("%s\n", s);
        free(s);
        goto done;
    }
    char t[WD_TIME_STRLEN + 1], num[32], aud[1024];
    printf("signatures NOT verified: this shows what the file claims; "
           "use 'warden bundle verify' to trust it\n");
    print_field("payload_type:", d.payload_type);
    print_field("hash:", b->hash);
    snprintf(num, sizeof num, "%zu", d.nsigs);
    print_field("signatures:", num);
    for (size_t i = 0; i < d.nsigs; i++)
        print_field("  keyid:", d.sigs[i].keyid);
    print_field("bundle_id:", b->bundle_id);
    print_field("org_id:", b->scope.org_id);
    print_field("fleet_id:", b->scope.fleet_id);
    print_field("environment:", b->scope.environment);
    print_field("audience:", audience_text(&b->audience, aud, sizeof aud));
    snprintf(num, sizeof num, "%lld", (long long)b->version);
    print_field("version:", num);
    print_field("previous_bundle_hash:",
                b->previous_bundle_hash[0] ? b->previous_bundle_hash : "\"\" (first bundle)");
    wd_time_format(b->created_at, t);
    print_field("created_at:", t);
    wd_time_format(b->not_before, t);
    print_field("not_before:", t);
    wd_time_format(b->expires_at, t);
    print_field("expires_at:", t);
    snprintf(num, sizeof num, "%u.%u.%u", b->min_warden_version[0], b->min_warden_version[1],
             b->min_warden_version[2]);
    print_field("min_warden_version:", num);
    print_field("policy_sha256:", b->policy_sha256);
    snprintf(num, sizeof num, "%zu bytes", b->policy_len);
    print_field("policy_yaml:", num);
done:
    json_decref(payload);
    wd_bundle_free(b);
    wd_dsse_free(&d);
    free(buf);
    return rc;
}

int cmd_bundle(int argc, char **argv)
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
    if (strcmp(sub, "inspect") == 0)
        return do_inspect(argc - 1, argv + 1);
    return cli_usage_error(usage_group, "unknown command: bundle %.64s", sub);
}
