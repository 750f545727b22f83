"""Reading main_solution's parameters with ast, and checking predicted kwargs against them."""

from __future__ import annotations

from codeio.pipeline.verify import check_kwargs, read_signature


def test_required_optional_and_keyword_only() -> None:
    sig = read_signature("def main_solution(a, b=1, *, c, d=2):\n    pass", "main_solution")
    assert sig is not None
    assert sig.keyword_params == ("a", "b", "c", "d") and sig.required == ("a", "c")
    assert check_kwargs(sig, {"a": 1, "c": 2}) is None
    message = check_kwargs(sig, {"a": 1})
    assert message is not None and "missing required argument 'c'" in message
    message = check_kwargs(sig, {"a": 1, "c": 1, "e": 0, "f": 0})
    assert message is not None and "unexpected arguments 'e', 'f'" in message
    assert "main_solution(a, b, c, d)" in message


def test_var_keyword_accepts_unknown_names() -> None:
    sig = read_signature("def main_solution(a, **kw):\n    pass", "main_solution")
    assert sig is not None and check_kwargs(sig, {"a": 1, "zzz": 2}) is None


def test_last_definition_wins_and_unreadable_cases_return_none() -> None:
    code = "def main_solution(a):\n    pass\ndef main_solution(b):\n    pass\n"
    sig = read_signature(code, "main_solution")
    assert sig is not None and sig.keyword_params == ("b",)
    assert read_signature("def main_solution(:", "main_solution") is None
    assert read_signature("main_solution = lambda a: a", "main_solution") is None
    assert (
        read_signature(
            "import functools\n@functools.cache\ndef main_solution(a): pass", "main_solution"
        )
        is None
    )
    rebound = "def main_solution(a):\n    pass\nmain_solution = other\n"
    assert read_signature(rebound, "main_solution") is None
