"""A seccomp-BPF filter, written here, that denies what user code never needs.

Installed once in the worker after its own set-up; every task child inherits it (and cannot
remove it). Denied calls fail with ``EPERM`` (``clone3`` with ``ENOSYS``, so glibc falls back to
``clone``, whose flags the filter can inspect): code sees an ordinary ``OSError``, not a kill.
The program is a binary search over the denied numbers, so an allowed call costs about eight
comparisons whatever the list's length.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from . import syscalls

# Syscalls that act on other processes, the kernel, mounts and namespaces, or that open
# channels and memory the sandbox does not count. (x86_64 number, generic/aarch64 number);
# None where an architecture has no such call.
DENIED: dict[str, tuple[int | None, int | None]] = {
    # other processes' memory and descriptors
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "process_madvise": (440, 440),
    "kcmp": (312, 272),
    "pidfd_getfd": (438, 438),
    # kernel keyrings (a channel between tasks and to the caller's session)
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    # large kernel attack surface, no use in a task
    "bpf": (321, 280),
    "userfaultfd": (323, 282),
    "perf_event_open": (298, 241),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "fanotify_init": (300, 262),
    "lookup_dcookie": (212, 18),
    "name_to_handle_at": (303, 264),
    "open_by_handle_at": (304, 265),
    # mounts and namespaces
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "unshare": (272, 97),
    "setns": (308, 268),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "open_tree_attr": (467, 467),
    # the machine itself
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "reboot": (169, 142),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "syslog": (103, 116),
    "acct": (163, 89),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "settimeofday": (164, 170),
    "clock_settime": (227, 112),
    "clock_adjtime": (305, 266),
    "adjtimex": (159, 171),
    "sethostname": (170, 161),
    "setdomainname": (171, 162),
    "vhangup": (153, 58),
    "nfsservctl": (180, 42),
    # memory the address-space limit does not see, and IPC objects that outlive the task
    "memfd_create": (319, 279),
    "memfd_secret": (447, 447),
    "shmget": (29, 194),
    "shmat": (30, 196),
    "shmctl": (31, 195),
    "shmdt": (67, 197),
    "msgget": (68, 186),
    "msgsnd": (69, 189),
    "msgrcv": (70, 188),
    "msgctl": (71, 187),
    "semget": (64, 190),
    "semop": (65, 193),
    "semtimedop": (220, 192),
    "semctl": (66, 191),
    "mq_open": (240, 180),
    "mq_unlink": (241, 181),
    "mq_timedsend": (242, 182),
    "mq_timedreceive": (243, 183),
    "mq_notify": (244, 184),
    "mq_getsetattr": (245, 185),
    # x86 only: legacy or hardware-level calls
    "iopl": (172, None),
    "ioperm": (173, None),
    "modify_ldt": (154, None),
    "uselib": (134, None),
    "ustat": (136, None),
    "sysfs": (139, None),
    "_sysctl": (156, None),
    "create_module": (174, None),
    "get_kernel_syms": (177, None),
    "query_module": (178, None),
    "afs_syscall": (183, None),
    "tuxcall": (184, None),
    "security": (185, None),
    "vserver": (236, None),
    "putpmsg": (182, None),
    "getpmsg": (181, None),
}

# Calls allowed only with some arguments.
_CLONE = (56, 220)
_CLONE3 = (435, 435)
_PERSONALITY = (135, 92)
_IOCTL = (16, 29)
_SOCKET = (41, 198)
_SECCOMP = (317, 277)

NAMESPACE_FLAGS = (
    syscalls.CLONE_NEWNS
    | syscalls.CLONE_NEWCGROUP
    | syscalls.CLONE_NEWUTS
    | syscalls.CLONE_NEWIPC
    | syscalls.CLONE_NEWUSER
    | syscalls.CLONE_NEWPID
    | syscalls.CLONE_NEWNET
)
# personality(): querying, plain Linux and the harmless compatibility bits only (what container
# runtimes allow); not ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC and the like.
ALLOWED_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
DENIED_IOCTLS = {"TIOCSTI": 0x5412, "TIOCLINUX": 0x541C}  # push input into a terminal
ALLOWED_SOCKET_FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16}
"""Everything else (AF_VSOCK to the hypervisor, AF_PACKET, bluetooth, ...) is refused."""

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_BIT = 0x40000000

_LD_ABS_W = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_NR_OFFSET = 0
_ARCH_OFFSET = 4


def _arg_low(index: int) -> int:
    # seccomp_data.args[index], its low 32 bits (both architectures are little-endian)
    return 16 + 8 * index


Insn = tuple[int, int, int, int]


def _errno(code: int) -> Insn:
    return (_RET, 0, 0, _RET_ERRNO | code)


_ALLOW: Insn = (_RET, 0, 0, _RET_ALLOW)
_EPERM = _errno(errno.EPERM)


def _clone_block() -> list[Insn]:
    return [(_LD_ABS_W, 0, 0, _arg_low(0)), (_JSET, 0, 1, NAMESPACE_FLAGS), _EPERM, _ALLOW]


def _one_of(index: int, values: tuple[int, ...], hit: Insn, miss: Insn) -> list[Insn]:
    """Load argument ``index``; ``hit`` if it equals one of ``values``, else ``miss``."""
    code: list[Insn] = [(_LD_ABS_W, 0, 0, _arg_low(index))]
    for i, value in enumerate(values):
        code.append((_JEQ, len(values) - i, 0, value))
    return code + [miss, hit]


def _tree(cases: list[tuple[int, list[Insn]]]) -> list[Insn]:
    """Binary search on the syscall number (in A); each case's block ends in a return."""
    if len(cases) <= 3:
        code: list[Insn] = []
        for nr, block in cases:
            code.append((_JEQ, 0, len(block), nr))
            code.extend(block)
        return code + [_ALLOW]
    mid = len(cases) // 2
    left, right = _tree(cases[:mid]), _tree(cases[mid:])
    if len(left) > 255:
        raise ValueError("seccomp program too large for a short jump")
    return [(_JGE, len(left), 0, cases[mid][0]), *left, *right]


def _column(machine: str) -> int:
    if machine not in _AUDIT_ARCH:
        raise OSError(f"seccomp filter: unsupported architecture {machine}")
    return 0 if machine == "x86_64" else 1


def denied_names(machine: str | None = None) -> list[str]:
    column = _column(machine or os.uname().machine)
    return sorted(name for name, nrs in DENIED.items() if nrs[column] is not None)


def build(machine: str | None = None) -> list[Insn]:
    """The filter program for ``machine`` (default: this one)."""
    machine = machine or os.uname().machine
    column = _column(machine)
    cases: dict[int, list[Insn]] = {}
    for nrs in DENIED.values():
        nr = nrs[column]
        if nr is not None:
            cases[nr] = [_EPERM]
    cases[_CLONE3[column]] = [_errno(errno.ENOSYS)]
    cases[_CLONE[column]] = _clone_block()
    cases[_PERSONALITY[column]] = _one_of(0, ALLOWED_PERSONALITIES, _ALLOW, _EPERM)
    cases[_IOCTL[column]] = _one_of(1, tuple(DENIED_IOCTLS.values()), _EPERM, _ALLOW)
    families = tuple(ALLOWED_SOCKET_FAMILIES.values())
    cases[_SOCKET[column]] = _one_of(0, families, _ALLOW, _errno(errno.EAFNOSUPPORT))
    program: list[Insn] = [
        (_LD_ABS_W, 0, 0, _ARCH_OFFSET),
        (_JEQ, 1, 0, _AUDIT_ARCH[machine]),
        _EPERM,  # another ABI (i386 via int 0x80): nothing of it is allowed
        (_LD_ABS_W, 0, 0, _NR_OFFSET),
    ]
    if machine == "x86_64":
        program += [(_JGE, 0, 1, _X32_BIT), _EPERM]  # the x32 ABI's numbers
    return program + _tree(sorted(cases.items()))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


class Filter:
    """The filter, built once; ``apply`` installs it on the calling process (one syscall), so a
    design that must apply it per child instead of once in the worker pays only that."""

    def __init__(self, machine: str | None = None) -> None:
        self.machine = machine or os.uname().machine
        program = build(self.machine)
        raw = b"".join(struct.pack("=HBBI", *insn) for insn in program)
        self.length = len(program)
        self._buf = ctypes.create_string_buffer(raw, len(raw))
        self._prog = _SockFprog(len(program), ctypes.addressof(self._buf))
        self._nr = _SECCOMP[_column(self.machine)]

    def apply(self) -> None:
        """Install on this process (all its threads) and everything it forks after."""
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        address = ctypes.addressof(self._prog)
        flags = _SECCOMP_FILTER_FLAG_TSYNC
        if syscalls.raw_syscall(self._nr, _SECCOMP_SET_MODE_FILTER, flags, address) != 0:
            # Kernels before 3.17 have no seccomp(2); the prctl applies to this thread only.
            syscalls.prctl_ptr(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, address)

    def describe(self) -> dict[str, object]:
        return {
            "arch": self.machine,
            "instructions": self.length,
            "denied": denied_names(self.machine),
            "clone_namespace_flags": "EPERM",
            "clone3": "ENOSYS",
            "personality_allowed": [hex(v) for v in ALLOWED_PERSONALITIES],
            "ioctl_denied": sorted(DENIED_IOCTLS),
            "socket_families": sorted(ALLOWED_SOCKET_FAMILIES),
        }


def install() -> dict[str, object]:
    """Build the filter, apply it to this process, and describe it (for the worker's report)."""
    flt = Filter()
    flt.apply()
    return flt.describe()
