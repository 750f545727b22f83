"""Host side of tracing: send the tracer harness and one call to the sandbox, read the trace."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

from codeio.exec import ExecLimits, Sandbox, Status
from codeio.llm.trace_teacher import tracer
from codeio.pipeline.prelude import REFCODE_PRELUDE

__all__ = ["TEACHER_TIMEOUT", "TRACE_ENTRY", "TRACE_LIMITS", "Trace", "harness_code", "run_trace"]

TEACHER_TIMEOUT = "teacher_timeout"
"""``Trace.failure`` (and the LLMError reason) of a traced run stopped by its time limit."""

TRACE_LIMITS = ExecLimits(timeout_s=120.0, cpu_s=60.0)
"""The trace teacher's default task limits: a safety net far above what a function that passed
sampling needs, so that load on the machine never decides what a trace says."""

TRACE_ENTRY = "codeio_trace"

# Plain call, used when the traced run itself fails for a reason that is not time (the tracer's
# memory, a result the harness cannot send): the answer must still come from executing the
# function, just without a step-by-step story.
_PLAIN_SOURCE = """
def codeio_plain_call(refcode, funcname, kwargs, prelude="", random_seed=None):
    import sys as _sys
    import types as _types

    def _seed():
        if random_seed is None:
            return
        import random as _random
        _random.seed(random_seed)
        numpy = _sys.modules.get("numpy")
        if numpy is not None:
            try:
                numpy.random.seed(random_seed % (2**32))
            except Exception:
                pass

    module = _types.ModuleType("codeio_refcode")
    _sys.modules[module.__name__] = module
    _seed()
    if prelude:
        exec(compile(prelude, "<prelude>", "exec"), module.__dict__)
    exec(compile(refcode, "<refcode>", "exec"), module.__dict__)
    _seed()
    value = module.__dict__[funcname](**kwargs)
    import json as _json
    try:
        _json.dumps(value, allow_nan=True)
        plain = value
    except (TypeError, ValueError):
        plain = None
    literal = repr(value)
    return {"value": plain, "literal": literal if len(literal) <= 20000 else None,
            "json_ok": plain is not None or value is None}
"""


@functools.lru_cache(maxsize=1)
def harness_code() -> str:
    """The tracer module's own source: it runs as the code of one sandbox task."""
    return inspect.getsource(tracer)


@dataclass(frozen=True)
class Trace:
    """What one traced call produced; ``value`` is meaningful only when ``value_ok``."""

    events: list[list[Any]] = field(default_factory=list)
    value: Any = None
    value_ok: bool = False
    value_repr: str | None = None
    value_literal: str | None = None
    """Full ``repr`` of the return value (None if too long); for Python-literal answers."""
    error: dict[str, str] | None = None
    cut: str | None = None
    traced: bool = True
    """False when only the plain fallback ran (no events)."""
    failure: str | None = None
    """Why neither run produced a value (timeout, sandbox error, ...)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "value_repr": self.value_repr,
            "error": self.error,
            "cut": self.cut,
        }


def run_trace(
    sandbox: Sandbox,
    refcode: str,
    funcname: str,
    kwargs: dict[str, Any],
    *,
    limits: ExecLimits | None = None,
    max_events: int = 3000,
    random_seed: int | None = None,
) -> Trace:
    """Trace ``funcname(**kwargs)`` inside ``sandbox``; falls back to an untraced call.

    What the trace says depends on the call and ``random_seed`` alone: the tracer's own budgets
    count lines and events, never time. A run that hits the task's time limit (a safety net,
    see ``TRACE_LIMITS``) is a failure (``teacher_timeout``), not a shorter story, because a
    busy machine must not change the data.
    """
    args: dict[str, Any] = {
        "refcode": refcode,
        "funcname": funcname,
        "kwargs": kwargs,
        "max_events": max_events,
        "prelude": REFCODE_PRELUDE,
    }
    if random_seed is not None:
        args["random_seed"] = random_seed
    result = sandbox.run(harness_code(), TRACE_ENTRY, args, limits=limits)
    if result.status is Status.TIMEOUT:
        return Trace(traced=False, failure=TEACHER_TIMEOUT)
    if result.ok and isinstance(result.value, dict):
        data = result.value
        return Trace(
            events=data.get("events") or [],
            value=data.get("value"),
            value_ok=bool(data.get("value_ok")),
            value_repr=data.get("value_repr"),
            value_literal=data.get("value_literal"),
            error=data.get("error"),
            cut=data.get("cut"),
        )
    plain_args = {k: v for k, v in args.items() if k != "max_events"}
    plain = sandbox.run(_PLAIN_SOURCE, "codeio_plain_call", plain_args, limits=limits)
    if plain.status is Status.TIMEOUT:
        return Trace(traced=False, failure=TEACHER_TIMEOUT)
    if plain.ok and isinstance(plain.value, dict):
        return Trace(
            value=plain.value.get("value"),
            value_ok=bool(plain.value.get("json_ok", True)),
            value_repr=tracer.short_repr(plain.value.get("value")),
            value_literal=plain.value.get("literal"),
            traced=False,
        )
    if (
        plain.error_type
        and plain.status.value == "error"
        and plain.error_type != "ResultNotSerializable"
    ):
        error = {"type": plain.error_type, "message": (plain.error_message or "")[:200]}
        return Trace(error=error, traced=False)
    return Trace(
        traced=False, failure=f"{result.status.value}: {result.error_type or ''}".strip(": ")
    )
