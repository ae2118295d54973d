/* policy_doc.h — validation of a policy document tree (SPEC §6) for callers that hold one
 * already loaded (the bundle verifier), and compilation of a tree for callers that build one
 * in memory (benchmarks, tests). The policy engine proper is in policy.h. Nothing here ever
 * modifies the tree it is given. */
#ifndef WD_POLICY_DOC_H
#define WD_POLICY_DOC_H

#include <stdbool.h>

#include <jansson.h>

#include "warden/error.h"
#include "warden/policy.h"

/* Validate doc against the full policy schema. WD_OK, or WD_E_INVALID_POLICY with the path
 * and reason of the first error ("servers.rules[2].mtach: unknown key"); WD_E_NOMEM only when
 * memory runs out. Pure: allocates only temporarily and returns nothing to free. */
wd_code wd_policy_validate_doc(const json_t *doc, wd_err *e);

/* wd_policy_validate_doc that also writes the path of the first error into path[0..cap)
 * ("" for an error about the whole document, or on success), so a caller holding the text can
 * say where it is. path may be NULL (cap 0). */
wd_code wd_policy_validate_doc_at(const json_t *doc, char *path, size_t cap, wd_err *e);

/* Validate doc (as wd_policy_validate_doc) and compile it. On success the caller owns one
 * reference to *out; on error *out is NULL and the code is WD_E_INVALID_POLICY or WD_E_NOMEM.
 * doc is not kept: the compiled policy copies what it needs. */
wd_code wd_policy_compile_doc(const json_t *doc, wd_policy **out, wd_err *e);

/* wd_policy_compile_doc with the error path of wd_policy_validate_doc_at. */
wd_code wd_policy_compile_doc_at(const json_t *doc, wd_policy **out, char *path, size_t cap,
                                 wd_err *e);

/* Check one permission profile object at path. Policy documents use request == false
 * (errors are WD_E_INVALID_POLICY "...: unknown key"); a RunConfig's inline profile uses
 * request == true (WD_E_UNKNOWN_FIELD "...: unknown field", otherwise WD_E_MALFORMED, and read
 * and write entries must be absolute paths without "." or ".." segments). Pure. */
wd_code wd_profile_check(const json_t *v, const char *path, bool request, wd_err *e);

/* True when p (a path or a path glob) is absolute and has no empty, "." or ".." segment. */
bool wd_path_normalized(const char *p);

#endif
