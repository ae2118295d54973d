/* fuzz_dsse.c — libFuzzer target for DSSE envelope decoding and signature checking: any input
 * must be accepted or rejected cleanly (a rejection leaves nothing allocated), and an accepted
 * envelope must satisfy every invariant of wd_dsse_decode and check against a fixed key
 * (RFC 8032 TEST 1, the key that signed the seed corpus) without error. It must never accept
 * an envelope that breaks those invariants. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/dsse.h"
#include "warden/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wd_key *fixed_key(void)
{
    static wd_key *k;
    if (k == NULL) {
        static const unsigned char seed[WD_ED25519_SEED_LEN] = {
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
            0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
            0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
        if (wd_key_from_raw_private(seed, &k, NULL) != WD_OK)
            __builtin_trap();
    }
    return k;
}

static bool is_lower_digest(const char *s)
{
    if (strlen(s) != WD_DIGEST_STRLEN || strncmp(s, "sha256:", 7) != 0)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wd_key *key = fixed_key();
    wd_dsse d;
    wd_err e;
    wd_code c = wd_dsse_decode(data, size, WD_MAX_ENVELOPE, &d, &e);
    if (c != WD_OK) {
        if (e.code != c || e.msg[0] == '\0' || !wd_code_is_rejection(c) ||
            d.payload_type != NULL || d.payload != NULL || d.nsigs != 0)
            __builtin_trap();
        return 0;
    }
    if (d.payload_type == NULL || d.payload_type[0] == '\0' || d.payload == NULL ||
        d.payload[d.payload_len] != '\0' || d.nsigs < 1 || d.nsigs > WD_MAX_SIGNATURES)
        __builtin_trap();
    for (size_t i = 0; i < d.nsigs; i++)
        if (!is_lower_digest(d.sigs[i].keyid))
            __builtin_trap();

    int result[WD_MAX_SIGNATURES];
    if (wd_dsse_check(&d, &key, 1, result, &e) != WD_OK)
        __builtin_trap();
    bool any_valid = false, any_invalid = false;
    for (size_t i = 0; i < d.nsigs; i++) {
        bool mine = strcmp(d.sigs[i].keyid, wd_key_id(key)) == 0;
        if (result[i] == 0) {
            /* a verdict of valid must hold up on its own */
            unsigned char *pae = NULL;
            size_t paelen = 0;
            if (!mine || wd_dsse_pae(d.payload_type, d.payload, d.payload_len, &pae, &paelen,
                                     NULL) != WD_OK ||
                !wd_key_verify(key, pae, paelen, d.sigs[i].sig, WD_ED25519_SIG_LEN))
                __builtin_trap();
            free(pae);
            any_valid = true;
        } else if (result[i] == WD_SIG_INVALID) {
            if (!mine)
                __builtin_trap();
            any_invalid = true;
        } else if (result[i] != WD_SIG_UNKNOWN_KEY || mine) {
            __builtin_trap();
        }
    }
    size_t nvalid = 0;
    c = wd_dsse_verify_any(&d, &key, 1, &nvalid, &e);
    if ((c == WD_OK) != (any_valid && !any_invalid) || (c == WD_OK && nvalid != 1) ||
        (c != WD_OK && c != WD_E_BAD_SIGNATURE))
        __builtin_trap();
    char hash[WD_DIGEST_STRLEN + 1];
    if (wd_dsse_message_hash(&d, hash, &e) != WD_OK || !is_lower_digest(hash))
        __builtin_trap();
    wd_dsse_free(&d);
    return 0;
}
