"""Attempt: a prediction task together with the sample of turns taken on it so far.

Verify and revise need the task (its pair, refcode) next to the sample, and a stage must be
record-in/record-out, so the two travel together from generate to the end of the pipeline.
The final stage's Attempts are what export reads (``attempt.sample`` is the exported Sample).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from codeio.records import PredictionTask, Sample

__all__ = ["Attempt"]


class Attempt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    id: str
    """The task id."""
    task: PredictionTask
    sample: Sample
