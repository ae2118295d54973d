/* agent_log.h — the agent's log: one line per event on stderr, JSON or key=value text, with a
 * level and format that a SIGHUP reload changes while the pollers write. It must never be
 * given a body, a key or a header value, and it cleans every value of control characters. */
#ifndef WD_AGENT_LOG_H
#define WD_AGENT_LOG_H

#include "config.h"

typedef struct wd_agent_logger {
    int level;   /* wd_agent_log_level, read and written atomically */
    int format;  /* wd_agent_log_format, read and written atomically */
} wd_agent_logger;

/* Set the level and format (atomically; safe while other threads log). */
void wd_agent_log_configure(wd_agent_logger *L, wd_agent_log_level level,
                            wd_agent_log_format format);

/* One line: event, then alternating key and value strings, ended by NULL. Values are cleaned
 * (control characters and non-ASCII become '?') and cut at 512 bytes. One write(2) per line,
 * so lines of several threads never mix. Nothing is kept; failures to write are ignored. */
void wd_agent_log(wd_agent_logger *L, wd_agent_log_level level, const char *event, ...)
    __attribute__((sentinel));

#endif
