"""Two-stage SFT (paper recipe) on TRL, exports for other trainers, and a tiny offline model.

Importing this package needs no training extra; torch/transformers/trl load when a function
that trains, tokenises or builds a model is called.
"""

from __future__ import annotations

from codeio.train.config import (
    LoraSettings,
    StageConfig,
    TrainConfig,
    load_train_config,
    paper_stage1,
    paper_stage2,
)
from codeio.train.formats import normalize_row, write_chat_jsonl, write_llamafactory
from codeio.train.recipe import gradient_accumulation_steps, run_training
from codeio.train.result import StageResult, TrainResult
from codeio.train.tiny import build_tiny_model

__all__ = [
    "LoraSettings",
    "StageConfig",
    "StageResult",
    "TrainConfig",
    "TrainResult",
    "build_tiny_model",
    "gradient_accumulation_steps",
    "load_train_config",
    "normalize_row",
    "paper_stage1",
    "paper_stage2",
    "run_training",
    "write_chat_jsonl",
    "write_llamafactory",
]
