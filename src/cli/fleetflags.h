/* fleetflags.h — what `warden publish` and `warden status` share on the command line around the
 * leader client (src/client/fleetclient.h): the connection flags, their checks, and the line
 * printed for a leader's error answer. It must never open a connection or print a body. */
#ifndef WD_FLEETFLAGS_H
#define WD_FLEETFLAGS_H

#include <stdbool.h>

#include "fleetclient.h"

/* The connection flags as given (borrowed from argv; any may be NULL). */
typedef struct wd_fleet_flags {
    const char *leader, *cert, *key, *ca, *timeout;
} wd_fleet_flags;

/* getopt_long rows for the connection flags (values 'L', 'c', 'k', 'a', 'T'). */
#define WD_FLEET_FLAG_OPTS                                                                     \
    {"leader", required_argument, NULL, 'L'}, {"cert", required_argument, NULL, 'c'},          \
        {"key", required_argument, NULL, 'k'}, {"ca", required_argument, NULL, 'a'},           \
        {"timeout", required_argument, NULL, 'T'}

/* Take the value of connection flag ch into f. Returns true when ch was one of them. */
bool wd_fleet_flag(int ch, const char *arg, wd_fleet_flags *f);

/* Check the flags (all of --leader, --cert, --key, --ca present; the URL acceptable; --timeout
 * a duration of 1 s to 1 h) and fill *o (borrowing f's strings). Returns 0, or 2 after printing
 * the usage error with usage. Nothing is allocated. */
int wd_fleet_flags_check(const wd_fleet_flags *f, const char *usage, wd_fleet_opts *o);

/* Print "warden: <what>: the leader answered <status> <reason>[: <code>: <message>]" on stderr
 * from r's error body (cleaned) and return 1 (operational error). */
int wd_fleet_report_status(const char *what, const wd_fleet_response *r);

#endif
