"""Export formats round-trip, filters, DPO pairs, held-out split, and the run-store path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from codeio.pipeline.export import (
    codeio_row,
    dpo_rows,
    export_run,
    export_samples,
    holdout_functions,
)
from codeio.records import IOPair, PredictionTask, Sample, Turn, Verdict

CODE = "def main_solution(x):\n    return x < 3 and x > 0 & 1\n"


def _turn(text: str, status: str | None) -> Turn:
    verdict = Verdict(status=status, feedback=f"feedback on {text}") if status else None  # type: ignore[arg-type]
    return Turn(response=text, answer=1, has_answer=True, verdict=verdict)


def _world(n_functions: int = 6) -> tuple[list[Sample], list[PredictionTask]]:
    """Per function two tasks; outcomes cycle: correct at once, revised to correct, wrong."""
    samples, tasks = [], []
    for f in range(n_functions):
        func_id = f"f{f:03d}"
        for k, kind in enumerate(("input", "output")):
            task_id = PredictionTask.make_id(func_id, k, kind)  # type: ignore[arg-type]
            pair = IOPair(input={"x": f}, output=math.inf if f == 0 else f)
            tasks.append(
                PredictionTask(
                    id=task_id,
                    func_id=func_id,
                    io_index=k,
                    kind=kind,
                    prompt=f"P {func_id} {kind}",  # type: ignore[arg-type]
                    pair=pair,
                    refcode=CODE,
                )
            )
            outcome = (f + k) % 3
            turns = {
                0: [_turn(f"ok {task_id}", "correct")],
                1: [_turn(f"bad {task_id}", "wrong"), _turn(f"fixed {task_id}", "correct")],
                2: [_turn(f"bad {task_id}", "wrong"), _turn(f"still {task_id}", "no_answer")],
            }[outcome]
            samples.append(
                Sample(
                    task_id=task_id,
                    func_id=func_id,
                    kind=kind,
                    prompt=f"P <{task_id}>",
                    turns=turns,
                )  # type: ignore[arg-type]
            )
    return samples, tasks


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_messages_include_filters_and_order(tmp_path: Path) -> None:
    samples, _ = _world()
    by_status = {"correct": 0, "other": 0}
    for s in samples:
        by_status["correct" if s.final_status == "correct" else "other"] += 1
    for include, expected in (
        ("correct", by_status["correct"]),
        ("wrong", by_status["other"]),
        ("all", len(samples)),
    ):
        out = tmp_path / include / "messages.jsonl"
        result = export_samples(list(reversed(samples)), out, fmt="messages", include=include)  # type: ignore[arg-type]
        rows = _read_jsonl(out)
        assert result.rows == len(rows) == expected
        assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
        for row in rows:
            user, assistant = row["messages"]
            assert user["role"] == "user" and user["content"].startswith("P <")
            assert assistant["role"] == "assistant" and row["id"] in assistant["content"]
            assert (row["final_status"] == "correct") == (include != "wrong") or include == "all"
    revised = next(
        r for r in _read_jsonl(tmp_path / "correct" / "messages.jsonl") if r["num_turns"] == 2
    )
    content = revised["messages"][1]["content"]
    assert content.index("bad ") < content.index("fixed ")  # every turn, in order


def test_sharegpt_and_codeio_layout(tmp_path: Path) -> None:
    samples, _ = _world(3)
    export_samples(samples, tmp_path / "sg.jsonl", fmt="sharegpt", include="all")
    rows = _read_jsonl(tmp_path / "sg.jsonl")
    assert [c["from"] for c in rows[0]["conversations"]] == ["human", "gpt"]
    export_samples(samples, tmp_path / "cio.jsonl", fmt="codeio", include="all")
    rows = {r["id"]: r for r in _read_jsonl(tmp_path / "cio.jsonl")}
    revised = next(s for s in samples if s.final_status == "correct" and len(s.turns) == 2)
    row = rows[revised.task_id]
    assert row["prompt"] == revised.prompt
    assert row["turn_1"].startswith("bad ") and row["feedback_1"] == f"feedback on {row['turn_1']}"
    assert row["turn_2"].startswith("fixed ") and row["feedback_2"].startswith("feedback on fixed")
    single = next(s for s in samples if len(s.turns) == 1)
    assert not codeio_row(single)["turn_2"] and not codeio_row(single)["feedback_2"]


def test_parquet_round_trip(tmp_path: Path) -> None:
    samples, _ = _world()
    export_samples(samples, tmp_path / "m.jsonl", fmt="messages", include="all")
    export_samples(samples, tmp_path / "m.parquet", fmt="parquet", include="all")
    assert pq.read_table(tmp_path / "m.parquet").to_pylist() == _read_jsonl(tmp_path / "m.jsonl")


def test_hf_round_trip(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    samples, _ = _world(3)
    export_samples(samples, tmp_path / "m.jsonl", fmt="messages", include="all")
    result = export_samples(samples, tmp_path / "hf", fmt="hf", include="all")
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert result.rows == len(loaded) == len(samples)
    assert loaded.to_list() == _read_jsonl(tmp_path / "m.jsonl")
    export_samples(samples[:2], tmp_path / "hf", fmt="hf", include="all")  # replaces atomically
    assert len(datasets.load_from_disk(str(tmp_path / "hf"))) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_dpo_pairs_wrong_then_verified(tmp_path: Path) -> None:
    samples, _ = _world()
    result = export_samples(samples, tmp_path / "out" / "m.jsonl")
    rows = _read_jsonl(result.dpo_path)
    assert result.dpo_path == tmp_path / "out" / "dpo.jsonl"
    revised = [s for s in samples if s.final_status == "correct" and len(s.turns) > 1]
    assert len(rows) == len(revised) > 0
    for row in rows:
        assert row["rejected"].startswith("bad ") and row["chosen"].startswith("fixed ")
        assert set(row) >= {"prompt", "chosen", "rejected"}
    unresolved = next(s for s in samples if s.final_status != "correct")
    assert dpo_rows(unresolved) == []


def test_holdout_never_splits_a_function_and_is_seed_stable(tmp_path: Path) -> None:
    samples, tasks = _world(10)
    first = export_samples(
        samples, tmp_path / "a" / "m.jsonl", include="all", tasks=tasks, holdout=0.3, seed=7
    )
    again = export_samples(
        samples, tmp_path / "b" / "m.jsonl", include="all", tasks=tasks, holdout=0.3, seed=7
    )
    assert len(first.holdout_functions) == 3
    assert first.holdout_functions == again.holdout_functions
    assert (tmp_path / "a" / "holdout.jsonl").read_bytes() == (
        tmp_path / "b" / "holdout.jsonl"
    ).read_bytes()
    held = set(first.holdout_functions)
    train_funcs = {r["func_id"] for r in _read_jsonl(tmp_path / "a" / "m.jsonl")}
    test_rows = _read_jsonl(tmp_path / "a" / "holdout.jsonl")
    assert train_funcs.isdisjoint(held)
    assert {r["func_id"] for r in test_rows} == held
    assert len(test_rows) == sum(1 for t in tasks if t.func_id in held)
    assert {r["func_id"] for r in _read_jsonl(tmp_path / "a" / "dpo.jsonl")}.isdisjoint(held)
    row = test_rows[0]
    assert set(row) >= {"prompt", "kind", "refcode", "funcname", "pair"}
    assert row["refcode"] == CODE and set(json.loads(row["pair"])) == {"input", "output"}
    others = {
        tuple(sorted(holdout_functions([f"f{i}" for i in range(10)], 0.3, s))) for s in range(6)
    }
    assert len(others) > 1  # the seed matters
    ids = [f"f{i}" for i in range(50)]
    assert holdout_functions(ids, 0.2, 1) == holdout_functions(list(reversed(ids)), 0.2, 1)


def test_writes_leave_no_temp_files_and_replace(tmp_path: Path) -> None:
    samples, _ = _world(2)
    out = tmp_path / "m.jsonl"
    out.write_text("old\n")
    export_samples(samples, out, include="all")
    assert "old" not in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dpo.jsonl", "m.jsonl"]


def _store_run(run_dir: Path) -> list[Sample]:
    from codeio.pipeline.run.attempt import Attempt
    from codeio.store.db import Outcome, RunStore

    samples, tasks = _world(4)
    by_id = {t.id: t for t in tasks}
    with RunStore.open_run(run_dir) as store:
        store.commit_outcomes("prompt", [Outcome(t.func_id, outputs=[t]) for t in tasks])
        attempts = [Attempt(id=s.task_id, task=by_id[s.task_id], sample=s) for s in samples]
        store.commit_outcomes("revise", [Outcome(a.id, outputs=[a]) for a in attempts])
    return samples


def test_export_run_reads_the_store_and_cli(tmp_path: Path) -> None:
    samples = _store_run(tmp_path / "run")
    result = export_run(tmp_path / "run", include="all", holdout=0.25, seed=3)
    assert result.path == tmp_path / "run" / "export" / "messages.jsonl"
    assert result.rows + result.skipped["holdout"] == len(samples)
    assert len(result.holdout_functions) == 1

    from codeio.cli.main import app

    out = tmp_path / "sg.jsonl"
    cli = CliRunner().invoke(
        app, ["export", str(tmp_path / "run"), "--format", "sharegpt", "-o", str(out)]
    )
    assert cli.exit_code == 0, cli.output
    assert len(_read_jsonl(out)) == sum(1 for s in samples if s.final_status == "correct")
    bad = CliRunner().invoke(app, ["export", str(tmp_path / "nope")])
    assert bad.exit_code == 1 and "not a run directory" in bad.output


def test_llamafactory_folder_matches_messages(tmp_path: Path) -> None:
    samples, _ = _world()
    export_samples(samples, tmp_path / "m.jsonl", fmt="messages", include="correct")
    result = export_samples(samples, tmp_path / "lf", fmt="llamafactory", include="correct")
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    data = _read_jsonl(tmp_path / "lf" / info["codeio"]["file_name"])
    expected = [{"messages": row["messages"]} for row in _read_jsonl(tmp_path / "m.jsonl")]
    assert result.rows == len(data) == len(expected) > 0
    assert data == expected


def test_presorted_streaming_gives_the_same_files_and_rejects_disorder(tmp_path: Path) -> None:
    samples, tasks = _world()
    ordered = sorted(samples, key=lambda s: s.task_id)
    a = export_samples(samples, tmp_path / "a" / "m.jsonl", include="all", tasks=tasks, holdout=0.3)
    b = export_samples(
        iter(ordered),
        tmp_path / "b" / "m.jsonl",
        include="all",
        tasks=iter(sorted(tasks, key=lambda t: t.id)),
        holdout=0.3,
        presorted=True,
        func_ids={t.func_id for t in tasks},
    )
    for name in ("m.jsonl", "dpo.jsonl", "holdout.jsonl"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    assert (a.rows, a.dpo_rows, a.skipped) == (b.rows, b.dpo_rows, b.skipped)
    with pytest.raises(Exception, match="task-id order"):
        export_samples(reversed(ordered), tmp_path / "c.jsonl", include="all", presorted=True)


def test_export_run_honours_decontamination_exclusions(tmp_path: Path) -> None:
    samples = _store_run(tmp_path / "run")
    baseline = export_run(tmp_path / "run", include="all", out=tmp_path / "all.jsonl")
    victim = samples[0].func_id
    (tmp_path / "run" / "decontam_exclude.json").write_text(
        json.dumps({"n": 13, "against": ["x.jsonl"], "func_ids": [victim], "task_ids": []})
    )
    result = export_run(tmp_path / "run", include="all", out=tmp_path / "clean.jsonl")
    kept = _read_jsonl(tmp_path / "clean.jsonl")
    dropped = sum(1 for s in samples if s.func_id == victim)
    assert dropped > 0 and result.skipped["decontaminated"] == dropped
    assert result.rows == baseline.rows - dropped
    assert all(row["func_id"] != victim for row in kept)
