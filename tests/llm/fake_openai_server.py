"""A real OpenAI-compatible HTTP server on 127.0.0.1 that can inject faults, for LLM client tests.

Each request is identified by its last user message (the "prompt"). ``plan[prompt]`` lists the
fault for its 1st, 2nd, ... arrival; past the end of the list, it is answered normally.
Faults: ``429`` (with Retry-After), ``500``, ``503``, ``401``, ``slow`` (answers after
``slow_s``), ``drop`` (closes the connection without a response), ``length`` (finish_reason
"length"), ``malformed`` (a 200 whose body is not JSON), ``empty`` (a 200 with no choices),
``404`` (an unknown model or a base_url missing ``/v1``).
Answers without text (usage still billed): ``empty_text`` (content ""), ``blank_text``
(whitespace), ``empty_length`` (content "", finish_reason "length"), ``null_length`` (content
null, finish_reason "length": a reasoning model that spent the budget before any content).
Other answers that are not chat completions (see ``ODD_BODIES``): ``parts`` (content as a list
of text parts, as some servers send it), ``parts_no_text``, ``no_choices_key``,
``null_message``, ``html200``, ``html502``, ``deep_json`` (nesting deeper than any parser
recurses), ``error200`` (an error object with status 200), ``301`` (a redirect),
``bad_gzip`` (Content-Encoding gzip over bytes that are not).
Oversized bodies (``huge_bytes`` of them, written in pieces until the client hangs up):
``huge_length`` (a declared Content-Length), ``huge_chunked``, ``huge_eof`` (delimited by the
close of the connection), ``huge_gzip`` (a small gzip body that decodes to ``huge_bytes``),
``huge_500`` (a chunked 500).
Every arrival is logged, faulted or not, with the key it carried: the server side's count.

Beyond the per-prompt ``plan``:
- ``expected_key``: a request whose ``Authorization: Bearer`` key differs gets a 401 (a key that
  is wrong and later fixed: change it here, or rerun the client with the right one);
- ``fault_fn(index, body)``: a per-request schedule over the global arrival index (0-based) and
  the request body; its fault (or None) applies when ``plan`` has none — e.g. an endpoint that
  goes down after N requests and comes back M requests later;
- ``responder(body)``: the answer text (default: ``echo: <prompt>``), for pipeline tests that
  need answers a stage can parse.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OMIT = object()
"""A ``usage_for_prompt`` value that leaves ``usage`` out of the body."""


def answer_text(prompt: str) -> str:
    return f"echo: {prompt}"


def usage_for(prompt: str) -> tuple[int, int]:
    """Deterministic token counts the client must report back exactly."""
    return 10 + len(prompt), 3 + len(prompt) % 5


@dataclass
class Arrival:
    prompt: str
    fault: str
    body: dict[str, Any]
    key: str = ""
    t: float = 0.0
    """``time.monotonic()`` when the request arrived (rate-limit tests count per window)."""


@dataclass
class ServerState:
    plan: dict[str, list[str]] = field(default_factory=dict)
    faults_enabled: bool = True
    slow_s: float = 2.0
    delay_s: float = 0.0
    retry_after_ms: int = 20
    huge_bytes: int = 256 * 1024 * 1024
    gzip: bool = False
    """gzip-encode answers for clients that accept it."""
    usage_for_prompt: dict[str, Any] = field(default_factory=dict)
    """The ``usage`` value sent for a prompt instead of the real one (``OMIT``: none at all)."""
    sent_bytes: int = 0
    """Body bytes the ``huge_*`` faults managed to write before the client hung up."""
    expected_key: str | None = None
    fault_fn: Callable[[int, dict[str, Any]], str | None] | None = None
    responder: Callable[[dict[str, Any]], str] | None = None
    log: list[Arrival] = field(default_factory=list)
    reply: Any = None
    """Optional ``reply(prompt, body) -> str``: the answer text instead of ``answer_text``."""
    inflight: int = 0
    max_inflight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arrivals(self, prompt: str) -> int:
        with self.lock:
            return sum(1 for a in self.log if a.prompt == prompt)

    def prompts(self) -> list[str]:
        with self.lock:
            return [a.prompt for a in self.log]

    def count(self, pred: Callable[[Arrival], bool] | None = None) -> int:
        """Arrivals (all, or those ``pred`` accepts): what the server actually saw."""
        with self.lock:
            return sum(1 for a in self.log if pred is None or pred(a))

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()


_HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

ODD_BODIES: dict[str, tuple[int, bytes, dict[str, str]]] = {
    "no_choices_key": (200, b'{"id": "x", "object": "chat.completion"}', {}),
    "null_message": (200, b'{"choices": [{"index": 0, "message": null}]}', {}),
    "parts_no_text": (
        200,
        b'{"choices": [{"message": {"content": [{"type": "image_url", "image_url": {}}]},'
        b' "finish_reason": "stop"}]}',
        {},
    ),
    "html200": (200, _HTML, {"Content-Type": "text/html"}),
    "html502": (502, _HTML, {"Content-Type": "text/html"}),
    "deep_json": (200, b"[" * 200_000 + b"]" * 200_000, {}),
    "error200": (200, b'{"error": {"message": "upstream overloaded", "code": 503}}', {}),
    "301": (301, b"", {"Location": "https://elsewhere.example/v1/chat/completions"}),
    "bad_gzip": (200, b"this is not gzip at all, not even close" * 4, {"Content-Encoding": "gzip"}),
}
"""fault -> (status, body, headers) of a response that is not a chat completion."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "application/json")
        if self.server.state.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = zlib.compress(body, 6, wbits=16 + zlib.MAX_WBITS)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _send_huge(self, state: ServerState, fault: str) -> None:
        prefix = b'{"id": "x", "choices": [{"message": {"role": "assistant", "content": "'
        piece = b"x" * (64 * 1024)
        status = 500 if fault == "huge_500" else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if fault == "huge_length":
            self.send_header("Content-Length", str(state.huge_bytes))
        elif fault == "huge_gzip":
            body = _gzip_bomb(state.huge_bytes)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        elif fault == "huge_eof":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunked = fault in ("huge_chunked", "huge_500")
        sent = 0
        try:
            while sent < state.huge_bytes:
                data = (prefix if sent == 0 else piece)[: state.huge_bytes - sent]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                sent += len(data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        finally:
            with state.lock:
                state.sent_bytes += sent

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.path.endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        body = json.loads(raw)
        prompt = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else auth
        with state.lock:
            n = sum(1 for a in state.log if a.prompt == prompt)
            steps = state.plan.get(prompt, [])
            fault = steps[n] if state.faults_enabled and n < len(steps) else "ok"
            if fault == "ok" and state.faults_enabled and state.fault_fn is not None:
                fault = state.fault_fn(len(state.log), body) or "ok"
            if state.expected_key is not None and key != state.expected_key:
                fault = "401"
            state.log.append(Arrival(prompt, fault, body, key, time.monotonic()))
            state.inflight += 1
            state.max_inflight = max(state.max_inflight, state.inflight)
        try:
            self._respond(state, prompt, fault, body)
        finally:
            with state.lock:
                state.inflight -= 1

    def _respond(self, state: ServerState, prompt: str, fault: str, body: dict[str, Any]) -> None:
        if state.delay_s:
            time.sleep(state.delay_s)
        if fault == "429":
            err = b'{"error": {"message": "slow down", "type": "rate_limit"}}'
            self._send(429, err, {"retry-after-ms": str(state.retry_after_ms), "Retry-After": "0"})
            return
        if fault in ("500", "503"):
            self._send(int(fault), b'{"error": {"message": "boom"}}')
            return
        if fault == "401":
            self._send(401, b'{"error": {"message": "bad key"}}')
            return
        if fault == "404":
            self._send(404, b'{"error": {"message": "The model does not exist"}}')
            return
        if fault == "drop":
            self.close_connection = True
            return
        if fault.startswith("huge_"):
            self._send_huge(state, fault)
            return
        if fault in ODD_BODIES:
            status, odd, headers = ODD_BODIES[fault]
            self._send(status, odd, headers)
            return
        if fault == "slow":
            time.sleep(state.slow_s)
        if fault == "malformed":
            self._send(200, b'{"id": "x", "choices": [{"message": {"content": "tru')
            return
        if fault == "empty":
            self._send(200, json.dumps({"id": "x", "model": body["model"], "choices": []}).encode())
            return
        pt, ct = usage_for(prompt)
        if state.responder is not None:
            text = state.responder(body)
        elif state.reply is not None:
            text = state.reply(prompt, body)
        else:
            text = answer_text(prompt)
        finish = "length" if fault in ("length", "empty_length", "null_length") else "stop"
        text = {"empty_text": "", "blank_text": " \n\t ", "empty_length": ""}.get(fault, text)
        if fault == "null_length":
            text = None  # type: ignore[assignment]
        content: Any = text
        if fault == "parts":
            half = len(text) // 2
            content = [{"type": "text", "text": text[:half]}, {"type": "text", "text": text[half:]}]
        data = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
        }
        if prompt in state.usage_for_prompt:
            usage = state.usage_for_prompt[prompt]
            if usage is OMIT:
                del data["usage"]
            else:
                data["usage"] = usage
        self._send(200, json.dumps(data).encode())


@functools.lru_cache(maxsize=2)
def _gzip_bomb(size: int) -> bytes:
    """A gzip body that decodes to ``size`` bytes, built without ever holding them."""
    head = b'{"id": "x", "choices": [{"message": {"role": "assistant", "content": "'
    piece = b"x" * (64 * 1024)
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [z.compress(head)]
    left = size - len(head)
    while left > 0:
        out.append(z.compress(piece[:left]))
        left -= len(piece)
    out.append(z.flush())
    return b"".join(out)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the default 5 drops SYNs under concurrency: 1 s stalls
    state: ServerState

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow answer closes its end: expected here, not an error.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """``with FakeOpenAIServer() as srv: srv.base_url, srv.state``."""

    def __init__(self, state: ServerState | None = None) -> None:
        self.state = state or ServerState()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.state = self.state
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
