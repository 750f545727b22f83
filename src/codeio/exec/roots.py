"""A sandbox's private directory under the temp dir, and the sweep of those a killed host left.

A host that is killed (SIGKILL, OOM, a power cut) never runs its clean-up, so its directory stays
behind; on a machine that runs pipelines for weeks they pile up. Each directory therefore holds
an ``.owner`` file its host keeps an exclusive ``flock`` on for as long as it lives: the kernel
drops the lock when the process dies, whatever killed it, so a directory whose lock can be taken
is one nobody uses, and pid reuse cannot fool the test.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time

__all__ = ["PREFIX", "make_root", "remove_root", "sweep_stale"]

PREFIX = "codeio-sandbox-"
OWNER = ".owner"
_UNMARKED_AGE_S = 24 * 3600
"""A directory without an owner file (one made by an older codeio) is stale after this long."""


def make_root() -> tuple[str, int]:
    """A new private directory and the fd that holds its owner lock (close it to release)."""
    root = tempfile.mkdtemp(prefix=PREFIX)
    # Locked before it gets its name, so that no sweep ever sees an owner file unlocked.
    staging = os.path.join(root, OWNER + ".new")
    fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(staging, os.path.join(root, OWNER))
    return root, fd


def remove_root(root: str, fd: int) -> None:
    shutil.rmtree(root, ignore_errors=True)
    try:
        os.close(fd)
    except OSError:
        pass


def sweep_stale(parent: str | None = None) -> int:
    """Remove the sandbox directories under ``parent`` (the temp dir) whose host is gone;
    returns how many. Only this user's directories are looked at, and any that cannot be
    examined are left alone."""
    parent = parent or tempfile.gettempdir()
    removed = 0
    try:
        names = [name for name in os.listdir(parent) if name.startswith(PREFIX)]
    except OSError:
        return 0
    for name in names:
        path = os.path.join(parent, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if info.st_uid != os.getuid() or not os.path.isdir(path) or os.path.islink(path):
            continue
        if _abandoned(path, info.st_mtime):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _abandoned(path: str, mtime: float) -> bool:
    try:
        fd = os.open(os.path.join(path, OWNER), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        # Made by an older codeio, or by a host that is between mkdtemp and its lock: only an
        # old one is taken for abandoned.
        return time.time() - mtime > _UNMARKED_AGE_S
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its host holds the lock: in use
    finally:
        os.close(fd)  # also releases a lock just taken
    return True
