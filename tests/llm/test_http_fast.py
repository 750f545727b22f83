"""codeio.llm.http_fast against scripted raw servers: framing, keep-alive, failures, TLS."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from codeio.llm.http_fast import HTTPConnectionError, HTTPPool, HTTPTimeout

Reply = Callable[[bytes], Awaitable[bytes | None]]
"""Given the raw request, the raw bytes to answer (None: close without answering)."""


class RawServer:
    """Reads one request at a time per connection (head + Content-Length body), answers ``reply``."""

    def __init__(self, reply: Reply, ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.reply = reply
        self.ssl_ctx = ssl_ctx
        self.connections = 0
        self.open_now = 0
        self.max_open = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_ctx)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                req = head + await reader.readexactly(length)
                self.requests.append(req)
                out = await self.reply(req)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
                if out.startswith(b"HTTP/1.0") or b"connection: close" in out.lower():
                    break  # the response promised to end the connection
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


def _ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def _run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_request_format_keepalive_and_content_length() -> None:
    async def reply(req: bytes) -> bytes:
        return _ok(b'{"n": %d}' % len(req))

    async def main() -> None:
        async with RawServer(reply) as srv:
            pool = HTTPPool(
                f"http://127.0.0.1:{srv.port}/v1/", headers={"Authorization": "Bearer k"}
            )
            for _ in range(3):
                resp = await pool.post_json("chat/completions", b'{"a": 1}')
                assert resp.status == 200 and resp.body.startswith(b'{"n": ')
            await pool.aclose()
        assert srv.connections == 1  # kept alive and reused
        head, _, body = srv.requests[0].partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"POST /v1/chat/completions HTTP/1.1"
        assert b"Authorization: Bearer k" in lines
        assert f"Host: 127.0.0.1:{srv.port}".encode() in lines
        assert b"Content-Length: 8" in lines and body == b'{"a": 1}'

    _run(main())


def test_chunked_interim_close_delimited_and_connection_close() -> None:
    script = [
        # 100 Continue first, then a chunked body with an extension and a trailer.
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
        b"4;ext=1\r\nhell\r\n7\r\no world\r\n0\r\nTrailer: t\r\n\r\n",
        # Connection: close: answered, then a fresh connection for the next request.
        _ok(b"closing", b"Connection: close\r\n"),
        # No length at all: the body runs to the end of the connection.
        b"HTTP/1.0 429 Too Many\r\nRetry-After: 3\r\n\r\nslow down",
        None,
    ]

    async def reply(req: bytes) -> bytes | None:
        return script.pop(0)

    async def main() -> None:
        async with RawServer(reply) as srv:
            pool = HTTPPool(f"http://127.0.0.1:{srv.port}", timeout_s=10)
            r1 = await pool.post_json("/x", b"{}")
            assert (r1.status, r1.body) == (200, b"hello world")
            assert r1.headers["x-a"] == "1, 2"
            r2 = await pool.post_json("/x", b"{}")
            assert r2.body == b"closing"
            r3 = await pool.post_json("/x", b"{}")
            assert (r3.status, r3.body, r3.headers["retry-after"]) == (429, b"slow down", "3")
            with pytest.raises(HTTPConnectionError, match="without a response"):
                await pool.post_json("/x", b"{}")
            await pool.aclose()
        assert srv.requests[0].startswith(b"POST /x HTTP/1.1")
        # 1: chunked + the "Connection: close" answer; 2: close-delimited; 3: the drop.
        assert srv.connections == 3

    _run(main())


def test_timeout_and_cancel_do_not_reuse_the_connection() -> None:
    gate = asyncio.Event()

    async def reply(req: bytes) -> bytes:
        if b"hang" in req:
            await gate.wait()
        return _ok(b"late" if b"hang" in req else b"ok")

    async def main() -> None:
        async with RawServer(reply) as srv:
            pool = HTTPPool(f"http://127.0.0.1:{srv.port}", timeout_s=0.3)
            with pytest.raises(HTTPTimeout):
                await pool.post_json("/x", b'"hang"')
            # The late answer of the first request must never be read as this one's.
            assert (await pool.post_json("/x", b'"fine"')).body == b"ok"
            task = asyncio.ensure_future(pool.post_json("/x", b'"hang"'))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            gate.set()
            assert (await pool.post_json("/x", b'"fine"')).body == b"ok"
            await pool.aclose()
        assert srv.connections == 3

    _run(main())


def test_pool_never_exceeds_max_connections() -> None:
    async def reply(req: bytes) -> bytes:
        await asyncio.sleep(0.01)
        return _ok(b"ok")

    async def main() -> None:
        async with RawServer(reply) as srv:
            pool = HTTPPool(f"http://127.0.0.1:{srv.port}", max_connections=3)
            out = await asyncio.gather(*(pool.post_json("/x", b"{}") for _ in range(20)))
            assert all(r.body == b"ok" for r in out)
            await pool.aclose()
        assert srv.max_open <= 3 and srv.connections == 3
        assert len(srv.requests) == 20

    _run(main())


def test_refused_is_a_connection_error() -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        pool = HTTPPool(f"http://127.0.0.1:{port}")
        with pytest.raises(HTTPConnectionError):
            await pool.post_json("/x", b"{}")
        await pool.aclose()

    _run(main())


def test_garbage_response_is_a_connection_error() -> None:
    async def reply(req: bytes) -> bytes:
        return b"SSH-2.0-OpenSSH\r\n\r\n"

    async def main() -> None:
        async with RawServer(reply) as srv:
            pool = HTTPPool(f"http://127.0.0.1:{srv.port}")
            with pytest.raises(HTTPConnectionError, match="invalid HTTP response"):
                await pool.post_json("/x", b"{}")
            await pool.aclose()

    _run(main())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_https_with_a_trusted_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def reply(req: bytes) -> bytes:
        return _ok(b"secure")

    async def main() -> None:
        async with RawServer(reply, server_ctx) as srv:
            trusted = ssl.create_default_context(cafile=str(cert))
            pool = HTTPPool(f"https://localhost:{srv.port}/v1", ssl_context=trusted)
            assert (await pool.post_json("chat/completions", b"{}")).body == b"secure"
            await pool.aclose()
            # The default context does not trust it: a certificate failure, not a hang.
            strict = HTTPPool(f"https://localhost:{srv.port}/v1")
            with pytest.raises(HTTPConnectionError):
                await strict.post_json("chat/completions", b"{}")
            await strict.aclose()
        assert srv.requests[0].startswith(b"POST /v1/chat/completions HTTP/1.1")

    _run(main())
