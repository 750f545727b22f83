"""Atomic file writing: readers never see a half-written export, a crash leaves the old one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_dir",
    "atomic_path",
    "current_umask",
    "json_line",
    "remove_stale_temps",
    "write_jsonl",
]


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (threads share it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_prefix(path: Path) -> str:
    # The pid in the name tells a later run which temp files belong to a dead writer.
    return f".{path.name}.{os.getpid()}."


def remove_stale_temps(
    folder: Path | str, name: str | None = None, *, min_age_s: float = 60.0
) -> list[Path]:
    """Remove the temp files/folders that interrupted atomic writes left in ``folder`` (of
    the file ``name`` only, when given).

    A temp whose writer (the pid in its name) is gone is removed at once; one without a pid
    (older versions) once it is ``min_age_s`` old, so a live writer is never disturbed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for tmp in folder.iterdir():
        parts = tmp.name.split(".")
        # ".<name>.<pid>.<random>.tmp": parts = ["", <name pieces...>, <pid>, <random>, "tmp"]
        if len(parts) < 4 or parts[0] or parts[-1] != "tmp":
            continue
        pid_text = parts[-3]
        target = ".".join(parts[1:-3]) if pid_text.isdigit() else ".".join(parts[1:-2])
        if name is not None and target != name:
            continue
        try:
            if pid_text.isdigit():
                stale = not _alive(int(pid_text))
            else:
                stale = time.time() - tmp.lstat().st_mtime >= min_age_s
            if not stale:
                continue
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()
            removed.append(tmp)
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it is renamed onto ``path``.

    The file gets the mode a plain ``open()`` would give (0666 less the umask), not mkstemp's
    0600: exports land in shared dataset folders.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield a temp folder next to ``path``; on success it replaces ``path`` (old one removed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, path.name)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~current_umask())
    try:
        yield tmp
        if path.exists():
            # A folder cannot be renamed over a non-empty one: move the old aside first so the
            # window without a complete export is one rename long.
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def json_line(row: dict[str, Any]) -> str:
    """One JSONL line; allow_nan because real functions return NaN/inf (json.loads reads them)."""
    return json.dumps(row, ensure_ascii=False, allow_nan=True) + "\n"


def write_jsonl(path: Path | str, rows: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line, atomically; returns the number of rows."""
    count = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json_line(row))
            count += 1
    return count
