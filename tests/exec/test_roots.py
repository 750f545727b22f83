"""The host side of a sandbox: directories of killed hosts are swept, and a worker that dies at
start is explained in one error, not a traceback on the terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeio.exec.roots import PREFIX, make_root, remove_root, sweep_stale

HOST = (
    "import sys, time\n"
    "from codeio.exec import Sandbox\n"
    "sb = Sandbox(workers=1)\n"
    "print(sb._root, flush=True)\n"
    "time.sleep(120)\n"
)


def test_a_killed_hosts_directory_is_swept_and_a_live_ones_is_not(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOST], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        root = Path(proc.stdout.readline().strip())
        assert root.parent == tmp_path and root.name.startswith(PREFIX)
        assert sweep_stale(str(tmp_path)) == 0 and root.is_dir()  # its host is alive
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert root.is_dir()  # SIGKILL: no clean-up ran
    deadline = time.monotonic() + 10
    while sweep_stale(str(tmp_path)) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)  # the workers may hold nothing, but give the kernel a moment
    assert not root.exists()


def test_unmarked_directories_are_swept_only_when_old(tmp_path: Path) -> None:
    fresh, old = tmp_path / f"{PREFIX}fresh", tmp_path / f"{PREFIX}old"
    for d in (fresh, old):
        (d / "w1").mkdir(parents=True)
    past = time.time() - 3 * 24 * 3600
    os.utime(old, (past, past))
    other = tmp_path / "not-a-sandbox"
    other.mkdir()
    os.utime(other, (past, past))
    assert sweep_stale(str(tmp_path)) == 1
    assert fresh.is_dir() and not old.exists() and other.is_dir()


def test_an_own_root_is_never_swept_until_released(tmp_path: Path) -> None:
    import tempfile

    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        root, fd = make_root()
    finally:
        tempfile.tempdir = saved
    assert sweep_stale(str(tmp_path)) == 0 and os.path.isdir(root)
    remove_root(root, fd)
    assert not os.path.exists(root)


def test_a_worker_that_dies_at_start_is_one_error_naming_its_last_words(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Its stderr goes to a file, not the terminal, and its last line explains the failure."""
    from codeio.exec import Sandbox, SandboxUnavailable, worker_proc

    dying = "import sys; print('Traceback: nope', file=sys.stderr); " + (
        "print('OSError: unshare(CLONE_NEWUSER) refused', file=sys.stderr); sys.exit(3)"
    )
    monkeypatch.setattr(worker_proc, "_BOOTSTRAP", dying)
    with pytest.raises(SandboxUnavailable, match=r"failed to start.*unshare\(CLONE_NEWUSER\)"):
        Sandbox(workers=1)
    assert "Traceback" not in capfd.readouterr().err
