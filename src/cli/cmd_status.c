/* cmd_status.c — `warden status`: ask the leader for its followers view over mTLS and print it
 * as a table (one row per follower) or, with --json, exactly the bytes the leader sent.
 * The view is the leader's word, read leniently (unknown fields ignored, odd values shown as
 * "?"); every string from it is cleaned before it reaches the terminal. It never changes
 * anything on the leader. */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fleetflags.h"
#include "base/base.h"
#include "codec/json.h"

#define FOLLOWERS_PATH "/api/v1/conductor/followers"
/* Widest a cell may print (longer text is cut with an ellipsis). */
#define CELL_MAX 48

static const char usage_status[] =
    "usage: warden status --leader URL --cert FILE --key FILE --ca FILE [--json]\n"
    "         [--timeout DUR]\n"
    "\n"
    "Show the fleet as the leader sees it: one row per follower with its instance id,\n"
    "fleet/environment, active bundle version, remote kill state, policy state, when it last\n"
    "reported, how many versions it is behind the active bundle of its fleet/environment, and\n"
    "notes: 'silent' when it has not reported for three status intervals, and the code of its\n"
    "last error. Then the active bundle of each fleet/environment and a summary line.\n"
    "\n"
    "  --leader URL     the leader, https://HOST[:PORT] (no user, path, query or fragment)\n"
    "  --cert FILE      administrator's client certificate (PEM)\n"
    "  --key FILE       its private key (PEM; refused when group or others can read it)\n"
    "  --ca FILE        CA certificate(s) that signed the leader's certificate (PEM); the\n"
    "                   system's CAs are not used\n"
    "  --json           print the leader's JSON answer unchanged instead of the table\n"
    "  --timeout DUR    limit for the whole request, Go-style duration (default 30s)\n"
    "  -h, --help       show this help\n"
    "\n"
    "Columns: BUNDLE is the active bundle version ('-': none); KILL is 'active #N' or\n"
    "'inactive #N' for the newest kill counter ('not honored' when the host only reports\n"
    "kills); LAG is versions behind ('-': unknown).\n"
    "\n"
    "Exit codes: 0 shown, 1 operational error (connection, TLS, an answer other than 200, or\n"
    "an answer that is not a followers view), 2 usage error.\n";

typedef struct row {
    char instance[CELL_MAX + 1];
    char scope[2 * CELL_MAX + 2];
    char bundle[32];
    char kill[64];
    char policy[CELL_MAX + 1];
    char seen[32];
    char lag[24];
    char note[2 * CELL_MAX + 16];
    bool silent;
    long long lagn;
} row;

static void cell(const json_t *o, const char *key, char *out, size_t outsz)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL) {
        snprintf(out, outsz, "?");
        return;
    }
    char tmp[CELL_MAX + 1];
    wd_clean_text(s, tmp, sizeof tmp);
    snprintf(out, outsz, "%s", tmp);
}

static void age_text(const json_t *o, int64_t now, char *out, size_t outsz)
{
    const json_t *v = json_object_get(o, "last_seen");
    int64_t t = 0;
    if (v == NULL || json_is_null(v)) {
        snprintf(out, outsz, "never");
        return;
    }
    if (!json_is_string(v) || wd_time_parse(json_string_value(v), &t, NULL) != WD_OK) {
        snprintf(out, outsz, "?");
        return;
    }
    long long d = now > t ? (long long)(now - t) : 0;
    if (d < 120)
        snprintf(out, outsz, "%llds ago", d);
    else if (d < 120 * 60)
        snprintf(out, outsz, "%lldm ago", d / 60);
    else if (d < 48 * 3600)
        snprintf(out, outsz, "%lldh ago", d / 3600);
    else
        snprintf(out, outsz, "%lldd ago", d / 86400);
}

static void fill_row(const json_t *f, int64_t now, row *r)
{
    memset(r, 0, sizeof *r);
    char fleet[CELL_MAX + 1], env[CELL_MAX + 1];
    cell(f, "instance_id", r->instance, sizeof r->instance);
    cell(f, "fleet_id", fleet, sizeof fleet);
    cell(f, "environment", env, sizeof env);
    snprintf(r->scope, sizeof r->scope, "%s/%s", fleet, env);
    cell(f, "policy_state", r->policy, sizeof r->policy);

    const json_t *b = json_object_get(f, "active_bundle");
    if (b == NULL || json_is_null(b))
        snprintf(r->bundle, sizeof r->bundle, "-");
    else if (json_is_integer(json_object_get(b, "version")))
        snprintf(r->bundle, sizeof r->bundle, "%lld",
                 (long long)json_integer_value(json_object_get(b, "version")));
    else
        snprintf(r->bundle, sizeof r->bundle, "?");

    const json_t *k = json_object_get(f, "kill");
    if (k == NULL || json_is_null(k)) {
        snprintf(r->kill, sizeof r->kill, "-");
    } else {
        char state[16];
        cell(k, "state", state, sizeof state);
        const json_t *cn = json_object_get(k, "counter");
        const json_t *h = json_object_get(k, "honored");
        char counter[32] = "?";
        if (json_is_integer(cn))
            snprintf(counter, sizeof counter, "%lld", (long long)json_integer_value(cn));
        snprintf(r->kill, sizeof r->kill, "%s #%s%s", state, counter,
                 json_is_false(h) ? " not honored" : "");
    }

    age_text(f, now, r->seen, sizeof r->seen);

    const json_t *lag = json_object_get(f, "lag");
    r->lagn = -1;
    if (json_is_integer(lag)) {
        r->lagn = (long long)json_integer_value(lag);
        snprintf(r->lag, sizeof r->lag, "%lld", r->lagn);
    } else {
        snprintf(r->lag, sizeof r->lag, lag == NULL || json_is_null(lag) ? "-" : "?");
    }

    r->silent = json_is_true(json_object_get(f, "silent"));
    size_t used = 0;
    if (r->silent)
        used += (size_t)snprintf(r->note, sizeof r->note, "silent");
    const json_t *le = json_object_get(f, "last_error");
    if (json_is_object(le)) {
        char code[CELL_MAX + 1];
        cell(le, "code", code, sizeof code);
        snprintf(r->note + used, sizeof r->note - used, "%serror: %s", used ? ", " : "", code);
    }
}

static int by_scope_then_instance(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int c = strcmp(x->scope, y->scope);
    return c != 0 ? c : strcmp(x->instance, y->instance);
}

static size_t widest(const row *rows, size_t n, size_t off, const char *title)
{
    size_t w = strlen(title);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen((const char *)rows + i * sizeof(row) + off);
        if (l > w)
            w = l;
    }
    return w;
}

/* Print the table for the parsed view. Returns 0, or 1 after a message when the view is not
 * a followers view. */
static int print_table(const json_t *j)
{
    const json_t *fs = json_object_get(j, "followers");
    if (!json_is_object(j) || !json_is_array(fs)) {
        fprintf(stderr, "warden: the leader's answer has no \"followers\" list\n");
        return 1;
    }
    size_t n = json_array_size(fs);
    row *rows = n ? calloc(n, sizeof *rows) : NULL;
    if (n && rows == NULL) {
        fprintf(stderr, "warden: out of memory\n");
        return 1;
    }
    int64_t now = wd_now();
    size_t silent = 0, behind = 0;
    for (size_t i = 0; i < n; i++) {
        fill_row(json_array_get(fs, i), now, &rows[i]);
        silent += rows[i].silent;
        behind += rows[i].lagn > 0;
    }
    if (n > 1)
        qsort(rows, n, sizeof *rows, by_scope_then_instance);
    static const char *const titles[] = {"INSTANCE", "FLEET/ENV", "BUNDLE", "KILL",
                                         "POLICY", "LAST SEEN", "LAG", "NOTES"};
    const size_t offs[] = {offsetof(row, instance), offsetof(row, scope), offsetof(row, bundle),
                           offsetof(row, kill), offsetof(row, policy), offsetof(row, seen),
                           offsetof(row, lag), offsetof(row, note)};
    size_t w[8];
    for (size_t c = 0; c < 8; c++)
        w[c] = widest(rows, n, offs[c], titles[c]);
    if (n == 0) {
        printf("no followers have reported yet\n");
    } else {
        for (size_t c = 0; c < 7; c++)
            printf("%-*s  ", (int)w[c], titles[c]);
        printf("%s\n", titles[7]);
        for (size_t i = 0; i < n; i++) {
            for (size_t c = 0; c < 6; c++)
                printf("%-*s  ", (int)w[c], (const char *)&rows[i] + offs[c]);
            if (rows[i].note[0] == '\0')
                printf("%s\n", rows[i].lag); /* no trailing blanks */
            else
                printf("%-*s  %s\n", (int)w[6], rows[i].lag, rows[i].note);
        }
    }
    free(rows);

    const json_t *active = json_object_get(j, "active");
    if (json_is_object(active) && json_object_size(active) > 0) {
        printf("\nactive bundles:\n");
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)active, key, v) {
            char scope[2 * CELL_MAX + 2], hash[80] = "?";
            wd_clean_text(key, scope, sizeof scope);
            const json_t *ver = json_object_get(v, "version");
            const char *h = json_string_value(json_object_get(v, "hash"));
            if (h != NULL)
                wd_clean_text(h, hash, sizeof hash);
            if (json_is_integer(ver))
                printf("  %s  version %lld  %s\n", scope, (long long)json_integer_value(ver),
                       hash);
            else
                printf("  %s  version ?  %s\n", scope, hash);
        }
    }
    printf("\n%zu follower%s, %zu silent, %zu behind the active bundle\n", n,
           n == 1 ? "" : "s", silent, behind);
    return 0;
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        WD_FLEET_FLAG_OPTS,
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    wd_fleet_flags f;
    memset(&f, 0, sizeof f);
    bool as_json = false;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (wd_fleet_flag(ch, optarg, &f))
            continue;
        if (ch == 'j') {
            as_json = true;
            continue;
        }
        if (ch == 'h')
            return cli_help(usage_status);
        return cli_usage_error(usage_status, "unknown option or missing value: %s",
                               argv[optind - 1]);
    }
    if (optind != argc)
        return cli_usage_error(usage_status, "unexpected argument: %s", argv[optind]);
    wd_fleet_opts o;
    int rc = wd_fleet_flags_check(&f, usage_status, &o);
    if (rc != 0)
        return rc;

    wd_err e;
    wd_err_clear(&e);
    wd_fleet_client *c = NULL;
    wd_fleet_response r;
    memset(&r, 0, sizeof r);
    json_t *j = NULL;
    wd_code code = wd_fleet_open(&o, &c, &e);
    if (code != WD_OK) {
        rc = cli_report(&e);
        goto out;
    }
    static const char *const hdrs[] = {"Accept: application/json", NULL};
    code = wd_fleet_request(c, "GET", FOLLOWERS_PATH, NULL, 0, hdrs, WD_FLEET_MAX_FOLLOWERS_VIEW,
                            &r, &e);
    if (code != WD_OK) {
        if (code == WD_E_OVERSIZED)
            e.code = WD_E_IO; /* the leader's answer, not a message we verify */
        rc = cli_report(&e);
        goto out;
    }
    if (r.status != 200) {
        rc = wd_fleet_report_status("status", &r);
        goto out;
    }
    if (wd_json_parse(r.body, r.body_len, WD_FLEET_MAX_FOLLOWERS_VIEW, &j, &e) != WD_OK) {
        fprintf(stderr, "warden: the leader's followers view is not valid JSON: %s\n", e.msg);
        rc = 1;
        goto out;
    }
    if (as_json) {
        if (fwrite(r.body, 1, r.body_len, stdout) != r.body_len || fflush(stdout) != 0) {
            fprintf(stderr, "warden: cannot write the answer to stdout\n");
            rc = 1;
        }
        goto out;
    }
    rc = print_table(j);
out:
    json_decref(j);
    wd_fleet_response_free(&r);
    wd_fleet_close(c);
    return rc;
}
