"""The unify repair loop against a real OpenAI-compatible server on 127.0.0.1.

The server answers the first unify request for one file with a broken unified form (the input
generator has a syntax error) and the repair request with a correct one: the run must send the
concrete error back, recover the record and count it as repaired, in ``codeio status --json``
and in the report.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from runhelp import run_codeio, status_json  # type: ignore[import-not-found]

from codeio.demo_data import demo_dir
from codeio.llm.trace_teacher.unify import unify_answer

REPAIR_MARK = "Your previous answer failed"
FIXED = "collatz_steps"  # broken first, correct after one repair
GOOD = "digit_root"  # correct at once
HOPELESS = "fibonacci_mod"  # broken every time: the retry is spent and the record fails


def _broken(correct: str) -> str:
    # Drop the colon of the generator's def line: a syntax error only the generator has.
    return correct.replace("def input_generator(rng):", "def input_generator(rng)", 1)


class _State:
    def __init__(self, answers: dict[str, str], sources: dict[str, str]) -> None:
        self.answers = answers
        self.sources = sources
        """file -> its code, as the unify prompt quotes it (how a request names its file)."""
        self.lock = threading.Lock()
        self.unify_calls: list[tuple[str, bool, str]] = []
        """(file, is_repair, last user message) per unify request."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]
        text = self._answer(users)
        data = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        }
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _answer(self, users: list[str]) -> str:
        state = self.server.state
        name = next((n for n, code in state.sources.items() if code in users[0]), None)
        if name is None:
            # a prediction request: a plausible answer; its correctness does not matter here
            return 'I think the answer is:\n```json\n{"output": 0}\n```'
        repair = users[-1].startswith(REPAIR_MARK)
        with state.lock:
            state.unify_calls.append((name, repair, users[-1]))
        correct = state.answers[name]
        if name == GOOD or (name == FIXED and repair):
            return correct
        return _broken(correct)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops connections under the client's concurrency
    state: _State


@pytest.fixture()
def server() -> Iterator[tuple[str, _State]]:
    sources = {n: (demo_dir() / f"{n}.py").read_text().strip() for n in (FIXED, GOOD, HOPELESS)}
    # The offline teacher's unify answer is a correct unified form of these files.
    answers = {n: unify_answer(code) for n, code in sources.items()}
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = _State(answers, sources)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield f"http://{host}:{port}/v1", httpd.state
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_repair_recovers_a_broken_unify_answer(server: tuple[str, _State], tmp_path: Path) -> None:
    base_url, state = server
    src = tmp_path / "code"
    src.mkdir()
    for name in (FIXED, GOOD, HOPELESS):
        shutil.copy(demo_dir() / f"{name}.py", src / f"{name}.py")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "seed: 1\n"
        f"input:\n  path: {src}\n  kind: raw\n"
        f"llm:\n  spec: openai:fake-model\n  base_url: {base_url}\n  api_key_env: ''\n"
        "  max_retries: 0\n  prices: {input: 1.0, output: 2.0}\n"
        "exec:\n  workers: 2\n"
        "sample:\n  pairs: 3\n"
        "prompt:\n  pairs_per_function: 1\n"
        "revise:\n  rounds: 0\n"
    )
    run_dir = tmp_path / "run"
    res = run_codeio("run", str(cfg), "--out", str(run_dir), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]

    calls = {n: [(rep, msg) for f, rep, msg in state.unify_calls if f == n] for n in state.answers}
    assert [rep for rep, _ in calls[GOOD]] == [False]
    assert [rep for rep, _ in calls[FIXED]] == [False, True]  # default: one repair retry
    assert [rep for rep, _ in calls[HOPELESS]] == [False, True]
    # the repair request carries the concrete error, not a generic "try again"
    feedback = calls[FIXED][1][1]
    assert re.search(r"syntax|SyntaxError|expected ':'", feedback, re.I), feedback
    assert "input_generator" in feedback or "Input Generator" in feedback, feedback

    data = status_json(run_dir)
    unify = {s["stage"]: s for s in data["stages"]}["unify"]
    assert unify["entered"] == 3 and unify["passed"] == 2 and unify["failed"] == 1
    assert data["unify"]["repaired"] == 1
    assert data["unify"]["repair_tried_failed"] == 1
    assert data["unify"]["tried"] == 2
    assert data["unify"]["recovered_share"] == pytest.approx(0.5)  # 1 of the 2 unified
    # the recovered record is in the store and carries its attempt count
    unified = [json.loads(p) for _, p in _records(run_dir, "unify")]
    attempts = sorted(r["meta"]["unify_attempts"] for r in unified)
    assert attempts == [1, 2]
    # LLM tokens and cost are accounted (prices set: cost per verified sample when any)
    assert data["llm"]["by_stage"]["unify"]["calls"] == 5
    assert data["llm"]["cost"] == pytest.approx(
        (data["llm"]["prompt_tokens"] * 1.0 + data["llm"]["completion_tokens"] * 2.0) / 1e6
    )
    report = (run_dir / "report.html").read_text()
    assert "1 of 2 unify responses" in report


def _records(run_dir: Path, stage: str) -> list[tuple[str, str]]:
    import sqlite3

    con = sqlite3.connect(run_dir / "state.sqlite")
    try:
        return con.execute(
            "SELECT id, payload FROM records WHERE stage = ? ORDER BY id", (stage,)
        ).fetchall()
    finally:
        con.close()
