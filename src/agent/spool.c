/* spool.c — the agent's audit spool (see spool.h): batches of flight recorder lines written
 * durably to state_dir/spool/ before sending, the cursor, and the spool_max rule. It must never
 * send anything, never remove a batch that was neither acknowledged nor dropped for room, and
 * never write a batch body over WD_SPOOL_MAX_BATCH. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/base.h"
#include "codec/json.h"
#include "recorder/recorder.h"

/* batch-<20>-<20>.json */
#define BATCH_NAME_LEN (6 + 20 + 1 + 20 + 5)
#define CURSOR_MAX 64

typedef struct held {
    uint64_t first, last, bytes;
    char name[BATCH_NAME_LEN + 1];
} held;

struct wd_spool {
    char *dir;
    char *instance;
    uint64_t cursor;
    held *v; /* sorted by first */
    size_t n, cap;
    uint64_t bytes;
};

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + 1 + strlen(b) + 1;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* batch-<first>-<last>.json: true with the two numbers. */
static bool batch_parse(const char *name, uint64_t *first, uint64_t *last)
{
    if (strlen(name) != BATCH_NAME_LEN || strncmp(name, "batch-", 6) != 0 || name[26] != '-' ||
        strcmp(name + 47, ".json") != 0)
        return false;
    return parse_u64(name + 6, 20, first) && parse_u64(name + 27, 20, last) && *first >= 1 &&
           *last >= *first;
}

static int cmp_held(const void *a, const void *b)
{
    const held *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static wd_code push(wd_spool *s, const held *h, wd_err *e)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        held *nv = realloc(s->v, nc * sizeof *nv);
        if (nv == NULL)
            return wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = *h;
    s->bytes += h->bytes;
    return WD_OK;
}

void wd_spool_close(wd_spool *s)
{
    if (s == NULL)
        return;
    free(s->dir);
    free(s->instance);
    free(s->v);
    free(s);
}

static wd_code write_cursor(wd_spool *s, uint64_t next, wd_err *e)
{
    char *p = join(s->dir, "cursor");
    if (p == NULL)
        return wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
    char text[32];
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", next);
    wd_code c = wd_write_file(p, text, (size_t)n, 0600, e);
    free(p);
    if (c == WD_OK)
        s->cursor = next;
    return c;
}

wd_code wd_spool_open(const char *state_dir, const char *instance_id, wd_spool **out, wd_err *e)
{
    *out = NULL;
    if (state_dir == NULL || !wd_id_valid(instance_id))
        return wd_err_set(e, WD_E_USAGE, "spool: a state directory and an instance id are "
                          "required");
    wd_spool *s = calloc(1, sizeof *s);
    if (s == NULL)
        return wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
    s->dir = join(state_dir, "spool");
    s->instance = strdup(instance_id);
    s->cursor = 1;
    wd_code c = WD_OK;
    char shown[160];
    if (s->dir == NULL || s->instance == NULL) {
        c = wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
        goto fail;
    }
    wd_clean_text(s->dir, shown, sizeof shown);
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
        c = wd_err_set(e, WD_E_IO, "spool: cannot create %s: %s", shown, strerror(errno));
        goto fail;
    }
    char *cp = join(s->dir, "cursor");
    if (cp == NULL) {
        c = wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
        goto fail;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_err re;
    if (access(cp, F_OK) != 0 && errno == ENOENT) {
        free(cp); /* no cursor yet: from the first record */
    } else {
        c = wd_read_file(cp, CURSOR_MAX, &buf, &len, &re);
        free(cp);
        if (c != WD_OK) {
            wd_err_set(e, c, "spool: cursor: %s", re.msg);
            goto fail;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
            len--;
        bool okc = parse_u64((const char *)buf, len, &s->cursor) && s->cursor >= 1;
        free(buf);
        if (!okc) {
            c = wd_err_set(e, WD_E_MALFORMED, "spool: %s/cursor: not a sequence number", shown);
            goto fail;
        }
    }
    DIR *d = opendir(s->dir);
    if (d == NULL) {
        c = wd_err_set(e, WD_E_IO, "spool: %s: %s", shown, strerror(errno));
        goto fail;
    }
    struct dirent *de;
    while (c == WD_OK && (de = readdir(d)) != NULL) {
        held h = {0};
        if (!batch_parse(de->d_name, &h.first, &h.last))
            continue;
        struct stat st;
        char *p = join(s->dir, de->d_name);
        if (p == NULL || stat(p, &st) != 0) {
            free(p);
            c = wd_err_set(e, WD_E_IO, "spool: cannot read %s", de->d_name);
            break;
        }
        free(p);
        h.bytes = (uint64_t)st.st_size;
        snprintf(h.name, sizeof h.name, "%s", de->d_name);
        c = push(s, &h, e);
    }
    closedir(d);
    if (c != WD_OK)
        goto fail;
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cmp_held);
    if (s->n > 0 && s->v[s->n - 1].last + 1 > s->cursor)
        s->cursor = s->v[s->n - 1].last + 1;
    *out = s;
    return WD_OK;
fail:
    wd_spool_close(s);
    return c;
}

/* The body of one batch of records rs->v[0..n). NULL when out of memory. */
static char *batch_body(const wd_spool *s, const wd_recorder_records *rs, size_t n, size_t *len)
{
    json_t *recs = json_array();
    for (size_t i = 0; recs != NULL && i < n; i++)
        if (json_array_append_new(recs, json_stringn(rs->v[i].line, rs->v[i].len)) != 0) {
            json_decref(recs);
            recs = NULL;
        }
    if (recs == NULL)
        return NULL;
    char id[WD_MAX_ID_LEN + 32];
    snprintf(id, sizeof id, "%s-%" PRIu64, s->instance, rs->v[0].seq);
    json_t *o = json_pack("{s:i,s:s,s:s,s:I,s:I,s:o}", "schema_version", 1, "batch_id", id,
                          "instance_id", s->instance, "first_seq", (json_int_t)rs->v[0].seq,
                          "last_seq", (json_int_t)rs->v[n - 1].seq, "records", recs);
    if (o == NULL)
        return NULL;
    char *text = wd_json_dump(o, len);
    json_decref(o);
    return text;
}

/* Remove held batch i from the list (the file already gone). */
static void forget(wd_spool *s, size_t i)
{
    s->bytes -= s->v[i].bytes;
    memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
    s->n--;
}

static wd_code remove_file(wd_spool *s, const char *name, wd_err *e)
{
    char *p = join(s->dir, name);
    if (p == NULL)
        return wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
    int rc = unlink(p);
    int err = errno;
    if (rc == 0 || err == ENOENT)
        rc = wd_fsync_parent(p);
    free(p);
    if (rc != 0)
        return wd_err_set(e, WD_E_IO, "spool: removing %s: %s", name, strerror(errno));
    return WD_OK;
}

wd_code wd_spool_fill(wd_spool *s, const char *recorder_dir, size_t max_records,
                      uint64_t spool_max, wd_spool_fill_result *res, wd_err *e)
{
    memset(res, 0, sizeof *res);
    if (max_records == 0)
        return wd_err_set(e, WD_E_USAGE, "spool: batch_max_records must be at least 1");
    for (int b = 0; b < WD_SPOOL_FILL_BATCHES; b++) {
        wd_recorder_records rs;
        wd_code c = wd_recorder_read(recorder_dir, s->cursor, max_records,
                                     WD_SPOOL_MAX_LINES_BYTES, &rs, e);
        if (c != WD_OK)
            return c;
        if (rs.n == 0) {
            wd_recorder_records_free(&rs);
            return WD_OK;
        }
        size_t n = rs.n, len = 0;
        char *body = NULL;
        for (;;) { /* fewer records until the body fits (escaping may grow a line) */
            body = batch_body(s, &rs, n, &len);
            if (body == NULL) {
                wd_recorder_records_free(&rs);
                return wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
            }
            if (len <= WD_SPOOL_MAX_BATCH || n == 1)
                break;
            free(body);
            n /= 2;
        }
        if (len > WD_SPOOL_MAX_BATCH) {
            free(body);
            wd_recorder_records_free(&rs);
            return wd_err_set(e, WD_E_OVERSIZED, "spool: one record makes a batch over %u bytes",
                              WD_SPOOL_MAX_BATCH);
        }
        held h = {.first = rs.v[0].seq, .last = rs.v[n - 1].seq, .bytes = len};
        wd_recorder_records_free(&rs);
        snprintf(h.name, sizeof h.name, "batch-%020" PRIu64 "-%020" PRIu64 ".json", h.first,
                 h.last);
        /* room: drop the oldest unsent batches while this one would pass spool_max */
        while (s->n > 0 && s->bytes + len > spool_max) {
            held old = s->v[0];
            c = remove_file(s, old.name, e);
            if (c != WD_OK) {
                free(body);
                return c;
            }
            forget(s, 0);
            res->dropped_records += old.last - old.first + 1;
            if (res->dropped_first == 0)
                res->dropped_first = old.first;
            res->dropped_last = old.last;
        }
        char *p = join(s->dir, h.name);
        if (p == NULL) {
            free(body);
            return wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
        }
        c = wd_write_file(p, body, len, 0600, e);
        free(p);
        free(body);
        if (c != WD_OK)
            return c;
        c = push(s, &h, e);
        if (c == WD_OK)
            c = write_cursor(s, h.last + 1, e);
        if (c != WD_OK)
            return c;
        res->batches++;
        res->records += (size_t)(h.last - h.first + 1);
    }
    return WD_OK;
}

wd_code wd_spool_oldest(wd_spool *s, char *name, size_t namesz, unsigned char **body,
                        size_t *len, wd_err *e)
{
    *body = NULL;
    *len = 0;
    if (namesz > 0)
        name[0] = '\0';
    if (s->n == 0)
        return WD_OK;
    char *p = join(s->dir, s->v[0].name);
    if (p == NULL)
        return wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
    wd_code c = wd_read_file(p, WD_SPOOL_MAX_BATCH, body, len, e);
    free(p);
    if (c == WD_OK)
        snprintf(name, namesz, "%s", s->v[0].name);
    return c;
}

static ssize_t find(const wd_spool *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

wd_code wd_spool_ack(wd_spool *s, const char *name, wd_err *e)
{
    ssize_t i = find(s, name);
    if (i < 0)
        return wd_err_set(e, WD_E_USAGE, "spool: no batch %s", name);
    wd_code c = remove_file(s, name, e);
    if (c == WD_OK)
        forget(s, (size_t)i);
    return c;
}

wd_code wd_spool_reject(wd_spool *s, const char *name, wd_err *e)
{
    ssize_t i = find(s, name);
    if (i < 0)
        return wd_err_set(e, WD_E_USAGE, "spool: no batch %s", name);
    char aside[BATCH_NAME_LEN + 16];
    snprintf(aside, sizeof aside, "rejected-%s", name);
    char *from = join(s->dir, name), *to = join(s->dir, aside);
    wd_code c = WD_OK;
    if (from == NULL || to == NULL)
        c = wd_err_set(e, WD_E_NOMEM, "spool: out of memory");
    else if (rename(from, to) != 0 || wd_fsync_parent(to) != 0)
        c = wd_err_set(e, WD_E_IO, "spool: moving %s aside: %s", name, strerror(errno));
    free(from);
    free(to);
    if (c == WD_OK)
        forget(s, (size_t)i);
    return c;
}

size_t wd_spool_batches(const wd_spool *s)
{
    return s->n;
}

uint64_t wd_spool_bytes(const wd_spool *s)
{
    return s->bytes;
}

uint64_t wd_spool_cursor(const wd_spool *s)
{
    return s->cursor;
}
