"""Entering the pipeline after unify: unified records and records that already carry I/O pairs.

Field names follow the reference's parsed files and the public CodeIO-PyEdu-Reasoning-Raw
release (``problem_description``, ``io_requirements``, ``refcode``, ``funcname``, ``ios``,
``source``, ``category``, ``meta``); our own names (``problem``, ``io_description``) are accepted
too. Fields codeio does not interpret are kept in ``FunctionRecord.meta``.
"""

from __future__ import annotations

from typing import Any, Literal

from codeio.ids import content_id
from codeio.pipeline.ingest.jsonl import location_failure as _failure
from codeio.records import Failure, FunctionRecord, IOPair

__all__ = ["FunctionKind", "function_from_row", "ios_function_id"]

FunctionKind = Literal["unified", "ios"]

# Each record field and the input names it is read from, first match wins.
_ALIASES: dict[str, tuple[str, ...]] = {
    "refcode": ("refcode",),
    "inputgen": ("inputgen", "input_generator"),
    "funcname": ("funcname",),
    "io_description": ("io_description", "io_requirements"),
    "problem": ("problem", "problem_description"),
    "raw_id": ("raw_id",),
}
_INTERPRETED = frozenset(name for names in _ALIASES.values() for name in names) | {"ios", "id"}


def ios_function_id(refcode: str, inputgen: str | None, ios: list[IOPair]) -> str:
    """Id of a record that arrives with pairs: two records with one refcode but other pairs differ."""
    pairs = [pair.model_dump(mode="json") for pair in ios]
    return content_id("fn", refcode, inputgen or "", pairs, prefix="f")


def function_from_row(
    location: str, obj: dict[str, Any], kind: FunctionKind
) -> FunctionRecord | Failure:
    """One input object as a FunctionRecord, or a Failure naming the file and line."""
    fields: dict[str, Any] = {}
    for name, aliases in _ALIASES.items():
        for alias in aliases:
            if obj.get(alias) is not None:
                fields[name] = obj[alias]
                break
    if "refcode" not in fields:
        return _failure(location, "missing_field", "missing field 'refcode'")
    if kind == "unified" and "inputgen" not in fields:
        return _failure(location, "missing_field", "missing field 'inputgen'")
    for name, value in fields.items():
        if not isinstance(value, str):
            kind_name = type(value).__name__
            return _failure(location, "bad_field", f"field {name!r} is {kind_name}, not a string")
    ios: list[IOPair] = []
    if kind == "ios":
        parsed = _parse_ios(obj.get("ios"))
        if isinstance(parsed, str):
            return _failure(location, "bad_ios", parsed)
        if not parsed:
            return _failure(location, "empty_ios", "the record has no I/O pairs")
        ios = parsed
    meta = {key: value for key, value in obj.items() if key not in _INTERPRETED}
    # Where the record was read, unless the input already uses the key for itself.
    meta.setdefault("ingest_source", location)
    refcode, inputgen = fields["refcode"], fields.get("inputgen")
    record_id = (
        ios_function_id(refcode, inputgen, ios)
        if kind == "ios"
        else FunctionRecord.make_id(refcode, inputgen)
    )
    fields.setdefault("funcname", "main_solution")
    return FunctionRecord(id=record_id, ios=ios, meta=meta, **fields)


def _parse_ios(value: Any) -> list[IOPair] | str:
    """The pairs, or a message saying what is wrong with them."""
    if not isinstance(value, list):
        return f"field 'ios' must be a list, got {type(value).__name__}"
    pairs = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or "input" not in item or "output" not in item:
            return f"ios[{index}] must be an object with 'input' and 'output'"
        if not isinstance(item["input"], dict):
            return f"ios[{index}].input must be an object of keyword arguments"
        pairs.append(IOPair(input=item["input"], output=item["output"]))
    return pairs
