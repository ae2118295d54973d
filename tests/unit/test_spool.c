/* test_spool.c — focus: the agent's audit spool: recorder lines cut into batches (the exact
 * POST body, at most batch_max_records and 1 MiB even for the worst escaping), the cursor and
 * its recovery after a crash, acknowledgement and setting aside, and spool_max dropping the
 * oldest unsent records with their range reported. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "codec/json.h"
#include "recorder/recorder.h"
#include "spool.h"

typedef struct fx {
    char root[64], rec[96], state[96];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->root, sizeof f->root, "/tmp/wd-spool-XXXXXX");
    if (mkdtemp(f->root) == NULL)
        return -1;
    snprintf(f->rec, sizeof f->rec, "%s/rec", f->root);
    snprintf(f->state, sizeof f->state, "%s/state", f->root);
    if (mkdir(f->state, 0700) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* n entries whose "pad" holds padlen copies of ch */
static void record(fx *f, int n, size_t padlen, char ch)
{
    wd_recorder_opts o = {.dir = f->rec};
    wd_recorder *r = NULL;
    assert_int_equal(wd_recorder_open(&o, &r, NULL), WD_OK);
    char *pad = malloc(padlen + 1);
    assert_non_null(pad);
    memset(pad, ch, padlen);
    pad[padlen] = '\0';
    for (int i = 0; i < n; i++) {
        json_t *fl = json_pack("{s:i,s:s}", "n", i, "pad", pad);
        wd_err e;
        if (wd_recorder_append(r, "tool_call", fl, &e) != WD_OK)
            fail_msg("append: %s", e.msg);
        json_decref(fl);
    }
    free(pad);
    wd_recorder_close(r);
}

static char *spool_file(fx *f, const char *name, size_t *len)
{
    char p[256];
    snprintf(p, sizeof p, "%s/spool/%s", f->state, name);
    unsigned char *b = NULL;
    wd_err e;
    if (wd_read_file(p, 4u << 20, &b, len, &e) != WD_OK)
        return NULL;
    return (char *)b;
}

static void t01_batches_cursor_ack(void **state)
{
    fx *f = *state;
    record(f, 10, 10, 'x');
    wd_spool *s = NULL;
    wd_err e;
    assert_int_equal(wd_spool_open(f->state, "web-7", &s, &e), WD_OK);
    assert_int_equal(wd_spool_cursor(s), 1);
    wd_spool_fill_result res;
    assert_int_equal(wd_spool_fill(s, f->rec, 4, 1u << 20, &res, &e), WD_OK);
    assert_int_equal(res.batches, 3);
    assert_int_equal(res.records, 10);
    assert_int_equal(res.dropped_records, 0);
    assert_int_equal(wd_spool_batches(s), 3);
    assert_int_equal(wd_spool_cursor(s), 11);
    size_t len;
    char *cur = spool_file(f, "cursor", &len);
    assert_non_null(cur);
    assert_string_equal(cur, "11\n");
    free(cur);
    /* the oldest batch is the exact POST body with the exact recorder lines */
    char name[96];
    unsigned char *body = NULL;
    assert_int_equal(wd_spool_oldest(s, name, sizeof name, &body, &len, &e), WD_OK);
    assert_string_equal(name, "batch-00000000000000000001-00000000000000000004.json");
    json_t *v = NULL;
    assert_int_equal(wd_json_parse(body, len, SIZE_MAX, &v, &e), WD_OK);
    assert_string_equal(wd_json_str(v, "batch_id"), "web-7-1");
    assert_string_equal(wd_json_str(v, "instance_id"), "web-7");
    assert_int_equal(wd_json_int(v, "schema_version"), 1);
    assert_int_equal(wd_json_int(v, "first_seq"), 1);
    assert_int_equal(wd_json_int(v, "last_seq"), 4);
    wd_recorder_records rs;
    assert_int_equal(wd_recorder_read(f->rec, 1, 4, 1u << 20, &rs, &e), WD_OK);
    const json_t *recs = json_object_get(v, "records");
    assert_int_equal(json_array_size(recs), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_array_get(recs, i)), rs.v[i].line);
    wd_recorder_records_free(&rs);
    json_decref(v);
    free(body);
    /* nothing new: nothing more */
    assert_int_equal(wd_spool_fill(s, f->rec, 4, 1u << 20, &res, &e), WD_OK);
    assert_int_equal(res.batches, 0);
    /* acknowledged: removed; the next is the oldest */
    assert_int_equal(wd_spool_ack(s, name, &e), WD_OK);
    assert_null(spool_file(f, name, &len));
    assert_int_equal(wd_spool_oldest(s, name, sizeof name, &body, &len, &e), WD_OK);
    assert_string_equal(name, "batch-00000000000000000005-00000000000000000008.json");
    free(body);
    assert_int_equal(wd_spool_ack(s, "batch-00000000000000000001-00000000000000000004.json",
                                  &e), WD_E_USAGE);
    wd_spool_close(s);
    /* reopened: the same cursor and the two batches left */
    assert_int_equal(wd_spool_open(f->state, "web-7", &s, &e), WD_OK);
    assert_int_equal(wd_spool_cursor(s), 11);
    assert_int_equal(wd_spool_batches(s), 2);
    /* new lines continue from the cursor */
    record(f, 2, 10, 'x');
    assert_int_equal(wd_spool_fill(s, f->rec, 4, 1u << 20, &res, &e), WD_OK);
    assert_int_equal(res.batches, 1);
    assert_int_equal(wd_spool_cursor(s), 13);
    wd_spool_close(s);
}

static void t02_spool_max_drops_oldest(void **state)
{
    fx *f = *state;
    record(f, 12, 100, 'x');
    wd_spool *s = NULL;
    wd_err e;
    assert_int_equal(wd_spool_open(f->state, "web-7", &s, &e), WD_OK);
    wd_spool_fill_result res;
    /* room for about two batches of two records */
    assert_int_equal(wd_spool_fill(s, f->rec, 2, 1400, &res, &e), WD_OK);
    assert_int_equal(res.batches, 6);
    assert_true(wd_spool_bytes(s) <= 1400);
    size_t kept = wd_spool_batches(s);
    assert_true(kept >= 1 && kept < 6);
    assert_int_equal(res.dropped_records, 12 - 2 * kept);
    assert_int_equal(res.dropped_first, 1);
    assert_int_equal(res.dropped_last, 12 - 2 * kept);
    char name[96];
    unsigned char *body = NULL;
    size_t len;
    assert_int_equal(wd_spool_oldest(s, name, sizeof name, &body, &len, &e), WD_OK);
    char want[96];
    snprintf(want, sizeof want, "batch-%020" PRIu64 "-%020" PRIu64 ".json",
             (uint64_t)res.dropped_last + 1, (uint64_t)res.dropped_last + 2);
    assert_string_equal(name, want);
    free(body);
    wd_spool_close(s);
    /* a spool_max below one batch still keeps the newest batch */
    record(f, 2, 100, 'x');
    assert_int_equal(wd_spool_open(f->state, "web-7", &s, &e), WD_OK);
    assert_int_equal(wd_spool_fill(s, f->rec, 2, 10, &res, &e), WD_OK);
    assert_int_equal(wd_spool_batches(s), 1);
    assert_int_equal(res.dropped_records, 2 * kept);
    wd_spool_close(s);
}

static void t03_cursor_recovery_and_errors(void **state)
{
    fx *f = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/spool", f->state);
    assert_int_equal(mkdir(p, 0700), 0);
    /* a crash after the batch file, before the cursor: the cursor moves past the batch */
    snprintf(p, sizeof p, "%s/spool/cursor", f->state);
    assert_int_equal(wd_write_file(p, "5\n", 2, 0600, NULL), WD_OK);
    snprintf(p, sizeof p, "%s/spool/batch-%020d-%020d.json", f->state, 5, 8);
    assert_int_equal(wd_write_file(p, "{}", 2, 0600, NULL), WD_OK);
    wd_spool *s = NULL;
    wd_err e;
    assert_int_equal(wd_spool_open(f->state, "web-7", &s, &e), WD_OK);
    assert_int_equal(wd_spool_cursor(s), 9);
    assert_int_equal(wd_spool_batches(s), 1);
    assert_int_equal(wd_spool_bytes(s), 2);
    /* set aside: out of the order and of the size, the file kept under another name */
    assert_int_equal(wd_spool_reject(s, "batch-00000000000000000005-00000000000000000008.json",
                                     &e), WD_OK);
    assert_int_equal(wd_spool_batches(s), 0);
    assert_int_equal(wd_spool_bytes(s), 0);
    snprintf(p, sizeof p, "%s/spool/rejected-batch-%020d-%020d.json", f->state, 5, 8);
    assert_int_equal(access(p, F_OK), 0);
    wd_spool_close(s);
    /* a cursor that is not a sequence number */
    snprintf(p, sizeof p, "%s/spool/cursor", f->state);
    static const char *const bad[] = {"abc\n", "0\n", "", "12x\n", "-3\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wd_write_file(p, bad[i], strlen(bad[i]), 0600, NULL), WD_OK);
        s = (wd_spool *)1;
        assert_int_equal(wd_spool_open(f->state, "web-7", &s, &e), WD_E_MALFORMED);
        assert_null(s);
    }
    /* not an instance id */
    assert_int_equal(wd_spool_open(f->state, "no spaces", &s, &e), WD_E_USAGE);
    assert_int_equal(wd_spool_open(f->state, "web-7", &s, &e), WD_E_MALFORMED);
}

static void t04_worst_escaping_fits(void **state)
{
    fx *f = *state;
    /* lines of quotes: each is two bytes in a line (\") and four in a batch body (\\\") */
    record(f, 5, 100000, '"');
    wd_spool *s = NULL;
    wd_err e;
    assert_int_equal(wd_spool_open(f->state, "web-7", &s, &e), WD_OK);
    wd_spool_fill_result res;
    assert_int_equal(wd_spool_fill(s, f->rec, 1000, 64u << 20, &res, &e), WD_OK);
    assert_int_equal(res.records, 5);
    assert_true(res.batches >= 3);
    size_t total = 0;
    char name[96];
    unsigned char *body = NULL;
    size_t len;
    while (wd_spool_oldest(s, name, sizeof name, &body, &len, &e) == WD_OK && name[0]) {
        assert_true(len <= WD_SPOOL_MAX_BATCH);
        json_t *v = NULL;
        assert_int_equal(wd_json_parse(body, len, SIZE_MAX, &v, &e), WD_OK);
        total += json_array_size(json_object_get(v, "records"));
        json_decref(v);
        free(body);
        assert_int_equal(wd_spool_ack(s, name, &e), WD_OK);
    }
    assert_int_equal(total, 5);
    wd_spool_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t01_batches_cursor_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(t02_spool_max_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_cursor_recovery_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_worst_escaping_fits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
