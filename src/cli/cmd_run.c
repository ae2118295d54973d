/* cmd_run.c — `warden run [flags] -- CMD ARGS...` (SPEC §8, §9, §13.4): build the RunConfig
 * from the flags, ask the gate before anything is started, and only then run CMD with its
 * standard streams passed through and only the environment its permission profile allows; the
 * gate is asked again in the child right before exec. With a state directory (--state-dir, or
 * /var/lib/warden when it holds `active`) the policy and the remote kill come from there, and
 * warden stays the parent: it watches the directory (inotify) and stops a server the policy in
 * force no longer allows (status policy_stopped, exit 3). It must never start CMD after a
 * denial, never write to stdout (that is the server's protocol stream), and never print an
 * environment value. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "base/base.h"
#include "state.h"
#include "policy/runconfig_json.h"
#include "warden/gate.h"
#include "warden/policy.h"

extern char **environ;

/* Most --env and --label flags. */
#define MAX_MULTI 1024
/* The state directory used without --policy or --state-dir when it holds `active`. */
#define DEFAULT_STATE_DIR "/var/lib/warden"
/* Seconds between SIGTERM and SIGKILL when the policy stops a server. */
#define STOP_GRACE_S 10
/* Seconds between re-reads of the state directory without any event (a bundle's expiry and
 * its stale grace are a matter of time, not of files). */
#define RECHECK_S 30

static const char usage_run[] =
    "usage: warden run [--policy FILE] [--state-dir DIR] [--name NAME] [--profile PROFILE]\n"
    "                  [--env K=V...] [--label K=V...] -- CMD [ARGS...]\n"
    "\n"
    "Start the MCP server CMD (stdio transport) only if the gate allows it. The RunConfig the\n"
    "gate sees is built from the flags: name NAME (default: the base name of CMD), group\n"
    "default, transport stdio, command CMD ARGS (CMD resolved through PATH to an absolute path\n"
    "when it has no '/'), permission_profile PROFILE, env from --env, labels from --label.\n"
    "\n"
    "Denied: prints 'server creation blocked by policy: <reason> (rule <name>)' on stderr and\n"
    "exits 3; nothing is started. Allowed: CMD runs with stdin, stdout and stderr passed\n"
    "through and an environment holding only\n"
    "  - the --env variables (the gate checked their names against the allowing rule's\n"
    "    limits profile), and\n"
    "  - the inherited variables whose names match the env globs of the effective profile:\n"
    "    PROFILE when given, else the allowing rule's limits profile, else none at all.\n"
    "The gate is asked again in the child right before exec. SIGINT and SIGTERM are passed on\n"
    "to CMD. warden exits with CMD's exit status, or 128+N when CMD was killed by signal N\n"
    "(127 when CMD cannot be found, 126 when it cannot be executed).\n"
    "\n"
    "With a state directory (--state-dir, or /var/lib/warden when it holds 'active'), the\n"
    "policy in force is the one the agent applied there. While a remote kill is active every\n"
    "creation is denied: 'remote kill active: <reason>'; a state that failed to verify, a\n"
    "policy past its stale grace (deny-all) or no policy at all deny too; a stale policy within\n"
    "its grace still decides. warden then stays the parent and follows the directory: when the\n"
    "policy in force no longer allows the server (or a kill becomes active), it prints\n"
    "'warden: policy_stopped: <reason>', stops CMD (SIGTERM, then SIGKILL after 10 s) and\n"
    "exits 3.\n"
    "\n"
    "  --policy FILE      policy document (YAML); default: the policy built into warden\n"
    "                     (see docs/POLICY.md, or 'warden policy check --default')\n"
    "  --state-dir DIR    take the policy and the remote kill from the agent's state directory\n"
    "                     DIR and follow its changes (not with --policy)\n"
    "  --name NAME        server name, an id (default: base name of CMD)\n"
    "  --profile PROFILE  permission profile to request, by name from the policy\n"
    "  --env K=V          give CMD the variable K (repeatable)\n"
    "  --label K=V        label the server (repeatable; at most 64)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit codes: CMD's status when it ran; otherwise 1 operational error, 2 usage error,\n"
    "3 denied or rejected.\n";

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
    pid_t p = (pid_t)child_pid;
    if (p > 0)
        kill(p, sig);
}

/* CMD through PATH (entries that are empty are skipped: no implicit current directory).
 * Returns a malloc'd path, CMD itself when it has a '/' or is not found; NULL on OOM. */
static char *resolve(const char *cmd)
{
    if (strchr(cmd, '/') != NULL)
        return strdup(cmd);
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    size_t cl = strlen(cmd);
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t dl = end ? (size_t)(end - path) : strlen(path);
        if (dl > 0) {
            char *cand = malloc(dl + 1 + cl + 1);
            if (cand == NULL)
                return NULL;
            memcpy(cand, path, dl);
            cand[dl] = '/';
            memcpy(cand + dl + 1, cmd, cl + 1);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                return cand;
            free(cand);
        }
        if (end == NULL)
            break;
        path = end + 1;
    }
    return strdup(cmd);
}

/* K=V flags into a JSON object; duplicates are a usage error. */
static int kv_object(char *const *v, size_t n, const char *flag, json_t *obj)
{
    for (size_t i = 0; i < n; i++) {
        char *buf = NULL;
        const char *k, *val;
        if (!cli_split_kv(v[i], &buf, &k, &val)) {
            free(buf);
            return cli_usage_error(usage_run, "%s wants K=V", flag);
        }
        if (json_object_get(obj, k) != NULL) {
            char shown[80];
            snprintf(shown, sizeof shown, "%.64s", k);
            free(buf);
            return cli_usage_error(usage_run, "%s %s given twice", flag, shown);
        }
        int bad = json_object_set_new(obj, k, json_string(val));
        free(buf);
        if (bad != 0) {
            fprintf(stderr, "warden: %s: not valid UTF-8 or out of memory\n", flag);
            return 2;
        }
    }
    return -1;
}

static json_t *build_config(const char *name, const char *profile, const char *resolved,
                            char **args, int nargs, json_t *env, json_t *labels)
{
    json_t *o = json_object(), *cmd = json_array();
    if (o == NULL || cmd == NULL) {
        json_decref(o);
        json_decref(cmd);
        return NULL;
    }
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "group", json_string("default"));
    json_object_set_new(o, "transport", json_string("stdio"));
    json_array_append_new(cmd, json_string(resolved));
    for (int i = 1; i < nargs; i++)
        json_array_append_new(cmd, json_string(args[i]));
    json_object_set_new(o, "command", cmd);
    if (profile != NULL)
        json_object_set_new(o, "permission_profile", json_string(profile));
    json_object_set(o, "env", env);
    json_object_set(o, "labels", labels);
    /* a NULL from json_string (bad UTF-8) leaves a field out, and the decode then says so */
    return o;
}

/* The environment CMD gets: every explicit --env, then inherited variables the effective
 * profile's env globs allow (explicit ones win). Entries made here are recorded in owned. */
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
            for (size_t j = 0; j < i; j++)
                free(own[j]);
            free(own);
            free(envp);
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

static void free_env(char **envp, char **owned)
{
    for (size_t i = 0; owned != NULL && owned[i] != NULL; i++) {
        memset(owned[i], 0, strlen(owned[i]));
        free(owned[i]);
    }
    free(owned);
    free(envp);
}

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

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Stop the server: SIGTERM, STOP_GRACE_S seconds, then SIGKILL. Returns once it is reaped. */
static void stop_server(pid_t pid)
{
    kill(pid, SIGTERM);
    double until = mono_now() + STOP_GRACE_S;
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            return;
        if (mono_now() >= until)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* The parent while CMD runs under a state directory: wait for CMD, and on every change of the
 * directory (inotify; or every RECHECK_S seconds, and every second when inotify is not
 * available) ask whether the policy in force still allows it. Returns the process exit code:
 * CMD's, or 3 after stopping it (policy_stopped). */
static int supervise(pid_t pid, int ifd, const char *dir, const wd_runconfig *rc)
{
    double last = mono_now();
    bool first = true; /* a change between the first check and the watch is caught here */
    for (;;) {
        int status = 0;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
            return 1;
        }
        if (w < 0 && errno != EINTR) {
            fprintf(stderr, "warden: waiting for the server failed: %s\n", strerror(errno));
            return 1;
        }
        bool recheck = first;
        first = false;
        struct pollfd pfd = {ifd, POLLIN, 0};
        int pr = poll(&pfd, ifd >= 0 ? 1 : 0, ifd >= 0 ? 200 : 1000);
        if (pr > 0 && (pfd.revents & POLLIN)) {
            char evbuf[4096];
            while (read(ifd, evbuf, sizeof evbuf) > 0)
                ;
            recheck = true;
        }
        double now = mono_now();
        if (ifd < 0 || now - last >= RECHECK_S)
            recheck = true;
        if (!recheck)
            continue;
        last = now;
        char why[WD_ERR_MSG_MAX + 128];
        wd_code c;
        if (!state_allows(dir, rc, why, sizeof why, &c)) {
            fprintf(stderr, "warden: policy_stopped: %s\n", why);
            stop_server(pid);
            return 3;
        }
    }
}

static int run_child(const wd_runconfig *rc, char **args, char **envp, const char *state_dir)
{
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigset_t block, prev;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &prev);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int ifd = -1;
    if (state_dir != NULL) {
        ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ifd >= 0 &&
            inotify_add_watch(ifd, state_dir,
                              IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_CREATE |
                                  IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
            close(ifd);
            ifd = -1;
        }
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        if (ifd >= 0)
            close(ifd);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigprocmask(SIG_SETMASK, &prev, NULL);
        fprintf(stderr, "warden: cannot fork: %s\n", strerror(err));
        return 1;
    }
    if (pid == 0) {
        /* the child: default signal handling, then the gate once more, then exec */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &prev, NULL);
        wd_decision d;
        wd_err e;
        wd_err_clear(&e);
        if (wd_gate_check_create(rc, &d, &e) != WD_OK) {
            fprintf(stderr, "%s\n", e.msg);
            _exit(3);
        }
        char why[WD_ERR_MSG_MAX + 128];
        wd_code sc;
        if (state_dir != NULL && !state_allows(state_dir, rc, why, sizeof why, &sc)) {
            fprintf(stderr, "%s%s\n", sc == WD_E_DENIED ? "" : "warden: ", why);
            _exit(wd_code_exit(sc));
        }
        execve(rc->command[0], args, envp);
        int err = errno;
        char shown[200];
        snprintf(shown, sizeof shown, "%.180s", rc->command[0]);
        fprintf(stderr, "warden: cannot run %s: %s\n", shown, strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }
    child_pid = pid;
    sigprocmask(SIG_SETMASK, &prev, NULL);
    if (state_dir != NULL) {
        int rcode = supervise(pid, ifd, state_dir, rc);
        if (ifd >= 0)
            close(ifd);
        child_pid = 0;
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        return rcode;
    }
    int status = 0;
    pid_t w;
    do {
        w = waitpid(pid, &status, 0);
    } while (w < 0 && errno == EINTR);
    child_pid = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (w < 0) {
        fprintf(stderr, "warden: waiting for the server failed: %s\n", strerror(errno));
        return 1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

static int do_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"state-dir", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},
        {"profile", required_argument, NULL, 'P'},
        {"env", required_argument, NULL, 'e'},
        {"label", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *policy_path = NULL, *state_dir = NULL, *name = NULL, *profile = NULL;
    static char *envs[MAX_MULTI], *labels[MAX_MULTI];
    size_t n_envs = 0, n_labels = 0;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': return cli_help(usage_run);
        case 'p': policy_path = optarg; break;
        case 's': state_dir = optarg; break;
        case 'n': name = optarg; break;
        case 'P': profile = optarg; break;
        case 'e':
            if (n_envs == MAX_MULTI)
                return cli_usage_error(usage_run, "more than %d --env flags", MAX_MULTI);
            envs[n_envs++] = optarg;
            break;
        case 'l':
            if (n_labels == MAX_MULTI)
                return cli_usage_error(usage_run, "more than %d --label flags", MAX_MULTI);
            labels[n_labels++] = optarg;
            break;
        default:
            return cli_usage_error(usage_run, "unknown option or missing value: %s",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(usage_run, "a command is required: warden run [flags] -- CMD");
    if (policy_path != NULL && state_dir != NULL)
        return cli_usage_error(usage_run, "give --policy or --state-dir, not both");
    struct stat dst;
    if (policy_path == NULL && state_dir == NULL &&
        lstat(DEFAULT_STATE_DIR "/active", &dst) == 0)
        state_dir = DEFAULT_STATE_DIR;
    char **args = argv + optind;
    int nargs = argc - optind;
    if (args[0][0] == '\0')
        return cli_usage_error(usage_run, "CMD is empty");

    json_t *env = json_object(), *lab = json_object();
    if (env == NULL || lab == NULL) {
        json_decref(env);
        json_decref(lab);
        fprintf(stderr, "warden: out of memory\n");
        return 1;
    }
    int st = kv_object(envs, n_envs, "--env", env);
    if (st < 0)
        st = kv_object(labels, n_labels, "--label", lab);
    if (st >= 0) {
        json_decref(env);
        json_decref(lab);
        return st;
    }

    wd_err e;
    wd_err_clear(&e);
    wd_policy *p = NULL;
    wd_code r = WD_OK;
    if (state_dir != NULL) {
        /* the policy in force: a kill or a deny-all state is decided below, once the RunConfig
         * is built; here only a policy to register (none when nothing may run) */
        wd_agent_view v;
        r = wd_agent_view_load(state_dir, wd_now(), &v, &e);
        if (r == WD_OK) {
            if (v.state == WD_PSTATE_STALE)
                fprintf(stderr, "warden: the policy in force (bundle version %lld) is stale: "
                                "it expired and is within its grace or kept as last known "
                                "good\n", (long long)v.bundle_version);
            p = v.policy ? wd_policy_ref(v.policy) : NULL;
            wd_agent_view_clear(&v);
        }
    } else {
        r = cli_load_policy(policy_path, &p, &e);
    }
    if (r != WD_OK) {
        json_decref(env);
        json_decref(lab);
        return cli_report(&e);
    }
    const char *base = strrchr(args[0], '/') ? strrchr(args[0], '/') + 1 : args[0];
    char *resolved = resolve(args[0]);
    json_t *cfg = resolved ? build_config(name ? name : base, profile, resolved, args, nargs, env, lab)
                           : NULL;
    json_decref(env);
    json_decref(lab);
    wd_runconfig *rc = NULL;
    int status = 1;
    wd_gate_id id = 0;
    char **envp = NULL, **owned = NULL;
    const wd_profile *eff = NULL;
    wd_decision d;
    if (cfg == NULL) {
        fprintf(stderr, "warden: out of memory\n");
        goto out;
    }
    if (wd_runconfig_from_json(cfg, &rc, &e) != WD_OK) {
        status = cli_report(&e);
        goto out;
    }
    if (state_dir != NULL) {
        char why[WD_ERR_MSG_MAX + 128];
        wd_code sc;
        if (!state_allows(state_dir, rc, why, sizeof why, &sc)) {
            wd_err_set(&e, sc, "%s", why);
            status = cli_report(&e);
            goto out;
        }
        if (p == NULL) { /* allowed, yet no policy: cannot happen; fail closed */
            wd_err_set(&e, WD_E_DENIED, "server creation blocked: no policy in force");
            status = cli_report(&e);
            goto out;
        }
    }
    if (cli_register_policy_gate(p, &id, &e) != WD_OK) {
        status = cli_report(&e);
        goto out;
    }
    if (wd_gate_check_create(rc, &d, &e) != WD_OK) {
        status = cli_report(&e);
        goto out;
    }
    if (d.audit_would_deny)
        fprintf(stderr, "warden: audit: server creation would be blocked by policy: %s (rule %s)\n",
                d.reason, d.rule);
    if (rc->profile_name != NULL)
        eff = wd_policy_find_profile(p, rc->profile_name);
    else if (d.profile[0] != '\0')
        eff = wd_policy_find_profile(p, d.profile);
    if ((envp = child_env(rc, eff, &owned)) == NULL) {
        fprintf(stderr, "warden: out of memory\n");
        goto out;
    }
    status = run_child(rc, args, envp, state_dir);
out:
    free_env(envp, owned);
    if (id != 0)
        wd_gate_unregister(id, NULL);
    wd_runconfig_free(rc);
    json_decref(cfg);
    free(resolved);
    wd_policy_unref(p);
    return status;
}

int cmd_run(int argc, char **argv)
{
    return do_run(argc, argv);
}
