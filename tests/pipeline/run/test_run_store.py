"""The run store's resume contract, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from codeio.records import Failure, RawCode
from codeio.store import LLMUsage, Outcome, RunStore, funnel


def _raw(i: int) -> RawCode:
    return RawCode(id=f"r{i:04d}", content=f"x = {i}")


def test_commit_marks_done_and_pending_shrinks(tmp_path: Path) -> None:
    with RunStore.open_run(tmp_path) as store:
        store.commit_outcomes("ingest", [Outcome(f"loc{i}", outputs=[_raw(i)]) for i in range(10)])
        assert store.count_pending("unify", "ingest") == 10
        first = [r.id for r in store.iter_records("ingest", RawCode, pending_for="unify", page=3)]
        assert first == sorted(first) and len(first) == 10
        store.commit_outcomes(
            "unify",
            [
                Outcome(
                    "r0001",
                    failure=Failure(stage="unify", record_id="r0001", reason="syntax_error"),
                ),
                Outcome(
                    "r0003",
                    stats={"repaired": 1.0},
                    usage=[LLMUsage(model="m", prompt_tokens=5, completion_tokens=7)],
                ),
            ],
        )
        left = [r.id for r in store.iter_records("ingest", RawCode, pending_for="unify", page=3)]
        assert "r0001" not in left and "r0003" not in left and len(left) == 8


def test_recommitting_a_batch_does_not_duplicate(tmp_path: Path) -> None:
    batch = [Outcome(f"loc{i}", outputs=[_raw(i)]) for i in range(5)]
    with RunStore.open_run(tmp_path) as store:
        store.commit_outcomes("ingest", batch)
        store.commit_outcomes("ingest", batch)
        assert store.count_records("ingest") == 5
        assert store.query("SELECT COUNT(*) FROM done")[0][0] == 5


def test_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    class Broken(RawCode):
        def model_dump_json(self, **kw: object) -> str:  # type: ignore[override]
            raise RuntimeError("boom")

    with RunStore.open_run(tmp_path) as store:
        good = Outcome("a", outputs=[_raw(1)])
        bad = Outcome("b", outputs=[Broken(id="x", content="y")])
        with pytest.raises(RuntimeError):
            store.commit_outcomes("ingest", [good, bad])
        assert store.count_records("ingest") == 0
        assert store.is_done("ingest", ["a", "b"]) == set()


def test_store_is_wal_and_funnel_counts(tmp_path: Path) -> None:
    with RunStore.open_run(tmp_path) as store:
        store.commit_outcomes(
            "ingest",
            [
                Outcome("l1", outputs=[_raw(1)]),
                Outcome("l2", failure=Failure(stage="ingest", record_id="l2", reason="duplicate")),
            ],
        )
        store.mark_complete("ingest")
    mode = sqlite3.connect(tmp_path / RunStore.FILENAME).execute("PRAGMA journal_mode").fetchone()
    assert mode[0] == "wal"
    data = funnel(tmp_path)
    (ingest,) = data["stages"]
    assert (ingest["entered"], ingest["passed"], ingest["failed"], ingest["out"]) == (2, 1, 1, 1)
    assert ingest["failures"] == {"duplicate": 1}
