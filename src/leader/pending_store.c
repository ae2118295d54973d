/* pending_store.c — TEMPORARY: stands in for the store while store.c is still a placeholder in
 * this branch, so the warden binary links. Built only while store.c says "placeholder" (see
 * meson.build); opening any store fails. It must never be built next to the real store.c. */
#include "store.h"

wd_code wd_store_open(const char *url, wd_store **out, wd_err *e)
{
    (void)url;
    *out = NULL;
    return wd_err_set(e, WD_E_USAGE, "the store is not built into this binary");
}

void wd_store_close(wd_store *s)
{
    (void)s;
}
