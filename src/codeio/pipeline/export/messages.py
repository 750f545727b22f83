"""Chat-format SFT rows: the task prompt as the user turn, all turns assembled as the answer."""

from __future__ import annotations

from typing import Any

from codeio.records import Sample

__all__ = ["assemble_response", "messages_row", "sample_metadata"]


def assemble_response(sample: Sample) -> str:
    """The assistant message for a sample: CodeI/O++ joins every turn (``revise.assemble``)."""
    from codeio.pipeline.revise import assemble

    return assemble(sample)


def sample_metadata(sample: Sample) -> dict[str, Any]:
    """Fields every row carries besides the conversation, so a row can be traced back."""
    return {
        "id": sample.task_id,
        "func_id": sample.func_id,
        "kind": sample.kind,
        "final_status": sample.final_status,
        "num_turns": len(sample.turns),
        "model": sample.model,
    }


def messages_row(sample: Sample) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": sample.prompt},
            {"role": "assistant", "content": assemble_response(sample)},
        ],
        **sample_metadata(sample),
    }
