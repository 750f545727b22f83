"""Turning untrusted text into safe HTML fragments: highlighted code, turn diffs, JSON values.

Everything here returns ``markupsafe.Markup`` built only from escaped text; templates escape
everything else automatically.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from markupsafe import Markup, escape

__all__ = [
    "DIFF_MAX_CHARS",
    "DIFF_MAX_LINES",
    "compact_json",
    "diff_lines",
    "highlight_python",
    "pretty_json",
]

_CODE_LIMIT = 200_000
_TOO_DEEP = "(a value nested too deeply to show)"
DIFF_MAX_LINES = 5_000
DIFF_MAX_CHARS = 500_000
"""Longer responses are not diffed: difflib's time grows with the square of the line count
(two adversarial 100,000-line responses took minutes; 5,000 lines take well under a second)."""


def highlight_python(code: str) -> Markup:
    """Python code as escaped HTML with token classes (Pygments, shipped with rich)."""
    code = code[:_CODE_LIMIT]
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:  # pragma: no cover - rich always brings pygments
        return Markup(escape(code))
    # nowrap: spans only, no inline styles (the page's CSP forbids them); Pygments escapes text.
    return Markup(highlight(code, PythonLexer(), HtmlFormatter(nowrap=True)))


def pretty_json(value: Any) -> str:
    """A value as indented JSON text (NaN/Infinity kept, as the store writes them)."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=True, sort_keys=False)
    except RecursionError:
        return _TOO_DEEP  # repr would recurse as deep
    except (TypeError, ValueError):
        return repr(value)


def compact_json(value: Any) -> str:
    """A value as one line of JSON (table cells)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True)
    except RecursionError:
        return _TOO_DEEP
    except (TypeError, ValueError):
        return repr(value)


def diff_lines(before: str, after: str, context: int = 2) -> list[tuple[str, str]] | None:
    """A unified diff of two responses as ``(css class, line)``; the template escapes lines.

    None when either response is too long to diff (``DIFF_MAX_LINES``, ``DIFF_MAX_CHARS``).
    """
    for text in (before, after):
        if len(text) > DIFF_MAX_CHARS or text.count("\n") >= DIFF_MAX_LINES:
            return None
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        "previous turn",
        "this turn",
        n=context,
        lineterm="",
    ):
        if line.startswith(("---", "+++")):
            cls = "hdr"
        elif line.startswith("@@"):
            cls = "hunk"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        else:
            cls = "ctx"
        out.append((cls, line))
    return out
