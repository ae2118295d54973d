/* connect_proxy.h — the HTTP CONNECT proxy warden runs for a sandboxed server whose profile
 * lists allow_hosts (SPEC §14.2): it accepts on a socket that lives in the server's network
 * namespace and opens tunnels from warden's own network namespace, only to a host that matches
 * one of the host globs on one of the allowed ports. It must never open a connection for a
 * request it has not checked, never relay anything but CONNECT, and never read an unbounded
 * request head. */
#ifndef WD_RUNNER_CONNECT_PROXY_H
#define WD_RUNNER_CONNECT_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/error.h"

typedef struct wd_cproxy wd_cproxy;

/* Start serving listen_fd (a listening TCP socket; owned by the proxy from this call on, closed
 * on error too) on a thread of its own. hosts are lower-case host globs, ports 1..65535; both
 * are copied. log_fd receives one line per refused request (-1: none). On error nothing runs
 * and *out is NULL; on success the caller owns *out (wd_cproxy_stop). */
wd_code wd_cproxy_start(int listen_fd, char *const *hosts, size_t n_hosts, const uint16_t *ports,
                        size_t n_ports, int log_fd, wd_cproxy **out, wd_err *e);

/* Stop accepting, cut every open tunnel and release the proxy. Connections still resolving a
 * name finish on their own and then release what they hold. NULL is a no-op. */
void wd_cproxy_stop(wd_cproxy *p);

/* Is host:port admitted by the lists? host is compared lower-cased; exposed for tests. */
bool wd_cproxy_admits(char *const *hosts, size_t n_hosts, const uint16_t *ports, size_t n_ports,
                      const char *host, unsigned port);

#endif
