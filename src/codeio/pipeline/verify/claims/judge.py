"""Judge each claim against the trace: supported, contradicted or unverifiable.

False contradictions are the worst error, so a claim is contradicted only when the trace holds
every value that could make it true and none does: for a claim placed in iteration k, the values
the name held during that recorded iteration of every candidate loop; after a loop, its values
from the loop's end on; otherwise every value the name took in any frame -- and only when no
budget cut, summarised loop, untraced call or comprehension could hide a matching value. When
several loops or calls could be meant, a claim that fits any of them is supported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from codeio import ast_safe
from codeio.pipeline.verify.claims.extract import Claim
from codeio.pipeline.verify.claims.trace import ExecTrace, LoopRun, Observation
from codeio.pipeline.verify.claims.values import decimals, match, parse_value, show
from codeio.records import ClaimCheck

__all__ = ["code_names", "judge_claim", "judge_claims"]

_MAX_SHOWN = 6


def code_names(source: str) -> frozenset[str]:
    """Names a claim may be about: every name bound in the code (arguments, assignments, loops)."""
    tree = ast_safe.parse_module(source)
    if tree is None:
        return frozenset()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    names.discard("self")
    return frozenset(names)


def judge_claims(
    claims: Iterable[Claim], trace: ExecTrace, names: frozenset[str]
) -> list[ClaimCheck]:
    """Checks for the claims about names in the code (other ``name is 5`` phrases are dropped)."""
    out = []
    for claim in claims:
        if claim.kind == "value" and claim.name not in names:
            continue
        out.append(judge_claim(claim, trace))
    return out


def _check(claim: Claim, status: str, actual: str | None = None, note: str = "") -> ClaimCheck:
    return ClaimCheck(
        kind=claim.kind,
        claim=claim.text,
        span=claim.span,
        name=claim.name,
        claimed=show(claim.value_text, 200),
        actual=None if actual is None else show(actual, 300),
        where=claim.where,
        status=status,  # type: ignore[arg-type]
        note=note,
    )


def judge_claim(claim: Claim, trace: ExecTrace) -> ClaimCheck:
    if not trace.ok:
        return _check(claim, "unverifiable", note="no_trace")
    if claim.kind == "value":
        return _value(claim, trace)
    if claim.kind == "loop_count":
        return _loop_count(claim, trace)
    if claim.kind == "condition":
        return _condition(claim, trace)
    if claim.kind == "return":
        return _return(claim, trace)
    return _final(claim, trace)


# -- values ------------------------------------------------------------------------------------


def _compare(claim: Claim, texts: Iterable[str]) -> tuple[bool, bool, list[str]]:
    """(some value matches, some could not be told, the distinct values seen)."""
    places = decimals(claim.value_text)
    hit = unknown = False
    seen: list[str] = []
    for text in texts:
        if text not in seen:
            seen.append(text)
        result = match(claim.value, parse_value(text), places=places)
        if result is True:
            hit = True
        elif result is None:
            unknown = True
    return hit, unknown, seen


def _shown(values: list[str]) -> str:
    if len(values) > _MAX_SHOWN:
        values = [*values[: _MAX_SHOWN - 1], "...", values[-1]]
    return ", ".join(values)


def _runs_named(trace: ExecTrace, hint: str | None) -> list[LoopRun]:
    runs = trace.loops
    if hint and trace.source is not None:
        wanted = _norm_header(hint)
        lines = {
            run.header
            for run in runs
            if _header_matches(wanted, _norm_header(trace.header_text(run.header)))
        }
        if lines:
            return [run for run in runs if run.header in lines]
    return runs


def _candidate_loops(claim: Claim, trace: ExecTrace) -> list[LoopRun]:
    """The loop activations a claim can be about: those of the loop it names, and when it is
    told inside iteration k of an outer loop, only the activations inside that iteration."""
    runs = _runs_named(trace, claim.loop_hint)
    if claim.within is None or claim.kind not in ("loop_count", "value"):
        return runs
    outer = [r for r in _runs_named(trace, claim.outer_hint) if r not in runs]
    inside = [r for r in runs if any((o.id, claim.within) in r.ctx for o in outer)]
    return inside or runs


def _norm_header(text: str) -> str:
    return "".join(text.split()).rstrip(":")


def _header_matches(wanted: str, actual: str) -> bool:
    if "..." in wanted:
        return actual.startswith(wanted.split("...", 1)[0])
    return wanted == actual or actual.startswith(wanted)


def _loop_targets(trace: ExecTrace, header: int) -> set[str]:
    return set(trace.source.loop_vars(header)) if trace.source is not None else set()


def _value(claim: Claim, trace: ExecTrace) -> ClaimCheck:
    name = claim.name
    history = trace.values_of(name)
    if not history:
        return _check(claim, "unverifiable", note="name_not_traced")
    if claim.iteration is not None:
        return _value_in_iteration(claim, trace)
    # Placements the trace cannot apply (no such call, parameter or iteration) fall back to an
    # unplaced claim, and its ``where`` says so.
    for field, judge in (
        ("at_return", _value_at_return),
        ("at_call", _value_at_call),
        ("binding", _value_bound),
    ):
        if getattr(claim, field) is not None and not claim.after_loop:
            placed = judge(claim, trace)
            if placed is not None:
                return placed
            claim = replace(claim, **{field: None})
    if claim.after_loop:
        return _value_after_loop(claim, trace, history)
    hit, unknown, seen = _compare(claim, (o.text for o in history))
    if hit:
        return _check(claim, "supported", claim.value_text)
    if unknown or not trace.complete_for(name):
        return _check(claim, "unverifiable", _shown(seen), note="incomplete_history")
    return _check(claim, "contradicted", _shown(seen))


def _iteration_values(trace: ExecTrace, run: LoopRun, k: int, name: str) -> list[str]:
    values = []
    start = run.start_states.get(k, {})
    if name in start and name not in _loop_targets(trace, run.header):
        values.append(start[name])
    values.extend(o.text for o in trace.observations if o.name == name and (run.id, k) in o.ctx)
    return values


def _value_in_iteration(claim: Claim, trace: ExecTrace) -> ClaimCheck:
    k, name = claim.iteration, claim.name
    assert k is not None
    verdicts: list[str] = []
    seen_all: list[str] = []
    for run in _candidate_loops(claim, trace):
        if k < 1 or (run.total is not None and k > run.total):
            continue
        if k > run.recorded:
            verdicts.append("unknown")
            continue
        values = _iteration_values(trace, run, k, name)
        if not values:
            continue
        hit, unknown, seen = _compare(claim, values)
        seen_all.extend(v for v in seen if v not in seen_all)
        if hit:
            return _check(claim, "supported", claim.value_text)
        hidden = _hidden_in(trace, run, k, name)
        verdicts.append("unknown" if unknown or hidden else "differs")
    if verdicts and all(v == "differs" for v in verdicts):
        return _check(claim, "contradicted", _shown(seen_all))
    if not verdicts:
        # The name is not in any recorded iteration k: the text may count loops differently.
        return (
            _value(_unplaced(claim), trace)
            if _supported_anywhere(claim, trace)
            else _check(claim, "unverifiable", note="no_such_iteration")
        )
    return _check(claim, "unverifiable", _shown(seen_all) or None, note="incomplete_iteration")


def _value_at_return(claim: Claim, trace: ExecTrace) -> ClaimCheck | None:
    """``When `f` finishes, x = 5``: x in the final state of the calls of f (any call when the
    text names none). None when no traced call has x in its final state."""
    wanted = claim.at_return.rsplit(".", 1)[-1] if claim.at_return else ""
    calls = [c for c in trace.calls if not wanted or c.short_name == wanted]
    finals = [c.final[claim.name] for c in calls if c.final and claim.name in c.final]
    if not finals:
        return None
    hit, unknown, seen = _compare(claim, finals)
    if hit:
        return _check(claim, "supported", claim.value_text)
    from codeio.pipeline.verify.claims.trace import _function_locals

    # An untraced call could have ended with another value only if its function has the name.
    hidden = any(
        q.rsplit(".", 1)[-1] == wanted
        if wanted
        else claim.name in _function_locals(trace.source, q)
        for q in trace.hidden
    )
    unfinished = any(
        (not c.returned or c.raised) and (wanted or c.final is None)
        for c in calls
        if not wanted or c.short_name == wanted
    )
    if unknown or hidden or unfinished or trace.cut is not None:
        return _check(claim, "unverifiable", _shown(seen), note="incomplete_returns")
    return _check(claim, "contradicted", _shown(seen))


def _value_at_call(claim: Claim, trace: ExecTrace) -> ClaimCheck | None:
    """``This calls `f` with n = 3``: n as the calls of f received it. None when no traced call
    of f has a parameter of that name (the claim is then judged unplaced)."""
    wanted = (claim.at_call or "").rsplit(".", 1)[-1]
    calls = [c for c in trace.calls if c.short_name == wanted]
    received = [t for c in calls for n, t in c.args if n == claim.name]
    if not received:
        return None
    hit, unknown, seen = _compare(claim, received)
    if hit:
        return _check(claim, "supported", claim.value_text)
    hidden = any(q.rsplit(".", 1)[-1] == wanted for q in trace.hidden)
    if unknown or hidden or trace.cut is not None:
        return _check(claim, "unverifiable", _shown(seen), note="call_not_traced")
    return _check(claim, "contradicted", _shown(seen))


def _value_bound(claim: Claim, trace: ExecTrace) -> ClaimCheck | None:
    """``at i=2: total = 5``: judged in the iterations where i was 2 (any loop, any frame);
    None when no recorded iteration had that value (the claim is then judged unplaced)."""
    assert claim.binding is not None
    var, wanted = claim.binding
    verdicts: list[str] = []
    seen_all: list[str] = []
    for run in trace.loops:
        for k in range(1, run.recorded + 1):
            if not any(
                match(wanted, parse_value(t)) is True for t in _iteration_values(trace, run, k, var)
            ):
                continue
            values = _iteration_values(trace, run, k, claim.name)
            if not values:
                verdicts.append("unknown")
                continue
            hit, unknown, seen = _compare(claim, values)
            seen_all.extend(v for v in seen if v not in seen_all)
            if hit:
                return _check(claim, "supported", claim.value_text)
            hidden = _hidden_in(trace, run, k, claim.name)
            verdicts.append("unknown" if unknown or hidden else "differs")
    if not verdicts:
        return None
    if all(v == "differs" for v in verdicts):
        return _check(claim, "contradicted", _shown(seen_all))
    return _check(claim, "unverifiable", _shown(seen_all) or None, note="incomplete_iteration")


def _unplaced(claim: Claim) -> Claim:
    return replace(claim, iteration=None, after_loop=False)


def _supported_anywhere(claim: Claim, trace: ExecTrace) -> bool:
    hit, _, _ = _compare(claim, (o.text for o in trace.values_of(claim.name)))
    return hit


def _hidden_in(trace: ExecTrace, run: LoopRun, k: int, name: str) -> bool:
    """Whether iteration k could hold values of ``name`` the trace did not record."""
    if trace.cut is not None or _nested_summary(trace, run, k, name=name):
        return True
    from codeio.pipeline.verify.claims.trace import _function_locals, untraced_sites

    if trace.source is None:
        return True
    if _calls_hidden_in(trace, run, k) and any(
        name in _function_locals(trace.source, q) for q in trace.hidden
    ):
        return True
    # A comprehension (lambda, generator) binding the name hides values only where it can run
    # during the iteration: inside the loop, or in another function the iteration may call. One
    # in the loop's own function outside the loop is another scope at another time.
    first, last = _span(trace, run.header)
    owner = _owner_def(trace, run.header)
    return any(
        first <= a and b <= last or where != owner
        for a, b, where in untraced_sites(trace.source.source).get(name, ())
    )


def _calls_hidden_in(trace: ExecTrace, run: LoopRun, k: int) -> bool:
    """Whether a call may have run untraced during recorded iteration k of ``run``.

    The tracer hides a call only under a summarised loop or past the depth limit; iteration k
    itself is recorded, so only a summarised loop inside it (in this frame or a callee's) or a
    run that reached the depth limit can hide one.
    """
    if not trace.hidden:
        return False
    if trace.max_call_depth >= trace.depth_limit - 1:
        return True
    return any(_summarised(inner) and (run.id, k) in inner.ctx for inner in trace.loops)


def _span(trace: ExecTrace, header: int) -> tuple[int, int]:
    from codeio.pipeline.verify.claims.trace import loop_spans

    source = trace.source.source if trace.source is not None else ""
    return loop_spans(source).get(header, (header, header))


def _owner_def(trace: ExecTrace, line: int) -> int:
    """Line of the innermost def around ``line`` (0 at module level)."""
    best, best_start = 0, -1
    for node in trace.source.functions.values() if trace.source is not None else ():
        if node.lineno <= line <= (node.end_lineno or node.lineno) and node.lineno > best_start:
            best, best_start = node.lineno, node.lineno
    return best


def _summarised(run: LoopRun) -> bool:
    return run.total is not None and run.total > run.recorded


def _changes(trace: ExecTrace, header: int) -> frozenset[str]:
    from codeio.pipeline.verify.claims.trace import loop_changes

    source = trace.source.source if trace.source is not None else ""
    return loop_changes(source).get(header, frozenset())


def _contains(trace: ExecTrace, header: int, lines: set[int]) -> bool:
    from codeio.pipeline.verify.claims.trace import loop_spans

    source = trace.source.source if trace.source is not None else ""
    first, last = loop_spans(source).get(header, (header, header))
    return any(first <= line <= last for line in lines)


def _nested_summary(
    trace: ExecTrace,
    run: LoopRun,
    k: int,
    *,
    name: str | None = None,
    lines: set[int] | None = None,
) -> bool:
    """A loop summarised inside iteration k that could hide ``name``'s values (or ``lines``)."""
    for inner in trace.loops:
        if (run.id, k) not in inner.ctx or not _summarised(inner):
            continue
        if name is not None and name not in _changes(trace, inner.header):
            continue
        if lines is not None and not _contains(trace, inner.header, lines):
            continue
        return True
    return False


def _value_after_loop(claim: Claim, trace: ExecTrace, history: list[Observation]) -> ClaimCheck:
    name = claim.name
    verdicts: list[str] = []
    seen_all: list[str] = []
    for run in _candidate_loops(claim, trace):
        if run.end_state is None or name not in run.end_state:
            continue
        values = [run.end_state[name]]
        values.extend(o.text for o in history if o.fid == run.fid and o.seq > run.end_seq)
        hit, unknown, seen = _compare(claim, values)
        seen_all.extend(v for v in seen if v not in seen_all)
        if hit:
            return _check(claim, "supported", claim.value_text)
        # Values after the loop come from this frame; a later summarised loop may hide some.
        later_holes = any(
            other.fid == run.fid
            and other.end_seq > run.end_seq
            and _summarised(other)
            and name in _changes(trace, other.header)
            for other in trace.loops
        )
        blind = trace.cut is not None or later_holes
        verdicts.append("unknown" if unknown or blind else "differs")
    if verdicts and all(v == "differs" for v in verdicts):
        return _check(claim, "contradicted", _shown(seen_all))
    if not verdicts:
        return _value(_unplaced(claim), trace)
    return _check(claim, "unverifiable", _shown(seen_all) or None, note="incomplete_after_loop")


def _hidden_holder(trace: ExecTrace, name: str) -> bool:
    from codeio.pipeline.verify.claims.trace import _function_locals, _untraced_names

    if trace.source is not None and name in _untraced_names(trace.source.source):
        return True
    return any(name in _function_locals(trace.source, q) for q in trace.hidden)


# -- loops, conditions, returns ----------------------------------------------------------------


def _loop_count(claim: Claim, trace: ExecTrace) -> ClaimCheck:
    runs = _candidate_loops(claim, trace)
    if not runs:
        return _check(claim, "unverifiable", note="no_loop_traced")
    totals = [run.total for run in runs]
    if claim.value in totals:
        return _check(claim, "supported", str(claim.value))
    known = sorted({t for t in totals if t is not None})
    outer = _outer_iterations(claim, trace, runs)
    hidden = (
        any(_calls_hidden_in(trace, o, claim.within) for o in outer)
        if outer and claim.within is not None
        else _loops_hidden(trace)
    )
    if None in totals or trace.cut is not None or hidden:
        return _check(
            claim, "unverifiable", ", ".join(map(str, known)) or None, note="incomplete_loops"
        )
    return _check(claim, "contradicted", _shown([str(t) for t in known]))


def _outer_iterations(claim: Claim, trace: ExecTrace, runs: list[LoopRun]) -> list[LoopRun]:
    """The outer loop activations whose iteration ``claim.within`` holds every candidate run
    (the claim was told inside that iteration); empty when the candidates were not narrowed."""
    if claim.within is None:
        return []
    outer = [r for r in _runs_named(trace, claim.outer_hint) if r not in runs]
    holders = [o for o in outer if any((o.id, claim.within) in r.ctx for r in runs)]
    if not holders or not all(any((o.id, claim.within) in r.ctx for o in holders) for r in runs):
        return []
    return holders


def _loops_hidden(trace: ExecTrace) -> bool:
    """Loops may have run in untraced calls: a count might belong to one of those."""
    if not trace.hidden or trace.source is None:
        return False
    for qualname in trace.hidden:
        node = trace.source.functions.get(qualname.rsplit(".", 1)[-1])
        if node is None or any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(node)):
            return True
    return False


def _expr_key(text: str) -> str | None:
    try:
        return ast.dump(ast_safe.parse(text.strip().rstrip(":"), mode="eval").body)
    except (SyntaxError, ValueError):
        return None


def _condition(claim: Claim, trace: ExecTrace) -> ClaimCheck:
    key = _expr_key(claim.name)
    if key is None or trace.source is None:
        return _check(claim, "unverifiable", note="not_an_expression")
    outcomes = []
    runs = _candidate_loops(claim, trace) if claim.iteration is not None else []
    lines = {
        line
        for line in {b.line for b in trace.branches}
        if ast.dump(getattr(trace.source.statement(line), "test", None) or ast.Pass()) == key
    }
    for branch in trace.branches:
        if branch.line not in lines:
            continue
        if claim.iteration is not None and not any(
            (run.id, claim.iteration) in branch.ctx for run in runs
        ):
            continue
        outcomes.append(branch.taken)
    shown = ", ".join(sorted({"true" if o else "false" for o in outcomes}))
    if claim.value in outcomes:
        return _check(claim, "supported", shown)
    if not outcomes:
        return _check(claim, "unverifiable", note="condition_not_traced")
    if trace.cut is not None or _condition_hidden(trace, claim, lines):
        return _check(claim, "unverifiable", shown, note="incomplete_branches")
    return _check(claim, "contradicted", shown)


def _condition_hidden(trace: ExecTrace, claim: Claim, lines: set[int]) -> bool:
    """Whether evaluations of the test at ``lines`` may have gone unrecorded."""
    runs = [] if claim.iteration is None else _candidate_loops(claim, trace)
    local = claim.iteration is not None and runs
    if trace.source is not None and trace.hidden:
        owners = {
            name
            for name, node in trace.source.functions.items()
            if any(node.lineno <= line <= (node.end_lineno or node.lineno) for line in lines)
        }
        if any(q.rsplit(".", 1)[-1] in owners or "<" in q for q in trace.hidden) and (
            # in a recorded iteration, calls hide only under a loop summarised inside it
            not local or any(_calls_hidden_in(trace, r, claim.iteration or 0) for r in runs)
        ):
            return True
    if claim.iteration is None:
        # a summarised loop around the test evaluates it unseen
        return any(_summarised(r) and _contains(trace, r.header, lines) for r in trace.loops)
    runs = [r for r in _candidate_loops(claim, trace) if r.recorded >= claim.iteration]
    return not runs or any(_nested_summary(trace, r, claim.iteration, lines=lines) for r in runs)


def _return(claim: Claim, trace: ExecTrace) -> ClaimCheck:
    calls = [c for c in trace.calls if c.returned and not c.raised and c.ret is not None]
    scope = "any"
    if claim.name.startswith("return "):
        key = _expr_key(claim.name[len("return ") :])
        owners = _functions_returning(trace, key) if key is not None else set()
        if owners:
            calls = [c for c in calls if c.short_name in owners]
            scope = "named"
    elif claim.name:
        short = claim.name.rsplit(".", 1)[-1]
        named = [c for c in calls if c.short_name == short]
        if not named:
            return _check(claim, "unverifiable", note="function_not_traced")
        calls, scope = named, "named"
        wanted = _call_args(claim.call_args)
        if wanted is not None:
            same = [c for c in calls if _args_fit(wanted, c.args)]
            if not same:
                return _check(claim, "unverifiable", note="call_not_traced")
            calls = same
    if not calls:
        return _check(claim, "unverifiable", note="no_return_traced")
    hit, unknown, seen = _compare(claim, (c.ret or "None" for c in calls))
    if hit:
        return _check(claim, "supported", claim.value_text)
    names = {c.name for c in calls}
    blind = (
        unknown
        or trace.cut is not None
        or any(q in names or scope == "any" for q in trace.hidden)
        or any(c.raised or not c.returned for c in trace.calls if c.name in names)
    )
    if blind:
        return _check(claim, "unverifiable", _shown(seen), note="incomplete_returns")
    return _check(claim, "contradicted", _shown(seen))


def _functions_returning(trace: ExecTrace, key: str) -> set[str]:
    if trace.source is None:
        return set()
    owners = set()
    for name, node in trace.source.functions.items():
        for sub in ast.walk(node):
            if isinstance(sub, ast.Return) and sub.value is not None and ast.dump(sub.value) == key:
                owners.add(name)
    return owners


def _call_args(text: str | None) -> list[tuple[str | None, Any]] | None:
    if text is None or "..." in text:
        return None
    try:
        node = ast_safe.parse(f"f({text})", mode="eval").body
    except (SyntaxError, ValueError):
        return None
    out: list[tuple[str | None, Any]] = []
    for arg in node.args:
        value = parse_value(ast.unparse(arg))
        out.append((None, value))
    for kw in node.keywords:
        out.append((kw.arg, parse_value(ast.unparse(kw.value))))
    return out


def _args_fit(wanted: list[tuple[str | None, Any]], args: list[tuple[str, str]]) -> bool:
    real = [(n, t) for n, t in args if n != "self"]
    by_name = dict(real)
    positional = [t for _, t in real]
    index = 0
    for name, value in wanted:
        if name is None:
            if index >= len(positional):
                return False
            text = positional[index]
            index += 1
        else:
            if name not in by_name:
                return False
            text = by_name[name]
        if match(value, parse_value(text)) is False:
            return False
    return True


def _final(claim: Claim, trace: ExecTrace) -> ClaimCheck:
    root = next((c for c in trace.calls if c.parent is None), None)
    text = root.ret if root is not None and root.returned and not root.raised else trace.value_repr
    if text is None:
        return _check(claim, "unverifiable", note="no_return_traced")
    result = match(claim.value, parse_value(text), places=decimals(claim.value_text))
    if result is None and trace.value_ok:
        result = match(claim.value, trace.value, places=decimals(claim.value_text))
    if result is True:
        return _check(claim, "supported", text)
    if result is None:
        return _check(claim, "unverifiable", text, note="value_not_comparable")
    return _check(claim, "contradicted", text)
