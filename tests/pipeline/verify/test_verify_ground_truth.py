"""Stored ground truth, given back as chain-of-thought answers, must be judged correct."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeio.exec import Sandbox
from codeio.pipeline.verify import Verifier
from codeio.pipeline.verify.predictions import (
    FunctionIndex,
    function_from_row,
    task_from_prediction,
)

PARSED = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "data"
    / "codeio-demo"
    / "rawcode_1k_parsed.jsonl"
)
SAMPLE = 40
# Records among the first SAMPLE whose stored pairs do not reproduce (the corpus README lists the
# causes: input mutation, unseeded randomness); found by re-running them, as `codeio recheck` does.
NOT_REPRODUCIBLE = {3, 14, 23, 32}


def records() -> list[dict[str, Any]]:
    with PARSED.open(encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(SAMPLE), fh, strict=False)]


def cot(key: str, value: Any, style: int) -> str:
    answer = json.dumps({key: value})
    if style == 0:
        return f"Let me trace the code step by step.\nSo the result is:\n```json\n{answer}\n```"
    if style == 1:
        return f'Tentatively {{"{key}": 0}}... no, I re-checked the loop. Final answer: {answer}'
    return f"Reasoning done.\n\n{answer}\n"


@pytest.fixture(scope="module")
def index() -> FunctionIndex:
    functions = FunctionIndex()
    for line, row in enumerate(records()):
        functions.add(line, function_from_row(row))
    return functions


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2) as sb:
        yield sb


def test_sample_has_floats() -> None:
    assert any(
        isinstance(v, float) for r in records() for io in r["ios"] for v in _leaves(io["output"])
    )


def test_stored_outputs_are_accepted(index: FunctionIndex) -> None:
    items = []
    for line, row in enumerate(records()):
        for io_id, io in enumerate(row["ios"]):
            pred = {
                "itemid": line,
                "ioid": io_id,
                "io_pred": "o",
                "output": cot("output", io["output"], io_id % 3),
            }
            items.append(task_from_prediction(pred, index))
    turns = list(Verifier(None).verify_many(items))
    bad = [i for i, t in enumerate(turns) if t.verdict is None or t.verdict.status != "correct"]
    assert not bad and len(turns) > 300


def test_rounded_float_outputs_are_accepted(index: FunctionIndex) -> None:
    items = []
    for line, row in enumerate(records()):
        for io_id, io in enumerate(row["ios"]):
            rounded = _round(io["output"])
            if rounded != io["output"]:
                pred = {
                    "itemid": line,
                    "ioid": io_id,
                    "io_pred": "o",
                    "output": cot("output", rounded, 2),
                }
                items.append(task_from_prediction(pred, index))
    assert items
    assert all(
        t.verdict and t.verdict.status == "correct" for t in Verifier(None).verify_many(items)
    )


def test_stored_inputs_are_accepted(index: FunctionIndex, sandbox: Sandbox) -> None:
    items, lines = [], []
    for line, row in enumerate(records()):
        for io_id, io in enumerate(row["ios"][:3]):
            pred = {
                "itemid": line,
                "ioid": io_id,
                "io_pred": "i",
                "output": cot("input", io["input"], io_id % 3),
            }
            items.append(task_from_prediction(pred, index))
            lines.append(line)
    turns = list(Verifier(sandbox).verify_many(items))
    for line, turn in zip(lines, turns, strict=True):
        assert turn.verdict is not None
        if line not in NOT_REPRODUCIBLE:
            assert turn.verdict.status == "correct", (line, turn.verdict)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _round(value: Any) -> Any:
    """Floats cut to 5 significant digits: how a model writes them, within the 1e-3 tolerance."""
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.5g}")
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value
