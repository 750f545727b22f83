from __future__ import annotations

import ast

import pytest

from codeio.evaluate.benchmarks.crux_answer import check_prediction, extract_cruxeval


@pytest.mark.parametrize(
    "text,expected",
    [
        ("reasoning...\n[ANSWER]\nassert f([1, 2]) == (3, {1, 2})\n[/ANSWER]", "(3, {1, 2})"),
        # Upstream stops generating at the first [/ANSWER]: what follows is never judged.
        ("[ANSWER]assert f('a') == 'b'[/ANSWER] then [ANSWER]assert f('a') == 'c'[/ANSWER]", "'b'"),
        ("[ANSWER] assert f('a') == 'b' [/ANSWER] and [ANSWER]", "'b'"),
        ("[ANSWER]\n'xyz'\n[/ANSWER]", "'xyz'"),
        ("So:\n```python\nassert f(1, 2) == b'ab'\n```", "b'ab'"),
        ('The answer is {"output": [1, 2, null]}', "[1, 2, null]"),
        ("{'output': (1, 'a')}", "(1, 'a')"),
        ("[ANSWER]\nassert 'q' == f('x')\n[/ANSWER]", "'q'"),
        ("[ANSWER]\nassert f(\n    [1, 2]\n) == [\n 2]\n[/ANSWER]", "[\n 2]"),
        ("42", "42"),
    ],
)
def test_output_answers_are_found_as_source_text(text: str, expected: str) -> None:
    found = extract_cruxeval(text, "output")
    assert found.found and found.text == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("[ANSWER]\nassert f([1, 2], 'a') == 3\n[/ANSWER]", "[1, 2], 'a'"),
        ("[ANSWER]\nf(x=1, y=(2,))\n[/ANSWER]", "x=1, y=(2,)"),
        ("thinking\nassert f({'a': 1}) == 'a'", "{'a': 1}"),
        ('{"input": {"nums": [3], "k": 1}}', "nums=[3], k=1"),
        ("[ANSWER]\n[3, 4]\n[/ANSWER]", "[3, 4]"),
    ],
)
def test_input_answers_are_argument_lists(text: str, expected: str) -> None:
    found = extract_cruxeval(text, "input")
    assert found.found and found.text == expected


def test_nothing_found() -> None:
    assert not extract_cruxeval("", "output").found
    assert not extract_cruxeval("I think it is\nprobably something\nlike this", "output").found


@pytest.mark.parametrize(
    "prediction",
    [
        "f('abc')",
        "f('abc')[0]",
        "len('abc')",
        "__import__('os')",
        "x",
        "'a'.upper()",
        "[i for i in 'ab']",
    ],
)
def test_output_predictions_must_be_values(prediction: str) -> None:
    assert check_prediction(prediction, "output") is not None


@pytest.mark.parametrize(
    "prediction", ["'abc'", "(1, -2.5)", "{1, 2}", "set()", "b'x'", "'a' * 3", "True"]
)
def test_literal_output_predictions_pass(prediction: str) -> None:
    assert check_prediction(prediction, "output") is None


def test_input_predictions_may_be_expressions_but_not_call_f() -> None:
    assert check_prediction("[1, 2], lambda x: x", "input") is None
    assert check_prediction("range(3)", "input") is None
    assert check_prediction("f(1)", "input") is not None
    assert check_prediction("[1, 2", "input") is not None


@pytest.mark.parametrize("rows", [3, 7, 9, 40])
def test_a_multi_line_assertion_parses_however_many_lines_it_spans(rows: int) -> None:
    body = "".join(f"    {i},\n" for i in range(rows))
    text = f"Tracing it through:\n\n[ANSWER]\nassert f('x') == [\n{body}]\n[/ANSWER]\n"
    found = extract_cruxeval(text, "output")
    assert found.found and found.text is not None
    assert ast.literal_eval(found.text) == list(range(rows))
    assert check_prediction(found.text, "output") is None
    # The same outside an [ANSWER] block, with prose and an unclosed bracket after it.
    text = f"So:\nassert f('x') == [\n{body}]\nThat is the answer (see [1.\n"
    found = extract_cruxeval(text, "output")
    assert found.found and ast.literal_eval(str(found.text)) == list(range(rows))
