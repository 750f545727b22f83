"""codeio.ast_safe: parsing from several threads at once must not fail (CPython 3.11 bug)."""

from __future__ import annotations

import ast
import gc
import threading

import pytest

from codeio import ast_safe

_SOURCE = "\n".join(
    f"def f{i}(x):\n    return [(a, b) for a in range(x) for b in {{1: [2, (3, 4)]}}]"
    for i in range(300)
)


class _Churn:
    def __del__(self) -> None:  # Python code run by the GC in the middle of another parse
        sum(range(50))


def test_parse_from_many_threads_while_the_gc_runs_finalizers() -> None:
    # With plain ast.parse this setup raises "SystemError: AST constructor recursion depth
    # mismatch" in most runs: the GC frees cycles mid-conversion and switches threads.
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(40):
                junk: list[object] = [_Churn() for _ in range(200)]
                junk.append(junk)
                del junk
                assert isinstance(ast_safe.parse(_SOURCE), ast.Module)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    old = gc.get_threshold()
    gc.set_threshold(50)
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*old)
    assert errors == []


@pytest.mark.parametrize("text", ["[1, 2.5, 'a', None]", "  {'k': (1, -2)}", "True"])
def test_literal_eval_matches_the_stdlib(text: str) -> None:
    assert ast_safe.literal_eval(text) == ast.literal_eval(text)


def test_literal_eval_rejects_code_and_parse_keeps_modes() -> None:
    with pytest.raises(ValueError):
        ast_safe.literal_eval("__import__('os')")
    assert isinstance(ast_safe.parse("1 + 1", mode="eval"), ast.Expression)
