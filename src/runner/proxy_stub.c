/* proxy_stub.c — a stand-in for the proxy's message logic until it lands (see proxy.h): every
 * line passes unchanged, nothing is decided. Build scaffolding only; removed with the merge. */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>

struct wd_proxy {
    int unused;
};

wd_code wd_proxy_new(const char *server_name, size_t max_line, const wd_proxy_hooks *hooks,
                     wd_proxy **out, wd_err *e)
{
    *out = calloc(1, sizeof **out);
    return *out ? WD_OK : wd_err_set(e, WD_E_NOMEM, "out of memory");
}

void wd_proxy_free(wd_proxy *p)
{
    free(p);
}

wd_code wd_proxy_client_line(wd_proxy *p, const char *line, size_t len, bool over_cap,
                             wd_proxy_out *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    out->forward_original = !over_cap;
    return WD_OK;
}

wd_code wd_proxy_server_line(wd_proxy *p, const char *line, size_t len, wd_proxy_out *out,
                             wd_err *e)
{
    memset(out, 0, sizeof *out);
    out->forward_original = true;
    return WD_OK;
}

wd_code wd_proxy_policy_changed(wd_proxy *p, wd_proxy_out *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    return WD_OK;
}

wd_code wd_proxy_server_gone(wd_proxy *p, wd_proxy_out *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    return WD_OK;
}
