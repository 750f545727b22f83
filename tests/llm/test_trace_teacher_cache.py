"""The trace teacher's trace cache: one traced run per (refcode, funcname, input), bounded."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from codeio.exec import Sandbox
from codeio.llm.trace_teacher import TraceTeacherBackend
from codeio.llm.trace_teacher import backend as backend_mod

CODE = """
def main_solution(n):
    total = 0
    for i in range(n):
        total += i * i
    return total
"""


@pytest.fixture()
def sandbox() -> Iterator[Sandbox]:
    backend_mod._TRACES.clear()  # the cache is process-wide: start each test empty
    with Sandbox(workers=1) as box:
        yield box
    backend_mod._TRACES.clear()


def _ctx(kind: str, n: int, **extra: Any) -> dict[str, Any]:
    out = sum(i * i for i in range(n))
    ctx = {"task": "predict", "kind": kind, "refcode": CODE, "funcname": "main_solution"}
    return {**ctx, "input": {"n": n}, "output": out, "turn": 1, "feedback": None, **extra}


def test_output_and_input_tasks_of_one_pair_share_one_trace(sandbox: Sandbox) -> None:
    fresh = TraceTeacherBackend(sandbox=sandbox)
    want = [fresh.respond(_ctx("output", 5)), fresh.respond(_ctx("input", 5))]
    assert fresh.trace_runs == 1
    # a second backend (revise opens its own) reuses the process-wide entry, same answers
    again = TraceTeacherBackend(sandbox=sandbox)
    assert [again.respond(_ctx("output", 5)), again.respond(_ctx("input", 5))] == want
    assert again.trace_runs == 0
    again.respond(_ctx("output", 6))
    assert again.trace_runs == 1
    # a different budget changes the story, so it is another entry
    other = TraceTeacherBackend(sandbox=sandbox, budget=200)
    other.respond(_ctx("output", 5))
    assert other.trace_runs == 1


def test_concurrent_requests_for_one_trace_run_it_once(sandbox: Sandbox) -> None:
    teacher = TraceTeacherBackend(sandbox=sandbox)
    with ThreadPoolExecutor(max_workers=6) as pool:
        texts = list(pool.map(lambda k: teacher.respond(_ctx(k, 9)), ["output", "input"] * 3))
    assert teacher.trace_runs == 1
    assert len(set(texts[0::2])) == 1 and len(set(texts[1::2])) == 1


def test_the_cache_is_bounded(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_mod, "_TRACES", backend_mod._TraceCache(2))
    teacher = TraceTeacherBackend(sandbox=sandbox)
    for n in (1, 2, 3):
        teacher.respond(_ctx("output", n))
    assert len(backend_mod._TRACES) == 2
    teacher.respond(_ctx("output", 1))  # evicted (least recently used): traced again
    assert teacher.trace_runs == 4
    teacher.respond(_ctx("output", 3))  # still cached
    assert teacher.trace_runs == 4
