"""``codeio sample`` and ``codeio recheck`` end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from codeio.cli.main import app


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sample_cli_keeps_fields_and_reports_bad_lines(tmp_path, generator_rows) -> None:
    rows = [r for r in generator_rows if r["line"] in (8, 32, 145)]
    lines = [json.dumps({**row, "extra": "kept"}) for row in rows]
    lines.insert(1, "{not json")
    lines.append(json.dumps({"refcode": "def main_solution():\n    return 1\n"}))
    src = write_lines(tmp_path / "in.jsonl", lines)
    out, fails = tmp_path / "out.jsonl", tmp_path / "fails.jsonl"
    result = CliRunner().invoke(
        app, ["sample", str(src), "-o", str(out), "--failures", str(fails), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert f"{src}:2: malformed JSON" in result.output
    assert f"{src}:5: field 'inputgen'" in result.output
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [w["line"] for w in written] == [8, 145]  # 32 uses unseeded random: dropped
    assert all(w["extra"] == "kept" and len(w["ios"]) == 10 for w in written)
    failures = [json.loads(line) for line in fails.read_text().splitlines()]
    assert sorted(f["reason"] for f in failures) == [
        "bad_record",
        "malformed_json",
        "nondeterministic",
    ]
    assert "functions kept" in result.output


def test_sample_cli_names_the_budget_that_stopped_slow_functions(tmp_path) -> None:
    gen = "def input_generator(rng):\n    return {'x': rng.randint(0, 10**6)}\n"
    rows = [
        {"refcode": "import time\ndef main_solution(x):\n    time.sleep(0.15)\n    return x\n",
         "inputgen": gen},
        {"refcode": "def main_solution(x):\n    return x + 1\n", "inputgen": gen},
    ]  # fmt: skip
    src = write_lines(tmp_path / "in.jsonl", [json.dumps(r) for r in rows])
    out = tmp_path / "out.jsonl"
    args = ["sample", str(src), "-o", str(out), "--workers", "1", "--soft-budget", "0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(len(r["ios"]) < 10 for r in kept) == [False, True]
    assert "1 function(s) stopped by --soft-budget 0.5 s (0 dropped, 1 kept with fewer pairs)" in (
        result.output
    )
    # Without a soft budget nothing is cut, and nothing is said about it.
    result = CliRunner().invoke(app, [*args[:-1], "0"])
    assert result.exit_code == 0 and "stopped by --soft-budget" not in result.output


def test_recheck_cli_annotates_and_summarises(tmp_path, demo_rows) -> None:
    src = write_lines(
        tmp_path / "in.jsonl", [json.dumps(demo_rows[i]) for i in (0, 3, 32)] + ["[1]"]
    )
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["recheck", str(src), "-o", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert f"{src}:4: expected a JSON object" in result.output
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [w["deterministic"] for w in written] == [True, False, False]
    assert all("reproducible" in pair for w in written for pair in w["ios"])
    assert "reproducible" in result.output and "deterministic" in result.output
