"""parse_unify_response: the four sections, tolerant headers, specific rejection reasons."""

from __future__ import annotations

import pytest

from codeio.pipeline.unify import UnifyParseError, parse_unify_response

MAIN = """```python
import math

# main function
def main_solution(n, m):
    # note: a comment that looks like a header
    return {"x": math.gcd(n, m)}
```"""

GEN = """```python
def input_generator(rng):
    return {"n": rng.randint(1, 99), "m": rng.randint(1, 99)}
```"""

IO = "Input:\n  `n` (int): a number\n  `m` (int): another\nOutput:\n  `return` (dict): gcd"
PROBLEM = "Two gears have `n` and `m` teeth. What is their greatest common divisor?"


def response(
    main: str = MAIN,
    gen: str = GEN,
    io: str = IO,
    problem: str = PROBLEM,
    headers: tuple[str, str, str, str] = (
        "## Main Function",
        "## Input Output Description",
        "## Input Generator",
        "## Problem Statement",
    ),
) -> str:
    h = headers
    return f"Sure!\n{h[0]}\n{main}\n\n{h[1]}\n{io}\n\n{h[2]}\n{gen}\n\n{h[3]}\n{problem}\n"


def reason_of(text: str) -> str:
    with pytest.raises(UnifyParseError) as info:
        parse_unify_response(text)
    assert info.value.message  # always a message usable as repair feedback
    return info.value.reason


def test_well_formed_answer() -> None:
    parts = parse_unify_response(response())
    assert parts.refcode.startswith("import math") and "def main_solution(n, m)" in parts.refcode
    assert "# main function" in parts.refcode  # a comment inside code is not a header
    assert parts.inputgen.startswith("def input_generator(rng)")
    assert parts.io_description == IO
    assert parts.problem == PROBLEM


@pytest.mark.parametrize(
    "headers",
    [
        (
            "# Main Function",
            "# Input Output Description",
            "# Input Generator",
            "# Problem Statement",
        ),
        (
            "### main function:",
            "### INPUT OUTPUT DESCRIPTION",
            "### Input Generator:",
            "### problem statement",
        ),
        (
            "**Main Function**",
            "**Input/Output Description:**",
            "## **Input Generator**",
            "## 4. Problem Statement",
        ),
    ],
)
def test_header_variations(headers: tuple[str, str, str, str]) -> None:
    parts = parse_unify_response(response(headers=headers))
    assert "main_solution" in parts.refcode and parts.problem == PROBLEM


def test_zero_argument_generator_is_accepted() -> None:
    gen = "```python\nimport random\ndef input_generator():\n    return {'n': 1, 'm': 2}\n```"
    assert "input_generator()" in parse_unify_response(response(gen=gen)).inputgen


def test_generator_with_extra_defaulted_parameter_is_accepted() -> None:
    gen = "```python\ndef input_generator(rng, size=5):\n    return {'n': size, 'm': 1}\n```"
    parse_unify_response(response(gen=gen))


def test_missing_section() -> None:
    text = response().split("## Problem Statement")[0]
    assert reason_of(text) == "missing_section"
    with pytest.raises(UnifyParseError, match="Problem Statement"):
        parse_unify_response(text)


def test_empty_problem() -> None:
    assert reason_of(response(problem="")) == "empty_section"


def test_syntax_error_names_the_line() -> None:
    main = "```python\ndef main_solution(n, m):\n    return n +\n```"
    with pytest.raises(UnifyParseError, match="line 2") as info:
        parse_unify_response(response(main=main))
    assert info.value.reason == "syntax_error"
    assert reason_of(response(gen="```python\ndef input_generator(rng)\n  pass\n```")) == (
        "syntax_error"
    )


def test_python2_is_a_syntax_error() -> None:
    main = "```python\ndef main_solution(n, m):\n    print n\n    return n\n```"
    assert reason_of(response(main=main)) == "syntax_error"


def test_no_main_solution() -> None:
    main = "```python\ndef solve(n, m):\n    return n\n```"
    assert reason_of(response(main=main)) == "no_main_solution"
    nested = "```python\nclass A:\n    def main_solution(self, n, m):\n        return n\n```"
    assert reason_of(response(main=nested)) == "no_main_solution"


def test_no_input_generator() -> None:
    gen = "```python\ndef make_inputs(rng):\n    return {}\n```"
    assert reason_of(response(gen=gen)) == "no_input_generator"


@pytest.mark.parametrize(
    "signature",
    ["input_generator(rng, n)", "input_generator(*, rng)", "input_generator(a, b, c=1)"],
)
def test_bad_generator_signature(signature: str) -> None:
    gen = f"```python\ndef {signature}:\n    return {{}}\n```"
    assert reason_of(response(gen=gen)) == "bad_generator_signature"


def test_unclosed_code_block() -> None:
    text = response(gen="```python\ndef input_generator(rng):\n    return {}\n")
    # The open fence swallows the rest, so the problem section is never seen.
    assert reason_of(text) in {"missing_section", "unclosed_code_block"}


def test_code_without_fence_is_accepted_when_it_parses() -> None:
    main = "def main_solution(n, m):\n    return n * m"
    assert parse_unify_response(response(main=main)).refcode == main


def test_prose_starting_with_problem_is_not_a_header() -> None:
    problem = PROBLEM + "\nProblem solvers often ask this."
    assert parse_unify_response(response(problem=problem)).problem.endswith("ask this.")
