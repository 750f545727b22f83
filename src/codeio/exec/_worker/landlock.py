"""A Landlock ruleset that allows writes only beneath one directory and denies TCP.

Reads stay allowed everywhere (tasks import lazily from the stdlib and site-packages); every
right that creates, changes or removes a file is handled, and granted only beneath the task dir.
"""

from __future__ import annotations

import os

from . import syscalls

_WRITE_FILE = 1 << 1
_REMOVE_DIR = 1 << 4
_REMOVE_FILE = 1 << 5
_MAKE_ALL = sum(1 << bit for bit in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3
_NET_TCP = (1 << 0) | (1 << 1)  # bind, connect; ABI 4
_SCOPE_ALL = (1 << 0) | (1 << 1)  # abstract unix sockets, signals; ABI 6


def build_ruleset(writable_dir: str) -> tuple[int, int, list[str]]:
    """(ruleset fd, abi, features) for a child to apply with ``restrict``; raises OSError."""
    abi = syscalls.landlock_abi()
    if abi < 1:
        raise OSError("Landlock is not available")
    handled = _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_ALL
    if abi >= 2:
        handled |= _REFER
    if abi >= 3:
        handled |= _TRUNCATE
    net = _NET_TCP if abi >= 4 else 0
    scoped = _SCOPE_ALL if abi >= 6 else 0
    features = ["fs-write"] + (["tcp"] if net else []) + (["scope"] if scoped else [])
    fd = syscalls.landlock_create_ruleset(handled, net, scoped, abi)
    try:
        syscalls.landlock_allow_beneath(fd, writable_dir, handled)
        # Libraries open /dev/null for writing; it is harmless.
        syscalls.landlock_allow_beneath(
            fd, os.devnull, _WRITE_FILE | (_TRUNCATE if abi >= 3 else 0)
        )
    except OSError:
        os.close(fd)
        raise
    return fd, abi, features


def restrict(ruleset_fd: int) -> None:
    syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
    syscalls.landlock_restrict_self(ruleset_fd)
