"""Determinism re-runs of several functions share one task; each must replay as if alone."""

from __future__ import annotations

import random

from codeio.pipeline.sample import SampleConfig, Sampler
from codeio.pipeline.sample.determinism import compare_pairs, replay_task, run_replay
from codeio.pipeline.sample.sampler import _Pending
from codeio.records import Failure, FunctionRecord, IOPair


def pending(refcode: str, pairs: list[tuple[dict, object]]) -> _Pending:
    record = FunctionRecord(id=FunctionRecord.make_id(refcode, None), refcode=refcode)
    return _Pending(record, [IOPair(input=i, output=o) for i, o in pairs], {})


# Changes process-wide settings that the next function of the batch would otherwise inherit.
MEDDLER = pending(
    "import decimal, sys, builtins, os\n"
    "def main_solution(x):\n"
    "    decimal.getcontext().prec = 5\n"
    "    sys.setrecursionlimit(150)\n"
    "    builtins.sneaky = 1\n"
    "    os.environ['MODE'] = 'odd'\n"
    "    return x\n",
    [({"x": 1}, 1), ({"x": 2}, 2)],
)
SENSITIVE = pending(
    "import builtins, decimal, os\n"
    "def depth(n):\n"
    "    return 0 if n == 0 else 1 + depth(n - 1)\n"
    "def main_solution(x):\n"
    "    third = str(decimal.Decimal(x) / decimal.Decimal(3))\n"
    "    return [third, depth(200), hasattr(builtins, 'sneaky'), os.environ.get('MODE', 'plain')]\n",
    [
        ({"x": 1}, ["0.3333333333333333333333333333", 200, False, "plain"]),
        ({"x": 2}, ["0.6666666666666666666666666667", 200, False, "plain"]),
    ],
)


def test_a_function_in_a_batch_does_not_see_what_the_previous_one_changed(sandboxes) -> None:
    sampler = Sampler(*sandboxes, SampleConfig())
    meddler, sensitive = sampler._replay_batch([MEDDLER, SENSITIVE])
    assert isinstance(meddler, FunctionRecord)
    assert isinstance(sensitive, FunctionRecord), sensitive


def test_a_batch_whose_task_dies_is_rerun_one_function_at_a_time(sandboxes) -> None:
    killer = pending(
        "import os\ndef main_solution(x):\n    os._exit(3)\n", [({"x": 1}, 1), ({"x": 2}, 2)]
    )
    sampler = Sampler(*sandboxes, SampleConfig())
    out = sampler._replay_batch([SENSITIVE, killer, MEDDLER])
    assert isinstance(out[0], FunctionRecord) and isinstance(out[2], FunctionRecord)
    assert isinstance(out[1], Failure) and out[1].reason == "nondeterministic"


def test_a_nondeterministic_function_in_a_batch_is_still_caught(sandboxes) -> None:
    unseeded = pending(
        "import random\ndef main_solution(x):\n    return x + random.random()\n",
        [({"x": 1}, 1.5), ({"x": 2}, 2.5)],
    )
    sampler = Sampler(*sandboxes, SampleConfig())
    out = sampler._replay_batch([SENSITIVE, unseeded])
    assert isinstance(out[0], FunctionRecord)
    assert isinstance(out[1], Failure) and out[1].reason == "nondeterministic"


LUCKY = "import random\ndef main_solution(x):\n    return [x, random.getrandbits(32)]\n"


def _as_seeded(seed: int, xs: list[int]) -> list[tuple[dict, object]]:
    """The pairs this function gives when the re-run seeds the global RNG with ``seed``."""
    rng = random.Random(seed)
    return [({"x": x}, [x, rng.getrandbits(32)]) for x in xs]


def test_a_function_that_draws_random_numbers_gets_a_second_re_run(sandboxes) -> None:
    # Stored outputs that the first re-run reproduces exactly (its seed gives the same draws):
    # a function random only now and then that passed one re-run by luck. The second re-run,
    # with another seed, shows the difference.
    sampler = Sampler(*sandboxes, SampleConfig())
    fn = pending(LUCKY, [({"x": 1}, None)]).fn
    first, second = sampler._replay_seed(fn, 0), sampler._replay_seed(fn, 1)
    assert _as_seeded(first, [1, 2]) != _as_seeded(second, [1, 2])
    lucky = pending(LUCKY, _as_seeded(first, [1, 2]))
    # The first re-run alone would keep it.
    task = replay_task(
        LUCKY,
        "main_solution",
        [{"x": 1}, {"x": 2}],
        seed=first,
        call_timeout_s=2.0,
        limits=sandboxes[1].limits,
    )
    assert not compare_pairs(lucky.pairs, run_replay(sandboxes[1], task, retries=0))
    out = sampler._replay_batch([SENSITIVE, lucky])
    assert isinstance(out[0], FunctionRecord) and out[0].meta["sample"]["replays"] == 1
    assert isinstance(out[1], Failure) and out[1].reason == "nondeterministic", out[1]
    # On its own the same holds.
    (alone,) = sampler._replay_batch([pending(LUCKY, _as_seeded(first, [1, 2]))])
    assert isinstance(alone, Failure) and alone.reason == "nondeterministic"


def test_which_code_counts_as_drawing_random_numbers() -> None:
    from codeio.pipeline.sample.sampler import _draws_random

    for code in (
        "import random\n",
        "import numpy as np\nx = np.random.rand()\n",
        "from scipy.stats import norm\nx = norm.rvs()\n",
        "import uuid\n",
        "import os\nos.urandom(4)\n",
        "import secrets\n",
    ):
        assert _draws_random(code), code
    for code in ("def main_solution(xs):\n    return sorted(xs)\n", "randomized = 1\n"):
        assert not _draws_random(code), code
