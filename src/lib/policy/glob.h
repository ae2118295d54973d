/* glob.h — SPEC §6 globs: `*` and `?` never cross '/', `**` does, `[...]` classes (with ! or ^
 * negation and ranges, never matching '/'); every other byte is literal (no escapes).
 * Matching simulates the pattern as an NFA over a bitset of token positions: time is
 * O(text x tokens / 64), there is no recursion and no backtracking, and nothing is allocated. */
#ifndef WD_GLOB_H
#define WD_GLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/policy.h"

/* Fast paths: no magic at all; literal text around exactly one * or **; anything else. */
enum { WD_GLOB_LITERAL, WD_GLOB_STAR_FIX, WD_GLOB_DSTAR_FIX, WD_GLOB_GENERAL };

/* A parsed glob. tok and cls point into a wd_glob_buf or into a compiled policy's arena. */
typedef struct wd_glob {
    const char *text;     /* the glob as written, NUL-terminated */
    const uint32_t *tok;  /* tokens: kind in the low 8 bits, byte or class index above */
    const uint8_t (*cls)[32];
    uint16_t len;         /* strlen(text) */
    uint16_t ntok;
    uint16_t ncls;
    uint16_t prefix;      /* bytes of literal text before the first magic token */
    uint16_t suffix;      /* *_FIX kinds: bytes of literal text after the star */
    uint8_t kind;         /* WD_GLOB_* fast path */
    bool has_slash;       /* the glob contains a '/' byte */
} wd_glob;

/* Room for parsing any glob up to WD_MAX_GLOB_LEN bytes (about 7.5 KiB: fine on a stack). */
typedef struct wd_glob_buf {
    uint32_t tok[WD_MAX_GLOB_LEN];
    uint8_t cls[WD_MAX_GLOB_LEN / 3 + 1][32];
} wd_glob_buf;

/* Parse text (NUL-terminated) into *g using buf's storage. On error returns false and writes
 * why into err ("unterminated [", "longer than 512 bytes", ...); *g is then unusable. */
bool wd_glob_parse(const char *text, wd_glob_buf *buf, wd_glob *g, char *err, size_t errsz);

/* Does g match the whole of s[0..n)? */
bool wd_glob_match(const wd_glob *g, const char *s, size_t n);

/* Is every string that req matches also matched by limit? Conservative: true is always right;
 * false may be said of a few exotic pairs that are in fact contained (each token of req must be
 * absorbed by a token of limit that is at least as broad). For a literal req this is exactly
 * wd_glob_match(limit, req->text). */
bool wd_glob_covers(const wd_glob *limit, const wd_glob *req);

/* Convenience for one-off checks: parse pattern on the stack and match s. A pattern that does
 * not parse matches nothing. */
bool wd_glob_match_str(const char *pattern, const char *s);

#endif
