"""Token accounting per stage and model, cache hits apart (they are not billed), and cost."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["COUNTERS", "Counters", "Prices", "PricesSpec", "UsageTracker", "summarize"]


@dataclass(frozen=True)
class Prices:
    """US dollars per 1M tokens."""

    input_per_m: float = 0.0
    output_per_m: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_m + completion_tokens * self.output_per_m) / 1e6

    @classmethod
    def parse(cls, value: PricesSpec) -> Prices:
        """From ``Prices``, ``(input, output)`` or ``{"input": .., "output": ..}``."""
        if isinstance(value, Prices):
            return value
        if isinstance(value, Mapping):
            return cls(float(value.get("input", 0.0)), float(value.get("output", 0.0)))
        inp, out = value
        return cls(float(inp), float(out))


PricesSpec = Prices | Mapping[str, float] | tuple[float, float]


@dataclass
class Counters:
    """Additive counters for one (stage, model); every request lands in exactly one outcome."""

    requests: int = 0
    """Requests that ended (answered + failed + cache hits)."""
    answered: int = 0
    cache_hits: int = 0
    failed: int = 0
    attempts: int = 0
    """Calls that reached the backend, retries included (a server sees this many)."""
    retries: int = 0
    prompt_tokens: int = 0
    """Billed: fresh answers plus answers cut at max_tokens."""
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    """What cache hits would have cost had they been asked again (not billed)."""
    cached_completion_tokens: int = 0
    cost_usd: float = 0.0
    unknown_usage: int = 0
    """Billed answers whose server sent no usable token counts (counted as 0 above)."""

    def add(self, other: Counters) -> None:
        # COUNTERS, not dataclasses.fields(): fields() rebuilds its tuple on every call.
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(Counters))


def summarize(
    rows: Iterable[tuple[str, str, Counters]], failures: Mapping[str, int]
) -> dict[str, Any]:
    """The ``usage()`` dict from (stage, model, counters) rows."""
    total = Counters()
    by_stage: dict[str, Counters] = {}
    by_model: dict[str, Counters] = {}
    by_stage_model: list[dict[str, Any]] = []
    for stage, model, c in rows:
        total.add(c)
        by_stage.setdefault(stage, Counters()).add(c)
        by_model.setdefault(model, Counters()).add(c)
        by_stage_model.append({"stage": stage, "model": model, **asdict(c)})
    return {
        "total": asdict(total),
        "by_stage": {k: asdict(v) for k, v in sorted(by_stage.items())},
        "by_model": {k: asdict(v) for k, v in sorted(by_model.items())},
        "by_stage_model": by_stage_model,
        "failures": dict(sorted(failures.items())),
    }


class UsageTracker:
    """Thread-safe in-memory counters of one client session."""

    def __init__(self, prices: Mapping[str, Prices] | Prices | None = None) -> None:
        self._prices = prices
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], Counters] = {}
        self._failures: dict[str, int] = {}

    def price_for(self, model: str) -> Prices | None:
        if self._prices is None or isinstance(self._prices, Prices):
            return self._prices
        return self._prices.get(model) or self._prices.get("*")

    def delta(
        self,
        model: str,
        *,
        outcome: str,
        attempts: int = 0,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        usage_known: bool = True,
    ) -> Counters:
        """Counters for one finished request; ``outcome`` is answered, cache_hit or failed."""
        c = Counters(requests=1, attempts=attempts, retries=max(0, attempts - 1))
        if outcome == "cache_hit":
            c.cache_hits = 1
            c.cached_prompt_tokens = prompt_tokens
            c.cached_completion_tokens = completion_tokens
            return c
        if outcome == "answered":
            c.answered = 1
        else:
            c.failed = 1
        c.prompt_tokens = prompt_tokens
        c.completion_tokens = completion_tokens
        c.unknown_usage = 0 if usage_known else 1
        price = self.price_for(model)
        if price is not None:
            c.cost_usd = price.cost(prompt_tokens, completion_tokens)
        return c

    def record(
        self, stage: str, model: str, delta: Counters, failure_reason: str | None = None
    ) -> None:
        with self._lock:
            self._rows.setdefault((stage, model), Counters()).add(delta)
            if failure_reason is not None:
                self._failures[failure_reason] = self._failures.get(failure_reason, 0) + 1

    def summary(self) -> dict[str, Any]:
        with self._lock:
            rows = [(s, m, Counters(**asdict(c))) for (s, m), c in self._rows.items()]
            failures = dict(self._failures)
        return summarize(rows, failures)
