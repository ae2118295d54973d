/* msgcli.h — what the signed-message commands (bundle, kill, rollback, roster) share on the
 * command line: the create flags (scope, audience, --expires-in, --sign, --out), the follower
 * flags of verify (--roster, --pin, scope, --instance, --label, --at), loading signing keys and
 * verified rosters, and reading the files they name. Nothing here writes a file other than the
 * one named by --out, and nothing hands back a roster it has not verified. */
#ifndef WD_MSGCLI_H
#define WD_MSGCLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "warden/limits.h"
#include "crypto/crypto.h"
#include "msg/bundle.h"
#include "msg/message.h"
#include "trust/roster.h"

/* --label flags kept per command: more than WD_MAX_LABELS, so that the verifier says oversized */
#define MSGCLI_MAX_LABELS 256

/* Print "unknown option or missing value: <arg>" for the option getopt_long just refused, with
 * the usage text, on stderr; return 2. Nothing is allocated. */
int msgcli_bad_option(const char *usage, char **argv);

/* Check required flags: pairs of (flag name, its value) ended by NULL. Returns -1 when every
 * value is set; otherwise the usage error naming the first missing flag ("missing --org"),
 * exit code 2. */
int msgcli_require(const char *usage, ...) __attribute__((sentinel));

/* ---- create ---- */

/* The flags every create command takes. Nothing is owned: the strings point into argv. The
 * caller zeroes it and sets expires_in to its default before parsing. */
typedef struct msgcli_create {
    const char *org, *fleet, *env, *instances, *expires_in, *out;
    char *labels[MSGCLI_MAX_LABELS];
    size_t nlabels;
    char *signs[WD_MAX_SIGNATURES];
    size_t nsigns;
    bool draft, force; /* --draft, --force */
    const char *roster, *pin; /* --roster, --pin: count the signers against this roster */
} msgcli_create;

/* getopt_long rows for the flags msgcli_create_flag handles (values 'o', 'f', 'e', 'i', 'l',
 * 'x', 's', 'O', and 1001 --draft, 1002 --force, 1003 --roster, 1004 --pin as in signflow.h;
 * a command's own flags use other values). */
#define MSGCLI_CREATE_OPTS                                                                     \
    {"org", required_argument, NULL, 'o'}, {"fleet", required_argument, NULL, 'f'},            \
        {"env", required_argument, NULL, 'e'}, {"instances", required_argument, NULL, 'i'},    \
        {"label", required_argument, NULL, 'l'}, {"expires-in", required_argument, NULL, 'x'}, \
        {"sign", required_argument, NULL, 's'}, {"out", required_argument, NULL, 'O'},     \
        {"draft", no_argument, NULL, 1001}, {"force", no_argument, NULL, 1002},            \
        {"roster", required_argument, NULL, 1003}, {"pin", required_argument, NULL, 1004}

/* Take the value arg of the shared create flag ch into o. Returns 0 when it was taken, 2 after
 * printing a usage error (too many --label or --sign flags; o is unchanged), and -1 when ch is
 * not a shared flag (o is unchanged). Nothing is allocated. */
int msgcli_create_flag(int ch, char *arg, msgcli_create *o, const char *usage);

/* Append arg to signs[0..*n) (room for WD_MAX_SIGNATURES). Returns 0, or 2 after printing
 * "too many --sign flags" with usage when it is full (nothing changed). Nothing is allocated. */
int msgcli_add_sign(char **signs, size_t *n, char *arg, const char *usage);

/* The audience named by --instances / --label into *out. Returns 0 on success (the caller frees
 * *out with wd_audience_free); otherwise prints the usage error or the rejection and returns
 * the exit code, and nothing needs freeing. */
int msgcli_audience(const msgcli_create *o, const char *usage, wd_audience *out);

/* Point out's fields at --org, --fleet and --env. Borrowed: out must not be freed with
 * wd_scope_free, and must not outlive argv. Cannot fail. */
void msgcli_scope(const msgcli_create *o, wd_scope *out);

/* Load the private keys at paths[0..n) into keys[0..n). On error none stays loaded and e is
 * prefixed with "<flag> <path>" of the file that failed. On success the caller frees them
 * with msgcli_free_keys. */
wd_code msgcli_load_keys(const char *flag, char *const *paths, size_t n, wd_key **keys,
                         wd_err *e);

/* Free keys[0..n) (wd_key_free). */
void msgcli_free_keys(wd_key **keys, size_t n);

/* s as a decimal integer in min .. max into *out: true, or false (s empty, not all digits
 * after an optional '-', out of range; *out unchanged). Nothing is allocated. */
bool msgcli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* The last second a time can be written as (SPEC §1.1: four-digit years). */
#define MSGCLI_LATEST_TIME "9999-12-31T23:59:59Z"

/* from + secs (secs >= 0, e.g. from --expires-in) into *out when that is no later than
 * MSGCLI_LATEST_TIME and returns true; otherwise returns false and *out is unchanged (no
 * overflow either way). Nothing is allocated. */
bool msgcli_time_after(int64_t from, int64_t secs, int64_t *out);

/* Write the envelope data[0..len) to path (mode 0644). An existing path is refused (WD_E_IO,
 * "... already exists; not replaced (--force replaces it)") unless force, which replaces it
 * atomically. On error the file is not touched and e says why. Nothing is allocated. */
wd_code msgcli_write_out(const char *path, const char *data, size_t len, bool force, wd_err *e);

/* Read the bundle at path (at most WD_MAX_BUNDLE_ENVELOPE bytes) WITHOUT verifying its
 * signatures: decode the envelope, check its payloadType and parse the payload strictly. On
 * error e is prefixed with "<flag> <path>" and *out is NULL; on success the caller frees *out
 * with wd_bundle_free. */
wd_code msgcli_read_bundle(const char *flag, const char *path, wd_bundle **out, wd_err *e);

/* ---- verify ---- */

/* Longest chain of --previous rosters one verify replays. */
#define MSGCLI_MAX_CHAIN 64

/* Append arg to the --previous list chain[0..*n) (room for MSGCLI_MAX_CHAIN). Returns 0, or 2
 * after printing "too many --previous flags" with usage when it is full (nothing changed).
 * Nothing is allocated. */
int msgcli_add_previous(char **chain, size_t *n, char *arg, const char *usage);

/* The roster a verifier trusts, reached through a chain: chain[0..n) are roster files oldest
 * first (the operator's --previous flags), the first verified against pin, each next one as
 * the rotation from the one before (their own expiry not checked: they are rosters already
 * trusted, as a follower keeps its newest accepted roster after it expires); then the roster
 * at path, verified as the rotation from the last of them (or against pin when n is 0) and
 * not expired at now. What is trusted is the newest roster: an older one given as path (where
 * a since-revoked key may still be active) is the caller's choice. On error e is prefixed with
 * "--previous <file>" when a chain link failed, and *out is NULL; on success the caller frees
 * *out with wd_roster_free. */
wd_code msgcli_load_chain(char *const *chain, size_t n, const char *path, const char *pin,
                          int64_t now, wd_roster **out, wd_err *e);

/* Print one line naming the roster r that a verify used: org, version, hash, expiry, and
 * how many --previous rosters led to it (n). */
void msgcli_print_roster(const wd_roster *r, size_t n);

/* The flags every follower-side verify takes, and what msgcli_verify_start makes of them.
 * The flag strings point into argv; fl and r are owned and freed by msgcli_verify_end; f
 * points at org..instance and fl, so the struct must not be copied once started. */
typedef struct msgcli_verify {
    const char *roster, *pin, *org, *fleet, *env, *instance, *at;
    char *labels[MSGCLI_MAX_LABELS];
    size_t nlabels;
    char *previous[MSGCLI_MAX_CHAIN];
    size_t nprevious;
    int64_t now;
    wd_label *fl;
    wd_follower f;
    wd_roster *r;
} msgcli_verify;

/* getopt_long rows for the flags msgcli_verify_flag handles (values 'r', 'p', 'o', 'f', 'e',
 * 'i', 'l', 'a', 'P'). */
#define MSGCLI_VERIFY_OPTS                                                                   \
    {"roster", required_argument, NULL, 'r'}, {"pin", required_argument, NULL, 'p'},         \
        {"org", required_argument, NULL, 'o'}, {"fleet", required_argument, NULL, 'f'},      \
        {"env", required_argument, NULL, 'e'}, {"instance", required_argument, NULL, 'i'},   \
        {"label", required_argument, NULL, 'l'}, {"at", required_argument, NULL, 'a'},       \
        {"previous", required_argument, NULL, 'P'}

/* Help lines for --roster, --pin and --previous, the same in every verify command. */
#define MSGCLI_VERIFY_ROSTER_HELP                                                            \
    "  --roster FILE      trust roster envelope: the newest roster you hold\n"                \
    "  --pin DIGEST       root key fingerprint (keyid) the roster must chain to\n"            \
    "  --previous ROSTER  an older roster of the chain from the pin to --roster, oldest\n"    \
    "                     first (repeatable, at most 64): needed when the pinned key is no\n" \
    "                     longer a root key of --roster\n"

/* As msgcli_create_flag, for the shared verify flags. */
int msgcli_verify_flag(int ch, char *arg, msgcli_verify *o, const char *usage);

/* After parsing: require exactly one argument (else "give exactly one <noun>") and the
 * follower flags, take the time from --at (default now), turn --label into the follower's
 * labels, and load the roster from --roster verified against --pin at that time, through the
 * --previous chain when one is given (msgcli_load_chain). Returns 0
 * when all of that worked (the caller must call msgcli_verify_end); otherwise prints the usage
 * error or the rejection, frees what it made, and returns the exit code. e is cleared first
 * and holds the error on failure. */
int msgcli_verify_start(msgcli_verify *o, int argc, const char *noun, const char *usage,
                        wd_err *e);

/* Free what msgcli_verify_start made. Safe on a zeroed struct. */
void msgcli_verify_end(msgcli_verify *o);

/* Verify one message's bytes buf[0..len) for o's follower against o's roster at o's time with
 * the given flags (WD_MSG_ACTIVE or 0). On success *out holds the parsed message, owned by the
 * caller; on error *out is NULL. */
typedef wd_code (*msgcli_verify_fn)(const unsigned char *buf, size_t len, const msgcli_verify *o,
                                    unsigned flags, void **out, wd_err *e);

/* Read the message file at path (at most max bytes) and verify it with fn. When flag is not
 * NULL, an error is prefixed with "<flag> <path>". Ownership of *out as fn's; the file's bytes
 * are freed here on every path. */
wd_code msgcli_verify_file(const char *flag, const char *path, size_t max, msgcli_verify_fn fn,
                           const msgcli_verify *o, unsigned flags, void **out, wd_err *e);

/* Read the roster envelope at path (at most WD_MAX_ROSTER_ENVELOPE bytes) and verify it with
 * wd_roster_verify_ex (against pin, or as a rotation from prev) at now with flags. On success
 * the caller frees *out with wd_roster_free; on error *out is NULL and e says why. */
wd_code msgcli_load_roster(const char *path, const char *pin, const wd_roster *prev,
                           int64_t now, unsigned flags, wd_roster **out, wd_err *e);

#endif
