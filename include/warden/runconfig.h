/* runconfig.h — what the create-server gate sees (SPEC §7): a server's name, how it is started,
 * where it came from, and the permissions it asks for. Plain data, so a downstream gate can read
 * it and a test can build one by hand. Decoding never logs or prints environment values, and
 * never returns a half-checked RunConfig. */
#ifndef WARDEN_RUNCONFIG_H
#define WARDEN_RUNCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Network access of a permission profile (SPEC §6). */
typedef enum wd_network {
    WD_NET_NONE = 0, /* no network at all */
    WD_NET_HOST,     /* the host's network, unrestricted */
    WD_NET_ALLOW     /* only allow_hosts (globs) on allow_ports */
} wd_network;

/* A permission profile: what a server may touch. Lists hold globs (SPEC §6 glob syntax).
 * An empty list grants nothing on that axis. */
typedef struct wd_profile {
    wd_network network;
    char **allow_hosts;     /* WD_NET_ALLOW only: host globs, lower case */
    size_t n_allow_hosts;
    uint16_t *allow_ports;  /* WD_NET_ALLOW only: 1..65535 */
    size_t n_allow_ports;
    char **read;            /* path globs the server may read */
    size_t n_read;
    char **write;           /* path globs the server may write */
    size_t n_write;
    char **env;             /* environment variable name globs the server may receive */
    size_t n_env;
    bool privileged;
} wd_profile;

/* A key and a value (environment variables, labels). */
typedef struct wd_kv {
    char *key;
    char *value;
} wd_kv;

/* A RunConfig. Strings are NUL-terminated; absent strings are "" (never NULL) when the value
 * comes from wd_runconfig_decode. Built by hand, NULL strings are read as "".
 * Requested permissions: the profile (named or inline; neither = asks for nothing), plus every
 * env key, plus each volume "HOST:CONTAINER[:ro|:rw]" as read (ro) or read and write (rw, the
 * default) of everything under HOST (the glob HOST followed by slash-star-star). */
typedef struct wd_runconfig {
    char *name;                 /* required: an id (SPEC §1.1) */
    char *group;                /* "default" when absent */
    char *transport;            /* stdio | sse | streamable-http; "stdio" when absent */
    char **command;             /* argv; n_command == 0 when absent */
    size_t n_command;
    char *image;
    char *remote_url;
    char *registry_url;
    char *registry_api_url;
    char *registry_server_name;
    char *profile_name;         /* permission_profile given as a name, else NULL */
    wd_profile *profile;        /* permission_profile given inline, else NULL */
    wd_kv *env;                 /* values are secret-ish: never logged */
    size_t n_env;
    char **volumes;
    size_t n_volumes;
    wd_kv *labels;
    size_t n_labels;
} wd_runconfig;

/* Decode a RunConfig from strict JSON (buf[0..len), at most WD_MAX_RUNCONFIG bytes).
 * Rejections: a field not in the schema -> WD_E_UNKNOWN_FIELD; a missing name, wrong JSON
 * types, a name or label key that is not an id, a bad transport, an env name that is not
 * [A-Za-z_][A-Za-z0-9_]*, a bad volume, an invalid inline profile, none or more than one of
 * command/image/remote_url -> WD_E_MALFORMED; more than WD_MAX_LABELS labels, a label value over
 * WD_MAX_LABEL_VALUE bytes, or an oversized document -> WD_E_OVERSIZED; repeated keys ->
 * WD_E_DUPLICATE_KEY; trailing data -> WD_E_TRAILING_DATA. Messages name the field, never an
 * env value. On success the caller owns *out (wd_runconfig_free); on error *out is NULL. */
wd_code wd_runconfig_decode(const unsigned char *buf, size_t len, wd_runconfig **out, wd_err *e);

/* wd_runconfig_decode on the contents of path (read with the WD_MAX_RUNCONFIG cap; "-" is
 * stdin). I/O problems are WD_E_IO. A rejection's message starts with the file name ("<stdin>"
 * for "-"): "fs.json: nmae: unknown field (did you mean 'name'?)", "fs.json: JSON document
 * rejected at line 3, column 5 (byte 40): ...". Ownership as for wd_runconfig_decode. */
wd_code wd_runconfig_load_file(const char *path, wd_runconfig **out, wd_err *e);

/* Free a RunConfig made by this library (decode, load_file), wiping env values. NULL is a no-op.
 * Never call it on a RunConfig built by hand. */
void wd_runconfig_free(wd_runconfig *rc);

#ifdef __cplusplus
}
#endif
#endif
