/* proxy.c — the MCP proxy's message logic (SPEC §14.1); see proxy.h. Client lines are read
 * strictly (codec/json.h: one document, no duplicate keys, valid UTF-8, bounded depth; a line
 * its own one-pass reader can vouch for is read by that reader into the same tree) and every
 * tools/call is decided through the gate chain; server lines are relayed as they are, except a
 * tools/list result the proxy filters by cutting the denied tools' bytes out of the line.
 * Bytes are never re-serialised: ids, forwarded batch elements and kept tools are copied from the
 * line as they came, so what a peer receives is exactly what the other sent, minus what policy
 * removed. One wd_proxy serves one session from one thread at a time (the gate chain it asks
 * is thread-safe). It must never forward a denied or unreadable client message, never let a
 * recorder failure turn into an unrecorded allow, and never put a tool argument's value in a
 * record. */
#include "proxy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "codec/json.h"
#include "crypto/crypto.h"
#include "gate/tool_args.h"
#include "warden/limits.h"

/* ================================================================================================
 * A validating scanner over raw JSON bytes. It never allocates and never recurses: it finds the
 * byte ranges (spans) of values inside a line, so the proxy can copy them unchanged. On a line
 * jansson accepted it cannot fail; on anything else (a server line, a prefix of an over-long
 * line) it stops at the first byte that is not JSON and says so.
 * ============================================================================================= */

typedef struct span {
    size_t off, len;
} span;

/* Deepest nesting the scanner follows; deeper is "not JSON" to it. */
#define SCAN_DEPTH 1024

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Length of the UTF-8 sequence starting at s[i] (1-4), 0 when it is not valid UTF-8 (overlong
 * forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n - i < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* True when one of the 8 bytes of w is a control character (< 0x20), not ASCII (>= 0x80), a
 * quote or a backslash: the bytes scan_string must look at one by one. */
static bool word_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t ctl = (w - ones * 0x20) & ~w;             /* a byte below 0x20 (or >= 0x80) */
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t quote = (q - ones) & ~q, bslash = (b - ones) & ~b; /* a zero byte: == '"', '\\' */
    return ((ctl | quote | bslash) & high) != 0 || (w & high) != 0;
}

/* A string starting at s[i] == '"': the index just past its closing quote, or 0 when it is not a
 * valid JSON string. *esc is set when it holds a backslash escape. */
static size_t scan_string(const char *s, size_t n, size_t i, bool *esc)
{
    const unsigned char *u = (const unsigned char *)s;
    i++;
    while (i < n) {
        /* plain printable ASCII, eight bytes at a time (long string values are most of a
         * large message) */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if (word_special(w))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (esc != NULL)
                *esc = true;
            if (i + 1 >= n)
                return 0;
            char x = s[i + 1];
            if (x == 'u') {
                if (n - i < 6)
                    return 0;
                for (size_t k = 2; k < 6; k++)
                    if (hexval(s[i + k]) < 0)
                        return 0;
                i += 6;
            } else if (strchr("\"\\/bfnrt", x) != NULL && x != '\0') {
                i += 2;
            } else {
                return 0;
            }
            continue;
        }
        size_t l = utf8_len(u, n, i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 0;
}

/* A number at s[i]: the index just past it, or 0. */
static size_t scan_number(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i;
}

/* One value starting at s[i] (no leading whitespace): the index just past it, or 0 when the
 * bytes are not one complete JSON value. Containers are followed with an explicit stack. */
static size_t scan_value(const char *s, size_t n, size_t i)
{
    unsigned char stack[SCAN_DEPTH]; /* '{' or '[' */
    size_t depth = 0;
    for (;;) {
        /* a value at s[i] */
        if (i >= n)
            return 0;
        char c = s[i];
        if (c == '{' || c == '[') {
            if (depth == SCAN_DEPTH)
                return 0;
            stack[depth++] = (unsigned char)c;
            i = skip_ws(s, n, i + 1);
            if (i < n && s[i] == (c == '{' ? '}' : ']')) {
                depth--;
                i++;
                goto after_value;
            }
            if (c == '{') {
                if (i >= n || s[i] != '"' || (i = scan_string(s, n, i, NULL)) == 0)
                    return 0;
                i = skip_ws(s, n, i);
                if (i >= n || s[i] != ':')
                    return 0;
                i = skip_ws(s, n, i + 1);
            }
            continue;
        }
        if (c == '"')
            i = scan_string(s, n, i, NULL);
        else if (c == '-' || (c >= '0' && c <= '9'))
            i = scan_number(s, n, i);
        else if (n - i >= 4 && memcmp(s + i, "true", 4) == 0)
            i += 4;
        else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0)
            i += 5;
        else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0)
            i += 4;
        else
            return 0;
        if (i == 0)
            return 0;
    after_value:
        for (;;) {
            if (depth == 0)
                return i;
            i = skip_ws(s, n, i);
            if (i >= n)
                return 0;
            char top = (char)stack[depth - 1];
            if (s[i] == (top == '{' ? '}' : ']')) {
                depth--;
                i++;
                continue;
            }
            if (s[i] != ',')
                return 0;
            i = skip_ws(s, n, i + 1);
            if (top == '{') {
                if (i >= n || s[i] != '"' || (i = scan_string(s, n, i, NULL)) == 0)
                    return 0;
                i = skip_ws(s, n, i);
                if (i >= n || s[i] != ':')
                    return 0;
                i = skip_ws(s, n, i + 1);
            }
            break;
        }
    }
}

/* Past the string at s[i] == '"' in bytes scan_value already accepted: its closing quote is
 * the first '"' after an even run of backslashes (0 if there is none). */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n;) {
        const char *q = memchr(s + i, '"', n - i);
        if (q == NULL)
            return 0;
        size_t j = (size_t)(q - s), b = j;
        while (s[b - 1] == '\\') /* stops at the opening quote at the latest */
            b--;
        if ((j - b) % 2 == 0)
            return j + 1;
        i = j + 1;
    }
    return 0;
}

/* scan_value for bytes it already accepted (a line read strictly, or the inside of a value it
 * scanned): the same end, found without validating again (strings are crossed with memchr).
 * Never used on bytes nothing has validated. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    size_t depth = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            if ((i = skip_string(s, n, i)) == 0)
                return 0;
        } else if (c == '{' || c == '[') {
            depth++;
            i++;
            continue;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return 0;
            depth--;
            i++;
        } else if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (depth == 0)
                return 0;
            i++;
            continue;
        } else {
            /* a number, true, false or null: up to the next delimiter */
            while (i < n && strchr(",:]} \t\r\n", s[i]) == NULL)
                i++;
        }
        if (depth == 0)
            return i;
    }
    return 0;
}

size_t wd_proxy_value_end(const char *s, size_t n, size_t i, bool validated)
{
    if (s == NULL || i >= n)
        return 0;
    return validated ? skip_value(s, n, i) : scan_value(s, n, i);
}

/* Iteration over the members of an object or the elements of an array whose span is known.
 * it.pos is the next byte to read; it.ok turns false at the first byte that is not JSON. */
typedef struct iter {
    const char *s;
    size_t end; /* one past the container's closing byte */
    size_t pos;
    bool ok, first;
    bool trusted; /* the bytes were validated already: values are crossed with skip_value */
} iter;

/* Start iterating the container at v (its first byte '{' or '['). */
static bool iter_open(iter *it, const char *s, span v, char open)
{
    it->s = s;
    it->end = v.off + v.len;
    it->ok = v.len >= 2 && s[v.off] == open;
    it->pos = v.off + 1;
    it->first = true;
    it->trusted = true; /* every container iterated lies inside a validated value */
    return it->ok;
}

/* Next member of an object: key span (quotes included) and value span. False at the end or on
 * bytes that are not JSON (then it->ok is false). */
static bool iter_member(iter *it, span *key, span *val, bool *key_esc)
{
    if (!it->ok)
        return false;
    const char *s = it->s;
    size_t n = it->end, i = skip_ws(s, n, it->pos);
    if (i < n && s[i] == '}')
        return false;
    if (!it->first) {
        if (i >= n || s[i] != ',')
            return it->ok = false;
        i = skip_ws(s, n, i + 1);
    }
    it->first = false;
    bool esc = false;
    size_t k = (i < n && s[i] == '"') ? scan_string(s, n, i, &esc) : 0;
    if (k == 0)
        return it->ok = false;
    *key = (span){i, k - i};
    if (key_esc != NULL)
        *key_esc = esc;
    i = skip_ws(s, n, k);
    if (i >= n || s[i] != ':')
        return it->ok = false;
    i = skip_ws(s, n, i + 1);
    size_t e = it->trusted ? skip_value(s, n, i) : scan_value(s, n, i);
    if (e == 0)
        return it->ok = false;
    *val = (span){i, e - i};
    it->pos = e;
    return true;
}

/* Next element of an array. */
static bool iter_elem(iter *it, span *val)
{
    if (!it->ok)
        return false;
    const char *s = it->s;
    size_t n = it->end, i = skip_ws(s, n, it->pos);
    if (i < n && s[i] == ']')
        return false;
    if (!it->first) {
        if (i >= n || s[i] != ',')
            return it->ok = false;
        i = skip_ws(s, n, i + 1);
    }
    it->first = false;
    size_t e = it->trusted ? skip_value(s, n, i) : scan_value(s, n, i);
    if (e == 0)
        return it->ok = false;
    *val = (span){i, e - i};
    it->pos = e;
    return true;
}

/* Decode the JSON string at v (quotes included, already scanned) into out (cap bytes, at least
 * v.len - 1). Returns the decoded length; *nul is set when it holds U+0000. Surrogate pairs
 * become one UTF-8 sequence; a lone surrogate becomes U+FFFD (jansson refuses those on the client
 * side; a server's are only compared, never trusted). */
static size_t decode_string(const char *s, span v, char *out, bool *nul)
{
    size_t o = 0, i = v.off + 1, end = v.off + v.len - 1;
    if (nul != NULL)
        *nul = false;
    while (i < end) {
        char c = s[i];
        if (c != '\\') {
            out[o++] = c;
            i++;
            continue;
        }
        char x = s[i + 1];
        i += 2;
        switch (x) {
        case 'b': out[o++] = '\b'; continue;
        case 'f': out[o++] = '\f'; continue;
        case 'n': out[o++] = '\n'; continue;
        case 'r': out[o++] = '\r'; continue;
        case 't': out[o++] = '\t'; continue;
        case 'u': break;
        default: out[o++] = x; continue;
        }
        uint32_t cp = 0;
        for (size_t k = 0; k < 4; k++)
            cp = (cp << 4) | (uint32_t)hexval(s[i + k]);
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff && end - i >= 6 && s[i] == '\\' && s[i + 1] == 'u') {
            uint32_t lo = 0;
            for (size_t k = 0; k < 4; k++)
                lo = (lo << 4) | (uint32_t)hexval(s[i + 2 + k]);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
        }
        if (cp >= 0xd800 && cp <= 0xdfff)
            cp = 0xfffd;
        if (cp == 0 && nul != NULL)
            *nul = true;
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xc0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xe0 | (cp >> 12));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[o++] = (char)(0xf0 | (cp >> 18));
            out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    return o;
}

/* True when the key span k (quotes included) decodes to the text name. Escaped keys are
 * decoded into a small buffer; longer escaped keys cannot equal the short names asked for. */
static bool key_is(const char *s, span k, bool esc, const char *name)
{
    size_t nl = strlen(name);
    if (!esc)
        return k.len == nl + 2 && memcmp(s + k.off + 1, name, nl) == 0;
    char buf[64];
    if (k.len > sizeof buf)
        return false;
    bool nul;
    size_t l = decode_string(s, k, buf, &nul);
    return l == nl && memcmp(buf, name, nl) == 0;
}

/* The value of member name in the object at obj: WD_OK-like counts: returns how many members
 * carry that name (0, 1, or more), *val being the first. Stops counting at 2. */
static int find_member(const char *s, span obj, const char *name, span *val)
{
    iter it;
    int count = 0;
    if (!iter_open(&it, s, obj, '{'))
        return 0;
    span k, v;
    bool esc;
    while (iter_member(&it, &k, &v, &esc)) {
        if (key_is(s, k, esc, name)) {
            if (count++ == 0)
                *val = v;
            if (count > 1)
                break;
        }
    }
    return count;
}

/* ================================================================================================
 * The fast strict reader of client lines. jansson reads a string one byte at a time (and the
 * proxy then scanned the same bytes again for their spans), which made reading a large
 * tools/call most of the proxy's cost. fast_check validates a line in one pass with the scanner
 * above, and vouches for it only when it can tell, byte for byte, that wd_json_parse (jansson
 * with JSON_REJECT_DUPLICATES, a container at the top, WD_MAX_JSON_DEPTH) accepts it; then
 * fast_build makes the very tree jansson would have made (strings copied in one piece, numbers
 * read by jansson itself). Whatever it cannot vouch for cheaply — an escaped object key, a
 * "\u" escape of U+0000 or of a surrogate, more than FAST_KEYS keys in one object, an integer of
 * more than 18 digits, a real it cannot check, nesting past FAST_DEPTH — goes to wd_json_parse
 * as before, so the reader never accepts a line the strict reader refuses.
 * ============================================================================================= */

#define FAST_DEPTH 60 /* below WD_MAX_JSON_DEPTH (64) */
#define FAST_KEYS 32  /* keys of one object compared pairwise */
#define FAST_KEYS_ALL 512

/* The string at s[i] == '"' (already ended at end by scan_string, escapes seen): false when one
 * of its "\u" escapes is U+0000 or a surrogate (jansson refuses some of them; all are left to
 * it). */
static bool fast_escapes_ok(const char *s, size_t i, size_t end)
{
    for (i++; i < end; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u') {
            uint32_t cp = 0;
            for (size_t k = 2; k < 6; k++)
                cp = (cp << 4) | (uint32_t)hexval(s[i + k]);
            if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
                return false;
            i += 5;
        } else {
            i++;
        }
    }
    return true;
}

/* The number s[i, end) (scan_number's span): true when jansson reads it without an overflow. */
static bool fast_number_ok(const char *s, size_t i, size_t end)
{
    size_t len = end - i;
    if (memchr(s + i, '.', len) == NULL && memchr(s + i, 'e', len) == NULL &&
        memchr(s + i, 'E', len) == NULL)
        return len - (s[i] == '-') <= 18; /* within int64 whatever the digits */
    char tmp[64];
    if (len >= sizeof tmp)
        return false;
    memcpy(tmp, s + i, len);
    tmp[len] = '\0';
    char *stop;
    errno = 0;
    double d = strtod(tmp, &stop);
    return stop == tmp + len && !(errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL));
}

/* One object key (s[k, e) with its quotes, no escape) against the keys of the object being read
 * (keys[from, *nk)): false when repeated or when there are too many to compare. */
static bool fast_key(span *keys, size_t from, size_t *nk, const char *s, size_t k, size_t e)
{
    if (*nk - from >= FAST_KEYS || *nk >= FAST_KEYS_ALL)
        return false;
    for (size_t j = from; j < *nk; j++)
        if (keys[j].len == e - k && memcmp(s + keys[j].off, s + k, e - k) == 0)
            return false;
    keys[(*nk)++] = (span){k, e - k};
    return true;
}

/* A member at s[i] of the object whose keys start at keys[from]: its key read and checked
 * (fast_key), the colon and the blanks around it skipped. Returns where the member's value
 * starts (never 0), or 0 when the fast path does not take this key (nothing to undo: the
 * caller gives up on the line). */
static size_t fast_member(span *keys, size_t from, size_t *nk, const char *s, size_t n, size_t i)
{
    bool esc = false;
    size_t k = i;
    if (i >= n || s[i] != '"' || (i = scan_string(s, n, i, &esc)) == 0 || esc ||
        !fast_key(keys, from, nk, s, k, i))
        return 0;
    i = skip_ws(s, n, i);
    if (i >= n || s[i] != ':')
        return 0;
    return skip_ws(s, n, i + 1);
}

/* True when the line is one JSON object or array, and wd_json_parse surely accepts it. */
static bool fast_check(const char *s, size_t n)
{
    unsigned char stack[FAST_DEPTH];   /* '{' or '[' */
    size_t key_from[FAST_DEPTH];       /* first key of each open object in keys */
    span keys[FAST_KEYS_ALL];
    size_t depth = 0, nk = 0, i = skip_ws(s, n, 0);
    if (i >= n || (s[i] != '{' && s[i] != '['))
        return false;
    for (;;) {
        /* a value at s[i] */
        if (i >= n)
            return false;
        char c = s[i];
        if (c == '{' || c == '[') {
            if (depth == FAST_DEPTH)
                return false;
            key_from[depth] = nk;
            stack[depth++] = (unsigned char)c;
            i = skip_ws(s, n, i + 1);
            if (i < n && s[i] == (c == '{' ? '}' : ']')) {
                depth--;
                i++;
                goto after_value;
            }
            if (c == '{' && (i = fast_member(keys, key_from[depth - 1], &nk, s, n, i)) == 0)
                return false;
            continue;
        }
        size_t v = i;
        if (c == '"') {
            bool esc = false;
            i = scan_string(s, n, i, &esc);
            if (i == 0 || (esc && !fast_escapes_ok(s, v, i - 1)))
                return false;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            i = scan_number(s, n, i);
            if (i == 0 || !fast_number_ok(s, v, i))
                return false;
        } else if (n - i >= 4 && memcmp(s + i, "true", 4) == 0) {
            i += 4;
        } else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) {
            i += 5;
        } else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) {
            i += 4;
        } else {
            return false;
        }
    after_value:
        for (;;) {
            if (depth == 0)
                return skip_ws(s, n, i) == n;
            i = skip_ws(s, n, i);
            if (i >= n)
                return false;
            char top = (char)stack[depth - 1];
            if (s[i] == (top == '{' ? '}' : ']')) {
                depth--;
                if (top == '{')
                    nk = key_from[depth];
                i++;
                continue;
            }
            if (s[i] != ',')
                return false;
            i = skip_ws(s, n, i + 1);
            if (top == '{' && (i = fast_member(keys, key_from[depth - 1], &nk, s, n, i)) == 0)
                return false;
            break;
        }
    }
}

/* The tree of the value at s[*i] of a line fast_check vouched for (so every byte is known to be
 * valid, and the nesting is at most FAST_DEPTH); *i is moved past it. NULL when out of memory.
 * The caller owns the result. */
static json_t *fast_build(const char *s, size_t n, size_t *i)
{
    size_t p = *i;
    char c = s[p];
    json_t *v = NULL;
    if (c == '{' || c == '[') {
        v = c == '{' ? json_object() : json_array();
        p = skip_ws(s, n, p + 1);
        bool ok = v != NULL;
        while (ok && s[p] != (c == '{' ? '}' : ']')) {
            if (c == '{') {
                /* a key without escapes: its bytes are its text */
                const char *q = memchr(s + p + 1, '"', n - p - 1);
                size_t kl = (size_t)(q - (s + p + 1));
                size_t koff = p + 1;
                p = skip_ws(s, n, (size_t)(q - s) + 1);
                p = skip_ws(s, n, p + 1); /* past ':' */
                json_t *m = fast_build(s, n, &p);
                ok = m != NULL && json_object_setn_new_nocheck(v, s + koff, kl, m) == 0;
            } else {
                json_t *m = fast_build(s, n, &p);
                ok = m != NULL && json_array_append_new(v, m) == 0;
            }
            p = skip_ws(s, n, p);
            if (s[p] == ',')
                p = skip_ws(s, n, p + 1);
        }
        if (!ok) {
            json_decref(v);
            return NULL;
        }
        *i = p + 1;
        return v;
    }
    if (c == '"') {
        const char *q = memchr(s + p + 1, '"', n - p - 1);
        size_t l = (size_t)(q - (s + p + 1));
        if (memchr(s + p + 1, '\\', l) == NULL) {
            v = json_stringn_nocheck(s + p + 1, l);
            *i = (size_t)(q - s) + 1;
            return v;
        }
        size_t e = scan_string(s, n, p, NULL);
        char *d = malloc(e - p);
        if (d == NULL)
            return NULL;
        size_t dl = decode_string(s, (span){p, e - p}, d, NULL);
        v = json_stringn_nocheck(d, dl);
        free(d);
        *i = e;
        return v;
    }
    if (c == 't' || c == 'f' || c == 'n') {
        *i = p + (c == 'f' ? 5 : 4);
        return c == 't' ? json_true() : c == 'f' ? json_false() : json_null();
    }
    size_t e = scan_number(s, n, p);
    json_error_t je;
    v = json_loadb(s + p, e - p, JSON_DECODE_ANY, &je);
    *i = e;
    return v;
}

/* The tree of a line fast_check vouches for, and *end just past its value; NULL when it does
 * not vouch for it or when out of memory (the caller then asks wd_json_parse, which tells). */
static json_t *fast_parse(const char *line, size_t len, size_t *end)
{
    if (line == NULL || len == 0 || memchr(line, '\0', len) != NULL || !fast_check(line, len))
        return NULL;
    size_t i = skip_ws(line, len, 0);
    json_t *v = fast_build(line, len, &i);
    *end = i;
    return v;
}

bool wd_proxy_fast_parse(const char *line, size_t len, json_t **out)
{
    size_t end;
    if (out == NULL)
        return false;
    *out = fast_parse(line, len, &end);
    return *out != NULL;
}

/* ================================================================================================
 * A growing byte buffer for the lines the proxy writes.
 * ============================================================================================= */

typedef struct buf {
    char *p;
    size_t len, cap;
    bool oom;
} buf;

static void buf_add(buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len < n + 1) {
        size_t want = b->len + n + 1;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < want) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_fmt(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_fmt(buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* s as a JSON string literal: quotes, escapes for '"', '\\' and control characters, and U+FFFD
 * for every byte that is not part of valid UTF-8 (a reason cut in the middle of a character). */
static void buf_jstr(buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    buf_add(b, "\"", 1);
    while (i < n) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            buf_add(b, e, 2);
            i++;
        } else if (c < 0x20) {
            buf_fmt(b, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_len(u, n, i);
            if (l == 0) {
                buf_str(b, "\\ufffd");
                i++;
            } else {
                buf_add(b, s + i, l);
                i += l;
            }
        }
    }
    buf_add(b, "\"", 1);
}

/* Hand the buffer's bytes to the caller (NULL and 0 when empty). */
static void buf_take(buf *b, char **out, size_t *len)
{
    if (b->len == 0) {
        free(b->p);
        *out = NULL;
        *len = 0;
    } else {
        *out = b->p;
        *len = b->len;
    }
    b->p = NULL;
    b->len = b->cap = 0;
}

/* An error response: {"jsonrpc":"2.0","id":<id bytes>,"error":{"code":C,"message":M[,"data":
 * {"rule":R,"mode":MODE}]}}. id NULL means null. */
static void add_error(buf *b, const char *id, size_t id_len, int code, const char *msg,
                      const char *rule, const char *mode)
{
    buf_str(b, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (id != NULL)
        buf_add(b, id, id_len);
    else
        buf_str(b, "null");
    buf_fmt(b, ",\"error\":{\"code\":%d,\"message\":", code);
    buf_jstr(b, msg);
    if (rule != NULL) {
        buf_str(b, ",\"data\":{\"rule\":");
        buf_jstr(b, rule);
        buf_str(b, ",\"mode\":");
        buf_jstr(b, mode);
        buf_str(b, "}");
    }
    buf_str(b, "}}");
}

/* ================================================================================================
 * Requests waiting for the server's answer, keyed by their id's value (so that the server may
 * spell the id differently: "\u0041" and "A" are one id): "s" + the string's bytes, "i" + the
 * integer in decimal, "r" + the number as %.17g, "n" for null. Each entry keeps the id's bytes as
 * the client wrote them, for the answers of wd_proxy_server_gone.
 * ============================================================================================= */

#define PEND_TOOLS_LIST 1u  /* a tools/list request: its result is filtered */
#define PEND_INITIALIZE 2u  /* an initialize request: its result names the version */
#define PEND_LISTEN_TOOLS 4u /* a subscriptions/listen stream that asked for tools changes */

typedef struct pend {
    char *key; /* key bytes, then the raw id bytes, one allocation */
    size_t key_len, raw_len;
    unsigned flags;
    unsigned count; /* the same id sent again while waiting (a client bug): answered as often */
    uint64_t seq;   /* order of arrival, for the answers of wd_proxy_server_gone */
} pend;

struct wd_proxy {
    char *server;
    size_t max_line;
    wd_proxy_hooks hooks;
    pend *tab; /* open addressing, linear probing; key NULL = free */
    size_t cap, used;
    uint64_t seq;
    char version[64];            /* the negotiated (legacy) or last declared (modern) version */
    bool legacy;                 /* an initialize handshake was answered with a version */
    bool server_list_changed;    /* the server declared capabilities.tools.listChanged */
};


static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Room for a key: a longer string id is keyed by its SHA-256 ("h" + 32 bytes). */
#define KEY_MAX 160

/* The key of the id at v in s, written to out (KEY_MAX bytes). Returns its length, 0 when the
 * value is not an id the proxy can key (object, array, boolean, a string holding U+0000, an
 * integer past int64 or a real past double's range, which jansson refuses on the client side
 * anyway) or out of memory. */
static size_t id_key(const char *s, span v, char out[KEY_MAX])
{
    char c = s[v.off];
    if (c == '"') {
        char small[KEY_MAX];
        char *d = v.len <= sizeof small ? small : malloc(v.len);
        if (d == NULL)
            return 0;
        bool nul;
        size_t l = decode_string(s, v, d, &nul), n = 0;
        if (!nul && l + 1 <= KEY_MAX) {
            out[0] = 's';
            memcpy(out + 1, d, l);
            n = l + 1;
        } else if (!nul) {
            unsigned char h[WD_SHA256_LEN];
            if (wd_sha256(d, l, h, NULL) == WD_OK) {
                out[0] = 'h';
                memcpy(out + 1, h, sizeof h);
                n = 1 + sizeof h;
            }
        }
        if (d != small)
            free(d);
        return n;
    }
    if (c == 'n')
        return v.len == 4 ? (out[0] = 'n', 1) : 0;
    if (c != '-' && (c < '0' || c > '9'))
        return 0;
    char small[64];
    char *num = v.len < sizeof small ? small : malloc(v.len + 1);
    if (num == NULL)
        return 0;
    memcpy(num, s + v.off, v.len);
    num[v.len] = '\0';
    int n;
    if (strpbrk(num, ".eE") == NULL) {
        errno = 0;
        long long x = strtoll(num, NULL, 10);
        n = errno != 0 ? 0 : snprintf(out, KEY_MAX, "i%lld", x);
    } else {
        double d = strtod(num, NULL);
        /* a real past double's range (jansson refuses it) is no id: echoing it would give the
         * client a number it cannot read */
        n = isfinite(d) ? snprintf(out, KEY_MAX, "r%.17g", d) : 0;
    }
    if (num != small)
        free(num);
    return n > 0 && n < KEY_MAX ? (size_t)n : 0;
}

static pend *pend_find(wd_proxy *p, const char *k, size_t kl)
{
    if (p->cap == 0)
        return NULL;
    size_t m = p->cap - 1, i = (size_t)hash_key(k, kl) & m;
    for (;; i = (i + 1) & m) {
        pend *e = &p->tab[i];
        if (e->key == NULL)
            return NULL;
        if (e->key_len == kl && memcmp(e->key, k, kl) == 0)
            return e;
    }
}

static bool pend_grow(wd_proxy *p)
{
    size_t cap = p->cap ? p->cap * 2 : 64;
    pend *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return false;
    for (size_t j = 0; j < p->cap; j++) {
        pend *e = &p->tab[j];
        if (e->key == NULL)
            continue;
        size_t i = (size_t)hash_key(e->key, e->key_len) & (cap - 1);
        while (t[i].key != NULL)
            i = (i + 1) & (cap - 1);
        t[i] = *e;
    }
    free(p->tab);
    p->tab = t;
    p->cap = cap;
    return true;
}

/* Remember a request. false only when out of memory. */
static bool pend_add(wd_proxy *p, const char *k, size_t kl, const char *raw, size_t rl,
                     unsigned flags)
{
    pend *e = pend_find(p, k, kl);
    if (e != NULL) {
        e->flags |= flags;
        e->count++;
        return true;
    }
    if ((p->used + 1) * 4 > p->cap * 3 && !pend_grow(p))
        return false;
    char *mem = malloc(kl + rl);
    if (mem == NULL)
        return false;
    memcpy(mem, k, kl);
    memcpy(mem + kl, raw, rl);
    size_t m = p->cap - 1, i = (size_t)hash_key(k, kl) & m;
    while (p->tab[i].key != NULL)
        i = (i + 1) & m;
    p->tab[i] = (pend){mem, kl, rl, flags, 1, ++p->seq};
    p->used++;
    return true;
}

/* Forget one request (backward-shift deletion keeps the probe chains whole). */
static void pend_del(wd_proxy *p, pend *e)
{
    if (e->count > 1) {
        e->count--;
        return;
    }
    free(e->key);
    size_t m = p->cap - 1, i = (size_t)(e - p->tab), j = i;
    p->tab[i].key = NULL;
    for (;;) {
        j = (j + 1) & m;
        if (p->tab[j].key == NULL)
            break;
        size_t h = (size_t)hash_key(p->tab[j].key, p->tab[j].key_len) & m;
        /* move j back to i when its home h is not in (i, j] cyclically */
        bool in = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!in) {
            p->tab[i] = p->tab[j];
            p->tab[j].key = NULL;
            i = j;
        }
    }
    p->used--;
}

static void pend_clear(wd_proxy *p)
{
    for (size_t i = 0; i < p->cap; i++)
        free(p->tab[i].key);
    free(p->tab);
    p->tab = NULL;
    p->cap = p->used = 0;
}

/* ================================================================================================
 * The proxy.
 * ============================================================================================= */

void wd_proxy_out_clear(wd_proxy_out *out)
{
    if (out == NULL)
        return;
    free(out->to_server);
    free(out->to_client);
    out->forward_original = false;
    out->to_server = out->to_client = NULL;
    out->to_server_len = out->to_client_len = 0;
}

static void out_empty(wd_proxy_out *out)
{
    out->forward_original = false;
    out->to_server = out->to_client = NULL;
    out->to_server_len = out->to_client_len = 0;
}

wd_code wd_proxy_new(const char *server_name, size_t max_line, const wd_proxy_hooks *hooks,
                     wd_proxy **out, wd_err *e)
{
    if (out == NULL || server_name == NULL)
        return wd_err_set(e, WD_E_USAGE, "proxy: no server name or no output given");
    *out = NULL;
    wd_proxy *p = calloc(1, sizeof *p);
    if (p == NULL || (p->server = strdup(server_name)) == NULL) {
        free(p);
        return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
    }
    p->max_line = max_line ? max_line : WD_MAX_MCP_MESSAGE;
    if (hooks != NULL)
        p->hooks = *hooks;
    *out = p;
    return WD_OK;
}

void wd_proxy_free(wd_proxy *p)
{
    if (p == NULL)
        return;
    pend_clear(p);
    free(p->server);
    free(p);
}

const char *wd_proxy_protocol_version(const wd_proxy *p)
{
    return p != NULL && p->version[0] != '\0' ? p->version : NULL;
}

/* A JSON string for text that should be UTF-8 but may have been cut mid-character (a reason):
 * the text itself, or its cleaned copy. NULL only when out of memory. */
static json_t *jtext(const char *s)
{
    json_t *v = json_string(s);
    if (v != NULL || s == NULL)
        return v;
    size_t n = strlen(s) + 4;
    char *c = malloc(n);
    if (c == NULL)
        return NULL;
    wd_clean_text(s, c, n);
    v = json_string(c);
    free(c);
    return v;
}

/* Hand one entry to the recorder (a missing hook records nothing and succeeds). fields is
 * consumed. A NULL fields (out of memory while building it) is a failure to record. */
static wd_code record(wd_proxy *p, const char *kind, json_t *fields, wd_err *e)
{
    if (p->hooks.record == NULL) {
        json_decref(fields);
        return WD_OK;
    }
    if (fields == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    wd_err_clear(e);
    wd_code c = p->hooks.record(p->hooks.ctx, kind, fields, e);
    json_decref(fields);
    if (c != WD_OK && e->msg[0] == '\0')
        wd_err_set(e, c, "%s", wd_code_name(c));
    return c;
}

/* Put v under key in o; on failure o is released and set to NULL (so one check at the end
 * catches every failed step). */
static void put(json_t **o, const char *key, json_t *v)
{
    if (*o != NULL && v != NULL && json_object_set_new(*o, key, v) == 0)
        return;
    json_decref(v);
    json_decref(*o);
    *o = NULL;
}

/* Copy src into dst (cap bytes), cut when longer; always NUL-terminated. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

typedef enum { DO_FORWARD, DO_ANSWER, DO_DROP } outcome;

/* One client line's work: what goes to the server (batch elements), what to the client. */
typedef struct work {
    const char *line;
    buf srv, cli;
    size_t n_fwd, n_ans;
    bool batch;
    bool nomem;
} work;

/* Start an answer in w->cli (a comma between the elements of a batch answer). */
static buf *answer_buf(work *w)
{
    if (w->batch && w->n_ans > 0)
        buf_add(&w->cli, ",", 1);
    w->n_ans++;
    return &w->cli;
}

/* The id of a message: present and of a valid type (string, number, null) -> its span. */
static bool message_id(const char *s, span obj, const json_t *m, span *idv)
{
    const json_t *id = json_object_get(m, "id");
    if (id == NULL || !(json_is_string(id) || json_is_number(id) || json_is_null(id)))
        return false;
    return find_member(s, obj, "id", idv) == 1;
}

/* Copy the text at v (a JSON string span) into out (cap bytes) when it decodes to printable
 * ASCII shorter than cap; otherwise out is left empty. */
static void short_text(const char *s, span v, char *out, size_t cap)
{
    out[0] = '\0';
    if (v.len < 2 || s[v.off] != '"' || v.len > cap)
        return;
    char tmp[256];
    if (v.len > sizeof tmp)
        return;
    size_t l = decode_string(s, v, tmp, NULL);
    if (l + 1 > cap)
        return;
    for (size_t i = 0; i < l; i++)
        if (tmp[i] < 0x21 || tmp[i] > 0x7e)
            return;
    memcpy(out, tmp, l);
    out[l] = '\0';
}

/* The tools/call decision for one message: forward, answer (denied request) or drop (denied
 * notification). Every outcome is recorded. */
static outcome tool_call(wd_proxy *p, work *w, const json_t *m, span raw, bool has_id, span idv)
{
    const char *line = w->line;
    const json_t *params = json_object_get(m, "params");
    const json_t *name = json_object_get(params, "name");
    const json_t *args = json_object_get(params, "arguments");
    const char *mode = "enforce";
    char msg[WD_ERR_MSG_MAX + 64];
    const char *rule = NULL;
    int code = WD_RPC_POLICY_DENIED;
    bool deny = false;
    wd_decision d;
    memset(&d, 0, sizeof d);

    /* Unreadable calls are not decided: they are refused (fail closed) and recorded as such. */
    if (!json_is_object(params) || !json_is_string(name) ||
        (args != NULL && !json_is_object(args))) {
        deny = true;
        code = WD_RPC_INVALID_PARAMS;
        rule = "proxy";
        snprintf(msg, sizeof msg, "tools/call: %s",
                 !json_is_object(params) ? "params must be an object"
                 : !json_is_string(name) ? "params.name must be a string"
                                         : "params.arguments must be an object");
        snprintf(d.rule, sizeof d.rule, "%s", rule);
        copy_text(d.reason, sizeof d.reason, msg);
    }

    /* The digest of the arguments' bytes as the client sent them. */
    char digest[WD_DIGEST_STRLEN + 1] = "";
    span ps, as;
    if (args != NULL && find_member(line, raw, "params", &ps) == 1 &&
        find_member(line, ps, "arguments", &as) == 1 &&
        wd_digest_of(line + as.off, as.len, digest, NULL) != WD_OK)
        digest[0] = '\0';

    wd_tool_args ta = {NULL, NULL, 0};
    char host[WD_ERR_MSG_MAX];
    if (!deny && p->hooks.host_denial != NULL) {
        host[0] = '\0';
        if (p->hooks.host_denial(p->hooks.ctx, host, sizeof host)) {
            host[sizeof host - 1] = '\0';
            deny = true;
            rule = "host_denial";
            snprintf(msg, sizeof msg, "%s", host[0] ? host : "tool calls are denied on this host");
            snprintf(d.rule, sizeof d.rule, "%s", rule);
            copy_text(d.reason, sizeof d.reason, msg);
            d.verdict = WD_VERDICT_DENY;
        }
    }
    if (!deny) {
        wd_err ae;
        wd_code c = args != NULL ? wd_tool_args_from(args, "params.arguments", SIZE_MAX, &ta, &ae)
                                 : WD_OK;
        if (c == WD_E_NOMEM) {
            w->nomem = true;
            return DO_DROP;
        }
        if (c != WD_OK) { /* cannot happen for an object; refuse rather than guess */
            deny = true;
            code = WD_RPC_INVALID_PARAMS;
            rule = "proxy";
            snprintf(msg, sizeof msg, "tools/call: %s", ae.msg);
        } else {
            wd_tool_call call = {p->server, json_string_value(name), ta.args, ta.n};
            wd_err ge;
            wd_err_clear(&ge);
            if (wd_gate_check_tool(&call, &d, &ge) != WD_OK || d.verdict != WD_VERDICT_ALLOW) {
                deny = true;
                rule = d.rule;
                snprintf(msg, sizeof msg, "tool call blocked by policy: %s", d.reason);
            }
            mode = d.mode == WD_MODE_AUDIT ? "audit" : "enforce";
        }
        wd_tool_args_free(&ta);
    }

    json_t *f = json_object();
    put(&f, "server", jtext(p->server));
    put(&f, "tool", json_is_string(name) ? json_copy((json_t *)name) : json_null());
    put(&f, "verdict", json_string(deny ? "deny" : "allow"));
    put(&f, "rule", jtext(d.rule));
    put(&f, "reason", jtext(d.reason));
    put(&f, "mode", json_string(mode));
    put(&f, "warn", json_boolean(d.warn));
    put(&f, "audit_would_deny", json_boolean(d.audit_would_deny));
    if (d.regex_limit)
        put(&f, "regex_limit", json_true());
    put(&f, "args_digest", digest[0] ? json_string(digest) : json_null());
    wd_err re;
    if (record(p, "tool_call", f, &re) != WD_OK) {
        deny = true;
        code = WD_RPC_POLICY_DENIED;
        rule = "flight_recorder";
        snprintf(msg, sizeof msg, "tool call blocked: flight recorder cannot write: %s", re.msg);
    }
    if (!deny)
        return DO_FORWARD;
    if (!has_id)
        return DO_DROP; /* a notification gets no answer, even an error */
    add_error(answer_buf(w), line + idv.off, idv.len, code, msg, rule, mode);
    return DO_ANSWER;
}

/* Remember a forwarded request. false: it cannot be remembered (WD_PROXY_MAX_PENDING requests already
 * wait, or out of memory while keying it) and must be answered instead of forwarded, so that
 * no request reaches the server without the proxy seeing its answer. */
static bool track(wd_proxy *p, work *w, span idv, unsigned flags)
{
    char key[KEY_MAX];
    size_t kl = id_key(w->line, idv, key);
    if (kl == 0 || (p->used >= WD_PROXY_MAX_PENDING && pend_find(p, key, kl) == NULL))
        return false;
    if (!pend_add(p, key, kl, w->line + idv.off, idv.len, flags))
        w->nomem = true;
    return true;
}

/* One JSON-RPC message from the client (m parsed, raw its bytes). */
static outcome client_message(wd_proxy *p, work *w, const json_t *m, span raw)
{
    const char *line = w->line;
    span idv = {0, 0};
    bool has_id = json_is_object(m) && message_id(line, raw, m, &idv);
    const json_t *jv = json_object_get(m, "jsonrpc");
    const json_t *method = json_object_get(m, "method");
    const json_t *id = json_object_get(m, "id");
    bool valid = json_is_object(m) && json_is_string(jv) &&
                 strcmp(json_string_value(jv), "2.0") == 0 && (id == NULL || has_id);
    if (valid && method != NULL)
        valid = json_is_string(method);
    else if (valid) /* a response to a request of the server */
        valid = has_id && (json_object_get(m, "result") != NULL ||
                           json_object_get(m, "error") != NULL);
    if (!valid) {
        add_error(answer_buf(w), has_id ? line + idv.off : NULL, idv.len, WD_RPC_INVALID_REQUEST,
                  "invalid request: not a JSON-RPC 2.0 message", NULL, NULL);
        return DO_ANSWER;
    }
    if (method == NULL)
        return DO_FORWARD;

    const char *name = json_string_value(method);
    const json_t *params = json_object_get(m, "params");
    /* A modern (2026-07-28 and later) request declares its version in params._meta. */
    const json_t *mv = json_object_get(json_object_get(params, "_meta"),
                                       "io.modelcontextprotocol/protocolVersion");
    if (json_is_string(mv) && !p->legacy && json_string_length(mv) < sizeof p->version)
        snprintf(p->version, sizeof p->version, "%s", json_string_value(mv));

    if (strcmp(name, "tools/call") == 0) {
        outcome o = tool_call(p, w, m, raw, has_id, idv);
        if (o == DO_FORWARD && has_id && !track(p, w, idv, 0)) {
            add_error(answer_buf(w), line + idv.off, idv.len, WD_RPC_INTERNAL_ERROR,
                      "proxy: cannot keep track of this request (too many waiting)", NULL, NULL);
            return DO_ANSWER;
        }
        return o;
    }
    if (strcmp(name, "notifications/cancelled") == 0) {
        /* The client gave up on a request: the server need not answer it any more. */
        span ps, rv;
        char key[KEY_MAX];
        size_t kl;
        pend *e;
        if (find_member(line, raw, "params", &ps) == 1 &&
            find_member(line, ps, "requestId", &rv) == 1 &&
            (kl = id_key(line, rv, key)) > 0 && (e = pend_find(p, key, kl)) != NULL)
            pend_del(p, e);
        return DO_FORWARD;
    }
    if (!has_id)
        return DO_FORWARD;
    unsigned flags = 0;
    if (strcmp(name, "tools/list") == 0) {
        flags = PEND_TOOLS_LIST;
    } else if (strcmp(name, "initialize") == 0) {
        /* The client proposes params.protocolVersion; the version of the session is the one
         * the server's result names (the client disconnects when it cannot speak it). */
        flags = PEND_INITIALIZE;
    } else if (strcmp(name, "subscriptions/listen") == 0) {
        const json_t *t = json_object_get(json_object_get(params, "notifications"),
                                          "toolsListChanged");
        if (json_is_true(t))
            flags = PEND_LISTEN_TOOLS;
    }
    if (!track(p, w, idv, flags)) {
        add_error(answer_buf(w), line + idv.off, idv.len, WD_RPC_INTERNAL_ERROR,
                  "proxy: cannot keep track of this request (too many waiting)", NULL, NULL);
        return DO_ANSWER;
    }
    return DO_FORWARD;
}

/* The id of a line that could not be read as a whole: the top-level "id" member, when the
 * bytes up to it and it are JSON, it is followed by ',' or '}' (so that a number cut by the cap
 * or glued to garbage is not taken for the whole id), it is the only one seen, and it is an id
 * the proxy could key (a string without U+0000, null, a number jansson can hold). */
/* The id's bytes v are one JSON value a strict reader accepts (no lone surrogate escape, no
 * number past a double's range): only such an id is echoed, so the client can read the answer. */
static bool id_readable(const char *s, span v)
{
    json_error_t je;
    json_t *j = json_loadb(s + v.off, v.len, JSON_DECODE_ANY, &je);
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

static bool recover_id(const char *line, size_t len, span *idv)
{
    size_t i = skip_ws(line, len, 0);
    iter it;
    if (!iter_open(&it, line, (span){i, len - i}, '{'))
        return false;
    it.trusted = false; /* an unreadable line: every value is scanned */
    span k, v;
    bool esc;
    int count = 0;
    while (iter_member(&it, &k, &v, &esc)) {
        if (key_is(line, k, esc, "id")) {
            size_t after = skip_ws(line, len, v.off + v.len);
            if (after >= len || (line[after] != ',' && line[after] != '}'))
                return false;
            if (count++ == 0)
                *idv = v;
        }
    }
    char key[KEY_MAX];
    return count == 1 && id_key(line, *idv, key) > 0 && id_readable(line, *idv);
}

/* Answer a line that is not a readable message with code and message, echoing its id when
 * one can be recovered (Invalid Request) or null (Parse error: the id cannot be trusted). */
static wd_code answer_unreadable(const char *line, size_t len, int code, const char *msg,
                                 wd_proxy_out *out, wd_err *e)
{
    buf b = {0};
    span idv;
    bool id = code != WD_RPC_PARSE_ERROR && recover_id(line, len, &idv);
    add_error(&b, id ? line + idv.off : NULL, id ? idv.len : 0, code, msg, NULL, NULL);
    if (b.oom) {
        free(b.p);
        return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
    }
    buf_take(&b, &out->to_client, &out->to_client_len);
    return WD_OK;
}

wd_code wd_proxy_client_line(wd_proxy *p, const char *line, size_t len, bool over_cap,
                             wd_proxy_out *out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_USAGE, "proxy: no output given");
    out_empty(out);
    if (p == NULL || (line == NULL && len > 0))
        return wd_err_set(e, WD_E_USAGE, "proxy: no proxy or no line given");
    if (line == NULL)
        line = "";
    if (over_cap || len > p->max_line) {
        char msg[128];
        snprintf(msg, sizeof msg, "invalid request: message longer than %zu bytes", p->max_line);
        return answer_unreadable(line, len > p->max_line ? p->max_line : len,
                                 WD_RPC_INVALID_REQUEST, msg, out, e);
    }
    if (skip_ws(line, len, 0) == len)
        return WD_OK; /* an empty (or blank) line carries no message: nothing to do */
    if (memchr(line, '\0', len) != NULL)
        return answer_unreadable(line, len, WD_RPC_INVALID_REQUEST,
                                 "invalid request: NUL byte in the message", out, e);

    /* The fast reader when it can vouch for the line (the same tree, one pass), else the
     * strict reader, which also says why a line is refused. */
    size_t fast_end = 0;
    json_t *root = fast_parse(line, len, &fast_end);
    wd_err pe;
    wd_code c = root != NULL ? WD_OK
                             : wd_json_parse((const unsigned char *)line, len, p->max_line, &root,
                                             &pe);
    if (c == WD_E_NOMEM)
        return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
    if (c != WD_OK) {
        /* Valid JSON that the strict reader refuses (a repeated key, "\u0000", nesting past the
         * limit, a lone scalar) is an invalid request; anything else is a parse error. */
        json_error_t je;
        json_t *loose = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        bool is_json = loose != NULL || json_error_code(&je) == json_error_stack_overflow;
        json_decref(loose);
        if (!is_json && json_error_code(&je) == json_error_out_of_memory)
            return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
        if (c == WD_E_DUPLICATE_KEY)
            return answer_unreadable(line, len, WD_RPC_INVALID_REQUEST,
                                     "invalid request: a key appears twice in one object", out, e);
        if (is_json || c == WD_E_OVERSIZED)
            return answer_unreadable(line, len, WD_RPC_INVALID_REQUEST,
                                     "invalid request: not a JSON-RPC 2.0 message", out, e);
        return answer_unreadable(line, len, WD_RPC_PARSE_ERROR,
                                 "parse error: the message is not valid JSON", out, e);
    }

    work w;
    memset(&w, 0, sizeof w);
    w.line = line;
    size_t start = skip_ws(line, len, 0);
    size_t end = fast_end != 0 && json_is_object(root) ? fast_end : scan_value(line, len, start);
    span whole = {start, end - start};
    size_t n_scanned = 0;
    if (end != 0 && json_is_array(root)) {
        iter it;
        span el;
        iter_open(&it, line, whole, '[');
        it.trusted = false; /* the scanner's own reading, to compare with the tree's */
        while (iter_elem(&it, &el))
            n_scanned++;
        if (!it.ok)
            end = 0;
    }
    if (end == 0 || (json_is_array(root) && n_scanned != json_array_size(root))) {
        /* The scanner and jansson disagree about a line: cannot happen for JSON both read;
         * refuse it rather than forward bytes the decision did not see. */
        json_decref(root);
        return answer_unreadable(line, len, WD_RPC_PARSE_ERROR,
                                 "parse error: the message is not valid JSON", out, e);
    }
    if (json_is_object(root)) {
        outcome o = client_message(p, &w, root, whole);
        out->forward_original = o == DO_FORWARD;
    } else {
        w.batch = true;
        size_t n = json_array_size(root), i = 0, n_total = 0;
        iter it;
        span el;
        iter_open(&it, line, whole, '[');
        buf_add(&w.srv, "[", 1);
        buf_add(&w.cli, "[", 1);
        while (iter_elem(&it, &el) && i < n) {
            outcome o = client_message(p, &w, json_array_get(root, i), el);
            if (o == DO_FORWARD) {
                if (w.n_fwd++ > 0)
                    buf_add(&w.srv, ",", 1);
                buf_add(&w.srv, line + el.off, el.len);
            }
            i++;
            n_total++;
        }
        if (n == 0) { /* an empty batch is one invalid request, answered alone */
            w.batch = false;
            w.cli.len = 0;
            add_error(answer_buf(&w), NULL, 0, WD_RPC_INVALID_REQUEST,
                      "invalid request: empty batch", NULL, NULL);
        } else {
            buf_add(&w.srv, "]", 1);
            buf_add(&w.cli, "]", 1);
        }
        if (w.n_fwd == n_total && n_total > 0) {
            out->forward_original = true;
            w.srv.len = 0;
        } else if (w.n_fwd == 0) {
            w.srv.len = 0;
        }
        if (w.n_ans == 0)
            w.cli.len = 0;
    }
    json_decref(root);
    if (w.nomem || w.srv.oom || w.cli.oom) {
        free(w.srv.p);
        free(w.cli.p);
        out_empty(out);
        return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
    }
    buf_take(&w.srv, &out->to_server, &out->to_server_len);
    buf_take(&w.cli, &out->to_client, &out->to_client_len);
    return WD_OK;
}

/* ---- server lines ---- */

/* One server line's rewrite: bytes of line copied up to `copied`, then replacements. */
typedef struct rewrite {
    const char *line;
    buf o;
    size_t copied;
    bool changed;
} rewrite;

/* Replace the bytes at v with what add() appends: call start, append to r->o, nothing else. */
static buf *replace_start(rewrite *r, span v)
{
    buf_add(&r->o, r->line + r->copied, v.off - r->copied);
    r->copied = v.off + v.len;
    r->changed = true;
    return &r->o;
}

/* The initialize result: the negotiated version and whether the server announces tool-list
 * changes (capabilities.tools.listChanged). */
static void read_initialize(wd_proxy *p, const char *s, span result)
{
    span v, caps, tools, lc;
    if (s[result.off] != '{')
        return;
    if (find_member(s, result, "protocolVersion", &v) == 1 && s[v.off] == '"') {
        short_text(s, v, p->version, sizeof p->version);
        p->legacy = p->version[0] != '\0';
    }
    p->server_list_changed = find_member(s, result, "capabilities", &caps) == 1 &&
                             find_member(s, caps, "tools", &tools) == 1 &&
                             find_member(s, tools, "listChanged", &lc) == 1 && lc.len == 4 &&
                             memcmp(s + lc.off, "true", 4) == 0;
}

/* Replace a whole response (obj) by an error with its id. */
static void withhold(rewrite *r, span obj, span idv, const char *msg)
{
    add_error(replace_start(r, obj), r->line + idv.off, idv.len, WD_RPC_INTERNAL_ERROR, msg,
              NULL, NULL);
}

/* Filter the tools/list result of the response obj (id idv): tools the policy denies without
 * arguments are cut out of result.tools; everything else stays as the server wrote it. A result
 * the proxy cannot read unambiguously is withheld (an error with the same id): the client never
 * sees a list the policy did not see. */
static wd_code filter_tools(wd_proxy *p, rewrite *r, span obj, span idv, wd_err *e)
{
    const char *s = r->line;
    span result, tools;
    int nr = find_member(s, obj, "result", &result);
    if (nr == 0)
        return WD_OK; /* an error answer */
    if (nr > 1 || s[result.off] != '{') {
        withhold(r, obj, idv, "tools/list result withheld: the proxy cannot read it");
        return WD_OK;
    }
    int nt = find_member(s, result, "tools", &tools);
    if (nt != 1 || s[tools.off] != '[') {
        withhold(r, obj, idv, "tools/list result withheld: the proxy cannot read it");
        return WD_OK;
    }
    /* Decide each tool: the bytes of those kept are gathered in kept, the names of those
     * removed go to the record. */
    size_t listed = 0, removed = 0;
    json_t *names = json_array();
    buf kept = {0};
    iter it;
    span el;
    iter_open(&it, s, tools, '[');
    while (iter_elem(&it, &el)) {
        listed++;
        span nv;
        bool keep = false;
        char *name = NULL;
        size_t nl = 0;
        bool nul = true;
        /* exactly one "name", a string: anything else cannot be decided and is removed */
        if (s[el.off] == '{' && find_member(s, el, "name", &nv) == 1 && s[nv.off] == '"') {
            if ((name = malloc(nv.len)) == NULL) {
                json_decref(names);
                free(kept.p);
                return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
            }
            nl = decode_string(s, nv, name, &nul);
            name[nl] = '\0';
        }
        if (name != NULL && !nul) {
            wd_tool_call call = {p->server, name, NULL, 0};
            wd_decision d;
            keep = wd_gate_check_tool(&call, &d, NULL) == WD_OK && d.verdict == WD_VERDICT_ALLOW;
        }
        if (keep) {
            if (kept.len > 0)
                buf_add(&kept, ",", 1);
            buf_add(&kept, s + el.off, el.len);
        } else {
            removed++;
            json_t *jn = name != NULL ? json_stringn(name, nl) : json_string("");
            if (jn == NULL) /* not UTF-8 after decoding: cannot happen for scanned bytes */
                jn = json_string("?");
            json_array_append_new(names, jn);
        }
        free(name);
    }
    if (!it.ok) {
        json_decref(names);
        free(kept.p);
        withhold(r, obj, idv, "tools/list result withheld: the proxy cannot read it");
        return WD_OK;
    }
    json_t *f = json_object();
    put(&f, "server", jtext(p->server));
    put(&f, "listed", json_integer((json_int_t)listed));
    put(&f, "removed", names);
    wd_err re;
    if (record(p, "tools_list", f, &re) != WD_OK) {
        char msg[WD_ERR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "tools/list blocked: flight recorder cannot write: %s", re.msg);
        free(kept.p);
        withhold(r, obj, idv, msg);
        return WD_OK;
    }
    if (removed > 0) {
        buf *o = replace_start(r, tools);
        buf_add(o, "[", 1);
        if (kept.len > 0)
            buf_add(o, kept.p, kept.len);
        buf_add(o, "]", 1);
    }
    bool oom = kept.oom;
    free(kept.p);
    if (oom)
        return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
    return WD_OK;
}

/* One JSON-RPC object from the server. */
static wd_code server_message(wd_proxy *p, rewrite *r, span obj, wd_err *e)
{
    const char *s = r->line;
    iter it;
    span k, v, idv = {0, 0}, method = {0, 0};
    bool esc;
    int n_id = 0, n_method = 0;
    if (!iter_open(&it, s, obj, '{'))
        return WD_OK;
    while (iter_member(&it, &k, &v, &esc)) {
        if (key_is(s, k, esc, "id") && n_id++ == 0)
            idv = v;
        else if (key_is(s, k, esc, "method") && n_method++ == 0)
            method = v;
    }
    if (!it.ok)
        return WD_OK;
    char key[KEY_MAX];
    size_t kl;
    pend *en;
    if (n_id > 1 && n_method == 0) {
        /* A response naming several ids: every waiting request it may answer is settled, and
         * when one of them is a tools/list the response is withheld (which list would the
         * client read?). */
        bool tl = false;
        span first_raw = {0, 0};
        iter_open(&it, s, obj, '{');
        while (iter_member(&it, &k, &v, &esc)) {
            if (!key_is(s, k, esc, "id") || (kl = id_key(s, v, key)) == 0 ||
                (en = pend_find(p, key, kl)) == NULL)
                continue;
            if ((en->flags & PEND_TOOLS_LIST) && !tl) {
                tl = true;
                first_raw = v;
            }
            pend_del(p, en);
        }
        if (tl)
            withhold(r, obj, first_raw, "tools/list result withheld: the proxy cannot read it");
        return WD_OK;
    }
    if (n_method > 0) {
        /* The server ends a subscriptions/listen stream with notifications/cancelled naming
         * the listen request; other server messages leave the waiting requests alone. */
        span ps, rv;
        if (n_method == 1 && method.len == sizeof "\"notifications/cancelled\"" - 1 &&
            memcmp(s + method.off, "\"notifications/cancelled\"", method.len) == 0 &&
            find_member(s, obj, "params", &ps) == 1 && s[ps.off] == '{' &&
            find_member(s, ps, "requestId", &rv) == 1 &&
            (kl = id_key(s, rv, key)) > 0 && (en = pend_find(p, key, kl)) != NULL &&
            (en->flags & PEND_LISTEN_TOOLS))
            pend_del(p, en);
        return WD_OK;
    }
    if (n_id != 1 || (kl = id_key(s, idv, key)) == 0 ||
        (en = pend_find(p, key, kl)) == NULL)
        return WD_OK;
    unsigned flags = en->flags;
    pend_del(p, en);
    span result;
    if ((flags & PEND_INITIALIZE) && find_member(s, obj, "result", &result) == 1)
        read_initialize(p, s, result);
    if (flags & PEND_TOOLS_LIST)
        return filter_tools(p, r, obj, idv, e);
    return WD_OK;
}

wd_code wd_proxy_server_line(wd_proxy *p, const char *line, size_t len, wd_proxy_out *out,
                             wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_USAGE, "proxy: no output given");
    out_empty(out);
    if (p == NULL || (line == NULL && len > 0))
        return wd_err_set(e, WD_E_USAGE, "proxy: no proxy or no line given");
    out->forward_original = true;
    if (p->used == 0 || len == 0)
        return WD_OK; /* nothing waits for an answer: nothing to look at */
    rewrite r = {line, {0}, 0, false};
    size_t i = skip_ws(line, len, 0);
    wd_code c = WD_OK;
    if (i < len && line[i] == '{') {
        size_t end = scan_value(line, len, i);
        if (end != 0)
            c = server_message(p, &r, (span){i, end - i}, e);
    } else if (i < len && line[i] == '[') {
        size_t end = scan_value(line, len, i);
        iter it;
        span el;
        if (end != 0 && iter_open(&it, line, (span){i, end - i}, '['))
            while (c == WD_OK && iter_elem(&it, &el))
                if (line[el.off] == '{')
                    c = server_message(p, &r, el, e);
    }
    if (c == WD_OK && r.changed) {
        buf_add(&r.o, line + r.copied, len - r.copied);
        if (r.o.oom)
            c = wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
    }
    if (c != WD_OK || !r.changed) {
        free(r.o.p);
        if (c != WD_OK)
            out_empty(out);
        return c;
    }
    out->forward_original = false;
    buf_take(&r.o, &out->to_client, &out->to_client_len);
    return WD_OK;
}

/* ---- policy change and server exit ---- */

static int by_seq(const void *a, const void *b)
{
    uint64_t x = (*(pend *const *)a)->seq, y = (*(pend *const *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Entries waiting, in order of arrival (a malloc'd array of n pointers, NULL when none or out
 * of memory: *oom tells which). */
static pend **pend_sorted(wd_proxy *p, bool *oom)
{
    *oom = false;
    if (p->used == 0)
        return NULL;
    pend **v = malloc(p->used * sizeof *v);
    if (v == NULL) {
        *oom = true;
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < p->cap; i++)
        if (p->tab[i].key != NULL)
            v[n++] = &p->tab[i];
    qsort(v, n, sizeof *v, by_seq);
    return v;
}

wd_code wd_proxy_policy_changed(wd_proxy *p, wd_proxy_out *out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_USAGE, "proxy: no output given");
    out_empty(out);
    if (p == NULL)
        return wd_err_set(e, WD_E_USAGE, "proxy: no proxy given");
    /* What the MCP revisions say (read in the specification repository and the TypeScript
     * SDK, November 2026):
     * - 2024-11-05 .. 2025-11-25 ("legacy"): a session opens with initialize; a server that
     *   declared capabilities.tools.listChanged sends, unsolicited,
     *   {"jsonrpc":"2.0","method":"notifications/tools/list_changed"} (no params). That is what
     *   @modelcontextprotocol/sdk 1.x's Server.sendToolListChanged() writes; its
     *   LATEST_PROTOCOL_VERSION is 2025-11-25. A client whose server did not declare it was told
     *   not to expect the notification, so none is sent.
     * - 2026-07-28 ("modern", SEP-2575/SEP-2567): no initialize; each request carries its
     *   version in params._meta["io.modelcontextprotocol/protocolVersion"]. "The server MUST
     *   NOT send notification types the client has not explicitly requested": list changes are
     *   delivered only on a subscriptions/listen stream whose params.notifications asked for
     *   toolsListChanged, and every message on it carries the listen request's JSON-RPC id in
     *   params._meta["io.modelcontextprotocol/subscriptionId"] (on stdio the client
     *   demultiplexes by it). The stream ends with notifications/cancelled naming that id (from
     *   either side) or with the server's answer to the listen request.
     * So: the legacy line for a legacy session whose server declared listChanged, and one
     * tagged line per open listen stream that asked for tool changes. */
    buf b = {0};
    if (p->legacy && p->server_list_changed)
        buf_str(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
    bool oom;
    pend **v = pend_sorted(p, &oom);
    for (size_t i = 0; v != NULL && i < p->used; i++) {
        if (!(v[i]->flags & PEND_LISTEN_TOOLS))
            continue;
        if (b.len > 0)
            buf_add(&b, "\n", 1);
        buf_str(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\","
                    "\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":");
        buf_add(&b, v[i]->key + v[i]->key_len, v[i]->raw_len);
        buf_str(&b, "}}}");
    }
    free(v);
    if (oom || b.oom) {
        free(b.p);
        return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
    }
    buf_take(&b, &out->to_client, &out->to_client_len);
    return WD_OK;
}

wd_code wd_proxy_server_gone(wd_proxy *p, wd_proxy_out *out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_USAGE, "proxy: no output given");
    out_empty(out);
    if (p == NULL)
        return wd_err_set(e, WD_E_USAGE, "proxy: no proxy given");
    buf b = {0};
    bool oom;
    pend **v = pend_sorted(p, &oom);
    for (size_t i = 0; v != NULL && i < p->used; i++)
        for (unsigned k = 0; k < v[i]->count; k++) {
            if (b.len > 0)
                buf_add(&b, "\n", 1);
            add_error(&b, v[i]->key + v[i]->key_len, v[i]->raw_len, WD_RPC_INTERNAL_ERROR,
                      "MCP server exited before answering", NULL, NULL);
        }
    free(v);
    if (oom || b.oom) {
        free(b.p);
        return wd_err_set(e, WD_E_NOMEM, "proxy: out of memory");
    }
    pend_clear(p);
    buf_take(&b, &out->to_client, &out->to_client_len);
    return WD_OK;
}
