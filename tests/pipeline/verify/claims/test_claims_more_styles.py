"""More ways to write a trace: tables, step lists, "goes from", state dicts, arrows, recursion.

Every style is checked twice: a faithful narration must have no contradicted claim (a false
contradiction is the checker's worst error), and the same narration with one wrong value must
have exactly that claim contradicted.
"""

from __future__ import annotations

from typing import Any

import pytest
from claims_programs import EVENS, EVENS_IN, EVENS_OUT  # type: ignore[import-not-found]

from codeio.pipeline.verify.claims import ClaimChecker, extract_claims

FIB = """
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def main_solution(n):
    vals = []
    for i in range(n):
        vals.append(fib(i))
    return vals
"""

COLLATZ = """
def main_solution(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps
"""

# (style, code, input, output, faithful text, (right value text, wrong value text) to swap in)
CASES: list[tuple[str, str, dict[str, Any], Any, str, tuple[str, str]]] = [
    (
        "markdown table with an iteration column",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "| Iteration | x | total | count |\n|---|---|---|---|\n| 1 | 3 | 0 | 1 |\n"
        "| 2 | 4 | 4 | 2 |\n| 3 | 6 | 10 | 3 |\n| 4 | 7 | 10 | 4 |\n\n"
        'So the output is {"total": 10, "count": 4, "avg": 2.5}.',
        ("| 2 | 4 | 4 |", "| 2 | 4 | 5 |"),
    ),
    (
        "zero-based table with backticked headers and alignment rules",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "| iter | `x` | `total` | `count` |\n| :-: | :-: | :-: | :-: |\n"
        "| 0 | 3 | 0 | 1 |\n| 1 | 4 | 4 | 2 |\n| 2 | 6 | 10 | 3 |\n",
        ("| 1 | 4 | 4 | 2 |", "| 1 | 4 | 4 | 3 |"),
    ),
    (
        "Step n: x -> v lines",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "Step 1: total -> 0, count -> 0\nStep 2: x -> 3, count -> 1\nStep 3: x -> 4, total -> 4\n"
        "Step 4: x -> 6, total -> 10\nStep 5: avg -> 2.5",
        ("total -> 10", "total -> 11"),
    ),
    (
        "x goes from a to b",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "In the second iteration total goes from 0 to 4. In the third, total increases from 4 to "
        "10. count goes from 3 to 4 at the end.",
        ("from 0 to 4", "from 0 to 6"),
    ),
    (
        "iteration #k",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "iteration #1: x = 3, count = 1. iteration #2: x = 4, total = 4. "
        "iteration #3: x = 6, total = 10.",
        ("#2: x = 4", "#2: x = 6"),
    ),
    (
        "after k iterations (a moment inside the loop)",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "After 2 iterations, total = 4 and count = 2. After 3 iterations total is 10. "
        "After 4 iterations in total the loop finishes with count = 4.",
        ("After 2 iterations, total = 4", "After 2 iterations, total = 10"),
    ),
    (
        "at x=v placements and x=v: lines",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "at x=3: total=0, count=1\nat x=4: total=4, count=2\nat x=6: total=10, count=3",
        ("total=10", "total=12"),
    ),
    (
        "JSON state per iteration",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        'Iteration 2: {"x": 4, "total": 4, "count": 2}\n'
        'Iteration 3: {"x": 6, "total": 10, "count": 3}\n'
        'Final answer: {"total": 10, "count": 4, "avg": 2.5}',
        ('"total": 4,', '"total": 5,'),
    ),
    (
        "Python-spelled state after the loop",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "State after the loop: {'x': 7, 'total': 10, 'count': 4}. avg = 2.5",
        ("'count': 4}", "'count': 5}"),
    ),
    (
        "arrow chains",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "total: 0 → 4 → 10\ncount: 0 -> 1 -> 2 -> 3 -> 4",
        ("0 → 4 → 10", "0 → 4 → 11"),
    ),
    (
        "nested bullets",
        EVENS,
        EVENS_IN,
        EVENS_OUT,
        "- Loop over nums:\n  - iteration 1:\n    - x = 3\n    - `x % 2 == 0` is False\n"
        "    - count = 1\n  - iteration 2:\n    - x = 4\n    - total = 4\n    - count = 2\n"
        "- After the loop, total = 10, count = 4.",
        ("    - total = 4", "    - total = 8"),
    ),
    (
        "recursive helper calls",
        FIB,
        {"n": 5},
        [0, 1, 1, 2, 3],
        "fib(0) = 0, fib(1) = 1, fib(2) = 1, fib(3) = 2, fib(4) = 3. "
        "Iteration 4: i = 3, vals = [0, 1, 1, 2]. `fib(4)` returns 3. "
        "So the output is [0, 1, 1, 2, 3].",
        ("fib(3) = 2", "fib(3) = 3"),
    ),
    (
        "while loop with rounds",
        COLLATZ,
        {"n": 6},
        8,
        "n goes from 6 to 3. Round 2: n = 10, steps = 2. Round 3: n = 5. "
        "The loop runs 8 times. After the loop, steps = 8.",
        ("The loop runs 8 times", "The loop runs 7 times"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_style_faithful_and_corrupted(
    checker: ClaimChecker, case: tuple[str, str, dict[str, Any], Any, str, tuple[str, str]]
) -> None:
    _, code, kwargs, out, text, (right, wrong) = case
    good = checker.check_text(text, code, "main_solution", kwargs, expected=out)
    assert good.contradicted == 0, [c for c in good.claims if c.status == "contradicted"]
    assert good.supported >= 3, good.claims
    assert text.count(right) == 1
    bad_text = text.replace(right, wrong)
    bad = checker.check_text(bad_text, code, "main_solution", kwargs, expected=out)
    assert bad.contradicted == 1, bad.claims
    first = bad.first_contradiction
    assert first is not None
    at = bad_text.index(wrong)
    assert at <= first.span[1] and first.span[0] < at + len(wrong), (first, wrong)


def test_table_rows_land_in_their_iteration() -> None:
    text = "| Iteration | x | total |\n|---|---|---|\n| 1 | 3 | 0 |\n| 2 | 4 | 4 |\n"
    claims = [(c.name, c.value, c.iteration) for c in extract_claims(text)]
    assert claims == [("x", 3, 1), ("total", 0, 1), ("x", 4, 2), ("total", 4, 2)]


def test_a_table_of_other_things_is_not_read_as_iterations() -> None:
    # No iteration column and a label column: values are claims about any moment, and a row
    # the text labels in words is not given an iteration number.
    text = "| Step | x | total |\n|---|---|---|\n| start | 3 | 0 |\n| next | 4 | 4 |\n"
    claims = extract_claims(text)
    assert claims and all(c.iteration is None and not c.after_loop for c in claims)


def test_a_state_dict_needs_a_state_word_and_is_never_the_output() -> None:
    text = 'The output is {"total": 99}.\nInput: {"total": 98}.\nIteration 1: {"total": 0}'
    values = [(c.name, c.value) for c in extract_claims(text) if c.name == "total"]
    assert values == [("total", 0)]


def test_lower_case_sentences_do_not_inherit_a_placement(checker: ClaimChecker) -> None:
    text = "In the second iteration x = 4. count becomes 4 at the end of the loop."
    verdict = checker.check_text(text, EVENS, "main_solution", EVENS_IN, expected=EVENS_OUT)
    assert verdict.contradicted == 0, verdict.claims
    placed = {c.name: c.where for c in verdict.claims}
    assert placed["x"] == "iteration 2" and placed["count"] != "iteration 2"


def test_off_by_one_steps_are_caught_where_the_text_places_them(checker: ClaimChecker) -> None:
    # total is 10 at some point, so only the placement makes these wrong: the iteration where
    # x is 4 (a binding), a table row, a "#k" iteration.
    for text in (
        "at x=4: total=10, count=2",
        "| Iteration | x | total |\n|---|---|---|\n| 2 | 4 | 10 |\n",
        "iteration #2: x = 4, total = 10.",
    ):
        verdict = checker.check_text(text, EVENS, "main_solution", EVENS_IN, expected=EVENS_OUT)
        bad = [(c.name, c.claimed) for c in verdict.claims if c.status == "contradicted"]
        assert bad == [("total", "10")], (text, verdict.claims)
        assert verdict.first_contradiction is not None
        assert verdict.first_contradiction.actual == "0, 4"


def test_a_binding_no_iteration_had_falls_back_to_any_moment(checker: ClaimChecker) -> None:
    # x is never 5: the claim about total is judged as if unplaced (total was 4), not contradicted;
    # "When x = 5" itself is a condition, not a claim.
    verdict = checker.check_text(
        "When x = 5, total = 4.", EVENS, "main_solution", EVENS_IN, expected=EVENS_OUT
    )
    statuses = {c.name: c.status for c in verdict.claims}
    assert statuses == {"total": "supported"}


def test_conditions_and_tries_describe_the_code_not_this_run(checker: ClaimChecker) -> None:
    text = (
        "If count is 0, the division would fail. If nums is empty, it returns 0. "
        "When `x % 2 == 0` is false the number is "
        "skipped. Suppose nums = [1, 2]; then total = 2. Let's try total = 99 for fun.\n"
        "The recursion repeats 7 times. Previously I said total = 12, which was wrong. "
        "My earlier answer had count = 7. Actually total = 10 after the loop."
    )
    verdict = checker.check_text(text, EVENS, "main_solution", EVENS_IN, expected=EVENS_OUT)
    assert [(c.name, c.claimed, c.status) for c in verdict.claims] == [("total", "10", "supported")]


def test_quoted_prose_is_not_a_claim_but_a_quoted_string_value_is() -> None:
    text = (
        'From its docstring: "Reverses the digits. If the reversed integer overflows, it returns '
        '0." He wrote "the loop runs 9 times and total is 99 at the end." '
        's = "The quick brown fox jumps over it." '
        'words = ["a", "the quick brown fox jumps over it."]'
    )
    claims = [(c.kind, c.name, c.value) for c in extract_claims(text)]
    assert claims == [
        ("value", "s", "The quick brown fox jumps over it."),
        ("value", "words", ["a", "the quick brown fox jumps over it."]),
    ]


def test_a_number_shortened_with_dots_is_not_a_claim() -> None:
    # The teacher shortens long reprs: "returns 211..." shows the start of 21142.2, not 211.
    text = "`Loan.payment()` returns 211... and x = [1, 2, ...]. y = 5… z = 3."
    claims = [(c.name, c.value) for c in extract_claims(text)]
    assert claims == [("x", [1, 2, ...]), ("z", 3)]


HELPER = """
def sq(v):
    return v * v

def main_solution(a, b):
    return sq(a) + sq(b) - 20
"""


def test_the_result_of_a_helper_is_about_that_call_not_the_output(checker: ClaimChecker) -> None:
    text = (
        "The result of `sq(3)` is 9. The result of `sq` is 16. The result of `len(x)` is 3. "
        "The result of the function is 5."
    )
    verdict = checker.check_text(text, HELPER, "main_solution", {"a": 3, "b": 4}, expected=5)
    assert [(c.kind, c.name, c.claimed, c.status) for c in verdict.claims] == [
        ("return", "sq", "9", "supported"),
        ("return", "sq", "16", "supported"),
        ("final", "", "5", "supported"),
    ]
    wrong = checker.check_text(
        "The result of `sq(4)` is 9.", HELPER, "main_solution", {"a": 3, "b": 4}, expected=5
    )
    assert [(c.name, c.status, c.actual) for c in wrong.claims] == [("sq", "contradicted", "16")]


def test_a_comprehension_elsewhere_does_not_hide_a_loop_iteration(checker: ClaimChecker) -> None:
    # The comprehensions bind their own i, before and after the loop: iteration 1 of the loop
    # is fully seen, but an unplaced "i = 7" might be about a comprehension's i.
    code = (
        "def main_solution(n):\n"
        "    values = [0 for i in range(n)]\n"
        "    values[1] = 1\n"
        "    for i in range(2, n):\n"
        "        values[i] = values[i - 1] + values[i - 2]\n"
        "    squares = [i * i for i in range(3)]\n"
        "    return values[-1] + sum(squares)\n"
    )
    verdicts = {}
    for text in ("Iteration 1: i = 1.", "Iteration 1: i = 2.", "i = 7."):
        verdict = checker.check_text(text, code, "main_solution", {"n": 5}, expected=8)
        verdicts[text] = [(c.status, c.note) for c in verdict.claims]
    assert verdicts == {
        "Iteration 1: i = 1.": [("contradicted", "")],
        "Iteration 1: i = 2.": [("supported", "")],
        "i = 7.": [("unverifiable", "incomplete_history")],
    }


def test_values_when_a_function_returns_are_judged_past_a_summarised_loop(
    checker: ClaimChecker,
) -> None:
    # main's loop runs 200 times (summarised): an unplaced total = 598 cannot be ruled out, but
    # the state when the function returns is known.
    code = (
        "def helper(n):\n"
        "    best = 0\n"
        "    for k in range(n):\n"
        "        best = max(best, k * (n - k))\n"
        "    return best\n\n"
        "def main_solution(n):\n"
        "    total = 0\n"
        "    for m in range(n * 40):\n"
        "        total += m % 7\n"
        "    return helper(n) + total\n"
    )
    found = {}
    for text in (
        "When `helper` finishes, best = 6.",
        "When `helper` finishes, best = 4.",
        "At the end of the function, total = 598.",
        "total = 598.",
    ):
        verdict = checker.check_text(text, code, "main_solution", {"n": 5}, expected=600)
        found[text] = [(c.where, c.status, c.actual) for c in verdict.claims]
    assert found["When `helper` finishes, best = 6."] == [("when helper returns", "supported", "6")]
    assert found["When `helper` finishes, best = 4."] == [
        ("when helper returns", "contradicted", "6")
    ]
    assert found["At the end of the function, total = 598."] == [
        ("when the function returns", "contradicted", "594")
    ]
    assert found["total = 598."][0][1] == "unverifiable"


def test_calls_hidden_in_late_iterations_do_not_blind_an_early_one(checker: ClaimChecker) -> None:
    # The loop runs 30 times: iterations past the detail budget are summarised and the calls of
    # is_odd in them run untraced. Iteration 2 was recorded whole, calls included.
    code = (
        "def is_odd(v):\n"
        "    r = v % 2\n"
        "    return r == 1\n\n"
        "def main_solution(n):\n"
        "    odd = 0\n"
        "    for i in range(n):\n"
        "        if is_odd(i):\n"
        "            odd += 1\n"
        "    return odd\n"
    )
    checks = {}
    for text in ("Iteration 2: i = 1, r = 1.", "Iteration 2: i = 1, r = 0."):
        verdict = checker.check_text(text, code, "main_solution", {"n": 30}, expected=15)
        checks[text] = [(c.name, c.status) for c in verdict.claims]
    assert checks == {
        "Iteration 2: i = 1, r = 1.": [("i", "supported"), ("r", "supported")],
        "Iteration 2: i = 1, r = 0.": [("i", "supported"), ("r", "contradicted")],
    }
    # Unplaced, r = 0 is true of some call anyway; r = 5 might be from an untraced one.
    verdict = checker.check_text("r = 5.", code, "main_solution", {"n": 30}, expected=15)
    assert [c.status for c in verdict.claims] == ["unverifiable"]
    # The untraced calls of is_odd have no `odd`: main's final state settles it.
    ends = {}
    for text in ("When the function finishes, odd = 15.", "When the function finishes, odd = 16."):
        verdict = checker.check_text(text, code, "main_solution", {"n": 30}, expected=15)
        ends[text] = [(c.status, c.actual) for c in verdict.claims]
    assert ends == {
        "When the function finishes, odd = 15.": [("supported", "15")],
        "When the function finishes, odd = 16.": [("contradicted", "15")],
    }


def test_arguments_told_at_a_call_are_judged_against_that_functions_calls(
    checker: ClaimChecker,
) -> None:
    code = (
        "def fact(n):\n"
        "    if n <= 1:\n"
        "        return 1\n"
        "    return n * fact(n - 1)\n\n"
        "def main_solution(n):\n"
        "    total = 0\n"
        "    for k in range(n):\n"
        "        total += fact(k + 2)\n"
        "    return total\n"
    )
    found = {}
    for text in (
        "This calls `fact` with n = 3.",
        "This calls `fact` with n = 5.",
        "This calls `main_solution` with n = 3, so total = 8.",
    ):
        verdict = checker.check_text(text, code, "main_solution", {"n": 3}, expected=32)
        found[text] = [(c.name, c.where, c.status) for c in verdict.claims]
    assert found == {
        "This calls `fact` with n = 3.": [("n", "when fact is called", "supported")],
        # main's n is 3, but no call of fact received 5
        "This calls `fact` with n = 5.": [("n", "when fact is called", "contradicted")],
        # total is not a parameter: judged unplaced (total was 2, 8, 32)
        "This calls `main_solution` with n = 3, so total = 8.": [
            ("n", "when main_solution is called", "supported"),
            ("total", "anywhere", "supported"),
        ],
    }
