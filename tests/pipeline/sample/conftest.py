"""Shared real sandboxes for the sampling tests (starting workers costs ~0.5 s, so share them)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeio.exec import Sandbox

# The shared data sits next to the checkout; a worktree elsewhere can point at it explicitly.
SHARED = Path(
    os.environ.get("CODEIO_SHARED_DATA")
    or Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
)
DEMO = SHARED / "codeio-demo"
DEMO_PARSED = (DEMO / "rawcode_1k_parsed.jsonl").resolve()
GENERATORS = Path(__file__).resolve().parents[2] / "data" / "generators" / "demo_generators.jsonl"


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[tuple[Sandbox, Sandbox]]:
    with Sandbox(workers=2, hash_seed=0) as main, Sandbox(workers=2, hash_seed=1) as other:
        yield main, other


@pytest.fixture(scope="session")
def demo_rows() -> list[dict[str, Any]]:
    if not DEMO_PARSED.exists():
        pytest.skip("demo corpus not available")
    with DEMO_PARSED.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="session")
def generator_rows() -> list[dict[str, Any]]:
    with GENERATORS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]
