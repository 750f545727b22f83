"""The Verifier with the real sandbox: verdicts, feedback, retries and the batch API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from codeio.errors import SandboxError
from codeio.exec import ExecLimits, ExecResult, ExecTask, Sandbox, Status
from codeio.pipeline.verify import Verifier
from codeio.records import IOPair, PredictionTask

CODE = """
import math

def main_solution(x, scale=1.0):
    if x == "boom":
        raise ValueError("boom happened")
    if x == "loop":
        while True:
            pass
    if x == "set":
        return {1, 2}
    return {"root": math.sqrt(abs(x)) * scale, "sign": x >= 0}
"""


def task(kind: str, inp: dict[str, Any], out: Any) -> PredictionTask:
    return PredictionTask(
        id=PredictionTask.make_id("f-test", 0, kind),  # type: ignore[arg-type]
        func_id="f-test",
        io_index=0,
        kind=kind,  # type: ignore[arg-type]
        prompt="",
        pair=IOPair(input=inp, output=out),
        refcode=CODE,
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2, limits=ExecLimits(timeout_s=2.0)) as sb:
        yield sb


@pytest.fixture()
def verifier(sandbox: Sandbox) -> Verifier:
    return Verifier(sandbox)


OUT = task("output", {"x": 2}, {"root": 1.4142135623730951, "sign": True})
INP = task("input", {"x": 4}, {"root": 2.0, "sign": True})


def test_output_correct_with_rounded_float(verifier: Verifier) -> None:
    turn = verifier.verify(
        OUT, 'sqrt(2) is about 1.4142, so\n{"output": {"root": 1.4142, "sign": true}}'
    )
    assert turn.has_answer and turn.verdict is not None
    assert turn.verdict.status == "correct"


def test_output_wrong_never_reveals_the_answer(verifier: Verifier) -> None:
    turn = verifier.verify(OUT, '{"output": {"root": 1.5, "sign": true}}')
    assert turn.verdict is not None and turn.verdict.status == "wrong"
    assert "1.414" not in turn.verdict.feedback
    assert '{"x": 2}' in turn.verdict.feedback and "1.5" in turn.verdict.feedback


def test_output_bool_is_not_a_number(verifier: Verifier) -> None:
    t = task("output", {"x": 1}, 1)
    verdict = verifier.verify(t, '{"output": true}').verdict
    assert verdict is not None and verdict.status == "wrong"


def test_no_answer_asks_for_the_json_format(verifier: Verifier) -> None:
    turn = verifier.verify(INP, "I believe x is 4.")
    assert not turn.has_answer and turn.verdict is not None
    assert turn.verdict.status == "no_answer"
    assert '{"input":' in turn.verdict.feedback


def test_any_input_giving_the_output_is_correct(verifier: Verifier) -> None:
    turn = verifier.verify(INP, '{"input": {"x": 1, "scale": 2.0}}')
    assert turn.verdict is not None and turn.verdict.status == "correct", turn.verdict
    assert turn.verdict.actual_output == {"root": 2.0, "sign": True}


def test_wrong_input_shows_what_it_produces(verifier: Verifier) -> None:
    turn = verifier.verify(INP, '{"input": {"x": -4}}')
    verdict = turn.verdict
    assert verdict is not None and verdict.status == "wrong"
    assert verdict.actual_output == {"root": 2.0, "sign": False}
    assert '"sign": false' in verdict.feedback and '{"x": -4}' in verdict.feedback


def test_exception_is_reported(verifier: Verifier) -> None:
    verdict = verifier.verify(INP, '{"input": {"x": "boom"}}').verdict
    assert verdict is not None and verdict.status == "error"
    assert "ValueError: boom happened" in verdict.feedback


def test_unserializable_result_is_an_error(verifier: Verifier) -> None:
    verdict = verifier.verify(INP, '{"input": {"x": "set"}}').verdict
    assert verdict is not None and verdict.status == "error"


def test_timeout(verifier: Verifier) -> None:
    verdict = verifier.verify(INP, '{"input": {"x": "loop"}}').verdict
    assert verdict is not None and verdict.status == "timeout"
    assert "[Timeout]" in verdict.feedback


@pytest.mark.parametrize(
    ("response", "needle"),
    [
        ('{"input": {"y": 4}}', "unexpected argument 'y'"),
        ('{"input": {"scale": 4}}', "missing required argument 'x'"),
        ('{"input": [4]}', "dictionary"),
        ('{"input": 4}', "dictionary"),
        ("{'input': {1: 4}}", "argument names"),
    ],
)
def test_invalid_kwargs_get_clear_feedback(verifier: Verifier, response: str, needle: str) -> None:
    turn = verifier.verify(INP, response)
    assert turn.has_answer and turn.verdict is not None
    assert turn.verdict.status == "error" and needle in turn.verdict.feedback


class FlakySandbox:
    """A real Sandbox whose engine fails the first ``failures`` times each task is run.

    Engine failures cannot be provoked on purpose in the real one; this keeps the real execution
    and only injects the ``sandbox_error`` result, counting which API the verifier used.
    """

    def __init__(self, inner: Sandbox, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.seen: dict[str, int] = {}
        self.map_calls = 0
        self.run_calls = 0

    def _fail(self, key: str) -> bool:
        self.seen[key] = self.seen.get(key, 0) + 1
        return self.seen[key] <= self.failures

    def run(
        self,
        code: str,
        entry: str | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        limits: ExecLimits | None = None,
    ) -> ExecResult:
        self.run_calls += 1
        if self._fail(repr(kwargs)):
            return ExecResult(status=Status.SANDBOX_ERROR, error_message="injected")
        return self.inner.run(code, entry, kwargs, limits=limits)

    def map(self, tasks: Iterable[ExecTask], *, ordered: bool = True) -> Iterator[ExecResult]:
        self.map_calls += 1
        tasks = list(tasks)
        real = iter(self.inner.map(tasks, ordered=True))
        for t in tasks:
            result = next(real)
            yield (
                ExecResult(status=Status.SANDBOX_ERROR, error_message="injected")
                if self._fail(repr(t.kwargs))
                else result
            )


def test_engine_failures_are_retried_not_blamed(sandbox: Sandbox) -> None:
    flaky = FlakySandbox(sandbox, failures=2)
    verdict = Verifier(flaky, retries=2).verify(INP, '{"input": {"x": 4}}').verdict  # type: ignore[arg-type]
    assert verdict is not None and verdict.status == "correct" and flaky.run_calls == 3


def test_persistent_engine_failure_raises(sandbox: Sandbox) -> None:
    flaky = FlakySandbox(sandbox, failures=5)
    verifier = Verifier(flaky, retries=1)  # type: ignore[arg-type]
    with pytest.raises(SandboxError):
        verifier.verify(INP, '{"input": {"x": 4}}')
    with pytest.raises(SandboxError):
        list(verifier.verify_many([(INP, '{"input": {"x": 9}}')]))
    turns = list(
        verifier.verify_many(
            [(INP, '{"input": {"x": 16}}'), (OUT, "none")], on_sandbox_error="unverified"
        )
    )
    assert turns[0].verdict is None and turns[1].verdict is not None


def test_verify_many_is_ordered_and_uses_the_batch_api(sandbox: Sandbox) -> None:
    flaky = FlakySandbox(sandbox, failures=1)  # every execution fails once, then succeeds
    verifier = Verifier(flaky, retries=2, batch_size=4)  # type: ignore[arg-type]
    items = []
    for i in range(10):
        items.append((INP, f'{{"input": {{"x": {i}}}}}'))
        items.append((OUT, '{"output": {"root": 1.41421, "sign": true}}'))
    items.append((INP, "no answer here"))
    turns = list(verifier.verify_many(items))
    assert len(turns) == len(items)
    statuses = [t.verdict.status for t in turns if t.verdict]
    assert statuses[::2][:10] == ["correct" if i == 4 else "wrong" for i in range(10)]
    assert statuses[1::2][:10] == ["correct"] * 10
    assert statuses[-1] == "no_answer"
    assert [t.response for t in turns] == [r for _, r in items]
    assert flaky.run_calls == 0 and flaky.map_calls >= 3


def test_outputs_need_no_sandbox() -> None:
    turns = list(Verifier(None).verify_many([(OUT, '{"output": {"root": 1.4142, "sign": true}}')]))
    assert turns[0].verdict is not None and turns[0].verdict.status == "correct"


DATACLASS_CODE = """
from dataclasses import dataclass, field

@dataclass
class Point:
    x: int
    tags: list = field(default_factory=list)

def main_solution(x):
    return Point(x).x * 2
"""


def test_dataclass_refcode_is_re_run_for_an_input_prediction(verifier: Verifier) -> None:
    # @dataclass looks its module up in sys.modules: the re-run must register the refcode there.
    t = task("input", {"x": 2}, 4).model_copy(update={"refcode": DATACLASS_CODE})
    right = verifier.verify(t, '```json\n{"input": {"x": 2}}\n```').verdict
    wrong = verifier.verify(t, '```json\n{"input": {"x": 3}}\n```').verdict
    assert right is not None and right.status == "correct", right
    assert wrong is not None and wrong.status == "wrong" and wrong.actual_output == 6, wrong
