/* cmd_publish.c — `warden publish (bundle|kill|rollback|roster) FILE`: send a signed message,
 * byte for byte, to the leader over mTLS and report its answer with warden's exit codes.
 * The leader verifies what it is sent; this command does not, and must never alter the bytes,
 * send a file past its type's size limit, or send anything when a flag is wrong. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fleetflags.h"
#include "warden/limits.h"
#include "base/base.h"
#include "codec/json.h"

static const char usage_publish[] =
    "usage: warden publish (bundle|kill|rollback|roster) FILE --leader URL --cert FILE\n"
    "         --key FILE --ca FILE [--timeout DUR]\n"
    "\n"
    "Send a signed message to the leader, unchanged, over HTTPS with a client certificate.\n"
    "The leader verifies it as a follower would and stores it; followers then fetch it.\n"
    "\n"
    "kinds:\n"
    "  bundle     a policy bundle (at most 1 MiB)\n"
    "  kill       a remote kill message (at most 64 KiB)\n"
    "  rollback   a rollback authorization (at most 64 KiB)\n"
    "  roster     the next trust roster (at most 256 KiB)\n"
    "\n"
    "  --leader URL     the leader, https://HOST[:PORT] (no user, path, query or fragment)\n"
    "  --cert FILE      administrator's client certificate (PEM)\n"
    "  --key FILE       its private key (PEM; refused when group or others can read it)\n"
    "  --ca FILE        CA certificate(s) that signed the leader's certificate (PEM); the\n"
    "                   system's CAs are not used\n"
    "  --timeout DUR    limit for the whole request, Go-style duration (default 30s)\n"
    "  -h, --help       show this help\n"
    "\n"
    "On success prints one line, e.g. 'published: 201 created, version 42, sha256:...'\n"
    "(201: stored as new; 200: the leader already held these exact bytes).\n"
    "A file over its kind's limit is rejected without contacting the leader.\n"
    "\n"
    "Exit codes: 0 published (200 or 201), 1 operational error (connection, TLS, 401, 403,\n"
    "5xx or any other answer), 2 usage error, 3 rejected by the leader (409, 413, 422),\n"
    "printed as 'rejected (<code>): <message>'.\n";

typedef struct kind {
    const char *name;
    const char *path;
    size_t cap;
} kind;

static const kind kinds[] = {
    {"bundle", "/api/v1/conductor/policy-bundles", WD_MAX_BUNDLE_ENVELOPE},
    {"kill", "/api/v1/conductor/remote-kill", WD_MAX_KILL_ENVELOPE},
    {"rollback", "/api/v1/conductor/rollback-authorizations", WD_MAX_ROLLBACK_ENVELOPE},
    {"roster", "/api/v1/conductor/roster", WD_MAX_ROSTER_ENVELOPE},
};

/* True when s looks like a rejection code: lowercase letters and '-', 1..40 bytes. */
static bool code_shape(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
            return false;
    return true;
}

/* 409, 413, 422: one line "rejected (<code>): <message>", exit 3. */
static int report_rejection(const wd_fleet_response *r)
{
    char code[64], msg[WD_ERR_MSG_MAX];
    wd_fleet_error_body(r, code, sizeof code, msg, sizeof msg);
    const char *c = code;
    if (r->status == 413)
        c = "oversized";
    else if (!code_shape(code))
        c = r->status == 409 ? "conflict" : "bad-request";
    if (msg[0] == '\0')
        snprintf(msg, sizeof msg, "the leader answered %ld without a reason", r->status);
    fprintf(stderr, "rejected (%s): %s\n", c, msg);
    return 3;
}

/* 200, 201: "published: <status> <created|unchanged>" and what the answer names. */
static int report_success(const wd_fleet_response *r)
{
    printf("published: %ld %s", r->status, r->status == 201 ? "created" : "unchanged");
    json_t *j = NULL;
    if (r->body_len > 0 && wd_json_parse(r->body, r->body_len, r->body_len, &j, NULL) == WD_OK &&
        json_is_object(j)) {
        static const char *const ints[] = {"version", "counter"};
        static const char *const strs[] = {"id", "authorization_id", "bundle_id", "message_id",
                                           "hash", "bundle_hash", "message_hash", "sha256"};
        char clean[160];
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
            json_t *v = json_object_get(j, ints[i]);
            if (json_is_integer(v))
                printf(", %s %lld", ints[i], (long long)json_integer_value(v));
        }
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
            const char *v = json_string_value(json_object_get(j, strs[i]));
            if (v == NULL)
                continue;
            wd_clean_text(v, clean, sizeof clean);
            if (strncmp(v, "sha256:", 7) == 0)
                printf(", %s", clean);
            else
                printf(", %s %s", strs[i], clean);
        }
    }
    json_decref(j);
    putchar('\n');
    return 0;
}

int cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        WD_FLEET_FLAG_OPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    wd_fleet_flags f;
    memset(&f, 0, sizeof f);
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (wd_fleet_flag(ch, optarg, &f))
            continue;
        if (ch == 'h')
            return cli_help(usage_publish);
        return cli_usage_error(usage_publish, "unknown option or missing value: %s",
                               argv[optind - 1]);
    }
    if (argc - optind != 2)
        return cli_usage_error(usage_publish, "give a kind (bundle, kill, rollback or roster) "
                                              "and one FILE");
    const kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(argv[optind], kinds[i].name) == 0)
            k = &kinds[i];
    if (k == NULL) {
        char shown[64];
        return cli_usage_error(usage_publish, "unknown kind '%s' (bundle, kill, rollback, roster)",
                               wd_clean_text(argv[optind], shown, sizeof shown));
    }
    const char *file = argv[optind + 1];
    wd_fleet_opts o;
    int rc = wd_fleet_flags_check(&f, usage_publish, &o);
    if (rc != 0)
        return rc;

    wd_err e;
    wd_err_clear(&e);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_fleet_client *c = NULL;
    wd_fleet_response r;
    memset(&r, 0, sizeof r);
    wd_code code = wd_read_file(file, k->cap, &buf, &len, &e);
    if (code != WD_OK) {
        char shown[256];
        wd_clean_text(file, shown, sizeof shown);
        if (code == WD_E_OVERSIZED)
            wd_err_set(&e, WD_E_OVERSIZED, "%s is larger than the %s limit of %zu bytes; "
                       "nothing was sent", shown, k->name, k->cap);
        else
            wd_err_prefix(&e, code, "%s", shown);
        rc = cli_report(&e);
        goto out;
    }
    code = wd_fleet_open(&o, &c, &e);
    if (code != WD_OK) {
        rc = cli_report(&e);
        goto out;
    }
    static const char *const hdrs[] = {"Content-Type: application/json",
                                       "Accept: application/json", NULL};
    code = wd_fleet_request(c, "PUT", k->path, buf, len, hdrs, WD_FLEET_MAX_PUBLISH_ANSWER, &r,
                            &e);
    if (code != WD_OK) {
        if (code == WD_E_OVERSIZED)
            e.code = WD_E_IO; /* the leader's fault, not the message's */
        rc = cli_report(&e);
        goto out;
    }
    if (r.status == 200 || r.status == 201) {
        rc = report_success(&r);
    } else if (r.status == 409 || r.status == 413 || r.status == 422) {
        rc = report_rejection(&r);
    } else {
        char what[96];
        snprintf(what, sizeof what, "publish %s", k->name);
        rc = wd_fleet_report_status(what, &r);
    }
out:
    wd_fleet_response_free(&r);
    wd_fleet_close(c);
    free(buf);
    return rc;
}
