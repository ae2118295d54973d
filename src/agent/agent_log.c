/* agent_log.c — one log line per event for the agent (see agent_log.h): JSON built with
 * jansson, or "TIME LEVEL EVENT k=v ..." text, written with one write(2).
 * It must never log a body, a key or a header value; values are cleaned before they are kept. */
#include "agent_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/base.h"

void wd_agent_log_configure(wd_agent_logger *L, wd_agent_log_level level,
                            wd_agent_log_format format)
{
    __atomic_store_n(&L->level, (int)level, __ATOMIC_SEQ_CST);
    __atomic_store_n(&L->format, (int)format, __ATOMIC_SEQ_CST);
}

static const char *level_name(wd_agent_log_level l)
{
    switch (l) {
    case WD_AGENT_LOG_DEBUG: return "debug";
    case WD_AGENT_LOG_INFO: return "info";
    case WD_AGENT_LOG_WARN: return "warn";
    case WD_AGENT_LOG_ERROR: return "error";
    }
    return "info";
}

void wd_agent_log(wd_agent_logger *L, wd_agent_log_level level, const char *event, ...)
{
    if ((int)level < __atomic_load_n(&L->level, __ATOMIC_SEQ_CST))
        return;
    int format = __atomic_load_n(&L->format, __ATOMIC_SEQ_CST);
    char ts[WD_TIME_STRLEN + 1];
    wd_time_format(wd_now(), ts);
    char line[4096];
    size_t n = 0;
    json_t *o = NULL;
    if (format == WD_AGENT_LOG_JSON) {
        o = json_object();
        if (o == NULL)
            return;
        json_object_set_new(o, "ts", json_string(ts));
        json_object_set_new(o, "level", json_string(level_name(level)));
        json_object_set_new(o, "event", json_string(event));
    } else {
        n = (size_t)snprintf(line, sizeof line, "%s %s %s", ts, level_name(level), event);
    }
    va_list ap;
    va_start(ap, event);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        char clean[520];
        wd_clean_text(v ? v : "-", clean, sizeof clean);
        if (o != NULL) {
            json_object_set_new(o, k, json_string(clean));
        } else if (n < sizeof line) {
            bool quote = strchr(clean, ' ') != NULL || clean[0] == '\0';
            n += (size_t)snprintf(line + n, sizeof line - n, quote ? " %s=\"%s\"" : " %s=%s", k,
                                  clean);
        }
    }
    va_end(ap);
    if (o != NULL) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (s == NULL)
            return;
        snprintf(line, sizeof line, "%s", s);
        free(s);
        n = strlen(line);
    }
    if (n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w;
}
