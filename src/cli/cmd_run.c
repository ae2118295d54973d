/* cmd_run.c — `warden run [flags] -- CMD ARGS...` (SPEC §8, §9, §13.4, §14): the flags, the
 * RunConfig the gate sees, and the help; the process itself (gate, start, relay through the
 * proxy, live policy, stop, restarts) is src/runner/run.c. It must never start CMD after a
 * denial, never write to stdout (the protocol stream), and never print an environment value. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/base.h"
#include "cli.h"
#include "run.h"
#include "policy/runconfig_json.h"
#include "warden/gate.h"
#include "warden/limits.h"
#include "warden/policy.h"

/* Most --env and --label flags. */
#define MAX_MULTI 1024
/* The state directory used without --policy or --state-dir when it holds `active`. */
#define DEFAULT_STATE_DIR "/var/lib/warden"
/* The largest --max-message (256 MiB). */
#define MAX_MESSAGE_FLAG (256u * 1024u * 1024u)

static const char usage_run[] =
    "usage: warden run [--policy FILE] [--state-dir DIR] [--name NAME] [--profile PROFILE]\n"
    "                  [--env K=V...] [--label K=V...] [--max-message BYTES]\n"
    "                  [--restart no|on-failure[:N]] [--recorder DIR [--recorder-key KEY]]\n"
    "                  [--no-sandbox] -- CMD [ARGS...]\n"
    "\n"
    "Start the MCP server CMD (stdio transport) only if the gate allows it, and stand between\n"
    "the client (warden's stdin and stdout) and the server for as long as it runs. The\n"
    "RunConfig the gate sees is built from the flags: name NAME (default: the base name of\n"
    "CMD), group default, transport stdio, command CMD ARGS (CMD resolved through PATH to an\n"
    "absolute path when it has no '/'), permission_profile PROFILE, env from --env, labels\n"
    "from --label.\n"
    "\n"
    "Denied: prints 'server creation blocked by policy: <reason> (rule <name>)' on stderr and\n"
    "exits 3; nothing is started. Allowed: CMD runs with an environment holding only\n"
    "  - the --env variables (the gate checked their names against the allowing rule's\n"
    "    limits profile), and\n"
    "  - the inherited variables whose names match the env globs of the effective profile:\n"
    "    PROFILE when given, else the allowing rule's limits profile, else none at all.\n"
    "The gate is asked again in the child right before exec. CMD's stderr is warden's.\n"
    "\n"
    "Sandbox: CMD runs confined by the effective profile (PROFILE, else the allowing rule's\n"
    "limits profile, else the strictest: no network, nothing readable beyond the system\n"
    "set): new user, mount, PID, IPC and UTS namespaces, a network namespace unless the\n"
    "profile says network: host, no capabilities unless privileged: true, no_new_privs, a\n"
    "seccomp filter, and Landlock rules for the profile's read and write paths and ports;\n"
    "allow_hosts go through a CONNECT proxy warden runs (HTTPS_PROXY is set for CMD). A\n"
    "profile the kernel cannot enforce is an error naming the missing feature, and nothing\n"
    "starts (docs/SANDBOX.md).\n"
    "\n"
    "Flight recorder: with --recorder DIR (or under an agent, the agent's recorder named in\n"
    "its state directory) every create, restart and stop, every tool-call decision and every\n"
    "filtered tools/list is appended to the host's hash-chained log (docs/RECORDER.md); a\n"
    "decision that cannot be recorded is a denial.\n"
    "\n"
    "Relay: warden passes newline-delimited JSON-RPC lines between the client and CMD's\n"
    "stdin and stdout, and decides on the way: a tools/list result loses the tools the\n"
    "policy denies; a denied tools/call never reaches CMD and is answered with error 403\n"
    "'tool call blocked by policy: <reason>'; a client line that is not JSON or is longer\n"
    "than BYTES is answered with an error (when it has an id) and never forwarded; CMD's\n"
    "lines pass unchanged otherwise (one longer than BYTES is dropped, with a line on\n"
    "stderr). When the client closes stdin, CMD's stdin is closed and warden waits for CMD\n"
    "to exit. When CMD exits, every request still waiting for an answer is answered with\n"
    "error -32603. CMD is killed (SIGKILL) if warden itself dies.\n"
    "\n"
    "Live policy: the policy FILE (its directory is watched, so a replaced file is seen) or\n"
    "the state directory is followed while CMD runs. A new policy that does not load leaves\n"
    "the previous one in force ('warden: policy not reloaded, ...' on stderr). One that loads\n"
    "applies to the next message; the client is sent a tool-list change notification when it\n"
    "asked for one; and when the policy no longer allows CMD (or a remote kill becomes\n"
    "active), warden prints 'warden: policy_stopped: <reason>', stops CMD (SIGTERM, then\n"
    "SIGKILL after 10 s) and exits 3.\n"
    "\n"
    "With a state directory (--state-dir, or /var/lib/warden when it holds 'active'), the\n"
    "policy in force is the one the agent applied there. While a remote kill is active every\n"
    "creation and every tool call is denied: 'remote kill active: <reason>'; a state that\n"
    "failed to verify, a policy past its stale grace (deny-all) or no policy at all deny too;\n"
    "a stale policy within its grace still decides.\n"
    "\n"
    "Restarts (--restart on-failure[:N]): when CMD exits with a non-zero status or is killed\n"
    "by a signal warden did not send, warden waits (0.5 s, doubling up to 30 s, each delay\n"
    "a random 50-100 % of that), asks the gate again (restart), and starts CMD anew; the\n"
    "client must initialize the new session. A denied restart prints 'warden:\n"
    "policy_stopped: <reason>' and exits 3. After N restarts warden gives up and exits with\n"
    "CMD's status.\n"
    "\n"
    "SIGINT and SIGTERM are passed on to CMD. warden exits with CMD's exit status, or 128+N\n"
    "when CMD was killed by signal N (127 when CMD cannot be found, 126 when it cannot be\n"
    "executed). A CMD that is not found (through PATH, or at its path) is reported as\n"
    "'warden: CMD: command not found' with exit code 127 before the gate is asked: there is\n"
    "nothing to decide about. The gate decides every CMD that exists.\n"
    "\n"
    "  --policy FILE        policy document (YAML), followed while CMD runs; default: the\n"
    "                       policy built into warden (see docs/POLICY.md, or 'warden policy\n"
    "                       check --default')\n"
    "  --state-dir DIR      take the policy and the remote kill from the agent's state\n"
    "                       directory DIR and follow its changes (not with --policy)\n"
    "  --name NAME          server name, an id (default: base name of CMD)\n"
    "  --profile PROFILE    permission profile to request, by name from the policy\n"
    "  --env K=V            give CMD the variable K (repeatable)\n"
    "  --label K=V          label the server (repeatable; at most 64)\n"
    "  --max-message BYTES  the longest message (one line) relayed, 1 to 268435456\n"
    "                       (default 4194304, 4 MiB)\n"
    "  --restart POLICY     no (default), on-failure (no limit) or on-failure:N (N from 1\n"
    "                       to 1000000)\n"    "  --recorder DIR       append decisions to the flight recorder in DIR (created 0700)\n"
    "  --recorder-key KEY   sign the recorder's checkpoints with this Ed25519 private key\n"
    "  --no-sandbox         start CMD without the sandbox (for kernels that lack user\n"
    "                       namespaces or Landlock); said on stderr and recorded\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: CMD's status when it ran; otherwise 1 operational error, 2 usage error,\n"
    "3 denied, rejected or stopped by policy (policy_stopped).\n";

/* CMD through PATH (entries that are empty are skipped: no implicit current directory).
 * Returns a malloc'd path (CMD itself when it has a '/'), NULL on OOM; *found tells whether
 * the program exists (through PATH: an executable regular file; with a '/': any file). */
static char *resolve(const char *cmd, bool *found)
{
    struct stat st;
    *found = false;
    if (strchr(cmd, '/') != NULL) {
        *found = stat(cmd, &st) == 0;
        return strdup(cmd);
    }
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
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                *found = true;
                return cand;
            }
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

/* --max-message BYTES: a decimal from 1 to MAX_MESSAGE_FLAG. */
static bool parse_bytes(const char *s, size_t *out)
{
    size_t v = 0;
    if (s[0] < '1' || s[0] > '9')
        return false;
    for (const char *q = s; *q != '\0'; q++) {
        if (*q < '0' || *q > '9' || v > MAX_MESSAGE_FLAG)
            return false;
        v = v * 10 + (size_t)(*q - '0');
    }
    if (v > MAX_MESSAGE_FLAG)
        return false;
    *out = v;
    return true;
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
        {"max-message", required_argument, NULL, 'm'},
        {"restart", required_argument, NULL, 'r'},
        {"recorder", required_argument, NULL, 'R'},
        {"recorder-key", required_argument, NULL, 'K'},
        {"no-sandbox", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *policy_path = NULL, *state_dir = NULL, *name = NULL, *profile = NULL;
    const char *recorder = NULL, *recorder_key = NULL;
    bool no_sandbox = false;
    static char *envs[MAX_MULTI], *labels[MAX_MULTI];
    size_t n_envs = 0, n_labels = 0, max_message = WD_MAX_MCP_MESSAGE;
    wd_restart_mode restart = WD_RESTART_NO;
    unsigned max_restarts = 0;
    wd_err e;
    wd_err_clear(&e);
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
        case 'm':
            if (!parse_bytes(optarg, &max_message))
                return cli_usage_error(usage_run, "--max-message wants a number of bytes from "
                                                  "1 to %u", MAX_MESSAGE_FLAG);
            break;
        case 'R': recorder = optarg; break;
        case 'K': recorder_key = optarg; break;
        case 'S': no_sandbox = true; break;
        case 'r':
            if (wd_restart_parse(optarg, &restart, &max_restarts, &e) != WD_OK)
                return cli_usage_error(usage_run, "%s", e.msg);
            break;
        default:
            return cli_option_error(usage_run, opts, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error(usage_run, "a command is required: warden run [flags] -- CMD");
    if (policy_path != NULL && state_dir != NULL)
        return cli_usage_error(usage_run, "give --policy or --state-dir, not both");
    if (recorder_key != NULL && recorder == NULL)
        return cli_usage_error(usage_run, "--recorder-key needs --recorder DIR");
    if (policy_path != NULL && strcmp(policy_path, "-") == 0)
        return cli_usage_error(usage_run, "--policy - is not possible: stdin is the client's");
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

    const char *base = strrchr(args[0], '/') ? strrchr(args[0], '/') + 1 : args[0];
    bool found = false;
    char *resolved = resolve(args[0], &found);
    if (resolved != NULL && !found) {
        /* nothing to decide about: a program that does not exist is not a policy question */
        char shown[200];
        wd_clean_text(args[0], shown, sizeof shown);
        fprintf(stderr, "warden: %s: command not found%s\n", shown,
                strchr(args[0], '/') ? "" : " (searched PATH)");
        json_decref(env);
        json_decref(lab);
        free(resolved);
        return 127;
    }
    json_t *cfg = resolved ? build_config(name ? name : base, profile, resolved, args, nargs, env, lab)
                           : NULL;
    json_decref(env);
    json_decref(lab);
    wd_runconfig *rc = NULL;
    int status = 1;
    if (cfg == NULL) {
        fprintf(stderr, "warden: out of memory\n");
        goto out;
    }
    if (wd_runconfig_from_json(cfg, &rc, &e) != WD_OK) {
        status = cli_report(&e);
        goto out;
    }
    wd_run_opts o = {
        .rc = rc,
        .argv = args,
        .policy_path = policy_path,
        .state_dir = state_dir,
        .max_message = max_message,
        .restart = restart,
        .max_restarts = max_restarts,
        .no_sandbox = no_sandbox,
        .recorder_dir = recorder,
        .recorder_key = recorder_key,
    };
    if (wd_runner_run(&o, &status, &e) != WD_OK)
        status = cli_report(&e);
out:
    wd_runconfig_free(rc);
    json_decref(cfg);
    free(resolved);
    return status;
}

int cmd_run(int argc, char **argv)
{
    return do_run(argc, argv);
}
