"""Cluster-wide LLM limits: one limiter actor grants permits, every worker's backend asks it.

Each worker keeps its own ``LLMClient`` (cache, retries, accounting), so its per-client
``concurrency`` would multiply by the number of workers. Wrapping the backend instead makes
every request, wherever it runs, hold a permit from one actor for as long as the backend works
on it: ``llm.concurrency``, ``llm.rpm`` and ``llm.tpm`` then hold for the run, not per worker
(``install_limiter`` switches the workers' own client-side rpm/tpm off). Permits carry their
holder, so the driver can take back the permits of a worker that died.
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
    """Counting semaphore plus requests- and tokens-per-minute pacers; one async Ray actor.

    Requests start evenly spaced (``60 / rpm`` s apart), so no 60 s window holds more than
    ``rpm``. Tokens come from a bucket of one minute's budget: each request reserves its
    estimate (prompt chars / 4 + max_tokens) and waits while the bucket is in debt; the real
    usage is settled when the permit is released.
    """

    def __init__(
        self, concurrency: int, rpm: float | None = None, tpm: float | None = None
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.rpm = rpm
        self.tpm = tpm
        self._tokens = float(tpm or 0)
        self._token_stamp = time.monotonic()
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

    def _refill(self, now: float) -> None:
        if self.tpm:
            gained = (now - self._token_stamp) * self.tpm / 60.0
            self._tokens = min(float(self.tpm), self._tokens + gained)
        self._token_stamp = now

    async def acquire(self, holder: str, tokens: int = 0) -> int:
        """Wait for a free permit (and the next rpm slot, and ``tokens`` of the tpm budget);
        returns the lease to release."""
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
            if self.tpm:
                now = time.monotonic()
                self._refill(now)
                # A request larger than the whole bucket would wait forever: cap it.
                self._tokens -= min(float(tokens), float(self.tpm))
                if self._tokens < 0:
                    delay = max(delay, -self._tokens * 60.0 / self.tpm)
        if delay > 0:
            await asyncio.sleep(delay)
        return lease

    async def release(
        self, holder: str, lease: int, reserved: int = 0, used: int | None = None
    ) -> None:
        """Free the permit; with ``used``, give back (or take) what the estimate was off by."""
        cond = self._condition()
        async with cond:
            if self.tpm and used is not None:
                self._refill(time.monotonic())
                reserved_capped = min(float(reserved), float(self.tpm))
                self._tokens = min(float(self.tpm), self._tokens + reserved_capped - used)
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
            "rpm": int(self.rpm or 0),
            "tpm": int(self.tpm or 0),
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

    async def _acquire(self, tokens: int = 0) -> int:
        """A lease from the limiter, waiting out its restart if its node went away."""
        from ray.exceptions import RayActorError

        from codeio.errors import LLMError
        from codeio.llm.base import Reason

        deadline = time.monotonic() + ACQUIRE_PATIENCE_S
        while True:
            ref = self._limiter.acquire.remote(self._holder, tokens)
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
        from codeio.llm.client import estimate_tokens

        reserved = estimate_tokens(request)
        lease = await self._acquire(reserved)
        used = 0
        try:
            if self.inner.remote:
                answer = await asyncio.wait_for(self.inner.acomplete(request), self._timeout_s)
            else:
                answer = await self.inner.acomplete(request)
            # Unknown usage keeps the estimate, as the client's own limiter does.
            used = (
                answer.prompt_tokens + answer.completion_tokens if answer.usage_known else reserved
            )
            return answer
        finally:
            # Fire and forget: the permit is free once the actor has it, no need to wait.
            self._limiter.release.remote(self._holder, lease, reserved, used)

    def __getattr__(self, name: str) -> Any:
        # Anything backend-specific (e.g. the trace teacher's options) reads through.
        return getattr(self.__dict__["inner"], name)


def install_limiter(stage: Any, limiter: Any, holder: str) -> int:
    """Route every LLM client the stage opened through ``limiter``; returns how many.

    The client's own rpm/tpm limiter is switched off: each worker enforcing the run's budget
    on its own would multiply it by the number of workers.
    """
    from codeio.llm.client import LLMClient
    from codeio.llm.retry import RateLimiter

    n = 0
    for value in list(vars(stage).values()):
        if isinstance(value, LLMClient) and not isinstance(value.backend, LimitedBackend):
            value.backend = LimitedBackend(value.backend, limiter, holder, value.timeout_s)
            value._limiter = RateLimiter()
            n += 1
    return n
