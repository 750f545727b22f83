"""TraceTeacherBackend end to end: requests in, verified answers out, slips and revisions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from codeio.errors import LLMError
from codeio.exec import Sandbox
from codeio.llm import LLMRequest, make_backend
from codeio.llm.trace_teacher import TraceTeacherBackend
from codeio.pipeline.verify import Verifier, extract_answer
from codeio.records import IOPair, Message, PredictionTask

CODE = '''
def main_solution(nums, k):
    """Sum of the k largest numbers."""
    ordered = sorted(nums, reverse=True)
    total = 0
    for x in ordered[:k]:
        total += x
    return total
'''


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=1) as box:
        yield box


def _context(kind: str, kwargs: dict[str, Any], output: Any, **extra: Any) -> dict[str, Any]:
    return {
        "task": "predict",
        "kind": kind,
        "refcode": CODE,
        "funcname": "main_solution",
        "input": kwargs,
        "output": output,
        "turn": 1,
        "feedback": None,
        **extra,
    }


def _task(kind: str, kwargs: dict[str, Any], output: Any) -> PredictionTask:
    return PredictionTask(
        id=f"t-{kind}-{sorted(kwargs.items())}",
        func_id="f",
        io_index=0,
        kind=kind,
        prompt="",
        pair=IOPair(input=kwargs, output=output),
        refcode=CODE,
    )


def _request(context: dict[str, Any]) -> LLMRequest:
    return LLMRequest(messages=[Message(role="user", content="predict please")], context=context)


def test_acomplete_answers_output_and_input_prediction(sandbox: Sandbox) -> None:
    teacher = TraceTeacherBackend(sandbox=sandbox)
    verifier = Verifier(sandbox)
    kwargs = {"nums": [4, 9, 1, 7], "k": 2}
    for kind in ("output", "input"):
        completion = asyncio.run(teacher.acomplete(_request(_context(kind, kwargs, 16))))
        assert completion.finish_reason == "stop" and completion.model == "trace-teacher"
        assert completion.completion_tokens == len(completion.text.split()) > 20
        assert completion.prompt_tokens == 2
        turn = verifier.verify(_task(kind, kwargs, 16), completion.text)
        assert turn.verdict is not None and turn.verdict.status == "correct", completion.text
    assert extract_answer(completion.text, "input").value == kwargs
    assert "The output is 16." in completion.text
    assert "matches the target output" in completion.text


def test_nondeterministic_stored_output_is_answered_honestly(sandbox: Sandbox) -> None:
    teacher = TraceTeacherBackend(sandbox=sandbox)
    text = teacher.respond(_context("output", {"nums": [1, 2], "k": 1}, 99))
    assert extract_answer(text, "output").value == 2  # what really ran, not the stale stored value


def test_mistakes_on_first_turn_and_revision_fixes_them(sandbox: Sandbox) -> None:
    teacher = TraceTeacherBackend(sandbox=sandbox, mistake_rate=1.0)
    verifier = Verifier(sandbox)
    kwargs = {"nums": [5, 3, 8], "k": 2}
    for kind in ("output", "input"):
        task = _task(kind, kwargs, 13)
        first = teacher.respond(_context(kind, kwargs, 13))
        verdict = verifier.verify(task, first).verdict
        assert verdict is not None and verdict.status != "correct", first
        second = teacher.respond(_context(kind, kwargs, 13, turn=2, feedback=verdict.feedback))
        assert second.startswith("The feedback says:")
        assert "Let me re-trace carefully" in second
        final = verifier.verify(task, second).verdict
        assert final is not None and final.status == "correct", second


def test_mistake_rate_is_a_seeded_fraction(sandbox: Sandbox) -> None:
    teacher = TraceTeacherBackend(sandbox=sandbox, mistake_rate=0.5)
    verifier = Verifier(sandbox)
    outcomes = []
    for n in range(12):
        kwargs = {"nums": [n, 2 * n + 1, 3], "k": 2}
        output = sum(sorted(kwargs["nums"], reverse=True)[:2])
        text = teacher.respond(_context("output", kwargs, output))
        assert teacher.respond(_context("output", kwargs, output)) == text  # same task, same answer
        outcomes.append(verifier.verify(_task("output", kwargs, output), text).verdict.status)
    wrong = outcomes.count("wrong")
    assert 0 < wrong < 12 and outcomes.count("correct") == 12 - wrong


def test_spec_options_and_bad_requests() -> None:
    backend = make_backend("trace:mistake_rate=0.25,seed=3")
    assert isinstance(backend, TraceTeacherBackend)
    assert (backend.mistake_rate, backend.seed, backend.model) == (0.25, 3, "trace-teacher")
    assert backend.kind == backend.name == "trace"
    with pytest.raises(ValueError):
        TraceTeacherBackend(mistake_rate=2)
    with pytest.raises(ValueError):
        TraceTeacherBackend("temperature=3")
    with pytest.raises(LLMError) as info:
        backend.respond({"task": "chat"})
    assert info.value.reason == "bad_request"
    with pytest.raises(LLMError):
        backend.respond({"task": "predict", "kind": "output"})
    backend.close()  # never started a sandbox: closing is a no-op
