"""ShareGPT rows (``conversations`` with ``from``/``value``), as many SFT trainers read them."""

from __future__ import annotations

from typing import Any

from codeio.pipeline.export.messages import assemble_response, sample_metadata
from codeio.records import Sample

__all__ = ["sharegpt_row"]


def sharegpt_row(sample: Sample) -> dict[str, Any]:
    return {
        "conversations": [
            {"from": "human", "value": sample.prompt},
            {"from": "gpt", "value": assemble_response(sample)},
        ],
        **sample_metadata(sample),
    }
