"""``codeio verify`` end to end on the reference's own file layout and on codeio's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from codeio.cli.verify_cmd import register

PARSED = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "data"
    / "codeio-demo"
    / "rawcode_1k_parsed.jsonl"
)


def app() -> typer.Typer:
    cli = typer.Typer()

    @cli.callback()
    def _root() -> None:  # keeps "verify" a subcommand, as in the real app
        pass

    register(cli)
    return cli


def records(tmp_path: Path, n: int = 3) -> Path:
    path = tmp_path / "records.jsonl"
    with PARSED.open(encoding="utf-8") as fh:
        path.write_text("".join(next(fh) for _ in range(n)), encoding="utf-8")
    return path


def first_ios(n: int = 3) -> list[list[dict]]:
    with PARSED.open(encoding="utf-8") as fh:
        return [json.loads(next(fh))["ios"] for _ in range(n)]


def run(tmp_path: Path, preds: list[str]) -> tuple[int, str, list[dict]]:
    pred_path = tmp_path / "pred.jsonl"
    pred_path.write_text("\n".join(preds) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "judged.jsonl"
    result = CliRunner().invoke(
        app(),
        [
            "verify",
            "--records",
            str(records(tmp_path)),
            "--predictions",
            str(pred_path),
            "-o",
            str(out),
            "--workers",
            "2",
        ],
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return result.exit_code, result.output, rows


def test_reference_layout(tmp_path: Path) -> None:
    ios = first_ios()
    preds = [
        json.dumps(
            {
                "itemid": 0,
                "ioid": 1,
                "io_pred": "o",
                "extra": "kept",
                "output": f"so {json.dumps({'output': ios[0][1]['output']})}",
            }
        ),
        json.dumps({"itemid": 0, "ioid": 0, "io_pred": "o", "output": '{"output": -12345}'}),
        json.dumps(
            {
                "itemid": 1,
                "ioid": 0,
                "io_pred": "i",
                "output": f"```json\n{json.dumps({'input': ios[1][0]['input']})}\n```",
            }
        ),
        json.dumps({"itemid": 2, "ioid": 0, "io_pred": "i", "output": "no idea"}),
    ]
    code, output, rows = run(tmp_path, preds)
    assert code == 0, output
    assert [r["verdict"] for r in rows] == ["correct", "wrong", "correct", "no_answer"]
    assert rows[0]["extra"] == "kept" and rows[0]["output"].startswith("so ")
    assert rows[0]["extracted"] == ios[0][1]["output"]
    assert rows[1]["feedback"].startswith("[Mismatch]")
    assert rows[3]["extracted"] is None and rows[3]["feedback"].startswith("[Missing]")
    assert "correct" in output and "accuracy" in output


def test_codeio_layout(tmp_path: Path) -> None:
    ios = first_ios()
    preds = [
        json.dumps(
            {
                "itemid": 0,
                "io_index": 2,
                "kind": "output",
                "response": json.dumps({"output": ios[0][2]["output"]}),
            }
        ),
        json.dumps({"itemid": 0, "io_index": 2, "kind": "input", "response": '{"input": {}}'}),
    ]
    code, output, rows = run(tmp_path, preds)
    assert code == 0, output
    assert rows[0]["verdict"] == "correct"
    assert rows[1]["verdict"] == "error" and "missing required" in rows[1]["feedback"]


def test_bad_lines_are_named_counted_and_skipped(tmp_path: Path) -> None:
    preds = [
        "{not json",
        json.dumps({"itemid": 0, "ioid": 0, "io_pred": "o", "output": '{"output": 1}'}),
        json.dumps({"itemid": 99, "ioid": 0, "io_pred": "o", "output": "x"}),
        json.dumps({"itemid": 0, "ioid": 999, "io_pred": "o", "output": "x"}),
        json.dumps({"itemid": 0, "ioid": 0, "io_pred": "x", "output": "x"}),
    ]
    code, output, rows = run(tmp_path, preds)
    assert code == 1
    assert len(rows) == 1
    for line in (1, 3, 4, 5):
        assert f"pred.jsonl:{line}:" in output
    assert "pred.jsonl:2:" not in output
    assert re.search(r"bad prediction lines\W+4\b", output)
