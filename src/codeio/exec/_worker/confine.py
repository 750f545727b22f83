"""Namespace set-up for the long-lived worker, done once per worker (not per task).

Three processes: the launcher (host's child) forks a helper that unshares user, network, mount,
PID, IPC, UTS and cgroup namespaces; the launcher, still in the parent user namespace, writes the
helper's uid/gid maps (as root it also maps a spare uid for tasks to drop to); the helper then
forks the real worker, which is PID 1 of the new PID namespace, joins a fresh session keyring
and pivots into the minimal read-only root of ``rootfs`` (or, where that cannot be built, mounts
its own /proc and /tmp over the host's tree).
"""

from __future__ import annotations

import os
import signal
import sys

from . import rootfs, seccomp, syscalls

TASK_HOST_UID = 2_000_000_000
"""Host uid that the namespace's unprivileged uid 1 maps to (only when the launcher is root)."""

_ALL = (
    syscalls.CLONE_NEWUSER
    | syscalls.CLONE_NEWNET
    | syscalls.CLONE_NEWNS
    | syscalls.CLONE_NEWPID
    | syscalls.CLONE_NEWIPC
    | syscalls.CLONE_NEWUTS
    | syscalls.CLONE_NEWCGROUP
)
_BASIC = (
    syscalls.CLONE_NEWUSER | syscalls.CLONE_NEWNET | syscalls.CLONE_NEWNS | syscalls.CLONE_NEWPID
)
"""Where a kernel or policy refuses the extra namespaces, the ones containment needs most."""
_NAMES = (
    (syscalls.CLONE_NEWUSER, "user"),
    (syscalls.CLONE_NEWNET, "net"),
    (syscalls.CLONE_NEWPID, "pid"),
    (syscalls.CLONE_NEWIPC, "ipc"),
    (syscalls.CLONE_NEWUTS, "uts"),
    (syscalls.CLONE_NEWCGROUP, "cgroup"),
)
# Inside a fresh IPC namespace its root may shrink these: a task that gets past seccomp still
# cannot pin memory in System V or POSIX message-queue objects.
_IPC_SYSCTLS = {
    "kernel/shmmax": "0",
    "kernel/shmall": "0",
    "kernel/shmmni": "0",
    "kernel/msgmni": "0",
    "kernel/sem": "0 0 0 0",
    "fs/mqueue/queues_max": "0",
}


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
        candidates = (_ALL, _BASIC, *((_ALL & ~syscalls.CLONE_NEWUSER,) if uid == 0 else ()))
        for candidate in candidates:
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
    names = [name for flag, name in _NAMES if flags & flag]
    report: dict[str, object] = {"namespaces": names, "task_uid": task_uid}
    try:
        syscalls.join_new_session_keyring()
        report["keyring"] = "fresh session keyring"
    except OSError as exc:
        report["keyring_error"] = str(exc)
    if flags & syscalls.CLONE_NEWUTS:
        try:
            syscalls.sethostname("codeio-sandbox")
        except OSError as exc:
            report["uts_error"] = str(exc)
    if not flags & syscalls.CLONE_NEWNS:
        return report
    try:
        syscalls.mount("none", "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    except OSError as exc:
        report["mount_error"] = str(exc)
        return report
    # The worker starts in its (empty) host task root: the new root is mounted over it.
    mountpoint = os.getcwd()
    try:
        report["root"] = rootfs.build(mountpoint, tmp_size_mb, 1 if task_uid else 0)
        names.extend(("proc", "tmp"))
        if not report["root"]["needs_read_cap"]:  # type: ignore[index]
            report["exposed"] = []
    except OSError as exc:
        rootfs.undo(mountpoint)
        report["root_error"] = str(exc)
        _host_tree_fallback(report, names, task_uid, tmp_size_mb)
    if flags & syscalls.CLONE_NEWIPC:
        report["ipc_limits"] = _limit_ipc()
    return report


def _limit_ipc() -> dict[str, str]:
    done = {}
    for key, value in _IPC_SYSCTLS.items():
        try:
            _write(f"/proc/sys/{key}", value)
            done[key] = value
        except OSError:
            pass
    return done


def _host_tree_fallback(
    report: dict[str, object], names: list[str], task_uid: bool, tmp_size_mb: int
) -> None:
    """The host's tree with a fresh /proc and (unless the interpreter lives there) a private
    /tmp: reads are then confined by file permissions only."""
    try:
        flags_proc = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
        syscalls.mount("proc", "/proc", "proc", flags_proc)
        names.append("proc")
    except OSError as exc:
        report["proc_error"] = str(exc)
    paths = _interpreter_paths()
    if any(
        p == "/tmp" or p.startswith("/tmp/") for p in (*paths, os.path.realpath(sys.executable))
    ):
        report["tmp_error"] = "the interpreter lives under /tmp: the host's /tmp stays visible"
    else:
        try:
            syscalls.mount(
                "tmpfs",
                "/tmp",
                "tmpfs",
                syscalls.MS_NOSUID | syscalls.MS_NODEV,
                f"mode={rootfs.TMP_MODE},size={tmp_size_mb}m,nr_inodes={rootfs.TMP_INODES}",
            )
            names.append("tmp")
        except OSError as exc:
            report["tmp_error"] = str(exc)
    if task_uid:
        try:
            report["exposed"] = expose_interpreter(paths)
        except OSError as exc:
            report["expose_error"] = str(exc)


def apply_seccomp(report: dict[str, object]) -> None:
    """Install the seccomp filter on the worker once its own set-up is done; every child it
    forks inherits it. The worker still forks, switches uids, kills, waits and passes fds."""
    try:
        report["seccomp"] = seccomp.install()
    except OSError as exc:
        report["seccomp_error"] = str(exc)
