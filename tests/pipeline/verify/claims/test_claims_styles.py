"""Hand-written rationales in several styles, with the expected verdict of every claim.

Each case narrates a real run (traced in the sandbox) the way a person or a model might: markdown
bullets with backticks, plain prose, JSON spelling, ``x: 5`` tables, zero-based iteration
numbers, helper calls, arithmetic chains. The expectations name each claim by (kind, name, value
as written) and give its status; claims not listed must not be contradicted.
"""

from __future__ import annotations

from typing import Any

import pytest
from claims_programs import EVENS, EVENS_IN, EVENS_OUT  # type: ignore[import-not-found]

from codeio.pipeline.verify.claims import ClaimChecker

UPPER = """
def main_solution(s):
    out = []
    for ch in s:
        if ch.isupper():
            out.append(ch.lower())
    joined = "-".join(out)
    flag = len(out) > 1
    return joined
"""

HELPER = """
def sq(v):
    return v * v

def main_solution(a, b):
    s = sq(a) + sq(b)
    if s > 20:
        s = s - 20
    return s
"""


def _statuses(checker: ClaimChecker, text: str, code: str, kwargs: dict[str, Any], out: Any):
    verdict = checker.check_text(text, code, "main_solution", kwargs, expected=out)
    return verdict, [(c.kind, c.name, c.claimed, c.where, c.status) for c in verdict.claims]


def _expect(found: list[tuple[str, ...]], expected: list[tuple[str, str, str, str]]) -> None:
    """Each expected (kind, name, claimed, status) is among the found claims."""
    for kind, name, claimed, status in expected:
        hits = [f for f in found if f[0] == kind and f[1] == name and f[2] == claimed]
        assert hits, f"claim {kind} {name}={claimed} not extracted from {found}"
        assert all(h[4] == status for h in hits), f"{kind} {name}={claimed}: {hits}"


def test_markdown_bullets_with_backticks(checker: ClaimChecker) -> None:
    text = (
        "Let's trace it.\n"
        "- Start: `total = 0` and `count = 0`.\n"
        "- Iteration 1: `x = 3`; the condition `x % 2 == 0` is False, so `count` becomes 1.\n"
        "- Iteration 2: x = 4; `x % 2 == 0` is true, so total is now 4; count becomes 2.\n"
        "- Iteration 3: x = 6, total becomes 10.\n"
        "- Iteration 4: x = 7; count = 4.\n"
        "The loop runs 4 times. `avg = total / count` gives avg = 2.5.\n"
        'So the output is {"total": 10, "count": 4, "avg": 2.5}.'
    )
    verdict, found = _statuses(checker, text, EVENS, EVENS_IN, EVENS_OUT)
    assert verdict.contradicted == 0, found
    _expect(
        found,
        [
            ("value", "total", "0", "supported"),
            ("value", "x", "3", "supported"),
            ("condition", "x % 2 == 0", "False", "supported"),
            ("value", "count", "1", "supported"),
            ("value", "total", "4", "supported"),
            ("value", "total", "10", "supported"),
            ("loop_count", "", "4", "supported"),
            ("value", "avg", "2.5", "supported"),
            ("final", "", '{"total": 10, "count": 4, "avg": 2.5}', "supported"),
        ],
    )
    assert any(f[3] == "iteration 2" and f[1] == "x" for f in found)


def test_prose_with_wrong_steps_but_right_answer(checker: ClaimChecker) -> None:
    text = (
        "We walk through nums. On the second iteration, x = 6 and total becomes 6. "
        "The loop runs 3 times in total. After the loop, total is 12 and count is 4. "
        'Finally the function returns {"total": 10, "count": 4, "avg": 2.5}.'
    )
    verdict, found = _statuses(checker, text, EVENS, EVENS_IN, EVENS_OUT)
    _expect(
        found,
        [
            ("value", "x", "6", "contradicted"),
            ("value", "total", "6", "contradicted"),
            ("loop_count", "", "3", "contradicted"),
            ("value", "total", "12", "contradicted"),
            ("value", "count", "4", "supported"),
            ("return", "", '{"total": 10, "count": 4, "avg": 2.5}', "supported"),
        ],
    )
    first = verdict.first_contradiction
    assert first is not None and first.name == "x" and first.where == "iteration 2"
    assert first.actual == "4"
    after = next(c for c in verdict.claims if c.claimed == "12")
    assert after.where == "after the loop" and after.actual == "10"


def test_zero_based_iterations_and_colon_tables(checker: ClaimChecker) -> None:
    text = (
        "Iteration 0:\n  x: 3\n  total: 0\n  count: 1\n\n"
        "Iteration 1:\n  x: 4\n  total: 4\n  count: 2\n\n"
        "Iteration 2:\n  x: 6\n  total: 9\n\n"
        "the final answer is {'total': 10, 'count': 4, 'avg': 2.5}"
    )
    verdict, found = _statuses(checker, text, EVENS, EVENS_IN, EVENS_OUT)
    _expect(
        found,
        [
            ("value", "x", "3", "supported"),
            ("value", "x", "4", "supported"),
            ("value", "x", "6", "supported"),
            ("value", "total", "4", "supported"),
            ("value", "total", "9", "contradicted"),
            ("final", "", "{'total': 10, 'count': 4, 'avg': 2.5}", "supported"),
        ],
    )
    assert verdict.contradicted == 1


def test_json_and_python_spellings_of_lists_strings_and_bools(checker: ClaimChecker) -> None:
    kwargs = {"s": "aBcDe"}
    text = (
        "For each character: after \"B\" out is now [\"b\"], and after D, out becomes ['b', 'd'].\n"
        'Then joined = "b-d" and flag = true (two letters).\n'
        "So the output is 'b-d'."
    )
    verdict, found = _statuses(checker, text, UPPER, kwargs, "b-d")
    assert verdict.contradicted == 0, found
    _expect(
        found,
        [
            ("value", "out", '["b"]', "supported"),
            ("value", "out", "['b', 'd']", "supported"),
            ("value", "joined", '"b-d"', "supported"),
            ("value", "flag", "true", "supported"),
            ("final", "", "'b-d'", "supported"),
        ],
    )
    wrong = checker.check_text(
        "out becomes ['b', 'x'] and flag = False.", UPPER, "main_solution", kwargs, expected="b-d"
    )
    assert [c.status for c in wrong.claims] == ["contradicted", "contradicted"]


def test_helper_calls_and_arithmetic_chains(checker: ClaimChecker) -> None:
    text = (
        "`sq(3)` returns 9 and sq(4) = 17. So `s = sq(a) + sq(b)` gives s = 9 + 16 = 25. "
        "The condition `s > 20` holds, so s becomes 5, and `return s` gives 5."
    )
    verdict, found = _statuses(checker, text, HELPER, {"a": 3, "b": 4}, 5)
    _expect(
        found,
        [
            ("return", "sq", "9", "supported"),
            ("return", "sq", "17", "contradicted"),
            ("value", "s", "25", "supported"),
            ("condition", "s > 20", "holds", "supported"),
            ("value", "s", "5", "supported"),
            ("return", "return s", "5", "supported"),
        ],
    )
    assert verdict.contradicted == 1
    assert verdict.first_contradiction is not None
    assert verdict.first_contradiction.actual == "16"  # the call with argument 4


def test_english_and_derived_quantities_are_not_claims(checker: ClaimChecker) -> None:
    text = (
        "The length of nums is 4, and len(nums) = 4. The count of even numbers is 2. "
        "This is 5 times simpler than it looks; total is 3 characters long. "
        "Note: 7 is odd. `total += x` runs twice."
    )
    verdict = checker.check_text(text, EVENS, "main_solution", EVENS_IN, expected=EVENS_OUT)
    assert verdict.contradicted == 0, verdict.claims
    assert not [c for c in verdict.claims if c.kind == "value" and c.name == "nums"]


def test_code_blocks_and_quoted_code_are_not_claims(checker: ClaimChecker) -> None:
    text = (
        "```python\ntotal = 99\ncount = 42\n```\n"
        "`total = 0` sets total = 0. `count += 1` makes count = 1.\n"
        '```json\n{"output": {"total": 10, "count": 4, "avg": 2.5}}\n```'
    )
    verdict = checker.check_text(text, EVENS, "main_solution", EVENS_IN, expected=EVENS_OUT)
    assert verdict.contradicted == 0
    assert sorted(c.claimed for c in verdict.claims) == ["0", "1"]


@pytest.mark.parametrize(
    ("phrase", "status"),
    [
        ("x is now 7", "supported"),
        ("x becomes 7", "supported"),
        ("so x = 7", "supported"),
        ("sets x to 7", "supported"),
        ("x -> 7", "supported"),
        ("x → 8", "contradicted"),
        ("x is updated to 8", "contradicted"),
        ("`x` = `8`", "contradicted"),
        ("**x** is **8**", "contradicted"),
        ("the value of x is 8", "contradicted"),
    ],
)
def test_value_phrasings(checker: ClaimChecker, phrase: str, status: str) -> None:
    verdict = checker.check_text(
        f"On the 4th iteration, {phrase}.", EVENS, "main_solution", EVENS_IN, expected=EVENS_OUT
    )
    assert [c.status for c in verdict.claims] == [status], verdict.claims


def test_quoted_feedback_is_not_a_claim(checker: ClaimChecker) -> None:
    text = (
        'The feedback says: "[Mismatch] Your output is not correct! Given the input '
        '{"nums": [3, 4, 6, 7]}, your predicted output is 12, which is wrong!" '
        "So my previous answer was wrong.\n"
        "Re-tracing: after the loop total = 10."
    )
    verdict = checker.check_text(text, EVENS, "main_solution", EVENS_IN, expected=EVENS_OUT)
    assert verdict.contradicted == 0, verdict.claims
    assert [(c.name, c.claimed) for c in verdict.claims if c.kind == "value"] == [("total", "10")]


def test_code_expressions_and_the_result_are_not_variable_claims(checker: ClaimChecker) -> None:
    code = "def main_solution(s):\n    result = len(s)\n    return {'n': result}\n"
    text = (
        "The condition `s is None or len(s) < 2` is false. "
        "The result is {'n': 3}, which matches. result = 3."
    )
    verdict = checker.check_text(text, code, "main_solution", {"s": "abc"}, expected={"n": 3})
    assert verdict.contradicted == 0, verdict.claims
    assert [(c.name, c.claimed) for c in verdict.claims if c.kind == "value"] == [("result", "3")]
