"""Batch LLM calls for stages: one ``complete_many`` per batch, errors kept per record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codeio.ids import derive_seed
from codeio.pipeline.base import usage_of
from codeio.store.db import LLMUsage

__all__ = ["CallResult", "call_many", "failure_stats", "request_seed"]


@dataclass
class CallResult:
    text: str | None
    """The completion text, or None when the call failed."""
    reason: str = ""
    """The LLMError reason when it failed (``llm_<reason>`` becomes the Failure reason)."""
    detail: str = ""
    model: str = ""
    usage: LLMUsage | None = None


def request_seed(run_seed: int, *parts: Any) -> int:
    # 31 bits: remote APIs reject larger sampling seeds.
    return derive_seed(run_seed, *parts) % (2**31)


def call_many(client: Any, requests: Sequence[Any]) -> list[CallResult]:
    """Ordered results of ``requests``; never raises for a failed request.

    Raises ``LLMEndpointDown`` when the client's circuit breaker tripped during the batch: the
    endpoint fails systematically, so the batch's failures say nothing about its records and
    must not be committed.
    """
    from codeio.errors import LLMEndpointDown, LLMError

    if not requests:
        return []
    out: list[CallResult] = []
    results = client.complete_many(list(requests))
    breaker = getattr(client, "breaker", None)
    if breaker is not None and breaker.trip_if_key_rejected():
        raise LLMEndpointDown(str(breaker.message), reason="endpoint_down")
    for res in results:
        if isinstance(res, LLMError):
            completion = getattr(res, "completion", None)
            out.append(
                CallResult(
                    text=None,
                    reason=getattr(res, "reason", "error"),
                    detail=str(res),
                    usage=usage_of(completion) if completion is not None else None,
                )
            )
        elif isinstance(res, BaseException):
            out.append(CallResult(text=None, reason="error", detail=repr(res)))
        else:
            out.append(CallResult(text=res.text, model=res.model, usage=usage_of(res)))
    return out


def failure_stats(reason: str, max_tokens: int) -> dict[str, float]:
    """Per-record stats a failed call leaves: a cut answer records the ``max_tokens`` it had,
    so a later run with a larger budget knows to ask it again."""
    from codeio.pipeline.run.failures import MAX_TOKENS_STAT

    return {MAX_TOKENS_STAT: float(max_tokens)} if reason == "length" else {}
