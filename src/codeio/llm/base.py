"""The one interface every LLM backend implements, and the values that cross it.

A backend answers one request (``acomplete``) or raises ``LLMError(reason=...)``. Everything
else (concurrency, retries, cache, accounting, the ``length`` rule) lives in ``LLMClient``, so a
backend stays small: it turns a request into a ``Completion`` and maps its own errors to reasons.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from codeio.errors import LLMError
from codeio.records import Message

__all__ = [
    "RETRYABLE_REASONS",
    "AttemptError",
    "Completion",
    "EmptyAnswerError",
    "LLMBackend",
    "LLMRequest",
    "LengthError",
    "Reason",
    "SamplingParams",
]


class Reason:
    """The closed set of ``LLMError.reason`` tags codeio produces."""

    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    LENGTH = "length"
    MALFORMED = "malformed"
    BAD_REQUEST = "bad_request"
    AUTH = "auth"
    BACKEND = "backend"
    """A local backend (transformers, vLLM, trace) failed on this request."""


RETRYABLE_REASONS: frozenset[str] = frozenset(
    {Reason.RATE_LIMITED, Reason.SERVER_ERROR, Reason.TIMEOUT, Reason.CONNECTION}
)
"""Transient failures: worth another attempt after a backoff."""


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SamplingParams(_Value):
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 4096
    seed: int | None = None
    stop: list[str] | None = None


class LLMRequest(_Value):
    messages: list[Message]
    params: SamplingParams = Field(default_factory=SamplingParams)
    stage: str = ""
    """Accounting label (``unify``, ``generate``, ``revise``...); not part of the cache key."""
    sample: int = 0
    """Which of several samples for the same prompt this is (pass@k); part of the cache key."""
    context: dict[str, Any] = Field(default_factory=dict)
    """Structured facts only offline backends read (see docs/ARCHITECTURE.md)."""


class Completion(_Value):
    text: str
    finish_reason: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    cached: bool = False
    usage_known: bool = True
    """False when the server sent no usable token counts (missing ``usage``, null, negative,
    not a number): the unusable counts are 0 above, and accounting counts the answer in
    ``unknown_usage``. Not stored in the cache: a hit says True."""


class AttemptError(LLMError):
    """One attempt failed; may carry the server's HTTP status and its Retry-After in seconds."""

    def __init__(
        self, message: str, *, reason: str, status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message, reason=reason)
        self.status = status
        self.retry_after_s = retry_after_s


class LengthError(LLMError):
    """The answer hit ``max_tokens``; carries the truncated completion (its tokens were billed)."""

    def __init__(self, message: str, *, completion: Completion) -> None:
        super().__init__(message, reason=Reason.LENGTH)
        self.completion = completion


class EmptyAnswerError(LLMError):
    """The answer has no text (or only whitespace): ``malformed``, carries the completion.

    Every codeio prompt asks for reasoning that ends in a JSON block, so an empty answer is
    never usable. It is a failed attempt like a body that is not JSON (retried only if the
    retry policy retries ``malformed``, never cached, asked again by the next run); the
    tokens the server billed for it are still counted.
    """

    def __init__(self, completion: Completion) -> None:
        what = "only whitespace" if completion.text else "no text"
        super().__init__(
            f"empty answer: {what} (finish_reason={completion.finish_reason!r}, "
            f"{completion.prompt_tokens}+{completion.completion_tokens} tokens)",
            reason=Reason.MALFORMED,
        )
        self.completion = completion


class LLMBackend(abc.ABC):
    """Answers one chat request; all state lives on the client's event loop.

    Subclasses set ``kind`` (the spec prefix) and ``model``. ``uses_context`` says whether
    ``request.context`` changes the answer (then the cache key includes it).
    """

    kind: ClassVar[str] = ""
    uses_context: ClassVar[bool] = False
    remote: ClassVar[bool] = False
    """Remote backends get the client's per-request deadline; local ones run to completion."""

    model: str = ""

    @abc.abstractmethod
    async def acomplete(self, request: LLMRequest) -> Completion:
        """Answer ``request`` or raise ``LLMError`` with a reason from ``Reason``."""

    async def astart(self) -> None:  # noqa: B027 - optional hook
        """Build clients or load models; runs once before the first request, outside its deadline."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections or models; called once, on the client's loop."""

    def describe(self) -> dict[str, Any]:
        """What identifies this backend in the cache key and in accounting."""
        return {"backend": self.kind, "model": self.model}
