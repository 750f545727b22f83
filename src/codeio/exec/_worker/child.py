"""What runs in the forked child: confine itself, run the code, report on the result pipe.

The result frame is written only after the untrusted code has finished, on a pipe that is not
stdout/stderr; the worker additionally requires exactly one frame and a clean exit (see
docs/SANDBOX.md for what that does and does not stop).
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import fcntl
import io
import json
import linecache
import os
import random
import resource
import signal
import sys
import traceback
import types
from collections.abc import Iterator
from typing import Any

from . import frames, landlock, syscalls

TRACEBACK_LINES = 12
TRACEBACK_FRAMES = 8
TRACEBACK_CHARS = 4000
MESSAGE_CHARS = 2000
TASK_FILE = "main.py"
_MAX_FD = 1 << 20
_TASK_FD = 4
TASK_NAME = "__codeio_task__"
NAMESPACE_UID = 1
"""Unprivileged uid inside the worker's user namespace (mapped to a spare host uid)."""
_READ_ONLY_CAPS = syscalls.CapabilitySet([syscalls.CAP_DAC_READ_SEARCH])


def _output_stream(fd: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
    )


# Built once in the worker (never used there): each child points them at its own pipes and
# /dev/null by dup2 onto fds 0-2, and does not pay for building them on pages it would copy.
_OUTPUT_STREAMS = (_output_stream(1), _output_stream(2))
_INPUT_STREAM = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")


def _set_limit(which: int, value: int) -> None:
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        # A hard limit below ours cannot be raised; keep the lower one.
        soft, hard = resource.getrlimit(which)
        resource.setrlimit(which, (min(value, hard), hard))


def apply_limits(limits: dict[str, Any], count_processes: bool) -> None:
    cpu = int(limits["cpu_s"]) + 1 if limits.get("cpu_s") else int(limits["timeout_s"]) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    _set_limit(resource.RLIMIT_AS, int(limits["memory_mb"]) << 20)
    _set_limit(resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) << 20)
    _set_limit(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    _set_limit(resource.RLIMIT_CORE, 0)
    if count_processes:
        _set_limit(resource.RLIMIT_NPROC, int(limits["processes"]))


def drop_privileges() -> None:
    """Become the namespace's unprivileged uid, keeping only the right to read files."""
    os.setgroups([])
    os.setresgid(NAMESPACE_UID, NAMESPACE_UID, NAMESPACE_UID)
    syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
    os.setresuid(NAMESPACE_UID, NAMESPACE_UID, NAMESPACE_UID)
    # Reading stays possible so lazy imports from a root-only interpreter prefix work; the
    # capability only covers files whose owner is mapped into the namespace (root's).
    _READ_ONLY_CAPS.apply()


# What a worker that confined itself keeps: enough to switch each child to the task uid, kill
# that uid's processes and empty directories the task locked. The task never holds these.
_WORKER_CAP_LIST = [
    syscalls.CAP_DAC_OVERRIDE,
    syscalls.CAP_DAC_READ_SEARCH,
    syscalls.CAP_FOWNER,
    syscalls.CAP_KILL,
    syscalls.CAP_SETGID,
    syscalls.CAP_SETUID,
]
_WORKER_CAPS = syscalls.CapabilitySet(_WORKER_CAP_LIST)
# While the worker acts as the task user: a task's rights in effect, the worker's kept.
_AS_TASK_CAPS = syscalls.CapabilitySet([syscalls.CAP_DAC_READ_SEARCH], _WORKER_CAP_LIST)


def confine(ruleset_fd: int | None, drop_uid: bool) -> None:
    """Everything a task must run under that does not depend on the task, in each child.

    Used when the worker cannot confine itself instead (no PID namespace): see
    ``confine_worker``. Nothing here can be undone by the confined process.
    """
    if drop_uid:
        drop_privileges()
    else:
        _READ_ONLY_CAPS.apply()
    # Same-uid processes may not ptrace or read the memory of a non-dumpable one.
    syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)
    if ruleset_fd is not None:
        landlock.restrict(ruleset_fd)


def confine_worker(ruleset_fd: int | None, drop_uid: bool, read_cap: bool) -> None:
    """Once, in a worker that is PID 1 of its namespaces; every child inherits the result.

    Landlock, no-new-privs and non-dumpable apply to the worker itself. With a task uid the
    worker stays the namespace's root but keeps only ``_WORKER_CAPS``, and each child switches
    to the task uid (``become_task_user``): a task then shares no uid with the worker, so it can
    neither signal, trace, re-limit (prlimit) nor re-prioritise it. ``read_cap``: tasks need
    CAP_DAC_READ_SEARCH to reach the interpreter (``confine.expose_interpreter`` failed).
    """
    if drop_uid:
        os.setgroups([])
        if read_cap:
            # The child's switch to the task uid then keeps the permitted set (it clears the
            # effective one), and the child narrows both to reading only. Otherwise the switch
            # clears every capability, with no call needed.
            syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
        _WORKER_CAPS.apply()
    else:
        _READ_ONLY_CAPS.apply()
    syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)
    if ruleset_fd is not None:
        landlock.restrict(ruleset_fd)


@contextlib.contextmanager
def acting_as_task_user(drop_uid: bool, read_cap: bool) -> Iterator[None]:
    """In a self-confined worker: run the body with exactly a task's rights (its uid as the
    effective one and a task's capabilities in effect), then take the worker's back."""
    if not drop_uid:
        yield
        return
    os.setegid(NAMESPACE_UID)
    os.seteuid(NAMESPACE_UID)  # clears the effective capabilities, keeps the permitted ones
    if read_cap:
        _AS_TASK_CAPS.apply()
    try:
        yield
    finally:
        os.seteuid(0)  # the kernel restores the effective set from the permitted one
        os.setegid(0)


def become_task_user(read_cap: bool) -> None:
    """In a child of a self-confined worker: the task uid, with no capability but, where the
    interpreter is not reachable otherwise, reading."""
    os.setresgid(NAMESPACE_UID, NAMESPACE_UID, NAMESPACE_UID)
    os.setresuid(NAMESPACE_UID, NAMESPACE_UID, NAMESPACE_UID)
    if read_cap:
        _READ_ONLY_CAPS.apply()


def _reseed() -> None:
    random.seed()
    # Only when already loaded: a first import in the child seeds itself from entropy anyway,
    # and touching numpy.random here would import it (tens of ms) on every task.
    np_random = sys.modules.get("numpy.random")
    if np_random is not None:
        np_random.seed(int.from_bytes(os.urandom(4), "little"))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TYPE_NAME = type.__dict__["__name__"]
"""The class's own name, read from the type itself rather than through its metaclass."""


def _error_payload(exc: BaseException, code: str | None = None) -> dict[str, Any]:
    """Type, message and the tail of the traceback, each bounded, in time too: only the last
    ``TRACEBACK_FRAMES`` frames are looked at, however deep the stack was."""
    # Neither looks at the exception or its class through attributes the code may have hooked
    # (a `__class__` property, a metaclass `__name__`): that would raise again, here.
    kind = "memory" if issubclass(type(exc), MemoryError) else "error"
    error_type = _clip(_TYPE_NAME.__get__(type(exc)), 200)
    try:
        message = _clip(str(exc), MESSAGE_CHARS)
    except BaseException:  # a hostile __str__ must not take the harness down
        message = "<unprintable>"
    try:
        text = _traceback_tail(exc, error_type, message, code)
    except BaseException:  # out of memory again, say: the type and message still go back
        text = ""
    return {"kind": kind, "error_type": error_type, "error_message": message, "traceback": text}


def _traceback_tail(exc: BaseException, error_type: str, message: str, code: str | None) -> str:
    # Skip the harness's own frame so the tail shows only the task's code.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    tail: collections.deque[types.TracebackType] = collections.deque(maxlen=TRACEBACK_FRAMES)
    depth = 0
    while tb is not None:  # a deep recursion has a million of these: walk, format only a few
        tail.append(tb)
        tb = tb.tb_next
        depth += 1
    if code is not None and TASK_FILE not in linecache.cache:
        # The code has no file; give the traceback its lines.
        linecache.cache[TASK_FILE] = (len(code), None, code.splitlines(True), TASK_FILE)
    summary = traceback.StackSummary.extract(
        ((t.tb_frame, t.tb_lineno) for t in tail), lookup_lines=True
    )
    lines = ["Traceback (most recent call last):"]
    if depth > len(tail):
        lines.append(f"  ... {depth - len(tail)} earlier frames not shown")
    for block in summary.format():
        lines.extend(_clip(line, 300) for line in block.rstrip("\n").split("\n"))
    lines.append(_clip(f"{error_type}: {message}" if message else error_type, 500))
    return _clip("\n".join(lines[-TRACEBACK_LINES:]), TRACEBACK_CHARS)


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    code, entry = task["code"], task.get("entry")
    sys.argv = ["main.py"]
    _reseed()
    # A real, registered module: dataclasses, pickle and typing look the code's module up in
    # sys.modules, and this child exits after the task, so replacing __main__ is harmless.
    module = types.ModuleType("__main__" if entry is None else TASK_NAME)
    module.__file__ = TASK_FILE
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    namespace: dict[str, Any] = module.__dict__
    try:
        compiled = compile(code, TASK_FILE, "exec")
        exec(compiled, namespace)
        if entry is None:
            return {"kind": "ok", "value": None}
        func = namespace.get(entry)
        if not callable(func):
            return {
                "kind": "error",
                "error_type": "EntryNotFound",
                "error_message": f"no callable named {entry!r}",
                "traceback": "",
            }
        value = func(**(task.get("kwargs") or {}))
    except SystemExit as exc:
        if entry is None and _clean_exit(exc.code):
            return {"kind": "ok", "value": None}
        return _error_payload(exc, code)
    except BaseException as exc:
        namespace.clear()  # frees memory first in case this is a MemoryError
        return _error_payload(exc, code)
    try:
        encoded = json.dumps(value, allow_nan=True)
    except BaseException as exc:  # unserialisable, too deep, too many digits, out of memory
        return {
            "kind": "error",
            "error_type": "ResultNotSerializable",
            "error_message": _clip(f"{type(exc).__name__}: {exc}", MESSAGE_CHARS),
            "traceback": "",
        }
    if len(encoded) > task["limits"]["result_bytes"]:
        # The host enforces this too (the code may write the channel itself); saying it here
        # spares sending what would be refused.
        return _too_large(len(encoded), task["limits"]["result_bytes"])
    return {"kind": "ok", "value_json": encoded}


def _clean_exit(status: object) -> bool:
    """Whether ``sys.exit(status)`` means success; ``status`` is the code's own object, whose
    comparison may raise anything (``sys.exit(numpy_array)``), which is then a failure."""
    try:
        return status in (None, 0)
    except BaseException:
        return False


def _too_large(size: int, cap: int) -> dict[str, Any]:
    return {
        "kind": "error",
        "error_type": "ResultTooLarge",
        "error_message": f"the return value is {size} bytes of JSON, over the cap of {cap}",
        "traceback": "",
    }


def child_main(
    *,
    task_fd: int,
    out_fd: int,
    err_fd: int,
    result_fd: int,
    task_dir: str,
    ruleset_fd: int | None,
    drop_uid: bool,
    count_processes: bool,
    own_group: bool,
    confined: bool,
    read_cap: bool,
) -> None:
    """Never returns: ends the process with os._exit.

    Runs right after the fork, before the task exists: everything that does not depend on the
    task (fds, uid, Landlock, stdio) is done first; then the task is read from ``task_fd``, its
    limits applied (only ever lowered, which needs no privilege) and the code run. ``confined``:
    the worker already confined itself (see ``confine_worker``) and this child inherited that.
    """
    harness_pid = os.getpid()
    try:
        if own_group:
            os.setpgid(0, 0)
        # Out of the way of the fds rearranged below; it ends up as fd 4 until the task is read.
        task_hi = fcntl.fcntl(task_fd, fcntl.F_DUPFD, 5)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        # The harness owns fd 3; everything else the worker had open is closed.
        os.dup2(result_fd, 3)
        os.dup2(task_hi, _TASK_FD)
        if ruleset_fd is None:
            os.closerange(_TASK_FD + 1, _MAX_FD)
        else:
            os.closerange(_TASK_FD + 1, ruleset_fd)
            os.closerange(ruleset_fd + 1, _MAX_FD)
        os.chdir(task_dir)
        if not confined:
            confine(ruleset_fd, drop_uid)
        elif drop_uid:
            become_task_user(read_cap)
        if ruleset_fd is not None:
            os.close(ruleset_fd)
        # The worker ignores SIGINT (see server.main); the code gets Python's usual behaviour.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.stdin = _INPUT_STREAM
        sys.stdout, sys.stderr = _OUTPUT_STREAMS
    except BaseException as exc:  # the engine failed, not the code
        _report(3, {"kind": "sandbox_error", "error_message": f"child setup: {exc!r}"})
        os._exit(0)
    try:
        body = frames.read_body(_TASK_FD)
    except BaseException:
        body = None
    if body is None:  # the worker is gone (or gave up on this child): nothing to run
        os._exit(0)
    try:
        os.close(_TASK_FD)
        task = json.loads(body)
        del body
        apply_limits(task["limits"], count_processes)
        frames.write_all(3, frames.STARTED)
    except BaseException as exc:
        _report(3, {"kind": "sandbox_error", "error_message": f"child setup: {exc!r}"})
        os._exit(0)
    try:
        payload = run_task(task)
    except BaseException as exc:
        # The code's objects raised while the harness handled its outcome (a patched
        # json.dumps, say). Escaping here would unwind through the frames of the worker this
        # process was forked from, and the task would look killed or exited early.
        payload = _error_payload(exc)
    if os.getpid() != harness_pid:
        # A process the code forked that fell through to here: only the task itself reports.
        os._exit(0)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    _report(3, payload)
    os._exit(0)


def _report(fd: int, payload: dict[str, Any]) -> None:
    try:
        frames.write_frame(fd, payload)
    except BaseException:
        os._exit(70)
