"""Namespace set-up for the long-lived worker, done once per worker (not per task).

Three processes: the launcher (host's child) forks a helper that unshares user, network, mount
and PID namespaces; the launcher, still in the parent user namespace, writes the helper's uid/gid
maps (as root it also maps a spare uid for tasks to drop to); the helper then forks the real
worker, which is PID 1 of the new PID namespace and mounts its own /proc and /tmp.
"""

from __future__ import annotations

import os
import signal
import sys

from . import syscalls

TASK_HOST_UID = 2_000_000_000
"""Host uid that the namespace's unprivileged uid 1 maps to (only when the launcher is root)."""

_ALL = syscalls.CLONE_NEWUSER | syscalls.CLONE_NEWNET | syscalls.CLONE_NEWNS | syscalls.CLONE_NEWPID


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _map_ids(pid: int, uid: int, gid: int) -> bool:
    """Write the helper's id maps; True when a separate task uid was mapped too."""
    if uid == 0:
        _write(f"/proc/{pid}/uid_map", f"0 0 1\n1 {TASK_HOST_UID} 1\n")
        _write(f"/proc/{pid}/gid_map", f"0 0 1\n1 {TASK_HOST_UID} 1\n")
        return True
    _write(f"/proc/{pid}/setgroups", "deny")
    _write(f"/proc/{pid}/uid_map", f"0 {uid} 1\n")
    _write(f"/proc/{pid}/gid_map", f"0 {gid} 1\n")
    return False


def enter_namespaces(keep_fds: tuple[int, ...], tmp_size_mb: int) -> dict[str, object]:
    """Return in the process that should serve (PID 1 of fresh namespaces when that works).

    The returned report says which mechanisms are active. The launcher and helper never return:
    they wait for their child and exit with its status, so the worker's death reaches the host.
    """
    uid, gid = os.getuid(), os.getgid()
    launcher = os.getpid()
    to_helper_r, to_helper_w = os.pipe()
    to_launcher_r, to_launcher_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(to_helper_w)
        os.close(to_launcher_r)
        flags = 0
        for candidate in (_ALL, _ALL & ~syscalls.CLONE_NEWUSER if uid == 0 else 0):
            if not candidate:
                continue
            try:
                syscalls.unshare(candidate)
                flags = candidate
                break
            except OSError:
                continue
        os.write(to_launcher_w, str(flags).encode().ljust(16))
        answer = os.read(to_helper_r, 16)
        os.close(to_helper_r)
        os.close(to_launcher_w)
        task_uid = answer.strip() == b"1"
        if not flags:
            return {"namespaces": [], "task_uid": False}
        if flags & syscalls.CLONE_NEWUSER:
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        # Dies with the launcher (armed after the id switch, which would clear it).
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != launcher:
            os._exit(1)
        server = os.fork()
        if server == 0:
            return _init_namespaces(flags, task_uid, tmp_size_mb)
        _wait_and_exit(server, keep_fds)
    os.close(to_helper_r)
    os.close(to_launcher_w)
    flags = int(os.read(to_launcher_r, 16).strip() or 0)
    task_uid = False
    if flags & syscalls.CLONE_NEWUSER:
        try:
            task_uid = _map_ids(helper, uid, gid)
        except OSError as exc:
            print(f"codeio sandbox: cannot map ids: {exc}", file=sys.stderr)
    os.write(to_helper_w, b"1" if task_uid else b"0")
    os.close(to_helper_w)
    os.close(to_launcher_r)
    _wait_and_exit(helper, keep_fds)
    raise AssertionError("unreachable")


def _wait_and_exit(pid: int, keep_fds: tuple[int, ...]) -> None:
    # Drop our copies of the host pipes so the host sees EOF as soon as the worker dies.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in keep_fds:
        os.dup2(null, fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _interpreter_paths() -> list[str]:
    """What a task must be able to read for lazy imports: the interpreter's prefixes and path."""
    candidates = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        *(entry for entry in sys.path if entry),
    }
    return sorted(p for p in candidates if os.path.isabs(p) and os.path.isdir(p))


def _first_closed(path: str) -> tuple[str, str] | None:
    """(directory, entry) where others may not search ``directory`` on the way to ``path``."""
    current = "/"
    for name in path.strip("/").split("/"):
        if not os.stat(current).st_mode & 0o001:
            return current, name
        current = os.path.join(current, name)
    return None


def expose_interpreter(paths: list[str]) -> list[str]:
    """Make ``paths`` readable by the task uid without any capability; the directories that
    were in the way are replaced by views holding only those paths (raises OSError if it cannot).

    A `python` under a private home (/root/.pyenv, say) sits below a directory that only its
    owner may search. Over each such directory this mounts an empty tmpfs and bind-mounts back
    just the entries that lead to the interpreter, so tasks keep importing lazily and everything
    else there (keys, credentials) disappears from their view. Only this mount namespace sees it.
    """
    done: list[str] = []
    for _ in range(8):  # each round opens the next closed level
        blocked: dict[str, set[str]] = {}
        for path in paths:
            closed = _first_closed(path)
            if closed is not None:
                blocked.setdefault(closed[0], set()).add(closed[1])
        if not blocked:
            unreadable = [p for p in paths if os.stat(p).st_mode & 0o005 != 0o005]
            if unreadable:
                raise OSError(f"not readable by others: {unreadable}")
            return done
        for directory, names in sorted(blocked.items()):
            keep = {name: os.open(os.path.join(directory, name), os.O_PATH) for name in names}
            try:
                syscalls.mount(
                    "tmpfs",
                    directory,
                    "tmpfs",
                    syscalls.MS_NOSUID | syscalls.MS_NODEV,
                    "mode=0755,size=64k",
                )
                for name, fd in keep.items():
                    target = os.path.join(directory, name)
                    if os.path.isdir(f"/proc/self/fd/{fd}"):
                        os.mkdir(target, 0o755)
                    else:
                        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
                    syscalls.mount(
                        f"/proc/self/fd/{fd}", target, None, syscalls.MS_BIND | syscalls.MS_REC
                    )
            finally:
                for fd in keep.values():
                    os.close(fd)
            done.append(directory)
    raise OSError("too many closed directories on the way to the interpreter")


def _init_namespaces(flags: int, task_uid: bool, tmp_size_mb: int) -> dict[str, object]:
    names = []
    if flags & syscalls.CLONE_NEWUSER:
        names.append("user")
    if flags & syscalls.CLONE_NEWNET:
        names.append("net")
    if flags & syscalls.CLONE_NEWPID:
        names.append("pid")
    report: dict[str, object] = {"namespaces": names, "task_uid": task_uid}
    if flags & syscalls.CLONE_NEWNS:
        try:
            syscalls.mount("none", "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
            flags_proc = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
            syscalls.mount("proc", "/proc", "proc", flags_proc)
            names.append("proc")
        except OSError as exc:
            report["proc_error"] = str(exc)
        try:
            syscalls.mount(
                "tmpfs",
                "/tmp",
                "tmpfs",
                syscalls.MS_NOSUID | syscalls.MS_NODEV,
                f"mode=1777,size={tmp_size_mb}m",
            )
            names.append("tmp")
        except OSError as exc:
            report["tmp_error"] = str(exc)
        if task_uid:
            try:
                report["exposed"] = expose_interpreter(_interpreter_paths())
            except OSError as exc:
                report["expose_error"] = str(exc)
    return report
