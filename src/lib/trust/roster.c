/* roster.c — the trust roster (SPEC §2): strict decoding, bootstrap against a pinned root
 * fingerprint, rotation N -> N+1 (TUF §5.3), the signature-threshold check that every signed
 * message goes through, and building and encoding rosters for the signing tools.
 * It must never count a signature that did not verify, never count one key twice, never use a
 * field of a roster payload before that payload's signatures are checked (the pin-only
 * bootstrap reads only root.keys to find the pinned key, SPEC §1.2), and never change state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust/roster.h"
#include "base/base.h"
#include "codec/json.h"

/* How much of an untrusted value is shown in a message. */
#define SHOWN 80
/* Room for a field path in a message. */
#define PATH_SZ 128

/* ---- purposes ---- */

static const struct {
    wd_purpose bit;
    const char *name;
} purposes[] = {
    {WD_PURPOSE_ROSTER_ROOT, "roster-root"},
    {WD_PURPOSE_BUNDLE_SIGNING, "policy-bundle-signing"},
    {WD_PURPOSE_BUNDLE_ROLLBACK, "policy-bundle-rollback"},
    {WD_PURPOSE_KILL_SIGNING, "remote-kill-signing"},
    {WD_PURPOSE_AUDIT_SIGNING, "audit-batch-signing"},
};
#define NPURPOSES (sizeof purposes / sizeof purposes[0])
#define ALL_PURPOSES                                                                             \
    (WD_PURPOSE_ROSTER_ROOT | WD_PURPOSE_BUNDLE_SIGNING | WD_PURPOSE_BUNDLE_ROLLBACK |          \
     WD_PURPOSE_KILL_SIGNING | WD_PURPOSE_AUDIT_SIGNING)

const char *wd_purpose_name(wd_purpose p)
{
    for (size_t i = 0; i < NPURPOSES; i++)
        if (purposes[i].bit == p)
            return purposes[i].name;
    return NULL;
}

unsigned wd_purpose_parse(const char *s)
{
    if (s == NULL)
        return 0;
    for (size_t i = 0; i < NPURPOSES; i++)
        if (strcmp(purposes[i].name, s) == 0)
            return purposes[i].bit;
    return 0;
}

int wd_roster_threshold(const wd_roster *r, wd_purpose p)
{
    if (r == NULL)
        return 0;
    switch (p) {
    case WD_PURPOSE_ROSTER_ROOT: return r->root_threshold;
    case WD_PURPOSE_BUNDLE_SIGNING: return r->threshold_bundle;
    case WD_PURPOSE_BUNDLE_ROLLBACK: return r->threshold_rollback;
    case WD_PURPOSE_KILL_SIGNING: return r->threshold_kill;
    case WD_PURPOSE_AUDIT_SIGNING: return r->threshold_audit;
    }
    return 0;
}

/* ---- freeing ---- */

static void key_clear(wd_roster_key *k)
{
    if (k->key != NULL)
        wd_key_free(k->key);
    free(k->principal);
    memset(k, 0, sizeof *k);
}

void wd_roster_free(wd_roster *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nroot; i++)
        key_clear(&r->root_keys[i]);
    for (size_t i = 0; i < r->nkeys; i++)
        key_clear(&r->keys[i]);
    free(r->root_keys);
    free(r->keys);
    free(r->org_id);
    free(r);
}

/* ---- parsing ---- */

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

static wd_code parse_time_field(const json_t *obj, const char *key, const char *path,
                                int64_t *out, wd_err *e)
{
    char p[PATH_SZ];
    wd_code c = wd_time_parse(wd_json_str(obj, key), out, e);
    if (c != WD_OK)
        wd_err_prefix(e, c, "%s", wd_path_key(p, sizeof p, path, key));
    return c;
}

/* Purposes of one KEY: a non-empty list of known names, each at most once. */
static wd_code parse_purposes(const json_t *arr, const char *path, unsigned *out, wd_err *e)
{
    char p[PATH_SZ], q[PATH_SZ];
    wd_path_key(p, sizeof p, path, "purposes");
    if (json_array_size(arr) == 0)
        return wd_err_set(e, WD_E_MALFORMED, "%s: must name at least one purpose", p);
    unsigned bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        wd_path_index(q, sizeof q, p, i);
        if (!json_is_string(v))
            return wd_err_set(e, WD_E_MALFORMED, "%s: expected string", q);
        unsigned b = wd_purpose_parse(json_string_value(v));
        if (b == 0) {
            char shown[SHOWN];
            return wd_err_set(e, WD_E_MALFORMED, "%s: unknown purpose '%s'", q,
                              wd_clean_text(json_string_value(v), shown, sizeof shown));
        }
        if (bits & b)
            return wd_err_set(e, WD_E_MALFORMED, "%s: purpose '%s' listed twice", q,
                              wd_purpose_name((wd_purpose)b));
        bits |= b;
    }
    *out = bits;
    return WD_OK;
}

/* One KEY object (SPEC §2) into k. root says whether it sits in root.keys. */
static wd_code parse_key(const json_t *v, const char *path, bool root, wd_roster_key *k,
                         wd_err *e)
{
    static const wd_jfield fields[] = {
        {"keyid", WD_JT_STRING, true},
        {"public_key", WD_JT_STRING, true},
        {"purposes", WD_JT_ARRAY, true},
        {"valid_from", WD_JT_STRING, true},
        {"valid_until", WD_JT_STRING_OR_NULL, true},
        {"status", WD_JT_STRING, true},
        {"principal", WD_JT_STRING, false},
    };
    char p[PATH_SZ];
    wd_code c = wd_json_check(v, path, fields, sizeof fields / sizeof fields[0], e);
    if (c != WD_OK)
        return c;

    unsigned char want[WD_SHA256_LEN];
    c = wd_digest_parse(wd_json_str(v, "keyid"), want, e);
    if (c != WD_OK)
        return wd_err_prefix(e, c, "%s", wd_path_key(p, sizeof p, path, "keyid"));

    const char *b64 = wd_json_str(v, "public_key");
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    c = wd_b64_decode(b64, strlen(b64), &raw, &rawlen, e);
    if (c != WD_OK)
        return wd_err_prefix(e, c, "%s", wd_path_key(p, sizeof p, path, "public_key"));
    if (rawlen != WD_ED25519_PUB_LEN) {
        free(raw);
        return wd_err_set(e, WD_E_MALFORMED, "%s: %zu bytes, an Ed25519 public key has %d",
                          wd_path_key(p, sizeof p, path, "public_key"), rawlen,
                          WD_ED25519_PUB_LEN);
    }
    unsigned char got[WD_SHA256_LEN];
    c = wd_sha256(raw, rawlen, got, e);
    if (c != WD_OK) {
        free(raw);
        return c;
    }
    if (!wd_ct_eq(want, got, sizeof got)) {
        free(raw);
        return wd_err_set(e, WD_E_MALFORMED, "%s: is not the digest of public_key",
                          wd_path_key(p, sizeof p, path, "keyid"));
    }
    c = wd_key_from_raw_public(raw, &k->key, e);
    free(raw);
    if (c != WD_OK) {
        k->key = NULL;
        if (wd_code_is_rejection(c) || c == WD_E_CRYPTO)
            c = WD_E_MALFORMED;
        return wd_err_set(e, c, "%s: not a usable Ed25519 public key",
                          wd_path_key(p, sizeof p, path, "public_key"));
    }

    c = parse_purposes(json_object_get(v, "purposes"), path, &k->purposes, e);
    if (c != WD_OK)
        return c;
    wd_path_key(p, sizeof p, path, "purposes");
    if (root && k->purposes != WD_PURPOSE_ROSTER_ROOT)
        return wd_err_set(e, WD_E_MALFORMED,
                          "%s: a root key carries exactly roster-root (list the key in keys "
                          "for other purposes)",
                          p);
    if (!root && (k->purposes & WD_PURPOSE_ROSTER_ROOT))
        return wd_err_set(e, WD_E_MALFORMED, "%s: roster-root is for root.keys only", p);

    c = parse_time_field(v, "valid_from", path, &k->valid_from, e);
    if (c != WD_OK)
        return c;
    if (json_is_null(json_object_get(v, "valid_until"))) {
        k->valid_until = INT64_MAX;
    } else {
        c = parse_time_field(v, "valid_until", path, &k->valid_until, e);
        if (c != WD_OK)
            return c;
        if (k->valid_until <= k->valid_from)
            return wd_err_set(e, WD_E_MALFORMED, "%s: must be after valid_from",
                              wd_path_key(p, sizeof p, path, "valid_until"));
    }

    const char *status = wd_json_str(v, "status");
    if (strcmp(status, "active") == 0) {
        k->revoked = false;
    } else if (strcmp(status, "revoked") == 0) {
        k->revoked = true;
    } else {
        char shown[SHOWN];
        return wd_err_set(e, WD_E_MALFORMED, "%s: '%s' is neither active nor revoked",
                          wd_path_key(p, sizeof p, path, "status"),
                          wd_clean_text(status, shown, sizeof shown));
    }

    const char *principal = wd_json_str(v, "principal");
    if (principal != NULL) {
        if (has_control(principal))
            return wd_err_set(e, WD_E_MALFORMED, "%s: contains control characters",
                              wd_path_key(p, sizeof p, path, "principal"));
        k->principal = strdup(principal);
        if (k->principal == NULL)
            return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");
    }
    return WD_OK;
}

/* A list of KEY objects (already counted against the limit) into a new array. */
static wd_code parse_key_list(const json_t *arr, const char *path, bool root,
                              wd_roster_key **out, size_t *nout, wd_err *e)
{
    size_t n = json_array_size(arr);
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return WD_OK;
    wd_roster_key *keys = calloc(n, sizeof *keys);
    if (keys == NULL)
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");
    /* Publish the array at once: every entry is zeroed, so the caller can free it on error. */
    *out = keys;
    *nout = n;
    char p[PATH_SZ];
    for (size_t i = 0; i < n; i++) {
        wd_path_index(p, sizeof p, path, i);
        wd_code c = parse_key(json_array_get(arr, i), p, root, &keys[i], e);
        if (c != WD_OK)
            return c;
        for (size_t j = 0; j < i; j++)
            if (wd_ct_eq(wd_key_raw_public(keys[j].key), wd_key_raw_public(keys[i].key),
                         WD_ED25519_PUB_LEN))
                return wd_err_set(e, WD_E_MALFORMED,
                                  "%s: public key %s is already listed at %s[%zu] (a key "
                                  "appears once in a roster)",
                                  p, wd_key_id(keys[i].key), path, j);
    }
    return WD_OK;
}

/* SPEC §2: a public key appears once in a roster. A key in both root.keys and keys would stay
 * active in one place after being revoked in the other, and would let a root key sign
 * messages. Called after both lists are decoded; names both places. */
static wd_code check_once(const wd_roster *r, wd_err *e)
{
    for (size_t i = 0; i < r->nkeys; i++)
        for (size_t j = 0; j < r->nroot; j++)
            if (wd_ct_eq(wd_key_raw_public(r->keys[i].key),
                         wd_key_raw_public(r->root_keys[j].key), WD_ED25519_PUB_LEN))
                return wd_err_set(e, WD_E_MALFORMED,
                                  "keys[%zu]: public key %s is already listed at root.keys[%zu] "
                                  "(a key appears once in a roster)",
                                  i, wd_key_id(r->keys[i].key), j);
    return WD_OK;
}

static wd_code parse_threshold(const json_t *obj, const char *key, const char *path, int *out,
                               wd_err *e)
{
    char p[PATH_SZ];
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return WD_OK; /* keep the default */
    json_int_t t = json_integer_value(v);
    if (t < WD_MIN_THRESHOLD || t > WD_MAX_THRESHOLD)
        return wd_err_set(e, WD_E_MALFORMED, "%s: %lld is not in %d..%d",
                          wd_path_key(p, sizeof p, path, key), (long long)t, WD_MIN_THRESHOLD,
                          WD_MAX_THRESHOLD);
    *out = (int)t;
    return WD_OK;
}

static wd_code parse_tree(const json_t *doc, wd_roster *r, wd_err *e)
{
    /* A newer schema may carry fields this warden does not know: its version is checked
     * before anything else, so that it is unsupported-version and not unknown-field. */
    const json_t *sv = json_is_object(doc) ? json_object_get(doc, "schema_version") : NULL;
    if (json_is_integer(sv) && json_integer_value(sv) != WD_ROSTER_SCHEMA_VERSION)
        return wd_err_set(e, WD_E_UNSUPPORTED_VERSION,
                          "roster: schema_version %lld is not supported (this warden reads %d)",
                          (long long)json_integer_value(sv), WD_ROSTER_SCHEMA_VERSION);

    static const wd_jfield top[] = {
        {"schema_version", WD_JT_INT, true},
        {"org_id", WD_JT_STRING, true},
        {"version", WD_JT_INT, true},
        {"created_at", WD_JT_STRING, true},
        {"expires_at", WD_JT_STRING, true},
        {"root", WD_JT_OBJECT, true},
        {"keys", WD_JT_ARRAY, true},
        {"thresholds", WD_JT_OBJECT, false},
    };
    wd_code c = wd_json_check(doc, "", top, sizeof top / sizeof top[0], e);
    if (c != WD_OK)
        return c;
    static const wd_jfield rootf[] = {
        {"threshold", WD_JT_INT, true},
        {"keys", WD_JT_ARRAY, true},
    };
    const json_t *root = json_object_get(doc, "root");
    c = wd_json_check(root, "root", rootf, sizeof rootf / sizeof rootf[0], e);
    if (c != WD_OK)
        return c;
    /* Thresholds name purposes, which are schema: a name that is not one of these is a field
     * the schema does not have, so it is unknown-field (as anywhere else in a payload), and
     * roster-root is not among them because root.threshold sets it. */
    static const wd_jfield thrf[] = {
        {"policy-bundle-signing", WD_JT_INT, false},
        {"policy-bundle-rollback", WD_JT_INT, false},
        {"remote-kill-signing", WD_JT_INT, false},
        {"audit-batch-signing", WD_JT_INT, false},
    };
    const json_t *thr = json_object_get(doc, "thresholds");
    if (thr != NULL) {
        c = wd_json_check(thr, "thresholds", thrf, sizeof thrf / sizeof thrf[0], e);
        if (c != WD_OK)
            return c;
    }

    /* Count keys before decoding any of them. */
    const json_t *rkeys = json_object_get(root, "keys");
    const json_t *keys = json_object_get(doc, "keys");
    size_t total = json_array_size(rkeys) + json_array_size(keys);
    if (total > WD_MAX_ROSTER_KEYS)
        return wd_err_set(e, WD_E_OVERSIZED, "roster: %zu keys, more than the limit of %d",
                          total, WD_MAX_ROSTER_KEYS);

    const char *org = wd_json_str(doc, "org_id");
    if (!wd_id_valid(org)) {
        char shown[SHOWN];
        return wd_err_set(e, WD_E_MALFORMED, "org_id: '%s' is not an id",
                          wd_clean_text(org, shown, sizeof shown));
    }
    r->org_id = strdup(org);
    if (r->org_id == NULL)
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");

    json_int_t ver = wd_json_int(doc, "version");
    if (ver < 1 || ver > WD_MAX_SAFE_INTEGER)
        return wd_err_set(e, WD_E_MALFORMED, "version: %lld, must be in 1 .. %lld",
                          (long long)ver, (long long)WD_MAX_SAFE_INTEGER);
    r->version = (int64_t)ver;

    c = parse_time_field(doc, "created_at", "", &r->created_at, e);
    if (c != WD_OK)
        return c;
    c = parse_time_field(doc, "expires_at", "", &r->expires_at, e);
    if (c != WD_OK)
        return c;
    if (r->expires_at <= r->created_at)
        return wd_err_set(e, WD_E_MALFORMED, "expires_at: must be after created_at");

    json_int_t rt = wd_json_int(root, "threshold");
    if (rt < WD_MIN_THRESHOLD || rt > WD_MAX_THRESHOLD)
        return wd_err_set(e, WD_E_MALFORMED, "root.threshold: %lld is not in %d..%d",
                          (long long)rt, WD_MIN_THRESHOLD, WD_MAX_THRESHOLD);
    r->root_threshold = (int)rt;
    if (json_array_size(rkeys) == 0)
        return wd_err_set(e, WD_E_MALFORMED, "root.keys: must hold at least one key");
    if ((size_t)rt > json_array_size(rkeys))
        return wd_err_set(e, WD_E_MALFORMED,
                          "root.threshold: %lld is more than the %zu root key(s)", (long long)rt,
                          json_array_size(rkeys));

    r->threshold_bundle = 1;
    r->threshold_rollback = 2;
    r->threshold_kill = 2;
    r->threshold_audit = 1;
    if (thr != NULL) {
        if ((c = parse_threshold(thr, "policy-bundle-signing", "thresholds",
                                 &r->threshold_bundle, e)) != WD_OK ||
            (c = parse_threshold(thr, "policy-bundle-rollback", "thresholds",
                                 &r->threshold_rollback, e)) != WD_OK ||
            (c = parse_threshold(thr, "remote-kill-signing", "thresholds", &r->threshold_kill,
                                 e)) != WD_OK ||
            (c = parse_threshold(thr, "audit-batch-signing", "thresholds", &r->threshold_audit,
                                 e)) != WD_OK)
            return c;
    }

    c = parse_key_list(rkeys, "root.keys", true, &r->root_keys, &r->nroot, e);
    if (c != WD_OK)
        return c;
    c = parse_key_list(keys, "keys", false, &r->keys, &r->nkeys, e);
    if (c != WD_OK)
        return c;
    return check_once(r, e);
}

wd_code wd_roster_parse(const unsigned char *payload, size_t len, wd_roster **out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "roster: no output given");
    *out = NULL;
    json_t *doc = NULL;
    wd_code c = wd_json_parse(payload, len, WD_MAX_ROSTER_ENVELOPE, &doc, e);
    if (c != WD_OK)
        return wd_err_prefix(e, c, "roster");
    wd_roster *r = calloc(1, sizeof *r);
    if (r == NULL) {
        json_decref(doc);
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");
    }
    c = parse_tree(doc, r, e);
    json_decref(doc);
    if (c == WD_OK)
        c = wd_digest_of(payload, len, r->hash, e);
    if (c != WD_OK) {
        wd_roster_free(r);
        return c;
    }
    *out = r;
    return WD_OK;
}

/* ---- counting signatures ---- */

/* What the signatures of an envelope amount to against one list of keys, for one purpose. */
typedef struct tally {
    size_t counted;         /* distinct keys that verified, are active, valid and carry p */
    bool want_counted;      /* the key at the index asked for is among them */
    size_t known;           /* signatures whose keyid names a key of the list */
    int bad, revoked, expired, purpose; /* index of the first such key, or -1 */
    int unknown;            /* index of the first signature by a key not in the list, or -1 */
    size_t nunknown;        /* signatures by keys not in the list */
    char unknown_id[WD_DIGEST_STRLEN + 1]; /* its keyid */
} tally;

/* Check every signature of env against keys[0..n) (skipping signature i when skip[i]) and fill
 * t; t->want_counted says whether keys[want] counted (want may be -1). sig_result (may be
 * NULL) gets each signature's verdict as wd_dsse_check gives it. Operational errors only. */
static wd_code tally_sigs(const wd_roster_key *keys, size_t n, const wd_dsse *env, unsigned p,
                          int64_t now, const bool *skip, int *sig_result, int want, tally *t,
                          wd_err *e)
{
    memset(t, 0, sizeof *t);
    t->bad = t->revoked = t->expired = t->purpose = t->unknown = -1;
    for (size_t i = 0; i < env->nsigs && i < WD_MAX_SIGNATURES && n == 0; i++) {
        if (skip != NULL && skip[i])
            continue;
        if (t->unknown < 0) {
            t->unknown = (int)i;
            memcpy(t->unknown_id, env->sigs[i].keyid, sizeof t->unknown_id);
        }
        t->nunknown++;
    }
    if (n > WD_MAX_ROSTER_KEYS || env->nsigs > WD_MAX_SIGNATURES)
        return wd_err_set(e, WD_E_INTERNAL, "roster: key or signature count out of range");
    if (n == 0 || env->nsigs == 0) {
        if (sig_result != NULL)
            for (size_t i = 0; i < WD_MAX_SIGNATURES; i++)
                sig_result[i] = WD_SIG_UNKNOWN_KEY;
        return WD_OK;
    }
    wd_key *ks[WD_MAX_ROSTER_KEYS];
    for (size_t i = 0; i < n; i++)
        ks[i] = keys[i].key;
    int res[WD_MAX_SIGNATURES];
    wd_code c = wd_dsse_check(env, ks, n, res, e);
    if (c != WD_OK)
        return c;
    bool seen[WD_MAX_ROSTER_KEYS] = {false};
    for (size_t i = 0; i < env->nsigs; i++) {
        if (sig_result != NULL)
            sig_result[i] = res[i];
        if (skip != NULL && skip[i])
            continue;
        if (res[i] == WD_SIG_UNKNOWN_KEY) {
            if (t->unknown < 0) {
                t->unknown = (int)i;
                memcpy(t->unknown_id, env->sigs[i].keyid, sizeof t->unknown_id);
            }
            t->nunknown++;
            continue;
        }
        t->known++;
        if (res[i] == WD_SIG_INVALID || res[i] < 0 || (size_t)res[i] >= n) {
            if (t->bad < 0) {
                /* Name the key by its index in keys[]: find it by the signature's keyid. */
                unsigned char sigkid[WD_SHA256_LEN];
                int idx = 0;
                if (wd_digest_parse(env->sigs[i].keyid, sigkid, NULL) == WD_OK) {
                    for (size_t j = 0; j < n; j++) {
                        unsigned char h[WD_SHA256_LEN];
                        if (wd_digest_parse(wd_key_id(keys[j].key), h, NULL) == WD_OK &&
                            wd_ct_eq(h, sigkid, sizeof h)) {
                            idx = (int)j;
                            break;
                        }
                    }
                }
                t->bad = idx;
            }
            continue;
        }
        size_t k = (size_t)res[i];
        if (seen[k])
            continue; /* the same key signed twice: it counts once */
        seen[k] = true;
        const wd_roster_key *rk = &keys[k];
        if (rk->revoked) {
            if (t->revoked < 0)
                t->revoked = (int)k;
        } else if (now < rk->valid_from || now >= rk->valid_until) {
            if (t->expired < 0)
                t->expired = (int)k;
        } else if (!(rk->purposes & p)) {
            if (t->purpose < 0)
                t->purpose = (int)k;
        } else {
            t->counted++;
            if ((int)k == want)
                t->want_counted = true;
        }
    }
    return WD_OK;
}

/* The verdict of a tally that did not reach threshold, with SPEC §2's precedence:
 * bad-signature, revoked-key, expired-key, wrong-purpose, then none_code when no signature
 * named a key of the list, then threshold. what names the key list in the message. */
static wd_code tally_verdict(const tally *t, const wd_roster_key *keys, unsigned p,
                             int threshold, wd_code none_code, const char *what, wd_err *e)
{
    const char *pn = wd_purpose_name((wd_purpose)p);
    if (t->bad >= 0)
        return wd_err_set(e, WD_E_BAD_SIGNATURE, "%s: signature by %s does not verify", what,
                          wd_key_id(keys[t->bad].key));
    if (t->revoked >= 0)
        return wd_err_set(e, WD_E_REVOKED_KEY, "%s: key %s is revoked (%zu of %d valid %s)",
                          what, wd_key_id(keys[t->revoked].key), t->counted, threshold, pn);
    if (t->expired >= 0) {
        const wd_roster_key *k = &keys[t->expired];
        char from[WD_TIME_STRLEN + 1], until[WD_TIME_STRLEN + 1];
        wd_time_format(k->valid_from, from);
        if (k->valid_until == INT64_MAX)
            snprintf(until, sizeof until, "%s", "(none)");
        else
            wd_time_format(k->valid_until, until);
        return wd_err_set(e, WD_E_EXPIRED_KEY,
                          "%s: key %s is valid from %s until %s only (%zu of %d valid %s)", what,
                          wd_key_id(k->key), from, until, t->counted, threshold, pn);
    }
    if (t->purpose >= 0)
        return wd_err_set(e, WD_E_WRONG_PURPOSE, "%s: key %s does not carry %s (%zu of %d)",
                          what, wd_key_id(keys[t->purpose].key), pn, t->counted, threshold);
    if (t->known == 0 && t->unknown >= 0)
        return wd_err_set(e, none_code,
                          "%s: no signature is by one of its keys: signed by %s%s, which %s "
                          "not %s (0 of %d %s)",
                          what, t->unknown_id, t->nunknown > 1 ? " and others" : "",
                          t->nunknown > 1 ? "are" : "is",
                          p != WD_PURPOSE_ROSTER_ROOT ? "in the roster"
                          : t->nunknown > 1           ? "root keys of it"
                                                      : "a root key of it",
                          threshold, pn);
    if (t->known == 0)
        return wd_err_set(e, none_code, "%s: no signature is by one of its keys (0 of %d %s)",
                          what, threshold, pn);
    return wd_err_set(e, WD_E_THRESHOLD, "%s: %zu of %d valid %s signature(s)", what,
                      t->counted, threshold, pn);
}

static bool purpose_valid(wd_purpose p)
{
    return wd_purpose_name(p) != NULL;
}

wd_code wd_roster_check_signatures(const wd_roster *r, const wd_dsse *env, wd_purpose p,
                                   int64_t now, wd_err *e)
{
    if (r == NULL || env == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "signature check: no roster or envelope given");
    int threshold = wd_roster_threshold(r, p);
    if (!purpose_valid(p) || threshold < WD_MIN_THRESHOLD || threshold > WD_MAX_THRESHOLD)
        return wd_err_set(e, WD_E_INTERNAL, "signature check: no valid threshold for purpose %u",
                          (unsigned)p);
    if (p == WD_PURPOSE_ROSTER_ROOT) {
        tally t;
        wd_code c = tally_sigs(r->root_keys, r->nroot, env, p, now, NULL, NULL, -1, &t, e);
        if (c != WD_OK)
            return c;
        if (t.counted >= (size_t)threshold)
            return WD_OK;
        return tally_verdict(&t, r->root_keys, p, threshold, WD_E_BAD_SIGNATURE,
                             "roster root keys", e);
    }

    tally t;
    int res[WD_MAX_SIGNATURES];
    wd_code c = tally_sigs(r->keys, r->nkeys, env, p, now, NULL, res, -1, &t, e);
    if (c != WD_OK)
        return c;
    if (t.counted >= (size_t)threshold)
        return WD_OK;
    if (t.bad < 0) {
        /* Signers not in keys may be root keys: a valid root signature is a key of the roster
         * that lacks this purpose, a failing one a bad signature. */
        bool skip[WD_MAX_SIGNATURES];
        for (size_t i = 0; i < WD_MAX_SIGNATURES; i++)
            skip[i] = i >= env->nsigs || res[i] != WD_SIG_UNKNOWN_KEY;
        tally rt;
        c = tally_sigs(r->root_keys, r->nroot, env, p, now, skip, NULL, -1, &rt, e);
        if (c != WD_OK)
            return c;
        if (rt.bad >= 0)
            return tally_verdict(&rt, r->root_keys, p, threshold, WD_E_BAD_SIGNATURE,
                                 "roster root keys", e);
        if (t.revoked < 0 && t.expired < 0 && t.purpose < 0 && rt.known > 0) {
            const wd_roster_key *k = NULL;
            if (rt.revoked >= 0)
                k = &r->root_keys[rt.revoked];
            else if (rt.expired >= 0)
                k = &r->root_keys[rt.expired];
            else if (rt.purpose >= 0)
                k = &r->root_keys[rt.purpose];
            if (k != NULL)
                return wd_err_set(e, WD_E_WRONG_PURPOSE,
                                  "roster keys: %s is a root key and does not carry %s "
                                  "(%zu of %d)",
                                  wd_key_id(k->key), wd_purpose_name(p), t.counted, threshold);
        }
    }
    return tally_verdict(&t, r->keys, p, threshold, WD_E_BAD_SIGNATURE, "roster keys", e);
}

/* Whether k could count toward a threshold at now (its purposes aside). */
static bool key_counts_at(const wd_roster_key *k, int64_t now)
{
    return !k->revoked && now >= k->valid_from && now < k->valid_until;
}

wd_code wd_roster_count(const wd_roster *r, const wd_dsse *env, wd_purpose p, int64_t now,
                        wd_sig_count *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    if (r == NULL || env == NULL || !purpose_valid(p))
        return wd_err_set(e, WD_E_INTERNAL, "signature count: bad arguments");
    bool root = p == WD_PURPOSE_ROSTER_ROOT;
    const wd_roster_key *keys = root ? r->root_keys : r->keys;
    size_t n = root ? r->nroot : r->nkeys;
    tally t;
    wd_code c = tally_sigs(keys, n, env, p, now, NULL, NULL, -1, &t, e);
    if (c != WD_OK)
        return c;
    out->purpose = p;
    out->threshold = wd_roster_threshold(r, p);
    out->counted = t.counted;
    out->signatures = env->nsigs;
    for (size_t i = 0; i < n; i++)
        if (key_counts_at(&keys[i], now) && (keys[i].purposes & p))
            out->eligible++;
    return WD_OK;
}

wd_code wd_roster_key_counts(const wd_roster *r, const char *keyid, wd_purpose p, int64_t now,
                             wd_err *e)
{
    if (r == NULL || keyid == NULL || !purpose_valid(p))
        return wd_err_set(e, WD_E_INTERNAL, "key check: bad arguments");
    const char *pn = wd_purpose_name(p);
    bool is_root = false;
    const wd_roster_key *k = wd_roster_find(r, keyid, &is_root);
    char shown[SHOWN];
    wd_clean_text(keyid, shown, sizeof shown);
    if (k == NULL)
        return wd_err_set(e, WD_E_WRONG_PURPOSE,
                          "key %s is not in roster %s version %lld: its signature would not "
                          "count toward %s",
                          shown, r->org_id, (long long)r->version, pn);
    if (is_root != (p == WD_PURPOSE_ROSTER_ROOT))
        return wd_err_set(e, WD_E_WRONG_PURPOSE,
                          "key %s is %s of roster %s version %lld and does not carry %s", shown,
                          is_root ? "a root key" : "not a root key", r->org_id,
                          (long long)r->version, pn);
    if (k->revoked)
        return wd_err_set(e, WD_E_REVOKED_KEY,
                          "key %s is revoked in roster %s version %lld: its signature would not "
                          "count toward %s",
                          shown, r->org_id, (long long)r->version, pn);
    if (!key_counts_at(k, now)) {
        char from[WD_TIME_STRLEN + 1], until[WD_TIME_STRLEN + 1];
        wd_time_format(k->valid_from, from);
        if (k->valid_until == INT64_MAX)
            snprintf(until, sizeof until, "%s", "(none)");
        else
            wd_time_format(k->valid_until, until);
        return wd_err_set(e, WD_E_EXPIRED_KEY,
                          "key %s is valid from %s until %s only (roster %s version %lld): its "
                          "signature would not count toward %s",
                          shown, from, until, r->org_id, (long long)r->version, pn);
    }
    if (!(k->purposes & p))
        return wd_err_set(e, WD_E_WRONG_PURPOSE,
                          "key %s does not carry %s in roster %s version %lld", shown, pn,
                          r->org_id, (long long)r->version);
    return WD_OK;
}

/* ---- verifying a roster envelope ---- */

/* Root-key signatures of env against roster r's root keys; none_code when no signature is by a
 * root key. what names whose root keys these are. */
static wd_code check_root(const wd_roster *r, const wd_dsse *env, int64_t now, wd_code none_code,
                          const char *what, wd_err *e)
{
    tally t;
    wd_code c = tally_sigs(r->root_keys, r->nroot, env, WD_PURPOSE_ROSTER_ROOT, now, NULL, NULL,
                           -1, &t, e);
    if (c != WD_OK)
        return c;
    if (t.counted >= (size_t)r->root_threshold)
        return WD_OK;
    return tally_verdict(&t, r->root_keys, WD_PURPOSE_ROSTER_ROOT, r->root_threshold, none_code,
                         what, e);
}

static wd_code check_expiry(const wd_roster *r, int64_t now, wd_err *e)
{
    if (now < r->expires_at)
        return WD_OK;
    char at[WD_TIME_STRLEN + 1];
    wd_time_format(r->expires_at, at);
    return wd_err_set(e, WD_E_EXPIRED, "roster version %lld expired at %s",
                      (long long)r->version, at);
}

static wd_code verify_bootstrap(const wd_dsse *env, const char *pin, int64_t now,
                                unsigned flags, wd_roster **out, wd_err *e)
{
    unsigned char want[WD_SHA256_LEN];
    char shown[SHOWN];
    if (pin == NULL || wd_digest_parse(pin, want, NULL) != WD_OK)
        return wd_err_set(e, WD_E_USAGE, "pin '%s' is not a digest (sha256:<64 hex>)",
                          wd_clean_text(pin, shown, sizeof shown));
    /* SPEC §1.2's one exception: the root keys live inside the roster, so it is parsed
     * (strictly) to find the pinned key; nothing else in it is used before its signatures. */
    wd_roster *r = NULL;
    wd_code c = wd_roster_parse(env->payload, env->payload_len, &r, e);
    if (c != WD_OK)
        return c;
    int pinned = -1;
    for (size_t i = 0; i < r->nroot; i++) {
        unsigned char h[WD_SHA256_LEN];
        if (wd_digest_parse(wd_key_id(r->root_keys[i].key), h, NULL) == WD_OK &&
            wd_ct_eq(h, want, sizeof h))
            pinned = (int)i;
    }
    if (pinned < 0) {
        c = wd_err_set(e, WD_E_UNTRUSTED_ROOT,
                       "roster: the pinned key %s is not a root key of version %lld; if a root "
                       "rotation replaced it, pass the chain of rosters from one it signed "
                       "(--previous, oldest first)",
                       wd_clean_text(pin, shown, sizeof shown), (long long)r->version);
        wd_roster_free(r);
        return c;
    }
    /* The root threshold, and the pinned key among the signers that count: a roster that
     * merely lists the pinned public key beside keys of its own choosing, signed by those,
     * proves nothing about the pin. */
    tally t;
    c = tally_sigs(r->root_keys, r->nroot, env, WD_PURPOSE_ROSTER_ROOT, now, NULL, NULL, pinned,
                   &t, e);
    if (c == WD_OK && (t.counted < (size_t)r->root_threshold || !t.want_counted)) {
        if (t.counted < (size_t)r->root_threshold || t.bad >= 0 || t.revoked >= 0 ||
            t.expired >= 0)
            c = tally_verdict(&t, r->root_keys, WD_PURPOSE_ROSTER_ROOT, r->root_threshold,
                              WD_E_UNTRUSTED_ROOT, "roster root keys", e);
        else
            c = wd_err_set(e, WD_E_UNTRUSTED_ROOT,
                           "roster: the pinned root key %s did not sign it (%zu other root "
                           "signature(s) do not replace it)",
                           wd_key_id(r->root_keys[pinned].key), t.counted);
        /* A rotation revoked the pinned key: the code stays, the message says the way on. */
        if (t.bad < 0 && r->root_keys[pinned].revoked)
            c = wd_err_set(e, c,
                           "roster: the pinned root key %s is revoked in version %lld; if a root "
                           "rotation replaced it, pass the chain of rosters from one it signed "
                           "(--previous, oldest first)",
                           wd_key_id(r->root_keys[pinned].key), (long long)r->version);
    }
    if (c == WD_OK && !(flags & WD_ROSTER_KEEP_EXPIRED))
        c = check_expiry(r, now, e);
    if (c != WD_OK) {
        wd_roster_free(r);
        return c;
    }
    *out = r;
    return WD_OK;
}

static wd_code verify_rotation(const wd_dsse *env, const wd_roster *prev, int64_t now,
                               unsigned flags, wd_roster **out, wd_err *e)
{
    /* The previous roster's root keys vouch for these bytes before they are parsed. */
    wd_code c = check_root(prev, env, now, WD_E_THRESHOLD, "previous roster's root keys", e);
    if (c != WD_OK)
        return c;
    wd_roster *r = NULL;
    c = wd_roster_parse(env->payload, env->payload_len, &r, e);
    if (c != WD_OK)
        return c;
    char shown[SHOWN];
    if (strcmp(r->org_id, prev->org_id) != 0) {
        c = wd_err_set(e, WD_E_WRONG_SCOPE, "roster: org_id is '%s', the previous roster's is "
                                            "'%s'",
                       r->org_id, wd_clean_text(prev->org_id, shown, sizeof shown));
        goto fail;
    }
    bool same = wd_ct_eq(r->hash, prev->hash, WD_DIGEST_STRLEN) && r->version == prev->version;
    if (!same) {
        if (r->version <= prev->version) {
            c = wd_err_set(e, WD_E_STALE,
                           "roster: version %lld is not newer than the current version %lld",
                           (long long)r->version, (long long)prev->version);
            goto fail;
        }
        if (r->version - 1 != prev->version) {
            char gap[48] = "";
            if (r->version - prev->version > 2)
                snprintf(gap, sizeof gap, " to %lld", (long long)r->version - 1);
            c = wd_err_set(e, WD_E_UNTRUSTED_ROOT,
                           "roster: version %lld does not follow version %lld; the chain has a "
                           "gap (fetch %s %lld%s first)",
                           (long long)r->version, (long long)prev->version,
                           r->version - prev->version == 2 ? "version" : "versions",
                           (long long)prev->version + 1, gap);
            goto fail;
        }
    }
    c = check_root(r, env, now, WD_E_THRESHOLD, "new roster's root keys", e);
    if (c != WD_OK)
        goto fail;
    if (!(flags & WD_ROSTER_KEEP_EXPIRED)) {
        c = check_expiry(r, now, e);
        if (c != WD_OK)
            goto fail;
    }
    *out = r;
    return WD_OK;
fail:
    wd_roster_free(r);
    return c;
}

wd_code wd_roster_verify_ex(const unsigned char *buf, size_t len, const char *pin,
                            const wd_roster *previous, int64_t now, unsigned flags,
                            wd_roster **out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "roster: no output given");
    *out = NULL;
    wd_dsse env;
    memset(&env, 0, sizeof env);
    wd_code c = wd_dsse_decode(buf, len, WD_MAX_ROSTER_ENVELOPE, &env, e);
    if (c != WD_OK)
        return c;
    if (strcmp(env.payload_type, WD_ROSTER_PAYLOAD_TYPE) != 0) {
        char got[SHOWN];
        wd_clean_text(env.payload_type, got, sizeof got);
        wd_dsse_free(&env);
        return wd_err_set(e, WD_E_WRONG_TYPE, "envelope: payloadType is '%s', expected '%s'",
                          got, WD_ROSTER_PAYLOAD_TYPE);
    }
    if (previous == NULL)
        c = verify_bootstrap(&env, pin, now, flags, out, e);
    else
        c = verify_rotation(&env, previous, now, flags, out, e);
    wd_dsse_free(&env);
    return c;
}

wd_code wd_roster_verify(const unsigned char *buf, size_t len, const char *pin,
                         const wd_roster *previous, int64_t now, wd_roster **out, wd_err *e)
{
    return wd_roster_verify_ex(buf, len, pin, previous, now, 0, out, e);
}

/* ---- building ---- */

wd_code wd_roster_new(const char *org_id, wd_roster **out, wd_err *e)
{
    *out = NULL;
    char shown[SHOWN];
    if (!wd_id_valid(org_id))
        return wd_err_set(e, WD_E_USAGE, "org '%s' is not an id",
                          wd_clean_text(org_id, shown, sizeof shown));
    wd_roster *r = calloc(1, sizeof *r);
    if (r == NULL || (r->org_id = strdup(org_id)) == NULL) {
        free(r);
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");
    }
    r->version = 1;
    r->root_threshold = 1;
    r->threshold_bundle = 1;
    r->threshold_rollback = 2;
    r->threshold_kill = 2;
    r->threshold_audit = 1;
    *out = r;
    return WD_OK;
}

static wd_code key_copy(const wd_roster_key *src, wd_roster_key *dst, wd_err *e)
{
    memset(dst, 0, sizeof *dst);
    wd_code c = wd_key_from_raw_public(wd_key_raw_public(src->key), &dst->key, e);
    if (c != WD_OK) {
        dst->key = NULL;
        return c;
    }
    dst->purposes = src->purposes;
    dst->valid_from = src->valid_from;
    dst->valid_until = src->valid_until;
    dst->revoked = src->revoked;
    if (src->principal != NULL && (dst->principal = strdup(src->principal)) == NULL)
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");
    return WD_OK;
}

static wd_code list_copy(const wd_roster_key *src, size_t n, wd_roster_key **dst, size_t *ndst,
                         wd_err *e)
{
    *dst = NULL;
    *ndst = 0;
    if (n == 0)
        return WD_OK;
    if (n > WD_MAX_ROSTER_KEYS)
        return wd_err_set(e, WD_E_OVERSIZED, "roster: %zu keys, more than the limit of %d", n,
                          WD_MAX_ROSTER_KEYS);
    wd_roster_key *a = calloc(n, sizeof *a);
    if (a == NULL)
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");
    *dst = a;
    *ndst = n;
    for (size_t i = 0; i < n; i++) {
        wd_code c = key_copy(&src[i], &a[i], e);
        if (c != WD_OK)
            return c;
    }
    return WD_OK;
}

wd_code wd_roster_copy(const wd_roster *r, wd_roster **out, wd_err *e)
{
    *out = NULL;
    wd_roster *n = NULL;
    wd_code c = wd_roster_new(r->org_id, &n, e);
    if (c != WD_OK)
        return c;
    n->version = r->version;
    n->created_at = r->created_at;
    n->expires_at = r->expires_at;
    n->root_threshold = r->root_threshold;
    n->threshold_bundle = r->threshold_bundle;
    n->threshold_rollback = r->threshold_rollback;
    n->threshold_kill = r->threshold_kill;
    n->threshold_audit = r->threshold_audit;
    memcpy(n->hash, r->hash, sizeof n->hash);
    if ((c = list_copy(r->root_keys, r->nroot, &n->root_keys, &n->nroot, e)) != WD_OK ||
        (c = list_copy(r->keys, r->nkeys, &n->keys, &n->nkeys, e)) != WD_OK) {
        wd_roster_free(n);
        return c;
    }
    *out = n;
    return WD_OK;
}

wd_roster_key *wd_roster_find(const wd_roster *r, const char *keyid, bool *is_root)
{
    unsigned char want[WD_SHA256_LEN];
    if (r == NULL || wd_digest_parse(keyid, want, NULL) != WD_OK)
        return NULL;
    for (int pass = 0; pass < 2; pass++) {
        wd_roster_key *list = pass == 0 ? r->root_keys : r->keys;
        size_t n = pass == 0 ? r->nroot : r->nkeys;
        for (size_t i = 0; i < n; i++) {
            unsigned char h[WD_SHA256_LEN];
            if (wd_digest_parse(wd_key_id(list[i].key), h, NULL) == WD_OK &&
                wd_ct_eq(h, want, sizeof h)) {
                if (is_root != NULL)
                    *is_root = pass == 0;
                return &list[i];
            }
        }
    }
    return NULL;
}

wd_code wd_roster_add_key(wd_roster *r, bool root, const wd_key *k, unsigned purposes_bits,
                          int64_t valid_from, int64_t valid_until, const char *principal,
                          wd_err *e)
{
    if (r == NULL || k == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "roster: no roster or key given");
    if (purposes_bits == 0 || (purposes_bits & ~(unsigned)ALL_PURPOSES))
        return wd_err_set(e, WD_E_USAGE, "key %s: no purpose, or an unknown one", wd_key_id(k));
    if (root && purposes_bits != WD_PURPOSE_ROSTER_ROOT)
        return wd_err_set(e, WD_E_USAGE, "key %s: a root key carries exactly roster-root",
                          wd_key_id(k));
    if (!root && (purposes_bits & WD_PURPOSE_ROSTER_ROOT))
        return wd_err_set(e, WD_E_USAGE, "key %s: roster-root is for root keys only",
                          wd_key_id(k));
    if (valid_until <= valid_from)
        return wd_err_set(e, WD_E_USAGE, "key %s: valid_until must be after valid_from",
                          wd_key_id(k));
    if (principal != NULL && has_control(principal))
        return wd_err_set(e, WD_E_USAGE, "key %s: principal contains control characters",
                          wd_key_id(k));
    /* A public key appears once in a roster, whichever list it is in (SPEC §2). */
    for (int pass = 0; pass < 2; pass++) {
        const wd_roster_key *l = pass == 0 ? r->root_keys : r->keys;
        size_t ln = pass == 0 ? r->nroot : r->nkeys;
        for (size_t i = 0; i < ln; i++)
            if (wd_ct_eq(wd_key_raw_public(l[i].key), wd_key_raw_public(k), WD_ED25519_PUB_LEN))
                return wd_err_set(e, WD_E_USAGE,
                                  "key %s is already in the roster at %s[%zu] (%s); a key "
                                  "appears once in a roster",
                                  wd_key_id(k), pass == 0 ? "root.keys" : "keys", i,
                                  l[i].revoked ? "revoked" : "active");
    }
    wd_roster_key **list = root ? &r->root_keys : &r->keys;
    size_t *n = root ? &r->nroot : &r->nkeys;
    if (r->nroot + r->nkeys + 1 > WD_MAX_ROSTER_KEYS)
        return wd_err_set(e, WD_E_OVERSIZED, "roster: more than %d keys", WD_MAX_ROSTER_KEYS);

    wd_roster_key nk;
    memset(&nk, 0, sizeof nk);
    wd_code c = wd_key_from_raw_public(wd_key_raw_public(k), &nk.key, e);
    if (c != WD_OK)
        return c;
    if (principal != NULL && (nk.principal = strdup(principal)) == NULL) {
        key_clear(&nk);
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");
    }
    nk.purposes = purposes_bits;
    nk.valid_from = valid_from;
    nk.valid_until = valid_until;
    nk.revoked = false;
    wd_roster_key *grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (grown == NULL) {
        key_clear(&nk);
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory");
    }
    grown[*n] = nk;
    *list = grown;
    (*n)++;
    return WD_OK;
}

/* ---- encoding ---- */

/* Set key to a new value in obj; false when out of memory (val is released either way). */
static bool put(json_t *obj, const char *key, json_t *val)
{
    return val != NULL && json_object_set_new(obj, key, val) == 0;
}

static bool put_time(json_t *obj, const char *key, int64_t t)
{
    char s[WD_TIME_STRLEN + 1];
    wd_time_format(t, s);
    return put(obj, key, json_string(s));
}

static json_t *key_to_json(const wd_roster_key *k)
{
    json_t *o = json_object();
    json_t *ps = json_array();
    char *b64 = wd_b64_encode(wd_key_raw_public(k->key), WD_ED25519_PUB_LEN);
    bool ok = o != NULL && ps != NULL && b64 != NULL;
    for (size_t i = 0; ok && i < NPURPOSES; i++)
        if (k->purposes & purposes[i].bit)
            ok = json_array_append_new(ps, json_string(purposes[i].name)) == 0;
    ok = ok && put(o, "keyid", json_string(wd_key_id(k->key))) &&
         put(o, "public_key", json_string(b64));
    if (ok) {
        ok = json_object_set_new(o, "purposes", ps) == 0;
        ps = NULL;
    }
    ok = ok && put_time(o, "valid_from", k->valid_from);
    if (ok && k->valid_until == INT64_MAX)
        ok = put(o, "valid_until", json_null());
    else if (ok)
        ok = put_time(o, "valid_until", k->valid_until);
    ok = ok && put(o, "status", json_string(k->revoked ? "revoked" : "active"));
    if (ok && k->principal != NULL)
        ok = put(o, "principal", json_string(k->principal));
    free(b64);
    json_decref(ps);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *list_to_json(const wd_roster_key *keys, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *k = key_to_json(&keys[i]);
        if (k == NULL || json_array_append_new(a, k) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

wd_code wd_roster_encode(const wd_roster *r, char **out, size_t *outlen, wd_err *e)
{
    *out = NULL;
    if (outlen != NULL)
        *outlen = 0;
    json_t *o = json_object();
    json_t *root = json_object();
    json_t *thr = json_object();
    bool ok = o != NULL && root != NULL && thr != NULL &&
              put(o, "schema_version", json_integer(WD_ROSTER_SCHEMA_VERSION)) &&
              put(o, "org_id", json_string(r->org_id ? r->org_id : "")) &&
              put(o, "version", json_integer((json_int_t)r->version)) &&
              put_time(o, "created_at", r->created_at) &&
              put_time(o, "expires_at", r->expires_at) &&
              put(root, "threshold", json_integer(r->root_threshold)) &&
              put(root, "keys", list_to_json(r->root_keys, r->nroot));
    if (ok) {
        ok = json_object_set_new(o, "root", root) == 0;
        root = NULL;
    }
    ok = ok && put(o, "keys", list_to_json(r->keys, r->nkeys)) &&
         put(thr, "policy-bundle-signing", json_integer(r->threshold_bundle)) &&
         put(thr, "policy-bundle-rollback", json_integer(r->threshold_rollback)) &&
         put(thr, "remote-kill-signing", json_integer(r->threshold_kill)) &&
         put(thr, "audit-batch-signing", json_integer(r->threshold_audit));
    if (ok) {
        ok = json_object_set_new(o, "thresholds", thr) == 0;
        thr = NULL;
    }
    json_decref(root);
    json_decref(thr);
    size_t len = 0;
    char *s = ok ? wd_json_dump(o, &len) : NULL;
    json_decref(o);
    if (s == NULL)
        return wd_err_set(e, WD_E_NOMEM, "roster: out of memory while encoding");
    /* Never hand out a payload the verifier would refuse. */
    wd_roster *check = NULL;
    wd_code c = wd_roster_parse((const unsigned char *)s, len, &check, e);
    wd_roster_free(check);
    if (c != WD_OK) {
        free(s);
        return wd_err_prefix(e, c, "refusing to encode roster");
    }
    *out = s;
    if (outlen != NULL)
        *outlen = len;
    return WD_OK;
}

wd_code wd_roster_sign(const wd_roster *r, wd_key *const *keys, size_t nkeys, char **out,
                       size_t *outlen, wd_err *e)
{
    *out = NULL;
    char *payload = NULL;
    size_t plen = 0;
    wd_code c = wd_roster_encode(r, &payload, &plen, e);
    if (c != WD_OK)
        return c;
    c = wd_dsse_sign_draft(WD_ROSTER_PAYLOAD_TYPE, (const unsigned char *)payload, plen, keys, nkeys,
                     out, outlen, e);
    free(payload);
    return c;
}
