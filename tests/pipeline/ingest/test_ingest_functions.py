"""Entering after unify: unified and ios records, and input-kind detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeio.errors import InputError
from codeio.pipeline.ingest import detect_input_kind, read_functions, read_input
from codeio.records import Failure, FunctionRecord

DEMO = Path(__file__).resolve().parents[4] / "shared" / "data" / "codeio-demo"
REFCODE = "def main_solution(n):\n    return n * 2\n"
INPUTGEN = "def input_generator():\n    return {'n': 3}\n"


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_unified_records(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "unified.jsonl",
        [
            {
                "refcode": REFCODE,
                "inputgen": INPUTGEN,
                "io_requirements": "n: int",
                "problem_description": "Double it.",
                "origin": "x",
            },
            {"refcode": REFCODE},
        ],
    )
    assert detect_input_kind(path) == "unified"
    fn, failure = list(read_input(path))
    assert isinstance(fn, FunctionRecord)
    assert fn.id == FunctionRecord.make_id(REFCODE, INPUTGEN)
    assert (fn.io_description, fn.problem, fn.funcname) == ("n: int", "Double it.", "main_solution")
    assert fn.meta["origin"] == "x" and fn.ios == []
    assert isinstance(failure, Failure) and failure.reason == "missing_field"
    assert failure.detail == f"{path}:2: missing field 'inputgen'"


def test_ios_records_with_one_refcode_get_distinct_ids(tmp_path: Path) -> None:
    base = {"refcode": REFCODE, "funcname": "main_solution", "category": None}
    path = _write(
        tmp_path / "ios.jsonl",
        [
            {
                **base,
                "ios": [{"input": {"n": 1}, "output": 2}],
                "source": "pyedu",
                "meta": {"k": 1},
            },
            {**base, "ios": [{"input": {"n": 2}, "output": 4}]},
            {**base, "ios": []},
            {**base, "ios": [{"input": [1], "output": 2}]},
        ],
    )
    assert detect_input_kind(path) == "ios"
    items = list(read_functions(path, "ios"))
    first, second = items[0], items[1]
    assert isinstance(first, FunctionRecord) and isinstance(second, FunctionRecord)
    assert first.id != second.id
    assert first.ios[0].input == {"n": 1} and first.ios[0].output == 2
    assert first.meta["source"] == "pyedu" and first.meta["meta"] == {"k": 1}
    assert "category" in first.meta
    assert [(f.reason, f.record_id) for f in items[2:]] == [  # type: ignore[union-attr]
        ("empty_ios", f"{path}:3"),
        ("bad_ios", f"{path}:4"),
    ]


def test_reference_parsed_file() -> None:
    path = DEMO / "rawcode_1k_parsed.jsonl"
    if not path.exists():
        pytest.skip("shared demo data not present")
    assert detect_input_kind(path) == "ios"
    records = list(read_input(path))
    assert len(records) == 464
    assert all(isinstance(r, FunctionRecord) for r in records)
    assert len({r.id for r in records}) == 464
    assert sum(len(r.ios) for r in records) == 4514  # type: ignore[union-attr]
    assert "msgidx" in records[0].meta["meta"]  # type: ignore[union-attr]


def test_detect_raw_and_unknown(tmp_path: Path) -> None:
    raw = _write(tmp_path / "raw.jsonl", [{"content": "x = 1"}])
    assert detect_input_kind(raw) == "raw"
    assert detect_input_kind(tmp_path) == "raw"
    odd = _write(tmp_path / "odd.jsonl", ["not an object", {"text": "x"}])
    with pytest.raises(InputError, match=r"odd\.jsonl: cannot tell the input kind"):
        detect_input_kind(odd)
    assert detect_input_kind(odd, text_field="text") == "raw"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert detect_input_kind(empty) == "raw" and list(read_input(empty)) == []
