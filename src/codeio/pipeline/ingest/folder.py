"""Raw code from a folder tree of ``.py`` files, in a fixed (sorted) order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from codeio.errors import InputError
from codeio.ids import normalize_code
from codeio.records import Failure, RawCode

__all__ = ["iter_py_files", "read_folder", "read_py_file"]

# Tool and VCS folders hold copies or generated code, never the corpus.
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})


def iter_py_files(root: Path | str) -> Iterator[Path]:
    """Every ``.py`` file under ``root``, recursively, sorted by relative path; hidden dirs skipped."""
    root = Path(root)
    files = [
        path
        for path in root.rglob("*.py")
        if path.is_file()
        and not any(
            part.startswith(".") or part in _SKIP_DIRS for part in path.relative_to(root).parts[:-1]
        )
    ]
    # Sorting the full list makes the order independent of the file system's listing order.
    yield from sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_folder(root: Path | str) -> Iterator[RawCode | Failure]:
    """One RawCode per ``.py`` file; an unreadable or non-UTF-8 file becomes a Failure."""
    root = Path(root)
    for path in iter_py_files(root):
        yield read_py_file(path, root=root)


def read_py_file(path: Path | str, *, root: Path | str | None = None) -> RawCode | Failure:
    """One source file as RawCode (``meta.path`` relative to ``root``), or a Failure."""
    path = Path(path)
    relative = path.relative_to(root).as_posix() if root is not None else path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _failure(path, "unreadable", f"cannot read: {exc.strerror or exc}")
    if b"\x00" in data:
        return _failure(path, "binary", "file contains NUL bytes (binary data?)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _failure(path, "not_utf8", f"not valid UTF-8 at byte {exc.start}: {exc.reason}")
    return RawCode(
        id=RawCode.make_id(normalize_code(text)),
        content=text,
        source=str(path),
        meta={"path": relative},
    )


def _failure(path: Path, reason: str, message: str) -> Failure:
    return Failure(
        stage="ingest",
        record_id=str(path),
        reason=reason,
        detail=str(InputError(message, path=str(path))),
    )
