"""Circuit breaker: stop asking an endpoint that fails systematically (bad key, outage).

The client's retries cover a blip; they cannot fix a wrong API key or a server that is down,
and without a breaker a run would send every remaining request of a stage into the same wall
(each with its full backoff) and record them all as failed. The breaker watches the final
outcome of each request the client sends (cache hits do not count) and trips on:

- ``auth_failures`` authentication failures in a row (401/403), with no answer in between;
- a share of at least ``failure_rate`` of connection / timeout / 5xx / 429 failures (after the
  client's own retries) among the last ``window`` outcomes, once ``min_calls`` are in it.

Once tripped, every further request of that client fails at once with ``LLMEndpointDown``
(reason ``endpoint_down``) and the pipeline stops the run without committing the batch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from codeio.llm.base import Reason

__all__ = ["OUTAGE_REASONS", "BreakerPolicy", "CircuitBreaker", "ENDPOINT_DOWN"]

ENDPOINT_DOWN = "endpoint_down"
"""The reason of requests refused because the breaker tripped."""

OUTAGE_REASONS: frozenset[str] = frozenset(
    {Reason.CONNECTION, Reason.TIMEOUT, Reason.SERVER_ERROR, Reason.RATE_LIMITED}
)


@dataclass(frozen=True)
class BreakerPolicy:
    """When the breaker trips; ``enabled=False`` never trips."""

    enabled: bool = True
    auth_failures: int = 3
    window: int = 20
    min_calls: int = 10
    failure_rate: float = 0.6


class CircuitBreaker:
    """Counts final outcomes of one client; lives on the client's event loop."""

    def __init__(
        self, policy: BreakerPolicy, *, endpoint: str = "", api_key_env: str | None = None
    ) -> None:
        self.policy = policy
        self.endpoint = endpoint
        self.api_key_env = api_key_env
        self._auth_run = 0
        self._answered = 0
        self._last_status: int | None = None
        self._recent: deque[str | None] = deque(maxlen=max(1, policy.window))
        self.message: str | None = None
        """Why it tripped (one line for the user); None while closed."""

    @property
    def tripped(self) -> bool:
        return self.message is not None

    def record(self, reason: str | None, *, status: int | None = None, detail: str = "") -> None:
        """One request's final outcome: ``None`` for an answer, else its failure reason."""
        if self.tripped or not self.policy.enabled:
            return
        # A 404 is never about the request (unknown model, base_url without /v1): like a wrong
        # key it would otherwise fail every record as a final bad_request.
        if reason == Reason.AUTH or (reason == Reason.BAD_REQUEST and status == 404):
            self._auth_run += 1
            self._last_status = status
        elif reason is None:
            self._auth_run = 0
            self._answered += 1
        self._recent.append(reason)
        if self._auth_run >= self.policy.auth_failures:
            self.message = self._auth_message(status)
            return
        bad = [r for r in self._recent if r in OUTAGE_REASONS]
        n = len(self._recent)
        if n >= self.policy.min_calls and len(bad) / n >= self.policy.failure_rate:
            self.message = self._outage_message(bad, n, detail)

    def trip_if_key_rejected(self) -> bool:
        """At the end of a batch: whether the breaker is open, opening it when every request so
        far was rejected as unauthorised and none was ever answered. A stage with fewer requests
        than ``auth_failures`` (a small input) otherwise ends with its records failed as
        retryable instead of stopping on the wrong key."""
        if not self.tripped and self.policy.enabled and self._answered == 0:
            if self._auth_run and self._auth_run == len(self._recent):
                self.message = self._auth_message(self._last_status)
        return self.tripped

    def _auth_message(self, status: int | None) -> str:
        where = f" {self.endpoint}" if self.endpoint else ""
        if status == 404:
            return (
                f"LLM endpoint{where} answered 404 Not Found {self._auth_run} times in a row"
                " (unknown model, or base_url missing /v1?): fix it and rerun the same command"
                " to resume"
            )
        key = f" from {self.api_key_env}" if self.api_key_env else ""
        code = f" ({status})" if status else ""
        return (
            f"LLM endpoint{where} rejected the API key{key}{code}"
            f" {self._auth_run} times in a row: fix it and rerun the same command to resume"
        )

    def _outage_message(self, bad: list[str | None], n: int, detail: str) -> str:
        where = f" {self.endpoint}" if self.endpoint else ""
        counts: dict[str, int] = {}
        for r in bad:
            counts[str(r)] = counts.get(str(r), 0) + 1
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        last = f"; last: {detail[:200]}" if detail else ""
        return (
            f"LLM endpoint{where} is failing: {len(bad)} of the last {n} requests failed after"
            f" retries ({kinds}){last}: rerun the same command to resume once it answers again"
        )
