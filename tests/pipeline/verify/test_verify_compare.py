"""values_equal: every comparison rule, and each reference-checker bug it must beat."""

from __future__ import annotations

import math

import pytest

from codeio.pipeline.verify import values_equal

NAN = float("nan")
INF = float("inf")


@pytest.mark.parametrize(
    ("pred", "target"),
    [
        (True, 1),
        (1, True),
        (False, 0),
        (0.0, False),
        ([True], [1]),
        ({"a": 1}, {"a": True}),
    ],
)
def test_bool_never_equals_a_number(pred: object, target: object) -> None:
    assert not values_equal(pred, target)


def test_bools_equal_bools() -> None:
    assert values_equal(True, True)
    assert not values_equal(True, False)


def test_float_tolerance_is_relative_1e3() -> None:
    assert values_equal(1000.5, 1000.0)  # 5e-4 relative
    assert not values_equal(1002.0, 1000.0)  # 2e-3 relative
    assert values_equal(3.14159, 3.1416)
    assert values_equal(1.0005, 1)  # int target, float prediction
    assert values_equal(2, 2.0)
    assert not values_equal(-1.0, 1.0)


def test_reference_int_truncation_bug_is_gone() -> None:
    # The reference also required int(pred) == int(target): 0 != 1 rejected this.
    assert values_equal(0.9999, 1.0)
    assert values_equal(-2.9999, -3.0)


def test_zero_target_has_an_absolute_floor() -> None:
    # The reference's tol * abs(target) is 0 at a zero target: only exact 0.0 passed.
    assert values_equal(1e-9, 0.0)
    assert values_equal(-3e-7, 0)
    assert not values_equal(1e-3, 0.0)
    assert values_equal(0.01, 0.0, abs_tol=0.1)


def test_ints_are_exact() -> None:
    assert values_equal(10**30, 10**30)
    assert not values_equal(1001, 1000)  # no tolerance between two ints
    assert not values_equal(10**400, 1.0)  # too large for a float: not close, no crash


def test_nan_and_infinities() -> None:
    assert values_equal(NAN, NAN)
    assert values_equal([NAN, 1.0], [NAN, 1.0])
    assert not values_equal(NAN, 0.0)
    assert not values_equal(0.0, NAN)
    assert values_equal(INF, INF)
    assert values_equal(-INF, -INF)
    assert not values_equal(INF, -INF)
    assert not values_equal(1e308, INF)


def test_sequences_elementwise_and_list_equals_tuple() -> None:
    assert values_equal([1, 2.0001, "a"], [1, 2.0, "a"])
    assert values_equal((1, 2), [1, 2])
    assert values_equal([[1, 2], (3,)], ([1, 2], [3]))
    assert not values_equal([1, 2], [1, 2, 3])
    assert not values_equal([1, 2], [2, 1])
    assert not values_equal([1], 1)


def test_dicts_by_keys_with_json_key_spelling() -> None:
    assert values_equal({1: "x", 2: [1.0]}, {"1": "x", "2": [1.0]})
    assert values_equal({"1": 0.5}, {1: 0.50001})
    assert values_equal({True: 1, None: 2, 1.5: 3}, {"true": 1, "null": 2, "1.5": 3})
    assert values_equal({"b": 1, "a": 2}, {"a": 2, "b": 1})
    assert not values_equal({"a": 1}, {"a": 1, "b": 2})
    assert not values_equal({"a": 1}, {"b": 1})
    assert not values_equal({"a": 1}, {"a": 2})


def test_strings_exact_and_none_only_none() -> None:
    assert values_equal("abc", "abc")
    assert not values_equal("abc", "abc ")
    assert not values_equal("1", 1)
    assert not values_equal(1, "1")
    assert not values_equal("None", None)
    assert values_equal(None, None)
    assert not values_equal(None, 0)
    assert not values_equal(None, [])
    assert not values_equal([], None)


def test_tolerances_are_parameters() -> None:
    assert not values_equal(1.01, 1.0)
    assert values_equal(1.01, 1.0, rel_tol=0.02)
    assert not values_equal(1.0 + 1e-9, 1.0, rel_tol=0.0, abs_tol=0.0)
    assert math.isclose(1.0, 1.0)  # sanity: math is really imported here (the reference forgot)
