"""The trace teacher's unify answers: the shipped demo files round-trip, other code is refused."""

from __future__ import annotations

import asyncio

import pytest

from codeio.demo_data import demo_dir
from codeio.llm import LLMRequest
from codeio.llm.trace_teacher import TraceTeacherBackend
from codeio.pipeline.unify.parse import UnifyParseError, parse_unify_response
from codeio.records import Message

DEMO_FILES = sorted(demo_dir().glob("*.py"))

WITH_HELPERS = '''"""Count words.

Input: `text` (str): some words.
Output: `return` (int): how many.
"""
import random

WORDS = ["a", "bb", "ccc"]


def helper(text):
    return len(text.split())


def main_solution(text):
    return helper(text)


def input_generator(rng):
    return {"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))}


if __name__ == "__main__":
    print(main_solution("x y"))
'''


def _answer(content: str) -> str:
    teacher = TraceTeacherBackend()
    request = LLMRequest(
        messages=[Message(role="user", content="unify this")],
        context={"task": "unify", "content": content},
    )
    return asyncio.run(teacher.acomplete(request)).text


@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.stem)
def test_demo_files_round_trip_through_the_unify_parser(path) -> None:
    parts = parse_unify_response(_answer(path.read_text()))
    assert "def main_solution" in parts.refcode and "def input_generator" not in parts.refcode
    assert "def input_generator" in parts.inputgen
    assert parts.io_description and parts.problem.endswith("?")


def test_generator_keeps_what_it_uses_and_demo_block_is_dropped() -> None:
    parts = parse_unify_response(_answer(WITH_HELPERS))
    assert parts.io_description.startswith("Input:")
    assert parts.problem.startswith("Count words.")
    assert "__main__" not in parts.refcode and "def helper" in parts.refcode
    assert "WORDS = " in parts.inputgen and "import random" in parts.inputgen
    assert "def helper" not in parts.inputgen  # the generator does not use it


@pytest.mark.parametrize(
    "content",
    ["def f(x):\n    return x\n", "print 'python 2'\n", "def main_solution(x):\n    return x\n"],
)
def test_other_code_is_refused_in_a_way_the_parser_rejects(content: str) -> None:
    text = _answer(content)
    assert "teacher_cannot_unify" in text
    with pytest.raises(UnifyParseError):
        parse_unify_response(text)
