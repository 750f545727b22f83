"""The Verifier: turns a model response into a judged Turn.

Output predictions are compared with the stored output (no execution). Input predictions are
checked against the entry function's signature, then re-executed in the sandbox, and the output
they really produce is compared with the stored one -- any input that gives the output is right.
The engine's own failures (``sandbox_error``) are retried and never blamed on the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

from codeio.errors import ConfigError, SandboxError
from codeio.exec.result import ExecResult, Status
from codeio.pipeline.prelude import REFCODE_PRELUDE, with_prelude
from codeio.pipeline.verify import feedback
from codeio.pipeline.verify.compare import values_equal
from codeio.pipeline.verify.extract import Extracted, extract_answer
from codeio.pipeline.verify.signature import FunctionSignature, check_kwargs, read_signature
from codeio.records import PredictionTask, Turn, Verdict

if TYPE_CHECKING:
    from codeio.exec import Sandbox
    from codeio.exec.limits import ExecLimits

__all__ = ["Verifier"]

OnSandboxError = Literal["raise", "unverified"]


@dataclass
class _Item:
    task: PredictionTask
    response: str
    extracted: Extracted
    verdict: Verdict | None = None
    kwargs: dict[str, Any] | None = None
    """Set while the item waits for an execution."""


class Verifier:
    """Judges predictions; input predictions run through ``sandbox`` (may be None for outputs only)."""

    def __init__(
        self,
        sandbox: Sandbox | None,
        *,
        rel_tol: float = 1e-3,
        abs_tol: float = 1e-6,
        retries: int = 2,
        limits: ExecLimits | None = None,
        batch_size: int = 1024,
        prelude: str = REFCODE_PRELUDE,
    ) -> None:
        if retries < 0 or batch_size < 1:
            raise ConfigError("retries must be >= 0 and batch_size >= 1")
        self.sandbox = sandbox
        # Predicted inputs must run with the same names in scope as the sampled ones did.
        self.prelude = prelude
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        self.retries = retries
        self.limits = limits
        self.batch_size = batch_size
        # Many tasks share one function: parse each function's signature once per verifier.
        self._signatures: dict[tuple[str, str], FunctionSignature | None] = {}

    # -- one at a time -------------------------------------------------------------------------

    def check_answer(self, task: PredictionTask, answer: Any) -> Verdict:
        """Judge an already extracted ``answer`` for ``task``."""
        item = _Item(task, "", Extracted(True, answer))
        self._prepare(item)
        if item.verdict is not None:
            return item.verdict
        assert item.kwargs is not None
        return self._judge_run(item, self._run_with_retries(task, item.kwargs))

    def verify(self, task: PredictionTask, response: str) -> Turn:
        """Extract the answer from ``response`` and judge it."""
        extracted = extract_answer(response, task.kind)
        if not extracted.found:
            return _turn(_Item(task, response, extracted, _no_answer(task, extracted)))
        verdict = self.check_answer(task, extracted.value)
        if extracted.note:
            verdict = verdict.model_copy(update={"detail": _join(extracted.note, verdict.detail)})
        return _turn(_Item(task, response, extracted, verdict))

    # -- many at once --------------------------------------------------------------------------

    def verify_many(
        self,
        items: Iterable[tuple[PredictionTask, str]],
        *,
        on_sandbox_error: OnSandboxError = "raise",
    ) -> Iterator[Turn]:
        """Judge many responses, in input order; executions go through the sandbox's batch API.

        When the engine keeps failing for an item: ``"raise"`` raises SandboxError; ``"unverified"``
        yields that item's Turn with ``verdict=None`` so the caller can record a failure.
        """
        iterator = iter(items)
        while batch := list(islice(iterator, self.batch_size)):
            yield from self._verify_batch(batch, on_sandbox_error)

    def _verify_batch(
        self, batch: list[tuple[PredictionTask, str]], on_sandbox_error: OnSandboxError
    ) -> Iterator[Turn]:
        prepared: list[_Item] = []
        for task, response in batch:
            extracted = extract_answer(response, task.kind)
            item = _Item(task, response, extracted)
            if extracted.found:
                self._prepare(item)
            else:
                item.verdict = _no_answer(task, extracted)
            prepared.append(item)
        waiting = [item for item in prepared if item.verdict is None]
        for _ in range(self.retries + 1):
            if not waiting:
                break
            waiting = self._execute(waiting)
        if waiting and on_sandbox_error == "raise":
            raise SandboxError(
                f"the sandbox failed on {len(waiting)} task(s) after {self.retries} retries, "
                f"e.g. {waiting[0].task.id}"
            )
        for item in prepared:
            if item.verdict is not None and item.extracted.note:
                detail = _join(item.extracted.note, item.verdict.detail)
                item.verdict = item.verdict.model_copy(update={"detail": detail})
            yield _turn(item)

    def _execute(self, waiting: list[_Item]) -> list[_Item]:
        """Run every waiting item once; returns the ones the engine failed on."""
        from codeio.exec import ExecTask  # the engine is only needed once something must run

        sandbox = self._need_sandbox()
        jobs = [
            ExecTask(
                code=with_prelude(item.task.refcode, self.prelude),
                entry=item.task.funcname,
                kwargs=item.kwargs,
                limits=self.limits,
            )
            for item in waiting
        ]
        failed: list[_Item] = []
        for item, result in zip(waiting, sandbox.map(jobs, ordered=True), strict=True):
            if result.status is Status.SANDBOX_ERROR:
                failed.append(item)
            else:
                item.verdict = self._judge_run(item, result)
        return failed

    # -- shared logic --------------------------------------------------------------------------

    def _prepare(self, item: _Item) -> None:
        """Decide what needs no execution; otherwise leave ``item.kwargs`` for a run."""
        task, answer = item.task, item.extracted.value
        if task.kind == "output":
            ok = values_equal(answer, task.pair.output, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
            item.verdict = (
                Verdict(status="correct", feedback=feedback.correct("output"))
                if ok
                else Verdict(
                    status="wrong", feedback=feedback.output_wrong(task.pair.input, answer)
                )
            )
            return
        problem = _kwargs_problem(task, answer) or self._signature_problem(task, answer)
        if problem is not None:
            item.verdict = Verdict(
                status="error", feedback=feedback.input_invalid(answer, problem), detail=problem
            )
            return
        item.kwargs = dict(answer)

    def _signature_problem(self, task: PredictionTask, kwargs: dict[str, Any]) -> str | None:
        key = (task.refcode, task.funcname)
        if key not in self._signatures:
            self._signatures[key] = read_signature(task.refcode, task.funcname)
        signature = self._signatures[key]
        return check_kwargs(signature, kwargs) if signature is not None else None

    def _judge_run(self, item: _Item, result: ExecResult) -> Verdict:
        task, answer = item.task, item.extracted.value
        if result.status is Status.OK:
            if values_equal(
                result.value, task.pair.output, rel_tol=self.rel_tol, abs_tol=self.abs_tol
            ):
                return Verdict(
                    status="correct", feedback=feedback.correct("input"), actual_output=result.value
                )
            return Verdict(
                status="wrong",
                feedback=feedback.input_wrong(task.pair.output, answer, result.value),
                actual_output=result.value,
            )
        if result.status is Status.TIMEOUT:
            seconds = self._timeout_s() or result.duration_s
            return Verdict(
                status="timeout",
                feedback=feedback.input_timeout(answer, seconds, task.funcname),
                detail=f"timeout after {result.duration_s:.2f}s",
            )
        error_type, message = _describe_failure(result)
        return Verdict(
            status="error",
            feedback=feedback.input_error(answer, error_type, message, task.funcname),
            detail=result.traceback or f"{error_type}: {message}",
        )

    def _run_with_retries(self, task: PredictionTask, kwargs: dict[str, Any]) -> ExecResult:
        sandbox = self._need_sandbox()
        result: ExecResult | None = None
        for _ in range(self.retries + 1):
            result = sandbox.run(
                with_prelude(task.refcode, self.prelude),
                entry=task.funcname,
                kwargs=kwargs,
                limits=self.limits,
            )
            if result.status is not Status.SANDBOX_ERROR:
                return result
        detail = (result.error_message or "") if result else ""
        raise SandboxError(
            f"the sandbox failed on task {task.id} after {self.retries} retries: {detail}".rstrip(
                ": "
            )
        )

    def _need_sandbox(self) -> Sandbox:
        if self.sandbox is None:
            raise ConfigError("input prediction needs a Sandbox to re-execute the predicted input")
        return self.sandbox

    def _timeout_s(self) -> float | None:
        limits = self.limits or getattr(self.sandbox, "limits", None)
        return getattr(limits, "timeout_s", None)


def _kwargs_problem(task: PredictionTask, answer: Any) -> str | None:
    """Why ``answer`` is not a kwargs dict at all (the signature is checked separately)."""
    if not isinstance(answer, dict):
        return (
            f"it is a {_type_name(answer)}, but it must be a dictionary of keyword arguments of "
            f"{task.funcname}."
        )
    bad_keys = [k for k in answer if not isinstance(k, str)]
    if bad_keys:
        return f"its keys must be argument names (strings), not {feedback.show(bad_keys)}."
    return None


def _describe_failure(result: ExecResult) -> tuple[str, str]:
    if result.status is Status.ERROR:
        return result.error_type or "Exception", result.error_message or ""
    if result.status is Status.MEMORY:
        return "MemoryError", "the call exceeded the memory limit"
    if result.status is Status.OUTPUT_LIMIT:
        return "OutputLimitExceeded", "the call printed more output than allowed"
    signal = f" (signal {result.signal})" if result.signal else ""
    return "Crash", f"the process was killed{signal}"


def _no_answer(task: PredictionTask, extracted: Extracted) -> Verdict:
    return Verdict(
        status="no_answer", feedback=feedback.no_answer(task.kind), detail=extracted.note
    )


def _turn(item: _Item) -> Turn:
    found = item.extracted.found
    return Turn(
        response=item.response,
        answer=item.extracted.value if found else None,
        has_answer=found,
        verdict=item.verdict,
    )


def _type_name(value: Any) -> str:
    names = {list: "list", tuple: "list", str: "string", type(None): "null", bool: "boolean"}
    return names.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
