/* fleetclient.h — a small HTTPS client for talking to a warden leader with mutual TLS, on
 * libcurl: one reused connection (and TLS session) per client, TLS 1.3 only, the peer verified
 * against the fleet CA file alone (never the system store), a client certificate and key whose
 * key file is refused when group or others can read it, bounded response bodies and headers.
 * A module of its own (src/client), shared by the command line (`warden publish`, `warden
 * status`; their flags live in src/cli/fleetflags.h) and the agent's pollers (If-None-Match,
 * Prefer: wait through extra headers; per-client total timeout); it knows neither of them.
 * A client is used by one thread at a time (a libcurl handle is not shared); open one per loop.
 * It must never follow a redirect, use a proxy, speak anything but https, or log a body. */
#ifndef WD_FLEETCLIENT_H
#define WD_FLEETCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "warden/error.h"

/* Defaults and caps of the client. */
#define WD_FLEET_CONNECT_TIMEOUT_S  10
#define WD_FLEET_DEFAULT_TIMEOUT_S  30
#define WD_FLEET_MAX_TIMEOUT_S      3600
/* A captured header value longer than this fails the request (an ETag is 73 bytes). */
#define WD_FLEET_MAX_HEADER_VALUE   1024
/* The longest leader URL accepted (https://host[:port]). */
#define WD_FLEET_MAX_URL            2048
/* Response body caps of the administrators' commands: the answer to a publish is a short JSON
 * object; the followers view grows with the fleet (about 1 KiB a follower). */
#define WD_FLEET_MAX_PUBLISH_ANSWER (64u * 1024u)
#define WD_FLEET_MAX_FOLLOWERS_VIEW (64u * 1024u * 1024u)

/* The headers a response keeps (case-insensitive names; the last occurrence wins). */
typedef enum wd_fleet_hdr {
    WD_FLEET_HDR_ETAG,
    WD_FLEET_HDR_CONTENT_TYPE,
    WD_FLEET_HDR_PREFERENCE_APPLIED,
    WD_FLEET_HDR_ROLLBACK_AUTHORIZATION,  /* Warden-Rollback-Authorization */
    WD_FLEET_HDR_RETRY_AFTER,
    WD_FLEET_HDR_LOCATION,
    WD_FLEET_HDR_COUNT
} wd_fleet_hdr;

/* What to connect with. Paths are read when the client is opened; nothing is kept borrowed. */
typedef struct wd_fleet_opts {
    const char *leader_url;  /* https://host[:port], optionally with a trailing "/" */
    const char *cert_path;   /* client certificate chain, PEM */
    const char *key_path;    /* its private key, PEM, not readable by group or others */
    const char *ca_path;     /* the CA(s) that sign the leader's certificate, PEM */
    long timeout_s;          /* whole-request limit; 0 means WD_FLEET_DEFAULT_TIMEOUT_S */
} wd_fleet_opts;

typedef struct wd_fleet_client wd_fleet_client;

/* One answer. body is NUL-terminated (body_len excludes the NUL), headers[] are NULL when the
 * leader sent none. Everything is owned by the response: release with wd_fleet_response_free. */
typedef struct wd_fleet_response {
    long status;
    unsigned char *body;
    size_t body_len;
    char *headers[WD_FLEET_HDR_COUNT];
} wd_fleet_response;

/* Check that url is https://host[:port] (an optional "/" path, no userinfo, query, fragment or
 * other path; host not empty) with curl's URL parser. On success *base (caller frees) is the
 * normalised "https://host[:port]"; on error *base is NULL and e is WD_E_USAGE saying why. */
wd_code wd_fleet_parse_url(const char *url, char **base, wd_err *e);

/* Open a client: parse the URL (WD_E_USAGE when it is not acceptable), read the key file (it
 * must be a regular file no larger than WD_MAX_KEY_FILE, not encrypted, and not readable by
 * group or others: else WD_E_IO naming it), check the certificate and CA files can be read,
 * and set up one libcurl handle. No connection is made yet. On success the caller releases
 * *out with wd_fleet_close; on error *out is NULL and nothing stays allocated. */
wd_code wd_fleet_open(const wd_fleet_opts *o, wd_fleet_client **out, wd_err *e);

/* Change the whole-request limit (seconds, 1..WD_FLEET_MAX_TIMEOUT_S) for later requests, e.g.
 * above a long poll's wait. Out of range is WD_E_USAGE and nothing changes. */
wd_code wd_fleet_set_timeout(wd_fleet_client *c, long seconds, wd_err *e);

/* Let a long-running request be abandoned: while *flag (read atomically) is non-zero, a request
 * in flight stops within about a second (at once when a cancel descriptor is set too, below)
 * and fails with WD_E_IO ("... cancelled"). Used by the agent so that SIGTERM does not wait for
 * a held long poll. flag must outlive the client; NULL removes the hook. WD_E_INTERNAL when
 * libcurl refuses the setting. */
wd_code wd_fleet_set_cancel(wd_fleet_client *c, const volatile int *flag, wd_err *e);

/* A descriptor that cancels at once: when fd becomes readable, a request in flight (or its
 * wait) stops and fails as a cancel does. The caller owns fd and keeps it open while the client
 * is used; -1 removes it. With it, a held request sleeps until the leader answers, the timeout
 * or fd — no periodic wake-ups. Never fails. */
void wd_fleet_set_cancel_fd(wd_fleet_client *c, int fd);

/* Send one request: method ("GET", "PUT", "POST", ...), path (starting with "/", no spaces or
 * control characters) appended to the leader URL, an optional body (may be NULL with len 0;
 * sent as-is), extra headers (NULL-terminated "Name: value" lines, may be NULL; no CR or LF),
 * and the cap on the response body. The connection is reused when the leader keeps it open.
 * Any HTTP status is a success here: the caller reads resp->status. Failures: a body past the
 * cap is WD_E_OVERSIZED (transfer stopped); a transport failure (connect, TLS, timeout, reset)
 * is WD_E_IO with curl's reason, e.g. "cannot connect to https://h:1: Connection refused";
 * bad arguments are WD_E_USAGE. On error *resp is zeroed and owns nothing. On success the
 * caller releases it with wd_fleet_response_free. */
wd_code wd_fleet_request(wd_fleet_client *c, const char *method, const char *path,
                         const void *body, size_t len, const char *const *headers,
                         size_t max_body, wd_fleet_response *resp, wd_err *e);

/* Free what resp owns and zero it. NULL is ignored. */
void wd_fleet_response_free(wd_fleet_response *resp);

/* The normalised leader URL the client talks to (owned by the client). */
const char *wd_fleet_base_url(const wd_fleet_client *c);

/* Close the connection, wipe the key held in memory, free the client. NULL is ignored. */
void wd_fleet_close(wd_fleet_client *c);

/* Read {"error":{"code":C,"message":M}} from a response body into code/message (cleaned,
 * always NUL-terminated, empty when absent). Returns true when at least the code was found.
 * Unknown extra fields are ignored. Never fails otherwise; allocates nothing that survives. */
bool wd_fleet_error_body(const wd_fleet_response *r, char *code, size_t codesz, char *message,
                         size_t messagesz);

/* The reason phrase of an HTTP status ("Created"), or "" for one not listed. */
const char *wd_fleet_reason(long status);

#endif
