/* state.c — the follower's state directory (SPEC §13.3; see state.h for the layout): open and
 * re-verify, apply bundles, kills and rosters through verify -> transition -> durable apply,
 * and report the policy state. It must never switch `active` to anything that did not verify
 * and compile, never write a byte when a message is rejected, never leave a mix of old and new
 * after a crash, and never report a state as enforcing when it did not re-verify. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2 (RENAME_EXCHANGE) */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "base/base.h"
#include "crypto/crypto.h"

#ifndef WARDEN_VERSION
#define WARDEN_VERSION "0.0.0"
#endif

/* Longest ETag kept, in bytes. */
#define ETAG_MAX 256
/* Most rosters in the stored chain. */
#define MAX_CHAIN 4096

struct wd_agent_state {
    wd_agent_config cfg;
    char dir[PATH_MAX];
    int lockfd;
    unsigned crash_hits;          /* steps counted for WD_AGENT_CRASH_ENV */
    wd_roster *roster;            /* held roster, verified from the pin through rosters/ */
    wd_bundle *bundle;            /* verified active bundle */
    char bundle_name[128];        /* "<version>-<hex>" of the verified active bundle */
    char active_link[128];        /* what `active` names, verified or not */
    wd_policy *policy;            /* compiled from the active policy.yaml */
    int64_t floor;
    wd_kill *kill;                /* applied */
    wd_kill *kill_seen;           /* verified, not applied */
    char etag[2][ETAG_MAX + 1];
    wd_code fail_code;            /* WD_OK when everything verified */
    char fail_msg[WD_ERR_MSG_MAX];
};

/* ---- small helpers ---- */

static void crash_point(unsigned *hits, const char *step)
{
    const char *v = getenv(WD_AGENT_CRASH_ENV);
    if (v == NULL || v[0] == '\0')
        return;
    const char *colon = strrchr(v, ':');
    if (colon == NULL)
        return;
    size_t nl = (size_t)(colon - v);
    bool any = nl == 1 && v[0] == '*';
    if (!any && (nl != strlen(step) || strncmp(v, step, nl) != 0))
        return;
    char *end = NULL;
    unsigned long n = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || n == 0)
        return;
    if (++*hits == n)
        raise(SIGKILL);
}

static void crash(wd_agent_state *s, const char *step)
{
    crash_point(&s->crash_hits, step);
}

/* dir/rel into out; false (with e set) when it does not fit. */
static bool path_in(const char *dir, const char *rel, char *out, size_t outsz, wd_err *e)
{
    int n = snprintf(out, outsz, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= outsz) {
        wd_err_set(e, WD_E_USAGE, "state directory path too long");
        return false;
    }
    return true;
}

static wd_code sync_dir(const char *path, wd_err *e)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "cannot open directory %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0)
        return wd_err_set(e, WD_E_IO, "cannot sync directory %s: %s", path, strerror(err));
    return WD_OK;
}

/* Read dir/rel, at most max bytes. *exists says whether the file was there at all (a missing
 * file is WD_OK with *exists false and *buf NULL). The caller frees *buf. */
static wd_code read_rel(const char *dir, const char *rel, size_t max, unsigned char **buf,
                        size_t *len, bool *exists, wd_err *e)
{
    char p[PATH_MAX];
    *buf = NULL;
    *len = 0;
    *exists = false;
    if (!path_in(dir, rel, p, sizeof p, e))
        return WD_E_USAGE;
    struct stat st;
    if (lstat(p, &st) != 0) {
        if (errno == ENOENT)
            return WD_OK;
        return wd_err_set(e, WD_E_IO, "%s: %s", rel, strerror(errno));
    }
    *exists = true;
    if (!S_ISREG(st.st_mode))
        return wd_err_set(e, WD_E_IO, "%s: not a regular file", rel);
    wd_code c = wd_read_file(p, max, buf, len, e);
    if (c != WD_OK)
        wd_msg_prefix(c, e, "%s", rel);
    return c;
}

/* Write dir/rel atomically (wd_write_file), unless it already holds exactly these bytes. */
static wd_code write_rel(const char *dir, const char *rel, const void *data, size_t len,
                         wd_err *e)
{
    unsigned char *old = NULL;
    size_t olen = 0;
    bool exists = false;
    wd_err ign;
    if (read_rel(dir, rel, 1024u * 1024u, &old, &olen, &exists, &ign) == WD_OK && exists &&
        olen == len && memcmp(old, data, len) == 0) {
        free(old);
        return WD_OK;
    }
    free(old);
    char p[PATH_MAX];
    if (!path_in(dir, rel, p, sizeof p, e))
        return WD_E_USAGE;
    return wd_write_file(p, data, len, 0600, e);
}

/* Remove dir/rel when present, then sync dir. */
static wd_code unlink_rel(const char *dir, const char *rel, wd_err *e)
{
    char p[PATH_MAX];
    if (!path_in(dir, rel, p, sizeof p, e))
        return WD_E_USAGE;
    if (unlink(p) != 0) {
        if (errno == ENOENT)
            return WD_OK;
        return wd_err_set(e, WD_E_IO, "cannot remove %s: %s", rel, strerror(errno));
    }
    return sync_dir(dir, e);
}

/* Remove a directory and the plain files in it (one level: bundle directories). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char p[PATH_MAX];
            if (snprintf(p, sizeof p, "%s/%s", path, de->d_name) < (int)sizeof p)
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

static wd_code make_dir(const char *path, wd_err *e)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return wd_err_set(e, WD_E_IO, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return wd_err_set(e, WD_E_IO, "%s is not a directory", path);
    return WD_OK;
}

/* "<version>-<64 hex>" for a bundle. */
static void bundle_dir_name(const wd_bundle *b, char *out, size_t outsz)
{
    const char *hex = strchr(b->hash, ':');
    snprintf(out, outsz, "%lld-%s", (long long)b->version, hex ? hex + 1 : b->hash);
}

static void set_failure(wd_agent_state *s, const wd_err *e, const char *what)
{
    if (s->fail_code != WD_OK)
        return; /* the first reason is the one reported */
    s->fail_code = e->code == WD_OK ? WD_E_INTERNAL : e->code;
    size_t n = strlen(what), m = strlen(e->msg);
    if (n > sizeof s->fail_msg / 4)
        n = sizeof s->fail_msg / 4;
    if (n + 2 + m >= sizeof s->fail_msg)
        m = sizeof s->fail_msg - n - 3;
    memcpy(s->fail_msg, what, n);
    memcpy(s->fail_msg + n, ": ", 2);
    memcpy(s->fail_msg + n + 2, e->msg, m);
    s->fail_msg[n + 2 + m] = '\0';
}

/* ---- loading (what open does, and what every apply does again afterwards) ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The versions stored in rosters/ ("<N>.json"), sorted. The caller frees *out. */
static wd_code list_rosters(const char *dir, int64_t **out, size_t *n, wd_err *e)
{
    char p[PATH_MAX];
    *out = NULL;
    *n = 0;
    if (!path_in(dir, "rosters", p, sizeof p, e))
        return WD_E_USAGE;
    DIR *d = opendir(p);
    if (d == NULL)
        return errno == ENOENT ? WD_OK
                               : wd_err_set(e, WD_E_IO, "rosters: %s", strerror(errno));
    int64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    wd_code c = WD_OK;
    while ((de = readdir(d)) != NULL) {
        char *end = NULL;
        errno = 0;
        long long x = strtoll(de->d_name, &end, 10);
        if (end == de->d_name || strcmp(end, ".json") != 0 || errno != 0 || x < 1 ||
            de->d_name[0] == '0' || de->d_name[0] == '+' || de->d_name[0] == '-')
            continue;
        if (cnt == MAX_CHAIN) {
            c = wd_err_set(e, WD_E_OVERSIZED, "rosters: more than %d stored", MAX_CHAIN);
            break;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            int64_t *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                c = wd_err_set(e, WD_E_NOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[cnt++] = x;
    }
    closedir(d);
    if (c != WD_OK) {
        free(v);
        return c;
    }
    if (cnt > 0)
        qsort(v, cnt, sizeof *v, cmp_i64);
    *out = v;
    *n = cnt;
    return WD_OK;
}

/* Verify the stored roster chain from the pin: rosters/<v>.json in version order (each one a
 * rotation from the one before, the first against the pin), then roster.json, which must be
 * the chain's newest (or, when the chain is empty, verify against the pin alone). A failure
 * leaves s->roster at the last roster that verified and records the reason. */
static wd_code load_rosters(wd_agent_state *s, int64_t now, wd_err *e)
{
    int64_t *vers = NULL;
    size_t nv = 0;
    wd_code c = list_rosters(s->dir, &vers, &nv, e);
    if (c != WD_OK)
        return c == WD_E_NOMEM || c == WD_E_USAGE ? c : (set_failure(s, e, "roster chain"), WD_OK);
    wd_roster *prev = NULL;
    for (size_t i = 0; i < nv; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "rosters/%lld.json", (long long)vers[i]);
        unsigned char *buf = NULL;
        size_t len = 0;
        bool exists = false;
        wd_err le;
        wd_err_clear(&le);
        wd_roster *r = NULL;
        c = read_rel(s->dir, rel, WD_MAX_ROSTER_ENVELOPE, &buf, &len, &exists, &le);
        if (c == WD_OK)
            c = wd_roster_verify_ex(buf, len, s->cfg.pin, prev, now, WD_ROSTER_KEEP_EXPIRED,
                                    &r, &le);
        free(buf);
        if (c == WD_OK && r->version != vers[i]) {
            c = wd_err_set(&le, WD_E_MALFORMED, "holds version %lld", (long long)r->version);
            wd_roster_free(r);
            r = NULL;
        }
        if (c != WD_OK) {
            if (c == WD_E_NOMEM) {
                free(vers);
                wd_roster_free(prev);
                *e = le;
                return c;
            }
            set_failure(s, &le, rel);
            break;
        }
        wd_roster_free(prev);
        prev = r;
    }
    free(vers);
    /* roster.json: a copy of the newest link (rewritten when an apply was interrupted between
     * the two writes), or, without a stored chain, a roster verified against the pin alone. */
    unsigned char *buf = NULL;
    size_t len = 0;
    bool exists = false;
    wd_err le;
    wd_err_clear(&le);
    c = read_rel(s->dir, "roster.json", WD_MAX_ROSTER_ENVELOPE, &buf, &len, &exists, &le);
    if (c == WD_OK && exists && s->fail_code == WD_OK) {
        wd_roster *r = NULL;
        if (prev == NULL)
            c = wd_roster_verify_ex(buf, len, s->cfg.pin, NULL, now, WD_ROSTER_KEEP_EXPIRED, &r,
                                    &le);
        else if (wd_roster_verify_ex(buf, len, s->cfg.pin, prev, now, WD_ROSTER_KEEP_EXPIRED,
                                     &r, &le) == WD_OK && r->version == prev->version) {
            c = WD_OK; /* the same roster as the chain's newest */
        } else {
            /* older than the chain's newest (a crash between the two writes): repair */
            wd_roster_free(r);
            r = NULL;
            char p[64];
            snprintf(p, sizeof p, "rosters/%lld.json", (long long)prev->version);
            unsigned char *nb = NULL;
            size_t nl = 0;
            bool ex = false;
            c = read_rel(s->dir, p, WD_MAX_ROSTER_ENVELOPE, &nb, &nl, &ex, &le);
            if (c == WD_OK)
                c = write_rel(s->dir, "roster.json", nb, nl, &le);
            free(nb);
        }
        if (r != NULL) {
            wd_roster_free(prev);
            prev = r;
        }
    } else if (c == WD_OK && !exists && prev != NULL) {
        char p[64];
        snprintf(p, sizeof p, "rosters/%lld.json", (long long)prev->version);
        unsigned char *nb = NULL;
        size_t nl = 0;
        bool ex = false;
        c = read_rel(s->dir, p, WD_MAX_ROSTER_ENVELOPE, &nb, &nl, &ex, &le);
        if (c == WD_OK)
            c = write_rel(s->dir, "roster.json", nb, nl, &le);
        free(nb);
    }
    free(buf);
    if (c == WD_E_NOMEM) {
        wd_roster_free(prev);
        *e = le;
        return c;
    }
    if (c != WD_OK)
        set_failure(s, &le, "roster.json");
    s->roster = prev;
    return WD_OK;
}

/* Parse a decimal floor file ("N\n"). */
static bool parse_floor(const unsigned char *buf, size_t len, int64_t *out)
{
    if (len == 0 || len > 20 || buf[len - 1] != '\n')
        return false;
    int64_t v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] < '0' || buf[i] > '9' || (i == 0 && buf[i] == '0' && len > 2))
            return false;
        v = v * 10 + (buf[i] - '0');
        if (v > WD_MAX_SAFE_INTEGER)
            return false;
    }
    *out = v;
    return true;
}

/* The target of `active` ("bundles/<name>") into name; *exists false without a link. */
static wd_code read_active(const char *dir, char *name, size_t namesz, bool *exists, wd_err *e)
{
    char p[PATH_MAX], t[PATH_MAX];
    *exists = false;
    if (!path_in(dir, "active", p, sizeof p, e))
        return WD_E_USAGE;
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n < 0) {
        if (errno == ENOENT)
            return WD_OK;
        return wd_err_set(e, WD_E_IO, "active: %s", strerror(errno));
    }
    *exists = true;
    t[n] = '\0';
    const char *base = t + strlen("bundles/");
    if (strncmp(t, "bundles/", 8) != 0 || base[0] == '\0' || base[0] == '.' ||
        strchr(base, '/') != NULL || strlen(base) >= namesz)
        return wd_err_set(e, WD_E_MALFORMED, "active: points outside bundles/");
    memcpy(name, base, strlen(base) + 1);
    return WD_OK;
}

/* Verify the active bundle: bundle.json against the held roster (WD_MSG_ACTIVE), the directory
 * named after it, policy.yaml equal to its policy and compiling. */
static wd_code load_bundle_dir(const wd_agent_state *s, const char *name, int64_t now,
                               wd_bundle **out, wd_policy **pol, wd_err *e)
{
    char rel[PATH_MAX];
    *out = NULL;
    *pol = NULL;
    if (s->roster == NULL)
        return wd_err_set(e, WD_E_UNTRUSTED_ROOT, "no verified roster to check it against");
    unsigned char *buf = NULL, *py = NULL;
    size_t len = 0, plen = 0;
    bool exists = false;
    snprintf(rel, sizeof rel, "bundles/%s/bundle.json", name);
    wd_code c = read_rel(s->dir, rel, WD_MAX_BUNDLE_ENVELOPE, &buf, &len, &exists, e);
    if (c == WD_OK && !exists)
        c = wd_err_set(e, WD_E_IO, "%s: missing", rel);
    wd_bundle *b = NULL;
    if (c == WD_OK)
        c = wd_bundle_verify(buf, len, s->roster, &s->cfg.follower, now, WD_MSG_ACTIVE, &b, e);
    free(buf);
    if (c == WD_OK) {
        char want[128];
        bundle_dir_name(b, want, sizeof want);
        if (strcmp(want, name) != 0)
            c = wd_err_set(e, WD_E_HASH_MISMATCH, "bundles/%s holds bundle %s", name, want);
    }
    if (c == WD_OK) {
        snprintf(rel, sizeof rel, "bundles/%s/policy.yaml", name);
        c = read_rel(s->dir, rel, WD_MAX_POLICY_BYTES, &py, &plen, &exists, e);
        if (c == WD_OK && !exists)
            c = wd_err_set(e, WD_E_IO, "%s: missing", rel);
        if (c == WD_OK && (plen != b->policy_len || !wd_ct_eq(py, b->policy_yaml, plen)))
            c = wd_err_set(e, WD_E_HASH_MISMATCH, "%s differs from the bundle's policy", rel);
        if (c == WD_OK)
            c = wd_policy_load(py, plen, pol, e);
        free(py);
    }
    if (c != WD_OK) {
        wd_bundle_free(b);
        return c;
    }
    *out = b;
    return WD_OK;
}

static void load_etag(wd_agent_state *s, wd_etag_kind k)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    bool exists = false;
    wd_err ign;
    s->etag[k][0] = '\0';
    if (read_rel(s->dir, k == WD_ETAG_POLICY ? "etag.policy" : "etag.kill", ETAG_MAX, &buf,
                 &len, &exists, &ign) == WD_OK && exists) {
        bool ok = true;
        for (size_t i = 0; i < len; i++)
            ok = ok && buf[i] >= 0x20 && buf[i] < 0x7f;
        if (ok)
            memcpy(s->etag[k], buf, len + 1);
    }
    free(buf);
}

static wd_code load_kill_file(const wd_agent_state *s, const char *rel, int64_t now,
                              wd_kill **out, bool *exists, wd_err *e)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    wd_code c = read_rel(s->dir, rel, WD_MAX_KILL_ENVELOPE, &buf, &len, exists, e);
    if (c == WD_OK && *exists) {
        if (s->roster == NULL)
            c = wd_err_set(e, WD_E_UNTRUSTED_ROOT, "no verified roster to check it against");
        else
            c = wd_kill_verify(buf, len, s->roster, &s->cfg.follower, now, WD_MSG_ACTIVE, out,
                               e);
    }
    free(buf);
    return c;
}

static void unload(wd_agent_state *s)
{
    wd_roster_free(s->roster);
    wd_bundle_free(s->bundle);
    wd_policy_unref(s->policy);
    wd_kill_free(s->kill);
    wd_kill_free(s->kill_seen);
    s->roster = NULL;
    s->bundle = NULL;
    s->policy = NULL;
    s->kill = NULL;
    s->kill_seen = NULL;
    s->bundle_name[0] = '\0';
    s->active_link[0] = '\0';
    s->floor = 0;
    s->fail_code = WD_OK;
    s->fail_msg[0] = '\0';
}

/* Write txt (a JSON text, malloc'd; always freed here) and a newline as dir/name, durably
 * (write_rel). On error the file is unchanged. */
static wd_code write_json_line(const char *dir, const char *name, char *txt, wd_err *e)
{
    size_t n = strlen(txt);
    char *line = realloc(txt, n + 2);
    if (line == NULL) {
        free(txt);
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    wd_code c = write_rel(dir, name, line, n + 1, e);
    free(line);
    return c;
}

/* What the runner reads besides active and kill.json. */
static wd_code write_enforce(wd_agent_state *s, wd_err *e)
{
    json_t *o = json_object();
    if (o == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    json_object_set_new(o, "stale_grace", json_integer(s->cfg.stale_grace));
    json_object_set_new(o, "stale_then", json_string(wd_stale_then_name(s->cfg.stale_then)));
    if (s->fail_code == WD_OK) {
        json_object_set_new(o, "deny_all", json_null());
    } else {
        json_t *d = json_object();
        json_object_set_new(d, "code", json_string(wd_code_name(s->fail_code)));
        json_object_set_new(d, "message", json_string(s->fail_msg));
        json_object_set_new(o, "deny_all", d);
    }
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (txt == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    return write_json_line(s->dir, "enforce.json", txt, e);
}

/* Load and re-verify everything from disk into s (replacing what it held). Verification
 * failures become the deny-all reason; only NOMEM, USAGE and I/O on the directory itself are
 * returned. */
static wd_code reload(wd_agent_state *s, int64_t now, wd_err *e)
{
    unload(s);
    wd_code c = load_rosters(s, now, e);
    if (c != WD_OK)
        return c;
    wd_err le;
    wd_err_clear(&le);
    /* floor */
    unsigned char *buf = NULL;
    size_t len = 0;
    bool exists = false;
    c = read_rel(s->dir, "floor", 32, &buf, &len, &exists, &le);
    if (c == WD_OK && exists && !parse_floor(buf, len, &s->floor))
        c = wd_err_set(&le, WD_E_MALFORMED, "not a version number");
    free(buf);
    if (c != WD_OK)
        set_failure(s, &le, "floor");
    /* active */
    char name[128];
    wd_err_clear(&le);
    c = read_active(s->dir, name, sizeof name, &exists, &le);
    if (c == WD_OK && exists) {
        snprintf(s->active_link, sizeof s->active_link, "%s", name);
        c = load_bundle_dir(s, name, now, &s->bundle, &s->policy, &le);
        if (c == WD_E_NOMEM) {
            *e = le;
            return c;
        }
        if (c == WD_OK) {
            snprintf(s->bundle_name, sizeof s->bundle_name, "%s", name);
            if (s->floor < s->bundle->version)
                s->floor = s->bundle->version;
            if (s->cfg.slim) {
                /* verified and compiled above; the version, hashes, scope, audience and
                 * validity stay for the transition rule and the status */
                wd_policy_unref(s->policy);
                s->policy = NULL;
                json_decref(s->bundle->policy);
                s->bundle->policy = NULL;
                free(s->bundle->policy_yaml);
                s->bundle->policy_yaml = NULL;
            }
        } else {
            set_failure(s, &le, "active bundle");
        }
    } else if (c == WD_OK && s->floor > 0) {
        wd_err_set(&le, WD_E_IO, "missing, but bundles up to version %lld were applied",
                   (long long)s->floor);
        set_failure(s, &le, "active");
    } else if (c != WD_OK) {
        set_failure(s, &le, "active");
    }
    /* kill.json (the applied kill) and kill-seen.json (informational) */
    wd_err_clear(&le);
    c = load_kill_file(s, "kill.json", now, &s->kill, &exists, &le);
    if (c != WD_OK)
        set_failure(s, &le, "kill.json");
    wd_err_clear(&le);
    if (load_kill_file(s, "kill-seen.json", now, &s->kill_seen, &exists, &le) != WD_OK)
        s->kill_seen = NULL;
    load_etag(s, WD_ETAG_POLICY);
    load_etag(s, WD_ETAG_KILL);
    /* tell the runner (once anything was ever applied: opening an empty directory writes
     * nothing), and keep the reason as the last error when it is a new one */
    char ep[PATH_MAX], rp[PATH_MAX], ap[PATH_MAX];
    struct stat est;
    if (path_in(s->dir, "enforce.json", ep, sizeof ep, &le) &&
        path_in(s->dir, "roster.json", rp, sizeof rp, &le) &&
        path_in(s->dir, "active", ap, sizeof ap, &le) &&
        (s->fail_code != WD_OK || lstat(ep, &est) == 0 || lstat(rp, &est) == 0 ||
         lstat(ap, &est) == 0)) {
        c = write_enforce(s, e);
        if (c != WD_OK)
            return c;
    }
    if (s->fail_code != WD_OK) {
        unsigned char *old = NULL;
        size_t olen = 0;
        bool ex = false;
        bool same = false;
        if (read_rel(s->dir, "last_error.json", 8192, &old, &olen, &ex, &le) == WD_OK && ex) {
            json_t *j = json_loadb((const char *)old, olen, 0, NULL);
            same = j != NULL &&
                   json_is_string(json_object_get(j, "message")) &&
                   strcmp(json_string_value(json_object_get(j, "message")), s->fail_msg) == 0;
            json_decref(j);
        }
        free(old);
        if (!same) {
            c = wd_agent_state_record_error(s, s->fail_code, s->fail_msg, now, e);
            if (c != WD_OK)
                return c;
        }
    }
    return WD_OK;
}

/* Remove what an interrupted apply left: temporary files, bundles/.tmp-*, active.tmp*. */
static void cleanup(const char *dir)
{
    const char *subs[] = {"", "bundles", "rosters"};
    for (size_t i = 0; i < 3; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s%s%s", dir, subs[i][0] ? "/" : "", subs[i]) >=
            (int)sizeof p)
            continue;
        DIR *d = opendir(p);
        if (d == NULL)
            continue;
        struct dirent *de;
        bool removed = false;
        while ((de = readdir(d)) != NULL) {
            const char *n = de->d_name;
            bool tmp = strstr(n, ".tmp.") != NULL || strncmp(n, ".tmp-", 5) == 0 ||
                       strncmp(n, ".old-", 5) == 0 || strncmp(n, "active.tmp", 10) == 0;
            if (!tmp)
                continue;
            char q[PATH_MAX];
            if (snprintf(q, sizeof q, "%s/%s", p, n) >= (int)sizeof q)
                continue;
            struct stat st;
            if (lstat(q, &st) != 0)
                continue;
            if (S_ISDIR(st.st_mode))
                remove_tree(q);
            else
                unlink(q);
            removed = true;
        }
        closedir(d);
        if (removed) {
            wd_err ign;
            sync_dir(p, &ign);
        }
    }
}

static wd_code check_config(const wd_agent_config *cfg, wd_err *e)
{
    const wd_follower *f = &cfg->follower;
    if (cfg->state_dir == NULL || cfg->state_dir[0] == '\0')
        return wd_err_set(e, WD_E_USAGE, "a state directory is required");
    if (strlen(cfg->state_dir) > PATH_MAX - 256)
        return wd_err_set(e, WD_E_USAGE, "state directory path too long");
    if (cfg->pin == NULL || strncmp(cfg->pin, "sha256:", 7) != 0 ||
        strlen(cfg->pin) != WD_DIGEST_STRLEN)
        return wd_err_set(e, WD_E_USAGE, "the pin must be a root key fingerprint (sha256:…)");
    const char *ids[] = {f->org_id, f->fleet_id, f->environment, f->instance_id};
    const char *names[] = {"org", "fleet", "environment", "instance"};
    for (size_t i = 0; i < 4; i++)
        if (ids[i] == NULL || !wd_id_valid(ids[i]))
            return wd_err_set(e, WD_E_USAGE, "the follower's %s is missing or not an id",
                              names[i]);
    if (cfg->stale_grace < 0)
        return wd_err_set(e, WD_E_USAGE, "the stale-policy grace must not be negative");
    return WD_OK;
}

wd_code wd_agent_state_open(const wd_agent_config *cfg, int64_t now, wd_agent_state **out,
                            wd_err *e)
{
    *out = NULL;
    wd_code c = check_config(cfg, e);
    if (c != WD_OK)
        return c;
    wd_agent_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    s->cfg = *cfg;
    s->lockfd = -1;
    snprintf(s->dir, sizeof s->dir, "%s", cfg->state_dir);
    /* the lock is on the directory itself, so that opening writes nothing */
    c = make_dir(s->dir, e);
    if (c == WD_OK) {
        s->lockfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->lockfd < 0)
            c = wd_err_set(e, WD_E_IO, "cannot open %s: %s", s->dir, strerror(errno));
        else if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0)
            c = wd_err_set(e, WD_E_IO,
                           "the state directory %s is in use by another warden agent process",
                           s->dir);
    }
    if (c == WD_OK) {
        cleanup(s->dir);
        c = reload(s, now, e);
    }
    if (c != WD_OK) {
        wd_agent_state_free(s);
        return c;
    }
    *out = s;
    return WD_OK;
}

void wd_agent_state_free(wd_agent_state *s)
{
    if (s == NULL)
        return;
    unload(s);
    if (s->lockfd >= 0)
        close(s->lockfd);
    free(s);
}

/* ---- reading ---- */

wd_policy_state wd_agent_state_policy_state(const wd_agent_state *s, int64_t now)
{
    if (s->kill != NULL && s->kill->active)
        return WD_PSTATE_KILLED;
    if (s->fail_code != WD_OK)
        return WD_PSTATE_DENY_ALL;
    if (s->bundle == NULL)
        return WD_PSTATE_NONE;
    return wd_stale_state(s->bundle->expires_at, s->cfg.stale_grace, s->cfg.stale_then, now);
}

wd_policy *wd_agent_state_policy_ref(const wd_agent_state *s)
{
    if (s->fail_code != WD_OK || s->policy == NULL)
        return NULL;
    return wd_policy_ref(s->policy);
}

const wd_bundle *wd_agent_state_bundle(const wd_agent_state *s) { return s->bundle; }
int64_t wd_agent_state_floor(const wd_agent_state *s) { return s->floor; }
const wd_roster *wd_agent_state_roster(const wd_agent_state *s) { return s->roster; }
const wd_kill *wd_agent_state_kill(const wd_agent_state *s) { return s->kill; }
const wd_kill *wd_agent_state_kill_seen(const wd_agent_state *s) { return s->kill_seen; }

wd_code wd_agent_state_failure(const wd_agent_state *s, const char **message)
{
    if (message != NULL)
        *message = s->fail_msg;
    return s->fail_code;
}

const char *wd_agent_state_etag(const wd_agent_state *s, wd_etag_kind k)
{
    return s->etag[k == WD_ETAG_KILL ? 1 : 0];
}

/* ---- applying ---- */

/* bundles/, rosters/ and spool/, created (0700) before the first write of an apply. */
static wd_code ensure_layout(const wd_agent_state *s, wd_err *e)
{
    const char *subs[] = {"bundles", "rosters", "spool"};
    char p[PATH_MAX];
    for (size_t i = 0; i < 3; i++) {
        if (!path_in(s->dir, subs[i], p, sizeof p, e))
            return WD_E_USAGE;
        wd_code c = make_dir(p, e);
        if (c != WD_OK)
            return c;
    }
    return WD_OK;
}

/* The held roster, usable for a new message at now. */
static wd_code usable_roster(const wd_agent_state *s, int64_t now, wd_err *e)
{
    if (s->roster == NULL)
        return wd_err_set(e, WD_E_UNTRUSTED_ROOT,
                          "no trust roster is held: apply a roster first");
    if (now >= s->roster->expires_at) {
        char t[WD_TIME_STRLEN + 1];
        wd_time_format(s->roster->expires_at, t);
        return wd_err_set(e, WD_E_EXPIRED, "roster version %lld expired at %s",
                          (long long)s->roster->version, t);
    }
    return WD_OK;
}

static void fill_result(wd_apply_result *res, bool changed, int step, const char *note)
{
    if (res == NULL)
        return;
    res->changed = changed;
    res->step = step;
    snprintf(res->note, sizeof res->note, "%s", note ? note : "");
}

/* Write data to a new file dir/name, fsync it, rename from a temporary name. */
static wd_code write_new_file(wd_agent_state *s, const char *dir, const char *name,
                              const void *data, size_t len, const char *step, wd_err *e)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/%s.tmp.w", dir, name) >= (int)sizeof tmp ||
        snprintf(dst, sizeof dst, "%s/%s", dir, name) >= (int)sizeof dst)
        return wd_err_set(e, WD_E_USAGE, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "cannot create %s: %s", tmp, strerror(errno));
    const unsigned char *p = data;
    size_t left = len;
    int err = 0;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        p += w;
        left -= (size_t)w;
        if (left > 0 && left < len)
            crash(s, step); /* a partly written file */
    }
    char st[64];
    snprintf(st, sizeof st, "%s-written", step);
    crash(s, st);
    if (err == 0 && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && err == 0)
        err = errno;
    snprintf(st, sizeof st, "%s-synced", step);
    crash(s, st);
    if (err == 0 && rename(tmp, dst) != 0)
        err = errno;
    if (err != 0) {
        unlink(tmp);
        return wd_err_set(e, WD_E_IO, "cannot write %s: %s", dst, strerror(err));
    }
    snprintf(st, sizeof st, "%s-renamed", step);
    crash(s, st);
    return WD_OK;
}

/* Keep the active bundle directory and the previously active one; remove the others (after
 * the switch is durable: nothing refers to them). */
static void prune_bundles(wd_agent_state *s, const char *keep1, const char *keep2)
{
    char p[PATH_MAX];
    wd_err ign;
    if (!path_in(s->dir, "bundles", p, sizeof p, &ign))
        return;
    DIR *d = opendir(p);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, keep1) == 0 ||
            (keep2 != NULL && strcmp(de->d_name, keep2) == 0))
            continue;
        char q[PATH_MAX];
        if (snprintf(q, sizeof q, "%s/%s", p, de->d_name) < (int)sizeof q)
            remove_tree(q);
    }
    closedir(d);
    sync_dir(p, &ign);
}

static wd_code write_etag(wd_agent_state *s, wd_etag_kind k, const char *etag, wd_err *e)
{
    return write_rel(s->dir, k == WD_ETAG_POLICY ? "etag.policy" : "etag.kill", etag,
                     strlen(etag), e);
}

wd_code wd_agent_apply_bundle(wd_agent_state *s, const unsigned char *buf, size_t len,
                              const unsigned char *auth, size_t auth_len, int64_t now,
                              wd_apply_result *res, wd_err *e)
{
    wd_code c = usable_roster(s, now, e);
    if (c != WD_OK)
        return c;
    wd_bundle *b = NULL;
    c = wd_bundle_verify(buf, len, s->roster, &s->cfg.follower, now, 0, &b, e);
    if (c != WD_OK)
        return c;
    wd_bundle_step step;
    int64_t floor = s->floor;
    char note[200], name[128];
    bundle_dir_name(b, name, sizeof name);
    if (s->bundle == NULL && s->active_link[0] != '\0' && strcmp(s->active_link, name) == 0) {
        /* the bundle `active` names did not verify on disk, and here are its verified bytes:
         * a repair, not a transition (the floor stays) */
        step = WD_BUNDLE_FORWARD;
        snprintf(note, sizeof note, "version %lld rewritten: the stored copy did not verify",
                 (long long)b->version);
        c = WD_OK;
    } else {
        c = wd_bundle_transition(s->bundle, s->floor, b, auth,
                                 auth_len, s->roster, &s->cfg.follower, now, &step, &floor,
                                 note, sizeof note, e);
    }
    if (c != WD_OK) {
        wd_bundle_free(b);
        return c;
    }
    char etag[WD_DIGEST_STRLEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", b->hash);
    if (step == WD_BUNDLE_NOOP) {
        c = write_etag(s, WD_ETAG_POLICY, etag, e);
        if (c == WD_OK)
            snprintf(s->etag[0], sizeof s->etag[0], "%s", etag);
        wd_bundle_free(b);
        if (c == WD_OK)
            fill_result(res, false, (int)step, note);
        return c;
    }
    /* the policy must compile before anything is written */
    wd_policy *pol = NULL;
    c = wd_policy_load((const unsigned char *)b->policy_yaml, b->policy_len, &pol, e);
    if (c != WD_OK) {
        wd_bundle_free(b);
        return wd_msg_prefix(c, e, "bundle policy");
    }
    wd_policy_unref(pol);
    pol = NULL;

    char tmpdir[PATH_MAX], dst[PATH_MAX], bdir[PATH_MAX], prev[128];
    snprintf(prev, sizeof prev, "%s", s->bundle_name);
    bool ok = path_in(s->dir, "bundles", bdir, sizeof bdir, e);
    if (ok && (snprintf(tmpdir, sizeof tmpdir, "%s/.tmp-%s", bdir, name) >= (int)sizeof tmpdir ||
               snprintf(dst, sizeof dst, "%s/%s", bdir, name) >= (int)sizeof dst))
        ok = wd_err_set(e, WD_E_USAGE, "path too long") == WD_OK;
    if (!ok) {
        wd_bundle_free(b);
        return e ? e->code : WD_E_USAGE;
    }
    /* 1. the new directory, complete and durable, under a temporary name */
    c = ensure_layout(s, e);
    if (c != WD_OK) {
        wd_bundle_free(b);
        return c;
    }
    remove_tree(tmpdir);
    if (mkdir(tmpdir, 0700) != 0) {
        c = wd_err_set(e, WD_E_IO, "cannot create %s: %s", tmpdir, strerror(errno));
        wd_bundle_free(b);
        return c;
    }
    crash(s, "bundle-mkdir");
    c = write_new_file(s, tmpdir, "bundle.json", buf, len, "bundle-json", e);
    if (c == WD_OK)
        c = write_new_file(s, tmpdir, "policy.yaml", b->policy_yaml, b->policy_len,
                           "bundle-policy", e);
    if (c == WD_OK)
        c = sync_dir(tmpdir, e);
    crash(s, "bundle-dir-synced");
    /* 2. into place: bundles/<name> (exchanged with an existing directory of that name, e.g.
     * one that failed to verify, so that the name never dangles) */
    if (c == WD_OK) {
        struct stat st;
        if (lstat(dst, &st) == 0) {
            if (renameat2(AT_FDCWD, tmpdir, AT_FDCWD, dst, RENAME_EXCHANGE) != 0)
                c = wd_err_set(e, WD_E_IO, "cannot replace %s: %s", dst, strerror(errno));
        } else if (rename(tmpdir, dst) != 0) {
            c = wd_err_set(e, WD_E_IO, "cannot rename %s: %s", tmpdir, strerror(errno));
        }
    }
    crash(s, "bundle-dir-renamed");
    if (c == WD_OK)
        c = sync_dir(bdir, e);
    crash(s, "bundles-synced");
    remove_tree(tmpdir); /* the exchanged old directory, if any */
    /* 3. load and compile what was written */
    if (c == WD_OK) {
        wd_bundle *chk = NULL;
        wd_err le;
        wd_err_clear(&le);
        c = load_bundle_dir(s, name, now, &chk, &pol, &le);
        wd_bundle_free(chk);
        if (c != WD_OK) {
            *e = le;
            wd_msg_prefix(c, e, "written bundle did not load");
        }
    }
    crash(s, "bundle-compiled");
    /* 4. switch active: symlink + rename, then sync the state directory */
    char link_tmp[PATH_MAX], link_dst[PATH_MAX], target[160];
    snprintf(target, sizeof target, "bundles/%s", name);
    if (c == WD_OK && (!path_in(s->dir, "active.tmp", link_tmp, sizeof link_tmp, e) ||
                       !path_in(s->dir, "active", link_dst, sizeof link_dst, e)))
        c = WD_E_USAGE;
    if (c == WD_OK) {
        unlink(link_tmp);
        if (symlink(target, link_tmp) != 0)
            c = wd_err_set(e, WD_E_IO, "cannot create %s: %s", link_tmp, strerror(errno));
    }
    crash(s, "active-symlink");
    if (c == WD_OK && rename(link_tmp, link_dst) != 0)
        c = wd_err_set(e, WD_E_IO, "cannot switch active: %s", strerror(errno));
    crash(s, "active-renamed");
    if (c == WD_OK)
        c = sync_dir(s->dir, e);
    crash(s, "state-synced");
    wd_policy_unref(pol);
    if (c != WD_OK) {
        /* not switched (or not known to be durable): drop the new directory unless active
         * points at it */
        unlink(link_tmp);
        bool ex = false;
        char cur[128];
        wd_err ign;
        if (read_active(s->dir, cur, sizeof cur, &ex, &ign) != WD_OK || !ex ||
            strcmp(cur, name) != 0)
            remove_tree(dst);
        wd_bundle_free(b);
        wd_err keep = *e;
        reload(s, now, &ign);
        *e = keep;
        return c;
    }
    /* 5. the floor, then the ETag (a crash before either is repaired: the floor is at least
     * the active version when loaded, and a missing ETag only costs one more fetch) */
    char fl[32];
    int fn = snprintf(fl, sizeof fl, "%lld\n", (long long)floor);
    c = write_rel(s->dir, "floor", fl, (size_t)fn, e);
    crash(s, "floor-written");
    if (c == WD_OK)
        c = write_etag(s, WD_ETAG_POLICY, etag, e);
    crash(s, "etag-written");
    if (c == WD_OK)
        prune_bundles(s, name, prev[0] ? prev : NULL);
    wd_bundle_free(b);
    wd_err le;
    wd_err_clear(&le);
    wd_code rc = reload(s, now, &le);
    if (c == WD_OK && rc != WD_OK) {
        *e = le;
        c = rc;
    }
    if (c == WD_OK)
        fill_result(res, true, (int)step, note);
    return c;
}

wd_code wd_agent_apply_kill(wd_agent_state *s, const unsigned char *buf, size_t len,
                            int64_t now, wd_apply_result *res, wd_err *e)
{
    wd_code c = usable_roster(s, now, e);
    if (c != WD_OK)
        return c;
    wd_kill *k = NULL;
    c = wd_kill_verify(buf, len, s->roster, &s->cfg.follower, now, 0, &k, e);
    if (c != WD_OK)
        return c;
    /* the floor: the applied kill; when not honoring, the newer of applied and seen */
    const wd_kill *floor = s->kill;
    if (!s->cfg.honor_kill && s->kill_seen != NULL &&
        (floor == NULL || s->kill_seen->counter > floor->counter))
        floor = s->kill_seen;
    wd_kill_step step;
    char note[200];
    c = wd_kill_transition(floor, k, &step, note, sizeof note, e);
    if (c != WD_OK) {
        wd_kill_free(k);
        return c;
    }
    char etag[WD_DIGEST_STRLEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", k->hash);
    wd_kill_free(k);
    if (step != WD_KILL_NOOP)
        c = ensure_layout(s, e);
    if (step != WD_KILL_NOOP && c == WD_OK) {
        const char *rel = s->cfg.honor_kill ? "kill.json" : "kill-seen.json";
        crash(s, "kill-write");
        c = write_rel(s->dir, rel, buf, len, e);
        crash(s, "kill-written");
        if (!s->cfg.honor_kill && c == WD_OK) {
            size_t nl = strlen(note);
            snprintf(note + nl, sizeof note - nl, " (not applied: remote kill not honored)");
        }
    }
    if (c == WD_OK)
        c = write_etag(s, WD_ETAG_KILL, etag, e);
    crash(s, "kill-etag-written");
    wd_err le;
    wd_err_clear(&le);
    wd_code rc = reload(s, now, &le);
    if (c == WD_OK && rc != WD_OK) {
        *e = le;
        c = rc;
    }
    if (c == WD_OK)
        fill_result(res, step != WD_KILL_NOOP, (int)step, note);
    return c;
}

wd_code wd_agent_apply_roster(wd_agent_state *s, const unsigned char *buf, size_t len,
                              int64_t now, wd_apply_result *res, wd_err *e)
{
    wd_roster *r = NULL;
    wd_code c = wd_roster_verify(buf, len, s->cfg.pin, s->roster, now, &r, e);
    if (c != WD_OK)
        return c;
    if (r->org_id == NULL || strcmp(r->org_id, s->cfg.follower.org_id) != 0) {
        char o[140];
        wd_clean_text(r->org_id, o, sizeof o);
        wd_roster_free(r);
        return wd_err_set(e, WD_E_WRONG_SCOPE, "roster: org_id %s is not this follower's %s", o,
                          s->cfg.follower.org_id);
    }
    if (s->roster != NULL && r->version == s->roster->version) {
        wd_roster_free(r);
        fill_result(res, false, -1, "the same roster: no-op");
        return WD_OK;
    }
    char rel[64], note[200];
    snprintf(rel, sizeof rel, "rosters/%lld.json", (long long)r->version);
    snprintf(note, sizeof note, "roster version %lld accepted (%s)", (long long)r->version,
             s->roster ? "rotation" : "from the pin");
    wd_roster_free(r);
    c = ensure_layout(s, e);
    crash(s, "roster-chain-write");
    if (c == WD_OK)
        c = write_rel(s->dir, rel, buf, len, e);
    crash(s, "roster-chain-written");
    if (c == WD_OK)
        c = write_rel(s->dir, "roster.json", buf, len, e);
    crash(s, "roster-written");
    wd_err le;
    wd_err_clear(&le);
    wd_code rc = reload(s, now, &le);
    if (c == WD_OK && rc != WD_OK) {
        *e = le;
        c = rc;
    }
    if (c == WD_OK)
        fill_result(res, true, -1, note);
    return c;
}

typedef struct chain_item {
    int64_t version;
    size_t index;
} chain_item;

static int cmp_item(const void *a, const void *b)
{
    const chain_item *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

wd_code wd_agent_apply_roster_chain(wd_agent_state *s, const wd_agent_blob *envs, size_t n,
                                    int64_t now, size_t *applied, wd_err *e)
{
    if (applied != NULL)
        *applied = 0;
    if (n > MAX_CHAIN)
        return wd_err_set(e, WD_E_OVERSIZED, "more than %d rosters in a chain", MAX_CHAIN);
    chain_item *items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    wd_code c = WD_OK;
    /* the version of each (read without trusting it: only to order them) */
    for (size_t i = 0; i < n && c == WD_OK; i++) {
        wd_dsse d;
        c = wd_msg_decode_unverified(envs[i].data, envs[i].len, WD_MAX_ROSTER_ENVELOPE,
                                     WD_ROSTER_PAYLOAD_TYPE, &d, e);
        if (c != WD_OK)
            break;
        wd_roster *r = NULL;
        c = wd_roster_parse(d.payload, d.payload_len, &r, e);
        wd_dsse_free(&d);
        if (c == WD_OK) {
            items[i].version = r->version;
            items[i].index = i;
            wd_roster_free(r);
        }
        if (c != WD_OK)
            wd_msg_prefix(c, e, "roster %zu of the chain", i + 1);
    }
    if (c == WD_OK && n > 0)
        qsort(items, n, sizeof *items, cmp_item);
    for (size_t i = 0; i < n && c == WD_OK; i++) {
        wd_apply_result res;
        c = wd_agent_apply_roster(s, envs[items[i].index].data, envs[items[i].index].len, now,
                                  &res, e);
        if (c == WD_OK && applied != NULL && res.changed)
            (*applied)++;
    }
    free(items);
    return c;
}

/* ---- small records ---- */

wd_code wd_agent_state_set_etag(wd_agent_state *s, wd_etag_kind k, const char *etag,
                                wd_err *e)
{
    size_t n = etag ? strlen(etag) : 0;
    if (etag == NULL || n > ETAG_MAX)
        return wd_err_set(e, WD_E_USAGE, "an ETag is at most %d bytes", ETAG_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)etag[i] < 0x20 || (unsigned char)etag[i] >= 0x7f)
            return wd_err_set(e, WD_E_USAGE, "an ETag is printable ASCII");
    wd_code c = write_etag(s, k, etag, e);
    if (c == WD_OK)
        memcpy(s->etag[k == WD_ETAG_KILL ? 1 : 0], etag, n + 1);
    return c;
}

wd_code wd_agent_state_record_error(wd_agent_state *s, wd_code code, const char *message,
                                    int64_t at, wd_err *e)
{
    char clean[WD_ERR_MSG_MAX], t[WD_TIME_STRLEN + 1];
    wd_clean_text(message ? message : "", clean, sizeof clean);
    wd_time_format(at, t);
    json_t *o = json_pack("{s:s,s:s,s:s}", "code", wd_code_name(code), "message", clean, "at",
                          t);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (txt == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    wd_code c = write_rel(s->dir, "last_error.json", txt, strlen(txt), e);
    free(txt);
    return c;
}

wd_code wd_agent_state_clear_error(wd_agent_state *s, wd_err *e)
{
    return unlink_rel(s->dir, "last_error.json", e);
}

/* ---- status ---- */

static json_t *kill_status(const wd_kill *k, bool honored)
{
    return json_pack("{s:I,s:s,s:b}", "counter", (json_int_t)k->counter, "state",
                     k->active ? "active" : "inactive", "honored", honored);
}

json_t *wd_agent_status_json(const wd_agent_state *s, int64_t now,
                             const wd_agent_status_extra *x)
{
    char t[WD_TIME_STRLEN + 1];
    json_t *o = json_object(), *labels = json_object();
    if (o == NULL || labels == NULL) {
        json_decref(o);
        json_decref(labels);
        return NULL;
    }
    const wd_follower *f = &s->cfg.follower;
    for (size_t i = 0; i < f->nlabels; i++)
        json_object_set_new(labels, f->labels[i].key, json_string(f->labels[i].value));
    wd_time_format(x && x->started_at ? x->started_at : now, t);
    json_object_set_new(o, "schema_version", json_integer(1));
    json_object_set_new(o, "instance_id", json_string(f->instance_id));
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "warden_version", json_string(WARDEN_VERSION));
    json_object_set_new(o, "started_at", json_string(t));
    json_object_set_new(o, "policy_state",
                        json_string(wd_policy_state_name(wd_agent_state_policy_state(s, now))));
    if (s->bundle != NULL)
        json_object_set_new(o, "active_bundle",
                            json_pack("{s:I,s:s}", "version", (json_int_t)s->bundle->version,
                                      "hash", s->bundle->hash));
    else
        json_object_set_new(o, "active_bundle", json_null());
    if (s->kill_seen != NULL && (s->kill == NULL || s->kill_seen->counter > s->kill->counter))
        json_object_set_new(o, "kill", kill_status(s->kill_seen, false));
    else if (s->kill != NULL)
        json_object_set_new(o, "kill", kill_status(s->kill, true));
    else
        json_object_set_new(o, "kill", json_null());
    /* the last error as recorded */
    json_t *le = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    bool exists = false;
    wd_err ign;
    if (read_rel(s->dir, "last_error.json", 8192, &buf, &len, &exists, &ign) == WD_OK && exists)
        le = json_loadb((const char *)buf, len, 0, NULL);
    free(buf);
    json_object_set_new(o, "last_error", le ? le : json_null());
    json_object_set_new(o, "recorder_key",
                        x && x->recorder_key ? json_string(x->recorder_key) : json_null());
    return o;
}

wd_code wd_agent_state_write_status(wd_agent_state *s, int64_t now,
                                    const wd_agent_status_extra *x, wd_err *e)
{
    json_t *o = wd_agent_status_json(s, now, x);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (txt == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    return write_json_line(s->dir, "status.json", txt, e);
}
