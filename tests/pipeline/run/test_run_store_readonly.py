"""Reading a run store never writes to it: no WAL switch, no schema, no -wal left behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from codeio.store.db import RunStore
from codeio.store.funnel import funnel


def test_read_only_open_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / RunStore.FILENAME
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('seed', '7')")
    con.commit()
    con.close()
    before = db.read_bytes()
    with RunStore(db, read_only=True) as store:
        assert store.get_meta("seed") == 7
        with pytest.raises(sqlite3.OperationalError):
            store.set_meta("seed", 8)
    assert db.read_bytes() == before  # same journal mode, no new tables
    assert sorted(p.name for p in tmp_path.iterdir()) == [RunStore.FILENAME]


def test_funnel_of_a_finished_run_reads_only(tmp_path: Path) -> None:
    with RunStore.open_run(tmp_path) as store:
        store.set_meta("seed", 1)
    before = (tmp_path / RunStore.FILENAME).read_bytes()
    data = funnel(tmp_path)
    assert data["stages"] == []
    assert (tmp_path / RunStore.FILENAME).read_bytes() == before


def test_missing_store_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        RunStore(tmp_path / "nope.sqlite", read_only=True)
    assert not (tmp_path / "nope.sqlite").exists()
