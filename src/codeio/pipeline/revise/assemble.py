"""Join the turns of a CodeI/O++ sample into one training response.

The layout is: first answer, a short bridge, the verifier's feedback, another bridge, the revised
answer (repeated for further rounds). Only feedback that led to another turn is included, so the
response always ends with the model's own final answer.
"""

from __future__ import annotations

from typing import Any

from codeio.records import Sample

__all__ = ["CHECK_BRIDGE", "REDO_BRIDGE", "assemble", "to_codeio_layout"]

CHECK_BRIDGE = "Let me check my answer against the actual result of the code."
REDO_BRIDGE = "Let me redo it, without repeating the earlier wrong answer."


def assemble(sample: Sample) -> str:
    """The multi-turn response of ``sample`` as one text."""
    if not sample.turns:
        raise ValueError(f"sample {sample.task_id} has no turns")
    parts: list[str] = []
    for index, turn in enumerate(sample.turns):
        parts.append(turn.response.strip())
        is_last = index == len(sample.turns) - 1
        if not is_last:
            feedback = turn.verdict.feedback.strip() if turn.verdict else ""
            parts.append(CHECK_BRIDGE)
            if feedback:
                parts.append(feedback)
            parts.append(REDO_BRIDGE)
    return "\n\n".join(parts)


def to_codeio_layout(sample: Sample) -> dict[str, Any]:
    """``sample`` in the public CodeIO-PyEdu-Reasoning layout.

    Keys: ``prompt``, then ``turn_i`` and ``feedback_i`` for every turn (at least two, with empty
    strings for a turn that did not happen, so every row has the same columns).
    """
    row: dict[str, Any] = {"prompt": sample.prompt}
    for index in range(max(2, len(sample.turns))):
        turn = sample.turns[index] if index < len(sample.turns) else None
        verdict = turn.verdict if turn else None
        row[f"turn_{index + 1}"] = turn.response if turn else ""
        row[f"feedback_{index + 1}"] = verdict.feedback if verdict else ""
    return row
