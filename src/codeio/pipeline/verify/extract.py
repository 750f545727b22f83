"""Pull the final ``{"output": ...}`` / ``{"input": ...}`` answer out of a model response.

The rule: the answer is the LAST well-formed object in the response that has the expected key,
wherever it is (fenced block or bare text), so a later correction beats an earlier draft.
Objects are found by a real JSON decoder tried at every ``{`` (so braces and quotes inside strings
are handled by the decoder, not by counting), with a fallback for Python-literal answers
(``True``, ``None``, tuples, single quotes, nan) parsed through ``ast``. The text is not
rewritten before parsing, so string contents come back exactly as the model wrote them; only
when nothing is found at all is it read once more with LaTeX brace escapes removed
(``$\\{"output": 5\\}$``, ``\\boxed{\\left\\{...\\right\\}}``), as the reference checker does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from codeio.pipeline.verify.literal import LiteralError, find_brace_span, parse_literal

__all__ = ["AnswerKey", "Extracted", "extract_answer"]

AnswerKey = Literal["input", "output"]

# The stdlib decoder already accepts NaN, Infinity and -Infinity as JSON extensions.
# strict=False keeps a raw line break or tab inside a string (models write multi-line strings
# that way) as written; strict JSON would reject the object, and the reference checker deleted
# every newline of the response, changing the string.
_DECODER = json.JSONDecoder(strict=False)

# ``\{`` / ``\}``, with LaTeX's optional ``\left`` / ``\right`` sizing in front.
_LATEX_BRACE = re.compile(r"(?:\\left|\\right)?\\([{}])")


@dataclass(frozen=True)
class Extracted:
    """What :func:`extract_answer` found; ``note`` explains fallbacks and problems, for humans."""

    found: bool
    value: Any = None
    note: str = ""


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    value: Any
    python: bool


def extract_answer(text: str, key: AnswerKey) -> Extracted:
    """The last object in ``text`` that has ``key``; its value, or ``found=False`` with a note.

    For ``key="input"`` a value that is not a dict of keyword arguments is still reported as
    found, with a note, so the verifier can tell the model what shape is expected.
    """
    if not text:
        return Extracted(False, None, "empty response")
    notes: list[str] = []
    best = _last_candidate(text, key)
    if best is None and "\\{" in text:
        # Only as a fallback: unescaping up front would change strings that hold a ``\{``.
        best = _last_candidate(_LATEX_BRACE.sub(r"\1", text), key)
        if best is not None:
            notes.append("read after removing LaTeX brace escapes")
    if best is None:
        return Extracted(False, None, f'no JSON object with key "{key}" found')
    if best.python:
        notes.append("parsed as a Python literal, not JSON")
    if key == "input" and not isinstance(best.value, dict):
        notes.append(f'"input" is not a dict of keyword arguments ({type(best.value).__name__})')
    return Extracted(True, best.value, "; ".join(notes))


def _last_candidate(text: str, key: str) -> _Candidate | None:
    best = _last_json_candidate(text, key)
    later = _last_python_candidate(text, key, after=best)
    return later if later is not None else best


def _last_json_candidate(text: str, key: str) -> _Candidate | None:
    best: _Candidate | None = None
    pos = text.find("{")
    while pos >= 0:
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError):
            # ValueError covers JSONDecodeError and ints over the interpreter's digit limit.
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict) and key in obj:
            # An object nested inside this one ends earlier, so it can never be the last: skip it.
            if best is None or end > best.end:
                best = _Candidate(pos, end, obj[key], python=False)
            pos = text.find("{", end)
        else:
            pos = text.find("{", pos + 1)
    return best


def _last_python_candidate(text: str, key: str, *, after: _Candidate | None) -> _Candidate | None:
    """The last Python-literal object with ``key`` that ends after the best JSON candidate."""
    if f"'{key}'" not in text and f'"{key}"' not in text:
        return None  # cheap exit: no literal can have the key
    best: _Candidate | None = None
    pos = text.find("{")
    while pos >= 0:
        if after is not None and after.start <= pos < after.end:
            pos = text.find("{", after.end)
            continue
        end = find_brace_span(text, pos)
        if end is None:
            pos = text.find("{", pos + 1)
            continue
        try:
            obj = parse_literal(text[pos:end])
        except LiteralError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict) and key in obj:
            if (best is None or end > best.end) and (after is None or end > after.end):
                best = _Candidate(pos, end, obj[key], python=True)
            pos = text.find("{", end)
        else:
            pos = text.find("{", pos + 1)
    return best
