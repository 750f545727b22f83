"""``TraceTeacherBackend``: the offline teacher that answers from an execution trace.

It reads ``request.context`` (see docs/ARCHITECTURE.md), runs the function under the tracer in
a sandbox it owns (or one it is given), and writes the rationale. The sandbox call is blocking,
so it runs in a worker thread and the client's event loop stays free.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from collections import OrderedDict
from concurrent.futures import Future
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
from codeio.llm.trace_teacher.runner import TEACHER_TIMEOUT, TRACE_LIMITS, Trace, run_trace
from codeio.llm.trace_teacher.slips import perturb, perturb_kwargs
from codeio.llm.trace_teacher.unify import unify_answer

__all__ = ["TraceTeacherBackend"]

_SLIP_TRIES = 6

TRACE_CACHE_SIZE = 4096
"""Traced calls remembered per process. The output- and the input-prediction task of one pair,
and its revision turns, need the same trace; their ids are content hashes, so a pipeline reaches
them far apart. An entry keeps the value and the narrated story but not the raw events (a few
KB), so the bound keeps memory flat however large the run is."""


class _TraceCache:
    """Bounded LRU of ``key -> Future[(trace, story)]``; a request that arrives while the same
    trace is running waits for it instead of running the sandbox a second time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Future[tuple[Trace, str]]] = OrderedDict()

    def claim(self, key: str) -> tuple[Future[tuple[Trace, str]], bool]:
        """The entry's future, and whether the caller must compute it (it was missing)."""
        with self._lock:
            fut = self._items.get(key)
            if fut is not None:
                self._items.move_to_end(key)
                return fut, False
            fut = Future()
            self._items[key] = fut
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return fut, True

    def forget(self, key: str, fut: Future[tuple[Trace, str]]) -> None:
        with self._lock:
            if self._items.get(key) is fut:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


# Process-wide: generate and revise open separate clients (and backends) in one process, and
# revise re-asks about the very calls generate traced.
_TRACES = _TraceCache(TRACE_CACHE_SIZE)


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
        trace_timeout_s: float | None = None,
        trace_cpu_s: float | None = None,
    ) -> None:
        if "=" in model:  # spec ``trace:mistake_rate=0.25,seed=1`` arrives as the model argument
            spec_options = _parse_options(model)
            model = "trace-teacher"
            mistake_rate = float(spec_options.pop("mistake_rate", mistake_rate))
            seed = int(spec_options.pop("seed", seed))
            budget = int(spec_options.pop("budget", budget))
            if "trace_timeout_s" in spec_options:
                trace_timeout_s = float(spec_options.pop("trace_timeout_s"))
            if "trace_cpu_s" in spec_options:
                trace_cpu_s = float(spec_options.pop("trace_cpu_s"))
            if spec_options:
                raise ValueError(f"unknown trace teacher options: {', '.join(spec_options)}")
        if not 0.0 <= float(mistake_rate) <= 1.0:
            raise ValueError(f"mistake_rate must be within [0, 1], got {mistake_rate}")
        self.model = model
        self.mistake_rate = float(mistake_rate)
        self.seed = int(seed)
        self.budget = int(budget)
        self.limits = limits or TRACE_LIMITS
        # A traced call runs many times slower than the function itself: a few slow functions
        # can hold a run for minutes at the default limits, so a run may bound them (the
        # prediction then fails as teacher_timeout, like any other traced run that times out).
        update = {}
        for name, value in (("timeout_s", trace_timeout_s), ("cpu_s", trace_cpu_s)):
            if value is not None:
                if not float(value) > 0:
                    raise ValueError(f"trace_{name} must be > 0, got {value}")
                update[name] = float(value)
        if update:
            self.limits = self.limits.model_copy(update=update)
        self._workers = workers
        self._sandbox = sandbox
        self._owns_sandbox = sandbox is None
        self._lock = threading.Lock()
        self.trace_runs = 0
        """Traced sandbox executions actually run (cache misses); for tests and benchmarks."""

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
        trace, story = self._trace(refcode, funcname, kwargs)
        if trace.failure == TEACHER_TIMEOUT:
            raise LLMError(
                f"the traced run of {funcname} hit the teacher's time limit "
                f"({self.limits.timeout_s:g} s wall, {self.limits.cpu_s or 0:g} s CPU)",
                reason=TEACHER_TIMEOUT,
            )
        if trace.failure is not None:
            raise LLMError(f"tracing failed: {trace.failure}", reason=Reason.BACKEND)
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
            text = output_rationale(funcname, kwargs, story, answer, opening=opening)
        else:
            text = input_rationale(
                funcname, refcode, kwargs, target, story, matches=matches, opening=opening
            )
        if context.get("answer_format") == "python":
            return _python_answer(text, kind, context, trace)
        return text

    def _trace(self, refcode: str, funcname: str, kwargs: dict[str, Any]) -> tuple[Trace, str]:
        """(trace, narrated story) through a bounded cache keyed by (refcode, funcname, input).

        Rechecked functions are deterministic, so the trace of one call is reusable, and so is
        its narration (the costliest pure-Python step); a failed trace (timeout, sandbox error)
        is not cached, so a retry really runs again. Limits and budget are part of the key: they
        change whether a trace fails and what the story says.
        """
        key = content_id(
            "trace",
            refcode,
            funcname,
            kwargs,
            repr(self.limits),
            self.budget,
            self.seed,
            length=32,
        )
        fut, owner = _TRACES.claim(key)
        if not owner:
            return fut.result()
        try:
            trace = run_trace(
                self.sandbox,
                refcode,
                funcname,
                kwargs,
                limits=self.limits,
                random_seed=self._random_seed(refcode, funcname, kwargs),
            )
            story = ""
            if trace.failure is None:
                story = narrate_trace(refcode, trace.as_dict(), budget=self.budget)
                # The events are only the narration's input: dropping them keeps entries small.
                trace = dataclasses.replace(trace, events=[])
        except BaseException as exc:
            _TRACES.forget(key, fut)
            fut.set_exception(exc)
            raise
        with self._lock:  # several request threads finish traces at once
            self.trace_runs += 1
        if trace.failure is not None:
            _TRACES.forget(key, fut)
        fut.set_result((trace, story))
        return trace, story

    def _random_seed(self, refcode: str, funcname: str, kwargs: dict[str, Any]) -> int:
        """The seed of ``random`` in one traced call: the run's seed and the call itself, so a
        function that draws random numbers is narrated identically in every run (and on Ray)."""
        call = content_id(refcode, funcname, kwargs)
        return derive_seed(self.seed, "trace-random", call) % (2**32)

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
                self.sandbox,
                refcode,
                funcname,
                candidate,
                limits=self.limits,
                max_events=1,
                random_seed=self._random_seed(refcode, funcname, candidate),
            )
            if other.error is not None or not other.value_ok or not _same(other.value, trace.value):
                return candidate
        return None


def _python_answer(text: str, kind: str, context: dict[str, Any], trace: Trace) -> str:
    """End with a CRUXEval-style ``[ANSWER]`` block holding a Python literal instead of JSON.

    Benchmarks such as CRUXEval compare Python values (tuples, sets, bytes, int-keyed dicts)
    that JSON cannot carry, so the answer is the full ``repr`` computed in the sandbox (for an
    output) or the given argument list (for an input).
    """
    if kind == "output":
        literal = trace.value_literal
    else:
        args = context.get("args_literal")
        # CRUXEval's function is always ``f``; the context's funcname may be a call wrapper.
        name = "f" if context.get("benchmark") == "cruxeval" else context.get("funcname") or "f"
        literal = f"{name}({args})" if args is not None else None
    if literal is None:
        return text
    head, fence, _ = text.rpartition("```json")
    body = head.rstrip() if fence else text.rstrip()
    return f"{body}\n\n[ANSWER]\n{literal}\n[/ANSWER]"


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
