"""A cap on the size of an HTTP response body, enforced while it is read.

A chat completion is a few kilobytes. An endpoint that is broken (a proxy streaming a log file,
a server stuck in a loop) or hostile could send gigabytes, and a client that reads the whole
body before looking at it would exhaust the host's memory and take the run down with it. Every
transport of ``codeio.llm.openai_compat`` stops reading once a body passes the cap and fails
that request with ``ResponseTooLarge`` (a ``BodyError``):

- ``fast`` (``codeio.llm.http_fast``) counts in its own parser;
- ``httpx`` and ``sdk`` install ``response_cap_hook`` as an httpx ``response`` event hook. The
  hook runs after the head arrives and before any of the body is read (also for the error
  bodies the SDK reads itself), and wraps the body stream in one that counts. A body compressed
  with gzip or deflate is decoded there, so the cap holds for the decoded size too: 16 MiB of
  gzip can expand a thousandfold.
"""

from __future__ import annotations

import types
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

__all__ = [
    "ACCEPT_ENCODING",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "BodyError",
    "ResponseTooLarge",
    "response_cap_hook",
]

DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""16 MiB: thousands of times a long answer, far below what hurts a host."""

ACCEPT_ENCODING = "gzip, deflate"
"""What the httpx transports advertise: only encodings the capped stream decodes itself (httpx
would otherwise add br / zstd when their packages happen to be installed, uncounted)."""

_STEP = 64 * 1024


class BodyError(Exception):
    """The response body could not be read into an answer; ``status`` and ``headers`` are the
    response's, so a 429 or 5xx whose body failed still maps to its own reason (and
    Retry-After) instead of losing it."""

    def __init__(self, message: str, *, status: int, headers: Mapping[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers)


class ResponseTooLarge(BodyError):
    """The response body passed ``limit`` bytes; reading stopped there."""

    def __init__(
        self, limit: int, *, status: int, headers: Mapping[str, str], declared: int | None = None
    ) -> None:
        how = f"it declared {declared} bytes" if declared is not None else "reading stopped there"
        super().__init__(
            f"response body larger than max_response_bytes={limit} ({how}; raise"
            " llm.max_response_bytes if the endpoint really answers this much)",
            status=status,
            headers=headers,
        )
        self.limit = limit
        self.declared = declared


def declared_length(headers: Mapping[str, str]) -> int | None:
    """Content-Length as an int, or None when absent or unparseable (the body still counts)."""
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw.split(",")[0].strip())
    except ValueError:
        return None


def _decoder(encoding: str) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    return _Deflate()


class _Deflate:
    """``deflate`` as servers send it: zlib-wrapped per the RFC, or raw (which httpx accepts too)."""

    def __init__(self) -> None:
        self._d: Any = zlib.decompressobj()
        self._first = True

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._d.decompress(data, max_length)  # type: ignore[no-any-return]
            except zlib.error:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._d.decompress(data, max_length)  # type: ignore[no-any-return]

    @property
    def unconsumed_tail(self) -> bytes:
        return self._d.unconsumed_tail  # type: ignore[no-any-return]

    def flush(self) -> bytes:
        return self._d.flush()  # type: ignore[no-any-return]


async def _capped(
    inner: Any, limit: int, decoder: Any, status: int, headers: Mapping[str, str]
) -> AsyncIterator[bytes]:
    total = 0

    def count(piece: bytes) -> bytes:
        nonlocal total
        total += len(piece)
        if total > limit:
            raise ResponseTooLarge(limit, status=status, headers=headers)
        return piece

    async for raw in inner:
        if decoder is None:
            yield count(raw)
            continue
        # Bounded steps: a small compressed chunk may expand to gigabytes in one call.
        data = raw
        while data:
            out = decoder.decompress(data, _STEP)
            data = decoder.unconsumed_tail
            if out:
                yield count(out)
    if decoder is not None:
        tail = decoder.flush()
        if tail:
            yield count(tail)


def _stream_class(module: types.ModuleType) -> type:
    # httpx and the SDK's own fork (httpx2) each check isinstance(stream, <their>
    # AsyncByteStream); one subclass per module, made once.
    cls = _STREAM_CLASSES.get(module.__name__)
    if cls is None:
        base = module.AsyncByteStream

        class CappedStream(base):  # type: ignore[misc, valid-type]
            def __init__(
                self,
                inner: Any,
                gen: AsyncIterator[bytes],
                status: int,
                headers: Mapping[str, str],
                encoding: str,
            ) -> None:
                self._inner = inner
                self._gen = gen
                self._status = status
                self._headers = headers
                self._encoding = encoding

            async def __aiter__(self) -> AsyncIterator[bytes]:
                try:
                    async for piece in self._gen:
                        yield piece
                except ResponseTooLarge:
                    # httpx does not close a response whose read raised: free the connection
                    # now rather than leave it to the garbage collector.
                    await self._inner.aclose()
                    raise
                except zlib.error as exc:
                    await self._inner.aclose()
                    raise BodyError(
                        f"undecodable {self._encoding} body: {exc}",
                        status=self._status,
                        headers=self._headers,
                    ) from exc

            async def aclose(self) -> None:
                await self._inner.aclose()

        cls = CappedStream
        _STREAM_CLASSES[module.__name__] = cls
    return cls


_STREAM_CLASSES: dict[str, type] = {}


def response_cap_hook(module: types.ModuleType, limit: int) -> Callable[[Any], Awaitable[None]]:
    """An httpx ``response`` event hook (for ``module``: httpx, or the SDK's fork) capping bodies."""

    async def hook(response: Any) -> None:
        headers = response.headers
        declared = declared_length(headers)
        if declared is not None and declared > limit:
            await response.aclose()
            raise ResponseTooLarge(
                limit, status=response.status_code, headers=headers, declared=declared
            )
        encoding = headers.get("content-encoding", "").strip().lower()
        decoder = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            decoder = _decoder(encoding)
            # Decoded here, counted as decoded: httpx must not decode it a second time.
            del headers["content-encoding"]
        status, kept = response.status_code, dict(headers)
        gen = _capped(response.stream, limit, decoder, status, kept)
        response.stream = _stream_class(module)(response.stream, gen, status, kept, encoding)

    return hook
