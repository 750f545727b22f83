"""The two-stage recipe on a tiny from-scratch model: real optimizer steps on CPU."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.needs_torch
torch = pytest.importorskip("torch")
pytest.importorskip("trl")
transformers = pytest.importorskip("transformers")

from codeio.train import (  # noqa: E402
    LoraSettings,
    StageConfig,
    TrainConfig,
    build_tiny_model,
    run_training,
    write_chat_jsonl,
)
from codeio.train.masking import IGNORE_INDEX  # noqa: E402


def _rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "user", "content": f"def f(x): return x * 3\nWhat is f({i})?"},
                {"role": "assistant", "content": f"f({i}) = {i} * 3 = {3 * i}."},
            ]
        }
        for i in range(offset, offset + n)
    ]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    codeio_rows, general_rows = _rows(16), _rows(8, offset=100)
    write_chat_jsonl(codeio_rows, root / "codeio.jsonl")
    write_chat_jsonl(general_rows, root / "general.jsonl")
    write_chat_jsonl(_rows(1) * 8, root / "repeated.jsonl")
    texts = [m["content"] for r in codeio_rows + general_rows for m in r["messages"]]
    model = build_tiny_model(texts, root / "model")
    return {"root": root, "model": model}


def _stage(data: Path, **kw: Any) -> StageConfig:
    base = {"learning_rate": 2e-3, "global_batch_size": 4, "max_length": 96, "max_steps": 4}
    return StageConfig(data=[str(data)], **{**base, **kw})


def _config(tiny: dict[str, Path], out: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "model": str(tiny["model"]),
        "output_dir": str(out),
        "stage1": _stage(tiny["root"] / "codeio.jsonl"),
        "per_device_batch_size": 2,
        "save_steps": 2,
        "progress_bar": False,
    }
    return TrainConfig(**{**base, **kw})


def _metrics(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_tiny_model_loads_with_auto_classes(tiny: dict[str, Path]) -> None:
    tok = transformers.AutoTokenizer.from_pretrained(tiny["model"])
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny["model"])
    text = "def g(y):\n    return {'k': [1.5, None]}  # ünïcode"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text  # byte-level: nothing unseen is lost
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    assert tok.pad_token_id != tok.eos_token_id
    out = model(torch.tensor([ids]))
    assert out.logits.shape == (1, len(ids), len(tok))


def test_loss_falls_on_a_repeated_batch(tiny: dict[str, Path], tmp_path: Path) -> None:
    cfg = _config(
        tiny,
        tmp_path,
        stage1=_stage(tiny["root"] / "repeated.jsonl", learning_rate=5e-3, max_steps=12),
    )
    result = run_training(cfg)
    losses = [m["loss"] for m in _metrics(result.metrics_path) if "loss" in m]
    assert len(losses) == 12
    assert losses[-1] < 0.6 * losses[0]
    (stage,) = result.stages
    assert stage.global_step == 12 and stage.device == "cpu" and stage.precision == "fp32"
    assert stage.gradient_accumulation_steps == 2 and stage.global_batch_size == 4


def test_two_stages_chain_weights_and_log_both_schedules(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    seen: list[torch.Tensor] = []

    class FirstWeights(transformers.TrainerCallback):
        def on_train_begin(
            self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
        ) -> None:
            seen.append(model.get_input_embeddings().weight.detach().clone())

    cfg = _config(
        tiny,
        tmp_path,
        stage2=_stage(
            tiny["root"] / "general.jsonl", scheduler="cosine", min_learning_rate=1e-5, max_steps=3
        ),
    )
    result = run_training(cfg, callbacks=[FirstWeights()])
    s1, s2 = result.stages
    assert s2.init_from == s1.model_dir and result.final_model == s2.model_dir

    def emb(path: str | Path) -> torch.Tensor:
        m = transformers.AutoModelForCausalLM.from_pretrained(path)
        return m.get_input_embeddings().weight.detach()

    base, after1, after2 = emb(tiny["model"]), emb(s1.model_dir), emb(s2.model_dir)
    assert torch.equal(seen[0], base)
    assert not torch.equal(after1, base)  # stage 1 really trained
    assert torch.equal(seen[1], after1)  # stage 2 starts exactly where stage 1 ended
    assert not torch.equal(after2, after1)

    logs = [m for m in _metrics(result.metrics_path) if "loss" in m]
    lr1 = [m["learning_rate"] for m in logs if m["stage"] == "stage1"]
    lr2 = [m["learning_rate"] for m in logs if m["stage"] == "stage2"]
    assert lr1 == [2e-3] * 4  # constant, no warmup
    assert lr2[0] > lr2[-1] >= 1e-5  # cosine decays toward its floor
    assert [m["step"] for m in logs if m["stage"] == "stage2"] == [1, 2, 3]


def test_resume_continues_the_global_step(tiny: dict[str, Path], tmp_path: Path) -> None:
    class Crash(RuntimeError):
        pass

    class CrashAfterFirstCheckpoint(transformers.TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            raise Crash(f"simulated crash at step {state.global_step}")

    cfg = _config(tiny, tmp_path)
    with pytest.raises(Crash):
        run_training(cfg, callbacks=[CrashAfterFirstCheckpoint()])
    assert (tmp_path / "stage1" / "checkpoint-2").is_dir()
    assert not (tmp_path / "stage1" / "final").exists()

    result = run_training(cfg.model_copy(update={"resume": True}))
    (stage,) = result.stages
    assert stage.resumed_from is not None and stage.resumed_from.endswith("checkpoint-2")
    assert stage.global_step == 4
    steps = [m["step"] for m in _metrics(result.metrics_path) if "loss" in m]
    assert steps == [1, 2, 3, 4]  # the metrics log carries on, no step repeated

    again = run_training(cfg.model_copy(update={"resume": True}))
    assert again.stages[0].skipped and again.stages[0].global_step == 4


def test_training_batches_mask_everything_but_the_assistant(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    batches: list[dict[str, Any]] = []

    class GrabBatch(transformers.TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            batches.append(next(iter(kw["train_dataloader"])))

    run_training(
        _config(tiny, tmp_path, stage1=_stage(tiny["root"] / "codeio.jsonl", max_steps=1)),
        callbacks=[GrabBatch()],
    )
    tok = transformers.AutoTokenizer.from_pretrained(tiny["model"])
    batch = batches[0]
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist(), strict=True):
        kept = [t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX]
        assert all(lab in (IGNORE_INDEX, t) for t, lab in zip(ids, labels, strict=True))
        text = tok.decode(kept)
        assert text.startswith("f(") and text.endswith(".<|im_end|>")  # the answer + end of turn
        assert "What is" not in text and "user" not in text  # the prompt carries no loss


def test_lora_stage_saves_a_merged_model(tiny: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("peft")
    cfg = _config(
        tiny,
        tmp_path,
        stage1=_stage(tiny["root"] / "codeio.jsonl", max_steps=2),
        lora=LoraSettings(r=4, alpha=8, dropout=0.0),
    )
    result = run_training(cfg)
    final = Path(result.final_model)
    assert (final / "adapter" / "adapter_config.json").exists()
    merged = transformers.AutoModelForCausalLM.from_pretrained(final)  # plain, no peft needed
    base = transformers.AutoModelForCausalLM.from_pretrained(tiny["model"])
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged.state_dict()[q], base.state_dict()[q])
