"""``ast.parse`` and ``ast.literal_eval`` that are safe to call from several threads.

CPython 3.11 keeps the recursion depth of its AST-to-object conversion in per-interpreter state,
so two threads parsing at once (a garbage collection in one can switch to the other) can fail
with ``SystemError: AST constructor recursion depth mismatch``. Stages parse from worker
threads, so every parse in the host process goes through one lock; parsing is fast, the lock is
never held for long.

What is parsed is untrusted text (model answers, raw code), so the warnings the compiler emits
on it (``"\\{"`` is an invalid escape: DeprecationWarning on 3.11, a printed SyntaxWarning from
3.12) are about that text, not about codeio, and are silenced here rather than shown to the user.
"""

from __future__ import annotations

import ast
import functools
import threading
import warnings
from typing import Any, Literal

__all__ = ["literal_eval", "parse", "parse_module"]

_LOCK = threading.Lock()


def parse(source: str, mode: Literal["exec", "eval", "single"] = "exec") -> Any:
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, mode=mode)


@functools.lru_cache(maxsize=256)
def parse_module(source: str) -> ast.Module | None:
    """The module tree of ``source``, or None when it does not parse; cached, because the
    claim checker asks several questions of the same refcode. Callers must not mutate it."""
    try:
        return parse(source)
    except (SyntaxError, ValueError):
        return None


def literal_eval(node_or_string: str | ast.AST) -> Any:
    if isinstance(node_or_string, str):
        node_or_string = parse(node_or_string.lstrip(" \t"), mode="eval")
    return ast.literal_eval(node_or_string)
