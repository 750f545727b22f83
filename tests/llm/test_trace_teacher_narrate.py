"""Narration of real sandboxed traces: loops summarised, branches told, size bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeio.exec import Sandbox
from codeio.llm.trace_teacher.narrate import narrate_trace
from codeio.llm.trace_teacher.runner import run_trace

JOSEPHUS = '''
def survivor(n, m):
    last = 0
    for i in range(2, n + 1):
        last = (last + m) % i
    return last

def main_solution(n, m):
    """Position of the last player left when every m-th player leaves the circle."""
    if n < 1 or m < 1:
        return -1
    return survivor(n, m)
'''

GRID = """
def main_solution(rows, cols):
    grid = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        for c in range(cols):
            grid[r][c] = 1 if r == 0 or c == 0 else grid[r - 1][c] + grid[r][c - 1]
    return grid[-1][-1]
"""

FIB = """
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def main_solution(n):
    return fib(n)
"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=1) as box:
        yield box


def _story(sandbox: Sandbox, code: str, kwargs: dict, **kw):
    trace = run_trace(sandbox, code, "main_solution", kwargs)
    return narrate_trace(code, trace.as_dict(), **kw)


def test_loop_is_summarised_after_first_iterations(sandbox: Sandbox) -> None:
    story = _story(sandbox, JOSEPHUS, {"n": 61, "m": 4})
    body = story.body
    assert "The condition `n < 1 or m < 1` is false" in body
    assert "This calls `survivor` with n = 61 and m = 4" in body
    assert "- Iteration 1: i = 2" in body and "- Iteration 3:" in body
    assert "- Iteration 4:" not in body
    assert (
        "after 60 iterations in total the loop finishes, ending with i = 61 and last = 38" in body
    )
    assert story.returned == "38" and story.loops == 1


def test_nested_loops_and_recursion_stay_short(sandbox: Sandbox) -> None:
    grid = _story(sandbox, GRID, {"rows": 12, "cols": 12})
    assert "the inner loop `for c in range(cols)` runs 12 times" in grid.body
    assert "after 12 iterations in total" in grid.body
    fib = _story(sandbox, FIB, {"n": 15})
    assert "returns 610" in fib.body
    assert "nested calls" in fib.body  # deep recursion is summarised, not narrated call by call
    assert len(fib.body) <= 3000


def test_budget_bounds_a_long_trace_and_output_is_deterministic(sandbox: Sandbox) -> None:
    first = _story(sandbox, GRID, {"rows": 30, "cols": 30}, budget=600)
    second = _story(sandbox, GRID, {"rows": 30, "cols": 30}, budget=600)
    assert first.body == second.body
    assert len(first.body) <= 700
    assert "`return grid[-1][-1]`" in first.body  # the ending survives any shortening


def test_source_segments_match_the_standard_library() -> None:
    # SourceMap.segment splits the source once; it must cut exactly where ast does (UTF-8 byte
    # columns, CRLF and CR endings, a form feed that is not a line break, multi-line nodes).
    import ast

    from codeio.llm.trace_teacher.source import SourceMap

    sources = [
        "x = 'é'\nif x:\r\n    y = ('ü' +\n  'ß')\n\fz = [1,\r 2]\n",
        "def f(a, *, b='∑'):\n    return {'k': [a, b]}  # ünïcode\n",
        "a=1",
    ]
    for source in sources:
        smap = SourceMap(source)
        nodes = [n for n in ast.walk(ast.parse(source)) if hasattr(n, "lineno")]
        assert nodes
        for node in nodes:
            assert smap.segment(node) == (ast.get_source_segment(source, node) or ""), node
