/* cmd_roster.c — `warden roster init|add-key|revoke|renew|verify` (SPEC §2, §9): build trust
 * rosters that their own verifier accepts (a first roster against its pin, each next one as a
 * rotation from the one it replaces), and verify a roster, or a chain of them, from a pinned
 * root.
 * It must never write --out after an error, and never report an unverified roster as valid. */
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
#include "msg/dsse.h"
#include "trust/roster.h"
#include "msg/message.h"
#include "codec/json.h"

/* Most --threshold and --purpose flags one command takes. */
#define MAX_MULTI 16
/* Default lifetime of a roster: one year. */
#define DEFAULT_EXPIRES_IN "8760h"
/* Default lifetime of a renewed roster: 30 days, renewed routinely. */
#define RENEW_EXPIRES_IN "720h"
/* The last second a time can express (SPEC §1.1: four-digit years). */
#define LATEST_TIME "9999-12-31T23:59:59Z"

/* --draft and --force, as every roster command that writes one shows them. */
#define ROSTER_DRAFT_HELP                                                                      \
    "  --draft                 write it even when its root signatures are short of a\n"      \
    "                          threshold (or absent), for the other root key holders to\n"   \
    "                          sign with 'warden sign'; prints what is still needed\n"       \
    "  --force                 replace --out when it exists (default: refuse, exit 1)\n"

static const char usage_group[] =
    "usage: warden roster <command> [flags]\n"
    "\n"
    "Trust rosters: who may sign what, anchored in a pinned root key.\n"
    "\n"
    "commands:\n"
    "  init      create and sign the first roster of an org (version 1)\n"
    "  add-key   the next roster version with one more key\n"
    "  revoke    the next roster version with one key revoked\n"
    "  renew     the next roster version with the same keys and a new expiry\n"
    "  verify    verify a roster from a pinned root key, optionally as a rotation\n"
    "  inspect   show a roster's keys, thresholds and signatures without verifying it\n"
    "\n"
    "Run 'warden roster <command> --help' for its flags.\n";

static const char usage_init[] =
    "usage: warden roster init --org ORG --root-key KEY [--root-key KEY...]\n"
    "         [--root-threshold N] [--threshold PURPOSE=N...] [--expires-in DUR] --out FILE\n"
    "         [--draft] [--force]\n"
    "\n"
    "Create version 1 of ORG's roster with the given root keys, signed by all of them, and\n"
    "print each root keyid: followers pin one of them. The roster is verified against that pin\n"
    "before anything is written. created_at and the root keys' valid_from are now.\n"
    "\n"
    "The expiry bounds how long a frozen or withheld roster can be served to a follower: past\n"
    "it, nothing is verified against that roster until a newer one arrives. Choose a lifetime\n"
    "your team can keep renewing ('warden roster renew', or --expires-in on add-key and\n"
    "revoke), for example 720h renewed every few weeks, rather than the longest one you can.\n"
    "\n"
    "  --org ORG               org_id (an id)\n"
    "  --root-key KEY          private key file of a root key (repeatable, at most 16); with\n"
    "                          --draft a public key file too: that key's holder signs later\n"
    "  --root-threshold N      root signatures a next roster needs (1..7, at most the number\n"
    "                          of root keys; default 1)\n"
    "  --threshold PURPOSE=N   signatures PURPOSE needs (1..7; repeatable). PURPOSE is one of\n"
    "                          policy-bundle-signing (default 1), policy-bundle-rollback (2),\n"
    "                          remote-kill-signing (2), audit-batch-signing (1)\n"
    "  --expires-in DUR        lifetime, a duration such as 720h or 90m (default 8760h)\n"
    "  --out FILE              where to write the roster envelope\n"
    ROSTER_DRAFT_HELP
    "  -h, --help              show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error (also: --out exists), 2 usage error,\n"
    "3 rejected.\n";

static const char usage_add_key[] =
    "usage: warden roster add-key ROSTER --key PUB --purpose PURPOSE [--purpose PURPOSE...]\n"
    "         [--valid-for DUR] [--principal TEXT] [--root-threshold N]\n"
    "         [--threshold PURPOSE=N...] [--expires-in DUR] --sign ROOTKEY [--sign ROOTKEY...]\n"
    "         --out FILE [--draft] [--force]\n"
    "\n"
    "Write the next version of ROSTER (version + 1) with one more key, active from now. A key\n"
    "whose purpose is roster-root becomes a root key (and carries no other purpose). A public\n"
    "key appears once in a roster: a key already in it, as a root key or not, active or\n"
    "revoked, is refused (usage error naming where it is). The new roster is verified as a\n"
    "rotation from ROSTER before anything is written: the --sign keys must meet ROSTER's root\n"
    "threshold and the new roster's root threshold.\n"
    "\n"
    "  ROSTER                  the current roster envelope (its root signatures are checked)\n"
    "  --key PUB               the key to add: a public (or private) key file\n"
    "  --purpose PURPOSE       roster-root, policy-bundle-signing, policy-bundle-rollback,\n"
    "                          remote-kill-signing or audit-batch-signing (repeatable, or\n"
    "                          comma-separated)\n"
    "  --valid-for DUR         the key's valid_until is now + DUR (default: no end)\n"
    "  --principal TEXT        who holds the key (free text, no control characters)\n"
    "  --root-threshold N      change root.threshold in the new roster (default: keep)\n"
    "  --threshold PURPOSE=N   change a purpose's threshold in the new roster (repeatable)\n"
    "  --expires-in DUR        lifetime of the new roster (default: keep ROSTER's expiry, or\n"
    "                          8760h from now when it has passed)\n"
    "  --sign ROOTKEY          private key file of a root key to sign with (repeatable,\n"
    "                          at most 16)\n"
    "  --out FILE              where to write the new roster envelope\n"
    ROSTER_DRAFT_HELP
    "  -h, --help              show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error (also: --out exists), 2 usage error,\n"
    "3 rejected.\n";

static const char usage_revoke[] =
    "usage: warden roster revoke ROSTER --keyid DIGEST [--root-threshold N]\n"
    "         [--threshold PURPOSE=N...] [--expires-in DUR] --sign ROOTKEY [--sign ROOTKEY...]\n"
    "         --out FILE [--draft] [--force]\n"
    "\n"
    "Write the next version of ROSTER (version + 1) with the key DIGEST marked revoked. The new\n"
    "roster is verified as a rotation from ROSTER before anything is written: the --sign keys\n"
    "must meet ROSTER's root threshold and the new roster's (a revoked root key no longer\n"
    "counts toward the latter).\n"
    "\n"
    "  ROSTER                  the current roster envelope (its root signatures are checked)\n"
    "  --keyid DIGEST          keyid of the key to revoke (sha256:<64 hex>)\n"
    "  --root-threshold N      change root.threshold in the new roster (default: keep)\n"
    "  --threshold PURPOSE=N   change a purpose's threshold in the new roster (repeatable)\n"
    "  --expires-in DUR        lifetime of the new roster (default: keep ROSTER's expiry, or\n"
    "                          8760h from now when it has passed)\n"
    "  --sign ROOTKEY          private key file of a root key to sign with (repeatable,\n"
    "                          at most 16)\n"
    "  --out FILE              where to write the new roster envelope\n"
    ROSTER_DRAFT_HELP
    "  -h, --help              show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error (also: --out exists), 2 usage error,\n"
    "3 rejected.\n";

static const char usage_renew[] =
    "usage: warden roster renew ROSTER [--expires-in DUR] [--root-threshold N]\n"
    "         [--threshold PURPOSE=N...] --sign ROOTKEY [--sign ROOTKEY...] --out FILE\n"
    "         [--draft] [--force]\n"
    "\n"
    "Write the next version of ROSTER (version + 1) with the same keys and a new expiry: the\n"
    "routine re-signing that keeps a short roster lifetime from lapsing. The new roster is\n"
    "verified as a rotation from ROSTER before anything is written: the --sign keys must meet\n"
    "ROSTER's root threshold and the new roster's.\n"
    "\n"
    "  ROSTER                  the current roster envelope (its root signatures are checked)\n"
    "  --expires-in DUR        lifetime of the new roster from now (default 720h)\n"
    "  --root-threshold N      change root.threshold in the new roster (default: keep)\n"
    "  --threshold PURPOSE=N   change a purpose's threshold in the new roster (repeatable)\n"
    "  --sign ROOTKEY          private key file of a root key to sign with (repeatable,\n"
    "                          at most 16)\n"
    "  --out FILE              where to write the new roster envelope\n"
    ROSTER_DRAFT_HELP
    "  -h, --help              show this help\n"
    "\n"
    "Exit codes: 0 written, 1 operational error (also: --out exists), 2 usage error,\n"
    "3 rejected.\n";

static const char usage_verify[] =
    "usage: warden roster verify --pin DIGEST [--previous ROSTER...] [--at TIME] ROSTER\n"
    "\n"
    "Verify ROSTER and print its org, version, expiry, its keys that count (active and in\n"
    "their validity window) and how many are revoked or expired, and the root signatures it\n"
    "counted. Without --previous, ROSTER is a first roster: DIGEST must be the keyid of one\n"
    "of its root keys and it must carry its root threshold of root signatures, the pinned\n"
    "key's among them. With --previous, each --previous roster is verified in\n"
    "order (the first against DIGEST, each next one as a rotation from the one before, their\n"
    "own expiry not checked), and ROSTER must be the rotation that follows the last: version\n"
    "exactly one more, same org, signed by a threshold of the old and of the new root keys.\n"
    "ROSTER itself must not be expired.\n"
    "\n"
    "  --pin DIGEST        root key fingerprint (keyid, sha256:<64 hex>) the chain starts from\n"
    "  --previous ROSTER   a roster already trusted, oldest first (repeatable, at most 64)\n"
    "                      (bundle, kill and rollback verify take the same chain)\n"
    "  --at TIME           evaluate validity at TIME instead of now (YYYY-MM-DDTHH:MM:SSZ)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit codes: 0 valid, 1 operational error, 2 usage error, 3 rejected.\n";

static const char usage_inspect[] =
    "usage: warden roster inspect [--json] ROSTER\n"
    "\n"
    "Show what ROSTER (a roster envelope, or a draft with no signature) says, WITHOUT\n"
    "verifying its signatures: org, version, times, thresholds, and every key, root keys\n"
    "first, with its keyid, purposes, status (active or revoked), state now (active,\n"
    "revoked, not yet valid or expired: a key counts only when active), validity window\n"
    "(valid_from to valid_until, or no end) and principal. Then the signatures it carries\n"
    "and how far they go toward its own root threshold. Use 'warden roster verify' to\n"
    "decide whether to trust it. The payload must still parse strictly.\n"
    "\n"
    "  --json       print one JSON object instead of text (\"signatures_verified\": false)\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit codes: 0 shown, 1 operational error, 2 usage error, 3 rejected (the file does not\n"
    "decode or parse: its code).\n";

/* now + a duration from a flag, as an expiry no later than LATEST_TIME; else usage. */
static wd_code expiry_from(const char *flag, const char *dur, int64_t now, int64_t *out,
                           wd_err *e)
{
    int64_t secs = 0, latest = 0;
    wd_code c = wd_duration_parse(dur, &secs, e);
    if (c != WD_OK)
        return wd_err_prefix(e, c, "%s", flag);
    if (wd_time_parse(LATEST_TIME, &latest, e) != WD_OK)
        return WD_E_INTERNAL;
    if (secs > latest - now)
        return wd_err_set(e, WD_E_USAGE, "%s: %s from now is past %s", flag, dur, LATEST_TIME);
    *out = now + secs;
    return WD_OK;
}

/* "PURPOSE=N" into r's threshold for that purpose; else usage. */
static wd_code apply_threshold(wd_roster *r, const char *spec, wd_err *e)
{
    char *buf = NULL;
    const char *k = NULL, *v = NULL;
    if (!cli_split_kv(spec, &buf, &k, &v)) {
        free(buf);
        return wd_err_set(e, WD_E_USAGE, "--threshold: '%s' is not PURPOSE=N", spec);
    }
    unsigned p = wd_purpose_parse(k);
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    wd_code c = WD_OK;
    if (p == 0 || p == WD_PURPOSE_ROSTER_ROOT)
        c = wd_err_set(e, WD_E_USAGE,
                       "--threshold: '%s' is not a purpose with a threshold (use "
                       "--root-threshold for roster-root)",
                       k);
    else if (*v == '\0' || *end != '\0' || errno != 0 || n < WD_MIN_THRESHOLD ||
             n > WD_MAX_THRESHOLD)
        c = wd_err_set(e, WD_E_USAGE, "--threshold %s: '%s' is not an integer in %d..%d", k, v,
                       WD_MIN_THRESHOLD, WD_MAX_THRESHOLD);
    else if (p == WD_PURPOSE_BUNDLE_SIGNING)
        r->threshold_bundle = (int)n;
    else if (p == WD_PURPOSE_BUNDLE_ROLLBACK)
        r->threshold_rollback = (int)n;
    else if (p == WD_PURPOSE_KILL_SIGNING)
        r->threshold_kill = (int)n;
    else
        r->threshold_audit = (int)n;
    free(buf);
    return c;
}

/* "--root-threshold N" into out; else usage. */
static wd_code parse_root_threshold(const char *s, int *out, wd_err *e)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || n < WD_MIN_THRESHOLD ||
        n > WD_MAX_THRESHOLD)
        return wd_err_set(e, WD_E_USAGE, "--root-threshold: '%s' is not an integer in %d..%d", s,
                          WD_MIN_THRESHOLD, WD_MAX_THRESHOLD);
    *out = (int)n;
    return WD_OK;
}

/* Read a roster envelope the operator holds (to build the next version from): decode it,
 * check its type and parse it, and check that it carries its own root threshold at now.
 * On success the caller frees *out. */
static wd_code read_current(const char *path, int64_t now, wd_roster **out, wd_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code c = wd_read_file(path, WD_MAX_ROSTER_ENVELOPE, &buf, &len, e);
    if (c != WD_OK)
        return c;
    wd_dsse env;
    memset(&env, 0, sizeof env);
    c = wd_dsse_decode(buf, len, WD_MAX_ROSTER_ENVELOPE, &env, e);
    free(buf);
    if (c != WD_OK)
        return wd_err_prefix(e, c, "%s", path);
    if (strcmp(env.payload_type, WD_ROSTER_PAYLOAD_TYPE) != 0) {
        char got[80];
        wd_clean_text(env.payload_type, got, sizeof got);
        wd_dsse_free(&env);
        return wd_err_set(e, WD_E_WRONG_TYPE, "%s: payloadType is '%s', expected '%s'", path,
                          got, WD_ROSTER_PAYLOAD_TYPE);
    }
    wd_roster *r = NULL;
    c = wd_roster_parse(env.payload, env.payload_len, &r, e);
    if (c == WD_OK)
        c = wd_roster_check_signatures(r, &env, WD_PURPOSE_ROSTER_ROOT, now, e);
    wd_dsse_free(&env);
    if (c != WD_OK) {
        wd_roster_free(r);
        return wd_err_prefix(e, c, "%s", path);
    }
    *out = r;
    return WD_OK;
}

/* Every --sign key must be a root key of prev (may be NULL) or next. */
static wd_code signers_are_roots(const wd_roster *prev, const wd_roster *next, wd_key **keys,
                                 size_t n, char *const *paths, wd_err *e)
{
    for (size_t i = 0; i < n; i++) {
        bool root = false;
        bool ok = false;
        if (prev != NULL && wd_roster_find(prev, wd_key_id(keys[i]), &root) != NULL && root)
            ok = true;
        if (!ok && wd_roster_find(next, wd_key_id(keys[i]), &root) != NULL && root)
            ok = true;
        if (!ok)
            return wd_err_set(e, WD_E_USAGE, "--sign %s: %s is not a root key of the roster",
                              paths[i], wd_key_id(keys[i]));
    }
    return WD_OK;
}

/* Sign next with keys, verify it (bootstrap against pin when prev is NULL, else as a rotation
 * from prev) at now, and only then write it to out (refusing an existing out unless force).
 * A draft is not verified (it may be short of its thresholds, or unsigned): it is written,
 * and its status printed against the root keys of next and prev. */
static wd_code sign_verify_write(const wd_roster *next, const wd_roster *prev, const char *pin,
                                 wd_key **keys, size_t nkeys, int64_t now, const char *out,
                                 bool draft, bool force, wd_err *e)
{
    char *env = NULL;
    size_t len = 0;
    wd_code c = wd_roster_sign(next, keys, nkeys, &env, &len, e);
    if (c != WD_OK)
        return c;
    if (!draft) {
        wd_roster *check = NULL;
        c = wd_roster_verify((const unsigned char *)env, len, pin, prev, now, &check, e);
        if (c == WD_E_THRESHOLD) {
            char msg[WD_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", e->msg);
            wd_err_set(e, c, "%s (--draft writes it for the other root key holders to sign)",
                       msg);
        }
        if (c != WD_OK)
            wd_err_prefix(e, c, "refusing to write a roster its verifier rejects");
        wd_roster_free(check);
    }
    if (c == WD_OK && len > WD_MAX_ROSTER_ENVELOPE)
        c = wd_err_set(e, WD_E_OVERSIZED, "roster envelope: %zu bytes, more than the limit of %u",
                       len, WD_MAX_ROSTER_ENVELOPE);
    if (c == WD_OK)
        c = msgcli_write_out(out, env, len, force, e);
    free(env);
    return c;
}

/* After a draft is written: its status against next's and prev's (may be NULL) root keys. */
static void draft_status(const wd_roster *prev, const char *out)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_dsse d;
    if (wd_read_file(out, WD_MAX_ROSTER_ENVELOPE, &buf, &len, NULL) != WD_OK)
        return;
    if (wd_dsse_decode_draft(buf, len, WD_MAX_ROSTER_ENVELOPE, &d, NULL) == WD_OK) {
        signflow_status(&d, prev, wd_now(), true);
        wd_dsse_free(&d);
    }
    free(buf);
}

/* In a draft, each signer must be a root key that counts in next or in prev (may be NULL):
 * a signature that would not count is refused with the verifier's code. */
static wd_code draft_signers_count(const wd_roster *prev, const wd_roster *next, wd_key **keys,
                                   size_t n, char *const *paths, const char *flag, wd_err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (!wd_key_has_private(keys[i]))
            continue;
        wd_code c = wd_roster_key_counts(next, wd_key_id(keys[i]), WD_PURPOSE_ROSTER_ROOT,
                                         wd_now(), e);
        if (c != WD_OK && prev != NULL &&
            wd_roster_key_counts(prev, wd_key_id(keys[i]), WD_PURPOSE_ROSTER_ROOT, wd_now(),
                                 NULL) == WD_OK)
            c = WD_OK;
        if (c != WD_OK)
            return wd_err_prefix(e, c, "%s %s", flag, paths[i]);
    }
    return WD_OK;
}

static void print_written(const char *out, const wd_roster *r)
{
    char exp[WD_TIME_STRLEN + 1];
    wd_time_format(r->expires_at, exp);
    printf("wrote %s: org %s, roster version %lld, expires %s\n", out, r->org_id,
           (long long)r->version, exp);
}

static int do_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"org", required_argument, NULL, 'o'},
        {"root-key", required_argument, NULL, 'k'},
        {"root-threshold", required_argument, NULL, 'r'},
        {"threshold", required_argument, NULL, 't'},
        {"expires-in", required_argument, NULL, 'x'},
        {"out", required_argument, NULL, 'O'},
        {"draft", no_argument, NULL, SIGNFLOW_OPT_DRAFT},
        {"force", no_argument, NULL, SIGNFLOW_OPT_FORCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *org = NULL, *root_thr = NULL, *expires_in = DEFAULT_EXPIRES_IN, *out = NULL;
    bool draft = false, force = false;
    char *roots[WD_MAX_SIGNATURES], *thrs[MAX_MULTI];
    size_t nroots = 0, nthrs = 0;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': org = optarg; break;
        case 'r': root_thr = optarg; break;
        case 'x': expires_in = optarg; break;
        case 'O': out = optarg; break;
        case SIGNFLOW_OPT_DRAFT: draft = true; break;
        case SIGNFLOW_OPT_FORCE: force = true; break;
        case 'k':
            if (nroots == WD_MAX_SIGNATURES)
                return cli_usage_error(usage_init, "too many --root-key flags (at most %d)",
                                       WD_MAX_SIGNATURES);
            roots[nroots++] = optarg;
            break;
        case 't':
            if (nthrs == MAX_MULTI)
                return cli_usage_error(usage_init, "too many --threshold flags");
            thrs[nthrs++] = optarg;
            break;
        case 'h': return cli_help(usage_init);
        default: return msgcli_bad_option(usage_init, argv);
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_init, "unexpected argument: %s", argv[optind]);
    if (org == NULL || out == NULL || nroots == 0)
        return cli_usage_error(usage_init, "--org, --root-key and --out are required");

    wd_err e;
    wd_err_clear(&e);
    int64_t now = wd_now(), expires = 0;
    int rt = 1;
    wd_roster *r = NULL;
    if (expiry_from("--expires-in", expires_in, now, &expires, &e) != WD_OK ||
        (root_thr != NULL && parse_root_threshold(root_thr, &rt, &e) != WD_OK) ||
        wd_roster_new(org, &r, &e) != WD_OK)
        return cli_usage_error(usage_init, "%s", e.msg);
    for (size_t i = 0; i < nthrs; i++)
        if (apply_threshold(r, thrs[i], &e) != WD_OK) {
            wd_roster_free(r);
            return cli_usage_error(usage_init, "%s", e.msg);
        }
    if ((size_t)rt > nroots) {
        wd_roster_free(r);
        return cli_usage_error(usage_init, "--root-threshold %d is more than the %zu root key(s)",
                               rt, nroots);
    }
    r->root_threshold = rt;
    r->created_at = now;
    r->expires_at = expires;

    wd_key *keys[WD_MAX_SIGNATURES];
    wd_code c = WD_OK;
    if (draft) {
        /* A draft may name root keys by their public half: their holders sign it later. */
        for (size_t i = 0; i < nroots && c == WD_OK; i++) {
            c = wd_key_load_any(roots[i], &keys[i], &e);
            if (c != WD_OK) {
                msgcli_free_keys(keys, i);
                wd_err_prefix(&e, c, "--root-key %s", roots[i]);
            }
        }
    } else {
        c = msgcli_load_keys("--root-key", roots, nroots, keys, &e);
    }
    if (c != WD_OK) {
        wd_roster_free(r);
        return cli_report(&e);
    }
    wd_key *signers[WD_MAX_SIGNATURES];
    size_t nsigners = 0;
    for (size_t i = 0; i < nroots; i++)
        if (wd_key_has_private(keys[i]))
            signers[nsigners++] = keys[i];
    for (size_t i = 0; i < nroots && c == WD_OK; i++) {
        c = wd_roster_add_key(r, true, keys[i], WD_PURPOSE_ROSTER_ROOT, now, INT64_MAX, NULL,
                              &e);
        if (c != WD_OK)
            wd_err_prefix(&e, e.code, "--root-key %s", roots[i]);
    }
    if (c == WD_OK)
        c = sign_verify_write(r, NULL, wd_key_id(keys[0]), signers, nsigners, now, out, draft,
                              force, &e);
    if (c == WD_OK) {
        print_written(out, r);
        for (size_t i = 0; i < nroots; i++)
            printf("root keyid (pin): %s\n", wd_key_id(keys[i]));
        if (draft)
            draft_status(NULL, out);
    }
    msgcli_free_keys(keys, nroots);
    wd_roster_free(r);
    if (c == WD_E_USAGE)
        return cli_usage_error(usage_init, "%s", e.msg);
    return c == WD_OK ? 0 : cli_report(&e);
}

/* What add-key and revoke share: flags for the next version and its signers. */
typedef struct next_opts {
    const char *root_thr, *expires_in, *out;
    bool draft, force;
    char *thrs[MAX_MULTI];
    size_t nthrs;
    char *signs[WD_MAX_SIGNATURES];
    size_t nsigns;
} next_opts;

/* Turn prev into the next version's starting point with the shared flags applied. On a usage
 * problem, e has WD_E_USAGE. */
static wd_code next_version(const wd_roster *prev, const next_opts *o, int64_t now,
                            wd_roster **out, wd_err *e)
{
    *out = NULL;
    if (prev->version >= WD_MAX_SAFE_INTEGER)
        return wd_err_set(e, WD_E_USAGE,
                          "the roster is at version %lld, the highest a version may be",
                          (long long)prev->version);
    int64_t expires = prev->expires_at;
    wd_code c = WD_OK;
    if (o->expires_in != NULL)
        c = expiry_from("--expires-in", o->expires_in, now, &expires, e);
    else if (prev->expires_at <= now)
        c = expiry_from("--expires-in", DEFAULT_EXPIRES_IN, now, &expires, e);
    int rt = prev->root_threshold;
    if (c == WD_OK && o->root_thr != NULL)
        c = parse_root_threshold(o->root_thr, &rt, e);
    if (c != WD_OK)
        return c;
    wd_roster *n = NULL;
    c = wd_roster_copy(prev, &n, e);
    if (c != WD_OK)
        return c;
    n->version = prev->version + 1;
    n->created_at = now;
    n->expires_at = expires;
    n->root_threshold = rt;
    n->hash[0] = '\0';
    for (size_t i = 0; i < o->nthrs && c == WD_OK; i++)
        c = apply_threshold(n, o->thrs[i], e);
    if (c != WD_OK) {
        wd_roster_free(n);
        return c;
    }
    *out = n;
    return WD_OK;
}

/* Finish add-key / revoke: root threshold sanity, load signers, sign, verify, write. */
static int finish_next(const char *usage, const wd_roster *prev, wd_roster *next,
                       const next_opts *o, int64_t now)
{
    wd_err e;
    wd_err_clear(&e);
    if ((size_t)next->root_threshold > next->nroot)
        return cli_usage_error(usage, "root threshold %d is more than the %zu root key(s)",
                               next->root_threshold, next->nroot);
    wd_key *keys[WD_MAX_SIGNATURES];
    if (msgcli_load_keys("--sign", o->signs, o->nsigns, keys, &e) != WD_OK)
        return cli_report(&e);
    wd_code c = signers_are_roots(prev, next, keys, o->nsigns, o->signs, &e);
    if (c == WD_OK && o->draft)
        c = draft_signers_count(prev, next, keys, o->nsigns, o->signs, "--sign", &e);
    if (c == WD_OK)
        c = sign_verify_write(next, prev, NULL, keys, o->nsigns, now, o->out, o->draft,
                              o->force, &e);
    msgcli_free_keys(keys, o->nsigns);
    if (c == WD_E_USAGE)
        return cli_usage_error(usage, "%s", e.msg);
    if (c != WD_OK)
        return cli_report(&e);
    print_written(o->out, next);
    if (o->draft)
        draft_status(prev, o->out);
    return 0;
}

/* Report c (a usage error or a rejection in e), or else finish the new version; either way
 * prev and next are freed. Returns the exit code. */
static int end_next(wd_code c, const wd_err *e, const char *usage, wd_roster *prev,
                    wd_roster *next, const next_opts *o, int64_t now)
{
    int rc;
    if (c == WD_E_USAGE)
        rc = cli_usage_error(usage, "%s", e->msg);
    else if (c != WD_OK)
        rc = cli_report(e);
    else
        rc = finish_next(usage, prev, next, o, now);
    wd_roster_free(next);
    wd_roster_free(prev);
    return rc;
}

/* Parse one of the shared flags into o; returns 0 when handled, 2 on a usage error, -1 when
 * the flag is not a shared one. */
static int shared_flag(int ch, next_opts *o, const char *usage)
{
    switch (ch) {
    case 'r': o->root_thr = optarg; return 0;
    case 'x': o->expires_in = optarg; return 0;
    case 'O': o->out = optarg; return 0;
    case 't':
        if (o->nthrs == MAX_MULTI)
            return cli_usage_error(usage, "too many --threshold flags");
        o->thrs[o->nthrs++] = optarg;
        return 0;
    case 's': return msgcli_add_sign(o->signs, &o->nsigns, optarg, usage);
    case SIGNFLOW_OPT_DRAFT: o->draft = true; return 0;
    case SIGNFLOW_OPT_FORCE: o->force = true; return 0;
    }
    return -1;
}

#define SHARED_OPTS                                                                              \
    {"root-threshold", required_argument, NULL, 'r'},                                           \
        {"threshold", required_argument, NULL, 't'},                                            \
        {"expires-in", required_argument, NULL, 'x'}, {"sign", required_argument, NULL, 's'},   \
        {"out", required_argument, NULL, 'O'}, {"help", no_argument, NULL, 'h'},              \
        {"draft", no_argument, NULL, SIGNFLOW_OPT_DRAFT},                                      \
        {"force", no_argument, NULL, SIGNFLOW_OPT_FORCE}

static int do_add_key(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"purpose", required_argument, NULL, 'p'},
        {"valid-for", required_argument, NULL, 'v'},
        {"principal", required_argument, NULL, 'P'},
        SHARED_OPTS,
        {NULL, 0, NULL, 0},
    };
    next_opts o;
    memset(&o, 0, sizeof o);
    const char *keypath = NULL, *valid_for = NULL, *principal = NULL;
    char *purposes_arg[MAX_MULTI];
    size_t npurp = 0;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int s = shared_flag(ch, &o, usage_add_key);
        if (s > 0)
            return s;
        if (s == 0)
            continue;
        switch (ch) {
        case 'k': keypath = optarg; break;
        case 'v': valid_for = optarg; break;
        case 'P': principal = optarg; break;
        case 'p':
            if (npurp == MAX_MULTI)
                return cli_usage_error(usage_add_key, "too many --purpose flags");
            purposes_arg[npurp++] = optarg;
            break;
        case 'h': return cli_help(usage_add_key);
        default: return msgcli_bad_option(usage_add_key, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(usage_add_key, "exactly one ROSTER file is required");
    const char *path = argv[optind];
    if (keypath == NULL || o.out == NULL || npurp == 0 || (o.nsigns == 0 && !o.draft))
        return cli_usage_error(usage_add_key,
                               "--key, --purpose, --sign and --out are required (--sign may be "
                               "left out with --draft)");
    unsigned bits = 0;
    for (size_t i = 0; i < npurp; i++) {
        char *copy = strdup(purposes_arg[i]);
        if (copy == NULL)
            return cli_usage_error(usage_add_key, "out of memory");
        for (char *save = NULL, *p = strtok_r(copy, ",", &save); p != NULL;
             p = strtok_r(NULL, ",", &save)) {
            unsigned b = wd_purpose_parse(p);
            if (b == 0) {
                char shown[80];
                wd_clean_text(p, shown, sizeof shown);
                free(copy);
                return cli_usage_error(usage_add_key, "--purpose: unknown purpose '%s'", shown);
            }
            bits |= b;
        }
        free(copy);
    }
    if (bits == 0)
        return cli_usage_error(usage_add_key, "--purpose: no purpose given");
    bool root = (bits & WD_PURPOSE_ROSTER_ROOT) != 0;
    if (root && bits != WD_PURPOSE_ROSTER_ROOT)
        return cli_usage_error(usage_add_key,
                               "--purpose: a root key carries roster-root only (add the key "
                               "again without it for other purposes)");

    wd_err e;
    wd_err_clear(&e);
    int64_t now = wd_now(), until = INT64_MAX;
    if (valid_for != NULL && expiry_from("--valid-for", valid_for, now, &until, &e) != WD_OK)
        return cli_usage_error(usage_add_key, "%s", e.msg);
    wd_key *k = NULL;
    if (wd_key_load_any(keypath, &k, &e) != WD_OK) {
        wd_err_prefix(&e, e.code, "--key %s", keypath);
        return cli_report(&e);
    }
    wd_roster *prev = NULL, *next = NULL;
    wd_code c = read_current(path, now, &prev, &e);
    if (c == WD_OK)
        c = next_version(prev, &o, now, &next, &e);
    if (c == WD_OK) {
        c = wd_roster_add_key(next, root, k, bits, now, until, principal, &e);
        if (c != WD_OK)
            wd_err_prefix(&e, e.code, "--key %s", keypath);
    }
    wd_key_free(k);
    return end_next(c, &e, usage_add_key, prev, next, &o, now);
}

static int do_revoke(int argc, char **argv)
{
    static const struct option opts[] = {
        {"keyid", required_argument, NULL, 'k'},
        SHARED_OPTS,
        {NULL, 0, NULL, 0},
    };
    next_opts o;
    memset(&o, 0, sizeof o);
    const char *keyid = NULL;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int s = shared_flag(ch, &o, usage_revoke);
        if (s > 0)
            return s;
        if (s == 0)
            continue;
        switch (ch) {
        case 'k': keyid = optarg; break;
        case 'h': return cli_help(usage_revoke);
        default: return msgcli_bad_option(usage_revoke, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(usage_revoke, "exactly one ROSTER file is required");
    const char *path = argv[optind];
    if (keyid == NULL || o.out == NULL || (o.nsigns == 0 && !o.draft))
        return cli_usage_error(usage_revoke, "--keyid, --sign and --out are required (--sign "
                                             "may be left out with --draft)");
    unsigned char raw[WD_SHA256_LEN];
    wd_err e;
    wd_err_clear(&e);
    if (wd_digest_parse(keyid, raw, &e) != WD_OK)
        return cli_usage_error(usage_revoke, "--keyid: %s", e.msg);

    int64_t now = wd_now();
    wd_roster *prev = NULL, *next = NULL;
    wd_code c = read_current(path, now, &prev, &e);
    if (c == WD_OK)
        c = next_version(prev, &o, now, &next, &e);
    if (c == WD_OK) {
        wd_roster_key *k = wd_roster_find(next, keyid, NULL);
        char shown[80];
        wd_clean_text(keyid, shown, sizeof shown);
        if (k == NULL)
            c = wd_err_set(&e, WD_E_USAGE, "--keyid: %s is not a key of the roster", shown);
        else if (k->revoked)
            c = wd_err_set(&e, WD_E_USAGE, "--keyid: %s is already revoked", shown);
        else
            k->revoked = true;
    }
    return end_next(c, &e, usage_revoke, prev, next, &o, now);
}

static int do_renew(int argc, char **argv)
{
    static const struct option opts[] = {
        SHARED_OPTS,
        {NULL, 0, NULL, 0},
    };
    next_opts o;
    memset(&o, 0, sizeof o);
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int s = shared_flag(ch, &o, usage_renew);
        if (s > 0)
            return s;
        if (s == 0)
            continue;
        switch (ch) {
        case 'h': return cli_help(usage_renew);
        default: return msgcli_bad_option(usage_renew, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(usage_renew, "exactly one ROSTER file is required");
    if (o.out == NULL || (o.nsigns == 0 && !o.draft))
        return cli_usage_error(usage_renew, "--sign and --out are required (--sign may be left "
                                            "out with --draft)");
    if (o.expires_in == NULL)
        o.expires_in = RENEW_EXPIRES_IN;
    wd_err e;
    wd_err_clear(&e);
    int64_t now = wd_now();
    wd_roster *prev = NULL, *next = NULL;
    wd_code c = read_current(argv[optind], now, &prev, &e);
    if (c == WD_OK)
        c = next_version(prev, &o, now, &next, &e);
    return end_next(c, &e, usage_renew, prev, next, &o, now);
}

/* How many keys of a list count at now, and how many do not because they are revoked or
 * outside their validity window ("expired": not yet valid or past valid_until). */
typedef struct key_tally {
    size_t count, revoked, expired;
} key_tally;

static key_tally tally_keys(const wd_roster_key *keys, size_t n, int64_t now)
{
    key_tally t = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        if (keys[i].revoked)
            t.revoked++;
        else if (now < keys[i].valid_from || now >= keys[i].valid_until)
            t.expired++;
        else
            t.count++;
    }
    return t;
}

/* A key's state at now: "active", "revoked", "not yet valid" or "expired". */
static const char *key_state(const wd_roster_key *k, int64_t now)
{
    if (k->revoked)
        return "revoked";
    if (now < k->valid_from)
        return "not yet valid";
    if (now >= k->valid_until)
        return "expired";
    return "active";
}

/* Comma-separated purposes of k into buf. */
static const char *purposes_text(const wd_roster_key *k, char *buf, size_t sz)
{
    static const wd_purpose all[] = {WD_PURPOSE_ROSTER_ROOT, WD_PURPOSE_BUNDLE_SIGNING,
                                     WD_PURPOSE_BUNDLE_ROLLBACK, WD_PURPOSE_KILL_SIGNING,
                                     WD_PURPOSE_AUDIT_SIGNING};
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!(k->purposes & all[i]))
            continue;
        int n = snprintf(buf + used, sz - used, "%s%s", used ? "," : "", wd_purpose_name(all[i]));
        if (n < 0 || (size_t)n >= sz - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

static void print_key_text(const wd_roster_key *k, int64_t now)
{
    char from[WD_TIME_STRLEN + 1], until[WD_TIME_STRLEN + 1], ps[160], pr[300];
    wd_time_format(k->valid_from, from);
    if (k->valid_until == INT64_MAX)
        snprintf(until, sizeof until, "%s", "(no end)");
    else
        wd_time_format(k->valid_until, until);
    printf("  %s\n    purposes: %s\n    status: %s (now: %s)\n    valid: %s to %s\n",
           wd_key_id(k->key), purposes_text(k, ps, sizeof ps),
           k->revoked ? "revoked" : "active", key_state(k, now), from, until);
    if (k->principal != NULL)
        printf("    principal: %s\n", wd_clean_text(k->principal, pr, sizeof pr));
}

static json_t *key_json(const wd_roster_key *k, int64_t now)
{
    char from[WD_TIME_STRLEN + 1], until[WD_TIME_STRLEN + 1], ps[160];
    wd_time_format(k->valid_from, from);
    wd_time_format(k->valid_until == INT64_MAX ? 0 : k->valid_until, until);
    json_t *o = json_object();
    json_t *purposes = json_array();
    purposes_text(k, ps, sizeof ps);
    char *save = NULL;
    bool ok = o != NULL && purposes != NULL;
    for (char *t = strtok_r(ps, ",", &save); ok && t != NULL; t = strtok_r(NULL, ",", &save))
        ok = json_array_append_new(purposes, json_string(t)) == 0;
    ok = ok && wd_msg_put(o, "keyid", json_string(wd_key_id(k->key))) &&
         wd_msg_put(o, "purposes", json_incref(purposes)) &&
         wd_msg_put(o, "status", json_string(k->revoked ? "revoked" : "active")) &&
         wd_msg_put(o, "state", json_string(key_state(k, now))) &&
         wd_msg_put(o, "valid_from", json_string(from)) &&
         wd_msg_put(o, "valid_until",
                    k->valid_until == INT64_MAX ? json_null() : json_string(until)) &&
         wd_msg_put(o, "principal",
                    k->principal != NULL ? json_string(k->principal) : json_null());
    json_decref(purposes);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *keys_json(const wd_roster_key *keys, size_t n, int64_t now)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, key_json(&keys[i], now)) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
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
        return cli_usage_error(usage_inspect, "exactly one ROSTER file is required");
    const char *path = argv[optind];
    wd_err e;
    wd_err_clear(&e);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_dsse d;
    memset(&d, 0, sizeof d);
    wd_roster *r = NULL;
    int64_t now = wd_now();
    wd_sig_count sc;
    memset(&sc, 0, sizeof sc);
    wd_code c = wd_read_file(path, WD_MAX_ROSTER_ENVELOPE, &buf, &len, &e);
    if (c == WD_OK)
        c = wd_dsse_decode_draft(buf, len, WD_MAX_ROSTER_ENVELOPE, &d, &e);
    free(buf);
    if (c == WD_OK && strcmp(d.payload_type, WD_ROSTER_PAYLOAD_TYPE) != 0) {
        char got[80];
        c = wd_err_set(&e, WD_E_WRONG_TYPE, "envelope: payloadType is '%s', expected '%s'",
                       wd_clean_text(d.payload_type, got, sizeof got), WD_ROSTER_PAYLOAD_TYPE);
    }
    if (c == WD_OK)
        c = wd_roster_parse(d.payload, d.payload_len, &r, &e);
    if (c == WD_OK)
        c = wd_roster_count(r, &d, WD_PURPOSE_ROSTER_ROOT, now, &sc, &e);
    if (c != WD_OK) {
        wd_dsse_free(&d);
        wd_roster_free(r);
        return cli_report(&e);
    }
    char created[WD_TIME_STRLEN + 1], exp[WD_TIME_STRLEN + 1], nowt[WD_TIME_STRLEN + 1];
    wd_time_format(r->created_at, created);
    wd_time_format(r->expires_at, exp);
    wd_time_format(now, nowt);
    int rc = 0;
    if (as_json) {
        json_t *o = json_object();
        json_t *root = json_object();
        json_t *thr = json_object();
        json_t *sig = json_object();
        json_t *signers = json_array();
        bool ok = o != NULL && root != NULL && thr != NULL && sig != NULL && signers != NULL;
        for (size_t i = 0; ok && i < d.nsigs; i++)
            ok = json_array_append_new(signers, json_string(d.sigs[i].keyid)) == 0;
        ok = ok && wd_msg_put(o, "signatures_verified", json_false()) &&
             wd_msg_put(o, "org_id", json_string(r->org_id)) &&
             wd_msg_put(o, "version", json_integer((json_int_t)r->version)) &&
             wd_msg_put(o, "created_at", json_string(created)) &&
             wd_msg_put(o, "expires_at", json_string(exp)) &&
             wd_msg_put(o, "expired", json_boolean(now >= r->expires_at)) &&
             wd_msg_put(o, "hash", json_string(r->hash)) &&
             wd_msg_put(o, "state_at", json_string(nowt)) &&
             wd_msg_put(root, "threshold", json_integer(r->root_threshold)) &&
             wd_msg_put(root, "keys", keys_json(r->root_keys, r->nroot, now)) &&
             wd_msg_put(o, "root", json_incref(root)) &&
             wd_msg_put(o, "keys", keys_json(r->keys, r->nkeys, now)) &&
             wd_msg_put(thr, "policy-bundle-signing", json_integer(r->threshold_bundle)) &&
             wd_msg_put(thr, "policy-bundle-rollback", json_integer(r->threshold_rollback)) &&
             wd_msg_put(thr, "remote-kill-signing", json_integer(r->threshold_kill)) &&
             wd_msg_put(thr, "audit-batch-signing", json_integer(r->threshold_audit)) &&
             wd_msg_put(o, "thresholds", json_incref(thr)) &&
             wd_msg_put(sig, "keyids", json_incref(signers)) &&
             wd_msg_put(sig, "root_counted", json_integer((json_int_t)sc.counted)) &&
             wd_msg_put(sig, "root_keys_that_count", json_integer((json_int_t)sc.eligible)) &&
             wd_msg_put(sig, "root_threshold", json_integer(sc.threshold)) &&
             wd_msg_put(o, "signatures", json_incref(sig));
        char *text = ok ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (text == NULL) {
            rc = cli_report(&(wd_err){WD_E_NOMEM, "roster inspect: out of memory"});
        } else {
            printf("%s\n", text);
            free(text);
        }
        json_decref(signers);
        json_decref(sig);
        json_decref(thr);
        json_decref(root);
        json_decref(o);
    } else {
        printf("signatures NOT verified: this is what the file claims (use 'warden roster "
               "verify' to trust it)\n");
        printf("org: %s\nversion: %lld\ncreated_at: %s\nexpires_at: %s%s\nhash: %s\n",
               r->org_id, (long long)r->version, created, exp,
               now >= r->expires_at ? " (expired)" : "", r->hash);
        printf("thresholds: roster-root %d, policy-bundle-signing %d, policy-bundle-rollback "
               "%d, remote-kill-signing %d, audit-batch-signing %d\n",
               r->root_threshold, r->threshold_bundle, r->threshold_rollback, r->threshold_kill,
               r->threshold_audit);
        key_tally rt = tally_keys(r->root_keys, r->nroot, now);
        key_tally kt = tally_keys(r->keys, r->nkeys, now);
        printf("root keys: %zu that count, %zu revoked, %zu expired (states at %s)\n", rt.count,
               rt.revoked, rt.expired, nowt);
        for (size_t i = 0; i < r->nroot; i++)
            print_key_text(&r->root_keys[i], now);
        printf("keys: %zu that count, %zu revoked, %zu expired\n", kt.count, kt.revoked,
               kt.expired);
        for (size_t i = 0; i < r->nkeys; i++)
            print_key_text(&r->keys[i], now);
        printf("signatures: %zu, by", d.nsigs);
        for (size_t i = 0; i < d.nsigs; i++)
            printf(" %s", d.sigs[i].keyid);
        printf("%s\n", d.nsigs == 0 ? " nobody (an unsigned draft)" : "");
        signflow_status(&d, NULL, now, false);
    }
    wd_dsse_free(&d);
    wd_roster_free(r);
    return rc;
}

static int do_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pin", required_argument, NULL, 'p'},
        {"previous", required_argument, NULL, 'P'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *pin = NULL, *at = NULL;
    char *chain[MSGCLI_MAX_CHAIN];
    size_t nchain = 0;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'p': pin = optarg; break;
        case 'a': at = optarg; break;
        case 'P':
            if (msgcli_add_previous(chain, &nchain, optarg, usage_verify) != 0)
                return 2;
            break;
        case 'h': return cli_help(usage_verify);
        default: return msgcli_bad_option(usage_verify, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(usage_verify, "exactly one ROSTER file is required");
    if (pin == NULL)
        return cli_usage_error(usage_verify, "--pin is required");
    wd_err e;
    wd_err_clear(&e);
    unsigned char raw[WD_SHA256_LEN];
    if (wd_digest_parse(pin, raw, &e) != WD_OK)
        return cli_usage_error(usage_verify, "--pin: %s", e.msg);
    int64_t now = wd_now();
    if (at != NULL && wd_time_parse(at, &now, &e) != WD_OK)
        return cli_usage_error(usage_verify, "--at: %s", e.msg);

    wd_roster *r = NULL;
    wd_code c = msgcli_load_chain(chain, nchain, argv[optind], pin, now, &r, &e);
    if (c != WD_OK)
        return cli_report(&e);
    /* What was counted: the root signatures of the envelope that count in r at now. */
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_dsse d;
    memset(&d, 0, sizeof d);
    wd_sig_count sc;
    memset(&sc, 0, sizeof sc);
    c = wd_read_file(argv[optind], WD_MAX_ROSTER_ENVELOPE, &buf, &len, &e);
    if (c == WD_OK)
        c = wd_dsse_decode(buf, len, WD_MAX_ROSTER_ENVELOPE, &d, &e);
    if (c == WD_OK)
        c = wd_roster_count(r, &d, WD_PURPOSE_ROSTER_ROOT, now, &sc, &e);
    free(buf);
    wd_dsse_free(&d);
    if (c != WD_OK) {
        wd_roster_free(r);
        return cli_report(&e);
    }
    key_tally rt = tally_keys(r->root_keys, r->nroot, now);
    key_tally kt = tally_keys(r->keys, r->nkeys, now);
    char exp[WD_TIME_STRLEN + 1];
    wd_time_format(r->expires_at, exp);
    printf("org: %s\nversion: %lld\nexpires_at: %s\n", r->org_id, (long long)r->version, exp);
    printf("root keys: %zu that count (threshold %d), %zu revoked, %zu expired\n", rt.count,
           r->root_threshold, rt.revoked, rt.expired);
    printf("keys: %zu that count, %zu revoked, %zu expired\n", kt.count, kt.revoked, kt.expired);
    printf("root signatures counted: %zu of %zu root keys that count (need %d)\n", sc.counted,
           sc.eligible, sc.threshold);
    printf("hash: %s\n", r->hash);
    wd_roster_free(r);
    return 0;
}

int cmd_roster(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage_group, "a roster command is required");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return cli_help(usage_group);
    if (strcmp(sub, "init") == 0)
        return do_init(argc - 1, argv + 1);
    if (strcmp(sub, "add-key") == 0)
        return do_add_key(argc - 1, argv + 1);
    if (strcmp(sub, "revoke") == 0)
        return do_revoke(argc - 1, argv + 1);
    if (strcmp(sub, "renew") == 0)
        return do_renew(argc - 1, argv + 1);
    if (strcmp(sub, "verify") == 0)
        return do_verify(argc - 1, argv + 1);
    if (strcmp(sub, "inspect") == 0)
        return do_inspect(argc - 1, argv + 1);
    char shown[64];
    return cli_usage_error(usage_group, "unknown roster command '%s'",
                           wd_clean_text(sub, shown, sizeof shown));
}
