"""RayRunner: a stage's batches on a pool of Ray actors, results back to the driver.

The driver pulls input batches lazily (at most ``max_in_flight`` unfinished at once), hands
each to an idle StageWorker actor (one batch per actor at a time) and yields a batch's
outcomes once all its records are back; the pipeline commits them. Nothing else writes the
store, so resume, ``codeio status`` and progress bars behave exactly as with the local runner,
and a run may switch runners between invocations.

Fault tolerance. A batch whose worker died (process crash, node loss, OOM kill) is retried on
a fresh worker; if it dies again it is split and its records go one by one, so a record that
kills every worker it touches is isolated and, after ``max_attempts`` deaths of its own, becomes
a ``Failure(reason="worker_crashed")`` while the rest of its batch completes. An exception the
stage itself raises is a bug and stops the run, as it does locally.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from codeio.errors import CodeioError, require
from codeio.pipeline.base import Stage
from codeio.records import Failure
from codeio.runners.base import Batch, Runner, check_outcomes
from codeio.runners.ray.pool import WorkerPool
from codeio.store.db import Outcome

if TYPE_CHECKING:
    from ray.actor import ActorHandle
    from ray.types import ObjectRef

__all__ = ["RayRunner"]

log = logging.getLogger(__name__)

WORKER_CRASHED = "worker_crashed"
WORKER_TIMEOUT = "worker_timeout"
# Replacements that die before they ever start, in a row, before the runner gives up: a stage
# whose setup kills its process (or a cluster with no usable node) must not spin forever.
MAX_START_DEATHS = 8


@dataclass
class _Piece:
    """Records of one batch that travel together to one worker."""

    batch: int
    positions: list[int]
    records: list[BaseModel]
    deaths: int = 0
    errors: list[str] = field(default_factory=list)
    hung: bool = False
    """The last death was a kill for running past ``batch_timeout_s``."""


@dataclass
class _BatchState:
    records: list[BaseModel]
    slots: list[Outcome | None]
    missing: int


class RayRunner(Runner):
    """Runs stage batches on a Ray cluster.

    Args:
        address: ``auto``, ``ray://host:10001`` or ``host:6379`` of a running cluster; ``None``
            joins the cluster ``ray.init`` finds (``RAY_ADDRESS``) or starts a local one.
        workers: actors per stage; default: the cluster's CPUs / ``cpus_per_worker``.
        cpus_per_worker: CPUs each actor reserves; a sandbox stage's worker processes default
            to this many when ``exec.workers`` is not set, so actors do not oversubscribe a node.
        max_in_flight: input batches pulled but not yet yielded; default 2 x workers.
        max_attempts: deaths a single record may cause before it becomes a Failure.
        batch_retries: deaths a multi-record batch may see before it is split into records.
        llm_rpm: optional cluster-wide requests-per-minute budget for LLM stages.
        llm_tpm: optional cluster-wide tokens-per-minute budget for LLM stages.
        batch_timeout_s: a batch running longer than this has its worker killed and counts as
            a death (so a record that hangs its worker ends like one that crashes it).
        init_options: extra ``ray.init`` keywords (e.g. ``runtime_env``) when this runner connects.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        cpus_per_worker: float = 1.0,
        max_in_flight: int | None = None,
        max_attempts: int = 3,
        batch_retries: int = 1,
        llm_rpm: float | None = None,
        llm_tpm: float | None = None,
        batch_timeout_s: float | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        require("ray", "ray", "the Ray runner")
        if workers is not None and workers < 1:
            raise CodeioError("ray runner: workers must be at least 1")
        if max_attempts < 1 or batch_retries < 0:
            raise CodeioError("ray runner: max_attempts >= 1 and batch_retries >= 0")
        self.address = address
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.max_in_flight = max_in_flight
        self.max_attempts = max_attempts
        self.batch_retries = batch_retries
        self.llm_rpm = llm_rpm
        self.llm_tpm = llm_tpm
        self.batch_timeout_s = batch_timeout_s
        self.init_options = dict(init_options or {})
        self.stats: dict[str, int] = {"worker_deaths": 0, "splits": 0, "crash_failures": 0}
        """Counters over this runner's life (deaths seen, batches split, records failed)."""
        self.nodes_used: set[str] = set()
        """Node ids where at least one batch finished."""
        self._owns_ray = False
        self._limiter: ActorHandle | None = None
        self._pool: WorkerPool | None = None

    # -- connection ---------------------------------------------------------------------------
    def _connect(self) -> Any:
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_options)
            self._owns_ray = True
        return ray

    def _worker_count(self, ray: Any) -> int:
        if self.workers is not None:
            return self.workers
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // self.cpus_per_worker)) if self.cpus_per_worker else 1

    def limiter(self, stage: Stage) -> ActorHandle | None:
        """The run's one LLM limiter actor (made on first use), pinned to the head node."""
        if not stage.uses_llm:
            return None
        if self._limiter is None:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            from codeio.runners.ray.limiter import LLMLimiter

            here = _head_node(ray) or ray.get_runtime_context().get_node_id()
            # On the head node: losing a worker node must not lose the permits' owner.
            self._limiter = (
                ray.remote(LLMLimiter)
                .options(
                    num_cpus=0,
                    max_concurrency=10_000,
                    max_restarts=-1,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True),
                )
                .remote(_llm_concurrency(stage), *self._rates(stage))
            )
        return self._limiter

    def _rates(self, stage: Stage) -> tuple[float | None, float | None]:
        """rpm/tpm: the runner's own, else the stage config's ``llm.rpm``/``llm.tpm``."""
        llm = getattr(getattr(stage, "config", None), "llm", None)
        rpm, tpm = llm.rate_limits() if hasattr(llm, "rate_limits") else (None, None)
        return (self.llm_rpm or rpm), (self.llm_tpm or tpm)

    def llm_stats(self) -> dict[str, int] | None:
        """The limiter's counters (permits granted, most in use at once); None before an LLM stage."""
        if self._limiter is None:
            return None
        import ray

        return dict(ray.get(self._limiter.stats.remote()))

    def busy_nodes(self) -> set[str]:
        """Node ids where a batch of the current stage is running right now (not yet returned)."""
        pool = self._pool
        if pool is None or not pool.busy:
            return set()
        import ray

        refs = list(pool.busy.values())
        finished, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done = set(finished)
        return {pool.nodes[a] for a, r in pool.busy.items() if r not in done and a in pool.nodes}

    # -- running ------------------------------------------------------------------------------
    def map_batches(
        self, stage: Stage, batches: Iterable[Batch]
    ) -> Iterator[tuple[int, list[Outcome]]]:
        ray = self._connect()
        size = self._worker_count(ray)
        options = {"num_cpus": self.cpus_per_worker, "max_restarts": 0, "max_task_retries": 0}
        pool = WorkerPool(ray, self._remote_stage(stage), size, options, self.limiter(stage))
        self._pool = pool
        try:
            yield from self._drive(ray, pool, stage, batches, self.max_in_flight or 2 * size)
        finally:
            self._pool = None
            pool.shutdown()

    def _remote_stage(self, stage: Stage) -> Stage:
        """The stage as shipped: sandbox stages size their sandbox to the actor's CPUs."""
        cfg = getattr(stage, "config", None)
        exec_cfg = getattr(cfg, "exec", None)
        if not stage.uses_sandbox or exec_cfg is None or exec_cfg.workers is not None:
            return stage
        shipped = copy.copy(stage)
        n = max(1, round(self.cpus_per_worker))
        shipped.config = cfg.model_copy(update={"exec": exec_cfg.model_copy(update={"workers": n})})
        return shipped

    def _drive(
        self, ray: Any, pool: WorkerPool, stage: Stage, batches: Iterable[Batch], max_in_flight: int
    ) -> Iterator[tuple[int, list[Outcome]]]:
        source = enumerate(batches)
        exhausted = False
        states: dict[int, _BatchState] = {}
        queue: deque[_Piece] = deque()
        running: dict[ObjectRef[list[Outcome]], tuple[_Piece, ActorHandle]] = {}
        started: dict[ObjectRef[list[Outcome]], float] = {}
        timed_out: set[ObjectRef[list[Outcome]]] = set()
        while True:
            # Retries go first; new input is read only when a worker is free for it.
            while pool.idle:
                if not queue and not exhausted and len(states) < max_in_flight:
                    try:
                        index, batch = next(source)
                    except StopIteration:
                        exhausted = True
                    else:
                        records = list(batch)
                        states[index] = _BatchState(records, [None] * len(records), len(records))
                        if records:
                            queue.append(_Piece(index, list(range(len(records))), records))
                        else:
                            yield index, []
                            del states[index]
                        continue
                if not queue:
                    break
                piece = queue.popleft()
                actor = pool.idle.pop()
                ref = actor.process.remote(piece.records)
                pool.busy[actor] = ref
                running[ref] = (piece, actor)
                started[ref] = time.monotonic()
            if not running and not queue and exhausted and not states:
                return
            waiting = list(running) + list(pool.starting)
            if not waiting:  # pragma: no cover - the pool always has live or starting actors
                raise RuntimeError("ray runner: no workers left and none starting")
            done, _ = ray.wait(waiting, num_returns=1, timeout=self._wait_s(started))
            if not done:
                self._kill_overdue(ray, running, started, timed_out)
                continue
            ref = done[0]
            if ref in pool.starting:
                self._on_started(ray, pool, ref)
                continue
            piece, actor = running.pop(ref)
            started.pop(ref, None)
            try:
                outcomes: list[Outcome] = ray.get(ref)
            except Exception as exc:
                if _is_stage_error(ray, exc):
                    raise exc.as_instanceof_cause() from None  # type: ignore[attr-defined]
                hung = ref in timed_out
                timed_out.discard(ref)
                self._on_death(pool, actor, piece, queue, states, stage, exc, hung)
            else:
                pool.busy.pop(actor, None)
                pool.idle.append(actor)
                self.nodes_used.add(pool.nodes.get(actor, ""))
                check_outcomes(stage, piece.records, outcomes)
                self._fill(states, piece, outcomes)
            for index in [i for i, s in states.items() if s.missing == 0]:
                state = states.pop(index)
                yield index, [o for o in state.slots if o is not None]

    def _wait_s(self, started: dict[Any, float]) -> float | None:
        if self.batch_timeout_s is None or not started:
            return None
        oldest = min(started.values())
        return max(0.0, oldest + self.batch_timeout_s - time.monotonic()) + 0.05

    def _kill_overdue(
        self,
        ray: Any,
        running: dict[Any, tuple[_Piece, ActorHandle]],
        started: dict[Any, float],
        timed_out: set[Any],
    ) -> None:
        """Kill the workers of batches past their deadline; their refs then fail as deaths."""
        assert self.batch_timeout_s is not None
        now = time.monotonic()
        for ref, t0 in list(started.items()):
            if now - t0 >= self.batch_timeout_s and ref not in timed_out:
                timed_out.add(ref)
                ray.kill(running[ref][1], no_restart=True)

    def _on_started(self, ray: Any, pool: WorkerPool, ref: ObjectRef[tuple[str, str]]) -> None:
        try:
            pool.started(ref)
            pool.start_deaths = 0
        except Exception as exc:
            if _is_stage_error(ray, exc):
                raise exc.as_instanceof_cause() from None  # type: ignore[attr-defined]
            # Died while starting (its node went away): try again elsewhere.
            pool.start_deaths += 1
            if pool.start_deaths > MAX_START_DEATHS:
                raise CodeioError(
                    f"ray runner: {pool.start_deaths} workers for stage {pool.stage_name!r} died"
                    f" before they started; last: {_short(exc)}"
                ) from exc
            self.stats["worker_deaths"] += 1
            log.warning("ray worker died while starting: %s", _short(exc))
            actor = pool.starting.pop(ref, None)
            if actor is not None:
                pool.lost(actor)

    def _on_death(
        self,
        pool: WorkerPool,
        actor: ActorHandle,
        piece: _Piece,
        queue: deque[_Piece],
        states: dict[int, _BatchState],
        stage: Stage,
        exc: BaseException,
        hung: bool = False,
    ) -> None:
        self.stats["worker_deaths"] += 1
        log.warning(
            "ray worker died on %d record(s) of batch %d: %s",
            len(piece.records),
            piece.batch,
            _short(exc),
        )
        pool.lost(actor)
        piece.deaths += 1
        piece.errors.append(
            f"killed after batch_timeout_s={self.batch_timeout_s}" if hung else _short(exc)
        )
        piece.hung = hung
        if len(piece.records) > 1:
            if piece.deaths > self.batch_retries:
                # Dying twice points at a record, not a node: isolate it.
                self.stats["splits"] += 1
                for pos, rec in zip(piece.positions, piece.records, strict=True):
                    queue.appendleft(_Piece(piece.batch, [pos], [rec]))
            else:
                queue.appendleft(piece)
            return
        if piece.deaths < self.max_attempts:
            queue.appendleft(piece)
            return
        rec = piece.records[0]
        rid = str(getattr(rec, "id", ""))
        self.stats["crash_failures"] += 1
        failure = Failure(
            stage=stage.name,
            record_id=rid,
            reason=WORKER_TIMEOUT if piece.hung else WORKER_CRASHED,
            detail=f"the worker process died {piece.deaths} times while processing this record;"
            f" last: {piece.errors[-1]}",
        )
        self._fill(states, piece, [Outcome(rid, failure=failure)])

    @staticmethod
    def _fill(states: dict[int, _BatchState], piece: _Piece, outcomes: list[Outcome]) -> None:
        state = states[piece.batch]
        for pos, oc in zip(piece.positions, outcomes, strict=True):
            state.slots[pos] = oc
            state.missing -= 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._limiter is not None:
            try:
                import ray

                ray.kill(self._limiter, no_restart=True)
            except Exception:  # the cluster may already be gone
                log.debug("killing the limiter failed", exc_info=True)
            self._limiter = None
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False


def _head_node(ray: Any) -> str | None:
    for node in ray.nodes():
        if node.get("Alive") and "node:__internal_head__" in node.get("Resources", {}):
            return str(node["NodeID"])
    return None


def _llm_concurrency(stage: Stage) -> int:
    llm = getattr(getattr(stage, "config", None), "llm", None)
    return int(getattr(llm, "concurrency", 64) or 64)


def _is_stage_error(ray: Any, exc: BaseException) -> bool:
    """An exception the stage raised (a bug to surface), as opposed to its worker dying."""
    return isinstance(exc, ray.exceptions.RayTaskError) and not isinstance(
        exc, ray.exceptions.RayActorError
    )


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 500 else text[:500] + "..."
