/* test_base.c — focus: the base layer (codes and messages, bounded file reads, durable writes,
 * RFC 3339 times, durations, identifiers, version strings, text cleaning). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/wd-base-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void t01_every_code_has_a_name_and_exit(void **state)
{
    (void)state;
    for (int c = WD_OK; c <= WD_E_USAGE; c++) {
        assert_string_not_equal(wd_code_name((wd_code)c), "unknown");
        int x = wd_code_exit((wd_code)c);
        assert_true(x >= 0 && x <= 3);
    }
    assert_string_equal(wd_code_name(WD_E_BAD_SIGNATURE), "bad-signature");
    assert_string_equal(wd_code_name(WD_E_UNSUPPORTED_VERSION), "unsupported-version");
    assert_int_equal(wd_code_exit(WD_E_MALFORMED), 3);
    assert_int_equal(wd_code_exit(WD_E_DENIED), 3);
    assert_int_equal(wd_code_exit(WD_E_IO), 1);
    assert_int_equal(wd_code_exit(WD_E_USAGE), 2);
    assert_true(wd_code_is_rejection(WD_E_STALE));
    assert_false(wd_code_is_rejection(WD_E_DENIED));
    assert_false(wd_code_is_rejection(WD_E_IO));
}

static void t02_err_set_cleans_control_bytes(void **state)
{
    (void)state;
    wd_err e;
    assert_int_equal(wd_err_set(&e, WD_E_MALFORMED, "bad %s", "a\nb\x1b[31m\xc3\xa9"),
                     WD_E_MALFORMED);
    assert_string_equal(e.msg, "bad a?b?[31m??");
    assert_int_equal(wd_err_prefix(&e, WD_E_MALFORMED, "file %d", 7), WD_E_MALFORMED);
    assert_string_equal(e.msg, "file 7: bad a?b?[31m??");
    assert_int_equal(e.code, WD_E_MALFORMED);
    assert_int_equal(wd_err_set(NULL, WD_E_IO, "x"), WD_E_IO);
    /* with no error struct the code still travels up */
    assert_int_equal(wd_err_prefix(NULL, WD_E_STALE, "ctx"), WD_E_STALE);
    wd_err_clear(&e);
    assert_int_equal(e.code, WD_OK);
}

static void t03_err_message_is_bounded(void **state)
{
    (void)state;
    wd_err e;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    wd_err_set(&e, WD_E_IO, "%s", big);
    assert_int_equal(strlen(e.msg), WD_ERR_MSG_MAX - 1);
    wd_err_prefix(&e, WD_E_IO, "%s", big);
    assert_true(strlen(e.msg) < WD_ERR_MSG_MAX);
}

static void write_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc('a', f);
    fclose(f);
}

static void t04_read_file_at_limit_and_past_it(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/f", tmpdir);
    write_bytes(path, 1000);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_err e;
    assert_int_equal(wd_read_file(path, 1000, &buf, &len, &e), WD_OK);
    assert_int_equal(len, 1000);
    assert_int_equal(buf[1000], 0);
    free(buf);
    assert_int_equal(wd_read_file(path, 999, &buf, &len, &e), WD_E_OVERSIZED);
    assert_null(buf);
    assert_non_null(strstr(e.msg, "limit of 999"));
}

static void t05_read_file_missing_is_io(void **state)
{
    (void)state;
    unsigned char *buf = NULL;
    size_t len;
    wd_err e;
    assert_int_equal(wd_read_file("/nonexistent/x", 10, &buf, &len, &e), WD_E_IO);
    assert_null(buf);
    assert_int_equal(wd_read_file("/tmp", 10, &buf, &len, &e), WD_E_IO);
}

static void t06_read_pipe_past_limit(void **state)
{
    (void)state;
    /* a FIFO has no size to stat: the cap must hold while reading */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char chunk[300];
    memset(chunk, 'b', sizeof chunk);
    assert_int_equal(write(fds[1], chunk, sizeof chunk), (ssize_t)sizeof chunk);
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    unsigned char *buf = NULL;
    size_t len;
    wd_err e;
    assert_int_equal(wd_read_file(path, 299, &buf, &len, &e), WD_E_OVERSIZED);
    assert_null(buf);
    close(fds[0]);
}

static void t07_write_file_mode_and_content(void **state)
{
    (void)state;
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/wdir", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/w", dir);
    wd_err e;
    assert_int_equal(wd_write_file(path, "hello", 5, 0600, &e), WD_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    unsigned char *buf;
    size_t len;
    assert_int_equal(wd_read_file(path, 100, &buf, &len, &e), WD_OK);
    assert_memory_equal(buf, "hello", 5);
    free(buf);
    /* replacing keeps no temp file behind */
    assert_int_equal(wd_write_file(path, "bye", 3, 0644, &e), WD_OK);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
}

static void t08_write_file_into_missing_dir_fails(void **state)
{
    (void)state;
    wd_err e;
    assert_int_equal(wd_write_file("/nonexistent-dir/x", "a", 1, 0600, &e), WD_E_IO);
}

static void t09_time_parse_valid(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(wd_time_parse("1970-01-01T00:00:00Z", &t, NULL), WD_OK);
    assert_int_equal(t, 0);
    assert_int_equal(wd_time_parse("2026-11-22T00:00:00Z", &t, NULL), WD_OK);
    assert_int_equal(t, 1795305600);
    assert_int_equal(wd_time_parse("2024-02-29T23:59:59Z", &t, NULL), WD_OK);
    assert_int_equal(t, 1709251199);
    assert_int_equal(wd_time_parse("2000-02-29T12:00:00Z", &t, NULL), WD_OK);
    char out[WD_TIME_STRLEN + 1];
    wd_time_format(1709251199, out);
    assert_string_equal(out, "2024-02-29T23:59:59Z");
    wd_time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
}

static void t10_time_parse_rejects_other_spellings(void **state)
{
    (void)state;
    static const char *bad[] = {
        "2026-11-22T00:00:00",       "2026-11-22T00:00:00z",      "2026-11-22t00:00:00Z",
        "2026-11-22 00:00:00Z",      "2026-11-22T00:00:00+00:00", "2026-11-22T00:00:00.0Z",
        "2026-13-01T00:00:00Z",      "2026-00-01T00:00:00Z",      "2026-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",      "2026-04-31T00:00:00Z",      "2026-11-22T24:00:00Z",
        "2026-11-22T00:60:00Z",      "2026-11-22T00:00:60Z",      "26-11-22T00:00:00Z",
        "+026-11-22T00:00:00Z",      "",                          "2026-11-2aT00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 42;
        wd_err e;
        assert_int_equal(wd_time_parse(bad[i], &t, &e), WD_E_MALFORMED);
        assert_int_equal(t, 42);
    }
}

static void t11_time_round_trip(void **state)
{
    (void)state;
    for (int64_t t = -86400LL * 365 * 3; t < 86400LL * 365 * 200; t += 86400LL * 37 + 3601) {
        char s[WD_TIME_STRLEN + 1];
        wd_time_format(t, s);
        int64_t back;
        assert_int_equal(wd_time_parse(s, &back, NULL), WD_OK);
        assert_int_equal(back, t);
    }
}

static void t12_durations(void **state)
{
    (void)state;
    int64_t s;
    assert_int_equal(wd_duration_parse("90s", &s, NULL), WD_OK);
    assert_int_equal(s, 90);
    assert_int_equal(wd_duration_parse("15m", &s, NULL), WD_OK);
    assert_int_equal(s, 900);
    assert_int_equal(wd_duration_parse("720h", &s, NULL), WD_OK);
    assert_int_equal(s, 720 * 3600);
    assert_int_equal(wd_duration_parse("1h30m5s", &s, NULL), WD_OK);
    assert_int_equal(s, 5405);
    static const char *bad[] = {"", "0s", "10", "1d", "-5s", "1.5h", "h", "5 s", "s5",
                                "99999999999999999999h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wd_duration_parse(bad[i], &s, NULL), WD_E_USAGE);
}

static void t13_ids_at_limit_and_past_it(void **state)
{
    (void)state;
    char id[WD_MAX_ID_LEN + 2];
    memset(id, 'a', sizeof id);
    id[WD_MAX_ID_LEN] = '\0';
    assert_true(wd_id_valid(id));
    id[WD_MAX_ID_LEN] = 'a';
    id[WD_MAX_ID_LEN + 1] = '\0';
    assert_false(wd_id_valid(id));
    assert_true(wd_id_valid("b-42"));
    assert_true(wd_id_valid("A.b_c-1"));
    assert_true(wd_id_valid("0"));
    assert_false(wd_id_valid(""));
    assert_false(wd_id_valid("-a"));
    assert_false(wd_id_valid(".a"));
    assert_false(wd_id_valid("_a"));
    assert_false(wd_id_valid("a b"));
    assert_false(wd_id_valid("a/b"));
    assert_false(wd_id_valid("a\xc3\xa9"));
    assert_false(wd_id_valid(NULL));
}

static void t14_semver(void **state)
{
    (void)state;
    unsigned a[3], b[3];
    assert_true(wd_semver_parse("0.1.0", a));
    assert_true(wd_semver_parse("10.20.30", b));
    assert_true(wd_semver_cmp(a, b) < 0);
    assert_true(wd_semver_cmp(b, a) > 0);
    assert_true(wd_semver_parse("0.1.0", b));
    assert_int_equal(wd_semver_cmp(a, b), 0);
    static const char *bad[] = {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03",
                                "v1.2.3", "1.2.3-rc1", "1..3", "1.2.", "1234567.0.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(wd_semver_parse(bad[i], a));
}

static void t15_clean_text(void **state)
{
    (void)state;
    char out[8];
    assert_string_equal(wd_clean_text("ab\ncd", out, sizeof out), "ab?cd");
    assert_string_equal(wd_clean_text("abcdefghijk", out, sizeof out), "abcd...");
    assert_string_equal(wd_clean_text(NULL, out, sizeof out), "(null)");
}

static void t16_suggestions_by_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(wd_edit_distance("match", "match"), 0);
    assert_int_equal(wd_edit_distance("mtach", "match"), 1); /* a swap counts once */
    assert_int_equal(wd_edit_distance("mach", "match"), 1);
    assert_int_equal(wd_edit_distance("", "abc"), 3);
    assert_int_equal(wd_edit_distance("kitten", "sitting"), 3);
    char longer[66];
    memset(longer, 'a', 65);
    longer[65] = '\0';
    assert_true(wd_edit_distance(longer, "a") == (size_t)-1);
    assert_int_equal(wd_edit_distance(longer + 1, longer + 2), 1); /* 64 bytes: compared */
    static const char *const keys[] = {"name", "action", "reason", "match", "limits", NULL};
    assert_string_equal(wd_suggest("mtach", keys, (size_t)-1), "match");
    assert_string_equal(wd_suggest("acton", keys, (size_t)-1), "action");
    assert_string_equal(wd_suggest("limts", keys, (size_t)-1), "limits");
    assert_string_equal(wd_suggest("reasn", keys, (size_t)-1), "reason");
    assert_null(wd_suggest("frobnicate", keys, (size_t)-1)); /* distance > 2 */
    assert_null(wd_suggest("nam", keys, 0));                 /* no names */
    assert_string_equal(wd_suggest("nam", keys, 1), "name"); /* n bounds the list */
    assert_null(wd_suggest("ab", keys, (size_t)-1));         /* too short to guess */
    assert_null(wd_suggest("match", keys, (size_t)-1));      /* itself is no suggestion */
    /* distance exactly 2 is suggested, 3 is not */
    assert_string_equal(wd_suggest("nmaex", keys, (size_t)-1), "name");
    assert_null(wd_suggest("nmaexy", keys, (size_t)-1));
}

static void t17_write_file_new_never_replaces(void **state)
{
    (void)state;
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/wnew", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/n", dir);
    wd_err e;
    assert_int_equal(wd_write_file_new(path, "first", 5, 0644, &e), WD_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* a second write is refused, the file keeps its bytes, and no temp file is left */
    assert_int_equal(wd_write_file_new(path, "second", 6, 0644, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "already exists; not replaced"));
    unsigned char *buf;
    size_t len;
    assert_int_equal(wd_read_file(path, 100, &buf, &len, &e), WD_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "first", 5);
    free(buf);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(wd_write_file_new("/nonexistent-dir/x", "a", 1, 0600, &e), WD_E_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_every_code_has_a_name_and_exit),
        cmocka_unit_test(t02_err_set_cleans_control_bytes),
        cmocka_unit_test(t03_err_message_is_bounded),
        cmocka_unit_test(t04_read_file_at_limit_and_past_it),
        cmocka_unit_test(t05_read_file_missing_is_io),
        cmocka_unit_test(t06_read_pipe_past_limit),
        cmocka_unit_test(t07_write_file_mode_and_content),
        cmocka_unit_test(t08_write_file_into_missing_dir_fails),
        cmocka_unit_test(t09_time_parse_valid),
        cmocka_unit_test(t10_time_parse_rejects_other_spellings),
        cmocka_unit_test(t11_time_round_trip),
        cmocka_unit_test(t12_durations),
        cmocka_unit_test(t13_ids_at_limit_and_past_it),
        cmocka_unit_test(t14_semver),
        cmocka_unit_test(t15_clean_text),
        cmocka_unit_test(t16_suggestions_by_edit_distance),
        cmocka_unit_test(t17_write_file_new_never_replaces),
    };
    return cmocka_run_group_tests_name("base", tests, setup, teardown);
}
