"""The feedback texts a model sees in a CodeI/O++ revision turn.

In the paper's spirit: a wrong output is only called wrong (the right answer is never revealed);
a wrong input is shown the output it really produces; a failing input is shown the exception.
"""

from __future__ import annotations

import json
from typing import Any

from codeio.records import PredictionKind

__all__ = [
    "correct",
    "input_error",
    "input_invalid",
    "input_timeout",
    "input_wrong",
    "no_answer",
    "output_wrong",
    "show",
    "show_text",
]

MAX_SHOWN = 600
"""Longest value shown in feedback; longer ones are cut so a revision prompt stays small."""


def show(value: Any, limit: int = MAX_SHOWN) -> str:
    """A value as JSON text (Python repr for what JSON cannot hold), cut to ``limit`` chars."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def correct(kind: PredictionKind) -> str:
    if kind == "output":
        return "[Correct] Your predicted output is correct."
    return "[Correct] Your predicted input is feasible: it produces the given output."


def output_wrong(given_input: dict[str, Any], predicted: Any) -> str:
    return (
        f"[Mismatch] Your output is not correct! Given the input {show(given_input)}, "
        f"your predicted output is {show(predicted)}, which is wrong!"
    )


def input_wrong(target_output: Any, predicted: Any, actual: Any) -> str:
    return (
        f"[Mismatch] Your input is not feasible! Given the output {show(target_output)}, "
        f"your predicted input is {show(predicted)}, which actually gets a wrong output "
        f"as {show(actual)}."
    )


def input_error(predicted: Any, error_type: str, message: str, funcname: str) -> str:
    what = f"{error_type}: {message}" if message else error_type
    return (
        f"[Error] Your input is not feasible! Calling {funcname} with your predicted input "
        f"{show(predicted)} raised an exception: {show_text(what)}"
    )


def input_timeout(predicted: Any, seconds: float, funcname: str) -> str:
    return (
        f"[Timeout] Your input is not feasible! Calling {funcname} with your predicted input "
        f"{show(predicted)} did not finish within {seconds:g} seconds; the input may be far too "
        "large or lead to an endless loop."
    )


def input_invalid(predicted: Any, problem: str) -> str:
    return (
        f"[Invalid] Your predicted input {show(predicted)} cannot be used: {problem} "
        'Give the input as {"input": {<argument name>: <value>, ...}}, a dictionary whose keys '
        "are exactly the input variables' names."
    )


def no_answer(kind: PredictionKind) -> str:
    shape = (
        '{"output": <your output>}'
        if kind == "output"
        else '{"input": <your input>}, where <your input> is a dictionary keyed by the input '
        "variables' names"
    )
    return (
        "[Missing] I could not find your final answer. Please reason step by step and put your "
        f"final answer at the end in the following JSON format: {shape}."
    )


def show_text(text: str, limit: int = MAX_SHOWN) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
