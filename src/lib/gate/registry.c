/* registry.c — the gate chain (SPEC §8), the only process-wide mutable state of libwarden.
 * A check takes the read lock just long enough to pin the registered gates (a reference each),
 * then runs them with no lock held; unregistering drops the registry's reference, and whoever
 * drops the last one calls destroy. Must never call a gate operation under the lock, never
 * call an operation its table's size does not cover, and never allow when a gate fails. */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/gate.h"

typedef struct entry {
    wd_gate_ops ops; /* members beyond the gate's own size are NULL */
    void *ctx;
    wd_gate_id id;
    atomic_size_t refs;
} entry;

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static entry *chain[WD_GATE_MAX];
static size_t n_chain;
static wd_gate_id next_id = 1;

static void release(entry *en)
{
    if (atomic_fetch_sub_explicit(&en->refs, 1, memory_order_acq_rel) == 1) {
        if (en->ops.destroy != NULL)
            en->ops.destroy(en->ctx);
        free(en);
    }
}

wd_code wd_gate_register(const wd_gate_ops *ops, void *ctx, wd_gate_id *id, wd_err *e)
{
    if (id != NULL)
        *id = 0;
    if (ops == NULL || ops->size < sizeof ops->size)
        return wd_err_set(e, WD_E_USAGE, "gate: operations table missing or its size too small");
    entry *en = calloc(1, sizeof *en);
    if (en == NULL)
        return wd_err_set(e, WD_E_NOMEM, "gate: out of memory");
    /* copy only the members the gate's size covers whole; the rest stay NULL */
    size_t sz = ops->size;
#define COVERS(m) (sz >= offsetof(wd_gate_ops, m) + sizeof ops->m)
    en->ops.size = sz;
    if (COVERS(check_create_server))
        en->ops.check_create_server = ops->check_create_server;
    if (COVERS(check_restart_server))
        en->ops.check_restart_server = ops->check_restart_server;
    if (COVERS(check_tool_call))
        en->ops.check_tool_call = ops->check_tool_call;
    if (COVERS(destroy))
        en->ops.destroy = ops->destroy;
#undef COVERS
    en->ctx = ctx;
    atomic_init(&en->refs, 1);
    if (pthread_rwlock_wrlock(&lock) != 0) {
        free(en);
        return wd_err_set(e, WD_E_INTERNAL, "gate: cannot lock the registry");
    }
    if (n_chain == WD_GATE_MAX) {
        pthread_rwlock_unlock(&lock);
        free(en);
        return wd_err_set(e, WD_E_USAGE, "gate: %d gates are registered already (the most)",
                          WD_GATE_MAX);
    }
    en->id = next_id++;
    chain[n_chain++] = en;
    wd_gate_id got = en->id;
    pthread_rwlock_unlock(&lock);
    if (id != NULL)
        *id = got;
    return WD_OK;
}

wd_code wd_gate_unregister(wd_gate_id id, wd_err *e)
{
    entry *found = NULL;
    if (pthread_rwlock_wrlock(&lock) != 0)
        return wd_err_set(e, WD_E_INTERNAL, "gate: cannot lock the registry");
    for (size_t i = 0; i < n_chain; i++) {
        if (chain[i]->id == id) {
            found = chain[i];
            memmove(&chain[i], &chain[i + 1], (n_chain - i - 1) * sizeof chain[0]);
            chain[--n_chain] = NULL;
            break;
        }
    }
    pthread_rwlock_unlock(&lock);
    if (found == NULL)
        return wd_err_set(e, WD_E_USAGE, "gate: no gate is registered as %llu",
                          (unsigned long long)id);
    release(found);
    return WD_OK;
}

size_t wd_gate_count(void)
{
    size_t n = 0;
    if (pthread_rwlock_rdlock(&lock) == 0) {
        n = n_chain;
        pthread_rwlock_unlock(&lock);
    }
    return n;
}

/* ---- checks ---- */

typedef enum { OP_CREATE, OP_RESTART, OP_TOOL } op_kind;

static const char *what(op_kind k)
{
    return k == OP_CREATE ? "server creation" : k == OP_RESTART ? "server restart" : "tool call";
}

/* The table was copied member by member, so an operation its size does not cover is NULL. */
static bool has_op(const entry *en, op_kind k)
{
    if (k == OP_CREATE)
        return en->ops.check_create_server != NULL;
    if (k == OP_RESTART)
        return en->ops.check_restart_server != NULL;
    return en->ops.check_tool_call != NULL;
}

/* A plain allow. Only what a reader looks at is set: the strings are emptied, not zeroed. */
static void plain_allow(wd_decision *d)
{
    d->verdict = WD_VERDICT_ALLOW;
    d->mode = WD_MODE_ENFORCE;
    d->audit_would_deny = d->warn = d->regex_limit = false;
    d->rule[0] = d->reason[0] = d->profile[0] = '\0';
}

static int telling(const wd_decision *d)
{
    if (d->audit_would_deny || d->warn)
        return 2;
    return d->rule[0] != '\0';
}

static wd_code run_chain(op_kind k, const wd_runconfig *rc, const wd_tool_call *call,
                         wd_decision *d, wd_err *e)
{
    entry *pinned[WD_GATE_MAX];
    size_t n = 0;
    plain_allow(d);
    if (pthread_rwlock_rdlock(&lock) != 0) {
        d->verdict = WD_VERDICT_DENY;
        strcpy(d->rule, "gate");
        strcpy(d->reason, "the gate registry cannot be read");
        return wd_err_set(e, WD_E_DENIED, "%s blocked by policy: %s (rule %s)", what(k),
                          d->reason, d->rule);
    }
    for (size_t i = 0; i < n_chain; i++) {
        atomic_fetch_add_explicit(&chain[i]->refs, 1, memory_order_relaxed);
        pinned[n++] = chain[i];
    }
    pthread_rwlock_unlock(&lock);

    wd_code result = WD_OK;
    int best = -1;
    for (size_t i = 0; i < n && result == WD_OK; i++) {
        entry *en = pinned[i];
        if (!has_op(en, k))
            continue;
        wd_decision ld;
        plain_allow(&ld);
        wd_code r;
        if (k == OP_CREATE)
            r = en->ops.check_create_server(en->ctx, rc, &ld);
        else if (k == OP_RESTART)
            r = en->ops.check_restart_server(en->ctx, rc, &ld);
        else
            r = en->ops.check_tool_call(en->ctx, call, &ld);
        ld.rule[sizeof ld.rule - 1] = '\0';
        ld.reason[sizeof ld.reason - 1] = '\0';
        ld.profile[sizeof ld.profile - 1] = '\0';
        if (r != WD_OK) {
            plain_allow(&ld);
            ld.verdict = WD_VERDICT_DENY;
            strcpy(ld.rule, "gate");
            snprintf(ld.reason, sizeof ld.reason, "a gate could not decide: %s",
                     wd_code_name(r));
        }
        if (ld.verdict != WD_VERDICT_ALLOW) {
            ld.verdict = WD_VERDICT_DENY;
            if (ld.rule[0] == '\0')
                strcpy(ld.rule, "unnamed");
            if (ld.reason[0] == '\0')
                strcpy(ld.reason, "denied");
            *d = ld;
            result = wd_err_set(e, WD_E_DENIED, "%s blocked by policy: %s (rule %s)", what(k),
                                ld.reason, ld.rule);
        } else if (telling(&ld) > best) {
            best = telling(&ld);
            *d = ld;
        }
    }
    for (size_t i = 0; i < n; i++)
        release(pinned[i]);
    return result;
}

wd_code wd_gate_check_create(const wd_runconfig *rc, wd_decision *d, wd_err *e)
{
    return run_chain(OP_CREATE, rc, NULL, d, e);
}

wd_code wd_gate_check_restart(const wd_runconfig *rc, wd_decision *d, wd_err *e)
{
    return run_chain(OP_RESTART, rc, NULL, d, e);
}

wd_code wd_gate_check_tool(const wd_tool_call *call, wd_decision *d, wd_err *e)
{
    return run_chain(OP_TOOL, NULL, call, d, e);
}
