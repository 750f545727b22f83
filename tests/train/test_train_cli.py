"""``codeio train CONFIG`` end to end on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_torch
pytest.importorskip("torch")
pytest.importorskip("trl")

import typer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from codeio.cli import train_cmd  # noqa: E402
from codeio.train import build_tiny_model, write_chat_jsonl  # noqa: E402


def _app() -> typer.Typer:
    # Only this command group: the test must not depend on the other groups' state.
    app = typer.Typer()
    app.callback()(lambda: None)
    train_cmd.register(app)
    return app


def test_train_command_runs_both_stages_from_yaml(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"2+{i}?"},
                {"role": "assistant", "content": str(2 + i)},
            ]
        }
        for i in range(6)
    ]
    write_chat_jsonl(rows, tmp_path / "codeio.jsonl")
    write_chat_jsonl(rows[:3], tmp_path / "general.jsonl")
    build_tiny_model([m["content"] for r in rows for m in r["messages"]], tmp_path / "model")
    (tmp_path / "train.yaml").write_text(
        "model: model\noutput_dir: out\n"
        "per_device_batch_size: 2\ngradient_checkpointing: false\n"
        "stage1: {data: codeio.jsonl, global_batch_size: 2, max_length: 64}\n"
        "stage2: {data: general.jsonl, learning_rate: 3.0e-5, scheduler: cosine,\n"
        "         min_learning_rate: 1.0e-6, max_steps: 700, global_batch_size: 2}\n"
    )
    result = CliRunner().invoke(
        _app(),
        ["train", str(tmp_path / "train.yaml"), "--set", "stage2.max_steps=2", "-q"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    s1, s2 = summary["stages"]
    assert s1["global_step"] == 3  # one epoch of 6 rows at batch 2
    assert s2["global_step"] == 2  # the --set override won over the file
    assert summary["final_model"] == str(tmp_path / "out" / "stage2" / "final")
    assert (tmp_path / "out" / "metrics.jsonl").exists()


def test_train_command_reports_config_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("model: m\noutput_dir: o\nstage1: {learning_rate: -1}\n")
    result = CliRunner().invoke(_app(), ["train", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 1
    assert "learning_rate" in result.output
