"""The sampling stage: FunctionRecord(refcode, inputgen) -> FunctionRecord(ios) or Failure.

One function costs one sandbox task for the whole generator loop (see ``harness.py``) plus its
share of one task on the recheck sandbox for the determinism check (see ``determinism.py``):
the re-runs of up to ``_REPLAY_BATCH`` functions that are waiting together share a task.
"""

from __future__ import annotations

import collections
import logging
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from codeio.errors import ConfigError
from codeio.exec import ExecResult, ExecTask, Sandbox, Status
from codeio.exec.warm import warm_imports
from codeio.ids import derive_seed
from codeio.pipeline.sample.determinism import (
    Replay,
    StopAtFirst,
    compare_pairs,
    replay_batch_task,
    replay_limits,
    replay_task,
    run_replay,
    to_replays,
)
from codeio.pipeline.sample.harness import (
    NAMESPACE_PRELUDE,
    SAMPLE_BATCH_ENTRY,
    SAMPLE_ENTRY,
    harness_code,
    prelude_for,
)
from codeio.records import Failure, FunctionRecord, IOPair

__all__ = ["STAGE", "SampleConfig", "Sampler"]

log = logging.getLogger(__name__)

STAGE = "sample"
_STATUS_REASONS = {
    Status.TIMEOUT: "timeout",
    Status.MEMORY: "memory",
    Status.OUTPUT_LIMIT: "output_limit",
    Status.KILLED: "killed",
    Status.SANDBOX_ERROR: "sandbox_error",
    Status.ERROR: "harness_error",
}


class SampleConfig(BaseModel):
    """How to sample one function; defaults follow the CodeI/O reference."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pairs: int = Field(10, ge=1, description="distinct pairs to keep (K)")
    tries: int = Field(1000, ge=1, description="generator calls at most (N)")
    time_budget_s: float = Field(
        10.0, gt=0, description="hard cap on one function's loop; hitting it fails the function"
    )
    soft_budget_s: float | None = Field(
        0.5,
        gt=0,
        description="a function adds pairs while its own pace says the next one ends within "
        "this many seconds; without min_pairs by then it may use 2x this, never more than "
        "time_budget_s (None: time_budget_s alone)",
    )
    call_timeout_s: float = Field(2.0, gt=0, description="one generator or main_solution call")
    max_bytes: int = Field(1024, gt=0, description="serialized JSON size, strict bound")
    max_items: int = Field(20, gt=0, description="items per list/dict, strict bound")
    max_str: int = Field(100, gt=0, description="characters per string, strict bound")
    max_scalar: int = Field(128, gt=0, description="JSON bytes of one number, strict bound")
    min_pairs: int = Field(2, ge=1, description="fewer pairs than this drops the function")
    determinism: Literal["function", "pair", "off"] = "function"
    """``function``: one differing pair drops the function; ``pair``: drop only that pair."""
    seed: int = 0
    retries: int = Field(1, ge=0, description="re-runs of a task the engine failed")
    prelude: str = NAMESPACE_PRELUDE
    """Source executed in each fresh code namespace before the code (see ``NAMESPACE_PRELUDE``)."""

    @model_validator(mode="after")
    def _check(self) -> SampleConfig:
        if self.min_pairs > self.pairs:
            raise ValueError(f"min_pairs ({self.min_pairs}) > pairs ({self.pairs})")
        if self.soft_budget_s is not None and self.soft_budget_s > self.time_budget_s:
            raise ValueError(
                f"soft_budget_s ({self.soft_budget_s}) > time_budget_s ({self.time_budget_s})"
            )
        return self

    def size_limits(self) -> dict[str, int]:
        return {
            "max_bytes": self.max_bytes,
            "max_items": self.max_items,
            "max_str": self.max_str,
            "max_scalar": self.max_scalar,
        }


class Sampler:
    """Samples I/O pairs for functions, then keeps only those that reproduce elsewhere."""

    def __init__(
        self,
        sandbox: Sandbox,
        recheck_sandbox: Sandbox | None = None,
        config: SampleConfig | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.recheck_sandbox = recheck_sandbox
        self.config = config or SampleConfig()
        if self.config.determinism != "off":
            if recheck_sandbox is None:
                raise ConfigError("the determinism check needs a recheck_sandbox")
            if recheck_sandbox is sandbox or recheck_sandbox.hash_seed == sandbox.hash_seed:
                # Same hash seed would hide set-order dependence, the commonest silent defect.
                raise ConfigError("recheck_sandbox must use another hash_seed than sandbox")
        base = sandbox.limits
        # The loop stops itself at the budget; the task limit only catches a call that ignores
        # its alarm, with room for one last call and for loading the code.
        self._task_limits = base.model_copy(
            update={
                "timeout_s": self.config.time_budget_s + self.config.call_timeout_s + 5.0,
                "cpu_s": None,
            }
        )
        # A batch starts no function after the slice, and each function keeps its own budget.
        self._batch_limits = self._task_limits.model_copy(
            update={"timeout_s": self._task_limits.timeout_s + _SAMPLE_SLICE_S}
        )

    # -- one function ----------------------------------------------------------------------
    def sample(self, fn: FunctionRecord) -> FunctionRecord | Failure:
        if not fn.inputgen:
            return self._fail(fn, "no_generator", "record has no inputgen")
        return self._finish(fn, self.sandbox.run_task(self._task(fn)))

    def sample_many(self, fns: Iterable[FunctionRecord]) -> Iterator[FunctionRecord | Failure]:
        """Results in input order.

        One thread per sandbox lane takes the next waiting functions that need the same
        template, up to ``_SAMPLE_BATCH``, into one sampling task: the task samples them in
        order and starts none after ``_SAMPLE_SLICE_S``, so fast functions share a fork and a
        slow one ends its task early; the functions it did not start go back to the front of
        the queue. A function's determinism re-run is queued as soon as its sampling is back;
        one thread per recheck lane takes what is queued, up to ``_REPLAY_BATCH`` functions,
        into one replay task, so both sandboxes' lanes stay busy.
        """
        source = enumerate(fns)
        waiting: collections.deque[tuple[int, FunctionRecord, tuple[str, ...]]]
        waiting = collections.deque()
        changed = threading.Condition()
        state = {"read": 0, "exhausted": False, "in_flight": 0, "stop": False, "sampling": 0}
        # Sampled functions waiting for their determinism re-run, with their template.
        # (index, pending, template, part): part is None, or which part of a split re-run.
        to_replay: list[tuple[int, _Pending, tuple[str, ...], int | None]] = []
        # (index, outcome); (-1, exception) when reading the input failed; (-2, None) when a
        # sampling lane ends.
        done: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        lanes = self.recheck_sandbox.workers if self.recheck_sandbox else 0
        parts_lock = threading.Lock()
        prepared: set[tuple[str, ...]] = {()}
        prepared_replay: set[tuple[str, ...]] = {()}

        def fill() -> None:
            """Read the input up to _LOOKAHEAD waiting functions (with ``changed`` held)."""
            while not state["exhausted"] and len(waiting) < _LOOKAHEAD:
                try:
                    item = next(source, None)
                except Exception as exc:  # a failing input: the caller sees it
                    done.put((-1, exc))
                    item = None
                if item is None:
                    state["exhausted"] = True
                    break
                index, fn = item
                state["read"] += 1
                if not fn.inputgen:
                    done.put((index, self._fail(fn, "no_generator", "record has no inputgen")))
                    continue
                key = self._template_key(fn)
                waiting.append((index, fn, key))
                if key not in prepared:
                    # Templates start in the background while the lanes sample other functions.
                    prepared.add(key)
                    self.sandbox.prepare(key)
                if self.recheck_sandbox is not None and self.config.determinism != "off":
                    replay_key = self._replay_key(fn)
                    if replay_key not in prepared_replay:
                        prepared_replay.add(replay_key)
                        self.recheck_sandbox.prepare(replay_key)

        def take() -> list[tuple[int, FunctionRecord, tuple[str, ...]]] | None:
            with changed:
                while True:
                    if state["stop"]:
                        return None
                    fill()
                    if waiting:
                        # The first function whose template is ready: a lane does not wait for
                        # a start while others can run.
                        ready: dict[tuple[str, ...], bool] = {}
                        pos = 0
                        for at, item in enumerate(waiting):
                            if item[2] not in ready:
                                ready[item[2]] = self.sandbox.can_serve_now(item[2])
                            if ready[item[2]]:
                                pos = at
                                break
                        first = waiting[pos]
                        del waiting[pos]
                        batch = [first]
                        # Near the end of the input, smaller batches: functions held by one
                        # lane's task (behind a slow one) must not leave another lane idle.
                        limit = _SAMPLE_BATCH
                        if state["exhausted"]:
                            share = -(-(len(waiting) + 1) // (2 * len(samplers)))
                            limit = max(1, min(_SAMPLE_BATCH, share))
                        for item in list(waiting):
                            if len(batch) >= limit:
                                break
                            if item[2] == first[2]:
                                waiting.remove(item)
                                batch.append(item)
                        state["in_flight"] += 1
                        return batch
                    if state["exhausted"] and not state["in_flight"]:
                        changed.notify_all()
                        return None
                    # Empty for now, but a task in flight may hand functions back.
                    changed.wait()

        def sample_lane() -> None:
            try:
                sample_batches()
            finally:
                with changed:
                    state["sampling"] -= 1  # the last one ends the replay lanes' gathering
                    changed.notify_all()
                done.put((-2, None))  # wakes the consumer (an input with nothing to sample)

        def sample_batches() -> None:
            while (batch := take()) is not None:
                rest: list[tuple[int, FunctionRecord, tuple[str, ...]]] = []
                try:
                    outs = self._sample_batch([fn for _, fn, _ in batch], batch[0][2])
                    rest = batch[len(outs) :]
                    for (index, _, _), out in zip(batch, outs, strict=False):
                        if isinstance(out, _Pending):
                            key = self._replay_key(out.fn)
                            # In function mode the re-run stops at the first difference,
                            # cheapest pair first, in one task; split, it could not.
                            if self.config.determinism == "pair":
                                out.parts = _split(out.pair_s, lanes)
                            with changed:
                                if out.parts:
                                    to_replay.extend(
                                        (index, out, key, k) for k in range(len(out.parts))
                                    )
                                else:
                                    to_replay.append((index, out, key, None))
                                changed.notify_all()
                        else:
                            done.put((index, out))
                except Exception as exc:  # never leave the stream waiting for these
                    log.exception("sampling task failed")
                    for index, fn, _ in batch:
                        done.put((index, self._fail(fn, "sandbox_error", f"engine: {exc}")))
                    rest = []
                finally:
                    with changed:
                        waiting.extendleft(reversed(rest))
                        state["in_flight"] -= 1
                        changed.notify_all()

        def take_replays() -> list[tuple[int, _Pending, tuple[str, ...], int | None]] | None:
            with changed:
                while not to_replay and not state["stop"] and state["sampling"]:
                    changed.wait()
                if state["stop"] or not to_replay:
                    return None
                if to_replay[0][3] is not None:
                    # A part of a slow function's re-run: alone and at once.
                    return [to_replay.pop(0)]
                # Wait a moment for company of the same template: every function that joins
                # saves a fork and a harness load, and the sampling lanes keep the cores busy
                # meanwhile. The end of sampling flushes at once.
                key = to_replay[0][2]
                gather_until = time.monotonic() + _REPLAY_GATHER_S
                while state["sampling"] and not state["stop"]:
                    if (
                        sum(item[2] == key and item[3] is None for item in to_replay)
                        >= _REPLAY_BATCH
                    ):
                        break
                    left = gather_until - time.monotonic()
                    if left <= 0:
                        break
                    changed.wait(left)
                if not to_replay:
                    return None
                if to_replay[0][3] is not None:
                    return [to_replay.pop(0)]
                key = to_replay[0][2]
                batch = [item for item in to_replay if item[2] == key and item[3] is None]
                limit = _REPLAY_BATCH
                if not state["sampling"]:  # the last ones: share them among the lanes
                    limit = max(1, min(limit, -(-len(batch) // lanes)))
                batch = batch[:limit]
                for item in batch:
                    to_replay.remove(item)
                return batch

        def replay_lane() -> None:
            while (batch := take_replays()) is not None:
                index, pending, _, part = batch[0]
                if part is not None:
                    outcome = self._replay_part(pending, part, parts_lock)
                    if outcome is not None:
                        done.put((index, outcome))
                    continue
                try:
                    outcomes = self._replay_batch([p for _, p, _, _ in batch])
                except Exception as exc:  # never leave the stream waiting for these
                    log.exception("determinism re-run failed")
                    outcomes = [
                        self._fail(p.fn, "sandbox_error", f"determinism re-run: {exc}")
                        for _, p, _, _ in batch
                    ]
                for (index, _, _, _), outcome in zip(batch, outcomes, strict=True):
                    done.put((index, outcome))

        samplers = [
            threading.Thread(target=sample_lane, name="sample", daemon=True)
            for _ in range(self.sandbox.workers)
        ]
        replayers = [
            threading.Thread(target=replay_lane, name="replay", daemon=True) for _ in range(lanes)
        ]
        state["sampling"] = len(samplers)
        for thread in samplers + replayers:
            thread.start()
        finished: dict[int, FunctionRecord | Failure] = {}
        next_out = 0
        ended = False
        try:
            while True:
                with changed:
                    total = state["read"] if state["exhausted"] else None
                if total is not None and next_out >= total:
                    break
                try:
                    index, outcome = done.get(timeout=0.5)
                except queue.Empty:
                    continue
                if index == -2:
                    continue
                if index < 0:
                    raise outcome
                finished[index] = outcome
                while next_out in finished:
                    yield finished.pop(next_out)
                    next_out += 1
            ended = True
        finally:
            with changed:
                if not ended:
                    state["stop"] = True
                changed.notify_all()
            if ended:
                for thread in samplers + replayers:
                    thread.join()

    # -- internals -------------------------------------------------------------------------
    def _seed(self, fn: FunctionRecord) -> int:
        return derive_seed(self.config.seed, fn.id)

    def _task(self, fn: FunctionRecord) -> ExecTask:
        cfg = self.config
        return ExecTask(
            code=harness_code(),
            entry=SAMPLE_ENTRY,
            kwargs={
                "refcode": fn.refcode,
                "inputgen": fn.inputgen or "",
                "funcname": fn.funcname,
                "seed": self._seed(fn),
                "pairs": cfg.pairs,
                "tries": cfg.tries,
                "budget_s": cfg.time_budget_s,
                "call_timeout_s": cfg.call_timeout_s,
                "limits": cfg.size_limits(),
                "prelude": prelude_for(cfg.prelude, fn.refcode, fn.inputgen or ""),
                "soft_budget_s": cfg.soft_budget_s,
                "min_pairs": cfg.min_pairs,
            },
            limits=self._task_limits,
        )

    def _replay_key(self, fn: FunctionRecord) -> tuple[str, ...]:
        """The template its re-run needs (a replay batch holds functions of one template)."""
        assert self.recheck_sandbox is not None
        prelude = prelude_for(self.config.prelude, fn.refcode)
        return warm_imports(prelude, {"refcode": fn.refcode}, self.recheck_sandbox.warm)

    def _template_key(self, fn: FunctionRecord) -> tuple[str, ...]:
        """The warm modules its task needs: a batch holds functions that fork from one template
        (a function without numpy never pays for a numpy template's fork and exit)."""
        prelude = prelude_for(self.config.prelude, fn.refcode, fn.inputgen or "")
        return warm_imports(
            prelude, {"refcode": fn.refcode, "inputgen": fn.inputgen}, self.sandbox.warm
        )

    def _batch_task(self, fns: list[FunctionRecord]) -> ExecTask:
        cfg = self.config
        functions = [
            {
                "refcode": fn.refcode,
                "inputgen": fn.inputgen or "",
                "funcname": fn.funcname,
                "seed": self._seed(fn),
                "prelude": prelude_for(cfg.prelude, fn.refcode, fn.inputgen or ""),
            }
            for fn in fns
        ]
        return ExecTask(
            code=harness_code(),
            entry=SAMPLE_BATCH_ENTRY,
            kwargs={
                "functions": functions,
                "pairs": cfg.pairs,
                "tries": cfg.tries,
                "budget_s": cfg.time_budget_s,
                "call_timeout_s": cfg.call_timeout_s,
                "limits": cfg.size_limits(),
                "soft_budget_s": cfg.soft_budget_s,
                "min_pairs": cfg.min_pairs,
                "slice_s": _SAMPLE_SLICE_S,
            },
            limits=self._batch_limits,
        )

    def _sample_batch(
        self, fns: list[FunctionRecord], key: tuple[str, ...]
    ) -> list[FunctionRecord | Failure | _Pending]:
        """Sample a prefix of ``fns`` (which all need template ``key``) in one task: an outcome
        for each function it sampled; the rest were not started. A batch task that fails as a
        whole is run again one function at a time (all of them: whichever took it down fails
        alone)."""
        if len(fns) == 1:
            return [self._interpret(fns[0], self.sandbox.run_task(self._task(fns[0])))]
        result = self.sandbox.run_task(self._batch_task(fns))
        payloads = result.value if result.status is Status.OK else None
        if (
            not isinstance(payloads, list)
            or not 1 <= len(payloads) <= len(fns)
            or not all(isinstance(p, dict) for p in payloads)
        ):
            if result.status is not Status.OK:
                log.info("sampling batch failed (%s); one function at a time", result.status)
            return [self._interpret(fn, self.sandbox.run_task(self._task(fn))) for fn in fns]
        # The fork, harness load and exit are shared by the functions it sampled.
        spent = sum((p.get("stats") or {}).get("elapsed_s", 0.0) for p in payloads)
        overhead = max(0.0, result.duration_s - spent) / len(payloads)
        return [
            self._from_payload(fn, p, (p.get("stats") or {}).get("elapsed_s", 0.0) + overhead)
            for fn, p in zip(fns, payloads, strict=False)
        ]

    def _fail(self, fn: FunctionRecord, reason: str, detail: str) -> Failure:
        return Failure(stage=STAGE, record_id=fn.id, reason=reason, detail=detail)

    def _finish(self, fn: FunctionRecord, result: ExecResult) -> FunctionRecord | Failure:
        out = self._interpret(fn, result)
        if not isinstance(out, _Pending):
            return out
        return self._replay_batch([out])[0]

    def _interpret(
        self, fn: FunctionRecord, result: ExecResult
    ) -> FunctionRecord | Failure | _Pending:
        """A sampling task's result: a failure, a finished record (no determinism check), or
        pairs that wait for their re-run."""
        for _ in range(self.config.retries):
            if result.status is not Status.SANDBOX_ERROR:
                break
            log.warning("sandbox error on %s, retrying: %s", fn.id, result.error_message)
            result = self.sandbox.run_task(self._task(fn))
        if result.status is not Status.OK:
            detail = f"{result.error_type}: {result.error_message}" if result.error_type else ""
            return self._fail(fn, _STATUS_REASONS[result.status], detail or result.status.value)
        return self._from_payload(fn, result.value or {}, result.duration_s)

    def _from_payload(
        self, fn: FunctionRecord, payload: dict[str, Any], task_s: float
    ) -> FunctionRecord | Failure | _Pending:
        """What one function's sampling gave (``task_s``: its task's wall time, or its share
        of a batch task's)."""
        stats: dict[str, Any] = payload.get("stats") or {}
        setup = payload.get("setup_error")
        if setup:
            where = setup["where"]
            reason = "refcode_error" if where == "refcode" else "generator_error"
            return self._fail(fn, reason, f"loading {where}: {setup['error']}")
        pairs = [IOPair(input=p["input"], output=p["output"]) for p in payload.get("pairs", [])]
        if len(pairs) < self.config.min_pairs:
            reason = _few_pairs_reason(len(pairs), stats)
            return self._fail(fn, reason, _few_pairs_detail(len(pairs), stats))
        meta_stats = _summary(stats)
        meta_stats["task_s"] = round(task_s, 4)
        if self.config.determinism == "off":
            return self._record(fn, pairs, meta_stats)
        pair_s = stats.get("pair_s")
        if not isinstance(pair_s, list) or len(pair_s) != len(pairs):
            pair_s = []
        return _Pending(fn, pairs, meta_stats, pair_s=pair_s)

    def _record(
        self, fn: FunctionRecord, pairs: list[IOPair], meta_stats: dict[str, Any]
    ) -> FunctionRecord:
        return fn.model_copy(update={"ios": pairs, "meta": {**fn.meta, "sample": meta_stats}})

    def _replay_seed(self, fn: FunctionRecord, run: int = 0) -> int:
        return derive_seed(self.config.seed, fn.id, "determinism" if run == 0 else f"run{run}")

    def _replay_batch(self, batch: list[_Pending]) -> list[FunctionRecord | Failure]:
        """Re-run the pairs of each function in ``batch`` on the recheck sandbox and judge them:
        one task for the batch, each re-run alone again if that task failed as a whole.

        A function whose code can draw random numbers is re-run twice, with two more seeds of
        the global RNGs: one that is random only now and then (a randomised search that usually
        finds the same answer) passes a single re-run by luck often enough to leak into the
        data, and such functions are few (33 of the 464 of the reference's parsed corpus), so
        the extra re-run costs little."""
        box = self.recheck_sandbox
        assert box is not None
        cfg = self.config
        # One differing pair drops the whole function: its re-run can stop there.
        stop = cfg.determinism == "function"
        runs = [(p, 0) for p in batch] + [(p, 1) for p in batch if _draws_random(p.fn.refcode)]
        replays: list[Replay] | None = None
        if len(runs) > 1:
            total = sum(len(p.pairs) for p, _ in runs)
            # In the reverse of the order they were sampled in (a batch's order): if one
            # function changed something a later one of its sampling task saw (a module
            # attribute, say), the later one now runs first, without it, and is dropped rather
            # than kept with pairs that only hold after the other.
            backwards = runs[::-1]
            task = replay_batch_task(
                [
                    (
                        p.fn.refcode,
                        p.fn.funcname,
                        [x.input for x in p.pairs],
                        self._replay_seed(p.fn, run),
                    )
                    for p, run in backwards
                ],
                call_timeout_s=cfg.call_timeout_s,
                limits=replay_limits(box.limits, total, cfg.call_timeout_s),
                prelude=cfg.prelude,
                stop_at_first=[self._stop_at_first(p) for p, _ in backwards] if stop else None,
            )
            replays = to_replays(box.run_task(task), len(runs))
            if replays is not None:
                replays.reverse()
        if replays is None:
            replays = [
                run_replay(
                    box,
                    replay_task(
                        p.fn.refcode,
                        p.fn.funcname,
                        [x.input for x in p.pairs],
                        seed=self._replay_seed(p.fn, run),
                        call_timeout_s=cfg.call_timeout_s,
                        limits=replay_limits(box.limits, len(p.pairs), cfg.call_timeout_s),
                        prelude=cfg.prelude,
                        stop_at_first=self._stop_at_first(p) if stop else None,
                    ),
                    retries=cfg.retries,
                )
                for p, run in runs
            ]
        by_pending: dict[int, list[Replay]] = collections.defaultdict(list)
        for (p, _), replay in zip(runs, replays, strict=True):
            by_pending[id(p)].append(replay)
        outcomes: list[FunctionRecord | Failure] = []
        for p in batch:
            p.meta_stats["replay_batch"] = len(batch)  # functions that shared its replay task
            mine = by_pending[id(p)]
            p.meta_stats["replays"] = len(mine)
            outcomes.append(self._judge(p, _worst(p.pairs, mine)))
        return outcomes

    def _replay_part(
        self, pending: _Pending, part: int, lock: threading.Lock
    ) -> FunctionRecord | Failure | None:
        """Re-run one part of a split function; its outcome once every part is back, else None."""
        box = self.recheck_sandbox
        assert box is not None
        cfg = self.config
        indices = pending.parts[part]
        try:
            replay = run_replay(
                box,
                replay_task(
                    pending.fn.refcode,
                    pending.fn.funcname,
                    [pending.pairs[i].input for i in indices],
                    seed=self._replay_seed(pending.fn) + part,
                    call_timeout_s=cfg.call_timeout_s,
                    limits=replay_limits(box.limits, len(indices), cfg.call_timeout_s),
                    prelude=cfg.prelude,
                ),
                retries=cfg.retries,
            )
        except Exception as exc:  # never leave the stream waiting for this function
            log.exception("determinism re-run failed")
            replay = Replay(error=f"engine: {exc}", reason="sandbox_error")
        with lock:
            pending.part_replays[part] = replay
            if len(pending.part_replays) < len(pending.parts):
                return None
        pending.meta_stats["replay_parts"] = len(pending.parts)
        return self._judge(pending, _merge(pending.parts, pending.part_replays, len(pending.pairs)))

    @staticmethod
    def _stop_at_first(pending: _Pending) -> StopAtFirst:
        return StopAtFirst([p.output for p in pending.pairs], pending.pair_s)

    def _judge(self, pending: _Pending, replay: Replay) -> FunctionRecord | Failure:
        cfg = self.config
        fn, pairs, meta_stats = pending.fn, pending.pairs, pending.meta_stats
        if replay.reason == "sandbox_error":
            return self._fail(fn, "sandbox_error", f"determinism re-run: {replay.error}")
        mismatches = compare_pairs(pairs, replay)
        meta_stats["nondeterministic_pairs"] = len(mismatches)
        if replay.phases_s:
            meta_stats["replay_phases_s"] = replay.phases_s
        if replay.task_s is not None:
            meta_stats["replay_task_s"] = round(replay.task_s, 4)
        if not mismatches:
            return self._record(fn, pairs, meta_stats)
        # Pairs a re-run skipped after the first difference are no evidence of their own.
        real = [m for m in mismatches if not m.got.startswith("skipped")] or mismatches
        first = real[0].describe()
        if cfg.determinism == "function" or replay.error is not None:
            stopped = " (stopped at the first)" if len(real) < len(mismatches) else ""
            detail = f"{len(real)}/{len(pairs)} pairs differ on re-run{stopped}; {first}"
            return self._fail(fn, "nondeterministic", detail)
        bad = {m.index for m in mismatches}
        kept = [p for i, p in enumerate(pairs) if i not in bad]
        if len(kept) < cfg.min_pairs:
            detail = f"{len(kept)} of {len(pairs)} pairs reproduce (< {cfg.min_pairs}); {first}"
            return self._fail(fn, "nondeterministic", detail)
        return self._record(fn, kept, meta_stats)


@dataclass
class _Pending:
    """A function whose pairs are sampled and wait for their determinism re-run."""

    fn: FunctionRecord
    pairs: list[IOPair]
    meta_stats: dict[str, Any]
    pair_s: list[float] = field(default_factory=list)
    """Seconds its sampling spent in the call of each kept pair."""
    parts: list[list[int]] = field(default_factory=list)
    """When its re-run is split across lanes: the pair indices of each part."""
    part_replays: dict[int, Replay] = field(default_factory=dict)


_SAMPLE_BATCH = 8
"""Functions sampled in one task at most."""
_SAMPLE_SLICE_S = 0.1
"""A sampling batch starts no function after this many seconds: a handful of fast functions
share one fork (~10 ms of CPU each saved), a slow one does not hold the others back."""
_LOOKAHEAD = 32
"""Functions read ahead of the sampling lanes (to form batches of one template)."""
_REPLAY_BATCH = 8
"""Functions re-run in one task at most."""
_REPLAY_GATHER_S = 0.1
"""How long a free replay lane waits for more functions to share its task (the end of the
input stops the wait at once)."""


def _summary(stats: dict[str, Any]) -> dict[str, Any]:
    """The per-function counters kept in ``meta["sample"]`` (examples only in failures)."""
    return {k: v for k, v in stats.items() if k not in ("examples", "pair_s")}


def _few_pairs_reason(kept: int, stats: dict[str, Any]) -> str:
    """With no pair at all, name the dominant cause (size and duplicate rejects: ``too_few_pairs``);
    with some, ``too_slow`` if the budget ran out, else ``too_few_pairs``."""
    slow = "too_slow" if stats.get("budget_exhausted") else "too_few_pairs"
    if kept:
        return slow  # some pairs, then the function's time ran out (or its inputs did)
    causes = {
        "generator_error": sum(stats.get("generator_errors", {}).values())
        + stats.get("not_dict", 0),
        "main_solution_error": sum(stats.get("main_errors", {}).values()),
        "timeout": stats.get("call_timeouts", 0),
        "not_json": stats.get("input_not_json", 0) + stats.get("output_not_json", 0),
        # Pairs over the size limit or repeated: the function runs, but its pairs are not
        # usable. Named so even when the budget ran out meanwhile (on a loaded machine the
        # size checks of hundreds of tries reach it), which is not the function's slowness.
        "too_few_pairs": stats.get("input_too_big", 0)
        + stats.get("output_too_big", 0)
        + stats.get("duplicates", 0),
    }
    reason, count = max(causes.items(), key=lambda item: item[1])
    return reason if count else slow


def _few_pairs_detail(kept: int, stats: dict[str, Any]) -> str:
    skip = ("examples", "elapsed_s", "pair_s")
    counters = {k: v for k, v in stats.items() if v and k not in skip}
    parts = [f"{kept} pair(s) kept", f"stats {counters}"]
    for kind, text in (stats.get("examples") or {}).items():
        parts.append(f"{kind}: {text}")
    return "; ".join(parts)[:1000]


_SPLIT_REPLAY_S = 0.15
"""A function whose kept pairs took longer than this to compute has its re-run split into one
part per recheck lane (balanced by each pair's time), each alone in a task: a slow function
near the end of the input then keeps both cores busy instead of one."""


def _split(pair_s: list[float], lanes: int) -> list[list[int]]:
    """Pair indices per part of a split re-run; [] to re-run the function in one piece."""
    if lanes < 2 or len(pair_s) < 2 or sum(pair_s) < _SPLIT_REPLAY_S:
        return []
    parts: list[list[int]] = [[] for _ in range(min(lanes, len(pair_s)))]
    loads = [0.0] * len(parts)
    # Longest first, each to the least loaded part.
    for index in sorted(range(len(pair_s)), key=lambda i: -pair_s[i]):
        k = loads.index(min(loads))
        parts[k].append(index)
        loads[k] += pair_s[index]
    return [sorted(p) for p in parts if p]


def _merge(parts: list[list[int]], replays: dict[int, Replay], count: int) -> Replay:
    """One replay of all pairs from the replays of its parts."""
    for k in range(len(parts)):
        if replays[k].error is not None:
            return replays[k]
    results: list[dict[str, Any]] = [{"status": "missing"}] * count
    phases: dict[str, float] = {}
    task_s = 0.0
    for k, indices in enumerate(parts):
        replay = replays[k]
        for position, index in enumerate(indices):
            if position < len(replay.results):
                results[index] = replay.results[position]
        for name, value in replay.phases_s.items():
            phases[name] = round(phases.get(name, 0.0) + value, 5)
        task_s += replay.task_s or 0.0
    return Replay(results=results, phases_s=phases, task_s=task_s)


# Names through which code reaches random numbers that the re-run's seed controls (``random``,
# numpy's global generator, which scipy.stats' ``rvs`` draws from without naming it) or that no
# seed controls (``secrets``, ``uuid``, ``os.urandom``). A false hit costs one re-run.
_RANDOM_NAMES = re.compile(r"\b(?:random|secrets|uuid|urandom|rvs)\b")


def _draws_random(refcode: str) -> bool:
    return _RANDOM_NAMES.search(refcode) is not None


def _worst(pairs: list[IOPair], replays: list[Replay]) -> Replay:
    """The first replay that failed or differs from the sampled outputs, else the first."""
    if len(replays) == 1:
        return replays[0]  # _judge compares it anyway: no comparison twice
    for replay in replays:
        if replay.error is not None or compare_pairs(pairs, replay):
            return replay
    return replays[0]
