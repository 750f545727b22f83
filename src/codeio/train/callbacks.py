"""Trainer callbacks; built by factories so transformers is imported only when training."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["metrics_logger"]


def metrics_logger(path: Path, stage: str) -> Any:
    """A TrainerCallback appending every log event (loss, lr, step, ...) as one JSON line."""
    from transformers import TrainerCallback

    class MetricsLogger(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            record: dict[str, Any] = {"stage": stage, "step": state.global_step}
            if state.epoch is not None:
                record["epoch"] = round(float(state.epoch), 6)
            for key, value in logs.items():
                # JSON has no NaN: a diverged loss is written as null rather than breaking readers.
                if isinstance(value, float) and not math.isfinite(value):
                    value = None
                record[key] = value
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    return MetricsLogger()
