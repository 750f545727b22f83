"""The ``run``/``status``/``demo`` commands end to end, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runhelp import PARSED, run_codeio, status_json, write_config, write_subset  # type: ignore[import-not-found]


def test_bad_config_exits_with_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("revise:\n  roundz: 1\n")
    res = run_codeio("run", str(cfg), "--out", str(tmp_path / "r"))
    assert res.returncode == 1  # CANNOT_RUN: a config mistake
    assert "revise.roundz" in res.stderr and "unknown key" in res.stderr


def test_unknown_stage_and_missing_run(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"input:\n  path: {tmp_path / 'x.jsonl'}\n")
    (tmp_path / "x.jsonl").write_text("")
    res = run_codeio("run", str(cfg), "--out", str(tmp_path / "r"), "--to", "nosuch")
    assert res.returncode == 1 and "nosuch" in res.stderr
    res = run_codeio("status", str(tmp_path / "nothing"))
    assert res.returncode == 1 and "not a run directory" in res.stderr


@pytest.mark.skipif(not PARSED.exists(), reason="shared demo data not present")
def test_slices_and_rerun_resume(tmp_path: Path) -> None:
    data = write_subset(tmp_path / "s.jsonl", 6)
    cfg = write_config(tmp_path / "c.yaml", data)
    run_dir = tmp_path / "run"
    res = run_codeio("run", str(cfg), "--out", str(run_dir), "--to", "prompt")
    assert res.returncode == 0, res.stderr[-2000:]
    stages = [s["stage"] for s in status_json(run_dir)["stages"]]
    assert stages == ["ingest", "sample", "prompt"]
    res = run_codeio("run", str(cfg), "--out", str(run_dir), "--from", "generate")
    assert res.returncode == 0, res.stderr[-2000:]
    first = status_json(run_dir)
    assert (run_dir / "config.resolved.yaml").is_file()
    assert json.loads((run_dir / "run.json").read_text())["seed"] == 7
    # a finished run reruns as a no-op with the same funnel
    res = run_codeio("run", str(cfg), "--out", str(run_dir))
    assert res.returncode == 0
    again = status_json(run_dir)
    assert again["stages"] == first["stages"]
    # another seed in the same directory is refused
    res = run_codeio("run", str(cfg), "--out", str(run_dir), "--seed", "8")
    assert res.returncode == 1 and "seed" in res.stderr


@pytest.mark.slow
def test_demo_runs_offline(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    prices = "llm.prices={input: 0.27, output: 1.1}"
    res = run_codeio("demo", "--out", str(out), "--workers", "2", "--set", prices)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "funnel" in res.stdout
    flat = "".join(res.stdout.split())  # rich may wrap a long path across lines
    for name in ("export/messages.jsonl", "report.html"):
        assert (out / name).is_file()
        assert "".join(str(out / name).split()) in flat, name
    data = status_json(out)
    llm = data["llm"]
    assert llm["calls"] > 0 and llm["prompt_tokens"] > 0 and llm["completion_tokens"] > 0
    assert llm["cost"] > 0
    correct = data["verified"]["final_correct"]
    assert correct > 0
    assert llm["cost_per_verified_sample"] == pytest.approx(llm["cost"] / correct)
    by_turn = data["verified"]["by_turn"]
    assert [t["turn"] for t in by_turn] == [1, 2]  # revise.rounds 1: two turns
    assert by_turn[0]["rate"] <= by_turn[1]["rate"]  # cumulative: revision only adds
    assert set(data["verified"]["by_kind"]) == {"input", "output"}
    for kind in data["verified"]["by_kind"].values():
        assert len(kind["by_turn"]) == 2
    stages = {s["stage"]: s for s in data["stages"]}
    assert stages["ingest"]["out"] >= 20
    assert stages["unify"]["failed"] + stages["sample"]["failed"] >= 1
    assert data["verified"]["samples"] > 0
    assert (out / "export" / "messages.jsonl").is_file()
