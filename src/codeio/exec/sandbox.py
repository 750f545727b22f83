"""``Sandbox``: a pool of warm, confined workers that run untrusted code one fork per task."""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from codeio.exec.containment import Containment, describe
from codeio.exec.limits import ExecLimits
from codeio.exec.result import ExecResult, Status
from codeio.exec.worker_proc import WorkerDied, WorkerProcess

__all__ = [
    "DEFAULT_PRELUDE",
    "ExecTask",
    "Sandbox",
    "SandboxUnavailable",
    "run_untrusted",
]

log = logging.getLogger(__name__)

DEFAULT_PRELUDE: tuple[str, ...] = (
    "math", "cmath", "collections", "itertools", "functools", "operator", "heapq", "bisect",
    "re", "json", "random", "string", "statistics", "datetime", "decimal", "fractions", "copy",
    "typing", "dataclasses", "enum", "array", "textwrap", "unicodedata", "hashlib", "struct",
    "time", "io", "numpy", "numpy.random",
)  # fmt: skip
"""Modules imported once by every worker, as the reference CodeI/O scripts do per check."""


class SandboxUnavailable(RuntimeError):
    """``containment="strict"`` was asked for and some mechanism is missing."""


class ExecTask(BaseModel):
    """One unit of work for ``Sandbox.map``: run ``code``, then ``entry(**kwargs)`` if given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    entry: str | None = None
    kwargs: dict[str, Any] | None = None
    limits: ExecLimits | None = None


class Sandbox:
    """Warm workers; ``run``/``map``/``imap_unordered`` are safe from several threads at once."""

    def __init__(
        self,
        workers: int | None = None,
        limits: ExecLimits | None = None,
        prelude: Iterable[str] = DEFAULT_PRELUDE,
        hash_seed: int = 0,
        *,
        containment: Literal["best", "strict", "none"] = "best",
        retries: int = 1,
        tmp_size_mb: int = 256,
    ) -> None:
        self.workers = workers or max(1, len(os.sched_getaffinity(0)))
        self.limits = limits or ExecLimits()
        self.hash_seed = hash_seed
        self.retries = retries
        self._config = {
            "prelude": list(prelude),
            "namespaces": containment != "none",
            "tmp_size_mb": tmp_size_mb,
            "task_env": {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "PYTHONHASHSEED": str(hash_seed),
            },
        }
        self._root = tempfile.mkdtemp(prefix="codeio-sandbox-")
        # Removed at close(), or at interpreter exit for a sandbox that was never closed.
        self._remove_root = weakref.finalize(self, shutil.rmtree, self._root, True)
        self._lock = threading.Lock()
        self._closed = False
        self._serial = 0
        self._idle: queue.Queue[WorkerProcess] = queue.Queue()
        self._live: set[WorkerProcess] = set()
        started = [self._spawn() for _ in range(self.workers)]
        try:
            reports = [w.wait_ready() for w in started]
        except WorkerDied as exc:
            for w in started:
                w.close()
            shutil.rmtree(self._root, ignore_errors=True)
            raise RuntimeError(f"sandbox workers failed to start: {exc}") from exc
        self.report: Containment = describe(reports[0])
        self.containment: str = self.report.level
        if containment == "strict" and not self.report.full:
            self.close()
            raise SandboxUnavailable(
                f"strict containment asked, but missing: {', '.join(self.report.missing)}"
            )
        if not self.report.full:
            log.warning(
                "sandbox running degraded (%s); missing: %s",
                self.containment,
                ", ".join(self.report.missing),
            )
        for w in started:
            self._idle.put(w)

    # -- workers ---------------------------------------------------------------------------
    def _spawn(self) -> WorkerProcess:
        with self._lock:
            self._serial += 1
            root = os.path.join(self._root, f"w{self._serial}")
        worker = WorkerProcess(self._config, self.hash_seed, root)
        with self._lock:
            self._live.add(worker)
        return worker

    def worker_pids(self) -> list[int]:
        """Host pids of the live workers (diagnostics; killing one is a supported failure)."""
        with self._lock:
            return [w.proc.pid for w in self._live if w.alive]

    def _release(self, worker: WorkerProcess) -> None:
        if not worker.alive:
            worker.close()
            with self._lock:
                self._live.discard(worker)
            if self._closed:
                return
            # Replace it now; the new one finishes starting while others serve.
            try:
                worker = self._spawn()
            except OSError as exc:  # _acquire tries again later
                log.warning("cannot restart a sandbox worker: %s", exc)
                return
        if self._closed:
            worker.close()
            return
        self._idle.put(worker)

    def _acquire(self) -> WorkerProcess:
        while True:
            try:
                return self._idle.get(timeout=1.0)
            except queue.Empty:
                pass
            if self._closed:
                raise RuntimeError("sandbox is closed")
            with self._lock:
                short = len(self._live) < self.workers
            if short:  # a replacement failed to start earlier
                try:
                    self._idle.put(self._spawn())
                except OSError as exc:
                    log.warning("cannot restart a sandbox worker: %s", exc)

    # -- public API ------------------------------------------------------------------------
    def run(
        self,
        code: str,
        entry: str | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        limits: ExecLimits | None = None,
    ) -> ExecResult:
        if self._closed:
            raise RuntimeError("sandbox is closed")
        lim = limits or self.limits
        task = {"code": code, "entry": entry, "kwargs": kwargs or {}, "limits": _limits_dict(lim)}
        result = _sandbox_error("not run")
        for _ in range(self.retries + 1):
            worker = self._acquire()
            try:
                reply = worker.execute(task, lim.timeout_s)
            except WorkerDied as exc:
                result = _sandbox_error(f"worker died: {exc}")
                continue
            finally:
                self._release(worker)
            result = _to_result(reply)
            if result.status is not Status.SANDBOX_ERROR:
                return result
        return result

    def run_task(self, task: ExecTask) -> ExecResult:
        return self.run(task.code, task.entry, task.kwargs, limits=task.limits)

    def map(self, tasks: Iterable[ExecTask], *, ordered: bool = True) -> Iterator[ExecResult]:
        if not ordered:
            return (result for _, result in self.imap_unordered(tasks))
        return self._map_ordered(tasks)

    def _map_ordered(self, tasks: Iterable[ExecTask]) -> Iterator[ExecResult]:
        pending: dict[int, ExecResult] = {}
        next_index = 0
        for index, result in self.imap_unordered(tasks):
            pending[index] = result
            while next_index in pending:
                yield pending.pop(next_index)
                next_index += 1

    def imap_unordered(self, tasks: Iterable[ExecTask]) -> Iterator[tuple[int, ExecResult]]:
        """(index in ``tasks``, result) as each finishes; reads ``tasks`` lazily."""
        window = 2 * self.workers
        source = enumerate(tasks)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            running: dict[Future[ExecResult], int] = {}

            def refill() -> None:
                while len(running) < window:
                    item = next(source, None)
                    if item is None:
                        return
                    running[pool.submit(self.run_task, item[1])] = item[0]

            refill()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()
                refill()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            live, self._live = list(self._live), set()
        for worker in live:
            worker.close()
        self._remove_root()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _limits_dict(limits: ExecLimits) -> dict[str, Any]:
    return limits.model_dump()


def _sandbox_error(message: str) -> ExecResult:
    return ExecResult(status=Status.SANDBOX_ERROR, error_type="SandboxError", error_message=message)


def _to_result(reply: dict[str, Any]) -> ExecResult:
    value_json = reply.pop("value_json", None)
    value = json.loads(value_json) if value_json is not None else None
    if reply.get("status") == "sandbox_error":
        reply.setdefault("error_type", "SandboxError")
    return ExecResult(value=value, **reply)


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def run_untrusted(
    code: str,
    entry: str | None = None,
    kwargs: dict[str, Any] | None = None,
    limits: ExecLimits | None = None,
) -> ExecResult:
    """One-shot convenience: runs on a lazily started, process-wide one-worker sandbox."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._closed:
            _shared = Sandbox(workers=1)
    return _shared.run(code, entry, kwargs, limits=limits)
