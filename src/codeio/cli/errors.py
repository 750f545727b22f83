"""How the CLI ends on an error: one line on stderr and the exit code of ``codeio.exit_codes``.

Commands catch ``CodeioError`` and call :func:`fail`; anything that escapes a command reaches
:func:`handle_uncaught` (from ``codeio.cli.main.main``): an environment problem (a file that
cannot be written, a read-only store) is still one line, and anything else is a bug whose
traceback goes to a file instead of the user's screen.
"""

from __future__ import annotations

import datetime
import errno
import os
import sqlite3
import sys
import tempfile
import traceback
from pathlib import Path
from typing import NoReturn

import typer

from codeio import exit_codes
from codeio.errors import CodeioError

__all__ = ["crash_dir", "fail", "handle_uncaught", "one_line"]

# OS errors a user's environment causes (permissions, full disk, a path that is a file): they
# name a path, and the fix is the user's, so they are reported like any other bad option.
_ENV_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EEXIST,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENOENT,
        errno.ENAMETOOLONG,
    }
)


def one_line(text: str) -> str:
    """The message on one line: a message is grepped and copied, never wrapped."""
    return " ".join(str(text).split())


def fail(exc: CodeioError) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with the error's code."""
    typer.echo(f"error: {one_line(str(exc))}", err=True)
    raise typer.Exit(exc.exit_code) from exc


def crash_dir() -> Path:
    """Where tracebacks of internal errors go: ``crashes`` in codeio's cache folder."""
    from codeio.cache_dir import cache_root

    return cache_root() / "crashes"


def _write_traceback(exc: BaseException) -> Path | None:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    header = f"codeio {' '.join(sys.argv[1:])}\n"
    for folder in (crash_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"codeio-crash-{stamp}-{os.getpid()}.txt"
            path.write_text(header + text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def _environment_message(exc: BaseException) -> str | None:
    """One line for an error the user's environment caused, or None for a bug."""
    if type(exc).__name__ == "SandboxUnavailable":
        # The sandbox cannot be set up here (a mechanism or the prelude is missing).
        return f"the sandbox cannot run here: {exc}; run `codeio doctor`"
    if isinstance(exc, OSError) and exc.errno in _ENV_ERRNOS:
        where = exc.filename or ""
        what = exc.strerror or str(exc)
        fix = {
            errno.EACCES: "check its permissions or choose another path",
            errno.EPERM: "check its permissions or choose another path",
            errno.EROFS: "the file system is read-only: choose a writable path",
            errno.ENOSPC: "free some disk space",
            errno.EDQUOT: "free some disk space",
            errno.EEXIST: "it exists and is not what was expected: choose another path",
            errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.EISDIR: "it is a folder: give a file path",
        }.get(exc.errno or 0, "check the path")
        return f"{where}: {what}; {fix}" if where else f"{what}; {fix}"
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "full" in text:
            return f"cannot write the run store: {text}; free some disk space, then rerun to resume"
        if "readonly" in text or "unable to open" in text or "disk" in text:
            return f"cannot use the run store: {text}; check that the run directory is writable"
    return None


def handle_uncaught(exc: BaseException) -> NoReturn:
    """The last word on an exception that escaped a command; never returns."""
    if isinstance(exc, KeyboardInterrupt):
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(exit_codes.INTERRUPTED)
    if isinstance(exc, CodeioError):
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    message = _environment_message(exc)
    if message is not None:
        typer.echo(f"error: {one_line(message)}", err=True)
        sys.exit(exit_codes.CANNOT_RUN)
    if os.environ.get("CODEIO_DEBUG"):
        raise exc
    path = _write_traceback(exc)
    where = f"the traceback is in {path}" if path else "the traceback could not be written"
    summary = one_line(f"{type(exc).__name__}: {exc}")[:300]
    typer.echo(
        f"error: internal error ({summary}); this is a bug in codeio: {where}"
        " (set CODEIO_DEBUG=1 to print it)",
        err=True,
    )
    sys.exit(exit_codes.INTERNAL_ERROR)
