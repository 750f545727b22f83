"""13-gram decontamination: planted overlaps are found, the demo corpus has none vs CRUXEval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeio.evaluate.decontaminate import decontaminate, normalize_tokens

SHARED = Path(__file__).resolve().parents[2] / "../shared/data"
CRUX = SHARED / "cruxeval/cruxeval.jsonl"
DEMO = SHARED / "codeio-demo/rawcode_1k_parsed.jsonl"
pytestmark = pytest.mark.skipif(not CRUX.is_file(), reason="shared data not present")


def _crux_rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in CRUX.read_text().splitlines()]


def test_normalisation_drops_case_punctuation_and_layout() -> None:
    assert normalize_tokens("def F(nums):\n    return nums[0]+1") == [
        "def",
        "f",
        "nums",
        "return",
        "nums",
        "0",
        "1",
    ]


def test_planted_overlaps_are_found_and_excluded(tmp_path: Path) -> None:
    crux = _crux_rows()
    k = next(i for i, r in enumerate(crux) if i > 10 and len(normalize_tokens(r["code"])) > 40)
    planted = crux[k]["code"].replace("    ", "\t").upper()  # layout and case do not hide it
    records = [
        {"id": "clean", "refcode": "def main_solution(x):\n    return x * 2\n"},
        {"id": "copied", "messages": [{"role": "user", "content": "Solve:\n" + planted}]},
        {"id": "short", "refcode": crux[k]["code"].split("\n")[0]},
    ]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = decontaminate(train, [CRUX], exclude=True, report_path=tmp_path / "report.json")
    assert report.overlapping_records == ["copied"]
    hit = report.overlaps[0]
    assert hit.item_id == crux[k]["id"] and hit.benchmark == "cruxeval"
    assert len(hit.ngram.split()) == 13
    kept = [
        json.loads(line)["id"]
        for line in (tmp_path / "train.decontam.jsonl").read_text().splitlines()
    ]
    assert kept == ["clean", "short"]
    assert json.loads((tmp_path / "report.json").read_text())["overlapping_records"] == ["copied"]


@pytest.mark.skipif(not DEMO.is_file(), reason="demo corpus not present")
def test_demo_corpus_has_no_overlap_with_cruxeval() -> None:
    report = decontaminate(DEMO, [CRUX])
    assert report.records_checked == 464 and report.items_checked == 800
    assert report.overlaps == []


def test_cli_reports_and_writes(tmp_path: Path) -> None:
    from codeio.cli.main import app

    train = tmp_path / "t.jsonl"
    train.write_text(
        json.dumps(
            {"id": "x", "text": max((r["code"] for r in _crux_rows()), key=len) + " extra words"}
        )
        + "\n"
    )
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        app, ["decontaminate", str(train), "--against", str(CRUX), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "1 records overlap" in result.output
    assert json.loads(out.read_text())["overlaps"][0]["record_id"] == "x"
