"""The HTML report: charts present, code escaped, built from plain records or a run store."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from codeio.records import FunctionRecord, IOPair, PredictionTask, Sample, Turn, Verdict
from codeio.report import build_report, normalize_funnel, report_run

EVIL = "if a < b and c > d & e: print('<script>alert(1)</script>')"


def _sample(i: int, kind: str, statuses: list[str]) -> Sample:
    turns = [
        Turn(response=f"{EVIL} turn {n}", verdict=Verdict(status=s, feedback=f"fb <{s}>"))  # type: ignore[arg-type]
        for n, s in enumerate(statuses)
    ]
    return Sample(
        task_id=f"t{i}", func_id=f"f{i % 3}", kind=kind, prompt=f"{EVIL} #{i}", turns=turns
    )  # type: ignore[arg-type]


def _records() -> tuple[dict, list[Sample], list[FunctionRecord]]:
    funnel = {
        "stages": [
            {"stage": "ingest", "in": 1000, "out": 843, "failures": {"syntax_error": 157}},
            {
                "stage": "unify",
                "in": 843,
                "out": 700,
                "failures": {"parse_error": 100, "too_few_pairs": 43},
            },
        ],
        "unify_repair": {"tried": 40, "repaired": 10},
    }
    samples = [
        _sample(0, "input", ["correct"]),
        _sample(1, "output", ["wrong", "correct"]),
        _sample(2, "output", ["wrong", "wrong"]),
        _sample(3, "input", ["no_answer", "correct"]),
    ]
    fn = FunctionRecord(
        id="f0", refcode=EVIL, ios=[IOPair(input={"x": "a" * n}, output=n) for n in (1, 10, 300)]
    )
    return funnel, samples, [fn]


def test_report_has_charts_and_escapes_everything(tmp_path: Path) -> None:
    funnel, samples, functions = _records()
    out = build_report(funnel, samples, functions, tmp_path / "r" / "report.html")
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    for anchor in (
        'id="funnel"',
        'id="failures"',
        'id="correctness"',
        'id="sizes"',
        'id="samples"',
        'id="repair"',
    ):
        assert anchor in html
    assert html.count("<svg") >= 6  # funnel, failures, per turn, per kind, two size histograms
    assert "<script" not in html and "alert(1)</script>" not in html
    assert "&lt;script&gt;" in html and "a &lt; b and c &gt; d &amp; e" in html
    assert "fb &lt;wrong&gt;" in html
    assert "syntax_error" in html and "10 of 40" in html
    assert not re.search(r"(src|href)=\"https?://", html)  # self-contained
    # per-turn correctness: turn 1 has 1 of 4 correct, turn 2 has 2 of 3.
    assert "25%" in html and "66.67%" in html


def test_funnel_shapes() -> None:
    rows, repair = normalize_funnel(
        {"ingest": 10, "unify": {"in": 10, "out": 7, "failures": {"x": 3}}}
    )
    assert [(r.stage, r.n_in, r.n_out, r.failures) for r in rows] == [
        ("ingest", None, 10, {}),
        ("unify", 10, 7, {"x": 3}),
    ]
    assert repair == {}


def test_report_from_a_run_store_and_cli(tmp_path: Path) -> None:
    from codeio.cli.main import app
    from codeio.pipeline.run.attempt import Attempt
    from codeio.records import Failure
    from codeio.store.db import Outcome, RunStore

    funnel, samples, functions = _records()
    with RunStore.open_run(tmp_path / "run") as store:
        store.commit_outcomes(
            "ingest",
            [
                Outcome("a:1", outputs=[]),
                Outcome(
                    "a:2", failure=Failure(stage="ingest", record_id="a:2", reason="syntax_error")
                ),
            ],
        )
        store.commit_outcomes("sample", [Outcome("f0", outputs=functions)])
        store.commit_outcomes(
            "unify",
            [Outcome("r1", stats={"repaired": 1.0}), Outcome("r2", stats={"repair_tried": 1.0})],
        )
        task = PredictionTask(
            id="t",
            func_id="f0",
            io_index=0,
            kind="input",
            prompt="p",
            pair=functions[0].ios[0],
            refcode=EVIL,
        )
        attempts = [Attempt(id=s.task_id, task=task, sample=s) for s in samples]
        store.commit_outcomes("revise", [Outcome(a.id, outputs=[a]) for a in attempts])
    path = report_run(tmp_path / "run")
    html = path.read_text()
    assert path == tmp_path / "run" / "report.html"
    assert "ingest: syntax_error" in html and "1 of 2" in html and "4 samples" in html

    out = tmp_path / "cli.html"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().count("<svg") >= 6
