/* fuzz_bundle.c — libFuzzer target for policy bundles: the input is tried as a bundle payload
 * (wd_bundle_parse, then the semantic checks, then encode/parse/encode, which must give the
 * same bytes twice), as a bundle envelope verified against a fixed roster, and as a payload
 * signed here by the roster's bundle key and verified end to end, followed by the transition
 * rule against a fixed active bundle. Every rejection must carry its code and a message and
 * hand out nothing. It must never accept a bundle that breaks the invariants checked below. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "msg/bundle.h"
#include "msg/dsse.h"
#include "trust/roster.h"
#include "warden/limits.h"

#include "fuzz_msg_common.h"

/* Inside the validity of the seed corpus in fuzz/corpus/bundle/. */
#define NOW_TEXT "2027-01-15T08:00:00Z"

/* The corpus signing key is Ed25519 with the 32-byte seed 01 01 ... 01 (a test key). */
static wd_key *signer;
static wd_roster *roster;
static wd_bundle *active;
static int64_t now;

static void setup(void)
{
    if (roster != NULL)
        return;
    now = fuzz_time(NOW_TEXT);
    signer = fuzz_seed_key(0x01);
    static const unsigned purposes[] = {WD_PURPOSE_BUNDLE_SIGNING};
    roster = fuzz_roster(&signer, purposes, 1);

    /* The active bundle: version 5, valid around now. */
    static const char policy[] = "version: 1\nmode: enforce\n";
    wd_bundle spec;
    memset(&spec, 0, sizeof spec);
    spec.bundle_id = (char *)"b-5";
    spec.scope.org_id = (char *)"acme";
    spec.scope.fleet_id = (char *)"prod";
    spec.scope.environment = (char *)"eu1";
    spec.audience.kind = WD_AUDIENCE_ALL;
    spec.version = 5;
    spec.created_at = spec.not_before = now - 3600;
    spec.expires_at = now + 3600;
    spec.min_warden_version[1] = 1;
    spec.policy_yaml = (char *)policy;
    spec.policy_len = sizeof policy - 1;
    char *env = NULL;
    size_t len = 0;
    if (wd_digest_of(policy, spec.policy_len, spec.policy_sha256, NULL) != WD_OK ||
        wd_bundle_build(&spec, &signer, 1, now, &env, &len, NULL) != WD_OK ||
        wd_bundle_verify((unsigned char *)env, len, roster, &follower, now, 0, &active, NULL) !=
            WD_OK)
        __builtin_trap();
    free(env);
}

/* Invariants of a bundle that passed every check. */
static void check_accepted(const wd_bundle *b)
{
    if (b->version < 1 || b->created_at > b->not_before || b->not_before >= b->expires_at ||
        b->policy_len > WD_MAX_POLICY_BYTES || b->policy == NULL || !wd_id_valid(b->bundle_id) ||
        strcmp(b->scope.org_id, "acme") != 0 || strcmp(b->scope.fleet_id, "prod") != 0 ||
        strcmp(b->scope.environment, "eu1") != 0)
        __builtin_trap();
    if (b->audience.kind == WD_AUDIENCE_IDS &&
        (b->audience.nids == 0 || b->audience.nids > WD_MAX_AUDIENCE_IDS))
        __builtin_trap();
    if (b->audience.kind == WD_AUDIENCE_LABELS &&
        (b->audience.nlabels == 0 || b->audience.nlabels > WD_MAX_LABELS))
        __builtin_trap();
    unsigned char h[WD_SHA256_LEN];
    char d[WD_DIGEST_STRLEN + 1];
    if (wd_sha256(b->policy_yaml, b->policy_len, h, NULL) != WD_OK)
        __builtin_trap();
    wd_digest_format(h, d);
    if (strcmp(d, b->policy_sha256) != 0)
        __builtin_trap();
    wd_bundle_step step;
    wd_err e;
    wd_code c = wd_bundle_transition(active, 0, b, NULL, 0, roster, &follower, now, &step, NULL,
                                     NULL, 0, &e);
    if (c == WD_OK) {
        if (b->version < active->version ||
            (b->version == active->version && step != WD_BUNDLE_NOOP))
            __builtin_trap();
    } else if ((c != WD_E_FORK && c != WD_E_STALE) || e.code != c ||
               b->version > active->version) {
        __builtin_trap();
    }
}

static void as_payload(const uint8_t *data, size_t size)
{
    wd_bundle *b = NULL;
    wd_err e;
    wd_code c = wd_bundle_parse(data, size, &b, &e);
    if (c != WD_OK) {
        fuzz_check_rejection(c, &e, b);
        return;
    }
    c = wd_bundle_check(b, roster, &follower, now, 0, &e);
    if (c == WD_OK)
        check_accepted(b);
    else if (e.code != c || !wd_code_is_rejection(c))
        __builtin_trap();
    /* Encode, parse back, encode again: the same bytes both times. */
    char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    wd_bundle *back = NULL;
    if (wd_bundle_encode(b, &x, &xl, &e) != WD_OK ||
        wd_bundle_parse((unsigned char *)x, xl, &back, &e) != WD_OK ||
        wd_bundle_encode(back, &y, &yl, &e) != WD_OK || xl != yl || memcmp(x, y, xl) != 0 ||
        back->version != b->version || strcmp(back->policy_sha256, b->policy_sha256) != 0)
        __builtin_trap();
    free(x);
    free(y);
    wd_bundle_free(back);
    wd_bundle_free(b);
}

static void as_envelope(const uint8_t *data, size_t size)
{
    wd_bundle *b = NULL;
    wd_err e;
    wd_code c = wd_bundle_verify(data, size, roster, &follower, now, 0, &b, &e);
    if (c != WD_OK) {
        fuzz_check_rejection(c, &e, b);
        return;
    }
    check_accepted(b);
    wd_bundle_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    as_payload(data, size);
    as_envelope(data, size);
    fuzz_sign_then(WD_BUNDLE_PAYLOAD_TYPE, data, size, &signer, 1, as_envelope);
    return 0;
}
