/* recorder_append.c — a test helper: append COUNT tool_call entries to the flight recorder in DIR
 * through libwarden, as a `warden run` would, so that shell tests can add entries beside a
 * running agent. It must never be installed or used outside tests.
 * usage: recorder_append DIR COUNT [PAD_BYTES [KEY]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recorder/recorder.h"

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: recorder_append DIR COUNT [PAD_BYTES [KEY]]\n");
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    long pad = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
    if (count < 0 || pad < 0 || pad > 100000)
        return 2;
    wd_recorder_opts o = {.dir = argv[1], .signing_key_path = argc > 4 ? argv[4] : NULL};
    wd_recorder *r = NULL;
    wd_err e;
    if (wd_recorder_open(&o, &r, &e) != WD_OK) {
        fprintf(stderr, "recorder_append: %s\n", e.msg);
        return 1;
    }
    char *p = calloc(1, (size_t)pad + 1);
    if (p == NULL)
        return 1;
    memset(p, 'p', (size_t)pad);
    int rc = 0;
    for (long i = 0; i < count && rc == 0; i++) {
        json_t *f = json_pack("{s:s,s:s,s:I,s:s}", "server", "files", "tool", "read_file", "n",
                              (json_int_t)i, "pad", p);
        if (wd_recorder_append(r, "tool_call", f, &e) != WD_OK) {
            fprintf(stderr, "recorder_append: %s\n", e.msg);
            rc = 1;
        }
        json_decref(f);
    }
    free(p);
    wd_recorder_close(r);
    return rc;
}
