"""``TraceTeacherBackend``: the offline teacher that answers from an execution trace.

It reads ``request.context`` (see docs/ARCHITECTURE.md), runs the function under the tracer in
a sandbox it owns (or one it is given), and writes the rationale. The sandbox call is blocking,
so it runs in a worker thread and the client's event loop stays free.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any, ClassVar

from codeio.errors import LLMError
from codeio.exec import ExecLimits, Sandbox
from codeio.ids import content_id, derive_seed
from codeio.llm.base import Completion, LLMBackend, LLMRequest, Reason
from codeio.llm.trace_teacher.narrate import narrate_trace
from codeio.llm.trace_teacher.rationale import (
    input_rationale,
    output_rationale,
    revision_opening,
    slip_rationale,
)
from codeio.llm.trace_teacher.runner import Trace, run_trace
from codeio.llm.trace_teacher.slips import perturb, perturb_kwargs
from codeio.llm.trace_teacher.unify import unify_answer

__all__ = ["TraceTeacherBackend"]

_SLIP_TRIES = 6


class TraceTeacherBackend(LLMBackend):
    """Answers prediction and unify requests without a model.

    Args:
        mistake_rate: fraction of first turns answered wrong on purpose (seeded per task).
        sandbox: a sandbox to use; by default one is started on first use and closed by
            ``close()``/``aclose()``.
        seed: mixed into the per-task seed that picks the deliberate mistakes.
        budget: rough upper bound, in characters, on the narrated trace.
    """

    kind: ClassVar[str] = "trace"
    name: ClassVar[str] = "trace"
    uses_context: ClassVar[bool] = True

    def __init__(
        self,
        model: str = "trace-teacher",
        *,
        mistake_rate: float = 0.0,
        sandbox: Sandbox | None = None,
        seed: int = 0,
        budget: int = 3000,
        workers: int | None = None,
        limits: ExecLimits | None = None,
    ) -> None:
        if "=" in model:  # spec ``trace:mistake_rate=0.25,seed=1`` arrives as the model argument
            spec_options = _parse_options(model)
            model = "trace-teacher"
            mistake_rate = float(spec_options.pop("mistake_rate", mistake_rate))
            seed = int(spec_options.pop("seed", seed))
            budget = int(spec_options.pop("budget", budget))
            if spec_options:
                raise ValueError(f"unknown trace teacher options: {', '.join(spec_options)}")
        if not 0.0 <= float(mistake_rate) <= 1.0:
            raise ValueError(f"mistake_rate must be within [0, 1], got {mistake_rate}")
        self.model = model
        self.mistake_rate = float(mistake_rate)
        self.seed = int(seed)
        self.budget = int(budget)
        self.limits = limits
        self._workers = workers
        self._sandbox = sandbox
        self._owns_sandbox = sandbox is None
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.kind,
            "model": self.model,
            "mistake_rate": self.mistake_rate,
            "seed": self.seed,
        }

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def sandbox(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                self._sandbox = Sandbox(workers=self._workers, limits=self.limits)
            return self._sandbox

    def close(self) -> None:
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None and self._owns_sandbox:
            sandbox.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # -- answering -----------------------------------------------------------------------------
    async def acomplete(self, request: LLMRequest) -> Completion:
        text = await asyncio.to_thread(self.respond, request.context)
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        return Completion(
            text=text,
            finish_reason="stop",
            prompt_tokens=prompt_words,
            completion_tokens=len(text.split()),
            model=self.model,
        )

    def respond(self, context: dict[str, Any]) -> str:
        """The answer text for one request context (blocking: runs the sandbox)."""
        task = context.get("task")
        if task == "unify":
            return unify_answer(str(context.get("content", "")))
        if task != "predict":
            raise LLMError(
                f"the trace teacher needs request.context with task 'predict' or 'unify', got {task!r}",
                reason=Reason.BAD_REQUEST,
            )
        try:
            kind = context["kind"]
            refcode, funcname = context["refcode"], context.get("funcname") or "main_solution"
            kwargs, target = dict(context["input"]), context.get("output")
        except (KeyError, TypeError) as exc:
            raise LLMError(
                f"prediction context is missing {exc}", reason=Reason.BAD_REQUEST
            ) from exc
        if kind not in ("input", "output"):
            raise LLMError(f"unknown prediction kind {kind!r}", reason=Reason.BAD_REQUEST)
        turn = int(context.get("turn") or 1)
        feedback = context.get("feedback")
        trace = run_trace(self.sandbox, refcode, funcname, kwargs, limits=self.limits)
        if trace.failure is not None:
            raise LLMError(f"tracing failed: {trace.failure}", reason=Reason.BACKEND)
        story = narrate_trace(refcode, trace.as_dict(), budget=self.budget)
        if turn == 1 and not feedback and self._slips(context):
            slip = self._slip(kind, refcode, funcname, kwargs, trace)
            if slip is not None:
                return slip_rationale(kind, funcname, kwargs, target, story, slip)
        opening = revision_opening(str(feedback)) if (turn > 1 or feedback) and feedback else ""
        matches = trace.value_ok and _same(trace.value, target)
        if kind == "output":
            # Answer with the stored value when the run reproduces it (exact JSON the verifier
            # expects); otherwise honestly with what the traced run returned.
            answer = target if matches else (trace.value if trace.value_ok else None)
            return output_rationale(funcname, kwargs, story, answer, opening=opening)
        return input_rationale(
            funcname, refcode, kwargs, target, story, matches=matches, opening=opening
        )

    # -- deliberate mistakes -------------------------------------------------------------------
    def _rng(self, context: dict[str, Any]) -> random.Random:
        key = context.get("task_id") or content_id(
            context.get("kind"),
            context.get("refcode"),
            context.get("funcname"),
            context.get("input"),
            context.get("output"),
        )
        return random.Random(derive_seed(self.seed, "trace-mistake", key))

    def _slips(self, context: dict[str, Any]) -> bool:
        return self.mistake_rate > 0 and self._rng(context).random() < self.mistake_rate

    def _slip(
        self, kind: str, refcode: str, funcname: str, kwargs: dict[str, Any], trace: Trace
    ) -> Any:
        """A wrong answer close to the right one; None when no plausible one is found."""
        if not trace.value_ok:
            return None
        rng = random.Random(derive_seed(self.seed, "trace-slip", content_id(kind, refcode, kwargs)))
        if kind == "output":
            return perturb(trace.value, rng)
        for _ in range(_SLIP_TRIES):
            candidate = perturb_kwargs(kwargs, rng)
            if candidate == kwargs:
                continue
            # A changed argument the function ignores would still be right: run it to be sure.
            other = run_trace(
                self.sandbox, refcode, funcname, candidate, limits=self.limits, max_events=1
            )
            if other.error is not None or not other.value_ok or not _same(other.value, trace.value):
                return candidate
        return None


def _same(a: Any, b: Any) -> bool:
    # The verifier's own equality, so "reproduces the stored value" means what it means there.
    from codeio.pipeline.verify.compare import values_equal

    return values_equal(a, b)


def _parse_options(text: str) -> dict[str, str]:
    options = {}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad trace teacher option {part!r}: expected NAME=VALUE")
        options[key.strip()] = val.strip()
    return options
