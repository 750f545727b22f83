"""Plausible wrong answers, for exercising the CodeI/O++ revision path without a model."""

from __future__ import annotations

import math
import random
import string
from typing import Any

__all__ = ["perturb", "perturb_kwargs"]


def perturb(value: Any, rng: random.Random) -> Any:
    """A value close to ``value`` that a careless tracer could have written, never equal to it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice((1, -1))  # the classic off-by-one
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return 0.0
        step = max(abs(value) * 0.1, 1.0)
        return round(value + rng.choice((step, -step)), 6)
    if isinstance(value, str):
        return _perturb_str(value, rng)
    if isinstance(value, list):
        if not value:
            return [0]
        index = rng.randrange(len(value))
        return [perturb(v, rng) if i == index else v for i, v in enumerate(value)]
    if isinstance(value, dict):
        if not value:
            return {"0": 0}
        key = rng.choice(sorted(value, key=str))
        return {k: perturb(v, rng) if k == key else v for k, v in value.items()}
    return 0 if value is None else None


def _perturb_str(text: str, rng: random.Random) -> str:
    if not text:
        return "a"
    index = rng.randrange(len(text))
    alphabet = string.digits if text[index].isdigit() else string.ascii_lowercase
    choices = [c for c in alphabet if c != text[index]]
    return text[:index] + rng.choice(choices) + text[index + 1 :]


def perturb_kwargs(kwargs: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The same keyword arguments with one of them slightly changed."""
    if not kwargs:
        return kwargs
    key = rng.choice(sorted(kwargs))
    return {k: perturb(v, rng) if k == key else v for k, v in kwargs.items()}
