"""The hostile suite: every snippet under tests/exec/hostile/ (and under the directories named
in $CODEIO_HOSTILE_DIRS, colon-separated) runs in a real sandbox and is judged by its side
effects on the host, never by what it reports about itself. See tests/exec/hostile/README.md.
"""

from __future__ import annotations

import ast
import ctypes
import json
import os
import secrets
import selectors
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from codeio.exec import ExecLimits, Sandbox

REPO = Path(__file__).resolve().parents[2]
HOSTILE = Path(__file__).resolve().parent / "hostile"
TIMEOUT_S = 10.0
GRACE_S = 8.0
"""How much longer than its deadline a run may take, all engine overheads included."""
TMP_MB = 64
SHM_MB = 0  # /dev/shm is the task dir (under /tmp)
SHMEM_SLACK_MB = 48
"""Growth of the system's shared memory a run may cause beyond the worker's tmpfs caps
(other processes on the machine also use some)."""
WORKER_GROWTH_MB = 48
HOST_GROWTH_MB = 96
TASK_HOST_UID = 2_000_000_000  # confine.TASK_HOST_UID


def _snippets() -> list[Path]:
    dirs = [HOSTILE] + [Path(d) for d in os.environ.get("CODEIO_HOSTILE_DIRS", "").split(":") if d]
    found = []
    for top in dirs:
        found += [p for p in sorted(top.rglob("*.py")) if not p.name.startswith("_")]
    return found


def _case_id(path: Path) -> str:
    try:
        return str(path.relative_to(HOSTILE))
    except ValueError:
        return str(path)


# -- the host's side: things to steal, reach or change ---------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine, -1)
_ADD_KEY = {"x86_64": 248, "aarch64": 217}.get(os.uname().machine, -1)


def _keyctl(*args: Any) -> int:
    return int(_libc.syscall(_KEYCTL, *args))


def _keyring_contents(ring: int) -> tuple[int, ...] | str:
    buf = ctypes.create_string_buffer(4096)
    n = _keyctl(11, ring, buf, 4096)  # KEYCTL_READ
    if n < 0:
        return f"errno {ctypes.get_errno()}"
    raw = buf.raw[:n]
    return tuple(int.from_bytes(raw[i : i + 4], "little") for i in range(0, n, 4))


class _Recorder:
    """Listeners that record every connection or datagram: unix (path, abstract) and TCP."""

    def __init__(self, paths: list[str], abstract: str) -> None:
        self.events: list[str] = []
        self.sel = selectors.DefaultSelector()
        self.socks: list[socket.socket] = []
        for path in paths:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_UNIX, kind)
                where = path if kind == socket.SOCK_STREAM else path + ".dgram"
                s.bind(where)
                os.chmod(where, 0o777)
                self._add(s, f"unix:{where}", kind)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind("\0" + abstract)
        self._add(s, f"abstract:{abstract}", socket.SOCK_STREAM)
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        self.tcp_port = tcp.getsockname()[1]
        self._add(tcp, "tcp", socket.SOCK_STREAM)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", self.tcp_port))
        self._add(udp, "udp", socket.SOCK_DGRAM)
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _add(self, s: socket.socket, name: str, kind: int) -> None:
        if kind == socket.SOCK_STREAM:
            s.listen(16)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, (name, kind))
        self.socks.append(s)

    def _loop(self) -> None:
        while not self._stop:
            for key, _ in self.sel.select(0.05):
                name, kind = key.data
                try:
                    if kind == socket.SOCK_STREAM:
                        conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                        conn.close()
                    else:
                        key.fileobj.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    continue
                self.events.append(name)

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        for s in self.socks:
            s.close()


@dataclass
class Host:
    ctx: dict[str, Any]
    tokens: list[str]
    recorder: _Recorder
    shm_id: int
    shm_addr: int
    shm_bytes: bytes
    key_serial: int
    dirs: list[Path] = field(default_factory=list)

    def segment(self) -> bytes:
        return ctypes.string_at(self.shm_addr, len(self.shm_bytes))


def _plant(where: Path, token: str, tokens: list[str], files: list[str]) -> None:
    where.mkdir(mode=0o755)
    os.chmod(where, 0o755)
    for mode in (0o600, 0o644):
        secret = f"{token}-{mode:o}-{secrets.token_hex(6)}"
        path = where / f"canary-{mode:o}.txt"
        path.write_text(f"{secret}\n")
        os.chmod(path, mode)
        tokens.append(secret)
        files.append(str(path))


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    tag = secrets.token_hex(5)
    prefix = "CODEIO-CANARY-"
    token = prefix + tag
    tokens: list[str] = []
    files: list[str] = []
    dirs = [
        Path(tempfile.gettempdir()) / f"codeio-hostile-{tag}",
        REPO / f".codeio-hostile-{tag}",
        Path.home() / f".codeio-hostile-{tag}",
    ]
    for d in dirs:
        _plant(d, token, tokens, files)
    recorder = _Recorder([str(dirs[0] / "rec.sock"), str(dirs[1] / "rec.sock")], f"codeio-{tag}")
    # A world-writable segment the host owns, as a shared-memory database or cache would be.
    shm_key = int.from_bytes(secrets.token_bytes(3), "little") | 0x10000000
    shm_id = _libc.shmget(shm_key, 4096, 0o1000 | 0o2000 | 0o666)  # IPC_CREAT | IPC_EXCL
    assert shm_id >= 0, ctypes.get_errno()
    addr = _libc.shmat(shm_id, None, 0)
    pattern = secrets.token_bytes(4096)
    ctypes.memmove(addr, pattern, 4096)
    # A caller's session keyring holding a secret, as a login session or a service would.
    key_payload = f"{token}-keyring".encode()
    tokens.append(key_payload.decode())
    _keyctl(1, f"codeio-hostile-{tag}".encode())  # KEYCTL_JOIN_SESSION_KEYRING
    serial = int(
        _libc.syscall(_ADD_KEY, b"user", b"codeio-hostile", key_payload, len(key_payload), -3)
    )
    ctx = {
        "canary_files": files,
        "canary_dirs": [str(d) for d in dirs],
        "canary_prefix": prefix,
        "unix_sockets": [str(dirs[0] / "rec.sock"), str(dirs[1] / "rec.sock")],
        "abstract_socket": f"codeio-{tag}",
        "tcp_port": recorder.tcp_port,
        "shm_key": shm_key,
        "shm_id": shm_id,
        "host_pid": os.getpid(),
        "marker": f"codeio-hostile-marker-{tag}",
        "repo": str(REPO),
        "home": str(Path.home()),
    }
    try:
        yield Host(ctx, tokens, recorder, shm_id, addr, pattern, serial, dirs)
    finally:
        recorder.close()
        _libc.shmdt(ctypes.c_void_p(addr))
        _libc.shmctl(shm_id, 0, None)  # IPC_RMID
        if serial > 0:
            _keyctl(21, serial)  # KEYCTL_INVALIDATE
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def hostile_sandbox(host: Host) -> Iterator[Sandbox]:
    # Started after the host's keyring and segment exist, so its workers inherit the session.
    limits = ExecLimits(timeout_s=TIMEOUT_S, memory_mb=128)
    with Sandbox(workers=1, limits=limits, warm=(), tmp_size_mb=TMP_MB) as sb:
        yield sb
        tree = [p for w in sb.worker_pids() for p in _descendants(w)] + sb.worker_pids()
    # Nothing of the sandbox outlives close().
    deadline = time.monotonic() + 3.0
    while any(_alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in tree if _alive(p)]


# -- observing side effects ------------------------------------------------------------------


def _proc_status(pid: int | str) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return {k: v.strip() for k, _, v in (line.partition(":") for line in fh)}
    except OSError:
        return {}


def _alive(pid: int) -> bool:
    state = _proc_status(pid).get("State", "")
    return bool(state) and not state.startswith(("Z", "X"))


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        found += kids
        todo += kids
    return found


def _task_processes(sb: Sandbox, uid: int) -> list[int]:
    """Processes of the task uid below this sandbox's workers (other sandboxes on the machine
    use the same uid)."""
    tree = [p for w in sb.worker_pids() for p in _descendants(w)]
    return [p for p in tree if _proc_status(p).get("Uid", "").split()[:1] == [str(uid)]]


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            continue
    return found


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            kids += [int(x) for x in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    except OSError:
        pass
    return kids


def _engine_rss_kb(sb: Sandbox) -> int:
    """Resident memory of the worker processes themselves (launcher, helper, server)."""
    total = 0
    for launcher in sb.worker_pids():
        chain = [launcher]
        for _ in range(2):
            kids = _children(chain[-1])
            if kids:
                chain.append(kids[0])
        for pid in chain:
            total += int(_proc_status(pid).get("VmRSS", "0 kB").split()[0])
    return total


def _shmem_kb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("Shmem:"):
                return int(line.split()[1])
    return 0


def _sysvipc(uid: int) -> dict[str, set[str]]:
    """Objects in the host's IPC namespace created by ``uid``."""
    out: dict[str, set[str]] = {}
    for kind in ("shm", "msg", "sem"):
        rows: set[str] = set()
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            lines = []
        if lines:
            header = lines[0].split()
            for line in lines[1:]:
                row = dict(zip(header, line.split(), strict=False))
                if row.get("cuid") == str(uid) or row.get("uid") == str(uid):
                    rows.add(
                        f"{row.get('key')}/{row.get('shmid') or row.get('msqid') or row.get('semid')}"
                    )
        out[kind] = rows
    return out


def _canary_state(host: Host) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for d in host.dirs:
        state[str(d)] = (sorted(os.listdir(d)), os.stat(d).st_mode)
        for name in sorted(os.listdir(d)):
            p = d / name
            st = os.lstat(p)
            state[str(p)] = (st.st_mode, st.st_nlink, p.read_bytes() if p.is_file() else b"")
    return state


def _mqueue() -> list[str] | None:
    try:
        return sorted(os.listdir("/dev/mqueue"))
    except OSError:
        return None


class _ShmemWatch:
    """Samples the system's shared memory while a run is in flight; keeps the peak."""

    def __init__(self) -> None:
        self.base = _shmem_kb()
        self.peak = self.base
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _shmem_kb())

    def stop(self) -> int:
        self._stop.set()
        self.thread.join()
        return (self.peak - self.base) // 1024


_FOLLOW_UP = r"""
import ctypes, os
def f():
    libc = ctypes.CDLL(None, use_errno=True)
    nr = {'x86_64': 250, 'aarch64': 219}[os.uname().machine]
    buf = ctypes.create_string_buffer(512)
    rings = {r: libc.syscall(nr, 11, r, buf, 512) for r in (-3, -4, -5)}
    ipc = {k: open('/proc/sysvipc/' + k).read().splitlines()[1:] for k in ('shm', 'msg', 'sem')}
    return {'tmp': sorted(os.listdir('/tmp')), 'task': os.listdir('.'),
            'shm': sorted(os.listdir('/dev/shm')) if os.path.isdir('/dev/shm') else [],
            'ipc': ipc, 'keys': {str(k): v for k, v in rings.items() if v > 0}}
"""


def _entry_point(source: str) -> str | None:
    tree = ast.parse(source)
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return "main" if "main" in names else None


@pytest.mark.slow
@pytest.mark.parametrize("snippet", _snippets(), ids=_case_id)
def test_hostile_snippet_has_no_side_effect(
    snippet: Path, host: Host, hostile_sandbox: Sandbox
) -> None:
    sandbox = hostile_sandbox
    source = snippet.read_text()
    entry = _entry_point(source)
    task_uid = TASK_HOST_UID if sandbox.report.detail.get("task_uid") else os.getuid()
    canaries = _canary_state(host)
    ipc_before = _sysvipc(task_uid)
    mq_before = _mqueue()
    keyrings_before = (_keyring_contents(-3), _keyring_contents(-4))
    task_procs_before = len(_task_processes(sandbox, task_uid))
    engine_before = _engine_rss_kb(sandbox)
    host_before = int(_proc_status("self")["VmRSS"].split()[0])
    events_before = len(host.recorder.events)

    watch = _ShmemWatch()
    started = time.monotonic()
    result = sandbox.run(source, entry, {"ctx": host.ctx} if entry else None)
    wall = time.monotonic() - started
    shmem_growth_mb = watch.stop()

    report = json.dumps(result.model_dump(mode="json"))
    leaked = [t for t in host.tokens if t in report]
    assert not leaked, f"secret tokens in the result: {leaked}"
    assert wall <= TIMEOUT_S + GRACE_S, f"run took {wall:.1f}s"
    # Processes: nothing the task started survives it.
    deadline = time.monotonic() + 2.0
    while _processes_with(host.ctx["marker"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_with(host.ctx["marker"]), "a process the task started survived"
    # Each worker may hold one child forked ahead for the next task, nothing else.
    allowed = max(task_procs_before, len(sandbox.worker_pids()))
    assert len(_task_processes(sandbox, task_uid)) <= allowed, "a task's process survived"
    # Files, sockets, IPC, keyrings, memory.
    assert _canary_state(host) == canaries, "a canary file or its directory changed"
    time.sleep(0.1)  # let the recorder see anything still in flight
    assert host.recorder.events[events_before:] == [], "a host listener was reached"
    assert host.segment() == host.shm_bytes, "the host's shared-memory segment was written"
    assert _sysvipc(task_uid) == ipc_before, "a System V object reached the host"
    assert _mqueue() == mq_before
    assert (_keyring_contents(-3), _keyring_contents(-4)) == keyrings_before
    assert shmem_growth_mb <= TMP_MB + SHM_MB + SHMEM_SLACK_MB, (
        f"shared memory grew by {shmem_growth_mb} MiB during the run"
    )
    engine_growth = (_engine_rss_kb(sandbox) - engine_before) // 1024
    assert engine_growth <= WORKER_GROWTH_MB, f"worker memory grew by {engine_growth} MiB"
    host_growth = (int(_proc_status("self")["VmRSS"].split()[0]) - host_before) // 1024
    assert host_growth <= HOST_GROWTH_MB, f"host memory grew by {host_growth} MiB"
    # The next task in the same sandbox finds nothing left behind, and the engine still works.
    follow = sandbox.run(_FOLLOW_UP, "f")
    assert follow.status.value == "ok", follow
    left = follow.value
    assert left["task"] == [] and left["tmp"] in ([], ["task"]), left
    assert left["shm"] == [] and left["keys"] == {}, left
    assert all(rows == [] for rows in left["ipc"].values()), left


def test_every_snippet_says_what_a_contained_run_shows() -> None:
    snippets = _snippets()
    assert len(snippets) >= 20
    classes = {p.parent.name for p in snippets if p.is_relative_to(HOSTILE)}
    assert {"filesystem", "ipc", "keyring", "sockets", "seccomp"} <= classes
    for path in snippets:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and "Contained" in doc, f"{path}: docstring must say what a contained run shows"
