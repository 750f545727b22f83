"""``codeio eval`` under faults: pass@k over every item, missing ones named, a rerun fills them.

A real loopback OpenAI-compatible server answers each CRUXEval-style item correctly, except
where a fault is injected: two items get a malformed / empty body (no answer), one an answer
cut at max_tokens. The server counts every request it sees.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
from fake_openai_server import FakeOpenAIServer, ServerState  # noqa: E402

from codeio.cli.main import app  # noqa: E402
from codeio.exit_codes import OK, RETRY_PENDING  # noqa: E402

ROWS = [
    {"id": f"s{i}", "code": f"def f(x):\n    return x * {i} + {i}", "input": str(i + 1),
     "output": str((i + 1) * i + i)}
    for i in range(6)
]  # fmt: skip
FAULTS = {"s1": "malformed", "s2": "empty", "s4": "length"}


def _row_of(body: dict[str, Any]) -> dict[str, str]:
    prompt = body["messages"][-1]["content"]
    return next(r for r in ROWS if r["code"] in prompt)


def _answer(body: dict[str, Any]) -> str:
    row = _row_of(body)
    return f"Step by step.\n[ANSWER]\nassert f({row['input']}) == {row['output']}\n[/ANSWER]"


def _eval(data: Path, out: Path, base_url: str) -> tuple[int, dict[str, Any]]:
    res = CliRunner().invoke(
        app,
        ["eval", "--benchmark", "cruxeval-o", "--llm", "openai:m", "--data", str(data),
         "--out", str(out), "--base-url", base_url, "--workers", "2", "--concurrency", "4"],
    )  # fmt: skip
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, json.loads((out / "summary.json").read_text())


def test_eval_scores_every_item_and_a_rerun_asks_the_missing_ones(tmp_path: Path) -> None:
    data = tmp_path / "crux.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    state = ServerState(
        responder=_answer, fault_fn=lambda _i, body: FAULTS.get(_row_of(body)["id"])
    )
    with FakeOpenAIServer(state) as srv:
        code, summary = _eval(data, tmp_path / "out", srv.base_url)
        assert code == RETRY_PENDING
        assert srv.state.count() == 6
        # Over all 6 problems: the 2 without an answer count as wrong; the cut answer is
        # judged as written (it holds the whole assert here).
        assert summary["problems"] == 6 and summary["answered_problems"] == 4
        assert summary["pass_at_k"]["pass@1"] == 4 / 6
        assert summary["missing"] == 2
        assert summary["missing_reasons"] == {"malformed": 2}
        assert summary["truncated"] == 1

        srv.state.fault_fn = None  # the endpoint behaves again
        srv.state.reset_log()
        code, summary = _eval(data, tmp_path / "out", srv.base_url)
        assert code == OK
        # Only the two missing responses and the cut one were asked again.
        asked = sorted(_row_of(a.body)["id"] for a in srv.state.log)
        assert asked == ["s1", "s2", "s4"]
        assert summary["pass_at_k"]["pass@1"] == 1.0
        assert summary["missing"] == 0 and summary["truncated"] == 0
        rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").open()]
        assert len(rows) == 4 + 3  # the cut answer's row was superseded, not rewritten
