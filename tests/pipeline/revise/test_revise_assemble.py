"""Assembly of CodeI/O++ multi-turn responses, and the public dataset layout."""

from __future__ import annotations

import pytest

from codeio.pipeline.revise import CHECK_BRIDGE, REDO_BRIDGE, assemble, to_codeio_layout
from codeio.records import Sample, Turn, Verdict

WRONG = Verdict(status="wrong", feedback="[Mismatch] Your output is not correct!")
RIGHT = Verdict(status="correct", feedback="[Correct] Your predicted output is correct.")


def sample(*turns: Turn) -> Sample:
    return Sample(task_id="t1", func_id="f1", kind="output", prompt="Q?", turns=list(turns))


def test_two_turns_in_order_with_bridges() -> None:
    s = sample(
        Turn(response='first {"output": 1}', verdict=WRONG),
        Turn(response='second {"output": 2}', verdict=RIGHT),
    )
    text = assemble(s)
    order = [
        'first {"output": 1}',
        CHECK_BRIDGE,
        WRONG.feedback,
        REDO_BRIDGE,
        'second {"output": 2}',
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert text.endswith('second {"output": 2}')  # the final feedback is not part of the answer
    assert RIGHT.feedback not in text


def test_single_turn_is_just_the_response() -> None:
    assert assemble(sample(Turn(response="  only  ", verdict=RIGHT))) == "only"


def test_three_turns() -> None:
    s = sample(
        Turn(response="a", verdict=WRONG),
        Turn(response="b", verdict=WRONG),
        Turn(response="c", verdict=RIGHT),
    )
    text = assemble(s)
    assert text.count(CHECK_BRIDGE) == 2 and text.count(REDO_BRIDGE) == 2


def test_empty_sample_is_an_error() -> None:
    with pytest.raises(ValueError):
        assemble(sample())


def test_codeio_layout() -> None:
    s = sample(Turn(response="a", verdict=WRONG), Turn(response="b", verdict=RIGHT))
    assert to_codeio_layout(s) == {
        "prompt": "Q?",
        "turn_1": "a",
        "feedback_1": WRONG.feedback,
        "turn_2": "b",
        "feedback_2": RIGHT.feedback,
    }
    single = to_codeio_layout(sample(Turn(response="a", verdict=RIGHT)))
    assert single["turn_2"] == "" and single["feedback_2"] == ""
    three = to_codeio_layout(sample(Turn(response="a"), Turn(response="b"), Turn(response="c")))
    assert three["turn_3"] == "c" and three["feedback_3"] == ""
