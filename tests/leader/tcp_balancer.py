#!/usr/bin/env python3
"""tcp_balancer.py — a TCP load balancer for tests, standing in for HAProxy in front of several
leaders: it listens on 127.0.0.1 (an ephemeral port, printed on stdout as "port N"), and gives
each new connection to the first backend that accepts it, in the order given (a backend that
refuses is skipped). Bytes pass through unchanged, so TLS ends at the leaders.
With --flap-file F: while file F exists, every open connection is cut every --flap-ms
milliseconds (a follower whose connections keep dropping). Loopback only; it never connects anywhere else.
usage: tcp_balancer.py [--flap-file F --flap-ms N] HOST:PORT [HOST:PORT...]"""
import os
import socket
import sys
import threading
import time


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    args = sys.argv[1:]
    flap_file, flap_ms = None, 500
    while args and args[0].startswith("--"):
        if args[0] == "--flap-file":
            flap_file = args[1]
        elif args[0] == "--flap-ms":
            flap_ms = int(args[1])
        args = args[2:]
    backends = []
    for a in args:
        host, port = a.rsplit(":", 1)
        if host != "127.0.0.1":
            sys.exit("tcp_balancer: loopback backends only")
        backends.append((host, int(port)))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(512)
    print(f"port {ls.getsockname()[1]}", flush=True)
    if flap_file:
        threading.Thread(target=flapper, args=(flap_file, flap_ms), daemon=True).start()
    while True:
        c, _ = ls.accept()
        up = None
        for b in backends:
            try:
                up = socket.create_connection(b, timeout=2)
                up.settimeout(None)
                break
            except OSError:
                up = None
        if up is None:
            c.close()
            continue
        with lock:
            open_socks.extend((c, up))
        for x, y in ((c, up), (up, c)):
            threading.Thread(target=pipe, args=(x, y), daemon=True).start()


lock = threading.Lock()
open_socks = []


def flapper(flap_file, flap_ms):
    """While flap_file exists, cut every open connection every flap_ms milliseconds."""
    while True:
        time.sleep(flap_ms / 1000)
        if not os.path.exists(flap_file):
            continue
        with lock:
            socks = open_socks[:]
            open_socks.clear()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


if __name__ == "__main__":
    main()
