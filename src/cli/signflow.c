/* signflow.c — what drafts, `warden sign` and `warden dsse merge` share: the purpose and cap of
 * each envelope type, whether a signer would count, the status line, and the roster flags.
 * It must never change a payload, never write a file, and never count a signature the
 * verifier would not count (counting is the roster library's, wd_roster_count). */
#include "signflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/base.h"
#include "msg/bundle.h"
#include "msg/kill.h"
#include "msg/rollback.h"

static const struct {
    const char *type;
    wd_purpose purpose;
    size_t max;
    const char *noun;
} types[] = {
    {WD_ROSTER_PAYLOAD_TYPE, WD_PURPOSE_ROSTER_ROOT, WD_MAX_ROSTER_ENVELOPE, "roster"},
    {WD_BUNDLE_PAYLOAD_TYPE, WD_PURPOSE_BUNDLE_SIGNING, WD_MAX_BUNDLE_ENVELOPE, "policy bundle"},
    {WD_KILL_PAYLOAD_TYPE, WD_PURPOSE_KILL_SIGNING, WD_MAX_KILL_ENVELOPE, "remote kill"},
    {WD_ROLLBACK_PAYLOAD_TYPE, WD_PURPOSE_BUNDLE_ROLLBACK, WD_MAX_ROLLBACK_ENVELOPE,
     "rollback authorization"},
};

bool signflow_type_info(const char *type, wd_purpose *p, size_t *max, const char **noun)
{
    for (size_t i = 0; type != NULL && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].type, type) == 0) {
            if (p != NULL)
                *p = types[i].purpose;
            if (max != NULL)
                *max = types[i].max;
            if (noun != NULL)
                *noun = types[i].noun;
            return true;
        }
    return false;
}

int signflow_roster_flag(int ch, char *arg, signflow_roster *o, const char *usage)
{
    switch (ch) {
    case SIGNFLOW_OPT_ROSTER: o->roster = arg; return 0;
    case SIGNFLOW_OPT_PIN: o->pin = arg; return 0;
    case SIGNFLOW_OPT_PREVIOUS: return msgcli_add_previous(o->previous, &o->nprevious, arg, usage);
    }
    return -1;
}

int signflow_roster_load(const signflow_roster *o, int64_t now, const char *usage,
                         wd_roster **out)
{
    *out = NULL;
    if (o->roster == NULL && o->pin == NULL && o->nprevious == 0)
        return 0;
    if (o->roster == NULL || o->pin == NULL)
        return cli_usage_error(usage, "--roster and --pin go together (--previous needs both)");
    wd_err e;
    wd_err_clear(&e);
    unsigned char raw[WD_SHA256_LEN];
    if (wd_digest_parse(o->pin, raw, &e) != WD_OK)
        return cli_usage_error(usage, "--pin: %s", e.msg);
    if (msgcli_load_chain(o->previous, o->nprevious, o->roster, o->pin, now, out, &e) != WD_OK) {
        wd_msg_prefix(e.code, &e, "--roster %s", o->roster);
        return cli_report(&e);
    }
    return 0;
}

wd_code signflow_read(const char *path, wd_dsse *out, size_t *max, wd_err *e)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code c = wd_read_file(path, WD_MAX_ENVELOPE, &buf, &len, e);
    if (c != WD_OK)
        return c;
    c = wd_dsse_decode_draft(buf, len, WD_MAX_ENVELOPE, out, e);
    size_t cap = 0;
    if (c == WD_OK && !signflow_type_info(out->payload_type, NULL, &cap, NULL)) {
        char got[80];
        c = wd_err_set(e, WD_E_WRONG_TYPE, "envelope: payloadType '%s' is not a warden message",
                       wd_clean_text(out->payload_type, got, sizeof got));
    }
    if (c == WD_OK && len > cap)
        c = wd_err_set(e, WD_E_OVERSIZED, "envelope: %zu bytes, more than the limit of %zu", len,
                       cap);
    free(buf);
    if (c != WD_OK) {
        wd_dsse_free(out);
        char shown[200];
        return wd_msg_prefix(c, e, "%s", wd_clean_text(path, shown, sizeof shown));
    }
    if (max != NULL)
        *max = cap;
    return WD_OK;
}

/* The roster an envelope of roster type carries, parsed without trusting it (the operator's own
 * file, being signed). On success the caller frees *out. */
static wd_code embedded(const wd_dsse *env, wd_roster **out, wd_err *e)
{
    wd_code c = wd_roster_parse(env->payload, env->payload_len, out, e);
    return wd_msg_prefix(c, e, "the roster being signed");
}

static bool is_roster(const wd_dsse *env)
{
    return strcmp(env->payload_type, WD_ROSTER_PAYLOAD_TYPE) == 0;
}

wd_code signflow_check_previous(const wd_dsse *env, const wd_roster *r, wd_err *e)
{
    if (r == NULL || !is_roster(env))
        return WD_OK;
    wd_roster *n = NULL;
    wd_code c = embedded(env, &n, e);
    if (c != WD_OK)
        return c;
    if (n->version != r->version + 1)
        c = wd_err_set(e, WD_E_USAGE,
                       "--roster is version %lld, but the roster being signed is version %lld: "
                       "give the roster it replaces (version %lld)",
                       (long long)r->version, (long long)n->version, (long long)n->version - 1);
    wd_roster_free(n);
    return c;
}

wd_code signflow_signer_counts(const wd_dsse *env, const wd_key *k, const wd_roster *r,
                               int64_t now, wd_err *e)
{
    wd_purpose p = WD_PURPOSE_BUNDLE_SIGNING;
    if (!signflow_type_info(env->payload_type, &p, NULL, NULL))
        return wd_err_set(e, WD_E_WRONG_TYPE, "envelope: not a warden message");
    if (!is_roster(env))
        return r == NULL ? WD_OK : wd_roster_key_counts(r, wd_key_id(k), p, now, e);
    wd_roster *n = NULL;
    wd_code c = embedded(env, &n, e);
    if (c != WD_OK)
        return c;
    c = wd_roster_key_counts(n, wd_key_id(k), WD_PURPOSE_ROSTER_ROOT, now, e);
    char first[WD_ERR_MSG_MAX];
    snprintf(first, sizeof first, "%s", c != WD_OK ? e->msg : "");
    if (c != WD_OK && r != NULL) {
        wd_err e2;
        wd_err_clear(&e2);
        if (wd_roster_key_counts(r, wd_key_id(k), WD_PURPOSE_ROSTER_ROOT, now, &e2) == WD_OK)
            c = WD_OK;
        else
            wd_err_set(e, c, "%s; nor does it count in the roster it replaces (%s)", first,
                       e2.msg);
    } else if (c != WD_OK && n->version > 1) {
        wd_err_set(e, c,
                   "%s; if it is a root key of version %lld, the roster this one replaces, give "
                   "that roster with --roster and --pin",
                   first, (long long)n->version - 1);
    }
    wd_roster_free(n);
    return c;
}

static const char *number_word(size_t n)
{
    static const char *const words[] = {"zero", "one", "two", "three", "four",
                                        "five", "six", "seven"};
    return n < sizeof words / sizeof words[0] ? words[n] : NULL;
}

/* One line: "[prefix]N of M <what> signatures (need T): complete | needs ... more by ...". */
static bool print_count(const char *prefix, const wd_sig_count *s)
{
    bool root = s->purpose == WD_PURPOSE_ROSTER_ROOT;
    const char *pn = wd_purpose_name(s->purpose);
    printf("%s%zu of %zu %s signatures (need %d", prefix, s->counted, s->eligible,
           root ? "root" : pn, s->threshold);
    size_t other = s->signatures - (s->counted < s->signatures ? s->counted : s->signatures);
    if (other > 0)
        printf("; %zu other signature%s %s not count", other, other == 1 ? "" : "s",
               other == 1 ? "does" : "do");
    printf("): ");
    if (s->counted >= (size_t)s->threshold) {
        printf("complete\n");
        return true;
    }
    size_t more = (size_t)s->threshold - s->counted;
    const char *w = number_word(more);
    char num[24];
    if (w == NULL)
        snprintf(num, sizeof num, "%zu", more);
    printf("needs %s more by %s", w != NULL ? w : num,
           more == 1 ? (root ? "a root key" : "a key") : (root ? "root keys" : "keys"));
    if (!root)
        printf(" with purpose %s", pn);
    if (s->eligible < (size_t)s->threshold)
        printf(" (only %zu key%s can count: the roster must change first)", s->eligible,
               s->eligible == 1 ? "" : "s");
    printf("\n");
    return false;
}

bool signflow_status(const wd_dsse *env, const wd_roster *r, int64_t now, bool has_roster_flags)
{
    wd_err e;
    wd_err_clear(&e);
    wd_sig_count s;
    wd_purpose p = WD_PURPOSE_BUNDLE_SIGNING;
    if (!signflow_type_info(env->payload_type, &p, NULL, NULL))
        return false;
    if (!is_roster(env)) {
        if (r == NULL) {
            wd_roster *dflt = NULL;
            int t = wd_roster_new("defaults", &dflt, &e) == WD_OK ? wd_roster_threshold(dflt, p)
                                                                  : 0;
            wd_roster_free(dflt);
            printf("%zu signature%s, not counted against a roster (%s needs %d unless the "
                   "roster sets another threshold%s)\n",
                   env->nsigs, env->nsigs == 1 ? "" : "s", wd_purpose_name(p), t,
                   has_roster_flags ? "; give --roster and --pin to count"
                                    : "; 'warden sign --roster R --pin D' counts as it signs");
            return false;
        }
        if (wd_roster_count(r, env, p, now, &s, &e) != WD_OK)
            return false;
        char prefix[160];
        snprintf(prefix, sizeof prefix, "roster %s version %lld: ", r->org_id,
                 (long long)r->version);
        return print_count(prefix, &s);
    }
    wd_roster *n = NULL;
    if (embedded(env, &n, &e) != WD_OK) {
        printf("roster being signed: %s\n", e.msg);
        return false;
    }
    bool done = false;
    char prefix[160];
    if (wd_roster_count(n, env, WD_PURPOSE_ROSTER_ROOT, now, &s, &e) == WD_OK) {
        snprintf(prefix, sizeof prefix, "roster version %lld (this one): ", (long long)n->version);
        done = print_count(prefix, &s);
    }
    if (r != NULL && wd_roster_count(r, env, WD_PURPOSE_ROSTER_ROOT, now, &s, &e) == WD_OK) {
        snprintf(prefix, sizeof prefix, "roster version %lld (the one it replaces): ",
                 (long long)r->version);
        done = print_count(prefix, &s) && done;
    } else if (r == NULL && n->version > 1) {
        if (has_roster_flags)
            printf("roster version %lld (the one it replaces): not given (give it with --roster "
                   "and --pin to count its root signatures too)\n",
                   (long long)n->version - 1);
        else
            printf("roster version %lld (the one it replaces): its root threshold must be met "
                   "too (not counted here)\n",
                   (long long)n->version - 1);
        done = false;
    }
    wd_roster_free(n);
    return done;
}

void signflow_print_written(const char *data, size_t len, const wd_roster *r)
{
    wd_dsse d;
    if (wd_dsse_decode_draft((const unsigned char *)data, len, WD_MAX_ENVELOPE, &d, NULL) !=
        WD_OK)
        return;
    signflow_status(&d, r, wd_now(), true);
    wd_dsse_free(&d);
}

wd_code signflow_signers_count(const wd_roster *r, wd_purpose p, wd_key *const *keys, size_t n,
                               char *const *paths, int64_t now, wd_err *e)
{
    for (size_t i = 0; r != NULL && i < n; i++) {
        wd_code c = wd_roster_key_counts(r, wd_key_id(keys[i]), p, now, e);
        if (c != WD_OK)
            return wd_msg_prefix(c, e, "--sign %s", paths[i]);
    }
    return WD_OK;
}
