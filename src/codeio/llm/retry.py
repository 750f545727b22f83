"""Retry policy (exponential backoff with jitter, Retry-After) and a requests/tokens-per-minute limiter."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from codeio.llm.base import RETRYABLE_REASONS

__all__ = ["RateLimiter", "RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before another attempt.

    The wait is the server's Retry-After when it sent one (capped at ``max_retry_after_s``),
    otherwise ``base_s * 2**attempt`` capped at ``max_s``, scaled by a random factor in
    ``[1 - jitter, 1]`` so that many clients that failed together do not retry together.
    """

    max_retries: int = 6
    base_s: float = 0.5
    max_s: float = 30.0
    jitter: float = 0.5
    max_retry_after_s: float = 120.0
    retry_on: frozenset[str] = field(default=RETRYABLE_REASONS)

    def should_retry(self, reason: str, attempt: int) -> bool:
        """``attempt`` counts from 0: the first try that failed is attempt 0."""
        return reason in self.retry_on and attempt < self.max_retries

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        if retry_after_s is not None and retry_after_s >= 0:
            return min(retry_after_s, self.max_retry_after_s)
        backoff = min(self.max_s, self.base_s * (2**attempt))
        return backoff * (1.0 - self.jitter * rng.random())


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI-style) or ``retry-after`` (seconds or a date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RateLimiter:
    """Requests/minute and tokens/minute limits, plus a shared pause after a 429.

    Requests start evenly spaced, ``60 / rpm`` s apart (a bucket of one request, no burst), so
    no 60-second window ever holds more than ``rpm`` of them. Tokens come from a bucket of one
    minute's budget: reserved up front from an estimate (prompt chars / 4 + max_tokens), the
    difference settled when the real usage is known, so long answers cannot overshoot the
    budget for long. Lives on one event loop (the client's).
    """

    def __init__(self, *, rpm: float | None = None, tpm: float | None = None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        now = time.monotonic()
        self._req_level = 1.0 if rpm else 0.0
        self._tok_level = float(tpm or 0)
        self._stamp = now
        self._pause_until = 0.0
        self._lock: asyncio.Lock | None = None

    def pause(self, seconds: float) -> None:
        """Hold back every request for ``seconds`` (the server told one of them to wait)."""
        self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    def _refill(self, now: float) -> None:
        elapsed = now - self._stamp
        self._stamp = now
        if self.rpm:
            self._req_level = min(1.0, self._req_level + elapsed * self.rpm / 60.0)
        if self.tpm:
            self._tok_level = min(float(self.tpm), self._tok_level + elapsed * self.tpm / 60.0)

    async def acquire(self, tokens: int) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        # One waiter at a time keeps the order fair and the arithmetic simple.
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._pause_until:
                    await asyncio.sleep(self._pause_until - now)
                    continue
                self._refill(now)
                # A request larger than the whole bucket would wait forever; let it through at full.
                need_tok = min(float(tokens), float(self.tpm)) if self.tpm else 0.0
                wait = 0.0
                if self.rpm and self._req_level < 1.0:
                    wait = max(wait, (1.0 - self._req_level) * 60.0 / self.rpm)
                if self.tpm and self._tok_level < need_tok:
                    wait = max(wait, (need_tok - self._tok_level) * 60.0 / self.tpm)
                if wait <= 0:
                    if self.rpm:
                        self._req_level -= 1.0
                    if self.tpm:
                        self._tok_level -= need_tok
                    return
                await asyncio.sleep(wait)

    def settle(self, reserved: int, used: int) -> None:
        """Give back (or take) the difference between the estimate and the real token count."""
        if self.tpm:
            self._tok_level = min(float(self.tpm), self._tok_level + (reserved - used))

    @property
    def active(self) -> bool:
        return bool(self.rpm or self.tpm)
