"""Revision feedback from a contradicted claim: what the response said, what tracing shows.

The expected output is never revealed: when the trace's value is the task's answer (a final or
top-level return claim, or an intermediate value equal to it), the feedback says only that the
step is wrong.
"""

from __future__ import annotations

from typing import Any

from codeio.pipeline.verify.claims.values import parse_value
from codeio.pipeline.verify.compare import values_equal
from codeio.records import ClaimCheck, ProcessVerdict

__all__ = ["contradiction_feedback"]

_WHAT = {
    "value": "`{name}` is {claimed}",
    "loop_count": "the loop runs {claimed}",
    "condition": "`{name}` is {claimed}",
    "return": "{subject} returns {claimed}",
    "final": "the result is {claimed}",
}


def _said(check: ClaimCheck) -> str:
    subject = "the function"
    if check.name.startswith("return "):
        subject = f"`{check.name}`"
    elif check.name:
        subject = f"`{check.name}`"
    claimed = check.claimed
    if check.kind == "loop_count" and claimed.isdigit():
        claimed = f"{claimed} time{'s' if claimed != '1' else ''}"
    text = _WHAT.get(check.kind, "{claimed}").format(
        name=check.name, claimed=claimed, subject=subject
    )
    if check.where != "anywhere" and check.kind in ("value", "condition"):
        text += " " + ("in " + check.where if check.where.startswith("iteration") else check.where)
    return text


def contradiction_feedback(
    process: ProcessVerdict | None, *, hidden: Any = None, hide: bool = False
) -> str:
    """One sentence about the first contradicted claim ('' when there is none).

    ``hidden`` is a value the feedback must not show (the expected output of an output
    prediction); ``hide=True`` withholds every traced value.
    """
    if process is None or process.first_contradiction is None:
        return ""
    check = process.first_contradiction
    said = _said(check)
    actual = check.actual
    reveal = actual is not None and not hide and check.kind not in ("final",)
    if reveal and hidden is not None:
        for part in [actual, *(actual or "").split(", ")]:
            value = parse_value(part)
            try:
                if values_equal(value, hidden):
                    reveal = False
            except Exception:
                reveal = False
    more = process.contradicted - 1
    tail = f" ({more} more of your steps disagree with the execution too.)" if more > 0 else ""
    if reveal:
        return f"[Steps] You said {said}; tracing the code shows {actual}.{tail}"
    return f"[Steps] You said {said}; tracing the code shows otherwise.{tail}"
