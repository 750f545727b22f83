"""Sandbox-side CRUXEval checker (entry ``codeio_cruxeval_check``).

This module's *source text* is the code of a sandbox task; it must use only the standard library
and import nothing from codeio. The benchmark's code and the model's prediction are evaluated
here, in the confined child, never in the host.

Equality is Python's ``==`` (as upstream's ``assert``), except that bool, int and float never
equal one another at any depth: ``True == 1`` and ``1 == 1.0`` hold in Python, but a model that
answers ``True`` for ``1`` did not predict the output.
"""

from __future__ import annotations

import math
from typing import Any

_LITERAL_NAMES = {
    "true": True, "false": False, "null": None, "nan": math.nan, "NaN": math.nan,
    "inf": math.inf, "Infinity": math.inf,
}  # fmt: skip


def _numeric_tag(value: Any) -> type | None:
    # bool before int: bool is a subclass of int.
    for tag in (bool, int, float, complex):
        if isinstance(value, tag):
            return tag
    return None


def strict_equal(a: Any, b: Any) -> bool:
    """``a == b`` with bool/int/float kept apart, recursively."""
    ta, tb = _numeric_tag(a), _numeric_tag(b)
    if ta is not None or tb is not None:
        return ta is tb and a == b
    try:
        if a != b:
            return False
    except Exception:
        return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_has_strict(b.keys(), k) and strict_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, (set, frozenset)) and isinstance(b, (set, frozenset)):
        return all(_has_strict(b, x) for x in a)
    return True


def _has_strict(pool: Any, item: Any) -> bool:
    return any(strict_equal(item, other) for other in pool)


def _short(value: Any, limit: int = 300) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _failure(exc: BaseException, what: str) -> dict[str, Any]:
    return {"status": "error", "detail": f"{what}: {type(exc).__name__}: {_short(str(exc), 200)}"}


def codeio_cruxeval_check(
    code: str, kind: str, input_src: str, output_src: str, prediction: str, funcname: str = "f"
) -> dict[str, Any]:
    """Judge one prediction: ``{"status": correct|wrong|error, "actual": repr, "detail": str}``."""
    env: dict[str, Any] = {"__name__": "__cruxeval__"}
    exec(compile(code, "<cruxeval>", "exec"), env)
    func = env[funcname]
    expected = eval(output_src, dict(_LITERAL_NAMES))
    # Predictions see the code's globals, as upstream's ``assert`` appended to the code does.
    names = {**_LITERAL_NAMES, **env}
    if kind == "output":
        try:
            predicted = eval(prediction, names)
        except BaseException as exc:
            return _failure(exc, "evaluating the prediction")
        ok = strict_equal(expected, predicted)
        actual: Any = None
        try:  # what f really returns, for the per-item log only
            actual = eval(f"__f__({input_src})", {**names, "__f__": func})
        except BaseException as exc:
            actual = f"<raised {type(exc).__name__}>"
        return {"status": "correct" if ok else "wrong", "actual": _short(actual), "detail": ""}
    try:
        actual = eval(f"__f__({prediction})", {**names, "__f__": func})
    except BaseException as exc:
        return _failure(exc, f"calling {funcname} on the predicted input")
    ok = strict_equal(expected, actual)
    return {"status": "correct" if ok else "wrong", "actual": _short(actual), "detail": ""}
