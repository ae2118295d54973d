/* run.c — `warden run` as the enforcement process (SPEC §8, §13.4, §14); see run.h.
 * One thread, one poll loop over: a signalfd (SIGINT, SIGTERM, SIGCHLD), an inotify watch on
 * the policy's directory (or the state directory) and the relay's pipes. It must never start
 * or restart the server without the gate's allow (asked in the parent and again in the child
 * right before exec), never keep a server running that the policy in force no longer allows,
 * never swap in a policy that did not load, and never print an environment value. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/base.h"
#include "proxy.h"
#include "recorder/recorder.h"
#include "relay.h"
#include "sandbox.h"
#include "stateview.h"
#include "warden/gate.h"
#include "warden/limits.h"
#include "warden/policy.h"

extern char **environ;

/* Seconds between re-reads of the state directory without any event (a bundle's expiry and
 * its stale grace are a matter of time, not of files); 1 s when inotify is not available. */
#define RECHECK_MS 30000
#define RECHECK_NO_INOTIFY_MS 1000
/* A policy file is re-read this long after the last change event (editors write in steps). */
#define RELOAD_DEBOUNCE_MS 100
/* After the server exited, its stdout is drained for at most this long (a grandchild may hold
 * the pipe open). */
#define DRAIN_MS 1000
/* What is still queued for the client when warden ends is written for at most this long. */
#define FINAL_FLUSH_MS 5000

typedef struct run_ctx {
    const wd_run_opts *o;
    const wd_runconfig *rc;
    size_t max;
    wd_spawn_fn spawn;

    /* the policy in force and its gate */
    wd_policy *policy;
    wd_gate_id gate;
    unsigned char *policy_bytes; /* --policy FILE: the bytes loaded (compared on change) */
    size_t policy_len;
    unsigned char *bad_bytes;    /* the last bytes that failed to load (reported once) */
    size_t bad_len;
    bool read_failed;            /* the last read of the file failed (reported once) */
    char bundle_hash[WD_DIGEST_STRLEN + 1]; /* --state-dir: the active bundle in force */
    char host_denial[WD_ERR_MSG_MAX + 128]; /* a kill, deny-all, no policy: "" when none */

    /* the server */
    pid_t pid;            /* running, not reaped; 0 when none */
    bool attached;        /* the relay still has its pipes */
    bool restarting;      /* the child's pre-exec check asks check_restart */
    int status;           /* the last wait status */
    unsigned restarts;
    char **envp, **env_owned;
    wd_proxy *proxy;
    wd_relay relay;

    /* why it ends */
    bool signalled;       /* SIGINT/SIGTERM passed on: no restart */
    bool fatal;           /* warden itself cannot go on: no restart */
    int last_signal;
    bool client_gone;     /* stdin EOF or stdout gone: no restart */
    bool policy_stopped;  /* exit 3 */
    bool stopping;        /* SIGTERM sent by warden */

    /* timers (monotonic ms; 0: not set) */
    double drain_until, restart_at, reload_at, recheck_at, kill_at;

    int sigfd, ifd;
    unsigned seed;        /* jitter (rand_r) */
    wd_recorder *rec;     /* the flight recorder; NULL: none configured */
    wd_sandbox *sb;       /* the server's sandbox (planned at each start); NULL: none */
} run_ctx;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

wd_code wd_restart_parse(const char *s, wd_restart_mode *mode, unsigned *max, wd_err *e)
{
    if (strcmp(s, "no") == 0) {
        *mode = WD_RESTART_NO;
        *max = 0;
        return WD_OK;
    }
    if (strcmp(s, "on-failure") == 0) {
        *mode = WD_RESTART_ON_FAILURE;
        *max = 0;
        return WD_OK;
    }
    static const char pre[] = "on-failure:";
    if (strncmp(s, pre, sizeof pre - 1) == 0) {
        const char *n = s + sizeof pre - 1;
        unsigned long v = 0;
        size_t i = 0;
        for (; n[i] >= '0' && n[i] <= '9' && i < 8; i++)
            v = v * 10 + (unsigned long)(n[i] - '0');
        if (i > 0 && n[i] == '\0' && n[0] != '0' && v >= 1 && v <= 1000000) {
            *mode = WD_RESTART_ON_FAILURE;
            *max = (unsigned)v;
            return WD_OK;
        }
        return wd_err_set(e, WD_E_USAGE, "--restart on-failure:N wants N from 1 to 1000000");
    }
    return wd_err_set(e, WD_E_USAGE, "--restart wants no, on-failure or on-failure:N");
}

/* ---- recording (SPEC §15): one entry per server_create, server_restart, server_stop ---- */

/* Record one entry of kind with fields (taken: always released here; NULL is out of memory).
 * WD_OK without a recorder. On error e says why: the caller denies what it was about to do. */
static wd_code record_event(run_ctx *x, const char *kind, json_t *fields, wd_err *e)
{
    wd_code c = WD_OK;
    if (x->rec != NULL)
        c = fields == NULL ? wd_err_set(e, WD_E_NOMEM, "out of memory")
                           : wd_recorder_append(x->rec, kind, fields, e);
    json_decref(fields);
    return c;
}

/* record_event for what has happened already (a stop): a failure is said on stderr. */
static void record_done(run_ctx *x, const char *kind, json_t *fields)
{
    wd_err e;
    wd_err_clear(&e);
    if (record_event(x, kind, fields, &e) != WD_OK)
        fprintf(stderr, "warden: flight recorder cannot write: %s\n", e.msg);
}

/* The proxy's record hook: its tool_call and tools_list entries go to the same chain. */
static wd_code proxy_record(void *ctx, const char *kind, json_t *fields, wd_err *e)
{
    run_ctx *x = ctx;
    return x->rec == NULL ? WD_OK : wd_recorder_append(x->rec, kind, fields, e);
}

/* Open the flight recorder: --recorder DIR [--recorder-key KEY], or under an agent the one its
 * state directory names (state_dir/recorder.json, written by the agent at start). No recorder
 * when neither is there. On error nothing is open and e says why. */
static wd_code open_recorder(run_ctx *x, wd_err *e)
{
    const wd_run_opts *o = x->o;
    wd_recorder_opts ro;
    memset(&ro, 0, sizeof ro);
    if (o->recorder_dir != NULL) {
        ro.dir = o->recorder_dir;
        ro.signing_key_path = o->recorder_key;
        return wd_recorder_open(&ro, &x->rec, e);
    }
    if (o->state_dir == NULL)
        return WD_OK;
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/recorder.json", o->state_dir) >= sizeof path)
        return wd_err_set(e, WD_E_USAGE, "state directory path too long");
    if (access(path, F_OK) != 0)
        return WD_OK; /* the agent runs without a flight recorder */
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code c = wd_read_file(path, WD_MAX_RECORDER_SETTINGS, &buf, &len, e);
    if (c != WD_OK)
        return c;
    json_error_t je;
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    json_int_t every = 0, interval = 0;
    int args = 0;
    const char *dir = NULL, *key = NULL;
    if (j == NULL || json_unpack(j, "{s:s,s?s,s?I,s?I,s?b}", "dir", &dir, "signing_key", &key,
                                 "checkpoint_every", &every, "checkpoint_interval_s", &interval,
                                 "record_args", &args) != 0 || every < 0 || interval < 0) {
        json_decref(j);
        return wd_err_set(e, WD_E_MALFORMED, "%s: not the agent's recorder settings", path);
    }
    ro.dir = dir;
    ro.signing_key_path = key;
    ro.checkpoint_every = (uint64_t)every;
    ro.checkpoint_interval_s = (int64_t)interval;
    ro.record_args = args != 0;
    c = wd_recorder_open(&ro, &x->rec, e);
    json_decref(j);
    return c;
}

static json_t *event_fields(const run_ctx *x, const char *decision, const char *reason)
{
    json_t *f = json_object();
    if (f == NULL)
        return NULL;
    json_object_set_new(f, "server", json_string(x->rc->name));
    json_object_set_new(f, "decision", json_string(decision));
    if (reason != NULL) {
        char clean[WD_ERR_MSG_MAX + 128];
        wd_clean_text(reason, clean, sizeof clean);
        json_object_set_new(f, "reason", json_string(clean));
    }
    return f;
}

/* ---- the state directory ---- */

/* Does the policy in force in the state directory dir allow rc now? When it does not, why
 * (one line: "remote kill active: <reason>", "server creation blocked by policy: ...", ...).
 * *code gets WD_E_DENIED, or WD_E_IO when the directory cannot be read at all. A deny-all
 * view is read a second time after a short pause, so that a read racing the agent's cleanup
 * of an old bundle directory does not stop a server the policy allows. Fails closed. */
static bool state_allows(const char *dir, const wd_runconfig *rc, char *why, size_t whysz,
                         wd_code *code)
{
    for (int attempt = 0;; attempt++) {
        wd_agent_view v;
        wd_err e;
        wd_err_clear(&e);
        *code = WD_E_DENIED;
        if (wd_agent_view_load(dir, wd_now(), &v, &e) != WD_OK) {
            *code = e.code == WD_E_USAGE ? WD_E_USAGE : WD_E_IO;
            snprintf(why, whysz, "state directory: %s", e.msg);
            return false;
        }
        bool ok = false;
        switch (v.state) {
        case WD_PSTATE_KILLED:
            snprintf(why, whysz, "remote kill active: %s", v.reason);
            break;
        case WD_PSTATE_DENY_ALL:
            snprintf(why, whysz, "server creation blocked: policy state deny-all: %s", v.reason);
            break;
        case WD_PSTATE_NONE:
            snprintf(why, whysz, "server creation blocked: no policy in force in the state "
                                 "directory (nothing applied yet)");
            break;
        case WD_PSTATE_ENFORCING:
        case WD_PSTATE_STALE: {
            wd_decision d;
            wd_policy_decide_server(v.policy, rc, &d);
            ok = d.verdict == WD_VERDICT_ALLOW;
            if (!ok)
                snprintf(why, whysz, "server creation blocked by policy: %s (rule %s)",
                         d.reason, d.rule);
            break;
        }
        }
        bool retry = !ok && v.state == WD_PSTATE_DENY_ALL && attempt == 0;
        wd_agent_view_clear(&v);
        if (!retry)
            return ok;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The proxy's host denial hook: a kill, deny-all or no policy seen in the state directory. */
static bool host_denial(void *ctx, char *msg, size_t cap)
{
    const run_ctx *x = ctx;
    if (x->host_denial[0] == '\0')
        return false;
    snprintf(msg, cap, "%s", x->host_denial);
    return true;
}

/* ---- the policy gate ---- */

/* Register p's gate in place of the current one (new first, then the old one goes: for an
 * instant both decide, never neither). Takes the reference p. On error nothing changes (p is
 * released) and e says why. */
static wd_code install_policy(run_ctx *x, wd_policy *p, wd_err *e)
{
    const wd_gate_ops *ops = NULL;
    void *gctx = NULL;
    wd_gate_id id = 0;
    wd_code c = wd_policy_gate_new(p, &ops, &gctx, e);
    if (c == WD_OK) {
        c = wd_gate_register(ops, gctx, &id, e);
        if (c != WD_OK)
            ops->destroy(gctx);
    }
    if (c != WD_OK) {
        wd_policy_unref(p);
        return c;
    }
    if (x->gate != 0)
        wd_gate_unregister(x->gate, NULL);
    x->gate = id;
    wd_policy_unref(x->policy);
    x->policy = p;
    return WD_OK;
}

/* ---- the server's environment ---- */

static void free_env(char **envp, char **owned)
{
    for (size_t i = 0; owned != NULL && owned[i] != NULL; i++) {
        memset(owned[i], 0, strlen(owned[i]));
        free(owned[i]);
    }
    free(owned);
    free(envp);
}

/* The environment CMD gets: every explicit env entry of rc, then inherited variables the
 * effective profile's env globs allow (explicit ones win). Entries made here are recorded in
 * *owned. NULL on OOM (nothing allocated). */
static char **child_env(const wd_runconfig *rc, const wd_profile *eff, char ***owned)
{
    size_t ne = 0;
    while (environ != NULL && environ[ne] != NULL)
        ne++;
    char **envp = calloc(ne + rc->n_env + 1, sizeof *envp);
    char **own = calloc(rc->n_env + 1, sizeof *own);
    if (envp == NULL || own == NULL) {
        free(envp);
        free(own);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < rc->n_env; i++) {
        size_t kl = strlen(rc->env[i].key), vl = strlen(rc->env[i].value);
        char *s = malloc(kl + vl + 2);
        if (s == NULL) {
            free_env(envp, own);
            return NULL;
        }
        memcpy(s, rc->env[i].key, kl);
        s[kl] = '=';
        memcpy(s + kl + 1, rc->env[i].value, vl + 1);
        own[i] = s;
        envp[k++] = s;
    }
    for (size_t i = 0; i < ne && eff != NULL; i++) {
        const char *eq = strchr(environ[i], '=');
        if (eq == NULL || eq == environ[i])
            continue;
        char name[256];
        size_t nl = (size_t)(eq - environ[i]);
        if (nl >= sizeof name)
            continue;
        memcpy(name, environ[i], nl);
        name[nl] = '\0';
        bool explicit_one = false;
        for (size_t j = 0; j < rc->n_env && !explicit_one; j++)
            explicit_one = strcmp(rc->env[j].key, name) == 0;
        if (!explicit_one && wd_profile_env_allowed(eff, name))
            envp[k++] = environ[i];
    }
    *owned = own;
    return envp;
}

/* ---- starting the server ---- */

/* In the child, right before exec: the gate once more (and the state directory). */
static int precheck(void *arg)
{
    const run_ctx *x = arg;
    wd_decision d;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = x->restarting ? wd_gate_check_restart(x->rc, &d, &e)
                              : wd_gate_check_create(x->rc, &d, &e);
    if (c != WD_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 3;
    }
    char why[WD_ERR_MSG_MAX + 128];
    wd_code sc;
    if (x->o->state_dir != NULL && !state_allows(x->o->state_dir, x->rc, why, sizeof why, &sc)) {
        fprintf(stderr, "%s%s\n", sc == WD_E_DENIED ? "" : "warden: ", why);
        return wd_code_exit(sc);
    }
    return 0;
}

/* Start the server (the gate has allowed it with decision d): pipes, a new proxy session,
 * the spawn, the relay attached. On error nothing runs and nothing is left open. */
static wd_code start_server(run_ctx *x, bool restart, const wd_decision *d, wd_err *e)
{
    const wd_profile *eff = NULL;
    if (x->rc->profile_name != NULL)
        eff = wd_policy_find_profile(x->policy, x->rc->profile_name);
    else if (d->profile[0] != '\0')
        eff = wd_policy_find_profile(x->policy, d->profile);
    free_env(x->envp, x->env_owned);
    x->env_owned = NULL;
    if ((x->envp = child_env(x->rc, eff, &x->env_owned)) == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");

    size_t argc = 0;
    while (x->o->argv[argc] != NULL)
        argc++;
    char **argv = calloc(argc + 1, sizeof *argv);
    if (argv == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    for (size_t i = 0; i < argc; i++)
        argv[i] = x->o->argv[i];
    argv[0] = x->rc->command[0];

    wd_proxy_hooks hooks = {.ctx = x, .host_denial = host_denial, .record = proxy_record};
    wd_proxy *p = NULL;
    wd_code c = wd_proxy_new(x->rc->name, x->max, &hooks, &p, e);
    if (c != WD_OK) {
        free(argv);
        return c;
    }
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        c = wd_err_set(e, WD_E_IO, "cannot make pipes: %s", strerror(errno));
        goto fail;
    }
    x->restarting = restart;
    pid_t pid = 0;
    if (x->spawn != NULL) {
        c = x->spawn(argv, x->envp, in[0], out[1], STDERR_FILENO, precheck, x, &pid, e);
    } else {
        /* planned anew at each start: a restart gets the profile of the policy now in force */
        wd_sandbox_free(x->sb);
        x->sb = NULL;
        c = wd_sandbox_new(eff, x->rc->command[0], &x->sb, e);
        if (c == WD_OK)
            c = wd_sandbox_spawn(x->sb, argv, x->envp, in[0], out[1], STDERR_FILENO, precheck, x,
                                 &pid, e);
    }
    if (c != WD_OK)
        goto fail;
    close(in[0]);
    close(out[1]);
    free(argv);
    x->pid = pid;
    x->attached = true;
    x->stopping = false;
    wd_proxy_free(x->proxy);
    x->proxy = p;
    wd_relay_attach(&x->relay, in[1], out[0], p);
    return WD_OK;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    wd_proxy_free(p);
    free(argv);
    return c;
}

/* ---- stopping ---- */

/* warden stops the server: SIGTERM now, SIGKILL after the grace. */
static void terminate(run_ctx *x)
{
    if (x->pid > 0 && !x->stopping) {
        kill(x->pid, SIGTERM);
        x->stopping = true;
        x->kill_at = now_ms() + WD_RUN_STOP_GRACE_S * 1000.0;
    }
}

/* The policy no longer allows the server: one line, stop it, exit 3 once it is gone. */
static void policy_stop(run_ctx *x, const char *why)
{
    if (x->policy_stopped)
        return;
    fprintf(stderr, "warden: policy_stopped: %s\n", why);
    x->policy_stopped = true;
    x->relay.client_paused = true; /* nothing more from the client reaches the server */
    record_done(x, "server_stop", event_fields(x, "deny", why));
    terminate(x);
}

/* ---- following the policy ---- */

/* Tell the client (when it asked) that the tool list may have changed. */
static void notify_changed(run_ctx *x)
{
    if (x->proxy == NULL || !x->attached)
        return;
    wd_proxy_out out;
    memset(&out, 0, sizeof out);
    wd_err e;
    wd_err_clear(&e);
    if (wd_proxy_policy_changed(x->proxy, &out, &e) == WD_OK && out.to_client != NULL)
        wd_relay_to_client(&x->relay, out.to_client, out.to_client_len, &e);
    wd_proxy_out_clear(&out);
}

/* Is the (running or to be restarted) server still allowed by the gate? */
static void recheck_server(run_ctx *x)
{
    if (!x->attached && x->pid == 0)
        return; /* between restarts: the restart's own check decides */
    wd_decision d;
    wd_err e;
    wd_err_clear(&e);
    if (wd_gate_check_create(x->rc, &d, &e) != WD_OK)
        policy_stop(x, e.msg);
}

/* --policy FILE changed (or may have): re-read it; the same bytes change nothing; bytes that
 * fail to load leave the old policy in force with one line on stderr. */
static void reload_file(run_ctx *x)
{
    const char *path = x->o->policy_path;
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_err e;
    wd_err_clear(&e);
    if (wd_read_file(path, WD_MAX_POLICY_BYTES, &buf, &len, &e) != WD_OK) {
        if (!x->read_failed)
            fprintf(stderr, "warden: policy not reloaded, the previous one stays in force: %s\n",
                    e.msg);
        x->read_failed = true;
        return;
    }
    x->read_failed = false;
    bool same = len == x->policy_len && memcmp(buf, x->policy_bytes, len) == 0;
    bool same_bad = x->bad_bytes != NULL && len == x->bad_len &&
                    memcmp(buf, x->bad_bytes, len) == 0;
    if (same || same_bad) {
        free(buf);
        return;
    }
    wd_policy *p = NULL;
    if (wd_policy_load_named(buf, len, path, &p, &e) != WD_OK ||
        install_policy(x, p, &e) != WD_OK) {
        fprintf(stderr, "warden: policy not reloaded, the previous one stays in force: %s\n",
                e.msg);
        free(x->bad_bytes);
        x->bad_bytes = buf;
        x->bad_len = len;
        return;
    }
    free(x->policy_bytes);
    x->policy_bytes = buf;
    x->policy_len = len;
    free(x->bad_bytes);
    x->bad_bytes = NULL;
    x->bad_len = 0;
    char shown[200];
    wd_clean_text(path, shown, sizeof shown);
    fprintf(stderr, "warden: policy reloaded from %s\n", shown);
    notify_changed(x);
    recheck_server(x);
}

/* --state-dir DIR changed (or time passed): a new active bundle is swapped in; a kill, a
 * deny-all or a policy that no longer allows the server stops it. */
static void reload_state(run_ctx *x)
{
    const char *dir = x->o->state_dir;
    wd_agent_view v;
    wd_err e;
    wd_err_clear(&e);
    if (wd_agent_view_load(dir, wd_now(), &v, &e) == WD_OK) {
        switch (v.state) {
        case WD_PSTATE_KILLED:
            snprintf(x->host_denial, sizeof x->host_denial, "remote kill active: %s", v.reason);
            break;
        case WD_PSTATE_DENY_ALL:
            snprintf(x->host_denial, sizeof x->host_denial, "policy state deny-all: %s",
                     v.reason);
            break;
        case WD_PSTATE_NONE:
            snprintf(x->host_denial, sizeof x->host_denial, "no policy in force");
            break;
        case WD_PSTATE_ENFORCING:
        case WD_PSTATE_STALE:
            x->host_denial[0] = '\0';
            if (v.policy != NULL && strcmp(v.bundle_hash, x->bundle_hash) != 0) {
                wd_err ie;
                wd_err_clear(&ie);
                if (install_policy(x, wd_policy_ref(v.policy), &ie) == WD_OK) {
                    snprintf(x->bundle_hash, sizeof x->bundle_hash, "%s", v.bundle_hash);
                    fprintf(stderr, "warden: policy in force: bundle version %lld\n",
                            (long long)v.bundle_version);
                    notify_changed(x);
                } else {
                    fprintf(stderr, "warden: policy not swapped: %s\n", ie.msg);
                }
            }
            break;
        }
        wd_agent_view_clear(&v);
    } else {
        snprintf(x->host_denial, sizeof x->host_denial, "state directory: %s", e.msg);
    }
    char why[WD_ERR_MSG_MAX + 128];
    wd_code sc;
    if ((x->attached || x->pid > 0) && !state_allows(dir, x->rc, why, sizeof why, &sc))
        policy_stop(x, why);
}

static void reload(run_ctx *x)
{
    if (x->o->state_dir != NULL)
        reload_state(x);
    else if (x->o->policy_path != NULL)
        reload_file(x);
}

/* ---- restarts ---- */

/* The delay before restart number n (0-based): 500 ms doubling up to 30 s, then a random
 * 50-100 % of it (jitter, so that servers that failed together do not restart together). */
static double backoff_ms(run_ctx *x, unsigned n)
{
    double d = WD_RUN_BACKOFF_FIRST_MS;
    for (unsigned i = 0; i < n && d < WD_RUN_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > WD_RUN_BACKOFF_MAX_MS)
        d = WD_RUN_BACKOFF_MAX_MS;
    double j = (double)rand_r(&x->seed) / (double)RAND_MAX;
    return d * (0.5 + 0.5 * j);
}

static int status_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 1;
}

/* The server is gone (reaped, stdout drained): answer what is pending, then decide. Returns
 * -1 to go on (a restart is scheduled) or warden's exit code. */
static int server_finished(run_ctx *x)
{
    wd_err e;
    wd_err_clear(&e);
    if (wd_relay_server_gone(&x->relay, &e) != WD_OK)
        fprintf(stderr, "warden: %s\n", e.msg);
    x->attached = false;
    x->kill_at = x->drain_until = 0;
    if (x->policy_stopped)
        return 3; /* recorded when the policy stopped it */
    int code = status_code(x->status);
    bool failed = code != 0;
    {
        json_t *f = event_fields(x, "exit", NULL);
        if (f != NULL)
            json_object_set_new(f, "status", json_integer(code));
        record_done(x, "server_stop", f);
    }
    if (x->signalled || x->fatal || x->client_gone || x->o->restart == WD_RESTART_NO || !failed ||
        (x->o->max_restarts > 0 && x->restarts >= x->o->max_restarts)) {
        if (failed && x->o->restart != WD_RESTART_NO && !x->signalled && !x->fatal &&
            !x->client_gone)
            fprintf(stderr, "warden: the server failed (status %d) after %u restart%s; giving up\n",
                    code, x->restarts, x->restarts == 1 ? "" : "s");
        return code;
    }
    double delay = backoff_ms(x, x->restarts);
    fprintf(stderr, "warden: the server failed (status %d); restart %u in %.1f s\n", code,
            x->restarts + 1, delay / 1000.0);
    x->restart_at = now_ms() + delay;
    return -1;
}

/* Time to restart: the gate (check_restart) and the state directory decide first. Returns -1
 * when the server runs again, else warden's exit code. */
static int do_restart(run_ctx *x)
{
    x->restart_at = 0;
    wd_decision d;
    wd_err e;
    wd_err_clear(&e);
    char why[WD_ERR_MSG_MAX + 128];
    wd_code sc;
    if (wd_gate_check_restart(x->rc, &d, &e) != WD_OK) {
        snprintf(why, sizeof why, "%s", e.msg);
    } else if (x->o->state_dir != NULL &&
               !state_allows(x->o->state_dir, x->rc, why, sizeof why, &sc)) {
        /* why is set */
    } else {
        if (d.audit_would_deny)
            fprintf(stderr, "warden: audit: server restart would be blocked by policy: %s "
                            "(rule %s)\n", d.reason, d.rule);
        json_t *f = event_fields(x, "allow", NULL);
        if (f != NULL)
            json_object_set_new(f, "restart", json_integer(x->restarts + 1));
        if (record_event(x, "server_restart", f, &e) != WD_OK) {
            /* a restart that cannot be recorded is not made */
            snprintf(why, sizeof why, "server restart blocked: flight recorder cannot write: %s",
                     e.msg);
        } else {
            x->restarts++;
            if (start_server(x, true, &d, &e) != WD_OK) {
                fprintf(stderr, "warden: cannot restart the server: %s\n", e.msg);
                return wd_code_exit(e.code);
            }
            return -1;
        }
    }
    fprintf(stderr, "warden: policy_stopped: %s\n", why);
    x->policy_stopped = true;
    record_done(x, "server_stop", event_fields(x, "deny", why));
    return 3;
}

/* ---- the loop ---- */

static void handle_signals(run_ctx *x)
{
    struct signalfd_siginfo si;
    while (read(x->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD)
            continue; /* reaped below */
        x->signalled = true;
        x->last_signal = sig;
        if (x->pid > 0)
            kill(x->pid, sig);
    }
    while (x->pid > 0) {
        int st = 0;
        pid_t w = waitpid(x->pid, &st, WNOHANG);
        if (w == x->pid) {
            x->status = st;
            x->pid = 0;
            x->drain_until = now_ms() + DRAIN_MS;
        } else if (w < 0 && errno == EINTR) {
            continue;
        }
        break;
    }
}

static void min_deadline(double *t, double at)
{
    if (at > 0 && (*t < 0 || at < *t))
        *t = at;
}

static int loop(run_ctx *x)
{
    bool watching = x->ifd >= 0;
    for (;;) {
        double now = now_ms();
        /* the client closed its side: the server's stdin is closed once what is queued for it
         * is written, and warden waits for the server to exit (a client that wants it gone
         * sooner signals warden, which passes the signal on) */
        if ((x->relay.cin_eof || x->relay.cout_dead) && !x->client_gone) {
            x->client_gone = true;
            if (x->relay.cin_partial)
                fprintf(stderr, "warden: the client closed its input in the middle of a "
                                "message; the part was dropped\n");
        }
        if (x->client_gone && x->attached && x->relay.sin >= 0 &&
            (wd_relay_pending_server(&x->relay) == 0 || x->relay.cout_dead))
            wd_relay_close_server_stdin(&x->relay); /* then wait for it, as long as it takes */
        if (x->client_gone && !x->attached && x->pid == 0)
            return x->last_signal ? 128 + x->last_signal : status_code(x->status);
        if (x->kill_at > 0 && now >= x->kill_at && x->pid > 0) {
            x->kill_at = 0;
            kill(x->pid, SIGKILL);
        }
        if (x->pid == 0 && x->attached &&
            (x->relay.sout_eof || (x->drain_until > 0 && now >= x->drain_until))) {
            int code = server_finished(x);
            if (code >= 0)
                return code;
        }
        if (!x->attached && x->pid == 0 && x->signalled)
            return 128 + x->last_signal;
        if (x->restart_at > 0 && now >= x->restart_at) {
            int code = do_restart(x);
            if (code >= 0)
                return code;
        }
        if (x->reload_at > 0 && now >= x->reload_at) {
            x->reload_at = 0;
            reload(x);
            if (x->policy_stopped && !x->attached && x->pid == 0)
                return 3; /* between restarts: nothing to stop */
            if (x->o->state_dir != NULL)
                x->recheck_at = now_ms() + (watching ? RECHECK_MS : RECHECK_NO_INOTIFY_MS);
        }
        if (x->recheck_at > 0 && now >= x->recheck_at)
            x->reload_at = now;

        struct pollfd pfds[2 + WD_RELAY_NFDS];
        size_t n = 0;
        pfds[n++] = (struct pollfd){x->sigfd, POLLIN, 0};
        if (x->ifd >= 0)
            pfds[n++] = (struct pollfd){x->ifd, POLLIN, 0};
        size_t base = n;
        n += wd_relay_pollfds(&x->relay, pfds + base);
        double t = -1;
        min_deadline(&t, x->kill_at);
        min_deadline(&t, x->pid == 0 ? x->drain_until : 0);
        min_deadline(&t, x->restart_at);
        min_deadline(&t, x->reload_at);
        min_deadline(&t, x->recheck_at);
        int timeout = -1;
        if (t >= 0) {
            double left = t - now_ms();
            timeout = left <= 0 ? 0 : left > INT_MAX - 1 ? INT_MAX - 1 : (int)left + 1;
        }
        int pr = poll(pfds, n, timeout);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "warden: poll: %s\n", strerror(errno));
            terminate(x);
            return 1;
        }
        if (pfds[0].revents & POLLIN)
            handle_signals(x);
        if (x->ifd >= 0 && (pfds[1].revents & POLLIN)) {
            char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
            while (read(x->ifd, evbuf, sizeof evbuf) > 0)
                ;
            /* the first event of a burst sets the time; later ones do not push it back (a
             * busy directory must not postpone a reload for ever) */
            if (x->reload_at == 0)
                x->reload_at = now_ms() + RELOAD_DEBOUNCE_MS;
        }
        wd_err e;
        wd_err_clear(&e);
        if (wd_relay_io(&x->relay, pfds + base, n - base, &e) != WD_OK) {
            fprintf(stderr, "warden: %s\n", e.msg);
            terminate(x);
            x->fatal = true;
        }
    }
}

/* Watch the directory holding the policy file (editors replace files by rename), or the
 * state directory. -1 when inotify is not available (the caller re-reads on a timer). */
static int watch(const run_ctx *x)
{
    const char *target = x->o->state_dir;
    char dir[PATH_MAX];
    if (target == NULL) {
        const char *p = x->o->policy_path;
        const char *slash = strrchr(p, '/');
        if (slash == NULL)
            snprintf(dir, sizeof dir, ".");
        else if (slash == p)
            snprintf(dir, sizeof dir, "/");
        else
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - p), p);
        target = dir;
    }
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd >= 0 && inotify_add_watch(fd, target,
                                     IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_CREATE |
                                         IN_DELETE | IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF |
                                         IN_MOVE_SELF) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

wd_code wd_runner_run(const wd_run_opts *o, int *exit_status, wd_err *e)
{
    run_ctx *x = calloc(1, sizeof *x);
    if (x == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    x->o = o;
    x->rc = o->rc;
    x->max = o->max_message ? o->max_message : WD_MAX_MCP_MESSAGE;
    x->sigfd = x->ifd = -1;
    x->seed = (unsigned)getpid() ^ (unsigned)now_ms();
    wd_relay_init(&x->relay, STDIN_FILENO, STDOUT_FILENO, x->max);
    wd_code c = WD_OK;
    bool sigs_set = false;
    sigset_t block, prev;
    struct sigaction ign, old_pipe, old_chld;

    /* the policy in force */
    wd_policy *p = NULL;
    x->spawn = o->spawn ? o->spawn : o->no_sandbox ? wd_spawn_plain : NULL;
    if ((c = open_recorder(x, e)) != WD_OK)
        goto out;
    if (o->state_dir != NULL) {
        /* a kill or a deny-all state is decided below; here only a policy to register */
        wd_agent_view v;
        c = wd_agent_view_load(o->state_dir, wd_now(), &v, e);
        if (c != WD_OK)
            goto out;
        if (v.state == WD_PSTATE_STALE)
            fprintf(stderr, "warden: the policy in force (bundle version %lld) is stale: it "
                            "expired and is within its grace or kept as last known good\n",
                    (long long)v.bundle_version);
        if (v.policy != NULL) {
            p = wd_policy_ref(v.policy);
            snprintf(x->bundle_hash, sizeof x->bundle_hash, "%s", v.bundle_hash);
        }
        wd_agent_view_clear(&v);
        char why[WD_ERR_MSG_MAX + 128];
        wd_code sc;
        if (!state_allows(o->state_dir, x->rc, why, sizeof why, &sc)) {
            c = wd_err_set(e, sc, "%s", why);
            wd_policy_unref(p);
            goto out;
        }
        if (p == NULL) { /* allowed, yet no policy: cannot happen; fail closed */
            c = wd_err_set(e, WD_E_DENIED, "server creation blocked: no policy in force");
            goto out;
        }
    } else if (o->policy_path != NULL) {
        c = wd_read_file(o->policy_path, WD_MAX_POLICY_BYTES, &x->policy_bytes, &x->policy_len, e);
        if (c == WD_OK)
            c = wd_policy_load_named(x->policy_bytes, x->policy_len, o->policy_path, &p, e);
        if (c != WD_OK)
            goto out;
    } else if ((c = wd_policy_load_default(&p, e)) != WD_OK) {
        goto out;
    }
    if ((c = install_policy(x, p, e)) != WD_OK)
        goto out;

    /* the gate decides before anything is started */
    wd_decision d;
    if ((c = wd_gate_check_create(x->rc, &d, e)) != WD_OK)
        goto out;
    if (d.audit_would_deny)
        fprintf(stderr, "warden: audit: server creation would be blocked by policy: %s (rule %s)\n",
                d.reason, d.rule);

    /* signals arrive through the loop; a closed pipe is an EPIPE, not a death */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &prev);
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old_pipe);
    /* an inherited SIG_IGN for SIGCHLD would reap the server behind warden's back */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &old_chld);
    sigs_set = true;
    x->sigfd = signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
    if (x->sigfd < 0) {
        c = wd_err_set(e, WD_E_IO, "signalfd: %s", strerror(errno));
        goto out;
    }
    if (o->state_dir != NULL || o->policy_path != NULL) {
        x->ifd = watch(x);
        /* a change between the first read and the watch is caught by a first re-read */
        x->reload_at = now_ms();
    }
    {
        /* the decision is recorded before the server starts; one that cannot be recorded
         * is a denial */
        json_t *f = event_fields(x, "allow", NULL);
        if (f != NULL && d.rule[0] != '\0')
            json_object_set_new(f, "rule", json_string(d.rule));
        if (f != NULL)
            json_object_set_new(f, "sandbox", json_boolean(x->spawn == NULL));
        wd_err re;
        wd_err_clear(&re);
        if (record_event(x, "server_create", f, &re) != WD_OK) {
            c = wd_err_set(e, WD_E_DENIED, "server creation blocked: flight recorder cannot "
                                           "write: %s", re.msg);
            goto out;
        }
    }
    if (o->no_sandbox && o->spawn == NULL)
        fprintf(stderr, "warden: --no-sandbox: the server runs without the sandbox its "
                        "permission profile asks for\n");
    if ((c = start_server(x, false, &d, e)) != WD_OK)
        goto out;
    *exit_status = loop(x);
    wd_relay_flush_client(&x->relay, FINAL_FLUSH_MS);
    if (x->pid > 0) {
        /* warden is ending with the server still there (it cannot go on): no orphan */
        kill(x->pid, SIGKILL);
        while (waitpid(x->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    c = WD_OK;
out:
    wd_relay_close(&x->relay);
    wd_proxy_free(x->proxy);
    if (x->ifd >= 0)
        close(x->ifd);
    if (sigs_set) {
        /* a signal that arrived after the loop is consumed here, not delivered on unblock */
        if (x->sigfd >= 0) {
            struct signalfd_siginfo si;
            while (read(x->sigfd, &si, sizeof si) > 0)
                ;
        }
        sigaction(SIGPIPE, &old_pipe, NULL);
        sigaction(SIGCHLD, &old_chld, NULL);
        sigprocmask(SIG_SETMASK, &prev, NULL);
    }
    if (x->sigfd >= 0)
        close(x->sigfd);
    if (x->gate != 0)
        wd_gate_unregister(x->gate, NULL);
    wd_policy_unref(x->policy);
    free_env(x->envp, x->env_owned);
    free(x->policy_bytes);
    free(x->bad_bytes);
    wd_sandbox_free(x->sb);
    if (x->rec != NULL && wd_recorder_keyid(x->rec) != NULL) {
        /* seal what this run appended with a signed checkpoint (a no-op when the last line
         * is one already) */
        wd_err ce;
        wd_err_clear(&ce);
        if (wd_recorder_checkpoint(x->rec, &ce) != WD_OK)
            fprintf(stderr, "warden: flight recorder: no closing checkpoint: %s\n", ce.msg);
    }
    wd_recorder_close(x->rec);
    free(x);
    return c;
}
