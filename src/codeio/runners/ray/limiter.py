"""Cluster-wide LLM limits: one limiter actor grants permits, every worker's backend asks it.

Each worker keeps its own ``LLMClient`` (cache, retries, accounting), so its per-client
``concurrency`` would multiply by the number of workers. Wrapping the backend instead makes
every request, wherever it runs, hold a permit from one actor for as long as the backend works
on it: ``llm.concurrency`` (and an optional requests-per-minute budget) then holds for the run.
Permits carry their holder, so the driver can take back the permits of a worker that died.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from codeio.llm.base import Completion, LLMBackend, LLMRequest

__all__ = ["LLMLimiter", "LimitedBackend", "install_limiter"]

ACQUIRE_PATIENCE_S = 120.0
"""How long a worker waits for a restarting limiter before failing the attempt."""


class LLMLimiter:
    """Counting semaphore plus a requests-per-minute pacer; runs as one async Ray actor."""

    def __init__(self, concurrency: int, rpm: float | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.rpm = rpm
        self._leases: dict[int, str] = {}
        self._ids = itertools.count(1)
        self._cond: asyncio.Condition | None = None
        self._next_start = 0.0
        self._granted = 0
        self._max_in_use = 0
        self._reclaimed = 0

    def _condition(self) -> asyncio.Condition:
        # Created on first use: the actor's event loop does not exist at __init__ time.
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self, holder: str) -> int:
        """Wait for a free permit (and the next rpm slot); returns the lease to release."""
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: len(self._leases) < self.concurrency)
            lease = next(self._ids)
            self._leases[lease] = holder
            self._granted += 1
            self._max_in_use = max(self._max_in_use, len(self._leases))
            delay = 0.0
            if self.rpm:
                # Spacing starts evenly keeps every window of 60 s under the budget.
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + 60.0 / self.rpm
                delay = start - now
        if delay > 0:
            await asyncio.sleep(delay)
        return lease

    async def release(self, holder: str, lease: int) -> None:
        cond = self._condition()
        async with cond:
            if self._leases.get(lease) == holder:
                del self._leases[lease]
                cond.notify_all()

    async def release_holder(self, holder: str) -> int:
        """Take back every permit a (dead) worker held; returns how many."""
        cond = self._condition()
        async with cond:
            mine = [lease for lease, h in self._leases.items() if h == holder]
            for lease in mine:
                del self._leases[lease]
            self._reclaimed += len(mine)
            if mine:
                cond.notify_all()
            return len(mine)

    async def stats(self) -> dict[str, int]:
        return {
            "concurrency": self.concurrency,
            "in_use": len(self._leases),
            "granted": self._granted,
            "max_in_use": self._max_in_use,
            "reclaimed": self._reclaimed,
        }


class LimitedBackend(LLMBackend):
    """An LLM backend whose every request holds a permit of the cluster's limiter actor.

    It looks like the backend it wraps (kind, model, describe) so cache keys and accounting do
    not change. The client's per-attempt deadline is applied here, around the inner call only:
    time spent waiting for a permit is queueing, not a slow server.
    """

    remote = False

    def __init__(self, inner: LLMBackend, limiter: Any, holder: str, timeout_s: float) -> None:
        self.inner = inner
        self.kind = inner.kind  # type: ignore[misc]
        self.uses_context = inner.uses_context  # type: ignore[misc]
        self.model = inner.model
        self._limiter = limiter
        self._holder = holder
        self._timeout_s = timeout_s

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    async def astart(self) -> None:
        await self.inner.astart()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _acquire(self) -> int:
        """A lease from the limiter, waiting out its restart if its node went away."""
        from ray.exceptions import RayActorError

        from codeio.errors import LLMError
        from codeio.llm.base import Reason

        deadline = time.monotonic() + ACQUIRE_PATIENCE_S
        while True:
            ref = self._limiter.acquire.remote(self._holder)
            try:
                return int(await asyncio.wrap_future(ref.future()))
            except RayActorError as exc:
                if time.monotonic() > deadline:
                    # Retryable: the client backs off and asks again, like a dropped connection.
                    raise LLMError(
                        f"the cluster's LLM limiter is unreachable: {exc}", reason=Reason.CONNECTION
                    ) from exc
                await asyncio.sleep(1.0)

    async def acomplete(self, request: LLMRequest) -> Completion:
        lease = await self._acquire()
        try:
            if self.inner.remote:
                return await asyncio.wait_for(self.inner.acomplete(request), self._timeout_s)
            return await self.inner.acomplete(request)
        finally:
            # Fire and forget: the permit is free once the actor has it, no need to wait.
            self._limiter.release.remote(self._holder, lease)

    def __getattr__(self, name: str) -> Any:
        # Anything backend-specific (e.g. the trace teacher's options) reads through.
        return getattr(self.__dict__["inner"], name)


def install_limiter(stage: Any, limiter: Any, holder: str) -> int:
    """Route every LLM client the stage opened through ``limiter``; returns how many."""
    from codeio.llm.client import LLMClient

    n = 0
    for value in list(vars(stage).values()):
        if isinstance(value, LLMClient) and not isinstance(value.backend, LimitedBackend):
            value.backend = LimitedBackend(value.backend, limiter, holder, value.timeout_s)
            n += 1
    return n
