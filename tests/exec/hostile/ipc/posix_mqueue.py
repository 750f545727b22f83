"""Create POSIX message queues (the host's /dev/mqueue namespace), fill one and leave them.

Contained: mq_open is denied or lands in the worker's own IPC namespace; the host's
/dev/mqueue is unchanged and no queue is visible to the next task.
"""

import ctypes
import ctypes.util
import os

name = ctypes.util.find_library("rt") or "librt.so.1"
try:
    rt = ctypes.CDLL(name, use_errno=True)
except OSError:
    rt = ctypes.CDLL(None, use_errno=True)


def main(ctx):
    out = {}
    for qname in (b"/codeio-hostile", b"/" + ctx["marker"].encode()):
        fd = rt.mq_open(qname, os.O_CREAT | os.O_RDWR, 0o666, None)
        out[qname.decode()] = [fd, ctypes.get_errno()]
        if fd >= 0:
            sent = 0
            while rt.mq_send(fd, b"x" * 64, 64, 0) == 0 and sent < 100:
                sent += 1
            out["sent"] = sent
    return out
