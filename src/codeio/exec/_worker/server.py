"""The worker loop: read a task frame, fork a child, supervise it, answer with one frame.

Started as ``python -s -c BOOTSTRAP`` with a scrubbed environment; the first frame from the host
is the configuration. The worker imports the prelude once; every task runs in a forked child, so
tasks pay neither interpreter start-up nor imports, and none sees another's state.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import json
import os
import resource
import select
import signal
import sys
import tempfile
import time
from typing import Any

from . import child, confine, frames, landlock, syscalls

_IN, _OUT = 0, 1
_READ_CHUNK = 1 << 16
_REAP_GRACE_S = 0.5


class _Child:
    """A pre-forked child and the worker's ends of its pipes."""

    __slots__ = ("pid", "out_r", "err_r", "res_r", "task_w")

    def __init__(self, pid: int, out_r: int, err_r: int, res_r: int, task_w: int) -> None:
        self.pid, self.out_r, self.err_r, self.res_r, self.task_w = pid, out_r, err_r, res_r, task_w


class Worker:
    def __init__(self, config: dict[str, Any], report: dict[str, Any]) -> None:
        self.env: dict[str, str] = config["task_env"]
        self.pid_ns = "pid" in report["namespaces"]
        self.drop_uid = bool(report.get("task_uid"))
        # NPROC counts per (user namespace, uid); it only bites for a non-root uid.
        self.count_processes = self.drop_uid or os.getuid() != 0
        base = "/tmp" if "tmp" in report["namespaces"] else config["task_root"]
        self.task_dir = os.path.join(base, "task")
        os.makedirs(self.task_dir, mode=0o700, exist_ok=True)
        if self.drop_uid:
            os.chown(self.task_dir, child.NAMESPACE_UID, child.NAMESPACE_UID)
        self.env = {
            **self.env,
            "HOME": self.task_dir,
            "TMPDIR": self.task_dir,
            "PWD": self.task_dir,
        }
        # The worker's own environment becomes the tasks' (set once, not per task).
        os.environ.clear()
        os.environ.update(self.env)
        tempfile.tempdir = None
        self.ruleset_fd: int | None = None
        self._next: _Child | None = None
        self.report = report
        try:
            fd, abi, features = landlock.build_ruleset(self.task_dir)
            # Park it far above the fds a child rearranges (0-3) so dup2 cannot clobber it.
            self.ruleset_fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
            os.close(fd)
            report["landlock"] = {"abi": abi, "features": features}
        except OSError as exc:
            report["landlock_error"] = str(exc)
        # As PID 1 of its own namespaces the worker confines itself once and every child inherits
        # it (see child.confine_worker): tasks cannot signal it (init ignores signals it has no
        # handler for), trace it or read its memory (it is not dumpable). Without a PID
        # namespace each child confines itself instead.
        self.confined = False
        # Tasks keep CAP_DAC_READ_SEARCH only where the interpreter could not be exposed to them.
        self.read_cap = "exposed" not in report
        self.broken = False
        """Set when the worker can no longer promise a clean next task; it exits after replying."""
        self._own_state: tuple[Any, ...] | None = None
        if not self.pid_ns:
            # Orphans of a task re-parent to us, so they can be found and killed.
            try:
                syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
                report["subreaper"] = True
            except OSError:
                report["subreaper"] = False

    def confine(self) -> None:
        """Confine the worker itself (PID namespace only); call after all set-up."""
        if not self.pid_ns:
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        child.confine_worker(self.ruleset_fd, self.drop_uid, self.read_cap)
        if self.ruleset_fd is not None:
            os.close(self.ruleset_fd)
            self.ruleset_fd = None
        self.confined = True
        self._own_state = _own_state()

    def serve(self) -> None:
        while True:
            # The next task's child is forked and confined while we wait for the task, so the
            # fork and the set-up overlap the host's round trip instead of adding to it.
            if self._next is None:
                self._next = self._prefork()
            body = frames.read_body(_IN)
            if body is None:
                return
            try:
                reply = self.run(body)
            except Exception as exc:  # report instead of dying: the host retries
                reply = {"status": "sandbox_error", "error_message": f"worker: {exc!r}"}
                self.broken = True
            frames.write_frame(_OUT, reply)
            if self.broken:
                # The host sees the exit and starts a fresh worker for the next task.
                os._exit(3)

    def _prefork(self) -> _Child:
        """A fresh child of the untouched template, confined, blocked reading its task."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        task_r, task_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            for fd in (out_r, err_r, res_r, task_w):
                os.close(fd)
            child.child_main(
                task_fd=task_r,
                out_fd=out_w,
                err_fd=err_w,
                result_fd=res_w,
                task_dir=self.task_dir,
                ruleset_fd=self.ruleset_fd,
                drop_uid=self.drop_uid,
                count_processes=self.count_processes,
                own_group=not self.pid_ns,
                confined=self.confined,
                read_cap=self.read_cap,
            )
        for fd in (out_w, err_w, res_w, task_r):
            os.close(fd)
        return _Child(pid, out_r, err_r, res_r, task_w)

    def run(self, body: bytes) -> dict[str, Any]:
        timeout_s, cpu_limit_s, cap = frames.TASK_HEADER.unpack_from(body)
        task_frame = frames.frame_bytes(memoryview(body)[frames.TASK_HEADER.size :])
        proc, self._next = self._next, None
        if proc is None:
            proc = self._prefork()
        try:
            return self._supervise(proc, task_frame, timeout_s, cpu_limit_s, int(cap))
        except BaseException:
            self._kill_leftovers(proc.pid)
            raise
        finally:
            for fd in (proc.out_r, proc.err_r, proc.res_r):
                os.close(fd)
            if proc.task_w >= 0:
                os.close(proc.task_w)
            try:
                self.clean_task_dir()
            except Exception:
                self.broken = True
            if self._own_state is not None and _own_state() != self._own_state:
                # Something changed the worker's own limits or scheduling (possible only where
                # the worker shares the task's uid): never serve another task like that.
                self.broken = True

    def _supervise(
        self, proc: _Child, task_frame: bytes, timeout_s: float, cpu_limit_s: float, cap: int
    ) -> dict[str, Any]:
        pid, out_r, err_r, res_r = proc.pid, proc.out_r, proc.err_r, proc.res_r
        start = time.monotonic()
        deadline = start + timeout_s
        buffers = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        for fd in (out_r, err_r, res_r, pidfd):
            poller.register(fd, select.POLLIN)
        # Most tasks fit the pipe's buffer and go in one write; a larger one is written as the
        # child reads, without blocking us.
        os.set_blocking(proc.task_w, False)
        pending = memoryview(task_frame)
        pending = self._feed(proc, pending)
        if pending:
            poller.register(proc.task_w, select.POLLOUT)
        verdict: str | None = None
        exited = False
        try:
            while not exited:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    verdict = "timeout"
                    break
                for fd, _ in poller.poll(remaining * 1000.0 + 1.0):
                    if fd == pidfd:
                        exited = True
                    elif fd == proc.task_w:
                        pending = self._feed(proc, pending)
                        if not pending:
                            poller.unregister(fd)
                    else:
                        chunk = os.read(fd, _READ_CHUNK)
                        if not chunk:
                            poller.unregister(fd)
                            continue
                        buffers[fd] += chunk
                        if fd != res_r and len(buffers[fd]) > cap:
                            verdict = "output_limit"
                if verdict:
                    break
        finally:
            os.close(pidfd)
        if not exited:
            os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
        duration = time.monotonic() - start
        # Kill the rest now so that no writer keeps the pipes open, then take what is left.
        self._kill_leftovers(pid)
        for fd in (out_r, err_r, res_r):
            _drain(fd, buffers[fd], cap + 1 if fd != res_r else frames.MAX_FRAME)
        out = {
            "stdout": _text(buffers[out_r][:cap]),
            "stderr": _text(buffers[err_r][:cap]),
            "duration_s": duration,
            "peak_memory_mb": usage.ru_maxrss / 1024,
        }
        if verdict is None and (len(buffers[out_r]) > cap or len(buffers[err_r]) > cap):
            verdict = "output_limit"
        if verdict:
            out["status"] = verdict
            return out
        out.update(self._classify(status, usage, bytes(buffers[res_r]), cpu_limit_s))
        return out

    @staticmethod
    def _feed(proc: _Child, pending: memoryview) -> memoryview:
        """Write what the task pipe takes now; close it once the whole task is in."""
        try:
            pending = pending[os.write(proc.task_w, pending) :]
        except BlockingIOError:
            return pending
        except OSError:  # the child is gone; its exit says why
            pending = pending[:0]
        if not pending:
            os.close(proc.task_w)
            proc.task_w = -1
        return pending

    def _classify(
        self, status: int, usage: Any, result: bytes, cpu_limit_s: float
    ) -> dict[str, Any]:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            cpu = usage.ru_utime + usage.ru_stime
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= cpu_limit_s):
                return {"status": "timeout", "signal": sig}
            return {"status": "killed", "signal": sig, "error_message": signal.Signals(sig).name}
        code = os.WEXITSTATUS(status)
        bodies = frames.split_frames(result)
        if bodies is None or len(bodies) > 1:
            # Only the harness writes here, once, after the code finished: more is forgery.
            return {
                "status": "error",
                "error_type": "ResultChannelTampered",
                "error_message": "the code wrote to the result channel",
            }
        if code != 0 or not bodies:
            return {
                "status": "error",
                "error_type": "EarlyExit",
                "error_message": f"the process exited with code {code} before returning",
            }

        payload = json.loads(bodies[0])
        kind = payload.pop("kind")
        if kind == "ok":
            return {"status": "ok", "value_json": payload.get("value_json")}
        if kind == "sandbox_error":
            return {"status": "sandbox_error", **payload}
        return {"status": "memory" if kind == "memory" else "error", **payload}

    def _kill_leftovers(self, pid: int) -> None:
        if self.pid_ns:
            # As PID 1 of our own namespace, -1 reaches every other process in it and nothing else.
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                return  # nothing left (the task itself is reaped already)
        else:
            for target in _descendants():
                _kill(target)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _reap_all()

    def clean_task_dir(self) -> None:
        """Give the next task an empty directory, whatever this one left (raises if it cannot)."""
        st = os.lstat(self.task_dir)
        if st.st_mode & 0o777 != 0o700:  # the task may have locked its own directory
            os.chmod(self.task_dir, 0o700)
        if os.listdir(self.task_dir):
            _empty_dir(self.task_dir)
            if os.listdir(self.task_dir):
                raise OSError(f"cannot empty {self.task_dir}")


_CLEAN_BUDGET = 1_000_000
"""Most directory entries one cleanup visits before it gives up (the worker then exits)."""


def _empty_dir(top: str) -> None:
    """Remove everything below ``top`` without recursion and without following symlinks.

    Walks by changing into directories and back out through ``..`` (the task's processes are
    all dead, so nothing moves), so a tree of any depth needs neither a Python stack nor a path
    longer than one name. Directories are unlocked on the way down: a worker that shares the
    task's uid owns them; one that does not has CAP_FOWNER and CAP_DAC_OVERRIDE.
    """
    here = os.getcwd()
    os.chdir(top)
    names: list[str] = []  # the path from top to the current directory
    budget = _CLEAN_BUDGET
    try:
        while True:
            budget -= 1
            if budget < 0:
                raise OSError("task dir too large to clean")
            subdir = None
            with os.scandir(".") as entries:
                for entry in entries:
                    budget -= 1
                    if entry.is_dir(follow_symlinks=False):
                        subdir = entry.name
                        break
                    try:
                        os.unlink(entry.name)
                    except FileNotFoundError:
                        pass
            if subdir is not None:
                os.chmod(subdir, 0o700)
                os.chdir(subdir)
                names.append(subdir)
                continue
            if not names:
                return
            os.chdir("..")
            os.rmdir(names.pop())
    finally:
        os.chdir(here)


def _own_state() -> tuple[Any, ...]:
    limits = tuple(
        resource.getrlimit(r)
        for r in (
            resource.RLIMIT_AS,
            resource.RLIMIT_CPU,
            resource.RLIMIT_NOFILE,
            resource.RLIMIT_NPROC,
            resource.RLIMIT_FSIZE,
            resource.RLIMIT_DATA,
            resource.RLIMIT_STACK,
        )
    )
    return limits, os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0)


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _import_quietly(name: str) -> bool:
    """Import ``name``; False if that fails. fd 1 is the reply pipe, so whatever a module prints
    while it loads goes to /dev/null (as do its warnings: a task that needs the module sees the
    real error when it imports it itself)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(fd) for fd in (_OUT, 2)]
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (_OUT, 2):
        os.dup2(null, fd)
    os.close(null)
    try:
        importlib.import_module(name)
    except BaseException:  # a template must survive whatever an import raises
        return False
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for fd, copy in zip((_OUT, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
    return True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _descendants() -> list[int]:
    """Every descendant of this process (found through /proc's children lists)."""
    found: list[int] = []
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    kids = [int(x) for x in fh.read().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            # Some are still dying (SIGKILL is asynchronous); wait briefly for them.
            deadline = time.monotonic() + _REAP_GRACE_S
            while time.monotonic() < deadline:
                try:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    time.sleep(0.0005)
            return


def _drain(fd: int, buf: bytearray, cap: int) -> None:
    os.set_blocking(fd, False)
    while len(buf) < cap:
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except BlockingIOError:
            return
        if not chunk:
            return
        buf += chunk


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def main() -> None:
    config = frames.read_frame(_IN)
    if config["namespaces"]:
        report = confine.enter_namespaces((_IN, _OUT), int(config["tmp_size_mb"]))
    else:
        report = {"namespaces": [], "task_uid": False}
    # Until it confines itself the worker ends on the host's SIGTERM. Afterwards it has no
    # handler, which makes it immune to its tasks' signals; the host ends it by closing its
    # input or with SIGKILL, both of which still reach it.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    report["prelude_failed"] = [n for n in config["prelude"] if not _import_quietly(n)]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    worker = Worker(config, report)
    worker.confine()
    confine.apply_seccomp(report)  # after the worker's own set-up; children inherit it
    # Modules named by a task's code are imported only now, confined as the task is and with
    # only its rights (acting as its uid): whatever they do at import time a task could have
    # done. Failures are fine: candidates include names that are not modules.
    os.chdir(worker.task_dir)  # sys.path[0] is the cwd: let it be the empty task dir
    warm = config.get("warm", [])
    with child.acting_as_task_user(worker.confined and worker.drop_uid, worker.read_cap):
        for name in warm:
            _import_quietly(name)
    # What the template holds: the candidates that are modules, and the packages above each
    # (a failed `numpy.typo` still leaves numpy imported).
    held = {p for n in warm for p in _parents(n) if p in sys.modules}
    report["warm_loaded"] = sorted(held)
    worker.clean_task_dir()  # an import may have written caches under $HOME (the task dir)
    # Objects that exist now are never collected, so the GC in a child does not touch (and
    # copy) the template's pages.
    gc.collect()
    gc.freeze()
    frames.write_frame(_OUT, {"ready": True, "report": report})
    sys.stdout.flush()
    worker.serve()
