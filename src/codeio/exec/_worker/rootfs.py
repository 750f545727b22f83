"""A minimal read-only root for tasks, built once per worker in its own mount namespace.

The worker mounts a small tmpfs, puts into it read-only bind mounts of only what the
interpreter needs (its prefixes, every ``sys.path`` entry, the shared-library directories, a
few device nodes), a synthetic ``/etc``, a fresh ``/proc`` and a private size-capped tmpfs on
``/tmp`` (``/dev/shm`` points into the task dir), then pivots into it and detaches the host's
tree. Every path keeps the name it has on the host, so a venv under ``/tmp`` or under a path with spaces works as it
does outside. Nothing here runs per task.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass

from . import syscalls

TMP_INODES = 32_768
"""Files and directories a worker's /tmp may hold: also bounds what a task-dir cleanup walks."""
TMP_MODE = "0755"
"""Of /tmp itself: only the worker (its root) creates there, the task dir it hands to the task
uid. Writable by all, /tmp would be the one place outside the task dir that a task could leave
files for the next one wherever Landlock is missing (the clean-up empties only the task dir)."""
TASK_DIR = "/tmp/task"
"""Where the worker keeps the task dir once /tmp is its own (see server.Worker)."""
ROOT_SIZE = "16m"  # the skeleton: directories, mount points and the synthetic /etc

_LIBRARY_DIRS = (
    "/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32",
    "/usr/libx32", "/usr/local/lib", "/usr/local/lib64",
)  # fmt: skip
_PROGRAM_DIRS = ("/bin", "/usr/bin")
"""So that code which runs ``sh`` or ``python3`` in a subprocess finds them (no setuid: nosuid)."""
_SHARED_DATA = ("/usr/share/zoneinfo", "/etc/alternatives")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_IMPORTABLE_SUFFIXES = (".py", ".pyc", ".so", ".pyd", ".pth", ".zip", ".egg")


@dataclass(frozen=True)
class Entry:
    """One path tasks see: ``target`` (the name inside) shows ``source`` (a host path)."""

    target: str
    source: str
    kind: str
    """``tree`` (directory, recursive), ``file``, ``symlink`` (``source`` is the link text),
    ``view`` (a directory holding only the importable entries of ``source``)."""


def _norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _is_importable(directory: str, name: str) -> bool:
    """Entries of a non-site directory on sys.path that an import can load."""
    if name.startswith("."):
        return False
    full = os.path.join(directory, name)
    if os.path.isdir(full):
        if name.endswith((".dist-info", ".egg-info")):
            return True
        return name.isidentifier() and (
            os.path.exists(os.path.join(full, "__init__.py"))
            or any(n.endswith(_IMPORTABLE_SUFFIXES) for n in _listdir(full))
        )
    return name.endswith(_IMPORTABLE_SUFFIXES)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _editable_roots() -> list[str]:
    """Package directories that new-style editable installs map by finder, not by sys.path."""
    found: list[str] = []
    for name, module in list(sys.modules.items()):
        if name.startswith("__editable__") and name.endswith("_finder"):
            mapping = getattr(module, "MAPPING", None)
            if isinstance(mapping, dict):
                found.extend(str(p) for p in mapping.values())
    return found


def _mapped_library_dirs() -> list[str]:
    """Directories of the files the interpreter has mapped (its own libraries, wherever)."""
    dirs: set[str] = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    path = parts[5].strip()
                    if not path.endswith(" (deleted)"):
                        dirs.add(os.path.dirname(path))
    except OSError:
        pass
    return sorted(dirs)


def _through_root_links(path: str) -> str:
    """``path`` with a leading root-level symlink resolved (/lib/x -> /usr/lib/x): the link
    itself is recreated in the new root, so the directory is reached through it."""
    parts = path.split("/")
    if len(parts) > 2 and os.path.islink("/" + parts[1]):
        return os.path.realpath(path)
    return path


def plan(extra: tuple[str, ...] = ()) -> list[Entry]:
    """Everything tasks will see of the host, as read-only entries (not yet mounted)."""
    trees: list[str] = []
    views: list[str] = []
    prefixes = {
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
        os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable)),
    }  # fmt: skip
    for path in prefixes:
        trees.append(_norm(path))
        trees.append(os.path.realpath(path))
    for path in (*_LIBRARY_DIRS, *_PROGRAM_DIRS, *_SHARED_DATA, *_mapped_library_dirs(), *extra):
        trees.append(_through_root_links(_norm(path)))
    for path in _editable_roots():
        trees.append(_norm(path))  # a package directory: its data files too
    for path in sys.path:
        if not path or not os.path.isabs(path):
            continue  # '' is the task dir (the cwd)
        for name in {_norm(path), os.path.realpath(path)}:
            base = os.path.basename(name)
            if base in ("site-packages", "dist-packages") or not os.path.isdir(name):
                trees.append(name)
            else:
                views.append(name)
    entries: list[Entry] = []
    seen_trees: list[str] = []
    # Root-level symlinks (merged /usr: /lib -> usr/lib) are recreated, not followed.
    for path in sorted(set(trees), key=lambda p: (p.count("/"), p)):
        if not os.path.lexists(path) or _inside(path, "/proc") or _inside(path, "/dev"):
            continue  # (the task's own /proc and /dev are mounted over those)
        if os.path.dirname(path) == "/" and os.path.islink(path):
            entries.append(Entry(path, os.readlink(path), "symlink"))
            continue
        if any(_inside(path, t) for t in seen_trees):
            continue
        if not os.path.exists(path):
            continue
        kind = "tree" if os.path.isdir(path) else "file"
        entries.append(Entry(path, path, kind))
        if kind == "tree":
            seen_trees.append(path)
    for path in sorted(set(views)):
        if any(_inside(path, t) for t in seen_trees):
            continue
        entries.append(Entry(path, path, "view"))
    return entries


def _synthetic_etc(task_uid: int) -> dict[str, bytes]:
    users = f"root:x:0:0:root:/root:/usr/sbin/nologin\ntask:x:{task_uid}:{task_uid}::/tmp/task:/usr/sbin/nologin\n"
    if task_uid == 0:
        users = "root:x:0:0:root:/tmp/task:/usr/sbin/nologin\n"
    groups = f"root:x:0:\ntask:x:{task_uid}:\n" if task_uid else "root:x:0:\n"
    files = {
        "passwd": users.encode(),
        "group": groups.encode(),
        "hosts": b"127.0.0.1 localhost\n::1 localhost\n",
        "nsswitch.conf": b"passwd: files\ngroup: files\nhosts: files\n",
        "hostname": b"codeio-sandbox\n",
    }
    for name in ("ld.so.cache", "localtime", "timezone"):
        try:
            with open(os.path.join("/etc", name), "rb") as fh:
                files[name] = fh.read(8 << 20)
        except OSError:
            pass
    return files


def _mkdirs(root: str, path: str) -> str:
    where = root + path
    os.makedirs(where, mode=0o755, exist_ok=True)
    return where


def _touch(path: str) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


_ST_TO_MS = {
    os.ST_NOSUID: syscalls.MS_NOSUID,
    os.ST_NODEV: syscalls.MS_NODEV,
    os.ST_NOEXEC: syscalls.MS_NOEXEC,
    os.ST_NOATIME: 1024,
    os.ST_NODIRATIME: 2048,
    os.ST_RELATIME: 1 << 21,
}


_NOSUID_NODEV = syscalls.MOUNT_ATTR_NOSUID | syscalls.MOUNT_ATTR_NODEV


def _read_only(path: str, recursive: bool = True) -> None:
    """Make the mount at ``path`` (and, ``recursive``, every mount below it) read-only."""
    try:
        attrs = syscalls.MOUNT_ATTR_RDONLY | _NOSUID_NODEV
        syscalls.mount_setattr(path, attrs, recursive=recursive)
        return
    except OSError:
        pass
    # Before Linux 5.12: remount the top mount, keeping the flags the kernel locked on it.
    flags = syscalls.MS_REMOUNT | syscalls.MS_BIND | 1  # MS_RDONLY
    vfs = os.statvfs(path).f_flag
    for st_flag, ms_flag in _ST_TO_MS.items():
        if vfs & st_flag:
            flags |= ms_flag
    syscalls.mount("none", path, None, flags | syscalls.MS_NOSUID | syscalls.MS_NODEV)


def _harden_device(path: str) -> None:
    # Writable (code writes to /dev/null), but neither setuid nor executable.
    try:
        attrs = syscalls.MOUNT_ATTR_NOSUID | syscalls.MOUNT_ATTR_NOEXEC
        syscalls.mount_setattr(path, attrs, recursive=False)
    except OSError:
        pass


def _bind(fd: int, target: str) -> None:
    source = f"/proc/self/fd/{fd}"
    try:
        syscalls.mount(source, target, None, syscalls.MS_BIND)
    except OSError:
        # A tree with mounts below it that this namespace may not reveal on their own.
        syscalls.mount(source, target, None, syscalls.MS_BIND | syscalls.MS_REC)


def _readable_by_others(path: str) -> bool:
    mode = os.stat(path).st_mode
    need = 0o005 if stat.S_ISDIR(mode) else 0o004
    return mode & need == need


def build(mountpoint: str, tmp_size_mb: int, task_uid: int) -> dict[str, object]:
    """Build the root on ``mountpoint`` (an existing empty directory) and pivot into it.

    The caller is root of a private mount namespace. Returns the report of what tasks see;
    raises OSError when the root cannot be built (the caller then undoes it and falls back).
    """
    entries = plan()
    # Open every source first: nothing mounted below may hide another's way.
    fds: dict[str, int] = {}
    for entry in entries:
        if entry.kind in ("tree", "file"):
            fds[entry.target] = os.open(entry.source, os.O_PATH | os.O_CLOEXEC)
    view_fds: dict[str, list[tuple[str, int]]] = {}
    for entry in entries:
        if entry.kind == "view":
            view_fds[entry.target] = [
                (name, os.open(os.path.join(entry.source, name), os.O_PATH | os.O_CLOEXEC))
                for name in sorted(_listdir(entry.source))
                if _is_importable(entry.source, name)
            ]
    dev_fds = {name: os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC) for name in _DEVICES}
    mounts: list[dict[str, object]] = []
    skeleton_error = ""
    bound: list[str] = []
    closed = [e.source for e in entries if e.kind in ("tree", "file")]
    closed += [
        os.path.join(e.source, n)
        for e in entries
        if e.kind == "view"
        for n, _ in view_fds[e.target]
    ]
    try:
        root = mountpoint.rstrip("/")
        syscalls.mount(
            "tmpfs", root, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV,
            f"mode=0755,size={ROOT_SIZE},nr_inodes=4096",
        )  # fmt: skip
        # /tmp first: an interpreter that lives under /tmp is then bound on top of it.
        fs_flags = syscalls.MS_NOSUID | syscalls.MS_NODEV
        tmp_opts = f"mode={TMP_MODE},size={tmp_size_mb}m,nr_inodes={TMP_INODES}"
        syscalls.mount("tmpfs", _mkdirs(root, "/tmp"), "tmpfs", fs_flags, tmp_opts)
        for entry in entries:
            if entry.kind == "symlink":
                os.makedirs(os.path.dirname(root + entry.target), exist_ok=True)
                os.symlink(entry.source, root + entry.target)
                mounts.append({"path": entry.target, "kind": "symlink", "to": entry.source})
            elif entry.kind == "tree":
                _bind(fds[entry.target], _mkdirs(root, entry.target))
                _read_only(root + entry.target)
                mounts.append({"path": entry.target, "kind": "bind", "mode": "ro"})
            elif entry.kind == "file":
                _mkdirs(root, os.path.dirname(entry.target))
                _touch(root + entry.target)
                _bind(fds[entry.target], root + entry.target)
                _read_only(root + entry.target)
                mounts.append({"path": entry.target, "kind": "bind", "mode": "ro"})
            else:
                if any(_inside(entry.target, t) for t in bound):
                    continue  # already visible through an entry of another view
                where = _mkdirs(root, entry.target)
                shown = []
                for name, fd in view_fds[entry.target]:
                    target = os.path.join(where, name)
                    if os.path.lexists(target):
                        continue  # a directory another entry created on the way
                    bound.append(os.path.join(entry.target, name))
                    if os.path.isdir(f"/proc/self/fd/{fd}"):
                        os.mkdir(target, 0o755)
                    else:
                        _touch(target)
                    _bind(fd, target)
                    _read_only(target)
                    shown.append(name)
                mounts.append(
                    {"path": entry.target, "kind": "view", "mode": "ro", "entries": shown}
                )
        # Devices: the few nodes ordinary code opens, bound from the host's.
        dev = _mkdirs(root, "/dev")
        syscalls.mount(
            "tmpfs", dev, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NOEXEC, "mode=0755,size=64k"
        )
        for name, fd in dev_fds.items():
            _touch(os.path.join(dev, name))
            _bind(fd, os.path.join(dev, name))
            _harden_device(os.path.join(dev, name))
        for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                           ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
            os.symlink(link, os.path.join(dev, name))
        mounts.append(
            {
                "path": "/dev",
                "kind": "tmpfs",
                "mode": "ro",
                "entries": [*_DEVICES, "fd", "stdin", "stdout", "stderr", "shm"],
            }
        )
        # POSIX shared memory and named semaphores (multiprocessing's locks) live in the task
        # dir: writable under Landlock, counted in /tmp's cap, emptied after every task.
        os.symlink(TASK_DIR, os.path.join(dev, "shm"))
        mounts.append({"path": "/dev/shm", "kind": "symlink", "to": TASK_DIR})
        mounts.append(
            {
                "path": "/tmp",
                "kind": "tmpfs",
                "mode": "rw",
                "size_mb": tmp_size_mb,
                "inodes": TMP_INODES,
            }
        )
        # A fresh /proc must be mounted while the host's is still in this namespace: the
        # kernel allows it only next to a fully visible one.
        syscalls.mount("proc", _mkdirs(root, "/proc"), "proc", fs_flags | syscalls.MS_NOEXEC)
        mounts.append({"path": "/proc", "kind": "proc", "mode": "rw"})
        etc = _mkdirs(root, "/etc")
        for name, data in _synthetic_etc(task_uid).items():
            with open(os.path.join(etc, name), "wb") as fh:
                fh.write(data)
        mounts.append(
            {"path": "/etc", "kind": "synthetic", "mode": "ro", "entries": sorted(os.listdir(etc))}
        )
        os.chmod(root, 0o755)
        os.chdir(root)
        # Pivot onto the new root with the old one stacked beneath it, then detach the old.
        syscalls.pivot_root(".", ".")
        syscalls.umount2(".", syscalls.MNT_DETACH)
        os.chdir("/")
        try:
            _read_only("/dev", recursive=False)
            _read_only("/", recursive=False)
        except OSError as exc:  # past the pivot: report, tasks still cannot write there
            skeleton_error = str(exc)
    finally:
        for fd in (*fds.values(), *dev_fds.values(), *(f for v in view_fds.values() for _, f in v)):
            os.close(fd)
    report: dict[str, object] = {"mounts": mounts}
    if skeleton_error:
        report["skeleton_writable"] = skeleton_error
    # Tasks need no capability to read these only if others may read them on the host too.
    report["needs_read_cap"] = [p for p in closed if not _try_readable(p)]
    return report


def _try_readable(path: str) -> bool:
    try:
        return _readable_by_others(path)
    except OSError:
        return True  # gone from view: nothing to read either way


def undo(mountpoint: str) -> None:
    """Remove a half-built root (before the pivot) so the fallback sees the host's tree."""
    try:
        syscalls.umount2(mountpoint, syscalls.MNT_DETACH)
    except OSError:
        pass
