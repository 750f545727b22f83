"""The per-function time budget: it follows each function's own pace, so a slow one cannot hold
a lane for long, and what it cuts is reported (fewer pairs, or a ``too_slow`` failure)."""

from __future__ import annotations

import re
import time

import pytest

from codeio.pipeline.sample import SampleConfig, Sampler
from codeio.records import Failure, FunctionRecord

RNG_INT = "def input_generator(rng):\n    return {'x': rng.randint(0, 10**6)}\n"


def fn(refcode: str, inputgen: str = RNG_INT) -> FunctionRecord:
    return FunctionRecord(
        id=FunctionRecord.make_id(refcode, inputgen), refcode=refcode, inputgen=inputgen
    )


def sleeper(seconds: float) -> FunctionRecord:
    return fn(f"import time\ndef main_solution(x):\n    time.sleep({seconds})\n    return x\n")


def timed_sample(sandboxes, record: FunctionRecord, **config: object):
    cfg = SampleConfig(**{"call_timeout_s": 2.0, **config})  # type: ignore[arg-type]
    started = time.monotonic()
    out = Sampler(*sandboxes, cfg).sample(record)
    return out, time.monotonic() - started


def test_a_slow_function_keeps_fewer_pairs_and_says_so(sandboxes) -> None:
    out, took = timed_sample(sandboxes, sleeper(0.1), soft_budget_s=0.5)
    assert isinstance(out, FunctionRecord)
    stats = out.meta["sample"]
    assert 2 <= len(out.ios) < 10 and stats["stopped_slow"] is True
    # Its loop stopped near the soft budget (the next pair would have ended after it).
    assert stats["elapsed_s"] < 1.0
    assert stats["phases_s"]["main"] >= 0.1 * len(out.ios)
    assert took < 5.0


def test_without_a_soft_budget_the_same_function_gets_all_pairs(sandboxes) -> None:
    out, _ = timed_sample(sandboxes, sleeper(0.02), soft_budget_s=None, time_budget_s=5.0)
    assert isinstance(out, FunctionRecord) and len(out.ios) == 10
    assert out.meta["sample"]["stopped_slow"] is False


def test_a_function_too_slow_for_min_pairs_fails_as_too_slow(sandboxes) -> None:
    # One pair in 0.1 s; the second call would take 1 s and end after 2 soft budgets (0.6 s).
    first_fast = fn(
        "import time\ncalls = [0]\ndef main_solution(x):\n    calls[0] += 1\n"
        "    time.sleep(0.1 if calls[0] == 1 else 1.0)\n    return x\n"
    )
    out, took = timed_sample(sandboxes, first_fast, soft_budget_s=0.3)
    assert isinstance(out, Failure) and out.reason == "too_slow"
    assert "1 pair(s) kept" in out.detail
    assert took < 5.0


def test_a_call_longer_than_its_share_of_the_budget_is_cut_there(sandboxes) -> None:
    # Two pairs must end within 2 soft budgets (0.8 s): a first call may take 0.4 s, so a
    # function whose every call takes 0.6 s stops there instead of at its 2 s call timeout.
    out, took = timed_sample(sandboxes, sleeper(0.6), soft_budget_s=0.4)
    assert isinstance(out, Failure) and out.reason == "too_slow"
    assert "0 pair(s) kept" in out.detail
    assert re.search(r"its share of the function's time budget \(0\.(39\d*|4) s\)", out.detail)
    assert out.detail.count("'tries': 1,") == 1
    assert took < 2.0


def test_a_hanging_call_is_cut_at_the_budget_not_the_call_timeout(sandboxes) -> None:
    hang = fn("def main_solution(x):\n    while True:\n        pass\n")
    out, took = timed_sample(sandboxes, hang, soft_budget_s=0.2, call_timeout_s=5.0)
    assert isinstance(out, Failure) and out.reason == "too_slow"
    assert "exceeded its share of the function's time budget" in out.detail
    assert took < 3.0  # half of 2 soft budgets (0.2 s), not the 5 s call timeout


def test_a_call_that_hangs_within_its_share_is_a_timeout(sandboxes) -> None:
    # A call timeout shorter than the budget's share: the call hung, by its own limit.
    hang = fn("def main_solution(x):\n    while True:\n        pass\n")
    out, took = timed_sample(sandboxes, hang, soft_budget_s=2.0, call_timeout_s=0.2)
    assert isinstance(out, Failure) and out.reason == "timeout"
    assert "main_solution exceeded 0.2 s" in out.detail
    assert took < 5.0


def test_the_hard_cap_still_bounds_everything(sandboxes) -> None:
    out, took = timed_sample(
        sandboxes, sleeper(0.3), soft_budget_s=None, time_budget_s=0.5, call_timeout_s=5.0
    )
    assert isinstance(out, Failure) and out.reason == "too_slow"
    assert took < 4.0


def test_soft_budget_above_the_hard_cap_is_rejected() -> None:
    with pytest.raises(ValueError, match="soft_budget_s"):
        SampleConfig(time_budget_s=1.0, soft_budget_s=2.0)


@pytest.mark.parametrize(
    "generator",
    [
        "import numpy as N\ndef input_generator():\n    return {'x': int(N.random.randint(0, 10**6))}\n",
        "from numpy import random as npr\ndef input_generator():\n"
        "    return {'x': int(npr.randint(0, 10**6))}\n",
        "def input_generator():\n    return {'x': int(np.random.randint(0, 10**6))}\n",  # prelude np
    ],
)
def test_numpy_global_rng_is_seeded_whenever_the_code_names_it(sandboxes, generator) -> None:
    record = fn("def main_solution(x):\n    return x % 11\n", generator)
    first, _ = timed_sample(sandboxes, record)
    second, _ = timed_sample(sandboxes, record)
    assert isinstance(first, FunctionRecord) and isinstance(second, FunctionRecord)
    assert first.ios == second.ios  # the same seed gives the same inputs


def test_unseeded_numpy_random_in_the_function_is_still_caught(sandboxes) -> None:
    # Reached through scipy-style indirection the harness does not see: never a wrong pair.
    refcode = (
        "import importlib\n"
        "def main_solution(x):\n"
        "    rnd = importlib.import_module('numpy.' + 'random')\n"
        "    return x + int(rnd.randint(0, 10**9))\n"
    )
    out, _ = timed_sample(sandboxes, fn(refcode))
    assert isinstance(out, Failure) and out.reason == "nondeterministic"


def test_numpy_from_the_prelude_only_for_code_that_names_it(sandboxes) -> None:
    from codeio.pipeline.sample.harness import NAMESPACE_PRELUDE, prelude_for

    assert "numpy" not in prelude_for(NAMESPACE_PRELUDE, "def input_generator(rng):\n    pass\n")
    assert "numpy" in prelude_for(NAMESPACE_PRELUDE, "def f(x):\n    return np.sum(x)\n")
    # Uses the prelude's np without importing it: still sampled and re-run with numpy.
    uses_np = fn("def main_solution(x):\n    return int(np.int64(x) % 7)\n")
    plain = fn("def main_solution(x):\n    return x % 7\n")
    for record in (uses_np, plain):
        out, _ = timed_sample(sandboxes, record)
        assert isinstance(out, FunctionRecord) and len(out.ios) == 10


def test_with_min_pairs_kept_a_hanging_call_is_cut_at_the_soft_budget(sandboxes) -> None:
    gen = (
        "import itertools\n"
        "_count = itertools.count()\n"
        "def input_generator():\n"
        "    n = next(_count)\n"
        "    return {'x': 3 * n + 1 if n < 3 else 3 * n}\n"
    )
    hangs_on_3 = fn(
        "def main_solution(x):\n    while x % 3 == 0:\n        pass\n    return x\n", gen
    )
    out, _ = timed_sample(sandboxes, hangs_on_3, soft_budget_s=0.3, call_timeout_s=2.0)
    assert isinstance(out, FunctionRecord) and [p.input["x"] for p in out.ios] == [1, 4, 7]
    stats = out.meta["sample"]
    # Cut at the soft budget (0.3 s), not at the 3-soft-budget deadline or the call timeout.
    assert stats["stopped_slow"] is True and stats["call_timeouts"] == 0
    assert stats["elapsed_s"] < 0.8


def test_a_generator_that_never_returns_an_input_gives_up_after_100_calls(sandboxes) -> None:
    broken = fn(
        "def main_solution(x):\n    return x\n",
        "def input_generator(rng):\n    return {'x': undefined_name}\n",
    )
    out, took = timed_sample(sandboxes, broken)
    assert isinstance(out, Failure) and out.reason == "generator_error"
    assert "'tries': 100," in out.detail and "'NameError': 100" in out.detail


def test_a_generator_that_fails_often_but_not_always_keeps_trying(sandboxes) -> None:
    # Succeeds on every 50th call only: within its first 100 calls it has returned an input,
    # so it is not given up on and gets all 10 pairs from 500 calls.
    flaky = fn(
        "def main_solution(x):\n    return x * 2\n",
        "calls = [0]\n"
        "def input_generator(rng):\n"
        "    calls[0] += 1\n"
        "    if calls[0] % 50:\n"
        "        raise ValueError('not this time')\n"
        "    return {'x': calls[0]}\n",
    )
    out, _ = timed_sample(sandboxes, flaky, tries=1000)
    assert isinstance(out, FunctionRecord) and len(out.ios) == 10
    assert out.meta["sample"]["tries"] == 500


def test_oversized_pairs_are_named_even_when_the_budget_ran_out() -> None:
    """Seen on a loaded machine: 462 of 630 tries too big, then the budget ran out; the cause
    is the sizes (too_few_pairs), not slowness (it said too_slow)."""
    from codeio.pipeline.sample.sampler import _few_pairs_reason

    stats = {"tries": 630, "output_too_big": 462, "duplicates": 5, "budget_exhausted": True}
    assert _few_pairs_reason(0, stats) == "too_few_pairs"
    assert _few_pairs_reason(0, {"tries": 3, "budget_exhausted": True}) == "too_slow"
    assert _few_pairs_reason(1, stats) == "too_slow"  # some pairs, then the time ran out
