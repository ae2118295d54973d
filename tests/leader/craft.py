#!/usr/bin/env python3
# craft.py — payloads that `warden bundle create` refuses to make, for the publish rejection
# tests: take the payload of a real envelope and change it, then the caller signs the bytes with
# `warden dsse sign` (which signs anything). It must never write outside the path it is given.
#
#   craft.py ENVELOPE OUT OP...     OP is one of
#     set:KEY=JSON     set a top-level field to a JSON value
#     del:KEY          remove a top-level field
#     policy:TEXT      policy_yaml = TEXT (\n escapes allowed) and policy_sha256 its digest
#     policy-nohash:TEXT  policy_yaml = TEXT, policy_sha256 unchanged
#     trail            append trailing data after the JSON object
#     dup:KEY          repeat KEY's member at the end of the object (duplicate key)
#     bigpolicy:N      policy_yaml padded with a comment to N bytes (hash fixed)
#     raw:TEXT         write TEXT as the payload, ignoring ENVELOPE
import base64
import hashlib
import json
import sys


def main():
    env = json.load(open(sys.argv[1], "rb"))
    out = sys.argv[2]
    p = json.loads(base64.b64decode(env["payload"]))
    tail = b""
    dup = None
    raw = None
    for op in sys.argv[3:]:
        kind, _, arg = op.partition(":")
        if kind == "set":
            k, _, v = arg.partition("=")
            p[k] = json.loads(v)
        elif kind == "del":
            del p[arg]
        elif kind in ("policy", "policy-nohash"):
            text = arg.encode().decode("unicode_escape")
            p["policy_yaml"] = text
            if kind == "policy":
                p["policy_sha256"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        elif kind == "bigpolicy":
            n = int(arg)
            text = p["policy_yaml"]
            if not text.endswith("\n"):
                text += "\n"
            text += "#" + "x" * (n - len(text.encode()) - 2) + "\n"
            assert len(text.encode()) == n
            p["policy_yaml"] = text
            p["policy_sha256"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        elif kind == "trail":
            tail = b" {}"
        elif kind == "dup":
            dup = arg
        elif kind == "raw":
            raw = arg.encode()
        else:
            sys.exit("unknown op " + op)
    if raw is not None:
        data = raw
    else:
        data = json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode()
        if dup is not None:
            member = json.dumps({dup: p[dup]}, separators=(",", ":"), ensure_ascii=False)
            data = data[:-1] + b"," + member[1:-1].encode() + b"}"
        data += tail
    open(out, "wb").write(data)


if __name__ == "__main__":
    main()
