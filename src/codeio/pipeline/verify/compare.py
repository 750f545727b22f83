"""Equality of a predicted value and a stored one, with the tolerance the method needs.

Fixes the reference checker's known faults: ``True`` equalled ``1``; a target of ``0.0`` admitted
no tolerance; ``int(pred) == int(target)`` rejected ``0.9999`` for ``1.0``; NaN never matched NaN.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

__all__ = ["values_equal"]


def values_equal(pred: Any, target: Any, *, rel_tol: float = 1e-3, abs_tol: float = 1e-6) -> bool:
    """Whether ``pred`` matches ``target``.

    Rules:
    - a bool equals only a bool (``True != 1``);
    - ints compare exactly with ints; when either side is a float they match when
      ``|pred - target| <= max(rel_tol * |target|, abs_tol)`` -- the relative tolerance is the
      paper's 1e-3 of the ground truth (as in the reference; a prediction never widens its own
      tolerance, so unlike ``math.isclose`` this is not symmetric), and the absolute floor lets
      targets at or near zero match (float noise such as ``-2.8e-14`` for 0);
    - NaN equals NaN; an infinity equals only the infinity of the same sign;
    - lists and tuples compare element-wise, and a list equals a tuple (JSON has no tuples);
    - dicts compare by keys then values, where a key equals its JSON spelling (``{1: x}`` equals
      ``{"1": x}``), since JSON object keys are always strings;
    - strings compare exactly; None equals only None.
    """
    if isinstance(pred, bool) or isinstance(target, bool):
        return isinstance(pred, bool) and isinstance(target, bool) and pred == target
    if _is_number(pred) and _is_number(target):
        return _numbers_equal(pred, target, rel_tol, abs_tol)
    if isinstance(pred, (list, tuple)) and isinstance(target, (list, tuple)):
        return len(pred) == len(target) and all(
            values_equal(p, t, rel_tol=rel_tol, abs_tol=abs_tol)
            for p, t in zip(pred, target, strict=True)
        )
    if isinstance(pred, Mapping) and isinstance(target, Mapping):
        return _dicts_equal(pred, target, rel_tol, abs_tol)
    if isinstance(pred, str) or isinstance(target, str):
        return isinstance(pred, str) and isinstance(target, str) and pred == target
    if pred is None or target is None:
        return pred is None and target is None
    try:
        return type(pred) is type(target) and bool(pred == target)
    except Exception:  # an exotic __eq__ that raises is simply "not equal"
        return False


def _is_number(value: Any) -> bool:
    # numbers.Real also admits numpy scalars; complex values are out of scope (not JSON).
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _numbers_equal(pred: Any, target: Any, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(pred, numbers.Integral) and isinstance(target, numbers.Integral):
        return int(pred) == int(target)
    try:
        p, t = float(pred), float(target)
    except OverflowError:  # an int too large for a float cannot be near a float
        return False
    if math.isnan(p) or math.isnan(t):
        return math.isnan(p) and math.isnan(t)
    if math.isinf(p) or math.isinf(t):
        return p == t
    # p - t can overflow to inf for huge finite floats of opposite signs: then not close.
    return abs(p - t) <= max(rel_tol * abs(t), abs_tol)


def _dicts_equal(pred: Mapping, target: Mapping, rel_tol: float, abs_tol: float) -> bool:
    if len(pred) != len(target):
        return False
    p_keys = {_json_key(k): k for k in pred}
    t_keys = {_json_key(k): k for k in target}
    if len(p_keys) != len(pred) or len(t_keys) != len(target):
        # Two keys share a JSON spelling (1 and "1"): only exact keys can be matched then.
        if set(pred) != set(target):
            return False
        return all(values_equal(pred[k], target[k], rel_tol=rel_tol, abs_tol=abs_tol) for k in pred)
    if p_keys.keys() != t_keys.keys():
        return False
    return all(
        values_equal(pred[p_keys[k]], target[t_keys[k]], rel_tol=rel_tol, abs_tol=abs_tol)
        for k in p_keys
    )


def _json_key(key: Any) -> Any:
    """How ``json.dumps`` spells ``key`` as an object key; other keys are left as they are."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, numbers.Integral):
        return str(int(key))
    if isinstance(key, numbers.Real):
        return json.dumps(float(key), allow_nan=True)
    return key
