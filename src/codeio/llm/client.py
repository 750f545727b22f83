"""LLMClient: one front door over any backend, with concurrency, retries, cache and accounting.

Every request ends in exactly one of three ways, each counted once: a cache hit, an answer, or
an ``LLMError`` with a reason. All backend work runs on one private event loop in a daemon
thread, so connection pools, semaphores and rate limiters never straddle loops; the sync
methods and the async ones called from any other loop hand their work to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from codeio.errors import LLMEndpointDown, LLMError
from codeio.llm.base import (
    Completion,
    EmptyAnswerError,
    LengthError,
    LLMBackend,
    LLMRequest,
    Reason,
)
from codeio.llm.breaker import ENDPOINT_DOWN, BreakerPolicy, CircuitBreaker
from codeio.llm.cache import ResponseCache, cache_key
from codeio.llm.retry import RateLimiter, RetryPolicy
from codeio.llm.usage import Counters, Prices, PricesSpec, UsageTracker

__all__ = ["LLMClient", "Progress", "Result", "ResultCallback"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Result = Completion | LLMError
Progress = Callable[[int, int], None]
"""``progress(done, total)``, called on the client's loop thread after each request ends."""
ResultCallback = Callable[[int, Result], None]
"""``on_result(index, result)``, called on the client's loop thread as each request ends."""

CACHE_FLUSH_S = 0.25
"""Cache writes are committed in batches at most this old (and when a blocking call returns,
and on close). One commit per request was most of the client's CPU at a few thousand requests
per second; a kill -9 loses at most this window of answers, which the next run asks again."""


class _LoopThread:
    """A private event loop running forever in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for it. Interrupted (Ctrl-C), the loop's tasks are
        cancelled and awaited before the interrupt goes on: a task still pending at interpreter
        exit makes asyncio print "Task was destroyed but it is pending!" after codeio's one
        line."""
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:
            if not future.done():
                self.cancel_all()
            raise

    def cancel_all(self, timeout: float = 10.0) -> None:
        async def cancel() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive() and not self.loop.is_closed():
            try:
                self.submit(cancel()).result(timeout=timeout)
            except BaseException:  # a second Ctrl-C, or a loop that will not answer
                pass

    def stop(self) -> None:
        self.cancel_all()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        if not self.loop.is_running():
            self.loop.close()

    @property
    def current(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False


class LLMClient:
    """Concurrency cap, retries, response cache and token accounting around one backend.

    Args:
        cache: a ``ResponseCache`` or a path to its SQLite file; ``None`` keeps nothing on disk.
        use_cache: ``False`` never reads the cache (every request goes to the backend) but still
            writes fresh answers and usage, so a later run can reuse them.
        concurrency: requests in flight at once (a retry's backoff keeps its slot).
        timeout_s: deadline of one attempt on a remote backend.
        rpm, tpm: optional requests- and tokens-per-minute limits.
        prices: per-1M-token prices, one for all models or a mapping model -> prices
            (key ``"*"`` as the fallback); without prices cost stays 0.
        length_is_error: an answer cut at ``max_tokens`` becomes ``LLMError(reason="length")``.
        seed: seeds the retry jitter (tests).
        breaker: when to stop asking an endpoint that fails systematically
            (``codeio.llm.breaker``); ``None`` never stops.
    """

    def __init__(
        self,
        backend: LLMBackend,
        *,
        cache: ResponseCache | str | Path | None = None,
        use_cache: bool = True,
        concurrency: int = 64,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        prices: PricesSpec | Mapping[str, PricesSpec] | None = None,
        length_is_error: bool = True,
        seed: int | None = None,
        breaker: BreakerPolicy | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.backend = backend
        self.cache = ResponseCache(cache) if isinstance(cache, (str, Path)) else cache
        self._owns_cache = isinstance(cache, (str, Path))
        self.use_cache = use_cache
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.length_is_error = length_is_error
        self._limiter = RateLimiter(rpm=rpm, tpm=tpm)
        self._usage = UsageTracker(_parse_prices(prices))
        self._rng = random.Random(seed)
        self._sem = asyncio.Semaphore(concurrency)
        self._inflight: dict[str, asyncio.Future[Completion]] = {}
        self._started: asyncio.Future[None] | None = None
        self._flush_timer: asyncio.TimerHandle | None = None
        self._loop_thread: _LoopThread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.breaker = CircuitBreaker(
            breaker or BreakerPolicy(enabled=False),
            endpoint=str(getattr(backend, "base_url", "") or ""),
            api_key_env=getattr(backend, "api_key_env", None),
        )

    @property
    def model(self) -> str:
        return self.backend.model

    # -- public API -------------------------------------------------------------------------

    async def acomplete(self, request: LLMRequest) -> Completion:
        """Answer one request; raises ``LLMError(reason=...)`` when it fails for good."""
        return await self._on_loop(self._complete_one(request))

    async def acomplete_many(
        self,
        requests: Sequence[LLMRequest],
        *,
        progress: Progress | None = None,
        on_result: ResultCallback | None = None,
    ) -> list[Result]:
        """Results in request order: a ``Completion`` or the ``LLMError`` it ended with."""
        return await self._on_loop(self._complete_many(list(requests), progress, on_result))

    def complete(self, request: LLMRequest) -> Completion:
        """Blocking ``acomplete``; works with or without an event loop in the calling thread."""
        return self._loop().run(self._complete_one_flushed(request))

    def complete_many(
        self,
        requests: Sequence[LLMRequest],
        *,
        progress: Progress | None = None,
        on_result: ResultCallback | None = None,
    ) -> list[Result]:
        """Blocking ``acomplete_many``; works with or without an event loop in the calling thread."""
        return self._loop().run(self._complete_many(list(requests), progress, on_result))

    def usage(self, *, persisted: bool = False) -> dict[str, Any]:
        """Counters of this client (or, with ``persisted``, of every run that used the cache file)."""
        if persisted:
            if self.cache is None:
                raise ValueError("usage(persisted=True) needs a cache file")
            return self.cache.usage()
        return self._usage.summary()

    def close(self) -> None:
        """Close the backend, stop the loop thread, close an owned cache; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._loop_thread is not None:
            try:
                self._loop_thread.submit(self.backend.aclose()).result(timeout=30)
            except Exception:  # closing must not mask the caller's own error
                log.exception("closing the LLM backend failed")
            self._loop_thread.stop()
        if self.cache is not None:
            # The loop is stopped: nothing records any more, commit what is deferred.
            if self._owns_cache:
                self.cache.close()
            else:
                self.cache.flush()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loop plumbing ----------------------------------------------------------------------

    def _loop(self) -> _LoopThread:
        if self._closed:
            raise RuntimeError("LLMClient is closed")
        with self._start_lock:
            if self._loop_thread is None:
                self._loop_thread = _LoopThread(f"codeio-llm-{self.backend.kind}")
            return self._loop_thread

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        lt = self._loop()
        if lt.current:
            return await coro
        return await asyncio.wrap_future(lt.submit(coro))

    # -- the request life cycle (runs on the private loop) ----------------------------------

    async def _complete_many(
        self,
        requests: list[LLMRequest],
        progress: Progress | None,
        on_result: ResultCallback | None,
    ) -> list[Result]:
        total = len(requests)
        results: list[Result | None] = [None] * total
        done = 0

        async def one(i: int, req: LLMRequest) -> None:
            nonlocal done
            try:
                res: Result = await self._complete_one(req)
            except LLMError as exc:
                res = exc
            results[i] = res
            done += 1
            # A broken callback must not lose the results of the whole batch.
            for cb, args in ((on_result, (i, res)), (progress, (done, total))):
                if cb is not None:
                    try:
                        cb(*args)  # type: ignore[operator]
                    except Exception:
                        log.exception("LLM progress callback failed")

        try:
            await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
        finally:
            self._flush_cache()  # a returned batch is on disk, for other readers of the file
        return [r for r in results if r is not None]

    async def _complete_one_flushed(self, request: LLMRequest) -> Completion:
        try:
            return await self._complete_one(request)
        finally:
            self._flush_cache()

    def _flush_cache(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self.cache is not None:
            try:
                self.cache.flush()
            except Exception:  # e.g. the file is locked for long: keep the batch, try later
                log.exception("committing the LLM cache failed; will retry")
                self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_timer is None:
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(CACHE_FLUSH_S, self._flush_cache)

    async def _complete_one(self, request: LLMRequest) -> Completion:
        key = cache_key(self.backend, request)
        if self.use_cache:
            if self.cache is not None:
                hit = self.cache.get(key)
                # An empty answer stored by an older codeio is not an answer: ask again.
                if hit is not None and hit.text.strip():
                    self._account(request, "cache_hit", 0, hit)
                    return hit
            pending = self._inflight.get(key)
            if pending is not None:
                # The same prompt is already on its way: share its answer, pay once.
                try:
                    answer = await asyncio.shield(pending)
                except asyncio.CancelledError:
                    if pending.cancelled():  # the first asker was cancelled: ask ourselves
                        return await self._complete_one(request)
                    raise
                except LLMError as exc:
                    self._account(request, "failed", 0, None, reason=exc.reason)
                    raise
                hit = answer.model_copy(update={"cached": True})
                self._account(request, "cache_hit", 0, hit)
                return hit
            fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
            self._inflight[key] = fut
            try:
                answer = await self._ask(request, key)
            except LLMError as exc:
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: nobody may be waiting on it
                raise
            except BaseException:
                fut.cancel()
                raise
            else:
                fut.set_result(answer)
                return answer
            finally:
                del self._inflight[key]
        return await self._ask(request, key)

    async def _start_backend(self) -> None:
        if self._started is None:
            self._started = asyncio.ensure_future(self.backend.astart())
        # A failed start fails this request (with a reason) and is tried again by the next one.
        try:
            await asyncio.shield(self._started)
        except Exception as exc:
            self._started = None
            raise LLMError(f"backend failed to start: {exc!r}", reason=Reason.BACKEND) from exc

    def _refuse_if_down(self, request: LLMRequest, attempts: int) -> None:
        """Fail at once, without sending, once the breaker has tripped."""
        if self.breaker.tripped:
            self._account(request, "failed", attempts, None, reason=ENDPOINT_DOWN)
            raise LLMEndpointDown(str(self.breaker.message), reason=ENDPOINT_DOWN)

    async def _ask(self, request: LLMRequest, key: str) -> Completion:
        attempts = 0
        # Tokens billed by attempts that failed with an answer in hand (an empty one).
        spent = (0, 0)
        self._refuse_if_down(request, attempts)
        try:
            await self._start_backend()
        except LLMError as exc:
            self._account(request, "failed", 0, None, reason=exc.reason)
            raise
        async with self._sem:
            while True:
                # Requests queued behind the semaphore or sleeping in backoff stop here.
                self._refuse_if_down(request, attempts)
                reserved = 0
                if self._limiter.active:
                    reserved = estimate_tokens(request)
                    await self._limiter.acquire(reserved)
                attempts += 1
                try:
                    answer = await self._attempt(request)
                    self._check_text(answer)
                except LLMError as exc:
                    billed = exc.completion if isinstance(exc, EmptyAnswerError) else None
                    used = _tokens(billed)
                    self._limiter.settle(reserved, used[0] + used[1])
                    spent = (spent[0] + used[0], spent[1] + used[1])
                    if not self.retry.should_retry(exc.reason, attempts - 1):
                        self._account(
                            request, "failed", attempts, None, reason=exc.reason, extra=spent
                        )
                        self.breaker.record(
                            exc.reason, status=getattr(exc, "status", None), detail=str(exc)
                        )
                        raise
                    retry_after = getattr(exc, "retry_after_s", None)
                    delay = self.retry.delay(attempts - 1, retry_after, self._rng)
                    if retry_after is not None and exc.reason == Reason.RATE_LIMITED:
                        self._limiter.pause(delay)
                    log.debug("retrying after %s (%.2fs): %s", exc.reason, delay, exc)
                    await asyncio.sleep(delay)
                    continue
                # Unknown usage keeps the estimate: giving it all back would void the tpm limit.
                used_now = answer.prompt_tokens + answer.completion_tokens
                self._limiter.settle(reserved, used_now if answer.usage_known else reserved)
                break
        self.breaker.record(None)
        if answer.finish_reason == "length" and self.length_is_error:
            self._account(request, "failed", attempts, answer, reason=Reason.LENGTH, extra=spent)
            raise LengthError(
                f"answer reached max_tokens={request.params.max_tokens}", completion=answer
            )
        self._account(request, "answered", attempts, answer, key=key, extra=spent)
        return answer

    def _check_text(self, answer: Completion) -> None:
        """Raise ``EmptyAnswerError`` for an answer without text, which must not be cached.

        One cut at ``max_tokens`` (a reasoning model that spent the whole budget before any
        content) stays a ``length`` failure when that is an error: the more useful reason,
        since a rerun with a larger ``llm.max_tokens`` is what fixes it.
        """
        if answer.text.strip():
            return
        if answer.finish_reason == "length" and self.length_is_error:
            return
        raise EmptyAnswerError(answer)

    async def _attempt(self, request: LLMRequest) -> Completion:
        try:
            if self.backend.remote:
                if _HAS_TIMEOUT_CM:
                    # No extra task per attempt, unlike wait_for on Python 3.11.
                    async with asyncio.timeout(self.timeout_s):  # type: ignore[attr-defined]
                        return await self.backend.acomplete(request)
                return await asyncio.wait_for(self.backend.acomplete(request), self.timeout_s)
            return await self.backend.acomplete(request)
        except LLMError:
            raise
        except asyncio.TimeoutError as exc:
            raise LLMError(f"no answer within {self.timeout_s}s", reason=Reason.TIMEOUT) from exc
        except Exception as exc:
            # A backend bug still ends this request with a reason instead of losing it.
            raise LLMError(f"backend raised {exc!r}", reason=Reason.BACKEND) from exc

    def _account(
        self,
        request: LLMRequest,
        outcome: str,
        attempts: int,
        completion: Completion | None,
        *,
        reason: str | None = None,
        key: str | None = None,
        extra: tuple[int, int] = (0, 0),
    ) -> None:
        """``extra``: (prompt, completion) tokens billed by earlier failed attempts."""
        model = self.backend.model
        pt, ct = _tokens(completion)
        delta: Counters = self._usage.delta(
            model,
            outcome=outcome,
            attempts=attempts,
            prompt_tokens=pt + extra[0],
            completion_tokens=ct + extra[1],
            usage_known=completion is None or completion.cached or completion.usage_known,
        )
        self._usage.record(request.stage, model, delta, reason)
        if self.cache is not None:
            store = None
            if key is not None and completion is not None:
                store = (key, self.backend.kind, completion)
            self.cache.record(
                request.stage, model, delta, failure_reason=reason, store=store, defer=True
            )
            self._schedule_flush()


_HAS_TIMEOUT_CM = sys.version_info >= (3, 11)


def _tokens(completion: Completion | None) -> tuple[int, int]:
    if completion is None:
        return 0, 0
    return completion.prompt_tokens, completion.completion_tokens


def estimate_tokens(request: LLMRequest) -> int:
    """The tokens a request reserves of a tpm budget before its real usage is known."""
    chars = sum(len(m.content) for m in request.messages)
    return chars // 4 + request.params.max_tokens


def _parse_prices(
    prices: PricesSpec | Mapping[str, PricesSpec] | None,
) -> Prices | dict[str, Prices] | None:
    if prices is None:
        return None
    if (
        isinstance(prices, Mapping)
        and prices
        and all(isinstance(v, (Prices, Mapping, tuple, list)) for v in prices.values())
    ):
        return {str(k): Prices.parse(v) for k, v in prices.items()}  # type: ignore[arg-type]
    return Prices.parse(prices)  # type: ignore[arg-type]
