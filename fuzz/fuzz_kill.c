/* fuzz_kill.c — libFuzzer target for remote kill messages: the input is tried as a kill payload
 * (wd_kill_parse, the semantic checks, then encode/parse/encode, which must give the same bytes
 * twice), as a kill envelope verified against a fixed roster, and as a payload signed here by
 * the roster's two kill keys and verified end to end, followed by the counter floor against a
 * fixed applied kill. Every rejection must carry its code and a message and hand out nothing.
 * It must never accept a kill that breaks the invariants checked below. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "msg/dsse.h"
#include "msg/kill.h"
#include "trust/roster.h"
#include "warden/limits.h"

#include "fuzz_msg_common.h"

/* Inside the validity of the seed corpus in fuzz/corpus/kill/. */
#define NOW_TEXT "2027-01-15T08:00:00Z"

/* The corpus kill keys are Ed25519 with the seeds 02 02 ... 02 and 03 03 ... 03 (test keys). */
static wd_key *signers[2];
static wd_roster *roster;
static wd_kill *applied;
static int64_t now;

static void setup(void)
{
    if (roster != NULL)
        return;
    now = fuzz_time(NOW_TEXT);
    for (int i = 0; i < 2; i++)
        signers[i] = fuzz_seed_key((unsigned char)(0x02 + i));
    static const unsigned purposes[] = {WD_PURPOSE_KILL_SIGNING, WD_PURPOSE_KILL_SIGNING};
    roster = fuzz_roster(signers, purposes, 2);

    /* The kill applied before: counter 5. */
    wd_kill spec;
    memset(&spec, 0, sizeof spec);
    spec.message_id = (char *)"k-5";
    spec.scope.org_id = (char *)"acme";
    spec.scope.fleet_id = (char *)"prod";
    spec.scope.environment = (char *)"eu1";
    spec.audience.kind = WD_AUDIENCE_ALL;
    spec.active = true;
    spec.counter = 5;
    spec.reason = (char *)"drill";
    spec.created_at = spec.not_before = now - 3600;
    spec.expires_at = now + 3600;
    char *env = NULL;
    size_t len = 0;
    if (wd_kill_build(&spec, signers, 2, now, &env, &len, NULL) != WD_OK ||
        wd_kill_verify((unsigned char *)env, len, roster, &follower, now, 0, &applied, NULL) !=
            WD_OK)
        __builtin_trap();
    free(env);
}

static void check_accepted(const wd_kill *k)
{
    if (k->counter < WD_KILL_MIN_COUNTER || k->created_at > k->not_before ||
        k->not_before >= k->expires_at || k->expires_at - k->created_at > WD_MAX_KILL_VALIDITY_S ||
        strlen(k->reason) > WD_MAX_KILL_REASON || !wd_id_valid(k->message_id))
        __builtin_trap();
    wd_kill_step step;
    wd_err e;
    wd_code c = wd_kill_transition(applied, k, &step, NULL, 0, &e);
    bool same = strcmp(k->hash, applied->hash) == 0;
    if (c == WD_OK) {
        if (!(same && step == WD_KILL_NOOP) && !(k->counter > applied->counter))
            __builtin_trap();
    } else if (c != WD_E_STALE || e.code != c || same || k->counter > applied->counter) {
        __builtin_trap();
    }
}

static void as_payload(const uint8_t *data, size_t size)
{
    wd_kill *k = NULL;
    wd_err e;
    wd_code c = wd_kill_parse(data, size, &k, &e);
    if (c != WD_OK) {
        fuzz_check_rejection(c, &e, k);
        return;
    }
    c = wd_kill_check(k, roster, &follower, now, 0, &e);
    if (c == WD_OK)
        check_accepted(k);
    else if (e.code != c || !wd_code_is_rejection(c))
        __builtin_trap();
    char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    wd_kill *back = NULL;
    if (wd_kill_encode(k, &x, &xl, &e) != WD_OK ||
        wd_kill_parse((unsigned char *)x, xl, &back, &e) != WD_OK ||
        wd_kill_encode(back, &y, &yl, &e) != WD_OK || xl != yl || memcmp(x, y, xl) != 0 ||
        back->counter != k->counter || back->active != k->active)
        __builtin_trap();
    free(x);
    free(y);
    wd_kill_free(back);
    wd_kill_free(k);
}

static void as_envelope(const uint8_t *data, size_t size)
{
    wd_kill *k = NULL;
    wd_err e;
    wd_code c = wd_kill_verify(data, size, roster, &follower, now, 0, &k, &e);
    if (c != WD_OK) {
        fuzz_check_rejection(c, &e, k);
        return;
    }
    check_accepted(k);
    wd_kill_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    as_payload(data, size);
    as_envelope(data, size);
    fuzz_sign_then(WD_KILL_PAYLOAD_TYPE, data, size, signers, 2, as_envelope);
    return 0;
}
