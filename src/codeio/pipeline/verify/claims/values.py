"""Values in claims and in trace reprs: parse both spellings, compare with the verifier's rules.

A claim may be written in Python or JSON spelling (``True``/``true``, ``None``/``null``, single or
double quotes) and may be shortened with ``...``; a recorded value is a bounded ``reprlib`` text
that is shortened the same way when it is long. Both parse to Python values in which an
:data:`ELLIPSIS` marks the part that is not shown. :func:`match` answers True (consistent), False
(definitely different) or None (cannot tell): only False ever makes a contradiction.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from codeio import ast_safe
from codeio.pipeline.verify.compare import values_equal
from codeio.pipeline.verify.literal import LITERAL_NAMES

__all__ = ["ELLIPSIS", "UNPARSED", "decimals", "match", "parse_value", "show"]

ELLIPSIS: Any = ...
UNPARSED = object()
"""What :func:`parse_value` returns for text that is not a value it understands (objects)."""

# Wrappers whose repr holds a plain value: numpy scalars and arrays, containers from collections.
_WRAPPERS = {
    "array",
    "int64",
    "int32",
    "float64",
    "float32",
    "bool_",
    "str_",
    "Counter",
    "deque",
    "OrderedDict",
    "frozenset",
    "set",
    "tuple",
    "list",
    "int",
    "float",
    "Fraction",
    "Decimal",
}
_DICT_MORE = re.compile(r",\s*\.\.\.\s*}")


@functools.lru_cache(maxsize=8192)
def parse_value(text: str) -> Any:
    """A Python value for ``text`` (``...`` becomes ELLIPSIS), or UNPARSED.

    Cached: a trace repeats its reprs; callers must not mutate the value returned.
    """
    text = text.strip()
    if not text or len(text) > 20_000:
        return UNPARSED
    # reprlib ends a long dict with a bare ``...`` item; make it a key so the text parses.
    candidate = _DICT_MORE.sub(", ...: ...}", text)
    try:
        tree = ast_safe.parse(candidate, mode="eval")
        return _convert(tree.body)
    except (SyntaxError, ValueError, RecursionError, MemoryError, TypeError, _NotValue):
        return UNPARSED


class _NotValue(Exception):
    pass


def _convert(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis or isinstance(node.value, (str, int, float, bool, type(None))):
            return node.value
        raise _NotValue
    if isinstance(node, ast.Name):
        if node.id in LITERAL_NAMES:
            return LITERAL_NAMES[node.id]
        raise _NotValue
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _convert(node.operand)
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise _NotValue
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.List):
        return [_convert(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_convert(e) for e in node.elts)
    if isinstance(node, ast.Set):
        items = [_convert(e) for e in node.elts]
        try:
            return set(items)
        except TypeError as exc:
            raise _NotValue from exc
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _NotValue
        out = {}
        for k, v in zip(node.keys, node.values, strict=True):
            key = _convert(k)  # type: ignore[arg-type]
            if isinstance(key, (list, dict, set)):
                raise _NotValue
            out[key] = _convert(v)
        return out
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in _WRAPPERS:
            inner = _convert(node.args[0])
            if name in ("set", "frozenset") and isinstance(inner, (list, tuple)):
                try:
                    return set(inner)
                except TypeError as exc:
                    raise _NotValue from exc
            if name == "float" and isinstance(inner, str):
                try:
                    return float(inner)
                except ValueError as exc:
                    raise _NotValue from exc
            return inner
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        name = getattr(node.func, "id", "")
        empty = {"set": set(), "list": [], "dict": {}, "tuple": (), "frozenset": set()}
        if name in empty:
            return empty[name]
    raise _NotValue


def decimals(text: str) -> int | None:
    """Fewest decimal places of any float literal in ``text`` (None: no float literal)."""
    found = [len(m.group(1)) for m in re.finditer(r"\d\.(\d+)(?![\d.]|e)", text)]
    return min(found) if found else None


def _has_ellipsis(value: Any) -> bool:
    if value is ELLIPSIS:
        return True
    if isinstance(value, str):
        return "..." in value
    if isinstance(value, (list, tuple)):
        return any(_has_ellipsis(v) for v in value)
    if isinstance(value, set):
        return ELLIPSIS in value
    if isinstance(value, Mapping):
        return ELLIPSIS in value or any(_has_ellipsis(v) for v in value.values())
    return False


def match(claimed: Any, actual: Any, *, places: int | None = None) -> bool | None:
    """True: consistent; False: definitely different; None: cannot tell.

    Numbers follow ``values_equal`` (relative 1e-3), and a claim written with ``places`` decimals
    also matches a value it rounds or truncates to. A bool never equals an int here, but a claim
    of 1 for True is "cannot tell", not a contradiction: people write flags as 0/1.
    """
    if claimed is UNPARSED or actual is UNPARSED:
        return None
    if isinstance(claimed, bool) != isinstance(actual, bool):
        if isinstance(claimed, (bool, int)) and isinstance(actual, (bool, int)):
            return None
    tol = 1e-6 if places is None else max(1e-6, 10.0 ** (-places))
    try:
        if values_equal(claimed, actual, rel_tol=1e-3, abs_tol=tol):
            return True
    except Exception:  # odd values (unhashable keys) compare as unknown, never as different
        return None
    return _differs(claimed, actual, tol)


def _differs(claimed: Any, actual: Any, tol: float) -> bool | None:
    """False when they differ for sure, None when ellipses or loose typing leave it open."""
    if claimed is ELLIPSIS or actual is ELLIPSIS:
        return None
    if isinstance(claimed, str) and isinstance(actual, str):
        return _strings(claimed, actual)
    if isinstance(claimed, str) or isinstance(actual, str):
        # ``'5'`` for 5 (or the reverse) is loose spelling, not a different value.
        other = actual if isinstance(claimed, str) else claimed
        text = claimed if isinstance(claimed, str) else actual
        return None if text.strip() == _plain(other) else False
    if isinstance(claimed, set) or isinstance(actual, set):
        return _sets(claimed, actual, tol)
    if isinstance(claimed, (list, tuple)) and isinstance(actual, (list, tuple)):
        return _sequences(list(claimed), list(actual), tol)
    if isinstance(claimed, Mapping) and isinstance(actual, Mapping):
        return _mappings(claimed, actual, tol)
    if _has_ellipsis(claimed) or _has_ellipsis(actual):
        return None
    return False


def _plain(value: Any) -> str:
    return str(value)


def _strings(claimed: str, actual: str) -> bool | None:
    if claimed == actual:
        return True
    if "..." in actual:
        return None  # the recorded string itself was shortened
    if "..." in claimed:
        parts = claimed.split("...")
        head, tail = parts[0], parts[-1]
        if not actual.startswith(head) or not actual.endswith(tail):
            return False
        return True if len(actual) >= len(head) + len(tail) else False
    return False


def _sequences(claimed: list[Any], actual: list[Any], tol: float) -> bool | None:
    if ELLIPSIS not in claimed and ELLIPSIS not in actual:
        if len(claimed) != len(actual):
            return False
        return _all(match(c, a, places=_places(tol)) for c, a in zip(claimed, actual, strict=True))
    # Compare what both show: the heads before the first ellipsis, the tails after the last.
    results = []
    c_head = claimed[: claimed.index(ELLIPSIS)] if ELLIPSIS in claimed else claimed
    a_head = actual[: actual.index(ELLIPSIS)] if ELLIPSIS in actual else actual
    for c, a in zip(c_head, a_head, strict=False):
        results.append(match(c, a, places=_places(tol)))
    if ELLIPSIS not in actual and ELLIPSIS in claimed:
        c_tail = claimed[len(claimed) - claimed[::-1].index(ELLIPSIS) :]
        if len(c_head) + len(c_tail) > len(actual):
            return False
        for c, a in zip(reversed(c_tail), reversed(actual), strict=False):
            results.append(match(c, a, places=_places(tol)))
        verdict = _all(results)
        return verdict
    if ELLIPSIS not in claimed and len(claimed) < len(a_head):
        return False
    verdict = _all(results)
    return None if verdict else verdict


def _sets(claimed: Any, actual: Any, tol: float) -> bool | None:
    if not isinstance(claimed, (set, list, tuple)) or not isinstance(actual, (set, list, tuple)):
        return False
    c, a = list(claimed), list(actual)
    if ELLIPSIS in c or ELLIPSIS in a:
        return None
    if len(c) != len(a):
        # a list spelling of a set may repeat items; only distinct counts matter then
        return None if not isinstance(claimed, set) else False
    unmatched = list(a)
    for item in c:
        hit = next((x for x in unmatched if match(item, x, places=_places(tol))), None)
        if hit is None:
            return False
        unmatched.remove(hit)
    return True


def _mappings(claimed: Mapping[Any, Any], actual: Mapping[Any, Any], tol: float) -> bool | None:
    c_more, a_more = ELLIPSIS in claimed, ELLIPSIS in actual
    c_keys = {_key(k): k for k in claimed if k is not ELLIPSIS}
    a_keys = {_key(k): k for k in actual if k is not ELLIPSIS}
    if not c_more and not a_more and set(c_keys) != set(a_keys):
        return False
    if not a_more and set(c_keys) - set(a_keys):
        return False
    if not c_more and set(a_keys) - set(c_keys):
        return False
    results = [
        match(claimed[c_keys[k]], actual[a_keys[k]], places=_places(tol))
        for k in c_keys
        if k in a_keys
    ]
    verdict = _all(results)
    if verdict and (c_more or a_more) and a_more:
        return None
    return verdict


def _key(key: Any) -> Any:
    if isinstance(key, bool) or key is None:
        return str(key).lower()
    if isinstance(key, (int, float)):
        return str(key)
    return key


def _places(tol: float) -> int | None:
    return None if tol <= 1e-6 else round(-math.log10(tol))


def _all(results: Any) -> bool | None:
    unknown = False
    for r in results:
        if r is False:
            return False
        if r is None:
            unknown = True
    return None if unknown else True


def show(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
