/* runconfig_json.h — RunConfig from a JSON tree already parsed, so that `warden run` can build
 * the RunConfig from its flags and go through exactly the checks a RunConfig file gets. There
 * must never be a second, laxer way to make a RunConfig. */
#ifndef WD_RUNCONFIG_JSON_H
#define WD_RUNCONFIG_JSON_H

#include <jansson.h>

#include "warden/runconfig.h"

/* The checks and result of wd_runconfig_decode, on a tree. The tree is not kept or changed.
 * On success the caller owns *out (wd_runconfig_free); on error *out is NULL. */
wd_code wd_runconfig_from_json(const json_t *v, wd_runconfig **out, wd_err *e);

#endif
