"""Preference pairs from CodeI/O++ revisions: a wrong answer (rejected) vs the verified fix."""

from __future__ import annotations

from typing import Any

from codeio.records import Sample

__all__ = ["dpo_rows"]


def dpo_rows(sample: Sample) -> list[dict[str, Any]]:
    """One pair per distinct failed turn before a final turn that verified correct."""
    if sample.final_status != "correct" or len(sample.turns) < 2:
        return []
    chosen = sample.turns[-1].response
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, turn in enumerate(sample.turns[:-1]):
        status = turn.verdict.status if turn.verdict else None
        if status == "correct" or turn.response in seen or turn.response == chosen:
            continue
        seen.add(turn.response)
        rows.append(
            {
                "prompt": sample.prompt,
                "chosen": chosen,
                "rejected": turn.response,
                "id": sample.task_id,
                "func_id": sample.func_id,
                "kind": sample.kind,
                "rejected_turn": index + 1,
                "rejected_status": status,
            }
        )
    return rows
