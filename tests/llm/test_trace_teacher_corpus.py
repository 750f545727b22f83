"""The trace teacher on the CodeI/O demo corpus: every deterministic pair must verify correct."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from codeio.exec import ExecTask, Sandbox
from codeio.llm.trace_teacher import TraceTeacherBackend
from codeio.pipeline.sample import recheck
from codeio.pipeline.verify import Verifier
from codeio.records import FunctionRecord, IOPair, PredictionTask

CORPUS = Path(__file__).resolve().parents[3] / "shared/data/codeio-demo/rawcode_1k_parsed.jsonl"

pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason="demo corpus not available")


def _records(limit: int | None) -> list[FunctionRecord]:
    lines = CORPUS.read_text().splitlines()
    records = []
    for index, line in enumerate(lines[:limit]):
        raw = json.loads(line)
        records.append(
            FunctionRecord(
                id=f"demo{index}",
                refcode=raw["refcode"],
                funcname=raw["funcname"],
                ios=[IOPair(**raw["ios"][0])],
            )
        )
    return records


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[tuple[Sandbox, Sandbox]]:
    with Sandbox(workers=2, hash_seed=0) as first, Sandbox(workers=1, hash_seed=1) as second:
        yield first, second


def _run(records: list[FunctionRecord], sandboxes: tuple[Sandbox, Sandbox]) -> dict[str, Any]:
    sandbox, other = sandboxes
    deterministic = {r.record_id for r in recheck(records, sandbox, other) if r.deterministic}
    teacher = TraceTeacherBackend(sandbox=sandbox)
    verifier = Verifier(sandbox)

    def answer(job: tuple[FunctionRecord, str]) -> tuple[str, str, str, str, str]:
        fn, kind = job
        pair = fn.ios[0]
        text = teacher.respond(
            {
                "task": "predict",
                "kind": kind,
                "refcode": fn.refcode,
                "funcname": fn.funcname,
                "input": pair.input,
                "output": pair.output,
                "turn": 1,
                "feedback": None,
            }
        )
        task = PredictionTask(
            id=f"{fn.id}-{kind}",
            func_id=fn.id,
            io_index=0,
            kind=kind,
            prompt="",
            pair=pair,
            refcode=fn.refcode,
            funcname=fn.funcname,
        )
        verdict = verifier.verify(task, text).verdict
        if verdict is None:
            return fn.id, kind, text, "none", ""
        return fn.id, kind, text, verdict.status, verdict.detail

    jobs = [(fn, kind) for fn in records if fn.id in deterministic for kind in ("output", "input")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(answer, jobs))
    return {"deterministic": deterministic, "results": results}


def _varies(fn: FunctionRecord, sandbox: Sandbox, runs: int = 24) -> bool:
    """Whether ``fn``'s first pair gives different outputs over repeated runs.

    recheck compares two runs, so a function that is random only now and then (demo record 54
    finds a reversal by random sampling in about one run of four) can pass it by luck; its
    verdicts then depend on the draw, not on the prediction.
    """
    task = ExecTask(code=fn.refcode, entry=fn.funcname, kwargs=fn.ios[0].input)
    outputs = {json.dumps(r.value, sort_keys=True) for r in sandbox.map([task] * runs)}
    return len(outputs) > 1


def _check(
    run: dict[str, Any], records: list[FunctionRecord], sandboxes: tuple[Sandbox, Sandbox]
) -> None:
    results = run["results"]
    # The corpus has known non-reproducible pairs (~8% of records), never most of them.
    assert len(run["deterministic"]) >= 0.8 * len(records)
    by_id = {fn.id: fn for fn in records}
    random_now_and_then = {
        fid
        for fid, *_, status, _ in results
        if status != "correct" and _varies(by_id[fid], sandboxes[0])
    }
    wrong = [
        (fid, kind, status, detail)
        for fid, kind, _, status, detail in results
        if status != "correct" and fid not in random_now_and_then
    ]
    assert not wrong, wrong
    outputs = [text for _, kind, text, _, _ in results if kind == "output"]
    summarised = [t for t in outputs if re.search(r"\.\.\. after \d+ iterations in total", t)]
    assert len(summarised) >= 0.3 * len(outputs)  # loop-heavy functions get "... after k" summaries
    for _, _, text, _, _ in results:
        reasoning = text.rsplit("```json", 1)[0]
        assert len(reasoning) <= 4500
        assert "- Iteration 4:" not in reasoning
        assert " at 0x" not in reasoning


def test_sample_of_demo_corpus_verifies(sandboxes: tuple[Sandbox, Sandbox]) -> None:
    records = _records(60)
    _check(_run(records, sandboxes), records, sandboxes)


@pytest.mark.slow
def test_spread_of_demo_corpus_verifies(sandboxes: tuple[Sandbox, Sandbox]) -> None:
    # Every third record past the first 60: the whole corpus's variety at a third of its cost
    # (all 464 go through the teacher in tests/integration/test_ios_entry.py and
    # benchmarks/bench_claims.py).
    records = _records(None)[60::3]
    _check(_run(records, sandboxes), records, sandboxes)
