"""Requests for prediction turns, shared by generate (turn 1) and revise (later turns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codeio.pipeline.run.llmcalls import request_seed
from codeio.pipeline.run.resources import sampling_params
from codeio.records import Message, PredictionTask

if TYPE_CHECKING:
    from codeio.config import RunConfig

__all__ = ["prediction_request"]


def prediction_request(
    config: RunConfig,
    task: PredictionTask,
    messages: list[Message],
    *,
    turn: int,
    feedback: str | None,
    stage: str,
) -> Any:
    from codeio.llm import LLMRequest

    temperature = config.generate.temperature
    params = sampling_params(
        config, seed=request_seed(config.seed, task.id, turn), temperature=temperature
    )
    from codeio.pipeline.prompt import teacher_context

    context = teacher_context(task, turn=turn, feedback=feedback)
    return LLMRequest(messages=messages, params=params, stage=stage, context=context)
