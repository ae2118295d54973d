/* test_recorder.c — focus: the flight recorder's hash chain (append, verify, every kind of
 * tampering reported at its line with its code), checkpoints, segment rotation, several
 * processes appending to one chain, failed writes that leave nothing behind, the signing key's
 * file mode, the arguments digest helper and the audit reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "codec/json.h"
#include "crypto/crypto.h"
#include "recorder/recorder.h"

#define SEG1 "seg-00000000000000000001.jsonl"

typedef struct fx {
    char root[64];
    char dir[128];
    char key[128];
    wd_key *pub;
} fx;

static int rm_rf(const char *path)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->root, sizeof f->root, "/tmp/wd-rec-XXXXXX");
    if (mkdtemp(f->root) == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/rec", f->root);
    snprintf(f->key, sizeof f->key, "%s/rec.key", f->root);
    wd_key *k = NULL;
    if (wd_key_generate(&k, NULL) != WD_OK || wd_key_save(k, f->key, NULL) != WD_OK)
        return -1;
    f->pub = k;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    rm_rf(f->root);
    wd_key_free(f->pub);
    free(f);
    return 0;
}

static wd_recorder *open_rec(fx *f, uint64_t every, uint64_t segmax, bool keyed)
{
    wd_recorder_opts o = {.dir = f->dir, .signing_key_path = keyed ? f->key : NULL,
                          .checkpoint_every = every, .checkpoint_interval_s = 3600,
                          .segment_max_bytes = segmax};
    wd_recorder *r = NULL;
    wd_err e;
    wd_code c = wd_recorder_open(&o, &r, &e);
    if (c != WD_OK)
        fail_msg("open: %s", e.msg);
    return r;
}

static void add(wd_recorder *r, const char *kind, int i)
{
    json_t *fl = json_pack("{s:i,s:s}", "n", i, "decision", "allow");
    wd_err e;
    wd_code c = wd_recorder_append(r, kind, fl, &e);
    json_decref(fl);
    if (c != WD_OK)
        fail_msg("append: %s", e.msg);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unsigned char *b = NULL;
    assert_int_equal(wd_read_file(p, 64u << 20, &b, len, NULL), WD_OK);
    return (char *)b;
}

static void spit(const char *dir, const char *name, const char *data, size_t len)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Offsets of the starts of lines in buf (up to 64). */
static size_t line_starts(const char *buf, size_t len, size_t *st)
{
    size_t n = 0;
    st[n++] = 0;
    for (size_t i = 0; i + 1 < len && n < 64; i++)
        if (buf[i] == '\n')
            st[n++] = i + 1;
    return n;
}

static wd_code verify(fx *f, wd_recorder_report *rep, wd_err *e)
{
    return wd_recorder_verify(f->dir, f->pub, rep, e);
}

/* every=3: entries 1,2,3, checkpoint 4, entries 5,6 */
static void six_lines(fx *f)
{
    wd_recorder *r = open_rec(f, 3, 0, true);
    for (int i = 0; i < 5; i++)
        add(r, "tool_call", i);
    wd_recorder_close(r);
}

static void expect_reject(fx *f, wd_code code, const char *seg, uint64_t line)
{
    wd_recorder_report rep;
    wd_err e;
    wd_code c = verify(f, &rep, &e);
    if (c != code || strcmp(rep.segment, seg) != 0 || rep.line != line)
        fail_msg("wanted %s at %s:%" PRIu64 ", got %s: %s", wd_code_name(code), seg, line,
                 wd_code_name(c), e.msg);
    char want[128];
    snprintf(want, sizeof want, "%s:%" PRIu64 ": ", seg, line);
    assert_non_null(strstr(e.msg, want));
}

static void t01_round_trip(void **state)
{
    fx *f = *state;
    six_lines(f);
    wd_recorder_report rep;
    wd_err e;
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_int_equal(rep.entries, 6);
    assert_int_equal(rep.last_checkpoint_seq, 4);
    assert_int_equal(rep.unsigned_after, 2);
    assert_int_equal(rep.segments, 1);
    size_t len;
    char *b = slurp(f->dir, SEG1, &len);
    size_t st[64];
    assert_int_equal(line_starts(b, len, st), 6);
    /* line 1: the genesis and the fields in order */
    assert_memory_equal(b, "{\"seq\":1,\"ts\":\"", 15);
    assert_non_null(strstr(b, "\"prev\":\"" WD_RECORDER_GENESIS "\",\"kind\":\"tool_call\","
                              "\"n\":0,\"decision\":\"allow\"}\n"));
    /* line 2's prev is the digest of line 1's bytes */
    char d[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_digest_of(b, st[1] - 1, d, NULL), WD_OK);
    char want[100];
    snprintf(want, sizeof want, "\"prev\":\"%s\"", d);
    assert_non_null(strstr(b + st[1], want));
    /* line 4 is a checkpoint with the signer's keyid */
    assert_non_null(strstr(b + st[3], "\"kind\":\"checkpoint\",\"keyid\":\""));
    assert_non_null(strstr(b + st[3], wd_key_id(f->pub)));
    free(b);
    /* a segment 0700 directory, 0600 segment */
    struct stat s;
    assert_int_equal(stat(f->dir, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0700);
    char p[256];
    snprintf(p, sizeof p, "%s/%s", f->dir, SEG1);
    assert_int_equal(stat(p, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0600);
}

static void t02_changed_byte(void **state)
{
    fx *f = *state;
    six_lines(f);
    size_t len, st[64];
    char *b = slurp(f->dir, SEG1, &len);
    line_starts(b, len, st);
    char *a = strstr(b + st[1], "allow"); /* in line 2: JSON stays valid */
    a[0] = 'A';
    spit(f->dir, SEG1, b, len);
    free(b);
    expect_reject(f, WD_E_HASH_MISMATCH, SEG1, 3);
}

static void t03_deleted_line(void **state)
{
    fx *f = *state;
    six_lines(f);
    size_t len, st[64];
    char *b = slurp(f->dir, SEG1, &len);
    line_starts(b, len, st);
    memmove(b + st[2], b + st[3], len - st[3]); /* drop line 3 */
    spit(f->dir, SEG1, b, len - (st[3] - st[2]));
    free(b);
    expect_reject(f, WD_E_HASH_MISMATCH, SEG1, 3);
}

static void t04_swapped_lines(void **state)
{
    fx *f = *state;
    six_lines(f);
    size_t len, st[64];
    char *b = slurp(f->dir, SEG1, &len);
    line_starts(b, len, st);
    char *c = malloc(len);
    assert_non_null(c);
    size_t l2 = st[2] - st[1], l3 = st[3] - st[2];
    memcpy(c, b, st[1]);
    memcpy(c + st[1], b + st[2], l3);
    memcpy(c + st[1] + l3, b + st[1], l2);
    memcpy(c + st[3], b + st[3], len - st[3]);
    spit(f->dir, SEG1, c, len);
    free(b);
    free(c);
    expect_reject(f, WD_E_HASH_MISMATCH, SEG1, 2);
}

static void t05_truncated_tail(void **state)
{
    fx *f = *state;
    six_lines(f);
    size_t len;
    char *b = slurp(f->dir, SEG1, &len);
    spit(f->dir, SEG1, b, len - 5);
    expect_reject(f, WD_E_MALFORMED, SEG1, 6);
    /* an append refuses to continue a damaged tail, and changes nothing */
    wd_recorder *r = open_rec(f, 3, 0, true);
    json_t *fl = json_object();
    wd_err e;
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_E_MALFORMED);
    assert_non_null(strstr(e.msg, "incomplete line"));
    json_decref(fl);
    wd_recorder_close(r);
    size_t len2;
    char *b2 = slurp(f->dir, SEG1, &len2);
    assert_int_equal(len2, len - 5);
    assert_memory_equal(b, b2, len2);
    free(b);
    free(b2);
}

static void t06_forged_checkpoint(void **state)
{
    fx *f = *state;
    six_lines(f);
    size_t len, st[64];
    char *b = slurp(f->dir, SEG1, &len);
    line_starts(b, len, st);
    /* replace the signature's first four base64 characters: still base64, 64 bytes */
    char *s = strstr(b + st[3], "\"sig\":\"");
    assert_non_null(s);
    s += 7;
    memcpy(s, s[0] == 'A' ? "BBBB" : "AAAA", 4);
    spit(f->dir, SEG1, b, len);
    free(b);
    expect_reject(f, WD_E_BAD_SIGNATURE, SEG1, 4);
}

static void t07_other_key_and_bad_json(void **state)
{
    fx *f = *state;
    six_lines(f);
    /* verified with another key: the first checkpoint is rejected */
    wd_key *other = NULL;
    assert_int_equal(wd_key_generate(&other, NULL), WD_OK);
    wd_recorder_report rep;
    wd_err e;
    assert_int_equal(wd_recorder_verify(f->dir, other, &rep, &e), WD_E_BAD_SIGNATURE);
    assert_int_equal(rep.line, 4);
    assert_non_null(strstr(e.msg, "another key"));
    wd_key_free(other);
    /* a line that is no longer JSON: malformed at that line */
    size_t len, st[64];
    char *b = slurp(f->dir, SEG1, &len);
    line_starts(b, len, st);
    b[st[4]] = '[';
    spit(f->dir, SEG1, b, len);
    free(b);
    expect_reject(f, WD_E_MALFORMED, SEG1, 5);
}

static void t08_rotation(void **state)
{
    fx *f = *state;
    wd_recorder *r = open_rec(f, 4, 400, true);
    for (int i = 0; i < 40; i++)
        add(r, "tool_call", i);
    wd_recorder_close(r);
    wd_recorder_report rep;
    wd_err e;
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    /* 40 entries and a checkpoint after each 4: 50 lines */
    assert_int_equal(rep.entries, 50);
    assert_int_equal(rep.last_checkpoint_seq, 50);
    assert_int_equal(rep.unsigned_after, 0);
    assert_true(rep.segments > 5);
    /* every segment is named after its first seq and at most 400 bytes or one line */
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *de;
    size_t n = 0;
    char second[300] = "";
    uint64_t second_first = UINT64_MAX;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        n++;
        size_t len;
        char *b = slurp(f->dir, de->d_name, &len);
        unsigned long long first = strtoull(de->d_name + 4, NULL, 10);
        char want[40];
        snprintf(want, sizeof want, "{\"seq\":%llu,", first);
        assert_memory_equal(b, want, strlen(want));
        assert_true(len <= 400 || memchr(b, '\n', len) == b + len - 1);
        free(b);
        if (first > 1 && first < second_first) {
            second_first = first;
            snprintf(second, sizeof second, "%s", de->d_name);
        }
    }
    closedir(d);
    assert_int_equal(n, rep.segments);
    /* a new process continues the chain across the segments */
    r = open_rec(f, 4, 400, true);
    add(r, "tool_call", 99);
    wd_recorder_close(r);
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_int_equal(rep.entries, 51);
    assert_int_equal(rep.unsigned_after, 1);
    /* removing a whole segment breaks the link at the next one's first line */
    char p[256];
    snprintf(p, sizeof p, "%s/%s", f->dir, second);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(verify(f, &rep, &e), WD_E_HASH_MISMATCH);
    assert_int_equal(rep.line, 1);
    assert_string_not_equal(rep.segment, SEG1);
}

static void t09_concurrent_processes(void **state)
{
    fx *f = *state;
    enum { PROCS = 4, EACH = 60 };
    pid_t kids[PROCS];
    for (int k = 0; k < PROCS; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            /* odd children hold no key: they never sign, but the chain stays one */
            wd_recorder_opts o = {.dir = f->dir, .signing_key_path = (k % 2) ? NULL : f->key,
                                  .checkpoint_every = 7, .checkpoint_interval_s = 3600,
                                  .segment_max_bytes = 2000};
            wd_recorder *r = NULL;
            if (wd_recorder_open(&o, &r, NULL) != WD_OK)
                _exit(10);
            for (int i = 0; i < EACH; i++) {
                json_t *fl = json_pack("{s:i,s:i}", "proc", k, "n", i);
                wd_code c = wd_recorder_append(r, "tool_call", fl, NULL);
                json_decref(fl);
                if (c != WD_OK)
                    _exit(11);
            }
            wd_recorder_close(r);
            _exit(0);
        }
    }
    for (int k = 0; k < PROCS; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    wd_recorder_report rep;
    wd_err e;
    if (verify(f, &rep, &e) != WD_OK)
        fail_msg("verify: %s", e.msg);
    assert_true(rep.entries >= PROCS * EACH);
    /* every entry is there exactly once */
    wd_recorder_records rs;
    assert_int_equal(wd_recorder_read(f->dir, 1, 100000, 64u << 20, &rs, &e), WD_OK);
    assert_int_equal(rs.n, rep.entries);
    int seen[PROCS][EACH];
    memset(seen, 0, sizeof seen);
    size_t entries = 0;
    for (size_t i = 0; i < rs.n; i++) {
        json_t *v = NULL;
        assert_int_equal(wd_json_parse((unsigned char *)rs.v[i].line, rs.v[i].len, SIZE_MAX, &v,
                                       NULL), WD_OK);
        if (strcmp(wd_json_str(v, "kind"), "tool_call") == 0) {
            seen[wd_json_int(v, "proc")][wd_json_int(v, "n")]++;
            entries++;
        }
        json_decref(v);
    }
    wd_recorder_records_free(&rs);
    assert_int_equal(entries, PROCS * EACH);
    for (int k = 0; k < PROCS; k++)
        for (int i = 0; i < EACH; i++)
            assert_int_equal(seen[k][i], 1);
    assert_true(rep.last_checkpoint_seq > 0);
    assert_true(rep.segments > 1);
}

static void t10_unwritable(void **state)
{
    fx *f = *state;
    /* a directory nobody can create files in, even root: /proc/self */
    wd_recorder_opts o = {.dir = "/proc/self"};
    wd_recorder *r = NULL;
    wd_err e;
    assert_int_equal(wd_recorder_open(&o, &r, &e), WD_OK);
    json_t *fl = json_object();
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_E_IO);
    wd_recorder_close(r);
    /* a directory without write permission (meaningful when not root: root writes anyway) */
    if (geteuid() != 0) {
        char ro[200];
        snprintf(ro, sizeof ro, "%s/ro", f->root);
        assert_int_equal(mkdir(ro, 0500), 0);
        o.dir = ro;
        assert_int_equal(wd_recorder_open(&o, &r, &e), WD_OK);
        assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_E_IO);
        wd_recorder_close(r);
        assert_int_equal(chmod(ro, 0700), 0);
    }
    /* an existing path that is not a directory */
    o.dir = f->key;
    assert_int_equal(wd_recorder_open(&o, &r, &e), WD_E_IO);
    assert_null(r);
    /* a write that fails half way (file size limit) is cut off again: the file keeps whole
     * lines only and the append reports WD_E_IO */
    six_lines(f);
    size_t len;
    char *before = slurp(f->dir, SEG1, &len);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        wd_recorder *rr = open_rec(f, 3, 0, true);
        struct rlimit rl = {len + 100, len + 100};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(20);
        char big[400];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        json_t *bf = json_pack("{s:s}", "pad", big);
        wd_err ce;
        wd_code c = wd_recorder_append(rr, "tool_call", bf, &ce);
        _exit(c == WD_E_IO ? 0 : 21);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    size_t len2;
    char *after = slurp(f->dir, SEG1, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(before, after, len);
    free(before);
    free(after);
    wd_recorder_report rep;
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    json_decref(fl);
}

static void t11_key_mode(void **state)
{
    fx *f = *state;
    assert_int_equal(chmod(f->key, 0640), 0);
    wd_recorder_opts o = {.dir = f->dir, .signing_key_path = f->key};
    wd_recorder *r = NULL;
    wd_err e;
    assert_int_equal(wd_recorder_open(&o, &r, &e), WD_E_IO);
    assert_null(r);
    assert_non_null(strstr(e.msg, "recorder signing key"));
    assert_int_equal(chmod(f->key, 0600), 0);
    assert_int_equal(wd_recorder_open(&o, &r, &e), WD_OK);
    assert_string_equal(wd_recorder_keyid(r), wd_key_id(f->pub));
    wd_recorder_close(r);
    /* no key: no keyid and no checkpoints, whatever the count */
    r = open_rec(f, 1, 0, false);
    assert_null(wd_recorder_keyid(r));
    for (int i = 0; i < 3; i++)
        add(r, "tool_call", i);
    assert_int_equal(wd_recorder_checkpoint(r, &e), WD_E_USAGE);
    wd_recorder_close(r);
    wd_recorder_report rep;
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_int_equal(rep.entries, 3);
    assert_int_equal(rep.last_checkpoint_seq, 0);
    assert_int_equal(rep.unsigned_after, 3);
}

static void t12_args_digest(void **state)
{
    fx *f = *state;
    static const char args[] = "{\"path\":\"/etc/hosts\",\"env\":\"API_TOKEN=hunter2\"}";
    wd_recorder *r = open_rec(f, 1000, 0, false);
    assert_false(wd_recorder_record_args(r));
    json_t *fl = json_pack("{s:s}", "tool", "read_file");
    wd_err e;
    assert_int_equal(wd_recorder_put_args(r, fl, args, strlen(args), &e), WD_OK);
    char d[WD_DIGEST_STRLEN + 1];
    assert_int_equal(wd_digest_of(args, strlen(args), d, NULL), WD_OK);
    assert_string_equal(wd_json_str(fl, "args_sha256"), d);
    assert_null(json_object_get(fl, "args"));
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_OK);
    json_decref(fl);
    wd_recorder_close(r);
    size_t len;
    char *b = slurp(f->dir, SEG1, &len);
    assert_null(strstr(b, "hunter2"));
    assert_null(strstr(b, "/etc/hosts"));
    assert_non_null(strstr(b, d));
    free(b);
    /* record_args: the arguments as JSON, beside the digest */
    wd_recorder_opts o = {.dir = f->dir, .record_args = true};
    assert_int_equal(wd_recorder_open(&o, &r, &e), WD_OK);
    assert_true(wd_recorder_record_args(r));
    fl = json_object();
    assert_int_equal(wd_recorder_put_args(r, fl, args, strlen(args), &e), WD_OK);
    assert_string_equal(wd_json_str(json_object_get(fl, "args"), "path"), "/etc/hosts");
    assert_string_equal(wd_json_str(fl, "args_sha256"), d);
    json_decref(fl);
    /* not JSON: malformed, fields unchanged */
    fl = json_object();
    assert_int_equal(wd_recorder_put_args(r, fl, "{nope", 5, &e), WD_E_MALFORMED);
    assert_int_equal(json_object_size(fl), 0);
    json_decref(fl);
    wd_recorder_close(r);
    /* the size limit: WD_MAX_TOOL_ARGS is accepted, one more byte is not */
    char *big = malloc(WD_MAX_TOOL_ARGS + 1);
    assert_non_null(big);
    memset(big, ' ', WD_MAX_TOOL_ARGS + 1);
    big[0] = '{';
    big[WD_MAX_TOOL_ARGS - 1] = '}';
    fl = json_object();
    assert_int_equal(wd_recorder_put_args(NULL, fl, big, WD_MAX_TOOL_ARGS, &e), WD_OK);
    json_decref(fl);
    fl = json_object();
    assert_int_equal(wd_recorder_put_args(NULL, fl, big, WD_MAX_TOOL_ARGS + 1, &e),
                     WD_E_OVERSIZED);
    assert_int_equal(json_object_size(fl), 0);
    json_decref(fl);
    free(big);
}

static void t13_usage_errors_write_nothing(void **state)
{
    fx *f = *state;
    wd_recorder *r = open_rec(f, 1000, 0, true);
    wd_err e;
    json_t *fl = json_pack("{s:i}", "seq", 7);
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_E_USAGE);
    json_decref(fl);
    fl = json_pack("{s:s}", "sig", "x");
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_E_USAGE);
    json_decref(fl);
    assert_int_equal(wd_recorder_append(r, "checkpoint", NULL, &e), WD_E_USAGE);
    assert_int_equal(wd_recorder_append(r, "Tool-Call", NULL, &e), WD_E_USAGE);
    fl = json_array();
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_E_USAGE);
    json_decref(fl);
    /* a checkpoint on an empty recorder writes nothing */
    assert_int_equal(wd_recorder_checkpoint(r, &e), WD_OK);
    wd_recorder_close(r);
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            fail_msg("unexpected file %s", de->d_name);
    closedir(d);
    /* an empty recorder verifies as 0 entries */
    wd_recorder_report rep;
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_int_equal(rep.entries, 0);
    assert_int_equal(rep.segments, 0);
}

static void t14_line_limit(void **state)
{
    fx *f = *state;
    wd_recorder *r = open_rec(f, 1000, 0, false);
    wd_err e;
    json_t *fl = json_pack("{s:s}", "pad", "");
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_OK);
    json_decref(fl);
    size_t len;
    char *b = slurp(f->dir, SEG1, &len);
    free(b);
    /* line 1 with an empty pad; line 2 has the same shape (its prev is as long as the
     * genesis, its seq as many digits) */
    size_t overhead = len - 1;
    size_t n = WD_MAX_RECORDER_LINE - overhead;
    char *pad = malloc(n + 2);
    assert_non_null(pad);
    memset(pad, 'p', n + 1);
    pad[n + 1] = '\0';
    fl = json_pack("{s:s}", "pad", pad); /* one byte over */
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_E_OVERSIZED);
    json_decref(fl);
    pad[n] = '\0';
    fl = json_pack("{s:s}", "pad", pad); /* exactly the limit */
    assert_int_equal(wd_recorder_append(r, "tool_call", fl, &e), WD_OK);
    json_decref(fl);
    free(pad);
    wd_recorder_close(r);
    b = slurp(f->dir, SEG1, &len);
    assert_int_equal(len, overhead + 1 + WD_MAX_RECORDER_LINE + 1);
    wd_recorder_report rep;
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_int_equal(rep.entries, 2);
    /* one byte more in the verifier's input: oversized at line 2 */
    size_t st[64];
    line_starts(b, len, st);
    char *c = malloc(len + 1);
    assert_non_null(c);
    memcpy(c, b, st[1] + 1);
    c[st[1] + 1] = ' ';
    memcpy(c + st[1] + 2, b + st[1] + 1, len - st[1] - 1);
    spit(f->dir, SEG1, c, len + 1);
    expect_reject(f, WD_E_OVERSIZED, SEG1, 2);
    free(b);
    free(c);
}

static void t15_reader(void **state)
{
    fx *f = *state;
    six_lines(f);
    size_t len, st[64];
    char *b = slurp(f->dir, SEG1, &len);
    line_starts(b, len, st);
    wd_recorder_records rs;
    wd_err e;
    assert_int_equal(wd_recorder_read(f->dir, 2, 3, 1u << 20, &rs, &e), WD_OK);
    assert_int_equal(rs.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(rs.v[i].seq, i + 2);
        assert_int_equal(rs.v[i].len, st[i + 2] - st[i + 1] - 1);
        assert_memory_equal(rs.v[i].line, b + st[i + 1], rs.v[i].len);
    }
    size_t two = rs.v[0].len + rs.v[1].len;
    wd_recorder_records_free(&rs);
    /* max_bytes stops before the record that would pass it: exactly two fit */
    assert_int_equal(wd_recorder_read(f->dir, 2, 100, two, &rs, &e), WD_OK);
    assert_int_equal(rs.n, 2);
    wd_recorder_records_free(&rs);
    assert_int_equal(wd_recorder_read(f->dir, 2, 100, two - 1, &rs, &e), WD_OK);
    assert_int_equal(rs.n, 1);
    wd_recorder_records_free(&rs);
    /* a first record over max_bytes */
    assert_int_equal(wd_recorder_read(f->dir, 2, 100, 10, &rs, &e), WD_E_OVERSIZED);
    assert_int_equal(rs.n, 0);
    /* past the end: nothing */
    assert_int_equal(wd_recorder_read(f->dir, 7, 100, 1u << 20, &rs, &e), WD_OK);
    assert_int_equal(rs.n, 0);
    /* a line being written (no newline yet) is not returned */
    spit(f->dir, SEG1, b, len - 3);
    assert_int_equal(wd_recorder_read(f->dir, 1, 100, 1u << 20, &rs, &e), WD_OK);
    assert_int_equal(rs.n, 5);
    wd_recorder_records_free(&rs);
    free(b);
}

static void t16_interval_checkpoint(void **state)
{
    fx *f = *state;
    wd_recorder_opts o = {.dir = f->dir, .signing_key_path = f->key,
                          .checkpoint_every = 1000, .checkpoint_interval_s = 1};
    wd_recorder *r = NULL;
    wd_err e;
    assert_int_equal(wd_recorder_open(&o, &r, &e), WD_OK);
    add(r, "tool_call", 1);
    sleep(2); /* at least the interval: the next append adds a checkpoint */
    add(r, "tool_call", 2);
    /* an explicit checkpoint after one: nothing new to sign, nothing written */
    assert_int_equal(wd_recorder_checkpoint(r, &e), WD_OK);
    wd_recorder_close(r);
    wd_recorder_report rep;
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_int_equal(rep.entries, 3);
    assert_int_equal(rep.last_checkpoint_seq, 3);
    /* an explicit checkpoint after a plain entry */
    assert_int_equal(wd_recorder_open(&o, &r, &e), WD_OK);
    add(r, "tool_call", 3);
    assert_int_equal(wd_recorder_checkpoint(r, &e), WD_OK);
    wd_recorder_close(r);
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_int_equal(rep.entries, 5);
    assert_int_equal(rep.last_checkpoint_seq, 5);
}

static void t17_parse_line(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        wd_code code;
    } cases[] = {
        {"{\"seq\":1,\"ts\":\"2026-01-02T03:04:05.678Z\",\"prev\":\"" WD_RECORDER_GENESIS
         "\",\"kind\":\"x\"}", WD_OK},
        {"{\"seq\":1,\"ts\":\"2026-01-02T03:04:05Z\",\"prev\":\"" WD_RECORDER_GENESIS
         "\",\"kind\":\"x\"}", WD_OK},
        {"{\"seq\":0,\"ts\":\"2026-01-02T03:04:05Z\",\"prev\":\"" WD_RECORDER_GENESIS
         "\",\"kind\":\"x\"}", WD_E_MALFORMED},
        {"{\"seq\":1,\"ts\":\"2026-01-02 03:04:05Z\",\"prev\":\"" WD_RECORDER_GENESIS
         "\",\"kind\":\"x\"}", WD_E_MALFORMED},
        {"{\"seq\":1,\"ts\":\"2026-01-02T03:04:05Z\",\"prev\":\"SHA256:00\",\"kind\":\"x\"}",
         WD_E_MALFORMED},
        {"{\"seq\":1,\"ts\":\"2026-01-02T03:04:05Z\",\"prev\":\"" WD_RECORDER_GENESIS
         "\",\"kind\":\"X\"}", WD_E_MALFORMED},
        {"{\"seq\":1,\"seq\":2}", WD_E_DUPLICATE_KEY},
        {"{} {}", WD_E_TRAILING_DATA},
        {"[1]", WD_E_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t seq = 0;
        wd_err e;
        wd_code c = wd_recorder_parse_line((const unsigned char *)cases[i].line,
                                           strlen(cases[i].line), &seq, NULL, &e);
        if (c != cases[i].code)
            fail_msg("case %zu: wanted %s, got %s (%s)", i, wd_code_name(cases[i].code),
                     wd_code_name(c), e.msg);
    }
}

static void t18_segment_moved_aside(void **state)
{
    fx *f = *state;
    wd_recorder *r = open_rec(f, 1000, 300, false);
    for (int i = 0; i < 6; i++)
        add(r, "tool_call", i);
    wd_recorder_report rep;
    wd_err e;
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_true(rep.segments >= 2);
    uint64_t had = rep.entries;
    /* the newest segment is moved aside (a repair): this writer, which has it open, must not
     * go on writing into the moved file, but continue from the segment before */
    char newest[300] = "", p[400], q[400];
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "seg-", 4) == 0 && strcmp(de->d_name, newest) > 0)
            snprintf(newest, sizeof newest, "%s", de->d_name);
    closedir(d);
    snprintf(p, sizeof p, "%s/%s", f->dir, newest);
    snprintf(q, sizeof q, "%s/moved.bad", f->root);
    size_t movedlen;
    char *moved = slurp(f->dir, newest, &movedlen);
    size_t nmoved = 0;
    for (size_t i = 0; i < movedlen; i++)
        nmoved += moved[i] == '\n';
    free(moved);
    assert_int_equal(rename(p, q), 0);
    add(r, "tool_call", 99);
    wd_recorder_close(r);
    struct stat st;
    assert_int_equal(stat(q, &st), 0);
    assert_int_equal((size_t)st.st_size, movedlen);
    assert_int_equal(verify(f, &rep, &e), WD_OK);
    assert_int_equal(rep.entries, had - nmoved + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t01_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(t02_changed_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_deleted_line, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_swapped_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_truncated_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(t06_forged_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(t07_other_key_and_bad_json, setup, teardown),
        cmocka_unit_test_setup_teardown(t08_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(t09_concurrent_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(t10_unwritable, setup, teardown),
        cmocka_unit_test_setup_teardown(t11_key_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(t12_args_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(t13_usage_errors_write_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(t14_line_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(t15_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(t16_interval_checkpoint, setup, teardown),
        cmocka_unit_test(t17_parse_line),
        cmocka_unit_test_setup_teardown(t18_segment_moved_aside, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
