/* spiffe.c — SPIFFE IDs as warden's fleet identities (SPEC §12.1): the two URI shapes a peer
 * certificate may carry (follower, administrator), parsed strictly, and built for
 * `warden pki issue`. Pure string work: no allocation, no I/O. It must never accept a shape it
 * does not know, a trust domain other than the one asked for, a segment that is not an id, or
 * any URI syntax beyond "spiffe://" TD ("/" segment)+ (no percent-encoding, query, fragment,
 * userinfo, port, dot segments, empty segments or trailing slash). */
#include <stdio.h>
#include <string.h>

#include "codec/spiffe.h"
#include "base/base.h"

#define SCHEME "spiffe://"
#define SCHEME_LEN 9
#define TD_MAX 255
/* The longest shape has eight path segments. */
#define MAX_SEGMENTS 8

static bool td_char(char c, bool allow_upper)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_' || (allow_upper && c >= 'A' && c <= 'Z');
}

int wd_spiffe_td_valid(const char *td)
{
    if (td == NULL)
        return 0;
    size_t n = 0;
    for (; td[n] != '\0'; n++)
        if (n >= TD_MAX || !td_char(td[n], false))
            return 0;
    return n > 0;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* One path segment, [s, s+n): an id. Copied into out (WD_MAX_ID_LEN+1 bytes) when it is. */
static bool take_id(const char *s, size_t n, char out[WD_MAX_ID_LEN + 1])
{
    if (n == 0 || n > WD_MAX_ID_LEN)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return wd_id_valid(out);
}

static bool seg_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

wd_code wd_spiffe_parse(const char *uri, size_t len, const char *td, wd_spiffe_id *out,
                        wd_err *e)
{
    memset(out, 0, sizeof *out);
    if (!wd_spiffe_td_valid(td))
        return wd_err_set(e, WD_E_USAGE, "spiffe id: the expected trust domain is not a valid "
                                         "trust domain name");
    if (uri == NULL)
        return wd_err_set(e, WD_E_MALFORMED, "spiffe id: empty");
    if (len > WD_SPIFFE_MAX)
        return wd_err_set(e, WD_E_MALFORMED, "spiffe id: %zu bytes, longer than %d", len,
                          WD_SPIFFE_MAX);
    if (memchr(uri, '\0', len) != NULL)
        return wd_err_set(e, WD_E_MALFORMED, "spiffe id: contains a NUL byte");
    /* The scheme is exactly "spiffe", lowercase, as the SPIFFE ID standard writes it. */
    if (len < SCHEME_LEN || memcmp(uri, SCHEME, SCHEME_LEN) != 0)
        return wd_err_set(e, WD_E_MALFORMED, "spiffe id: does not start with \"spiffe://\"");
    const char *p = uri + SCHEME_LEN, *end = uri + len;

    /* Trust domain: up to the first '/'. Letters in either case; compared below. */
    const char *tds = p;
    while (p < end && *p != '/') {
        if (!td_char(*p, true))
            return wd_err_set(e, WD_E_MALFORMED,
                              "spiffe id: the trust domain holds a character other than "
                              "letters, digits, '.', '-' and '_'");
        p++;
    }
    size_t tdn = (size_t)(p - tds);
    if (tdn == 0)
        return wd_err_set(e, WD_E_MALFORMED, "spiffe id: no trust domain");
    if (tdn > TD_MAX)
        return wd_err_set(e, WD_E_MALFORMED, "spiffe id: trust domain longer than %d bytes",
                          TD_MAX);
    if (p == end)
        return wd_err_set(e, WD_E_MALFORMED, "spiffe id: no path (neither a follower nor an "
                                             "administrator)");

    /* Path: "/" segment, repeated. Every byte must belong to an id or be a separator, so a
     * '%', '?', '#' or any other byte is refused here with a precise reason. */
    const char *seg[MAX_SEGMENTS];
    size_t segn[MAX_SEGMENTS], nseg = 0;
    while (p < end) {
        p++; /* the '/' */
        const char *s = p;
        while (p < end && *p != '/') {
            char c = *p;
            if (c == '%')
                return wd_err_set(e, WD_E_MALFORMED, "spiffe id: percent-encoding is not "
                                                     "allowed");
            if (c == '?' || c == '#')
                return wd_err_set(e, WD_E_MALFORMED, "spiffe id: a query or fragment is not "
                                                     "allowed");
            p++;
        }
        size_t n = (size_t)(p - s);
        if (n == 0)
            return wd_err_set(e, WD_E_MALFORMED,
                              p == end ? "spiffe id: trailing slash"
                                       : "spiffe id: empty path segment");
        if (nseg == MAX_SEGMENTS)
            return wd_err_set(e, WD_E_MALFORMED, "spiffe id: more path segments than any "
                                                 "warden identity has");
        seg[nseg] = s;
        segn[nseg] = n;
        nseg++;
    }

    wd_spiffe_id id;
    memset(&id, 0, sizeof id);
    bool shape = false;
    if (nseg == 8 && seg_is(seg[0], segn[0], "org") && seg_is(seg[2], segn[2], "fleet") &&
        seg_is(seg[4], segn[4], "env") && seg_is(seg[6], segn[6], "instance")) {
        id.kind = WD_PEER_FOLLOWER;
        shape = true;
        if (!take_id(seg[1], segn[1], id.org) || !take_id(seg[3], segn[3], id.fleet) ||
            !take_id(seg[5], segn[5], id.env) || !take_id(seg[7], segn[7], id.instance))
            return wd_err_set(e, WD_E_MALFORMED, "spiffe id: a follower segment is not an id "
                                                 "([A-Za-z0-9][A-Za-z0-9_.-]{0,127})");
    } else if (nseg == 4 && seg_is(seg[0], segn[0], "org") && seg_is(seg[2], segn[2], "admin")) {
        id.kind = WD_PEER_ADMIN;
        shape = true;
        if (!take_id(seg[1], segn[1], id.org) || !take_id(seg[3], segn[3], id.admin))
            return wd_err_set(e, WD_E_MALFORMED, "spiffe id: an administrator segment is not "
                                                 "an id ([A-Za-z0-9][A-Za-z0-9_.-]{0,127})");
    }
    if (!shape)
        return wd_err_set(e, WD_E_MALFORMED,
                          "spiffe id: neither /org/O/fleet/F/env/E/instance/I nor "
                          "/org/O/admin/NAME");

    /* Only a well-formed identity gets this far: now whose is it? */
    bool same = tdn == strlen(td);
    for (size_t i = 0; same && i < tdn; i++)
        same = lower(tds[i]) == td[i];
    if (!same)
        return wd_err_set(e, WD_E_WRONG_SCOPE, "spiffe id: trust domain is not %s", td);
    *out = id;
    return WD_OK;
}

wd_code wd_spiffe_format(const wd_spiffe_id *id, const char *td, char *out, size_t outsz,
                         wd_err *e)
{
    if (out != NULL && outsz > 0)
        out[0] = '\0';
    if (out == NULL || outsz == 0)
        return wd_err_set(e, WD_E_USAGE, "spiffe id: no room for the URI");
    if (!wd_spiffe_td_valid(td))
        return wd_err_set(e, WD_E_USAGE, "spiffe id: trust domain is not a valid name "
                                         "(1-255 of a-z, 0-9, '.', '-', '_')");
    int n;
    switch (id->kind) {
    case WD_PEER_FOLLOWER:
        if (!wd_id_valid(id->org) || !wd_id_valid(id->fleet) || !wd_id_valid(id->env) ||
            !wd_id_valid(id->instance))
            return wd_err_set(e, WD_E_USAGE, "spiffe id: org, fleet, env and instance must "
                                             "each be an id ([A-Za-z0-9][A-Za-z0-9_.-]{0,127})");
        n = snprintf(out, outsz, SCHEME "%s/org/%s/fleet/%s/env/%s/instance/%s", td, id->org,
                     id->fleet, id->env, id->instance);
        break;
    case WD_PEER_ADMIN:
        if (!wd_id_valid(id->org) || !wd_id_valid(id->admin))
            return wd_err_set(e, WD_E_USAGE, "spiffe id: org and administrator name must each "
                                             "be an id ([A-Za-z0-9][A-Za-z0-9_.-]{0,127})");
        n = snprintf(out, outsz, SCHEME "%s/org/%s/admin/%s", td, id->org, id->admin);
        break;
    default:
        return wd_err_set(e, WD_E_USAGE, "spiffe id: unknown identity kind %d", (int)id->kind);
    }
    if (n < 0 || (size_t)n >= outsz) {
        out[0] = '\0';
        return wd_err_set(e, WD_E_USAGE, "spiffe id: %d bytes do not fit in %zu", n, outsz);
    }
    return WD_OK;
}
