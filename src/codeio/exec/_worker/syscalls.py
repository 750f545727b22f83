"""Thin ctypes wrappers for the Linux calls Python 3.10/3.11 does not expose."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2
CAP_FOWNER = 3
CAP_KILL = 5
CAP_SETGID = 6
CAP_SETUID = 7
_CAP_VERSION_3 = 0x20080522

# The landlock syscall numbers are the same on every architecture (generic table).
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_SYS_MOUNT_SETATTR = 442
# Not in the generic table's shared range: per architecture.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1


def _check(ret: int) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)))


def mount(
    source: str, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        )
    )


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)))


def _arch_nr(table: dict[str, int]) -> int:
    machine = os.uname().machine
    if machine not in table:
        raise OSError(f"unsupported architecture {machine}")
    return table[machine]


def pivot_root(new_root: str, put_old: str) -> None:
    nr = _arch_nr(_SYS_PIVOT_ROOT)
    _check(int(_libc.syscall(ctypes.c_long(nr), new_root.encode(), put_old.encode())))


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def mount_setattr(path: str, attr_set: int, recursive: bool = True) -> None:
    """Set mount attributes on ``path`` (and every mount below it); Linux 5.12+."""
    attr = _MountAttr(attr_set, 0, 0, 0)
    ret = _libc.syscall(
        ctypes.c_long(_SYS_MOUNT_SETATTR),
        ctypes.c_int(_AT_FDCWD),
        path.encode(),
        ctypes.c_uint(_AT_RECURSIVE if recursive else 0),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(int(ret))


def raw_syscall(nr: int, *args: int) -> int:
    """syscall(2) with integer/pointer arguments; -1 on failure (errno in ctypes)."""
    return int(_libc.syscall(ctypes.c_long(nr), *(ctypes.c_ulong(a) for a in args)))


def prctl_ptr(option: int, arg2: int, pointer: int) -> None:
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_void_p(pointer), 0, 0))


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))))


def join_new_session_keyring() -> int:
    """Give this process (and its future children) a fresh, anonymous session keyring."""
    nr = _arch_nr(_SYS_KEYCTL)
    return _check(
        int(_libc.syscall(ctypes.c_long(nr), ctypes.c_int(KEYCTL_JOIN_SESSION_KEYRING), None))
    )


def prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), 0, 0, 0))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class CapabilitySet:
    """A capability set built once in the worker and applied cheaply in each child."""

    def __init__(self, caps: list[int], permitted: list[int] | None = None) -> None:
        """``caps`` effective; ``permitted`` (default: the same) may hold more, to raise later."""
        self._header = _CapHeader(_CAP_VERSION_3, 0)
        self._data = (_CapData * 2)()
        for cap in caps:
            self._data[cap // 32].effective |= 1 << (cap % 32)
        for cap in caps if permitted is None else permitted:
            self._data[cap // 32].permitted |= 1 << (cap % 32)
        self._header_ref = ctypes.byref(self._header)

    def apply(self) -> None:
        """Make these the effective and permitted sets of the calling thread; none inheritable."""
        _check(_libc.capset(self._header_ref, self._data))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is unavailable."""
    ret = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return int(ret) if ret > 0 else 0


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_create_ruleset(fs: int, net: int, scoped: int, abi: int) -> int:
    attr = _RulesetAttr(fs, net, scoped)
    # Older ABIs reject the larger struct, so pass only the fields they know.
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    ret = _libc.syscall(
        _SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
    )
    return _check(int(ret))


def landlock_allow_beneath(ruleset_fd: int, path: str, access: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = _PathBeneath(access, fd)
        _check(
            int(
                _libc.syscall(
                    _SYS_LANDLOCK_ADD_RULE,
                    ctypes.c_int(ruleset_fd),
                    ctypes.c_int(1),  # LANDLOCK_RULE_PATH_BENEATH
                    ctypes.byref(rule),
                    ctypes.c_uint32(0),
                )
            )
        )
    finally:
        os.close(fd)


def landlock_restrict_self(ruleset_fd: int) -> None:
    _check(
        int(
            _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0))
        )
    )
