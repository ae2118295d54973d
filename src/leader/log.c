/* log.c — the leader's log: one line per event on stderr, JSON or "key=value" text, written
 * with a single write(2) so lines from several threads never interleave. It must never log a
 * request body, a key or an environment value; every value is cleaned of control bytes. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/base.h"
#include "leader.h"

static const char *level_name(wd_log_level l)
{
    switch (l) {
    case WD_LOG_DEBUG: return "debug";
    case WD_LOG_INFO: return "info";
    case WD_LOG_WARN: return "warn";
    case WD_LOG_ERROR: return "error";
    }
    return "info";
}

/* Append text to line[*n..cap), cutting at the end; keeps room for "\n". */
static void put(char *line, size_t cap, size_t *n, const char *text)
{
    size_t len = strlen(text);
    if (*n + len > cap - 2)
        len = cap - 2 - *n;
    memcpy(line + *n, text, len);
    *n += len;
}

void wd_log(const wd_leader *L, wd_log_level level, const char *event, ...)
{
    wd_log_format fmt = L ? L->cfg.log_format : WD_LOG_TEXT;
    if (L && level < L->cfg.log_level)
        return;
    char ts[WD_TIME_STRLEN + 1];
    wd_time_format(wd_now(), ts);
    char line[4096];
    size_t n = 0;
    char clean[1024];
    va_list ap;
    va_start(ap, event);
    if (fmt == WD_LOG_JSON) {
        json_t *o = json_object();
        if (o != NULL) {
            json_object_set_new(o, "ts", json_string(ts));
            json_object_set_new(o, "level", json_string(level_name(level)));
            json_object_set_new(o, "event", json_string(wd_clean_text(event, clean,
                                                                        sizeof clean)));
            const char *k;
            while ((k = va_arg(ap, const char *)) != NULL) {
                const char *v = va_arg(ap, const char *);
                if (v == NULL)
                    break;
                json_object_set_new(o, k, json_string(wd_clean_text(v, clean, sizeof clean)));
            }
            char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
            if (text != NULL) {
                put(line, sizeof line, &n, text);
                free(text);
            }
        }
    } else {
        put(line, sizeof line, &n, ts);
        put(line, sizeof line, &n, " ");
        put(line, sizeof line, &n, level_name(level));
        put(line, sizeof line, &n, " ");
        put(line, sizeof line, &n, wd_clean_text(event, clean, sizeof clean));
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            if (v == NULL)
                break;
            put(line, sizeof line, &n, " ");
            put(line, sizeof line, &n, k);
            put(line, sizeof line, &n, "=");
            wd_clean_text(v, clean, sizeof clean);
            bool quote = strchr(clean, ' ') != NULL || clean[0] == '\0';
            if (quote)
                put(line, sizeof line, &n, "\"");
            put(line, sizeof line, &n, clean);
            if (quote)
                put(line, sizeof line, &n, "\"");
        }
    }
    va_end(ap);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
