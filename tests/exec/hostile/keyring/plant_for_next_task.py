"""Store a key in the user and session keyrings (which outlive a process) and look for one a
previous run of this snippet stored.

Contained: add_key is denied (or the keyring is private to the worker); the host's keyrings
are unchanged, and the runner's follow-up task finds nothing.
"""

import ctypes
import os

NR = {"x86_64": {"add_key": 248, "keyctl": 250}, "aarch64": {"add_key": 217, "keyctl": 219}}[
    os.uname().machine
]
libc = ctypes.CDLL(None, use_errno=True)


def main(ctx):
    out = {}
    for ring in (-3, -4, -5):
        payload = b"left-by-a-task"
        serial = libc.syscall(
            NR["add_key"], b"user", b"codeio-hostile-left", payload, len(payload), ring
        )
        out[str(ring)] = [serial, ctypes.get_errno()]
    buf = ctypes.create_string_buffer(256)
    found = libc.syscall(NR["keyctl"], 10, -4, b"user", b"codeio-hostile-left", 0)
    if found > 0:
        libc.syscall(NR["keyctl"], 11, found, buf, 256)
        out["previous"] = buf.value.decode()
    return out
