/* base.h — small building blocks shared by all of libwarden: bounded file I/O, RFC 3339 times,
 * Go-style durations, identifiers and version strings. Nothing here knows about messages. */
#ifndef WD_BASE_H
#define WD_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"
#include "warden/limits.h"

/* ---- files ---- */

/* Read the whole of path into a new NUL-terminated buffer (*len excludes the NUL).
 * A file larger than max is WD_E_OVERSIZED without reading past max+1 bytes; "-" reads stdin.
 * On error nothing is allocated. The caller frees *buf. */
wd_code wd_read_file(const char *path, size_t max, unsigned char **buf, size_t *len, wd_err *e);

/* Write data to path durably: temp file in the same directory, fsync, rename, fsync dir.
 * mode is applied to the new file before any byte is written. On error path is unchanged. */
wd_code wd_write_file(const char *path, const void *data, size_t len, unsigned mode, wd_err *e);

/* wd_write_file for a file that must not exist yet: the complete temp file is hard-linked to
 * path, so an existing path (even one created meanwhile) is never replaced: WD_E_IO "already
 * exists; not replaced". On error path is unchanged and no temp file is left. */
wd_code wd_write_file_new(const char *path, const void *data, size_t len, unsigned mode,
                          wd_err *e);

/* fsync the directory that holds path, so that a file created or renamed there survives a
 * crash. Returns 0, or -1 with errno set. Nothing is kept allocated. */
int wd_fsync_parent(const char *path);

/* ---- times (SPEC §1.1: exactly YYYY-MM-DDTHH:MM:SSZ) ---- */

#define WD_TIME_STRLEN 20 /* without the NUL */

/* Parse a time into seconds since the epoch. Any other spelling is WD_E_MALFORMED. */
wd_code wd_time_parse(const char *s, int64_t *out, wd_err *e);
/* Format t into out (WD_TIME_STRLEN+1 bytes). Years outside 0000..9999 are clamped. */
void wd_time_format(int64_t t, char out[WD_TIME_STRLEN + 1]);
/* Current wall-clock time in seconds. */
int64_t wd_now(void);

/* Go-style duration ("90s", "15m", "720h", "1h30m"), units h, m, s; positive; into seconds.
 * Anything else is WD_E_USAGE. */
wd_code wd_duration_parse(const char *s, int64_t *seconds, wd_err *e);

/* ---- identifiers and versions ---- */

/* ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ */
bool wd_id_valid(const char *s);

/* MAJOR.MINOR.PATCH, decimal, no leading zeros, each part <= 999999. */
bool wd_semver_parse(const char *s, unsigned v[3]);
/* <0, 0, >0 like strcmp. */
int wd_semver_cmp(const unsigned a[3], const unsigned b[3]);

/* Copy of s with control characters and non-ASCII replaced by '?' and at most max bytes
 * (an ellipsis marks a cut): for putting untrusted text in a message. Never NULL on a NULL s
 * (returns "(null)"). Returns out. */
char *wd_clean_text(const char *s, char *out, size_t outsz);

/* ---- suggestions ---- */

/* Largest edit distance at which wd_suggest proposes a name. */
#define WD_SUGGEST_MAX_DISTANCE 2

/* Edit distance between a and b (insertions, deletions, substitutions and swaps of neighbours
 * each count 1); (size_t)-1 when either is longer than 64 bytes. Allocates nothing. */
size_t wd_edit_distance(const char *a, const char *b);

/* The first of names[0..n) (stopping early at a NULL entry) closest to word within
 * WD_SUGGEST_MAX_DISTANCE, for "did you mean 'x'?"; NULL when none is that close, when word is
 * itself a name, or when word is so short that any guess would be one. The result is one of
 * names. */
const char *wd_suggest(const char *word, const char *const *names, size_t n);

#endif
