"""One LLM client interface over several backends (OpenAI-compatible HTTP, transformers, vLLM, trace).

Importing this package loads no backend: each is imported when a spec names it.
"""

from __future__ import annotations

from codeio.errors import LLMError
from codeio.llm.base import (
    RETRYABLE_REASONS,
    AttemptError,
    Completion,
    EmptyAnswerError,
    LengthError,
    LLMBackend,
    LLMRequest,
    Reason,
    SamplingParams,
)
from codeio.llm.cache import ResponseCache, cache_key, read_usage
from codeio.llm.client import LLMClient
from codeio.llm.factory import make_backend, make_client, parse_spec
from codeio.llm.retry import RateLimiter, RetryPolicy, parse_retry_after
from codeio.llm.usage import Prices

__all__ = [
    "RETRYABLE_REASONS",
    "AttemptError",
    "Completion",
    "EmptyAnswerError",
    "LLMBackend",
    "LLMClient",
    "LLMError",
    "LLMRequest",
    "LengthError",
    "Prices",
    "RateLimiter",
    "Reason",
    "ResponseCache",
    "RetryPolicy",
    "SamplingParams",
    "cache_key",
    "make_backend",
    "make_client",
    "parse_retry_after",
    "parse_spec",
    "read_usage",
]
