/* test_stream_rule.c — focus: the publish rules of a stream (src/leader/stream_rule.c), the one
 * copy both stores decide with: bundles (same, fork, stale below the highest, created at and
 * above it), kills (the counter must rise), the end of a stream's rollback, puts keyed by id
 * (same bytes, other bytes, one byte more or less) and rosters (newest + 1 only, the top of
 * the range), each at its boundary and one past it, and what held_hash is left holding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "stream_rule.h"

#define H1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void t01_bundle_same_hash(void **state)
{
    (void)state;
    char held[WD_DIGEST_STRLEN + 1] = "x";
    /* the hash decides before anything else, even below the highest version */
    wd_stream_facts f = {.hash_held = true, .seq_hash = H1, .max_seq = 9};
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 3, H1, &f, held), WD_PUT_SAME);
    assert_string_equal(held, H1);
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 3, H1, &f, NULL), WD_PUT_SAME);
}

static void t02_bundle_fork(void **state)
{
    (void)state;
    char held[WD_DIGEST_STRLEN + 1] = "x";
    /* the version is held with another hash: a fork, whether it is the highest or not */
    wd_stream_facts f = {.hash_held = false, .seq_hash = H1, .max_seq = 3};
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 3, H2, &f, held), WD_PUT_FORK);
    assert_string_equal(held, H1);
    f.max_seq = 7;
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 3, H2, &f, held), WD_PUT_FORK);
    assert_string_equal(held, H1);
}

static void t03_bundle_stale_and_created(void **state)
{
    (void)state;
    char held[WD_DIGEST_STRLEN + 1] = "x";
    wd_stream_facts f = {.hash_held = false, .seq_hash = NULL, .max_seq = 5};
    /* one below the highest: stale */
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 4, H2, &f, held), WD_PUT_STALE);
    assert_string_equal(held, "");
    /* the highest version itself, free (a gap left by nothing): created; above it: created */
    strcpy(held, "x");
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 5, H2, &f, held), WD_PUT_CREATED);
    assert_string_equal(held, "");
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 6, H2, &f, held), WD_PUT_CREATED);
    /* versions may skip */
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 100, H2, &f, held), WD_PUT_CREATED);
    /* an empty stream takes any version */
    f.max_seq = 0;
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_BUNDLE, 1, H2, &f, held), WD_PUT_CREATED);
}

static void t04_kill_counter_must_rise(void **state)
{
    (void)state;
    char held[WD_DIGEST_STRLEN + 1] = "x";
    wd_stream_facts f = {.hash_held = false, .seq_hash = NULL, .max_seq = 5};
    /* the highest counter with another hash: stale, never a fork */
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_KILL, 5, H2, &f, held), WD_PUT_STALE);
    assert_string_equal(held, "");
    f.seq_hash = H1; /* a kill has no fork even when the counter's hash is given */
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_KILL, 5, H2, &f, held), WD_PUT_STALE);
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_KILL, 4, H2, &f, held), WD_PUT_STALE);
    f.seq_hash = NULL;
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_KILL, 6, H2, &f, held), WD_PUT_CREATED);
    f.hash_held = true;
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_KILL, 5, H2, &f, held), WD_PUT_SAME);
    assert_string_equal(held, H2);
    f = (wd_stream_facts){0};
    assert_int_equal(wd_stream_rule_msg(WD_STREAM_KILL, 1, H1, &f, NULL), WD_PUT_CREATED);
}

static void t05_only_a_new_bundle_ends_the_rollback(void **state)
{
    (void)state;
    assert_true(wd_stream_rule_ends_rollback(WD_STREAM_BUNDLE, WD_PUT_CREATED));
    assert_false(wd_stream_rule_ends_rollback(WD_STREAM_BUNDLE, WD_PUT_SAME));
    assert_false(wd_stream_rule_ends_rollback(WD_STREAM_BUNDLE, WD_PUT_FORK));
    assert_false(wd_stream_rule_ends_rollback(WD_STREAM_BUNDLE, WD_PUT_STALE));
    assert_false(wd_stream_rule_ends_rollback(WD_STREAM_KILL, WD_PUT_CREATED));
}

static void t06_by_id(void **state)
{
    (void)state;
    const unsigned char a[] = "abcdef", b[] = "abcdeX";
    assert_int_equal(wd_stream_rule_by_id(false, NULL, 0, a, 6), WD_PUT_CREATED);
    /* held_exists false: whatever held says is ignored */
    assert_int_equal(wd_stream_rule_by_id(false, a, 6, a, 6), WD_PUT_CREATED);
    assert_int_equal(wd_stream_rule_by_id(true, a, 6, a, 6), WD_PUT_SAME);
    /* the last byte differs; one byte shorter; one byte longer */
    assert_int_equal(wd_stream_rule_by_id(true, a, 6, b, 6), WD_PUT_FORK);
    assert_int_equal(wd_stream_rule_by_id(true, a, 6, a, 5), WD_PUT_FORK);
    assert_int_equal(wd_stream_rule_by_id(true, a, 5, a, 6), WD_PUT_FORK);
    /* empty against empty is the same; empty against something is not */
    assert_int_equal(wd_stream_rule_by_id(true, NULL, 0, NULL, 0), WD_PUT_SAME);
    assert_int_equal(wd_stream_rule_by_id(true, NULL, 0, a, 1), WD_PUT_FORK);
}

static void t07_roster(void **state)
{
    (void)state;
    /* nothing held: any version */
    assert_int_equal(wd_stream_rule_roster(1, H1, NULL, false, 0), WD_PUT_CREATED);
    assert_int_equal(wd_stream_rule_roster(7, H1, NULL, false, 0), WD_PUT_CREATED);
    /* newest 3: only 4 */
    assert_int_equal(wd_stream_rule_roster(4, H1, NULL, true, 3), WD_PUT_CREATED);
    assert_int_equal(wd_stream_rule_roster(5, H1, NULL, true, 3), WD_PUT_STALE);
    assert_int_equal(wd_stream_rule_roster(3, H2, H1, true, 3), WD_PUT_STALE);
    assert_int_equal(wd_stream_rule_roster(2, H2, H1, true, 3), WD_PUT_STALE);
    /* the version held with this hash: same, even an older one */
    assert_int_equal(wd_stream_rule_roster(3, H1, H1, true, 3), WD_PUT_SAME);
    assert_int_equal(wd_stream_rule_roster(2, H1, H1, true, 3), WD_PUT_SAME);
    /* the top of the range: nothing follows INT64_MAX (no overflow) */
    assert_int_equal(wd_stream_rule_roster(INT64_MAX, H1, NULL, true, INT64_MAX - 1),
                     WD_PUT_CREATED);
    assert_int_equal(wd_stream_rule_roster(INT64_MIN, H2, NULL, true, INT64_MAX),
                     WD_PUT_STALE);
    assert_int_equal(wd_stream_rule_roster(INT64_MAX, H2, H1, true, INT64_MAX), WD_PUT_STALE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_bundle_same_hash),
        cmocka_unit_test(t02_bundle_fork),
        cmocka_unit_test(t03_bundle_stale_and_created),
        cmocka_unit_test(t04_kill_counter_must_rise),
        cmocka_unit_test(t05_only_a_new_bundle_ends_the_rollback),
        cmocka_unit_test(t06_by_id),
        cmocka_unit_test(t07_roster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
