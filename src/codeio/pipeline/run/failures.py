"""Which LLM failures a rerun asks again, and which are final.

A stage commits every record it was given, failed ones with a reason. A failure caused by the
endpoint, not by the record, must not stay in the run for good: the next run of the same
command (or ``--from STAGE``) reopens it and asks again, from the cache where the answer is
already there. A well-formed answer that is wrong is not a failure at all (verify and revise
judge it); a request the server refuses as such (``llm_bad_request``: context too long, unknown
parameter) or a local backend's error is final.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "LENGTH",
    "MAX_TOKENS_STAT",
    "RETRY_ON_RESUME",
    "is_llm_failure",
    "retry_on_resume",
]

RETRY_ON_RESUME: frozenset[str] = frozenset(
    {
        "llm_auth",
        "llm_connection",
        "llm_timeout",
        "llm_server_error",
        "llm_rate_limited",
        "llm_malformed",
        "llm_endpoint_down",
    }
)
"""Failure reasons a rerun asks again: the endpoint's fault (after the client's own retries)."""

LENGTH = "llm_length"
"""An answer cut at ``max_tokens``: asked again only once ``llm.max_tokens`` was raised."""

MAX_TOKENS_STAT = "llm_max_tokens"
"""Per-record stat a ``length`` failure carries: the ``max_tokens`` it was asked with."""


def is_llm_failure(reason: str) -> bool:
    return reason.startswith("llm_")


def retry_on_resume(reason: str, stats: Mapping[str, float], max_tokens: int) -> bool:
    """Would a run with ``llm.max_tokens = max_tokens`` ask this failure again?"""
    if reason in RETRY_ON_RESUME:
        return True
    if reason == LENGTH:
        asked = stats.get(MAX_TOKENS_STAT)
        return asked is not None and max_tokens > asked
    return False
