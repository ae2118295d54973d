/* daemon.c — `warden agent --config FILE` (SPEC §13.1, §13.2, §13.5): the long-running follower.
 *
 * Threads. The main thread owns the process: it loads the configuration, opens the state
 * directory, starts the loops, then runs one libevent loop for signals (SIGHUP reloads,
 * SIGTERM/SIGINT stop) and the optional plain-HTTP /metrics listener. Three worker threads run
 * beside it, each with its own mTLS client (a libcurl handle is used by one thread at a time):
 * the bundle poller, the kill poller and the status reporter. They share the configuration and
 * the state through one mutex each; waits are condition-variable waits that a stop, a reload or
 * a change cuts short, and a request in flight (a held long poll) is abandoned as soon as
 * SIGTERM arrives: the stop pipe becomes readable and the client's wait returns. While idle on
 * a held poll no thread wakes up (the client sleeps on its socket, not on a one-second tick).
 *
 * It must never apply anything except through the state library (verify -> transition rule ->
 * durable apply), advance a cached ETag except by a successful apply, let a failed poll change
 * what runs, or log a body, a key or a header value. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <jansson.h>

#include "warden/limits.h"
#include "agent_log.h"
#include "agent_metrics.h"
#include "base/base.h"
#include "config.h"
#include "fleetclient.h"
#include "recorder/recorder.h"
#include "spool.h"
#include "state.h"

#define API "/api/v1/conductor"
#define ROSTER_WALK_MAX 1000     /* rosters fetched in one walk at most */
#define STATUS_CAP (64u * 1024u) /* answer to POST status: an error body at most */
#define SLOW_PAD_S 30            /* a request may take this much beyond the long-poll wait */
#define WD_AGENT_MALLOC_ARENAS 2 /* malloc arenas for the whole process (main + 1 shared) */

typedef struct agent agent;

/* One worker: a loop with its client and backoff. */
typedef struct worker {
    agent *a;
    wd_agent_loop loop;   /* policy / kill; unused by the status reporter */
    pthread_t th;
    bool started;
    wd_fleet_client *fc;
    unsigned conn_gen;    /* the a->conn_gen fc was opened for */
    int failures;         /* consecutive failed polls: the backoff exponent */
    bool recorded_error;  /* this loop put last_error in place */
    unsigned seed;
} worker;

struct agent {
    const char *config_path;
    wd_agent_settings cfg;      /* guarded by mu */
    unsigned gen;               /* bumped by every reload (guarded by mu) */
    unsigned conn_gen;          /* bumped when the leader URL or TLS files change */
    bool status_due;            /* a change to report (guarded by mu) */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    volatile int stop;          /* read and written atomically */
    int stop_pipe[2];           /* a byte is written at stop: cuts every held request short */

    pthread_mutex_t state_mu;   /* serialises every call into the state library */
    wd_agent_state *state;
    wd_agent_config scfg;       /* what state was opened with: borrows from cfg_state_* */
    wd_label *labels;           /* the follower's labels, for scfg */
    size_t nlabels;
    wd_agent_identity id;
    int64_t started_at;

    wd_agent_logger log;
    wd_agent_metrics metrics;

    struct event_base *base;
    struct evhttp *http;        /* the /metrics listener, or NULL */
    char *metrics_bound;        /* the address it listens on */
    struct event *retry_ev;     /* retries a metrics listen that failed */

    worker w[4];                /* policy poller, kill poller, status reporter, shipper */

    wd_recorder *rec;           /* the flight recorder, or NULL (thread-safe on its own) */
    wd_spool *spool;            /* the audit spool: used by the shipper thread only */
};

static bool stopping(agent *a)
{
    return __atomic_load_n(&a->stop, __ATOMIC_SEQ_CST) != 0;
}

/* Wait up to seconds (or until stop, or until *flag/gen changes); returns early on any of
 * them. Called without mu held. */
static void nap(agent *a, double seconds, unsigned gen_seen, const bool *flag)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long ns = (long long)(seconds * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec += (long)(ns % 1000000000LL);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    while (!stopping(a) && a->gen == gen_seen && !(flag != NULL && *flag)) {
        if (pthread_cond_timedwait(&a->cond, &a->mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&a->mu);
}

static void poke_status(agent *a)
{
    pthread_mutex_lock(&a->mu);
    a->status_due = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
}

/* ---- the state ---- */

static void free_labels(agent *a)
{
    for (size_t i = 0; i < a->nlabels; i++) {
        free(a->labels[i].key);
        free(a->labels[i].value);
    }
    free(a->labels);
    a->labels = NULL;
    a->nlabels = 0;
}

/* Build a->scfg (and a->labels) from cfg. On error nothing is changed. */
static wd_code state_config_from(agent *a, const wd_agent_settings *cfg, wd_err *e)
{
    size_t n = json_object_size(cfg->labels);
    wd_label *l = n ? calloc(n, sizeof *l) : NULL;
    if (n && l == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    size_t i = 0;
    const char *k;
    json_t *v;
    bool oom = false;
    json_object_foreach(cfg->labels, k, v) {
        l[i].key = strdup(k);
        l[i].value = strdup(json_string_value(v));
        oom |= l[i].key == NULL || l[i].value == NULL;
        i++;
    }
    if (oom) {
        for (size_t j = 0; j < n; j++) {
            free(l[j].key);
            free(l[j].value);
        }
        free(l);
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    }
    free_labels(a);
    a->labels = l;
    a->nlabels = n;
    memset(&a->scfg, 0, sizeof a->scfg);
    a->scfg.state_dir = cfg->state_dir;
    a->scfg.pin = cfg->conductor.fingerprint;
    a->scfg.follower.org_id = a->id.org;
    a->scfg.follower.fleet_id = a->id.fleet;
    a->scfg.follower.environment = a->id.env;
    a->scfg.follower.instance_id = cfg->instance_id;
    a->scfg.follower.labels = a->labels;
    a->scfg.follower.nlabels = a->nlabels;
    a->scfg.honor_kill = cfg->conductor.honor_kill;
    a->scfg.stale_grace = cfg->conductor.grace_s;
    a->scfg.stale_then = cfg->conductor.then;
    a->scfg.slim = true; /* the daemon never decides with the policy itself */
    return WD_OK;
}

static wd_agent_status_extra status_extra(const agent *a)
{
    wd_agent_status_extra x = {.started_at = a->started_at,
                               .recorder_key = wd_recorder_keyid(a->rec)};
    return x;
}

/* Write status.json and update the policy-state gauge. Call with state_mu held. */
static void local_status(agent *a)
{
    if (a->state == NULL)
        return;
    wd_err e;
    wd_agent_status_extra x = status_extra(a);
    if (wd_agent_state_write_status(a->state, wd_now(), &x, &e) != WD_OK) {
        wd_agent_metrics_operational(&a->metrics);
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "status-write", "code", wd_code_name(e.code),
                     "detail", e.msg, NULL);
    }
    wd_agent_metrics_state(&a->metrics, wd_agent_state_policy_state(a->state, wd_now()));
}

/* ---- one poll ---- */

typedef struct poll_plan {
    bool enabled, long_poll;
    int interval;
    unsigned gen, conn_gen;
    wd_fleet_opts opts;     /* strings owned by this plan */
} poll_plan;

static void plan_free(poll_plan *p)
{
    free((char *)p->opts.leader_url);
    free((char *)p->opts.cert_path);
    free((char *)p->opts.key_path);
    free((char *)p->opts.ca_path);
    memset(p, 0, sizeof *p);
}

/* Copy what one iteration needs from the configuration. */
static bool plan_take(agent *a, poll_plan *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_lock(&a->mu);
    const wd_agent_settings *c = &a->cfg;
    p->enabled = c->conductor.enabled;
    p->long_poll = c->conductor.long_poll;
    p->interval = c->conductor.poll_interval_s;
    p->gen = a->gen;
    p->conn_gen = a->conn_gen;
    bool ok = true;
    if (p->enabled) {
        p->opts.leader_url = strdup(c->conductor.leader_url);
        p->opts.cert_path = strdup(c->conductor.cert);
        p->opts.key_path = strdup(c->conductor.key);
        p->opts.ca_path = strdup(c->conductor.ca);
        ok = p->opts.leader_url && p->opts.cert_path && p->opts.key_path && p->opts.ca_path;
    }
    pthread_mutex_unlock(&a->mu);
    if (!ok)
        plan_free(p);
    return ok;
}

/* Make sure w->fc is a client for the current connection settings. */
static wd_code ensure_client(worker *w, const poll_plan *p, long timeout_s, wd_err *e)
{
    if (w->fc != NULL && w->conn_gen != p->conn_gen) {
        wd_fleet_close(w->fc);
        w->fc = NULL;
    }
    if (w->fc == NULL) {
        wd_fleet_opts o = p->opts;
        o.timeout_s = timeout_s;
        wd_code rc = wd_fleet_open(&o, &w->fc, e);
        if (rc != WD_OK)
            return rc;
        rc = wd_fleet_set_cancel(w->fc, &w->a->stop, e);
        if (rc != WD_OK) {
            wd_fleet_close(w->fc);
            w->fc = NULL;
            return rc;
        }
        wd_fleet_set_cancel_fd(w->fc, w->a->stop_pipe[0]);
        w->conn_gen = p->conn_gen;
    }
    return wd_fleet_set_timeout(w->fc, timeout_s, e);
}

/* Full-jitter exponential backoff: uniform in [1, min(300, interval * 2^(failures-1))]. */
static long backoff_for(worker *w, int interval)
{
    long cap = interval;
    for (int i = 1; i < w->failures && cap < WD_AGENT_MAX_BACKOFF_S; i++)
        cap *= 2;
    if (cap > WD_AGENT_MAX_BACKOFF_S)
        cap = WD_AGENT_MAX_BACKOFF_S;
    if (cap < 1)
        cap = 1;
    return 1 + (long)(rand_r(&w->seed) % (unsigned)cap);
}

/* Record a failure: log with its code, count, keep it as the last error. */
static void failed(worker *w, wd_poll_outcome o, const char *what, const wd_err *e)
{
    agent *a = w->a;
    wd_agent_metrics_poll(&a->metrics, w->loop, o);
    if (o == WD_POLL_REJECTED)
        wd_agent_metrics_reject(&a->metrics, e->code);
    else
        wd_agent_metrics_operational(&a->metrics);
    wd_agent_log(&a->log, WD_AGENT_LOG_WARN,
                 o == WD_POLL_REJECTED ? "rejected" : "poll-failed", "loop",
                 wd_agent_loop_name(w->loop), "what", what, "code", wd_code_name(e->code),
                 "detail", e->msg, NULL);
    pthread_mutex_lock(&a->state_mu);
    if (a->state != NULL) {
        wd_err ie;
        if (wd_agent_state_record_error(a->state, e->code, e->msg, wd_now(), &ie) == WD_OK)
            w->recorded_error = true;
        local_status(a);
    }
    pthread_mutex_unlock(&a->state_mu);
    poke_status(a);
}

/* GET path into *r (cap bytes), with extra headers. */
static wd_code get(worker *w, const char *path, const char *const *hdrs, size_t cap,
                   wd_fleet_response *r, wd_err *e)
{
    return wd_fleet_request(w->fc, "GET", path, NULL, 0, hdrs, cap, r, e);
}

/* Walk the roster chain from the held version + 1 until the leader has no next one. Returns
 * WD_OK when at least the chain could be followed (possibly nothing new), else the first
 * failure's code with e set. Called without state_mu. */
static wd_code walk_rosters(worker *w, size_t *applied, wd_err *e)
{
    agent *a = w->a;
    *applied = 0;
    for (int i = 0; i < ROSTER_WALK_MAX && !stopping(a); i++) {
        pthread_mutex_lock(&a->state_mu);
        const wd_roster *held = a->state ? wd_agent_state_roster(a->state) : NULL;
        long long next = held ? (long long)held->version + 1 : 1;
        bool have = held != NULL;
        pthread_mutex_unlock(&a->state_mu);
        char path[96];
        snprintf(path, sizeof path, API "/roster/%lld", next);
        wd_fleet_response r;
        wd_code rc = get(w, path, NULL, WD_MAX_ROSTER_ENVELOPE, &r, e);
        if (rc != WD_OK)
            return wd_err_prefix(e, rc, "roster %lld", next);
        bool newest = false;
        if (r.status == 404) {
            /* No next version: the leader's newest roster may still be ahead of this host (a
             * gap in the chain: accepted by nobody, refused as untrusted-root), or this host
             * holds none and the leader lacks version 1 (then the newest is bootstrapped from
             * the pin like any first roster). */
            newest = true;
            wd_fleet_response_free(&r);
            snprintf(path, sizeof path, API "/roster");
            rc = get(w, path, NULL, WD_MAX_ROSTER_ENVELOPE, &r, e);
            if (rc != WD_OK)
                return wd_err_prefix(e, rc, "roster");
        }
        if (r.status == 404) {
            wd_fleet_response_free(&r);
            return WD_OK;
        }
        if (r.status != 200) {
            long st = r.status;
            wd_fleet_response_free(&r);
            return wd_err_set(e, WD_E_IO, "GET %s: the leader answered %ld", path, st);
        }
        wd_apply_result res = {0};
        pthread_mutex_lock(&a->state_mu);
        rc = a->state ? wd_agent_apply_roster(a->state, r.body, r.body_len, wd_now(), &res, e)
                      : wd_err_set(e, WD_E_IO, "the state directory is not open");
        const wd_roster *now_held = rc == WD_OK ? wd_agent_state_roster(a->state) : NULL;
        long long got = now_held ? (long long)now_held->version : next;
        pthread_mutex_unlock(&a->state_mu);
        wd_fleet_response_free(&r);
        if (rc == WD_E_STALE && newest && have)
            return WD_OK; /* the leader's newest is not ahead of this host: nothing to walk */
        if (rc != WD_OK)
            return wd_err_prefix(e, rc, newest ? "the leader's newest roster" : "roster %lld",
                                 next);
        if (!res.changed)
            return WD_OK; /* the roster this host holds: the chain ends here */
        wd_agent_metrics_apply(&a->metrics, 2);
        (*applied)++;
        char v[32];
        snprintf(v, sizeof v, "%lld", got);
        wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "roster-applied", "version", v, NULL);
    }
    return WD_OK;
}

/* Rejections a newer roster could turn into an acceptance: no roster or a gap, a signer or
 * purpose the held roster does not know, the held roster expired. */
static bool walk_may_help(wd_code rc)
{
    return rc == WD_E_UNTRUSTED_ROOT || rc == WD_E_BAD_SIGNATURE || rc == WD_E_THRESHOLD ||
           rc == WD_E_WRONG_PURPOSE || rc == WD_E_EXPIRED;
}

/* Apply a 200's body through the state library (the roster walk on untrusted-root). */
static wd_code apply_body(worker *w, const wd_fleet_response *r, const unsigned char *auth,
                          size_t auth_len, wd_apply_result *res, wd_err *e)
{
    agent *a = w->a;
    wd_code rc = WD_E_UNTRUSTED_ROOT;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&a->state_mu);
        if (a->state == NULL)
            rc = wd_err_set(e, WD_E_IO, "the state directory is not open");
        else if (w->loop == WD_LOOP_POLICY)
            rc = wd_agent_apply_bundle(a->state, r->body, r->body_len, auth, auth_len, wd_now(),
                                       res, e);
        else
            rc = wd_agent_apply_kill(a->state, r->body, r->body_len, wd_now(), res, e);
        pthread_mutex_unlock(&a->state_mu);
        if (!walk_may_help(rc) || attempt == 1)
            break;
        /* The message may be signed under a roster this host does not hold yet (a key added
         * since, or no roster at all). */
        wd_err we;
        size_t n = 0;
        wd_code wrc = walk_rosters(w, &n, &we);
        if (wrc != WD_OK) {
            *e = we;
            return wrc;
        }
        if (n == 0)
            break; /* nothing newer: the untrusted-root stands */
    }
    return rc;
}

/* Write a policy_applied or kill_applied entry to the flight recorder (when there is one) for
 * what was just applied. The apply is done and stays: a failure is logged, counted and kept as
 * the last error, never hidden. Called without state_mu. */
static void record_apply(worker *w, const char *transition)
{
    agent *a = w->a;
    if (a->rec == NULL)
        return;
    bool is_policy = w->loop == WD_LOOP_POLICY;
    json_t *f = json_object();
    pthread_mutex_lock(&a->state_mu);
    if (f != NULL && a->state != NULL && is_policy) {
        const wd_bundle *b = wd_agent_state_bundle(a->state);
        if (b != NULL) {
            json_object_set_new(f, "bundle_id", json_string(b->bundle_id));
            json_object_set_new(f, "version", json_integer((json_int_t)b->version));
            json_object_set_new(f, "hash", json_string(b->hash));
        }
    } else if (f != NULL && a->state != NULL) {
        const wd_kill *k = wd_agent_state_kill(a->state);
        if (k != NULL) {
            json_object_set_new(f, "message_id", json_string(k->message_id));
            json_object_set_new(f, "counter", json_integer((json_int_t)k->counter));
            json_object_set_new(f, "state", json_string(k->active ? "active" : "inactive"));
            json_object_set_new(f, "hash", json_string(k->hash));
        }
    }
    if (f != NULL) {
        json_object_set_new(f, "transition", json_string(transition));
        json_object_set_new(f, "policy_state",
                            json_string(a->state ? wd_policy_state_name(wd_agent_state_policy_state(
                                                       a->state, wd_now()))
                                                 : "none"));
    }
    pthread_mutex_unlock(&a->state_mu);
    wd_err e;
    wd_code rc = f == NULL ? wd_err_set(&e, WD_E_NOMEM, "out of memory")
                           : wd_recorder_append(a->rec, is_policy ? "policy_applied"
                                                                  : "kill_applied", f, &e);
    json_decref(f);
    if (rc != WD_OK) {
        wd_agent_metrics_recorder_error(&a->metrics);
        wd_agent_log(&a->log, WD_AGENT_LOG_ERROR, "recorder-failed", "code", wd_code_name(rc),
                     "detail", e.msg, NULL);
        pthread_mutex_lock(&a->state_mu);
        if (a->state != NULL) {
            wd_err ie;
            wd_agent_state_record_error(a->state, rc, e.msg, wd_now(), &ie);
            local_status(a);
        }
        pthread_mutex_unlock(&a->state_mu);
    }
}

/* How a bundle came in, for the log: a skipped version is said in so many words. */
static const char *bundle_step_name(int step)
{
    switch (step) {
    case WD_BUNDLE_FIRST: return "first";
    case WD_BUNDLE_FORWARD: return "forward";
    case WD_BUNDLE_SKIP: return "versions-skipped";
    case WD_BUNDLE_ROLLBACK: return "rollback";
    default: return "other";
    }
}

/* One poll of the loop's …/latest route. Returns true when the poll succeeded (no backoff);
 * *again is set when the next poll should follow at once (something applied, or a held long
 * poll that ran its course). */
static bool poll_once(worker *w, const poll_plan *p, bool *again)
{
    agent *a = w->a;
    *again = false;
    wd_err e;
    wd_err_clear(&e);
    long timeout = p->long_poll ? p->interval + SLOW_PAD_S : SLOW_PAD_S;
    if (ensure_client(w, p, timeout, &e) != WD_OK) {
        failed(w, WD_POLL_TRANSPORT, "client", &e);
        return false;
    }
    bool is_policy = w->loop == WD_LOOP_POLICY;
    const char *path = is_policy ? API "/policy/latest" : API "/remote-kill/latest";
    size_t cap = is_policy ? WD_MAX_BUNDLE_ENVELOPE : WD_MAX_KILL_ENVELOPE;

    char inm[320] = "", prefer[48] = "";
    pthread_mutex_lock(&a->state_mu);
    const char *etag = a->state ? wd_agent_state_etag(a->state, is_policy ? WD_ETAG_POLICY
                                                                           : WD_ETAG_KILL)
                                : "";
    if (etag != NULL && etag[0] != '\0')
        snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    pthread_mutex_unlock(&a->state_mu);
    const char *hdrs[3];
    size_t nh = 0;
    if (inm[0])
        hdrs[nh++] = inm;
    if (p->long_poll) {
        snprintf(prefer, sizeof prefer, "Prefer: wait=%d", p->interval);
        hdrs[nh++] = prefer;
    }
    hdrs[nh] = NULL;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wd_fleet_response r;
    wd_code rc = get(w, path, hdrs, cap, &r, &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc != WD_OK) {
        if (stopping(a))
            return true;
        /* A body past the cap is the rejection "oversized"; the rest is transport. */
        failed(w, rc == WD_E_OVERSIZED ? WD_POLL_REJECTED : WD_POLL_TRANSPORT, path, &e);
        return false;
    }
    bool ok = false;
    if (r.status == 304 || r.status == 204) {
        wd_agent_metrics_poll(&a->metrics, w->loop,
                              r.status == 304 ? WD_POLL_NOT_MODIFIED : WD_POLL_NO_CONTENT);
        wd_agent_log(&a->log, WD_AGENT_LOG_DEBUG, "poll", "loop", wd_agent_loop_name(w->loop),
                     "status", r.status == 304 ? "304" : "204", NULL);
        ok = true;
        /* A held poll that ran its course: ask again at once. One answered straight away
         * (a leader that does not hold) waits for the poll interval. */
        *again = p->long_poll && (r.headers[WD_FLEET_HDR_PREFERENCE_APPLIED] != NULL ||
                                  took >= p->interval / 2.0);
        /* In step with the leader again (after an outage, or a message since withdrawn): the
         * error this loop recorded is over. A message still served and still refused comes
         * back as a 200 and is recorded again. */
        if (w->recorded_error) {
            pthread_mutex_lock(&a->state_mu);
            wd_err ie;
            if (a->state != NULL && wd_agent_state_clear_error(a->state, &ie) == WD_OK) {
                w->recorded_error = false;
                local_status(a);
            }
            pthread_mutex_unlock(&a->state_mu);
            if (!w->recorded_error)
                poke_status(a);
        }
    } else if (r.status == 200) {
        unsigned char *auth = NULL;
        size_t auth_len = 0;
        const char *rid = is_policy ? r.headers[WD_FLEET_HDR_ROLLBACK_AUTHORIZATION] : NULL;
        rc = WD_OK;
        if (rid != NULL) {
            if (!wd_id_valid(rid)) {
                rc = wd_err_set(&e, WD_E_MALFORMED, "Warden-Rollback-Authorization: not an id");
            } else {
                char apath[256];
                snprintf(apath, sizeof apath, API "/rollback-authorizations/%s", rid);
                wd_fleet_response ar;
                rc = get(w, apath, NULL, WD_MAX_ROLLBACK_ENVELOPE, &ar, &e);
                if (rc == WD_OK && ar.status == 404) {
                    /* no such authorization: the older bundle is judged without one (stale) */
                    wd_fleet_response_free(&ar);
                } else if (rc == WD_OK && ar.status != 200) {
                    rc = wd_err_set(&e, WD_E_IO, "GET %s: the leader answered %ld", apath,
                                    ar.status);
                    wd_fleet_response_free(&ar);
                } else if (rc == WD_OK) {
                    auth = ar.body; /* taken over */
                    auth_len = ar.body_len;
                    ar.body = NULL;
                    wd_fleet_response_free(&ar);
                }
            }
        }
        wd_apply_result res = {0};
        if (rc == WD_OK)
            rc = apply_body(w, &r, auth, auth_len, &res, &e);
        free(auth);
        if (rc == WD_OK) {
            ok = true;
            wd_agent_metrics_poll(&a->metrics, w->loop,
                                  res.changed ? WD_POLL_APPLIED : WD_POLL_UNCHANGED);
            if (res.changed) {
                struct timespec t2;
                clock_gettime(CLOCK_MONOTONIC, &t2);
                char ms[32];
                snprintf(ms, sizeof ms, "%.1f", (double)(t2.tv_sec - t1.tv_sec) * 1e3 +
                                                    (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
                wd_agent_metrics_apply(&a->metrics, is_policy ? 0 : 1);
                wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "applied", "loop",
                             wd_agent_loop_name(w->loop), "transition",
                             is_policy ? bundle_step_name(res.step) : "counter-up", "detail",
                             res.note, "apply_ms", ms, NULL);
                *again = true;
                /* an apply parses, verifies and compiles up to a 1 MiB bundle, then frees
                 * most of it: hand the free pages back rather than hold them while idle */
                malloc_trim(0);
            } else {
                wd_agent_log(&a->log, WD_AGENT_LOG_DEBUG, "poll", "loop",
                             wd_agent_loop_name(w->loop), "status", "200", "detail",
                             res.note[0] ? res.note : "unchanged", NULL);
                /* a leader that serves the same message again: do not spin */
                *again = false;
            }
            pthread_mutex_lock(&a->state_mu);
            if (w->recorded_error && a->state != NULL) {
                wd_err ie;
                if (wd_agent_state_clear_error(a->state, &ie) == WD_OK)
                    w->recorded_error = false;
            }
            local_status(a);
            pthread_mutex_unlock(&a->state_mu);
            if (res.changed)
                record_apply(w, is_policy ? bundle_step_name(res.step) : "counter-up");
            if (res.changed)
                poke_status(a);
        } else if (wd_code_is_rejection(rc)) {
            failed(w, WD_POLL_REJECTED, path, &e);
        } else {
            failed(w, WD_POLL_TRANSPORT, path, &e);
        }
    } else {
        char code[64] = "", msg[256] = "";
        wd_fleet_error_body(&r, code, sizeof code, msg, sizeof msg);
        wd_err_set(&e, WD_E_IO, "GET %s: the leader answered %ld%s%s%s%s", path, r.status,
                   code[0] ? ": " : "", code, msg[0] ? ": " : "", msg);
        failed(w, WD_POLL_HTTP_ERROR, path, &e);
    }
    wd_fleet_response_free(&r);
    return ok;
}

static void *poller_main(void *arg)
{
    worker *w = arg;
    agent *a = w->a;
    while (!stopping(a)) {
        poll_plan p;
        if (!plan_take(a, &p)) {
            nap(a, 1, a->gen, NULL);
            continue;
        }
        if (!p.enabled) {
            unsigned g = p.gen;
            plan_free(&p);
            nap(a, 3600, g, NULL);
            continue;
        }
        bool again = false;
        bool ok = poll_once(w, &p, &again);
        if (ok) {
            w->failures = 0;
            wd_agent_metrics_backoff(&a->metrics, w->loop, 0);
            if (!again)
                nap(a, p.interval, p.gen, NULL);
        } else if (!stopping(a)) {
            w->failures++;
            long s = backoff_for(w, p.interval);
            wd_agent_metrics_backoff(&a->metrics, w->loop, s);
            char secs[32], n[32];
            snprintf(secs, sizeof secs, "%ld", s);
            snprintf(n, sizeof n, "%d", w->failures);
            wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "backoff", "loop",
                         wd_agent_loop_name(w->loop), "seconds", secs, "failures", n, NULL);
            nap(a, (double)s, p.gen, NULL);
        }
        plan_free(&p);
    }
    wd_fleet_close(w->fc);
    w->fc = NULL;
    return NULL;
}

/* ---- status reports ---- */

static void report_status(worker *w, const poll_plan *p)
{
    agent *a = w->a;
    wd_err e;
    pthread_mutex_lock(&a->state_mu);
    json_t *st = NULL;
    if (a->state != NULL) {
        wd_agent_status_extra x = status_extra(a);
        st = wd_agent_status_json(a->state, wd_now(), &x);
        local_status(a);
    }
    pthread_mutex_unlock(&a->state_mu);
    if (st == NULL || !p->enabled) {
        json_decref(st);
        return;
    }
    char *body = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    if (body == NULL)
        return;
    wd_fleet_response r = {0};
    wd_code rc = ensure_client(w, p, SLOW_PAD_S, &e);
    if (rc == WD_OK)
        rc = wd_fleet_request(w->fc, "POST", API "/status", body, strlen(body), NULL, STATUS_CAP,
                              &r, &e);
    free(body);
    if (rc == WD_OK && r.status != 204 && r.status != 200) {
        char code[64] = "", msg[256] = "";
        wd_fleet_error_body(&r, code, sizeof code, msg, sizeof msg);
        rc = wd_err_set(&e, WD_E_IO, "POST status: the leader answered %ld%s%s%s%s", r.status,
                        code[0] ? ": " : "", code, msg[0] ? ": " : "", msg);
    }
    wd_fleet_response_free(&r);
    if (stopping(a))
        return;
    wd_agent_metrics_status(&a->metrics, rc == WD_OK);
    if (rc == WD_OK) {
        wd_agent_log(&a->log, WD_AGENT_LOG_DEBUG, "status-sent", NULL);
    } else {
        wd_agent_metrics_operational(&a->metrics);
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "status-failed", "code", wd_code_name(e.code),
                     "detail", e.msg, NULL);
    }
}

static void *status_main(void *arg)
{
    worker *w = arg;
    agent *a = w->a;
    while (!stopping(a)) {
        pthread_mutex_lock(&a->mu);
        a->status_due = false;
        pthread_mutex_unlock(&a->mu);
        poll_plan p;
        if (plan_take(a, &p)) {
            report_status(w, &p);
            plan_free(&p);
        }
        /* every 60 s, or sooner when a change is to be reported */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WD_AGENT_STATUS_INTERVAL_S;
        pthread_mutex_lock(&a->mu);
        while (!stopping(a) && !a->status_due)
            if (pthread_cond_timedwait(&a->cond, &a->mu, &until) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&a->mu);
    }
    wd_fleet_close(w->fc);
    w->fc = NULL;
    return NULL;
}

/* ---- the audit shipper (SPEC §15.2) ---- */

/* What one round of the shipper needs from the configuration. */
typedef struct ship_plan {
    size_t max_records;
    uint64_t spool_max;
    int64_t flush_s;
    char *rec_dir;
} ship_plan;

static bool ship_plan_take(agent *a, ship_plan *sp)
{
    pthread_mutex_lock(&a->mu);
    sp->max_records = (size_t)a->cfg.audit.batch_max_records;
    sp->spool_max = a->cfg.audit.spool_max;
    sp->flush_s = a->cfg.audit.flush_interval_s;
    sp->rec_dir = a->cfg.recorder.dir ? strdup(a->cfg.recorder.dir) : NULL;
    pthread_mutex_unlock(&a->mu);
    return sp->rec_dir != NULL;
}

/* Move new recorder lines into the spool; past spool_max the oldest unsent records are dropped,
 * counted, and the gap is written to the recorder as an audit_gap entry of its own. */
static void ship_fill(worker *w, const ship_plan *sp)
{
    agent *a = w->a;
    wd_spool_fill_result res;
    wd_err e;
    wd_code rc = wd_spool_fill(a->spool, sp->rec_dir, sp->max_records, sp->spool_max, &res, &e);
    if (res.dropped_records > 0) {
        wd_agent_metrics_audit_dropped(&a->metrics, res.dropped_records);
        char f[24], l[24], n[24];
        snprintf(f, sizeof f, "%llu", (unsigned long long)res.dropped_first);
        snprintf(l, sizeof l, "%llu", (unsigned long long)res.dropped_last);
        snprintf(n, sizeof n, "%llu", (unsigned long long)res.dropped_records);
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "audit-dropped", "first_seq", f, "last_seq", l,
                     "records", n, "detail", "the spool passed audit.spool_max", NULL);
        json_t *g = json_pack("{s:I,s:I,s:I,s:s}", "dropped_first_seq",
                              (json_int_t)res.dropped_first, "dropped_last_seq",
                              (json_int_t)res.dropped_last, "dropped_records",
                              (json_int_t)res.dropped_records, "reason", "spool_max");
        wd_err ge;
        wd_code grc = g == NULL ? wd_err_set(&ge, WD_E_NOMEM, "out of memory")
                                : wd_recorder_append(a->rec, "audit_gap", g, &ge);
        json_decref(g);
        if (grc != WD_OK) {
            wd_agent_metrics_recorder_error(&a->metrics);
            wd_agent_log(&a->log, WD_AGENT_LOG_ERROR, "recorder-failed", "code",
                         wd_code_name(grc), "detail", ge.msg, NULL);
        }
    }
    if (rc != WD_OK) {
        wd_agent_metrics_operational(&a->metrics);
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "spool-failed", "code", wd_code_name(rc),
                     "detail", e.msg, NULL);
    } else if (res.batches > 0) {
        char b[24], r[24];
        snprintf(b, sizeof b, "%zu", res.batches);
        snprintf(r, sizeof r, "%zu", res.records);
        wd_agent_log(&a->log, WD_AGENT_LOG_DEBUG, "audit-spooled", "batches", b, "records", r,
                     NULL);
    }
    wd_agent_metrics_spool(&a->metrics, wd_spool_bytes(a->spool), wd_spool_batches(a->spool));
}

/* Send the spooled batches, oldest first, until the spool is empty (true) or a send fails
 * (false: back off). A batch is removed only on 200 or 202; one the leader refuses for good
 * (400, 409, 413) is moved aside (rejected-…) and logged, so it cannot block the rest. */
static bool ship_send(worker *w, const poll_plan *p)
{
    agent *a = w->a;
    while (!stopping(a)) {
        char name[96];
        unsigned char *body = NULL;
        size_t len = 0;
        wd_err e;
        wd_code rc = wd_spool_oldest(a->spool, name, sizeof name, &body, &len, &e);
        if (rc != WD_OK) {
            wd_agent_metrics_operational(&a->metrics);
            wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "spool-failed", "code", wd_code_name(rc),
                         "detail", e.msg, NULL);
            return false;
        }
        if (name[0] == '\0')
            return true;
        wd_fleet_response r = {0};
        rc = ensure_client(w, p, SLOW_PAD_S, &e);
        if (rc == WD_OK)
            rc = wd_fleet_request(w->fc, "POST", API "/audit/batches", body, len, NULL,
                                  STATUS_CAP, &r, &e);
        free(body);
        if (stopping(a)) {
            wd_fleet_response_free(&r);
            return true;
        }
        long st = rc == WD_OK ? r.status : 0;
        if (rc == WD_OK && st != 200 && st != 202) {
            char code[64] = "", msg[256] = "";
            wd_fleet_error_body(&r, code, sizeof code, msg, sizeof msg);
            rc = wd_err_set(&e, WD_E_IO, "POST audit/batches: the leader answered %ld%s%s%s%s",
                            st, code[0] ? ": " : "", code, msg[0] ? ": " : "", msg);
        }
        wd_fleet_response_free(&r);
        if (rc == WD_OK) {
            wd_agent_metrics_audit_batch(&a->metrics, 1);
            wd_err ae;
            if (wd_spool_ack(a->spool, name, &ae) != WD_OK) {
                wd_agent_metrics_operational(&a->metrics);
                wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "spool-failed", "code",
                             wd_code_name(ae.code), "detail", ae.msg, NULL);
                return false;
            }
            wd_agent_log(&a->log, WD_AGENT_LOG_DEBUG, "audit-sent", "batch", name, "status",
                         st == 202 ? "202" : "200", NULL);
            wd_agent_metrics_spool(&a->metrics, wd_spool_bytes(a->spool),
                                   wd_spool_batches(a->spool));
            continue;
        }
        wd_agent_metrics_audit_batch(&a->metrics, 0);
        wd_agent_metrics_operational(&a->metrics);
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "audit-failed", "batch", name, "code",
                     wd_code_name(e.code), "detail", e.msg, NULL);
        if (st == 400 || st == 409 || st == 413) {
            wd_err je;
            if (wd_spool_reject(a->spool, name, &je) != WD_OK)
                return false;
            wd_agent_log(&a->log, WD_AGENT_LOG_ERROR, "audit-rejected", "batch", name,
                         "action", "moved aside in the spool directory as rejected-<name>", NULL);
            continue;
        }
        return false;
    }
    return true;
}

static void *shipper_main(void *arg)
{
    worker *w = arg;
    agent *a = w->a;
    while (!stopping(a)) {
        poll_plan p;
        ship_plan sp = {0};
        if (!plan_take(a, &p)) {
            nap(a, 1, a->gen, NULL);
            continue;
        }
        if (!ship_plan_take(a, &sp) || !p.enabled) {
            unsigned g = p.gen;
            free(sp.rec_dir);
            plan_free(&p);
            nap(a, 3600, g, NULL); /* no leader to ship to: until a reload */
            continue;
        }
        int flush = (int)sp.flush_s;
        bool ok = true;
        if (a->spool == NULL) { /* state_dir/spool: opened here, once there is a leader */
            wd_err e;
            pthread_mutex_lock(&a->mu);
            char *sd = strdup(a->cfg.state_dir), *inst = strdup(a->cfg.instance_id);
            pthread_mutex_unlock(&a->mu);
            wd_code rc = sd && inst ? wd_spool_open(sd, inst, &a->spool, &e)
                                    : wd_err_set(&e, WD_E_NOMEM, "out of memory");
            free(sd);
            free(inst);
            if (rc != WD_OK) {
                ok = false;
                wd_agent_metrics_operational(&a->metrics);
                wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "spool-failed", "code",
                             wd_code_name(rc), "detail", e.msg, NULL);
            }
        }
        if (a->spool != NULL) {
            ship_fill(w, &sp);
            ok = ship_send(w, &p);
        }
        if (ok) {
            w->failures = 0;
            nap(a, (double)flush, p.gen, NULL);
        } else if (!stopping(a)) {
            w->failures++;
            long s = backoff_for(w, flush);
            char secs[32], n[32];
            snprintf(secs, sizeof secs, "%ld", s);
            snprintf(n, sizeof n, "%d", w->failures);
            wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "backoff", "loop", "audit", "seconds", secs,
                         "failures", n, NULL);
            nap(a, (double)s, p.gen, NULL);
        }
        free(sp.rec_dir);
        plan_free(&p);
    }
    wd_fleet_close(w->fc);
    w->fc = NULL;
    return NULL;
}

/* ---- metrics listener (main thread) ---- */

static void on_metrics(struct evhttp_request *req, void *arg)
{
    agent *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || uri == NULL ||
        strcmp(uri, "/metrics") != 0) {
        evhttp_send_error(req, 404, "Not Found");
        return;
    }
    size_t len = 0;
    char *text = wd_agent_metrics_render(&a->metrics, &len);
    if (text == NULL) {
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        free(text);
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }
    evbuffer_add(b, text, len);
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void metrics_close(agent *a)
{
    if (a->http != NULL)
        evhttp_free(a->http);
    a->http = NULL;
    free(a->metrics_bound);
    a->metrics_bound = NULL;
}

/* Listen on addr (ADDR:PORT). A failure (a port in use) is an operational error: logged,
 * counted, retried every minute; the agent keeps enforcing either way. */
static void metrics_open(agent *a, const char *addr)
{
    metrics_close(a);
    if (addr == NULL)
        return;
    char host[128];
    const char *colon = strrchr(addr, ':');
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host)
        return;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = '\0';
    }
    int port = atoi(colon + 1);
    a->http = evhttp_new(a->base);
    struct evhttp_bound_socket *bs = NULL;
    if (a->http != NULL) {
        evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET);
        evhttp_set_gencb(a->http, on_metrics, a);
        bs = evhttp_bind_socket_with_handle(a->http, h, (ev_uint16_t)port);
    }
    if (bs == NULL) {
        int err = errno;
        metrics_close(a);
        wd_agent_metrics_operational(&a->metrics);
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "metrics-listen-failed", "listen", addr,
                     "detail", err == EADDRINUSE ? "address already in use" : strerror(err),
                     NULL);
        struct timeval tv = {60, 0};
        if (a->retry_ev != NULL)
            event_add(a->retry_ev, &tv);
        return;
    }
    a->metrics_bound = strdup(addr);
    char shown[160];
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[64] = "?";
    int p = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            evutil_inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
            p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            evutil_inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
            p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    snprintf(shown, sizeof shown, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, p);
    wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "metrics-listen", "listen", shown, NULL);
}

static void on_metrics_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    agent *a = arg;
    pthread_mutex_lock(&a->mu);
    char *want = a->cfg.metrics_listen ? strdup(a->cfg.metrics_listen) : NULL;
    pthread_mutex_unlock(&a->mu);
    if (want != NULL && a->http == NULL)
        metrics_open(a, want);
    free(want);
}

/* ---- reload and signals (main thread) ---- */

static void reload(agent *a)
{
    wd_agent_settings n;
    wd_err e;
    if (wd_agent_settings_load(a->config_path, &n, &e) != WD_OK) {
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "reload-failed", "code", wd_code_name(e.code),
                     "detail", e.msg, NULL);
        return;
    }
    char which[512];
    if (wd_agent_settings_restart_only(&a->cfg, &n, which, sizeof which)) {
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "reload-restart-only", "detail", which,
                     "action", "kept the running values; restart the agent to change them",
                     NULL);
        if (wd_agent_settings_keep_restart_only(&n, &a->cfg, &e) != WD_OK) {
            wd_agent_settings_free(&n);
            wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "reload-failed", "code",
                         wd_code_name(e.code), "detail", e.msg, NULL);
            return;
        }
    }
    wd_agent_identity nid = a->id;
    if (n.conductor.enabled && wd_agent_settings_check_cert(&n, &nid, &e) != WD_OK) {
        wd_agent_settings_free(&n);
        wd_agent_log(&a->log, WD_AGENT_LOG_WARN, "reload-failed", "code", wd_code_name(e.code),
                     "detail", e.msg, NULL);
        return;
    }
    bool metrics_changed =
        strcmp(a->cfg.metrics_listen ? a->cfg.metrics_listen : "",
               n.metrics_listen ? n.metrics_listen : "") != 0;

    /* Swap under both locks: nobody reads the old strings once this returns. */
    pthread_mutex_lock(&a->state_mu);
    pthread_mutex_lock(&a->mu);
    bool conn = wd_agent_settings_conn_changed(&a->cfg, &n);
    wd_agent_settings old = a->cfg;
    a->cfg = n;
    a->id = nid;
    if (conn)
        a->conn_gen++;
    a->gen++;
    a->status_due = true;
    /* The state borrows the configuration's strings and the labels: open it again over the new
     * ones (it re-verifies what it holds; the directory's lock is released and taken again). */
    if (a->cfg.conductor.enabled) {
        wd_agent_state_free(a->state);
        a->state = NULL;
        wd_err se;
        if (state_config_from(a, &a->cfg, &se) != WD_OK ||
            wd_agent_state_open(&a->scfg, wd_now(), &a->state, &se) != WD_OK) {
            wd_agent_metrics_operational(&a->metrics);
            wd_agent_log(&a->log, WD_AGENT_LOG_ERROR, "state-reopen-failed", "code",
                         wd_code_name(se.code), "detail", se.msg, NULL);
        }
    }
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    local_status(a);
    pthread_mutex_unlock(&a->state_mu);
    wd_agent_settings_free(&old);

    wd_agent_log_configure(&a->log, a->cfg.log_level, a->cfg.log_format);
    if (metrics_changed) {
        if (a->retry_ev != NULL)
            event_del(a->retry_ev);
        metrics_open(a, a->cfg.metrics_listen);
    }
    char line[1024];
    wd_agent_settings_summary(&a->cfg, line, sizeof line);
    wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "reloaded", "detail", line, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    agent *a = arg;
    if (sig == SIGHUP) {
        wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "sighup", NULL);
        reload(a);
        return;
    }
    wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "stopping", "signal",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    event_base_loopbreak(a->base);
}

/* ---- the command ---- */

static const char usage_text[] =
    "usage: warden agent --config FILE\n"
    "       warden agent status [--state-dir DIR] [--json]\n"
    "       warden agent apply ...\n"
    "\n"
    "Run the follower: keep this host's policy current. The agent polls the leader over mutual\n"
    "TLS for the policy bundle and the remote kill that apply to this host, verifies each\n"
    "against the trust roster it pins by fingerprint, applies what verifies atomically to its\n"
    "state directory (which 'warden run' enforces), reports its status to the leader at start,\n"
    "after every change and every 60 s, and keeps enforcing what it holds whatever the leader\n"
    "or the network does. A failed poll changes nothing and is retried with a backoff\n"
    "(exponential with full jitter, from the poll interval to 5 minutes). With a\n"
    "flight_recorder block it records every change it applies in the flight recorder and ships\n"
    "the recorder's lines to the leader in batches, kept in STATE_DIR/spool until acknowledged.\n"
    "\n"
    "  --config FILE   the agent's YAML configuration (default /etc/warden/agent.yaml); unknown\n"
    "                  keys are errors naming their path\n"
    "  -h, --help      show this help\n"
    "\n"
    "Signals: SIGHUP reloads the file (an invalid file changes nothing; instance_id, state_dir\n"
    "and flight_recorder are kept until a restart, with a warning); SIGTERM or SIGINT stops.\n"
    "One log line per event on stderr (JSON or text).\n"
    "\n"
    "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 operational error (an unreadable file, the\n"
    "state directory), 2 usage error (a bad flag or configuration: an unknown key, a missing\n"
    "fingerprint, a leader URL other than https://HOST[:PORT], an instance_id that is not the\n"
    "certificate's).\n";

/* Tell `warden run --state-dir` where this host's flight recorder is: state_dir/recorder.json
 * holds the recorder's settings (paths and numbers, never key material), written durably. The
 * runner then appends to the same chain (SPEC §14.1, §15.1). On error the file is unchanged. */
static wd_code publish_recorder_settings(const char *state_dir, const wd_recorder_opts *ro,
                                         wd_err *e)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/recorder.json", state_dir) >= sizeof path)
        return wd_err_set(e, WD_E_USAGE, "state directory path too long");
    json_t *o = json_pack("{s:i,s:s,s:s?,s:I,s:I,s:b}", "schema_version", 1, "dir", ro->dir,
                          "signing_key", ro->signing_key_path,
                          "checkpoint_every", (json_int_t)ro->checkpoint_every,
                          "checkpoint_interval_s", (json_int_t)ro->checkpoint_interval_s,
                          "record_args", ro->record_args);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    wd_code c = wd_write_file(path, text, strlen(text), 0644, e);
    free(text);
    return c;
}

static int start_thread(agent *a, int i, void *(*fn)(void *))
{
    worker *w = &a->w[i];
    w->a = a;
    w->loop = i == 1 ? WD_LOOP_KILL : WD_LOOP_POLICY;
    unsigned seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)i;
    w->seed = seed;
    if (pthread_create(&w->th, NULL, fn, w) != 0)
        return -1;
    w->started = true;
    return 0;
}

int wd_agent_daemon_main(int argc, char **argv)
{
    const char *config = "/etc/warden/agent.yaml";
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case ':':
            fprintf(stderr, "warden: %s needs a value\n%s", argv[optind - 1], usage_text);
            return 2;
        default:
            fprintf(stderr, "warden: unknown option: %s\n%s", argv[optind - 1], usage_text);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "warden: unexpected argument: %.64s\n%s", argv[optind], usage_text);
        return 2;
    }

    agent *a = calloc(1, sizeof *a); /* its address is handed to the threads */
    if (a == NULL) {
        fprintf(stderr, "warden agent: out of memory\n");
        return 1;
    }
    a->config_path = config;
    /* Written once at stop and never read: it stays readable, so every request held on it
     * (a long poll) ends at once rather than waking every second to look at a flag. */
    if (pipe2(a->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "warden agent: cannot create a pipe: %s\n", strerror(errno));
        free(a);
        return 1;
    }
    wd_err e;
    wd_code rc = wd_agent_settings_load(config, &a->cfg, &e);
    if (rc != WD_OK) {
        fprintf(stderr, "warden agent: %s\n", e.msg);
        close(a->stop_pipe[0]);
        close(a->stop_pipe[1]);
        free(a);
        return wd_code_exit(rc);
    }
    if (a->cfg.conductor.enabled) {
        rc = wd_agent_settings_check_cert(&a->cfg, &a->id, &e);
        if (rc != WD_OK) {
            fprintf(stderr, "warden agent: %s: %s\n", config, e.msg);
            wd_agent_settings_free(&a->cfg);
            close(a->stop_pipe[0]);
            close(a->stop_pipe[1]);
            free(a);
            return wd_code_exit(rc);
        }
    }
    /* Memory while idle: the threads mostly wait on a held poll, so they share one malloc
     * arena beside the main one instead of one 64 MiB-reserved arena each (glibc's default),
     * whose partly used pages would otherwise stay resident per thread. Before any thread. */
    mallopt(M_ARENA_MAX, WD_AGENT_MALLOC_ARENAS);
    wd_agent_log_configure(&a->log, a->cfg.log_level, a->cfg.log_format);
    a->started_at = wd_now();
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cond, NULL);
    pthread_mutex_init(&a->state_mu, NULL);
    int exit_code = 0;

    if (a->cfg.conductor.enabled) {
        rc = state_config_from(a, &a->cfg, &e);
        if (rc == WD_OK)
            rc = wd_agent_state_open(&a->scfg, wd_now(), &a->state, &e);
        if (rc != WD_OK) {
            fprintf(stderr, "warden agent: state directory %s: %s\n", a->cfg.state_dir, e.msg);
            exit_code = wd_code_exit(rc);
            goto out;
        }
        const char *why = NULL;
        if (wd_agent_state_failure(a->state, &why) != WD_OK)
            wd_agent_log(&a->log, WD_AGENT_LOG_ERROR, "deny-all", "detail", why, NULL);
    }
    if (a->cfg.recorder.present) {
        wd_recorder_opts ro = {.dir = a->cfg.recorder.dir,
                               .signing_key_path = a->cfg.recorder.signing_key,
                               .checkpoint_every = (uint64_t)a->cfg.recorder.checkpoint_every,
                               .checkpoint_interval_s = a->cfg.recorder.checkpoint_interval_s,
                               .record_args = a->cfg.recorder.record_args};
        rc = wd_recorder_open(&ro, &a->rec, &e);
        if (rc == WD_OK)
            rc = publish_recorder_settings(a->cfg.state_dir, &ro, &e);
        if (rc != WD_OK) {
            fprintf(stderr, "warden agent: flight recorder: %s\n", e.msg);
            exit_code = wd_code_exit(rc);
            goto out;
        }
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "warden agent: cannot initialise libcurl\n");
        exit_code = 1;
        goto out;
    }
    evthread_use_pthreads();
    a->base = event_base_new();
    if (a->base == NULL) {
        fprintf(stderr, "warden agent: cannot create the event loop\n");
        exit_code = 1;
        goto out_curl;
    }

    char line[1024];
    wd_agent_settings_summary(&a->cfg, line, sizeof line);
    fprintf(stderr, "%s\n", line);
    pthread_mutex_lock(&a->state_mu);
    local_status(a);
    pthread_mutex_unlock(&a->state_mu);

    /* Workers never take the signals: block them, start the threads, let libevent have them. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    bool threads_ok = start_thread(a, 0, poller_main) == 0 &&
                      start_thread(a, 1, poller_main) == 0 &&
                      start_thread(a, 2, status_main) == 0 &&
                      (a->rec == NULL || start_thread(a, 3, shipper_main) == 0);
    sigdelset(&set, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    if (!threads_ok) {
        fprintf(stderr, "warden agent: cannot start its threads\n");
        exit_code = 1;
    } else {
        struct event *sig[3] = {
            evsignal_new(a->base, SIGHUP, on_signal, a),
            evsignal_new(a->base, SIGTERM, on_signal, a),
            evsignal_new(a->base, SIGINT, on_signal, a),
        };
        a->retry_ev = evtimer_new(a->base, on_metrics_retry, a);
        for (int i = 0; i < 3; i++)
            if (sig[i] != NULL)
                event_add(sig[i], NULL);
        metrics_open(a, a->cfg.metrics_listen);
        event_base_dispatch(a->base);
        for (int i = 0; i < 3; i++)
            if (sig[i] != NULL)
                event_free(sig[i]);
    }
    __atomic_store_n(&a->stop, 1, __ATOMIC_SEQ_CST);
    if (write(a->stop_pipe[1], "x", 1) != 1) {
        /* the flag alone still stops every request, within a second */
    }
    pthread_mutex_lock(&a->mu);
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    for (int i = 0; i < 4; i++)
        if (a->w[i].started)
            pthread_join(a->w[i].th, NULL);
    metrics_close(a);
    if (a->retry_ev != NULL)
        event_free(a->retry_ev);
    event_base_free(a->base);
    wd_agent_log(&a->log, WD_AGENT_LOG_INFO, "stopped", NULL);
out_curl:
    curl_global_cleanup();
out:
    wd_spool_close(a->spool);
    wd_recorder_close(a->rec);
    wd_agent_state_free(a->state);
    free_labels(a);
    wd_agent_settings_free(&a->cfg);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->state_mu);
    close(a->stop_pipe[0]);
    close(a->stop_pipe[1]);
    free(a);
    return exit_code;
}
