/* store.c — opening the leader's store by URL ("sqlite:PATH", "postgres://...") and
 * closing it. It only dispatches to an implementation; it must never touch a store's data
 * itself, and never echo anything of a URL but its scheme (a PostgreSQL URL may carry a
 * password). */
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define SQLITE_PREFIX "sqlite:"

/* On error *out is NULL and nothing was created beyond what the implementation's opener
 * documents (the SQLite opener may leave a new, empty database file). */
wd_code wd_store_open(const char *url, wd_store **out, wd_err *e)
{
    if (out == NULL)
        return wd_err_set(e, WD_E_USAGE, "store: no place to return the store");
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return wd_err_set(e, WD_E_USAGE,
                          "store: no store given; accepted forms are sqlite:PATH and "
                          "postgres://...");
    if (strncmp(url, SQLITE_PREFIX, strlen(SQLITE_PREFIX)) == 0) {
        const char *path = url + strlen(SQLITE_PREFIX);
        if (path[0] == '\0')
            return wd_err_set(e, WD_E_USAGE, "store: sqlite: needs a file path (sqlite:PATH)");
        return wd_store_sqlite_open(path, out, e);
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return wd_store_pg_open(url, out, e);
    return wd_err_set(e, WD_E_USAGE,
                      "store: unknown store URL; accepted forms are sqlite:PATH and "
                      "postgres://...");
}

/* Closes s and frees everything it holds; s may be NULL. */
void wd_store_close(wd_store *s)
{
    if (s == NULL || s->ops == NULL || s->ops->close == NULL)
        return;
    s->ops->close(s);
}
