"""ClaimChecker: the process verdict of a turn, from its response and a trace of the real run."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from codeio.exec import ExecLimits, Sandbox
from codeio.pipeline.verify.claims.extract import extract_claims
from codeio.pipeline.verify.claims.feedback import contradiction_feedback
from codeio.pipeline.verify.claims.judge import code_names, judge_claims
from codeio.pipeline.verify.claims.trace import (
    ExecTrace,
    TraceBudget,
    trace_from_result,
    trace_task,
)
from codeio.pipeline.verify.compare import values_equal
from codeio.records import ClaimCheck, PredictionTask, ProcessVerdict, Turn

__all__ = ["MAX_KEPT", "ClaimChecker", "process_verdict", "trace_input"]

_NONDETERMINISTIC = re.compile(
    r"\brandom\.|\bnp\.random\b|\bnumpy\.random\b|\bfrom\s+random\s+import\b|\btime\.time\b"
    r"|\btime\.perf_counter\b|\bdatetime\.(?:datetime\.)?now\b|\buuid\b|\bsecrets\b|\burandom\b"
    r"|\b(?:date|datetime)\.today\b|\bdatetime\.utcnow\b|\btime\.(?:monotonic|time_ns|localtime)\b"
)

MAX_KEPT = 200
"""Claims kept per verdict in the run store; the counts cover all of them."""


def process_verdict(
    checks: list[ClaimCheck], *, truncated: bool = False, note: str = ""
) -> ProcessVerdict:
    first = next((c for c in checks if c.status == "contradicted"), None)
    return ProcessVerdict(
        supported=sum(c.status == "supported" for c in checks),
        contradicted=sum(c.status == "contradicted" for c in checks),
        unverifiable=sum(c.status == "unverifiable" for c in checks),
        first_contradiction=first,
        claims=checks[:MAX_KEPT],
        truncated=truncated,
        note=note,
    )


def trace_input(task: PredictionTask, turn: Turn) -> tuple[dict[str, Any] | None, Any, str]:
    """(kwargs to trace, the output that run must give, why none) for one turn.

    An output prediction narrates the given input. An input prediction narrates its own
    candidate: that is traced when the verifier ran it (its real output is then known).
    """
    if task.kind == "output":
        return dict(task.pair.input), task.pair.output, ""
    verdict = turn.verdict
    answer = turn.answer
    if (
        verdict is None
        or verdict.status not in ("correct", "wrong")
        or not isinstance(answer, dict)
        or not all(isinstance(k, str) for k in answer)
    ):
        return None, None, "no_candidate_input"
    expected = task.pair.output if verdict.status == "correct" else verdict.actual_output
    return dict(answer), expected, ""


class ClaimChecker:
    """Judges every claim of a response against a bounded trace recorded in ``sandbox``.

    Traces are cached by (code, function, input): the turns of one task and the output- and
    input-prediction tasks of one pair often narrate the same run.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        budget: TraceBudget | None = None,
        limits: ExecLimits | None = None,
        cache_size: int = 512,
    ) -> None:
        self.sandbox = sandbox
        self.budget = budget or TraceBudget()
        self.limits = limits
        self.cache_size = cache_size
        self._cache: OrderedDict[str, ExecTrace] = OrderedDict()
        self._lock = threading.Lock()
        self.traces_run = 0

    # -- traces ------------------------------------------------------------------------------
    @staticmethod
    def _key(refcode: str, funcname: str, kwargs: dict[str, Any]) -> str:
        return json.dumps([refcode, funcname, kwargs], sort_keys=True, default=repr)

    def traces(self, calls: Sequence[tuple[str, str, dict[str, Any]]]) -> list[ExecTrace]:
        """Traces of many calls; the missing ones run together through ``Sandbox.map``."""
        keys = [self._key(*c) for c in calls]
        # Hits are taken before anything runs: the fresh traces of a large batch may evict them.
        found: dict[str, ExecTrace] = {}
        missing: dict[str, tuple[str, str, dict[str, Any]]] = {}
        with self._lock:
            for k, c in zip(keys, calls, strict=True):
                hit = self._cache.get(k)
                if hit is not None:
                    found[k] = hit
                    self._cache.move_to_end(k)
                else:
                    missing[k] = c
        if missing:
            tasks = [
                trace_task(r, f, kw, budget=self.budget, limits=self.limits)
                for r, f, kw in missing.values()
            ]
            results = self.sandbox.map(tasks, ordered=True)
            for (k, c), res in zip(missing.items(), results, strict=True):
                found[k] = trace_from_result(res, c[0])
                found[k].depth_limit = self.budget.max_depth
            with self._lock:
                self.traces_run += len(missing)
                for k in missing:
                    self._cache[k] = found[k]
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
        return [found[k] for k in keys]

    def trace(self, refcode: str, funcname: str, kwargs: dict[str, Any]) -> ExecTrace:
        return self.traces([(refcode, funcname, kwargs)])[0]

    # -- verdicts ----------------------------------------------------------------------------
    def check_text(
        self,
        text: str,
        refcode: str,
        funcname: str,
        kwargs: dict[str, Any] | None,
        *,
        kind: str = "output",
        expected: Any = None,
        check_expected: bool = True,
        trace: ExecTrace | None = None,
    ) -> ProcessVerdict:
        """The process verdict of ``text`` narrating ``funcname(**kwargs)``."""
        claims = extract_claims(text, kind=kind)
        names = code_names(refcode)
        if kwargs is None:
            checks = judge_claims(claims, ExecTrace(ok=False), names)
            return process_verdict(checks, note="no_candidate_input")
        if trace is None:
            trace = self.trace(refcode, funcname, kwargs)
        note = ""
        if not trace.ok:
            note = "no_trace" if trace.failure is None else f"no_trace: {trace.failure}"
        elif check_expected and not _reproduces(trace, expected):
            # Not the run the task is about (randomness, mutated input): judge nothing.
            trace, note = ExecTrace(ok=False), "trace_differs"
        elif _NONDETERMINISTIC.search(refcode):
            # Random draws, clocks: another run's intermediate values need not be these ones.
            trace, note = ExecTrace(ok=False), "nondeterministic_code"
        checks = judge_claims(claims, trace, names)
        if note:
            checks = [c.model_copy(update={"status": "unverifiable", "note": note}) for c in checks]
        elif kind == "input":
            checks = _other_candidates(checks, claims, kwargs)
        verdict = process_verdict(checks, truncated=trace.cut is not None, note=note)
        # An output prediction's expected output is its answer: feedback must never show it.
        hidden = expected if kind == "output" else None
        text = contradiction_feedback(
            verdict, hidden=hidden, hide=kind == "output" and expected is None
        )
        return verdict.model_copy(update={"feedback": text}) if text else verdict

    def check(self, task: PredictionTask, turn: Turn) -> ProcessVerdict:
        return self.check_many([(task, turn)])[0]

    def check_many(self, items: Sequence[tuple[PredictionTask, Turn]]) -> list[ProcessVerdict]:
        plans = [trace_input(task, turn) for task, turn in items]
        calls = [
            (task.refcode, task.funcname, kwargs)
            for (task, _), (kwargs, _, _) in zip(items, plans, strict=True)
            if kwargs is not None
        ]
        traces = iter(self.traces(calls)) if calls else iter(())
        out = []
        for (task, turn), (kwargs, expected, _) in zip(items, plans, strict=True):
            trace = next(traces) if kwargs is not None else None
            out.append(
                self.check_text(
                    turn.response,
                    task.refcode,
                    task.funcname,
                    kwargs,
                    kind=task.kind,
                    expected=expected,
                    trace=trace,
                )
            )
        return out

    def with_process(self, items: Sequence[tuple[PredictionTask, Turn]]) -> list[Turn]:
        """The turns with ``verdict.process`` filled in (turns without a verdict unchanged)."""
        judged = [(t, turn) for t, turn in items if turn.verdict is not None]
        verdicts = iter(self.check_many(judged))
        out = []
        for _, turn in items:
            if turn.verdict is None:
                out.append(turn)
                continue
            verdict = turn.verdict.model_copy(update={"process": next(verdicts)})
            out.append(turn.model_copy(update={"verdict": verdict}))
        return out


def _other_candidates(
    checks: list[ClaimCheck], claims: list[Any], kwargs: dict[str, Any]
) -> list[ClaimCheck]:
    """An input prediction may try other inputs before its answer: steps about those are not
    steps of the traced run. From a claim that sets an argument to a value other than the final
    answer's up to one that sets it back, claims are unverifiable (``other_candidate``)."""
    from codeio.pipeline.verify.claims.values import match

    events = [
        (claim.span[0], match(claim.value, kwargs[claim.name]) is not True)
        for claim in claims
        if claim.kind == "value" and claim.name in kwargs and claim.iteration is None
    ]
    if not any(differs for _, differs in events):
        return checks
    out = []
    for check in checks:
        latest = [differs for pos, differs in events if pos <= check.span[0]]
        if latest and latest[-1] and check.status != "unverifiable":
            check = check.model_copy(update={"status": "unverifiable", "note": "other_candidate"})
        out.append(check)
    return out


def _reproduces(trace: ExecTrace, expected: Any) -> bool:
    if trace.error is not None:
        return False
    if not trace.value_ok:
        return True  # a value JSON cannot carry: nothing to compare, the events still count
    return values_equal(trace.value, expected)
