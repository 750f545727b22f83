"""The offline trace teacher through ``evaluate`` and ``codeio eval``: scores, files, resume."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeio.evaluate import evaluate, load_items
from codeio.evaluate.benchmarks import get_benchmark
from codeio.evaluate.results import read_rows

DATA = Path(__file__).resolve().parents[2] / "../shared/data/cruxeval/cruxeval.jsonl"
pytestmark = pytest.mark.skipif(not DATA.is_file(), reason="shared CRUXEval data not present")


def _json_exact(literal: str) -> bool:
    value = ast.literal_eval(literal)
    try:
        return repr(json.loads(json.dumps(value))) == repr(value)
    except (TypeError, ValueError):
        return False


def test_trace_teacher_is_right_on_every_item_json_exact_or_not(tmp_path: Path) -> None:
    items = load_items(get_benchmark("cruxeval-o"), DATA, 60)
    summary = evaluate("cruxeval-o", "trace", data=DATA, limit=60, out=tmp_path, workers=2)
    rows = {r.item_id: r for r in read_rows(tmp_path / "results.jsonl")}
    assert len(rows) == 60 and summary.problems == 60
    inexact = [it.id for it in items if not _json_exact(it.truth["output"])]
    assert inexact, "the slice must include tuples/sets that JSON cannot carry"
    assert all(r.correct for r in rows.values()), [r.detail for r in rows.values() if not r.correct]
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["pass_at_k"]["pass@1"] == summary.pass_at_k["pass@1"]


@pytest.mark.slow
def test_trace_teacher_scores_100_on_all_cruxeval_o(tmp_path: Path) -> None:
    summary = evaluate("cruxeval-o", "trace", data=DATA, out=tmp_path, workers=2)
    assert summary.pass_at_k["pass@1"] == 1.0, summary.statuses


def test_rerun_resumes_and_samples_are_separate(tmp_path: Path) -> None:
    first = evaluate("cruxeval-o", "trace", data=DATA, limit=4, n=3, k=[1, 2], out=tmp_path)
    rows = read_rows(tmp_path / "results.jsonl")
    assert len({(r.item_id, r.sample) for r in rows}) == 12
    assert len(rows) == 12 and first.ks == [1, 2]
    # The client's cache holds one answer per (prompt, sample index), not one per prompt.
    import sqlite3

    with sqlite3.connect(tmp_path / "llm_cache.sqlite") as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables]
    assert 12 in counts
    # A rerun with more problems judges only the new ones.
    second = evaluate("cruxeval-o", "trace", data=DATA, limit=6, n=3, k=[1, 2], out=tmp_path)
    rows = read_rows(tmp_path / "results.jsonl")
    assert len(rows) == 18 and len({(r.item_id, r.sample) for r in rows}) == 18
    assert second.usage["total"]["requests"] == 6
    assert second.problems == 6


def test_another_setup_in_the_same_dir_is_refused(tmp_path: Path) -> None:
    from codeio.errors import ConfigError

    evaluate("cruxeval-o", "trace", data=DATA, limit=1, out=tmp_path)
    with pytest.raises(ConfigError):
        evaluate("cruxeval-o", "trace", data=DATA, limit=1, out=tmp_path, cot=False)


def test_cli_eval_writes_results_and_summary(tmp_path: Path) -> None:
    from codeio.cli.main import app

    out = tmp_path / "ev"
    args = ["eval", "--benchmark", "cruxeval-o", "--llm", "trace", "--data", str(DATA),
            "--limit", "5", "--out", str(out), "--workers", "2", "--k", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "pass@1" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == 5 and summary["benchmark"] == "cruxeval-o"
    lines = (out / "results.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    assert {"prompt", "response", "answer", "status", "correct", "sample"} <= set(row)
    bad = CliRunner().invoke(
        app, ["eval", "--benchmark", "nope", "--llm", "trace", "--out", str(out)]
    )
    assert bad.exit_code == 1
