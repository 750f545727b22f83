"""Sandbox-side harness: run a function under ``sys.settrace`` and return a compact trace.

This module's *source text* is sent to the sandbox as the code of an exec task (entry
``codeio_trace``); it must therefore use only the standard library and import nothing from
codeio. The host never runs the traced function itself: refcode is untrusted.

Trace events (lists, to keep the JSON small), in execution order:

- ``["c", fid, parent_fid, qualname, [[arg, repr], ...]]``  a traced function was called
- ``["l", fid, lineno]``                                     a line of frame ``fid`` starts
- ``["a", fid, [[var, repr], ...]]``                         local changes made by the previous line
- ``["i", fid, header, n]``                                  iteration ``n`` of a loop starts
- ``["e", fid, header, iterations, changes|None]``           a loop ended (changes: state after a
  loop whose later iterations were not recorded)
- ``["x", fid, lineno, exc_type, message]``                  an exception was raised in the frame
- ``["r", fid, changes, value_repr, raised]``                the frame returned (or raised)
- ``["cut", reason]``                                        detailed recording stopped here

Budgets keep the trace bounded: loops record only their first iterations in detail, the
whole trace holds at most ``max_events`` events, and after ``max_lines`` executed lines tracing
stops (the function still runs to completion, untraced).
"""

from __future__ import annotations

import ast
import copy
import json
import re
import reprlib
import sys
import types
from typing import Any

REF_FILENAME = "<refcode>"
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SKIP_FLAGS = (
    0x20 | 0x80 | 0x200
)  # generator, coroutine, async generator: resumed frames confuse steps
_DETAIL, _OFF = 0, 2


class _ShortRepr(reprlib.Repr):
    """Bounded, deterministic reprs: dicts keep insertion order, plain objects show their fields."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = 8
        self.maxdict = 6
        self.maxstring = 60
        self.maxlong = 40
        self.maxother = 80

    def repr_dict(self, x: dict, level: int) -> str:  # type: ignore[type-arg]
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = []
        for i, (k, v) in enumerate(x.items()):
            if i >= self.maxdict:
                items.append("...")
                break
            items.append(f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}")
        return "{" + ", ".join(items) + "}"

    def repr_instance(self, x: Any, level: int) -> str:
        cls = type(x)
        if cls.__repr__ is object.__repr__ and hasattr(x, "__dict__"):
            if level <= 0:
                return f"{cls.__name__}(...)"
            fields = list(vars(x).items())
            shown = [f"{k}={self.repr1(v, level - 1)}" for k, v in fields[:4]]
            if len(fields) > 4:
                shown.append("...")
            return f"{cls.__name__}({', '.join(shown)})"
        try:
            text = repr(x)
        except Exception:  # a broken user __repr__ must not break the trace
            return f"<{cls.__name__}>"
        text = " ".join(_ADDRESS.sub("", text).split())
        if len(text) > self.maxother:
            text = text[: self.maxother - 3] + "..."
        return text


_REPR = _ShortRepr()


def short_repr(value: Any, limit: int = 100) -> str:
    try:
        text = _REPR.repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


Span = tuple[int, int, int, int, bool]
"""A loop: header line, last body line, last line of the header, the first body line for
``while True`` loops (an iteration may start there when the header reports no line event), and
whether the body shares the header's line."""


def _loop_spans(source: str) -> list[Span]:
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
            end = node.body[-1].end_lineno or node.lineno
            if node.orelse:  # the else clause runs once after the loop, not per iteration
                end = min(end, node.orelse[0].lineno - 1)
            head = node.test if isinstance(node, ast.While) else node.iter
            header_end = max(
                node.lineno, min(head.end_lineno or node.lineno, node.body[0].lineno - 1)
            )
            forever = (
                isinstance(node, ast.While)
                and isinstance(node.test, ast.Constant)
                and bool(node.test.value)
            )
            restart = node.body[0].lineno if forever else 0
            spans.append(
                (node.lineno, end, header_end, restart, node.body[0].lineno == node.lineno)
            )
    return sorted(spans)


_NOT_DATA = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
)


def _is_data(value: Any) -> bool:
    """Locals worth narrating: values, not the functions, classes and modules a body binds."""
    return not isinstance(value, _NOT_DATA)


def _size(changes: list[list[str]] | None) -> int:
    return 8 + sum(len(name) + len(text) + 6 for name, text in changes or ())


class _Loop:
    __slots__ = (
        "header",
        "end",
        "header_end",
        "restart",
        "oneline",
        "starts",
        "last_in",
        "suppressing",
    )

    def __init__(self, span: Span) -> None:
        self.header, self.end, self.header_end, self.restart, self.oneline = span
        self.starts, self.last_in, self.suppressing = 1, self.header, False

    def restarts_at(self, ln: int, prev: int) -> bool:
        """Whether moving from ``prev`` to ``ln`` (both in this loop) begins a new iteration."""
        if self.oneline:
            return ln == self.header
        if self.header <= ln <= self.header_end:
            # Line events move around inside a multi-line header without a new iteration.
            return not (self.header <= prev <= self.header_end)
        return ln == self.restart and prev >= ln

    def iterations(self) -> int:
        # The final visit to the header is the exhausted check, not an iteration.
        return self.starts - (1 if self.header <= self.last_in <= self.header_end else 0)


class _Frame:
    __slots__ = ("fid", "snap", "prev", "loops", "spans", "suppressed", "raised")

    def __init__(self, fid: int, spans: list[Span]) -> None:
        self.fid = fid
        self.snap: dict[str, str] = {}
        self.prev: int | None = None
        self.loops: list[_Loop] = []
        self.spans = spans
        self.suppressed = 0  # how many of this frame's active loops stopped recording
        self.raised = False


class Tracer:
    """Records the calls, lines, local changes and loops of one call of a refcode function."""

    def __init__(
        self,
        spans: list[Span],
        *,
        max_events: int,
        max_lines: int,
        loop_detail: int,
        max_depth: int,
        max_chars: int = 400_000,
    ) -> None:
        self.spans = spans
        self.max_chars = max_chars
        self.chars = 0
        self.max_events, self.max_lines = max_events, max_lines
        self.loop_detail, self.max_depth = loop_detail, max_depth
        self.events: list[list[Any]] = []
        self.frames: dict[Any, _Frame] = {}
        self.mode = _DETAIL
        self.lines = 0
        self.next_fid = 0
        self.cut: str | None = None
        self._spans_by_code: dict[Any, list[Span]] = {}

    # -- helpers -------------------------------------------------------------------------------
    def _emit(self, event: list[Any], size: int = 8) -> None:
        if self.mode != _DETAIL:
            return
        self.events.append(event)
        self.chars += size
        if len(self.events) >= self.max_events:
            self._stop("max_events")
        elif self.chars >= self.max_chars:
            self._stop("max_chars")

    def _stop(self, reason: str) -> None:
        self.mode = _OFF
        self.cut = reason
        self.events.append(["cut", reason])
        for frame in self.frames:
            # Keep return events of the open frames (their results), drop their line events.
            frame.f_trace_lines = False

    def _diff(self, frame: Any, st: _Frame) -> list[list[str]]:
        changes = []
        for name, value in frame.f_locals.items():
            if name.startswith(".") or not _is_data(value):
                continue
            text = short_repr(value)
            if st.snap.get(name) != text:
                st.snap[name] = text
                changes.append([name, text])
        return changes

    def _parent(self, frame: Any) -> _Frame | None:
        back = frame.f_back
        while back is not None:
            st = self.frames.get(back)
            if st is not None:
                return st
            back = back.f_back
        return None

    # -- trace callbacks -----------------------------------------------------------------------
    def global_trace(self, frame: Any, event: str, arg: Any) -> Any:
        code = frame.f_code
        if self.mode != _DETAIL or code.co_filename != REF_FILENAME:
            return None
        if code.co_name.startswith("<") or code.co_flags & _SKIP_FLAGS:
            return None
        parent = self._parent(frame)
        if parent is not None and parent.suppressed:
            return self.count_trace
        if len(self.frames) >= self.max_depth:
            return self.count_trace
        spans = self._spans_by_code.get(code)
        if spans is None:
            spans = [s for s in self.spans if s[0] >= code.co_firstlineno]
            self._spans_by_code[code] = spans
        st = _Frame(self.next_fid, spans)
        self.next_fid += 1
        self.frames[frame] = st
        args = self._diff(frame, st)
        self._emit(
            [
                "c",
                st.fid,
                parent.fid if parent else None,
                getattr(code, "co_qualname", code.co_name),
                args,
            ],
            _size(args),
        )
        return self.local_trace

    def count_trace(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines += 1
            if self.lines > self.max_lines and self.mode == _DETAIL:
                self._stop("max_lines")
        return self.count_trace if self.mode == _DETAIL else None

    def local_trace(self, frame: Any, event: str, arg: Any) -> Any:
        st = self.frames.get(frame)
        if st is None:
            return None
        if event == "line":
            if self.mode == _DETAIL:
                self._line(frame, st, frame.f_lineno)
        elif event == "exception":
            st.raised = True
            if self.mode == _DETAIL and not st.suppressed:
                exc = arg[1]
                self._emit(
                    ["x", st.fid, frame.f_lineno, type(exc).__name__, short_repr(str(exc), 120)]
                )
        elif event == "return":
            self._return(frame, st, arg)
        return self.local_trace

    def _line(self, frame: Any, st: _Frame, ln: int) -> None:
        self.lines += 1
        if self.lines > self.max_lines:
            self._stop("max_lines")
            return
        st.raised = False
        if not st.suppressed:
            changes = self._diff(frame, st)
            if changes:
                self._emit(["a", st.fid, changes], _size(changes))
        while st.loops and not (st.loops[-1].header <= ln <= st.loops[-1].end):
            self._end_loop(frame, st, st.loops.pop())
        prev = st.prev
        started = None
        if prev is not None:
            for loop in reversed(st.loops):
                if loop.header <= prev <= loop.end and loop.restarts_at(ln, prev):
                    loop.starts += 1
                    started = loop
                    break
        active = {loop.header for loop in st.loops}
        for span in st.spans:
            if span[0] > ln:
                break
            if ln <= span[1] and span[0] not in active:
                started = _Loop(span)
                st.loops.append(started)
        st.loops.sort(key=lambda lp: lp.header)
        for loop in st.loops:
            loop.last_in = ln
        if started is not None and not st.suppressed:
            if started.starts > self.loop_detail:
                started.suppressing = True
                st.suppressed += 1
            else:
                self._emit(["i", st.fid, started.header, started.starts])
        if not st.suppressed and self.mode == _DETAIL:
            self._emit(["l", st.fid, ln])
        st.prev = ln

    def _end_loop(self, frame: Any, st: _Frame, loop: _Loop) -> None:
        changes = None
        if loop.suppressing:
            st.suppressed -= 1
            if not st.suppressed:
                changes = self._diff(frame, st)
        if not st.suppressed and self.mode == _DETAIL:
            self._emit(["e", st.fid, loop.header, loop.iterations(), changes], _size(changes))

    def _return(self, frame: Any, st: _Frame, value: Any) -> None:
        if self.mode == _DETAIL:
            while st.loops:
                loop = st.loops.pop()
                # Leaving by return/raise from inside the body: the current iteration counts.
                loop.last_in = -1
                self._end_loop(frame, st, loop)
        changes = self._diff(frame, st) if (not st.suppressed or self.mode != _DETAIL) else []
        raised = st.raised
        self.events.append(["r", st.fid, changes, None if raised else short_repr(value), raised])
        del self.frames[frame]


def _load(refcode: str, prelude: str = "") -> dict[str, Any]:
    # A real module in sys.modules, so dataclasses, pickle and typing resolve the code's names.
    module = types.ModuleType("codeio_refcode")
    sys.modules[module.__name__] = module
    if prelude:
        # Its own filename keeps the prelude's lines out of the trace.
        exec(compile(prelude, "<prelude>", "exec"), module.__dict__)
    exec(compile(refcode, REF_FILENAME, "exec"), module.__dict__)
    return module.__dict__


def _seed_random(seed: int | None) -> None:
    """Seed ``random`` and, when the code loaded it, numpy's global generator: a function that
    draws random numbers must tell the same story in every run with the same seed."""
    if seed is None:
        return
    import random

    random.seed(seed)
    numpy = sys.modules.get("numpy")  # only if already imported: importing it costs time
    if numpy is not None:
        try:
            numpy.random.seed(seed % (2**32))
        except Exception:  # a numpy without the legacy global generator: nothing to seed
            pass


def _literal(value: Any, limit: int = 20_000) -> str | None:
    """The full ``repr`` of the return value, for answers in Python-literal form (tuples, sets)."""
    try:
        text = repr(value)
    except Exception:  # a broken user __repr__: there is no literal to give
        return None
    return text if len(text) <= limit else None


def _describe(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": short_repr(str(exc), 200)}


def codeio_trace(
    refcode: str,
    funcname: str,
    kwargs: dict[str, Any],
    max_events: int = 3000,
    max_lines: int = 1_000_000,
    loop_detail: int = 3,
    max_depth: int = 40,
    max_chars: int = 400_000,
    prelude: str = "",
    random_seed: int | None = None,
) -> dict[str, Any]:
    """Run ``funcname(**kwargs)`` from ``refcode`` under the tracer; the sandbox entry point.

    With ``random_seed``, ``random`` (and numpy's global generator) are seeded before the code
    loads and again before the call, so the trace depends on the seed and the call alone.
    """
    _seed_random(random_seed)
    func = _load(refcode, prelude)[funcname]
    _seed_random(random_seed)
    tracer = Tracer(
        _loop_spans(refcode),
        max_events=max_events,
        max_lines=max_lines,
        loop_detail=loop_detail,
        max_depth=max_depth,
        max_chars=max_chars,
    )
    error = None
    value = None
    sys.settrace(tracer.global_trace)
    try:
        # A copy: the function may mutate its arguments, and a rerun needs the originals.
        value = func(**copy.deepcopy(kwargs))
    except BaseException as exc:  # the function's own failure is part of the trace
        error = _describe(exc)
    finally:
        sys.settrace(None)
    events = tracer.events
    if error is not None:
        # The tracer adds stack depth and time; a failure it caused is not the function's.
        # Confirm untraced in a fresh module; if that succeeds, keep its value, not the story.
        try:
            _seed_random(random_seed)
            func = _load(refcode, prelude)[funcname]
            _seed_random(random_seed)
            value = func(**kwargs)
            error, events = None, []
        except BaseException:
            pass
    value_ok = error is None
    if value_ok:
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError):
            value_ok = False
    return {
        "events": events,
        "value": value if value_ok else None,
        "value_ok": value_ok,
        "value_repr": short_repr(value) if error is None else None,
        "value_literal": _literal(value) if error is None else None,
        "error": error,
        "cut": tracer.cut,
        "lines": tracer.lines,
    }
