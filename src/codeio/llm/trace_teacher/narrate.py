"""Turn an execution trace into a step-by-step explanation a person could have written.

The narration walks the call tree the tracer recorded: inputs, the assignments and branches of
``main_solution`` and its helpers, the first iterations of each loop followed by "... after k
iterations ...", helper calls and their results, and the return. Detail shrinks in fixed steps
until the text fits the budget, so the same trace always gives the same text.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from codeio.llm.trace_teacher.source import SourceMap, shorten
from codeio.llm.trace_teacher.tree import Call, Changes, Item, Loop, Step, build_tree

__all__ = ["Detail", "TraceStory", "narrate_trace"]

VALUE_CHARS = 80


@dataclass(frozen=True)
class Detail:
    """How much to tell; the narrator tries these from most to least detailed."""

    iterations: int = 3
    expand_depth: int = 2
    """Helper calls up to this depth get their own narration; deeper ones a one-line result."""
    max_changes: int = 4
    with_code: bool = True
    """Quote the assignment's code before its result."""


LADDER = (
    Detail(),
    Detail(iterations=2, expand_depth=1),
    Detail(iterations=2, expand_depth=1, max_changes=3, with_code=False),
    Detail(iterations=1, expand_depth=0, max_changes=2, with_code=False),
)


@dataclass(frozen=True)
class TraceStory:
    """The narrated body plus the facts the rationale's opening and closing need."""

    body: str
    args: Changes
    returned: str | None
    error: str | None
    """``Type: message`` when the traced call raised."""
    loops: int
    """How many loops the narration summarised (0: no loop ran)."""


def value(text: str, limit: int = VALUE_CHARS) -> str:
    return shorten(text, limit)


def join_and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def changes_text(changes: Changes, limit: int) -> str:
    parts = [f"{name} = {value(text)}" for name, text in changes[:limit]]
    if len(changes) > limit:
        parts.append(f"{len(changes) - limit} more")
    return join_and(parts)


def args_text(args: Changes, limit: int = 4) -> str:
    shown = [(n, t) for n, t in args if n != "self"]
    if not shown:
        return "no arguments"
    return changes_text(shown, limit)


def call_args(args: Changes, limit: int = 3) -> str:
    """Arguments as they would appear in a call: ``x=1, y=[2, 3]``."""
    shown = [f"{n}={value(t, 40)}" for n, t in args if n != "self"]
    if len(shown) > limit:
        shown = [*shown[:limit], "..."]
    return ", ".join(shown)


class Narrator:
    def __init__(self, source: SourceMap, detail: Detail) -> None:
        self.src = source
        self.detail = detail
        self.loops = 0

    # -- frames --------------------------------------------------------------------------------
    def frame(self, call: Call, depth: int) -> list[str]:
        lines: list[str] = []
        for index, item in enumerate(call.items):
            if isinstance(item, Loop):
                lines.extend(self.loop(item, call, depth))
            else:
                last = index == len(call.items) - 1
                lines.extend(self.step(item, call, depth, last=last))
        if call.cut and not any(self._is_cut_below(s) for s in call.items):
            lines.append(
                "The same pattern goes on for many more steps; following every one of them here "
                "would take too long, so I'll skip ahead to where this finishes."
            )
        if call.cut:
            lines.append(self.finish_sentence(call, depth))
        return lines

    def _is_cut_below(self, item: Item) -> bool:
        steps: Iterable[Item] = (
            [item] if isinstance(item, Step) else (x for it in item.iterations for x in it)
        )
        for step in steps:
            if isinstance(step, Step) and any(c.cut for c in step.calls):
                return True
            if isinstance(step, Loop) and self._is_cut_below(step):
                return True
        return False

    def finish_sentence(self, call: Call, depth: int) -> str:
        name = "the function" if depth == 0 else f"`{call.short_name}`"
        state = [(n, t) for n, t in call.ret_changes if n != "self"]
        where = (
            f"When {name} finishes, {changes_text(state, 3)}, and"
            if state
            else f"In the end {name}"
        )
        if call.raised:
            return f"{where} it stops with an exception."
        return f"{where} it returns {value(call.ret or 'None')}."

    def return_sentence(self, call: Call, depth: int) -> str:
        name = "the function" if depth == 0 else f"`{call.short_name}`"
        if call.raised:
            return f"So {name} raises an exception instead of returning."
        return f"So {name} returns {value(call.ret or 'None')}."

    # -- steps ---------------------------------------------------------------------------------
    def step(self, step: Step, call: Call, depth: int, *, last: bool) -> list[str]:
        node = self.src.statement(step.line)
        lines: list[str] = []
        expanded = []
        for sub in step.calls:
            if self._expand(sub, call, depth):
                expanded.append(sub)
                lines.extend(self.call_block(sub, call, depth + 1))
        inline = [self.call_result(sub) for sub in step.calls if sub not in expanded]
        sentence = self.step_sentence(node, step, call, depth, inline, bool(expanded), last)
        if sentence:
            lines.append(sentence)
        for exc_type, message in step.raised[:1]:
            if not any(c.raised for c in step.calls):
                lines.append(
                    f"This raises {exc_type}" + (f" ({value(message, 60)})." if message else ".")
                )
        return lines

    def step_sentence(
        self,
        node: ast.stmt | None,
        step: Step,
        call: Call,
        depth: int,
        inline: list[str],
        after_call: bool,
        last: bool,
    ) -> str:
        d = self.detail
        calls = f" ({'; '.join(inline)})" if inline else ""
        back = f"Back in `{call.short_name}`, " if after_call else ""
        if isinstance(node, ast.If):
            return self.branch_sentence(step, full=True) + calls
        if isinstance(node, ast.Return):
            if call.cut and not call.returned:
                return ""
            expr = self.src.text(node.value, 50) if node.value is not None else "None"
            result = value(call.ret or "None")
            if call.raised:
                return f"{back}Evaluating `return {expr}` raises an exception{calls}."
            if expr == result:
                return f"{back}It returns {result}{calls}."
            return f"{back}`return {expr}` gives {result}{calls}."
        if isinstance(node, ast.Break):
            return "`break` leaves the loop."
        if isinstance(node, ast.Raise):
            return f"It executes `{self.src.text(node, 60)}`."
        changes = [(n, t) for n, t in step.changes if n != "self" or len(step.changes) == 1]
        if not changes:
            return (
                f"{back}`{self.src.text(node, 60)}` runs{calls}."
                if (inline or after_call) and node
                else ""
            )
        what = changes_text(changes, d.max_changes)
        if after_call:
            return f"{back}that gives {what}."
        if node is not None and d.with_code and not isinstance(node, (ast.For, ast.While)):
            code = self.src.text(node, 60)
            if [n for n, _ in changes] == ["self"]:
                return f"`{code}` updates the object: {what}{calls}."
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                return f"`{code}` sets {what}{calls}."
            return f"`{code}` makes {what}{calls}."
        return f"Now {what}{calls}."

    def branch_sentence(self, step: Step, *, full: bool) -> str:
        branch = self.src.branch(step.line)
        if branch is None:
            return ""
        nxt = step.next_line
        taken = nxt is not None and branch.body[0] <= nxt <= branch.body[1]
        if not full:
            return f"`{branch.test}` is {'true' if taken else 'false'}"
        kind = "elif condition" if branch.elif_ else "condition"
        if taken:
            return f"The {kind} `{branch.test}` is true, so we take that branch."
        if (
            branch.orelse is not None
            and nxt is not None
            and branch.orelse[0] <= nxt <= branch.orelse[1]
        ):
            target = "the next `elif`" if branch.orelse_is_elif else "the `else` branch"
            return f"The {kind} `{branch.test}` is false, so we go to {target}."
        return f"The {kind} `{branch.test}` is false, so that branch is skipped."

    # -- calls ---------------------------------------------------------------------------------
    def _expand(self, sub: Call, parent: Call, depth: int) -> bool:
        if depth + 1 > self.detail.expand_depth:
            return sub.cut  # a cut frame must be followed to tell where the run ended
        ancestors = set()
        node: Call | None = parent
        while node is not None:
            ancestors.add(node.name)
            node = node.parent
        return sub.name not in ancestors or sub.cut

    def call_result(self, sub: Call) -> str:
        if sub.short_name == "__init__" and not sub.raised:
            owner = sub.name.rsplit(".", 2)[-2] if "." in sub.name else "object"
            return f"a new `{owner}` is built from {call_args(sub.args)}"
        nested = sub.nested_calls()
        more = f", after {nested} nested call{'s' if nested != 1 else ''}" if nested else ""
        if sub.raised:
            return f"`{sub.short_name}({call_args(sub.args)})` raises an exception{more}"
        return f"`{sub.short_name}({call_args(sub.args)})` returns {value(sub.ret or 'None', 60)}{more}"

    def call_block(self, sub: Call, parent: Call, depth: int) -> list[str]:
        if sub.short_name == "__init__":
            owner = sub.name.rsplit(".", 2)[-2] if "." in sub.name else "the"
            opening = f"Creating the `{owner}` object runs `__init__` with {args_text(sub.args)}:"
        else:
            opening = f"This calls `{sub.name}` with {args_text(sub.args)}. Inside it:"
        lines = [opening]
        lines.extend("  " + line for line in self.frame(sub, depth))
        if not sub.cut and not self._ends_with_return(sub) and sub.short_name != "__init__":
            lines.append("  " + self.return_sentence(sub, depth))
        return lines

    def _ends_with_return(self, call: Call) -> bool:
        if not call.items or not isinstance(call.items[-1], Step):
            return False
        return isinstance(self.src.statement(call.items[-1].line), ast.Return)

    # -- loops ---------------------------------------------------------------------------------
    def loop(self, loop: Loop, call: Call, depth: int) -> list[str]:
        self.loops += 1
        header = self.src.header(loop.header)
        lines = [f"Next comes the loop `{header}`."]
        shown = loop.iterations[: self.detail.iterations]
        for number, iteration in enumerate(shown, start=1):
            clauses = self.iteration_clauses(iteration, call, depth, first=number == 1, loop=loop)
            text = "; ".join(c for c in clauses if c) or "nothing changes"
            lines.append(shorten(f"- Iteration {number}: {text}.", 400))
            lines.extend(self._cut_calls(iteration, call, depth))
        final = changes_text([(n, t) for n, t in loop.final if n != "self"], 4)
        if loop.total is None:
            lines.append(
                "- ... the loop keeps going like this for many more iterations (too many to "
                "follow one by one)."
            )
        elif loop.total == 0:
            why = (
                f"the condition `{header[len('while ') :]}` is false from the start"
                if header.startswith("while ")
                else "there is nothing to iterate over"
            )
            lines.append(f"The loop body never runs, since {why}.")
        elif loop.total > len(shown):
            ending = f", ending with {final}" if final else ""
            lines.append(f"- ... after {loop.total} iterations in total the loop finishes{ending}.")
        else:
            ending = f", leaving {final}" if final else ""
            plural = "s" if loop.total != 1 else ""
            lines.append(
                f"That is the last iteration: the loop ran {loop.total} time{plural}{ending}."
            )
        return lines

    def _cut_calls(self, iteration: list[Item], call: Call, depth: int) -> list[str]:
        """A cut frame inside an iteration still gets its own block: the run ended in there."""
        lines: list[str] = []
        for item in iteration:
            if isinstance(item, Step):
                for sub in item.calls:
                    if sub.cut:
                        lines.extend("  " + line for line in self.call_block(sub, call, depth + 1))
        return lines

    def iteration_clauses(
        self, items: list[Item], call: Call, depth: int, *, first: bool, loop: Loop
    ) -> list[str]:
        clauses: list[str] = []
        loop_vars = set(self.src.loop_vars(loop.header))
        for item in items:
            if isinstance(item, Loop):
                clauses.append(self.inner_loop_clause(item))
                continue
            node = self.src.statement(item.line)
            if isinstance(node, ast.If):
                clauses.append(self.branch_sentence(item, full=False))
            elif isinstance(node, ast.Return):
                clauses.append(f"it returns {value(call.ret or 'None', 60)}")
            elif isinstance(node, ast.Break):
                clauses.append("`break` ends the loop")
            elif isinstance(node, ast.While) and item.line == loop.header:
                continue
            # A call's result comes before the assignment that stores it, as it happens.
            clauses.extend(self.call_result(sub) for sub in item.calls if not sub.cut)
            changes = [(n, t) for n, t in item.changes if n != "self" or len(item.changes) == 1]
            if changes:
                what = changes_text(changes, self.detail.max_changes)
                is_header = item.line == loop.header and set(n for n, _ in changes) <= loop_vars
                if first and self.detail.with_code and node is not None and not is_header:
                    what = f"`{self.src.text(node, 50)}` gives {what}"
                clauses.append(what)
        return clauses

    def inner_loop_clause(self, loop: Loop) -> str:
        self.loops += 1
        header = self.src.header(loop.header, 50)
        if loop.total is None:
            return f"the inner loop `{header}` runs on and on"
        final = changes_text([(n, t) for n, t in loop.final if n != "self"], 2)
        tail = f" (leaving {final})" if final else ""
        return f"the inner loop `{header}` runs {loop.total} time{'s' if loop.total != 1 else ''}{tail}"


def narrate_trace(refcode: str, trace: dict[str, Any], *, budget: int = 3000) -> TraceStory:
    """Narrate the tracer's result for ``refcode``; the body is at most about ``budget`` chars."""
    source = SourceMap(refcode)
    root = build_tree(trace.get("events") or [])
    error = trace.get("error")
    error_text = f"{error['type']}: {error['message']}" if error else None
    returned = trace.get("value_repr")
    if root is None:
        return TraceStory("", [], returned, error_text, 0)
    body, loops = "", 0
    for detail in LADDER:
        narrator = Narrator(source, detail)
        lines = narrator.frame(root, 0)
        body, loops = "\n".join(line for line in lines if line.strip()), narrator.loops
        if len(body) <= budget:
            break
    else:
        body = _clip(body, budget)
    return TraceStory(body, root.args, returned, error_text, loops)


def _clip(body: str, budget: int) -> str:
    """Keep the opening and the last lines (where the result is); elide the middle."""
    lines = body.split("\n")
    tail: list[str] = []
    for line in reversed(lines):
        if sum(len(t) + 1 for t in tail) + len(line) > budget // 3 or len(tail) >= 3:
            break
        tail.insert(0, shorten(line, budget // 3))
    head: list[str] = []
    room = budget - sum(len(t) + 1 for t in tail) - 80
    for line in lines[: len(lines) - len(tail)]:
        if sum(len(h) + 1 for h in head) + len(line) > room:
            break
        head.append(line)
    return "\n".join([*head, "... (many more steps of the same kind) ...", *tail])
