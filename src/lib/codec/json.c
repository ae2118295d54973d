/* json.c — strict JSON decoding on jansson (one bounded document, no duplicate keys, no trailing
 * data, no NUL) and the schema check that names the path of a bad field. It must never hand a
 * caller a partly checked tree, and never put untrusted bytes in a message uncleaned. */
#include <stdio.h>
#include <string.h>

#include "codec/json.h"
#include "base/base.h"
#include "warden/limits.h"

/* Map jansson's error to a rejection code. */
static wd_code code_of(const json_error_t *je)
{
    switch (json_error_code(je)) {
    case json_error_duplicate_key:
        return WD_E_DUPLICATE_KEY;
    case json_error_end_of_input_expected:
        return WD_E_TRAILING_DATA;
    case json_error_stack_overflow:
        return WD_E_OVERSIZED;
    case json_error_out_of_memory:
        return WD_E_NOMEM;
    default:
        return WD_E_MALFORMED;
    }
}

/* True when v nests deeper than limit (a scalar is 0). Stops descending once past the limit. */
static bool deeper_than(const json_t *v, size_t limit)
{
    if (!json_is_object(v) && !json_is_array(v))
        return false;
    if (limit == 0)
        return true;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            if (deeper_than(c, limit - 1))
                return true;
        }
    } else {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            if (deeper_than(c, limit - 1))
                return true;
        }
    }
    return false;
}

wd_code wd_json_parse(const unsigned char *buf, size_t len, size_t max, json_t **out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "JSON: no output given");
    *out = NULL;
    if (len > max)
        return wd_err_set(e, WD_E_OVERSIZED, "JSON document: %zu bytes, more than the limit of %zu",
                          len, max);
    if (buf == NULL && len > 0)
        return wd_err_set(e, WD_E_INTERNAL, "JSON: no input buffer");
    static const char empty[1] = "";
    const char *src = buf ? (const char *)buf : empty;

    json_error_t je;
    memset(&je, 0, sizeof je);
    json_t *v = json_loadb(src, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        wd_code c = code_of(&je);
        /* jansson appends " near '<up to 20 bytes of input>'": that can be part of a string
         * value such as an environment value or a secret, so only the position is kept. */
        char text[sizeof je.text];
        memcpy(text, je.text, sizeof text);
        text[sizeof text - 1] = '\0';
        char *near = strstr(text, " near '");
        if (near != NULL)
            *near = '\0';
        return wd_err_set(e, c, "JSON document rejected at line %d, column %d (byte %d): %s",
                          je.line, je.column, je.position, text);
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        /* jansson refuses a scalar at the top without JSON_DECODE_ANY; keep the rule explicit. */
        json_decref(v);
        return wd_err_set(e, WD_E_MALFORMED, "JSON document: top level must be an object or array");
    }
    if (deeper_than(v, WD_MAX_JSON_DEPTH)) {
        json_decref(v);
        return wd_err_set(e, WD_E_OVERSIZED, "JSON document: nesting deeper than %d",
                          WD_MAX_JSON_DEPTH);
    }
    *out = v;
    return WD_OK;
}

size_t wd_json_depth(const json_t *v)
{
    size_t best = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            size_t d = wd_json_depth(c);
            if (d > best)
                best = d;
        }
        return best + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            size_t d = wd_json_depth(c);
            if (d > best)
                best = d;
        }
        return best + 1;
    }
    return 0;
}

/* ---- paths ---- */

/* Longest piece of an untrusted key kept in a path (longer keys end in "..."). */
#define KEY_SHOWN 64

/* Replace control characters and non-ASCII bytes by '?', in place. */
static void clean_in_place(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            *p = '?';
}

char *wd_path_key(char *out, size_t outsz, const char *base, const char *key)
{
    if (out == NULL || outsz == 0)
        return out;
    char k[KEY_SHOWN + 1];
    wd_clean_text(key, k, sizeof k);
    if (base == NULL || base[0] == '\0')
        snprintf(out, outsz, "%s", k);
    else
        snprintf(out, outsz, "%s.%s", base, k);
    clean_in_place(out);
    return out;
}

char *wd_path_index(char *out, size_t outsz, const char *base, size_t i)
{
    if (out == NULL || outsz == 0)
        return out;
    snprintf(out, outsz, "%s[%zu]", base ? base : "", i);
    clean_in_place(out);
    return out;
}

/* ---- schema ---- */

static const char *type_name(wd_jtype t)
{
    switch (t) {
    case WD_JT_STRING: return "string";
    case WD_JT_INT: return "integer";
    case WD_JT_BOOL: return "boolean";
    case WD_JT_OBJECT: return "object";
    case WD_JT_ARRAY: return "array";
    case WD_JT_STRING_OR_NULL: return "string or null";
    case WD_JT_ANY: return "any value";
    }
    return "unknown type";
}

static bool type_ok(const json_t *v, wd_jtype t)
{
    switch (t) {
    case WD_JT_STRING: return json_is_string(v);
    case WD_JT_INT: return json_is_integer(v);
    case WD_JT_BOOL: return json_is_boolean(v);
    case WD_JT_OBJECT: return json_is_object(v);
    case WD_JT_ARRAY: return json_is_array(v);
    case WD_JT_STRING_OR_NULL: return json_is_string(v) || json_is_null(v);
    case WD_JT_ANY: return v != NULL;
    }
    return false;
}

/* Room for a path in a message; longer paths are cut by snprintf (still NUL-terminated). */
#define PATH_MAX_SHOWN 256

wd_code wd_json_check(const json_t *v, const char *path, const wd_jfield *fields, size_t n,
                      wd_err *e)
{
    char p[PATH_MAX_SHOWN];
    if (path == NULL)
        path = "";
    if (!json_is_object(v)) {
        char shown[PATH_MAX_SHOWN];
        wd_clean_text(path[0] ? path : "(top level)", shown, sizeof shown);
        return wd_err_set(e, WD_E_MALFORMED, "%s: expected object", shown);
    }
    /* Unknown keys first, in document order. */
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = fields[i].name != NULL && strcmp(fields[i].name, key) == 0;
        if (!known) {
            const char *names[64];
            size_t nn = 0;
            for (size_t i = 0; i < n && nn < sizeof names / sizeof names[0]; i++)
                if (fields[i].name != NULL)
                    names[nn++] = fields[i].name;
            const char *near = wd_suggest(key, names, nn);
            return wd_err_set(e, WD_E_UNKNOWN_FIELD, "%s: unknown field%s%s%s",
                              wd_path_key(p, sizeof p, path, key),
                              near ? " (did you mean '" : "", near ? near : "",
                              near ? "'?)" : "");
        }
    }
    /* Then presence and type, in schema order. */
    for (size_t i = 0; i < n; i++) {
        if (fields[i].name == NULL)
            continue;
        const json_t *f = json_object_get(v, fields[i].name);
        if (f == NULL) {
            if (fields[i].required)
                return wd_err_set(e, WD_E_MALFORMED, "%s: missing required field",
                                  wd_path_key(p, sizeof p, path, fields[i].name));
            continue;
        }
        if (!type_ok(f, fields[i].type))
            return wd_err_set(e, WD_E_MALFORMED, "%s: expected %s",
                              wd_path_key(p, sizeof p, path, fields[i].name),
                              type_name(fields[i].type));
    }
    return WD_OK;
}

/* ---- getters and output ---- */

const char *wd_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

json_int_t wd_json_int(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

char *wd_json_dump(const json_t *v, size_t *len)
{
    if (v == NULL)
        return NULL;
    /* jansson escapes every control character (NUL included), so strlen is the length. */
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s != NULL && len != NULL)
        *len = strlen(s);
    return s;
}
