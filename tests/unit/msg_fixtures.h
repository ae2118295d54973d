/* msg_fixtures.h — what the signed-message unit tests (bundle, kill, rollback) build on: one
 * roster of generated keys at a fixed time T0, and payload, signing and text helpers. It must
 * never touch the file system, and never hide a failure: every helper fails the running test. */
#ifndef WD_MSG_FIXTURES_H
#define WD_MSG_FIXTURES_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "trust/roster.h"

#define T0 ((int64_t)1800000000) /* 2027-01-15T08:00:00Z */
#define DAY ((int64_t)86400)
#define HOUR ((int64_t)3600)

/* The keys the tests sign with and the verified roster that holds them. */
typedef struct msgfx_keys {
    wd_key *root, *bsign, *kill1, *kill2, *rb1, *rb2, *revoked, *expired, *outsider;
    wd_roster *roster;
} msgfx_keys;

extern msgfx_keys F;

/* Which key pairs msgfx_setup adds beside root and bsign. */
#define MSGFX_KILL 1u     /* kill1, kill2: remote-kill-signing */
#define MSGFX_ROLLBACK 2u /* rb1, rb2: policy-bundle-rollback */

/* Generate root (roster-root), bsign (policy-bundle-signing), the pairs named in pairs,
 * revoked (purposes spare, marked revoked), expired (purposes spare, valid until T0 - 1 day)
 * and outsider (in no roster), all valid from T0 - 30 days; sign the roster (org acme, expires
 * T0 + 365 days) with root and verify it at T0 into F.roster. Returns 0, or -1 after printing
 * why. msgfx_teardown frees everything (keys not generated stay NULL). */
int msgfx_setup(unsigned pairs, unsigned spare);
int msgfx_teardown(void);

/* The time t as SPEC §1.1 text in a new JSON string (the caller owns it). */
json_t *tjson(int64_t t);

/* Sign payload p[0..plen) as type with keys[0..n) (fails the test on error); the caller frees
 * the envelope, *len bytes. */
char *sign_text(const char *type, const char *p, size_t plen, wd_key **keys, size_t n,
                size_t *len);

/* Sign the compact JSON of o as sign_text does. */
char *sign_obj(const char *type, json_t *o, wd_key **keys, size_t n, size_t *len);

/* After a verify returned c with out (the message handed back, or NULL): on rejection nothing
 * was handed out and e holds the code and a message; on success something was. */
void check_verdict(wd_code c, const void *out, const wd_err *e);

/* Assert that a verify gave code, printing what it gave instead (and why) when it did not. */
void expect_code(wd_code c, wd_code code, const wd_err *e);

/* The envelope text padded with spaces after its first byte to exactly size bytes (the caller
 * frees it). */
char *pad_to(const char *env, size_t len, size_t size);

/* The payload text of o with the first occurrence of from replaced by to (the caller frees
 * it). */
char *text_replace(json_t *o, const char *from, const char *to);

#endif
