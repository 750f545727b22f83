"""Prediction and record rows, in the reference's layout or codeio's, as verification tasks.

Reference layout (so its users switch with no conversion):
    records:     ``{"refcode", "funcname", "ios": [{"input", "output"}], "problem_description",
                 "io_requirements", ...}``, one per line
    predictions: ``{"itemid": <0-based line in records>, "ioid": <index into ios>,
                 "io_pred": "i" | "o", "output": <the model's full text>}``
codeio layout:
    records:     FunctionRecord JSON (``id``, ``refcode``, ``ios``, ...)
    predictions: ``{"func_id" | "itemid", "io_index", "kind": "input" | "output", "response"}``

Pure functions over decoded rows; reading files and reporting ``file:line`` is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from codeio.records import FunctionRecord, IOPair, PredictionKind, PredictionTask

__all__ = ["FunctionIndex", "RowError", "function_from_row", "task_from_prediction"]

_REFERENCE_KINDS: dict[str, PredictionKind] = {"i": "input", "o": "output"}
_REFERENCE_ONLY = {"problem_description", "io_requirements", "category"}


class RowError(ValueError):
    """A row cannot be used; the message says why (the caller adds file:line)."""


def function_from_row(row: Any) -> FunctionRecord:
    """A FunctionRecord from a records row in either layout."""
    if not isinstance(row, dict):
        raise RowError(f"a record must be a JSON object, not {type(row).__name__}")
    if "id" in row and not (_REFERENCE_ONLY & row.keys()):
        try:
            return FunctionRecord.model_validate(row)
        except ValidationError as exc:
            raise RowError(f"not a valid function record: {_first_error(exc)}") from exc
    refcode = row.get("refcode")
    if not isinstance(refcode, str) or not refcode.strip():
        raise RowError('the record has no "refcode" string')
    ios = row.get("ios", [])
    if not isinstance(ios, list):
        raise RowError('"ios" must be a list of {"input", "output"} objects')
    pairs = []
    for index, io in enumerate(ios):
        if not isinstance(io, dict) or not isinstance(io.get("input"), dict) or "output" not in io:
            raise RowError(f'ios[{index}] must be {{"input": {{kwargs}}, "output": value}}')
        pairs.append(IOPair(input=io["input"], output=io["output"]))
    known = {"refcode", "funcname", "ios", "problem_description", "io_requirements", "id"}
    return FunctionRecord(
        id=str(row.get("id") or FunctionRecord.make_id(refcode)),
        refcode=refcode,
        funcname=str(row.get("funcname") or "main_solution"),
        io_description=str(row.get("io_requirements") or ""),
        problem=str(row.get("problem_description") or ""),
        ios=pairs,
        meta={k: v for k, v in row.items() if k not in known},
    )


@dataclass
class FunctionIndex:
    """Records by 0-based line (the reference's ``itemid``) and by id (codeio's ``func_id``)."""

    by_line: dict[int, FunctionRecord] = field(default_factory=dict)
    by_id: dict[str, FunctionRecord] = field(default_factory=dict)
    bad_lines: dict[int, str] = field(default_factory=dict)
    """0-based line -> why that record could not be read, to explain predictions that use it."""

    def add(self, line: int, fn: FunctionRecord) -> None:
        self.by_line[line] = fn
        self.by_id.setdefault(fn.id, fn)


def task_from_prediction(row: Any, functions: FunctionIndex) -> tuple[PredictionTask, str]:
    """The task a prediction row answers, and the response text to judge."""
    if not isinstance(row, dict):
        raise RowError(f"a prediction must be a JSON object, not {type(row).__name__}")
    fn = _function_of(row, functions)
    kind = _kind_of(row)
    io_index = _int_field(row, ("io_index", "ioid"))
    if not 0 <= io_index < len(fn.ios):
        raise RowError(f"io index {io_index} is out of range: the record has {len(fn.ios)} pairs")
    response = row["response"] if "response" in row else row.get("output")
    if not isinstance(response, str):
        raise RowError('the prediction has no response text ("response" or "output" string)')
    pair = fn.ios[io_index]
    task = PredictionTask(
        id=PredictionTask.make_id(fn.id, io_index, kind),
        func_id=fn.id,
        io_index=io_index,
        kind=kind,
        prompt=str(row.get("prompt", "")),
        pair=pair,
        refcode=fn.refcode,
        funcname=fn.funcname,
    )
    return task, response


def _function_of(row: Mapping[str, Any], functions: FunctionIndex) -> FunctionRecord:
    if "func_id" in row:
        fn = functions.by_id.get(str(row["func_id"]))
        if fn is None:
            raise RowError(f"no record has id {row['func_id']!r}")
        return fn
    line = _int_field(row, ("itemid",))
    if line in functions.bad_lines:
        raise RowError(
            f"record line {line + 1} (itemid {line}) is unusable: {functions.bad_lines[line]}"
        )
    fn = functions.by_line.get(line)
    if fn is None:
        raise RowError(f"itemid {line} is not a line of the records file")
    return fn


def _kind_of(row: Mapping[str, Any]) -> PredictionKind:
    if "kind" in row:
        if row["kind"] in ("input", "output"):
            return row["kind"]  # type: ignore[no-any-return]
        raise RowError(f'"kind" must be "input" or "output", not {row["kind"]!r}')
    if row.get("io_pred") in _REFERENCE_KINDS:
        return _REFERENCE_KINDS[row["io_pred"]]
    raise RowError('the prediction needs "io_pred" ("i" or "o") or "kind" ("input" or "output")')


def _int_field(row: Mapping[str, Any], names: tuple[str, ...]) -> int:
    for name in names:
        if name in row:
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                    return int(value)
                raise RowError(f'"{name}" must be an integer, not {value!r}')
            return value
    raise RowError(f"the prediction has no {' or '.join(repr(n) for n in names)} field")


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err.get('msg', '')}" if where else str(err.get("msg", ""))
