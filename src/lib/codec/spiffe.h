/* spiffe.h — SPIFFE IDs as warden's fleet identities (SPEC §12.1): parsing the single URI SAN of
 * a peer certificate into a follower or administrator identity, and building the URI for
 * `warden pki issue`. Pure: strings in, a verdict out. It must never accept a shape it does not
 * know, another trust domain, or a segment that is not an id. */
#ifndef WD_SPIFFE_H
#define WD_SPIFFE_H

#include <stddef.h>

#include "warden/error.h"
#include "warden/limits.h"

#define WD_SPIFFE_MAX 2048 /* longest URI accepted */

typedef enum wd_peer_kind {
    WD_PEER_FOLLOWER = 1, /* spiffe://<td>/org/<o>/fleet/<f>/env/<e>/instance/<i> */
    WD_PEER_ADMIN = 2,    /* spiffe://<td>/org/<o>/admin/<name> */
} wd_peer_kind;

typedef struct wd_spiffe_id {
    wd_peer_kind kind;
    char org[WD_MAX_ID_LEN + 1];
    char fleet[WD_MAX_ID_LEN + 1];    /* follower only, else "" */
    char env[WD_MAX_ID_LEN + 1];      /* follower only, else "" */
    char instance[WD_MAX_ID_LEN + 1]; /* follower only, else "" */
    char admin[WD_MAX_ID_LEN + 1];    /* admin only, else "" */
} wd_spiffe_id;

/* Parse uri[0..len) (not NUL-terminated; may hold NUL bytes, which are malformed) against the
 * trust domain td. WD_E_MALFORMED for any other scheme, shape, an empty or non-id segment,
 * percent-encoding, a query or fragment, a trailing slash, or len > WD_SPIFFE_MAX;
 * WD_E_WRONG_SCOPE when the trust domain differs (compared case-insensitively, as SPIFFE
 * trust domains are lowercase DNS-like names; the scheme itself must be lowercase "spiffe");
 * WD_E_USAGE when td is not a valid trust domain name (the caller's mistake). The longest
 * identity either shape can spell is well under WD_SPIFFE_MAX. On error *out is zeroed. */
wd_code wd_spiffe_parse(const char *uri, size_t len, const char *td, wd_spiffe_id *out,
                        wd_err *e);

/* Write the URI of id under td into out (outsz bytes). WD_E_USAGE when a segment is not an id,
 * td is not a valid trust domain name (lowercase letters, digits, '.', '-', '_'), or out is too
 * small. */
wd_code wd_spiffe_format(const wd_spiffe_id *id, const char *td, char *out, size_t outsz,
                         wd_err *e);

/* A valid trust domain name: 1..255 bytes of [a-z0-9._-]. */
int wd_spiffe_td_valid(const char *td);

#endif
