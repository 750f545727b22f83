"""The worker as PID 1 of its own namespaces confines itself once; hostile tasks against it.

Each test checks the status the task gets and that the engine is still usable afterwards on the
same workers (no restart, no sandbox_error): a task must not be able to reach the process that
serves the tasks after it.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeio.exec import ExecLimits, Sandbox, Status

from .conftest import require

ALIVE = "def f():\n    return 'alive'\n"


@pytest.fixture(scope="module")
def confined() -> Iterator[Sandbox]:
    """One worker, so that every task of a test runs on the worker the previous one attacked."""
    with Sandbox(workers=1, limits=ExecLimits(timeout_s=5)) as sb:
        require(sb, "pid")
        yield sb


def _state(pid: int) -> str:
    """The host's view of a process: its /proc state letter, or 'gone'."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def _unharmed(sb: Sandbox, pids: list[int], started: int) -> None:
    """The next tasks run, on the same (still running) workers, and nothing was restarted."""
    for _ in range(3):
        result = sb.run(ALIVE, "f", limits=ExecLimits(timeout_s=5))
        assert (result.status, result.value) == (Status.OK, "alive"), result
    assert sorted(sb.worker_pids()) == sorted(pids)
    assert all(_state(pid) not in ("gone", "Z", "T") for pid in pids)
    assert sb.started == started


# -- signals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["SIGTERM", "SIGINT", "SIGKILL", "SIGSTOP", "SIGHUP", "SIGUSR1", "SIGQUIT", "SIGSEGV"],
)
def test_signals_to_the_worker_are_ignored(confined: Sandbox, name: str) -> None:
    pids, started = confined.worker_pids(), confined.started
    code = (
        "import os, signal, time\n"
        "def f():\n"
        "    assert os.getppid() == 1\n"
        f"    try:\n        os.kill(1, signal.{name})\n"
        "    except OSError as e:\n        return type(e).__name__\n"
        "    time.sleep(0.05)\n"
        "    return 'sent'\n"
    )
    result = confined.run(code, "f")
    # Either the kernel refuses it or init drops it; the task itself is unaffected either way.
    assert result.status is Status.OK, result
    assert result.value in ("sent", "PermissionError")
    _unharmed(confined, pids, started)


def test_kill_everything_in_the_namespace_spares_the_worker(confined: Sandbox) -> None:
    pids, started = confined.worker_pids(), confined.started
    code = (
        "import os, signal, time\n"
        "def f():\n"
        "    kid = os.fork()\n"
        "    if kid == 0:\n        time.sleep(30)\n        os._exit(0)\n"
        "    os.kill(-1, signal.SIGKILL)\n"  # everyone it may signal, except init and itself
        "    _, status = os.waitpid(kid, 0)\n"
        "    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1\n"
    )
    result = confined.run(code, "f")
    assert (result.status, result.value) == (Status.OK, 9), result
    _unharmed(confined, pids, started)


@pytest.mark.parametrize("call", ["os.kill(0, signal.SIGKILL)", "os.killpg(0, signal.SIGTERM)"])
def test_signalling_its_process_group_kills_only_the_task(confined: Sandbox, call: str) -> None:
    # The child shares the worker's process group (it has no group of its own in a PID
    # namespace); the group signal ends the task and nothing else.
    pids, started = confined.worker_pids(), confined.started
    result = confined.run(f"import os, signal, time\n{call}\ntime.sleep(1)\n")
    assert result.status is Status.KILLED, result
    assert result.signal in (9, 15)
    _unharmed(confined, pids, started)


def test_keyboard_interrupt_is_an_error_of_the_code(confined: Sandbox) -> None:
    pids, started = confined.worker_pids(), confined.started
    code = "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(2)\n"
    result = confined.run(code)
    assert result.status is Status.ERROR, result
    assert result.error_type == "KeyboardInterrupt"
    entry = "import os, signal, time\ndef f():\n    signal.raise_signal(signal.SIGINT)\n"
    assert confined.run(entry, "f").error_type == "KeyboardInterrupt"
    _unharmed(confined, pids, started)


# -- what the task can see of the worker -----------------------------------------------------


def test_worker_shares_no_uid_with_tasks_and_children_inherit(confined: Sandbox) -> None:
    code = (
        "import ctypes, os\n"
        "def status(pid):\n"
        "    with open(f'/proc/{pid}/status') as fh:\n"
        "        return {k: v.split() for k, v in (l.split(':', 1) for l in fh)}\n"
        "def f():\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    worker, me = status(1), status('self')\n"
        "    return {'worker_uid': worker['Uid'], 'task_uid': me['Uid'],\n"
        "            'worker_nnp': worker['NoNewPrivs'], 'task_nnp': me['NoNewPrivs'],\n"
        "            'getuid': os.getuid(), 'task_dumpable': libc.prctl(3, 0, 0, 0, 0)}\n"
    )
    result = confined.run(code, "f")
    assert result.status is Status.OK, result
    v = result.value
    assert set(v["task_uid"]) == {str(v["getuid"])}  # real, effective, saved, fs
    if confined.report.detail.get("task_uid"):
        # The worker stays the namespace's (capability-limited) root; the task has another uid
        # in every slot, so no same-owner check (kill, prlimit, setpriority, ptrace) passes.
        assert v["getuid"] != 0
        assert not set(v["worker_uid"]) & set(v["task_uid"])
    assert v["task_dumpable"] == 0
    if "landlock" in confined.report.active:
        assert v["worker_nnp"] == v["task_nnp"] == ["1"]


def test_worker_memory_environ_and_fds_are_out_of_reach(confined: Sandbox) -> None:
    pids, started = confined.worker_pids(), confined.started
    code = r"""
import ctypes, os
def attempt(fn):
    try:
        fn()
        return 'allowed'
    except OSError as e:
        return type(e).__name__
def f():
    out = {}
    for name in ('environ', 'mem', 'maps', 'stack', 'auxv'):
        out[name] = attempt(lambda: open(f'/proc/1/{name}', 'rb').read(64))
    for name in ('cwd', 'root', 'exe'):
        out[name] = attempt(lambda: os.readlink(f'/proc/1/{name}'))
    out['fdinfo'] = attempt(lambda: os.listdir('/proc/1/fdinfo'))
    # Where the task keeps CAP_DAC_READ_SEARCH the fd numbers are listable, but none of them
    # can be resolved or opened: not the host's pipes, not the reply channel. Without it not
    # even the listing is allowed; probe the usual fd numbers then.
    try:
        fds = os.listdir('/proc/1/fd')
        out['fds'] = len(fds)
    except PermissionError:
        fds = [str(n) for n in range(8)]
        out['fds'] = 'PermissionError'

    out['fd_open'] = sorted({attempt(lambda: open(f'/proc/1/fd/{n}', m, buffering=0).close())
                             for n in fds for m in ('rb', 'wb')})
    out['fd_link'] = sorted({attempt(lambda: os.readlink(f'/proc/1/fd/{n}')) for n in fds})
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    out['ptrace_attach'] = [libc.ptrace(16, 1, None, None), ctypes.get_errno()]
    out['ptrace_seize'] = [libc.ptrace(0x4206, 1, None, None), ctypes.get_errno()]
    pidfd = os.pidfd_open(1)
    libc.syscall.restype = ctypes.c_long
    out['pidfd_getfd'] = [libc.syscall(438, pidfd, 0, 0), ctypes.get_errno()]
    return out
"""
    result = confined.run(code, "f")
    assert result.status is Status.OK, result
    v = result.value
    for name in ("environ", "mem", "maps", "stack", "auxv", "cwd", "root", "exe", "fdinfo"):
        assert v[name] == "PermissionError", (name, v)
    if "exposed" in confined.report.detail:  # no capability at all in the task
        assert v["fds"] == "PermissionError"
    else:
        assert v["fds"] >= 3
    assert set(v["fd_open"]) <= {"PermissionError", "FileNotFoundError"}
    assert set(v["fd_link"]) <= {"PermissionError", "FileNotFoundError"}
    assert "PermissionError" in v["fd_open"] and "PermissionError" in v["fd_link"]
    for call in ("ptrace_attach", "ptrace_seize", "pidfd_getfd"):
        assert v[call][0] == -1 and v[call][1] == 1, (call, v)  # EPERM
    _unharmed(confined, pids, started)


def test_task_cannot_lower_the_workers_rlimits() -> None:
    with Sandbox(workers=1, limits=ExecLimits(timeout_s=5)) as sb:
        require(sb, "pid")
        code = (
            "import resource\n"
            "def f():\n"
            "    try:\n"
            "        resource.prlimit(1, resource.RLIMIT_AS, (64 << 20, 64 << 20))\n"
            "        return 'lowered'\n"
            "    except OSError as e:\n"
            "        return type(e).__name__\n"
        )
        assert sb.run(code, "f").status is Status.OK
        big = "def f():\n    return len(bytearray(256 << 20))\n"
        for _ in range(2):
            result = sb.run(big, "f")
            assert (result.status, result.value) == (Status.OK, 256 << 20), result


# -- the task dir after a hostile task --------------------------------------------------------


@pytest.fixture
def outside_dir() -> Iterator[Path]:
    """A directory the test owns outside /tmp (the namespace hides the host's /tmp), with
    distinctive modes; a confined worker that followed a symlink could chmod it."""
    top = Path.home() / f".codeio-chmod-target-{secrets.token_hex(4)}"
    (top / "sub").mkdir(parents=True)
    os.chmod(top / "sub", 0o751)
    os.chmod(top, 0o751)
    try:
        yield top
    finally:
        os.chmod(top, 0o755)
        os.chmod(top / "sub", 0o755)
        (top / "sub").rmdir()
        top.rmdir()


def test_locked_tree_and_escaping_symlinks_are_cleaned_safely(
    confined: Sandbox, outside_dir: Path
) -> None:
    pids, started = confined.worker_pids(), confined.started
    watched = [Path("/etc"), Path("/etc/passwd"), outside_dir, outside_dir / "sub"]
    before = {p: stat.S_IMODE(os.lstat(p).st_mode) for p in watched}
    code = f"""
import os
def f():
    os.makedirs('tree/a/b/c')
    for d in ('tree/a/b/c', 'tree/a/b', 'tree/a', 'tree'):
        open(d + '/ro.txt', 'w').write('x')
        os.chmod(d + '/ro.txt', 0o400)
    os.mkfifo('tree/a/fifo')
    os.symlink('/etc', 'tree/a/b/etc_link')
    os.symlink('/etc/passwd', 'tree/a/passwd_link')
    os.symlink({str(outside_dir)!r}, 'tree/a/b/c/outside_link')
    os.symlink({str(outside_dir / "sub")!r}, 'tree/outside_sub_link')
    os.symlink('/etc', 'etc_link')
    os.symlink({str(outside_dir)!r}, 'outside_link')
    for d in ('tree/a/b/c', 'tree/a/b', 'tree/a', 'tree'):
        os.chmod(d, 0)
    os.mkdir('locked')
    open('locked/f', 'w').write('x')
    os.chmod('locked', 0)
    open('top.txt', 'w').write('x')
    os.chmod('top.txt', 0)
    os.chmod('.', 0o500)
    return sorted(os.listdir('.'))
"""
    for _ in range(2):  # twice: the cleanup must leave the worker able to clean again
        result = confined.run(code, "f")
        assert result.status is Status.OK, result
        assert result.value == ["etc_link", "locked", "outside_link", "top.txt", "tree"]
        after = confined.run(
            "import os, stat\n"
            "def f():\n"
            "    mode = stat.S_IMODE(os.stat('.').st_mode)\n"
            "    listing = os.listdir('.')\n"
            "    open('fresh.txt', 'w').write('ok')\n"
            "    return [listing, oct(mode)]\n",
            "f",
        )
        assert after.status is Status.OK, after
        assert after.value == [[], "0o700"]
    assert {p: stat.S_IMODE(os.lstat(p).st_mode) for p in watched} == before
    _unharmed(confined, pids, started)


def test_deep_directory_tree_is_cleaned() -> None:
    with Sandbox(workers=1, limits=ExecLimits(timeout_s=10)) as sb:
        code = (
            "import os\n"
            "def f():\n"
            "    top = os.getcwd()\n"
            "    for _ in range(1500):\n"
            "        os.mkdir('d')\n"
            "        os.chdir('d')\n"
            "    os.chdir(top)\n"
            "    return 'built'\n"
        )
        result = sb.run(code, "f")
        assert (result.status, result.value) == (Status.OK, "built"), result
        listing = sb.run("import os\ndef f():\n    return os.listdir('.')\n", "f")
        assert (listing.status, listing.value) == (Status.OK, []), listing


# -- process limits with a confined worker ----------------------------------------------------


def test_task_gets_exactly_its_process_allowance() -> None:
    # A fresh sandbox: no earlier task's processes can still count against the uid.
    with Sandbox(workers=1, limits=ExecLimits(timeout_s=10)) as sb:
        require(sb, "pid")
        require(sb, "nproc")
        forks = (
            "import os, time\n"
            "def f():\n    n = 0\n    for _ in range(20):\n        try:\n"
            "            pid = os.fork()\n        except OSError:\n            break\n"
            "        if pid == 0:\n            time.sleep(30)\n            os._exit(0)\n"
            "        n += 1\n    return n\n"
        )
        threads = (
            "import threading\n"
            "def f():\n    ev, n = threading.Event(), 0\n    for _ in range(20):\n"
            "        try:\n            threading.Thread(target=ev.wait, daemon=True).start()\n"
            "        except RuntimeError:\n            break\n        n += 1\n"
            "    ev.set()\n    return n\n"
        )
        limits = ExecLimits(processes=8, timeout_s=10)
        # The confined worker has the task's uid too; it does not eat into the allowance:
        # the task itself plus 7 more processes (or threads) is 8.
        for code in (forks, threads, forks):
            result = sb.run(code, "f", limits=limits)
            assert (result.status, result.value) == (Status.OK, 7), result


def test_task_may_fork_a_few_children(confined: Sandbox) -> None:
    require(confined, "nproc")
    pids, started = confined.worker_pids(), confined.started
    code = (
        "import os\n"
        "def f():\n    kids = []\n    for i in range(5):\n        pid = os.fork()\n"
        "        if pid == 0:\n            os._exit(10 + i)\n        kids.append(pid)\n"
        "    return sorted(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) for k in kids)\n"
    )
    for _ in range(3):
        result = confined.run(code, "f", limits=ExecLimits(processes=8))
        assert (result.status, result.value) == (Status.OK, [10, 11, 12, 13, 14]), result
    _unharmed(confined, pids, started)


def test_fork_bomb_is_bounded_and_the_worker_survives(confined: Sandbox) -> None:
    require(confined, "nproc")
    pids, started = confined.worker_pids(), confined.started
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = confined.run(bomb, limits=ExecLimits(timeout_s=2, processes=16))
    assert result.status is Status.TIMEOUT, result
    _unharmed(confined, pids, started)


# -- what the task may read -------------------------------------------------------------------


def test_task_holds_no_capability_and_cannot_read_private_files(confined: Sandbox) -> None:
    if not confined.report.detail.get("task_uid") or "exposed" not in confined.report.detail:
        pytest.skip("tasks keep CAP_DAC_READ_SEARCH here (no task uid or no interpreter view)")
    secret_dir = Path.home() / f".codeio-private-{secrets.token_hex(4)}"
    secret_dir.mkdir(mode=0o700)
    secret = secret_dir / "key"
    secret.write_text("private key material")
    secret.chmod(0o600)
    code = (
        "import os\n"
        "def attempt(fn):\n"
        "    try:\n        return ['read', fn()]\n"
        "    except OSError as e:\n        return [type(e).__name__]\n"
        "def f(path, home):\n"
        "    with open('/proc/self/status') as fh:\n"
        "        caps = {l.split(':')[0]: l.split()[1] for l in fh if l.startswith('Cap')}\n"
        "    import xml.dom.minidom, sqlite3, email.parser  # lazy stdlib imports still work\n"
        "    return {'caps': caps, 'secret': attempt(lambda: open(path).read()),\n"
        "            'shadow': attempt(lambda: open('/etc/shadow').read()),\n"
        "            'home': attempt(lambda: sorted(os.listdir(home)))}\n"
    )
    try:
        result = confined.run(code, "f", {"path": str(secret), "home": str(Path.home())})
    finally:
        secret.unlink()
        secret_dir.rmdir()
    assert result.status is Status.OK, result
    v = result.value
    assert v["caps"]["CapEff"] == v["caps"]["CapPrm"] == "0000000000000000"
    assert v["secret"][0] in ("FileNotFoundError", "PermissionError")
    if "root" in confined.report.active:  # the task's /etc holds no shadow file at all
        assert v["shadow"][0] == "FileNotFoundError"
    elif Path("/etc/shadow").exists() and not os.stat("/etc/shadow").st_mode & 0o004:
        assert v["shadow"][0] == "PermissionError"
    home = str(Path.home())
    if home in confined.report.detail["exposed"]:
        # A closed home shows only what leads to the interpreter.
        assert v["home"][0] == "read"
        assert secret_dir.name not in v["home"][1]


# -- the filter program and the root's plan, without a sandbox --------------------------------


def _run_bpf(program: list[tuple[int, int, int, int]], nr: int, arch: int, args: list[int]) -> int:
    """A tiny interpreter for the classic-BPF subset the filter uses, to check its decisions."""
    import struct

    data = struct.pack("=iIQ6Q", nr, arch, 0, *(args + [0] * (6 - len(args))))
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == 0x20:
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code in (0x15, 0x35, 0x45):
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if hit else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_seccomp_program_decides_as_documented(machine: str) -> None:
    from codeio.exec._worker import seccomp

    program = seccomp.build(machine)
    arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[machine]
    col = 0 if machine == "x86_64" else 1
    allow, eperm = 0x7FFF0000, 0x00050000 | 1
    for name, nrs in seccomp.DENIED.items():
        if nrs[col] is not None:
            assert _run_bpf(program, nrs[col], arch, []) == eperm, name
    denied = {n[col] for n in seccomp.DENIED.values() if n[col] is not None}
    special = {56, 220, 435, 135, 92, 16, 29, 41, 198}
    for nr in range(0, 460):
        if nr not in denied and nr not in special:
            assert _run_bpf(program, nr, arch, []) == allow, nr
    clone = 56 if col == 0 else 220
    assert _run_bpf(program, clone, arch, [0x11]) == allow  # fork: SIGCHLD only
    assert _run_bpf(program, clone, arch, [0x3D0F00]) == allow  # pthread_create's flags
    assert _run_bpf(program, clone, arch, [0x10000011]) == eperm  # CLONE_NEWUSER
    assert _run_bpf(program, 435, arch, []) == 0x00050000 | 38  # clone3: ENOSYS
    sock = 41 if col == 0 else 198
    assert _run_bpf(program, sock, arch, [2]) == allow
    assert _run_bpf(program, sock, arch, [40]) == 0x00050000 | 97  # AF_VSOCK: EAFNOSUPPORT
    pers = 135 if col == 0 else 92
    assert _run_bpf(program, pers, arch, [0xFFFFFFFF]) == allow
    assert _run_bpf(program, pers, arch, [0x0040000]) == eperm
    assert _run_bpf(program, 0, arch ^ 1, []) == eperm  # another ABI
    if machine == "x86_64":
        assert _run_bpf(program, 0x40000000 + 1, arch, []) == eperm  # x32


def test_root_plan_shows_a_project_dir_as_its_importable_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeio.exec._worker import rootfs

    project = tmp_path / "my project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "data.json").write_text("{}")
    (project / "tool.py").write_text("")
    (project / "README.md").write_text("secret notes")
    (project / ".git").mkdir()
    (project / "notes").mkdir()
    monkeypatch.setattr("sys.path", [*__import__("sys").path, str(project)])
    entries = {e.target: e for e in rootfs.plan()}
    assert entries[str(project)].kind == "view"
    shown = sorted(n for n in os.listdir(project) if rootfs._is_importable(str(project), n))
    assert shown == ["pkg", "tool.py"]
    assert not any(t.startswith(("/run", "/var/run")) for t in entries)


_FALLBACK = """
import json, os, sys
sys.path.insert(0, {exec_dir!r})
from _worker import confine, rootfs, syscalls

def refuse(*args, **kwargs):
    raise OSError("pivot_root refused (simulated)")

rootfs.build = refuse
os.chdir({where!r})
syscalls.unshare(syscalls.CLONE_NEWNS)
report = confine._init_namespaces(syscalls.CLONE_NEWNS, False, 64)
report["tmp_listing"] = os.listdir("/tmp")
print(json.dumps(report))
"""


def test_root_falls_back_to_the_host_tree_and_says_so(tmp_path: Path) -> None:
    """Where the root cannot be built, the worker keeps the host's tree with a fresh /proc and
    a private /tmp, and the report names what is missing (run in a throwaway mount namespace)."""
    if os.getuid() != 0:
        pytest.skip("needs root to unshare a mount namespace without a user namespace")
    import json
    import subprocess
    import sys

    from codeio.exec.containment import describe

    exec_dir = str(Path(__file__).resolve().parents[2] / "src" / "codeio" / "exec")
    script = _FALLBACK.format(exec_dir=exec_dir, where=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["root_error"] == "pivot_root refused (simulated)"
    assert "root" not in report and "proc" in report["namespaces"]
    if not any(p.startswith("/tmp/") for p in (sys.prefix, sys.base_prefix)):
        assert "tmp" in report["namespaces"] and report["tmp_listing"] == []
    assert "root" in describe(report).missing
