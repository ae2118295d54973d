/* recorder.h — the flight recorder (SPEC §15.1): an append-only, hash-chained JSONL log of
 * decisions shared by every process of a host, with Ed25519-signed checkpoints, a verifier and
 * a reader for the audit shipper. It must never open a socket, keep global state, or let a
 * failed write pass as recorded: every write failure is returned so that the caller denies.
 *
 * On disk: DIR/seg-<20-digit first seq>.jsonl, one JSON object per line:
 *   {"seq":N,"ts":"YYYY-MM-DDTHH:MM:SS.mmmZ","prev":"sha256:<hex>","kind":"…",…fields}
 * prev is the digest of the previous line's bytes without its newline ("sha256:" + 64 zeros
 * for seq 1). A checkpoint line adds "keyid" and "sig": base64 Ed25519 over
 * "warden-recorder-checkpoint-v1 <seq> <prev>". docs/RECORDER.md describes it for users. */
#ifndef WD_RECORDER_H
#define WD_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "warden/error.h"
#include "warden/limits.h"

/* What a checkpoint signature covers: this text, a space, the seq, a space, the prev. */
#define WD_RECORDER_CHECKPOINT_CONTEXT "warden-recorder-checkpoint-v1"
/* prev of seq 1 */
#define WD_RECORDER_GENESIS \
    "sha256:0000000000000000000000000000000000000000000000000000000000000000"
/* Defaults for zero option values. */
#define WD_RECORDER_DEFAULT_CHECKPOINT_EVERY 1000u
#define WD_RECORDER_DEFAULT_CHECKPOINT_INTERVAL_S 60
#define WD_RECORDER_DEFAULT_SEGMENT_MAX (16u * 1024u * 1024u)
/* Longest kind: [a-z][a-z0-9_]{0,63} */
#define WD_RECORDER_MAX_KIND 64

typedef struct wd_recorder_opts {
    const char *dir;              /* created 0700 when missing (the last component only) */
    const char *signing_key_path; /* Ed25519 private key; NULL: this process signs no
                                   * checkpoints (another one may) */
    uint64_t checkpoint_every;    /* a checkpoint after this many lines; 0: the default */
    int64_t checkpoint_interval_s;/* or after this long since the last one; 0: the default */
    uint64_t segment_max_bytes;   /* start a new segment past this size; 0: the default */
    bool record_args;             /* tool arguments in full (else their digest only) */
} wd_recorder_opts;

typedef struct wd_recorder wd_recorder;

/* Open a recorder on o->dir (mkdir 0700 when missing; an existing path that is not a
 * directory is WD_E_IO). The signing key, when given, is loaded with wd_key_load_private, so a
 * key file that group or others can read is refused (WD_E_IO). Nothing is written until the
 * first append. On error *out is NULL and nothing is left allocated; the caller frees the
 * recorder with wd_recorder_close. Thread-safe after opening (appends are serialised). */
wd_code wd_recorder_open(const wd_recorder_opts *o, wd_recorder **out, wd_err *e);

/* Append one entry of kind (^[a-z][a-z0-9_]{0,63}$, not "checkpoint": WD_E_USAGE) with the
 * members of fields (a JSON object, borrowed; NULL for none; the reserved names seq, ts, prev,
 * kind and sig are WD_E_USAGE). Under an exclusive flock(2) on the current segment it reads what
 * other processes appended since this one last looked, writes
 * {"seq","ts","prev","kind",…fields} and a newline with one write(2), and fdatasync(2)s the
 * segment before returning: an entry reported WD_OK is on disk. A segment past
 * segment_max_bytes is followed by a new one (created complete, by link(2), so it is never seen
 * empty). With a signing key, a checkpoint line follows when checkpoint_every lines or
 * checkpoint_interval_s seconds have passed since the last checkpoint seen. A line longer than
 * WD_MAX_RECORDER_LINE is WD_E_OVERSIZED. Any I/O failure is WD_E_IO; a damaged tail (an
 * incomplete or unparseable last line) is WD_E_MALFORMED and nothing more is appended until
 * someone repairs it. On error an entry that was not completely written is cut off again
 * (ftruncate), so the file holds whole lines only. */
wd_code wd_recorder_append(wd_recorder *r, const char *kind, json_t *fields, wd_err *e);

/* Write a checkpoint now (when the last line is not one already). WD_E_USAGE without a signing
 * key; otherwise as wd_recorder_append. */
wd_code wd_recorder_checkpoint(wd_recorder *r, wd_err *e);

/* Whether tool arguments are recorded in full. False for NULL. */
bool wd_recorder_record_args(const wd_recorder *r);

/* The keyid of the signing key, or NULL when there is none. Valid while r lives. */
const char *wd_recorder_keyid(const wd_recorder *r);

/* Put a tool call's arguments into fields: always "args_sha256": the digest of canon[0..len)
 * (the canonical bytes the caller decided on, e.g. its compact JSON); and only when r records
 * arguments, "args": canon parsed as JSON (strictly; at most WD_MAX_TOOL_ARGS bytes, else
 * WD_E_OVERSIZED; not JSON: WD_E_MALFORMED). Environment values must never be passed here.
 * On error fields is unchanged. */
wd_code wd_recorder_put_args(const wd_recorder *r, json_t *fields, const void *canon, size_t len,
                             wd_err *e);

/* Close and free (NULL is fine). The signing key is wiped. */
void wd_recorder_close(wd_recorder *r);

/* ---- verification ---- */

typedef struct wd_recorder_report {
    uint64_t entries;             /* lines verified (checkpoints included) = last seq */
    uint64_t segments;            /* segment files read */
    uint64_t last_checkpoint_seq; /* 0: none */
    uint64_t unsigned_after;      /* lines after the last checkpoint */
    /* on rejection: where */
    char segment[64];             /* file name of the segment, "" when not about one */
    uint64_t line;                /* 1-based line number in that segment, 0 when none */
} wd_recorder_report;

/* Verify the chain in dir against key (a public or private Ed25519 key): segments in order of
 * their first seq, each line a strict JSON object with seq (+1 per line across segments, from 1),
 * ts, prev (the digest of the previous line's bytes; the genesis for seq 1) and kind; each
 * checkpoint's sig a valid signature by key; every line complete (newline-terminated) and at
 * most WD_MAX_RECORDER_LINE bytes. The first broken link stops verification: its code is
 * returned (WD_E_HASH_MISMATCH a prev that does not match; WD_E_BAD_SIGNATURE a checkpoint that
 * does not verify; WD_E_OVERSIZED a long line; WD_E_MALFORMED a bad line, a wrong seq, a
 * truncated tail, a segment not named after its first seq; the strict JSON codes of
 * wd_json_parse otherwise) with e's message "<segment>:<line>: <reason>" and rep->segment and
 * rep->line set. A directory that cannot be read is WD_E_IO. rep's counts describe what was
 * verified so far. Reads nothing unbounded; changes nothing. */
wd_code wd_recorder_verify(const char *dir, const wd_key *key, wd_recorder_report *rep,
                           wd_err *e);

/* Check one line on its own (what the verifier does before linking): strict JSON object with
 * the four fields of the right types and forms; *seq gets its seq. For the fuzzer and the
 * verifier; changes nothing. */
wd_code wd_recorder_parse_line(const unsigned char *line, size_t len, uint64_t *seq,
                               json_t **obj, wd_err *e);

/* ---- reading for the audit shipper ---- */

typedef struct wd_recorder_record {
    uint64_t seq;
    char *line; /* the exact line bytes, NUL-terminated, without the newline; owned here */
    size_t len;
} wd_recorder_record;

typedef struct wd_recorder_records {
    wd_recorder_record *v;
    size_t n;
    size_t bytes; /* sum of len */
} wd_recorder_records;

/* Read the complete lines with seq >= from_seq (the oldest held when from_seq is older), at
 * most max_records of them and at most max_bytes of line bytes in all (stopping before the
 * record that would pass either). A first record longer than max_bytes is WD_E_OVERSIZED. Only
 * newline-terminated lines are returned (one being written is left for later). Lines are not
 * re-verified beyond being JSON objects with a seq. On error *out is empty; on success free it
 * with wd_recorder_records_free. Takes no lock. */
wd_code wd_recorder_read(const char *dir, uint64_t from_seq, size_t max_records,
                         size_t max_bytes, wd_recorder_records *out, wd_err *e);
void wd_recorder_records_free(wd_recorder_records *rs);

#endif
