"""``export --process``: strict drops right answers with wrong steps, lenient marks every row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeio.errors import ConfigError
from codeio.pipeline.export import export_samples
from codeio.records import ClaimCheck, ProcessVerdict, Sample, Turn, Verdict


def _sample(i: int, contradicted: int | None, status: str = "correct") -> Sample:
    process = None
    if contradicted is not None:
        bad = ClaimCheck(
            kind="value",
            claim="x is 5",
            span=(0, 6),
            name="x",
            claimed="5",
            actual="4",
            status="contradicted",
        )
        process = ProcessVerdict(
            supported=3,
            contradicted=contradicted,
            first_contradiction=bad if contradicted else None,
        )
    verdict = Verdict(status=status, feedback="f", process=process)  # type: ignore[arg-type]
    return Sample(
        task_id=f"t{i:02d}",
        func_id="f",
        kind="output",
        prompt="p",
        turns=[Turn(response=f"r{i}", answer=1, has_answer=True, verdict=verdict)],
    )


SAMPLES = [_sample(0, 0), _sample(1, 2), _sample(2, None), _sample(3, 1, "wrong")]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_strict_lenient_off(tmp_path: Path) -> None:
    off = export_samples(SAMPLES, tmp_path / "off.jsonl")
    assert off.rows == 3 and off.skipped["process"] == 0
    assert "process" not in _rows(tmp_path / "off.jsonl")[0]

    strict = export_samples(SAMPLES, tmp_path / "strict.jsonl", process="strict")
    assert strict.rows == 2 and strict.skipped["process"] == 1  # t01: right answer, wrong steps
    assert [r["id"] for r in _rows(tmp_path / "strict.jsonl")] == ["t00", "t02"]

    lenient = export_samples(SAMPLES, tmp_path / "lenient.jsonl", process="lenient", include="all")
    rows = _rows(tmp_path / "lenient.jsonl")
    assert lenient.rows == 4
    assert [r["process"]["contradicted"] for r in rows] == [0, 2, 0, 1]
    assert [r["process"]["checked"] for r in rows] == [True, True, False, True]


def test_lenient_parquet_keeps_one_schema(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    export_samples(SAMPLES, tmp_path / "x.parquet", fmt="parquet", process="lenient", include="all")
    table = pq.read_table(tmp_path / "x.parquet")
    assert [p["contradicted"] for p in table.column("process").to_pylist()] == [0, 2, 0, 1]


def test_bad_mode_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--process"):
        export_samples(SAMPLES, tmp_path / "x.jsonl", process="maybe")  # type: ignore[arg-type]
