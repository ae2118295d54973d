/* cmd_leader.c — `warden leader` (SPEC §12.3): read the flags and --config (flags win), open the
 * store, load the API's state, and run the server until SIGTERM/SIGINT drains it. Thin over
 * src/leader. It must never start serving with a configuration it could not fully check, and
 * never print a key or a request body. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "api.h"
#include "config.h"
#include "leader.h"
#include "metrics.h"
#include "server.h"
#include "store.h"

static const char usage[] =
    "usage: warden leader --listen ADDR:PORT [--listen ADDR:PORT...] --cert FILE --key FILE\n"
    "         --client-ca FILE --trust-domain TD --roster FILE --pin DIGEST [--store URL]\n"
    "         [--probe-listen ADDR:PORT] [--ui-listen ADDR:PORT [--ui-token-file FILE]]\n"
    "         [--config FILE]\n"
    "         [--workers N] [--max-conns N] [--log-format json|text] [--log-level LEVEL]\n"
    "\n"
    "Run the control plane that followers poll: HTTPS with TLS 1.3 only and a client\n"
    "certificate required in the handshake, verified against --client-ca. A peer is known by\n"
    "its certificate's single URI SAN, a SPIFFE ID in trust domain TD:\n"
    "  spiffe://TD/org/ORG/fleet/FLEET/env/ENV/instance/ID   a follower\n"
    "  spiffe://TD/org/ORG/admin/NAME                         an administrator\n"
    "Any other certificate gets 403 on every request. The API lives under /api/v1/conductor/.\n"
    "A plain-HTTP probe listener serves /healthz, /readyz and /metrics only. SIGTERM or SIGINT\n"
    "drains: listeners close, held long polls are answered, requests in flight finish (at\n"
    "most 10 s), then the leader exits 0. SIGHUP is logged and ignored (nothing is reloaded).\n"
    "One log line per request on stderr. docs/LEADER.md has the details.\n"
    "\n"
    "  --listen ADDR:PORT      HTTPS address (repeatable, at most 16; [::1]:PORT for IPv6)\n"
    "  --cert FILE             the leader's certificate chain (PEM)\n"
    "  --key FILE              its private key (PEM; refused when group or others can read it)\n"
    "  --client-ca FILE        CA certificates (PEM) that client certificates must chain to\n"
    "  --trust-domain TD       the SPIFFE trust domain of followers and administrators\n"
    "  --roster FILE           the trust roster envelope\n"
    "  --pin DIGEST            root key fingerprint (keyid) the roster must chain to\n"
    "  --store URL             where messages and follower state live: sqlite:PATH\n"
    "                          (default sqlite:/var/lib/warden/leader.db), or a PostgreSQL\n"
    "                          URL postgres://USER@HOST:PORT/DB for several leaders sharing\n"
    "                          one database: a publish through any of them wakes the long\n"
    "                          polls held by all (docs/STORE.md)\n"
    "                          A PostgreSQL store that cannot be reached at start is\n"
    "                          retried (1 s doubling to 30 s, one log line each time);\n"
    "                          meanwhile the leader listens and answers 503 (/readyz: not\n"
    "                          ready: store unreachable), and SIGTERM/SIGINT stop it\n"
    "  --probe-listen ADDR:PORT  plain-HTTP probe address (default 127.0.0.1:9465)\n"
    "  --ui-listen ADDR:PORT   serve the read-only fleet page here (plain HTTP; off by\n"
    "                          default). On a loopback address without --ui-token-file\n"
    "                          anyone on this host can read it; any other address needs\n"
    "                          --ui-token-file\n"
    "  --ui-token-file FILE    the page's token (one line, 16-128 characters of A-Z a-z\n"
    "                          0-9 - . _ ~; refused when group or others can read the file);\n"
    "                          then every page request needs it: open /?token=TOKEN once\n"
    "                          (a cookie keeps it) or send Authorization: Bearer TOKEN.\n"
    "                          docs/FLEET-PAGE.md has the details\n"
    "  --config FILE           YAML file with the same settings (keys: listen, cert, key,\n"
    "                          client_ca, trust_domain, roster, pin, store, probe_listen,\n"
    "                          ui_listen, ui_token_file, workers, max_conns,\n"
    "                          log: {format, level}, handshake_timeout, idle_timeout,\n"
    "                          body_timeout, drain_timeout); unknown keys are errors;\n"
    "                          flags win over the file\n"
    "  --workers N             event loops (default 0: one per core)\n"
    "  --max-conns N           open client connections at most (default 20000)\n"
    "  --log-format FORMAT     json (default) or text\n"
    "  --log-level LEVEL       debug, info (default), warn or error\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit codes: 0 drained after SIGTERM/SIGINT, 1 operational error (a port in use, a file,\n"
    "the store), 2 usage error, 3 rejected (the roster does not verify against the pin).\n";

typedef struct flag_val {
    const char *name; /* config name */
    const char *value;
} flag_val;

static void observe_store(void *ctx, const char *op, double seconds)
{
    (void)op;
    wd_metrics_store(ctx, seconds);
}

/* wd_server_handlers.prepare: open the store, then load the API over it (roster, view). A
 * PostgreSQL store that cannot be reached (an operational error: the database is down or not
 * up yet) sets *retry, and the server tries again later while answering 503; any other error
 * is logged here (event `store` or `api`) and stops the start. On error nothing is open. */
static wd_code prepare(wd_leader *L, bool *retry, wd_err *e)
{
    bool pg = strncmp(L->cfg.store_url, "postgres", 8) == 0;
    *retry = false;
    wd_code c = wd_store_open(L->cfg.store_url, &L->store, e);
    if (c != WD_OK) {
        *retry = pg && c == WD_E_IO;
        if (!*retry) {
            wd_metrics_error(L->metrics, "operational");
            wd_log(L, WD_LOG_ERROR, "store", "detail", e->msg, NULL);
        }
        return c;
    }
    L->store->observe = observe_store;
    L->store->observe_ctx = L->metrics;
    c = wd_api_init(L, e);
    if (c != WD_OK) {
        *retry = pg && c == WD_E_IO;
        if (!*retry)
            wd_log(L, WD_LOG_ERROR, "api", "detail", e->msg, NULL);
        wd_store_close(L->store);
        L->store = NULL;
    }
    return c;
}

/* Print "warden leader: MSG" and return the exit code of e. */
static int fail(const wd_err *e)
{
    if (wd_code_is_rejection(e->code))
        return cli_report(e);
    fprintf(stderr, "warden leader: %s\n", e->msg);
    return wd_code_exit(e->code);
}

int cmd_leader(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"client-ca", required_argument, NULL, 'a'},
        {"trust-domain", required_argument, NULL, 't'},
        {"roster", required_argument, NULL, 'r'},
        {"pin", required_argument, NULL, 'p'},
        {"store", required_argument, NULL, 's'},
        {"probe-listen", required_argument, NULL, 'P'},
        {"ui-listen", required_argument, NULL, 'U'},
        {"ui-token-file", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'f'},
        {"workers", required_argument, NULL, 'w'},
        {"max-conns", required_argument, NULL, 'm'},
        {"log-format", required_argument, NULL, 'F'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    flag_val flags[64];
    size_t nflags = 0;
    const char *config = NULL;
    bool listen_flag = false;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *name = NULL;
        switch (ch) {
        case 'h': return cli_help(usage);
        case 'l': name = "listen"; listen_flag = true; break;
        case 'c': name = "cert"; break;
        case 'k': name = "key"; break;
        case 'a': name = "client_ca"; break;
        case 't': name = "trust_domain"; break;
        case 'r': name = "roster"; break;
        case 'p': name = "pin"; break;
        case 's': name = "store"; break;
        case 'P': name = "probe_listen"; break;
        case 'U': name = "ui_listen"; break;
        case 'T': name = "ui_token_file"; break;
        case 'w': name = "workers"; break;
        case 'm': name = "max_conns"; break;
        case 'F': name = "log.format"; break;
        case 'L': name = "log.level"; break;
        case 'f': config = optarg; break;
        case ':':
            return cli_usage_error(usage, "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error(usage, "unknown option: %s", argv[optind - 1]);
        }
        if (name != NULL) {
            if (nflags == sizeof flags / sizeof flags[0])
                return cli_usage_error(usage, "too many flags");
            flags[nflags].name = name;
            flags[nflags].value = optarg;
            nflags++;
        }
    }
    if (optind != argc)
        return cli_usage_error(usage, "unexpected argument: %s", argv[optind]);

    wd_err e;
    wd_err_clear(&e);
    wd_leader L;
    memset(&L, 0, sizeof L);
    if (wd_leader_config_init(&L.cfg, &e) != WD_OK)
        return fail(&e);
    int rc = 0;
    if (config != NULL && wd_leader_config_load(config, &L.cfg, &e) != WD_OK) {
        rc = fail(&e);
        goto out;
    }
    if (listen_flag) { /* --listen flags replace the file's list */
        for (size_t i = 0; i < L.cfg.nlisten; i++)
            free(L.cfg.listen[i]);
        L.cfg.nlisten = 0;
    }
    for (size_t i = 0; i < nflags; i++) {
        if (wd_leader_config_set(&L.cfg, flags[i].name, flags[i].value, &e) != WD_OK) {
            rc = e.code == WD_E_USAGE ? cli_usage_error(usage, "%s", e.msg) : fail(&e);
            goto out;
        }
    }
    if (wd_leader_config_check(&L.cfg, &e) != WD_OK) {
        rc = cli_usage_error(usage, "%s", e.msg);
        goto out;
    }

    L.metrics = wd_metrics_new();
    if (L.metrics == NULL) {
        wd_err_set(&e, WD_E_NOMEM, "out of memory");
        rc = fail(&e);
        goto out;
    }
    /* ports and TLS files first: a port in use is one line, before anything is loaded */
    if (wd_server_preflight(&L.cfg, L.metrics, &e) != WD_OK) {
        rc = fail(&e);
        goto out;
    }
    wd_server_handlers h = {
        .handle = wd_api_handle,
        .body_cap = wd_api_body_cap,
        .ready = wd_api_ready,
        .changed = wd_api_changed,
        .prepare = prepare,
        .ports_file = NULL,
    };
    if (wd_server_run(&L, &h, &e) != WD_OK)
        rc = fail(&e);
    wd_api_fini(&L);

out:
    if (L.store != NULL)
        wd_store_close(L.store);
    wd_metrics_free(L.metrics);
    wd_leader_config_free(&L.cfg);
    return rc;
}
