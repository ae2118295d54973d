/* tool_args.h — the arguments of a tool call (wd_tool_arg, see warden/gate.h) built from a JSON
 * object, the one way every caller does it (`warden gate check --args`, policy test cases, the
 * proxy of `warden run`): a string value is passed as its text, any other value as its compact
 * JSON. It must never hand out a partly built list. */
#ifndef WD_GATE_TOOL_ARGS_H
#define WD_GATE_TOOL_ARGS_H

#include <stddef.h>

#include <jansson.h>

#include "warden/error.h"
#include "warden/gate.h"

/* args[i].key and the string values point into the object, which must outlive the result;
 * dumps[i] (the compact JSON of a non-string value, else NULL) are owned here. */
typedef struct wd_tool_args {
    wd_tool_arg *args;
    char **dumps;
    size_t n;
} wd_tool_args;

/* Fill *out from obj, the top-level keys in document order. obj not an object ->
 * WD_E_MALFORMED "<what>: expected a JSON object"; keys and value texts longer than max bytes in
 * all -> WD_E_OVERSIZED "<what>: more than <max> bytes of arguments"; out of memory ->
 * WD_E_NOMEM. On error *out is empty and nothing is left allocated; on success the caller frees
 * it with wd_tool_args_free. */
wd_code wd_tool_args_from(const json_t *obj, const char *what, size_t max, wd_tool_args *out,
                          wd_err *e);

/* Free what wd_tool_args_from allocated and empty *a (safe on an empty or freed one). */
void wd_tool_args_free(wd_tool_args *a);

#endif
