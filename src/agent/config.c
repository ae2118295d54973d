/* config.c — agent.yaml (SPEC §13.1): read with the project's limited YAML loader, walked key by
 * key against a fixed schema so that an unknown key, a wrong type or an out-of-range value is an
 * error naming its path, then checked as a whole (an enabled conductor needs a leader URL, a
 * parseable root fingerprint and its TLS files). Also the client certificate's instance check,
 * the reload comparison and the start-up line.
 * It must never accept a key it does not know, nor leave anything allocated on an error. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/util.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/base.h"
#include "codec/spiffe.h"
#include "codec/yaml.h"
#include "crypto/crypto.h"
#include "pki/pki.h"
#include "fleetclient.h"

/* ---- scalar readers: each names the key path on error ---- */

static wd_code get_str(const json_t *v, const char *path, char **slot, wd_err *e)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return wd_err_set(e, WD_E_USAGE, "%s: must be a non-empty string", path);
    char *d = strdup(json_string_value(v));
    if (d == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    free(*slot);
    *slot = d;
    return WD_OK;
}

static wd_code get_bool(const json_t *v, const char *path, bool *out, wd_err *e)
{
    if (!json_is_boolean(v))
        return wd_err_set(e, WD_E_USAGE, "%s: must be true or false", path);
    *out = json_is_true(v);
    return WD_OK;
}

/* Seconds: an integer, or a duration such as "30s", "1h"; lo..hi. */
static wd_code get_secs(const json_t *v, const char *path, int64_t lo, int64_t hi, int64_t *out,
                        wd_err *e)
{
    int64_t s = -1;
    if (json_is_integer(v)) {
        s = json_integer_value(v);
    } else if (json_is_string(v)) {
        wd_err ign;
        if (wd_duration_parse(json_string_value(v), &s, &ign) != WD_OK)
            s = -1;
    }
    if (s < lo || s > hi)
        return wd_err_set(e, WD_E_USAGE, "%s: must be a duration from %llds to %llds (e.g. 30s, "
                          "15m, 1h)", path, (long long)lo, (long long)hi);
    *out = s;
    return WD_OK;
}

static wd_code get_int(const json_t *v, const char *path, int64_t lo, int64_t hi, int64_t *out,
                       wd_err *e)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return wd_err_set(e, WD_E_USAGE, "%s: must be an integer from %lld to %lld", path,
                          (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return WD_OK;
}

/* A size: an integer number of bytes, or "N", "NKiB", "NMiB", "NGiB"; 1 .. 1 TiB. */
static wd_code get_size(const json_t *v, const char *path, uint64_t *out, wd_err *e)
{
    const uint64_t max = 1ull << 40;
    uint64_t n = 0;
    bool okv = false;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        n = (uint64_t)json_integer_value(v);
        okv = true;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v), *p = s;
        while (*p >= '0' && *p <= '9' && n <= max)
            n = n * 10 + (uint64_t)(*p++ - '0');
        uint64_t unit = strcmp(p, "") == 0 ? 1 : strcmp(p, "KiB") == 0 ? 1ull << 10
                      : strcmp(p, "MiB") == 0 ? 1ull << 20 : strcmp(p, "GiB") == 0 ? 1ull << 30 : 0;
        if (p != s && unit != 0 && n > 0 && n <= max / unit) {
            n *= unit;
            okv = true;
        }
    }
    if (!okv || n > max)
        return wd_err_set(e, WD_E_USAGE, "%s: must be a size such as 64MiB (bytes, KiB, MiB, "
                          "GiB; at most 1 TiB)", path);
    *out = n;
    return WD_OK;
}

bool wd_agent_addr_valid(const char *s)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    const char *colon = strrchr(s, ':');
    /* evutil takes "A.B.C.D:PORT" and "[v6]:PORT", and also a bare address: require the port */
    if (colon == NULL || colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
        return false;
    if (s[0] != '[' && strchr(s, ':') != colon)
        return false;
    /* evutil refuses port 0, which lets the kernel choose: check the address with port 1 */
    char tmp[128];
    size_t hl = (size_t)(colon - s);
    if (hl == 0 || hl + 3 > sizeof tmp)
        return false;
    memcpy(tmp, s, hl);
    memcpy(tmp + hl, ":1", 3);
    return evutil_parse_sockaddr_port(tmp, (struct sockaddr *)&ss, &len) == 0;
}

/* ---- blocks ---- */

typedef wd_code (*key_fn)(wd_agent_settings *c, const char *key, const json_t *v,
                          const char *path, wd_err *e);

/* Walk the mapping v (named path) and hand each key to fn; unknown keys are fn's to refuse. */
static wd_code walk(wd_agent_settings *c, const json_t *v, const char *path, key_fn fn, wd_err *e)
{
    if (!json_is_object(v))
        return wd_err_set(e, WD_E_USAGE, "%s: must be a mapping", path);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        char sub[256];
        char ck[96];
        wd_clean_text(k, ck, sizeof ck);
        snprintf(sub, sizeof sub, "%s.%s", path, ck);
        wd_code rc = fn(c, k, x, sub, e);
        if (rc != WD_OK)
            return rc;
    }
    return WD_OK;
}

static wd_code unknown(const char *path, wd_err *e)
{
    return wd_err_set(e, WD_E_USAGE, "%s: unknown key", path);
}

static wd_code tls_key(wd_agent_settings *c, const char *k, const json_t *v, const char *path,
                       wd_err *e)
{
    if (strcmp(k, "cert") == 0)
        return get_str(v, path, &c->conductor.cert, e);
    if (strcmp(k, "key") == 0)
        return get_str(v, path, &c->conductor.key, e);
    if (strcmp(k, "ca") == 0)
        return get_str(v, path, &c->conductor.ca, e);
    return unknown(path, e);
}

static wd_code stale_key(wd_agent_settings *c, const char *k, const json_t *v, const char *path,
                         wd_err *e)
{
    if (strcmp(k, "grace") == 0)
        return get_secs(v, path, 0, 365LL * 24 * 3600, &c->conductor.grace_s, e);
    if (strcmp(k, "then") == 0) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "deny-all") == 0)
            c->conductor.then = WD_STALE_DENY_ALL;
        else if (strcmp(s, "keep-last-known-good") == 0)
            c->conductor.then = WD_STALE_KEEP_LAST_KNOWN_GOOD;
        else
            return wd_err_set(e, WD_E_USAGE, "%s: must be deny-all or keep-last-known-good", path);
        return WD_OK;
    }
    return unknown(path, e);
}

static wd_code conductor_key(wd_agent_settings *c, const char *k, const json_t *v,
                             const char *path, wd_err *e)
{
    int64_t n;
    wd_code rc;
    if (strcmp(k, "enabled") == 0)
        return get_bool(v, path, &c->conductor.enabled, e);
    if (strcmp(k, "leader_url") == 0) {
        if (!json_is_string(v))
            return wd_err_set(e, WD_E_USAGE, "%s: must be a string", path);
        char *base = NULL;
        wd_err ue;
        if (wd_fleet_parse_url(json_string_value(v), &base, &ue) != WD_OK)
            return wd_err_set(e, WD_E_USAGE, "%s: %s", path, ue.msg);
        free(c->conductor.leader_url);
        c->conductor.leader_url = base;
        return WD_OK;
    }
    if (strcmp(k, "trust_roster_root_fingerprint") == 0) {
        unsigned char h[WD_SHA256_LEN];
        wd_err de;
        if (!json_is_string(v) || wd_digest_parse(json_string_value(v), h, &de) != WD_OK)
            return wd_err_set(e, WD_E_USAGE, "%s: must be sha256: and 64 hex digits (the root "
                              "key's keyid)", path);
        char *d = malloc(WD_DIGEST_STRLEN + 1);
        if (d == NULL)
            return wd_err_set(e, WD_E_NOMEM, "out of memory");
        wd_digest_format(h, d);
        free(c->conductor.fingerprint);
        c->conductor.fingerprint = d;
        return WD_OK;
    }
    if (strcmp(k, "honor_remote_kill_switch") == 0)
        return get_bool(v, path, &c->conductor.honor_kill, e);
    if (strcmp(k, "poll_interval") == 0) {
        rc = get_secs(v, path, 1, WD_AGENT_MAX_POLL_S, &n, e);
        if (rc == WD_OK)
            c->conductor.poll_interval_s = (int)n;
        return rc;
    }
    if (strcmp(k, "long_poll") == 0)
        return get_bool(v, path, &c->conductor.long_poll, e);
    if (strcmp(k, "tls") == 0)
        return walk(c, v, path, tls_key, e);
    if (strcmp(k, "stale_policy") == 0)
        return walk(c, v, path, stale_key, e);
    return unknown(path, e);
}

static wd_code audit_key(wd_agent_settings *c, const char *k, const json_t *v, const char *path,
                         wd_err *e)
{
    int64_t n;
    wd_code rc;
    if (strcmp(k, "spool_max") == 0)
        return get_size(v, path, &c->audit.spool_max, e);
    if (strcmp(k, "batch_max_records") == 0) {
        rc = get_int(v, path, 1, 10000, &n, e);
        if (rc == WD_OK)
            c->audit.batch_max_records = (int)n;
        return rc;
    }
    if (strcmp(k, "flush_interval") == 0)
        return get_secs(v, path, 1, 3600, &c->audit.flush_interval_s, e);
    return unknown(path, e);
}

static wd_code recorder_key(wd_agent_settings *c, const char *k, const json_t *v,
                            const char *path, wd_err *e)
{
    if (strcmp(k, "dir") == 0)
        return get_str(v, path, &c->recorder.dir, e);
    if (strcmp(k, "signing_key") == 0)
        return get_str(v, path, &c->recorder.signing_key, e);
    if (strcmp(k, "checkpoint_every") == 0)
        return get_int(v, path, 1, 1000000000, &c->recorder.checkpoint_every, e);
    if (strcmp(k, "checkpoint_interval") == 0)
        return get_secs(v, path, 1, 24 * 3600, &c->recorder.checkpoint_interval_s, e);
    if (strcmp(k, "record_args") == 0)
        return get_bool(v, path, &c->recorder.record_args, e);
    return unknown(path, e);
}

static wd_code logging_key(wd_agent_settings *c, const char *k, const json_t *v,
                           const char *path, wd_err *e)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(k, "format") == 0) {
        if (strcmp(s, "json") == 0)
            c->log_format = WD_AGENT_LOG_JSON;
        else if (strcmp(s, "text") == 0)
            c->log_format = WD_AGENT_LOG_TEXT;
        else
            return wd_err_set(e, WD_E_USAGE, "%s: must be json or text", path);
        return WD_OK;
    }
    if (strcmp(k, "level") == 0) {
        static const char *const lv[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++)
            if (strcmp(s, lv[i]) == 0) {
                c->log_level = (wd_agent_log_level)i;
                return WD_OK;
            }
        return wd_err_set(e, WD_E_USAGE, "%s: must be debug, info, warn or error", path);
    }
    return unknown(path, e);
}

static wd_code metrics_key(wd_agent_settings *c, const char *k, const json_t *v,
                           const char *path, wd_err *e)
{
    if (strcmp(k, "listen") == 0) {
        if (!json_is_string(v) || !wd_agent_addr_valid(json_string_value(v)))
            return wd_err_set(e, WD_E_USAGE, "%s: must be ADDR:PORT with a numeric address "
                              "([::1]:PORT for IPv6)", path);
        return get_str(v, path, &c->metrics_listen, e);
    }
    return unknown(path, e);
}

static wd_code labels_of(wd_agent_settings *c, const json_t *v, const char *path, wd_err *e)
{
    if (json_is_null(v))
        return WD_OK;
    if (!json_is_object(v))
        return wd_err_set(e, WD_E_USAGE, "%s: must be a mapping of id to text", path);
    if (json_object_size(v) > WD_MAX_LABELS)
        return wd_err_set(e, WD_E_USAGE, "%s: more than %d labels", path, WD_MAX_LABELS);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        char ck[96];
        wd_clean_text(k, ck, sizeof ck);
        if (!wd_id_valid(k))
            return wd_err_set(e, WD_E_USAGE, "%s.%s: a label key must be an id", path, ck);
        if (!json_is_string(x))
            return wd_err_set(e, WD_E_USAGE, "%s.%s: must be a string", path, ck);
        const char *s = json_string_value(x);
        size_t n = json_string_length(x);
        if (n > WD_MAX_LABEL_VALUE)
            return wd_err_set(e, WD_E_USAGE, "%s.%s: longer than %d bytes", path, ck,
                              WD_MAX_LABEL_VALUE);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return wd_err_set(e, WD_E_USAGE, "%s.%s: holds a control character", path, ck);
        if (json_object_set_new(c->labels, k, json_string(s)) != 0)
            return wd_err_set(e, WD_E_NOMEM, "out of memory");
    }
    return WD_OK;
}

static wd_code top_key(wd_agent_settings *c, const char *k, const json_t *v, const char *path,
                       wd_err *e)
{
    path = strchr(path, '.') + 1; /* top-level keys are named without a prefix */
    if (strcmp(k, "instance_id") == 0) {
        if (!json_is_string(v) || !wd_id_valid(json_string_value(v)))
            return wd_err_set(e, WD_E_USAGE, "%s: must be an id (letters, digits, '_', '.', "
                              "'-'; up to 128)", path);
        return get_str(v, path, &c->instance_id, e);
    }
    if (strcmp(k, "labels") == 0)
        return labels_of(c, v, path, e);
    if (strcmp(k, "state_dir") == 0)
        return get_str(v, path, &c->state_dir, e);
    if (strcmp(k, "conductor") == 0) {
        c->conductor.enabled = true; /* present: enabled unless it says otherwise */
        return walk(c, v, path, conductor_key, e);
    }
    if (strcmp(k, "policy") == 0)
        return get_str(v, path, &c->policy, e);
    if (strcmp(k, "audit") == 0)
        return walk(c, v, path, audit_key, e);
    if (strcmp(k, "flight_recorder") == 0) {
        c->recorder.present = true;
        return walk(c, v, path, recorder_key, e);
    }
    if (strcmp(k, "logging") == 0)
        return walk(c, v, path, logging_key, e);
    if (strcmp(k, "metrics") == 0)
        return walk(c, v, path, metrics_key, e);
    return unknown(path, e);
}

static wd_code check_whole(const wd_agent_settings *c, wd_err *e)
{
    if (c->instance_id == NULL)
        return wd_err_set(e, WD_E_USAGE, "instance_id: required");
    if (c->recorder.present && c->recorder.dir == NULL)
        return wd_err_set(e, WD_E_USAGE, "flight_recorder.dir: required");
    if (!c->conductor.enabled)
        return WD_OK;
    /* The fingerprint is required whatever honor_remote_kill_switch says: it anchors every
     * bundle as well as every kill. */
    if (c->conductor.fingerprint == NULL)
        return wd_err_set(e, WD_E_USAGE, "conductor.trust_roster_root_fingerprint: required "
                          "when the conductor is enabled");
    if (c->conductor.leader_url == NULL)
        return wd_err_set(e, WD_E_USAGE, "conductor.leader_url: required when the conductor "
                          "is enabled");
    if (c->conductor.cert == NULL)
        return wd_err_set(e, WD_E_USAGE, "conductor.tls.cert: required when the conductor is "
                          "enabled");
    if (c->conductor.key == NULL)
        return wd_err_set(e, WD_E_USAGE, "conductor.tls.key: required when the conductor is "
                          "enabled");
    if (c->conductor.ca == NULL)
        return wd_err_set(e, WD_E_USAGE, "conductor.tls.ca: required when the conductor is "
                          "enabled");
    return WD_OK;
}

wd_code wd_agent_settings_load(const char *path, wd_agent_settings *c, wd_err *e)
{
    memset(c, 0, sizeof *c);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code rc = wd_read_file(path, WD_AGENT_MAX_CONFIG, &buf, &len, e);
    if (rc == WD_E_OVERSIZED)
        return wd_err_set(e, WD_E_USAGE, "%s: larger than %u bytes", path, WD_AGENT_MAX_CONFIG);
    if (rc != WD_OK)
        return rc;
    json_t *root = NULL;
    rc = wd_yaml_load(buf, len, &root, e);
    free(buf);
    if (rc != WD_OK)
        return wd_err_prefix(e, WD_E_USAGE, "%s", path);

    c->state_dir = strdup(WD_AGENT_DEFAULT_STATE_DIR);
    c->labels = json_object();
    c->conductor.honor_kill = true;
    c->conductor.poll_interval_s = WD_AGENT_DEFAULT_POLL_S;
    c->conductor.long_poll = true;
    c->conductor.grace_s = WD_AGENT_DEFAULT_GRACE_S;
    c->conductor.then = WD_STALE_DENY_ALL;
    c->audit.spool_max = 64ull << 20;
    c->audit.batch_max_records = 1000;
    c->audit.flush_interval_s = 5;
    c->recorder.checkpoint_every = 1000;
    c->recorder.checkpoint_interval_s = 60;
    c->log_level = WD_AGENT_LOG_INFO;
    c->log_format = WD_AGENT_LOG_JSON;
    if (c->state_dir == NULL || c->labels == NULL)
        rc = wd_err_set(e, WD_E_NOMEM, "out of memory");
    else if (!json_is_object(root))
        rc = wd_err_set(e, WD_E_USAGE, "the top level must be a mapping");
    else
        rc = walk(c, root, "", top_key, e);
    if (rc == WD_OK)
        rc = check_whole(c, e);
    json_decref(root);
    if (rc != WD_OK) {
        wd_agent_settings_free(c);
        return wd_err_prefix(e, rc, "%s", path);
    }
    return WD_OK;
}

void wd_agent_settings_free(wd_agent_settings *c)
{
    if (c == NULL)
        return;
    free(c->instance_id);
    json_decref(c->labels);
    free(c->state_dir);
    free(c->conductor.leader_url);
    free(c->conductor.fingerprint);
    free(c->conductor.cert);
    free(c->conductor.key);
    free(c->conductor.ca);
    free(c->policy);
    free(c->recorder.dir);
    free(c->recorder.signing_key);
    free(c->metrics_listen);
    memset(c, 0, sizeof *c);
}

/* ---- the certificate ---- */

wd_code wd_agent_settings_check_cert(const wd_agent_settings *c, wd_agent_identity *id, wd_err *e)
{
    memset(id, 0, sizeof *id);
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code rc = wd_read_file(c->conductor.cert, WD_MAX_CERT_FILE, &buf, &len, e);
    if (rc != WD_OK)
        return wd_err_prefix(e, rc == WD_E_OVERSIZED ? WD_E_IO : rc, "conductor.tls.cert");
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    free(buf);
    if (x == NULL)
        return wd_err_set(e, WD_E_IO, "conductor.tls.cert: %s holds no PEM certificate",
                          c->conductor.cert);
    /* The trust domain is the URI's own: the agent is not told it, and wd_pki_peer_id checks
     * there is exactly one URI SAN of the follower shape. */
    char td[256] = "";
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_URI)
            continue;
        const char *u = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        int ul = ASN1_STRING_length(g->d.uniformResourceIdentifier);
        if (ul > 9 && strncmp(u, "spiffe://", 9) == 0) {
            const char *end = memchr(u + 9, '/', (size_t)ul - 9);
            size_t tl = end ? (size_t)(end - (u + 9)) : 0;
            if (tl > 0 && tl < sizeof td) {
                memcpy(td, u + 9, tl);
                td[tl] = '\0';
            }
        }
        break;
    }
    GENERAL_NAMES_free(gens);
    wd_spiffe_id sid;
    wd_err pe;
    rc = td[0] && wd_spiffe_td_valid(td) ? wd_pki_peer_id(x, td, &sid, &pe) : WD_E_MALFORMED;
    X509_free(x);
    if (rc != WD_OK || sid.kind != WD_PEER_FOLLOWER)
        return wd_err_set(e, WD_E_USAGE, "conductor.tls.cert: %s does not name a follower "
                          "(one URI SAN spiffe://TD/org/O/fleet/F/env/E/instance/I)%s%s",
                          c->conductor.cert, rc != WD_OK ? ": " : "", rc != WD_OK ? pe.msg : "");
    if (strcmp(sid.instance, c->instance_id) != 0)
        return wd_err_set(e, WD_E_USAGE, "instance_id: '%s' is not the instance of the client "
                          "certificate (%s)", c->instance_id, sid.instance);
    snprintf(id->trust_domain, sizeof id->trust_domain, "%s", td);
    snprintf(id->org, sizeof id->org, "%s", sid.org);
    snprintf(id->fleet, sizeof id->fleet, "%s", sid.fleet);
    snprintf(id->env, sizeof id->env, "%s", sid.env);
    snprintf(id->instance, sizeof id->instance, "%s", sid.instance);
    return WD_OK;
}

/* ---- reload ---- */

static bool same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void add(char *out, size_t outsz, const char *what)
{
    size_t l = strlen(out);
    snprintf(out + l, outsz - l, "%s%s", l ? ", " : "", what);
}

bool wd_agent_settings_restart_only(const wd_agent_settings *a, const wd_agent_settings *b, char *out,
                                  size_t outsz)
{
    out[0] = '\0';
    if (!same_str(a->instance_id, b->instance_id))
        add(out, outsz, "instance_id");
    if (!same_str(a->state_dir, b->state_dir))
        add(out, outsz, "state_dir");
    if (!same_str(a->recorder.signing_key, b->recorder.signing_key))
        add(out, outsz, "flight_recorder.signing_key (the recorder's signing key)");
    if (a->recorder.present != b->recorder.present || !same_str(a->recorder.dir, b->recorder.dir) ||
        a->recorder.checkpoint_every != b->recorder.checkpoint_every ||
        a->recorder.checkpoint_interval_s != b->recorder.checkpoint_interval_s ||
        a->recorder.record_args != b->recorder.record_args)
        add(out, outsz, "flight_recorder (other recorder fields)");
    return out[0] != '\0';
}

static wd_code dup_into(char **slot, const char *s)
{
    char *d = NULL;
    if (s != NULL && (d = strdup(s)) == NULL)
        return WD_E_NOMEM;
    free(*slot);
    *slot = d;
    return WD_OK;
}

wd_code wd_agent_settings_keep_restart_only(wd_agent_settings *c, const wd_agent_settings *old,
                                          wd_err *e)
{
    char *inst = NULL, *sd = NULL, *dir = NULL, *sk = NULL;
    if (dup_into(&inst, old->instance_id) != WD_OK || dup_into(&sd, old->state_dir) != WD_OK ||
        dup_into(&dir, old->recorder.dir) != WD_OK ||
        dup_into(&sk, old->recorder.signing_key) != WD_OK) {
        free(inst);
        free(sd);
        free(dir);
        free(sk);
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    }
    free(c->instance_id);
    free(c->state_dir);
    free(c->recorder.dir);
    free(c->recorder.signing_key);
    c->instance_id = inst;
    c->state_dir = sd;
    c->recorder.present = old->recorder.present;
    c->recorder.dir = dir;
    c->recorder.signing_key = sk;
    c->recorder.checkpoint_every = old->recorder.checkpoint_every;
    c->recorder.checkpoint_interval_s = old->recorder.checkpoint_interval_s;
    c->recorder.record_args = old->recorder.record_args;
    return WD_OK;
}

bool wd_agent_settings_conn_changed(const wd_agent_settings *a, const wd_agent_settings *b)
{
    return a->conductor.enabled != b->conductor.enabled ||
           !same_str(a->conductor.leader_url, b->conductor.leader_url) ||
           !same_str(a->conductor.cert, b->conductor.cert) ||
           !same_str(a->conductor.key, b->conductor.key) ||
           !same_str(a->conductor.ca, b->conductor.ca);
}

void wd_agent_settings_summary(const wd_agent_settings *c, char *out, size_t outsz)
{
    if (!c->conductor.enabled) {
        snprintf(out, outsz, "warden agent: instance %s, conductor disabled, policy bundle "
                 "polling disabled, local policy %s", c->instance_id,
                 c->policy ? c->policy : "(none)");
        return;
    }
    char poll[64];
    if (c->conductor.long_poll)
        snprintf(poll, sizeof poll, "long poll %ds", c->conductor.poll_interval_s);
    else
        snprintf(poll, sizeof poll, "long poll off, poll every %ds", c->conductor.poll_interval_s);
    snprintf(out, outsz, "warden agent: instance %s, leader %s, policy bundle polling enabled, "
             "remote kill %s, %s", c->instance_id, c->conductor.leader_url,
             c->conductor.honor_kill ? "honored" : "verified and reported, not honored", poll);
}
