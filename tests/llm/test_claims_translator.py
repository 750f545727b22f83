"""The LLM translator over the trace teacher, against a real loopback OpenAI-compatible server.

The server rewrites three teacher rationales: one faithfully, one with a wrong intermediate
value, one with a changed answer. Only the faithful rewrite may be accepted; the others fall
back to the template narration with the reason counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, ServerState  # type: ignore[import-not-found]

from codeio.exec import Sandbox
from codeio.llm import make_client
from codeio.llm.trace_teacher import TraceTeacherBackend
from codeio.pipeline.verify.claims import ClaimChecker
from codeio.pipeline.verify.claims.translate import TraceTranslator
from codeio.records import IOPair, PredictionTask

CODE = """
def main_solution(nums):
    total = 0
    for x in nums:
        if x % 2 == 0:
            total += x
    return total
"""


def _task(nums: list[int]) -> PredictionTask:
    out = sum(x for x in nums if x % 2 == 0)
    return PredictionTask(
        id=f"t{len(nums)}",
        func_id="f",
        io_index=0,
        kind="output",
        prompt="p",
        pair=IOPair(input={"nums": nums}, output=out),
        refcode=CODE,
    )


def _rewrite(prompt: str, body: dict[str, Any]) -> str:
    if "nums = [3, 4, 6]" in prompt:  # faithful
        return (
            "We start with total = 0 and walk through the list. The first number, 3, is odd, "
            "so nothing is added. Next x = 4 is even, so total becomes 4. Then x = 6 is even "
            "too and total is now 10. The loop runs 3 times, and the function returns 10.\n\n"
            '```json\n{"output": 10}\n```'
        )
    if "nums = [2, 5]" in prompt:  # a wrong step, right answer
        return (
            "total starts at 0. On the first iteration x = 2, so total becomes 3. Then 5 is odd. "
            'After the loop total is 2.\n\n```json\n{"output": 2}\n```'
        )
    return 'The total ends at 9.\n\n```json\n{"output": 9}\n```'  # the answer changed


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2) as sb:
        yield sb


@pytest.mark.slow
def test_only_faithful_rewrites_are_accepted(sandbox: Sandbox, tmp_path: Path) -> None:
    teacher = TraceTeacherBackend(sandbox=sandbox)
    tasks = [_task([3, 4, 6]), _task([2, 5]), _task([8, 1])]
    templates = []
    for task in tasks:
        context = {
            "task": "predict",
            "kind": "output",
            "refcode": CODE,
            "funcname": "main_solution",
            "input": task.pair.input,
            "output": task.pair.output,
        }
        templates.append(teacher.respond(context))
    state = ServerState(reply=_rewrite)
    with (
        FakeOpenAIServer(state) as server,
        make_client(
            "openai:fake-translator",
            base_url=server.base_url,
            cache_path=tmp_path / "c.sqlite",
            timeout_s=5.0,
            max_retries=0,
        ) as client,
    ):
        translator = TraceTranslator(client, ClaimChecker(sandbox))
        results = translator.translate_many(list(zip(tasks, templates, strict=True)))
    good, wrong_step, wrong_answer = results
    assert good.accepted and good.reason == "accepted" and good.text.startswith("We start")
    assert good.process is not None and good.process.supported >= 5
    assert good.process.contradicted == 0
    assert not wrong_step.accepted and wrong_step.reason == "contradicted"
    assert wrong_step.text == templates[1]  # the template narration is kept
    assert wrong_step.process is not None
    first = wrong_step.process.first_contradiction
    assert first is not None and (first.name, first.claimed, first.actual) == ("total", "3", "0, 2")
    assert not wrong_answer.accepted and wrong_answer.reason == "answer_changed"
    assert wrong_answer.text == templates[2]
    assert dict(translator.counts) == {"accepted": 1, "contradicted": 1, "answer_changed": 1}
    # Every request really went over HTTP and carried the template to rewrite.
    assert len(state.log) == 3
    assert all("```json" in a.prompt for a in state.log)
    assert json.loads(templates[0].rsplit("```json", 1)[1].split("```")[0]) == {"output": 10}


def test_unreachable_translator_keeps_templates(sandbox: Sandbox, tmp_path: Path) -> None:
    task = _task([3, 4, 6])
    template = 'total = 0, ... returns 10.\n\n```json\n{"output": 10}\n```'
    with make_client(
        "openai:fake-translator",
        base_url="http://127.0.0.1:9/v1",
        cache_path=tmp_path / "c.sqlite",
        timeout_s=0.5,
        max_retries=0,
    ) as client:
        translator = TraceTranslator(client, ClaimChecker(sandbox))
        (result,) = translator.translate_many([(task, template)])
    assert not result.accepted and result.reason == "llm_error" and result.text == template


def test_a_slip_the_template_makes_is_not_new(sandbox: Sandbox) -> None:
    # A teacher run with mistake_rate narrates a wrong step on purpose; a rewrite that tells the
    # same wrong step introduces nothing, but one more wrong step is rejected.
    task = _task([3, 4, 6])
    template = 'The loop runs 5 times and total ends at 10.\n\n```json\n{"output": 10}\n```'
    translator = TraceTranslator(None, ClaimChecker(sandbox))
    same = "Going through nums (the loop runs 5 times), total ends at 10.\n\n"
    same += '```json\n{"output": 10}\n```'
    kept = translator.judge(task, template, same)
    assert kept.accepted and kept.process is not None and kept.process.contradicted == 1
    more = same.replace("total ends at 10", "total = 7 after the first even number; it ends at 10")
    rejected = translator.judge(task, template, more)
    assert not rejected.accepted and rejected.reason == "contradicted"
    assert rejected.text == template
