"""Prediction/record rows in the reference layout and codeio's, resolved to tasks."""

from __future__ import annotations

import pytest

from codeio.pipeline.verify.predictions import (
    FunctionIndex,
    RowError,
    function_from_row,
    task_from_prediction,
)
from codeio.records import FunctionRecord, IOPair

REF_ROW = {
    "problem_description": "What is n doubled?",
    "io_requirements": "Input: n (int). Output: int.",
    "refcode": "def main_solution(n):\n    return 2 * n\n",
    "funcname": "main_solution",
    "ios": [{"input": {"n": 1}, "output": 2}, {"input": {"n": 2}, "output": 4}],
    "category": None,
    "meta": {"msgidx": 7},
}


def index() -> FunctionIndex:
    functions = FunctionIndex()
    functions.add(0, function_from_row(REF_ROW))
    own = FunctionRecord(
        id="f-own",
        refcode="def main_solution(s):\n    return s[::-1]\n",
        ios=[IOPair(input={"s": "ab"}, output="ba")],
    )
    functions.add(1, function_from_row(own.model_dump()))
    return functions


def test_reference_record_keeps_its_texts_and_extra_fields() -> None:
    fn = function_from_row(REF_ROW)
    assert fn.problem == REF_ROW["problem_description"]
    assert fn.io_description == REF_ROW["io_requirements"]
    assert fn.meta == {"category": None, "meta": {"msgidx": 7}}
    assert fn.id == FunctionRecord.make_id(REF_ROW["refcode"])


def test_reference_prediction() -> None:
    task, response = task_from_prediction(
        {"itemid": 0, "ioid": 1, "io_pred": "i", "output": "text"}, index()
    )
    assert task.kind == "input" and task.pair.output == 4 and response == "text"


def test_codeio_prediction_by_func_id() -> None:
    task, response = task_from_prediction(
        {"func_id": "f-own", "io_index": 0, "kind": "output", "response": "r"}, index()
    )
    assert task.func_id == "f-own" and task.pair.output == "ba" and response == "r"


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ([1, 2], "JSON object"),
        ({"ioid": 0, "io_pred": "o", "output": "x"}, "itemid"),
        ({"itemid": 5, "ioid": 0, "io_pred": "o", "output": "x"}, "not a line"),
        ({"func_id": "nope", "io_index": 0, "kind": "output", "response": "x"}, "no record"),
        ({"itemid": 0, "ioid": 2, "io_pred": "o", "output": "x"}, "out of range"),
        ({"itemid": 0, "ioid": 0, "io_pred": "x", "output": "x"}, "io_pred"),
        ({"itemid": 0, "ioid": 0, "kind": "both", "output": "x"}, "kind"),
        ({"itemid": 0, "ioid": 0, "io_pred": "o"}, "response text"),
        ({"itemid": True, "ioid": 0, "io_pred": "o", "output": "x"}, "integer"),
    ],
)
def test_bad_prediction_rows(row: object, needle: str) -> None:
    with pytest.raises(RowError, match=needle):
        task_from_prediction(row, index())


@pytest.mark.parametrize(
    "row",
    [
        {"refcode": ""},
        {"refcode": "x", "ios": {}},
        {"refcode": "x", "ios": [{"input": 1, "output": 2}]},
    ],
)
def test_bad_record_rows(row: dict) -> None:
    with pytest.raises(RowError):
        function_from_row(row)
