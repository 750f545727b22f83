"""Warm templates: a task that imports heavy libraries runs from a template that imported them.

The scan (``warm_imports``) is unit-tested; everything else runs real sandboxes and asserts on
counts (``started``, ``pools()``, worker pids) and on what the task itself sees in
``sys.modules`` before its own imports run, never on timings.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sysconfig
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from codeio.exec import ExecLimits, ExecTask, Sandbox, Status
from codeio.exec.sandbox import DEFAULT_PRELUDE
from codeio.exec.warm import DEFAULT_WARM, warm_imports

REPO = Path(__file__).resolve().parents[2]
NUMPY = ("numpy",)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def _probe(imports: str, expr: str) -> str:
    """Code whose f() returns [heavy modules loaded before its own imports ran, expr]."""
    return (
        "import sys\n"
        "PRE = sorted(m for m in ('numpy', 'scipy') if m in sys.modules)\n"
        f"{imports}\n"
        f"def f():\n    return [PRE, {expr}]\n"
    )


NP_SUM = _probe("import numpy as np", "int(np.arange(10).sum())")
BASE_PROBE = _probe("import math", "math.factorial(5)")


def _warm_live(sb: Sandbox) -> int:
    return sum(size for key, size in sb.pools().items() if key)


# -- the scan ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import numpy", ("numpy",)),
        ("import numpy as np", ("numpy",)),
        ("import numpy  # comment", ("numpy",)),
        ("import numpy; x = 1", ("numpy",)),
        ("import os, numpy", ("numpy",)),
        ("import scipy,numpy", ("numpy", "scipy")),
        ("import numpy as np, scipy.stats as st", ("numpy", "scipy.stats")),
        ("import numpy.linalg", ("numpy.linalg",)),
        ("import numpy.linalg as la", ("numpy.linalg",)),
        ("import   sklearn.linear_model", ("sklearn.linear_model",)),
        # `from` imports: the module, and each name that is a submodule on disk (a name that
        # is a function or class is not: its task shares the template of the module).
        ("from numpy import array", ("numpy",)),
        ("from  numpy  import  array  as  arr", ("numpy",)),
        ("from numpy import *", ("numpy",)),
        ("from scipy import stats, linalg as la", ("scipy", "scipy.linalg", "scipy.stats")),
        ("from numpy.linalg import norm", ("numpy.linalg",)),
        ("from scipy.stats import norm", ("scipy.stats",)),
        ("from sklearn import linear_model", ("sklearn", "sklearn.linear_model")),
        ("from numpy import (array,\n    zeros)", ("numpy",)),
        ("from numpy import (\n    array,\n    zeros,\n)", ("numpy",)),
        # Indented imports (inside functions, methods, try blocks) count too.
        ("def f():\n    import numpy\n    return numpy", ("numpy",)),
        ("def f():\n\tfrom scipy.special import comb\n", ("scipy.special",)),
        ("try:\n    import pandas\nexcept ImportError:\n    pass\n", ("pandas",)),
        ("import numpy\r\nimport scipy\r\n", ("numpy", "scipy")),
        ("import numpy\nimport numpy as np\nfrom numpy import array", ("numpy",)),
        # Not imports of a warm library.
        ("# import numpy", ()),
        ("x = 1  # import numpy", ()),
        ('s = "import numpy"', ()),
        ("numpyish = 1", ()),
        ("import numpyish", ()),
        ("import numpyish.numpy", ()),
        ("from numpyish import x", ()),
        ("from os import numpy", ()),
        ("from . import numpy", ()),
        ("import os, json", ()),
        ("", ()),
    ],
)
def test_warm_imports_scan(code: str, expected: tuple[str, ...]) -> None:
    assert warm_imports(code, None, DEFAULT_WARM) == expected


def test_a_library_that_cannot_be_located_on_disk_keeps_its_candidates() -> None:
    # Nothing to check the names against: the template's own report decides which are modules.
    code = "from not_installed_lib import thing\n"
    assert warm_imports(code, None, ("not_installed_lib",)) == (
        "not_installed_lib",
        "not_installed_lib.thing",
    )


def test_warm_imports_only_libraries_in_warm() -> None:
    code = "import numpy\nimport pandas\nfrom sympy import Symbol\n"
    assert warm_imports(code, None, ("numpy",)) == ("numpy",)
    assert warm_imports(code, None, ("torch",)) == ()
    assert warm_imports(code, None, ()) == ()
    assert warm_imports(code, None, DEFAULT_WARM) == ("numpy", "pandas", "sympy")


@pytest.mark.parametrize(
    "warm",
    [["numpy"], ("numpy",), frozenset({"numpy"}), iter(["numpy"]), {"numpy": 1}],
    ids=["list", "tuple", "frozenset", "iterator", "dict"],
)
def test_warm_imports_takes_any_iterable(warm: Iterable[str]) -> None:
    assert warm_imports("import numpy as np\nimport scipy\n", None, warm) == ("numpy",)


def test_warm_imports_scans_source_text_in_kwargs() -> None:
    harness = "def f(src):\n    ns = {}\n    exec(src, ns)\n    return ns['g']()\n"
    kwargs = {
        "src": "import numpy as np\ndef g():\n    return 1\n",
        "other": "from scipy import special  # as text",
        "n": 3,
        "nested": ["import pandas"],  # batch tasks pass several functions' code in lists
        "blob": {"src": "import sympy"},
        "deep": [[[["import networkx"]]]],  # below three levels: not scanned
    }
    assert warm_imports(harness, kwargs, DEFAULT_WARM) == (
        "numpy",
        "pandas",
        "scipy",
        "scipy.special",
        "sympy",
    )
    assert warm_imports(harness, None, DEFAULT_WARM) == ()
    assert warm_imports(harness, {}, DEFAULT_WARM) == ()
    # Found in both the code and the kwargs: once, sorted.
    assert warm_imports("import scipy", {"src": "import numpy\nimport scipy"}, DEFAULT_WARM) == (
        "numpy",
        "scipy",
    )


def test_prelude_and_warm_are_disjoint() -> None:
    assert "numpy" not in DEFAULT_PRELUDE
    assert "numpy" in DEFAULT_WARM and "scipy" in DEFAULT_WARM
    assert not set(DEFAULT_PRELUDE) & set(DEFAULT_WARM)


# -- templates and pools ----------------------------------------------------------------------


def test_numpy_task_runs_in_a_numpy_template_and_base_stays_lean() -> None:
    with Sandbox(workers=1) as sb:
        assert (sb.started, sb.start_s, sb.pools()) == (0, 0.0, {(): 1})
        base = sb.run(BASE_PROBE, "f")
        assert (base.status, base.value) == (Status.OK, [[], 120])
        assert sb.started == 0

        began = time.monotonic()
        first = sb.run(NP_SUM, "f")
        first_wall = time.monotonic() - began
        # numpy was in sys.modules before the task's own `import numpy` ran: the template had it.
        assert (first.status, first.value) == (Status.OK, [["numpy"], 45]), first
        assert sb.pools() == {(): 1, NUMPY: 1}
        assert sb.started == 1 and sb.start_s > 0
        assert first_wall >= sb.start_s  # the first task waited for that start

        # The base template is untouched: still no numpy for a task that does not import it.
        for _ in range(3):
            assert sb.run(BASE_PROBE, "f").value == [[], 120]
        assert sorted(sb.pools()) == [(), NUMPY]


def test_later_numpy_tasks_reuse_the_template_without_starting_workers() -> None:
    with Sandbox(workers=2) as sb:
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        started, start_s = sb.started, sb.start_s
        pids = sorted(sb.worker_pids())
        for i in range(6):
            code = _probe("import numpy as np", f"int(np.arange({i}).sum())")
            result = sb.run(code, "f")
            assert (result.status, result.value) == (Status.OK, [["numpy"], i * (i - 1) // 2])
        # Tasks that never waited for a worker do not grow the pool beyond one.
        assert (sb.started, sb.start_s) == (started, start_s)
        assert sb.pools() == {(): 2, NUMPY: 1}
        assert sorted(sb.worker_pids()) == pids


def test_concurrent_first_tasks_share_one_start() -> None:
    with Sandbox(workers=2) as sb:
        tasks = [ExecTask(code=NP_SUM, entry="f") for _ in range(2)]
        assert [r.value for r in sb.map(tasks)] == [[["numpy"], 45]] * 2
        # The second task waited for the worker being started, which is not contention.
        assert sb.started == 1
        assert sb.pools() == {(): 2, NUMPY: 1}


def test_warm_pool_grows_once_tasks_waited_as_long_as_a_start() -> None:
    with Sandbox(workers=2, limits=ExecLimits(timeout_s=30)) as sb:
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        assert sb.pools()[NUMPY] == 1
        # Each task keeps its worker busy for several times what a start took, so the second
        # lane waits that long and then starts a second numpy worker.
        busy_s = 0.3 + 3 * sb.start_s
        code = _probe("import numpy as np, time", f"time.sleep({busy_s}) or int(np.ones(3).sum())")
        tasks = [ExecTask(code=code, entry="f") for _ in range(4)]
        assert [r.value for r in sb.map(tasks)] == [[["numpy"], 3]] * 4
        assert sb.pools() == {(): 2, NUMPY: 2}  # never more than `workers` per pool
        assert sb.started == 2


def test_from_import_resolves_to_the_numpy_pool() -> None:
    with Sandbox(workers=1) as sb:
        code = _probe("from numpy import array", "int(array([1, 2, 3]).sum())")
        assert sb.run(code, "f").value == [["numpy"], 6]
        # The template reported that `numpy.array` is not a module: its key is just numpy.
        assert sb.pools() == {(): 1, NUMPY: 1}
        assert sb.started == 1
        # `import numpy` finds that pool, and the same `from` import is resolved already.
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        assert sb.run(code, "f").value == [["numpy"], 6]
        assert sb.started == 1
        assert sb.pools() == {(): 1, NUMPY: 1}


def test_import_then_from_import_end_up_in_one_pool() -> None:
    with Sandbox(workers=1) as sb:
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        code = _probe("from numpy import array, zeros", "int(array([1, 2]).sum() + zeros(2).sum())")
        # New candidates cost at most one start, which resolves them to the numpy pool...
        assert sb.run(code, "f").value == [["numpy"], 3]
        assert sb.started <= 2
        assert sorted(sb.pools()) == [(), NUMPY]
        started = sb.started
        # ...and from then on both kinds of task share it.
        for _ in range(2):
            assert sb.run(code, "f").value == [["numpy"], 3]
            assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        assert sb.started == started
        assert sorted(sb.pools()) == [(), NUMPY]


def test_source_text_in_kwargs_selects_the_template() -> None:
    harness = "def f(src):\n    ns = {}\n    exec(src, ns)\n    return ns['g']()\n"
    src = (
        "import sys\n"
        "PRE = 'numpy' in sys.modules\n"
        "import numpy as np\n"
        "def g():\n    return [PRE, int(np.arange(4).sum())]\n"
    )
    with Sandbox(workers=1) as sb:
        result = sb.run(harness, "f", {"src": src})
        assert (result.status, result.value) == (Status.OK, [True, 6]), result
        assert sb.pools() == {(): 1, NUMPY: 1}


# Task code per key; each f() returns a value checked below.
_KEYED = {
    ("numpy",): ("import numpy as np", "int(np.arange(5).sum())", 10),
    # numpy.linalg would share the numpy template (``import numpy`` loads it); these do not.
    ("numpy.polynomial",): (
        "import numpy.polynomial",
        "int(numpy.polynomial.Polynomial([1, 2, 3])(1))",
        6,
    ),
    ("numpy.fft",): ("import numpy.fft", "round(float(numpy.fft.fft([1, 1, 1]).real[0]))", 3),
    ("numpy.random",): ("import numpy.random", "len(numpy.random.default_rng(0).random(4))", 4),
}


def _keyed_task(key: tuple[str, ...]) -> ExecTask:
    imports, expr, _ = _KEYED[key]
    return ExecTask(code=_probe(imports, expr), entry="f")


def test_warm_worker_cap_evicts_least_recently_used() -> None:
    with Sandbox(workers=1, warm_workers=1) as sb:
        assert sb.warm_workers == 1
        seen: set[int] = set()
        keys = list(_KEYED) * 2
        for n, key in enumerate(keys, start=1):
            result = sb.run_task(_keyed_task(key))
            assert (result.status, result.value) == (Status.OK, [["numpy"], _KEYED[key][2]])
            pools = sb.pools()
            assert _warm_live(sb) <= 1
            warm = {k: n for k, n in pools.items() if k}
            # The one warm worker is this key's (resolved: the packages above it are held too).
            assert pools[()] == 1 and list(warm.values()) == [1]
            assert set(key) <= set(next(iter(warm)))
            assert len(sb.worker_pids()) <= 2
            seen.update(sb.worker_pids())
            assert sb.started == n  # every switch of key evicted the previous one and started
        # Evicted workers are really gone, not just forgotten.
        gone = seen - set(sb.worker_pids())
        assert len(gone) == len(keys) - 1
        assert all(_state(pid) == "gone" for pid in gone)


def test_warm_worker_cap_holds_under_concurrency() -> None:
    with Sandbox(workers=2, warm_workers=1) as sb:
        assert sb.warm_workers == 2  # clamped: never fewer warm workers than lanes
        tasks = [_keyed_task(key) for key in list(_KEYED) * 3]
        peak = 0
        for index, result in sb.imap_unordered(tasks):
            key = list(_KEYED)[index % len(_KEYED)]
            assert (result.status, result.value) == (Status.OK, [["numpy"], _KEYED[key][2]])
            peak = max(peak, _warm_live(sb))
            assert len(sb.worker_pids()) <= 2 + 2
        assert 1 <= peak <= 2
        assert _warm_live(sb) <= 2
        # Still serves the base pool and a fresh key afterwards.
        assert sb.run(BASE_PROBE, "f").value == [[], 120]
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        assert _warm_live(sb) <= 2


# -- confinement of warm imports and of tasks in warm templates ------------------------------

_PLANTED = """
import os, socket
RESULTS = {{"pid": os.getpid(), "uid": os.geteuid()}}

def _try(fn):
    try:
        fn()
        return "allowed"
    except OSError as e:
        return type(e).__name__

def _write(path):
    with open(path, "w") as fh:
        fh.write("pwned")

def _connect():
    socket.create_connection(("127.0.0.1", {port}), timeout=1).close()

RESULTS["write_repo"] = _try(lambda: _write({repo_target!r}))
RESULTS["write_home"] = _try(lambda: _write({home_target!r}))
RESULTS["write_cwd"] = _try(lambda: _write("planted-by-import"))
RESULTS["write_task_home"] = _try(lambda: _write(os.path.join(os.environ["HOME"], "cache")))
RESULTS["connect"] = _try(_connect)
with open("/proc/self/status") as fh:
    RESULTS["nnp"] = [line.split()[1] for line in fh if line.startswith("NoNewPrivs")][0]
"""


def test_warm_imports_run_confined_like_a_task(listener: socket.socket) -> None:
    """A module imported on a task's behalf runs under the task's confinement, and whatever it
    wrote into the task dir is gone before the first task."""
    token = secrets.token_hex(4)
    name = f"codeio_warm_probe_{token}"
    repo_target = REPO / f"codeio-escape-{token}"
    home_target = Path.home() / f"codeio-escape-{token}"
    # An installed module whose import-time code probes what it may do: installed in this
    # environment's site-packages, as the libraries a template imports are.
    module_path = Path(sysconfig.get_paths()["purelib"]) / f"{name}.py"
    planted = _PLANTED.format(
        port=listener.getsockname()[1], repo_target=str(repo_target), home_target=str(home_target)
    )
    module_path.write_text(planted)
    try:
        with Sandbox(workers=1, warm=(name,)) as sb:
            code = (
                "import os, sys\n"
                f"PRE = {name!r} in sys.modules\n"
                f"import {name} as probe\n"
                "def f():\n    return [PRE, probe.RESULTS, os.getuid(), os.listdir('.')]\n"
            )
            result = sb.run(code, "f")
            assert result.status is Status.OK, result
            pre, got, task_uid, listing = result.value
            assert pre is True  # imported by the template, not by the task
            assert sb.pools() == {(): 1, (name,): 1}
            active = sb.report.active
            if "pid" in active:
                assert got["pid"] == 1  # the template itself is PID 1 of its namespace
            assert got["uid"] == task_uid
            if sb.report.detail.get("task_uid"):
                assert got["uid"] != 0
            if "landlock" in active:
                assert got["nnp"] == "1"
                for what in ("write_repo", "write_home"):
                    # EACCES from Landlock, or EROFS/ENOENT where the path lies in (or beyond)
                    # the read-only root
                    assert got[what] in ("PermissionError", "OSError", "FileNotFoundError"), (
                        what,
                        got,
                    )
            # The template imports from inside its (then empty) task dir, which is writable,
            # and emptied again before the first task.
            assert got["write_cwd"] == "allowed"
            if "net" in active:
                assert got["connect"] != "allowed"
            assert got["write_task_home"] == "allowed"
            assert listing == []  # what the import left in $HOME was removed before the task
            assert not (Path.cwd() / "planted-by-import").exists()
    finally:
        module_path.unlink(missing_ok=True)
        for target in (repo_target, home_target):
            leaked = target.exists()
            target.unlink(missing_ok=True)
            assert not leaked, target
        with pytest.raises(socket.timeout):
            listener.accept()


def test_task_in_a_warm_template_is_still_contained(listener: socket.socket) -> None:
    token = secrets.token_hex(4)
    targets = [REPO / f"codeio-escape-{token}", Path.home() / f"codeio-escape-{token}"]
    port = listener.getsockname()[1]
    code = (
        "import sys\n"
        "PRE = 'numpy' in sys.modules\n"
        "import numpy as np, os, socket\n"
        "def attempt(fn):\n"
        "    try:\n        fn()\n        return 'allowed'\n"
        "    except OSError as e:\n        return type(e).__name__\n"
        "def f(targets, port):\n"
        "    out = {'pre': PRE, 'sum': int(np.arange(3).sum())}\n"
        "    out['writes'] = [attempt(lambda: np.save(t, np.zeros(3))) for t in targets]\n"
        "    out['dirs'] = [attempt(lambda: os.makedirs(t + '.d')) for t in targets]\n"
        "    out['connect'] = attempt(\n"
        "        lambda: socket.create_connection(('127.0.0.1', port), timeout=1))\n"
        "    np.save('inside.npy', np.ones(2))\n"
        "    out['inside'] = float(np.load('inside.npy').sum())\n"
        "    return out\n"
    )
    try:
        with Sandbox(workers=1) as sb:
            result = sb.run(code, "f", {"targets": [str(t) for t in targets], "port": port})
            assert result.status is Status.OK, result
            v = result.value
            assert (v["pre"], v["sum"], v["inside"]) == (True, 3, 2.0)
            assert sb.pools() == {(): 1, NUMPY: 1}
            if "root" in sb.report.active:  # read-only root (EROFS) or absent paths
                refused = {"OSError", "FileNotFoundError", "PermissionError"}
                assert set(v["writes"]) | set(v["dirs"]) <= refused, v
            elif "landlock" in sb.report.active:
                assert v["writes"] == v["dirs"] == ["PermissionError"] * 2
            if "net" in sb.report.active:
                assert v["connect"] != "allowed"
            # The next numpy task in the same template starts from an empty task dir.
            listing = sb.run(_probe("import numpy, os", "os.listdir('.')"), "f")
            assert listing.value == [["numpy"], []]
    finally:
        leaked = [t for t in targets if t.exists() or Path(str(t) + ".npy").exists()]
        for t in targets:
            for path in (t, Path(str(t) + ".npy")):
                path.unlink(missing_ok=True)
            if Path(str(t) + ".d").is_dir():
                Path(str(t) + ".d").rmdir()
                leaked.append(t)
        assert leaked == []
        with pytest.raises(socket.timeout):
            listener.accept()


# -- failures --------------------------------------------------------------------------------


def test_warm_library_that_is_not_installed_is_a_plain_import_error() -> None:
    with Sandbox(workers=1, warm=("numpy", "definitely_not_installed_pkg")) as sb:
        for _ in range(2):
            result = sb.run("import definitely_not_installed_pkg\n")
            assert result.status is Status.ERROR, result
            assert result.error_type == "ModuleNotFoundError"
        # The sandbox keeps working, warm and base.
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        assert sb.run(BASE_PROBE, "f").value == [[], 120]
        both = _probe("import numpy\nimport definitely_not_installed_pkg", "1")
        assert sb.run(both, "f").error_type == "ModuleNotFoundError"
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]


def test_unresolvable_candidates_do_not_use_up_warm_slots() -> None:
    with Sandbox(workers=1, warm_workers=1, warm=("numpy", "definitely_not_installed_pkg")) as sb:
        assert sb.run("import definitely_not_installed_pkg\n").error_type == "ModuleNotFoundError"
        assert sb.pools() == {(): 1}
        holder: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: holder.setdefault("r", sb.run(NP_SUM, "f")), daemon=True
        )
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "a numpy task waits forever for a warm slot"
        assert holder["r"].value == [["numpy"], 45]  # type: ignore[attr-defined]


def test_failed_submodule_import_does_not_leak_into_the_base_pool() -> None:
    with Sandbox(workers=1) as sb:
        result = sb.run("import numpy.definitely_not_a_submodule\n")
        assert (result.status, result.error_type) == (Status.ERROR, "ModuleNotFoundError")
        for _ in range(3):
            assert sb.run(BASE_PROBE, "f").value == [[], 120]
        assert sb.pools().get((), 0) == 1


# -- warm and cold give the same answers -----------------------------------------------------

_SAME = [
    ExecTask(code="import numpy as np\ndef f():\n    return np.linalg.solve([[3, 1], [1, 2]], [9, 8]).tolist()\n", entry="f"),
    ExecTask(code="import numpy as np\ndef f():\n    return np.random.default_rng(7).integers(0, 100, 5).tolist()\n", entry="f"),
    ExecTask(code="import numpy as np\nprint(np.arange(6).reshape(2, 3))\nprint(repr(np.float64(1) / 3))\n"),
    ExecTask(code="import numpy as np\ndef f():\n    return np.linalg.inv(np.zeros((2, 2)))\n", entry="f"),
    ExecTask(code="import numpy as np\ndef f():\n    return np.int64(3)\n", entry="f"),
    ExecTask(code="def f(n):\n    import numpy\n    return numpy.arange(n).tolist()\n", entry="f", kwargs={"n": 4}),
    ExecTask(code="from scipy.special import comb\ndef f():\n    return [int(comb(10, 3, exact=True)), float(comb(5, 2))]\n", entry="f"),
    ExecTask(code="import scipy.linalg\nimport numpy as np\ndef f():\n    return round(float(scipy.linalg.det(np.eye(3) * 2)), 6)\n", entry="f"),
]  # fmt: skip


def test_results_are_the_same_with_and_without_warm_templates() -> None:
    def outcome(sb: Sandbox) -> list[tuple[object, ...]]:
        return [
            (r.status, r.value, r.stdout, r.stderr, r.error_type, r.error_message)
            for r in sb.map(_SAME)
        ]

    with Sandbox(workers=2, warm=()) as cold:
        plain = outcome(cold)
        assert cold.pools() == {(): 2} and cold.started == 0
    with Sandbox(workers=2) as warm:
        warmed = outcome(warm)
        assert warm.started >= 1
        assert any(key for key in warm.pools())
    assert warmed == plain
    statuses = [o[0] for o in plain]
    assert statuses.count(Status.OK) == len(_SAME) - 2
    assert plain[3][4] == "LinAlgError" and plain[4][4] == "ResultNotSerializable"
    assert plain[0][1] == [2.0, 3.0]


def test_warm_sandbox_is_usable_after_a_worker_of_a_warm_pool_is_killed() -> None:
    with Sandbox(workers=1) as sb:
        base_pids = set(sb.worker_pids())
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        (warm_pid,) = set(sb.worker_pids()) - base_pids
        os.killpg(warm_pid, signal.SIGKILL)
        # The dead warm worker is noticed, replaced, and the task retried transparently.
        result = sb.run(NP_SUM, "f")
        assert (result.status, result.value) == (Status.OK, [["numpy"], 45]), result
        assert sb.pools() == {(): 1, NUMPY: 1}
        assert warm_pid not in sb.worker_pids()
        assert base_pids <= set(sb.worker_pids())


def test_a_submodule_the_template_holds_already_needs_no_template_of_its_own() -> None:
    linalg = _probe("import numpy.linalg", "round(float(numpy.linalg.det([[2, 0], [0, 3]])))")
    with Sandbox(workers=1) as sb:
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        assert sb.started == 1
        # `import numpy` loaded numpy.linalg in the numpy template: no second template.
        assert sb.run(linalg, "f").value == [["numpy"], 6]
        assert sb.started == 1 and sorted(sb.pools()) == [(), NUMPY]
        # numpy.fft is not loaded by `import numpy`: it gets a template that holds it.
        fft = _keyed_task(("numpy.fft",))
        assert sb.run_task(fft).value == [["numpy"], 3]
        assert sb.started == 2


def test_prepare_starts_a_template_in_the_background_once() -> None:
    with Sandbox(workers=1) as sb:
        sb.prepare(["math", "json"])  # nothing warm: nothing to start
        sb.prepare(NUMPY)
        sb.prepare(NUMPY)  # already starting: not a second one
        assert not sb.can_serve_now(NUMPY)  # a lane would wait for the start
        assert sb.can_serve_now(())
        deadline = time.monotonic() + 60
        while not sb.can_serve_now(NUMPY) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sb.can_serve_now(NUMPY) and sb.started == 1
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        assert sb.started == 1 and sorted(sb.pools()) == [(), NUMPY]


def _preloaded(module: str, imports: str) -> str:
    """Code whose f() says whether ``module`` was loaded before the task's own imports ran."""
    return f"import sys\nPRE = {module!r} in sys.modules\n{imports}\ndef f():\n    return PRE\n"


SCIPY_TASKS = [
    _preloaded("scipy.spatial", "import scipy.spatial"),
    _preloaded("scipy.optimize", "from scipy.optimize import minimize"),
    _preloaded("scipy.integrate", "import numpy as np\nfrom scipy import integrate"),
]


def test_one_scipy_template_serves_every_scipy_submodule() -> None:
    # A scipy template imports scipy.stats too (which loads nearly all of scipy), so code that
    # names other submodules shares it instead of importing scipy again in a template of its own.
    with Sandbox(workers=1) as sb:
        for code in SCIPY_TASKS:
            assert sb.run(code, "f").value is True
        # The third task names numpy as well: scipy's template holds numpy, so it serves it.
        assert sb.started == 1
        assert sum(1 for key in sb.pools() if key) == 1


def test_concurrent_tasks_of_one_library_wait_for_its_template() -> None:
    # Both lanes want scipy at once, for different submodules: one template starts, the other
    # task waits for it rather than importing scipy a second time.
    with Sandbox(workers=2) as sb:
        tasks = [ExecTask(code=code, entry="f") for code in SCIPY_TASKS[:2]]
        assert [r.value for r in sb.map(tasks)] == [True, True]
        assert sb.started == 1


def test_a_template_that_loaded_other_libraries_serves_their_tasks() -> None:
    # scipy imports numpy: a task of numpy + scipy forks from the scipy template; a plain numpy
    # task (the common case) keeps a small template of its own.
    with Sandbox(workers=1) as sb:
        assert sb.run(_preloaded("scipy.stats", "import scipy.stats"), "f").value is True
        both = _preloaded("scipy.stats", "import numpy as np\nfrom scipy import stats")
        assert sb.run(both, "f").value is True
        assert sb.started == 1
        assert sb.run(NP_SUM, "f").value == [["numpy"], 45]
        assert sb.started == 2 and NUMPY in sb.pools()


def test_prepared_templates_start_in_order_and_serve_what_they_hold() -> None:
    # Prepared one after the other, the second request finds the first template up and
    # holding its modules, so no second template starts.
    with Sandbox(workers=1) as sb:
        sb.prepare(("scipy.stats",))
        sb.prepare(("numpy", "scipy.optimize"))
        assert not sb.can_serve_now(("numpy", "scipy.optimize"))  # queued, not started
        deadline = time.monotonic() + 60
        while not sb.can_serve_now(("numpy", "scipy.optimize")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # a second start, were there one, would have begun by now
        assert sb.started == 1
        code = _preloaded("scipy.optimize", "import numpy\nfrom scipy.optimize import minimize")
        assert sb.run(code, "f").value is True
        assert sb.started == 1
