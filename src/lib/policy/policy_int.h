/* policy_int.h — the compiled form of a policy document, shared by the compiler and the decision
 * code. A wd_policy is built once, never modified afterwards, and freed by its last unref; all
 * of it except PCRE2's compiled codes lives in one arena. Must never hold per-decision state. */
#ifndef WD_POLICY_INT_H
#define WD_POLICY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "glob.h"
#include "warden/policy.h"

/* ---- arena: bump allocation in chunks; freed all at once ---- */
typedef struct wd_arena_chunk {
    struct wd_arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} wd_arena_chunk;

typedef struct wd_arena {
    wd_arena_chunk *head;
    size_t bytes; /* everything malloc'd for the arena, headers included */
} wd_arena;

void *wd_arena_alloc(wd_arena *a, size_t n);            /* zeroed, 16-aligned; NULL on OOM */
char *wd_arena_strdup(wd_arena *a, const char *s);
void wd_arena_free(wd_arena *a);

/* ---- compiled pieces ---- */
typedef struct wd_glist {
    const wd_glob *g;
    uint32_t n;
} wd_glist;

enum { WD_ACT_ALLOW = 0, WD_ACT_DENY = 1, WD_ACT_WARN = 2 };

/* transport bits */
enum { WD_TR_STDIO = 1u, WD_TR_SSE = 2u, WD_TR_HTTP = 4u };

typedef struct wd_cprofile {
    const char *name;
    wd_profile pub;     /* the profile as written (strings), for callers */
    wd_glist hosts, read, write, env;
} wd_cprofile;

/* match fields of a server rule; a field is present when its bit is set */
enum {
    WD_F_NAME = 1u << 0, WD_F_COMMAND = 1u << 1, WD_F_ARGS = 1u << 2, WD_F_IMAGE = 1u << 3,
    WD_F_REMOTE = 1u << 4, WD_F_REGISTRY = 1u << 5, WD_F_REGSERVER = 1u << 6,
    WD_F_TRANSPORT = 1u << 7, WD_F_GROUP = 1u << 8, WD_F_LABELS = 1u << 9
};

typedef struct wd_srule {
    const char *name;
    const char *reason;
    uint8_t action;
    uint8_t transports;
    uint32_t fields;
    wd_glist mname, command, args, image, remote, registry, regserver, group;
    const wd_kv *labels;
    uint32_t n_labels;
    const wd_cprofile *limits; /* NULL: no limits */
} wd_srule;

typedef struct wd_targ {
    const char *key;
    const char *src;
    pcre2_code *re;
} wd_targ;

typedef struct wd_trule {
    const char *name;
    const char *reason;
    uint8_t action;
    bool has_server, has_tool;
    wd_glist server, tool;
    const wd_targ *args;
    uint32_t n_args;
} wd_trule;

/* ---- index: exact names and literal prefixes -> sorted lists of rule indexes ---- */
typedef struct wd_hent {
    const char *key; /* NULL: empty slot */
    uint32_t keylen;
    uint32_t hash;
    uint32_t off, n; /* into postings */
} wd_hent;

typedef struct wd_htab {
    wd_hent *slots;
    uint32_t mask; /* capacity - 1; capacity is a power of two */
} wd_htab;

#define WD_MAX_PREFIX_INDEX 128 /* longer literal prefixes are indexed by their first 128 bytes */

typedef struct wd_index {
    wd_htab exact, prefix;
    const uint32_t *postings;
    const uint16_t *plens; /* distinct prefix lengths, ascending */
    uint32_t n_plens;
    const uint32_t *always; /* rules that no key can exclude, ascending */
    uint32_t n_always;
} wd_index;

struct wd_policy {
    atomic_size_t refs;
    wd_arena arena;
    size_t regex_bytes;
    wd_policy_mode mode;
    bool has_servers, has_tools;
    uint8_t server_default, tool_default; /* WD_ACT_ALLOW or WD_ACT_DENY */
    const wd_srule *srules;
    uint32_t n_srules;
    const wd_trule *trules;
    uint32_t n_trules;
    wd_cprofile *profiles;
    uint32_t n_profiles;
    wd_index sidx, tidx;
    pcre2_code **codes; /* every compiled regex, for freeing */
    uint32_t n_codes;
};

const wd_cprofile *wd_policy_cprofile(const wd_policy *p, const char *name);

/* FNV-1a over s[0..n): the hash of both index tables. */
uint32_t wd_index_hash(const char *s, size_t n);

/* Split a volume "HOST:CONTAINER[:ro|:rw]" (HOST a normalized absolute path, CONTAINER
 * absolute). On success host gets HOST (NUL-terminated) and *rw whether it is writable. */
bool wd_volume_parse(const char *v, char *host, size_t hostsz, bool *rw);

#endif
