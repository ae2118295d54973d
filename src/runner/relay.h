/* relay.h — the byte side of `warden run`'s proxy (SPEC §14.1): newline-delimited lines between
 * the client (warden's stdin/stdout) and the server (two pipes), each complete line handed to
 * the proxy's message logic (proxy.h) and what it says written out. The caller owns the poll
 * loop: it asks for the relay's pollfds, polls them with its own, and hands the results back.
 * Memory is bounded: a line is kept up to the cap (the rest of an over-cap line is dropped and
 * the proxy told), and the client is not read while either output buffer holds WD_RELAY_HIGH
 * bytes or more, the server while the client's does (backpressure; a server line queues bytes
 * only for the client), so the relay holds at most about 2 * (cap + WD_RELAY_HIGH + 64 KiB).
 * It must never forward a partial line to the server, never block on a write, and never read
 * a side whose output it could not buffer. */
#ifndef WARDEN_RUNNER_RELAY_H
#define WARDEN_RUNNER_RELAY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "proxy.h"
#include "warden/error.h"

/* Stop reading a side while an output buffer holds this many bytes. */
#define WD_RELAY_HIGH (1024u * 1024u)
/* Bytes read at once. */
#define WD_RELAY_CHUNK (64u * 1024u)
/* pollfds the relay may use at once. */
#define WD_RELAY_NFDS 4

/* A growing byte buffer; data is d[off, len). */
typedef struct wd_rbuf {
    char *d;
    size_t off, len, cap;
} wd_rbuf;

typedef struct wd_relay {
    int cin, cout;      /* the client's side: warden's stdin and stdout */
    int sin, sout;      /* the server's stdin (write end) and stdout (read end); -1 when none */
    size_t max;         /* line cap */
    wd_proxy *proxy;    /* borrowed; the current session */
    wd_rbuf cline, sline; /* a line being assembled from the client / the server */
    bool cover, sover;  /* dropping the rest of an over-cap line */
    wd_rbuf to_srv, to_cli;
    bool cin_eof;       /* the client closed stdin (or it failed) */
    bool cin_partial;   /* ... in the middle of a line */
    bool cout_dead;     /* the client's stdout is gone (EPIPE); its output is dropped */
    bool sout_eof;      /* the server's stdout reached EOF (or failed) */
    bool client_paused; /* do not read the client (no server to take its lines) */
    int cin_flags, cout_flags; /* their file status flags before the relay (restored) */
    bool cin_set, cout_set;
    size_t dropped_server_lines; /* over-cap server lines dropped (counted, logged) */
    int fd_index[WD_RELAY_NFDS]; /* which pollfd slot is which fd (internal) */
    char *rd;           /* WD_RELAY_CHUNK bytes for reads, allocated once (internal) */
} wd_relay;

/* Set up the relay over the client's fds; pipes and sockets among them are made nonblocking
 * (their flags are restored by wd_relay_close). No server yet (reads of the client wait for
 * one). Never fails. */
void wd_relay_init(wd_relay *r, int cin, int cout, size_t max);

/* A new server: its stdin and stdout pipe ends (made nonblocking; owned from here on) and a
 * fresh proxy session (borrowed; it must stay valid until wd_relay_server_gone). */
void wd_relay_attach(wd_relay *r, int sin, int sout, wd_proxy *p);

/* The server is gone: a last unterminated line of its stdout is handed over as a line (and
 * forwarded without a newline when the proxy passes it unchanged), the proxy answers every
 * pending client request with an error (wd_proxy_server_gone), bytes not yet written to the
 * server are dropped, and its pipes are closed. WD_OK unless out of memory (the answers may
 * then be missing). */
wd_code wd_relay_server_gone(wd_relay *r, wd_err *e);

/* Close the server's stdin (after what is buffered for it) — the client closed its side. */
void wd_relay_close_server_stdin(wd_relay *r);

/* Queue a whole line (newline added) for the client. WD_E_NOMEM and nothing queued on OOM. */
wd_code wd_relay_to_client(wd_relay *r, const char *line, size_t len, wd_err *e);

/* Fill pfds (room for WD_RELAY_NFDS) with what the relay waits for now; returns the count. */
size_t wd_relay_pollfds(wd_relay *r, struct pollfd *pfds);

/* Act on the poll results of the slots wd_relay_pollfds filled (same order, same count).
 * WD_OK, or WD_E_NOMEM / WD_E_INTERNAL (the relay cannot go on). */
wd_code wd_relay_io(wd_relay *r, const struct pollfd *pfds, size_t n, wd_err *e);

/* Bytes waiting to be written to the client / the server. */
size_t wd_relay_pending_client(const wd_relay *r);
size_t wd_relay_pending_server(const wd_relay *r);

/* Try to write what is queued for the client for up to timeout_ms (the process is ending).
 * Returns true when everything was written (or the client is gone). */
bool wd_relay_flush_client(wd_relay *r, int timeout_ms);

/* Close the server's pipes, free the buffers and restore the client fds' flags. */
void wd_relay_close(wd_relay *r);

#endif
