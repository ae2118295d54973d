/* message.h — what the signed control messages (policy bundle, remote kill, rollback
 * authorization; SPEC §3–§5) share: opening an envelope in SPEC §1.2's order, the scope
 * (org, fleet, environment), the audience and its match against a follower, labels, times and
 * validity windows. Everything here is pure: bytes, a roster and a time in, a verdict out.
 * Nothing here ever parses a payload whose signatures have not been checked. */
#ifndef WD_MESSAGE_H
#define WD_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "warden/error.h"
#include "warden/limits.h"
#include "../codec/json.h"
#include "../crypto/crypto.h"
#include "../msg/dsse.h"
#include "../trust/roster.h"

/* The payload schema version this warden reads. Anything else is unsupported-version. */
#define WD_MSG_SCHEMA_VERSION 1

/* Verification flag: the message is the one already active on this follower (--current).
 * Its signatures, scope, audience and content are checked, its validity window is not: an
 * active bundle or kill stays active after it expires (SPEC §4, §10), as TUF keeps using
 * expired local metadata as the starting point of an update. */
#define WD_MSG_ACTIVE 1u

/* Verification flag: the verifier is a publisher (the leader taking a message from an
 * administrator), not a follower. The scope is still matched against the follower given (the
 * message's own fleet and environment under the publisher's org), but the audience is not:
 * a publisher is in no audience, and every audience is the administrator's to choose. */
#define WD_MSG_ANY_AUDIENCE 2u

/* One label: an id (SPEC §1.1) and a value of at most WD_MAX_LABEL_VALUE bytes. */
typedef struct wd_label {
    char *key;
    char *value;
} wd_label;

/* Who is verifying: the follower's identity and labels. Nothing is owned; all strings must
 * outlive the calls that use the struct. labels may be NULL when nlabels is 0. */
typedef struct wd_follower {
    const char *org_id;
    const char *fleet_id;
    const char *environment;
    const char *instance_id;
    const wd_label *labels;
    size_t nlabels;
} wd_follower;

/* Where a message applies. */
typedef struct wd_scope {
    char *org_id;
    char *fleet_id;
    char *environment;
} wd_scope;

typedef enum wd_audience_kind {
    WD_AUDIENCE_ALL,    /* {"instance_ids":["*"]} */
    WD_AUDIENCE_IDS,    /* {"instance_ids":[id, ...]} */
    WD_AUDIENCE_LABELS, /* {"labels":{k: v, ...}} — every one must equal the follower's */
} wd_audience_kind;

typedef struct wd_audience {
    wd_audience_kind kind;
    char **ids;          /* WD_AUDIENCE_IDS: 1..WD_MAX_AUDIENCE_IDS ids */
    size_t nids;
    wd_label *labels;    /* WD_AUDIENCE_LABELS: 1..WD_MAX_LABELS labels */
    size_t nlabels;
} wd_audience;

/* Prefix e's message with the formatted text (when e is not NULL) and return c unchanged.
 * Lets a caller add context without losing the code when e is NULL. */
wd_code wd_msg_prefix(wd_code c, wd_err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- opening an envelope ---- */

/* Open a signed message in SPEC §1.2's order: decode the envelope (buf[0..len), at most max
 * bytes: WD_E_OVERSIZED past it; the envelope's own strictness codes otherwise), check that
 * payloadType is type (else WD_E_WRONG_TYPE), then check the signatures for purpose p against
 * r at now with wd_roster_check_signatures (bad-signature, threshold, wrong-purpose,
 * revoked-key, expired-key). The payload is not parsed. On success the caller owns *out
 * (wd_dsse_free); on error *out holds nothing that needs freeing. */
wd_code wd_msg_open(const unsigned char *buf, size_t len, size_t max, const char *type,
                    const wd_roster *r, wd_purpose p, int64_t now, wd_dsse *out, wd_err *e);

/* Decode only the envelope and check its payloadType, without any signature check (for
 * `inspect` and for reading the operator's own files when creating a message). Same codes as
 * wd_msg_open's first two steps. Ownership as wd_msg_open. */
wd_code wd_msg_decode_unverified(const unsigned char *buf, size_t len, size_t max,
                                 const char *type, wd_dsse *out, wd_err *e);

/* Sign payload with every key (wd_dsse_sign_draft: 0..16 keys; with none the result is an
 * unsigned draft that no verifier accepts, for 'create --draft') and refuse an envelope longer than max
 * (WD_E_OVERSIZED, as the verifier would). On success the caller frees *out (NUL-terminated,
 * *outlen bytes); on error *out is NULL. */
wd_code wd_msg_sign(const char *type, const unsigned char *payload, size_t len,
                    wd_key *const *keys, size_t nkeys, size_t max, char **out, size_t *outlen,
                    wd_err *e);

/* Add key: value to obj, consuming value (which may be NULL after a failed allocation).
 * Returns false when value is NULL or the insertion fails. For encoders. */
bool wd_msg_put(json_t *obj, const char *key, json_t *value);

/* key: the time t as SPEC §1.1 text. */
bool wd_msg_put_time(json_t *obj, const char *key, int64_t t);

/* A new payload object holding what every message starts with: schema_version, the message's
 * id under id_key, org_id, fleet_id, environment and audience. Returns NULL when a field is
 * missing or not UTF-8, or when out of memory. The caller owns it (json_decref). */
json_t *wd_msg_head(const char *id_key, const char *id, const wd_scope *s,
                    const wd_audience *a);

/* Finish an encoder: consume o (which may be NULL); when ok is false (a field could not be
 * added) that is WD_E_MALFORMED, else o is dumped compactly into a new *out (the caller frees
 * it; *len gets its length when len is not NULL). On error *out is NULL. */
wd_code wd_msg_encode_end(json_t *o, bool ok, const char *what, char **out, size_t *len,
                          wd_err *e);

/* Format a human note into note[0..notesz) (nothing when note is NULL or notesz is 0). */
void wd_msg_note(char *note, size_t notesz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- payload fields (all pure; "what" names the message in error texts) ---- */

/* Parse payload bytes strictly into a JSON object and apply the schema version rule first:
 * an integer schema_version other than WD_MSG_SCHEMA_VERSION is WD_E_UNSUPPORTED_VERSION (a
 * newer schema may carry fields this warden does not know, so this is checked before unknown
 * fields); then fields is enforced with wd_json_check (unknown-field, missing or wrong type ->
 * malformed). JSON strictness codes come from wd_json_parse. On success the caller owns *out
 * (json_decref); on error *out is NULL. */
wd_code wd_msg_payload(const unsigned char *payload, size_t len, size_t max, const char *what,
                       const wd_jfield *fields, size_t nfields, json_t **out, wd_err *e);

/* obj[key] (a checked string) as a new copy of an id (SPEC §1.1), else WD_E_MALFORMED.
 * On success the caller frees *out; on error *out is NULL. */
wd_code wd_msg_id(const json_t *obj, const char *key, const char *what, char **out, wd_err *e);

/* obj[key] (a checked string) as a time (SPEC §1.1), else WD_E_MALFORMED. */
wd_code wd_msg_time(const json_t *obj, const char *key, const char *what, int64_t *out,
                    wd_err *e);

/* obj[key] (a checked string) as a digest, normalised to lowercase in out. With allow_empty,
 * "" is accepted and gives "". Anything else is WD_E_MALFORMED. */
wd_code wd_msg_digest(const json_t *obj, const char *key, const char *what, bool allow_empty,
                      char out[WD_DIGEST_STRLEN + 1], wd_err *e);

/* obj[key] (a checked integer) when it is in min .. max, else WD_E_MALFORMED (the message
 * gives the range). On error *out is unchanged. */
wd_code wd_msg_int(const json_t *obj, const char *key, const char *what, int64_t min,
                   int64_t max, int64_t *out, wd_err *e);

/* obj[key] (a checked string) as free text of at most max bytes (else WD_E_OVERSIZED) with no
 * control characters (else WD_E_MALFORMED); copied into a new *out the caller frees. */
wd_code wd_msg_text(const json_t *obj, const char *key, const char *what, size_t max,
                    char **out, wd_err *e);

/* ---- scope ---- */

/* Read org_id, fleet_id and environment (checked strings) as ids. On success the caller frees
 * with wd_scope_free; on error nothing needs freeing. */
wd_code wd_scope_decode(const json_t *obj, const char *what, wd_scope *out, wd_err *e);
void wd_scope_free(wd_scope *s);

/* The message's org must equal the roster's org (r may be NULL to skip that) and the
 * follower's; its fleet and environment the follower's. Else WD_E_WRONG_SCOPE naming the field
 * and both values. */
wd_code wd_scope_match(const wd_scope *s, const wd_roster *r, const wd_follower *f,
                       const char *what, wd_err *e);

/* Where a payload says it applies: its scope (wd_scope_decode), then its "audience" object
 * (wd_audience_decode), with their codes. On success the caller frees both (wd_scope_free,
 * wd_audience_free); on error nothing needs freeing beyond what the caller's own free of a
 * zeroed struct releases. */
wd_code wd_msg_target_decode(const json_t *obj, const char *what, wd_scope *s, wd_audience *a,
                             wd_err *e);

/* Does the message reach this follower: wd_scope_match, then wd_audience_match, with their
 * codes. Nothing is allocated. */
wd_code wd_msg_target_match(const wd_scope *s, const wd_audience *a, const wd_roster *r,
                            const wd_follower *f, const char *what, wd_err *e);

/* ---- labels and audience ---- */

/* A label as SPEC §1.1 allows it: key an id (else malformed), value at most WD_MAX_LABEL_VALUE
 * bytes (else oversized), no control characters (else malformed). path names it in messages. */
wd_code wd_label_check(const char *key, const char *value, const char *path, wd_err *e);

/* Decode an audience object strictly: exactly one of instance_ids / labels (neither, both or an
 * empty one -> malformed; any other key -> unknown-field); instance_ids is ["*"] alone or a list
 * of ids ("*" mixed with ids -> malformed); more than WD_MAX_AUDIENCE_IDS ids or WD_MAX_LABELS
 * labels -> oversized (counted before anything is copied). On success the caller frees with
 * wd_audience_free; on error nothing needs freeing. */
wd_code wd_audience_decode(const json_t *v, const char *what, wd_audience *out, wd_err *e);
void wd_audience_free(wd_audience *a);

/* Does the audience include the follower? ALL: yes; IDS: its instance_id is listed; LABELS:
 * every audience label is present on the follower with an equal value. Else
 * WD_E_WRONG_AUDIENCE naming what did not match. */
wd_code wd_audience_match(const wd_audience *a, const wd_follower *f, const char *what,
                          wd_err *e);

/* The audience as a new JSON object ({"instance_ids":[...]} or {"labels":{...}}), or NULL when
 * out of memory. The caller owns it (json_decref). */
json_t *wd_audience_to_json(const wd_audience *a);

/* Labels from command-line text "k=v" (split at the first '='; an entry without '=' or with an
 * empty key, or a key given twice, is WD_E_USAGE). Keys and values are not checked against
 * SPEC §1.1 here: a message built from them is checked by its own parser. On success the caller
 * frees with wd_labels_free(*out, n); on error *out is NULL. */
wd_code wd_labels_from_text(char *const *kv, size_t n, wd_label **out, wd_err *e);
void wd_labels_free(wd_label *labels, size_t n);

/* An audience from command-line text: instances is "*" (everyone) or a comma-separated list
 * ("a,b"), or labels are "k=v" entries; exactly one of the two forms (else WD_E_USAGE). The
 * entries are split, not validated: the message built from them is parsed back strictly, so
 * "*,a" or a bad id fails there with the verifier's own code. On success the caller frees
 * with wd_audience_free; on error nothing needs freeing. */
wd_code wd_audience_from_text(const char *instances, char *const *labels, size_t nlabels,
                              wd_audience *out, wd_err *e);

/* ---- validity windows ---- */

/* created_at <= not_before < expires_at, and expires_at - created_at <= max_span when max_span
 * is > 0; else WD_E_MALFORMED. */
wd_code wd_window_check(int64_t created_at, int64_t not_before, int64_t expires_at,
                        int64_t max_span, const char *what, wd_err *e);

/* Valid at now: now >= not_before - WD_NOT_BEFORE_SKEW_S (else WD_E_NOT_YET_VALID) and
 * now < expires_at (else WD_E_EXPIRED). */
wd_code wd_window_at(int64_t not_before, int64_t expires_at, int64_t now, const char *what,
                     wd_err *e);

#endif
