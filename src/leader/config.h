/* config.h — `warden leader`'s configuration: defaults, the strict --config YAML file (unknown
 * keys are errors naming their path), and the checks run once flags have been applied over the
 * file. It must never accept a key it does not know or a value outside its range. */
#ifndef WD_LEADER_CONFIG_H
#define WD_LEADER_CONFIG_H

#include <stdbool.h>
#include <sys/socket.h>

#include "warden/error.h"
#include "leader.h"

#define WD_LEADER_MAX_CONFIG (64u * 1024u) /* a leader.yaml larger than this is refused */
#define WD_LEADER_MAX_WORKERS 256
#define WD_LEADER_MAX_TIMEOUT_S 3600

/* Fill c with the defaults (store, probe listener, caps, timeouts, JSON logs at info); strings
 * that have defaults are allocated. Returns WD_E_NOMEM (c freed) when out of memory. */
wd_code wd_leader_config_init(wd_leader_config *c, wd_err *e);
/* Free every string of c and zero it. */
void wd_leader_config_free(wd_leader_config *c);

/* Read the YAML file at path into c: each key present replaces c's value (a listen list
 * replaces the whole list). Keys: listen (string or list), cert, key, client_ca,
 * trust_domain, roster, pin, store, probe_listen, ui_listen, ui_token_file, workers, max_conns,
 * log: {format: json|text, level: debug|info|warn|error}, handshake_timeout, idle_timeout,
 * body_timeout, drain_timeout (seconds as an integer, or a duration like "30s").
 * Errors: WD_E_IO (unreadable), WD_E_USAGE "PATH: KEY: unknown key" / "PATH: KEY: ..." for
 * anything else. On error c may hold some of the file's values: the caller frees it and exits. */
wd_code wd_leader_config_load(const char *path, wd_leader_config *c, wd_err *e);

/* Set one option by its config name (the same names as above; "log.format", "log.level" for
 * the nested ones) from text, as a flag gives it: "listen" appends. WD_E_USAGE with the name
 * when the value is invalid; c unchanged on error. */
wd_code wd_leader_config_set(wd_leader_config *c, const char *name, const char *value,
                             wd_err *e);

/* Check that everything required is present: listen, cert, key, client_ca, trust_domain,
 * roster, pin. WD_E_USAGE naming the first missing flag ("--cert is required"); also when
 * ui_listen is not a loopback address and ui_token_file is not given, or ui_token_file is given
 * without ui_listen. */
wd_code wd_leader_config_check(const wd_leader_config *c, wd_err *e);

/* Parse "A.B.C.D:PORT" or "[IPv6]:PORT" (numeric addresses only; PORT 0..65535, 0 letting the
 * kernel choose) into *ss and *len. False when s is anything else. */
bool wd_leader_parse_addr(const char *s, struct sockaddr_storage *ss, int *len);

#endif
