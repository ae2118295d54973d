/* runconfig.c — strict decoding of RunConfig JSON (SPEC §7) into wd_runconfig. Must never put an
 * environment value into a message or a log, and never return a half-filled RunConfig. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/base.h"
#include "codec/json.h"
#include "policy_doc.h"
#include "policy_int.h"
#include "runconfig_json.h"

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

static void free_profile(wd_profile *p)
{
    if (p == NULL)
        return;
    free_strv(p->allow_hosts, p->n_allow_hosts);
    free(p->allow_ports);
    free_strv(p->read, p->n_read);
    free_strv(p->write, p->n_write);
    free_strv(p->env, p->n_env);
    free(p);
}

void wd_runconfig_free(wd_runconfig *rc)
{
    if (rc == NULL)
        return;
    free(rc->name);
    free(rc->group);
    free(rc->transport);
    free_strv(rc->command, rc->n_command);
    free(rc->image);
    free(rc->remote_url);
    free(rc->registry_url);
    free(rc->registry_api_url);
    free(rc->registry_server_name);
    free(rc->profile_name);
    free_profile(rc->profile);
    for (size_t i = 0; rc->env != NULL && i < rc->n_env; i++) {
        free(rc->env[i].key);
        if (rc->env[i].value != NULL) {
            OPENSSL_cleanse(rc->env[i].value, strlen(rc->env[i].value));
            free(rc->env[i].value);
        }
    }
    free(rc->env);
    free_strv(rc->volumes, rc->n_volumes);
    for (size_t i = 0; rc->labels != NULL && i < rc->n_labels; i++) {
        free(rc->labels[i].key);
        free(rc->labels[i].value);
    }
    free(rc->labels);
    free(rc);
}

static wd_code nomem(wd_err *e) { return wd_err_set(e, WD_E_NOMEM, "RunConfig: out of memory"); }

static bool has_nul(const json_t *s) { return strlen(json_string_value(s)) != json_string_length(s); }

/* A string field: absent -> dflt. */
static wd_code str_field(const json_t *v, const char *key, const char *dflt, char **out, wd_err *e)
{
    const json_t *s = json_object_get(v, key);
    if (s != NULL && has_nul(s))
        return wd_err_set(e, WD_E_MALFORMED, "%s: contains a NUL byte", key);
    const char *val = s ? json_string_value(s) : dflt;
    if (val[0] == '\0')
        val = dflt;
    if ((*out = strdup(val)) == NULL)
        return nomem(e);
    return WD_OK;
}

static wd_code strv_field(const json_t *arr, const char *key, char ***out, size_t *n, wd_err *e)
{
    size_t cnt = json_array_size(arr);
    *out = NULL;
    *n = 0;
    if (cnt == 0)
        return WD_OK;
    char **v = calloc(cnt, sizeof *v);
    if (v == NULL)
        return nomem(e);
    for (size_t i = 0; i < cnt; i++) {
        const json_t *s = json_array_get(arr, i);
        if (!json_is_string(s) || has_nul(s)) {
            free_strv(v, i);
            return wd_err_set(e, WD_E_MALFORMED, "%s[%zu]: expected a string", key, i);
        }
        if ((v[i] = strdup(json_string_value(s))) == NULL) {
            free_strv(v, i);
            return nomem(e);
        }
    }
    *out = v;
    *n = cnt;
    return WD_OK;
}

static bool env_name_ok(const char *k)
{
    if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
        return false;
    for (const char *q = k + 1; *q; q++)
        if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
              *q == '_'))
            return false;
    return true;
}

static wd_code profile_from(const json_t *v, wd_profile **out, wd_err *e)
{
    wd_code rc = wd_profile_check(v, "permission_profile", true, e);
    if (rc != WD_OK)
        return rc;
    wd_profile *p = calloc(1, sizeof *p);
    if (p == NULL)
        return nomem(e);
    const json_t *net = json_object_get(v, "network");
    if (json_is_string(net) && strcmp(json_string_value(net), "host") == 0) {
        p->network = WD_NET_HOST;
    } else if (json_is_object(net)) {
        p->network = WD_NET_ALLOW;
        rc = strv_field(json_object_get(net, "allow_hosts"), "permission_profile.network.allow_hosts",
                        &p->allow_hosts, &p->n_allow_hosts, e);
        const json_t *ports = json_object_get(net, "allow_ports");
        size_t np = json_array_size(ports);
        if (rc == WD_OK && np > 0) {
            if ((p->allow_ports = calloc(np, sizeof *p->allow_ports)) == NULL) {
                rc = nomem(e);
            } else {
                for (size_t i = 0; i < np; i++)
                    p->allow_ports[i] = (uint16_t)json_integer_value(json_array_get(ports, i));
                p->n_allow_ports = np;
            }
        }
    }
    if (rc == WD_OK)
        rc = strv_field(json_object_get(v, "read"), "permission_profile.read", &p->read, &p->n_read, e);
    if (rc == WD_OK)
        rc = strv_field(json_object_get(v, "write"), "permission_profile.write", &p->write,
                        &p->n_write, e);
    if (rc == WD_OK)
        rc = strv_field(json_object_get(v, "env"), "permission_profile.env", &p->env, &p->n_env, e);
    p->privileged = json_is_true(json_object_get(v, "privileged"));
    if (rc != WD_OK) {
        free_profile(p);
        return rc;
    }
    *out = p;
    return WD_OK;
}

/* Copy key k and the string value x into kv (counted by the caller before the call, so that a
 * half-filled entry is freed with the rest); out of memory -> WD_E_NOMEM. */
static wd_code kv_add(wd_kv *kv, const char *k, const json_t *x, wd_err *e)
{
    kv->key = strdup(k);
    kv->value = strdup(json_string_value(x));
    if (kv->key == NULL || kv->value == NULL)
        return nomem(e);
    return WD_OK;
}

static wd_code env_from(const json_t *v, wd_runconfig *rc, wd_err *e)
{
    size_t n = json_object_size(v);
    if (n == 0)
        return WD_OK;
    if ((rc->env = calloc(n, sizeof *rc->env)) == NULL)
        return nomem(e);
    const char *k;
    json_t *x;
    char shown[160];
    json_object_foreach((json_t *)v, k, x) {
        wd_clean_text(k, shown, sizeof shown);
        if (!env_name_ok(k))
            return wd_err_set(e, WD_E_MALFORMED, "env.%s: not an environment variable name",
                              shown);
        if (!json_is_string(x))
            return wd_err_set(e, WD_E_MALFORMED, "env.%s: expected a string", shown);
        if (has_nul(x))
            return wd_err_set(e, WD_E_MALFORMED, "env.%s: value contains a NUL byte", shown);
        if (kv_add(&rc->env[rc->n_env++], k, x, e) != WD_OK)
            return WD_E_NOMEM;
    }
    return WD_OK;
}

static wd_code labels_from(const json_t *v, wd_runconfig *rc, wd_err *e)
{
    size_t n = json_object_size(v);
    if (n > WD_MAX_LABELS)
        return wd_err_set(e, WD_E_OVERSIZED, "labels: %zu labels, more than %d", n,
                          WD_MAX_LABELS);
    if (n == 0)
        return WD_OK;
    if ((rc->labels = calloc(n, sizeof *rc->labels)) == NULL)
        return nomem(e);
    const char *k;
    json_t *x;
    char shown[160];
    json_object_foreach((json_t *)v, k, x) {
        wd_clean_text(k, shown, sizeof shown);
        if (!wd_id_valid(k))
            return wd_err_set(e, WD_E_MALFORMED, "labels.%s: label key is not an id", shown);
        if (!json_is_string(x))
            return wd_err_set(e, WD_E_MALFORMED, "labels.%s: expected a string", shown);
        if (json_string_length(x) > WD_MAX_LABEL_VALUE)
            return wd_err_set(e, WD_E_OVERSIZED, "labels.%s: value longer than %d bytes", shown,
                              WD_MAX_LABEL_VALUE);
        for (const unsigned char *q = (const unsigned char *)json_string_value(x); *q; q++)
            if (*q < 0x20 || *q == 0x7f)
                return wd_err_set(e, WD_E_MALFORMED,
                                  "labels.%s: value contains a control character", shown);
        if (has_nul(x))
            return wd_err_set(e, WD_E_MALFORMED, "labels.%s: value contains a NUL byte", shown);
        if (kv_add(&rc->labels[rc->n_labels++], k, x, e) != WD_OK)
            return WD_E_NOMEM;
    }
    return WD_OK;
}

static wd_code fill(const json_t *v, wd_runconfig *rc, wd_err *e)
{
    static const wd_jfield fields[] = {
        {"name", WD_JT_STRING, true},
        {"group", WD_JT_STRING, false},
        {"transport", WD_JT_STRING, false},
        {"command", WD_JT_ARRAY, false},
        {"image", WD_JT_STRING, false},
        {"remote_url", WD_JT_STRING, false},
        {"registry_url", WD_JT_STRING, false},
        {"registry_api_url", WD_JT_STRING, false},
        {"registry_server_name", WD_JT_STRING, false},
        {"permission_profile", WD_JT_ANY, false},
        {"env", WD_JT_OBJECT, false},
        {"volumes", WD_JT_ARRAY, false},
        {"labels", WD_JT_OBJECT, false},
    };
    wd_code r = wd_json_check(v, "", fields, sizeof fields / sizeof fields[0], e);
    if (r != WD_OK)
        return r;
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!wd_id_valid(name))
        return wd_err_set(e, WD_E_MALFORMED, "name: not an id");
    const json_t *group = json_object_get(v, "group");
    if (group != NULL && json_string_length(group) > 0 && !wd_id_valid(json_string_value(group)))
        return wd_err_set(e, WD_E_MALFORMED, "group: not an id");
    const json_t *tr = json_object_get(v, "transport");
    if (tr != NULL && json_string_length(tr) > 0) {
        const char *t = json_string_value(tr);
        if (strcmp(t, "stdio") != 0 && strcmp(t, "sse") != 0 && strcmp(t, "streamable-http") != 0)
            return wd_err_set(e, WD_E_MALFORMED, "transport: must be stdio, sse or streamable-http");
    }
    if ((r = str_field(v, "name", "", &rc->name, e)) != WD_OK ||
        (r = str_field(v, "group", "default", &rc->group, e)) != WD_OK ||
        (r = str_field(v, "transport", "stdio", &rc->transport, e)) != WD_OK ||
        (r = str_field(v, "image", "", &rc->image, e)) != WD_OK ||
        (r = str_field(v, "remote_url", "", &rc->remote_url, e)) != WD_OK ||
        (r = str_field(v, "registry_url", "", &rc->registry_url, e)) != WD_OK ||
        (r = str_field(v, "registry_api_url", "", &rc->registry_api_url, e)) != WD_OK ||
        (r = str_field(v, "registry_server_name", "", &rc->registry_server_name, e)) != WD_OK)
        return r;
    const json_t *cmd = json_object_get(v, "command");
    if (cmd != NULL) {
        if (json_array_size(cmd) == 0)
            return wd_err_set(e, WD_E_MALFORMED, "command: empty list");
        if ((r = strv_field(cmd, "command", &rc->command, &rc->n_command, e)) != WD_OK)
            return r;
        if (rc->command[0][0] == '\0')
            return wd_err_set(e, WD_E_MALFORMED, "command[0]: empty program name");
    }
    int given = (rc->n_command > 0) + (rc->image[0] != '\0') + (rc->remote_url[0] != '\0');
    if (given != 1)
        return wd_err_set(e, WD_E_MALFORMED,
                          given == 0 ? "RunConfig: one of command, image, remote_url is required"
                                     : "RunConfig: give only one of command, image, remote_url");
    const json_t *prof = json_object_get(v, "permission_profile");
    if (json_is_string(prof)) {
        if (json_string_length(prof) > 0) {
            if (!wd_id_valid(json_string_value(prof)))
                return wd_err_set(e, WD_E_MALFORMED, "permission_profile: not an id");
            if ((rc->profile_name = strdup(json_string_value(prof))) == NULL)
                return nomem(e);
        }
    } else if (json_is_object(prof)) {
        if ((r = profile_from(prof, &rc->profile, e)) != WD_OK)
            return r;
    } else if (prof != NULL) {
        return wd_err_set(e, WD_E_MALFORMED,
                          "permission_profile: expected a profile name or a profile object");
    }
    if ((r = env_from(json_object_get(v, "env"), rc, e)) != WD_OK)
        return r;
    const json_t *vols = json_object_get(v, "volumes");
    if ((r = strv_field(vols, "volumes", &rc->volumes, &rc->n_volumes, e)) != WD_OK)
        return r;
    for (size_t i = 0; i < rc->n_volumes; i++) {
        char host[WD_MAX_GLOB_LEN];
        bool rw;
        if (strlen(rc->volumes[i]) > WD_MAX_GLOB_LEN ||
            !wd_volume_parse(rc->volumes[i], host, WD_MAX_GLOB_LEN - 2, &rw))
            return wd_err_set(e, WD_E_MALFORMED,
                              "volumes[%zu]: expected HOST:CONTAINER[:ro|:rw] with absolute, "
                              "normalized paths and no glob characters in HOST",
                              i);
    }
    return labels_from(json_object_get(v, "labels"), rc, e);
}

wd_code wd_runconfig_from_json(const json_t *v, wd_runconfig **out, wd_err *e)
{
    *out = NULL;
    wd_runconfig *rc = calloc(1, sizeof *rc);
    if (rc == NULL)
        return nomem(e);
    wd_code r = fill(v, rc, e);
    if (r != WD_OK) {
        wd_runconfig_free(rc);
        return r;
    }
    *out = rc;
    return WD_OK;
}

wd_code wd_runconfig_decode(const unsigned char *buf, size_t len, wd_runconfig **out, wd_err *e)
{
    *out = NULL;
    json_t *v = NULL;
    wd_code r = wd_json_parse(buf, len, WD_MAX_RUNCONFIG, &v, e);
    if (r != WD_OK)
        return r;
    r = wd_runconfig_from_json(v, out, e);
    json_decref(v);
    return r;
}

wd_code wd_runconfig_load_file(const char *path, wd_runconfig **out, wd_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code r = wd_read_file(path, WD_MAX_RUNCONFIG, &buf, &len, e);
    if (r != WD_OK)
        return r;
    r = wd_runconfig_decode(buf, len, out, e);
    if (r != WD_OK && r != WD_E_NOMEM) {
        char shown[256];
        wd_clean_text(strcmp(path, "-") == 0 ? "<stdin>" : path, shown, sizeof shown);
        wd_err_prefix(e, r, "%s", shown);
    }
    OPENSSL_cleanse(buf, len);
    free(buf);
    return r;
}
