/* cmd_agent.c — `warden agent apply|status`, and the hand-off to the follower daemon
 * (`warden agent --config FILE`, daemon.h) for anything that is not a known subcommand.
 * apply takes signed files offline through the same verify -> transition -> durable apply path
 * the daemon uses (state.h); it must never write to the state directory when a file is
 * rejected, and never apply anything the library did not verify. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "base/base.h"
#include "daemon.h"
#include "msg/dsse.h"
#include "msg/message.h"
#include "msg/rollback.h"
#include "state.h"

#define DEFAULT_STATE_DIR "/var/lib/warden"
/* Most files and labels on one command line. */
#define MAX_FILES 256
#define MAX_LABELS 64

static const char usage_group[] =
    "usage: warden agent <command> [args]\n"
    "       warden agent --config FILE        run the follower daemon\n"
    "\n"
    "The follower keeps this host's policy current in its state directory: it verifies every\n"
    "signed file against the trust roster it holds (reached from the pinned root\n"
    "fingerprint), applies it atomically, and fails closed. See docs/AGENT.md.\n"
    "\n"
    "commands:\n"
    "  apply    verify and apply signed rosters, bundles and kills to a state directory\n"
    "  verify   re-verify a state directory against the pin and print its policy state\n"
    "  status   print the state directory's status\n"
    "\n"
    "Run 'warden agent <command> --help' for a command's flags.\n";

static const char usage_apply[] =
    "usage: warden agent apply --state-dir DIR --pin D --org O --fleet F --env E --instance I\n"
    "                          [--label K=V...] [--rollback AUTH] [--no-honor-kill]\n"
    "                          [--stale-grace DUR] [--stale-then deny-all|keep-last-known-good]\n"
    "                          [--at T] FILE...\n"
    "\n"
    "Apply signed files to the follower state directory DIR without a leader (offline and\n"
    "air-gapped hosts), through the same path the agent daemon uses: verify against the held\n"
    "trust roster (or the pin when none is held), the transition rule with the bundle floor,\n"
    "then a crash-safe write and switch. Each FILE is a roster, a policy bundle or a remote kill\n"
    "envelope (recognised by its payloadType). Rosters are applied first, oldest first (a chain\n"
    "of rotations), then bundles and kills in the order given. The first rejection stops: it\n"
    "prints 'rejected (<code>): <detail>', exits 3, and leaves DIR exactly as it was before\n"
    "that file (files applied before it stay applied). Each applied file prints one line.\n"
    "\n"
    "  --state-dir DIR    the state directory (created 0700 if absent)\n"
    "  --pin D            root key fingerprint (sha256:...) the roster chain starts from\n"
    "  --org O            this follower's organisation\n"
    "  --fleet F          this follower's fleet\n"
    "  --env E            this follower's environment\n"
    "  --instance I       this follower's instance id\n"
    "  --label K=V        this follower's label (repeatable; at most 64)\n"
    "  --rollback AUTH    a signed rollback authorization, for a bundle older than the active\n"
    "                     one\n"
    "  --no-honor-kill    verify kills and record them as seen, but never apply them\n"
    "  --stale-grace DUR  how long an expired active bundle still enforces (default 1h)\n"
    "  --stale-then WHAT  after the grace: deny-all (default) or keep-last-known-good\n"
    "  --at T             act as if the time were T (RFC 3339 UTC; tests and forensics)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 applied (or nothing to do), 1 operational error, 2 usage error, 3 rejected.\n";

static const char usage_verify[] =
    "usage: warden agent verify --state-dir DIR --pin D --org O --fleet F --env E --instance I\n"
    "                           [--label K=V...] [--no-honor-kill] [--stale-grace DUR]\n"
    "                           [--stale-then deny-all|keep-last-known-good] [--at T]\n"
    "\n"
    "Open the state directory as the agent does at start: remove what an interrupted apply\n"
    "left, re-verify the roster chain from the pin, the active bundle (its signatures, scope,\n"
    "audience, and policy.yaml against it) and the applied kill, and print the roster\n"
    "version, the active bundle, the floor, the kill and the policy state. Anything that\n"
    "fails to verify puts the directory in deny-all (recorded for 'warden run --state-dir'\n"
    "and 'warden agent status'), prints 'rejected (<code>): <why>' and exits 3.\n"
    "\n"
    "  --state-dir DIR    the state directory\n"
    "  --pin D            root key fingerprint (sha256:...) the roster chain starts from\n"
    "  --org O            this follower's organisation\n"
    "  --fleet F          this follower's fleet\n"
    "  --env E            this follower's environment\n"
    "  --instance I       this follower's instance id\n"
    "  --label K=V        this follower's label (repeatable; at most 64)\n"
    "  --no-honor-kill    as for apply\n"
    "  --stale-grace DUR  how long an expired active bundle still enforces (default 1h)\n"
    "  --stale-then WHAT  after the grace: deny-all (default) or keep-last-known-good\n"
    "  --at T             act as if the time were T (RFC 3339 UTC)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 verified, 1 operational error, 2 usage error, 3 deny-all.\n";

static const char usage_status[] =
    "usage: warden agent status [--state-dir DIR] [--json]\n"
    "\n"
    "Print the follower's status from its state directory: instance, labels, warden version,\n"
    "started_at, policy state (none, enforcing, stale, deny-all or killed), the active bundle,\n"
    "the last kill (counter, state, and whether it was honored), the last error and the flight\n"
    "recorder key. The policy state is computed now from the files that 'warden run\n"
    "--state-dir' enforces; the rest is what the agent last recorded.\n"
    "\n"
    "  --state-dir DIR    the state directory (default /var/lib/warden)\n"
    "  --json             print the status as one JSON object\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: 0 ok, 1 no status recorded or unreadable, 2 usage error.\n";

typedef struct apply_file {
    const char *path;
    unsigned char *buf;
    size_t len;
    int kind; /* 0 roster, 1 bundle, 2 kill */
} apply_file;

static int load_file(apply_file *f, wd_err *e)
{
    if (wd_read_file(f->path, WD_MAX_BUNDLE_ENVELOPE, &f->buf, &f->len, e) != WD_OK)
        return -1;
    wd_dsse d;
    if (wd_dsse_decode(f->buf, f->len, WD_MAX_BUNDLE_ENVELOPE, &d, e) != WD_OK)
        return -1;
    int rc = 0;
    if (strcmp(d.payload_type, WD_ROSTER_PAYLOAD_TYPE) == 0)
        f->kind = 0;
    else if (strcmp(d.payload_type, WD_BUNDLE_PAYLOAD_TYPE) == 0)
        f->kind = 1;
    else if (strcmp(d.payload_type, WD_KILL_PAYLOAD_TYPE) == 0)
        f->kind = 2;
    else if (strcmp(d.payload_type, WD_ROLLBACK_PAYLOAD_TYPE) == 0)
        rc = wd_err_set(e, WD_E_WRONG_TYPE,
                        "a rollback authorization goes with --rollback, not as a FILE") ? -1 : 0;
    else
        rc = wd_err_set(e, WD_E_WRONG_TYPE, "not a roster, bundle or kill envelope") ? -1 : 0;
    wd_dsse_free(&d);
    return rc;
}

/* Print what a verified open found. Returns the exit code: 3 when the state is deny-all. */
static int print_verified(const wd_agent_state *s, int64_t now)
{
    const wd_roster *r = wd_agent_state_roster(s);
    const wd_bundle *b = wd_agent_state_bundle(s);
    const wd_kill *k = wd_agent_state_kill(s);
    if (r != NULL)
        printf("roster: version %lld %s\n", (long long)r->version, r->hash);
    else
        printf("roster: none\n");
    if (b != NULL)
        printf("active bundle: version %lld %s\n", (long long)b->version, b->hash);
    else
        printf("active bundle: none\n");
    printf("floor: %lld\n", (long long)wd_agent_state_floor(s));
    if (k != NULL)
        printf("kill: counter %lld, %s\n", (long long)k->counter,
               k->active ? "active" : "inactive");
    else
        printf("kill: none\n");
    wd_policy_state ps = wd_agent_state_policy_state(s, now);
    printf("policy state: %s\n", wd_policy_state_name(ps));
    const char *why = NULL;
    wd_code fc = wd_agent_state_failure(s, &why);
    if (fc != WD_OK) {
        wd_err e;
        wd_err_set(&e, fc, "state directory: %s", why);
        return cli_report(&e);
    }
    return 0;
}

static int do_apply(int argc, char **argv, bool verify_only)
{
    const char *usage = verify_only ? usage_verify : usage_apply;
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 'd'},
        {"pin", required_argument, NULL, 'p'},
        {"org", required_argument, NULL, 'o'},
        {"fleet", required_argument, NULL, 'f'},
        {"env", required_argument, NULL, 'e'},
        {"instance", required_argument, NULL, 'i'},
        {"label", required_argument, NULL, 'l'},
        {"rollback", required_argument, NULL, 'r'},
        {"no-honor-kill", no_argument, NULL, 'N'},
        {"stale-grace", required_argument, NULL, 'g'},
        {"stale-then", required_argument, NULL, 't'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *pin = NULL, *org = NULL, *fleet = NULL, *env = NULL,
               *inst = NULL, *rollback = NULL, *grace_s = NULL, *then_s = NULL, *at = NULL;
    char *labels[MAX_LABELS];
    size_t nlabels = 0;
    bool honor = true;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': return cli_help(usage);
        case 'd': dir = optarg; break;
        case 'p': pin = optarg; break;
        case 'o': org = optarg; break;
        case 'f': fleet = optarg; break;
        case 'e': env = optarg; break;
        case 'i': inst = optarg; break;
        case 'r':
            if (rollback != NULL)
                return cli_usage_error(usage, "--rollback given twice");
            rollback = optarg;
            break;
        case 'N': honor = false; break;
        case 'g': grace_s = optarg; break;
        case 't': then_s = optarg; break;
        case 'a': at = optarg; break;
        case 'l':
            if (nlabels == MAX_LABELS)
                return cli_usage_error(usage, "more than %d --label flags", MAX_LABELS);
            labels[nlabels++] = optarg;
            break;
        default:
            return cli_usage_error(usage, "unknown option or missing value: %s",
                                   argv[optind - 1]);
        }
    }
    if (!dir || !pin || !org || !fleet || !env || !inst)
        return cli_usage_error(usage, "--state-dir, --pin, --org, --fleet, --env and "
                                            "--instance are required");
    int nfiles = argc - optind;
    if (verify_only && nfiles != 0)
        return cli_usage_error(usage, "verify takes no FILE");
    if (!verify_only && nfiles < 1)
        return cli_usage_error(usage, "give at least one FILE");
    if (nfiles > MAX_FILES)
        return cli_usage_error(usage, "more than %d files", MAX_FILES);
    wd_err e;
    wd_err_clear(&e);
    int64_t now = wd_now(), grace = 3600;
    wd_stale_then then = WD_STALE_DENY_ALL;
    if (at && wd_time_parse(at, &now, &e) != WD_OK)
        return cli_usage_error(usage, "--at: %s", e.msg);
    if (grace_s && strcmp(grace_s, "0") != 0 && wd_duration_parse(grace_s, &grace, &e) != WD_OK)
        return cli_usage_error(usage, "--stale-grace: %s", e.msg);
    if (grace_s && strcmp(grace_s, "0") == 0)
        grace = 0;
    if (then_s && !wd_stale_then_parse(then_s, &then))
        return cli_usage_error(usage,
                               "--stale-then wants deny-all or keep-last-known-good");
    wd_label *fl = NULL;
    if (wd_labels_from_text(labels, nlabels, &fl, &e) != WD_OK)
        return e.code == WD_E_USAGE ? cli_usage_error(usage, "--label: %s", e.msg)
                                    : cli_report(&e);

    int status = 0;
    apply_file *files = calloc((size_t)nfiles + 1, sizeof *files);
    unsigned char *auth = NULL;
    size_t auth_len = 0;
    wd_agent_state *s = NULL;
    wd_agent_blob *chain = NULL;
    if (files == NULL) {
        fprintf(stderr, "warden: out of memory\n");
        status = 1;
        goto out;
    }
    for (int i = 0; i < nfiles; i++) {
        files[i].path = argv[optind + i];
        if (load_file(&files[i], &e) != 0) {
            if (e.code != WD_E_IO && e.code != WD_E_OVERSIZED)
                wd_msg_prefix(e.code, &e, "%s", files[i].path);
            status = cli_report(&e);
            goto out;
        }
    }
    if (rollback && wd_read_file(rollback, WD_MAX_ROLLBACK_ENVELOPE, &auth, &auth_len, &e) !=
                        WD_OK) {
        wd_msg_prefix(e.code, &e, "--rollback");
        status = cli_report(&e);
        goto out;
    }
    wd_agent_config cfg = {
        .state_dir = dir,
        .pin = pin,
        .follower = {org, fleet, env, inst, fl, nlabels},
        .honor_kill = honor,
        .stale_grace = grace,
        .stale_then = then,
    };
    if (wd_agent_state_open(&cfg, now, &s, &e) != WD_OK) {
        status = e.code == WD_E_USAGE ? cli_usage_error(usage, "%s", e.msg)
                                      : cli_report(&e);
        goto out;
    }
    if (verify_only) {
        status = print_verified(s, now);
        goto out;
    }
    bool changed = false;
    /* rosters first, as a chain */
    size_t nchain = 0;
    chain = calloc((size_t)nfiles + 1, sizeof *chain);
    if (chain == NULL) {
        fprintf(stderr, "warden: out of memory\n");
        status = 1;
        goto out;
    }
    for (int i = 0; i < nfiles; i++)
        if (files[i].kind == 0)
            chain[nchain++] = (wd_agent_blob){files[i].buf, files[i].len};
    if (nchain > 0) {
        int64_t before = wd_agent_state_roster(s) ? wd_agent_state_roster(s)->version : 0;
        size_t applied = 0;
        wd_code c = wd_agent_apply_roster_chain(s, chain, nchain, now, &applied, &e);
        const wd_roster *r = wd_agent_state_roster(s);
        if (applied > 0) {
            changed = true;
            printf("roster: version %lld -> %lld (%zu applied)\n", (long long)before,
                   (long long)(r ? r->version : 0), applied);
        } else if (c == WD_OK) {
            printf("roster: version %lld held, nothing newer\n", (long long)before);
        }
        if (c != WD_OK) {
            status = cli_report(&e);
            goto status_out;
        }
    }
    for (int i = 0; i < nfiles; i++) {
        if (files[i].kind == 0)
            continue;
        wd_apply_result res;
        wd_code c = files[i].kind == 1
                        ? wd_agent_apply_bundle(s, files[i].buf, files[i].len, auth, auth_len,
                                                now, &res, &e)
                        : wd_agent_apply_kill(s, files[i].buf, files[i].len, now, &res, &e);
        char shown[200];
        wd_clean_text(files[i].path, shown, sizeof shown);
        if (c != WD_OK) {
            status = cli_report(&e);
            goto status_out;
        }
        changed = changed || res.changed;
        const char *what = files[i].kind == 1 ? wd_bundle_step_name((wd_bundle_step)res.step)
                           : honor           ? wd_kill_step_name((wd_kill_step)res.step)
                           : res.changed     ? "verified, not applied"
                                             : wd_kill_step_name((wd_kill_step)res.step);
        printf("%s: %s: %s\n", shown, what, res.note);
    }
status_out:
    if (changed) {
        wd_err se;
        wd_err_clear(&se);
        if (wd_agent_state_write_status(s, now, NULL, &se) != WD_OK && status == 0)
            status = cli_report(&se);
    }
    if (status == 0)
        printf("policy state: %s\n",
               wd_policy_state_name(wd_agent_state_policy_state(s, now)));
out:
    wd_agent_state_free(s);
    free(chain);
    for (int i = 0; files != NULL && i < nfiles; i++)
        free(files[i].buf);
    free(files);
    free(auth);
    wd_labels_free(fl, nlabels);
    return status;
}

static void print_human(const json_t *o)
{
    const char *inst = json_string_value(json_object_get(o, "instance_id"));
    printf("instance: %s\n", inst ? inst : "?");
    json_t *labels = json_object_get(o, "labels");
    const char *k;
    json_t *v;
    printf("labels:");
    if (json_object_size(labels) == 0)
        printf(" none");
    json_object_foreach(labels, k, v) printf(" %s=%s", k, json_string_value(v));
    printf("\n");
    const char *wv = json_string_value(json_object_get(o, "warden_version"));
    const char *sa = json_string_value(json_object_get(o, "started_at"));
    printf("warden version: %s\nstarted at: %s\n", wv ? wv : "?", sa ? sa : "?");
    const char *ps = json_string_value(json_object_get(o, "policy_state"));
    printf("policy state: %s\n", ps ? ps : "?");
    json_t *b = json_object_get(o, "active_bundle");
    if (json_is_object(b))
        printf("active bundle: version %lld %s\n",
               (long long)json_integer_value(json_object_get(b, "version")),
               json_string_value(json_object_get(b, "hash")));
    else
        printf("active bundle: none\n");
    json_t *kl = json_object_get(o, "kill");
    if (json_is_object(kl))
        printf("kill: counter %lld, %s, %s\n",
               (long long)json_integer_value(json_object_get(kl, "counter")),
               json_string_value(json_object_get(kl, "state")),
               json_is_true(json_object_get(kl, "honored")) ? "honored" : "not honored");
    else
        printf("kill: none\n");
    json_t *le = json_object_get(o, "last_error");
    if (json_is_object(le))
        printf("last error: %s: %s (at %s)\n",
               json_string_value(json_object_get(le, "code")),
               json_string_value(json_object_get(le, "message")),
               json_string_value(json_object_get(le, "at")));
    else
        printf("last error: none\n");
    const char *rk = json_string_value(json_object_get(o, "recorder_key"));
    printf("recorder key: %s\n", rk ? rk : "none");
}

static int do_status(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = DEFAULT_STATE_DIR;
    bool as_json = false;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': return cli_help(usage_status);
        case 'd': dir = optarg; break;
        case 'j': as_json = true; break;
        default:
            return cli_usage_error(usage_status, "unknown option or missing value: %s",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_status, "unexpected argument: %.64s", argv[optind]);
    wd_err e;
    wd_err_clear(&e);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/status.json", dir) >= (int)sizeof path)
        return cli_usage_error(usage_status, "--state-dir: path too long");
    unsigned char *buf = NULL;
    size_t len = 0;
    if (wd_read_file(path, 64 * 1024, &buf, &len, &e) != WD_OK) {
        wd_msg_prefix(e.code, &e, "no status recorded");
        return cli_report(&e);
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!json_is_object(o)) {
        json_decref(o);
        fprintf(stderr, "warden: %s: not a status the agent wrote\n", path);
        return 1;
    }
    /* the last error as recorded now (a re-open may have found a new one) */
    char lp[4096];
    if (snprintf(lp, sizeof lp, "%s/last_error.json", dir) < (int)sizeof lp &&
        wd_read_file(lp, 8192, &buf, &len, &e) == WD_OK) {
        json_t *le = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(le))
            json_object_set(o, "last_error", le);
        json_decref(le);
        free(buf);
    }
    /* the policy state now, as `warden run --state-dir` would enforce it */
    wd_agent_view v;
    if (wd_agent_view_load(dir, wd_now(), &v, &e) == WD_OK) {
        json_object_set_new(o, "policy_state", json_string(wd_policy_state_name(v.state)));
        wd_agent_view_clear(&v);
    }
    if (as_json) {
        char *txt = json_dumps(o, JSON_COMPACT);
        if (txt != NULL)
            printf("%s\n", txt);
        free(txt);
    } else {
        print_human(o);
    }
    json_decref(o);
    return 0;
}

int cmd_agent(int argc, char **argv)
{
    if (argc >= 2) {
        const char *sub = argv[1];
        if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
            return cli_help(usage_group);
        if (strcmp(sub, "apply") == 0)
            return do_apply(argc - 1, argv + 1, false);
        if (strcmp(sub, "verify") == 0)
            return do_apply(argc - 1, argv + 1, true);
        if (strcmp(sub, "status") == 0)
            return do_status(argc - 1, argv + 1);
    }
    /* not a subcommand (e.g. --config FILE): the daemon */
    return wd_agent_daemon_main(argc, argv);
}
