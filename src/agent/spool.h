/* spool.h — the agent's audit spool (SPEC §15.2): flight recorder lines cut into audit batches,
 * each written durably to state_dir/spool/ before it is sent and removed only when the leader
 * acknowledged it; past spool_max the oldest unsent batches are dropped and counted. It must
 * never send anything (the daemon does), never remove a batch that was not acknowledged or
 * dropped for room, and never let a batch body pass the leader's 1 MiB limit.
 *
 * Files: spool/batch-<first seq>-<last seq>.json (the POST body, 20-digit numbers), spool/cursor
 * (decimal: the next recorder seq to spool), spool/rejected-… (batches the leader refused for
 * good, kept for the operator). */
#ifndef WD_AGENT_SPOOL_H
#define WD_AGENT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"

/* A batch body is at most this (the leader's audit batch limit). */
#define WD_SPOOL_MAX_BATCH (1024u * 1024u)
/* Line bytes read for one batch: a line's JSON escaping inside the body at most doubles it. */
#define WD_SPOOL_MAX_LINES_BYTES (WD_SPOOL_MAX_BATCH / 2u - 4096u)
/* Batches written by one wd_spool_fill at most. */
#define WD_SPOOL_FILL_BATCHES 16

typedef struct wd_spool wd_spool;

/* What one fill did. */
typedef struct wd_spool_fill_result {
    size_t batches;           /* batch files written */
    size_t records;           /* records in them */
    uint64_t dropped_records; /* records of unsent batches removed to stay under spool_max */
    uint64_t dropped_first;   /* the seqs they spanned (0 when none) */
    uint64_t dropped_last;
} wd_spool_fill_result;

/* Open state_dir/spool (created 0700 when missing) for instance_id: read the cursor (1 when
 * there is none) and the batches held; the cursor is moved past the newest batch held (a crash
 * between writing a batch and the cursor). WD_E_IO when the directory cannot be made or read,
 * WD_E_MALFORMED for a cursor file that is not a decimal number. On error *out is NULL; the
 * caller frees with wd_spool_close. Not thread-safe: one thread uses a spool. */
wd_code wd_spool_open(const char *state_dir, const char *instance_id, wd_spool **out, wd_err *e);
void wd_spool_close(wd_spool *s);

/* Spool what the recorder in recorder_dir holds from the cursor on: up to WD_SPOOL_FILL_BATCHES
 * batches of at most max_records records (and WD_SPOOL_MAX_BATCH bytes), each written durably
 * (temp file, fsync, rename, directory fsync) and then the cursor. Before a batch is written,
 * the oldest held batches are removed while the spool would pass spool_max bytes (the newest
 * batch is always kept); *res says how many records that dropped. On error the batches written
 * before it stay (each is whole) and e says why. */
wd_code wd_spool_fill(wd_spool *s, const char *recorder_dir, size_t max_records,
                      uint64_t spool_max, wd_spool_fill_result *res, wd_err *e);

/* The oldest batch held: its file name into name (NUL-terminated, "" when the spool is empty)
 * and its bytes into *body (caller frees) and *len. On error nothing is allocated. */
wd_code wd_spool_oldest(wd_spool *s, char *name, size_t namesz, unsigned char **body,
                        size_t *len, wd_err *e);

/* Remove an acknowledged batch (and fsync the directory). On error it stays. */
wd_code wd_spool_ack(wd_spool *s, const char *name, wd_err *e);

/* Move a batch the leader refused for good aside (rejected-<name>), out of the sending order and
 * of the spool's size. On error it stays. */
wd_code wd_spool_reject(wd_spool *s, const char *name, wd_err *e);

/* Batches and bytes held (rejected ones not counted), and the next seq to spool. */
size_t wd_spool_batches(const wd_spool *s);
uint64_t wd_spool_bytes(const wd_spool *s);
uint64_t wd_spool_cursor(const wd_spool *s);

#endif
