"""Process verdicts end to end: a real run against a loopback OpenAI-compatible model.

The model answers every output prediction with the right value reached through wrong steps
("the loop runs 99 times"). The verify stage must store a process verdict with the contradiction,
``revise.on_contradiction`` must send it back as feedback (without revealing the answer), the
model's second turn (faithful steps) must come out clean, and ``export --process`` and the
report must use the verdicts.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from runhelp import EVEN_SUM, run_codeio  # type: ignore[import-not-found]

CODE = EVEN_SUM
INPUTS = [[3, 4, 6], [2, 5, 8, 10], [1, 1], [6]]

pytestmark = pytest.mark.slow


def _reply(prompt: str, body: dict[str, Any]) -> str:
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    nums = json.loads(re.search(r'"nums": (\[[^\]]*\])', users[0]).group(1))  # type: ignore[union-attr]
    total = sum(x for x in nums if x % 2 == 0)
    answer = f'```json\n{{"output": {total}}}\n```'
    if len(users) == 1:  # first turn: right answer, wrong steps
        return f"The loop runs 99 times and total ends at {total}. So the output is {total}.\n\n{answer}"
    steps = f"The loop runs {len(nums)} times; after the loop total = {total}."
    return f"Tracing again carefully. {steps} So the output is {total}.\n\n{answer}"


def _run(tmp_path: Path, name: str, base_url: str, rounds: int) -> Path:
    data = tmp_path / "ios.jsonl"
    if not data.exists():
        ios = [{"input": {"nums": n}, "output": sum(x for x in n if x % 2 == 0)} for n in INPUTS]
        data.write_text(
            json.dumps({"refcode": CODE, "funcname": "main_solution", "ios": ios}) + "\n"
        )
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(
        "seed: 1\n"
        f"input:\n  path: {data}\n  kind: ios\n"
        f"llm:\n  spec: openai:fake-model\n  base_url: {base_url}\n  api_key_env: ''\n"
        "  max_retries: 0\n"
        "exec:\n  workers: 2\n"
        "prompt:\n  kinds: [output]\n"
        f"revise:\n  rounds: {rounds}\n  on_contradiction: true\n"
        "export:\n  report: true\n"
    )
    run_dir = tmp_path / name
    res = run_codeio("run", str(cfg), "--out", str(run_dir), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return run_dir


def _samples(run_dir: Path) -> list[dict[str, Any]]:
    from codeio.pipeline.export.source import RunSource

    with RunSource(run_dir) as source:
        return [s.model_dump(mode="json") for s in source.samples()]


def test_right_answer_wrong_steps_is_caught_revised_exported_and_reported(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
    from fake_openai_server import FakeOpenAIServer, ServerState  # type: ignore[import-not-found]

    state = ServerState(reply=_reply)
    with FakeOpenAIServer(state) as server:
        revised = _run(tmp_path, "revised", server.base_url, rounds=1)
        single = _run(tmp_path, "single", server.base_url, rounds=0)

    samples = _samples(revised)
    assert len(samples) == len(INPUTS)
    for sample in samples:
        first, second = sample["turns"]
        assert first["verdict"]["status"] == "correct"
        process = first["verdict"]["process"]
        assert process["contradicted"] == 1 and process["supported"] >= 1
        bad = process["first_contradiction"]
        assert bad["kind"] == "loop_count" and bad["claimed"] == "99"
        assert process["feedback"].startswith("[Steps] You said the loop runs 99 times")
        assert second["verdict"]["status"] == "correct"
        assert second["verdict"]["process"]["contradicted"] == 0
        assert second["verdict"]["process"]["supported"] >= 3
    # The contradiction went back to the model as feedback, never the expected output.
    revision_prompts = [a.prompt for a in state.log if "[Steps]" in a.prompt]
    assert len(revision_prompts) == len(INPUTS)
    assert all("tracing the code shows" in p for p in revision_prompts)

    # Without revision the wrong steps stay: strict drops them, lenient marks them.
    res = run_codeio("export", str(single), "--process", "strict", "-o", str(tmp_path / "s.jsonl"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "s.jsonl").read_text() == ""
    assert f"{len(INPUTS)} by process" in res.stdout
    res = run_codeio("export", str(single), "--process", "lenient", "-o", str(tmp_path / "l.jsonl"))
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert len(rows) == len(INPUTS)
    assert all(r["process"]["contradicted"] == 1 and r["process"]["checked"] for r in rows)
    res = run_codeio("export", str(revised), "--process", "strict", "-o", str(tmp_path / "r.jsonl"))
    assert res.returncode == 0, res.stderr
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == len(INPUTS)
    res = run_codeio("export", str(single), "--process", "sometimes")
    assert res.returncode != 0 and "--process" in res.stderr + res.stdout

    html = (single / "report.html").read_text()
    assert 'id="process"' in html and "right answer, wrong steps" in html
    assert html.count('<mark class="bad"') >= 1 and "The loop runs 99 times" in html
