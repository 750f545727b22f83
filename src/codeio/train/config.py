"""Training configuration: the paper's two-stage recipe as defaults, loadable from YAML/TOML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codeio.errors import ConfigError

__all__ = [
    "LoraSettings",
    "StageConfig",
    "TrainConfig",
    "load_train_config",
    "paper_stage1",
    "paper_stage2",
]

Scheduler = Literal["constant", "cosine", "cosine_with_min_lr", "linear"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageConfig(_Strict):
    """One SFT stage. Defaults are the paper's stage 1 (CodeI/O data)."""

    data: list[str] = Field(default_factory=list)
    """Chat datasets: JSONL/JSON/Parquet files, folders (HF ``save_to_disk``, LLaMA-Factory, or
    files), or ``hf:NAME[:SPLIT]`` for a hub dataset (needs network)."""
    learning_rate: float = 1e-5
    scheduler: Scheduler = "constant"
    min_learning_rate: float | None = None
    """Floor of a cosine schedule (uses transformers' ``cosine_with_min_lr``)."""
    warmup_ratio: float = 0.0
    epochs: float = 1.0
    max_steps: int = -1
    """Optimizer steps; -1 means ``epochs`` decide."""
    global_batch_size: int = 1024
    """Sequences per optimizer step over all devices; gradient accumulation fills the gap."""
    max_length: int = 4096
    max_samples: int | None = None
    """Keep only the first N rows (for smoke runs)."""

    @model_validator(mode="before")
    @classmethod
    def _one_path_is_a_list(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("data"), str):
            values = {**values, "data": [values["data"]]}
        return values

    @model_validator(mode="after")
    def _check(self) -> StageConfig:
        if self.learning_rate <= 0 or self.global_batch_size < 1 or self.max_length < 8:
            raise ValueError("learning_rate > 0, global_batch_size >= 1, max_length >= 8")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be in [0, 1)")
        if self.min_learning_rate is not None and self.scheduler not in (
            "cosine",
            "cosine_with_min_lr",
        ):
            raise ValueError("min_learning_rate only applies to a cosine scheduler")
        if self.max_steps == 0 or (self.max_steps < 0 and self.epochs <= 0):
            raise ValueError("a stage needs max_steps > 0 or epochs > 0")
        return self


def paper_stage1(data: list[str] | str | None = None, **overrides: Any) -> StageConfig:
    """Stage 1 of the paper: CodeI/O data, 1 epoch, constant 1e-5, batch 1024, length 4096."""
    return StageConfig(data=data or [], **overrides)


def paper_stage2(data: list[str] | str | None = None, **overrides: Any) -> StageConfig:
    """Stage 2 of the paper: general instruction data, cosine 3e-5 -> 1e-6, about 700 steps."""
    base: dict[str, Any] = {
        "learning_rate": 3e-5,
        "scheduler": "cosine",
        "min_learning_rate": 1e-6,
        "max_steps": 700,
    }
    return StageConfig(data=data or [], **{**base, **overrides})


class LoraSettings(_Strict):
    """Optional LoRA (peft). After each stage the adapter is merged so the next stage and any
    evaluation load a plain model."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"


class TrainConfig(_Strict):
    """The whole recipe. ``stage2=None`` trains stage 1 only; ``mix_stages`` is the ablation the
    paper found worse (both datasets in one stage with stage 1's schedule)."""

    model: str
    """A local model folder or hub name; with ``gguf_file``, the folder holding that file."""
    gguf_file: str | None = None
    output_dir: str
    stage1: StageConfig = Field(default_factory=paper_stage1)
    stage2: StageConfig | None = None
    mix_stages: bool = False
    per_device_batch_size: int = 1
    devices: int | None = None
    """Data-parallel processes; None asks accelerate (1 without a launcher)."""
    precision: Precision = "auto"
    """auto: bf16 on a GPU that supports it, else fp32."""
    assistant_only_loss: bool = True
    packing: bool | Literal["auto"] = "auto"
    """auto: pack (padding-free) only where the attention kernel keeps sequences apart."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass: needed for 4096-token batches on 7B models."""
    lora: LoraSettings | None = None
    seed: int = 0
    logging_steps: int = 1
    save_steps: int = 500
    save_total_limit: int | None = 2
    resume: bool = False
    """Skip finished stages and continue an unfinished one from its last checkpoint."""
    system_prompt: str | None = None
    """Prepended to rows that have no system message."""
    progress_bar: bool = True
    extra_args: dict[str, Any] = Field(default_factory=dict)
    """Passed through to TRL's SFTConfig (escape hatch for options not modelled here)."""

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.mix_stages and self.stage2 is None:
            raise ValueError("mix_stages needs a stage2 dataset to mix in")
        if self.per_device_batch_size < 1 or (self.devices is not None and self.devices < 1):
            raise ValueError("per_device_batch_size and devices must be >= 1")
        return self

    def stages(self) -> list[tuple[str, StageConfig]]:
        """The stages to run, in order, with their names (also their folder names)."""
        if self.mix_stages:
            assert self.stage2 is not None
            mixed = self.stage1.model_copy(update={"data": self.stage1.data + self.stage2.data})
            return [("mixed", mixed)]
        out = [("stage1", self.stage1)]
        if self.stage2 is not None:
            out.append(("stage2", self.stage2))
        return out


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a TrainConfig from YAML, TOML or JSON; ``overrides`` use dotted keys (``stage1.max_steps``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read training config {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from exc
    try:
        if path.suffix == ".toml":
            import tomllib

            raw = tomllib.loads(text)
        elif path.suffix == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text) or {}
    except Exception as exc:  # each parser has its own error type
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    raw = raw.get("train", raw) if isinstance(raw.get("train"), dict) else raw
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
    _resolve_paths(raw, path.parent)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        # Key: message pairs, as for a run config, not pydantic's multi-line dump with URLs.
        from codeio.config import _format_validation

        raise ConfigError(_format_validation(exc, str(path))) from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key}: {part} is not a section")
    node[leaf] = value


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    # Relative paths in a config file mean "next to the config", like most training tools.
    def fix(p: Any) -> Any:
        if not isinstance(p, str) or p.startswith("hf:") or Path(p).is_absolute():
            return p
        candidate = base / p
        return str(candidate) if candidate.exists() else p

    if "model" in raw:
        raw["model"] = fix(raw["model"])
    if isinstance(raw.get("output_dir"), str) and not Path(raw["output_dir"]).is_absolute():
        raw["output_dir"] = str(base / raw["output_dir"])
    for stage in ("stage1", "stage2"):
        section = raw.get(stage)
        if isinstance(section, dict) and "data" in section:
            data = section["data"]
            section["data"] = [fix(d) for d in data] if isinstance(data, list) else fix(data)
