"""Helpers for tests that drive the real ``codeio`` command in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

EVEN_SUM = (
    "def main_solution(nums):\n"
    "    total = 0\n"
    "    for x in nums:\n"
    "        if x % 2 == 0:\n"
    "            total += x\n"
    "    return total\n"
)
"""A tiny refcode whose runs every verify mode can check (sum of the even numbers)."""

PARSED = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "codeio-demo"
    / "rawcode_1k_parsed.jsonl"
)


def codeio_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "codeio", *args]


def write_subset(path: Path, n: int | None) -> Path:
    with PARSED.open() as src, path.open("w") as dst:
        for i, line in enumerate(src):
            if n is not None and i >= n:
                break
            dst.write(line)
    return path


def write_config(path: Path, data: Path, **extra: str) -> Path:
    lines = [
        "seed: 7",
        "input:",
        f"  path: {data}",
        "llm:",
        "  spec: trace",
        "  options: {mistake_rate: 0.3"
        + (f", trace_cpu_s: {extra['trace_cpu_s']}" if "trace_cpu_s" in extra else "")
        + "}",
        "exec:",
        "  workers: 2",
        "runner:",
        f"  batch_size: {extra.get('batch_size', '8')}",
    ]
    if "pairs_per_function" in extra:
        lines += ["prompt:", f"  pairs_per_function: {extra['pairs_per_function']}"]
    if "process" in extra:
        lines += ["verify:", f"  process: {extra['process']}"]
    if "call_timeout_s" in extra:
        lines += ["sample:", f"  call_timeout_s: {extra['call_timeout_s']}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_codeio(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(codeio_cmd(*args), capture_output=True, text=True, timeout=timeout)


def done_count(run_dir: Path, stage: str) -> int:
    db = run_dir / "state.sqlite"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM done WHERE stage = ?", (stage,)).fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0  # tables not created yet


def kill_when(
    args: list[str], run_dir: Path, stage: str, at_least: int, timeout: float = 300
) -> bool:
    """Start ``codeio`` and SIGKILL its whole process group once ``stage`` has results.

    Returns False when the run finished before the kill point was reached.
    """
    proc = subprocess.Popen(
        codeio_cmd(*args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if done_count(run_dir, stage) >= at_least:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return True
            time.sleep(0.05)
        raise AssertionError(f"stage {stage} never reached {at_least} results")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def final_rows(run_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """Every stage's (id, payload) rows, to compare two runs exactly."""
    con = sqlite3.connect(run_dir / "state.sqlite")
    try:
        out: dict[str, list[tuple[str, str]]] = {}
        for stage, rid, payload in con.execute(
            "SELECT stage, id, payload FROM records ORDER BY stage, id"
        ):
            out.setdefault(stage, []).append((rid, payload))
        return out
    finally:
        con.close()


def status_json(run_dir: Path) -> dict[str, Any]:
    res = run_codeio("status", str(run_dir), "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)
