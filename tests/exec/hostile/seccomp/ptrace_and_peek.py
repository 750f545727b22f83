"""Attach to the worker (PID 1), the parent and a child it forks itself with ptrace, and read
the worker's memory with process_vm_readv and /proc/1/mem.

Contained: ptrace and process_vm_readv are denied, /proc/1/mem is unreadable; the task's own
child is killed with it (no survivor carrying the marker).
"""

import ctypes
import os
import subprocess
import sys

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_TRACEME = 16, 0


def main(ctx):
    out = {}
    for pid in (1, os.getppid()):
        out[f"attach {pid}"] = [libc.ptrace(PTRACE_ATTACH, pid, None, None), ctypes.get_errno()]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", ctx["marker"]])
    out["attach child"] = [libc.ptrace(PTRACE_ATTACH, child.pid, None, None), ctypes.get_errno()]
    buf = ctypes.create_string_buffer(64)

    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    local = IoVec(ctypes.addressof(buf), 64)
    remote = IoVec(0x400000, 64)
    n = libc.process_vm_readv(1, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    out["process_vm_readv"] = [n, ctypes.get_errno()]
    try:
        with open("/proc/1/mem", "rb") as fh:
            out["mem"] = fh.read(16).hex()
    except OSError as exc:
        out["mem"] = type(exc).__name__
    return out  # the sleeping child is left behind on purpose
