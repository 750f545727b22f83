"""The engine's hostile suite: tests/exec/hostile/{crosstask,limits,crash,hang,signals}.

Each snippet runs in a real sandbox and is judged from outside: the zygote's memory read
directly through /proc/<pid>/mem (as root), resident memory of host and worker from
/proc/<pid>/status, wall time, which processes are still alive, and the typed result. A snippet
never judges itself. See tests/exec/hostile/README.md for the snippet contract.
"""

from __future__ import annotations

import ast
import os
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codeio.exec import ExecLimits, ExecResult, ExecTask, Sandbox, SandboxUnavailable, Status

HOSTILE = Path(__file__).resolve().parent / "hostile"
CLASSES = ("crosstask", "limits", "crash", "hang", "signals")
TIMEOUT_S = 3.0
LIMITS = ExecLimits(timeout_s=TIMEOUT_S, memory_mb=1024, result_bytes=4 << 20)
ENGINE_GRACE_S = 1.0 + 2.0 + 3.0
"""Reap budget + clean-up budget + slack for a loaded machine: the most a run may exceed its
deadline by."""
HOST_GROWTH_MB = 64
WORKER_GROWTH_MB = 16
MARKER = "codeio-hostile-engine"
SECRET_PREFIX = "codeio-secret-"
REPO = Path(__file__).resolve().parents[2]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="reads other processes' memory")


def _snippets(*classes: str) -> list[Path]:
    return [p for c in classes for p in sorted((HOSTILE / c).glob("*.py"))]


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _entry(source: str) -> str | None:
    tree = ast.parse(source)
    return (
        "main"
        if any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)
        else None
    )


def _run(
    sb: Sandbox, path: Path, ctx: dict, limits: ExecLimits = LIMITS, prefix: str = ""
) -> ExecResult:
    source = prefix + path.read_text()
    entry = _entry(source)
    return sb.run(source, entry, {"ctx": ctx} if entry else None, limits=limits)


# -- looking at processes from outside -------------------------------------------------------


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            kids += [int(x) for x in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            pass
    return kids


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += _children(p)
    return found


def _alive(pid: int) -> bool:
    state = _status(pid).get("State", "Z")
    return not state.startswith(("Z", "X"))


def _zygotes(sb: Sandbox) -> list[int]:
    """The worker processes that fork tasks: PID 1 of their namespace."""
    return [
        p
        for launcher in sb.worker_pids()
        for p in _tree(launcher)
        if _status(p).get("NSpid", "").split()[1:] == ["1"]
    ]


def _rss_kb(pid: int | str) -> int:
    return int(_status(pid).get("VmRSS", "0 kB").split()[0])  # type: ignore[arg-type]


def _memory_holds(pid: int, needle: bytes) -> bool:
    """Whether ``needle`` is anywhere in the readable memory of ``pid``."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or fields[-1] in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, OverflowError, ValueError):
                continue
            if needle in data:
                return True
    return False


def _with_cmdline(text: str) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found


def _settled(sb: Sandbox) -> None:
    """Every zygote holds at most its one child forked ahead, within 2 s."""
    deadline = time.monotonic() + 2.0
    while True:
        extra = {z: [c for c in _tree(z)[1:] if _alive(c)] for z in _zygotes(sb)}
        if all(len(kids) <= 1 for kids in extra.values()):
            return
        assert time.monotonic() < deadline, f"task processes survived: {extra}"
        time.sleep(0.05)


FOLLOW_UP = "import os\ndef f():\n    return [os.listdir('.'), 'LEFT_BEHIND' in os.environ]\n"


# -- crosstask: no channel between tasks ----------------------------------------------------


@pytest.fixture(scope="module")
def lone() -> Iterator[Sandbox]:
    """One worker per template, so every task of a template runs in the same one."""
    with Sandbox(workers=1, limits=LIMITS) as sb:
        yield sb


PLANTERS = [p for p in _snippets("crosstask") if p.stem != "scan_own_memory"]


@needs_root
@pytest.mark.parametrize("template", ["base", "numpy"])
@pytest.mark.parametrize("planter", PLANTERS, ids=_id)
def test_a_task_leaves_nothing_for_the_next(lone: Sandbox, planter: Path, template: str) -> None:
    secret = SECRET_PREFIX + secrets.token_hex(16)
    prefix = "import numpy\n" if template == "numpy" else ""
    # The secret goes into the code and the kwargs too, whatever the snippet does with it.
    source_tail = f"\n# {secret}\n"
    ctx = {"secret": secret, "marker": MARKER, "also": [secret] * 10}
    code = prefix + planter.read_text() + source_tail
    first = lone.run(code, _entry(code), {"ctx": ctx})
    assert first.status is not Status.SANDBOX_ERROR, first
    if planter.stem == "plant_in_traceback":
        assert (first.status, first.error_type) == (Status.ERROR, "ValueError")
        assert len(first.traceback or "") <= 4000
    _settled(lone)
    assert not [p for p in _with_cmdline(secret) if _alive(p)], "a process holding it survived"

    # The judge: the processes every later task is forked from (and the child already forked
    # for the next task) never held the secret.
    zygotes = _zygotes(lone)
    if not zygotes:
        pytest.skip("no PID namespace here: no zygote to read")
    assert all(_memory_holds(z, b"__codeio_task__") for z in zygotes)  # the reading works
    for pid in [p for z in zygotes for p in _tree(z)]:
        assert not _memory_holds(pid, secret.encode()), f"pid {pid} holds the secret"

    # And a later task of the same worker and template that looks everywhere finds nothing.
    scan = _run(
        lone, HOSTILE / "crosstask" / "scan_own_memory.py", {"marker": MARKER}, prefix=prefix
    )
    assert scan.status is Status.OK, scan
    assert secret not in scan.value
    follow = lone.run(prefix + FOLLOW_UP, "f")
    assert follow.value == [[], False]
    expected_pool = ("numpy",) if template == "numpy" else ()
    assert expected_pool in lone.pools()


# -- limits, crash, hang, signals: typed results, bounded time and memory ---------------------

Check = Callable[[ExecResult, float], None]


def _error(*types: str) -> Check:
    def check(r: ExecResult, wall: float) -> None:
        assert r.status is Status.ERROR and r.error_type in types, r

    return check


def _status_is(*statuses: Status, within: float | None = None) -> Check:
    def check(r: ExecResult, wall: float) -> None:
        assert r.status in statuses, r
        if within is not None:
            assert wall <= within, f"took {wall:.1f}s"

    return check


def _bounded_error(r: ExecResult, wall: float) -> None:
    assert (r.status, r.error_type) == (Status.ERROR, "ValueError"), r.status
    assert len(r.error_message or "") <= 2000 and len(r.traceback or "") <= 4000


def _deep_recursion(r: ExecResult, wall: float) -> None:
    assert r.status in (Status.MEMORY, Status.ERROR), (r.status, r.error_type, wall)
    # (CPython 3.11 may report the exhausted frame stack as a SystemError)
    assert r.error_type in ("MemoryError", "RecursionError", "SystemError"), r.error_type
    assert len(r.traceback or "") <= 4000


def _output_limit(r: ExecResult, wall: float) -> None:
    assert r.status is Status.OUTPUT_LIMIT, r.status
    assert len(r.stdout) <= LIMITS.output_bytes and len(r.stderr) <= LIMITS.output_bytes


def _wrong_types(r: ExecResult, wall: float) -> None:
    assert (r.status, r.error_type) == (Status.ERROR, "UnknownError"), r
    assert r.error_message is None and r.traceback is None


def _orphans(r: ExecResult, wall: float) -> None:
    assert (r.status, r.value) == (Status.OK, "left orphans"), r
    assert wall < TIMEOUT_S, f"waited {wall:.1f}s for the orphans"


_TIMEOUT_SOON = _status_is(Status.TIMEOUT, within=TIMEOUT_S + 2.5)

EXPECT: dict[str, Check] = {
    "limits/result_channel_flood": _error("ResultTooLarge", "ResultChannelTampered"),
    "limits/huge_return_value": _error("ResultTooLarge"),
    "limits/huge_exception_message": _bounded_error,
    "limits/deep_recursion": _deep_recursion,
    "limits/stdout_flood": _output_limit,
    "limits/stderr_flood_from_children": _output_limit,
    "crash/nested_list_5000_deep": _error("ResultTooDeep", "ResultNotSerializable"),
    "crash/int_with_20000_digits": _error("ResultNotDecodable"),
    "crash/forged_garbage_frame": _error("ResultChannelTampered"),
    "crash/forged_short_frame": _error("ResultChannelTampered"),
    "crash/forged_overlong_frame": _error("ResultChannelTampered"),
    "crash/forged_frame_not_json": _error("ResultNotDecodable"),
    "crash/forged_frame_deep_json": _error("ResultNotDecodable"),
    "crash/forged_frame_wrong_types": _wrong_types,
    "crash/forged_value_not_text": _error("ResultNotDecodable"),
    "crash/forged_value_too_deep": _error("ResultTooDeep"),
    "crash/forged_unknown_kind": _error("ResultChannelTampered"),
    "crash/forged_top_level_list": _error("ResultNotDecodable"),
    "hang/ptrace_holds_the_task_zombie": _TIMEOUT_SOON,
    "hang/deep_directory_tree": _status_is(Status.TIMEOUT),
    "hang/wide_tree_from_many_processes": _status_is(Status.TIMEOUT),
    "hang/orphans_that_ignore_sigterm": _orphans,
    "hang/stopped_task": _TIMEOUT_SOON,
    "hang/fork_bomb": _status_is(Status.TIMEOUT, Status.KILLED, Status.ERROR),
}
LIMITS_FOR = {"limits/deep_recursion": ExecLimits(timeout_s=30, memory_mb=128)}


def _signal_check(path: Path) -> Check:
    expected = next(
        n.value.value  # type: ignore[attr-defined]
        for n in ast.parse(path.read_text()).body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "SIGNAL"
    )

    def check(r: ExecResult, wall: float) -> None:
        assert (r.status, r.signal) == (Status.KILLED, expected), r
        assert r.error_message and r.error_message.startswith("SIG")

    return check


def _check_for(path: Path) -> Check:
    if path.parent.name == "signals":
        return _signal_check(path)
    return EXPECT[_id(path)]


@pytest.fixture(scope="module")
def engine() -> Iterator[Sandbox]:
    with Sandbox(workers=1, limits=LIMITS) as sb:
        yield sb


@pytest.mark.parametrize("snippet", _snippets("limits", "crash", "hang", "signals"), ids=_id)
def test_snippet_is_contained(engine: Sandbox, snippet: Path) -> None:
    check = _check_for(snippet)
    limits = LIMITS_FOR.get(_id(snippet), LIMITS)
    engine.run("x = 1")  # a worker is up (a snippet before may have retired one)
    zygotes = {z: _rss_kb(z) for z in _zygotes(engine)}
    host_before = _rss_kb("self")
    started = time.monotonic()
    result = _run(engine, snippet, {"marker": MARKER}, limits=limits)
    wall = time.monotonic() - started
    check(result, wall)
    assert wall <= limits.timeout_s + ENGINE_GRACE_S, f"run took {wall:.1f}s"
    _settled(engine)
    assert not _with_cmdline(MARKER) or all(not _alive(p) for p in _with_cmdline(MARKER))
    growth = (_rss_kb("self") - host_before) // 1024
    assert growth <= HOST_GROWTH_MB, f"host memory grew by {growth} MiB"
    for z, before in zygotes.items():
        if _alive(z):  # (a worker that retired is gone, and its memory with it)
            assert (_rss_kb(z) - before) // 1024 <= WORKER_GROWTH_MB, "worker memory grew"
    follow = engine.run(FOLLOW_UP, "f")
    assert follow.value == [[], False], follow


def test_one_bad_record_never_ends_a_batch(engine: Sandbox) -> None:
    good = ExecTask(code="def f(i):\n    return i\n", entry="f", kwargs={"i": 7})
    bad = []
    for path in _snippets("crash", "signals"):
        source = path.read_text()
        entry = _entry(source)
        bad.append(ExecTask(code=source, entry=entry, kwargs={"ctx": {}} if entry else None))
    tasks = [t for b in bad for t in (b, good)]
    results = list(engine.map(tasks))
    assert len(results) == len(tasks)
    for task, result in zip(tasks, results, strict=True):
        if task is good:
            assert result.value == 7, result
        else:
            assert result.status in (Status.ERROR, Status.KILLED), result
    unordered = list(engine.imap_unordered(tasks))
    assert sorted(i for i, _ in unordered) == list(range(len(tasks)))


# -- the engine's own life --------------------------------------------------------------------

_HOST = textwrap.dedent(
    """
    import threading, time
    from codeio.exec import ExecLimits, ExecTask, Sandbox
    sb = Sandbox(workers=2)
    # A warm worker started from a lane thread that has ended, and a task running.
    list(sb.map([ExecTask(code="import numpy\\nx = 1")]))
    long = lambda: sb.run("import time\\ntime.sleep(60)", limits=ExecLimits(timeout_s=60))
    threading.Thread(target=long, daemon=True).start()
    time.sleep(1.0)
    print(sb.pools(), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.slow
def test_sandbox_processes_die_with_a_killed_host() -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", _HOST], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert host.stdout is not None
        line = host.stdout.readline()
        assert "numpy" in line, line
        engine = _tree(host.pid)[1:]
        # 3 workers: launcher, helper, zygote and a child each (and the sleeping task)
        assert len(engine) >= 9, engine
    finally:
        host.kill()
        host.wait()
    deadline = time.monotonic() + 2.0
    while [p for p in engine if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in engine if _alive(p)] == [], "sandbox processes outlived their host"


def test_prelude_that_cannot_be_imported_refuses_to_start() -> None:
    with pytest.raises(SandboxUnavailable) as info:
        Sandbox(workers=1, prelude=("math", "codeio_no_such_module"))
    assert str(info.value) == (
        "the sandbox cannot import codeio_no_such_module: ModuleNotFoundError: No module named "
        "'codeio_no_such_module' (run `codeio doctor`)"
    )


def test_library_the_host_finds_but_tasks_cannot_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "codeio_host_only_lib.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SandboxUnavailable, match="cannot import codeio_host_only_lib"):
        Sandbox(workers=1, warm=("codeio_host_only_lib",))


def test_self_test_imports_inside_the_sandbox(sandbox: Sandbox) -> None:
    got = sandbox.self_test(["math", "json", "numpy", "codeio_no_such_module"])
    assert (got["math"], got["json"], got["numpy"]) == (None, None, None)
    assert got["codeio_no_such_module"] == (
        "ModuleNotFoundError: No module named 'codeio_no_such_module'"
    )


def test_every_engine_snippet_says_what_a_contained_run_shows() -> None:
    for path in _snippets(*CLASSES):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and "Contained" in doc, path
        if path.parent.name not in ("crosstask", "signals"):
            assert _id(path) in EXPECT, f"{path}: no expectation in EXPECT"
    assert {_id(p) for p in _snippets(*CLASSES)} >= set(EXPECT)


def test_a_real_time_signal_is_killed_not_sandbox_error(sandbox: Sandbox) -> None:
    result = sandbox.run("import os\nos.kill(os.getpid(), 40)\n")
    assert (result.status, result.signal, result.error_message) == (
        Status.KILLED,
        40,
        "SIGRTMIN+6",
    )
