"""Host side of one worker: start it, hand each task straight to a child, read what comes back.

The worker (a zygote) never sees a task's bytes. It forks a child ahead of time and passes the
host the other ends of that child's pipes over the control socket; the host writes the task into
the child's task pipe and reads its stdout, stderr and result pipes itself, enforcing their caps
(and asking the worker to kill the task when one is exceeded). The worker reports only how the
task's process ended: wait status, times, peak memory.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from codeio.exec import outcome
from codeio.exec._worker import frames
from codeio.exec.limits import ExecLimits
from codeio.exec.result import ExecResult

_EXEC_DIR = str(Path(__file__).resolve().parent)
# The worker package is imported by path so that tasks do not inherit the codeio package.
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, {dir!r}); from _worker import server; "
    "del sys.path[0]; server.main()"
)
HOST_GRACE_S = 10.0
"""How much longer than a task's own timeout the host waits before declaring the worker dead."""
_READ_CHUNK = 1 << 16


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


class _Spawner:
    """Starts every worker from one long-lived thread of this process.

    A worker's launcher dies with its parent (PR_SET_PDEATHSIG), and Linux means the parent
    *thread*: a worker started from a short-lived thread (an ``imap_unordered`` lane) would be
    killed when that thread ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():  # none yet, or we were forked
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="codeio-sandbox-spawn")
                self._pid = os.getpid()
            pool = self._pool
        return pool.submit(subprocess.Popen, *args, **kwargs).result()


_SPAWNER = _Spawner()


class _ChildEnds:
    """The host's ends of a pre-forked child's pipes."""

    __slots__ = ("pid", "task", "out", "err", "res")

    def __init__(self, pid: int, fds: list[int]) -> None:
        self.pid = pid
        self.task, self.out, self.err, self.res = fds

    def close(self) -> None:
        for fd in (self.task, self.out, self.err, self.res):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.task = self.out = self.err = self.res = -1


class WorkerProcess:
    def __init__(self, config: dict[str, Any], hash_seed: int, task_root: str) -> None:
        os.makedirs(task_root, mode=0o700, exist_ok=True)
        # The worker's own stderr (a start-up traceback, an interpreter warning) goes to a file
        # beside its directory, not to the user's terminal: its last line then explains a worker
        # that died (``stderr_tail``). Tasks never see it: each child's fd 2 is its own pipe.
        self.stderr_path = task_root + ".stderr"
        host, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        err = os.open(self.stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            # fds 0 and 1 of the worker are both its end of the control socket.
            self.proc = _SPAWNER.popen(
                [sys.executable, "-s", "-c", _BOOTSTRAP.format(dir=_EXEC_DIR)],
                stdin=theirs.fileno(),
                stdout=theirs.fileno(),
                stderr=err,
                env=worker_env(hash_seed),
                cwd=task_root,
                close_fds=True,
                start_new_session=True,
            )
        except BaseException:
            host.close()
            raise
        finally:
            theirs.close()
            os.close(err)
        self.sock = host
        self._sock_fd = host.fileno()
        self.report: dict[str, Any] | None = None
        self.alive = True
        self.key: tuple[str, ...] = tuple(config.get("warm", ()))
        """The warm modules its template holds (set by the Sandbox once the worker reports)."""
        self._child: _ChildEnds | None = None
        body = {**config, "task_root": task_root, "host_pid": os.getpid()}
        try:
            self.sock.send(frames.CONFIG + json.dumps(body).encode())
        except OSError as exc:
            self.alive = False
            raise WorkerDied(f"cannot configure the worker: {exc}") from exc

    # -- control messages ------------------------------------------------------------------
    def _recv(self, deadline: float, size: int = 64) -> tuple[bytes, list[int]]:
        """The next control message (at most ``size`` bytes: CHILD and DONE are a few dozen) and
        the fds it carries; raises WorkerDied on EOF or timeout."""
        try:
            ready, _, _ = select.select(
                [self._sock_fd], [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:
                raise WorkerDied("no answer in time")
            msg, fds, _, _ = socket.recv_fds(self.sock, size, 4, socket.MSG_CMSG_CLOEXEC)
        except OSError as exc:
            self.alive = False
            raise WorkerDied(str(exc)) from exc
        except WorkerDied:
            self.alive = False
            raise
        if not msg:
            self.alive = False
            for fd in fds:
                os.close(fd)
            raise WorkerDied(f"worker exited (code {self.proc.poll()})")
        return msg, fds

    def stderr_tail(self, limit: int = 400) -> str:
        """The last line the worker wrote to its stderr ("" if none): why it died, mostly."""
        try:
            with open(self.stderr_path, "rb") as fh:
                fh.seek(max(0, os.fstat(fh.fileno()).st_size - 4096))
                lines = fh.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        last = lines[-1].strip() if lines else ""
        return last if len(last) <= limit else last[: limit - 3] + "..."

    def wait_ready(self, timeout_s: float = 120.0) -> dict[str, Any]:
        if self.report is None:
            msg, fds = self._recv(time.monotonic() + timeout_s, frames.MAX_CONTROL)
            for fd in fds:
                os.close(fd)
            try:
                reply = json.loads(msg[1:]) if msg[:1] == frames.READY else None
            except ValueError:
                reply = None
            if not isinstance(reply, dict) or not reply.get("ready"):
                self.alive = False
                raise WorkerDied(f"unexpected first message {msg[:80]!r}")
            self.report = reply["report"]
        return self.report

    def _take_child(self, deadline: float) -> _ChildEnds:
        if self._child is not None:
            ends, self._child = self._child, None
            return ends
        msg, fds = self._recv(deadline)
        if msg[:1] != frames.CHILD or len(msg) != frames.CHILD_MSG.size or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            self.alive = False
            raise WorkerDied(f"expected a child, got {msg[:80]!r}")
        _, pid = frames.CHILD_MSG.unpack(msg)
        return _ChildEnds(pid, fds)

    # -- one task ------------------------------------------------------------------------------
    def execute(self, task: bytes, limits: ExecLimits) -> ExecResult:
        """Run one task (the child's JSON: code, entry, kwargs, limits) and classify it."""
        self.wait_ready()
        ends = self._take_child(time.monotonic() + HOST_GRACE_S)
        try:
            return self._supervise(ends, frames.frame_bytes(task), limits)
        finally:
            ends.close()

    def _supervise(self, ends: _ChildEnds, task: bytes, limits: ExecLimits) -> ExecResult:
        out, err, res = bytearray(), bytearray(), bytearray()
        buffers = {ends.out: out, ends.err: err, ends.res: res}
        # The harness's frame escapes the value's JSON once more: at most twice its size.
        caps = {
            ends.out: limits.output_bytes,
            ends.err: limits.output_bytes,
            ends.res: 2 * limits.result_bytes + 4096,
        }
        # The worker made these ends non-blocking before passing them.
        poller = select.poll()
        for fd in buffers:
            poller.register(fd, select.POLLIN)
        poller.register(self._sock_fd, select.POLLIN)
        started = time.monotonic()
        deadline = started + limits.timeout_s  # the host keeps the clock; KILL is the deadline
        pending = self._feed(ends, memoryview(task))
        if pending:
            poller.register(ends.task, select.POLLOUT)
        over: set[int] = set()
        killed_for: str | None = None
        done: bytes | None = None
        while done is None:
            now = time.monotonic()
            if killed_for is None and now >= deadline:
                killed_for = "timeout"
                self._kill_task(ends.pid)
                deadline = now + HOST_GRACE_S  # now for the worker's answer
            elif killed_for is not None and now >= deadline:
                self.alive = False
                raise WorkerDied("no answer in time")
            for fd, _ in poller.poll((deadline - now) * 1000.0 + 1.0):
                if fd == self._sock_fd:
                    done = self._recv_done(deadline)
                elif fd == ends.task:
                    pending = self._feed(ends, pending)
                    if not pending:
                        poller.unregister(fd)
                else:
                    try:
                        chunk = os.read(fd, _READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        poller.unregister(fd)
                        continue
                    buffers[fd] += chunk
                    if len(buffers[fd]) > caps[fd]:
                        # Stop reading (the writer blocks) and have the worker end the task.
                        poller.unregister(fd)
                        over.add(fd)
                        if killed_for is None:
                            killed_for = "cap"
                            self._kill_task(ends.pid)
                            deadline = time.monotonic() + HOST_GRACE_S
        ended = time.monotonic()
        # Every process of the task is gone now: what is in the pipes is all there is.
        for fd, buf in buffers.items():
            if fd not in over:
                _drain(fd, buf, caps[fd] + 1)
        _, wait_status, flags, after, cpu, peak_kb, _ = frames.DONE_MSG.unpack(done)
        if killed_for == "timeout" and flags & frames.DONE_HOST_KILL:
            flags |= frames.DONE_TIMEOUT
        if flags & frames.DONE_RETIRE:
            self.alive = False  # the worker exits; the Sandbox starts a fresh one
        return outcome.build(
            wait_status=wait_status,
            flags=flags,
            duration_s=max(0.0, ended - started - after),
            cpu_s=cpu,
            peak_kb=peak_kb,
            stdout=out,
            stderr=err,
            result=res,
            result_over=len(res) > caps[ends.res],
            limits=limits,
        )

    def _recv_done(self, deadline: float) -> bytes:
        """The worker's DONE (it sends nothing else while a task runs), keeping the next child
        it carries."""
        msg, fds = self._recv(deadline)
        if msg[:1] == frames.DONE and len(msg) == frames.DONE_MSG.size:
            next_pid = frames.DONE_MSG.unpack(msg)[-1]
            if next_pid and len(fds) == 4:
                self._child = _ChildEnds(next_pid, fds)
                return msg
            if not next_pid and not fds:
                return msg
        for fd in fds:
            os.close(fd)
        self.alive = False
        raise WorkerDied(f"unexpected message {msg[:80]!r}")

    def _kill_task(self, pid: int) -> None:
        try:
            self.sock.send(frames.KILL_MSG.pack(frames.KILL, pid))
        except OSError:
            pass  # a dead worker shows as EOF on the socket

    @staticmethod
    def _feed(ends: _ChildEnds, pending: memoryview) -> memoryview:
        """Write what the task pipe takes now; close it once the whole task is in."""
        try:
            pending = pending[os.write(ends.task, pending) :]
        except BlockingIOError:
            return pending
        except OSError:  # the child is gone; its exit says why
            pending = pending[:0]
        if not pending:
            os.close(ends.task)
            ends.task = -1
        return pending

    def close(self) -> None:
        self.alive = False
        if self._child is not None:
            self._child.close()
            self._child = None
        try:
            self.sock.close()  # the worker sees EOF and ends, and its namespace with it
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


def _drain(fd: int, buf: bytearray, cap: int) -> None:
    while len(buf) < cap:
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except (BlockingIOError, OSError):
            return
        if not chunk:
            return
        buf += chunk
