/* fuzz_recorder.c — libFuzzer target for the flight recorder verifier's line parsing: any input
 * must be accepted or rejected cleanly, an accepted line must be a JSON object with a seq of at
 * least 1, and the rejection must carry a message. It must never write outside its scratch
 * directory. The input is also run through the whole verifier as one segment file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "recorder/recorder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seq = 0;
    json_t *obj = NULL;
    wd_err e;
    wd_code c = wd_recorder_parse_line(data, size, &seq, &obj, &e);
    if (c != WD_OK) {
        if (obj != NULL || e.code != c || e.msg[0] == '\0')
            __builtin_trap();
    } else if (!json_is_object(obj) || seq < 1) {
        __builtin_trap();
    }
    json_decref(obj);

    /* the same bytes as a whole segment (several lines, maybe a truncated tail) */
    char dir[] = "/tmp/fuzz-recorder-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 0;
    char path[96];
    snprintf(path, sizeof path, "%s/seg-00000000000000000001.jsonl", dir);
    FILE *f = fopen(path, "wb");
    if (f != NULL) {
        if (size > 0)
            fwrite(data, 1, size, f);
        fclose(f);
        unsigned char pub[WD_ED25519_PUB_LEN] = {0};
        pub[0] = 1;
        wd_key *k = NULL;
        if (wd_key_from_raw_public(pub, &k, NULL) == WD_OK) {
            wd_recorder_report rep;
            c = wd_recorder_verify(dir, k, &rep, &e);
            if (c != WD_OK && (e.code != c || e.msg[0] == '\0'))
                __builtin_trap();
            if (c == WD_OK && rep.unsigned_after > rep.entries)
                __builtin_trap();
            wd_key_free(k);
        }
        unlink(path);
    }
    rmdir(dir);
    return 0;
}
