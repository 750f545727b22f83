"""The trace teacher's answer is a function of the run seed and the call alone: the same with
another sandbox, under CPU load, and for code that draws random numbers; a traced run that hits
the time limit fails (``teacher_timeout``) rather than being narrated differently."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from codeio.errors import LLMError
from codeio.exec import ExecLimits
from codeio.llm.trace_teacher import TraceTeacherBackend
from codeio.llm.trace_teacher.backend import _TRACES
from codeio.llm.trace_teacher.runner import TEACHER_TIMEOUT

RANDOM_CODE = '''
def main_solution(items, k):
    """Twice the sum of k items picked at random (random comes from the prelude)."""
    picked = random.sample(items, k)
    total = 0
    for x in picked:
        total += 2 * x
    return total
'''

SLOW_CODE = """
def main_solution(n):
    import time
    time.sleep(n)
    return n
"""


def _context(code: str, kwargs: dict[str, Any], output: Any) -> dict[str, Any]:
    return {
        "task": "predict",
        "kind": "output",
        "refcode": code,
        "funcname": "main_solution",
        "input": kwargs,
        "output": output,
        "turn": 1,
        "feedback": None,
    }


def _answer(seed: int, context: dict[str, Any], **kwargs: Any) -> str:
    _TRACES.clear()  # a fresh process's view: nothing traced yet
    backend = TraceTeacherBackend(seed=seed, workers=1, **kwargs)
    try:
        return backend.respond(context)
    finally:
        backend.close()


@contextmanager
def _cpu_load(n: int = 3) -> Iterator[None]:
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()


def test_random_code_narrates_identically_per_seed() -> None:
    context = _context(RANDOM_CODE, {"items": list(range(1, 30)), "k": 4}, 0)
    first = _answer(5, context)
    with _cpu_load():
        again = _answer(5, context)
    assert again == first
    assert "picked" in first
    # The seed is what decides: another run seed draws other numbers (fixed once and for all).
    assert _answer(6, context) != first


def test_time_limit_fails_the_request_instead_of_changing_the_story() -> None:
    limits = ExecLimits(timeout_s=1.0)
    with pytest.raises(LLMError) as err:
        _answer(0, _context(SLOW_CODE, {"n": 3}, 3), limits=limits)
    assert err.value.reason == TEACHER_TIMEOUT


def test_the_time_limits_are_options_of_the_spec_and_of_the_config() -> None:
    from codeio.llm.factory import make_backend

    from_spec = make_backend("trace:trace_timeout_s=1,trace_cpu_s=2")
    from_options = make_backend("trace", trace_timeout_s=1.0)
    try:
        assert (from_spec.limits.timeout_s, from_spec.limits.cpu_s) == (1.0, 2.0)
        assert from_options.limits.timeout_s == 1.0
        assert from_options.limits.cpu_s == 60.0  # the default, untouched
    finally:
        from_spec.close()
        from_options.close()
    with pytest.raises(ValueError, match="trace_timeout_s must be > 0"):
        TraceTeacherBackend(trace_timeout_s=0)
    with pytest.raises(LLMError) as err:
        _answer(0, _context(SLOW_CODE, {"n": 3}, 3), trace_timeout_s=1.0)
    assert err.value.reason == TEACHER_TIMEOUT and "1 s wall" in str(err.value)
