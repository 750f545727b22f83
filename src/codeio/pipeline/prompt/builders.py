"""Build the prompts of each stage from records and the shipped templates."""

from __future__ import annotations

import json
from typing import Any

from codeio.pipeline.prompt.templates import render
from codeio.records import FunctionRecord, Message, PredictionKind, PredictionTask, RawCode, Verdict

__all__ = [
    "build_task",
    "teacher_context",
    "revision_message",
    "unify_messages",
    "unify_repair_message",
]

_NO_PROBLEM = "Consider the function `{funcname}` and the values it takes and returns."
_NO_IO_DESCRIPTION = (
    "Input: the keyword arguments of `{funcname}`, as a dictionary.\nOutput: its return value."
)


def build_task(
    fn: FunctionRecord, io_index: int, kind: PredictionKind, *, include_code: bool = True
) -> PredictionTask:
    """The prediction question about pair ``io_index`` of ``fn``: predict its input or output.

    ``include_code`` adds the reference code as a hint, as the paper does for training data.
    """
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', not {kind!r}")
    if not 0 <= io_index < len(fn.ios):
        raise IndexError(f"function {fn.id} has {len(fn.ios)} I/O pairs; no pair {io_index}")
    pair = fn.ios[io_index]
    code_hint = render("code_hint", refcode=fn.refcode.strip()) if include_code else ""
    common = {
        "problem": fn.problem.strip() or _NO_PROBLEM.format(funcname=fn.funcname),
        "io_description": fn.io_description.strip()
        or _NO_IO_DESCRIPTION.format(funcname=fn.funcname),
        "code_hint": code_hint.rstrip(),
    }
    if kind == "output":
        prompt = render("output_prediction", input=_as_json(pair.input), **common)
    else:
        prompt = render("input_prediction", output=_as_json(pair.output), **common)
    return PredictionTask(
        id=PredictionTask.make_id(fn.id, io_index, kind),
        func_id=fn.id,
        io_index=io_index,
        kind=kind,
        prompt=prompt.strip(),
        pair=pair,
        refcode=fn.refcode,
        funcname=fn.funcname,
    )


def teacher_context(
    task: PredictionTask, *, turn: int = 1, feedback: str | None = None
) -> dict[str, Any]:
    """The structured facts of a prediction request (``LLMRequest.context``).

    Remote models never see it; offline backends such as the trace teacher answer from it.
    """
    return {
        "task": "predict",
        "kind": task.kind,
        "refcode": task.refcode,
        "funcname": task.funcname,
        "input": task.pair.input,
        "output": task.pair.output,
        "turn": turn,
        "feedback": feedback,
    }


def unify_messages(raw: RawCode) -> list[Message]:
    """The chat that asks an LLM to rewrite ``raw`` into the four-section unified form."""
    return [Message(role="user", content=render("unify", code=raw.content.strip("\n")).strip())]


def unify_repair_message(error: str) -> str:
    """The follow-up user turn after a unify answer was rejected with ``error``."""
    return render("unify_repair", error=error.strip()).strip()


def revision_message(verdict: Verdict) -> str:
    """The CodeI/O++ revision turn: the verifier's feedback, then a request to redo it."""
    feedback = verdict.feedback.strip()
    if verdict.process is not None and verdict.process.feedback:
        # What the steps got wrong (docs/PROCESS.md): the model can fix its reasoning too.
        feedback = f"{feedback}\n{verdict.process.feedback.strip()}"
    return render("revision", feedback=feedback).strip()


def _as_json(value: Any) -> str:
    # NaN/Infinity are kept as the stored data has them; the model sees exactly what is checked.
    return json.dumps(value, ensure_ascii=False, allow_nan=True)
