/* config.h — the follower's configuration, agent.yaml: defaults, the strict loader (unknown keys
 * are errors naming their path; values of the wrong type or out of range are errors naming the
 * key), the checks that tie fields together, and the comparison a SIGHUP reload needs to tell
 * restart-only changes from live ones. It must never accept a key it does not know, an enabled
 * conductor without a parseable root fingerprint, or a leader URL other than https://host[:port]. */
#ifndef WD_AGENT_CONFIG_H
#define WD_AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "warden/error.h"
#include "state.h"

#define WD_AGENT_MAX_CONFIG         (64u * 1024u) /* a larger agent.yaml is refused */
#define WD_AGENT_DEFAULT_STATE_DIR  "/var/lib/warden"
#define WD_AGENT_DEFAULT_POLL_S     30
#define WD_AGENT_MAX_POLL_S         300   /* also the longest long-poll wait the leader takes */
#define WD_AGENT_DEFAULT_GRACE_S    3600
#define WD_AGENT_MAX_BACKOFF_S      300   /* backoff grows from poll_interval to this */
#define WD_AGENT_STATUS_INTERVAL_S  60

typedef enum wd_agent_log_format { WD_AGENT_LOG_JSON, WD_AGENT_LOG_TEXT } wd_agent_log_format;
typedef enum wd_agent_log_level {
    WD_AGENT_LOG_DEBUG, WD_AGENT_LOG_INFO, WD_AGENT_LOG_WARN, WD_AGENT_LOG_ERROR
} wd_agent_log_level;

/* Everything agent.yaml says. Strings and labels are owned (wd_agent_settings_free). */
typedef struct wd_agent_settings {
    char *instance_id;
    json_t *labels;            /* object id -> string, never NULL after a load */
    char *state_dir;
    struct {
        bool enabled;          /* default: true when the conductor block is present */
        char *leader_url;      /* normalised https://host[:port] */
        char *fingerprint;     /* sha256:<64 lowercase hex> */
        bool honor_kill;       /* default true */
        int poll_interval_s;   /* 1..300, default 30 */
        bool long_poll;        /* default true */
        char *cert, *key, *ca;
        int64_t grace_s;       /* stale_policy.grace, default 1h */
        wd_stale_then then;
    } conductor;
    char *policy;              /* local policy file used while the conductor is disabled */
    struct {
        uint64_t spool_max;    /* bytes, default 64 MiB */
        int batch_max_records; /* 1..10000, default 1000 */
        int64_t flush_interval_s;
    } audit;
    struct {
        bool present;
        char *dir, *signing_key;
        int64_t checkpoint_every;
        int64_t checkpoint_interval_s;
        bool record_args;
    } recorder;
    wd_agent_log_level log_level;
    wd_agent_log_format log_format;
    char *metrics_listen;      /* ADDR:PORT or NULL */
} wd_agent_settings;

/* Read and check the file at path into *c (which need not be initialised). Errors: WD_E_IO when
 * it cannot be read; WD_E_USAGE "PATH: KEY.PATH: why" for an unknown key, a wrong type or value,
 * a missing required field, conductor.enabled without a parseable fingerprint, a leader_url that
 * is not https://host[:port]. On error *c is zeroed and owns nothing; on success the caller
 * releases it with wd_agent_settings_free. Reads no file but path (the certificate is checked by
 * wd_agent_settings_check_cert). */
wd_code wd_agent_settings_load(const char *path, wd_agent_settings *c, wd_err *e);

/* Free what c owns and zero it. NULL is ignored. */
void wd_agent_settings_free(wd_agent_settings *c);

/* ADDR:PORT with a numeric IPv4 address or a bracketed IPv6 one, port 0..65535. */
bool wd_agent_addr_valid(const char *s);

/* The follower identity the client certificate names. */
typedef struct wd_agent_identity {
    char trust_domain[256];
    char org[129], fleet[129], env[129], instance[129];
} wd_agent_identity;

/* When the conductor is enabled: read conductor.tls.cert, take its single URI SAN (a follower
 * SPIFFE ID) and check its instance equals instance_id. WD_E_IO when the file cannot be read or
 * holds no certificate; WD_E_USAGE when the SAN is missing, not a follower ID, or names another
 * instance (the message says both). Fills *id on success; changes nothing else. */
wd_code wd_agent_settings_check_cert(const wd_agent_settings *c, wd_agent_identity *id, wd_err *e);

/* Restart-only differences between the running configuration a and a new one b, as a text for
 * a warning ("state_dir, flight_recorder.signing_key") into out; false (out "") when none. */
bool wd_agent_settings_restart_only(const wd_agent_settings *a, const wd_agent_settings *b, char *out,
                                  size_t outsz);

/* Copy the restart-only fields of old into c (replacing c's), so a reload keeps them.
 * WD_E_NOMEM leaves c as it was. */
wd_code wd_agent_settings_keep_restart_only(wd_agent_settings *c, const wd_agent_settings *old,
                                          wd_err *e);

/* True when the two configurations connect to the leader differently (URL or TLS files). */
bool wd_agent_settings_conn_changed(const wd_agent_settings *a, const wd_agent_settings *b);

/* The one start-up line (without "\n"): "warden agent: instance web-7, leader https://…, policy
 * bundle polling enabled, remote kill honored, long poll 30s". */
void wd_agent_settings_summary(const wd_agent_settings *c, char *out, size_t outsz);

#endif
