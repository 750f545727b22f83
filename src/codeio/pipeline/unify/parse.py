"""Parse and validate an LLM's unify answer: the four sections of the unified form.

Expected layout (headers tolerate #/##/###, any case, a trailing colon, bold)::

    ## Main Function            ```python ... def main_solution(...) ... ```
    ## Input Output Description  plain text
    ## Input Generator          ```python def input_generator(rng): ... ```
    ## Problem Statement         plain text with a wh-question

Every rejection is a :class:`UnifyParseError` with a short ``reason`` tag for counting and a
message written to be pasted back to the model as repair feedback.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from codeio import ast_safe
from codeio.errors import CodeioError

__all__ = ["SECTIONS", "UnifiedParts", "UnifyParseError", "parse_unify_response"]

ENTRY = "main_solution"
GENERATOR = "input_generator"

SECTIONS = {
    "main": "Main Function",
    "io": "Input Output Description",
    "generator": "Input Generator",
    "problem": "Problem Statement",
}

# Header spellings seen in practice for each section, normalised (lower case, single spaces).
_ALIASES = {
    "main function": "main",
    "main solution": "main",
    "input output description": "io",
    "input/output description": "io",
    "input and output description": "io",
    "input-output description": "io",
    "input generator": "generator",
    "problem statement": "problem",
    "problem": "problem",
}

_HEADER = re.compile(
    r"""^\s{0,3}
        (?:\#{1,6}\s*)?            # markdown heading marks
        (?:\*\*|__)?\s*            # bold open
        (?:\d+[.)]\s*)?            # "1. Main Function"
        (?P<title>[A-Za-z][A-Za-z /&-]*?)
        \s*(?:\*\*|__)?\s*:?\s*(?:\*\*|__)?\s*$
    """,
    re.VERBOSE,
)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class UnifiedParts:
    refcode: str
    inputgen: str
    io_description: str
    problem: str


class UnifyParseError(CodeioError):
    """The unify answer cannot be used; ``reason`` is a tag, the message is repair feedback."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(message)


REFUSAL_MARKER = "[teacher_cannot_unify]"


def parse_unify_response(text: str) -> UnifiedParts:
    """Split ``text`` into the four sections and validate both code parts with ``ast``."""
    if REFUSAL_MARKER in text:
        # The offline teacher says so when a file is not already in unified form; counting it
        # apart from malformed answers keeps the funnel honest about why records were lost.
        raise UnifyParseError("teacher_cannot_unify", text.strip()[:500])
    sections = _split_sections(text)
    missing = [SECTIONS[key] for key in SECTIONS if key not in sections]
    if missing:
        names = ", ".join(f'"## {m}"' for m in missing)
        raise UnifyParseError(
            "missing_section",
            f"Your answer is missing the section{'s' if len(missing) > 1 else ''} {names}. "
            "Answer with all four sections, each under its own header: ## Main Function, "
            "## Input Output Description, ## Input Generator, ## Problem Statement.",
        )
    for key in ("io", "problem"):
        if not _strip_fences(sections[key]):
            raise UnifyParseError(
                "empty_section", f'The section "## {SECTIONS[key]}" is empty; please fill it in.'
            )
    refcode = _code_of(sections["main"], SECTIONS["main"])
    inputgen = _code_of(sections["generator"], SECTIONS["generator"])
    main_tree = _parse(refcode, SECTIONS["main"])
    if _top_level_function(main_tree, ENTRY) is None:
        raise UnifyParseError(
            "no_main_solution",
            f'The code under "## Main Function" does not define a top-level function `{ENTRY}`. '
            f"Define `def {ENTRY}(...)` at module level (not inside a class or another function).",
        )
    gen_tree = _parse(inputgen, SECTIONS["generator"])
    generator = _top_level_function(gen_tree, GENERATOR)
    if generator is None:
        raise UnifyParseError(
            "no_input_generator",
            f'The code under "## Input Generator" does not define a top-level function '
            f"`{GENERATOR}`. Define `def {GENERATOR}(rng):` at module level.",
        )
    problem = _generator_signature_problem(generator)
    if problem:
        raise UnifyParseError(
            "bad_generator_signature",
            f"`{GENERATOR}` {problem}. It must be `def {GENERATOR}(rng):`, taking one "
            "random.Random instance and drawing all randomness from it, and return a dict of "
            f"keyword arguments for `{ENTRY}`.",
        )
    return UnifiedParts(
        refcode=refcode,
        inputgen=inputgen,
        io_description=_strip_fences(sections["io"]),
        problem=_strip_fences(sections["problem"]),
    )


def _split_sections(text: str) -> dict[str, str]:
    """Section key -> body text; headers inside code fences are ignored; the last copy wins."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fence: str | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif (
            fence is not None
            and line.strip().startswith(fence[0] * len(fence))
            and (line.strip().strip(fence[0]) == "")
        ):
            fence = None
        elif fence is None:
            key = _header_key(line)
            if key is not None:
                current = sections[key] = []
                continue
        if current is not None:
            current.append(line)
    return {key: "\n".join(lines).strip() for key, lines in sections.items()}


def _header_key(line: str) -> str | None:
    if not line.strip() or len(line) > 80:
        return None
    stripped = line.strip()
    # A bare title line counts only when it is marked as a header (#, bold) or ends in a colon,
    # so that prose starting with "Problem" is not mistaken for a section.
    if not (stripped.startswith(("#", "**", "__")) or stripped.endswith(":")):
        return None
    match = _HEADER.match(line)
    if not match:
        return None
    title = " ".join(match.group("title").lower().split())
    return _ALIASES.get(title)


def _strip_fences(body: str) -> str:
    """A text section's content; a model sometimes wraps it in a fence, which is dropped."""
    lines = body.strip().split("\n")
    if len(lines) >= 2 and _FENCE.match(lines[0]) and not lines[-1].strip().strip("`~"):
        lines = lines[1:-1]
    return "\n".join(lines).strip()


def _code_of(body: str, section: str) -> str:
    """The python code of a section: its first fenced block, else the body if it parses."""
    lines = body.split("\n")
    for i, line in enumerate(lines):
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            for j in range(i + 1, len(lines)):
                if lines[j].strip().startswith(marker) and not lines[j].strip().strip(marker[0]):
                    return "\n".join(lines[i + 1 : j]).strip("\n")
            raise UnifyParseError(
                "unclosed_code_block",
                f'The code block under "## {section}" is not closed; end it with ```.',
            )
    if body.strip():
        return body.strip("\n")
    raise UnifyParseError(
        "no_code_block", f'The section "## {section}" has no ```python code block.'
    )


def _parse(code: str, section: str) -> ast.Module:
    try:
        return ast_safe.parse(code)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise UnifyParseError(
            "syntax_error",
            f'The code under "## {section}" is not valid Python 3: {exc.msg}{where}. '
            "Rewrite it as valid Python 3 code.",
        ) from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise UnifyParseError(
            "syntax_error", f'The code under "## {section}" cannot be parsed: {exc}.'
        ) from exc


def _top_level_function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    found = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            found = node
    return found


def _generator_signature_problem(node: ast.FunctionDef) -> str:
    """Why ``input_generator`` cannot be called as ``input_generator(rng)`` or ``()``; "" if it can."""
    args = node.args
    positional = args.posonlyargs + args.args
    required = len(positional) - len(args.defaults)
    kwonly_required = [
        a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None
    ]
    if kwonly_required:
        return f"has keyword-only parameters without defaults ({', '.join(kwonly_required)})"
    if required > 1:
        names = ", ".join(a.arg for a in positional[:required])
        return f"takes {required} required parameters ({names}), but it is called with one"
    return ""
