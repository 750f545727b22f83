"""A real small model (SmolLM2-135M-Instruct, offline, CPU) through the LLM stages of the pipeline.

Its answers are probably poor; what matters is that unify, generate, verify and revise all run
on real model output without errors, and that every record and prediction is accounted for.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from runhelp import PARSED, run_codeio  # type: ignore[import-not-found]

from codeio import exit_codes
from codeio.store import funnel

pytestmark = [pytest.mark.slow, pytest.mark.needs_torch, pytest.mark.timeout(1800)]

DEMO_RAW = Path(__file__).resolve().parents[2] / "src" / "codeio" / "demo_data" / "raw"


def _config(path: Path, data: Path, model: Path) -> Path:
    path.write_text(
        "\n".join(
            [
                "seed: 3",
                "input:",
                f"  path: {data}",
                "llm:",
                f"  spec: 'transformers:{model}'",
                "  max_tokens: 96",
                "  temperature: 0.0",
                "  concurrency: 8",
                "exec: {workers: 2}",
                "revise: {rounds: 1}",
                "prompt: {pairs_per_function: 1}",
                "runner: {batch_size: 8}",
            ]
        )
        + "\n"
    )
    return path


def _status(run_dir: Path) -> dict:
    result = run_codeio("status", str(run_dir), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_real_model_unifies_raw_code_without_errors(tmp_path: Path, smollm2_dir: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    # Two files: a 135M model on 2 CPU cores takes about a minute per unify answer.
    for name in sorted(p.name for p in DEMO_RAW.glob("*.py"))[:2]:
        shutil.copy(DEMO_RAW / name, raw / name)
    run_dir = tmp_path / "run"
    cfg = _config(tmp_path / "c.yaml", raw, smollm2_dir)
    result = run_codeio("run", str(cfg), "--out", str(run_dir), "--to", "unify", timeout=1500)
    # A tiny model may fail every file for one reason (e.g. cut at max_tokens): then the run
    # stops with that reason in one line (exit 3) instead of carrying on empty.
    assert result.returncode in (0, exit_codes.STAGE_EMPTY), result.stderr[-3000:]
    if result.returncode == exit_codes.STAGE_EMPTY:
        assert "unify: all 2 records failed:" in result.stderr
        assert "Traceback" not in result.stderr
    stages = {s["stage"]: s for s in funnel(run_dir)["stages"]}
    unify = stages["unify"]
    # Every file got an answer that was parsed and either kept or failed with a reason.
    assert unify["entered"] == 2
    assert unify["entered"] == unify["passed"] + unify["failed"]
    assert all(reason for reason in unify["failures"])


def test_real_model_answers_are_verified_and_revised(tmp_path: Path, smollm2_dir: Path) -> None:
    data = tmp_path / "ios.jsonl"
    with PARSED.open() as src:
        data.write_text("".join(line for _, line in zip(range(2), src, strict=False)))
    run_dir = tmp_path / "run"
    cfg = _config(tmp_path / "c.yaml", data, smollm2_dir)
    result = run_codeio("run", str(cfg), "--out", str(run_dir), timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    status = _status(run_dir)
    stages = {s["stage"]: s for s in status["stages"]}
    for name in ("generate", "verify", "revise"):
        stage = stages[name]
        assert stage["entered"] > 0, stage
        assert stage["entered"] == stage["passed"] + stage["failed"], stage
    assert stages["revise"]["entered"] == stages["verify"]["out"]
    verified = status["verified"]
    assert verified["samples"] == stages["revise"]["out"]
    # A 135M model is rarely right, so most answers went through a revision turn.
    assert [t["turn"] for t in verified["by_turn"]][:2] == [1, 2], verified
