/* fleetflags.c — the connection flags of `warden publish` and `warden status` (--leader, --cert,
 * --key, --ca, --timeout), checked into the leader client's options, and the report of a
 * leader's error answer. It must never print a response body, only its cleaned error code and
 * message. */
#include "fleetflags.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "cli.h"

bool wd_fleet_flag(int ch, const char *arg, wd_fleet_flags *f)
{
    switch (ch) {
    case 'L': f->leader = arg; return true;
    case 'c': f->cert = arg; return true;
    case 'k': f->key = arg; return true;
    case 'a': f->ca = arg; return true;
    case 'T': f->timeout = arg; return true;
    }
    return false;
}

int wd_fleet_flags_check(const wd_fleet_flags *f, const char *usage, wd_fleet_opts *o)
{
    memset(o, 0, sizeof *o);
    if (f->leader == NULL || f->cert == NULL || f->key == NULL || f->ca == NULL)
        return cli_usage_error(usage, "--leader, --cert, --key and --ca are required");
    wd_err e;
    wd_err_clear(&e);
    char *base = NULL;
    if (wd_fleet_parse_url(f->leader, &base, &e) != WD_OK)
        return cli_usage_error(usage, "--leader: %s", e.msg);
    free(base);
    int64_t secs = WD_FLEET_DEFAULT_TIMEOUT_S;
    if (f->timeout != NULL && wd_duration_parse(f->timeout, &secs, &e) != WD_OK)
        return cli_usage_error(usage, "--timeout: %s", e.msg);
    if (secs < 1 || secs > WD_FLEET_MAX_TIMEOUT_S)
        return cli_usage_error(usage, "--timeout: must be 1s to %ds", WD_FLEET_MAX_TIMEOUT_S);
    o->leader_url = f->leader;
    o->cert_path = f->cert;
    o->key_path = f->key;
    o->ca_path = f->ca;
    o->timeout_s = (long)secs;
    return 0;
}

int wd_fleet_report_status(const char *what, const wd_fleet_response *r)
{
    char code[64], msg[WD_ERR_MSG_MAX];
    const char *reason = wd_fleet_reason(r->status);
    bool has = wd_fleet_error_body(r, code, sizeof code, msg, sizeof msg);
    fprintf(stderr, "warden: %s: the leader answered %ld%s%s", what, r->status,
            reason[0] ? " " : "", reason);
    if (has)
        fprintf(stderr, ": %s%s%s", code, msg[0] ? ": " : "", msg);
    fputc('\n', stderr);
    return 1;
}
