/* fuzz_rollback.c — libFuzzer target for rollback authorizations: the input is tried as an
 * authorization payload (wd_rollback_parse, the semantic checks, then encode/parse/encode, which
 * must give the same bytes twice), as an envelope verified against a fixed roster, and as a
 * payload signed here by the roster's two rollback keys, verified end to end and offered to the
 * transition rule for a fixed pair of bundles (version 5 active, version 3 offered). Every
 * rejection must carry its code and a message and hand out nothing. It must never let the
 * transition accept a rollback the authorization does not name exactly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "msg/bundle.h"
#include "msg/dsse.h"
#include "msg/rollback.h"
#include "trust/roster.h"
#include "warden/limits.h"

#include "fuzz_msg_common.h"

/* Inside the validity of the seed corpus in fuzz/corpus/rollback/. */
#define NOW_TEXT "2027-01-15T08:00:00Z"

/* The corpus rollback keys are Ed25519 with the seeds 04 04 ... 04 and 05 05 ... 05, the
 * bundle key 01 01 ... 01 (test keys). */
static wd_key *signers[2];
static wd_roster *roster;
static wd_bundle *active, *older;
static int64_t now;

static wd_bundle *make_bundle(wd_key *k, int64_t version, const char *policy)
{
    wd_bundle spec;
    memset(&spec, 0, sizeof spec);
    spec.bundle_id = (char *)"b";
    spec.scope.org_id = (char *)"acme";
    spec.scope.fleet_id = (char *)"prod";
    spec.scope.environment = (char *)"eu1";
    spec.audience.kind = WD_AUDIENCE_ALL;
    spec.version = version;
    spec.created_at = spec.not_before = now - 3600;
    spec.expires_at = now + 3600;
    spec.min_warden_version[1] = 1;
    spec.policy_yaml = (char *)policy;
    spec.policy_len = strlen(policy);
    char *env = NULL;
    size_t len = 0;
    wd_bundle *b = NULL;
    if (wd_digest_of(policy, spec.policy_len, spec.policy_sha256, NULL) != WD_OK ||
        wd_bundle_build(&spec, &k, 1, now, &env, &len, NULL) != WD_OK ||
        wd_bundle_verify((unsigned char *)env, len, roster, &follower, now, 0, &b, NULL) != WD_OK)
        __builtin_trap();
    free(env);
    return b;
}

static void setup(void)
{
    if (roster != NULL)
        return;
    now = fuzz_time(NOW_TEXT);
    for (int i = 0; i < 2; i++)
        signers[i] = fuzz_seed_key((unsigned char)(0x04 + i));
    wd_key *bsign = fuzz_seed_key(0x01);
    wd_key *keys[] = {bsign, signers[0], signers[1]};
    static const unsigned purposes[] = {WD_PURPOSE_BUNDLE_SIGNING, WD_PURPOSE_BUNDLE_ROLLBACK,
                                        WD_PURPOSE_BUNDLE_ROLLBACK};
    roster = fuzz_roster(keys, purposes, 3);
    active = make_bundle(bsign, 5, "version: 1\nmode: enforce\n");
    older = make_bundle(bsign, 3, "version: 1\nmode: audit\n");
    wd_key_free(bsign);
}

static void check_accepted(const wd_rollback *a)
{
    if (a->target_version < 1 || a->target_version >= a->current_version ||
        a->expires_at <= a->created_at ||
        a->expires_at - a->created_at > WD_MAX_ROLLBACK_VALIDITY_S ||
        strlen(a->reason) > WD_MAX_KILL_REASON || !wd_id_valid(a->authorization_id))
        __builtin_trap();
}

static void as_payload(const uint8_t *data, size_t size)
{
    wd_rollback *a = NULL;
    wd_err e;
    wd_code c = wd_rollback_parse(data, size, &a, &e);
    if (c != WD_OK) {
        fuzz_check_rejection(c, &e, a);
        return;
    }
    c = wd_rollback_check(a, roster, &follower, now, &e);
    if (c == WD_OK)
        check_accepted(a);
    else if (e.code != c || !wd_code_is_rejection(c))
        __builtin_trap();
    char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    wd_rollback *back = NULL;
    if (wd_rollback_encode(a, &x, &xl, &e) != WD_OK ||
        wd_rollback_parse((unsigned char *)x, xl, &back, &e) != WD_OK ||
        wd_rollback_encode(back, &y, &yl, &e) != WD_OK || xl != yl || memcmp(x, y, xl) != 0 ||
        back->target_version != a->target_version)
        __builtin_trap();
    free(x);
    free(y);
    wd_rollback_free(back);
    wd_rollback_free(a);
}

/* Verify the envelope, then offer it for the rollback active -> older: the transition may
 * accept only when the authorization verifies and names exactly that pair. */
static void as_envelope(const uint8_t *data, size_t size)
{
    wd_rollback *a = NULL;
    wd_err e;
    wd_code c = wd_rollback_verify(data, size, roster, &follower, now, &a, &e);
    if (c != WD_OK)
        fuzz_check_rejection(c, &e, a);
    else
        check_accepted(a);
    bool names_pair = a != NULL && a->current_version == active->version &&
                      a->target_version == older->version &&
                      strcmp(a->current_bundle_hash, active->hash) == 0 &&
                      strcmp(a->target_bundle_hash, older->hash) == 0;
    wd_bundle_step step;
    wd_code t = wd_bundle_transition(active, 0, older, data, size, roster, &follower, now, &step,
                                     NULL, NULL, 0, &e);
    if (t == WD_OK ? !(names_pair && step == WD_BUNDLE_ROLLBACK)
                   : (names_pair || t != WD_E_STALE || e.code != t))
        __builtin_trap();
    wd_rollback_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    as_payload(data, size);
    as_envelope(data, size);
    fuzz_sign_then(WD_ROLLBACK_PAYLOAD_TYPE, data, size, signers, 2, as_envelope);
    return 0;
}
