"""Host side of one worker: start the interpreter, exchange frames, notice its death."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from codeio.exec._worker import frames

_EXEC_DIR = str(Path(__file__).resolve().parent)
# The worker package is imported by path so that tasks do not inherit the codeio package.
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, {dir!r}); from _worker import server; "
    "del sys.path[0]; server.main()"
)
HOST_GRACE_S = 10.0
"""How much longer than a task's own timeout the host waits before declaring the worker dead."""


class WorkerDied(Exception):
    """The worker process is gone or unresponsive; the task in flight is lost."""


def worker_env(hash_seed: int) -> dict[str, str]:
    """The whole environment of a worker: nothing is inherited from the caller."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": str(hash_seed),
        "PYTHONDONTWRITEBYTECODE": "1",
        # One thread per numeric library: forked children cannot use pool threads anyway.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


class WorkerProcess:
    def __init__(self, config: dict[str, Any], hash_seed: int, task_root: str) -> None:
        os.makedirs(task_root, mode=0o700, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-s", "-c", _BOOTSTRAP.format(dir=_EXEC_DIR)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=worker_env(hash_seed),
            cwd=task_root,
            close_fds=True,
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        frames.write_frame(self._in, {**config, "task_root": task_root})
        self.report: dict[str, Any] | None = None
        self.alive = True
        self.key: tuple[str, ...] = tuple(config.get("warm", ()))
        """The warm modules its template holds (set by the Sandbox once the worker reports)."""

    def wait_ready(self, timeout_s: float = 120.0) -> dict[str, Any]:
        if self.report is None:
            reply = self._receive(timeout_s)
            if not reply.get("ready"):
                raise WorkerDied(f"unexpected first frame {reply!r}")
            self.report = reply["report"]
        return self.report

    def execute(self, body: bytes, timeout_s: float) -> dict[str, Any]:
        """Run one task body (``frames.TASK_HEADER`` + the task's JSON); the worker's reply."""
        self.wait_ready()
        try:
            frames.write_all(self._in, frames.frame_bytes(body))
        except OSError as exc:
            self.alive = False
            raise WorkerDied(f"cannot send: {exc}") from exc
        return self._receive(timeout_s + HOST_GRACE_S)

    def _receive(self, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        ready, _, _ = select.select([self._out], [], [], max(0.0, deadline - time.monotonic()))
        try:
            if not ready:
                raise WorkerDied("no answer in time")
            reply = frames.read_frame(self._out)
        except (OSError, EOFError, ValueError, json.JSONDecodeError) as exc:
            self.alive = False
            raise WorkerDied(str(exc)) from exc
        except WorkerDied:
            self.alive = False
            raise
        if reply is None:
            self.alive = False
            raise WorkerDied(f"worker exited (code {self.proc.poll()})")
        return reply

    def close(self) -> None:
        self.alive = False
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
