"""Rebuild the call / loop / step structure from the flat event list the tracer returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Call", "Loop", "Step", "build_tree"]

Changes = list[tuple[str, str]]


@dataclass
class Step:
    """One executed line of a frame, what it changed, and the traced calls it made."""

    line: int
    changes: Changes = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    raised: list[tuple[str, str]] = field(default_factory=list)
    next_line: int | None = None
    """The next line this frame ran (None: the frame ended or the trace was cut)."""


@dataclass
class Loop:
    """One activation of a loop: its recorded iterations and how many there were in all."""

    header: int
    iterations: list[list[Item]] = field(default_factory=list)
    total: int | None = None
    """None when the trace was cut inside the loop."""
    final: Changes = field(default_factory=list)
    """Values, after the loop, of every variable the loop changed."""
    touched: list[str] = field(default_factory=list)


@dataclass
class Call:
    fid: int
    name: str
    args: Changes
    parent: Call | None = None
    items: list[Item] = field(default_factory=list)
    ret: str | None = None
    raised: bool = False
    returned: bool = False
    ret_changes: Changes = field(default_factory=list)
    cut: bool = False
    """The detailed trace stopped while this frame was running."""
    values: dict[str, str] = field(default_factory=dict)
    loops: list[Loop] = field(default_factory=list)
    last_step: Step | None = None

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def nested_calls(self) -> int:
        """How many traced calls happened below this one (recorded ones only)."""
        total = 0
        stack: list[Item] = list(self.items)
        while stack:
            item = stack.pop()
            if isinstance(item, Step):
                for call in item.calls:
                    total += 1 + call.nested_calls()
            else:
                for it in item.iterations:
                    stack.extend(it)
        return total


Item = Step | Loop


def _container(call: Call) -> list[Item]:
    if call.loops:
        loop = call.loops[-1]
        if not loop.iterations:
            loop.iterations.append([])
        return loop.iterations[-1]
    return call.items


def _apply(call: Call, changes: list[list[str]]) -> Changes:
    pairs = [(str(name), str(text)) for name, text in changes]
    for name, text in pairs:
        call.values[name] = text
        for loop in call.loops:
            if name not in loop.touched:
                loop.touched.append(name)
    return pairs


def build_tree(events: list[list[Any]]) -> Call | None:
    """The root call (the traced entry function) with everything it did, or None if empty."""
    calls: dict[int, Call] = {}
    root: Call | None = None
    for event in events:
        tag = event[0]
        if tag == "cut":
            for call in calls.values():
                if not call.returned:
                    call.cut = True
            continue
        call = calls.get(event[1]) if tag != "c" else None
        if tag == "c":
            _, fid, parent_fid, name, args = event
            parent = calls.get(parent_fid) if parent_fid is not None else None
            new = Call(fid=fid, name=name, args=[], parent=parent)
            new.args = _apply(new, args)
            calls[fid] = new
            if parent is None:
                root = root or new
            elif parent.last_step is not None:
                parent.last_step.calls.append(new)
            else:  # called before the parent ran a line (default arguments): attach to a step
                step = Step(line=-1, calls=[new])
                _container(parent).append(step)
                parent.last_step = step
        elif call is None:
            continue
        elif tag == "l":
            step = Step(line=event[2])
            if call.last_step is not None:
                call.last_step.next_line = step.line
            _container(call).append(step)
            call.last_step = step
        elif tag == "a":
            changes = _apply(call, event[2])
            if call.last_step is not None:
                call.last_step.changes.extend(changes)
        elif tag == "i":
            header, number = event[2], event[3]
            if number == 1 or not call.loops or call.loops[-1].header != header:
                loop = Loop(header=header)
                _container(call).append(loop)
                call.loops.append(loop)
            call.loops[-1].iterations.append([])
        elif tag == "e":
            header, total, changes = event[2], event[3], event[4]
            if changes:
                _apply(call, changes)
            while call.loops:
                loop = call.loops.pop()
                if loop.header == header:
                    loop.total = total
                    # The exhausted check of a finished loop opens one more, empty iteration.
                    del loop.iterations[max(total, 0) :]
                    loop.final = [(n, call.values[n]) for n in loop.touched if n in call.values]
                    break
        elif tag == "x":
            if call.last_step is not None:
                call.last_step.raised.append((event[3], event[4]))
        elif tag == "r":
            _, _, changes, value, raised = event
            call.ret_changes = _apply(call, changes)
            call.ret, call.raised, call.returned = value, bool(raised), True
            call.loops.clear()
    return root
