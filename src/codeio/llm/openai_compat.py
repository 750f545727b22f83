"""Any OpenAI-compatible chat endpoint: OpenAI, DeepSeek, vLLM, SGLang, llama.cpp server, Ollama.

Three transports with the same behaviour: ``sdk`` (the official ``openai`` AsyncOpenAI, its own
retries off because the client retries; the default), ``httpx`` (one POST with httpx and
``json.loads``) and ``fast`` (``codeio.llm.http_fast``: a minimal asyncio HTTP/1.1 keep-alive
pool, about 10x less client CPU per request than the SDK, for high-throughput servers). All map
every failure of an attempt to an ``AttemptError`` whose reason the client's retry policy
understands, from the same status/Retry-After rules, and all three stop reading a response body
past ``max_response_bytes`` (``codeio.llm.body_limit``).
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import httpx

from codeio.llm.base import AttemptError, Completion, LLMBackend, LLMRequest, Reason
from codeio.llm.body_limit import (
    ACCEPT_ENCODING,
    DEFAULT_MAX_RESPONSE_BYTES,
    BodyError,
    response_cap_hook,
)
from codeio.llm.http_fast import HTTPConnectionError, HTTPPool, HTTPTimeout
from codeio.llm.retry import parse_retry_after

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "DEFAULT_BASE_URL",
    "TRANSPORTS",
    "OpenAICompatBackend",
    "Transport",
    "reason_for_status",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SHARD_CONNECTIONS = 16
C = TypeVar("C")
Transport = Literal["sdk", "httpx", "fast"]
TRANSPORTS: tuple[str, ...] = ("sdk", "httpx", "fast")


def reason_for_status(status: int) -> str:
    """The failure reason of an HTTP status that is not a success."""
    if status == 429:
        return Reason.RATE_LIMITED
    if status == 408:
        return Reason.TIMEOUT
    if status >= 500 or status == 409:
        return Reason.SERVER_ERROR
    if status in (401, 403):
        return Reason.AUTH
    return Reason.BAD_REQUEST


class OpenAICompatBackend(LLMBackend):
    """Chat completions over HTTP.

    Args:
        max_tokens_field: ``max_tokens`` (most servers) or ``max_completion_tokens`` (newer
            OpenAI reasoning models refuse the former).
        extra_body: extra JSON fields sent with every request (e.g. ``{"top_k": 20}`` for vLLM).
        max_connections: connection pool size; match it to the client's concurrency.
        max_response_bytes: a response body (decoded) longer than this is not read further;
            the attempt fails (``malformed`` for a 2xx, else the status's reason).
    """

    kind: ClassVar[str] = "openai"
    remote: ClassVar[bool] = True
    api_key_env: str | None = None
    """The environment variable the key came from (for error messages); set by make_backend."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str = "EMPTY",
        timeout_s: float = 120.0,
        transport: Transport = "sdk",
        max_tokens_field: str = "max_tokens",
        extra_body: Mapping[str, Any] | None = None,
        max_connections: int = 64,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}: use one of {', '.join(TRANSPORTS)}")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be at least 1")
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.transport = transport
        self.timeout_s = timeout_s
        self.max_tokens_field = max_tokens_field
        self.extra_body = dict(extra_body or {})
        self.max_connections = max_connections
        self.max_response_bytes = max_response_bytes
        self._api_key = api_key
        self._headers = dict(headers or {})
        # Created on first use, on the client's loop: pools must not cross event loops.
        self._sdk: _Shards[AsyncOpenAI] | None = None
        self._http: _Shards[httpx.AsyncClient] | None = None
        self._fast: HTTPPool | None = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model}

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        p = request.params
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": p.temperature,
            "top_p": p.top_p,
            self.max_tokens_field: p.max_tokens,
        }
        if p.seed is not None:
            body["seed"] = p.seed
        if p.stop:
            body["stop"] = list(p.stop)
        return body

    async def astart(self) -> None:
        # Building the SDK client imports most of it: keep that out of the first request's deadline.
        if self.transport == "fast":
            self._fast_pool()
        elif self.transport == "httpx":
            self._http_clients()
        else:
            for sdk in self._sdk_clients().clients:
                _ = sdk.chat.completions.with_raw_response

    async def acomplete(self, request: LLMRequest) -> Completion:
        if self.transport == "fast":
            return await self._via_fast(request)
        if self.transport == "httpx":
            return await self._via_httpx(request)
        return await self._via_sdk(request)

    # -- official SDK -----------------------------------------------------------------------

    def _sdk_clients(self) -> _Shards[AsyncOpenAI]:
        if self._sdk is None:
            import openai

            hook = response_cap_hook(_sdk_httpx_module(), self.max_response_bytes)

            def make(connections: int) -> AsyncOpenAI:
                limits = _sdk_limits(
                    {"max_connections": connections, "max_keepalive_connections": connections}
                )
                return openai.AsyncOpenAI(
                    api_key=self._api_key,
                    base_url=self.base_url,
                    timeout=self.timeout_s,
                    max_retries=0,
                    default_headers=self._headers or None,
                    http_client=openai.DefaultAsyncHttpxClient(
                        limits=limits,
                        headers={"Accept-Encoding": ACCEPT_ENCODING},
                        event_hooks={"response": [hook]},
                    ),
                )

            self._sdk = _Shards(make, self.max_connections)
        return self._sdk

    async def _via_sdk(self, request: LLMRequest) -> Completion:
        import openai

        body = self._body(request)
        extra = dict(self.extra_body)
        kwargs: dict[str, Any] = {k: v for k, v in body.items() if k != self.max_tokens_field}
        kwargs[self.max_tokens_field] = body[self.max_tokens_field]
        try:
            with self._sdk_clients().lease() as sdk:
                raw = await sdk.chat.completions.with_raw_response.create(
                    **kwargs, extra_body=extra or None
                )
        except BodyError as exc:
            raise _body_error(exc) from exc
        except openai.APITimeoutError as exc:
            raise AttemptError(f"timeout: {exc}", reason=Reason.TIMEOUT) from exc
        except openai.APIConnectionError as exc:
            if isinstance(exc.__cause__, BodyError):  # SDKs that wrap every send error
                raise _body_error(exc.__cause__) from exc
            raise AttemptError(f"connection: {exc}", reason=Reason.CONNECTION) from exc
        except openai.APIStatusError as exc:
            raise _status_error(exc.status_code, exc.response.headers, exc.message) from exc
        except openai.APIResponseValidationError as exc:
            raise AttemptError(f"malformed response: {exc}", reason=Reason.MALFORMED) from exc
        # Parse the body ourselves: the SDK's model is lenient about missing fields and
        # gives a str for a body that is not JSON, both of which we call malformed.
        return _parse_body(raw.http_response.content, self.model)

    # -- lean httpx -------------------------------------------------------------------------

    def _http_clients(self) -> _Shards[httpx.AsyncClient]:
        if self._http is None:
            headers = {
                "Authorization": f"Bearer {self._api_key}",
                "Accept-Encoding": ACCEPT_ENCODING,
                **self._headers,
            }
            hook = response_cap_hook(httpx, self.max_response_bytes)

            def make(connections: int) -> httpx.AsyncClient:
                return httpx.AsyncClient(
                    base_url=self.base_url,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout_s),
                    limits=httpx.Limits(
                        max_connections=connections, max_keepalive_connections=connections
                    ),
                    event_hooks={"response": [hook]},
                )

            self._http = _Shards(make, self.max_connections)
        return self._http

    async def _via_httpx(self, request: LLMRequest) -> Completion:
        body = {**self._body(request), **self.extra_body}
        try:
            with self._http_clients().lease() as http:
                resp = await http.post("/chat/completions", json=body)
            content = resp.content
        except BodyError as exc:
            raise _body_error(exc) from exc
        except httpx.TimeoutException as exc:
            raise AttemptError(f"timeout: {exc!r}", reason=Reason.TIMEOUT) from exc
        except httpx.TransportError as exc:
            raise AttemptError(f"connection: {exc!r}", reason=Reason.CONNECTION) from exc
        except httpx.DecodingError as exc:  # a compressed body httpx itself could not decode
            raise AttemptError(f"undecodable body: {exc!r}", reason=Reason.MALFORMED) from exc
        if resp.status_code >= 400:
            raise _status_error(
                resp.status_code, resp.headers, content[:500].decode("utf-8", "replace")
            )
        _refuse_redirect(resp.status_code, resp.headers)
        return _parse_body(content, self.model)

    # -- lean asyncio HTTP/1.1 ------------------------------------------------------------

    def _fast_pool(self) -> HTTPPool:
        if self._fast is None:
            self._fast = HTTPPool(
                self.base_url,
                max_connections=self.max_connections,
                timeout_s=self.timeout_s,
                headers={"Authorization": f"Bearer {self._api_key}", **self._headers},
                max_body_bytes=self.max_response_bytes,
            )
        return self._fast

    async def _via_fast(self, request: LLMRequest) -> Completion:
        body = json.dumps({**self._body(request), **self.extra_body}).encode()
        try:
            resp = await self._fast_pool().post_json("chat/completions", body)
        except HTTPTimeout as exc:
            raise AttemptError(f"timeout: {exc}", reason=Reason.TIMEOUT) from exc
        except HTTPConnectionError as exc:
            raise AttemptError(f"connection: {exc}", reason=Reason.CONNECTION) from exc
        except BodyError as exc:
            raise _body_error(exc) from exc
        if resp.status >= 400:
            raise _status_error(
                resp.status, resp.headers, resp.body[:500].decode("utf-8", "replace")
            )
        _refuse_redirect(resp.status, resp.headers)
        encoding = resp.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", ""):
            # The request asked for identity; say so rather than "not JSON" on compressed bytes.
            raise AttemptError(
                f"HTTP {resp.status}: body is {encoding}-encoded although identity was asked",
                reason=Reason.MALFORMED,
                status=resp.status,
            )
        return _parse_body(resp.body, self.model)

    async def aclose(self) -> None:
        if self._fast is not None:
            await self._fast.aclose()
            self._fast = None
        if self._sdk is not None:
            for sdk in self._sdk.clients:
                await sdk.close()
            self._sdk = None
        if self._http is not None:
            for http in self._http.clients:
                await http.aclose()
            self._http = None


class _Shards(Generic[C]):
    """Several small connection pools, each request on the least busy one.

    httpcore's pool rescans every connection for every queued request on each event, so one
    pool of 256 connections costs milliseconds of CPU per request; pools of 16 keep it cheap.
    """

    def __init__(self, make: Callable[[int], C], connections: int) -> None:
        n = max(1, math.ceil(connections / SHARD_CONNECTIONS))
        per = max(1, math.ceil(connections / n))
        self.clients = [make(per) for _ in range(n)]
        self._busy = [0] * n

    @contextlib.contextmanager
    def lease(self) -> Iterator[C]:
        i = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[i] += 1
        try:
            yield self.clients[i]
        finally:
            self._busy[i] -= 1


def _sdk_limits(limits: dict[str, int]) -> Any:
    # The SDK ships its own httpx fork; build its Limits type from the SDK's namespace.
    from openai._base_client import DEFAULT_CONNECTION_LIMITS

    return type(DEFAULT_CONNECTION_LIMITS)(**limits)


def _sdk_httpx_module() -> types.ModuleType:
    """The httpx the SDK is built on (``httpx`` or its fork): its stream types differ from ours."""
    from openai._base_client import DEFAULT_CONNECTION_LIMITS

    return sys.modules[type(DEFAULT_CONNECTION_LIMITS).__module__.split(".")[0]]


def _refuse_redirect(status: int, headers: Mapping[str, str]) -> None:
    """A 3xx is not followed (a POST must not silently become a GET elsewhere): say where to."""
    if 300 <= status < 400:
        where = headers.get("location") or headers.get("Location") or "nowhere"
        raise AttemptError(
            f"HTTP {status} redirect to {where!r}, not followed: point base_url there",
            reason=Reason.MALFORMED,
            status=status,
        )


def _body_error(exc: BodyError) -> AttemptError:
    """A failed body: the status's reason for an error response, else ``malformed``."""
    if exc.status >= 400:
        return _status_error(exc.status, exc.headers, str(exc))
    # Not retried in the client: an endpoint that sent this once will likely send it again.
    # A rerun asks again (after llm.max_response_bytes was raised, if that was the cause).
    return AttemptError(f"HTTP {exc.status}: {exc}", reason=Reason.MALFORMED, status=exc.status)


def _status_error(status: int, headers: Mapping[str, str], detail: str) -> AttemptError:
    reason = reason_for_status(status)
    return AttemptError(
        f"HTTP {status}: {detail}",
        reason=reason,
        status=status,
        retry_after_s=parse_retry_after(headers),
    )


def _parse_body(content: bytes, model: str) -> Completion:
    """A ``Completion`` from a chat.completions JSON body, or a ``malformed`` failure."""
    try:
        data = json.loads(content)
    except RecursionError as exc:  # nested deeper than the parser recurses: not an answer
        raise AttemptError(
            f"malformed response body: JSON nested too deep: {content[:80]!r}",
            reason=Reason.MALFORMED,
        ) from exc
    except ValueError as exc:  # not JSON: an HTML page, a truncated body, not UTF-8
        snippet = content[:200].decode("utf-8", "replace")
        raise AttemptError(
            f"malformed response body: {snippet!r}", reason=Reason.MALFORMED
        ) from exc
    if isinstance(data, dict) and "choices" not in data and "error" in data:
        # Some proxies answer 200 with an error object: say what it said.
        raise AttemptError(
            f"HTTP 200 carrying an error instead of an answer: {str(data['error'])[:300]}",
            reason=Reason.MALFORMED,
        )
    try:
        choice = data["choices"][0]
        text = _text_of(choice["message"]["content"])
        finish = choice.get("finish_reason") or "stop"
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        snippet = content[:200].decode("utf-8", "replace")
        raise AttemptError(
            f"malformed response body: {snippet!r}", reason=Reason.MALFORMED
        ) from exc
    if not isinstance(text, str):
        if finish == "length":
            text = ""  # a reasoning model can spend the whole budget before any content
        else:
            raise AttemptError(
                f"response without text content: {content[:200]!r}", reason=Reason.MALFORMED
            )
    # Accounting must never cost an answer: a count that is not a usable number is unknown.
    usage = data.get("usage")
    prompt_tokens = _token_count(usage, "prompt_tokens")
    completion_tokens = _token_count(usage, "completion_tokens")
    return Completion(
        text=_storable(text),
        finish_reason=str(finish),
        prompt_tokens=prompt_tokens or 0,
        completion_tokens=completion_tokens or 0,
        model=_storable(str(data.get("model") or model)),
        usage_known=prompt_tokens is not None and completion_tokens is not None,
    )


def _text_of(content: Any) -> Any:
    """The text of ``message.content``: a string, or joined from a list of content parts.

    Some servers send ``[{"type": "text", "text": "..."}, ...]`` (the request-side format);
    parts of other types carry no text. A list without any text part is None (no text).
    """
    if not isinstance(content, list):
        return content
    texts = [
        part if isinstance(part, str) else part.get("text")
        for part in content
        if isinstance(part, str)
        or (isinstance(part, dict) and part.get("type", "text") in ("text", "output_text"))
    ]
    texts = [t for t in texts if isinstance(t, str)]
    return "".join(texts) if texts else None


MAX_TOKEN_COUNT = 2**31 - 1
"""A larger count is not a real one; it would also overflow SQLite's integers once summed."""


def _token_count(usage: Any, name: str) -> int | None:
    """``usage[name]`` as a non-negative int, or None when it is not a usable count.

    Servers send ``12``, ``12.0``, ``"12"``, ``null``, or nothing at all; int-valued numbers
    and numeric strings are taken, anything else (fractions, negatives, booleans, NaN,
    absurd sizes, other types) is unknown rather than a reason to lose the answer.
    """
    if not isinstance(usage, Mapping):
        return None
    value = usage.get(name)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            return None
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_TOKEN_COUNT:
        return None
    return value


def _storable(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD.

    JSON may escape half of a surrogate pair (``"\\ud83d"``: a model whose byte-level tokens
    split an emoji); ``json.loads`` keeps it, and SQLite (the cache) and every UTF-8 writer then
    refuse the string, which failed the whole batch's cache commit and lost its answers.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
