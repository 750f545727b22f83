"""Re-run stored pairs in a fresh sandbox task and say which ones do not reproduce.

A pair is only worth storing if ``main_solution(**stored_input)`` gives ``stored_output`` again
anywhere. The replay therefore runs in another task (fresh temp dir: files the generator wrote are
gone), on a sandbox with another PYTHONHASHSEED (set order), with the global RNGs seeded
differently (unseeded ``random``/``numpy``), and from the input decoded from its stored JSON
(tuples became lists, int keys became strings, and nothing the first call mutated leaks in).

Comparison is exact canonical-JSON equality. That is strict on purpose: both runs use the same
interpreter and libraries, so any difference, even in the last bit of a float, means the output
depends on something other than the input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codeio.exec import ExecLimits, ExecResult, ExecTask, Sandbox, Status
from codeio.ids import canonical_json
from codeio.pipeline.sample.harness import (
    NAMESPACE_PRELUDE,
    REPLAY_BATCH_ENTRY,
    REPLAY_ENTRY,
    harness_code,
    prelude_for,
)
from codeio.records import IOPair

__all__ = [
    "PairMismatch",
    "Replay",
    "StopAtFirst",
    "compare_pairs",
    "outputs_equal",
    "replay_batch_task",
    "replay_task",
    "run_replay",
    "truncate",
]

_SHOW_CHARS = 160


def truncate(value: Any, limit: int = _SHOW_CHARS) -> str:
    """A short, JSON-ish rendering of ``value`` for failure details."""
    try:
        text = canonical_json(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def outputs_equal(expected: Any, got: Any, *, float_rel_tol: float = 0.0) -> bool:
    """Canonical-JSON equality; with ``float_rel_tol`` > 0, floats may differ by that much.

    The tolerance only ever applies float-to-float (``1`` never equals ``1.0``, ``True`` never
    equals ``1``), and containers must match in shape and keys.
    """
    if canonical_json(expected) == canonical_json(got):
        return True
    if float_rel_tol <= 0:
        return False
    return _close(expected, got, float_rel_tol)


def _close(a: Any, b: Any, tol: float) -> bool:
    if type(a) is float and type(b) is float:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=tol, abs_tol=0.0)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Replay:
    """What one replay task gave: per-input outcomes, or why there are none."""

    results: list[dict[str, Any]] = field(default_factory=list)
    """One ``{"status": "ok", "output": ...}`` or ``{"status": ..., "error": ...}`` per input."""
    error: str | None = None
    """Set when the task as a whole failed (could not load the code, timed out, ...)."""
    reason: str | None = None
    """Machine tag for ``error``: ``refcode_error``, ``timeout``, ``sandbox_error``, ..."""
    phases_s: dict[str, float] = field(default_factory=dict)
    """Seconds the replay task spent by phase (for profiles; empty from older harnesses)."""
    task_s: float | None = None
    """The task's wall time from fork to exit, as the sandbox measured it."""


@dataclass(frozen=True)
class PairMismatch:
    index: int
    expected: Any
    got: str
    """The re-run output (truncated JSON) or the error it raised."""

    def describe(self) -> str:
        return f"pair {self.index}: expected {truncate(self.expected)}, got {self.got}"


def replay_task(
    refcode: str,
    funcname: str,
    inputs: Sequence[dict[str, Any]],
    *,
    seed: int,
    call_timeout_s: float,
    limits: ExecLimits,
    prelude: str = NAMESPACE_PRELUDE,
    stop_at_first: StopAtFirst | None = None,
    max_timeouts: int | None = None,
) -> ExecTask:
    """A sandbox task that calls ``funcname`` once per input, each decoded from its JSON text
    (with ``stop_at_first``: up to the first output that differs, in its cost order if it has
    one). With ``max_timeouts``, smallest input first, and once that many calls have timed out
    the rest come back ``skipped``."""
    texts = [json.dumps(item, allow_nan=True) for item in inputs]
    kwargs: dict[str, Any] = {
        "refcode": refcode,
        "funcname": funcname,
        "inputs": texts,
        "seed": seed,
        "call_timeout_s": call_timeout_s,
        "prelude": prelude_for(prelude, refcode),
    }
    if max_timeouts is not None:
        # The input's JSON length is the cost estimate there is before anything ran: the
        # calls that time out then come last, after the cheap pairs had their chance.
        kwargs["order"] = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        kwargs["max_timeouts"] = max_timeouts
    if stop_at_first is not None:
        kwargs.update(stop_at_first.kwargs())
    return ExecTask(code=harness_code(), entry=REPLAY_ENTRY, kwargs=kwargs, limits=limits)


@dataclass(frozen=True)
class StopAtFirst:
    """The stored outputs a re-run compares with as it goes, stopping at the first that differs
    (the function is dropped whatever the other pairs give), and the order to run the pairs in:
    cheapest first, so a difference shows before the slow pairs run. The pairs it did not run
    come back ``skipped``, which ``compare_pairs`` counts as not reproduced."""

    expected: list[Any]
    cost_s: list[float] = field(default_factory=list)
    """Any cost estimate per pair (seconds, input size): only its order is used."""
    float_rel_tol: float = 0.0
    """How far a float may be from its expected value and still match (``outputs_equal``)."""

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"expected": [canonical_json(o) for o in self.expected]}
        if len(self.cost_s) == len(self.expected):
            # Without costs the task's own order stands (stored order, or smallest input first).
            out["order"] = sorted(range(len(self.expected)), key=lambda i: self.cost_s[i])
        if self.float_rel_tol > 0:
            out["rel_tol"] = self.float_rel_tol
        return out


def replay_batch_task(
    items: Sequence[tuple[str, str, Sequence[dict[str, Any]], int]],
    *,
    call_timeout_s: float,
    limits: ExecLimits,
    prelude: str = NAMESPACE_PRELUDE,
    stop_at_first: Sequence[StopAtFirst] | None = None,
) -> ExecTask:
    """One task replaying several functions: ``items`` are (refcode, funcname, inputs, seed);
    ``stop_at_first``: one per item (see ``StopAtFirst``)."""
    functions = [
        {
            "refcode": refcode,
            "funcname": funcname,
            "inputs": [json.dumps(item, allow_nan=True) for item in inputs],
            "seed": seed,
        }
        for refcode, funcname, inputs, seed in items
    ]
    if stop_at_first is not None:
        for function, stop in zip(functions, stop_at_first, strict=True):
            function.update(stop.kwargs())
    return ExecTask(
        code=harness_code(),
        entry=REPLAY_BATCH_ENTRY,
        kwargs={
            "functions": functions,
            "call_timeout_s": call_timeout_s,
            # One prelude for the batch: with numpy if any of them may use it.
            "prelude": prelude_for(prelude, *(refcode for refcode, _, _, _ in items)),
        },
        limits=limits,
    )


def to_replays(result: ExecResult, count: int) -> list[Replay] | None:
    """The replays of a batch task, or None when the task as a whole failed (run them alone)."""
    payload = result.value
    if result.status is not Status.OK or not isinstance(payload, list) or len(payload) != count:
        return None
    share = result.duration_s / max(1, count)
    return [_payload_replay(item or {}, share) for item in payload]


def _payload_replay(payload: dict[str, Any], task_s: float | None) -> Replay:
    setup = payload.get("setup_error")
    if setup:
        return Replay(error=f"{setup['where']}: {setup['error']}", reason=f"{setup['where']}_error")
    return Replay(
        results=list(payload.get("results") or []),
        phases_s=payload.get("phases_s") or {},
        task_s=task_s,
    )


def replay_limits(base: ExecLimits, n_inputs: int, call_timeout_s: float) -> ExecLimits:
    """Enough wall time for every call to use its own timeout, plus start-up slack."""
    timeout = max(base.timeout_s, n_inputs * call_timeout_s + 5.0)
    return base.model_copy(update={"timeout_s": timeout, "cpu_s": None})


def to_replay(result: ExecResult) -> Replay:
    """Interpret a replay task's result."""
    if result.status is not Status.OK:
        reason = "sandbox_error" if result.status is Status.SANDBOX_ERROR else result.status.value
        detail = f"{result.error_type}: {result.error_message}" if result.error_type else reason
        return Replay(error=detail[:400], reason=reason)
    return _payload_replay(result.value or {}, result.duration_s)


def run_replay(sandbox: Sandbox, task: ExecTask, *, retries: int) -> Replay:
    """Run a replay task, retrying engine failures (never the code's own)."""
    result = sandbox.run_task(task)
    for _ in range(retries):
        if result.status is not Status.SANDBOX_ERROR:
            break
        result = sandbox.run_task(task)
    return to_replay(result)


def outcome_text(outcome: dict[str, Any]) -> str:
    if outcome.get("status") == "ok":
        return truncate(outcome.get("output"))
    return f"{outcome.get('status')}: {outcome.get('error', '')}"[:_SHOW_CHARS]


def compare_pairs(
    pairs: Sequence[IOPair], replay: Replay, *, float_rel_tol: float = 0.0
) -> list[PairMismatch]:
    """The pairs whose replayed output differs from the stored one (all of them on task error)."""
    mismatches = []
    for index, pair in enumerate(pairs):
        if replay.error is not None:
            mismatches.append(PairMismatch(index, pair.output, f"task failed: {replay.error}"))
            continue
        outcome = replay.results[index] if index < len(replay.results) else {"status": "missing"}
        if outcome.get("status") == "ok" and outputs_equal(
            pair.output, outcome.get("output"), float_rel_tol=float_rel_tol
        ):
            continue
        mismatches.append(PairMismatch(index, pair.output, outcome_text(outcome)))
    return mismatches
