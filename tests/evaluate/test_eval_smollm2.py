"""A real small local model (SmolLM2-135M-Instruct GGUF) through ``codeio eval``, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

DATA = Path(__file__).resolve().parents[2] / "../shared/data/cruxeval/cruxeval.jsonl"


@pytest.mark.slow
@pytest.mark.needs_torch
@pytest.mark.timeout(1500)
def test_smollm2_runs_cruxeval_o_limit_10(tmp_path: Path, smollm2_dir: Path) -> None:
    from codeio.cli.main import app

    if not DATA.is_file():
        pytest.skip("CRUXEval data not available")
    out = tmp_path / "ev"
    args = ["eval", "--benchmark", "cruxeval-o", "--llm", f"transformers:{smollm2_dir}", "--data", str(DATA),
            "--limit", "10", "--direct", "--max-tokens", "48", "--out", str(out), "--workers", "2"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == 10 and summary["responses"] == 10
    assert 0.0 <= summary["pass_at_k"]["pass@1"] <= 1.0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert all(row["response"] for row in rows)
    print(f"smollm2 cruxeval-o limit 10: pass@1={summary['pass_at_k']['pass@1']:.3f} "
          f"in {summary['elapsed_s']:.1f}s; statuses {summary['statuses']}")  # fmt: skip
