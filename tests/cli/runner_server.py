#!/usr/bin/env python3
# runner_server.py — a tiny MCP-ish stdio server for tests/cli/test_runner.sh: newline-delimited
# JSON-RPC on stdin/stdout, with tools that misbehave on purpose (crash mid-call, hang, flood).
# Every line it receives is appended to $FAKE_LOG when set. Modes (argv[1]):
#   serve                  answer requests (default)
#   crash-start COUNTFILE  count the start in COUNTFILE, then exit 1 at once
#   replace-crash SRC DST  rename SRC over DST (a policy change), then exit 1
#   flood BYTES            write BYTES of notification lines to stdout, then serve
#   sink                   never read stdin; sleep until killed
import json
import os
import sys
import time

out = sys.stdout.buffer
log = os.environ.get("FAKE_LOG")


def send(obj):
    out.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
    out.flush()


def answer(i, result):
    send({"jsonrpc": "2.0", "id": i, "result": result})


TOOLS = [{"name": n, "description": n, "inputSchema": {"type": "object"}}
         for n in ("echo", "secret", "crash", "slow", "flood", "big")]


def flood(nbytes):
    line = json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                       "params": {"level": "info", "data": "x" * 1000}}).encode() + b"\n"
    sent = 0
    while sent < nbytes:
        out.write(line)
        sent += len(line)
    out.flush()


def serve():
    for raw in sys.stdin.buffer:
        if log:
            with open(log, "ab") as f:
                f.write(raw if raw.endswith(b"\n") else raw + b"\n")
        try:
            msg = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(msg, dict) or "id" not in msg:
            continue
        i, m, p = msg["id"], msg.get("method"), msg.get("params") or {}
        if m == "initialize":
            answer(i, {"protocolVersion": p.get("protocolVersion", "2025-06-18"),
                       "capabilities": {"tools": {"listChanged": True}},
                       "serverInfo": {"name": "fake", "version": "1.0"}})
        elif m == "ping":
            answer(i, {})
        elif m == "tools/list":
            answer(i, {"tools": TOOLS})
        elif m == "tools/call":
            name, args = p.get("name"), p.get("arguments") or {}
            if name == "crash":
                os._exit(int(args.get("code", 7)))
            elif name == "slow":
                ready = os.environ.get("FAKE_READY")
                if ready:
                    open(ready, "w").close()
                time.sleep(60)
                answer(i, {"content": [{"type": "text", "text": "late"}]})
            elif name == "big":
                answer(i, {"content": [{"type": "text", "text": "b" * int(args.get("bytes", 2000))}]})
            elif name == "flood":
                flood(int(args.get("bytes", 1000000)))
                answer(i, {"content": [{"type": "text", "text": "flooded"}]})
            else:
                answer(i, {"content": [{"type": "text", "text": "Echo: " + str(args.get("message", ""))}]})
        else:
            send({"jsonrpc": "2.0", "id": i, "error": {"code": -32601, "message": "no such method"}})
    sys.exit(int(os.environ.get("FAKE_EOF_EXIT", "0")))


mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
if mode == "crash-start":
    with open(sys.argv[2], "a") as f:
        f.write("start\n")
    sys.exit(1)
elif mode == "replace-crash":
    os.rename(sys.argv[2], sys.argv[3])
    sys.exit(1)
elif mode == "flood":
    flood(int(sys.argv[2]))
    serve()
elif mode == "sink":
    time.sleep(120)
else:
    serve()
