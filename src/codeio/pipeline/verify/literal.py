"""A safe evaluator for Python-literal answers, and a string-aware span finder for them.

Models often answer with Python syntax (``{'output': (1, 2), 'ok': True}``) instead of JSON.
``ast.literal_eval`` handles most of it, but not ``nan``/``inf`` nor the JSON names ``true``/
``null`` that models mix in, so this walks the ``ast`` itself, accepting only literal nodes:
nothing is ever executed, and string contents are taken verbatim from the parser.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from codeio import ast_safe

__all__ = ["LITERAL_NAMES", "LiteralError", "find_brace_span", "parse_literal"]

LITERAL_NAMES: dict[str, Any] = {
    # Python and JSON spellings of the constants a literal answer or a repr may hold.
    "True": True,
    "False": False,
    "None": None,
    "true": True,
    "false": False,
    "null": None,
    "nan": math.nan,
    "NaN": math.nan,
    "inf": math.inf,
    "Infinity": math.inf,
}

# Spans longer than this are never answers the prompts ask for; the cap bounds the scan cost
# on long responses full of unmatched braces (code, LaTeX).
MAX_SPAN = 20_000


class LiteralError(ValueError):
    """The text is not a Python literal this module accepts."""


def parse_literal(text: str) -> Any:
    """Evaluate ``text`` as a Python literal (plus nan/inf/true/false/null); never executes code."""
    try:
        tree = ast_safe.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise LiteralError(str(exc)) from exc
    try:
        return _convert(tree.body)
    except RecursionError as exc:
        raise LiteralError("too deeply nested") from exc


def _convert(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, int, float, bool, type(None))):
            return node.value
        raise LiteralError(f"unsupported constant {node.value!r}")
    if isinstance(node, ast.Name):
        if node.id in LITERAL_NAMES:
            return LITERAL_NAMES[node.id]
        raise LiteralError(f"name {node.id!r} is not a literal")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _convert(node.operand)
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise LiteralError("sign applied to a non-number")
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.List):
        return [_convert(elt) for elt in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_convert(elt) for elt in node.elts)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):  # ``{**x}``
            raise LiteralError("dict unpacking is not a literal")
        keys = [_convert(key) for key in node.keys if key is not None]
        for key in keys:
            if isinstance(key, (list, dict)):
                raise LiteralError("unhashable dict key")
        return {key: _convert(value) for key, value in zip(keys, node.values, strict=True)}
    if isinstance(node, ast.Call) and _is_float_special(node):
        return float(node.args[0].value)  # type: ignore[attr-defined]
    raise LiteralError(f"{type(node).__name__} is not a literal")


def _is_float_special(node: ast.Call) -> bool:
    """``float('nan')`` / ``float('inf')``: how Python prints non-finite floats in code."""
    return (
        isinstance(node.func, ast.Name)
        and node.func.id == "float"
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and node.args[0].value.strip().lower().lstrip("+-") in {"nan", "inf", "infinity"}
    )


def find_brace_span(text: str, start: int) -> int | None:
    """End (exclusive) of the ``{...}`` starting at ``start``, skipping Python string literals.

    Only used to cut candidate spans for :func:`parse_literal`; the parser decides what they are.
    """
    depth = 0
    i = start
    limit = min(len(text), start + MAX_SPAN)
    while i < limit:
        ch = text[i]
        if ch in "'\"":
            i = _skip_string(text, i, limit)
            if i < 0:
                return None
            continue
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
            if depth == 0:
                return i + 1 if ch == "}" else None
            if depth < 0:
                return None
        i += 1
    return None


def _skip_string(text: str, i: int, limit: int) -> int:
    """Index just past the string literal opening at ``i``, or -1 if it never closes."""
    quote = text[i]
    delim = quote * 3 if text.startswith(quote * 3, i) else quote
    j = i + len(delim)
    while j < limit:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if len(delim) == 1 and ch == "\n":
            return -1
        if text.startswith(delim, j):
            return j + len(delim)
        j += 1
    return -1
