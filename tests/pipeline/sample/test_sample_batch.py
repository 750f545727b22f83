"""Several functions sampled in one task: each must come out exactly as if sampled alone."""

from __future__ import annotations

import time

from codeio.pipeline.sample import SampleConfig, Sampler
from codeio.pipeline.sample.sampler import _Pending
from codeio.records import Failure, FunctionRecord

RNG_INT = "def input_generator(rng):\n    return {'x': rng.randint(0, 10**6)}\n"


def fn(refcode: str, inputgen: str = RNG_INT, name: str = "") -> FunctionRecord:
    ident = name or FunctionRecord.make_id(refcode, inputgen)
    return FunctionRecord(id=ident, refcode=refcode, inputgen=inputgen)


# Changes process-wide settings and leaves a file that the next function would otherwise see.
MEDDLER = fn(
    "import decimal, sys, builtins, os\n"
    "def main_solution(x):\n"
    "    decimal.getcontext().prec = 5\n"
    "    sys.setrecursionlimit(150)\n"
    "    builtins.sneaky = 1\n"
    "    os.environ['MODE'] = 'odd'\n"
    "    os.makedirs('left/behind', exist_ok=True)\n"
    "    with open('note.txt', 'w') as f:\n"
    "        f.write('from the meddler')\n"
    "    return x\n"
)
SENSITIVE = fn(
    "import builtins, decimal, os\n"
    "def depth(n):\n"
    "    return 0 if n == 0 else 1 + depth(n - 1)\n"
    "def main_solution(x):\n"
    "    third = str(decimal.Decimal(1) / decimal.Decimal(3))\n"
    "    return [third, depth(200), hasattr(builtins, 'sneaky'), os.environ.get('MODE', 'plain'),\n"
    "            sorted(os.listdir('.'))]\n"
)
PLAIN = fn("def main_solution(x):\n    return x % 97\n")


def test_a_batch_gives_each_function_the_pairs_it_gets_alone(sandboxes) -> None:
    sampler = Sampler(*sandboxes, SampleConfig())
    batch = [MEDDLER, SENSITIVE, PLAIN]
    outs = sampler._sample_batch(batch, ())
    assert len(outs) == 3
    alone = [sampler.sample(record) for record in batch]
    for together, single in zip(outs, alone, strict=True):
        assert not isinstance(together, Failure), together
        assert isinstance(single, FunctionRecord), single
        assert [(p.input, p.output) for p in together.pairs] == [
            (p.input, p.output) for p in single.ios
        ]
    # Nothing the meddler changed reached the next function of its task.
    assert all(
        p.output[1:] == [200, False, "plain", []] and len(p.output[0]) > 20 for p in outs[1].pairs
    )


def test_sample_many_with_batches_matches_one_function_at_a_time(sandboxes) -> None:
    records = [
        PLAIN.model_copy(update={"id": f"plain-{k}"}) if k % 3 else SENSITIVE for k in range(7)
    ] + [MEDDLER, SENSITIVE.model_copy(update={"id": "last"})]
    sampler = Sampler(*sandboxes, SampleConfig())
    many = list(sampler.sample_many(records))
    assert [r.id for r in many] == [r.id for r in records]
    for record, out in zip(records, many, strict=True):
        single = sampler.sample(record)
        assert isinstance(out, FunctionRecord) and isinstance(single, FunctionRecord)
        assert out.ios == single.ios


def test_a_batch_whose_task_dies_is_rerun_one_function_at_a_time(sandboxes) -> None:
    killer = fn("import os\ndef main_solution(x):\n    os._exit(3)\n")
    sampler = Sampler(*sandboxes, SampleConfig())
    outs = sampler._sample_batch([PLAIN, killer, SENSITIVE], ())
    assert len(outs) == 3
    assert not isinstance(outs[0], Failure) and not isinstance(outs[2], Failure)
    assert isinstance(outs[1], Failure) and outs[1].reason == "harness_error"


def test_a_slow_function_ends_its_batch_and_the_rest_are_sampled_later(sandboxes) -> None:
    slow = fn("import time\ndef main_solution(x):\n    time.sleep(0.03)\n    return x\n")
    sampler = Sampler(*sandboxes, SampleConfig())
    outs = sampler._sample_batch([slow, PLAIN, SENSITIVE], ())
    assert len(outs) == 1 and not isinstance(outs[0], Failure)  # the others were not started
    results = list(sampler.sample_many([slow, PLAIN, SENSITIVE]))
    assert all(isinstance(r, FunctionRecord) and len(r.ios) == 10 for r in results)


def test_in_pair_mode_a_slow_functions_rerun_is_split_across_lanes(sandboxes) -> None:
    slow = fn("import time\ndef main_solution(x):\n    time.sleep(0.03)\n    return x % 5\n")
    unseeded = fn(
        "import random, time\n"
        "def main_solution(x):\n"
        "    time.sleep(0.03)\n"
        "    return x + (random.random() if x % 4 == 0 else 0)\n",
        "def input_generator(rng):\n    return {'x': rng.randint(0, 10**6) * 2}\n",
    )
    sampler = Sampler(*sandboxes, SampleConfig(determinism="pair"))
    kept, partly = sampler.sample_many([slow, unseeded])
    assert isinstance(kept, FunctionRecord) and len(kept.ios) >= 2
    assert kept.meta["sample"]["replay_parts"] == 2
    assert kept.meta["sample"]["nondeterministic_pairs"] == 0
    # Judged whole: exactly the pairs whose x is a multiple of 4 are dropped, from both parts.
    assert isinstance(partly, FunctionRecord) and partly.meta["sample"]["replay_parts"] == 2
    assert partly.ios and all(p.input["x"] % 4 == 2 for p in partly.ios)
    assert partly.meta["sample"]["nondeterministic_pairs"] > 0


def test_a_rerun_stops_at_the_first_difference_cheapest_pair_first(sandboxes) -> None:
    # Every output is random; one input is slow. The re-run compares as it goes and never
    # gets to the slow pair: the function is dropped either way.
    refcode = (
        "import random, time\n"
        "def main_solution(x):\n"
        "    if x == 0:\n"
        "        time.sleep(1.5)\n"
        "    return random.random()\n"
    )
    gen = "def input_generator(rng):\n    return {'x': rng.choice([0, 1, 2, 3])}\n"
    sampler = Sampler(*sandboxes, SampleConfig(soft_budget_s=3.0, time_budget_s=10.0))
    started = time.monotonic()
    (out,) = sampler.sample_many([fn(refcode, gen)])
    took = time.monotonic() - started
    assert isinstance(out, Failure) and out.reason == "nondeterministic"
    assert "1/4 pairs differ on re-run (stopped at the first)" in out.detail
    assert "skipped" not in out.detail
    assert took < 1.5 + 1.4  # the sampling's slow call, not a second one in the re-run


def test_a_leak_between_functions_of_a_batch_is_dropped_not_kept(sandboxes) -> None:
    # The harness cannot put back every module attribute; a function that saw another's change
    # must not keep pairs that only hold after it. Its re-run runs it before the other.
    leaker = fn("import math\ndef main_solution(x):\n    math.tau = 1.0\n    return x % 3\n")
    victim = fn("import math\ndef main_solution(x):\n    return math.tau * (x % 10)\n")
    sampler = Sampler(*sandboxes, SampleConfig())
    sampled = sampler._sample_batch([leaker, victim], ())
    assert len(sampled) == 2 and isinstance(sampled[1], _Pending)
    assert all(p.output == p.input["x"] % 10 for p in sampled[1].pairs)  # it saw the leak
    first, second = sampler._replay_batch(sampled)  # type: ignore[arg-type]
    assert isinstance(first, FunctionRecord)
    assert isinstance(second, Failure) and second.reason == "nondeterministic", second
    alone = sampler.sample(victim)
    assert isinstance(alone, FunctionRecord)
    assert all(p.output == 2 * 3.141592653589793 * (p.input["x"] % 10) for p in alone.ios)
