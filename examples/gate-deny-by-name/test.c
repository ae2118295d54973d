/* test.c — checks the deny-by-name gate beside warden's policy gate, through the public API
 * only, and prints TAP. Exit status 0 when every check passed; it never reaches into warden's
 * internal headers. */
#include <stdio.h>
#include <string.h>

#include <warden/gate.h>
#include <warden/policy.h>

#include "deny_by_name.h"

static int n, failed;

static void check(int cond, const char *name)
{
    n++;
    if (!cond)
        failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", n, name);
}

static wd_code create(const char *server, const char *cmd, wd_err *e)
{
    char *argv[] = {(char *)cmd, "server.js"};
    wd_runconfig rc;
    memset(&rc, 0, sizeof rc);
    rc.name = (char *)server;
    rc.transport = "stdio";
    rc.command = argv;
    rc.n_command = 2;
    wd_decision d;
    return wd_gate_check_create(&rc, &d, e);
}

int main(void)
{
    wd_err e;
    wd_policy *p = NULL;
    check(wd_policy_load_default(&p, &e) == WD_OK, "01 the built-in policy loads");
    const wd_gate_ops *pops;
    void *pctx;
    wd_gate_id pid = 0, did = 0;
    check(wd_policy_gate_new(p, &pops, &pctx, &e) == WD_OK &&
              wd_gate_register(pops, pctx, &pid, &e) == WD_OK,
          "02 the policy gate is registered");
    wd_policy_unref(p);
    const char *blocked[] = {"legacy-fs", "scratch"};
    check(deny_by_name_register(blocked, 2, &did, &e) == WD_OK, "03 the deny-by-name gate is registered");
    check(wd_gate_count() == 2, "04 two gates in the chain");

    check(create("docs", "node", &e) == WD_OK, "05 a server both gates allow is allowed");
    check(create("legacy-fs", "node", &e) == WD_E_DENIED, "06 a listed name is denied");
    check(strcmp(e.msg, "server creation blocked by policy: server name legacy-fs is on the deny "
                        "list (rule deny-by-name)") == 0,
          "07 with the gate's reason and rule, unchanged");
    check(create("scratch", "bash", &e) == WD_E_DENIED &&
              strstr(e.msg, "(rule no-shells)") != NULL,
          "08 the policy gate, first in the chain, decides first");
    wd_tool_call call = {"legacy-fs", "read_file", NULL, 0};
    wd_decision d;
    check(wd_gate_check_tool(&call, &d, &e) == WD_OK, "09 a NULL tool operation allows");
    check(wd_gate_unregister(did, &e) == WD_OK, "10 the gate unregisters");
    check(create("legacy-fs", "node", &e) == WD_OK, "11 without it the name is allowed again");
    check(wd_gate_unregister(pid, &e) == WD_OK, "12 the policy gate unregisters");
    printf("1..%d\n", n);
    return failed ? 1 : 0;
}
