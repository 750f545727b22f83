"""Re-check records that already carry ``ios``: which stored pairs really reproduce?

Each record is replayed twice, once on each sandbox: different PYTHONHASHSEED, different global
random state, fresh temp dir, inputs decoded from their stored JSON. A pair is reproducible when
both runs give the stored output; that catches unseeded ``random``/``time`` and set-order
dependence (the two runs disagree) and input mutation at sampling time (the stored input is the
mutated one, so both runs agree with each other but not with the stored output).

Floats: the stored outputs were written by another machine. A float that went through a JSON
round trip there reads back bit-identical here, so exact equality is right in principle; but
numeric libraries (BLAS dot products, vectorised reductions) may legitimately differ in the last
bits between builds, so stored-vs-run compares floats with a relative tolerance of 1e-9 (far below
any real behaviour difference). Run-vs-run is exact: same machine, same libraries.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import tee
from typing import Any

from pydantic import BaseModel, ConfigDict

from codeio.exec import ExecTask, Sandbox, Status
from codeio.ids import derive_seed
from codeio.pipeline.sample.determinism import (
    Replay,
    StopAtFirst,
    outcome_text,
    outputs_equal,
    replay_limits,
    replay_task,
    to_replay,
    truncate,
)
from codeio.pipeline.sample.harness import NAMESPACE_PRELUDE
from codeio.records import FunctionRecord

__all__ = ["FLOAT_REL_TOL", "PairCheck", "RecheckResult", "recheck"]

FLOAT_REL_TOL = 1e-9
"""Stored-vs-run float tolerance (see the module docstring)."""

_AHEAD = 256
MAX_TIMEOUTS = 2
"""Calls of one function's replay that may time out before its remaining (larger) inputs are
skipped: on the reference's parsed corpus a handful of functions whose every pair times out
took three quarters of the recheck's time, a whole call timeout per pair and run."""
# When pairs fail for different reasons, the record's reason is the most telling one.
_PRECEDENCE = (
    "differs_between_runs",
    "stored_output_differs",
    "error",
    "timeout",
    "not_json",
    "skipped",
)


class PairCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    reproducible: bool
    reason: str
    """``ok``, ``differs_between_runs``, ``stored_output_differs``, ``error``, ``timeout``, ..."""
    detail: str = ""


class RecheckResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    deterministic: bool
    reason: str
    detail: str = ""
    pairs: list[PairCheck]

    def annotate(self, record: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``record`` with ``reproducible`` per pair and ``deterministic``/``reason``."""
        out = dict(record)
        ios = [dict(pair) for pair in record.get("ios") or []]
        for check in self.pairs:
            if check.index < len(ios):
                ios[check.index]["reproducible"] = check.reproducible
        out["ios"] = ios
        out["deterministic"] = self.deterministic
        out["reason"] = self.reason
        if self.detail:
            out["recheck_detail"] = self.detail
        return out


def recheck(
    fns: Iterable[FunctionRecord],
    sandbox: Sandbox,
    recheck_sandbox: Sandbox,
    *,
    seed: int = 0,
    call_timeout_s: float = 5.0,
    retries: int = 1,
    prelude: str = NAMESPACE_PRELUDE,
    float_rel_tol: float = FLOAT_REL_TOL,
    max_timeouts: int | None = MAX_TIMEOUTS,
    stop_at_first: bool = False,
) -> Iterator[RecheckResult]:
    """One ``RecheckResult`` per record, in order; both sandboxes run at the same time.

    Each replay runs the pairs smallest input first; with ``max_timeouts`` (None: no limit),
    once that many calls of a replay timed out its remaining pairs are not run (``skipped``,
    not reproducible). With ``stop_at_first`` each replay stops at the first pair that does
    not give its stored output (the rest are ``skipped``): for a caller that drops a record
    on any such pair, as the pipeline does, the rest could not save it."""
    if recheck_sandbox is sandbox or recheck_sandbox.hash_seed == sandbox.hash_seed:
        raise ValueError("recheck needs two sandboxes with different hash seeds")
    source = iter(fns)

    def tasks(box: Sandbox, fn: FunctionRecord, salt: str) -> ExecTask:
        stop = None
        if stop_at_first:
            # No costs: the pairs keep replay_task's order (smallest input first).
            outputs = [pair.output for pair in fn.ios]
            stop = StopAtFirst(outputs, float_rel_tol=float_rel_tol)
        return replay_task(
            fn.refcode,
            fn.funcname,
            [pair.input for pair in fn.ios],
            seed=derive_seed(seed, fn.id, salt),
            call_timeout_s=call_timeout_s,
            limits=replay_limits(box.limits, len(fn.ios), call_timeout_s),
            prelude=prelude,
            stop_at_first=stop,
            max_timeouts=max_timeouts,
        )

    # Two streams, one per sandbox, each reading the records as its lanes free up: a record
    # whose calls take seconds holds one lane, not the others (chunks of records waited for
    # their slowest at every chunk's end).
    for_a, for_b, for_judge = _shared(source, 3)
    runs_a = _replays(sandbox, (tasks(sandbox, fn, "a") for fn in for_a), retries)
    runs_b = _replays(recheck_sandbox, (tasks(recheck_sandbox, fn, "b") for fn in for_b), retries)
    for fn, run_a, run_b in zip(for_judge, runs_a, runs_b, strict=True):
        yield judge(fn, run_a, run_b, float_rel_tol=float_rel_tol)


def _shared(source: Iterator[FunctionRecord], n: int) -> list[Iterator[FunctionRecord]]:
    """``n`` independent iterators over ``source`` that threads may advance at once (the lanes
    of two sandboxes and the caller): ``tee`` copies share state and are not thread-safe."""
    lock = threading.Lock()

    def locked(copy: Iterator[FunctionRecord]) -> Iterator[FunctionRecord]:
        while True:
            with lock:
                item = next(copy, None)
            if item is None:
                return
            yield item

    return [locked(copy) for copy in tee(source, n)]


def _replays(box: Sandbox, tasks: Iterator[ExecTask], retries: int) -> Iterator[Replay]:
    """Each task's replay, in order, started ahead as lanes free up (at most ``_AHEAD`` tasks
    past the one the caller waits for, so a long input is not read into memory behind one
    slow record)."""
    sent: deque[ExecTask] = deque()  # the tasks handed to the lanes, in order (for retries)
    room = threading.Semaphore(_AHEAD)
    abandoned = threading.Event()

    def handed() -> Iterator[ExecTask]:
        for task in tasks:
            while not room.acquire(timeout=0.5):
                if abandoned.is_set():  # the caller stopped reading: end the lanes
                    return
            sent.append(task)
            yield task

    try:
        for result in box.map(handed(), ordered=True):
            task = sent.popleft()
            room.release()
            attempt = 0
            while result.status is Status.SANDBOX_ERROR and attempt < retries:
                result = box.run_task(task)
                attempt += 1
            yield to_replay(result)
    finally:
        abandoned.set()


def judge(
    fn: FunctionRecord, run_a: Replay, run_b: Replay, *, float_rel_tol: float = FLOAT_REL_TOL
) -> RecheckResult:
    """Compare the stored outputs of ``fn`` with two replays of it."""
    if not fn.ios:
        return RecheckResult(record_id=fn.id, deterministic=False, reason="no_pairs", pairs=[])
    failed = run_a if run_a.error is not None else run_b if run_b.error is not None else None
    if failed is not None:
        checks = [
            PairCheck(index=i, reproducible=False, reason=failed.reason or "error")
            for i in range(len(fn.ios))
        ]
        return RecheckResult(
            record_id=fn.id,
            deterministic=False,
            reason=failed.reason or "error",
            detail=failed.error or "",
            pairs=checks,
        )
    checks = []
    for index, pair in enumerate(fn.ios):
        a = run_a.results[index] if index < len(run_a.results) else {"status": "missing"}
        b = run_b.results[index] if index < len(run_b.results) else {"status": "missing"}
        checks.append(_check_pair(index, pair.output, a, b, float_rel_tol))
    bad = [check for check in checks if not check.reproducible]
    if not bad:
        return RecheckResult(record_id=fn.id, deterministic=True, reason="ok", pairs=checks)
    if any(check.reason == "differs_between_runs" for check in bad):
        # The function's output depends on more than its input (time, randomness, hash order);
        # a pair that happened to repeat twice is luck, not evidence, so none is trusted.
        checks = [
            check
            if not check.reproducible
            else PairCheck(
                index=check.index,
                reproducible=False,
                reason="function_nondeterministic",
                detail="another pair of this function differs between runs",
            )
            for check in checks
        ]
    reasons = {check.reason for check in bad}
    reason = next((r for r in _PRECEDENCE if r in reasons), sorted(reasons)[0])
    worst = next(check for check in bad if check.reason == reason)
    detail = f"{len(bad)}/{len(checks)} pairs do not reproduce; {worst.detail}"
    return RecheckResult(
        record_id=fn.id, deterministic=False, reason=reason, detail=detail, pairs=checks
    )


def _check_pair(
    index: int, stored: Any, a: dict[str, Any], b: dict[str, Any], tol: float
) -> PairCheck:
    ok_a, ok_b = a.get("status") == "ok", b.get("status") == "ok"
    if ok_a and ok_b:
        same_runs = outputs_equal(a.get("output"), b.get("output"))
        if same_runs and outputs_equal(stored, a.get("output"), float_rel_tol=tol):
            return PairCheck(index=index, reproducible=True, reason="ok")
        if not same_runs:
            detail = f"pair {index}: run 1 {outcome_text(a)}, run 2 {outcome_text(b)}"
            return PairCheck(
                index=index, reproducible=False, reason="differs_between_runs", detail=detail
            )
        detail = f"pair {index}: stored {truncate(stored)}, re-run {outcome_text(a)}"
        return PairCheck(
            index=index, reproducible=False, reason="stored_output_differs", detail=detail
        )
    bad = a if not ok_a else b
    reason = str(bad.get("status", "error"))
    if ok_a != ok_b and reason == "error":
        reason = "differs_between_runs"  # raised in one run only: depends on more than the input
    detail = f"pair {index}: {outcome_text(bad)}"
    return PairCheck(index=index, reproducible=False, reason=reason, detail=detail)
