"""Ask the kernel to run its key upcall (request_key) and join a named session keyring that
the caller might use.

Contained: both calls fail; no key appears in the host's keyrings.
"""

import ctypes
import os

NR = {
    "x86_64": {"request_key": 249, "keyctl": 250},
    "aarch64": {"request_key": 218, "keyctl": 219},
}[os.uname().machine]
libc = ctypes.CDLL(None, use_errno=True)


def main(ctx):
    r = libc.syscall(NR["request_key"], b"user", b"codeio-hostile", b"callout", -3)
    out = {"request_key": [r, ctypes.get_errno()]}
    j = libc.syscall(NR["keyctl"], 1, b"codeio-hostile-session")  # JOIN_SESSION_KEYRING
    out["join"] = [j, ctypes.get_errno()]
    return out
