"""The tracer harness, run for real inside the sandbox on small functions written for the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeio.exec import Sandbox
from codeio.llm.trace_teacher.runner import run_trace

LOOPS = """
def main_solution(n):
    total = 0
    for i in range(n):
        total += i
    k = 0
    while True:
        k += 1
        if k > 2:
            break
    return total + k
"""

OBJECTS = """
class Box:
    def __init__(self):
        self.items = []

def main_solution(n):
    box = Box()
    seen = {3, 1, 2}
    for i in range(n):
        box.items.append(i)
    return len(box.items) + len(seen)
"""

RAISES = """
def helper(x):
    return 10 // x

def main_solution(x):
    try:
        helper(0)
    except ZeroDivisionError:
        pass
    return helper(x)
"""

HEAVY = """
def main_solution(n):
    s = 0
    for i in range(n):
        for j in range(3):
            s += i * j
    return s
"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=1) as box:
        yield box


def _events(trace, tag):
    return [e for e in trace.events if e[0] == tag]


def test_loops_are_counted_and_only_first_iterations_recorded(sandbox: Sandbox) -> None:
    trace = run_trace(sandbox, LOOPS, "main_solution", {"n": 50})
    assert trace.value_ok and trace.value == sum(range(50)) + 3
    ends = {e[2]: e[3] for e in _events(trace, "e")}
    assert ends == {4: 50, 7: 3}  # the for loop ran 50 times, the while True loop 3 times
    starts = [e[3] for e in _events(trace, "i") if e[2] == 4]
    assert starts == [1, 2, 3]  # later iterations are counted, not recorded
    # The state after the unrecorded iterations is reported with the loop's end.
    for_end = next(e for e in _events(trace, "e") if e[2] == 4)
    assert ["total", repr(sum(range(50)))] in for_end[4]
    assert trace.cut is None


def test_reprs_are_bounded_and_free_of_addresses(sandbox: Sandbox) -> None:
    trace = run_trace(sandbox, OBJECTS, "main_solution", {"n": 30})
    texts = [text for e in _events(trace, "a") for _, text in e[2]]
    assert any(t.startswith("Box(items=[") for t in texts)
    assert "{1, 2, 3}" in texts
    assert not any("0x" in t for t in texts)
    assert all(len(t) <= 100 for t in texts)
    again = run_trace(sandbox, OBJECTS, "main_solution", {"n": 30})
    assert again.events == trace.events  # deterministic: no addresses, no timestamps


def test_exceptions_and_helper_calls_are_recorded(sandbox: Sandbox) -> None:
    trace = run_trace(sandbox, RAISES, "main_solution", {"x": 5})
    assert trace.value == 2
    calls = _events(trace, "c")
    assert [c[3] for c in calls] == ["main_solution", "helper", "helper"]
    assert calls[1][2] == calls[0][1]  # the helper's parent is main_solution's frame
    raised = _events(trace, "x")
    assert raised and raised[0][3] == "ZeroDivisionError"
    returns = [e for e in _events(trace, "r")]
    assert returns[0][4] is True  # the first helper call raised instead of returning


def test_function_error_is_reported_not_hidden(sandbox: Sandbox) -> None:
    trace = run_trace(sandbox, RAISES, "main_solution", {"x": 0})
    assert not trace.value_ok
    assert trace.error is not None and trace.error["type"] == "ZeroDivisionError"


def test_event_cap_cuts_the_trace_but_the_run_completes(sandbox: Sandbox) -> None:
    trace = run_trace(sandbox, HEAVY, "main_solution", {"n": 2000}, max_events=40)
    assert trace.cut == "max_events"
    assert len(trace.events) <= 45
    assert trace.value == sum(i * j for i in range(2000) for j in range(3))
    # The open frame still reports how it ended.
    assert trace.events[-1][0] == "r" and trace.events[-1][3] == repr(trace.value)


NEAR_LIMIT = """
import sys

def down(n):
    return 0 if n == 0 else 1 + down(n - 1)

def main_solution(n, margin):
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    sys.setrecursionlimit(depth + n + margin)
    return down(n)
"""


def test_failure_caused_by_the_tracer_falls_back_to_an_untraced_run(sandbox: Sandbox) -> None:
    # With one frame to spare the function works, but not with the tracer's own frame on top.
    spared = run_trace(sandbox, NEAR_LIMIT, "main_solution", {"n": 200, "margin": 1})
    assert spared.value_ok and spared.value == 200 and spared.error is None
    assert spared.events == []  # no story from a run that did not behave like the real one
    failing = run_trace(sandbox, NEAR_LIMIT, "main_solution", {"n": 200, "margin": 0})
    assert failing.error is not None and failing.error["type"] == "RecursionError"


MULTILINE = """
def main_solution(n):
    out = []
    for i in range(
        n
    ):
        out.append(
            i
            + 1
        )
    j = 0
    while (
        j < n
    ):
        j += 1
    for x in range(3): j += x
    return len(out) + j
"""


def test_multi_line_statements_do_not_count_as_iterations(sandbox: Sandbox) -> None:
    # Line events jump back inside a multi-line statement; only a return to the header counts.
    trace = run_trace(sandbox, MULTILINE, "main_solution", {"n": 5})
    assert trace.value == 13
    assert {e[2]: e[3] for e in _events(trace, "e")} == {4: 5, 12: 5, 16: 3}
