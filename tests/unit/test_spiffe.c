/* test_spiffe.c — focus: parsing and building warden's two SPIFFE identity shapes (follower,
 * administrator): every malformed variant with its exact code, the trust-domain scope check,
 * and the limits (segment 128/129 bytes, URI WD_SPIFFE_MAX/+1, trust domain 255/256). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/spiffe.h"

#define TD "example.org"
#define FOLLOWER "spiffe://example.org/org/acme/fleet/prod/env/eu1/instance/i-1"
#define ADMIN "spiffe://example.org/org/acme/admin/alice"

/* Parse a C string against TD; return the code, with *id filled. */
static wd_code parse(const char *uri, wd_spiffe_id *id)
{
    wd_err e;
    wd_err_clear(&e);
    wd_code c = wd_spiffe_parse(uri, strlen(uri), TD, id, &e);
    assert_int_equal(e.code, c);
    if (c != WD_OK)
        assert_true(e.msg[0] != '\0');
    return c;
}

static bool all_zero(const wd_spiffe_id *id)
{
    static const wd_spiffe_id zero;
    return memcmp(id, &zero, sizeof zero) == 0;
}

/* uri is rejected with code, and the output is zeroed (it was filled with junk before). */
static void refuse(const char *uri, wd_code code)
{
    wd_spiffe_id id;
    memset(&id, 0x5a, sizeof id);
    wd_code c = parse(uri, &id);
    if (c != code)
        fail_msg("%s: got %d, wanted %d", uri, (int)c, (int)code);
    assert_true(all_zero(&id));
}

static void t01_parses_follower(void **state)
{
    (void)state;
    wd_spiffe_id id;
    assert_int_equal(parse(FOLLOWER, &id), WD_OK);
    assert_int_equal(id.kind, WD_PEER_FOLLOWER);
    assert_string_equal(id.org, "acme");
    assert_string_equal(id.fleet, "prod");
    assert_string_equal(id.env, "eu1");
    assert_string_equal(id.instance, "i-1");
    assert_string_equal(id.admin, "");
}

static void t02_parses_admin(void **state)
{
    (void)state;
    wd_spiffe_id id;
    assert_int_equal(parse(ADMIN, &id), WD_OK);
    assert_int_equal(id.kind, WD_PEER_ADMIN);
    assert_string_equal(id.org, "acme");
    assert_string_equal(id.admin, "alice");
    assert_string_equal(id.fleet, "");
    assert_string_equal(id.env, "");
    assert_string_equal(id.instance, "");
}

static void t03_id_characters_in_segments(void **state)
{
    (void)state;
    wd_spiffe_id id;
    assert_int_equal(parse("spiffe://example.org/org/A.c_m-e9/fleet/F/env/e.1/instance/X_y-z.0",
                           &id),
                     WD_OK);
    assert_string_equal(id.org, "A.c_m-e9");
    assert_string_equal(id.instance, "X_y-z.0");
    /* path segments are case-sensitive: kept as written */
    assert_int_equal(parse("spiffe://example.org/org/ACME/admin/Alice", &id), WD_OK);
    assert_string_equal(id.org, "ACME");
    assert_string_equal(id.admin, "Alice");
}

static void t04_other_schemes_are_malformed(void **state)
{
    (void)state;
    refuse("https://example.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("SPIFFE://example.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("Spiffe://example.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe:/example.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe:example.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe//example.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse(" spiffe://example.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("", WD_E_MALFORMED);
    refuse("spiffe://", WD_E_MALFORMED);
    refuse("spiffe:", WD_E_MALFORMED);
}

static void t05_bad_authority_is_malformed(void **state)
{
    (void)state;
    refuse("spiffe:///org/acme/admin/alice", WD_E_MALFORMED);         /* no trust domain */
    refuse("spiffe://example.org", WD_E_MALFORMED);                   /* no path */
    refuse("spiffe://example.org/", WD_E_MALFORMED);                  /* trailing slash */
    refuse("spiffe://user@example.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org:443/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://exa%6dple.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://[::1]/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://ex ample.org/org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://ex\xc3\xa9mple.org/org/acme/admin/alice", WD_E_MALFORMED);
}

static void t06_bad_paths_are_malformed(void **state)
{
    (void)state;
    /* trailing slash, empty segments */
    refuse(ADMIN "/", WD_E_MALFORMED);
    refuse(FOLLOWER "/", WD_E_MALFORMED);
    refuse("spiffe://example.org//org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org//acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin//alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/", WD_E_MALFORMED);
    /* dot segments */
    refuse("spiffe://example.org/org/acme/admin/..", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/.", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/../org/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/fleet/../env/eu1/instance/i-1", WD_E_MALFORMED);
    /* percent-encoding, query, fragment */
    refuse("spiffe://example.org/org/acme/admin/al%69ce", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/alice%2F..", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/alice?x=1", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/alice?", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/alice#frag", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/alice#", WD_E_MALFORMED);
    refuse("spiffe://example.org?/org/acme/admin/alice", WD_E_MALFORMED);
    /* segments that are not ids */
    refuse("spiffe://example.org/org/-acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/_alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/ac me/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/al:ice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/al\xc3\xa9", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admin/al\tice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/fleet/prod/env/eu1/instance/i+1", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme\\x/admin/alice", WD_E_MALFORMED);
}

static void t07_wrong_shapes_are_malformed(void **state)
{
    (void)state;
    /* missing segments */
    refuse("spiffe://example.org/org/acme/admin", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme", WD_E_MALFORMED);
    refuse("spiffe://example.org/org", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/fleet/prod/env/eu1/instance", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/fleet/prod/env/eu1", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/fleet/prod", WD_E_MALFORMED);
    /* extra segments */
    refuse(ADMIN "/x", WD_E_MALFORMED);
    refuse(FOLLOWER "/x", WD_E_MALFORMED);
    refuse(FOLLOWER "/x/y/z/w", WD_E_MALFORMED);
    /* wrong keywords, keywords in another case or order */
    refuse("spiffe://example.org/ORG/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/Admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/admins/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/orgs/acme/admin/alice", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/env/eu1/fleet/prod/instance/i-1", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/fleet/prod/env/eu1/admin/i-1", WD_E_MALFORMED);
    refuse("spiffe://example.org/org/acme/fleet/prod/env/eu1/instances/i-1", WD_E_MALFORMED);
    refuse("spiffe://example.org/ns/default/sa/web", WD_E_MALFORMED);
    refuse("spiffe://example.org/admin/alice/org/acme", WD_E_MALFORMED);
}

static void t08_nul_inside_is_malformed(void **state)
{
    (void)state;
    static const char uri[] = "spiffe://example.org/org/acme/admin/alice\0/x";
    wd_spiffe_id id;
    memset(&id, 0x5a, sizeof id);
    wd_err e;
    /* the whole buffer, NUL included */
    assert_int_equal(wd_spiffe_parse(uri, sizeof uri - 1, TD, &id, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "NUL"));
    assert_true(all_zero(&id));
    /* a trailing NUL too */
    static const char uri2[] = ADMIN;
    assert_int_equal(wd_spiffe_parse(uri2, sizeof uri2, TD, &id, &e), WD_E_MALFORMED);
    /* and a length that stops before the NUL parses the prefix only */
    assert_int_equal(wd_spiffe_parse(uri, strlen(uri), TD, &id, &e), WD_OK);
    assert_string_equal(id.admin, "alice");
    /* a length inside the URI: the bytes after it are not read */
    assert_int_equal(wd_spiffe_parse(ADMIN "XYZ", strlen(ADMIN), TD, &id, &e), WD_OK);
    assert_string_equal(id.admin, "alice");
}

static void t09_another_trust_domain_is_wrong_scope(void **state)
{
    (void)state;
    refuse("spiffe://example.com/org/acme/admin/alice", WD_E_WRONG_SCOPE);
    refuse("spiffe://other.example.org/org/acme/fleet/prod/env/eu1/instance/i-1",
           WD_E_WRONG_SCOPE);
    refuse("spiffe://example.org.evil/org/acme/admin/alice", WD_E_WRONG_SCOPE);
    refuse("spiffe://example.or/org/acme/admin/alice", WD_E_WRONG_SCOPE);
    refuse("spiffe://xample.org/org/acme/admin/alice", WD_E_WRONG_SCOPE);
    /* a malformed identity is malformed whatever its trust domain */
    refuse("spiffe://example.com/org/acme/admin", WD_E_MALFORMED);
    /* trust domains compare case-insensitively */
    wd_spiffe_id id;
    assert_int_equal(parse("spiffe://Example.ORG/org/acme/admin/alice", &id), WD_OK);
    assert_string_equal(id.admin, "alice");
}

static void t10_expected_trust_domain_must_be_valid(void **state)
{
    (void)state;
    wd_spiffe_id id;
    wd_err e;
    assert_int_equal(wd_spiffe_parse(ADMIN, strlen(ADMIN), "Example.org", &id, &e), WD_E_USAGE);
    assert_int_equal(wd_spiffe_parse(ADMIN, strlen(ADMIN), "", &id, &e), WD_E_USAGE);
    assert_int_equal(wd_spiffe_parse(ADMIN, strlen(ADMIN), NULL, &id, &e), WD_E_USAGE);
    assert_int_equal(wd_spiffe_parse(ADMIN, strlen(ADMIN), "example.org/x", &id, &e),
                     WD_E_USAGE);
    assert_true(all_zero(&id));
    assert_int_equal(wd_spiffe_parse(NULL, 0, TD, &id, &e), WD_E_MALFORMED);
}

static void t11_segment_limit(void **state)
{
    (void)state;
    char seg[WD_MAX_ID_LEN + 2];
    char uri[WD_SPIFFE_MAX + 8];
    wd_spiffe_id id;
    memset(seg, 'a', WD_MAX_ID_LEN);
    seg[WD_MAX_ID_LEN] = '\0';
    /* the segment goes between a prefix and a suffix */
    static const char *const shapes[][2] = {
        {"spiffe://example.org/org/", "/admin/alice"},
        {"spiffe://example.org/org/acme/admin/", ""},
        {"spiffe://example.org/org/", "/fleet/f/env/e/instance/i"},
        {"spiffe://example.org/org/o/fleet/", "/env/e/instance/i"},
        {"spiffe://example.org/org/o/fleet/f/env/", "/instance/i"},
        {"spiffe://example.org/org/o/fleet/f/env/e/instance/", ""},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        seg[WD_MAX_ID_LEN] = '\0'; /* 128: the limit */
        snprintf(uri, sizeof uri, "%s%s%s", shapes[i][0], seg, shapes[i][1]);
        assert_int_equal(parse(uri, &id), WD_OK);
        seg[WD_MAX_ID_LEN] = 'a'; /* 129 */
        seg[WD_MAX_ID_LEN + 1] = '\0';
        snprintf(uri, sizeof uri, "%s%s%s", shapes[i][0], seg, shapes[i][1]);
        refuse(uri, WD_E_MALFORMED);
    }
}

static void t12_uri_and_trust_domain_limits(void **state)
{
    (void)state;
    char td[300], uri[WD_SPIFFE_MAX + 16], seg[WD_MAX_ID_LEN + 1];
    wd_spiffe_id id;
    wd_err e;
    /* the longest follower: a 255-byte trust domain and four 128-byte ids */
    memset(td, 't', 255);
    td[255] = '\0';
    memset(seg, 'x', WD_MAX_ID_LEN);
    seg[WD_MAX_ID_LEN] = '\0';
    assert_true(wd_spiffe_td_valid(td));
    snprintf(uri, sizeof uri, "spiffe://%s/org/%s/fleet/%s/env/%s/instance/%s", td, seg, seg,
             seg, seg);
    assert_int_equal(wd_spiffe_parse(uri, strlen(uri), td, &id, &e), WD_OK);
    assert_true(strlen(uri) < WD_SPIFFE_MAX);
    /* the same round trip through format */
    char again[WD_SPIFFE_MAX];
    assert_int_equal(wd_spiffe_format(&id, td, again, sizeof again, &e), WD_OK);
    assert_string_equal(again, uri);
    /* trust domain 256 bytes: not a name, in the URI or as the expected one */
    td[255] = 't';
    td[256] = '\0';
    assert_false(wd_spiffe_td_valid(td));
    snprintf(uri, sizeof uri, "spiffe://%s/org/o/admin/a", td);
    assert_int_equal(wd_spiffe_parse(uri, strlen(uri), TD, &id, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "longer than 255"));

    /* URI length: WD_SPIFFE_MAX bytes gets past the length check (and fails on its shape);
     * WD_SPIFFE_MAX + 1 is refused for its length before anything else */
    memset(uri, 'a', sizeof uri);
    memcpy(uri, "spiffe://example.org/", 21);
    assert_int_equal(wd_spiffe_parse(uri, WD_SPIFFE_MAX, TD, &id, &e), WD_E_MALFORMED);
    assert_null(strstr(e.msg, "longer than"));
    assert_int_equal(wd_spiffe_parse(uri, WD_SPIFFE_MAX + 1, TD, &id, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "longer than 2048"));
}

static void t13_format_builds_both_shapes(void **state)
{
    (void)state;
    wd_spiffe_id id;
    memset(&id, 0, sizeof id);
    char out[WD_SPIFFE_MAX];
    wd_err e;
    id.kind = WD_PEER_FOLLOWER;
    strcpy(id.org, "acme");
    strcpy(id.fleet, "prod");
    strcpy(id.env, "eu1");
    strcpy(id.instance, "i-1");
    assert_int_equal(wd_spiffe_format(&id, TD, out, sizeof out, &e), WD_OK);
    assert_string_equal(out, FOLLOWER);
    memset(&id, 0, sizeof id);
    id.kind = WD_PEER_ADMIN;
    strcpy(id.org, "acme");
    strcpy(id.admin, "alice");
    assert_int_equal(wd_spiffe_format(&id, TD, out, sizeof out, &e), WD_OK);
    assert_string_equal(out, ADMIN);
    /* exactly enough room, and one byte less */
    assert_int_equal(wd_spiffe_format(&id, TD, out, strlen(ADMIN) + 1, &e), WD_OK);
    assert_int_equal(wd_spiffe_format(&id, TD, out, strlen(ADMIN), &e), WD_E_USAGE);
    assert_string_equal(out, "");
    assert_int_equal(wd_spiffe_format(&id, TD, out, 0, &e), WD_E_USAGE);
}

static void t14_format_refuses_bad_input(void **state)
{
    (void)state;
    wd_spiffe_id id;
    char out[WD_SPIFFE_MAX];
    wd_err e;
    memset(&id, 0, sizeof id);
    id.kind = WD_PEER_ADMIN;
    strcpy(id.org, "acme");
    strcpy(id.admin, "..");
    assert_int_equal(wd_spiffe_format(&id, TD, out, sizeof out, &e), WD_E_USAGE);
    assert_string_equal(out, "");
    strcpy(id.admin, "a/b");
    assert_int_equal(wd_spiffe_format(&id, TD, out, sizeof out, &e), WD_E_USAGE);
    strcpy(id.admin, "");
    assert_int_equal(wd_spiffe_format(&id, TD, out, sizeof out, &e), WD_E_USAGE);
    strcpy(id.admin, "alice");
    assert_int_equal(wd_spiffe_format(&id, "Example.org", out, sizeof out, &e), WD_E_USAGE);
    assert_int_equal(wd_spiffe_format(&id, "", out, sizeof out, &e), WD_E_USAGE);
    assert_int_equal(wd_spiffe_format(&id, "ex/ample", out, sizeof out, &e), WD_E_USAGE);
    assert_int_equal(wd_spiffe_format(&id, "ex:1", out, sizeof out, &e), WD_E_USAGE);
    /* a follower needs all four ids */
    memset(&id, 0, sizeof id);
    id.kind = WD_PEER_FOLLOWER;
    strcpy(id.org, "acme");
    strcpy(id.fleet, "prod");
    strcpy(id.env, "eu1");
    assert_int_equal(wd_spiffe_format(&id, TD, out, sizeof out, &e), WD_E_USAGE);
    /* an unknown kind */
    id.kind = (wd_peer_kind)7;
    strcpy(id.instance, "i");
    assert_int_equal(wd_spiffe_format(&id, TD, out, sizeof out, &e), WD_E_USAGE);
}

static void t15_td_valid(void **state)
{
    (void)state;
    assert_true(wd_spiffe_td_valid("example.org"));
    assert_true(wd_spiffe_td_valid("a"));
    assert_true(wd_spiffe_td_valid("prod_1.acme-corp.internal"));
    assert_false(wd_spiffe_td_valid(""));
    assert_false(wd_spiffe_td_valid(NULL));
    assert_false(wd_spiffe_td_valid("Example.org"));
    assert_false(wd_spiffe_td_valid("example.org:8443"));
    assert_false(wd_spiffe_td_valid("user@example.org"));
    assert_false(wd_spiffe_td_valid("exa mple"));
    assert_false(wd_spiffe_td_valid("spiffe://example.org"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_parses_follower),
        cmocka_unit_test(t02_parses_admin),
        cmocka_unit_test(t03_id_characters_in_segments),
        cmocka_unit_test(t04_other_schemes_are_malformed),
        cmocka_unit_test(t05_bad_authority_is_malformed),
        cmocka_unit_test(t06_bad_paths_are_malformed),
        cmocka_unit_test(t07_wrong_shapes_are_malformed),
        cmocka_unit_test(t08_nul_inside_is_malformed),
        cmocka_unit_test(t09_another_trust_domain_is_wrong_scope),
        cmocka_unit_test(t10_expected_trust_domain_must_be_valid),
        cmocka_unit_test(t11_segment_limit),
        cmocka_unit_test(t12_uri_and_trust_domain_limits),
        cmocka_unit_test(t13_format_builds_both_shapes),
        cmocka_unit_test(t14_format_refuses_bad_input),
        cmocka_unit_test(t15_td_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
