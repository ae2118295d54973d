/* ident.c — identifier and version-string syntax (SPEC §1.1), and cleaning untrusted text
 * before it reaches a message or a log line. */
#include <string.h>

#include "base.h"

static bool id_char(char c, bool first)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '_' || c == '.' || c == '-');
}

bool wd_id_valid(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    size_t i = 0;
    for (; s[i]; i++) {
        if (i >= WD_MAX_ID_LEN || !id_char(s[i], i == 0))
            return false;
    }
    return true;
}

bool wd_semver_parse(const char *s, unsigned v[3])
{
    if (s == NULL)
        return false;
    const char *p = s;
    for (int part = 0; part < 3; part++) {
        if (*p < '0' || *p > '9')
            return false;
        if (*p == '0' && p[1] >= '0' && p[1] <= '9')
            return false; /* leading zero */
        unsigned n = 0;
        int len = 0;
        while (*p >= '0' && *p <= '9') {
            if (++len > 6)
                return false;
            n = n * 10 + (unsigned)(*p++ - '0');
        }
        v[part] = n;
        if (part < 2 && *p++ != '.')
            return false;
    }
    return *p == '\0';
}

int wd_semver_cmp(const unsigned a[3], const unsigned b[3])
{
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

char *wd_clean_text(const char *s, char *out, size_t outsz)
{
    if (outsz == 0)
        return out;
    if (s == NULL)
        s = "(null)";
    size_t n = strlen(s), i = 0;
    bool cut = n > outsz - 1;
    size_t keep = cut ? (outsz > 4 ? outsz - 4 : outsz - 1) : n;
    for (; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    if (cut && outsz > 4) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}
