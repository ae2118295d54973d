/* fuzz_roster.c — libFuzzer target for trust rosters: the input is tried as a roster payload
 * (wd_roster_parse, then encode and parse again, which must round-trip exactly), as a first
 * roster envelope against a fixed pin, and as the rotation that follows a fixed version 1.
 * Every rejection must come with its code and a message and hand out nothing; every accepted
 * envelope's signatures are then put through wd_roster_check_signatures for each purpose.
 * It must never accept a roster whose encoding does not parse back to the same bytes, one that
 * lists a public key twice (in one list, or in root.keys and keys), or a version outside
 * 1 .. 2^53-1: any of these aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "msg/dsse.h"
#include "trust/roster.h"
#include "warden/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The root key of the seed corpus in fuzz/corpus/roster/ (its private half is not kept). */
#define PIN "sha256:6f530f7a435695bdd69eeb8649f30126b6f594a304392a1a7c193f3b9fa02ccf"
/* Inside the corpus rosters' validity. */
#define NOW_TEXT "2027-01-01T00:00:00Z"

/* Version 1 of the corpus chain: the starting point for rotations. */
static const char v1_payload[] =
    "{\"schema_version\":1,\"org_id\":\"acme\",\"version\":1,\"created_at\":"
    "\"2026-11-23T12:41:31Z\",\"expires_at\":\"2027-11-23T12:41:31Z\",\"root\":{\"threshold\":1,"
    "\"keys\":[{\"keyid\":\"sha256:6f530f7a435695bdd69eeb8649f30126b6f594a304392a1a7c193f3b9fa0"
    "2ccf\",\"public_key\":\"SFwnLal64cb7aydTd/gpLLHUGUc2lLPmXxIxRE1i6PI=\",\"purposes\":["
    "\"roster-root\"],\"valid_from\":\"2026-11-23T12:41:31Z\",\"valid_until\":null,\"status\":"
    "\"active\"}]},\"keys\":[],\"thresholds\":{\"policy-bundle-signing\":1,"
    "\"policy-bundle-rollback\":2,\"remote-kill-signing\":2,\"audit-batch-signing\":1}}";

static wd_roster *v1;
static int64_t now;

static void setup(void)
{
    if (v1 != NULL)
        return;
    if (wd_time_parse(NOW_TEXT, &now, NULL) != WD_OK ||
        wd_roster_parse((const unsigned char *)v1_payload, strlen(v1_payload), &v1, NULL) !=
            WD_OK)
        __builtin_trap();
}

/* The invariants of every accepted roster (SPEC §2, §3): each public key is listed once across
 * root.keys and keys, and the version is in 1 .. 2^53-1. Aborts otherwise. */
static void check_invariants(const wd_roster *r)
{
    size_t n = r->nroot + r->nkeys;
    if (r->version < 1 || r->version > WD_MAX_SAFE_INTEGER || n > WD_MAX_ROSTER_KEYS)
        abort();
    for (size_t i = 0; i < n; i++) {
        const wd_roster_key *a = i < r->nroot ? &r->root_keys[i] : &r->keys[i - r->nroot];
        for (size_t j = i + 1; j < n; j++) {
            const wd_roster_key *b = j < r->nroot ? &r->root_keys[j] : &r->keys[j - r->nroot];
            if (memcmp(wd_key_raw_public(a->key), wd_key_raw_public(b->key),
                       WD_ED25519_PUB_LEN) == 0 ||
                strcmp(wd_key_id(a->key), wd_key_id(b->key)) == 0)
                abort();
        }
    }
}

/* A rejection must carry its code and a message, and hand out nothing. */
static void check_rejection(wd_code c, const wd_err *e, const wd_roster *r)
{
    if (r != NULL || e->code != c || e->msg[0] == '\0')
        __builtin_trap();
}

static void as_payload(const uint8_t *data, size_t size)
{
    wd_roster *r = NULL;
    wd_err e;
    wd_code c = wd_roster_parse(data, size, &r, &e);
    if (c != WD_OK) {
        check_rejection(c, &e, r);
        return;
    }
    if (r->nroot == 0 || r->nroot + r->nkeys > WD_MAX_ROSTER_KEYS || r->version < 1 ||
        r->root_threshold < WD_MIN_THRESHOLD || (size_t)r->root_threshold > r->nroot ||
        r->expires_at <= r->created_at)
        __builtin_trap();
    check_invariants(r);
    /* Encode, parse back, encode again: the two encodings must be the same bytes. */
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    wd_roster *back = NULL;
    if (wd_roster_encode(r, &a, &alen, &e) != WD_OK ||
        wd_roster_parse((const unsigned char *)a, alen, &back, &e) != WD_OK ||
        wd_roster_encode(back, &b, &blen, &e) != WD_OK || alen != blen ||
        memcmp(a, b, alen) != 0 || back->version != r->version ||
        back->nkeys != r->nkeys || back->nroot != r->nroot)
        __builtin_trap();
    free(a);
    free(b);
    wd_roster_free(back);
    wd_roster_free(r);
}

static void check_all_purposes(const uint8_t *data, size_t size, const wd_roster *r)
{
    wd_dsse env;
    wd_err e;
    if (wd_dsse_decode(data, size, WD_MAX_ROSTER_ENVELOPE, &env, &e) != WD_OK)
        __builtin_trap(); /* it was just accepted */
    static const wd_purpose ps[] = {WD_PURPOSE_ROSTER_ROOT, WD_PURPOSE_BUNDLE_SIGNING,
                                    WD_PURPOSE_BUNDLE_ROLLBACK, WD_PURPOSE_KILL_SIGNING,
                                    WD_PURPOSE_AUDIT_SIGNING};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        wd_code c = wd_roster_check_signatures(r, &env, ps[i], now, &e);
        if (c != WD_OK && (e.code != c || !wd_code_is_rejection(c)))
            __builtin_trap();
    }
    /* An accepted roster carries its own root threshold. */
    if (wd_roster_check_signatures(r, &env, WD_PURPOSE_ROSTER_ROOT, now, &e) != WD_OK)
        __builtin_trap();
    wd_dsse_free(&env);
}

static void as_envelope(const uint8_t *data, size_t size)
{
    wd_roster *r = NULL;
    wd_err e;
    wd_code c = wd_roster_verify(data, size, PIN, NULL, now, &r, &e);
    if (c != WD_OK) {
        check_rejection(c, &e, r);
    } else {
        if (r->expires_at <= now)
            __builtin_trap();
        check_invariants(r);
        check_all_purposes(data, size, r);
        /* The same roster again is accepted as the same. */
        wd_roster *again = NULL;
        if (wd_roster_verify(data, size, PIN, r, now, &again, &e) != WD_OK ||
            strcmp(again->hash, r->hash) != 0)
            __builtin_trap();
        wd_roster_free(again);
        wd_roster_free(r);
    }
    r = NULL;
    c = wd_roster_verify(data, size, NULL, v1, now, &r, &e);
    if (c != WD_OK) {
        check_rejection(c, &e, r);
        return;
    }
    if (r->version != 2 && !(r->version == 1 && strcmp(r->hash, v1->hash) == 0))
        __builtin_trap();
    if (strcmp(r->org_id, v1->org_id) != 0)
        __builtin_trap();
    check_invariants(r);
    check_all_purposes(data, size, r);
    wd_roster_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    as_payload(data, size);
    as_envelope(data, size);
    return 0;
}
