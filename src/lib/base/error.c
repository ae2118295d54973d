/* error.c — names, exit codes and message formatting for wd_code. The switch has no default so
 * that the compiler flags a code without a name. Messages are cleaned of control bytes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "warden/error.h"

const char *wd_code_name(wd_code code)
{
    switch (code) {
    case WD_OK: return "ok";
    case WD_E_MALFORMED: return "malformed";
    case WD_E_OVERSIZED: return "oversized";
    case WD_E_UNKNOWN_FIELD: return "unknown-field";
    case WD_E_DUPLICATE_KEY: return "duplicate-key";
    case WD_E_TRAILING_DATA: return "trailing-data";
    case WD_E_WRONG_TYPE: return "wrong-type";
    case WD_E_BAD_SIGNATURE: return "bad-signature";
    case WD_E_UNTRUSTED_ROOT: return "untrusted-root";
    case WD_E_WRONG_PURPOSE: return "wrong-purpose";
    case WD_E_REVOKED_KEY: return "revoked-key";
    case WD_E_EXPIRED_KEY: return "expired-key";
    case WD_E_THRESHOLD: return "threshold";
    case WD_E_EXPIRED: return "expired";
    case WD_E_NOT_YET_VALID: return "not-yet-valid";
    case WD_E_WRONG_SCOPE: return "wrong-scope";
    case WD_E_WRONG_AUDIENCE: return "wrong-audience";
    case WD_E_HASH_MISMATCH: return "hash-mismatch";
    case WD_E_FORBIDDEN_SECTION: return "forbidden-section";
    case WD_E_INVALID_POLICY: return "invalid-policy";
    case WD_E_STALE: return "stale";
    case WD_E_FORK: return "fork";
    case WD_E_UNSUPPORTED_VERSION: return "unsupported-version";
    case WD_E_DENIED: return "denied";
    case WD_E_IO: return "io-error";
    case WD_E_NOMEM: return "out-of-memory";
    case WD_E_CRYPTO: return "crypto-error";
    case WD_E_INTERNAL: return "internal-error";
    case WD_E_USAGE: return "usage";
    }
    return "unknown";
}

bool wd_code_is_rejection(wd_code code)
{
    return code >= WD_E_MALFORMED && code <= WD_E_UNSUPPORTED_VERSION;
}

int wd_code_exit(wd_code code)
{
    if (code == WD_OK)
        return 0;
    if (wd_code_is_rejection(code) || code == WD_E_DENIED)
        return 3;
    if (code == WD_E_USAGE)
        return 2;
    return 1;
}

static void clean(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            *p = '?';
}

wd_code wd_err_set(wd_err *e, wd_code code, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    clean(e->msg);
    e->code = code;
    return code;
}

wd_code wd_err_prefix(wd_err *e, wd_code code, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    char pre[WD_ERR_MSG_MAX];
    char old[WD_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t pl = strnlen(pre, sizeof e->msg - 3);
    memcpy(e->msg, pre, pl);
    memcpy(e->msg + pl, ": ", 2);
    size_t room = sizeof e->msg - pl - 3;
    size_t ol = strnlen(old, room);
    memcpy(e->msg + pl + 2, old, ol);
    e->msg[pl + 2 + ol] = '\0';
    clean(e->msg);
    e->code = code;
    return code;
}

void wd_err_clear(wd_err *e)
{
    if (e == NULL)
        return;
    e->code = WD_OK;
    e->msg[0] = '\0';
}
