#!/usr/bin/env python3
# rawhttp.py — raw requests to a leader over TLS (or plain TCP), for what curl will not send:
# malformed request heads, oversized headers, a body that never comes, a handshake that never
# starts. Python's ssl module is an independent TLS client (not warden's, not curl's).
# It must only ever connect to 127.0.0.1, and never wait longer than its guard.
#
#   rawhttp.py send PORT CA CERT KEY FILE        send FILE's bytes, print the first status
#                                                code answered ("none" when the server closed
#                                                without one)
#   rawhttp.py slowbody PORT CA CERT KEY GUARD   send a head announcing 100 body bytes and no
#                                                body; print "closed" (with any status seen,
#                                                e.g. "closed 408") when the server ends the
#                                                connection within GUARD seconds, else "open"
#   rawhttp.py idle PORT CA CERT KEY GUARD       one keep-alive request, then silence: "closed"
#                                                when the server ends the idle connection
#   rawhttp.py slowhs PORT GUARD                 open TCP and send nothing; "closed" or "open"
#   rawhttp.py probe PORT FILE                   like send, plain HTTP (the probe listener)
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"


def tls(port, ca, cert, key, timeout):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    ctx.check_hostname = False  # the leader's certificate names 127.0.0.1 and localhost
    raw = socket.create_connection((HOST, port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_all(s, guard):
    """Read until the peer closes or guard seconds pass; (bytes, closed)."""
    end = time.monotonic() + guard
    buf = b""
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except (socket.timeout, TimeoutError):
            return buf, False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            return buf, True
        if not chunk:
            return buf, True
        buf += chunk
        # one complete response with Connection: close or a body we can frame is enough
        if b"\r\n\r\n" in buf:
            head, _, body = buf.partition(b"\r\n\r\n")
            cl = None
            for line in head.split(b"\r\n")[1:]:
                n, _, v = line.partition(b":")
                if n.strip().lower() == b"content-length":
                    cl = int(v.strip() or b"0")
            if cl is not None and len(body) >= cl:
                return buf, False
    return buf, False


def status_of(buf):
    if not buf.startswith(b"HTTP/1."):
        return "none"
    return buf.split(b" ", 2)[1].decode("ascii", "replace")


def main():
    mode = sys.argv[1]
    if mode == "send":
        port, ca, cert, key, f = sys.argv[2:7]
        data = open(f, "rb").read()
        s = tls(int(port), ca, cert, key, 30)
        try:
            s.sendall(data)
        except OSError:
            pass
        buf, _ = read_all(s, 30)
        sys.stdout.buffer.write(buf)
        sys.stderr.write(status_of(buf) + "\n")
        s.close()
    elif mode == "probe":
        port, f = sys.argv[2:4]
        s = socket.create_connection((HOST, int(port)), timeout=30)
        s.sendall(open(f, "rb").read())
        buf, _ = read_all(s, 30)
        sys.stdout.buffer.write(buf)
        sys.stderr.write(status_of(buf) + "\n")
        s.close()
    elif mode == "slowbody":
        port, ca, cert, key, guard = sys.argv[2:7]
        s = tls(int(port), ca, cert, key, 30)
        s.sendall(b"PUT /api/v1/conductor/remote-kill HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        end = time.monotonic() + float(guard)
        buf, closed = read_all(s, float(guard))
        if not closed and buf:  # an answer (408): the connection must end after it
            more, closed = read_all(s, max(1.0, end - time.monotonic()))
            buf += more
        st = status_of(buf)
        print(("closed" if closed else "open") + ("" if st == "none" else " " + st))
        s.close()
    elif mode == "idle":
        port, ca, cert, key, guard = sys.argv[2:7]
        s = tls(int(port), ca, cert, key, 30)
        s.sendall(b"GET /api/v1/conductor/capabilities HTTP/1.1\r\nHost: localhost\r\n\r\n")
        end = time.monotonic() + float(guard)
        buf, closed = read_all(s, 30)
        first = status_of(buf)
        if not closed:
            more, closed = read_all(s, max(1.0, end - time.monotonic()))
        print(("closed" if closed else "open") + " after " + first)
        s.close()
    elif mode == "slowhs":
        port, guard = sys.argv[2:4]
        s = socket.create_connection((HOST, int(port)), timeout=30)
        buf, closed = read_all(s, float(guard))
        print("closed" if closed else "open")
        s.close()
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
