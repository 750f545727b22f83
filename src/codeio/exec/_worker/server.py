"""The worker: a zygote that only forks and supervises; it never holds any task's data.

Started as ``python -s -c BOOTSTRAP`` with a scrubbed environment, fds 0 and 1 being its end of
the host's control socket (``frames``: tagged ``SOCK_SEQPACKET`` messages). The first message is
the configuration. The worker imports the prelude once, confines itself and then, per task:

- forks a child ahead of time (the child sets itself up and blocks reading its task pipe) and
  passes the host's ends of the child's pipes (task, stdout, stderr, result) to the host over the
  control socket (SCM_RIGHTS), keeping none of them;
- waits for the child's exit or the host's ``KILL`` (the host keeps the deadline), never blocking
  on anything the task controls;
- kills every process the task left, reaps them within a budget, empties the task dir within a
  budget, forks the next child and answers ``DONE`` with the exit status, times and peak memory
  only (and the next child's pipes).

The host writes the task straight into the child's pipe and reads its output and result itself,
so the code, kwargs, output, return value or traceback of one task never pass through the
process the next task is forked from.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import importlib.util
import json
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import time
from typing import Any

from . import child, confine, frames, landlock, syscalls

_IN, _OUT = 0, 1
_CTL_FD_MIN = 10
_REAP_BUDGET_S = 1.0
"""How long the worker tries to reap a task's processes it killed before it gives up on itself
(a process held in the kernel, or a zombie held by a tracer that will not die)."""
_CLEAN_BUDGET_S = 2.0
"""How long emptying a task dir may take; a larger tree retires the worker instead (its private
/tmp goes with its mount namespace)."""
_ERROR_CHARS = 300


class _Child:
    """A pre-forked child: its pid and a pidfd to watch it (the worker keeps none of its pipes)."""

    __slots__ = ("pid", "pidfd")

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid, self.pidfd = pid, pidfd


class Worker:
    def __init__(self, config: dict[str, Any], report: dict[str, Any], ctl: socket.socket) -> None:
        self.ctl = ctl
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

    # -- the loop ------------------------------------------------------------------------------
    def serve(self) -> None:
        proc, fds = self._prefork()
        self._send(frames.CHILD_MSG.pack(frames.CHILD, proc.pid), fds)
        while True:
            # Each task's DONE carries the next child, forked once the task's processes are
            # gone and its dir is empty: one message (and one wake-up of the host) per task.
            next_proc = self.run(proc)
            if next_proc is None:
                os._exit(3)  # the host has the DONE (flagged RETIRE) and starts a fresh worker
            proc = next_proc

    def _recv(self) -> bytes:
        try:
            return self.ctl.recv(frames.MAX_CONTROL)
        except OSError:
            return b""

    def _send(self, msg: bytes, fds: list[int]) -> None:
        try:
            if fds:
                socket.send_fds(self.ctl, [msg], fds)
            else:
                self.ctl.send(msg)
        except OSError:
            self._abandon()  # the host is gone
        finally:
            for fd in fds:
                os.close(fd)

    def _prefork(self) -> tuple[_Child, list[int]]:
        """A fresh child of the untouched template, set up and blocked reading its task, and
        the host's ends of its pipes (sent, then closed: the worker keeps only a pidfd)."""
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
        host_fds = [task_w, out_r, err_r, res_r]
        for fd in host_fds:  # the host never blocks on them
            os.set_blocking(fd, False)
        return _Child(pid, os.pidfd_open(pid)), host_fds

    def run(self, proc: _Child) -> _Child | None:
        """Supervise one child until it ends (or the host has it killed), clean up after it and
        answer DONE with the next child; None when the worker retires instead."""
        status, usage, host_kill, since = -1, None, False, time.monotonic()
        try:
            host_kill = self._watch(proc)
            since = time.monotonic()
            if host_kill:
                _kill(proc.pid)
            # Everything the task started dies before anything is reaped: a process that traces
            # the task's own would otherwise keep it from being reaped.
            self._kill_all(proc.pid)
            status, usage = self._reap(proc)
            if status < 0 or not self._reap_rest():
                self.broken = True
        except Exception:
            self.broken = True
        finally:
            os.close(proc.pidfd)
        try:
            self.clean_task_dir()
        except Exception:
            self.broken = True
        if self._own_state is not None and _own_state() != self._own_state:
            # Something changed the worker's own limits or scheduling (possible only where
            # the worker shares the task's uid): never serve another task like that.
            self.broken = True
        next_proc: _Child | None = None
        fds: list[int] = []
        if not self.broken:
            try:
                next_proc, fds = self._prefork()
            except OSError:
                self.broken = True
        flags = (frames.DONE_HOST_KILL if host_kill else 0) | (
            frames.DONE_RETIRE if self.broken else 0
        )
        cpu = usage.ru_utime + usage.ru_stime if usage is not None else 0.0
        rss = usage.ru_maxrss if usage is not None else 0
        after = time.monotonic() - since
        pid = next_proc.pid if next_proc is not None else 0
        self._send(frames.DONE_MSG.pack(frames.DONE, status, flags, after, cpu, rss, pid), fds)
        return next_proc

    def _watch(self, proc: _Child) -> bool:
        """Wait for the child's exit or the host's KILL for it (True). The host keeps the clock:
        a task's deadline is its KILL. A KILL for an earlier child is stale and ignored."""
        poller = select.poll()
        poller.register(proc.pidfd, select.POLLIN)
        poller.register(self.ctl, select.POLLIN)
        ctl_fd = self.ctl.fileno()
        while True:
            for fd, _ in poller.poll():
                if fd != ctl_fd:
                    return False
                msg = self._recv()
                if not msg:
                    self._abandon()
                if len(msg) == frames.KILL_MSG.size and msg[:1] == frames.KILL:
                    if frames.KILL_MSG.unpack(msg)[1] == proc.pid:
                        return True

    def _abandon(self) -> None:
        """The host is gone: take every task process along and end."""
        if not self.pid_ns:
            for target in _descendants():
                _kill(target)
        os._exit(0)  # as PID 1 this ends the whole namespace

    def _kill_all(self, pid: int) -> None:
        if self.pid_ns:
            # As PID 1 of our own namespace, -1 reaches every other process in it and nothing else.
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        for target in _descendants():
            _kill(target)
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _reap(self, proc: _Child) -> tuple[int, Any]:
        """The child's wait status and usage, or (-1, None) if it cannot be reaped in time."""
        end = time.monotonic() + _REAP_BUDGET_S
        while True:
            try:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            except ChildProcessError:
                return -1, None
            if pid:
                return status, usage
            if time.monotonic() > end:
                return -1, None
            # Not dead yet (SIGKILL is asynchronous), or a zombie its tracer holds: keep killing
            # what is left, which includes the tracer, and wait for the pidfd.
            self._kill_all(proc.pid)
            select.select([proc.pidfd], [], [], 0.005)

    def _reap_rest(self) -> bool:
        """Reap every other process the task left; False if some outlive the budget."""
        end = time.monotonic() + _REAP_BUDGET_S
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid:
                continue
            if time.monotonic() > end:
                return False
            time.sleep(0.0005)

    def clean_task_dir(self) -> None:
        """Give the next task an empty directory, whatever this one left (raises if it cannot)."""
        st = os.lstat(self.task_dir)
        if st.st_mode & 0o777 != 0o700:  # the task may have locked its own directory
            os.chmod(self.task_dir, 0o700)
        if os.listdir(self.task_dir):
            _empty_dir(self.task_dir, time.monotonic() + _CLEAN_BUDGET_S)
            if os.listdir(self.task_dir):
                raise OSError(f"cannot empty {self.task_dir}")


def _empty_dir(top: str, deadline: float) -> None:
    """Remove everything below ``top`` without recursion and without following symlinks; raise
    OSError once ``deadline`` passes (the worker then retires rather than spend more).

    Walks by changing into directories and back out through ``..`` (the task's processes are
    all dead, so nothing moves), so a tree of any depth needs neither a Python stack nor a path
    longer than one name. Directories are unlocked on the way down: a worker that shares the
    task's uid owns them; one that does not has CAP_FOWNER and CAP_DAC_OVERRIDE.
    """
    here = os.getcwd()
    os.chdir(top)
    names: list[str] = []  # the path from top to the current directory
    steps = 0
    try:
        while True:
            subdir = None
            with os.scandir(".") as entries:
                for entry in entries:
                    steps += 1
                    if steps & 255 == 0 and time.monotonic() > deadline:
                        raise OSError("task dir too large to clean in time")
                    if entry.is_dir(follow_symlinks=False):
                        subdir = entry.name
                        break
                    try:
                        os.unlink(entry.name)
                    except FileNotFoundError:
                        pass
            steps += 1
            if steps & 255 == 0 and time.monotonic() > deadline:
                raise OSError("task dir too large to clean in time")
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


def _error_line(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:
        text = type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def _import_quietly(name: str) -> str | None:
    """Import ``name``; the error as one line if that fails. Whatever a module prints while it
    loads goes to /dev/null (fd 1 already is; fd 2 is the host's stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        importlib.import_module(name)
    except BaseException as exc:  # a template must survive whatever an import raises
        return _error_line(exc)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.dup2(saved, 2)
        os.close(saved)
    return None


def _findable(name: str) -> str | None:
    """None when ``name`` can be found on this interpreter's path (without importing it)."""
    try:
        if importlib.util.find_spec(name) is not None:
            return None
    except BaseException as exc:
        return _error_line(exc)
    return f"ModuleNotFoundError: No module named {name!r}"


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


def _die_with_parent(expected_parent: int | None) -> None:
    """SIGKILL when the parent dies; and end now if it is already gone (re-parented)."""
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(0)


def _host_gone(ctl: socket.socket | int) -> bool:
    """Whether the host already closed its end (checked where a parent-death signal could have
    been missed: before it was armed, or while a credential change had cleared it)."""
    poller = select.poll()
    poller.register(ctl, select.POLLIN | select.POLLHUP)
    return any(ev & (select.POLLHUP | select.POLLERR) for _, ev in poller.poll(0))


def main() -> None:
    msg = os.read(_IN, frames.MAX_CONTROL)
    if msg[:1] != frames.CONFIG:
        os._exit(0)
    config = json.loads(msg[1:])
    # The launcher dies with the host process that started it (PDEATHSIG is per thread: the
    # host starts workers from one long-lived thread); the helper and the worker each arm it
    # again for their own parents.
    _die_with_parent(config.get("host_pid"))
    if config["namespaces"]:
        try:
            report = confine.enter_namespaces((_IN, _OUT), int(config["tmp_size_mb"]))
        except BaseException:
            # A sandbox closed while this worker was starting (a template prepared in the
            # background) removed its directory and hangs up: nothing to report, to no one.
            if not os.path.isdir(config["task_root"]) or _host_gone(_IN):
                os._exit(0)
            raise
    else:
        report = {"namespaces": [], "task_uid": False}
    # The control socket moves out of the way; fds 0 and 1 become /dev/null, so whatever a
    # module prints while it is imported goes nowhere.
    ctl = socket.socket(fileno=fcntl.fcntl(_IN, fcntl.F_DUPFD_CLOEXEC, _CTL_FD_MIN))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, _IN)
    os.dup2(null, _OUT)
    os.close(null)
    _die_with_parent(None)
    if _host_gone(ctl):
        os._exit(0)
    # Until it confines itself the worker ends on the host's SIGTERM. Afterwards it has no
    # handler, which makes it immune to its tasks' signals; the host ends it by closing its
    # socket or with SIGKILL, both of which still reach it.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    errors = {n: e for n in config["prelude"] if (e := _import_quietly(n)) is not None}
    report["prelude_errors"] = errors
    report["prelude_failed"] = sorted(errors)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    worker = Worker(config, report, ctl)
    worker.confine()
    confine.apply_seccomp(report)  # after the worker's own set-up; children inherit it
    # Modules named by a task's code are imported only now, confined as the task is and with
    # only its rights (acting as its uid): whatever they do at import time a task could have
    # done. Failures are fine: candidates include names that are not modules.
    os.chdir(worker.task_dir)  # sys.path[0] is the cwd: let it be the empty task dir
    warm = config.get("warm", [])
    with child.acting_as_task_user(worker.confined and worker.drop_uid, worker.read_cap):
        # What the host can find must be findable by a task too (a venv under a hidden path).
        report["missing"] = {n: e for n in config.get("expect", []) if (e := _findable(n))}
        report["warm_errors"] = {n: e for n in warm if (e := _import_quietly(n)) is not None}
    # What the template holds: the candidates that are modules, and the packages above each
    # (a failed `numpy.typo` still leaves numpy imported).
    held = {p for n in warm for p in _parents(n) if p in sys.modules}
    report["warm_loaded"] = sorted(held)
    # Everything of those libraries that it holds (their imports load many submodules), and of
    # the other warm libraries they imported (nltk loads scipy, sklearn and pandas): a task that
    # wants only some of these can fork from it rather than start a template of its own.
    roots = {n.split(".")[0] for n in warm} | set(config.get("expect", []))
    report["warm_modules"] = sorted(n for n in list(sys.modules) if n.split(".")[0] in roots)
    worker.clean_task_dir()  # an import may have written caches under $HOME (the task dir)
    # Acting as the task user changed credentials, which clears the parent-death signal.
    _die_with_parent(None)
    if _host_gone(ctl):
        os._exit(0)
    # Objects that exist now are never collected, so the GC in a child does not touch (and
    # copy) the template's pages.
    gc.collect()
    gc.freeze()
    ready = frames.READY + json.dumps({"ready": True, "report": report}).encode()
    try:
        ctl.send(ready)
    except OSError:
        os._exit(0)
    worker.serve()
