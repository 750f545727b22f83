"""Ground truth scores 100% on all 800 CRUXEval items; perturbed answers score 0%."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeio.evaluate import load_items, score_responses
from codeio.evaluate.benchmarks import get_benchmark
from codeio.exec import Sandbox

DATA = Path(__file__).resolve().parents[2] / "../shared/data/cruxeval/cruxeval.jsonl"
pytestmark = pytest.mark.skipif(not DATA.is_file(), reason="shared CRUXEval data not present")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2) as sb:
        yield sb


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return [it.truth | {"id": it.id} for it in load_items(get_benchmark("cruxeval-o"), DATA, None)]


def _assertion(args: str, output: str) -> str:
    return f"Let me think.\n[ANSWER]\nassert f({args}) == {output}\n[/ANSWER]"


def test_ground_truth_outputs_score_100(sandbox: Sandbox, rows: list[dict[str, str]]) -> None:
    responses = {r["id"]: _assertion(r["input"], r["output"]) for r in rows}
    summary = score_responses("cruxeval-o", responses, data=DATA, sandbox=sandbox)
    assert summary.problems == 800
    assert summary.pass_at_k["pass@1"] == 1.0, summary.statuses


def test_ground_truth_inputs_score_100(sandbox: Sandbox, rows: list[dict[str, str]]) -> None:
    responses = {r["id"]: _assertion(r["input"], r["output"]) for r in rows}
    summary = score_responses("cruxeval-i", responses, data=DATA, sandbox=sandbox)
    assert summary.problems == 800
    assert summary.pass_at_k["pass@1"] == 1.0, summary.statuses


def _wrong_value(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, (str, bytes)):
        return value + value[:1] if value else value + (b"x" if isinstance(value, bytes) else "x")
    if isinstance(value, (list, tuple)):
        return type(value)([*value, 0])
    if isinstance(value, dict):
        return {**value, "__extra__": 0}
    raise AssertionError(type(value))


def _wrong_type(value: object) -> object:
    if isinstance(value, str):
        return list(value) if value else None
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, bool):
        return int(value)  # int-for-bool
    if isinstance(value, int):
        return float(value)
    return str(value)


def test_perturbed_outputs_score_0(sandbox: Sandbox, rows: list[dict[str, str]]) -> None:
    responses: dict[str, list[str]] = {}
    bool_for_int = 0
    for r in rows:
        value = ast.literal_eval(r["output"])
        texts = [_assertion(r["input"], repr(_wrong_value(value))),
                 _assertion(r["input"], repr(_wrong_type(value)))]  # fmt: skip
        if type(value) is int and value in (0, 1):
            texts.append(_assertion(r["input"], repr(bool(value))))
            bool_for_int += 1
        else:
            texts.append(f"[ANSWER]\nassert f({r['input']}) == f({r['input']})\n[/ANSWER]")
        responses[r["id"]] = texts
    assert bool_for_int > 10
    summary = score_responses("cruxeval-o", responses, data=DATA, sandbox=sandbox, k=[1, 3])
    assert summary.responses == 2400
    assert summary.case_accuracy == 0.0, summary.statuses
    assert summary.pass_at_k == {"pass@1": 0.0, "pass@3": 0.0}
    assert summary.statuses.get("rejected", 0) == 800 - bool_for_int


def _accepts_extra_args(code: str) -> bool:
    fn = next(n for n in ast.parse(code).body if isinstance(n, ast.FunctionDef) and n.name == "f")
    return fn.args.vararg is not None or len(fn.args.defaults) >= 5


def test_perturbed_inputs_score_0_unless_f_accepts_them(
    sandbox: Sandbox, rows: list[dict[str, str]], tmp_path: Path
) -> None:
    # Any input that gives the output is right, so the perturbation (five extra arguments) must
    # fail exactly where f cannot take them.
    extra = ", None, None, None, None, None"
    responses = {r["id"]: _assertion(r["input"] + extra, r["output"]) for r in rows}
    summary = score_responses("cruxeval-i", responses, data=DATA, sandbox=sandbox, out=tmp_path)
    from codeio.evaluate.results import read_rows

    passed = {row.item_id for row in read_rows(tmp_path / "results.jsonl") if row.correct}
    by_id = {r["id"]: r for r in rows}
    assert all(_accepts_extra_args(by_id[i]["code"]) for i in passed), passed
    assert summary.case_accuracy < 0.02, summary.statuses


def test_calling_f_is_rejected_even_when_equal(
    sandbox: Sandbox, rows: list[dict[str, str]]
) -> None:
    r = rows[0]
    summary = score_responses(
        "cruxeval-o",
        {r["id"]: _assertion(r["input"], f"f({r['input']})")},
        data=DATA,
        sandbox=sandbox,
    )
    assert summary.statuses == {"rejected": 1}
