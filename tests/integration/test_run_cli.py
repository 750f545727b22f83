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
    assert res.returncode == 2
    assert "revise.roundz" in res.stderr and "unknown key" in res.stderr


def test_unknown_stage_and_missing_run(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"input:\n  path: {tmp_path / 'x.jsonl'}\n")
    (tmp_path / "x.jsonl").write_text("")
    res = run_codeio("run", str(cfg), "--out", str(tmp_path / "r"), "--to", "nosuch")
    assert res.returncode == 2 and "nosuch" in res.stderr
    res = run_codeio("status", str(tmp_path / "nothing"))
    assert res.returncode == 2


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
    assert res.returncode == 2 and "seed" in res.stderr


@pytest.mark.slow
def test_demo_runs_offline(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = run_codeio("demo", "--out", str(out), "--workers", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "funnel" in res.stdout
    data = status_json(out)
    stages = {s["stage"]: s for s in data["stages"]}
    assert stages["ingest"]["out"] >= 20
    assert stages["unify"]["failed"] + stages["sample"]["failed"] >= 1
    assert data["verified"]["samples"] > 0
    assert (out / "export" / "messages.jsonl").is_file()
