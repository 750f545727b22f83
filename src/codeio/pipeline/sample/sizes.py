"""Size limits on sampled inputs and outputs, after the reference's ``strict_check_size``.

The reference (CodeI/O ``parse_gen_ios``) keeps a value only if, recursively, every object in it
is small: under 1 KiB, containers under 20 items, strings under 100 characters, other scalars
under 128 bytes. It measures Python object sizes with ``pympler``; we measure the *stored* form,
the UTF-8 JSON text, because that is what a prompt will contain and it does not depend on the
interpreter. All bounds are strict (``<``), as in the reference.

This module is also source code of the sandbox harness (``harness.py`` prepends it to the code
string the child runs), so it must stay self-contained: standard library only, no codeio imports.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SizeLimits", "size_violation"]


class SizeLimits:
    """Strict upper bounds; a value passes when every measure is *below* its bound."""

    __slots__ = ("max_bytes", "max_items", "max_str", "max_scalar")

    def __init__(
        self, max_bytes: int = 1024, max_items: int = 20, max_str: int = 100, max_scalar: int = 128
    ) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.max_str = max_str
        self.max_scalar = max_scalar


def _json_bytes(obj: Any) -> int:
    return len(json.dumps(obj, ensure_ascii=False, allow_nan=True).encode("utf-8"))


def size_violation(obj: Any, limits: SizeLimits | None = None) -> str | None:
    """Why ``obj`` (a JSON value) is too big, or ``None`` when it is within ``limits``."""
    lim = limits or SizeLimits()
    try:
        total = _json_bytes(obj)
    except (ValueError, TypeError, RecursionError) as exc:
        # Huge ints (str conversion limit), cycles and deep nesting cannot be stored anyway.
        return f"not serializable within limits: {type(exc).__name__}"
    if total >= lim.max_bytes:
        return f"{total} bytes >= {lim.max_bytes}"
    # Iterative walk: nesting depth is bounded by the byte limit, but no recursion is cheaper.
    stack: list[Any] = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if len(item) >= lim.max_items:
                return f"dict of {len(item)} items >= {lim.max_items}"
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            if len(item) >= lim.max_items:
                return f"list of {len(item)} items >= {lim.max_items}"
            stack.extend(item)
        elif isinstance(item, str):
            if len(item) >= lim.max_str:
                return f"string of {len(item)} chars >= {lim.max_str}"
        elif item is not None and not isinstance(item, bool):
            scalar = _json_bytes(item)
            if scalar >= lim.max_scalar:
                return f"scalar of {scalar} bytes >= {lim.max_scalar}"
    return None
