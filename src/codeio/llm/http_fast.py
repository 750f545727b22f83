"""A lean asyncio HTTP/1.1 client for one endpoint: keep-alive pool, POST of a JSON body.

Why it exists: the ``openai`` SDK and ``httpx`` spend 1-3 ms of CPU per request in the client
(models, header objects, httpcore's pool scans), which caps one core at a few hundred requests
per second — far below what a local vLLM/SGLang server answers at concurrency 256. This module
does only what a chat-completions call needs, with an ``asyncio.Protocol`` per connection (no
stream reader/writer layers) and a LIFO pool of idle connections:

- ``http`` and ``https`` (TLS via an ``ssl.SSLContext``, SNI and certificate checks on);
- responses framed by ``Content-Length``, ``Transfer-Encoding: chunked``, or the close of the
  connection; interim ``1xx`` responses skipped; ``Connection: close`` honoured;
- one deadline per request (connect + send + whole response);
- a cap on the body (``max_body_bytes``), checked as bytes arrive: a declared Content-Length
  over it fails at once, a chunked or close-delimited body as soon as it passes it;
- failures as exception types, ``HTTPTimeout``, ``HTTPConnectionError`` (refused, reset,
  closed before a complete response, unparseable response) and ``ResponseTooLarge``, which
  callers map to reasons.

No redirects, no compression, no proxies, no pipelining: none are needed against an
OpenAI-compatible API, and each would cost CPU on every request.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from codeio.llm.body_limit import DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLarge

__all__ = ["HTTPConnectionError", "HTTPPool", "HTTPResponse", "HTTPTimeout", "ResponseTooLarge"]

MAX_HEAD_BYTES = 64 * 1024
"""A response head larger than this is not an API answer: fail instead of buffering forever.
Also the bound on one chunk-size line plus trailers, for the same reason."""
KEEPALIVE_S = 5.0
"""Idle connections older than this are closed instead of reused (httpx's default expiry):
servers drop idle keep-alive connections after a few seconds, and reusing one that the server
is closing at that moment would fail the request."""

_COMPACT_AT = 256 * 1024
"""Parsed chunks are dropped from the receive buffer once this many bytes of it are parsed."""


class HTTPTimeout(Exception):
    """No complete response within the deadline (connect included)."""


class HTTPConnectionError(Exception):
    """Connect failed, the connection broke, or the server sent something that is not HTTP/1.x."""


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    status: int
    headers: dict[str, str]
    """Names lowercased; repeated headers joined with ``", "``."""
    body: bytes


class _Conn(asyncio.Protocol):
    """One keep-alive connection; parses exactly one response per request (no pipelining)."""

    def __init__(self, pool: HTTPPool) -> None:
        self._pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = True
        self.counted = False  # holds one of the pool's max_connections slots
        self.idle_since = 0.0
        self._waiter: asyncio.Future[HTTPResponse] | None = None
        self._buf = bytearray()
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers: dict[str, str] = {}
        self._length: int | None = None  # None with _chunked False: the body ends at EOF
        self._chunked = False
        self._chunks: list[bytes] = []
        self._chunked_bytes = 0  # body bytes in _chunks
        self._pos = 0  # parse offset into _buf while reading chunks

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Bytes nobody asked for (or after a timeout): the stream is out of sync.
            self.reusable = False
            self.close()
            return
        self._buf += data
        try:
            self._parse()
        except (ValueError, IndexError) as exc:
            self._fail(HTTPConnectionError(f"invalid HTTP response: {exc}"))
        except ResponseTooLarge as exc:
            self._fail(exc)  # aborts the connection: the rest of the body is never read

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost finishes the response

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._status and self._length is None and not self._chunked:
                # A body delimited by the end of the connection is complete now.
                self._finish(bytes(self._buf))
            else:
                what = "mid-response" if self._status or self._buf else "without a response"
                detail = f": {exc!r}" if exc is not None else ""
                waiter.set_exception(
                    HTTPConnectionError(f"server closed the connection {what}{detail}")
                )
        self._pool._discard(self)

    # -- request / response ------------------------------------------------------------------

    def start(self, data: bytes, waiter: asyncio.Future[HTTPResponse]) -> None:
        self._waiter = waiter
        self._reset()
        self._buf.clear()
        if self.closed or self.transport is None:
            waiter.set_exception(HTTPConnectionError("connection closed before the request"))
            return
        self.transport.write(data)

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.reusable = False
        self.close()

    def _finish(self, body: bytes) -> None:
        assert self._waiter is not None
        if not self._waiter.done():
            self._waiter.set_result(HTTPResponse(self._status, self._headers, body))

    def _parse(self) -> None:
        buf = self._buf
        while not self._status:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise ValueError("response head too large")
                return
            self._head(bytes(buf[:end]))
            del buf[: end + 4]
        if self._chunked:
            self._parse_chunks()
        elif self._length is not None:
            if len(buf) >= self._length:
                if len(buf) > self._length:
                    self.reusable = False  # bytes past the response: do not trust the stream
                self._finish(bytes(buf[: self._length]))
        elif len(buf) > self._pool.max_body_bytes:
            raise self._too_large()

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ValueError(f"bad status line {lines[0][:80]!r}")
        status = int(rest[:3])
        if 100 <= status < 200:
            return  # interim (100 Continue, 103 Early Hints): the real response follows
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ValueError(f"bad header line {line[:80]!r}")
            key = name.strip().lower().decode("latin-1")
            val = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {val}" if key in headers else val
        self._status = status
        self._headers = headers
        conn = headers.get("connection", "").lower()
        if "close" in conn or (version == b"HTTP/1.0" and "keep-alive" not in conn):
            self.reusable = False
        if status in (204, 304):
            self._length = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            self._length = int(headers["content-length"].split(",")[0])
            if self._length < 0:
                raise ValueError("negative Content-Length")
            if self._length > self._pool.max_body_bytes:
                raise self._too_large(declared=self._length)
        else:
            self.reusable = False  # the body runs to EOF

    def _too_large(self, declared: int | None = None) -> ResponseTooLarge:
        limit = self._pool.max_body_bytes
        return ResponseTooLarge(
            limit, status=self._status, headers=self._headers, declared=declared
        )

    def _parse_chunks(self) -> None:
        buf = self._buf
        try:
            while True:
                pos = self._pos
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if len(buf) - pos > MAX_HEAD_BYTES:
                        raise ValueError("chunk size line too long")
                    return
                size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip(), 16)
                if size < 0:
                    raise ValueError("negative chunk size")
                if size == 0:
                    # Last chunk, then optional trailers, then an empty line.
                    if buf[eol + 2 : eol + 4] == b"\r\n":
                        end = eol + 4
                    else:
                        t = buf.find(b"\r\n\r\n", eol + 2)
                        if t < 0:
                            if len(buf) - eol > MAX_HEAD_BYTES:
                                raise ValueError("chunked trailers too large")
                            return
                        end = t + 4
                    if len(buf) > end:
                        self.reusable = False
                    self._finish(b"".join(self._chunks))
                    return
                # Checked on the declared size, before its bytes are buffered.
                if self._chunked_bytes + size > self._pool.max_body_bytes:
                    raise self._too_large()
                start = eol + 2
                if len(buf) < start + size + 2:
                    return
                self._chunks.append(bytes(buf[start : start + size]))
                self._chunked_bytes += size
                self._pos = start + size + 2
        finally:
            if self._pos > _COMPACT_AT:
                # Parsed chunks live in _chunks: drop them from _buf, or a body near the cap
                # would be held twice.
                del buf[: self._pos]
                self._pos = 0

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()  # nothing of ours is worth flushing on a broken stream


class HTTPPool:
    """Keep-alive connections to one origin, at most ``max_connections`` open at once.

    Lives on one event loop (the one that first uses it).

    Args:
        base_url: ``http[s]://host[:port][/prefix]``; request paths are appended to the prefix.
        headers: sent with every request (e.g. ``Authorization``).
        timeout_s: deadline of one request, connect included.
        ssl_context: for ``https``; default ``ssl.create_default_context()``.
        max_body_bytes: a response body longer than this fails with ``ResponseTooLarge``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = 64,
        timeout_s: float = 120.0,
        headers: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_s: float = KEEPALIVE_S,
        max_body_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme in {base_url!r}: use http or https")
        if not parts.hostname:
            raise ValueError(f"no host in {base_url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        self.query = parts.query
        self.max_connections = max(1, max_connections)
        self.timeout_s = timeout_s
        self.keepalive_s = keepalive_s
        self.max_body_bytes = max_body_bytes
        self._ssl = (ssl_context or ssl.create_default_context()) if self.tls else None
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = self.port == (443 if self.tls else 80)
        fixed = {
            "Host": host if default_port else f"{host}:{self.port}",
            "User-Agent": "codeio",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            **(headers or {}),
        }
        for k, v in fixed.items():
            if any(c in f"{k}{v}" for c in "\r\n\0"):
                raise ValueError(f"header {k!r} contains a line break")
        self._fixed_headers = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self._idle: list[_Conn] = []  # LIFO: the warmest connection first
        self._open = 0
        self._waiters: deque[asyncio.Future[_Conn | None]] = deque()
        self._closed = False

    def _target(self, path: str) -> str:
        target = f"{self.prefix}/{path.lstrip('/')}"
        return f"{target}?{self.query}" if self.query else target

    async def post_json(self, path: str, body: bytes) -> HTTPResponse:
        """POST ``body`` (already JSON) to ``base_url + path`` and return the whole response."""
        data = b"".join(
            (
                f"POST {self._target(path)} HTTP/1.1\r\n".encode("latin-1"),
                self._fixed_headers,
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        conn = await self._acquire(deadline)
        waiter: asyncio.Future[HTTPResponse] = loop.create_future()
        # A timer on the future instead of asyncio.wait_for: no extra task per request.
        timer = loop.call_at(deadline, _expire, waiter)
        ok = False
        try:
            conn.start(data, waiter)
            resp = await waiter
            ok = True
            return resp
        finally:
            timer.cancel()
            conn._waiter = None
            # A response cut short (timeout, cancel, error) leaves the stream out of sync.
            self._release(conn, reusable=ok and conn.reusable and not conn.closed)

    # -- pool --------------------------------------------------------------------------------

    async def _acquire(self, deadline: float) -> _Conn:
        if self._closed:
            raise HTTPConnectionError("the connection pool is closed")
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive_s:
                return conn
            self._drop(conn)
        loop = asyncio.get_running_loop()
        while self._open >= self.max_connections:
            fut: asyncio.Future[_Conn | None] = loop.create_future()
            self._waiters.append(fut)
            try:
                conn_or_none = await asyncio.wait_for(fut, max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError as exc:
                raise HTTPTimeout("no free connection before the deadline") from exc
            except BaseException:
                if fut.done() and not fut.cancelled() and fut.result() is not None:
                    self._release(fut.result(), reusable=True)  # pass it on, do not leak it
                elif fut.done() and not fut.cancelled():
                    self._wake()  # we were told to open one; let the next waiter do it
                raise
            if conn_or_none is not None:
                return conn_or_none
            # None: a slot freed up, open a connection below (if still free).
        self._open += 1
        try:
            return await self._connect(deadline)
        except BaseException:
            self._open -= 1
            self._wake()
            raise

    async def _connect(self, deadline: float) -> _Conn:
        loop = asyncio.get_running_loop()
        conn = _Conn(self)
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: conn, self.host, self.port, ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                ),
                max(0.0, deadline - loop.time()),
            )  # fmt: skip
        except asyncio.TimeoutError as exc:
            raise HTTPTimeout(f"connect to {self.host}:{self.port} timed out") from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            raise HTTPConnectionError(f"connect to {self.host}:{self.port}: {exc!r}") from exc
        conn.counted = True
        return conn

    def _release(self, conn: _Conn, *, reusable: bool) -> None:
        if not reusable or self._closed:
            conn.reusable = False
            conn.close()
            self._drop(conn)
            return
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def _discard(self, conn: _Conn) -> None:
        """The connection closed (by either side): forget it, free its slot."""
        if conn in self._idle:
            self._idle.remove(conn)
        self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        conn.close()
        if conn.counted:
            conn.counted = False
            self._open -= 1
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._drop(conn)
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(HTTPConnectionError("the connection pool was closed"))
        await asyncio.sleep(0)  # let the transports run their close callbacks


def _expire(waiter: asyncio.Future[HTTPResponse]) -> None:
    if not waiter.done():
        waiter.set_exception(HTTPTimeout("no complete response before the deadline"))
