/* error.h — warden's closed set of result codes and the error struct every fallible call fills.
 * Codes from WD_E_MALFORMED to WD_E_UNSUPPORTED_VERSION are the rejection codes of SPEC §9;
 * the rest are operational. Never add a code without its text in wd_code_name(). */
#ifndef WARDEN_ERROR_H
#define WARDEN_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wd_code {
    WD_OK = 0,
    /* rejections (SPEC §9): exit code 3 */
    WD_E_MALFORMED,
    WD_E_OVERSIZED,
    WD_E_UNKNOWN_FIELD,
    WD_E_DUPLICATE_KEY,
    WD_E_TRAILING_DATA,
    WD_E_WRONG_TYPE,
    WD_E_BAD_SIGNATURE,
    WD_E_UNTRUSTED_ROOT,
    WD_E_WRONG_PURPOSE,
    WD_E_REVOKED_KEY,
    WD_E_EXPIRED_KEY,
    WD_E_THRESHOLD,
    WD_E_EXPIRED,
    WD_E_NOT_YET_VALID,
    WD_E_WRONG_SCOPE,
    WD_E_WRONG_AUDIENCE,
    WD_E_HASH_MISMATCH,
    WD_E_FORBIDDEN_SECTION,
    WD_E_INVALID_POLICY,
    WD_E_STALE,
    WD_E_FORK,
    WD_E_UNSUPPORTED_VERSION,
    /* a policy decision that denies: exit code 3, not a rejection line */
    WD_E_DENIED,
    /* operational: exit code 1 */
    WD_E_IO,
    WD_E_NOMEM,
    WD_E_CRYPTO,
    WD_E_INTERNAL,
    /* caller's mistake: exit code 2 */
    WD_E_USAGE
} wd_code;

#define WD_ERR_MSG_MAX 512

/* What went wrong: a code and a human-readable message that names what was rejected and why.
 * Messages never contain secrets; untrusted text is cleaned before it is put in one. */
typedef struct wd_err {
    wd_code code;
    char msg[WD_ERR_MSG_MAX];
} wd_err;

/* Stable short name of a code: "malformed", "bad-signature", ... ("ok" for WD_OK). */
const char *wd_code_name(wd_code code);

/* True for the rejection codes of SPEC §9. */
bool wd_code_is_rejection(wd_code code);

/* Process exit code for a result: 0 ok, 1 operational, 2 usage, 3 rejected or denied. */
int wd_code_exit(wd_code code);

/* Fill e (may be NULL) with code and a printf-style message; returns code.
 * Control characters and non-ASCII bytes in the formatted text are replaced by '?'. */
wd_code wd_err_set(wd_err *e, wd_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the existing message with "prefix: " and return code (the result being passed up, so
 * that it survives when e is NULL). e->code is set to code. */
wd_code wd_err_prefix(wd_err *e, wd_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset to WD_OK with an empty message. */
void wd_err_clear(wd_err *e);

#ifdef __cplusplus
}
#endif
#endif
