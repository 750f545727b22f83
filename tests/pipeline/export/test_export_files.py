"""Atomic export files: the user's umask, and temp files of killed writers removed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeio.pipeline.export.files import (
    atomic_dir,
    atomic_path,
    current_umask,
    remove_stale_temps,
    write_jsonl,
)
from codeio.store.db import RunStore


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_current_umask_reads_without_changing(umask: int) -> None:
    assert current_umask() == umask
    assert current_umask() == umask


def test_files_folders_and_store_follow_the_umask(tmp_path: Path, umask: int) -> None:
    write_jsonl(tmp_path / "messages.jsonl", [{"a": 1}])
    assert _mode(tmp_path / "messages.jsonl") == 0o666 & ~umask
    with atomic_dir(tmp_path / "hf") as folder:
        (folder / "x").write_text("x")
    assert _mode(tmp_path / "hf") == 0o777 & ~umask
    with RunStore.open_run(tmp_path / "run") as store:
        store.set_meta("k", 1)
        wal = tmp_path / "run" / "state.sqlite-wal"
        assert wal.exists() and _mode(wal) == 0o666 & ~umask
    assert _mode(tmp_path / "run" / RunStore.FILENAME) == 0o666 & ~umask


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temps_of_dead_writers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead, live = _dead_pid(), os.getppid()
    stale = tmp_path / f".messages.jsonl.{dead}.abc123.tmp"
    stale.write_text("half")
    stale_dir = tmp_path / f".hf.{dead}.q1w2.tmp"
    stale_dir.mkdir()
    (stale_dir / "part").write_text("x")
    running = tmp_path / f".dpo.jsonl.{live}.zzz.tmp"
    running.write_text("being written")
    legacy_old = tmp_path / ".report.html.k3j4h5.tmp"  # name without a pid: by age
    legacy_old.write_text("old")
    old = time.time() - 3600
    os.utime(legacy_old, (old, old))
    legacy_new = tmp_path / ".report.html.n3w.tmp"
    legacy_new.write_text("new")
    other = tmp_path / "notes.tmp"
    other.write_text("not ours")

    removed = remove_stale_temps(tmp_path)
    assert set(removed) == {stale, stale_dir, legacy_old}
    assert not stale.exists() and not stale_dir.exists() and not legacy_old.exists()
    assert running.exists() and legacy_new.exists() and other.exists()


def test_atomic_write_cleans_its_own_leftovers(tmp_path: Path) -> None:
    stale = tmp_path / f".messages.jsonl.{_dead_pid()}.abc.tmp"
    stale.write_text("half")
    foreign = tmp_path / f".dpo.jsonl.{_dead_pid()}.abc.tmp"
    foreign.write_text("half")
    with atomic_path(tmp_path / "messages.jsonl") as tmp:
        assert str(os.getpid()) in tmp.name
        tmp.write_text("done\n")
    assert not stale.exists()  # same target: cleaned
    assert foreign.exists()  # another file's temp: left to its own writer / the export stage
    assert (tmp_path / "messages.jsonl").read_text() == "done\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [foreign.name, "messages.jsonl"]
