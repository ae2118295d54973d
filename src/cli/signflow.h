/* signflow.h — signing one message by several people, on several machines: what the create
 * commands (with --draft), `warden sign` and `warden dsse merge` share. Which purpose and size
 * cap an envelope's type has, whether a key's signature would count, the status line ("1 of 2
 * remote-kill-signing signatures (need 2): needs one more by a key with purpose ..."), and the
 * --roster/--pin/--previous flags that say which roster to count against.
 * Nothing here changes a payload, and nothing here writes a file. */
#ifndef WD_SIGNFLOW_H
#define WD_SIGNFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgcli.h"
#include "msg/dsse.h"
#include "trust/roster.h"

/* getopt_long values of the long-only flags below (above every short option character). */
enum {
    SIGNFLOW_OPT_DRAFT = 1001,
    SIGNFLOW_OPT_FORCE,
    SIGNFLOW_OPT_ROSTER,
    SIGNFLOW_OPT_PIN,
    SIGNFLOW_OPT_PREVIOUS,
};

/* Help lines for --draft and --force, the same in every command that has them. */
#define SIGNFLOW_DRAFT_HELP                                                                    \
    "  --draft                write it even when unsigned or short of its threshold, for\n"   \
    "                         others to sign with 'warden sign'; prints how many more\n"      \
    "                         signatures it needs and by whom\n"
#define SIGNFLOW_FORCE_HELP                                                                    \
    "  --force                replace --out when it exists (default: refuse, exit 1)\n"

/* The roster a status is counted against: --roster FILE --pin DIGEST [--previous ROSTER...].
 * The strings point into argv. */
typedef struct signflow_roster {
    const char *roster, *pin;
    char *previous[MSGCLI_MAX_CHAIN];
    size_t nprevious;
} signflow_roster;

/* getopt_long rows for signflow_roster_flag. */
#define SIGNFLOW_ROSTER_OPTS                                                                   \
    {"roster", required_argument, NULL, SIGNFLOW_OPT_ROSTER},                                  \
        {"pin", required_argument, NULL, SIGNFLOW_OPT_PIN},                                    \
        {"previous", required_argument, NULL, SIGNFLOW_OPT_PREVIOUS}

/* Take the value of a roster flag ch into o: 0 when taken, 2 after a usage error (too many
 * --previous), -1 when ch is not one of them. Nothing is allocated. */
int signflow_roster_flag(int ch, char *arg, signflow_roster *o, const char *usage);

/* Load the roster o names, verified from --pin through the --previous chain at now
 * (msgcli_load_chain). *out is NULL when --roster was not given. Returns 0, or the exit code
 * after printing the usage error (--roster without --pin or the reverse, a --pin that is not a
 * digest) or the rejection; on error *out is NULL. On success the caller frees *out. */
int signflow_roster_load(const signflow_roster *o, int64_t now, const char *usage,
                         wd_roster **out);

/* The purpose whose threshold a payload type needs, the envelope cap of that type, and a noun
 * for messages ("remote kill"). False for a type warden does not sign. Pure. */
bool signflow_type_info(const char *type, wd_purpose *p, size_t *max, const char **noun);

/* Read an envelope of any warden type (drafts with no signature included) from path: at most
 * the cap of its type (1 MiB before the type is known). On success the caller frees *out with
 * wd_dsse_free and *max (may be NULL) gets the cap; on error e says why ("<path>: ..."),
 * WD_E_WRONG_TYPE for a type warden does not sign. */
wd_code signflow_read(const char *path, wd_dsse *out, size_t *max, wd_err *e);

/* For a roster envelope and r given: r must be the roster the envelope replaces (version one
 * less), else WD_E_USAGE. Other types, or r NULL: WD_OK. Pure. */
wd_code signflow_check_previous(const wd_dsse *env, const wd_roster *r, wd_err *e);

/* Would a signature by k on env count? A roster envelope: k must be a root key that counts in
 * the roster env carries, or in r (the roster it replaces; may be NULL). Any other type: when r
 * is given, k must count for the type's purpose in r (wd_roster_key_counts); without r nothing
 * is checked. WD_OK, or the verifier's code for such a signature with a message saying why. */
wd_code signflow_signer_counts(const wd_dsse *env, const wd_key *k, const wd_roster *r,
                               int64_t now, wd_err *e);

/* Print env's status line(s) to stdout, counted at now: for a roster envelope, its root
 * signatures against the root keys it carries and, when r (the roster it replaces) is given,
 * against r's root keys; for another type, against r's keys for the type's purpose, or only
 * the count when r is NULL. has_roster_flags says whether the command takes --roster (so the
 * line for a missing roster can suggest it). Returns true when every threshold shown is met. */
bool signflow_status(const wd_dsse *env, const wd_roster *r, int64_t now, bool has_roster_flags);

/* Print the status of the envelope just written (data[0..len), a draft or not) with
 * signflow_status against r (may be NULL: the count only). Prints nothing when it does not
 * decode. */
void signflow_print_written(const char *data, size_t len, const wd_roster *r);

/* For a create command given --roster and --pin (r not NULL): every key of keys[0..n) must
 * count for purpose p in r at now (wd_roster_key_counts), else that code with the message
 * prefixed "--sign <path>". WD_OK when r is NULL. Nothing is allocated. */
wd_code signflow_signers_count(const wd_roster *r, wd_purpose p, wd_key *const *keys, size_t n,
                               char *const *paths, int64_t now, wd_err *e);

#endif
