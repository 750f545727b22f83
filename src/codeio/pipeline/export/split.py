"""Held-out split by function: every pair of one function lands on the same side."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from codeio.errors import ConfigError
from codeio.ids import derive_seed
from codeio.records import PredictionTask

__all__ = ["holdout_functions", "holdout_row"]


def holdout_functions(func_ids: Iterable[str], fraction: float, seed: int) -> set[str]:
    """``round(fraction * n)`` function ids, chosen by seed; kept within ``[1, n - 1]`` for n > 1.

    Each function's rank is a hash of (seed, id), so the choice does not depend on input order,
    and a function held out stays held out when more functions are added at the same seed,
    unless a newcomer outranks it.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"holdout fraction must be in [0, 1), got {fraction}")
    ids = sorted(set(func_ids))
    if fraction == 0.0 or len(ids) < 2:
        return set()  # one function cannot be split into a train and a test side
    count = min(len(ids) - 1, max(1, round(fraction * len(ids))))
    ranked = sorted(ids, key=lambda fid: (derive_seed(seed, "holdout", fid), fid))
    return set(ranked[:count])


def holdout_row(task: PredictionTask) -> dict[str, Any]:
    """One held-out task as ``codeio eval --benchmark codeio-holdout`` reads it.

    ``pair`` is JSON text (``json.loads`` gives ``{"input": {...}, "output": ...}``), not an
    object: each function has its own argument names and return type, and a JSON reader that
    infers one column type (``datasets.load_dataset("json")``, pyarrow) either fails on them or
    unifies them (1 next to 2.5 comes back as 1.0). A string column loads everywhere and keeps
    every value exactly; NaN and infinities are written as Python's json module spells them.
    """
    return {
        "id": task.id,
        "func_id": task.func_id,
        "io_index": task.io_index,
        "kind": task.kind,
        "prompt": task.prompt,
        "refcode": task.refcode,
        "funcname": task.funcname,
        "pair": json.dumps(
            {"input": task.pair.input, "output": task.pair.output},
            ensure_ascii=False,
            allow_nan=True,
        ),
    }
