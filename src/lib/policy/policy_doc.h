/* policy_doc.h — validation of a policy document tree (SPEC §6) for callers that hold one
 * already loaded (the bundle verifier). The policy engine proper is in policy.h. */
#ifndef WD_POLICY_DOC_H
#define WD_POLICY_DOC_H

#include <jansson.h>

#include "warden/error.h"

/* Validate doc against the full policy schema. WD_OK, or WD_E_INVALID_POLICY with the path
 * and reason of the first error ("servers.rules[2].mtach: unknown key"). Pure. */
wd_code wd_policy_validate_doc(const json_t *doc, wd_err *e);

#endif
