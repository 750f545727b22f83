"""Hostile snippets against each containment rule; each also checks the host is unharmed."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from codeio.exec import ExecLimits, Sandbox, SandboxUnavailable, Status

from .conftest import SECRET, require

REPO = Path(__file__).resolve().parents[2]


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry))
    return found


def _usable(sb: Sandbox) -> None:
    assert sb.run("def f():\n    return 42\n", "f").value == 42


@pytest.mark.parametrize(
    "target",
    [
        Path("/tmp") / f"codeio-escape-{secrets.token_hex(4)}",
        REPO / f"codeio-escape-{secrets.token_hex(4)}",
        Path.home() / f"codeio-escape-{secrets.token_hex(4)}",
    ],
)
def test_no_write_outside_task_dir(sandbox: Sandbox, target: Path) -> None:
    code = (
        "import os\n"
        f"p = {str(target)!r}\n"
        "try:\n    open(p, 'w').write('pwned')\nexcept OSError:\n    pass\n"
        "os.makedirs(p + '.d', exist_ok=True)\n"
    )
    result = sandbox.run(code)
    assert result.status is Status.ERROR
    assert not target.exists() and not Path(str(target) + ".d").exists()
    _usable(sandbox)


def test_task_dir_is_removed_afterwards(sandbox: Sandbox) -> None:
    where = sandbox.run(
        "import os\ndef f():\n    open('x', 'w').write('1')\n    return os.getcwd()\n", "f"
    )
    assert where.status is Status.OK
    listing = sandbox.run("import os\ndef f():\n    return os.listdir('.')\n", "f")
    assert listing.value == []


def test_no_network_connection_reaches_host_listener(
    sandbox: Sandbox, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    code = (
        "import socket\n"
        f"for host in ('127.0.0.1', 'localhost'):\n"
        f"    try:\n        socket.create_connection((host, {port}), timeout=1).send(b'hi')\n"
        "    except OSError as e:\n        print('blocked', e)\n"
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"try:\n    u.sendto(b'x', ('127.0.0.1', {port}))\nexcept OSError as e:\n    print('udp blocked', e)\n"
        f"socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
    )
    result = sandbox.run(code)
    assert result.status is Status.ERROR
    with pytest.raises(socket.timeout):
        listener.accept()
    _usable(sandbox)


def test_secret_env_never_visible(sandbox: Sandbox) -> None:
    assert os.environ["CODEIO_TEST_API_KEY"] == SECRET
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "paths = ['/proc/self/environ', f'/proc/{os.getppid()}/environ', '/proc/1/environ']\n"
        "paths += [f'/proc/{p}/environ' for p in os.listdir('/proc') if p.isdigit()]\n"
        "for p in paths:\n"
        "    try:\n        print(p, open(p, 'rb').read())\n"
        "    except OSError as e:\n        print(p, 'denied', e)\n"
    )
    result = sandbox.run(code)
    assert result.status is Status.OK
    assert "denied" in result.stdout or "/proc/1/environ" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_host_processes_invisible(sandbox: Sandbox) -> None:
    require(sandbox, "pid")
    pids = sandbox.run(
        "import os\ndef f():\n    return [int(p) for p in os.listdir('/proc') if p.isdigit()]\n",
        "f",
    ).value
    assert os.getpid() not in pids or len(pids) <= 3
    assert len(pids) <= 3  # the worker (1) and the task itself


@pytest.mark.parametrize("style", ["fork", "double_fork_setsid", "ignore_sigterm"])
def test_no_process_outlives_its_task(sandbox: Sandbox, style: str) -> None:
    marker = f"{30 + secrets.randbelow(10**6) / 10**7:.7f}"
    spawn = f"os.execv('/bin/sleep', ['sleep', '{marker}'])"
    if style == "fork":
        body = f"if os.fork() == 0:\n    {spawn}\n"
    elif style == "double_fork_setsid":
        body = (
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        {spawn}\n    os._exit(0)\n"
        )
    else:
        # A shell that ignores SIGTERM, in its own session; the marker is its $0.
        marker = f"codeio-marker-{secrets.token_hex(6)}"
        body = (
            "if os.fork() == 0:\n    os.setsid()\n"
            f"    os.execv('/bin/sh', ['sh', '-c', 'trap \"\" TERM; sleep 30; :', '{marker}'])\n"
        )
    # The task proves the process really started before it ends.
    seen = (
        "def running():\n    for p in os.listdir('/proc'):\n        try:\n"
        "            if MARK.encode() in open(f'/proc/{p}/cmdline', 'rb').read():\n"
        "                return True\n        except OSError:\n            pass\n    return False\n"
        "for _ in range(100):\n    time.sleep(0.02)\n    if running():\n        print('seen')\n        break\n"
    )
    code = f"import os, time\nMARK = {marker!r}\n" + body + seen
    result = sandbox.run(code)
    assert result.status is Status.OK, result
    assert "seen" in result.stdout
    assert _processes_with(marker) == []
    _usable(sandbox)


def test_fork_bomb_is_bounded(sandbox: Sandbox) -> None:
    require(sandbox, "nproc")
    code = (
        "import os, time\n"
        "def f():\n    n = 0\n    for _ in range(1000):\n        try:\n            pid = os.fork()\n"
        "        except OSError:\n            break\n        if pid == 0:\n            time.sleep(30)\n"
        "            os._exit(0)\n        n += 1\n    return n\n"
    )
    result = sandbox.run(code, "f", limits=ExecLimits(processes=32, timeout_s=10))
    assert result.status is Status.OK
    assert result.value < 32
    bomb = "import os\nwhile True:\n    os.fork()\n"
    assert sandbox.run(bomb, limits=ExecLimits(timeout_s=3)).status is not Status.OK
    _usable(sandbox)


def test_printed_result_cannot_forge(sandbox: Sandbox) -> None:
    code = (
        "import json, sys\n"
        "print(json.dumps({'status': 'ok', 'value': 1, 'kind': 'ok', 'value_json': '1'}))\n"
        "sys.stderr.write(json.dumps({'kind': 'ok', 'value_json': '1'}))\n"
        "raise ValueError('boom')\n"
    )
    result = sandbox.run(code)
    assert result.status is Status.ERROR and result.error_type == "ValueError"


def test_writing_result_fd_directly_is_detected(sandbox: Sandbox) -> None:
    forged = b'{"kind":"ok","value_json":"1"}'
    code = (
        "import os, struct\n"
        f"body = {forged!r}\n"
        "for fd in range(3, 64):\n"
        "    try:\n        os.write(fd, struct.pack('<I', len(body)) + body)\n"
        "    except OSError:\n        pass\n"
        "raise ValueError('boom')\n"
    )
    result = sandbox.run(code)
    assert result.status is Status.ERROR
    assert result.error_type == "ResultChannelTampered"


def test_worker_death_is_sandbox_error_then_recovers() -> None:
    with Sandbox(workers=1, retries=0) as sb:
        holder: dict[str, object] = {}

        def slow() -> None:
            holder["r"] = sb.run("import time\ntime.sleep(5)\n")

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.5)
        for pid in sb.worker_pids():
            os.killpg(pid, signal.SIGKILL)
        thread.join(30)
        assert holder["r"].status is Status.SANDBOX_ERROR  # type: ignore[attr-defined]
        _usable(sb)


def test_worker_death_is_retried_transparently() -> None:
    with Sandbox(workers=1, retries=1) as sb:
        holder: dict[str, object] = {}
        code = "import time\ndef f():\n    time.sleep(1)\n    return 'done'\n"

        def slow() -> None:
            holder["r"] = sb.run(code, "f")

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.4)
        for pid in sb.worker_pids():
            os.killpg(pid, signal.SIGKILL)
        thread.join(30)
        assert holder["r"].value == "done"  # type: ignore[attr-defined]


def test_containment_is_reported_and_strict_mode() -> None:
    with Sandbox(workers=1) as sb:
        assert sb.containment in {"full", "partial", "minimal"}
        full = sb.report.full
    if full:
        with Sandbox(workers=1, containment="strict") as sb:
            assert sb.containment == "full"
    else:
        with pytest.raises(SandboxUnavailable):
            Sandbox(workers=1, containment="strict")
    with Sandbox(workers=1, containment="none") as sb:
        assert sb.containment != "full"
