"""``leetcode-o``: LeetCode output prediction in the CodeI/O authors' conversation format.

One test case per line; a problem is solved only when every one of its cases is right (the
runner groups cases by ``group``). Accepted line format (liberal, see docs/EVALUATION.md):

    {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}?],
     "answer" | "output" | "expected_output": <JSON value, or a string holding JSON / a Python literal>,
     "problem_id" | "question_id" | "id" | "title" | "slug": <groups cases into problems>,
     "difficulty": "Easy" | "Medium" | "Hard" (optional)}

``prompt``/``question`` may stand in for ``messages``. Without an answer field the expected
output is read from the last assistant message (its ``{"output": ...}`` or ``[ANSWER]`` block).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from codeio.errors import ConfigError, InputError
from codeio.evaluate.benchmarks.base import Benchmark, EvalItem, Judgement, read_jsonl
from codeio.evaluate.benchmarks.crux_answer import extract_cruxeval
from codeio.pipeline.verify import extract_answer, values_equal
from codeio.pipeline.verify.literal import LiteralError, parse_literal
from codeio.records import Message

if TYPE_CHECKING:
    from codeio.exec import Sandbox

__all__ = ["LeetCodeO", "parse_leetcode_row", "read_expected"]

_ANSWER_KEYS = ("answer", "output", "expected_output", "expected")
_GROUP_KEYS = ("problem_id", "question_id", "id", "title", "slug", "name")
_FORMAT_HINT = '\n\nPut your final answer in the following JSON format: {"output": <your output>}.'
_MISSING = object()


def read_expected(value: Any) -> Any:
    """An expected output as stored: a string is read as JSON, then as a Python literal."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return parse_literal(text)
    except LiteralError:
        return value  # a plain string output written without quotes


def _answer_from_text(text: str) -> Any:
    found = extract_answer(text, "output")
    if found.found:
        return found.value
    crux = extract_cruxeval(text, "output")
    if crux.found and crux.text is not None:
        return read_expected(crux.text)
    return _MISSING


def parse_leetcode_row(row: dict[str, Any]) -> tuple[list[Message], Any, str | None]:
    """``(prompt messages, expected output, group key)`` of one line; raises ValueError if unusable."""
    raw = row.get("messages") or row.get("conversations")
    if raw is None:
        text = row.get("prompt") or row.get("question")
        if not isinstance(text, str):
            raise ValueError("no messages, prompt or question")
        raw = [{"role": "user", "content": text}]
    messages = []
    for m in raw:
        role = m.get("role") or {"human": "user", "gpt": "assistant"}.get(m.get("from", ""), "")
        content = m.get("content", m.get("value", ""))
        messages.append(Message(role=role, content=str(content)))
    reference = None
    if messages and messages[-1].role == "assistant":
        reference = messages.pop().content
    if not messages or messages[-1].role != "user":
        raise ValueError("the conversation does not end with a user turn")
    expected = next((read_expected(row[k]) for k in _ANSWER_KEYS if k in row), _MISSING)
    if expected is _MISSING and reference is not None:
        expected = _answer_from_text(reference)
    if expected is _MISSING:
        raise ValueError("no expected output (answer/output field or an assistant answer)")
    group = next((str(row[k]) for k in _GROUP_KEYS if row.get(k) not in (None, "")), None)
    return messages, expected, group


class LeetCodeO(Benchmark):
    name: ClassVar[str] = "leetcode-o"

    def load(self, data: Path | None) -> list[EvalItem]:
        if data is None:
            raise ConfigError("leetcode-o needs --data PATH (a JSONL in the LeetCode-O format)")
        items: list[EvalItem] = []
        seen: dict[str, int] = {}
        for lineno, row in read_jsonl(data):
            try:
                messages, expected, group = parse_leetcode_row(row)
            except (ValueError, TypeError, AttributeError) as exc:
                raise InputError(
                    f"not a LeetCode-O row: {exc}", path=str(data), line=lineno
                ) from exc
            group = group or f"line{lineno}"
            index = seen.get(group, 0)
            seen[group] = index + 1
            last = messages[-1]
            if '"output"' not in last.content:
                messages[-1] = Message(role="user", content=last.content + _FORMAT_HINT)
            difficulty = row.get("difficulty")
            items.append(
                EvalItem(
                    id=str(row.get("case_id") or f"{group}#{index}"),
                    messages=messages,
                    kind="output",
                    group=group,
                    difficulty=str(difficulty) if difficulty not in (None, "") else None,
                    truth={"expected": expected},
                )
            )
        return items

    def judge(self, pairs: Sequence[tuple[EvalItem, str]], sandbox: Sandbox) -> list[Judgement]:
        out = []
        for item, response in pairs:
            value = _answer_from_text(response)
            if value is _MISSING:
                out.append(Judgement("no_answer", None, 'no {"output": ...} or [ANSWER] found'))
                continue
            text = json.dumps(value, ensure_ascii=False, allow_nan=True, default=repr)
            ok = values_equal(value, item.truth["expected"])
            out.append(Judgement("correct" if ok else "wrong", text))
        return out
