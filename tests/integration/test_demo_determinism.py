"""Same seed, same data: two demos write byte-identical exports (the offline teacher's story
depends on the seed and the call alone, not on timing or unseeded randomness)."""

from __future__ import annotations

from pathlib import Path

import pytest
from runhelp import run_codeio  # type: ignore[import-not-found]


@pytest.mark.slow
def test_two_demos_with_one_seed_export_identical_bytes(tmp_path: Path) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        res = run_codeio("demo", "--out", str(out), "--workers", "2", "--seed", "3")
        assert res.returncode == 0, res.stderr[-3000:]
    for name in ("messages.jsonl", "dpo.jsonl"):
        first, second = ((out / "export" / name).read_bytes() for out in outs)
        assert first and first == second, name
