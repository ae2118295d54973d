/* json.h — strict JSON on jansson: one document, no duplicate keys, no trailing data, valid
 * UTF-8, no NUL in strings, bounded size and depth; and a schema helper that rejects unknown
 * and missing fields and wrong types, naming the field's path. Values are jansson's json_t. */
#ifndef WD_JSON_H
#define WD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "warden/error.h"

/* Parse exactly one JSON document (an object or array at the top) from buf[0..len).
 * Rejections: len > max or nesting deeper than WD_MAX_JSON_DEPTH -> WD_E_OVERSIZED;
 * a repeated key in any object -> WD_E_DUPLICATE_KEY; anything but whitespace after the
 * document -> WD_E_TRAILING_DATA; syntax errors, invalid UTF-8, "\u0000", integers out of
 * range -> WD_E_MALFORMED. Messages give the position but never quote the input (a string
 * value may be a secret). On success the caller owns *out (json_decref); on error *out is
 * NULL. */
wd_code wd_json_parse(const unsigned char *buf, size_t len, size_t max, json_t **out, wd_err *e);

/* Nesting depth of v: a scalar is 0, {} or [] is 1, {"a":[]} is 2. */
size_t wd_json_depth(const json_t *v);

typedef enum wd_jtype {
    WD_JT_STRING,
    WD_JT_INT,            /* JSON integer (no fraction, no exponent) */
    WD_JT_BOOL,
    WD_JT_OBJECT,
    WD_JT_ARRAY,
    WD_JT_STRING_OR_NULL,
    WD_JT_ANY
} wd_jtype;

typedef struct wd_jfield {
    const char *name;
    wd_jtype type;
    bool required;
} wd_jfield;

/* Check that v is an object whose keys are all among fields (else WD_E_UNKNOWN_FIELD
 * "<path>.<key>: unknown field"), that every required field is present (else WD_E_MALFORMED
 * "<path>.<key>: missing required field") and that each present field has its type (else
 * WD_E_MALFORMED "<path>.<key>: expected <type>"). path may be "" for the top level.
 * v not an object is WD_E_MALFORMED. Pure: changes nothing. */
wd_code wd_json_check(const json_t *v, const char *path, const wd_jfield *fields, size_t n,
                      wd_err *e);

/* Path helpers for messages: "<base>.<key>" (or "<key>" when base is empty) and "<base>[i]".
 * Always NUL-terminate within outsz; untrusted keys are cleaned. Return out. */
char *wd_path_key(char *out, size_t outsz, const char *base, const char *key);
char *wd_path_index(char *out, size_t outsz, const char *base, size_t i);

/* Typed getters for fields already checked by wd_json_check; NULL/0 when absent. */
const char *wd_json_str(const json_t *obj, const char *key);
json_int_t wd_json_int(const json_t *obj, const char *key);

/* Compact serialisation (keys in insertion order, no spaces), malloc'd, or NULL on OOM.
 * *len gets the length when len is not NULL. Any value dumps, scalars included; NULL v gives
 * NULL. The caller frees the text (free). */
char *wd_json_dump(const json_t *v, size_t *len);

#endif
