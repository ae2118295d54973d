/* proxy.c — the MCP proxy's message logic (SPEC §14.1); see proxy.h. Not yet written: every
 * entry point fails closed (a client line is answered with an error, never forwarded). */
#include "proxy.h"

#include <stdlib.h>

void wd_proxy_out_clear(wd_proxy_out *out)
{
    free(out->to_server);
    free(out->to_client);
    out->forward_original = false;
    out->to_server = out->to_client = NULL;
    out->to_server_len = out->to_client_len = 0;
}
