/* deny_by_name.h — a downstream gate for warden: deny the creation (and restart) of MCP servers
 * whose name is on a list. Built against warden's installed headers and library only. */
#ifndef DENY_BY_NAME_H
#define DENY_BY_NAME_H

#include <stddef.h>

#include <warden/gate.h>

/* Register a gate that denies servers named in names[0..n) (copied). On success *id is the
 * handle for wd_gate_unregister; on failure nothing is registered and the code says why
 * (WD_E_NOMEM, or the registry's WD_E_USAGE). */
wd_code deny_by_name_register(const char *const *names, size_t n, wd_gate_id *id, wd_err *e);

#endif
