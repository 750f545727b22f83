"""Hostile snippets against each containment rule; each also checks the host is unharmed."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from codeio.exec import ExecLimits, ExecTask, Sandbox, SandboxUnavailable, Status

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


# -- the minimal root, the filter and the libraries that must still work ----------------------

_LIBRARY_CASES = {
    "numpy": (
        "import numpy as np\ndef f():\n    a = np.arange(12.).reshape(3, 4)\n"
        "    return int(round(float(np.linalg.norm(a @ a.T))))\n",
        502,
    ),
    "scipy": (
        "from scipy import optimize, linalg\nimport numpy as np\ndef f():\n"
        "    r = optimize.minimize_scalar(lambda x: (x - 2) ** 2)\n"
        "    return [round(float(r.x), 3), float(linalg.det(np.eye(3)))]\n",
        [2.0, 1.0],
    ),
    "sklearn": (
        "from sklearn.linear_model import LinearRegression\nimport numpy as np\ndef f():\n"
        "    X = np.arange(10).reshape(-1, 1)\n"
        "    return round(float(LinearRegression().fit(X, 2 * X.ravel() + 1).coef_[0]), 3)\n",
        2.0,
    ),
    "pandas": (
        "import pandas as pd\ndef f():\n    df = pd.DataFrame({'a': [1, 2, 3], 'b': [4, 5, 6]})\n"
        "    return int(df.groupby(df.a % 2).b.sum().sum())\n",
        15,
    ),
    "sympy": (
        "import sympy as sp\ndef f():\n    x = sp.symbols('x')\n"
        "    return str(sp.integrate(x**2, x))\n",
        "x**3/3",
    ),
    "networkx": (
        "import networkx as nx\ndef f():\n    return nx.shortest_path_length(nx.path_graph(5), 0, 4)\n",
        4,
    ),
    "matplotlib": (
        "import matplotlib\nmatplotlib.use('Agg')\nimport io\nimport matplotlib.pyplot as plt\n"
        "def f():\n    fig, ax = plt.subplots()\n    ax.plot([1, 2, 3])\n    buf = io.BytesIO()\n"
        "    fig.savefig(buf, format='png')\n    return buf.getvalue()[1:4].decode()\n",
        "PNG",
    ),
    "nltk": (
        "import nltk\ndef f():\n    return nltk.tokenize.wordpunct_tokenize('Hello, world!')\n",
        ["Hello", ",", "world", "!"],
    ),
    "multiprocessing": (
        "import multiprocessing as mp\ndef sq(x):\n    return x * x\ndef f():\n"
        "    with mp.get_context('fork').Pool(2) as pool:\n        return pool.map(sq, range(4))\n",
        [0, 1, 4, 9],
    ),
    "threads": (
        "from concurrent.futures import ThreadPoolExecutor\ndef f():\n"
        "    with ThreadPoolExecutor(4) as ex:\n        return list(ex.map(lambda x: x + 1, range(3)))\n",
        [1, 2, 3],
    ),
}


@pytest.mark.slow
def test_scientific_stack_works_in_the_minimal_root_under_the_filter() -> None:
    """Every library of DEFAULT_WARM imports (from its warm template) and computes; so do a
    fork-based multiprocessing pool (its semaphores live in /dev/shm) and threads."""
    pytest.importorskip("sklearn")
    with Sandbox(workers=2, limits=ExecLimits(timeout_s=60)) as sb:
        for mechanism in ("root", "seccomp"):
            require(sb, mechanism)
        tasks = [ExecTask(code=code, entry="f") for code, _ in _LIBRARY_CASES.values()]
        results = list(sb.map(tasks))
    for (name, (_, expected)), result in zip(_LIBRARY_CASES.items(), results, strict=True):
        assert (name, result.status, result.value) == (name, Status.OK, expected), result


def test_minimal_root_shows_only_what_the_interpreter_needs(sandbox: Sandbox) -> None:
    require(sandbox, "root")
    code = (
        "import os, sys\n"
        "def f(home, repo):\n"
        "    def ls(p):\n"
        "        try:\n            return sorted(os.listdir(p))\n"
        "        except OSError as e:\n            return type(e).__name__\n"
        "    return {'root': ls('/'), 'home': ls(home), 'repo': ls(repo), 'etc': ls('/etc'),\n"
        "            'dev': ls('/dev'), 'run': ls('/run'), 'prefix': ls(sys.prefix) != 'x'}\n"
    )
    result = sandbox.run(code, "f", {"home": str(Path.home()), "repo": str(REPO)})
    assert result.status is Status.OK, result
    v = result.value
    assert "home" not in v["root"] and "run" not in v["root"] and "var" not in v["root"]
    assert v["run"] == "FileNotFoundError"
    assert "shadow" not in v["etc"] and "passwd" in v["etc"]
    assert set(v["dev"]) <= {"null", "zero", "full", "random", "urandom", "fd", "stdin",
                             "stdout", "stderr", "shm"}  # fmt: skip
    # The checkout shows only what is importable from it (here: the venv and src/codeio).
    if isinstance(v["repo"], list):
        assert "README.md" not in v["repo"] and ".git" not in v["repo"]
        assert "tests" not in v["repo"]


def test_seccomp_denies_with_an_ordinary_error(sandbox: Sandbox) -> None:
    require(sandbox, "seccomp")
    code = (
        "import ctypes, errno, os\n"
        "def f():\n"
        "    out = {}\n"
        "    try:\n        os.memfd_create('x')\n        out['memfd'] = 'allowed'\n"
        "    except OSError as e:\n        out['memfd'] = errno.errorcode[e.errno]\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    out['ptrace'] = [libc.ptrace(0, 0, None, None), errno.errorcode[ctypes.get_errno()]]\n"
        "    out['unshare'] = [libc.unshare(0x10000000), errno.errorcode[ctypes.get_errno()]]\n"
        "    return out\n"
    )
    result = sandbox.run(code, "f")
    assert result.status is Status.OK, result
    assert result.value == {
        "memfd": "EPERM",
        "ptrace": [-1, "EPERM"],
        "unshare": [-1, "EPERM"],
    }


@pytest.mark.slow
def test_a_venv_under_tmp_with_a_space_in_its_path_works(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The issue's bug: /tmp was replaced by a private tmpfs, so an interpreter living there
    vanished. A real venv under /tmp (path with a space), numpy copied into it, runs a task."""
    import numpy
    import pydantic

    top = Path(tempfile.mkdtemp(prefix="codeio venv ", dir="/tmp"))
    try:
        venv = top / "my env"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
        )
        site = Path(
            subprocess.run(
                [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                check=True, capture_output=True, text=True, timeout=60,
            ).stdout.strip()
        )  # fmt: skip
        np_dir = Path(numpy.__file__).parent
        shutil.copytree(np_dir, site / "numpy", symlinks=True)
        if (np_dir.parent / "numpy.libs").is_dir():
            shutil.copytree(np_dir.parent / "numpy.libs", site / "numpy.libs", symlinks=True)
        # codeio and its own dependencies for the host side, after the venv's own packages.
        deps = Path(pydantic.__file__).parent.parent
        (site / "codeio-dev.pth").write_text(f"{REPO / 'src'}\n{deps}\n")
        script = (
            "import json, sys\n"
            "from codeio.exec import Sandbox\n"
            "with Sandbox(workers=1) as sb:\n"
            "    r = sb.run('import numpy, sys\\ndef f():\\n    return [int(numpy.arange(5).sum()),"
            " numpy.__file__, sys.prefix]\\n', 'f')\n"
            "    print(json.dumps([sb.containment, r.status.value, r.value, r.error_message]))\n"
        )
        out = subprocess.run(
            [str(venv / "bin" / "python"), "-c", script],
            capture_output=True, text=True, timeout=240, cwd=str(top),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        level, status, value, error = json.loads(out.stdout.strip().splitlines()[-1])
        assert status == "ok", error
        total, np_file, prefix = value
        assert total == 10
        assert np_file.startswith(str(site)) and prefix == str(venv)
    finally:
        shutil.rmtree(top, ignore_errors=True)
