"""kill -9 a real ``codeio run`` mid-stage, rerun it, and get exactly the uninterrupted output."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from runhelp import (  # type: ignore[import-not-found]
    PARSED,
    done_count,
    final_rows,
    kill_when,
    run_codeio,
    write_config,
    write_subset,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # a loaded machine can stretch a kill + resume well past 300 s
    pytest.mark.skipif(not PARSED.exists(), reason="shared demo data not present"),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("kill")
    data = write_subset(base / "subset.jsonl", 30)
    cfg = write_config(base / "run.yaml", data, pairs_per_function="2")
    ref = base / "reference"
    res = run_codeio("run", str(cfg), "--out", str(ref))
    assert res.returncode == 0, res.stderr[-3000:]
    return cfg, ref


# Each kill lands after the first committed batch (batch_size 8) of a stage that has several:
# mid-stage, with a batch in flight, whatever the machine's load.
@pytest.mark.parametrize(
    ("stage", "at_least"), [("sample", 8), ("generate", 16), ("verify", 16), ("revise", 8)]
)
def test_kill_then_resume_matches_uninterrupted(
    setup: tuple[Path, Path], tmp_path: Path, stage: str, at_least: int
) -> None:
    cfg, ref = setup
    run_dir = tmp_path / "run"
    args = ["run", str(cfg), "--out", str(run_dir)]
    killed = kill_when(args, run_dir, stage, at_least)
    assert killed, f"the run finished before reaching {stage}; make the input larger"
    before = done_count(run_dir, stage)
    assert before < done_count(ref, stage), f"the kill came after {stage} had finished"
    res = run_codeio(*args)
    assert res.returncode == 0, res.stderr[-3000:]
    assert done_count(run_dir, stage) >= before

    got, want = final_rows(run_dir), final_rows(ref)
    assert got.keys() == want.keys()
    for name in want:
        assert [r for r, _ in got[name]] == [r for r, _ in want[name]], name
        assert got[name] == want[name], f"payloads of {name} differ after resume"
    con = sqlite3.connect(run_dir / "state.sqlite")
    # one done row per input, never two (the primary key guarantees it; the count proves it)
    for s, n, distinct in con.execute(
        "SELECT stage, COUNT(*), COUNT(DISTINCT id) FROM done GROUP BY stage"
    ):
        assert n == distinct, s
    con.close()
    for name in ("messages.jsonl", "dpo.jsonl"):
        got_text = (run_dir / "export" / name).read_text()
        assert got_text == (ref / "export" / name).read_text(), f"export/{name} differs"
    assert (ref / "export" / "messages.jsonl").stat().st_size > 0
