"""Enter at the ``ios`` stage with the reference's full parsed corpus and account for everything.

All 464 records go through every stage; the prediction tasks are capped at 1 pair per function
(``prompt.pairs_per_function``) and the step checks are off (``verify.process``; the demo runs
and tests/integration/test_process_pipeline.py cover them end to end), so the test stays a few
minutes on 2 cores. Real runs keep the CodeI/O default of every pair (about 8,300 tasks on this
corpus instead of about 850).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runhelp import PARSED, run_codeio, status_json, write_config  # type: ignore[import-not-found]

pytestmark = [
    pytest.mark.slow,
    # ~2-3 min on 2 cores (most of it the recheck of stored pairs and the teacher's traces)
    pytest.mark.timeout(1500),
    pytest.mark.skipif(not PARSED.exists(), reason="shared demo data not present"),
]


def test_full_parsed_corpus_is_accounted_for(tmp_path: Path) -> None:
    # A traced call runs many times slower than the call itself: the corpus has a function
    # whose trace took over a minute, alone at the end of generate. Bounded here, it fails as
    # teacher_timeout, which the accounting below must (and does) cover like any failure.
    cfg = write_config(
        tmp_path / "run.yaml",
        PARSED,
        batch_size="64",
        pairs_per_function="1",
        process="false",
        trace_cpu_s="10",
        # A call of a stored pair gets 1 s instead of 5 (about 20 functions' pairs take seconds
        # each, most of the recheck's time); the few more `timeout` failures are accounted too.
        call_timeout_s="1",
    )
    run_dir = tmp_path / "run"
    res = run_codeio("run", str(cfg), "--out", str(run_dir), timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    data = status_json(run_dir)
    assert data["input_kind"] == "ios"
    stages = {s["stage"]: s for s in data["stages"]}
    assert list(stages) == ["ingest", "sample", "prompt", "generate", "verify", "revise"]
    n_lines = sum(1 for line in PARSED.open() if line.strip())
    assert n_lines == 464
    assert stages["ingest"]["entered"] == n_lines
    for s in stages.values():
        assert s["entered"] == s["passed"] + s["failed"], s
        assert s["complete"], s
        assert sum(s["failures"].values()) == s["failed"]
    # each stage takes in exactly what the one before it put out
    order = ["ingest", "sample", "prompt", "generate", "verify", "revise"]
    for a, b in zip(order, order[1:], strict=False):
        assert stages[b]["entered"] == stages[a]["out"], (a, b)
    predictions = stages["prompt"]["out"]
    assert predictions > 0
    ver = data["verified"]
    assert ver["samples"] == stages["revise"]["out"] == predictions - stages["generate"]["failed"]
    assert sum(ver["final_status"].values()) == ver["samples"]
    assert sum(v["samples"] for v in ver["by_kind"].values()) == ver["samples"]
    assert data["llm"]["calls"] >= stages["generate"]["entered"]
