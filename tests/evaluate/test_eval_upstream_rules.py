"""CRUXEval scoring on hand-written responses, against facebookresearch/cruxeval's rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeio.evaluate import score_responses
from codeio.exec import Sandbox

ROWS = [
    {"id": "none", "code": "def f(x):\n    return None", "input": "1", "output": "None"},
    {"id": "plus", "code": "def f(s):\n    return s + 'a'", "input": "'x'", "output": "'xa'"},
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=1) as sb:
        yield sb


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crux") / "mini.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n", encoding="utf-8")
    return path


def test_text_after_the_first_closing_tag_is_not_judged(sandbox: Sandbox, data: Path) -> None:
    # A base model answers, then invents the next few-shot example with its own [ANSWER]
    # block; upstream's stop word "[/ANSWER]" would have ended the generation after the first.
    invented = (
        "[ANSWER]\nassert f(1) == None\n[/ANSWER]\n\n[PYTHON]\ndef f(x):\n    return 2\n"
        "assert f(1) == ??\n[/PYTHON]\n[ANSWER]\nassert f(1) == 2\n[/ANSWER]"
    )
    dangling = "[ANSWER] assert f(1) == None [/ANSWER] Done. [ANSWER]"
    summary = score_responses("cruxeval-o", {"none": [invented, dangling]}, data=data,
                              sandbox=sandbox)  # fmt: skip
    assert summary.statuses == {"correct": 2}


def test_pass_at_k_is_not_reported_over_a_subset_of_problems(
    sandbox: Sandbox, data: Path
) -> None:
    right = "[ANSWER]assert f('x') == 'xa'[/ANSWER]"
    wrong = "[ANSWER]assert f(1) == 0[/ANSWER]"
    summary = score_responses(
        "cruxeval-o", {"plus": [right] * 3, "none": [wrong]}, data=data, k=[1, 3],
        sandbox=sandbox,
    )  # fmt: skip
    assert summary.problems == 2
    # pass@3 cannot be estimated for the problem with one sample; upstream's estimator would
    # call it 1.0, averaging over "plus" alone would call it 1.0 too: both are wrong.
    assert "pass@3" not in summary.pass_at_k
    assert summary.pass_at_k["pass@1"] == pytest.approx(0.5)
