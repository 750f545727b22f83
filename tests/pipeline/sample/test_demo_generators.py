"""Sampling the hand-written generators for demo-corpus functions (tests/data/generators)."""

from __future__ import annotations

from codeio.pipeline.sample import SampleConfig, Sampler, recheck
from codeio.records import Failure, FunctionRecord

NONDETERMINISTIC = {
    32: "unseeded random",
    340: "time.time()",
    346: "random pivot",
    460: "set order",
}
MUTATING = {3, 71, 143, 416}  # mutate their input; the stored snapshot must still reproduce


def records(rows) -> list[FunctionRecord]:
    return [
        FunctionRecord(
            id=FunctionRecord.make_id(row["refcode"], row["inputgen"]),
            refcode=row["refcode"],
            funcname=row["funcname"],
            inputgen=row["inputgen"],
            meta={"line": row["line"]},
        )
        for row in rows
    ]


def test_generator_file_covers_enough_demo_records(generator_rows, demo_rows) -> None:
    assert len(generator_rows) >= 30
    for row in generator_rows:
        assert demo_rows[row["line"]]["refcode"] == row["refcode"]
        assert "def input_generator" in row["inputgen"]


def test_demo_generators_sample_and_the_bad_ones_are_dropped(sandboxes, generator_rows) -> None:
    fns = records(generator_rows)
    results = list(Sampler(*sandboxes, SampleConfig()).sample_many(fns))
    kept = []
    for fn, result in zip(fns, results, strict=True):
        line = fn.meta["line"]
        if line in NONDETERMINISTIC:
            assert isinstance(result, Failure), (line, NONDETERMINISTIC[line])
            assert result.reason == "nondeterministic"
        else:
            assert isinstance(result, FunctionRecord), (line, result)
            assert len(result.ios) >= 2
            kept.append(result)
    # Every stored pair, including those of input-mutating functions, reproduces on recheck.
    checks = list(recheck(kept, *sandboxes))
    assert all(check.deterministic for check in checks), [
        c.detail for c in checks if not c.deterministic
    ]
    assert MUTATING <= {fn.meta["line"] for fn in kept}
