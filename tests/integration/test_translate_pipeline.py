"""``generate.translate`` end to end: the trace teacher answers, a loopback LLM rewrites.

A real OpenAI-compatible server on loopback plays the translator. It rewrites one task's
narration faithfully, one with a wrong intermediate step (the loop count), one with a changed
answer, and fails one request. Only the faithful rewrite may reach the run store; the others
keep the template narration, and status and the report count why.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from runhelp import EVEN_SUM, run_codeio  # type: ignore[import-not-found]

CODE = EVEN_SUM
FAITHFUL, WRONG_STEP, WRONG_ANSWER, FAILS = [3, 4, 6], [2, 5, 8, 10], [1, 1, 2], [6, 7]

pytestmark = pytest.mark.slow


def _reply(prompt: str, body: dict[str, Any]) -> str:
    template = prompt.split("\n---\n", 1)[1]
    nums = json.loads(re.search(r"nums = (\[[^\]]*\])", template).group(1))  # type: ignore[union-attr]
    total = sum(x for x in nums if x % 2 == 0)
    block = f'```json\n{{"output": {total}}}\n```'
    if nums == WRONG_ANSWER:
        return (
            f'Adding the even numbers gives {total + 1}.\n\n```json\n{{"output": {total + 1}}}\n```'
        )
    runs = len(nums) + (3 if nums == WRONG_STEP else 0)
    steps, running = [], 0
    for x in nums:
        if x % 2 == 0:
            running += x
            steps.append(f"{x} is even, so total becomes {running}.")
        else:
            steps.append(f"{x} is odd and is skipped.")
    return (
        "We begin with total = 0 and look at each number in turn. "
        + " ".join(steps)
        + f" The loop runs {runs} times, so the function returns {total}.\n\n{block}"
    )


def _fault(index: int, body: dict[str, Any]) -> str | None:
    text = body["messages"][-1]["content"]
    return "500" if f"nums = {json.dumps(FAILS)}" in text else None


def test_translator_rewrites_are_kept_only_when_the_checker_accepts_them(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
    from fake_openai_server import FakeOpenAIServer, ServerState  # type: ignore[import-not-found]

    data = tmp_path / "ios.jsonl"
    ios = [
        {"input": {"nums": n}, "output": sum(x for x in n if x % 2 == 0)}
        for n in (FAITHFUL, WRONG_STEP, WRONG_ANSWER, FAILS)
    ]
    data.write_text(json.dumps({"refcode": CODE, "funcname": "main_solution", "ios": ios}) + "\n")
    state = ServerState(reply=_reply, fault_fn=_fault)
    with FakeOpenAIServer(state) as server:
        cfg = tmp_path / "run.yaml"
        cfg.write_text(
            "seed: 1\n"
            f"input:\n  path: {data}\n  kind: ios\n"
            "llm:\n  spec: trace\n"
            "generate:\n  translate:\n    spec: openai:fake-translator\n"
            f"    base_url: {server.base_url}\n    api_key_env: ''\n    max_retries: 0\n"
            "exec:\n  workers: 2\n"
            "prompt:\n  kinds: [output]\n"
            "revise:\n  rounds: 0\n"
            "export:\n  report: true\n"
        )
        run_dir = tmp_path / "run"
        res = run_codeio("run", str(cfg), "--out", str(run_dir), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(state.log) == 4  # one rewrite asked per generated answer, over real HTTP

    from codeio.pipeline.export.source import RunSource

    with RunSource(run_dir) as source:
        samples = list(source.samples())
        funnel = source.funnel()
    by_nums: dict[str, Any] = {}
    for sample in samples:
        match = re.search(r'"nums": (\[[^\]]*\])', sample.prompt)
        assert match is not None
        by_nums[match.group(1)] = sample
    good = by_nums[json.dumps(FAITHFUL)].turns[0]
    assert good.response.startswith("We begin with total = 0")
    assert good.verdict is not None and good.verdict.status == "correct"
    assert good.verdict.process is not None and good.verdict.process.contradicted == 0
    for nums in (WRONG_STEP, WRONG_ANSWER, FAILS):
        kept = by_nums[json.dumps(nums)].turns[0]
        assert not kept.response.startswith("We begin"), nums  # the template narration
        assert kept.verdict is not None and kept.verdict.status == "correct"
        assert kept.verdict.process is not None and kept.verdict.process.contradicted == 0
    assert funnel["translate"] == {
        "accepted": 1,
        "contradicted": 1,
        "answer_changed": 1,
        "llm_error": 1,
    }

    status = run_codeio("status", str(run_dir))
    assert status.returncode == 0, status.stderr
    assert "translate: 1 rewrite(s) accepted; template kept for 3" in status.stdout
    html = (run_dir / "report.html").read_text()
    assert 'id="translate"' in html and "contradicted 1" in html


def test_translate_without_the_trace_teacher_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        "llm:\n  spec: openai:some-model\n"
        "generate:\n  translate:\n    spec: openai:fake-translator\n"
    )
    res = run_codeio("run", str(cfg), "--out", str(tmp_path / "run"), timeout=120)
    assert res.returncode != 0
    assert "generate.translate.spec needs llm.spec 'trace'" in res.stderr
    assert "Traceback" not in res.stderr
