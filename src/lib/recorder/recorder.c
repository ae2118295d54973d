/* recorder.c — the flight recorder (SPEC §15.1): appending hash-chained lines under a lock that
 * every process of the host honours, signed checkpoints, the verifier, and the reader the audit
 * shipper uses. It must never open a socket, never keep global state, never read a line without
 * a bound, and never report an entry as recorded before it is on disk. */
#include "recorder/recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "codec/json.h"

/* seg-<20 digits>.jsonl */
#define SEG_PREFIX "seg-"
#define SEG_SUFFIX ".jsonl"
#define SEG_DIGITS 20
#define SEG_NAME_LEN (sizeof SEG_PREFIX - 1 + SEG_DIGITS + sizeof SEG_SUFFIX - 1)
/* read chunk on top of one full line */
#define READ_CHUNK (64u * 1024u)
/* how many times an append follows a rotation made by another process before giving up */
#define MAX_FOLLOW 1000
#define MAX_SEQ ((uint64_t)WD_MAX_SAFE_INTEGER)

struct wd_recorder {
    pthread_mutex_t mu;
    char *dir;
    wd_key *key;
    uint64_t every;
    int64_t interval_s;
    uint64_t segmax;
    bool record_args;
    /* the current segment, as far as this process has read it */
    int fd;
    uint64_t seg_first;
    uint64_t size; /* bytes of the segment read (all of it while locked) */
    uint64_t last_seq;
    char last_digest[WD_DIGEST_STRLEN + 1];
    uint64_t last_cp_seq;
    int64_t last_cp_mono;
};

/* ---- small helpers ---- */

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static void seg_name(uint64_t first, char out[SEG_NAME_LEN + 1])
{
    snprintf(out, SEG_NAME_LEN + 1, SEG_PREFIX "%020" PRIu64 SEG_SUFFIX, first);
}

/* The first seq a segment file name carries, or 0 when the name is not a segment's. */
static uint64_t seg_parse(const char *name)
{
    if (strlen(name) != SEG_NAME_LEN || strncmp(name, SEG_PREFIX, sizeof SEG_PREFIX - 1) != 0 ||
        strcmp(name + SEG_NAME_LEN - (sizeof SEG_SUFFIX - 1), SEG_SUFFIX) != 0)
        return 0;
    uint64_t v = 0;
    const char *d = name + sizeof SEG_PREFIX - 1;
    for (int i = 0; i < SEG_DIGITS; i++) {
        if (d[i] < '0' || d[i] > '9')
            return 0;
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(d[i] - '0');
    }
    return v <= MAX_SEQ ? v : 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first seqs of the segments in dir, sorted. On error nothing is allocated. The caller
 * frees *out. */
static wd_code list_segments(const char *dir, uint64_t **out, size_t *n, wd_err *e)
{
    *out = NULL;
    *n = 0;
    char shown[128];
    DIR *d = opendir(dir);
    if (d == NULL)
        return wd_err_set(e, WD_E_IO, "recorder: %s: %s", wd_clean_text(dir, shown, sizeof shown),
                          strerror(errno));
    uint64_t *v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t first = seg_parse(de->d_name);
        if (first == 0)
            continue;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, nc * sizeof *nv);
            if (nv == NULL) {
                free(v);
                closedir(d);
                return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
            }
            v = nv;
            cap = nc;
        }
        v[len++] = first;
    }
    int err = errno;
    closedir(d);
    if (err != 0) {
        free(v);
        return wd_err_set(e, WD_E_IO, "recorder: reading %s: %s",
                          wd_clean_text(dir, shown, sizeof shown), strerror(err));
    }
    if (len > 1)
        qsort(v, len, sizeof *v, cmp_u64);
    *out = v;
    *n = len;
    return WD_OK;
}

/* fsync a directory. 0 or -1 with errno. */
static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* ---- bounded line reading ---- */

typedef struct lreader {
    int fd;
    uint64_t pos;   /* file offset of the next read */
    uint64_t boff;  /* file offset of buf[start] */
    unsigned char *buf;
    size_t cap, start, end;
    bool eof;
} lreader;

enum { LR_EOF = 0, LR_LINE = 1, LR_PARTIAL = 2, LR_ERROR = 3 };

static wd_code lr_init(lreader *lr, int fd, uint64_t from, wd_err *e)
{
    memset(lr, 0, sizeof *lr);
    lr->fd = fd;
    lr->pos = from;
    lr->boff = from;
    lr->cap = WD_MAX_RECORDER_LINE + 1 + READ_CHUNK;
    lr->buf = malloc(lr->cap);
    if (lr->buf == NULL)
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    return WD_OK;
}

static void lr_free(lreader *lr)
{
    free(lr->buf);
    lr->buf = NULL;
}

/* Next line (without its newline) at line and len, its file offset in off. LR_EOF at a clean
 * end, LR_PARTIAL for bytes after the last newline (in line and len), LR_ERROR with e set
 * (WD_E_OVERSIZED for a line over WD_MAX_RECORDER_LINE, WD_E_IO). */
static int lr_next(lreader *lr, const unsigned char **line, size_t *len, uint64_t *off, wd_err *e)
{
    for (;;) {
        size_t have = lr->end - lr->start;
        unsigned char *nl = have ? memchr(lr->buf + lr->start, '\n', have) : NULL;
        if (nl != NULL) {
            size_t l = (size_t)(nl - (lr->buf + lr->start));
            if (l > WD_MAX_RECORDER_LINE) {
                wd_err_set(e, WD_E_OVERSIZED, "line longer than %u bytes", WD_MAX_RECORDER_LINE);
                return LR_ERROR;
            }
            *line = lr->buf + lr->start;
            *len = l;
            *off = lr->boff;
            lr->start += l + 1;
            lr->boff += l + 1;
            return LR_LINE;
        }
        if (have > WD_MAX_RECORDER_LINE) {
            wd_err_set(e, WD_E_OVERSIZED, "line longer than %u bytes", WD_MAX_RECORDER_LINE);
            return LR_ERROR;
        }
        if (lr->eof) {
            if (have == 0)
                return LR_EOF;
            *line = lr->buf + lr->start;
            *len = have;
            *off = lr->boff;
            return LR_PARTIAL;
        }
        if (lr->start > 0) {
            memmove(lr->buf, lr->buf + lr->start, have);
            lr->start = 0;
            lr->end = have;
        }
        ssize_t r;
        do
            r = pread(lr->fd, lr->buf + lr->end, lr->cap - lr->end, (off_t)lr->pos);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            wd_err_set(e, WD_E_IO, "read: %s", strerror(errno));
            return LR_ERROR;
        }
        if (r == 0)
            lr->eof = true;
        lr->end += (size_t)r;
        lr->pos += (uint64_t)r;
    }
}

/* ---- line syntax ---- */

static bool kind_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > WD_RECORDER_MAX_KIND || k[0] < 'a' || k[0] > 'z')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return false;
    return true;
}

/* YYYY-MM-DDTHH:MM:SS.mmmZ or YYYY-MM-DDTHH:MM:SSZ */
static bool ts_valid(const char *s)
{
    size_t n = strlen(s);
    char t[WD_TIME_STRLEN + 1];
    if (n == WD_TIME_STRLEN) {
        memcpy(t, s, n + 1);
    } else if (n == WD_TIME_STRLEN + 4 && s[19] == '.' && s[23] == 'Z') {
        for (int i = 20; i < 23; i++)
            if (s[i] < '0' || s[i] > '9')
                return false;
        memcpy(t, s, 19);
        t[19] = 'Z';
        t[20] = '\0';
    } else {
        return false;
    }
    int64_t v;
    return wd_time_parse(t, &v, NULL) == WD_OK;
}

/* "sha256:" + 64 lowercase hex */
static bool digest_valid(const char *s)
{
    if (strlen(s) != WD_DIGEST_STRLEN || strncmp(s, "sha256:", 7) != 0)
        return false;
    for (int i = 7; i < WD_DIGEST_STRLEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

wd_code wd_recorder_parse_line(const unsigned char *line, size_t len, uint64_t *seq,
                               json_t **obj, wd_err *e)
{
    if (obj != NULL)
        *obj = NULL;
    json_t *v = NULL;
    wd_err pe;
    wd_err_clear(&pe);
    wd_code c = wd_json_parse(line, len, WD_MAX_RECORDER_LINE, &v, &pe);
    if (c != WD_OK)
        return wd_err_set(e, c, "%s", pe.msg);
    if (!json_is_object(v)) {
        json_decref(v);
        return wd_err_set(e, WD_E_MALFORMED, "not a JSON object");
    }
    const json_t *s = json_object_get(v, "seq");
    const json_t *ts = json_object_get(v, "ts");
    const json_t *pv = json_object_get(v, "prev");
    const json_t *k = json_object_get(v, "kind");
    const char *why = NULL;
    if (!json_is_integer(s) || json_integer_value(s) < 1 ||
        (uint64_t)json_integer_value(s) > MAX_SEQ)
        why = "seq: expected an integer from 1 to 2^53-1";
    else if (!json_is_string(ts) || !ts_valid(json_string_value(ts)))
        why = "ts: expected a time YYYY-MM-DDTHH:MM:SS[.mmm]Z";
    else if (!json_is_string(pv) || !digest_valid(json_string_value(pv)))
        why = "prev: expected sha256:<64 lowercase hex>";
    else if (!json_is_string(k) || !kind_valid(json_string_value(k)))
        why = "kind: expected [a-z][a-z0-9_]{0,63}";
    if (why != NULL) {
        json_decref(v);
        return wd_err_set(e, WD_E_MALFORMED, "%s", why);
    }
    if (seq != NULL)
        *seq = (uint64_t)json_integer_value(s);
    if (obj != NULL)
        *obj = v;
    else
        json_decref(v);
    return WD_OK;
}

/* ---- building lines ---- */

static void now_ms(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    time_t t = ts.tv_sec;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    int ms = (int)((ts.tv_nsec / 1000000L) % 1000);
    snprintf(out + n, 32 - n, ".%03dZ", ms);
}

static const char *const reserved[] = {"seq", "ts", "prev", "kind", "sig"};

/* The message a checkpoint signs. */
static int cp_message(char *out, size_t outsz, uint64_t seq, const char *prev)
{
    return snprintf(out, outsz, "%s %" PRIu64 " %s", WD_RECORDER_CHECKPOINT_CONTEXT, seq, prev);
}

/* The text of one line: *outlen bytes, then a newline (not counted) and a NUL. A checkpoint
 * when kind is "checkpoint" (r->key signs). On error nothing is allocated; the caller frees
 * *out. */
static wd_code build_line(const wd_recorder *r, uint64_t seq, const char *prev, const char *kind,
                          json_t *fields, char **out, size_t *outlen, wd_err *e)
{
    *out = NULL;
    char ts[32];
    now_ms(ts);
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, "seq", json_integer((json_int_t)seq)) != 0 ||
        json_object_set_new(o, "ts", json_string(ts)) != 0 ||
        json_object_set_new(o, "prev", json_string(prev)) != 0 ||
        json_object_set_new(o, "kind", json_string(kind)) != 0) {
        json_decref(o);
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    }
    if (strcmp(kind, "checkpoint") == 0) {
        char msg[160];
        unsigned char sig[WD_ED25519_SIG_LEN];
        cp_message(msg, sizeof msg, seq, prev);
        wd_code c = wd_key_sign(r->key, msg, strlen(msg), sig, e);
        if (c != WD_OK) {
            json_decref(o);
            return c;
        }
        char *b = wd_b64_encode(sig, sizeof sig);
        if (b == NULL || json_object_set_new(o, "keyid", json_string(wd_key_id(r->key))) != 0 ||
            json_object_set_new(o, "sig", json_string(b)) != 0) {
            free(b);
            json_decref(o);
            return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
        }
        free(b);
    } else if (fields != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v) {
            if (json_object_set(o, k, v) != 0) {
                json_decref(o);
                return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
            }
        }
    }
    size_t len = 0;
    char *s = wd_json_dump(o, &len);
    json_decref(o);
    if (s == NULL)
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    if (len > WD_MAX_RECORDER_LINE) {
        free(s);
        return wd_err_set(e, WD_E_OVERSIZED, "recorder: a %s entry of %zu bytes is longer than "
                          "the limit of %u", kind, len, WD_MAX_RECORDER_LINE);
    }
    if (memchr(s, '\n', len) != NULL) { /* compact JSON never holds one */
        free(s);
        return wd_err_set(e, WD_E_INTERNAL, "recorder: serialised entry holds a newline");
    }
    char *nl = realloc(s, len + 2); /* the newline follows, so that one write(2) does */
    if (nl == NULL) {
        free(s);
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    }
    nl[len] = '\n';
    nl[len + 1] = '\0';
    *out = nl;
    *outlen = len;
    return WD_OK;
}

/* ---- opening ---- */

wd_code wd_recorder_open(const wd_recorder_opts *o, wd_recorder **out, wd_err *e)
{
    *out = NULL;
    if (o == NULL || o->dir == NULL || o->dir[0] == '\0')
        return wd_err_set(e, WD_E_USAGE, "recorder: a directory is required");
    char shown[128];
    wd_clean_text(o->dir, shown, sizeof shown);
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST)
        return wd_err_set(e, WD_E_IO, "recorder: cannot create %s: %s", shown, strerror(errno));
    struct stat st;
    if (stat(o->dir, &st) != 0)
        return wd_err_set(e, WD_E_IO, "recorder: %s: %s", shown, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return wd_err_set(e, WD_E_IO, "recorder: %s is not a directory", shown);
    wd_recorder *r = calloc(1, sizeof *r);
    if (r == NULL)
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    r->fd = -1;
    r->dir = strdup(o->dir);
    if (r->dir == NULL || pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r->dir);
        free(r);
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    }
    if (o->signing_key_path != NULL) {
        wd_code c = wd_key_load_private(o->signing_key_path, &r->key, e);
        if (c != WD_OK) {
            wd_err_prefix(e, c, "recorder signing key");
            pthread_mutex_destroy(&r->mu);
            free(r->dir);
            free(r);
            return c;
        }
    }
    r->every = o->checkpoint_every ? o->checkpoint_every : WD_RECORDER_DEFAULT_CHECKPOINT_EVERY;
    r->interval_s = o->checkpoint_interval_s > 0 ? o->checkpoint_interval_s
                                                 : WD_RECORDER_DEFAULT_CHECKPOINT_INTERVAL_S;
    r->segmax = o->segment_max_bytes ? o->segment_max_bytes : WD_RECORDER_DEFAULT_SEGMENT_MAX;
    r->record_args = o->record_args;
    r->last_cp_mono = mono_now();
    *out = r;
    return WD_OK;
}

void wd_recorder_close(wd_recorder *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    wd_key_free(r->key);
    pthread_mutex_destroy(&r->mu);
    free(r->dir);
    free(r);
}

bool wd_recorder_record_args(const wd_recorder *r)
{
    return r != NULL && r->record_args;
}

const char *wd_recorder_keyid(const wd_recorder *r)
{
    return r != NULL && r->key != NULL ? wd_key_id(r->key) : NULL;
}

wd_code wd_recorder_put_args(const wd_recorder *r, json_t *fields, const void *canon, size_t len,
                             wd_err *e)
{
    if (!json_is_object(fields) || (canon == NULL && len > 0))
        return wd_err_set(e, WD_E_USAGE, "recorder: arguments need an object to go into");
    if (len > WD_MAX_TOOL_ARGS)
        return wd_err_set(e, WD_E_OVERSIZED, "recorder: %zu bytes of arguments, more than the "
                          "limit of %u", len, WD_MAX_TOOL_ARGS);
    char d[WD_DIGEST_STRLEN + 1];
    wd_code c = wd_digest_of(canon != NULL ? canon : "", len, d, e);
    if (c != WD_OK)
        return c;
    json_t *args = NULL;
    if (wd_recorder_record_args(r)) {
        wd_err pe;
        c = wd_json_parse(canon, len, WD_MAX_TOOL_ARGS, &args, &pe);
        if (c != WD_OK)
            return wd_err_set(e, c, "recorder: arguments: %s", pe.msg);
    }
    if (json_object_set_new(fields, "args_sha256", json_string(d)) != 0 ||
        (args != NULL && json_object_set_new(fields, "args", args) != 0)) {
        json_object_del(fields, "args_sha256");
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    }
    return WD_OK;
}

/* ---- appending ---- */

static void drop_segment(wd_recorder *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->size = 0;
}

/* Open segment first (already existing) for appending as the current one. */
static wd_code open_segment(wd_recorder *r, uint64_t first, wd_err *e)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(first, name);
    char *p = join(r->dir, name);
    if (p == NULL)
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    int fd = open(p, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    int err = errno;
    free(p);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "recorder: cannot open %s: %s", name, strerror(err));
    drop_segment(r);
    r->fd = fd;
    r->seg_first = first;
    r->size = 0;
    return WD_OK;
}

/* Read what was appended to the current segment since this process last looked, taking the
 * last line's seq and digest and noticing checkpoints. Called with the segment locked. */
static wd_code scan_new(wd_recorder *r, wd_err *e)
{
    lreader lr;
    wd_code c = lr_init(&lr, r->fd, r->size, e);
    if (c != WD_OK)
        return c;
    char name[SEG_NAME_LEN + 1];
    seg_name(r->seg_first, name);
    const unsigned char *line;
    size_t len;
    uint64_t off;
    int k;
    wd_err le;
    while ((k = lr_next(&lr, &line, &len, &off, &le)) == LR_LINE) {
        uint64_t seq = 0;
        json_t *obj = NULL;
        c = wd_recorder_parse_line(line, len, &seq, &obj, &le);
        if (c == WD_OK && r->last_seq != 0 && seq != r->last_seq + 1) {
            json_decref(obj);
            c = wd_err_set(&le, WD_E_MALFORMED, "seq %" PRIu64 " follows %" PRIu64, seq,
                           r->last_seq);
        }
        if (c != WD_OK) {
            lr_free(&lr);
            return wd_err_set(e, c, "recorder: %s at byte %" PRIu64 ": %s; nothing more is "
                              "appended until it is repaired", name, off, le.msg);
        }
        if (off == 0 && r->last_cp_seq + 1 < seq)
            r->last_cp_seq = seq - 1; /* a checkpoint before this segment is not looked for */
        if (strcmp(wd_json_str(obj, "kind"), "checkpoint") == 0) {
            r->last_cp_seq = seq;
            r->last_cp_mono = mono_now();
        }
        json_decref(obj);
        c = wd_digest_of(line, len, r->last_digest, e);
        if (c != WD_OK) {
            lr_free(&lr);
            return c;
        }
        r->last_seq = seq;
        r->size = off + len + 1;
    }
    lr_free(&lr);
    if (k == LR_PARTIAL)
        return wd_err_set(e, WD_E_MALFORMED, "recorder: %s ends in an incomplete line at byte "
                          "%" PRIu64 " (a write was cut short); nothing more is appended until "
                          "it is repaired", name, off);
    if (k == LR_ERROR)
        return wd_err_set(e, le.code, "recorder: %s at byte %" PRIu64 ": %s", name, r->size,
                          le.msg);
    return WD_OK;
}

static int lock_fd(int fd, int op)
{
    int rc;
    do
        rc = flock(fd, op);
    while (rc != 0 && errno == EINTR);
    return rc;
}

/* Whether the open segment is still the file under its name (not moved aside or replaced). */
static bool still_linked(const wd_recorder *r)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(r->seg_first, name);
    char *p = join(r->dir, name);
    if (p == NULL)
        return false;
    struct stat a, b;
    bool same = fstat(r->fd, &a) == 0 && lstat(p, &b) == 0 && a.st_dev == b.st_dev &&
                a.st_ino == b.st_ino;
    free(p);
    return same;
}

/* Make the newest segment current and locked, with its tail read. *none: there is no segment
 * yet (nothing locked). On error nothing is locked. */
static wd_code lock_tail(wd_recorder *r, bool *none, wd_err *e)
{
    *none = false;
    for (int i = 0; i < MAX_FOLLOW; i++) {
        wd_code c;
        if (r->fd < 0) {
            uint64_t *v;
            size_t n;
            c = list_segments(r->dir, &v, &n, e);
            if (c != WD_OK)
                return c;
            uint64_t newest = n ? v[n - 1] : 0;
            free(v);
            if (newest == 0) {
                *none = true;
                return WD_OK;
            }
            c = open_segment(r, newest, e);
            if (c != WD_OK)
                return c;
            r->last_seq = 0;
        }
        if (lock_fd(r->fd, LOCK_EX) != 0)
            return wd_err_set(e, WD_E_IO, "recorder: lock: %s", strerror(errno));
        if (!still_linked(r)) {
            /* moved aside or replaced (an operator's repair): find the newest one again */
            lock_fd(r->fd, LOCK_UN);
            drop_segment(r);
            continue;
        }
        c = scan_new(r, e);
        if (c == WD_OK && r->last_seq == 0)
            c = wd_err_set(e, WD_E_MALFORMED, "recorder: the newest segment is empty");
        if (c != WD_OK) {
            lock_fd(r->fd, LOCK_UN);
            drop_segment(r);
            return c;
        }
        /* another process may have started the next segment */
        char name[SEG_NAME_LEN + 1];
        seg_name(r->last_seq + 1, name);
        char *p = join(r->dir, name);
        if (p == NULL) {
            lock_fd(r->fd, LOCK_UN);
            return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
        }
        struct stat st;
        int rc = lstat(p, &st);
        int err = errno;
        free(p);
        if (rc != 0 && err == ENOENT)
            return WD_OK; /* locked, tail known */
        lock_fd(r->fd, LOCK_UN);
        if (rc != 0)
            return wd_err_set(e, WD_E_IO, "recorder: %s: %s", name, strerror(err));
        c = open_segment(r, r->last_seq + 1, e);
        if (c != WD_OK)
            return c;
    }
    return wd_err_set(e, WD_E_IO, "recorder: the segments keep changing; giving up");
}

/* Create segment first holding exactly line[0..len] (the line and its newline): written to a
 * temporary file, synced, then linked under its name, so nobody ever sees it partial. *exists:
 * the name was taken (another process was first). On error nothing is left behind. */
static wd_code create_segment(wd_recorder *r, uint64_t first, const char *line, size_t len,
                              bool *exists, wd_err *e)
{
    *exists = false;
    char *tmp = join(r->dir, ".seg-new-XXXXXX");
    char name[SEG_NAME_LEN + 1];
    seg_name(first, name);
    char *path = join(r->dir, name);
    if (tmp == NULL || path == NULL) {
        free(tmp);
        free(path);
        return wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
    }
    wd_code c = WD_OK;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        c = wd_err_set(e, WD_E_IO, "recorder: cannot create a segment: %s", strerror(errno));
        free(tmp);
        free(path);
        return c;
    }
    const char *fail = NULL;
    if (fchmod(fd, 0600) != 0)
        fail = "chmod";
    size_t done = 0;
    while (fail == NULL && done < len + 1) {
        ssize_t w = write(fd, line + done, len + 1 - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail = "write";
        else
            done += (size_t)w;
    }
    if (fail == NULL && fsync(fd) != 0)
        fail = "fsync";
    int err = errno;
    if (close(fd) != 0 && fail == NULL) {
        fail = "close";
        err = errno;
    }
    if (fail == NULL && link(tmp, path) != 0) {
        err = errno;
        if (err == EEXIST)
            *exists = true;
        else
            fail = "link";
    }
    unlink(tmp);
    if (fail == NULL && !*exists && fsync_dir(r->dir) != 0) {
        err = errno;
        fail = "fsync directory";
        unlink(path);
    }
    if (fail != NULL)
        c = wd_err_set(e, WD_E_IO, "recorder: creating %s: %s: %s", name, fail, strerror(err));
    free(tmp);
    free(path);
    return c;
}

/* Write one line of kind to the locked current segment (or to a new segment when this one is
 * full, which then becomes current and locked). On error the segment holds what it held. */
static wd_code write_line(wd_recorder *r, const char *kind, json_t *fields, wd_err *e)
{
    if (r->last_seq >= MAX_SEQ)
        return wd_err_set(e, WD_E_OVERSIZED, "recorder: seq would pass 2^53-1");
    uint64_t seq = r->last_seq + 1;
    char *line = NULL;
    size_t len = 0;
    wd_code c = build_line(r, seq, r->last_digest, kind, fields, &line, &len, e);
    if (c != WD_OK)
        return c;
    if (r->size > 0 && r->size + len + 1 > r->segmax) {
        bool exists = false;
        c = create_segment(r, seq, line, len, &exists, e);
        if (c == WD_OK && exists) /* impossible while we hold the lock, unless tampered with */
            c = wd_err_set(e, WD_E_IO, "recorder: the next segment exists already");
        int old = r->fd;
        if (c == WD_OK) {
            r->fd = -1;
            c = open_segment(r, seq, e);
            if (c == WD_OK && lock_fd(r->fd, LOCK_EX) != 0)
                c = wd_err_set(e, WD_E_IO, "recorder: lock: %s", strerror(errno));
            if (c != WD_OK) {
                /* the entry is on disk but this process lost track of the segments: let go of
                 * both and find the newest again at the next append */
                drop_segment(r);
                lock_fd(old, LOCK_UN);
                close(old);
                r->last_seq = 0;
                free(line);
                return c;
            } else {
                lock_fd(old, LOCK_UN);
                close(old);
                r->size = len + 1;
            }
        }
    } else {
        uint64_t at = r->size;
        const char *fail = NULL;
        size_t done = 0;
        int err = 0;
        while (fail == NULL && done < len + 1) {
            ssize_t w = write(r->fd, line + done, len + 1 - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fail = "write";
                err = w < 0 ? errno : ENOSPC;
            } else {
                done += (size_t)w;
            }
        }
        if (fail == NULL && fdatasync(r->fd) != 0) {
            fail = "fdatasync";
            err = errno;
        }
        if (fail != NULL) {
            if (ftruncate(r->fd, (off_t)at) == 0)
                (void)fdatasync(r->fd);
            char name[SEG_NAME_LEN + 1];
            seg_name(r->seg_first, name);
            c = wd_err_set(e, WD_E_IO, "recorder: %s: %s: %s", name, fail, strerror(err));
        } else {
            r->size = at + len + 1;
        }
    }
    if (c == WD_OK) {
        c = wd_digest_of(line, len, r->last_digest, e);
        r->last_seq = seq;
        if (strcmp(kind, "checkpoint") == 0) {
            r->last_cp_seq = seq;
            r->last_cp_mono = mono_now();
        }
    }
    free(line);
    return c;
}

static bool checkpoint_due(const wd_recorder *r)
{
    if (r->key == NULL || r->last_seq <= r->last_cp_seq)
        return false;
    return r->last_seq - r->last_cp_seq >= r->every ||
           mono_now() - r->last_cp_mono >= r->interval_s;
}

/* Append under the lock; force_cp: a checkpoint instead of an entry. */
static wd_code append_locked(wd_recorder *r, const char *kind, json_t *fields, bool force_cp,
                             wd_err *e)
{
    wd_code c = WD_OK;
    bool done = false;
    for (int i = 0; i < MAX_FOLLOW && !done; i++) {
        bool none = false;
        c = lock_tail(r, &none, e);
        if (c != WD_OK)
            return c;
        if (!none)
            break;
        if (force_cp)
            return WD_OK; /* nothing to sign */
        /* the very first line */
        char *line = NULL;
        size_t len = 0;
        c = build_line(r, 1, WD_RECORDER_GENESIS, kind, fields, &line, &len, e);
        if (c != WD_OK)
            return c;
        bool exists = false;
        c = create_segment(r, 1, line, len, &exists, e);
        free(line);
        if (c != WD_OK)
            return c;
        done = !exists;
    }
    if (r->fd < 0 && !done)
        return wd_err_set(e, WD_E_IO, "recorder: the first segment keeps changing; giving up");
    if (r->fd < 0) { /* the first segment was just created: take it as current */
        bool none = false;
        c = lock_tail(r, &none, e);
        if (c != WD_OK)
            return c;
        if (none)
            return wd_err_set(e, WD_E_IO, "recorder: the first segment disappeared");
    } else if (!done) {
        if (force_cp) {
            if (r->last_cp_seq != r->last_seq)
                c = write_line(r, "checkpoint", NULL, e);
        } else {
            c = write_line(r, kind, fields, e);
        }
    }
    if (c == WD_OK && !force_cp && checkpoint_due(r))
        c = write_line(r, "checkpoint", NULL, e);
    if (r->fd >= 0)
        lock_fd(r->fd, LOCK_UN);
    return c;
}

wd_code wd_recorder_append(wd_recorder *r, const char *kind, json_t *fields, wd_err *e)
{
    if (r == NULL || kind == NULL)
        return wd_err_set(e, WD_E_USAGE, "recorder: no recorder or kind");
    char shown[80];
    if (!kind_valid(kind) || strcmp(kind, "checkpoint") == 0)
        return wd_err_set(e, WD_E_USAGE, "recorder: kind '%s' is not allowed",
                          wd_clean_text(kind, shown, sizeof shown));
    if (fields != NULL) {
        if (!json_is_object(fields))
            return wd_err_set(e, WD_E_USAGE, "recorder: fields must be a JSON object");
        for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
            if (json_object_get(fields, reserved[i]) != NULL)
                return wd_err_set(e, WD_E_USAGE, "recorder: field '%s' is reserved", reserved[i]);
    }
    pthread_mutex_lock(&r->mu);
    wd_code c = append_locked(r, kind, fields, false, e);
    pthread_mutex_unlock(&r->mu);
    return c;
}

wd_code wd_recorder_checkpoint(wd_recorder *r, wd_err *e)
{
    if (r == NULL || r->key == NULL)
        return wd_err_set(e, WD_E_USAGE, "recorder: no signing key for checkpoints");
    pthread_mutex_lock(&r->mu);
    wd_code c = append_locked(r, "checkpoint", NULL, true, e);
    pthread_mutex_unlock(&r->mu);
    return c;
}

/* ---- verification ---- */

/* Fill e and rep with a rejection at segment:line. */
static wd_code reject_at(wd_recorder_report *rep, const char *seg, uint64_t line, wd_code c,
                         const char *reason, wd_err *e)
{
    snprintf(rep->segment, sizeof rep->segment, "%s", seg);
    rep->line = line;
    return wd_err_set(e, c, "%s:%" PRIu64 ": %s", seg, line, reason);
}

static wd_code check_checkpoint(const json_t *obj, uint64_t seq, const wd_key *key, char *why,
                                size_t whysz)
{
    const json_t *sig = json_object_get(obj, "sig");
    const json_t *kid = json_object_get(obj, "keyid");
    if (!json_is_string(sig)) {
        snprintf(why, whysz, "checkpoint without a string sig");
        return WD_E_MALFORMED;
    }
    if (kid != NULL && (!json_is_string(kid) || strcmp(json_string_value(kid), wd_key_id(key)))) {
        snprintf(why, whysz, "checkpoint signed by another key than %s", wd_key_id(key));
        return WD_E_BAD_SIGNATURE;
    }
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    if (wd_b64_decode(json_string_value(sig), json_string_length(sig), &raw, &rawlen, NULL) !=
        WD_OK) {
        snprintf(why, whysz, "checkpoint sig is not base64");
        return WD_E_BAD_SIGNATURE;
    }
    char msg[160];
    cp_message(msg, sizeof msg, seq, wd_json_str(obj, "prev"));
    bool ok = wd_key_verify(key, msg, strlen(msg), raw, rawlen);
    free(raw);
    if (!ok) {
        snprintf(why, whysz, "checkpoint signature does not verify");
        return WD_E_BAD_SIGNATURE;
    }
    return WD_OK;
}

wd_code wd_recorder_verify(const char *dir, const wd_key *key, wd_recorder_report *rep,
                           wd_err *e)
{
    memset(rep, 0, sizeof *rep);
    if (dir == NULL || key == NULL)
        return wd_err_set(e, WD_E_USAGE, "recorder verify: a directory and a key are required");
    uint64_t *segs = NULL;
    size_t nseg = 0;
    wd_code c = list_segments(dir, &segs, &nseg, e);
    if (c != WD_OK)
        return c;
    uint64_t last_seq = 0;
    char last_digest[WD_DIGEST_STRLEN + 1] = WD_RECORDER_GENESIS;
    char why[WD_ERR_MSG_MAX];
    for (size_t i = 0; i < nseg && c == WD_OK; i++) {
        char name[SEG_NAME_LEN + 1];
        seg_name(segs[i], name);
        char *p = join(dir, name);
        if (p == NULL) {
            c = wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
            break;
        }
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        int err = errno;
        free(p);
        if (fd < 0) {
            c = wd_err_set(e, WD_E_IO, "recorder: cannot open %s: %s", name, strerror(err));
            break;
        }
        rep->segments++;
        lreader lr;
        c = lr_init(&lr, fd, 0, e);
        uint64_t lineno = 0;
        const unsigned char *line;
        size_t len;
        uint64_t off;
        int k = LR_EOF;
        wd_err le;
        wd_err_clear(&le);
        while (c == WD_OK && (k = lr_next(&lr, &line, &len, &off, &le)) == LR_LINE) {
            lineno++;
            uint64_t seq = 0;
            json_t *obj = NULL;
            wd_code lc = wd_recorder_parse_line(line, len, &seq, &obj, &le);
            if (lc != WD_OK) {
                c = reject_at(rep, name, lineno, lc, le.msg, e);
                break;
            }
            const char *prev = wd_json_str(obj, "prev");
            bool is_cp = strcmp(wd_json_str(obj, "kind"), "checkpoint") == 0;
            char d[WD_DIGEST_STRLEN + 1];
            lc = wd_digest_of(line, len, d, e);
            if (lc != WD_OK) {
                json_decref(obj);
                c = lc;
                break;
            }
            if (!wd_ct_eq(prev, last_digest, WD_DIGEST_STRLEN)) {
                snprintf(why, sizeof why, last_seq == 0
                         ? "prev is not the genesis digest (the chain's first line is missing "
                           "or changed)"
                         : "prev does not match the digest of the line before (a line was "
                           "changed, removed or moved)");
                lc = WD_E_HASH_MISMATCH;
            } else if (seq != last_seq + 1) {
                snprintf(why, sizeof why, "seq %" PRIu64 ", expected %" PRIu64, seq,
                         last_seq + 1);
                lc = WD_E_MALFORMED;
            } else if (lineno == 1 && seq != segs[i]) {
                snprintf(why, sizeof why, "the segment's name says it starts at seq %" PRIu64
                         ", its first line is seq %" PRIu64, segs[i], seq);
                lc = WD_E_MALFORMED;
            } else if (is_cp) {
                lc = check_checkpoint(obj, seq, key, why, sizeof why);
            }
            json_decref(obj);
            if (lc != WD_OK) {
                c = reject_at(rep, name, lineno, lc, why, e);
                break;
            }
            memcpy(last_digest, d, sizeof d);
            last_seq = seq;
            rep->entries = seq;
            if (is_cp)
                rep->last_checkpoint_seq = seq;
        }
        if (c == WD_OK && k == LR_PARTIAL)
            c = reject_at(rep, name, lineno + 1, WD_E_MALFORMED,
                          "incomplete last line (no newline): the segment was truncated", e);
        else if (c == WD_OK && k == LR_ERROR)
            c = reject_at(rep, name, lineno + 1, le.code, le.msg, e);
        else if (c == WD_OK && lineno == 0)
            c = reject_at(rep, name, 1, WD_E_MALFORMED, "empty segment", e);
        lr_free(&lr);
        close(fd);
    }
    free(segs);
    rep->unsigned_after = rep->entries - rep->last_checkpoint_seq;
    return c;
}

/* ---- reading for the shipper ---- */

void wd_recorder_records_free(wd_recorder_records *rs)
{
    if (rs == NULL)
        return;
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i].line);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

/* The seq of a line as the recorder writes it ({"seq":N,…}) without parsing the rest; false
 * when the line does not start that way. */
static bool quick_seq(const unsigned char *line, size_t len, uint64_t *seq)
{
    static const char head[] = "{\"seq\":";
    size_t h = sizeof head - 1, i = h;
    if (len <= h || memcmp(line, head, h) != 0)
        return false;
    uint64_t v = 0;
    while (i < len && i < h + 16 && line[i] >= '0' && line[i] <= '9')
        v = v * 10 + (uint64_t)(line[i++] - '0');
    if (i == h || i >= len || line[i] != ',')
        return false;
    *seq = v;
    return true;
}

wd_code wd_recorder_read(const char *dir, uint64_t from_seq, size_t max_records,
                         size_t max_bytes, wd_recorder_records *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    if (dir == NULL || max_records == 0)
        return wd_err_set(e, WD_E_USAGE, "recorder read: a directory and a record count are "
                          "required");
    uint64_t *segs = NULL;
    size_t nseg = 0;
    wd_code c = list_segments(dir, &segs, &nseg, e);
    if (c != WD_OK)
        return c;
    size_t start = 0;
    for (size_t i = 0; i < nseg; i++)
        if (segs[i] <= from_seq)
            start = i;
    size_t cap = 0;
    bool full = false;
    for (size_t i = start; i < nseg && c == WD_OK && !full; i++) {
        char name[SEG_NAME_LEN + 1];
        seg_name(segs[i], name);
        char *p = join(dir, name);
        if (p == NULL) {
            c = wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
            break;
        }
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        int err = errno;
        free(p);
        if (fd < 0) {
            c = wd_err_set(e, WD_E_IO, "recorder: cannot open %s: %s", name, strerror(err));
            break;
        }
        lreader lr;
        c = lr_init(&lr, fd, 0, e);
        const unsigned char *line;
        size_t len;
        uint64_t off;
        int k = LR_EOF;
        wd_err le;
        while (c == WD_OK && (k = lr_next(&lr, &line, &len, &off, &le)) == LR_LINE) {
            uint64_t seq = 0;
            if (quick_seq(line, len, &seq) && seq < from_seq)
                continue; /* before the range: not returned, so not parsed */
            wd_code lc = wd_recorder_parse_line(line, len, &seq, NULL, &le);
            if (lc != WD_OK) {
                c = wd_err_set(e, lc, "recorder: %s at byte %" PRIu64 ": %s", name, off, le.msg);
                break;
            }
            if (seq < from_seq)
                continue;
            if (out->n == max_records || out->bytes + len > max_bytes) {
                if (out->n == 0)
                    c = wd_err_set(e, WD_E_OVERSIZED, "recorder: the record at seq %" PRIu64
                                   " (%zu bytes) is larger than %zu bytes", seq, len, max_bytes);
                full = true;
                break;
            }
            if (out->n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                if (nc > max_records)
                    nc = max_records;
                wd_recorder_record *nv = realloc(out->v, nc * sizeof *nv);
                if (nv == NULL) {
                    c = wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
                    break;
                }
                out->v = nv;
                cap = nc;
            }
            char *copy = malloc(len + 1);
            if (copy == NULL) {
                c = wd_err_set(e, WD_E_NOMEM, "recorder: out of memory");
                break;
            }
            memcpy(copy, line, len);
            copy[len] = '\0';
            out->v[out->n++] = (wd_recorder_record){seq, copy, len};
            out->bytes += len;
            if (out->n > 1 && seq != out->v[out->n - 2].seq + 1) {
                c = wd_err_set(e, WD_E_MALFORMED, "recorder: %s: seq %" PRIu64 " follows %"
                               PRIu64, name, seq, out->v[out->n - 2].seq);
                break;
            }
        }
        if (c == WD_OK && k == LR_ERROR)
            c = wd_err_set(e, le.code, "recorder: %s: %s", name, le.msg);
        /* LR_PARTIAL: a line being written (or a damaged tail): stop before it */
        if (c == WD_OK && k == LR_PARTIAL)
            full = true;
        lr_free(&lr);
        close(fd);
    }
    free(segs);
    if (c != WD_OK)
        wd_recorder_records_free(out);
    return c;
}
