from __future__ import annotations

import pytest

from codeio.pipeline.sample.sizes import SizeLimits, size_violation


@pytest.mark.parametrize(
    "value",
    [
        {"n": 5},
        {"s": "x" * 99},
        {"xs": list(range(19))},
        {"m": {str(i): i for i in range(18)}},
        [[1, 2], {"a": None, "b": True}],
        10**100,
    ],
)
def test_small_values_pass(value: object) -> None:
    assert size_violation(value) is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"s": "x" * 100}, "string of 100 chars"),
        ({"xs": list(range(20))}, "list of 20 items"),
        ({str(i): 0 for i in range(20)}, "dict of 20 items"),
        ({"outer": [["y" * 120]]}, "string of 120 chars"),  # found deep inside
        ({"k" * 100: 1}, "string of 100 chars"),  # keys count too, as in the reference
        ({"xs": ["abcdefghij" * 9] * 12}, "bytes >= 1024"),
        (10**130, "scalar of 131 bytes"),
    ],
)
def test_limits_are_strict_and_recursive(value: object, fragment: str) -> None:
    why = size_violation(value)
    assert why is not None and fragment in why


def test_limits_are_configurable() -> None:
    loose = SizeLimits(max_bytes=10_000, max_items=100, max_str=1000)
    assert size_violation({"s": "x" * 500, "xs": list(range(50))}, loose) is None
    assert size_violation({"s": "abc"}, SizeLimits(max_str=3)) is not None


def test_unserializable_values_are_rejected_not_raised() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    assert size_violation(cyclic) is not None
