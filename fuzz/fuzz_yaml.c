/* fuzz_yaml.c — libFuzzer target for the limited YAML loader: any input must be accepted or
 * rejected cleanly within the node and depth limits, and an accepted value must dump.
 * It must never let an accepted tree exceed WD_MAX_POLICY_DEPTH. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "codec/json.h"
#include "codec/yaml.h"
#include "warden/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    wd_err e;
    wd_code c = wd_yaml_load(data, size, &v, &e);
    if (c != WD_OK) {
        if (v != NULL || e.code != c || e.msg[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if (v == NULL || wd_json_depth(v) > WD_MAX_POLICY_DEPTH)
        __builtin_trap();
    char *text = wd_json_dump(v, NULL);
    if (text == NULL)
        __builtin_trap();
    free(text);
    json_decref(v);
    return 0;
}
