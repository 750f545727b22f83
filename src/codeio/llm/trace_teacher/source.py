"""What the narrator needs to know about the refcode's lines: statements, tests, loop headers."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from codeio import ast_safe

__all__ = ["SourceMap", "shorten"]


def shorten(text: str, limit: int = 70) -> str:
    """One line, at most ``limit`` characters, with an ellipsis where it was cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


_LINE_END = re.compile(r"\r\n|\r|\n")


def _split_lines(source: str) -> list[str]:
    """Lines with their endings, split where the tokenizer splits (not at form feeds)."""
    lines, start = [], 0
    for match in _LINE_END.finditer(source):
        lines.append(source[start : match.end()])
        start = match.end()
    if start < len(source):
        lines.append(source[start:])
    return lines


@dataclass(frozen=True)
class Branch:
    test: str
    body: tuple[int, int]
    orelse: tuple[int, int] | None
    elif_: bool
    orelse_is_elif: bool


class SourceMap:
    """Line number -> the statement that starts there, parsed once (parsing is safe, running is not)."""

    def __init__(self, source: str) -> None:
        self.source = source
        # Split once: ast.get_source_segment splits the whole source on every call, which was
        # most of the claim checker's time on long functions.
        self._lines = _split_lines(source)
        self._branches: dict[int, Branch | None] = {}
        self.statements: dict[int, ast.stmt] = {}
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self._elifs: set[int] = set()
        try:
            tree = ast_safe.parse(source)
        except (SyntaxError, ValueError):
            return
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, node)
            if (
                isinstance(node, ast.If)
                and len(node.orelse) == 1
                and isinstance(node.orelse[0], ast.If)
            ):
                if node.orelse[0].lineno != node.lineno:
                    self._elifs.add(node.orelse[0].lineno)
            if isinstance(node, ast.stmt):
                known = self.statements.get(node.lineno)
                # Prefer the compound statement (the header) when a body shares its line.
                if known is None or not isinstance(known, (ast.For, ast.While, ast.If)):
                    self.statements[node.lineno] = node

    def statement(self, line: int) -> ast.stmt | None:
        return self.statements.get(line)

    def segment(self, node: ast.AST) -> str:
        """The exact source of ``node`` (what ``ast.get_source_segment`` gives), or ""."""
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        if end_line is None or end_col is None:
            return ""
        first, col = node.lineno - 1, node.col_offset  # type: ignore[attr-defined]
        last = end_line - 1
        if first < 0 or last >= len(self._lines):
            return ""
        # Column offsets count UTF-8 bytes.
        if first == last:
            return self._lines[first].encode()[col:end_col].decode()
        head = self._lines[first].encode()[col:].decode()
        tail = self._lines[last].encode()[:end_col].decode()
        return "".join([head, *self._lines[first + 1 : last], tail])

    def text(self, node: ast.AST, limit: int = 70) -> str:
        segment = self.segment(node)
        if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef)):
            segment = segment.split("\n", 1)[0]  # a compound statement: its header line only
        return shorten(segment, limit)

    def header(self, line: int, limit: int = 70) -> str:
        """A loop header as code, e.g. ``for i in range(n)`` or ``while lo < hi``."""
        node = self.statements.get(line)
        if isinstance(node, (ast.For, ast.AsyncFor)):
            return shorten(f"for {self.text(node.target)} in {self.text(node.iter)}", limit)
        if isinstance(node, ast.While):
            return shorten(f"while {self.text(node.test)}", limit)
        return "the loop"

    def loop_vars(self, line: int) -> list[str]:
        node = self.statements.get(line)
        if isinstance(node, (ast.For, ast.AsyncFor)):
            return [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
        return []

    def branch(self, line: int) -> Branch | None:
        if line not in self._branches:
            self._branches[line] = self._branch(line)
        return self._branches[line]

    def _branch(self, line: int) -> Branch | None:
        node = self.statements.get(line)
        if not isinstance(node, ast.If):
            return None
        body = (node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno)
        orelse = None
        if node.orelse:
            orelse = (node.orelse[0].lineno, node.orelse[-1].end_lineno or node.orelse[-1].lineno)
        return Branch(
            test=self.text(node.test, 60),
            body=body,
            orelse=orelse,
            elif_=line in self._elifs,
            orelse_is_elif=bool(node.orelse) and (node.orelse[0].lineno in self._elifs),
        )

    def docstring_summary(self, funcname: str) -> str:
        node = self.functions.get(funcname)
        doc = ast.get_docstring(node) if node is not None else None
        if not doc:
            return ""
        first = doc.strip().split("\n\n", 1)[0]
        return shorten(first, 200)

    def return_exprs(self, funcname: str) -> list[str]:
        node = self.functions.get(funcname)
        if node is None:
            return []
        found = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.Return) and sub.value is not None:
                found.append(self.text(sub.value, 60))
        return found

    def params(self, funcname: str) -> list[str]:
        node = self.functions.get(funcname)
        if node is None:
            return []
        args = node.args
        return [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
