"""The sampler against real sandboxes, on hand-made edge cases."""

from __future__ import annotations

import json
import re

import pytest

from codeio.errors import ConfigError
from codeio.exec import Sandbox
from codeio.pipeline.sample import SampleConfig, Sampler
from codeio.records import Failure, FunctionRecord

# Small budgets keep the failure paths fast; defaults are exercised by the demo-data tests.
FAST = SampleConfig(time_budget_s=3.0, call_timeout_s=0.5)


def fn(refcode: str, inputgen: str | None, **extra: object) -> FunctionRecord:
    return FunctionRecord(
        id=FunctionRecord.make_id(refcode, inputgen), refcode=refcode, inputgen=inputgen, **extra
    )


def sample(sandboxes: tuple[Sandbox, Sandbox], record: FunctionRecord, **config: object):
    cfg = FAST.model_copy(update=config)
    return Sampler(*sandboxes, cfg).sample(record)


RNG_INT = "def input_generator(rng):\n    return {'x': rng.randint(0, 10**6)}\n"


def test_kept_pairs_are_distinct_and_reproducible(sandboxes) -> None:
    out = sample(sandboxes, fn("def main_solution(x):\n    return x * 2\n", RNG_INT))
    assert isinstance(out, FunctionRecord)
    assert len(out.ios) == 10
    assert len({json.dumps(p.input, sort_keys=True) for p in out.ios}) == 10
    assert all(p.output == p.input["x"] * 2 for p in out.ios)
    stats = out.meta["sample"]
    assert stats["tries"] >= 10 and stats["nondeterministic_pairs"] == 0


def test_stored_input_is_the_snapshot_before_a_mutating_call(sandboxes) -> None:
    refcode = "def main_solution(xs):\n    xs.append(99)\n    xs.sort()\n    return len(xs)\n"
    gen = "def input_generator(rng):\n    return {'xs': [rng.randint(0, 9) for _ in range(rng.randint(1, 5))]}\n"
    out = sample(sandboxes, fn(refcode, gen))
    assert isinstance(out, FunctionRecord)
    for pair in out.ios:
        assert 99 not in pair.input["xs"]  # the mutation did not leak into the stored input
        assert pair.output == len(pair.input["xs"]) + 1


def test_unseeded_random_is_dropped(sandboxes) -> None:
    refcode = "import random\ndef main_solution(x):\n    return x + random.randint(0, 10**9)\n"
    out = sample(sandboxes, fn(refcode, RNG_INT))
    assert isinstance(out, Failure)
    assert out.reason == "nondeterministic"
    # The re-run goes cheapest pair first and stops at the first that differs: any pair.
    assert re.search(r"pair \d+: expected \d+, got \d+", out.detail), out.detail


def test_wall_clock_dependence_is_dropped(sandboxes) -> None:
    refcode = "import time\ndef main_solution(x):\n    return [x, time.time()]\n"
    out = sample(sandboxes, fn(refcode, RNG_INT))
    assert isinstance(out, Failure) and out.reason == "nondeterministic"


def test_set_order_dependence_is_dropped_by_the_hash_seed(sandboxes) -> None:
    refcode = "def main_solution(words):\n    return list(set(words))\n"
    gen = (
        "def input_generator(rng):\n"
        "    return {'words': rng.sample(['ant', 'bee', 'cat', 'dog', 'eel', 'fox', 'gnu', 'hen'], 6)}\n"
    )
    out = sample(sandboxes, fn(refcode, gen))
    assert isinstance(out, Failure) and out.reason == "nondeterministic"
    # The same function is stable when order cannot matter.
    stable = sample(
        sandboxes, fn("def main_solution(words):\n    return sorted(set(words))\n", gen)
    )
    assert isinstance(stable, FunctionRecord)


def test_tuple_input_that_json_turns_into_a_list_is_caught(sandboxes) -> None:
    refcode = "def main_solution(p):\n    return isinstance(p, tuple)\n"
    gen = "def input_generator(rng):\n    return {'p': (rng.randint(0, 99), rng.randint(0, 99))}\n"
    out = sample(sandboxes, fn(refcode, gen))
    assert isinstance(out, Failure) and out.reason == "nondeterministic"
    assert "expected true" in out.detail and "got false" in out.detail


def test_int_dict_keys_that_json_turns_into_strings_are_caught(sandboxes) -> None:
    refcode = "def main_solution(d):\n    return sum(k for k in d)\n"
    gen = "def input_generator(rng):\n    return {'d': {rng.randint(0, 99): 'v', rng.randint(100, 199): 'w'}}\n"
    out = sample(sandboxes, fn(refcode, gen))
    assert isinstance(out, Failure) and out.reason == "nondeterministic"
    assert "TypeError" in out.detail


def test_file_written_by_the_generator_is_caught(sandboxes) -> None:
    gen = (
        "def input_generator(rng):\n"
        "    n = rng.randint(0, 10**6)\n"
        "    with open('data.txt', 'w') as f:\n"
        "        f.write(str(n))\n"
        "    return {'path': 'data.txt', 'salt': n}\n"
    )
    refcode = "def main_solution(path, salt):\n    with open(path) as f:\n        return int(f.read()) + 1\n"
    out = sample(sandboxes, fn(refcode, gen))
    assert isinstance(out, Failure) and out.reason == "nondeterministic"
    assert "FileNotFoundError" in out.detail


def test_pair_mode_keeps_the_pairs_that_reproduce(sandboxes) -> None:
    refcode = "import random\ndef main_solution(x):\n    return random.random() if x % 2 else x\n"
    out = sample(sandboxes, fn(refcode, RNG_INT), determinism="pair")
    assert isinstance(out, FunctionRecord)
    assert out.ios and all(p.input["x"] % 2 == 0 and p.output == p.input["x"] for p in out.ios)
    assert out.meta["sample"]["nondeterministic_pairs"] == 10 - len(out.ios) > 0


def test_determinism_off_keeps_random_functions(sandboxes) -> None:
    refcode = "import random\ndef main_solution(x):\n    return random.random()\n"
    out = sample(sandboxes, fn(refcode, RNG_INT), determinism="off")
    assert isinstance(out, FunctionRecord) and len(out.ios) == 10


def test_size_limits_apply_to_inputs_and_outputs(sandboxes) -> None:
    refcode = "def main_solution(s, n):\n    return list(range(n))\n"
    gen = "def input_generator(rng):\n    return {'s': 'x' * rng.randint(50, 150), 'n': rng.randint(1, 40)}\n"
    out = sample(sandboxes, fn(refcode, gen))
    assert isinstance(out, FunctionRecord)
    assert all(len(p.input["s"]) < 100 and len(p.output) < 20 for p in out.ios)
    stats = out.meta["sample"]
    assert stats["input_too_big"] > 0 and stats["output_too_big"] > 0
    roomy = sample(sandboxes, fn(refcode, gen), max_str=1000, max_items=100, max_bytes=10_000)
    assert isinstance(roomy, FunctionRecord)
    assert any(len(p.input["s"]) >= 100 for p in roomy.ios)


def test_fewer_than_two_distinct_inputs_is_too_few_pairs(sandboxes) -> None:
    out = sample(
        sandboxes,
        fn(
            "def main_solution(x):\n    return x\n", "def input_generator():\n    return {'x': 1}\n"
        ),
        tries=50,
    )
    assert isinstance(out, Failure)
    assert out.reason == "too_few_pairs"
    assert "1 pair(s) kept" in out.detail and "'duplicates': 49" in out.detail


def test_seeded_reruns_give_identical_pairs(sandboxes) -> None:
    rng_fn = fn("def main_solution(x):\n    return x % 7\n", RNG_INT)
    global_gen = (
        "import random\nimport numpy as np\n"
        "def input_generator():\n"
        "    return {'x': random.randint(0, 10**6) + int(np.random.randint(0, 1000))}\n"
    )
    zero_arg = fn("def main_solution(x):\n    return x % 7\n", global_gen)
    for record in (rng_fn, zero_arg):
        first, second = sample(sandboxes, record), sample(sandboxes, record)
        assert isinstance(first, FunctionRecord) and isinstance(second, FunctionRecord)
        assert first.ios == second.ios
        other_seed = sample(sandboxes, record, seed=1)
        assert isinstance(other_seed, FunctionRecord) and other_seed.ios != first.ios


def test_reason_names_the_dominant_failure(sandboxes) -> None:
    cases = {
        "generator_error": (
            "def main_solution(x):\n    return x\n",
            "def input_generator(rng):\n    return {'x': 1 / 0}\n",
        ),
        "main_solution_error": ("def main_solution(x):\n    raise ValueError('no')\n", RNG_INT),
        "not_json": ("def main_solution(x):\n    return {x}\n", RNG_INT),
        "refcode_error": (
            "def main_solution(x):\n    return x\nimport not_a_module_xyz\n",
            RNG_INT,
        ),
    }
    for reason, (refcode, gen) in cases.items():
        out = sample(sandboxes, fn(refcode, gen), tries=30)
        assert isinstance(out, Failure), reason
        assert out.reason == reason, (reason, out.detail)
    assert (
        sample(sandboxes, fn("def main_solution(x):\n    return x\n", None)).reason
        == "no_generator"
    )


def test_a_hanging_function_times_out_without_losing_the_run(sandboxes) -> None:
    refcode = "def main_solution(x):\n    while True:\n        pass\n"
    out = sample(sandboxes, fn(refcode, RNG_INT), call_timeout_s=0.2)
    assert isinstance(out, Failure) and out.reason == "timeout"
    # One that hangs only on some inputs keeps the others.
    partial = "def main_solution(x):\n    while x % 3 == 0:\n        pass\n    return x\n"
    out = sample(sandboxes, fn(partial, RNG_INT), call_timeout_s=0.2)
    assert isinstance(out, FunctionRecord)
    assert all(p.input["x"] % 3 for p in out.ios)


def test_prints_in_untrusted_code_do_not_matter(sandboxes) -> None:
    refcode = "def main_solution(x):\n    print('noise' * 1000)\n    return x\n"
    out = sample(sandboxes, fn(refcode, RNG_INT))
    assert isinstance(out, FunctionRecord) and len(out.ios) == 10


def test_sample_many_keeps_order(sandboxes) -> None:
    good = fn("def main_solution(x):\n    return -x\n", RNG_INT)
    bad = fn("def main_solution(x):\n    raise KeyError(x)\n", RNG_INT)
    missing = fn("def main_solution(x):\n    return x\n", None)
    records = [good, bad, missing, good.model_copy(update={"id": "second"})]
    results = list(Sampler(*sandboxes, FAST).sample_many(records))
    assert [r.id if isinstance(r, FunctionRecord) else r.reason for r in results] == [
        good.id,
        "main_solution_error",
        "no_generator",
        "second",
    ]


def test_recheck_sandbox_must_differ_in_hash_seed(sandboxes) -> None:
    main, _ = sandboxes
    with pytest.raises(ConfigError):
        Sampler(main, main, FAST)
    with pytest.raises(ConfigError):
        Sampler(main, None, FAST)
    assert Sampler(main, None, FAST.model_copy(update={"determinism": "off"}))
