"""A structured execution trace for claim checking, recorded in the sandbox by the teacher's tracer.

The trace teacher's ``tracer.py`` is reused as it is: its source runs in the sandbox with a short
tail appended (``_TAIL``) that widens the value reprs (claims quote whole lists and strings),
records which calls went untraced (under a summarised loop or too deep), and lets loops record
more iterations. The host replays the flat events into :class:`ExecTrace`: every value each
variable took, in order, with the loop iterations it happened in; loop totals and end states;
branch outcomes; returns. Budgets (events, bytes, lines) bound the cost; whatever lies beyond a
budget is marked unknown so that claims about it are ``unverifiable``, never ``contradicted``.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import Any

from codeio import ast_safe
from codeio.exec import ExecLimits, ExecResult, ExecTask, Sandbox
from codeio.llm.trace_teacher.runner import harness_code
from codeio.llm.trace_teacher.source import SourceMap
from codeio.pipeline.prelude import REFCODE_PRELUDE

__all__ = [
    "Branch",
    "Call",
    "ExecTrace",
    "LoopRun",
    "Observation",
    "TraceBudget",
    "replay_events",
    "trace_call",
    "trace_from_result",
    "trace_task",
]

CLAIMS_ENTRY = "codeio_claims_trace"

# Appended to the tracer's source inside the sandbox; it may use only names defined there.
_TAIL = """

class _ClaimRepr(_ShortRepr):
    def __init__(self, items, chars):
        super().__init__()
        self.maxlevel = 5
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = items
        self.maxdict = items
        self.maxstring = chars
        self.maxlong = chars
        self.maxother = 120


_CLAIM_REPR = [_ClaimRepr(64, 400)]
_VALUE_LIMIT = [2000]


def short_repr(value, limit=None):
    try:
        text = _CLAIM_REPR[0].repr(value)
    except Exception:
        text = "<" + type(value).__name__ + ">"
    limit = _VALUE_LIMIT[0] if limit is None else max(limit, _VALUE_LIMIT[0])
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TRACERS = []


class _ClaimTracer(Tracer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden = {}
        _TRACERS.append(self)

    def global_trace(self, frame, event, arg):
        result = super().global_trace(frame, event, arg)
        if result is not None and result == self.count_trace:
            name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
            self.hidden[name] = self.hidden.get(name, 0) + 1
        return result


Tracer = _ClaimTracer


def codeio_claims_trace(items=64, chars=400, value_limit=2000, **options):
    import inspect as _inspect

    _CLAIM_REPR[0] = _ClaimRepr(items, chars)
    _VALUE_LIMIT[0] = value_limit
    accepted = _inspect.signature(codeio_trace).parameters
    out = codeio_trace(**{k: v for k, v in options.items() if k in accepted})
    out["hidden"] = dict(_TRACERS[0].hidden) if _TRACERS else {}
    return out
"""


@functools.lru_cache(maxsize=1)
def claims_harness() -> str:
    return harness_code() + _TAIL


@dataclass(frozen=True)
class TraceBudget:
    """Bounds on one traced run. Claims about what falls outside are ``unverifiable``."""

    max_events: int = 6000
    max_chars: int = 400_000
    """Approximate bytes of recorded values."""
    max_lines: int = 300_000
    loop_detail: int = 24
    """Iterations of each loop activation recorded one by one (the rest: totals and end state)."""
    max_depth: int = 40
    items: int = 64
    """Elements of a list/dict/set shown in a recorded value."""
    chars: int = 400
    """Characters of a string (digits of an int) shown in a recorded value."""


@dataclass
class Observation:
    """One value a variable took: frame, name, repr text, loop context and order."""

    fid: int
    name: str
    text: str
    ctx: tuple[tuple[int, int | None], ...]
    """(loop run id, iteration number) for every loop the value was set in; None: unrecorded."""
    seq: int


@dataclass
class LoopRun:
    """One activation of one loop."""

    id: int
    fid: int
    header: int
    ctx: tuple[tuple[int, int | None], ...]
    recorded: int = 0
    """Iterations recorded one by one."""
    total: int | None = None
    """Iterations in all (None: the trace was cut inside the loop)."""
    start_states: dict[int, dict[str, str]] = field(default_factory=dict)
    end_state: dict[str, str] | None = None
    end_seq: int = -1


@dataclass
class Branch:
    fid: int
    line: int
    test: str
    taken: bool
    ctx: tuple[tuple[int, int | None], ...]


@dataclass
class Call:
    fid: int
    name: str
    args: list[tuple[str, str]]
    ret: str | None = None
    raised: bool = False
    returned: bool = False
    parent: int | None = None
    final: dict[str, str] | None = None
    """Every local's value when the call returned (None: it did not return while traced)."""

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass
class ExecTrace:
    """The replayed trace of one call; ``ok`` is False when no step-by-step trace exists."""

    ok: bool
    value: Any = None
    value_ok: bool = False
    value_repr: str | None = None
    error: dict[str, str] | None = None
    cut: str | None = None
    failure: str | None = None
    observations: list[Observation] = field(default_factory=list)
    loops: list[LoopRun] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    hidden: dict[str, int] = field(default_factory=dict)
    """Qualified names of calls that ran untraced (inside a summarised loop, too deep)."""
    gappy: set[tuple[int, str]] = field(default_factory=set)
    """(frame, name) whose history has holes (changed inside a summarised loop)."""
    source: SourceMap | None = None
    depth_limit: int = 40
    """The budget's ``max_depth``: calls nested deeper ran untraced."""

    _headers: dict[int, str] = field(default_factory=dict)
    _depth: int | None = None

    @property
    def max_call_depth(self) -> int:
        """How deep traced calls nested (1: only the entry call)."""
        if self._depth is None:
            parents = {c.fid: c.parent for c in self.calls}
            depth: dict[int, int] = {}
            for call in self.calls:  # parents come first: calls are in start order
                depth[call.fid] = depth.get(parents.get(call.fid) or -1, 0) + 1
            self._depth = max(depth.values(), default=0)
        return self._depth

    def header_text(self, line: int) -> str:
        """The loop header at ``line`` as code (memoised: source segments are slow to cut)."""
        text = self._headers.get(line)
        if text is None:
            text = self.source.header(line, 400) if self.source is not None else ""
            self._headers[line] = text
        return text

    @property
    def names(self) -> set[str]:
        return {o.name for o in self.observations}

    def values_of(self, name: str) -> list[Observation]:
        return [o for o in self.observations if o.name == name]

    def complete_for(self, name: str) -> bool:
        """Whether every value ``name`` took is in the trace (no cut, no untraced holder)."""
        if self.cut is not None:
            return False
        if any(n == name for _, n in self.gappy):
            return False
        if self.source is not None and name in _untraced_names(self.source.source):
            return False
        return not any(name in _function_locals(self.source, q) for q in self.hidden)


def trace_task(
    refcode: str,
    funcname: str,
    kwargs: dict[str, Any],
    *,
    budget: TraceBudget | None = None,
    limits: ExecLimits | None = None,
) -> ExecTask:
    """The sandbox task that traces ``funcname(**kwargs)`` (for ``Sandbox.map``)."""
    budget = budget or TraceBudget()
    return ExecTask(
        code=claims_harness(),
        entry=CLAIMS_ENTRY,
        kwargs={
            "refcode": refcode,
            "funcname": funcname,
            "kwargs": kwargs,
            "max_events": budget.max_events,
            "max_lines": budget.max_lines,
            "loop_detail": budget.loop_detail,
            "max_depth": budget.max_depth,
            "max_chars": budget.max_chars,
            "prelude": REFCODE_PRELUDE,
            "items": budget.items,
            "chars": budget.chars,
            "value_limit": max(200, budget.chars * 5),
        },
        limits=limits,
    )


def trace_from_result(result: ExecResult, refcode: str) -> ExecTrace:
    """Replay a finished trace task's result (a failed task gives ``ok=False`` and why)."""
    if not result.ok or not isinstance(result.value, dict):
        reason = f"{result.status.value}: {result.error_type or ''}".strip(": ")
        return ExecTrace(ok=False, failure=reason)
    data = result.value
    trace = ExecTrace(
        ok=bool(data.get("events")),
        value=data.get("value"),
        value_ok=bool(data.get("value_ok")),
        value_repr=data.get("value_repr"),
        error=data.get("error"),
        cut=data.get("cut"),
        hidden={str(k): int(v) for k, v in (data.get("hidden") or {}).items()},
        source=SourceMap(refcode),
    )
    if trace.ok:
        _replay(trace, data["events"], refcode)
    return trace


def trace_call(
    sandbox: Sandbox,
    refcode: str,
    funcname: str,
    kwargs: dict[str, Any],
    *,
    budget: TraceBudget | None = None,
    limits: ExecLimits | None = None,
) -> ExecTrace:
    """Trace ``funcname(**kwargs)`` in ``sandbox`` and replay the events into an ExecTrace."""
    task = trace_task(refcode, funcname, kwargs, budget=budget, limits=limits)
    return trace_from_result(sandbox.run_task(task), refcode)


def replay_events(events: list[list[Any]], refcode: str, *, cut: str | None = None) -> ExecTrace:
    """An ExecTrace from tracer events already at hand (tests, the teacher's own traces)."""
    trace = ExecTrace(ok=bool(events), cut=cut, source=SourceMap(refcode))
    _replay(trace, events, refcode)
    return trace


@dataclass
class _FrameState:
    call: Call
    state: dict[str, str]
    base: tuple[tuple[int, int | None], ...]
    stack: list[tuple[LoopRun, int | None]] = field(default_factory=list)
    prev: int | None = None
    prev_ctx: tuple[tuple[int, int | None], ...] = ()
    """The loop context the line ``prev`` ran in: a test belongs to the iteration that
    evaluated it, even when its outcome shows only at the next iteration's header."""

    def ctx(self) -> tuple[tuple[int, int | None], ...]:
        return self.base + tuple((run.id, n) for run, n in self.stack)


def _replay(trace: ExecTrace, events: list[list[Any]], refcode: str) -> None:
    src = trace.source or SourceMap(refcode)
    spans = _loop_names(refcode)
    frames: dict[int, _FrameState] = {}
    seq = 0

    def record(fs: _FrameState, changes: list[list[str]], *, hole: bool = False) -> None:
        nonlocal seq
        ctx = fs.ctx()
        if hole:  # values that surfaced at the end of a summarised loop: iteration unknown
            ctx = ctx[:-1] + ((ctx[-1][0], None),) if ctx else ctx
        for name, text in changes:
            name, text = str(name), str(text)
            fs.state[name] = text
            seq += 1
            trace.observations.append(Observation(fs.call.fid, name, text, ctx, seq))

    def branch_outcome(fs: _FrameState, nxt: int | None) -> None:
        prev = fs.prev
        if prev is None or nxt is None:
            return
        info = src.branch(prev)
        if info is None or info.body[0] == prev:  # a one-line ``if c: x`` shows no body line
            return
        taken = info.body[0] <= nxt <= info.body[1]
        trace.branches.append(Branch(fs.call.fid, prev, info.test, taken, fs.prev_ctx))

    for event in events:
        tag = event[0]
        if tag == "cut":
            trace.cut = trace.cut or str(event[1])
            continue
        if tag == "c":
            _, fid, parent, name, args = event
            parent_fs = frames.get(parent) if parent is not None else None
            call = Call(fid=fid, name=str(name), args=[(str(a), str(t)) for a, t in args])
            call.parent = parent
            trace.calls.append(call)
            fs = _FrameState(call, {}, parent_fs.ctx() if parent_fs else ())
            frames[fid] = fs
            record(fs, args)
            continue
        fs = frames.get(event[1])
        if fs is None:
            continue
        if tag == "l":
            branch_outcome(fs, event[2])
            fs.prev = event[2]
            fs.prev_ctx = fs.ctx()
        elif tag == "a":
            record(fs, event[2])
        elif tag == "i":
            header, number = int(event[2]), int(event[3])
            top = fs.stack[-1][0] if fs.stack else None
            if number == 1 or top is None or top.header != header:
                run = LoopRun(id=len(trace.loops), fid=fs.call.fid, header=header, ctx=fs.ctx())
                trace.loops.append(run)
                fs.stack.append((run, number))
            else:
                run = top
                fs.stack[-1] = (run, number)
            run.recorded = max(run.recorded, number)
            run.start_states[number] = dict(fs.state)
        elif tag == "e":
            header, total, changes = int(event[2]), event[3], event[4]
            while fs.stack:
                run, _ = fs.stack[-1]
                if run.header != header:
                    fs.stack.pop()  # a loop left without its own end event (cut inside it)
                    continue
                if changes:
                    record(fs, changes, hole=True)
                fs.stack.pop()
                run.total = int(total) if total is not None else None
                # The exhausted check opens one more, empty iteration: not an iteration.
                run.recorded = min(run.recorded, run.total if run.total is not None else 0)
                if run.total is not None and run.total > run.recorded:
                    for name in spans.get(header, ()):
                        trace.gappy.add((fs.call.fid, name))
                run.end_state = dict(fs.state)
                run.end_seq = seq
                break
        elif tag == "r":
            _, _, changes, value, raised = event
            branch_outcome(fs, None)
            record(fs, changes or [])
            fs.call.ret, fs.call.raised, fs.call.returned = value, bool(raised), True
            fs.call.final = dict(fs.state)
            for run, _ in fs.stack:  # left mid-loop by return/raise after a cut
                if run.total is None:
                    run.end_state = None
            fs.stack.clear()
            del frames[event[1]]
    if trace.cut is not None:
        for fs in frames.values():  # frames alive at the cut ran on untraced
            for name in fs.state:
                trace.gappy.add((fs.call.fid, name))


_PURE_CALLS = frozenset(
    "len range min max abs int float str bool sum sorted enumerate zip list tuple set dict "
    "round print isinstance ord chr any all reversed repr hash divmod pow map filter".split()
)


@functools.lru_cache(maxsize=256)
def loop_changes(source: str) -> dict[int, frozenset[str]]:
    """Loop header line -> the names that loop can change (cached per source)."""
    return {k: frozenset(v) for k, v in _loop_names(source).items()}


@functools.lru_cache(maxsize=256)
def loop_spans(source: str) -> dict[int, tuple[int, int]]:
    """Loop header line -> (first, last) line of the whole loop statement."""
    out: dict[int, tuple[int, int]] = {}
    tree = ast_safe.parse_module(source)
    if tree is None:
        return out
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
            out[node.lineno] = (node.lineno, node.end_lineno or node.lineno)
    return out


def _loop_names(source: str) -> dict[int, set[str]]:
    """Loop header line -> the names the loop can change: assigned, mutated, or handed to a call.

    A summarised loop hides the intermediate values of exactly these; a name the loop only
    reads keeps a complete history.
    """
    out: dict[int, set[str]] = {}
    tree = ast_safe.parse_module(source)
    if tree is None:
        return out
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
            out[node.lineno] = _changed_names(node)
    return out


def _changed_names(loop: ast.AST) -> set[str]:
    names: set[str] = set()
    for sub in ast.walk(loop):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.Subscript, ast.Attribute)) and isinstance(
            sub.ctx, (ast.Store, ast.Del)
        ):
            names |= {n.id for n in ast.walk(sub.value) if isinstance(n, ast.Name)}
        elif isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Attribute):  # x.append(...): x may change
                names |= {n.id for n in ast.walk(func.value) if isinstance(n, ast.Name)}
            if not (isinstance(func, ast.Name) and func.id in _PURE_CALLS):
                for arg in [*sub.args, *(k.value for k in sub.keywords)]:
                    names |= {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
        elif isinstance(sub, (ast.Global, ast.Nonlocal)):
            names.update(sub.names)
    return names


@functools.lru_cache(maxsize=256)
def _locals_cache(source: str, qualname: str) -> frozenset[str]:
    src = SourceMap(source)
    node = src.functions.get(qualname.rsplit(".", 1)[-1])
    if node is None:
        return frozenset()
    names = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return frozenset(names)


def _bound_unseen(node: ast.AST) -> set[str]:
    """Names ``node`` itself binds where the tracer never looks: the targets of a
    comprehension, a lambda's arguments, a walrus target, every local of a generator or
    coroutine function (its frames are not the ones the tracer follows)."""
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return {
            n.id for gen in node.generators for n in ast.walk(gen.target) if isinstance(n, ast.Name)
        }
    if isinstance(node, ast.Lambda):
        return {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    if isinstance(node, ast.NamedExpr):
        return {node.target.id}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
        isinstance(node, ast.AsyncFunctionDef)
        or any(isinstance(sub, (ast.Yield, ast.YieldFrom)) for sub in ast.walk(node))
    ):
        names = {
            n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        return names | {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    return set()


@functools.lru_cache(maxsize=256)
def _untraced_names(source: str) -> frozenset[str]:
    """Names bound where the tracer never looks: comprehensions, lambdas, generators."""
    tree = ast_safe.parse_module(source)
    if tree is None:
        return frozenset()
    names: set[str] = set()
    for node in ast.walk(tree):
        names |= _bound_unseen(node)
    return frozenset(names)


@functools.lru_cache(maxsize=256)
def untraced_sites(source: str) -> dict[str, tuple[tuple[int, int, int], ...]]:
    """Name -> (first line, last line, line of the enclosing def or 0) of each place that binds
    it unseen by the tracer (a comprehension, lambda, walrus or generator: see _bound_unseen)."""
    tree = ast_safe.parse_module(source)
    if tree is None:
        return {}
    out: dict[str, list[tuple[int, int, int]]] = {}

    def visit(node: ast.AST, owner: int) -> None:
        for child in ast.iter_child_nodes(node):
            here = owner
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                here = child.lineno
            bound = _bound_unseen(child)
            if bound:
                site = (child.lineno, child.end_lineno or child.lineno, here)  # type: ignore[attr-defined]
                for name in bound:
                    out.setdefault(name, []).append(site)
            visit(child, here)

    visit(tree, 0)
    return {k: tuple(v) for k, v in out.items()}


def _function_locals(source: SourceMap | None, qualname: str) -> frozenset[str]:
    if source is None:
        return frozenset()
    if "<" in qualname:
        return frozenset()
    return _locals_cache(source.source, qualname)
