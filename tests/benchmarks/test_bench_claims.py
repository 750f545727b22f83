"""benchmarks/bench_claims.py: its restyler keeps every value, and the script runs end to end."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_claims.py"
CORPUS = next(
    (
        d / "codeio-demo" / "rawcode_1k_parsed.jsonl"
        for d in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data")
        if (d / "codeio-demo" / "rawcode_1k_parsed.jsonl").is_file()
    ),
    None,
)

NARRATION = """I need to find what `main_solution` with arr = [2, 0, 1, 3] returns.

This calls `rearrange` with input_list = [2, 0, 1, 3]. Inside it:
  The condition `not input_list` is false, so we go to the `else` branch.
  `n = len(input_list)` sets n = 4.
  Next comes the loop `for i in range(len(input_list))`.
  - Iteration 1: i = 0; `input_list[i] += 1` gives input_list = [3, 0, 1, 3].
  - Iteration 2: i = 1; input_list = [3, 1, 1, 3].
  - ... after 4 iterations in total the loop finishes, ending with i = 3.
  `return input_list` gives [3, 1, 2, 4].

So the output is [3, 1, 2, 4].

```json
{"output": [3, 1, 2, 4]}
```"""


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_claims", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _numbers(text: str) -> list[str]:
    """The numbers a narration states (iteration numbers are placement, not values)."""
    body = re.sub(r"(?im)iteration #?\d+|^\s*\| \d+ \|", "", text.split("```")[0])
    return re.findall(r"-?\d+", body)


@pytest.mark.parametrize("style", ["prose", "arrows", "table"])
def test_restyle_changes_the_wording_not_the_values(bench: ModuleType, style: str) -> None:
    out = bench.restyle(NARRATION, style)
    assert out != NARRATION
    assert out.endswith('```json\n{"output": [3, 1, 2, 4]}\n```')  # the answer block untouched
    # No number is invented (prose drops the quoted code and the numbers in it).
    assert not Counter(_numbers(out)) - Counter(_numbers(NARRATION))
    if style == "table":
        assert "| Iteration | i | input_list |" in out and "| 2 | 1 | [3, 1, 1, 3] |" in out
    if style == "prose":
        assert "On the second iteration, i = 1" in out and "n becomes 4" in out
    if style == "arrows":
        assert "i -> 1" in out and "iteration #2:" in out


@pytest.mark.slow
@pytest.mark.skipif(CORPUS is None, reason="shared demo corpus not present")
def test_script_prints_its_numbers_as_the_last_json_line() -> None:
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(CORPUS), "--limit", "4", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["rationales"] == 8 and summary["claims"] > 20
    assert summary["false_contradictions"] == 0
    assert set(summary["restyled"]) == {"prose", "arrows", "table"}
    assert all(v["false_contradictions"] == 0 for v in summary["restyled"].values())
    assert summary["checker_vs_verifier_time"] > 0
