/* config.c — `warden leader` configuration: defaults, the strict leader.yaml (parsed with the
 * project's limited YAML loader; unknown keys are errors that name their path), one setter
 * shared by the file and the flags, and the final check of required options.
 * It must never accept an unknown key, a value of the wrong type, or one outside its range. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "base/base.h"
#include "codec/spiffe.h"
#include "codec/yaml.h"
#include "config.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

wd_code wd_leader_config_init(wd_leader_config *c, wd_err *e)
{
    memset(c, 0, sizeof *c);
    c->store_url = dup_or_null(WD_LEADER_DEFAULT_STORE);
    c->probe_listen = dup_or_null(WD_LEADER_DEFAULT_PROBE);
    c->workers = 0;
    c->max_conns = WD_LEADER_MAX_CONNS;
    c->log_format = WD_LOG_JSON;
    c->log_level = WD_LOG_INFO;
    c->handshake_timeout_s = WD_LEADER_HANDSHAKE_S;
    c->idle_timeout_s = WD_LEADER_IDLE_S;
    c->body_timeout_s = WD_LEADER_BODY_S;
    c->drain_timeout_s = WD_LEADER_DRAIN_S;
    if (c->store_url == NULL || c->probe_listen == NULL) {
        wd_leader_config_free(c);
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    }
    return WD_OK;
}

void wd_leader_config_free(wd_leader_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nlisten; i++)
        free(c->listen[i]);
    free(c->cert);
    free(c->key);
    free(c->client_ca);
    free(c->trust_domain);
    free(c->roster_path);
    free(c->pin);
    free(c->store_url);
    free(c->probe_listen);
    free(c->ui_listen);
    free(c->ui_token_file);
    memset(c, 0, sizeof *c);
}

bool wd_leader_parse_addr(const char *s, struct sockaddr_storage *ss, int *len)
{
    memset(ss, 0, sizeof *ss);
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
        return false;
    long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (*p - '0');
    }
    if (port > 65535)
        return false;
    char host[64];
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host || hl == 0)
        return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']')
            return false;
        host[hl - 1] = '\0';
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            return false;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = (int)sizeof *s6;
        return true;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
        return false;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = (int)sizeof *s4;
    return true;
}

/* Is s ("ADDR:PORT") an address of 127.0.0.0/8 or [::1]? False when it does not parse. */
static bool addr_loopback(const char *s)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    if (!wd_leader_parse_addr(s, &ss, &len))
        return false;
    if (ss.ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    return ss.ss_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&ss)->sin6_addr);
}

static bool addr_valid(const char *s)
{
    struct sockaddr_storage ss;
    int len;
    return wd_leader_parse_addr(s, &ss, &len);
}

static bool parse_int(const char *v, long lo, long hi, int *out)
{
    char *end;
    if (*v == '\0' || *v == '+' || *v == '-' || *v == ' ')
        return false;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi)
        return false;
    *out = (int)n;
    return true;
}

/* Seconds: "30" or a duration "30s", "2m". */
static bool parse_seconds(const char *v, int *out)
{
    if (parse_int(v, 1, WD_LEADER_MAX_TIMEOUT_S, out))
        return true;
    int64_t s;
    wd_err e;
    if (wd_duration_parse(v, &s, &e) != WD_OK || s < 1 || s > WD_LEADER_MAX_TIMEOUT_S)
        return false;
    *out = (int)s;
    return true;
}

static wd_code set_str(char **slot, const char *value, const char *name, wd_err *e)
{
    if (value[0] == '\0')
        return wd_err_set(e, WD_E_USAGE, "%s: must not be empty", name);
    char *d = strdup(value);
    if (d == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    free(*slot);
    *slot = d;
    return WD_OK;
}

wd_code wd_leader_config_set(wd_leader_config *c, const char *name, const char *value,
                             wd_err *e)
{
    if (strcmp(name, "listen") == 0) {
        if (!addr_valid(value))
            return wd_err_set(e, WD_E_USAGE, "listen: '%s' is not ADDR:PORT", value);
        if (c->nlisten >= WD_LEADER_MAX_LISTEN)
            return wd_err_set(e, WD_E_USAGE, "listen: at most %d addresses",
                              WD_LEADER_MAX_LISTEN);
        char *d = strdup(value);
        if (d == NULL)
            return wd_err_set(e, WD_E_NOMEM, "out of memory");
        c->listen[c->nlisten++] = d;
        return WD_OK;
    }
    if (strcmp(name, "probe_listen") == 0 || strcmp(name, "ui_listen") == 0) {
        if (!addr_valid(value))
            return wd_err_set(e, WD_E_USAGE, "%s: '%s' is not ADDR:PORT", name, value);
        return set_str(name[0] == 'p' ? &c->probe_listen : &c->ui_listen, value, name, e);
    }
    if (strcmp(name, "ui_token_file") == 0)
        return set_str(&c->ui_token_file, value, name, e);
    if (strcmp(name, "cert") == 0)
        return set_str(&c->cert, value, name, e);
    if (strcmp(name, "key") == 0)
        return set_str(&c->key, value, name, e);
    if (strcmp(name, "client_ca") == 0)
        return set_str(&c->client_ca, value, name, e);
    if (strcmp(name, "roster") == 0)
        return set_str(&c->roster_path, value, name, e);
    if (strcmp(name, "pin") == 0)
        return set_str(&c->pin, value, name, e);
    if (strcmp(name, "store") == 0)
        return set_str(&c->store_url, value, name, e);
    if (strcmp(name, "trust_domain") == 0) {
        if (!wd_spiffe_td_valid(value))
            return wd_err_set(e, WD_E_USAGE,
                              "trust_domain: '%s' is not a trust domain name "
                              "(lowercase letters, digits, '.', '-', '_')", value);
        return set_str(&c->trust_domain, value, name, e);
    }
    int n;
    if (strcmp(name, "workers") == 0) {
        if (!parse_int(value, 0, WD_LEADER_MAX_WORKERS, &n))
            return wd_err_set(e, WD_E_USAGE, "workers: '%s' is not an integer 0..%d (0: one "
                              "per core)", value, WD_LEADER_MAX_WORKERS);
        c->workers = n;
        return WD_OK;
    }
    if (strcmp(name, "max_conns") == 0) {
        if (!parse_int(value, 1, 1000000, &n))
            return wd_err_set(e, WD_E_USAGE, "max_conns: '%s' is not an integer 1..1000000",
                              value);
        c->max_conns = n;
        return WD_OK;
    }
    if (strcmp(name, "log.format") == 0) {
        if (strcmp(value, "json") == 0)
            c->log_format = WD_LOG_JSON;
        else if (strcmp(value, "text") == 0)
            c->log_format = WD_LOG_TEXT;
        else
            return wd_err_set(e, WD_E_USAGE, "log.format: '%s' is not json or text", value);
        return WD_OK;
    }
    if (strcmp(name, "log.level") == 0) {
        static const char *const lv[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++)
            if (strcmp(value, lv[i]) == 0) {
                c->log_level = (wd_log_level)i;
                return WD_OK;
            }
        return wd_err_set(e, WD_E_USAGE, "log.level: '%s' is not debug, info, warn or error",
                          value);
    }
    int *t = strcmp(name, "handshake_timeout") == 0 ? &c->handshake_timeout_s
           : strcmp(name, "idle_timeout") == 0      ? &c->idle_timeout_s
           : strcmp(name, "body_timeout") == 0      ? &c->body_timeout_s
           : strcmp(name, "drain_timeout") == 0     ? &c->drain_timeout_s
                                                    : NULL;
    if (t != NULL) {
        if (!parse_seconds(value, &n))
            return wd_err_set(e, WD_E_USAGE, "%s: '%s' is not 1..%d seconds (an integer or a "
                              "duration like 30s)", name, value, WD_LEADER_MAX_TIMEOUT_S);
        *t = n;
        return WD_OK;
    }
    return wd_err_set(e, WD_E_USAGE, "%s: unknown key", name);
}

/* The text of a scalar as a flag would give it; NULL for anything else. */
static const char *scalar_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

static const char *const string_keys[] = {
    "cert", "key", "client_ca", "trust_domain", "roster", "pin", "store", "probe_listen",
    "ui_listen", "ui_token_file", "workers", "max_conns", "handshake_timeout", "idle_timeout",
    "body_timeout", "drain_timeout", NULL,
};

static wd_code load_tree(const char *path, const json_t *root, wd_leader_config *c, wd_err *e)
{
    if (json_is_null(root))
        return WD_OK; /* an empty file sets nothing */
    if (!json_is_object(root))
        return wd_err_set(e, WD_E_USAGE, "%s: the top level must be a mapping", path);
    const char *k;
    json_t *v;
    char num[32];
    json_object_foreach((json_t *)root, k, v) {
        wd_code rc;
        if (strcmp(k, "listen") == 0) {
            for (size_t i = 0; i < c->nlisten; i++)
                free(c->listen[i]);
            c->nlisten = 0;
            if (json_is_string(v)) {
                rc = wd_leader_config_set(c, "listen", json_string_value(v), e);
            } else if (json_is_array(v) && json_array_size(v) > 0) {
                rc = WD_OK;
                size_t i;
                json_t *item;
                json_array_foreach(v, i, item) {
                    if (!json_is_string(item)) {
                        rc = wd_err_set(e, WD_E_USAGE, "listen[%zu]: must be a string", i);
                        break;
                    }
                    rc = wd_leader_config_set(c, "listen", json_string_value(item), e);
                    if (rc != WD_OK)
                        break;
                }
            } else {
                rc = wd_err_set(e, WD_E_USAGE,
                                "listen: must be an address or a non-empty list of them");
            }
        } else if (strcmp(k, "log") == 0) {
            if (!json_is_object(v)) {
                rc = wd_err_set(e, WD_E_USAGE, "log: must be a mapping");
            } else {
                rc = WD_OK;
                const char *lk;
                json_t *lv;
                json_object_foreach(v, lk, lv) {
                    char name[160];
                    snprintf(name, sizeof name, "log.%s", lk);
                    if (strcmp(lk, "format") != 0 && strcmp(lk, "level") != 0) {
                        rc = wd_err_set(e, WD_E_USAGE, "%s: unknown key", name);
                        break;
                    }
                    if (!json_is_string(lv)) {
                        rc = wd_err_set(e, WD_E_USAGE, "%s: must be a string", name);
                        break;
                    }
                    rc = wd_leader_config_set(c, name, json_string_value(lv), e);
                    if (rc != WD_OK)
                        break;
                }
            }
        } else {
            bool known = false;
            for (size_t i = 0; string_keys[i]; i++)
                if (strcmp(k, string_keys[i]) == 0)
                    known = true;
            if (!known) {
                rc = wd_err_set(e, WD_E_USAGE, "%s: unknown key", k);
            } else {
                const char *text = scalar_text(v, num, sizeof num);
                rc = text ? wd_leader_config_set(c, k, text, e)
                          : wd_err_set(e, WD_E_USAGE, "%s: must be a scalar", k);
            }
        }
        if (rc != WD_OK)
            return wd_err_prefix(e, rc, "%s", path);
    }
    return WD_OK;
}

wd_code wd_leader_config_load(const char *path, wd_leader_config *c, wd_err *e)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code rc = wd_read_file(path, WD_LEADER_MAX_CONFIG, &buf, &len, e);
    if (rc != WD_OK) {
        if (rc == WD_E_OVERSIZED)
            return wd_err_set(e, WD_E_USAGE, "%s: larger than %u bytes", path,
                              WD_LEADER_MAX_CONFIG);
        return rc;
    }
    json_t *root = NULL;
    rc = wd_yaml_load(buf, len, &root, e);
    free(buf);
    if (rc != WD_OK)
        return wd_err_prefix(e, WD_E_USAGE, "%s", path);
    rc = load_tree(path, root, c, e);
    json_decref(root);
    return rc;
}

wd_code wd_leader_config_check(const wd_leader_config *c, wd_err *e)
{
    if (c->nlisten == 0)
        return wd_err_set(e, WD_E_USAGE, "--listen is required");
    if (c->cert == NULL)
        return wd_err_set(e, WD_E_USAGE, "--cert is required");
    if (c->key == NULL)
        return wd_err_set(e, WD_E_USAGE, "--key is required");
    if (c->client_ca == NULL)
        return wd_err_set(e, WD_E_USAGE, "--client-ca is required");
    if (c->trust_domain == NULL)
        return wd_err_set(e, WD_E_USAGE, "--trust-domain is required");
    if (c->roster_path == NULL)
        return wd_err_set(e, WD_E_USAGE, "--roster is required");
    if (c->pin == NULL)
        return wd_err_set(e, WD_E_USAGE, "--pin is required");
    if (c->ui_token_file != NULL && c->ui_listen == NULL)
        return wd_err_set(e, WD_E_USAGE, "--ui-token-file needs --ui-listen");
    if (c->ui_listen != NULL && c->ui_token_file == NULL && !addr_loopback(c->ui_listen))
        return wd_err_set(e, WD_E_USAGE, "--ui-listen %s is not a loopback address: "
                          "--ui-token-file is required", c->ui_listen);
    return WD_OK;
}
