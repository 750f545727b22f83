"""The paper's two-stage SFT on TRL's SFTTrainer: CodeI/O data first, then general instructions.

Layout of ``output_dir``::

    metrics.jsonl              one line per log event: stage, step, loss, learning_rate, ...
    stage1/checkpoint-N/       trainer checkpoints (resume continues the global step)
    stage1/final/              stage 1's weights (LoRA merged) + tokenizer + codeio_stage.json
    stage2/...                 the same for stage 2, which starts from stage1/final
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from codeio.errors import ConfigError, InputError, require
from codeio.train.callbacks import metrics_logger
from codeio.train.config import StageConfig, TrainConfig
from codeio.train.data import load_chat_rows
from codeio.train.masking import encode_chat
from codeio.train.models import load_causal_lm, load_tokenizer
from codeio.train.result import StageResult, TrainResult

__all__ = ["gradient_accumulation_steps", "run_training"]

logger = logging.getLogger(__name__)

STAGE_MARKER = "codeio_stage.json"
METRICS_FILE = "metrics.jsonl"


def gradient_accumulation_steps(global_batch: int, per_device: int, devices: int) -> int:
    """Micro-batches per optimizer step so that per_device x devices x steps ~= global_batch."""
    per_step = per_device * devices
    steps = max(1, round(global_batch / per_step))
    if steps * per_step != global_batch:
        logger.warning(
            "global batch %d is not a multiple of %d x %d; using %d",
            global_batch,
            per_device,
            devices,
            steps * per_step,
        )
    return steps


def run_training(config: TrainConfig, *, callbacks: list[Any] | None = None) -> TrainResult:
    """Run every stage of ``config`` in order; each stage starts from the previous one's weights.

    ``callbacks`` are extra transformers TrainerCallbacks given to every stage's trainer.
    """
    for module in ("torch", "transformers", "trl", "datasets"):
        require(module, "train", "codeio train")
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = out / METRICS_FILE
    if not config.resume and metrics.exists():
        metrics.unlink()  # a fresh run must not mix its curve with an earlier one's
    (out / "train_config.json").write_text(config.model_dump_json(indent=2), encoding="utf-8")

    model_path, gguf_file = config.model, config.gguf_file
    results: list[StageResult] = []
    for name, stage in config.stages():
        result = _run_stage(
            config, name, stage, model_path, gguf_file, out / name, metrics, callbacks or []
        )
        results.append(result)
        model_path, gguf_file = result.model_dir, None
    return TrainResult(
        output_dir=str(out), final_model=model_path, metrics_path=str(metrics), stages=results
    )


def _run_stage(
    config: TrainConfig,
    name: str,
    stage: StageConfig,
    init_from: str,
    gguf_file: str | None,
    stage_dir: Path,
    metrics: Path,
    callbacks: list[Any],
) -> StageResult:
    final_dir = stage_dir / "final"
    marker = final_dir / STAGE_MARKER
    if config.resume and marker.exists():
        done = StageResult.model_validate_json(marker.read_text(encoding="utf-8"))
        logger.info("%s: already finished at step %d; skipping", name, done.global_step)
        return done.model_copy(update={"skipped": True})

    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    device, precision = _device_and_precision(config.precision)
    packing, attn = _packing(config.packing, device)
    tokenizer = load_tokenizer(init_from, gguf_file)
    dataset, n_rows, trained_tokens = _build_dataset(config, stage, tokenizer)
    model = load_causal_lm(init_from, gguf_file, attn)

    devices = config.devices or _process_count()
    accum = gradient_accumulation_steps(
        stage.global_batch_size, config.per_device_batch_size, devices
    )
    scheduler, scheduler_kwargs = stage.scheduler, {}
    if stage.min_learning_rate is not None:
        scheduler, scheduler_kwargs = "cosine_with_min_lr", {"min_lr": stage.min_learning_rate}
    args = SFTConfig(
        output_dir=str(stage_dir),
        per_device_train_batch_size=config.per_device_batch_size,
        gradient_accumulation_steps=accum,
        learning_rate=stage.learning_rate,
        lr_scheduler_type=scheduler,
        lr_scheduler_kwargs=scheduler_kwargs,
        **_warmup(SFTConfig, stage.warmup_ratio),
        num_train_epochs=stage.epochs,
        max_steps=stage.max_steps,
        max_length=stage.max_length,
        packing=packing,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        **_checkpointing(SFTConfig, config.gradient_checkpointing),
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        report_to="none",
        disable_tqdm=not config.progress_bar,
        include_num_input_tokens_seen="non_padding",
        **config.extra_args,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_lora_config(config),
        callbacks=[metrics_logger(metrics, name), *callbacks],
    )
    resume_from = get_last_checkpoint(str(stage_dir)) if config.resume else None
    if resume_from:
        logger.info("%s: resuming from %s", name, resume_from)
    start = time.perf_counter()
    tokens_before = _tokens_seen_at(resume_from)
    trainer.train(resume_from_checkpoint=resume_from)
    runtime = time.perf_counter() - start

    _save_final(trainer, tokenizer, final_dir, lora=config.lora is not None)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    tokens_seen = int(trainer.state.num_input_tokens_seen or 0)
    result = StageResult(
        name=name,
        model_dir=str(final_dir),
        init_from=init_from,
        resumed_from=resume_from,
        global_step=trainer.state.global_step,
        train_samples=n_rows,
        trained_tokens=trained_tokens,
        input_tokens_seen=tokens_seen,
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        runtime_s=round(runtime, 3),
        tokens_per_s=round((tokens_seen - tokens_before) / runtime, 1) if runtime > 0 else 0.0,
        global_batch_size=accum * config.per_device_batch_size * devices,
        gradient_accumulation_steps=accum,
        device=device,
        precision=precision,
        packing=packing,
    )
    marker.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    return result


def _fields(config_cls: Any) -> set[str]:
    import dataclasses

    return {f.name for f in dataclasses.fields(config_cls)}


def _warmup(config_cls: Any, ratio: float) -> dict[str, float]:
    # transformers 5 folded warmup_ratio into warmup_steps (a float below 1 is a ratio).
    return (
        {"warmup_ratio": ratio}
        if "warmup_ratio" in _fields(config_cls)
        else {"warmup_steps": ratio}
    )


def _checkpointing(config_cls: Any, enabled: bool) -> dict[str, bool]:
    # Always explicit: TRL defaults it on. transformers 5 renamed it activation_checkpointing and
    # warns on the old name.
    fields = _fields(config_cls)
    name = (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else "gradient_checkpointing"
    )
    return {name: enabled}


def _device_and_precision(precision: str) -> tuple[str, str]:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if precision == "auto":
        gpu_bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
        precision = "bf16" if gpu_bf16 else "fp32"
    if device == "cpu" and precision != "fp32":
        raise ConfigError(f"precision {precision} needs a GPU; use fp32 (or auto) on CPU")
    return device, precision


def _packing(setting: bool | str, device: str) -> tuple[bool, str | None]:
    """Whether to pack, and the attention kernel to load the model with."""
    from transformers.utils import is_flash_attn_2_available

    flash = device == "cuda" and is_flash_attn_2_available()
    if setting == "auto":
        # Padding-free packing keeps sequences apart only with a varlen kernel; elsewhere packed
        # sequences would attend to each other, so pad instead.
        return flash, "flash_attention_2" if flash else None
    return bool(setting), "flash_attention_2" if (setting and flash) else None


def _process_count() -> int:
    from accelerate import PartialState

    return PartialState().num_processes


def _build_dataset(config: TrainConfig, stage: StageConfig, tokenizer: Any) -> tuple[Any, int, int]:
    from datasets import Dataset

    rows = load_chat_rows(
        stage.data, max_samples=stage.max_samples, system_prompt=config.system_prompt
    )
    ids: list[list[int]] = []
    labels: list[list[int]] = []
    trained = 0
    for msgs in rows:
        enc = encode_chat(
            tokenizer, msgs, max_length=stage.max_length, assistant_only=config.assistant_only_loss
        )
        if enc is None:  # truncation cut every assistant token: nothing to learn
            continue
        ids.append(enc.input_ids)
        labels.append(enc.labels)
        trained += enc.trained_tokens
    if not ids:
        raise InputError(f"no trainable rows within max_length={stage.max_length}")
    if len(ids) < len(rows):
        logger.warning(
            "%d rows dropped: no assistant token within max_length", len(rows) - len(ids)
        )
    # Pre-tokenised input_ids + labels: TRL skips its own templating and keeps our mask.
    return Dataset.from_dict({"input_ids": ids, "labels": labels}), len(ids), trained


def _lora_config(config: TrainConfig) -> Any:
    if config.lora is None:
        return None
    peft = require("peft", "train", "LoRA training")
    return peft.LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        task_type="CAUSAL_LM",
    )


def _save_final(trainer: Any, tokenizer: Any, final_dir: Path, *, lora: bool) -> None:
    final_dir.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    if lora:
        model.save_pretrained(str(final_dir / "adapter"))
        model = model.merge_and_unload()
    model.save_pretrained(str(final_dir))
    tokenizer.save_pretrained(str(final_dir))


def _tokens_seen_at(checkpoint: str | None) -> int:
    if not checkpoint:
        return 0
    state = Path(checkpoint) / "trainer_state.json"
    if not state.exists():
        return 0
    value = json.loads(state.read_text(encoding="utf-8")).get("num_input_tokens_seen", 0)
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0
