"""The shared core: ids, records, and the public API surface."""

from __future__ import annotations

import json
import math

import codeio
from codeio.ids import canonical_json, content_id, derive_seed, normalize_code
from codeio.records import FunctionRecord, IOPair, Verdict


def test_content_id_is_stable_and_content_sensitive() -> None:
    assert content_id("a", {"x": 1, "y": 2}) == content_id("a", {"y": 2, "x": 1})
    assert content_id("a", 1) != content_id("a", 2)
    assert FunctionRecord.make_id("def main_solution(): pass") == FunctionRecord.make_id(
        "def main_solution(): pass"
    )


def test_normalize_code_ignores_layout_only() -> None:
    assert normalize_code("x = 1  \r\n\r\ny = 2\n") == normalize_code("x = 1\ny = 2")
    assert normalize_code("x = 1") != normalize_code("x = 2")


def test_derive_seed_depends_on_run_seed_and_parts() -> None:
    assert derive_seed(0, "f1") == derive_seed(0, "f1")
    assert derive_seed(0, "f1") != derive_seed(1, "f1")
    assert 0 <= derive_seed(7, "x") < 2**63


def test_records_keep_nan_and_inf_in_json() -> None:
    pair = IOPair(input={"x": 1}, output=[float("nan"), float("inf")])
    text = pair.model_dump_json()
    back = IOPair.model_validate_json(text)
    assert math.isnan(back.output[0]) and back.output[1] == math.inf
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert json.loads(Verdict(status="wrong", feedback="no").model_dump_json())["status"] == "wrong"


def test_public_api_names_exist() -> None:
    for name in codeio.__all__:
        assert hasattr(codeio, name), name
