/* ui.h — the leader's fleet page (`--ui-listen`): a read-only page, its data (the followers view,
 * the same JSON as GET /api/v1/conductor/followers) and an event stream that pushes that view
 * when a follower reports. The server (server.c) owns the sockets; this decides what a request
 * gets: the token check, the routes, the answers. It must never answer anything but GET/HEAD,
 * show data to a request without the token when a token file is configured, log the token, or
 * compare it in a way whose time depends on its bytes. */
#ifndef WD_LEADER_UI_H
#define WD_LEADER_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "warden/error.h"
#include "http.h"
#include "leader.h"

/* L->wake(L, WD_UI_WAKE_KEY) after a status report tells the page's event streams that the
 * followers view changed. No stream key ("org/fleet/env" of ids) can take this form. */
#define WD_UI_WAKE_KEY "!ui"
#define WD_UI_MAX_CONNS 64       /* open connections on the UI listener; more are closed */
#define WD_UI_MAX_STREAMS 16     /* event streams at once; more get 503 */
#define WD_UI_REFRESH_S 20       /* a stream gets a fresh view at least this often */
#define WD_UI_MIN_GAP_MS 250     /* pushes closer than this are merged into one */
#define WD_UI_STUCK_ROUNDS 3     /* a stream whose last event stays unwritten this many refreshes
                                    in a row (its reader stopped reading) is closed */
#define WD_UI_TOKEN_MIN 16       /* token length in bytes, after the trailing newline is cut */
#define WD_UI_TOKEN_MAX 128      /* so the Set-Cookie header fits its 208 bytes */
#define WD_UI_COOKIE "warden_ui"

/* One file of the page, embedded at build time (scripts/embed-ui.py); the table ends with a
 * NULL path. */
typedef struct wd_ui_file {
    const char *path;          /* "/" or "/ui/<name>" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} wd_ui_file;
extern const wd_ui_file wd_ui_files[];

typedef struct wd_ui wd_ui;

/* The page's state: the token read from token_file (NULL: no token, anyone who can reach the
 * listener may read the page). The file must be a regular file that neither group nor others
 * can read (as for key files), at most 4 KiB, and hold one token of
 * WD_UI_TOKEN_MIN..WD_UI_TOKEN_MAX characters from A-Z a-z 0-9 - . _ ~ followed by at most a
 * newline; any of these wrong is WD_E_IO (a configuration file the operator fixes). Caller
 * frees *out with wd_ui_free (which wipes the token); on error *out is NULL and nothing is
 * kept. */
wd_code wd_ui_new(const char *token_file, wd_ui **out, wd_err *e);
void wd_ui_free(wd_ui *u);

/* True when a token is required on every request. */
bool wd_ui_has_token(const wd_ui *u);

/* What the server does with the request after wd_ui_handle. */
typedef enum wd_ui_result {
    WD_UI_ANSWER, /* send rs as it is */
    WD_UI_STREAM, /* start an event stream (rs->route is set; status and body are the server's) */
} wd_ui_result;

/* Decide one request of the UI listener. Routes (GET, and HEAD for all but the stream):
 *   /                 the page (index.html); /?token=T sets the cookie and redirects to /
 *   /ui/<file>        the page's CSS and JavaScript (/favicon.ico: 204, nothing)
 *   /ui/v1/followers  the followers view as JSON (the shape of GET followers)
 *   /ui/v1/events     the event stream (text/event-stream): "event: followers" with the view
 * With a token: "Authorization: Bearer T" or the cookie warden_ui=T, else 401 (the page route
 * also takes ?token=T). Other paths 404, other methods 405. Never fails: errors become error
 * answers. rs->route is always set (a static label for logs and metrics). */
wd_ui_result wd_ui_handle(const wd_ui *u, wd_leader *L, const wd_http_req *req,
                          wd_http_resp *rs);

/* One event of the stream: "event: followers\ndata: <the view's JSON>\n\n". On error (the
 * store, memory) false, logged by the view, and *out is NULL. Caller frees *out. */
bool wd_ui_event(wd_leader *L, char **out, size_t *len);

#endif
