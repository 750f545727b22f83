"""Bad input files through a real ``codeio run``: each bad line is named (file:line) and counted,
and the good records around it still go all the way to the export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runhelp import PARSED, run_codeio, status_json  # type: ignore[import-not-found]

pytestmark = pytest.mark.skipif(not PARSED.exists(), reason="shared demo data not present")

BIG_LINE_BYTES = 10 * 1024 * 1024


def _good_lines(n: int) -> list[bytes]:
    """Short, fast, deterministic records of the reference corpus (as their raw JSONL lines)."""
    out: list[bytes] = []
    with PARSED.open("rb") as f:
        for raw in f:
            rec = json.loads(raw)
            if len(rec["refcode"]) < 1500 and "random" not in rec["refcode"]:
                out.append(raw.rstrip(b"\n"))
            if len(out) == n:
                break
    return out


def test_bad_files_are_named_counted_and_skipped(tmp_path: Path) -> None:
    good = _good_lines(4)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(
        b"\n".join(
            [
                good[0],  # line 1
                b'{"refcode": "def main_solution(x):", ',  # line 2: truncated JSON
                good[1],  # line 3
                b'{"refcode": "caf\xe9"}',  # line 4: latin-1, not UTF-8
                b"[1, 2, 3]",  # line 5: JSON, not an object
                b"\x00\x01\x02binary\x00",  # line 6: NUL bytes
                good[2],  # line 7
            ]
        )
        + b"\n"
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(b"\x89PNG\x1a\x00\x00\x00IHDR\x00\x00\x00\x10\xff" * 64)  # one line
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes('{"refcode": "print(\'déjà vu\')", "ios": []}\n'.encode("latin-1"))
    big = tmp_path / "big.jsonl"
    # One 10 MB line (a JSON string that never closes), then a good record after it.
    big.write_bytes(b'{"refcode": "' + b"a" * BIG_LINE_BYTES + b"\n" + good[3] + b"\n")

    paths = [mixed, empty, binary, latin, big]
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "seed: 3\n"
        "input:\n  kind: ios\n  path:\n"
        + "".join(f"    - {p}\n" for p in paths)
        + "llm:\n  spec: trace\n  options: {mistake_rate: 0.5}\n"
        "exec:\n  workers: 2\n"
        "prompt:\n  pairs_per_function: 1\n"
        "runner:\n  batch_size: 4\n"
    )
    run_dir = tmp_path / "run"
    res = run_codeio("run", str(cfg), "--out", str(run_dir), timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]

    # the run's own output names each bad line by file and line, with the reason
    for where, why in [
        (f"{mixed}:2", "malformed JSON"),
        (f"{mixed}:4", "not valid UTF-8"),
        (f"{mixed}:5", "expected a JSON object"),
        (f"{mixed}:6", "NUL bytes"),
        (f"{binary}:1", "NUL bytes"),
        (f"{latin}:1", "not valid UTF-8"),
        (f"{big}:1", "malformed JSON"),
    ]:
        lines = [ln for ln in res.stdout.splitlines() if where + ":" in ln]
        assert lines and why in lines[0], (where, why, res.stdout[-3000:])

    data = status_json(run_dir)
    stages = {s["stage"]: s for s in data["stages"]}
    ingest = stages["ingest"]
    failures = ingest["failures"]
    assert failures.get("malformed_json") == 2  # mixed:2 and the 10 MB line
    assert failures.get("not_utf8") == 2  # mixed:4 and latin1:1
    assert failures.get("not_an_object") == 1
    assert failures.get("binary") == 2  # mixed:6 and the blob
    assert ingest["passed"] == 4 and ingest["out"] == 4  # the empty file adds nothing
    assert ingest["entered"] == 4 + 7 and ingest["failed"] == 7
    for s in stages.values():
        assert s["entered"] == s["passed"] + s["failed"], s
        assert s["complete"], s
    # the good records went on: each stage takes what the one before it put out
    order = ["ingest", "sample", "prompt", "generate", "verify", "revise"]
    for a, b in zip(order, order[1:], strict=False):
        assert stages[b]["entered"] == stages[a]["out"], (a, b)
    assert stages["sample"]["passed"] >= 3
    assert data["verified"]["samples"] == stages["revise"]["out"] > 0
    assert (run_dir / "export" / "messages.jsonl").stat().st_size > 0
