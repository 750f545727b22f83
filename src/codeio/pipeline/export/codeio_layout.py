"""The layout of the public CodeIO-PyEdu-Reasoning release: prompt, turn_N, feedback_N."""

from __future__ import annotations

from typing import Any

from codeio.pipeline.export.messages import sample_metadata
from codeio.records import Sample

__all__ = ["codeio_row"]


def codeio_row(sample: Sample) -> dict[str, Any]:
    from codeio.pipeline.revise import to_codeio_layout

    return {**to_codeio_layout(sample), **sample_metadata(sample)}
