"""The Pipeline driver on real records through the real sandbox, up to the prompt stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeio.config import load_config
from codeio.pipeline.pipeline import Pipeline
from codeio.records import FunctionRecord, PredictionTask
from codeio.store import RunStore, funnel

PARSED = (
    Path(__file__).resolve().parents[4]
    / "shared"
    / "data"
    / "codeio-demo"
    / "rawcode_1k_parsed.jsonl"
)


@pytest.mark.skipif(not PARSED.exists(), reason="shared demo data not present")
def test_ios_slice_is_idempotent_and_accounted(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    lines = PARSED.read_text().splitlines()[:12]
    data.write_text("\n".join(lines + lines[:2]) + "\n")  # two exact duplicates
    cfg = load_config(
        None,
        [
            f"input.path={data}",
            "exec.workers=2",
            "runner.batch_size=5",
            "prompt.pairs_per_function=3",
        ],
    )
    run = tmp_path / "run"
    Pipeline(cfg, run).run(to_stage="prompt")
    first = funnel(run)
    Pipeline(cfg, run).run(to_stage="prompt")
    assert funnel(run)["stages"] == first["stages"]
    stages = {s["stage"]: s for s in first["stages"]}
    assert stages["ingest"]["entered"] == 14
    assert stages["ingest"]["failures"] == {"duplicate": 2}
    with RunStore.open_run(run) as store:
        fns = list(store.iter_records("sample", FunctionRecord))
        tasks = list(store.iter_records("prompt", PredictionTask))
    assert [f.id for f in fns] == sorted(f.id for f in fns)
    assert len(tasks) == sum(min(3, len(f.ios)) * 2 for f in fns)
    assert all(len(f.ios) >= 2 for f in fns)
    for s in stages.values():
        assert s["entered"] == s["passed"] + s["failed"]
    assert json.loads((run / "run.json").read_text())["input_kind"] == "ios"


def test_sample_call_timeout_bounds_the_recheck_of_stored_pairs(tmp_path: Path) -> None:
    """`sample.call_timeout_s` reaches the recheck: a stored pair whose call takes 1.5 s passes
    under the 5 s default and fails as `timeout` under a 1 s limit."""
    code = "import time\ndef main_solution(n):\n    time.sleep(1.5 if n == 2 else 0)\n    return n\n"
    ios = [{"input": {"n": n}, "output": n} for n in (1, 2, 3)]
    data = tmp_path / "in.jsonl"
    fast = code.replace("1.5 if n == 2 else 0", "0")  # one record passes: the stage completes
    data.write_text(
        "".join(
            json.dumps({"refcode": c, "funcname": "main_solution", "ios": ios}) + "\n"
            for c in (code, fast)
        )
    )
    base = [f"input.path={data}", "exec.workers=1", "sample.min_pairs=3"]
    for extra, reason in (([], None), (["sample.call_timeout_s=1"], "timeout")):
        run = tmp_path / f"run{len(extra)}"
        Pipeline(load_config(None, base + extra), run).run(to_stage="sample")
        sample = {s["stage"]: s for s in funnel(run)["stages"]}["sample"]
        assert sample["failures"] == ({reason: 1} if reason else {}), sample
