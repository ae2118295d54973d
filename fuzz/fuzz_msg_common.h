/* fuzz_msg_common.h — what the signed-message fuzz targets (bundle, kill, rollback) share: the
 * follower they verify as, keys from fixed test seeds, a roster built around them, the check
 * every rejection must pass, and signing an input before it is verified. Everything traps on a
 * failed step; nothing here reads a file or keeps state of its own. */
#ifndef WD_FUZZ_MSG_COMMON_H
#define WD_FUZZ_MSG_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "msg/dsse.h"
#include "msg/message.h"
#include "trust/roster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wd_label fuzz_labels[] = {{(char *)"team", (char *)"payments"}};
static const wd_follower follower = {"acme", "prod", "eu1", "i-1", fuzz_labels, 1};

/* The time text as seconds; traps when it does not parse. */
static inline int64_t fuzz_time(const char *text)
{
    int64_t t = 0;
    if (wd_time_parse(text, &t, NULL) != WD_OK)
        __builtin_trap();
    return t;
}

/* The Ed25519 test key whose 32-byte seed is byte repeated; the caller frees it. Traps on
 * failure. */
static inline wd_key *fuzz_seed_key(unsigned char byte)
{
    unsigned char seed[WD_ED25519_SEED_LEN];
    memset(seed, byte, sizeof seed);
    wd_key *k = NULL;
    if (wd_key_from_raw_private(seed, &k, NULL) != WD_OK)
        __builtin_trap();
    return k;
}

/* A roster of org acme, valid forever, whose root key has the seed 09 ... 09, with keys[i]
 * added for purposes[i] in order. The caller owns it (wd_roster_free). Traps on failure. */
static inline wd_roster *fuzz_roster(wd_key *const *keys, const unsigned *purposes, size_t n)
{
    wd_key *root = fuzz_seed_key(0x09);
    wd_roster *r = NULL;
    if (wd_roster_new("acme", &r, NULL) != WD_OK ||
        wd_roster_add_key(r, true, root, WD_PURPOSE_ROSTER_ROOT, 0, INT64_MAX, NULL, NULL) !=
            WD_OK)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (wd_roster_add_key(r, false, keys[i], purposes[i], 0, INT64_MAX, NULL, NULL) != WD_OK)
            __builtin_trap();
    r->created_at = 0;
    r->expires_at = INT64_MAX;
    wd_key_free(root);
    return r;
}

/* A rejection carries its code and a message, and hands out nothing (out is NULL). */
static inline void fuzz_check_rejection(wd_code c, const wd_err *e, const void *out)
{
    if (out != NULL || e->code != c || e->msg[0] == '\0' || c == WD_OK)
        __builtin_trap();
}

/* Sign data as a payload of type with keys[0..n) and hand the envelope to then; an input too
 * large to sign is skipped. */
static inline void fuzz_sign_then(const char *type, const uint8_t *data, size_t size,
                                  wd_key *const *keys, size_t n,
                                  void (*then)(const uint8_t *, size_t))
{
    char *env = NULL;
    size_t len = 0;
    wd_err e;
    if (wd_dsse_sign(type, data, size, keys, n, &env, &len, &e) != WD_OK)
        return; /* too large to sign: nothing to verify */
    then((const uint8_t *)env, len);
    free(env);
}

#endif
