/* pending_api.c — TEMPORARY: stands in for the routes while api.c is still a placeholder in
 * this branch, so the warden binary links. Built only while api.c says "placeholder" (see
 * meson.build); it serves nothing: every request is 503 and the leader is never ready.
 * It must never be built next to the real api.c. */
#include "api.h"

wd_code wd_api_init(wd_leader *L, wd_err *e)
{
    (void)L;
    wd_err_clear(e);
    return WD_OK;
}

void wd_api_fini(wd_leader *L)
{
    (void)L;
}

bool wd_api_ready(const wd_leader *L)
{
    (void)L;
    return false;
}

size_t wd_api_body_cap(const char *method, const char *target)
{
    (void)method;
    (void)target;
    return 0;
}

void wd_api_handle(wd_leader *L, const wd_http_req *req, wd_http_resp *rs)
{
    (void)L;
    (void)req;
    rs->route = "pending";
    wd_http_resp_error(rs, 503, "unavailable", "the API is not built into this binary");
}
