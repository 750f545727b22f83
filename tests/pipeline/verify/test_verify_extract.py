"""extract_answer: the last well-formed object with the key, never altering string contents."""

from __future__ import annotations

import math

import pytest

from codeio.pipeline.verify import extract_answer


def test_plain_json_at_the_end() -> None:
    text = 'Reasoning...\nSo the final answer is {"output": [1, 2, 3]}'
    got = extract_answer(text, "output")
    assert got.found and got.value == [1, 2, 3] and got.note == ""


@pytest.mark.parametrize("s", ["None", "f(x)", "Trueman", "False alarm", "a(b)[c]", "null"])
def test_strings_are_never_rewritten(s: str) -> None:
    # The reference replaced True/None and ( ) in the whole text before parsing.
    text = f'```json\n{{"output": "{s}"}}\n```'
    assert extract_answer(text, "output").value == s


def test_braces_and_quotes_inside_strings() -> None:
    text = 'Final: {"output": "a}b{c \\"d\\" }"}'
    assert extract_answer(text, "output").value == 'a}b{c "d" }'
    text = "Answer: {'output': 'x } y { z'}"
    assert extract_answer(text, "output").value == "x } y { z"


def test_later_correction_beats_earlier_fenced_block() -> None:
    text = (
        'First guess:\n```json\n{"output": 5}\n```\n'
        'Wait, I made a mistake. The correct answer is {"output": 6}.'
    )
    assert extract_answer(text, "output").value == 6


def test_last_of_several_fenced_blocks() -> None:
    text = '```json\n{"output": 1}\n```\ntext\n```json\n{"output": 2}\n```\n'
    assert extract_answer(text, "output").value == 2


def test_objects_without_the_key_are_ignored() -> None:
    text = 'The answer {"output": 7} ... as an aside: {"note": 1} and {"input": {"x": 2}}'
    assert extract_answer(text, "output").value == 7
    assert extract_answer(text, "input").value == {"x": 2}


def test_nested_value_with_same_key_returns_outer() -> None:
    assert extract_answer('{"output": {"output": 3}}', "output").value == {"output": 3}


def test_wrapped_answer_object_is_found() -> None:
    assert extract_answer('{"result": {"output": 4}}', "output").value == 4


def test_nan_and_infinity() -> None:
    v = extract_answer('{"output": [NaN, Infinity, -Infinity]}', "output").value
    assert math.isnan(v[0]) and v[1] == math.inf and v[2] == -math.inf
    v = extract_answer("{'output': [nan, float('inf'), -inf]}", "output").value
    assert math.isnan(v[0]) and v[1] == math.inf and v[2] == -math.inf


def test_python_literal_fallback() -> None:
    got = extract_answer("So: {'output': (1, True, None, 'it''s')}", "output")
    assert got.found and got.value == (1, True, None, "its")
    assert "Python literal" in got.note
    got = extract_answer("{'output': {'a': False, 'b': [1, 2,],},}", "output")
    assert got.value == {"a": False, "b": [1, 2]}


def test_python_literal_after_json_wins_and_before_loses() -> None:
    text = "{\"output\": 1} then corrected: {'output': 2}"
    assert extract_answer(text, "output").value == 2
    text = "{'output': 1} then corrected: {\"output\": 2}"
    assert extract_answer(text, "output").value == 2


def test_python_fallback_never_executes_code() -> None:
    text = "{'output': __import__('os').getcwd()}"
    assert not extract_answer(text, "output").found
    assert not extract_answer("{'output': 1 + 2}", "output").found


def test_no_answer() -> None:
    for text in ["", "I think it is 5.", '{"output": 5', "output: 5", '{"answer": 5}']:
        got = extract_answer(text, "output")
        assert not got.found and got.note


def test_input_must_be_a_dict_but_is_reported_found() -> None:
    got = extract_answer('{"input": {"n": 3, "s": "x"}}', "input")
    assert got.found and got.value == {"n": 3, "s": "x"} and got.note == ""
    got = extract_answer('{"input": [3, 4]}', "input")
    assert got.found and got.value == [3, 4] and "not a dict" in got.note


def test_false_and_null_values_count_as_found() -> None:
    assert extract_answer('{"output": null}', "output").found
    assert extract_answer('{"output": false}', "output").value is False
    assert extract_answer("{'output': None}", "output").found


def test_long_text_with_many_braces_is_handled() -> None:
    noise = "def f(): return {x: y for x in z}  # { unmatched\n" * 300
    assert extract_answer(noise + '{"output": "ok"}', "output").value == "ok"
