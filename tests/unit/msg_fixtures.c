/* msg_fixtures.c — the shared roster, keys and helpers of the signed-message unit tests.
 * It must never touch the file system, and never let a failed step pass silently. */
#include "msg_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "codec/json.h"

msgfx_keys F;

/* Add k to r, valid from 30 days before T0 until until. */
static wd_code add(wd_roster *r, bool root, wd_key *k, unsigned purposes, int64_t until,
                   wd_err *e)
{
    return wd_roster_add_key(r, root, k, purposes, T0 - 30 * DAY, until, NULL, e);
}

int msgfx_setup(unsigned pairs, unsigned spare)
{
    wd_err e;
    wd_key **all[] = {&F.root,   &F.bsign, &F.kill1,   &F.kill2,   &F.rb1,
                      &F.rb2,    &F.revoked, &F.expired, &F.outsider};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        bool kill = all[i] == &F.kill1 || all[i] == &F.kill2;
        bool rb = all[i] == &F.rb1 || all[i] == &F.rb2;
        if ((kill && !(pairs & MSGFX_KILL)) || (rb && !(pairs & MSGFX_ROLLBACK)))
            continue;
        if (wd_key_generate(all[i], &e) != WD_OK)
            return -1;
    }
    wd_roster *r = NULL;
    if (wd_roster_new("acme", &r, &e) != WD_OK)
        return -1;
    r->created_at = T0 - 30 * DAY;
    r->expires_at = T0 + 365 * DAY;
    wd_code c = add(r, true, F.root, WD_PURPOSE_ROSTER_ROOT, INT64_MAX, &e);
    if (c == WD_OK)
        c = add(r, false, F.bsign, WD_PURPOSE_BUNDLE_SIGNING, INT64_MAX, &e);
    if (c == WD_OK && (pairs & MSGFX_KILL)) {
        c = add(r, false, F.kill1, WD_PURPOSE_KILL_SIGNING, INT64_MAX, &e);
        if (c == WD_OK)
            c = add(r, false, F.kill2, WD_PURPOSE_KILL_SIGNING, INT64_MAX, &e);
    }
    if (c == WD_OK && (pairs & MSGFX_ROLLBACK)) {
        c = add(r, false, F.rb1, WD_PURPOSE_BUNDLE_ROLLBACK, INT64_MAX, &e);
        if (c == WD_OK)
            c = add(r, false, F.rb2, WD_PURPOSE_BUNDLE_ROLLBACK, INT64_MAX, &e);
    }
    if (c == WD_OK)
        c = add(r, false, F.revoked, spare, INT64_MAX, &e);
    if (c == WD_OK)
        c = add(r, false, F.expired, spare, T0 - DAY, &e);
    if (c != WD_OK) {
        fprintf(stderr, "# roster: %s\n", e.msg);
        wd_roster_free(r);
        return -1;
    }
    wd_roster_find(r, wd_key_id(F.revoked), NULL)->revoked = true;
    char *env = NULL;
    size_t len = 0;
    if (wd_roster_sign(r, &F.root, 1, &env, &len, &e) != WD_OK ||
        wd_roster_verify((unsigned char *)env, len, wd_key_id(F.root), NULL, T0, &F.roster, &e) !=
            WD_OK) {
        fprintf(stderr, "# roster: %s\n", e.msg);
        return -1;
    }
    free(env);
    wd_roster_free(r);
    return 0;
}

int msgfx_teardown(void)
{
    wd_key *all[] = {F.root, F.bsign, F.kill1, F.kill2, F.rb1, F.rb2, F.revoked, F.expired,
                     F.outsider};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        wd_key_free(all[i]);
    wd_roster_free(F.roster);
    return 0;
}

json_t *tjson(int64_t t)
{
    char s[WD_TIME_STRLEN + 1];
    wd_time_format(t, s);
    return json_string(s);
}

char *sign_text(const char *type, const char *p, size_t plen, wd_key **keys, size_t n,
                size_t *len)
{
    char *env = NULL;
    wd_err e;
    if (wd_dsse_sign(type, (const unsigned char *)p, plen, keys, n, &env, len, &e) != WD_OK)
        fail_msg("sign: %s", e.msg);
    return env;
}

char *sign_obj(const char *type, json_t *o, wd_key **keys, size_t n, size_t *len)
{
    size_t plen = 0;
    char *p = wd_json_dump(o, &plen);
    assert_non_null(p);
    char *env = sign_text(type, p, plen, keys, n, len);
    free(p);
    return env;
}

void check_verdict(wd_code c, const void *out, const wd_err *e)
{
    if (c != WD_OK) {
        assert_null(out);
        assert_int_equal(e->code, c);
        assert_true(strlen(e->msg) > 0);
    } else {
        assert_non_null(out);
    }
}

void expect_code(wd_code c, wd_code code, const wd_err *e)
{
    if (c != code)
        fprintf(stderr, "# wanted %s, got %s: %s\n", wd_code_name(code), wd_code_name(c), e->msg);
    assert_int_equal(c, code);
}

char *pad_to(const char *env, size_t len, size_t size)
{
    assert_true(size >= len);
    char *s = malloc(size);
    assert_non_null(s);
    s[0] = env[0];
    memset(s + 1, ' ', size - len);
    memcpy(s + 1 + (size - len), env + 1, len - 1);
    return s;
}

char *text_replace(json_t *o, const char *from, const char *to)
{
    char *p = wd_json_dump(o, NULL);
    char *at = strstr(p, from);
    assert_non_null(at);
    size_t n = strlen(p) - strlen(from) + strlen(to);
    char *s = malloc(n + 1);
    size_t head = (size_t)(at - p);
    memcpy(s, p, head);
    memcpy(s + head, to, strlen(to));
    strcpy(s + head + strlen(to), at + strlen(from));
    free(p);
    return s;
}
