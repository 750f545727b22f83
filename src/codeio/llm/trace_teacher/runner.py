"""Host side of tracing: send the tracer harness and one call to the sandbox, read the trace."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

from codeio.exec import ExecLimits, Sandbox
from codeio.llm.trace_teacher import tracer
from codeio.pipeline.prelude import REFCODE_PRELUDE

__all__ = ["TRACE_ENTRY", "Trace", "harness_code", "run_trace"]

TRACE_ENTRY = "codeio_trace"

# Plain call, used when the traced run itself fails (tracing overhead can hit the time limit):
# the answer must still come from executing the function, just without a step-by-step story.
_PLAIN_SOURCE = """
def codeio_plain_call(refcode, funcname, kwargs, prelude=""):
    import sys as _sys
    import types as _types
    module = _types.ModuleType("codeio_refcode")
    _sys.modules[module.__name__] = module
    if prelude:
        exec(compile(prelude, "<prelude>", "exec"), module.__dict__)
    exec(compile(refcode, "<refcode>", "exec"), module.__dict__)
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
) -> Trace:
    """Trace ``funcname(**kwargs)`` inside ``sandbox``; falls back to an untraced call."""
    result = sandbox.run(
        harness_code(),
        TRACE_ENTRY,
        {
            "refcode": refcode,
            "funcname": funcname,
            "kwargs": kwargs,
            "max_events": max_events,
            "prelude": REFCODE_PRELUDE,
        },
        limits=limits,
    )
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
    plain = sandbox.run(
        _PLAIN_SOURCE,
        "codeio_plain_call",
        {"refcode": refcode, "funcname": funcname, "kwargs": kwargs, "prelude": REFCODE_PRELUDE},
        limits=limits,
    )
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
