"""TrainConfig: paper defaults, file formats, overrides, validation; gradient accumulation."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeio.errors import ConfigError
from codeio.train.config import TrainConfig, load_train_config, paper_stage2
from codeio.train.recipe import gradient_accumulation_steps


def test_defaults_are_the_paper_recipe() -> None:
    cfg = TrainConfig(model="m", output_dir="o", stage2=paper_stage2(["general.jsonl"]))
    s1, s2 = cfg.stage1, cfg.stage2
    assert (s1.learning_rate, s1.scheduler, s1.epochs, s1.warmup_ratio) == (1e-5, "constant", 1, 0)
    assert (s1.global_batch_size, s1.max_length) == (1024, 4096)
    assert s2 is not None
    assert (s2.learning_rate, s2.min_learning_rate, s2.max_steps) == (3e-5, 1e-6, 700)
    assert s2.scheduler == "cosine"
    assert [name for name, _ in cfg.stages()] == ["stage1", "stage2"]
    assert cfg.assistant_only_loss and cfg.precision == "auto"


def test_mixing_is_one_stage_over_both_datasets() -> None:
    cfg = TrainConfig(
        model="m",
        output_dir="o",
        stage1={"data": "codeio.jsonl"},
        stage2={"data": ["general.jsonl"]},
        mix_stages=True,
    )
    ((name, stage),) = cfg.stages()
    assert name == "mixed" and stage.data == ["codeio.jsonl", "general.jsonl"]


def test_yaml_and_toml_load_with_paths_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_text("")
    (tmp_path / "a.yaml").write_text(
        "model: some/model\noutput_dir: runs/x\n"
        "stage1:\n  data: data.jsonl\n  max_steps: 5\n"
        "lora: {r: 4}\n"
    )
    cfg = load_train_config(tmp_path / "a.yaml", {"stage1.learning_rate": 2e-5})
    assert cfg.stage1.data == [str(tmp_path / "data.jsonl")]
    assert cfg.output_dir == str(tmp_path / "runs/x")
    assert cfg.model == "some/model"  # not a local path: left for the hub
    assert cfg.stage1.max_steps == 5 and cfg.stage1.learning_rate == 2e-5
    assert cfg.lora is not None and cfg.lora.r == 4

    (tmp_path / "b.toml").write_text(
        'model = "m"\noutput_dir = "/abs/out"\n[stage1]\ndata = ["data.jsonl"]\n'
        '[stage2]\ndata = "hf:org/general"\nlearning_rate = 3e-5\n'
        'scheduler = "cosine"\nmin_learning_rate = 1e-6\nmax_steps = 700\n'
    )
    cfg = load_train_config(tmp_path / "b.toml")
    assert cfg.output_dir == "/abs/out"
    assert cfg.stage2 is not None and cfg.stage2.data == ["hf:org/general"]


@pytest.mark.parametrize(
    "text",
    [
        "model: m\noutput_dir: o\nstage1: {learning_rate: 0}\n",
        "model: m\noutput_dir: o\nunknown_key: 1\n",
        "model: m\noutput_dir: o\nstage1: {scheduler: constant, min_learning_rate: 1e-6}\n",
        "model: m\noutput_dir: o\nmix_stages: true\n",
        "- not a mapping\n",
        "model: [unclosed\n",
    ],
)
def test_bad_configs_raise_config_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError):
        load_train_config(tmp_path / "c.yaml")


def test_gradient_accumulation_reaches_the_global_batch() -> None:
    assert gradient_accumulation_steps(1024, 8, 8) == 16
    assert gradient_accumulation_steps(1024, 4, 1) == 256
    assert gradient_accumulation_steps(4, 8, 2) == 1  # never below one micro-batch
    assert gradient_accumulation_steps(1000, 3, 2) == 167  # nearest reachable: 1002
