/* fuzz_runconfig.c — libFuzzer target for RunConfig JSON (SPEC §7): any input must decode or be
 * rejected cleanly with a code and a message, and a decoded RunConfig must get the same decision
 * from the indexed policy and from the rule-by-rule explanation. It must never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "warden/policy.h"
#include "warden/runconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nothing(void *arg, const wd_explain_step *s)
{
    (void)arg;
    (void)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wd_policy *policy;
    if (policy == NULL && wd_policy_load_default(&policy, NULL) != WD_OK)
        __builtin_trap();
    wd_runconfig *rc = NULL;
    wd_err e;
    wd_code c = wd_runconfig_decode(data, size, &rc, &e);
    if (c != WD_OK) {
        if (rc != NULL || e.code != c || e.msg[0] == '\0')
            __builtin_trap();
        return 0;
    }
    wd_decision a, b;
    wd_policy_decide_server(policy, rc, &a);
    wd_policy_explain_server(policy, rc, nothing, NULL, &b);
    if (a.verdict != b.verdict || strcmp(a.rule, b.rule) != 0 || strcmp(a.reason, b.reason) != 0)
        __builtin_trap();
    wd_runconfig_free(rc);
    return 0;
}
