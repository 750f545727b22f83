"""``Sandbox``: a pool of warm, confined workers that run untrusted code one fork per task."""

from __future__ import annotations

import collections
import functools
import importlib.util
import json
import logging
import os
import queue
import shutil
import site
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from codeio.errors import SandboxError
from codeio.exec.containment import Containment, describe
from codeio.exec.limits import ExecLimits
from codeio.exec.result import ExecResult, Status
from codeio.exec.roots import make_root, remove_root, sweep_stale
from codeio.exec.warm import DEFAULT_WARM, family_imports, libraries, warm_imports
from codeio.exec.worker_proc import WorkerDied, WorkerProcess

__all__ = [
    "DEFAULT_PRELUDE",
    "DEFAULT_WARM",
    "ExecTask",
    "Sandbox",
    "SandboxUnavailable",
    "open_sandboxes",
    "run_untrusted",
]

log = logging.getLogger(__name__)

DEFAULT_PRELUDE: tuple[str, ...] = (
    "math", "cmath", "collections", "itertools", "functools", "operator", "heapq", "bisect",
    "re", "json", "random", "string", "statistics", "datetime", "decimal", "fractions", "copy",
    "typing", "dataclasses", "enum", "array", "textwrap", "unicodedata", "hashlib", "struct",
    "time", "io",
)  # fmt: skip
"""Standard-library modules imported once by every template, as the reference scripts import
them per check. numpy, the reference's other usual import, is in ``DEFAULT_WARM``: imported once
by the templates that serve the tasks which use it (see ``codeio.exec.warm``)."""

_LOOKAHEAD = 32
"""Tasks ``imap_unordered`` reads ahead, so a lane can take a later one instead of waiting."""

BASE: tuple[str, ...] = ()
"""The key of the pool whose templates hold only the prelude."""


class SandboxUnavailable(SandboxError, RuntimeError):
    """The sandbox cannot run tasks as asked: ``containment="strict"`` and some mechanism is
    missing, or the interpreter inside it cannot import the prelude or a library the caller's
    interpreter has (the message names the module and the error)."""


class ExecTask(BaseModel):
    """One unit of work for ``Sandbox.map``: run ``code``, then ``entry(**kwargs)`` if given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    entry: str | None = None
    kwargs: dict[str, Any] | None = None
    limits: ExecLimits | None = None


class _Pool:
    """The workers of one template kind (key: the warm modules it imported)."""

    __slots__ = ("idle", "size", "starting", "used", "start_s", "waited_s")

    def __init__(self) -> None:
        self.idle: list[WorkerProcess] = []
        self.size = 0
        """Live workers, idle or busy, plus those starting."""
        self.starting = 0
        self.used = 0.0
        self.start_s = 0.0
        """How long its last worker took to start (mostly its template's imports)."""
        self.waited_s = 0.0
        """Time tasks spent waiting for one of its workers since it last grew."""

    def may_grow(self, key: tuple[str, ...], limit: int) -> bool:
        if self.size >= limit:
            return False
        if key == BASE or self.size == 0:
            return True
        # Rent or buy: another warm worker costs about start_s of CPU, so start one only once
        # tasks have waited that long for the ones there are. A record's few quick pairs then
        # share one template; a stream of tasks that keeps every lane busy gets one per lane.
        return self.starting == 0 and self.waited_s >= self.start_s


class Sandbox:
    """Warm workers; ``run``/``map``/``imap_unordered`` are safe from several threads at once.

    ``workers`` tasks run at once. Workers come in pools, one per template: the base pool
    imports ``prelude``; a task that imports modules of ``warm`` libraries runs in a pool whose
    template imported those too, started on first use. At most ``warm_workers`` (default: four times
    ``workers``) such workers live at once; the least recently used idle one makes room.
    """

    def __init__(
        self,
        workers: int | None = None,
        limits: ExecLimits | None = None,
        prelude: Iterable[str] = DEFAULT_PRELUDE,
        hash_seed: int = 0,
        *,
        warm: Iterable[str] = DEFAULT_WARM,
        warm_workers: int | None = None,
        containment: Literal["best", "strict", "none"] = "best",
        retries: int = 1,
        tmp_size_mb: int = 256,
    ) -> None:
        self.workers = workers or max(1, len(os.sched_getaffinity(0)))
        self.limits = limits or ExecLimits()
        self.hash_seed = hash_seed
        self.retries = retries
        self.warm = frozenset(warm)
        self.warm_workers = max(self.workers, warm_workers or max(12, 4 * self.workers))
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
        _sweep_once()
        self._root, owner_fd = make_root()
        # Removed at close(), or at interpreter exit for a sandbox that was never closed (and
        # by a later sandbox's sweep if this process is killed).
        self._remove_root = weakref.finalize(self, remove_root, self._root, owner_fd)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._slots = threading.BoundedSemaphore(self.workers)
        self._closed = False
        self._serial = 0
        self._pools: dict[tuple[str, ...], _Pool] = {BASE: _Pool()}
        # What the scan of a task found -> the modules a template for it actually holds.
        self._resolved: dict[tuple[str, ...], tuple[str, ...]] = {BASE: BASE}
        # A warm pool's key -> every module of its libraries its template holds.
        self._holds: dict[tuple[str, ...], frozenset[str]] = {}
        self._live: set[WorkerProcess] = set()
        self._prepare_queue: collections.deque[tuple[str, ...]] = collections.deque()
        self._queued: set[tuple[str, ...]] = set()
        self._preparing = 0
        self.started = 0
        """Workers started after the first ``workers`` (warm templates and replacements)."""
        self.start_s = 0.0
        """Seconds those starts took, summed (the tasks that needed them waited as long)."""
        self._config["expect"] = list(_host_findable(tuple(sorted(self.warm))))
        started = [self._spawn(BASE) for _ in range(self.workers)]
        self._pools[BASE].size = len(started)
        try:
            reports = [w.wait_ready() for w in started]
        except WorkerDied as exc:
            for w in started:
                w.close()
            why = next((tail for w in started if (tail := w.stderr_tail())), "")
            self._remove_root()
            raise SandboxUnavailable(
                f"the sandbox workers failed to start: {exc}"
                + (f": {why}" if why else "")
                + " (run `codeio doctor`)"
            ) from exc
        self.report: Containment = describe(reports[0])
        self.containment: str = self.report.level
        cannot = {**reports[0].get("prelude_errors", {}), **reports[0].get("missing", {})}
        if cannot:
            self.close()
            name, error = next(iter(cannot.items()))
            more = f" (and {len(cannot) - 1} more)" if len(cannot) > 1 else ""
            raise SandboxUnavailable(
                f"the sandbox cannot import {name}: {error}{more} (run `codeio doctor`)"
            )
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
        self._pools[BASE].idle.extend(started)

    # -- workers ---------------------------------------------------------------------------
    def _spawn(self, warm: tuple[str, ...]) -> WorkerProcess:
        with self._lock:
            self._serial += 1
            root = os.path.join(self._root, f"w{self._serial}")
        worker = WorkerProcess({**self._config, "warm": family_imports(warm)}, self.hash_seed, root)
        with self._lock:
            closed = self._closed
            if not closed:
                self._live.add(worker)
        if closed:
            # close() ran while this one started (a template prepared in the background): it
            # did not see it, and its directory is gone; end it here rather than leave it to
            # fail on its own.
            worker.close()
            raise RuntimeError("sandbox is closed")
        return worker

    def worker_pids(self) -> list[int]:
        """Host pids of the live workers (diagnostics; killing one is a supported failure)."""
        with self._lock:
            return [w.proc.pid for w in self._live if w.alive]

    def pools(self) -> dict[tuple[str, ...], int]:
        """Live workers per template (key: the warm modules it holds; () is the base)."""
        with self._lock:
            return {key: pool.size for key, pool in self._pools.items() if pool.size}

    def _acquire(self, wanted: tuple[str, ...]) -> WorkerProcess:
        """An idle worker whose template holds ``wanted``, starting one if needed."""
        evicted: list[WorkerProcess] = []
        with self._changed:
            while True:
                if self._closed:
                    raise RuntimeError("sandbox is closed")
                key = self._key_for(wanted)
                pool = self._pools.setdefault(key, _Pool())
                pool.used = time.monotonic()
                if pool.idle:
                    return pool.idle.pop()
                if not pool.size and self._same_libraries_starting(key):
                    # Its template likely holds these modules too (a family's template imports
                    # the family's common modules): wait for it rather than import the same
                    # libraries a second time.
                    self._changed.wait(1.0)
                    continue
                if pool.may_grow(key, self.workers) and (
                    key == BASE or self._make_room(key, evicted)
                ):
                    pool.size += 1
                    pool.starting += 1
                    pool.waited_s = 0.0
                    break
                wait_s = 1.0
                if pool.starting == 0 and pool.size < self.workers:
                    wait_s = min(wait_s, max(0.001, pool.start_s - pool.waited_s))
                began = time.monotonic()
                starting = pool.starting  # waiting for a worker that is starting is not contention
                self._changed.wait(wait_s)
                if not starting:
                    pool.waited_s += time.monotonic() - began
        for worker in evicted:
            worker.close()
        return self._start(wanted, key)

    def _key_for(self, wanted: tuple[str, ...]) -> tuple[str, ...]:
        """The pool for a task that wants ``wanted``; called with the lock held.

        First seen: a live pool whose template imported the same libraries and holds every
        wanted module (``numpy.linalg`` comes with ``numpy``) serves it, rather than a new
        template that would import exactly the same (seconds of CPU for scipy or sklearn)."""
        key = self._resolved.get(wanted)
        if key is not None:
            return key
        tops = libraries(wanted)
        bigger: tuple[str, ...] | None = None
        for held, modules in self._holds.items():
            pool = self._pools.get(held)
            if pool is None or not pool.size or not modules.issuperset(wanted):
                continue
            if libraries(held) == tops:
                self._resolved[wanted] = held
                return held
            # A template of other libraries that loaded these too (nltk imports scipy, sklearn
            # and pandas) serves a task of a heavy library: a somewhat costlier fork instead of
            # seconds of imports. Not plain numpy tasks, the common case, which keep their small
            # template; and not remembered, as that template may go while these tasks remain.
            if tops - {"numpy"} and (bigger is None or len(modules) < len(self._holds[bigger])):
                bigger = held
        return bigger or wanted

    def _same_libraries_starting(self, key: tuple[str, ...]) -> bool:
        """Whether a template of exactly the libraries of ``key`` is starting (lock held)."""
        tops = libraries(key)
        return any(p.starting and k != key and libraries(k) == tops for k, p in self._pools.items())

    def prepare(self, wanted: Iterable[str]) -> None:
        """Start, in the background, a template for tasks that import ``wanted`` (module names,
        as ``warm_imports`` finds them), unless one is live or starting or the warm-worker cap
        is reached: a caller that knows what its next tasks need keeps its lanes busy with
        others meanwhile instead of waiting for the start (imports of seconds for some).

        Requests are served in order, ``max(1, workers // 2)`` starts at a time: a template
        that is up may then serve the next request (nltk's holds scipy, sklearn and pandas),
        and the first ones are ready early instead of all of them late."""
        names = tuple(sorted({n for n in wanted if n.split(".")[0] in self.warm}))
        if not names:
            return
        with self._changed:
            if self._closed or names in self._queued:
                return
            self._queued.add(names)
            self._prepare_queue.append(names)
            if self._preparing >= max(1, self.workers // 2):
                return  # a running preparer will get to it
            self._preparing += 1
        threading.Thread(
            target=self._prepare_loop, name="codeio-sandbox-prepare", daemon=True
        ).start()

    def _prepare_loop(self) -> None:
        while True:
            with self._changed:
                if self._closed or not self._prepare_queue:
                    self._preparing -= 1
                    return
                names = self._prepare_queue.popleft()
                self._queued.discard(names)
                key = self._key_for(names)
                pool = self._pools.setdefault(key, _Pool())
                warm_live = sum(p.size for k, p in self._pools.items() if k != BASE)
                if pool.size or warm_live >= self.warm_workers:
                    continue
                if self._same_libraries_starting(key):
                    continue  # once up it may hold these too
                pool.size += 1
                pool.starting += 1
                pool.waited_s = 0.0
                # Wanted soon: the least recently used pool to evict is one that served tasks
                # already, not one started for tasks that have yet to come.
                pool.used = time.monotonic()
            try:
                worker = self._start(names, key)
            except (OSError, WorkerDied, RuntimeError):
                continue  # logged and accounted for by _start; a task will try again
            self._release(worker)

    def can_serve_now(self, wanted: Iterable[str]) -> bool:
        """Whether a task importing ``wanted`` would get a worker now, without waiting for a
        template to start or for another task (a hint for ordering work; takes nothing)."""
        return self._can_serve_now(tuple(sorted(set(wanted))))

    def _can_serve_now(self, wanted: tuple[str, ...]) -> bool:
        """Whether a task wanting ``wanted`` would get a worker without waiting for another
        task or another lane's start (a heuristic for ordering work; takes nothing)."""
        with self._lock:
            key = self._key_for(wanted)
            pool = self._pools.get(key)
            if pool is None or not pool.size:
                # Waiting to be prepared: a lane that took it now would start it itself.
                return wanted not in self._queued
            return bool(pool.idle) or pool.may_grow(key, self.workers)

    def _make_room(self, key: tuple[str, ...], evicted: list[WorkerProcess]) -> bool:
        """Whether one more warm worker may start, evicting the least recently used idle one
        of another warm pool if the cap is reached. Called with the lock held."""
        warm_live = sum(p.size for k, p in self._pools.items() if k != BASE)
        if warm_live < self.warm_workers:
            return True
        victims = [(p.used, k) for k, p in self._pools.items() if k not in (BASE, key) and p.idle]
        if not victims:
            return False
        pool = self._pools[min(victims)[1]]
        evicted.append(pool.idle.pop(0))
        pool.size -= 1
        self._live.discard(evicted[-1])
        return True

    def _start(self, wanted: tuple[str, ...], key: tuple[str, ...]) -> WorkerProcess:
        began = time.monotonic()
        worker: WorkerProcess | None = None
        try:
            worker = self._spawn(wanted)
            report = worker.wait_ready()
        except (OSError, WorkerDied) as exc:
            if worker is not None:
                with self._lock:
                    self._live.discard(worker)
                worker.close()
                if why := worker.stderr_tail():
                    exc = WorkerDied(f"{exc}: {why}")
            with self._changed:
                self._pools[key].size -= 1
                self._pools[key].starting -= 1
                if key != BASE:
                    # Never again: its tasks run from the base template and import what they
                    # need themselves, failing there with their own typed error if they must.
                    self._resolved[wanted] = BASE
                self._changed.notify_all()
            if key != BASE and not self._closed:  # closing ends templates still starting
                log.warning(
                    "the warm template for %s failed to start (%s); its tasks run from the "
                    "base template",
                    "+".join(wanted),
                    exc,
                )
                raise WorkerDied(
                    f"the warm template for {'+'.join(wanted)} failed to start: {exc}"
                ) from exc
            raise WorkerDied(f"cannot start a worker: {exc}") from exc
        # The scan's candidates include names that are not modules (`from numpy import array`);
        # the template says which it holds, and tasks that want the same share its pool.
        held = tuple(sorted(report.get("warm_loaded", wanted))) if wanted else BASE
        with self._changed:
            took = time.monotonic() - began
            self.started += 1
            self.start_s += took
            pool = self._pools[key]
            pool.starting -= 1
            pool.start_s = took
            pool.waited_s = 0.0
            self._resolved[wanted] = held
            if held:
                self._holds[held] = frozenset(report.get("warm_modules", held))
            if held != key:
                # It joins the pool of what it really holds; one that holds nothing warm (none
                # of the candidates could be imported) is a base worker and frees its warm slot.
                pool.size -= 1
                other = self._pools.setdefault(held, _Pool())
                other.size += 1
                other.start_s = took
            self._changed.notify_all()
        worker.key = held
        return worker

    def _release(self, worker: WorkerProcess) -> None:
        with self._changed:
            pool = self._pools[worker.key]
            # A warm start that resolved to nothing joins the base pool only while it has room.
            keep = worker.alive and not self._closed
            keep = keep and not (worker.key == BASE and pool.size > self.workers)
            if keep:
                pool.idle.append(worker)
            else:
                self._live.discard(worker)
                pool.size -= 1
            self._changed.notify()
        if not keep:
            worker.close()

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
        return self._run(code, entry, kwargs, limits, warm_imports(code, kwargs, self.warm))

    def _run(
        self,
        code: str,
        entry: str | None,
        kwargs: dict[str, Any] | None,
        limits: ExecLimits | None,
        wanted: tuple[str, ...],
    ) -> ExecResult:
        lim = limits or self.limits
        try:
            body = _task_body(code, entry, kwargs, lim)
        except (TypeError, ValueError, RecursionError) as exc:  # kwargs that JSON cannot carry
            return ExecResult(
                status=Status.ERROR,
                error_type="TaskNotSerializable",
                error_message=f"{type(exc).__name__}: {exc}"[:2000],
            )
        result = _sandbox_error("not run")
        with self._slots:
            for _ in range(self.retries + 1):
                try:
                    worker = self._acquire(wanted)
                except WorkerDied as exc:
                    result = _sandbox_error(str(exc))
                    continue
                try:
                    result = worker.execute(body, lim)
                except WorkerDied as exc:
                    result = _sandbox_error(f"worker died: {exc}")
                    continue
                except Exception as exc:  # never out of run(): one bad task must not end a batch
                    worker.alive = False
                    result = _sandbox_error(f"engine: {type(exc).__name__}: {exc}")
                    continue
                finally:
                    self._release(worker)
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
        source = enumerate(tasks)
        backlog: collections.deque[tuple[int, ExecTask, tuple[str, ...]]] = collections.deque()
        take = threading.Lock()
        done: queue.SimpleQueue[tuple[int, ExecResult | None, BaseException | None]]
        done = queue.SimpleQueue()
        stop = threading.Event()

        def pick() -> tuple[int, ExecTask, tuple[str, ...]] | None:
            while len(backlog) < _LOOKAHEAD:
                item = next(source, None)
                if item is None:
                    break
                wanted = warm_imports(item[1].code, item[1].kwargs, self.warm)
                backlog.append((item[0], item[1], wanted))
            # The first task that can start now: a lane does not sit idle while another starts
            # the template that the next few tasks need.
            for pos, entry in enumerate(backlog):
                if self._can_serve_now(entry[2]):
                    del backlog[pos]
                    return entry
            return backlog.popleft() if backlog else None

        def lane() -> None:
            # One lane per worker slot, each pulling its next task when it is free.
            try:
                while not stop.is_set():
                    with take:
                        item = pick()
                    if item is None:
                        break
                    index, task, wanted = item
                    try:
                        result = self._run(task.code, task.entry, task.kwargs, task.limits, wanted)
                    except Exception as exc:
                        if self._closed:
                            raise
                        result = _sandbox_error(f"engine: {type(exc).__name__}: {exc}")
                    done.put((index, result, None))
            except BaseException as exc:  # a failing task iterator, or a closed sandbox
                done.put((-1, None, exc))
            finally:
                done.put((-2, None, None))

        lanes = [threading.Thread(target=lane, daemon=True) for _ in range(self.workers)]
        for thread in lanes:
            thread.start()
        running = len(lanes)
        try:
            while running:
                index, result, error = done.get()
                if index == -2:
                    running -= 1
                elif error is not None:
                    raise error
                else:
                    assert result is not None
                    yield index, result
        finally:
            stop.set()

    def self_test(self, modules: Iterable[str]) -> dict[str, str | None]:
        """Import each module inside the sandbox, as a task would (confined, as the task uid):
        module -> None if it imports, else the error as one line."""
        names = list(dict.fromkeys(modules))
        if not names:
            return {}
        with self._lock:
            self._serial += 1
            root = os.path.join(self._root, f"t{self._serial}")
        worker = WorkerProcess({**self._config, "warm": names}, self.hash_seed, root)
        try:
            report = worker.wait_ready()
        except WorkerDied as exc:
            if len(names) > 1:  # one of them took the worker down: find which
                return {k: v for name in names for k, v in self.self_test([name]).items()}
            return {names[0]: f"the sandbox worker died while importing it ({exc})"}
        finally:
            worker.close()
            shutil.rmtree(root, ignore_errors=True)
        errors = report.get("warm_errors", {})
        return {name: errors.get(name) for name in names}

    def close(self) -> None:
        if self._closed:
            return
        with self._changed:
            self._closed = True
            live, self._live = list(self._live), set()
            self._changed.notify_all()
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


@functools.cache
def _sweep_once() -> None:
    """Remove the directories of sandboxes whose host was killed, once per process: they
    would pile up under the temp dir of a machine that runs for weeks."""
    removed = sweep_stale()
    if removed:
        log.debug("removed %d sandbox directories left by killed processes", removed)


@functools.lru_cache(maxsize=64)
def _limits_json(limits: ExecLimits) -> str:
    """The child's JSON for one (frozen, hashable) limits object."""
    return json.dumps(limits.model_dump())


def _task_body(
    code: str, entry: str | None, kwargs: dict[str, Any] | None, limits: ExecLimits
) -> bytes:
    task = json.dumps({"code": code, "entry": entry, "kwargs": kwargs or {}}, allow_nan=True)
    # Splice the cached limits in rather than re-serialising them for every task.
    return f'{task[:-1]},"limits":{_limits_json(limits)}}}'.encode()


@functools.lru_cache(maxsize=8)
def _host_findable(names: tuple[str, ...]) -> tuple[str, ...]:
    """The top-level modules of ``names`` that this interpreter finds outside the user's own
    site-packages (which sandbox workers do not load): the sandbox must find them too."""
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    found = []
    for name in dict.fromkeys(n.split(".")[0] for n in names):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        origin = (spec.origin or "") if spec is not None else ""
        if spec is not None and not (user_site and origin.startswith(user_site)):
            found.append(name)
    return tuple(found)


def _sandbox_error(message: str) -> ExecResult:
    return ExecResult(status=Status.SANDBOX_ERROR, error_type="SandboxError", error_message=message)


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


def open_sandboxes(*settings: dict[str, Any]) -> list[Sandbox]:
    """One ``Sandbox(**kwargs)`` per mapping, started at the same time (each start is mostly
    waiting for its workers' interpreters); if one fails, those that started are closed and
    its error is raised."""
    with ThreadPoolExecutor(max(1, len(settings))) as pool:
        futures = [pool.submit(lambda kw: Sandbox(**kw), kw) for kw in settings]
        opened, error = [], None
        for future in futures:
            try:
                opened.append(future.result())
            except BaseException as exc:  # re-raised below, once the others are closed
                error = error or exc
    if error is not None:
        for box in opened:
            box.close()
        raise error
    return opened
