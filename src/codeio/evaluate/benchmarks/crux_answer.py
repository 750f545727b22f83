"""Pull a CRUXEval answer out of a response, as Python source text, and check what it may contain.

Answers stay text: CRUXEval values are Python literals (tuples, sets, bytes) that JSON cannot
carry, and they are evaluated only inside the sandbox. Accepted forms, the first found wins:

1. the first ``[ANSWER] ... [/ANSWER]`` block (upstream style); inside it an ``assert f(...) == ...``,
   a bare ``f(...)`` call (input prediction), a ``{"output": ...}`` object or a bare literal;
2. the last ``assert f(...) == ...`` statement;
3. the last ``{"output": ...}`` / ``{"input": ...}`` object (our pipeline's JSON style);
4. a response that is nothing but a literal (short direct answers).

Upstream generates with ``[/ANSWER]`` as a stop word, so nothing after the first closing tag is
ever judged there; every form above is looked for only before it.

For an input prediction the answer is the argument list text (``"[1, 2], 'a'"``), as in the data.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Literal

from codeio import ast_safe
from codeio.pipeline.verify.literal import find_brace_span

__all__ = ["ALLOWED_NAMES", "CruxAnswer", "check_prediction", "extract_cruxeval"]

Kind = Literal["input", "output"]

_OPEN = re.compile(r"\[ANSWER\]", re.I)
_CLOSE = re.compile(r"\[/ANSWER\]", re.I)
_FENCE = re.compile(r"^```[\w+-]*\s*\n?|\n?```\s*$")
_ASSERT = re.compile(r"^[ \t>*`]*assert\b", re.M)

ALLOWED_NAMES = frozenset(
    {"True", "False", "None", "true", "false", "null", "nan", "inf", "NaN", "Infinity",
     "set", "frozenset", "float", "tuple", "list", "dict", "bytes", "str", "int", "bool"}
)  # fmt: skip
"""Names an answer may use: literal spellings and the constructors of empty/special values."""


@dataclass(frozen=True)
class CruxAnswer:
    found: bool
    text: str | None = None
    note: str = ""


def extract_cruxeval(text: str, kind: Kind, funcname: str = "f") -> CruxAnswer:
    """The answer in ``text`` as Python source (a value, or an argument list for inputs)."""
    if not text or not text.strip():
        return CruxAnswer(False, note="empty response")
    # Emulate upstream's stop word: a model that goes on after its answer (base models invent
    # the next few-shot example, with its own [ANSWER]) must be judged on its first answer.
    close = _CLOSE.search(text)
    if close is not None:
        text = text[: close.start()]
    block = next((b for b in _OPEN.split(text)[1:] if b.strip()), None)
    if block is not None:
        found = _from_snippet(block, kind, funcname)
        if found is not None:
            return CruxAnswer(True, found, "[ANSWER] block")
    for line_start in reversed([m.start() for m in _ASSERT.finditer(text)]):
        found = _from_assert_at(text, line_start, kind, funcname)
        if found is not None:
            return CruxAnswer(True, found, "assert statement")
    found = _from_json_style(text, kind)
    if found is not None:
        return CruxAnswer(True, found, f'{{"{kind}": ...}} object')
    bare = _strip_fences(text)
    if bare and "\n" not in bare and _parses(bare if kind == "output" else f"{funcname}({bare})"):
        return CruxAnswer(True, bare, "whole response")
    return CruxAnswer(False, note="no [ANSWER] block, assert or answer object found")


def check_prediction(text: str, kind: Kind, funcname: str = "f") -> str | None:
    """Why ``text`` may not be run; None if it may.

    Output predictions must be values: literals, operators on them and the constructors in
    ``ALLOWED_NAMES`` (upstream asks for a literal and rejects answers that call ``f``). Input
    predictions may be any expressions, as upstream runs them (CRUXEval's own inputs use
    lambdas, ``range`` and names the code defines), but must not call ``f`` themselves.
    """
    source = text if kind == "output" else f"{funcname}({text})"
    try:
        tree = ast_safe.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "does not parse as a Python expression"
    body = tree.body
    if kind == "input":
        if not isinstance(body, ast.Call):
            return "is not an argument list"
        inner = [n for a in [*body.args, *(k.value for k in body.keywords)] for n in ast.walk(a)]
        if any(_calls(n, funcname) for n in inner):
            return f"calls {funcname}() itself"
        return None
    for node in ast.walk(body):
        if isinstance(node, ast.Call):
            if _calls(node, funcname):
                return f"calls {funcname}() instead of giving a value"
            if not (isinstance(node.func, ast.Name) and node.func.id in ALLOWED_NAMES):
                return "calls a function"
        elif isinstance(node, ast.Name) and node.id not in ALLOWED_NAMES:
            return f"uses the name {node.id!r}"
        elif isinstance(node, (ast.Attribute, ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield,
                               ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                               ast.Subscript, ast.IfExp, ast.JoinedStr)):  # fmt: skip
            return f"uses {type(node).__name__.lower()}"
    return None


def _calls(node: ast.AST, funcname: str) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == funcname
    )


def _strip_fences(text: str) -> str:
    return _FENCE.sub("", text.strip()).strip()


def _parses(source: str) -> bool:
    try:
        ast_safe.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _from_snippet(snippet: str, kind: Kind, funcname: str) -> str | None:
    body = _strip_fences(snippet)
    if not body:
        return None
    match = _ASSERT.search(body)
    if match is not None:
        found = _from_assert_at(body, match.start(), kind, funcname)
        if found is not None:
            return found
    if kind == "input":
        args = _call_args(body, funcname)
        if args is not None:
            return args
    if re.search(rf"""[{{,]\s*["']{kind}["']\s*:""", body):
        found = _from_json_style(body, kind)
        if found is not None:
            return found
    return body


def _from_assert_at(text: str, start: int, kind: Kind, funcname: str) -> str | None:
    """Parse the assert beginning on the line at ``start``, however many lines it spans.

    The tokenizer finds where the statement ends (brackets and strings may run over any number
    of lines); when it cannot (an unclosed bracket further on), the first few lines are tried
    one by one, so a short assert followed by stray text still parses.
    """
    lines = text[start:].split("\n")
    lines[0] = re.sub(r"^[ \t>*`]*", "", lines[0])
    ends = list(range(1, min(len(lines), _SHORT_ASSERT_LINES) + 1))
    logical = _logical_line_end("\n".join(lines))
    if logical is not None:
        ends.insert(0, logical)
    for end in ends:
        source = "\n".join(lines[:end]).strip().rstrip("`").strip()
        try:
            tree = ast_safe.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        return _from_assert_tree(tree, source, kind, funcname)
    return None


_SHORT_ASSERT_LINES = 8


def _logical_line_end(text: str) -> int | None:
    """How many lines the first Python statement of ``text`` spans; None if it never ends."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                return max(1, tok.start[0])
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


def _from_assert_tree(tree: ast.Module, source: str, kind: Kind, funcname: str) -> str | None:
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    test = tree.body[0].test
    if not (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
    ):
        return None
    left, right = test.left, test.comparators[0]

    def is_call(node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == funcname
        )

    call, other = (left, right) if is_call(left) or not is_call(right) else (right, left)
    if kind == "output":
        return ast.get_source_segment(source, other)
    if not is_call(call):
        return None
    segment = ast.get_source_segment(source, call) or ""
    return _call_args(segment, funcname)


def _call_args(text: str, funcname: str) -> str | None:
    """``"f([1], 'a')"`` -> ``"[1], 'a'"``; None unless ``text`` is exactly one call of ``funcname``."""
    try:
        tree = ast_safe.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return None
    if call.func.id != funcname:
        return None
    source = text.strip()
    parts = [ast.get_source_segment(source, a) or "" for a in call.args]
    parts += [
        f"{kw.arg}={ast.get_source_segment(source, kw.value)}" if kw.arg
        else f"**{ast.get_source_segment(source, kw.value)}"
        for kw in call.keywords
    ]  # fmt: skip
    return ", ".join(parts)


def _from_json_style(text: str, kind: Kind) -> str | None:
    """The value text of the last ``{"<kind>": ...}`` object (JSON or Python spelling)."""
    found = None
    for match in re.finditer(rf"""\{{\s*["']{kind}["']\s*:""", text):
        end = find_brace_span(text, match.start())
        if end is None:
            continue
        span = text[match.start() : end]
        try:
            tree = ast_safe.parse(span, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if not isinstance(tree.body, ast.Dict):
            continue
        for key, value in zip(tree.body.keys, tree.body.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == kind:
                found = _value_text(span, value, kind)
    return found


def _value_text(span: str, value: ast.expr, kind: Kind) -> str | None:
    text = ast.get_source_segment(span, value)
    if kind == "input" and isinstance(value, ast.Dict):
        # A dict of keyword arguments, as the pipeline's prompts ask for.
        items = []
        for key, val in zip(value.keys, value.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)
                    and key.value.isidentifier()):  # fmt: skip
                return text
            items.append(f"{key.value}={ast.get_source_segment(span, val)}")
        return ", ".join(items)
    return text
