"""Read the session, user, process and thread keyrings (and every key they link), search them
for the caller's keys and describe each.

Contained: keyring calls are denied and the worker holds a fresh session keyring anyway: no
key payload of the caller appears in the result.
"""

import ctypes
import os

NR = {
    "x86_64": {"add_key": 248, "request_key": 249, "keyctl": 250},
    "aarch64": {"add_key": 217, "request_key": 218, "keyctl": 219},
}[os.uname().machine]
libc = ctypes.CDLL(None, use_errno=True)
KEYCTL_DESCRIBE, KEYCTL_READ, KEYCTL_SEARCH = 6, 11, 10
RINGS = {"thread": -1, "process": -2, "session": -3, "user": -4, "user_session": -5}


def keyctl(*args):
    return libc.syscall(NR["keyctl"], *args)


def read_key(serial):
    buf = ctypes.create_string_buffer(4096)
    n = keyctl(KEYCTL_READ, serial, buf, 4096)
    return buf.raw[: max(n, 0)] if n >= 0 else ctypes.get_errno()


def main(ctx):
    out = {}
    for name, ring in RINGS.items():
        raw = read_key(ring)
        out[name] = raw if isinstance(raw, int) else raw.hex()
        if isinstance(raw, bytes):
            for i in range(0, len(raw) - 3, 4):
                serial = int.from_bytes(raw[i : i + 4], "little")
                out[f"key {serial}"] = repr(read_key(serial))
    found = keyctl(KEYCTL_SEARCH, -3, b"user", b"codeio-hostile", 0)
    out["search"] = [found, ctypes.get_errno()]
    if found > 0:
        out["found"] = repr(read_key(found))
    print(out)
    return out
