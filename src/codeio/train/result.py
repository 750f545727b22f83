"""What a training run reports: one StageResult per stage, gathered in a TrainResult."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["StageResult", "TrainResult"]


class StageResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    model_dir: str
    """The stage's final weights (LoRA merged), loadable with AutoModelForCausalLM."""
    init_from: str
    """The weights the stage started from: the base model, or the previous stage's model_dir."""
    skipped: bool = False
    """True when resume found the stage already finished."""
    resumed_from: str | None = None
    global_step: int = 0
    train_samples: int = 0
    trained_tokens: int = 0
    """Assistant tokens in the stage's data (the tokens that carry loss), one epoch."""
    input_tokens_seen: int = 0
    first_loss: float | None = None
    last_loss: float | None = None
    runtime_s: float = 0.0
    tokens_per_s: float = 0.0
    global_batch_size: int = 0
    gradient_accumulation_steps: int = 1
    device: str = "cpu"
    precision: str = "fp32"
    packing: bool = False


class TrainResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    output_dir: str
    final_model: str
    metrics_path: str
    stages: list[StageResult] = Field(default_factory=list)
