"""Touch the kernel's riskiest interfaces: bpf, userfaultfd, perf_event_open, io_uring,
kexec/modules, reboot, syslog, personality(ADDR_NO_RANDOMIZE), open_by_handle_at, TIOCSTI.

Contained: each fails with an ordinary error (EPERM, or EBADF/ENOTTY where the call is
harmless anyway); the worker keeps serving.
"""

import ctypes
import fcntl
import os

NR = {
    "x86_64": {
        "bpf": 321,
        "userfaultfd": 323,
        "perf_event_open": 298,
        "io_uring_setup": 425,
        "kexec_load": 246,
        "init_module": 175,
        "reboot": 169,
        "syslog": 103,
        "personality": 135,
        "open_by_handle_at": 304,
        "memfd_create": 319,
    },
    "aarch64": {
        "bpf": 280,
        "userfaultfd": 282,
        "perf_event_open": 241,
        "io_uring_setup": 425,
        "kexec_load": 104,
        "init_module": 105,
        "reboot": 142,
        "syslog": 116,
        "personality": 92,
        "open_by_handle_at": 265,
        "memfd_create": 279,
    },
}[os.uname().machine]
libc = ctypes.CDLL(None, use_errno=True)


def call(name, *args):
    return [libc.syscall(NR[name], *args), ctypes.get_errno()]


def main(ctx):
    attr = ctypes.create_string_buffer(128)
    params = ctypes.create_string_buffer(120)
    out = {
        "bpf": call("bpf", 0, attr, 128),
        "userfaultfd": call("userfaultfd", 0),
        "perf_event_open": call("perf_event_open", attr, 0, -1, -1, 0),
        "io_uring_setup": call("io_uring_setup", 8, params),
        "kexec_load": call("kexec_load", 0, 0, None, 0),
        "init_module": call("init_module", None, 0, b""),
        "reboot": call("reboot", 0xFEE1DEAD, 672274793, 0x4321FEDC, None),
        "syslog": call("syslog", 3, attr, 128),
        "personality": call("personality", 0x0040000),
        "open_by_handle_at": call("open_by_handle_at", -100, attr, 0),
        "memfd_create": call("memfd_create", b"x", 0),
    }
    try:
        fcntl.ioctl(0, 0x5412, b"x")  # TIOCSTI on stdin (/dev/null)
        out["tiocsti"] = "done"
    except OSError as exc:
        out["tiocsti"] = type(exc).__name__
    return out
