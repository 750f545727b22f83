"""Keep only code that parses as Python 3 (Python-2 prints, tabs mixed with spaces, fragments)."""

from __future__ import annotations

import warnings

from codeio import ast_safe
from codeio.records import Failure, RawCode

__all__ = ["SyntaxFilter", "syntax_failure"]


def syntax_failure(raw: RawCode) -> Failure | None:
    """None when ``raw.content`` parses with ``ast.parse``; otherwise a Failure saying why."""
    try:
        # Old code is full of invalid escape sequences; those warnings are not parse failures.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast_safe.parse(raw.content)
    except SyntaxError as exc:  # includes IndentationError and TabError
        where = f"line {exc.lineno}" if exc.lineno else "unknown line"
        message = f"{raw.source}: {type(exc).__name__}: {exc.msg} ({where})"
        return Failure(stage="ingest", record_id=raw.id, reason="syntax_error", detail=message)
    except ValueError as exc:  # e.g. NUL bytes in the source
        detail = f"{raw.source}: {exc}"
        return Failure(stage="ingest", record_id=raw.id, reason="invalid_source", detail=detail)
    except (RecursionError, MemoryError):
        detail = f"{raw.source}: nesting too deep for the parser"
        return Failure(stage="ingest", record_id=raw.id, reason="too_complex", detail=detail)
    return None


class SyntaxFilter:
    """Passes RawCode that parses as Python 3; everything else passes through unchanged."""

    def __init__(self) -> None:
        self.passed = 0
        self.rejected = 0

    def __call__(self, item: RawCode | Failure) -> RawCode | Failure:
        if isinstance(item, Failure):
            return item
        failure = syntax_failure(item)
        if failure is None:
            self.passed += 1
            return item
        self.rejected += 1
        return failure
