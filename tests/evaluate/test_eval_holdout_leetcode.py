"""codeio-holdout (judged by the pipeline's Verifier) and leetcode-o (all cases must be right)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeio.errors import InputError
from codeio.evaluate import evaluate, score_responses
from codeio.exec import Sandbox
from codeio.pipeline.export.split import holdout_row
from codeio.pipeline.prompt import build_task
from codeio.records import FunctionRecord, IOPair

DEMO = Path(__file__).resolve().parents[2] / "../shared/data/codeio-demo/rawcode_1k_parsed.jsonl"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2) as sb:
        yield sb


def _holdout_file(tmp_path: Path) -> Path:
    refcode = "def main_solution(a, b):\n    total = a\n    for _ in range(b):\n        total += a\n    return {'total': total, 'pair': [a, b]}\n"
    fn = FunctionRecord(
        id=FunctionRecord.make_id(refcode),
        refcode=refcode,
        ios=[IOPair(input={"a": 2, "b": 3}, output={"total": 8, "pair": [2, 3]}),
             IOPair(input={"a": 5, "b": 0}, output={"total": 5, "pair": [5, 0]})],
    )  # fmt: skip
    path = tmp_path / "holdout.jsonl"
    rows = [holdout_row(build_task(fn, i, kind)) for i in range(2) for kind in ("output", "input")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_holdout_trace_teacher_is_right_and_wrong_answers_are_not(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    path = _holdout_file(tmp_path)
    summary = evaluate("codeio-holdout", "trace", data=path, out=tmp_path / "ev", sandbox=sandbox)
    assert summary.problems == 4 and summary.pass_at_k["pass@1"] == 1.0, summary.statuses
    assert set(summary.by_kind) == {"input", "output"}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    wrong = {}
    for row in rows:
        if row["kind"] == "output":
            wrong[row["id"]] = json.dumps(
                {"output": {"total": True, "pair": json.loads(row["pair"])["output"]["pair"]}}
            )
        else:
            wrong[row["id"]] = json.dumps({"input": {"a": 1, "b": 1}})
    bad = score_responses("codeio-holdout", wrong, data=path, sandbox=sandbox)
    assert bad.pass_at_k["pass@1"] == 0.0 and bad.statuses == {"wrong": 4}


def _leetcode_file(tmp_path: Path) -> Path:
    lines = [
        {"messages": [{"role": "user", "content": "Two sum: nums=[2,7,11], target=9. Output?"}],
         "answer": "[0, 1]", "problem_id": "two-sum", "difficulty": "Easy"},
        {"messages": [{"role": "user", "content": "Two sum: nums=[3,3], target=6. Output?"}],
         "answer": [0, 1], "problem_id": "two-sum", "difficulty": "Easy"},
        {"messages": [{"role": "user", "content": "Is 121 a palindrome? Output?"},
                      {"role": "assistant", "content": 'It reads the same. {"output": true}'}],
         "title": "palindrome-number", "difficulty": "Hard"},
        {"prompt": "Reverse 'ab'. Output?", "output": "'ba'", "id": "reverse"},
    ]  # fmt: skip
    path = tmp_path / "leetcode_o.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_leetcode_o_counts_a_problem_only_when_all_cases_are_right(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    path = _leetcode_file(tmp_path)
    right = {
        "two-sum#0": 'x {"output": [0, 1]}',
        "two-sum#1": "[ANSWER]\n[0, 1]\n[/ANSWER]",
        "palindrome-number#0": '{"output": true}',
        "reverse#0": '{"output": "ba"}',
    }
    summary = score_responses("leetcode-o", right, data=path, sandbox=sandbox)
    assert summary.problems == 3 and summary.pass_at_k["pass@1"] == 1.0
    assert set(summary.by_difficulty) == {"Easy", "Hard"}
    one_wrong = dict(
        right, **{"two-sum#1": '{"output": [1, 0]}', "palindrome-number#0": '{"output": 1}'}
    )
    summary = score_responses("leetcode-o", one_wrong, data=path, sandbox=sandbox)
    assert summary.pass_at_k["pass@1"] == pytest.approx(1 / 3)
    assert summary.case_accuracy == pytest.approx(2 / 4)
    assert summary.by_difficulty["Easy"].pass_at_k["pass@1"] == 0.0


def test_leetcode_o_prompt_asks_for_json_and_bad_lines_name_their_line(tmp_path: Path) -> None:
    from codeio.evaluate import get_benchmark, load_items

    items = load_items(get_benchmark("leetcode-o"), _leetcode_file(tmp_path), None)
    assert all('{"output"' in it.prompt for it in items)
    assert [it.messages[-1].role for it in items] == ["user"] * 4
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(InputError, match="bad.jsonl:1"):
        load_items(get_benchmark("leetcode-o"), bad, None)
