"""The sidecar index on its own: built from a real store, refreshed incrementally, rebuilt when
the run or the index format changes; the store is never written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from codeio.pipeline.run.attempt import Attempt
from codeio.records import Failure, IOPair, PredictionTask, Sample, Turn, Verdict
from codeio.store import Outcome, RunStore
from codeio.view.index import ViewIndex

from .conftest import file_digest


def _attempt(i: int, statuses: list[str], kind: str = "output") -> Attempt:
    task = PredictionTask(
        id=f"t{i:04d}",
        func_id=f"f{i % 3}",
        io_index=i % 2,
        kind=kind,
        prompt=f"prompt {i}",
        pair=IOPair(input={"x": i}, output=i),
        refcode="def main_solution(x):\n    return x",
    )
    turns = [
        Turn(
            response=f"answer {n}",
            answer=i,
            has_answer=True,
            verdict=Verdict(status=s, feedback=f"fb {s}"),
        )  # type: ignore[arg-type]
        for n, s in enumerate(statuses)
    ]
    sample = Sample(
        task_id=task.id,
        func_id=task.func_id,
        kind=kind,
        prompt=task.prompt,
        turns=turns,
        model="m1",
    )  # type: ignore[arg-type]
    return Attempt(id=task.id, task=task, sample=sample)


def _commit(store: RunStore, stage: str, attempts: list[Attempt]) -> None:
    store.commit_outcomes(stage, [Outcome(input_id=a.id, outputs=[a]) for a in attempts])


def _rows(index: ViewIndex) -> list[tuple]:
    db = index.connection()
    try:
        return db.execute(
            "SELECT id, kind, final, n_turns, v1, v2, func_id FROM samples ORDER BY id"
        ).fetchall()
    finally:
        index.release(db)


def test_builds_refreshes_and_switches_stage(tmp_path: Path) -> None:
    store = RunStore.open_run(tmp_path)
    store.set_meta("created", 1.0)
    _commit(store, "verify", [_attempt(i, ["wrong"]) for i in range(5)])
    store.commit_outcomes(
        "unify",
        [
            Outcome(
                input_id="r1",
                failure=Failure(stage="unify", record_id="r1", reason="parse_error", detail="d"),
            )
        ],
    )
    index = ViewIndex(tmp_path)
    assert index.refresh() is True
    assert [r[0] for r in _rows(index)] == [f"t{i:04d}" for i in range(5)]
    assert _rows(index)[0][1:6] == ("output", "wrong", 1, "wrong", "")
    assert index.refresh() is False  # unchanged store: nothing read

    _commit(store, "verify", [_attempt(i, ["correct"]) for i in range(5, 8)])
    assert index.refresh() is True
    assert len(_rows(index)) == 8
    db = index.connection()
    summary = index.summary(db)
    index.release(db)
    verify = {s["stage"]: s for s in summary["stages"]}["verify"]
    assert (verify["entered"], verify["out"]) == (8, 8)
    assert summary["stages"][0]["failures"] == {"parse_error": 1}

    # Revise starts: the index follows the stage export reads, with its turn-2 verdicts.
    _commit(store, "revise", [_attempt(0, ["wrong", "correct"])])
    index.refresh()
    assert _rows(index) == [("t0000", "output", "correct", 2, "wrong", "correct", "f0")]
    index.close()
    store.close()


def test_new_run_in_the_same_folder_and_old_index_format_start_over(tmp_path: Path) -> None:
    with RunStore.open_run(tmp_path) as store:
        store.set_meta("created", 1.0)
        _commit(store, "verify", [_attempt(i, ["wrong"]) for i in range(4)])
    index = ViewIndex(tmp_path)
    index.refresh()
    index.close()
    (tmp_path / "state.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_path / "state.sqlite") + suffix).unlink(missing_ok=True)
    with RunStore.open_run(tmp_path) as store:
        store.set_meta("created", 2.0)
        _commit(store, "verify", [_attempt(i, ["correct"]) for i in range(10, 16)])
    index = ViewIndex(tmp_path)
    index.refresh()
    assert [r[0] for r in _rows(index)] == [f"t{i:04d}" for i in range(10, 16)]
    index.close()

    db = sqlite3.connect(tmp_path / "view_index.sqlite")
    db.execute("PRAGMA user_version=999")
    db.close()
    digest = file_digest(tmp_path / "state.sqlite")
    index = ViewIndex(tmp_path)
    index.refresh()
    assert len(_rows(index)) == 6
    index.close()
    assert file_digest(tmp_path / "state.sqlite") == digest
