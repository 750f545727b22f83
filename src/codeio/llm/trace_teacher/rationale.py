"""Whole answers: the opening, the narrated trace, the conclusion and the final JSON.

Three shapes: output prediction (trace the given input forward), input prediction (start from
the target output, propose the known input, confirm it by the trace), and a hasty first turn
that slips (only with ``mistake_rate``). A revision turn is a normal answer that first
acknowledges the feedback.
"""

from __future__ import annotations

import json
from typing import Any

from codeio.llm.trace_teacher.narrate import TraceStory, args_text, value
from codeio.llm.trace_teacher.source import SourceMap, shorten
from codeio.llm.trace_teacher.tracer import short_repr

__all__ = [
    "answer_block",
    "input_rationale",
    "output_rationale",
    "revision_opening",
    "slip_rationale",
]


def answer_block(key: str, answer: Any) -> str:
    text = json.dumps({key: answer}, allow_nan=True, ensure_ascii=False)
    return f"```json\n{text}\n```"


def _call(funcname: str, story: TraceStory, kwargs: dict[str, Any]) -> str:
    args = story.args or [(k, short_repr(v)) for k, v in kwargs.items()]
    return f"`{funcname}` with {args_text(args)}"


def _body(story: TraceStory, fallback_value: str | None) -> str:
    if story.body:
        return story.body
    if story.error:
        return f"Running it, the call fails right away with {story.error}."
    return (
        "Every step of this computation would take far too long to write out, so I'll work "
        f"it through in bulk: the function ends up returning {value(fallback_value or 'None')}."
    )


def output_rationale(
    funcname: str, kwargs: dict[str, Any], story: TraceStory, answer: Any, *, opening: str = ""
) -> str:
    parts = [opening] if opening else []
    parts.append(
        f"I need to find what {_call(funcname, story, kwargs)} returns. "
        "Let me follow the code step by step."
    )
    parts.append(_body(story, story.returned))
    if story.error:
        parts.append(f"The call raises {story.error}, so there is no return value to report.")
    else:
        parts.append(f"So the output is {value(story.returned or short_repr(answer), 200)}.")
    parts.append(answer_block("output", answer))
    return "\n\n".join(parts)


def input_rationale(
    funcname: str,
    refcode: str,
    kwargs: dict[str, Any],
    target: Any,
    story: TraceStory,
    *,
    matches: bool,
    opening: str = "",
) -> str:
    source = SourceMap(refcode)
    params = source.params(funcname)
    signature = f"`{funcname}({', '.join(params)})`" if params else f"`{funcname}`"
    parts = [opening] if opening else []
    intro = f"The output is {value(short_repr(target, 200), 200)}. I need an input for {signature} that produces it."
    summary = source.docstring_summary(funcname)
    if summary:
        intro += f' From its docstring: "{shorten(summary, 160)}"'
    returns = source.return_exprs(funcname)
    if returns:
        intro += f" The result comes from `return {returns[-1]}`."
    intro += (
        f" Working backwards from the target, a natural candidate is {args_text(_args(kwargs), 6)}."
        " Let me confirm by tracing the code with this input."
    )
    parts.append(intro)
    parts.append(_body(story, story.returned))
    if story.error:
        parts.append(
            f"Hmm, with this input the call raises {story.error}. It is still my best candidate."
        )
    elif matches:
        parts.append(
            f"The result is {value(story.returned or '', 200)}, which matches the target output, "
            "so this input works."
        )
    else:
        parts.append(
            f"The result is {value(story.returned or '', 200)}, which is not exactly the target; "
            "the function does not seem to give the same result every time, so I'll keep this "
            "candidate."
        )
    parts.append(answer_block("input", kwargs))
    return "\n\n".join(parts)


def _args(kwargs: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, short_repr(v)) for k, v in kwargs.items()]


def slip_rationale(
    kind: str, funcname: str, kwargs: dict[str, Any], target: Any, story: TraceStory, wrong: Any
) -> str:
    """A hasty answer: trace the start, then skip ahead and land on ``wrong``."""
    head = story.body.split("\n")
    shown = "\n".join(head[: max(2, len(head) // 3)])
    if kind == "output":
        return "\n\n".join(
            [
                f"I need to find what {_call(funcname, story, kwargs)} returns. "
                "Let me follow the code quickly.",
                shown,
                "The rest goes the same way, so I'll do the remaining steps in my head instead of "
                f"writing them out. Keeping a running count, I end up with {value(short_repr(wrong), 200)}.",
                f"So the output is {value(short_repr(wrong), 200)}.",
                answer_block("output", wrong),
            ]
        )
    return "\n\n".join(
        [
            f"The output is {value(short_repr(target, 200), 200)}. I need an input for `{funcname}` "
            "that produces it.",
            f"Working backwards from the target, {args_text(_args(wrong), 6)} looks right. "
            "Checking the first steps quickly:",
            shown,
            "Without writing out every remaining step, this should end in the target output.",
            answer_block("input", wrong),
        ]
    )


def revision_opening(feedback: str) -> str:
    said = shorten(feedback, 400)
    return (
        f'The feedback says: "{said}" So my previous answer was wrong. '
        "Let me re-trace carefully, step by step, without skipping anything."
    )
