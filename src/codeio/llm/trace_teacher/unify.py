"""The trace teacher's unify answer: reuse a file that is already in the unified form.

A model rewrites arbitrary code into ``main_solution`` + ``input_generator``; the offline teacher
cannot. For a file that already defines both (the shipped demo set does) it extracts them with
``ast`` and writes the four sections from the docstrings; for anything else it refuses with a
text the unify parser rejects, so the record is counted as a failure.
"""

from __future__ import annotations

import ast
import re

from codeio import ast_safe

__all__ = ["REFUSAL_TAG", "unify_answer"]

ENTRY = "main_solution"
GENERATOR = "input_generator"
REFUSAL_TAG = "teacher_cannot_unify"

_REFUSAL = (
    "I cannot rewrite this file into the unified form ({why}). The offline trace teacher can only "
    "reuse a file that already defines a top-level `main_solution` and `input_generator`; it "
    f"does not write new code.\n\n[{REFUSAL_TAG}]"
)


def unify_answer(content: str) -> str:
    """The four-section answer for ``content``, or a refusal the unify parser rejects."""
    try:
        tree = ast_safe.parse(content)
    except (SyntaxError, ValueError) as exc:
        return _REFUSAL.format(why=f"it is not valid Python 3: {exc.__class__.__name__}")
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    missing = [name for name in (ENTRY, GENERATOR) if name not in functions]
    if missing:
        return _REFUSAL.format(why=f"it defines no {' or '.join(f'`{m}`' for m in missing)}")
    main_code = _main_code(content, tree)
    generator_code = _generator_code(content, tree, functions[GENERATOR])
    doc = ast.get_docstring(tree) or ""
    entry_doc = ast.get_docstring(functions[ENTRY]) or ""
    params = _params(functions[ENTRY])
    return "\n\n".join(
        [
            f"## Main Function\n```python\n{main_code}\n```",
            f"## Input Output Description\n{_io_description(doc, entry_doc, params)}",
            f"## Input Generator\n```python\n{generator_code}\n```",
            f"## Problem Statement\n{_problem(doc, entry_doc, params)}",
        ]
    )


def _segment(content: str, node: ast.stmt) -> str:
    lines = content.splitlines()
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[start - 1 : node.end_lineno])


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.dump(node.test)


def _main_code(content: str, tree: ast.Module) -> str:
    """Every top-level statement except the generator, the module docstring and a demo block."""
    keep = []
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.FunctionDef) and node.name == GENERATOR or _is_main_guard(node):
            continue
        keep.append(_segment(content, node))
    return "\n\n".join(keep).strip()


def _generator_code(content: str, tree: ast.Module, generator: ast.stmt) -> str:
    """The generator with the imports and module-level names it uses, so it runs on its own."""
    used = {n.id for n in ast.walk(generator) if isinstance(n, ast.Name)}
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            keep.append(_segment(content, node))
        elif node is generator:
            keep.append(_segment(content, node))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            if node.name in used and node.name != ENTRY:
                keep.append(_segment(content, node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if names & used:
                keep.append(_segment(content, node))
    return "\n\n".join(keep).strip()


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    return [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]


def _io_description(doc: str, entry_doc: str, params: list[str]) -> str:
    for text in (doc, entry_doc):
        match = re.search(r"^\s*(Input|Args|Parameters)\b.*", text, re.MULTILINE | re.DOTALL)
        if match:
            return match.group(0).strip()
    lines = ["Input:"]
    lines += [f"  `{p}`: the `{p}` argument of `{ENTRY}`." for p in params] or ["  (no arguments)"]
    lines += ["", "Output:", f"  `return`: the value `{ENTRY}` returns (JSON-serializable)."]
    return "\n".join(lines)


def _problem(doc: str, entry_doc: str, params: list[str]) -> str:
    summary = ""
    for text in (doc, entry_doc):
        first = text.strip().split("\n\n", 1)[0].strip()
        if first and not re.match(r"(Input|Args|Parameters)\b", first):
            summary = " ".join(first.split())
            break
    names = ", ".join(f"`{p}`" for p in params) or "no arguments"
    question = f"Given {names}, what does `{ENTRY}` return?"
    return f"{summary} {question}".strip() if summary else question
