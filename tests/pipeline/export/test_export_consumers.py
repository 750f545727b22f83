"""Every export format, opened the way its consumer opens it: ``datasets.load_dataset("json" |
"parquet")``, ``datasets.load_from_disk``, LLaMA-Factory's ``dataset_info.json`` schema.

The run behind these exports is what real runs look like and toy data is not: functions with
different argument names and return types (int in one, dict in another, lists of mixed
values, NaN/inf), unicode everywhere, CodeI/O++ samples with two turns beside single-turn ones.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

# Before ``datasets`` is imported: it reads these once; nothing here may reach the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

datasets = pytest.importorskip("datasets")

from codeio.evaluate.benchmarks.holdout import holdout_task  # noqa: E402
from codeio.pipeline.export import export_run, export_samples  # noqa: E402
from codeio.records import IOPair, PredictionTask, Sample, Turn, Verdict  # noqa: E402

datasets.disable_progress_bars()

# One return value per function: the types a JSON reader must not unify or coerce.
OUTPUTS: list[Any] = [
    1,
    {"count": 3, "first": [["A", "C"], ["A", "B"]]},
    [1, "two", 3.5, None, {"x": True}],
    "naïve — 日本語 🎉",
    2.5,
    True,
    None,
    math.inf,
    [],
    {"nested": {"deep": [[1], [2, [3]]]}},
]


def _task(f: int, kind: str) -> PredictionTask:
    func_id = f"f{f:03d}"
    io_index = 0 if kind == "output" else 1
    # Argument names differ by function, as they do in any real corpus.
    pair = IOPair(input={f"arg_{f}": f, "label": "ü" * (f % 3)}, output=OUTPUTS[f % len(OUTPUTS)])
    return PredictionTask(
        id=PredictionTask.make_id(func_id, io_index, kind),  # type: ignore[arg-type]
        func_id=func_id,
        io_index=io_index,
        kind=kind,  # type: ignore[arg-type]
        prompt=f"Predict the {kind} of main_solution, ünïcödé 😀 {func_id}\n{json.dumps(pair.input)}",
        pair=pair,
        refcode=f"def main_solution(arg_{f}, label):\n    return {OUTPUTS[f % len(OUTPUTS)]!r}\n",
    )


def _turn(text: str, status: str) -> Turn:
    feedback = f"[Mismatch] not right: {text[:12]}" if status != "correct" else ""
    return Turn(
        response=text,
        answer=None,
        has_answer=True,
        verdict=Verdict(status=status, feedback=feedback),  # type: ignore[arg-type]
    )


def _sample(task: PredictionTask, f: int) -> Sample:
    answer = f'Step by step — 🎉 {task.id}\n```json\n{{"output": 1}}\n```'
    outcome = f % 3
    turns = {
        0: [_turn(answer, "correct")],
        1: [_turn(f"first try {task.id}", "wrong"), _turn(f"revised {answer}", "correct")],
        2: [_turn(f"first try {task.id}", "wrong"), _turn(f"second {task.id}", "wrong")],
    }[outcome]
    return Sample(
        task_id=task.id,
        func_id=task.func_id,
        kind=task.kind,
        prompt=task.prompt,
        turns=turns,
        model="trace-teacher",
    )


def _world(n: int = 12) -> tuple[list[Sample], list[PredictionTask]]:
    tasks = [_task(f, kind) for f in range(n) for kind in ("output", "input")]
    samples = [_sample(t, int(t.func_id[1:])) for t in tasks]
    return samples, tasks


def _store_run(
    run_dir: Path, *, seed: int, n: int = 12
) -> tuple[list[Sample], list[PredictionTask]]:
    """A finished run directory as ``codeio run`` leaves it: the store and run.json."""
    from codeio.pipeline.run.attempt import Attempt
    from codeio.store.db import Outcome, RunStore

    samples, tasks = _world(n)
    by_id = {t.id: t for t in tasks}
    with RunStore.open_run(run_dir) as store:
        store.commit_outcomes("prompt", [Outcome(t.func_id, outputs=[t]) for t in tasks])
        attempts = [Attempt(id=s.task_id, task=by_id[s.task_id], sample=s) for s in samples]
        store.commit_outcomes("revise", [Outcome(a.id, outputs=[a]) for a in attempts])
        store.set_meta("seed", seed)
    (run_dir / "run.json").write_text(json.dumps({"seed": seed}), encoding="utf-8")
    return samples, tasks


def _json(path: Path, cache: Path, **config: Any) -> Any:
    return datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(cache), **config
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _same(a: Any, b: Any) -> bool:
    """Equal, with the JSON types kept (1 is not 1.0, True is not 1) and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


SCALAR_COLUMNS = {
    "id": "string",
    "func_id": "string",
    "kind": "string",
    "final_status": "string",
    "num_turns": "int64",
    "model": "string",
}


def _assert_messages_features(features: Any, column: str = "messages") -> None:
    assert isinstance(features[column], datasets.List)
    assert {k: v.dtype for k, v in features[column].feature.items()} == {
        "role" if column == "messages" else "from": "string",
        "content" if column == "messages" else "value": "string",
    }
    for name, dtype in SCALAR_COLUMNS.items():
        assert features[name].dtype == dtype, (name, features[name])


def test_every_format_loads_with_datasets_on_a_mixed_type_run(tmp_path: Path) -> None:
    _store_run(tmp_path / "run", seed=3)
    cache = tmp_path / "cache"
    exports: dict[str, Path] = {}
    for fmt, name in (
        ("messages", "m.jsonl"),
        ("sharegpt", "sg.jsonl"),
        ("codeio", "cio.jsonl"),
        ("parquet", "m.parquet"),
        ("hf", "hf"),
        ("llamafactory", "lf"),
    ):
        out = tmp_path / fmt / name
        result = export_run(tmp_path / "run", fmt=fmt, include="all", out=out, holdout=0.25)  # type: ignore[arg-type]
        assert result.rows > 0 and result.dpo_rows > 0 and result.holdout_rows > 0
        exports[fmt] = out

    messages = _json(exports["messages"], cache)
    _assert_messages_features(messages.features)
    expected = _lines(exports["messages"])
    assert messages.to_list() == expected
    sharegpt = _json(exports["sharegpt"], cache)
    _assert_messages_features(sharegpt.features, "conversations")
    parquet = datasets.load_dataset(
        "parquet", data_files=str(exports["parquet"]), split="train", cache_dir=str(cache)
    )
    _assert_messages_features(parquet.features)
    assert parquet.to_list() == expected
    hf = datasets.load_from_disk(str(exports["hf"]))
    _assert_messages_features(hf.features)
    assert hf.to_list() == expected
    codeio = _json(exports["codeio"], cache)
    for column in ("prompt", "turn_1", "feedback_1", "turn_2", "feedback_2"):
        assert codeio.features[column].dtype == "string"
    info = json.loads((exports["llamafactory"] / "dataset_info.json").read_text())
    lf = _json(exports["llamafactory"] / info["codeio"]["file_name"], cache)
    assert lf.to_list() == [{"messages": row["messages"]} for row in expected]

    dpo = _json(exports["messages"].parent / "dpo.jsonl", cache)
    for column in ("prompt", "chosen", "rejected", "id", "func_id", "kind", "rejected_status"):
        assert dpo.features[column].dtype == "string", column
    assert dpo.features["rejected_turn"].dtype == "int64"

    # The held-out pairs carry each function's own JSON values: one string column, so the
    # reader neither fails nor unifies them (1 would come back as 1.0 next to a float).
    holdout_path = exports["messages"].parent / "holdout.jsonl"
    holdout = _json(holdout_path, cache)
    assert holdout.features["pair"].dtype == "string"
    _, tasks = _world()
    by_id = {t.id: t for t in tasks}
    assert len(holdout) == len(_lines(holdout_path)) > 0
    for row in holdout:
        pair = json.loads(row["pair"])
        task = by_id[row["id"]]
        assert _same(pair, {"input": task.pair.input, "output": task.pair.output}), row["id"]
        assert holdout_task(row) == task  # codeio eval reads what datasets hands back


def test_holdout_loads_however_the_json_reader_cuts_it_into_blocks(tmp_path: Path) -> None:
    """``load_dataset`` infers types block by block (10 MiB by default) and casts every block to
    the first one's: on a real run the functions of a later block have other argument names and
    return types ("Couldn't cast array of type struct<a, b> to {'a': int64}")."""
    ids = sorted((PredictionTask.make_id(f"f{f:03d}", 0, "output"), f"f{f:03d}") for f in range(40))
    tasks = []
    for rank, (task_id, func_id) in enumerate(ids):
        # Rows are written in id order: the first half all look alike, the second half not.
        pair = (
            IOPair(input={"a": rank}, output=rank)
            if rank < 20
            else IOPair(input={"b": "s", "c": [rank]}, output=[rank, "x"])
        )
        tasks.append(
            PredictionTask(
                id=task_id,
                func_id=func_id,
                io_index=0,
                kind="output",
                prompt="p",
                pair=pair,
                refcode="def main_solution(**kw):\n    return 0\n",
            )
        )
    result = export_samples([], tmp_path / "m.jsonl", tasks=tasks, holdout=0.9, seed=1)
    assert result.holdout_path is not None and result.holdout_rows == 36
    holdout = _json(result.holdout_path, tmp_path / "cache", chunksize=1024)
    assert len(holdout) == 36
    assert holdout.features["pair"].dtype == "string"
    by_id = {t.id: t for t in tasks}
    for row in holdout:
        assert _same(json.loads(row["pair"]), by_id[row["id"]].pair.model_dump())


def test_old_holdout_files_with_pair_objects_still_evaluate() -> None:
    task = _task(1, "output")
    old = {
        "id": task.id,
        "func_id": task.func_id,
        "io_index": task.io_index,
        "kind": task.kind,
        "prompt": task.prompt,
        "refcode": task.refcode,
        "funcname": task.funcname,
        "pair": {"input": task.pair.input, "output": task.pair.output},
    }
    assert holdout_task(old) == task


def test_parquet_and_hf_columns_do_not_depend_on_the_first_rows(tmp_path: Path) -> None:
    """Parquet took its schema from the first 1,024 rows: a column that was null there (a
    sample without a verdict) failed the export when a later row had a value."""
    unverified = [
        Sample(
            task_id=f"t{i:05d}",
            func_id=f"f{i:05d}",
            kind="output",
            prompt="p",
            turns=[Turn(response="r", verdict=None)],
        )
        for i in range(1030)
    ]
    verified = Sample(
        task_id="t99999",
        func_id="f99999",
        kind="input",
        prompt="p",
        turns=[_turn("r", "correct")],
        model="m",
    )
    for fmt, name in (("parquet", "m.parquet"), ("hf", "hf")):
        result = export_samples([*unverified, verified], tmp_path / name, fmt=fmt, include="all")  # type: ignore[arg-type]
        assert result.rows == 1031
    parquet = datasets.load_dataset(
        "parquet",
        data_files=str(tmp_path / "m.parquet"),
        split="train",
        cache_dir=str(tmp_path / "c"),
    )
    hf = datasets.load_from_disk(str(tmp_path / "hf"))
    for loaded in (parquet, hf):
        _assert_messages_features(loaded.features)
        assert loaded[-1]["final_status"] == "correct" and loaded[0]["final_status"] is None


def test_empty_exports_keep_their_columns(tmp_path: Path) -> None:
    """0 verified samples. The HF folder loads as 0 rows with its columns (it failed with an
    IndexError: ``save_to_disk`` wrote no shard); the Parquet file keeps its columns (it had
    none, so no reader could tell what the export holds)."""
    import pyarrow.parquet as pq

    samples, _ = _world(3)
    wrong_only = [s for s in samples if s.final_status != "correct"]
    assert wrong_only
    parquet = export_samples(wrong_only, tmp_path / "p" / "m.parquet", fmt="parquet")
    hf = export_samples(wrong_only, tmp_path / "h" / "hf", fmt="hf")
    assert parquet.rows == hf.rows == 0
    table = pq.read_table(parquet.path)
    assert table.num_rows == 0
    _assert_messages_features(datasets.Features.from_arrow_schema(table.schema))
    from_disk = datasets.load_from_disk(str(hf.path))
    assert len(from_disk) == 0
    _assert_messages_features(from_disk.features)


def test_empty_exports_say_why_there_is_nothing(tmp_path: Path) -> None:
    """A JSONL file with no line has no columns, and ``load_dataset`` refuses a file with no
    rows (JSONL: a bare StopIteration; Parquet: "BatchSize must be greater than 0"): the
    command says why there is nothing, instead of a bare ``0 rows``."""
    import pyarrow.parquet as pq

    from codeio.cli.main import app

    empty = CliRunner().invoke(
        app,
        ["export", str(_empty_run(tmp_path / "empty-run")), "-o", str(tmp_path / "e" / "m.jsonl")],
    )
    assert empty.exit_code == 0, empty.output
    assert "0 rows" in empty.output
    assert "the run has no samples" in empty.output and "load_dataset" in empty.output
    assert "0 preference pairs" in empty.output and "revision" in empty.output

    # Samples that exist but are all left out: the note names what took them.
    run = tmp_path / "run"
    _store_run(run, seed=0, n=3)
    out = tmp_path / "n" / "m.parquet"
    args = ["-f", "parquet", "--include", "wrong", "--holdout", "0.5", "-o", str(out)]
    none = CliRunner().invoke(app, ["export", str(run), *args])
    assert none.exit_code == 0, none.output
    assert "left out (" in none.output
    assert "by holdout" in none.output and "by include" in none.output
    assert pq.read_table(out).num_rows == 0


def _empty_run(run_dir: Path) -> Path:
    """A run whose every function failed before generation: a store without samples."""
    from codeio.store.db import RunStore

    with RunStore.open_run(run_dir):
        pass
    return run_dir


@pytest.mark.parametrize("fmt", ["messages", "parquet", "hf", "codeio"])
def test_splits_are_disjoint_by_function_and_follow_the_seed(tmp_path: Path, fmt: str) -> None:
    run = tmp_path / "run"
    _store_run(run, seed=11, n=20)
    name = {"parquet": "m.parquet", "hf": "hf"}.get(fmt, "m.jsonl")
    first = export_run(run, fmt=fmt, include="all", out=tmp_path / "a" / name, holdout=0.3)  # type: ignore[arg-type]
    again = export_run(run, fmt=fmt, include="all", out=tmp_path / "b" / name, holdout=0.3)  # type: ignore[arg-type]
    other = export_run(
        run,
        fmt=fmt,  # type: ignore[arg-type]
        include="all",
        out=tmp_path / "c" / name,
        holdout=0.3,
        seed=12,
    )
    assert first.holdout_functions == again.holdout_functions != other.holdout_functions
    held = set(first.holdout_functions)
    if fmt == "parquet":
        train = {r["func_id"] for r in datasets.Dataset.from_parquet(str(first.path))}
    elif fmt == "hf":
        train = set(datasets.load_from_disk(str(first.path))["func_id"])
    else:
        train = {r["func_id"] for r in _lines(first.path)}
    assert train and held and train.isdisjoint(held)
    assert {r["func_id"] for r in _lines(first.dpo_path)}.isdisjoint(held)
    assert first.holdout_path is not None
    assert {r["func_id"] for r in _lines(first.holdout_path)} == held


def test_reexport_draws_the_same_split_as_the_run(tmp_path: Path) -> None:
    """``codeio run`` splits with the run's seed; ``codeio export RUN --holdout F`` without
    ``--seed`` used 0, so re-exporting another format into the run's export folder replaced
    holdout.jsonl with one that shares functions with the run's messages.jsonl beside it."""
    run = tmp_path / "run"
    samples, tasks = _store_run(run, seed=5, n=20)
    # What the run's own export stage wrote (pipeline/run/export.py: seed=config.seed).
    as_run = export_samples(
        samples, run / "export" / "messages.jsonl", include="all", tasks=tasks, holdout=0.3, seed=5
    )
    from codeio.cli.main import app

    cli = CliRunner().invoke(app, ["export", str(run), "-f", "parquet", "--holdout", "0.3"])
    assert cli.exit_code == 0, cli.output
    held = {r["func_id"] for r in _lines(run / "export" / "holdout.jsonl")}
    train = {r["func_id"] for r in _lines(run / "export" / "messages.jsonl")}
    assert train.isdisjoint(held)
    assert held == set(as_run.holdout_functions)
    assert "seed 5" in cli.output


def test_unicode_and_very_long_rows_round_trip(tmp_path: Path) -> None:
    text = 'ünïcödé 😀 \u2028 \x00 \\ " ' + "🎉" * 50_000 + " 日本語"
    sample = Sample(
        task_id="t1",
        func_id="f1",
        kind="output",
        prompt="Ⅻ " * 40_000,
        turns=[_turn(text, "correct")],
    )
    small = Sample(
        task_id="t2", func_id="f2", kind="input", prompt="p", turns=[_turn("a", "correct")]
    )
    cache = tmp_path / "cache"
    for fmt, name in (
        ("messages", "m.jsonl"),
        ("sharegpt", "s.jsonl"),
        ("parquet", "m.parquet"),
        ("hf", "hf"),
    ):
        export_samples([sample, small], tmp_path / name, fmt=fmt)  # type: ignore[arg-type]
    # A row larger than the reader's block: datasets must grow the block, not fail.
    loaded = _json(tmp_path / "m.jsonl", cache, chunksize=1 << 16)
    assert loaded[0]["messages"][1]["content"] == text
    assert loaded[0]["messages"][0]["content"] == sample.prompt
    assert (
        _json(tmp_path / "s.jsonl", cache, chunksize=1 << 16)[0]["conversations"][1]["value"]
        == text
    )
    parquet = datasets.load_dataset(
        "parquet", data_files=str(tmp_path / "m.parquet"), split="train", cache_dir=str(cache)
    )
    assert parquet[0]["messages"][1]["content"] == text
    assert datasets.load_from_disk(str(tmp_path / "hf"))[0]["messages"][1]["content"] == text


def test_llamafactory_registry_follows_its_documented_schema(tmp_path: Path) -> None:
    """The keys LLaMA-Factory's data/README.md documents for a dataset description: a sharegpt
    entry maps ``columns.messages`` and its ``tags`` name the role/content keys and values."""
    samples, _ = _world(6)
    export_samples(samples, tmp_path / "lf", fmt="llamafactory", include="all")
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    documented = {"file_name", "formatting", "ranking", "columns", "tags", "split", "num_samples"}
    tag_names = {
        "role_tag",
        "content_tag",
        "user_tag",
        "assistant_tag",
        "observation_tag",
        "function_tag",
        "system_tag",
    }
    for name, entry in info.items():
        assert set(entry) <= documented, name
        assert (tmp_path / "lf" / entry["file_name"]).is_file()
        assert entry.get("formatting", "alpaca") in ("alpaca", "sharegpt")
        assert set(entry.get("tags", {})) <= tag_names
    entry = info["codeio"]
    tags = entry["tags"]
    rows = _json(tmp_path / "lf" / entry["file_name"], tmp_path / "cache")
    for row in rows:
        msgs = row[entry["columns"]["messages"]]
        if msgs[0][tags["role_tag"]] == tags["system_tag"]:
            msgs = msgs[1:]
        # LLaMA-Factory's sharegpt converter: user at odd positions, assistant at even, pairs.
        assert len(msgs) % 2 == 0
        for i, message in enumerate(msgs):
            want = tags["user_tag"] if i % 2 == 0 else tags["assistant_tag"]
            assert message[tags["role_tag"]] == want
            assert isinstance(message[tags["content_tag"]], str)
