#!/usr/bin/env python3
# runner_client.py — a scripted MCP-ish client for tests/cli/test_runner.sh: starts
# `warden run ARGS...` (the command after "--" on its own command line), speaks
# newline-delimited JSON-RPC to it, and checks one scenario. Exit 0 when the scenario holds,
# 1 with the evidence on stdout when it does not. Every wait has a generous timeout so that a
# broken relay fails the test instead of hanging it; nothing here depends on timing otherwise.
#   runner_client.py SCENARIO [KEY=VALUE...] -- WARDEN run ...
import json
import os
import select
import signal
import subprocess
import sys
import time

WAIT = 60.0


class Warden:
    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.buf = b""
        self.err = b""
        os.set_blocking(self.p.stdout.fileno(), False)
        os.set_blocking(self.p.stderr.fileno(), False)

    def send(self, obj):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode() + b"\n"
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def _pump(self, timeout):
        fds = [f for f in (self.p.stdout, self.p.stderr) if not f.closed]
        r, _, _ = select.select(fds, [], [], timeout)
        got = False
        for f in r:
            try:
                d = os.read(f.fileno(), 1 << 20)
            except BlockingIOError:
                continue
            if f is self.p.stdout:
                if d == b"":
                    f.close()
                self.buf += d
            else:
                if d == b"":
                    f.close()
                self.err += d
            got = got or d != b""
        return got

    def line(self, timeout=WAIT):
        """The next line from warden's stdout (bytes without newline), None on EOF/timeout."""
        end = time.time() + timeout
        while b"\n" not in self.buf:
            if self.p.stdout.closed or time.time() > end:
                return None
            self._pump(min(1.0, max(0.0, end - time.time())))
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln

    def msg(self, timeout=WAIT, skip_notifications=True):
        while True:
            ln = self.line(timeout)
            if ln is None:
                return None
            m = json.loads(ln)
            if skip_notifications and isinstance(m, dict) and "id" not in m:
                continue
            return m

    def request(self, i, method, params=None):
        m = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            m["params"] = params
        self.send(m)
        return self.msg()

    def initialize(self):
        return self.request(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                              "clientInfo": {"name": "t", "version": "1"}})

    def close(self):
        self.p.stdin.close()

    def wait(self, timeout=WAIT):
        end = time.time() + timeout
        while self.p.poll() is None and time.time() < end:
            self._pump(0.2)
        while self._pump(0.05):
            pass
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
            return None
        return self.p.returncode

    def stderr(self):
        return self.err.decode(errors="replace")


def fail(*what):
    for w in what:
        print(w)
    sys.exit(1)


def expect(cond, *what):
    if not cond:
        fail(*what)


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    return -1


def main():
    sep = sys.argv.index("--")
    scenario = sys.argv[1]
    kv = dict(a.split("=", 1) for a in sys.argv[2:sep])
    argv = sys.argv[sep + 1:]
    w = Warden(argv)
    try:
        run(scenario, kv, w)
    finally:
        if w.p.poll() is None:
            w.p.kill()
            w.p.wait()


def run(scenario, kv, w):
    if scenario == "echo":
        r = w.initialize()
        expect(r and r.get("result", {}).get("serverInfo", {}).get("name") == "fake", "initialize", r, w.stderr())
        r = w.request(1, "tools/call", {"name": "echo", "arguments": {"message": "hi"}})
        expect(r == {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "Echo: hi"}]}},
               "echo answer", r, w.stderr())
        w.close()
        rc = w.wait()
        expect(rc == 0, f"exit {rc}", w.stderr())
    elif scenario == "partial":
        # the client closes in the middle of a message: the complete one reaches the server,
        # the part does not; the server's stdin is closed and warden exits with its status
        w.send(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n{"jsonrpc":"2.0","id":2,"meth')
        r = w.msg()
        expect(r == {"jsonrpc": "2.0", "id": 1, "result": {}}, "ping answer", r, w.stderr())
        w.close()
        rc = w.wait()
        expect(rc == int(kv.get("want", "0")), f"exit {rc}", w.stderr())
        expect("in the middle of a message" in w.stderr(), "stderr", w.stderr())
        log = open(kv["log"], "rb").read()
        expect(log == b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n', "the server got", log)
    elif scenario == "server-flood":
        # the server writes far more than the relay may buffer while the client reads nothing
        # for a while: warden's memory stays bounded, and every line arrives intact
        total = int(kv["bytes"])
        w.initialize()
        w.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "flood", "arguments": {"bytes": total}}})
        time.sleep(2)  # not reading: the pipes fill up (the assertion below does not need it)
        hwm = vm_hwm_kib(w.p.pid)
        got, notes, answer = 0, 0, None
        while answer is None:
            ln = w.line()
            expect(ln is not None, "stream ended", got, w.stderr())
            m = json.loads(ln)
            got += len(ln) + 1
            if "id" in m:
                answer = m
            else:
                notes += 1
        expect(answer.get("result", {}).get("content", [{}])[0].get("text") == "flooded", "answer", answer)
        expect(got >= total, f"got {got} of {total}")
        w.close()
        expect(w.wait() == 0, "exit", w.stderr())
        hwm2 = vm_hwm_kib(w.p.pid) if w.p.poll() is None else hwm
        limit = int(kv["max_kib"])
        expect(hwm < limit and hwm2 < limit, f"warden's peak RSS {hwm} KiB (limit {limit} KiB)")
        print(f"# peak RSS {hwm} KiB, {notes} lines relayed")
    elif scenario == "client-flood":
        # the server never reads: the client's writes block (backpressure), warden's memory
        # stays bounded
        line = json.dumps({"jsonrpc": "2.0", "method": "notifications/x", "params": {"d": "y" * 1000}}).encode() + b"\n"
        total = int(kv["bytes"])
        os.set_blocking(w.p.stdin.fileno(), False)
        sent, stalled_at = 0, None
        end = time.time() + WAIT
        chunk = line * 64
        while sent < total and time.time() < end:
            try:
                n = os.write(w.p.stdin.fileno(), chunk)
                sent += n
            except BlockingIOError:
                _, wr, _ = select.select([], [w.p.stdin], [], 2.0)
                if not wr:
                    stalled_at = sent
                    break
        hwm = vm_hwm_kib(w.p.pid)
        limit = int(kv["max_kib"])
        expect(stalled_at is not None, f"the client was never held back ({sent} bytes sent)")
        expect(hwm < limit, f"warden's peak RSS {hwm} KiB (limit {limit} KiB)")
        print(f"# held back after {stalled_at} bytes, peak RSS {hwm} KiB")
        w.p.send_signal(signal.SIGTERM)
        rc = w.wait()
        expect(rc == 128 + 15, f"exit {rc}", w.stderr())
    elif scenario == "dies-mid-call":
        w.initialize()
        r = w.request(5, "tools/call", {"name": "crash", "arguments": {"code": 9}})
        expect(r is not None and r.get("id") == 5 and r.get("error", {}).get("code") == -32603,
               "an error for the pending call", r, w.stderr())
        rc = w.wait()
        expect(rc == int(kv.get("want", "9")), f"exit {rc}", w.stderr())
    elif scenario == "kill-in-flight":
        w.initialize()
        w.send({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "slow", "arguments": {}}})
        end = time.time() + WAIT
        while not os.path.exists(kv["ready"]) and time.time() < end:
            time.sleep(0.05)
        w.p.send_signal(signal.SIGTERM)
        r = w.msg()
        expect(r is not None and r.get("id") == 6 and r.get("error", {}).get("code") == -32603,
               "an error for the call in flight", r, w.stderr())
        rc = w.wait()
        expect(rc == 128 + 15, f"exit {rc}", w.stderr())
    elif scenario == "over-cap":
        cap = int(kv["cap"])
        w.initialize()
        # a request padded with spaces to exactly cap bytes passes; one byte more is refused
        base = '{"jsonrpc":"2.0","id":%d,"method":"ping"%s}'
        at = base % (11, " " * (cap - len(base % (11, ""))))
        expect(len(at) == cap, "length", len(at))
        w.send(at.encode() + b"\n")
        r = w.msg()
        expect(r == {"jsonrpc": "2.0", "id": 11, "result": {}}, "a line at the cap passes", r, w.stderr())
        over = base % (12, " " * (cap + 1 - len(base % (12, ""))))
        w.send(over.encode() + b"\n")
        r = w.msg()
        expect(r is not None and r.get("id") == 12 and r.get("error", {}).get("code") == -32600,
               "a line over the cap is refused", r, w.stderr())
        log = open(kv["log"], "rb").read()
        expect(b'"id":12' not in log, "the over-cap line never reached the server")
        w.close()
        expect(w.wait() == 0, "exit", w.stderr())
    elif scenario == "server-over-cap":
        # a server answer longer than the cap is dropped (not passed on unchecked); the call
        # stays pending and gets -32603 when the server exits
        w.initialize()
        w.send({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "big", "arguments": {"bytes": 2000}}})
        r = w.request(9, "ping")
        expect(r == {"jsonrpc": "2.0", "id": 9, "result": {}}, "the next answer is ping's", r, w.stderr())
        w.close()
        r = w.msg()
        expect(r is not None and r.get("id") == 8 and r.get("error", {}).get("code") == -32603,
               "the dropped answer's call gets -32603", r, w.stderr())
        expect(w.wait() == 0, "exit", w.stderr())
        expect("warden: a server message longer than 1000 bytes was dropped\n" in w.stderr(), "stderr", w.stderr())
    elif scenario == "deny-tool":
        w.initialize()
        r = w.request(1, "tools/list", {})
        names = [t["name"] for t in r["result"]["tools"]]
        expect("secret" not in names and "echo" in names, "tools/list filtered", names)
        r = w.request(2, "tools/call", {"name": "secret", "arguments": {}})
        expect(r.get("error", {}).get("code") == 403 and r["id"] == 2, "403", r)
        expect(r["error"]["message"] == "tool call blocked by policy: secrets stay", "message", r)
        log = open(kv["log"], "rb").read()
        expect(not any(b"tools/call" in l and b'"secret"' in l for l in log.splitlines()),
               "the server never saw the denied call", log)
        w.close()
        expect(w.wait() == 0, "exit", w.stderr())
    elif scenario == "live":
        # the policy file is replaced: invalid (old stays), denying a tool (next call denied,
        # list_changed sent), denying the server (policy_stopped, exit 3)
        pol = kv["policy"]
        r = w.initialize()
        w.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        r = w.request(1, "tools/call", {"name": "echo", "arguments": {"message": "a"}})
        expect(r.get("result") is not None, "echo before", r, w.stderr())
        def replace(src):
            tmp = pol + ".tmp"
            with open(src, "rb") as f, open(tmp, "wb") as g:
                g.write(f.read())
            os.rename(tmp, pol)
        def wait_err(text):
            end = time.time() + WAIT
            while text not in w.stderr() and time.time() < end:
                w._pump(0.2)
            return text in w.stderr()
        replace(kv["invalid"])
        expect(wait_err("policy not reloaded"), "the invalid policy is reported", w.stderr())
        r = w.request(2, "tools/call", {"name": "echo", "arguments": {"message": "b"}})
        expect(r.get("result") is not None, "the old policy stays", r, w.stderr())
        expect(w.p.poll() is None, "still running")
        replace(kv["noecho"])
        expect(wait_err("policy reloaded"), "the new policy is loaded", w.stderr())
        note = None
        end = time.time() + WAIT
        while note is None and time.time() < end:
            ln = w.line()
            if ln is None:
                break
            m = json.loads(ln)
            if m.get("method") == "notifications/tools/list_changed":
                note = m
        expect(note is not None, "list_changed received", w.stderr())
        r = w.request(3, "tools/call", {"name": "echo", "arguments": {"message": "c"}})
        expect(r.get("error", {}).get("code") == 403, "echo now denied", r)
        replace(kv["noserver"])
        rc = w.wait()
        expect(rc == 3, f"exit {rc}", w.stderr())
        expect("warden: policy_stopped: server creation blocked by policy: no fake servers today (rule no-fake)\n" in w.stderr(),
               "the policy_stopped line", w.stderr())
    elif scenario == "remote-kill-in-flight":
        # a remote kill applied to the state directory while a call is in flight: the server
        # is stopped by policy, the call gets an error, warden exits 3 (policy_stopped)
        w.initialize()
        r = w.request(2, "tools/call", {"name": "echo", "arguments": {"text": "before"}})
        expect(r is not None and "result" in r, "a call before the kill is answered", r, w.stderr())
        w.send({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "slow", "arguments": {}}})
        end = time.time() + WAIT
        while not os.path.exists(kv["ready"]) and time.time() < end:
            time.sleep(0.05)
        k = subprocess.run(os.environ["KILL_CMD"], shell=True, capture_output=True, text=True)
        expect(k.returncode == 0, "the kill is applied", k.stdout, k.stderr)
        r = w.msg()
        expect(r is not None and r.get("id") == 6 and r.get("error", {}).get("code") == -32603,
               "an error for the call in flight", r, w.stderr())
        rc = w.wait()
        expect(rc == 3, f"exit {rc}", w.stderr())
        expect("policy_stopped: remote kill active: " + kv["reason"] in w.stderr(),
               "the policy_stopped line names the kill", w.stderr())
    else:
        fail("unknown scenario " + scenario)


main()
