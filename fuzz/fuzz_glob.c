/* fuzz_glob.c — libFuzzer target for globs. Input: PATTERN '\n' TEXT ['\n' PATTERN2]. The
 * matcher must agree with a plain recursive reference (kept to short inputs), and "covers" must
 * never be too generous: if PATTERN covers PATTERN2 and PATTERN2 matches TEXT, PATTERN must too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/glob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The obvious definition, exponential in the worst case: only used on short inputs. */
static int class_end(const char *p)
{
    int j = 1;
    if (p[j] == '!' || p[j] == '^')
        j++;
    if (p[j] == ']')
        j++;
    while (p[j] && p[j] != ']')
        j++;
    return p[j] == ']' ? j : -1;
}

static bool in_class(const char *p, int end, unsigned char c)
{
    int j = 1;
    bool neg = false, hit = false;
    if (p[j] == '!' || p[j] == '^') {
        neg = true;
        j++;
    }
    while (j < end) {
        unsigned char a = (unsigned char)p[j];
        if (j + 2 < end + 1 && p[j + 1] == '-' && j + 2 != end) {
            unsigned char b = (unsigned char)p[j + 2];
            hit |= c >= a && c <= b;
            j += 3;
        } else {
            hit |= c == a;
            j++;
        }
    }
    return c != '/' && c != 0 && (neg ? !hit : hit);
}

static bool ref(const char *p, const char *s)
{
    if (*p == '\0')
        return *s == '\0';
    if (p[0] == '*' && p[1] == '*') {
        const char *q = p;
        while (*q == '*')
            q++;
        for (const char *t = s;; t++) {
            if (ref(q, t))
                return true;
            if (*t == '\0')
                return false;
        }
    }
    if (*p == '*') {
        for (const char *t = s;; t++) {
            if (ref(p + 1, t))
                return true;
            if (*t == '\0' || *t == '/')
                return false;
        }
    }
    if (*s == '\0')
        return false;
    if (*p == '?')
        return *s != '/' && ref(p + 1, s + 1);
    if (*p == '[') {
        int end = class_end(p);
        return in_class(p, end, (unsigned char)*s) && ref(p + end + 1, s + 1);
    }
    return *p == *s && ref(p + 1, s + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[1200];
    if (size >= sizeof buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (strlen(buf) != size)
        return 0; /* NUL bytes: C strings cannot carry them */
    char *text = strchr(buf, '\n');
    if (text == NULL)
        return 0;
    *text++ = '\0';
    char *pat2 = strchr(text, '\n');
    if (pat2 != NULL)
        *pat2++ = '\0';
    wd_glob_buf b1, b2;
    wd_glob g, h;
    if (!wd_glob_parse(buf, &b1, &g, NULL, 0))
        return 0;
    bool m = wd_glob_match(&g, text, strlen(text));
    if (strlen(buf) <= 24 && strlen(text) <= 24 && m != ref(buf, text))
        __builtin_trap();
    if (pat2 != NULL && wd_glob_parse(pat2, &b2, &h, NULL, 0) && wd_glob_covers(&g, &h) &&
        wd_glob_match(&h, text, strlen(text)) && !m)
        __builtin_trap();
    return 0;
}
