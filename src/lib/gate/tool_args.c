/* tool_args.c — a tool call's arguments from a JSON object (see tool_args.h). It must never
 * leave a partly built list or anything allocated behind on an error path. */
#include <stdlib.h>
#include <string.h>

#include "codec/json.h"
#include "gate/tool_args.h"

void wd_tool_args_free(wd_tool_args *a)
{
    for (size_t i = 0; a->dumps != NULL && i < a->n; i++)
        free(a->dumps[i]);
    free(a->dumps);
    free(a->args);
    a->args = NULL;
    a->dumps = NULL;
    a->n = 0;
}

wd_code wd_tool_args_from(const json_t *obj, const char *what, size_t max, wd_tool_args *out,
                          wd_err *e)
{
    out->args = NULL;
    out->dumps = NULL;
    out->n = 0;
    if (!json_is_object(obj))
        return wd_err_set(e, WD_E_MALFORMED, "%s: expected a JSON object", what);
    size_t n = json_object_size(obj);
    out->args = calloc(n + 1, sizeof *out->args);
    out->dumps = calloc(n + 1, sizeof *out->dumps);
    if (out->args == NULL || out->dumps == NULL) {
        wd_tool_args_free(out);
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
    }
    const char *k;
    json_t *v;
    size_t total = 0;
    json_object_foreach((json_t *)obj, k, v) {
        wd_tool_arg *a = &out->args[out->n];
        a->key = k;
        if (json_is_string(v)) {
            a->value = json_string_value(v);
            a->value_len = json_string_length(v);
        } else {
            size_t len = 0;
            char *d = wd_json_dump(v, &len);
            if (d == NULL) {
                wd_tool_args_free(out);
                return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", what);
            }
            out->dumps[out->n] = d;
            a->value = d;
            a->value_len = len;
        }
        out->n++;
        total += strlen(k) + a->value_len;
        if (total > max) {
            wd_tool_args_free(out);
            return wd_err_set(e, WD_E_OVERSIZED, "%s: more than %zu bytes of arguments", what,
                              max);
        }
    }
    return WD_OK;
}
