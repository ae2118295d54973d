/* fuzz_json.c — libFuzzer target for the strict JSON decoder: any input must be accepted or
 * rejected cleanly, and an accepted document must dump to text that decodes to the same value.
 * It must never accept a document whose dump fails to round-trip. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json.h"
#include "warden/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    wd_err e;
    wd_code c = wd_json_parse(data, size, WD_MAX_ENVELOPE, &v, &e);
    if (c != WD_OK) {
        if (v != NULL || e.code != c || e.msg[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if (v == NULL || wd_json_depth(v) > WD_MAX_JSON_DEPTH)
        __builtin_trap();
    size_t len = 0;
    char *text = wd_json_dump(v, &len);
    if (text == NULL)
        __builtin_trap();
    /* A dump may be longer than its input (1e2 becomes 100.0), so no size limit here. */
    json_t *w = NULL;
    if (wd_json_parse((const unsigned char *)text, len, SIZE_MAX, &w, &e) != WD_OK)
        __builtin_trap();
    if (!json_equal(v, w))
        __builtin_trap();
    char *again = wd_json_dump(w, NULL);
    if (again == NULL || strcmp(again, text) != 0)
        __builtin_trap();
    free(again);
    free(text);
    json_decref(w);
    json_decref(v);
    return 0;
}
