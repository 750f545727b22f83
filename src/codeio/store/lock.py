"""One writer per run directory: a second ``codeio run`` on it is refused, not run twice.

Two processes on one run would both take the same pending records and do the work (and pay for
the LLM calls) twice. The lock is an exclusive ``flock`` on ``RUN_DIR/.lock`` for as long as the
run lasts: the kernel drops it when the process ends, however it ends, so a crashed run never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codeio.errors import ConfigError

__all__ = ["LOCK_FILE", "run_lock"]

LOCK_FILE = ".lock"


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock, or raise ConfigError naming the process that holds it."""
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        # A run directory we cannot write is refused with its own message elsewhere (the store
        # cannot open either); reading a finished run needs no lock.
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            who = f"(pid {holder}) " if holder.isdigit() else ""
            raise ConfigError(
                f"{run_dir}: another codeio process {who}is working on this run directory; "
                "wait for it to finish (or stop it), then rerun to resume"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
