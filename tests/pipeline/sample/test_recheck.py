"""recheck on real demo-corpus records and on hand-made ones."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from codeio.pipeline.sample import recheck
from codeio.pipeline.sample.determinism import Replay, outputs_equal
from codeio.pipeline.sample.recheck import judge
from codeio.records import FunctionRecord, IOPair

# Lines of rawcode_1k_parsed.jsonl, checked by hand against their refcode.
NOT_REPRODUCIBLE = {
    3: "stored_output_differs",  # mutates its input list: the stored input is the mutated one
    23: "stored_output_differs",  # pops from its input
    32: "differs_between_runs",  # unseeded random
    340: "differs_between_runs",  # seeds its own generator from time.time()
    346: "differs_between_runs",  # random pivot changes the comparison count
    416: "stored_output_differs",  # sorts its input in place
    200: "stored_output_differs",  # a global call counter: outputs depend on earlier calls
}
REPRODUCIBLE = [0, 1, 2, 145, 227, 236, 302]  # 227: numpy float noise, 302: harmless mutation


def as_record(row: dict[str, Any]) -> FunctionRecord:
    return FunctionRecord(
        id=FunctionRecord.make_id(row["refcode"]),
        refcode=row["refcode"],
        funcname=row["funcname"],
        ios=[IOPair(**pair) for pair in row["ios"]],
    )


def test_recheck_flags_the_known_bad_demo_records(sandboxes, demo_rows) -> None:
    lines = sorted([*NOT_REPRODUCIBLE, *REPRODUCIBLE])
    results = list(recheck([as_record(demo_rows[i]) for i in lines], *sandboxes))
    assert [r.record_id for r in results] == [as_record(demo_rows[i]).id for i in lines]
    by_line = dict(zip(lines, results, strict=True))
    for line, reason in NOT_REPRODUCIBLE.items():
        result = by_line[line]
        assert not result.deterministic, line
        assert result.reason == reason, (line, result.detail)
        assert any(not check.reproducible for check in result.pairs)
        if reason == "differs_between_runs":
            # A nondeterministic function has no trustworthy pair, even one that repeated.
            assert not any(check.reproducible for check in result.pairs), line
    for line in REPRODUCIBLE:
        result = by_line[line]
        assert result.deterministic, (line, result.detail)
        assert len(result.pairs) == len(demo_rows[line]["ios"])
        assert all(check.reproducible for check in result.pairs)


def test_annotate_marks_pairs_and_record(sandboxes, demo_rows) -> None:
    row = demo_rows[3]
    (result,) = recheck([as_record(row)], *sandboxes)
    annotated = result.annotate(row)
    assert annotated["deterministic"] is False and annotated["reason"] == "stored_output_differs"
    assert [p["reproducible"] for p in annotated["ios"]] == [c.reproducible for c in result.pairs]
    assert annotated["problem_description"] == row["problem_description"]  # others kept
    assert "reproducible" not in row["ios"][0]  # the input row is not modified


def test_mutated_stored_input_is_flagged(sandboxes) -> None:
    refcode = "def main_solution(xs):\n    xs.sort()\n    return xs\n"
    honest = IOPair(input={"xs": [3, 1, 2]}, output=[1, 2, 3])
    # What a pipeline without a snapshot stores: the input after the call sorted it.
    corrupted = IOPair(input={"xs": [1, 2, 3]}, output=[1, 2, 3])
    wrong = IOPair(input={"xs": [2, 1]}, output=[2, 1])
    record = FunctionRecord(id="f1", refcode=refcode, ios=[honest, corrupted, wrong])
    (result,) = recheck([record], *sandboxes)
    assert [c.reproducible for c in result.pairs] == [True, True, False]
    assert result.reason == "stored_output_differs"


def test_set_order_is_flagged_by_the_two_hash_seeds(sandboxes) -> None:
    refcode = "def main_solution(words):\n    return list(set(words))\n"
    words = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"]
    ios = [IOPair(input={"words": words[i:]}, output=sorted(words[i:])) for i in range(4)]
    (result,) = recheck([FunctionRecord(id="f2", refcode=refcode, ios=ios)], *sandboxes)
    assert not result.deterministic
    assert result.reason == "differs_between_runs"


def test_a_record_that_cannot_load_is_not_deterministic(sandboxes) -> None:
    record = FunctionRecord(
        id="f3", refcode="import not_a_module_xyz\n", ios=[IOPair(input={}, output=1)]
    )
    (result,) = recheck([record], *sandboxes)
    assert not result.deterministic and result.reason == "refcode_error"
    assert "not_a_module_xyz" in result.detail


def test_floats_get_a_tight_tolerance_against_stored_outputs_only() -> None:
    assert outputs_equal(16.456200000000003, 16.4562, float_rel_tol=1e-9)
    assert not outputs_equal(16.456200000000003, 16.4562)
    assert not outputs_equal(1.0, 1.001, float_rel_tol=1e-9)
    assert not outputs_equal(1, 1.0, float_rel_tol=1e-9)  # int and float stay different
    assert not outputs_equal(True, 1, float_rel_tol=1e-9)
    record = FunctionRecord(
        id="f4", refcode="", ios=[IOPair(input={}, output=[16.456200000000003])]
    )
    close = Replay(results=[{"status": "ok", "output": [16.4562]}])
    assert judge(record, close, close).deterministic
    other = Replay(results=[{"status": "ok", "output": [16.4562000001]}])
    assert judge(record, close, other).reason == "differs_between_runs"  # run vs run is exact


def test_state_left_by_earlier_calls_is_flagged(sandboxes) -> None:
    # Both re-runs replay the pairs in the stored order, so they agree with each other and with
    # the stored outputs unless every pair starts from a fresh module, as a verifier's re-run does.
    code = "CALLS = []\ndef main_solution(x):\n    CALLS.append(x)\n    return x + len(CALLS)\n"
    fn = FunctionRecord(
        id="stateful",
        refcode=code,
        ios=[IOPair(input={"x": 1}, output=2), IOPair(input={"x": 5}, output=7)],
    )
    (result,) = recheck([fn], *sandboxes)
    assert not result.deterministic and result.reason == "stored_output_differs"
    assert [c.reproducible for c in result.pairs] == [True, False]


def test_many_records_stream_through_both_sandboxes_in_order(sandboxes) -> None:
    # Lanes of both sandboxes and the caller read the records at once: every record comes
    # back, once, in order, judged against its own replays.
    records = [
        FunctionRecord(
            id=f"r{i}",
            refcode=f"def main_solution(x):\n    return x * {i}\n",
            ios=[IOPair(input={"x": k}, output=k * i) for k in range(3)],
        )
        for i in range(400)
    ]
    records[7] = records[7].model_copy(update={"ios": [IOPair(input={"x": 1}, output=-1)]})

    def read() -> Iterator[FunctionRecord]:
        for record in records:
            time.sleep(0.002)  # a reader that takes time (parsing a file): threads overlap in it
            yield record

    results = list(recheck(read(), *sandboxes, seed=3))
    assert [r.record_id for r in results] == [r.id for r in records]
    assert [r.record_id for r in results if not r.deterministic] == ["r7"]
    assert sum(len(r.pairs) for r in results) == 3 * 399 + 1


# Doubles n; from n = 100 on each call sleeps far past any call timeout of these tests.
SLOW_FROM_100 = (
    "import time\n"
    "def main_solution(n):\n"
    "    if n >= 100:\n"
    "        time.sleep(30)\n"
    "    return n * 2\n"
)

def test_after_two_timeouts_the_larger_inputs_are_not_run(sandboxes) -> None:
    # Cost grows with n: the stored order puts the slow pairs first; the replay runs the
    # smallest inputs first and, after two calls timed out, skips the larger ones instead of
    # spending a whole call timeout on each.
    refcode = SLOW_FROM_100
    big = [IOPair(input={"n": 100 + i}, output=(100 + i) * 2) for i in range(5)]
    small = [IOPair(input={"n": i}, output=i * 2) for i in range(1, 4)]
    record = FunctionRecord(id="slow", refcode=refcode, ios=[*big, *small])
    (result,) = recheck([record], *sandboxes, call_timeout_s=0.3)
    reasons = [check.reason for check in result.pairs]
    assert reasons[5:] == ["ok", "ok", "ok"]
    assert sorted(reasons[:5]) == ["skipped"] * 3 + ["timeout"] * 2
    assert result.reason == "timeout"
    assert not result.deterministic
    # No limit: every slow pair gets its own timeout.
    (result,) = recheck([record], *sandboxes, call_timeout_s=0.3, max_timeouts=None)
    assert [check.reason for check in result.pairs] == ["timeout"] * 5 + ["ok"] * 3


def test_stop_at_first_skips_the_pairs_after_one_that_does_not_reproduce(sandboxes) -> None:
    # What the pipeline asks for: one pair that does not reproduce drops the record, so the
    # slow pairs after it are not run.
    refcode = SLOW_FROM_100
    wrong_first = IOPair(input={"n": 1}, output=3)
    slow = [IOPair(input={"n": 100 + i}, output=(100 + i) * 2) for i in range(3)]
    record = FunctionRecord(id="stop", refcode=refcode, ios=[*slow, wrong_first])
    (result,) = recheck([record], *sandboxes, call_timeout_s=20.0, stop_at_first=True)
    assert [check.reason for check in result.pairs] == ["skipped"] * 3 + ["stored_output_differs"]
    assert result.reason == "stored_output_differs" and not result.deterministic


def test_stop_at_first_keeps_the_float_tolerance_against_stored_outputs(sandboxes) -> None:
    # Stored on another machine: the last bits differ. The re-run must not stop there.
    refcode = "def main_solution(x):\n    return [x / 3, {'k': x * 0.1}]\n"
    pairs = [
        IOPair(input={"x": x}, output=[x / 3 * (1 + 1e-12), {"k": x * 0.1 * (1 - 1e-12)}])
        for x in (1.0, 2.0, 7.0)
    ]
    record = FunctionRecord(id="floats", refcode=refcode, ios=pairs)
    (result,) = recheck([record], *sandboxes, stop_at_first=True)
    assert result.deterministic, result.detail
    assert all(check.reproducible for check in result.pairs)
