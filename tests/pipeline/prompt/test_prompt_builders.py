"""Prompt builders and templates, on a real record of the demo corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeio.pipeline.prompt import (
    TemplateError,
    build_task,
    load_template,
    render,
    revision_message,
    unify_messages,
    unify_repair_message,
)
from codeio.records import FunctionRecord, IOPair, PredictionTask, RawCode, Verdict

DEMO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "codeio-demo"


def demo_function(line: int = 0) -> FunctionRecord:
    with (DEMO / "rawcode_1k_parsed.jsonl").open(encoding="utf-8") as fh:
        for i, text in enumerate(fh):
            if i == line:
                rec = json.loads(text)
                break
    return FunctionRecord(
        id=FunctionRecord.make_id(rec["refcode"]),
        refcode=rec["refcode"],
        funcname=rec["funcname"],
        io_description=rec["io_requirements"],
        problem=rec["problem_description"],
        ios=[IOPair(**io) for io in rec["ios"]],
    )


def test_output_prediction_task() -> None:
    fn = demo_function()
    task = build_task(fn, 2, "output")
    assert task.id == PredictionTask.make_id(fn.id, 2, "output")
    assert task.pair == fn.ios[2] and task.refcode == fn.refcode and task.kind == "output"
    assert fn.problem in task.prompt and fn.io_description in task.prompt
    assert json.dumps(fn.ios[2].input) in task.prompt
    assert '{"output": <your output>}' in task.prompt
    assert "step by step" in task.prompt
    assert fn.refcode.strip() in task.prompt  # the code hint
    assert "{{" not in task.prompt


def test_input_prediction_task_shows_output_not_input() -> None:
    fn = demo_function()
    task = build_task(fn, 0, "input")
    assert f"\n{json.dumps(fn.ios[0].output)}\n" in task.prompt
    assert json.dumps(fn.ios[0].input) not in task.prompt
    assert '{"input": <your input>}' in task.prompt and "dictionary" in task.prompt
    assert task.id != build_task(fn, 0, "output").id


def test_without_code_hint() -> None:
    fn = demo_function()
    task = build_task(fn, 0, "output", include_code=False)
    assert "def main_solution" not in task.prompt and "reference code" not in task.prompt


def test_nan_and_braces_survive_rendering() -> None:
    fn = FunctionRecord(
        id="f1",
        refcode="def main_solution(s):\n    return {'{{x}}': s}",
        problem="",
        ios=[IOPair(input={"s": "{{problem}}"}, output=float("nan"))],
    )
    out = build_task(fn, 0, "output").prompt
    assert '{"s": "{{problem}}"}' in out  # inserted values are not re-scanned
    assert "main_solution" in out  # a fallback problem text when none is stored
    assert "\nNaN\n" in build_task(fn, 0, "input").prompt


def test_bad_index_and_kind() -> None:
    fn = demo_function()
    with pytest.raises(IndexError):
        build_task(fn, len(fn.ios), "output")
    with pytest.raises(ValueError):
        build_task(fn, 0, "both")  # type: ignore[arg-type]


def test_unify_messages_carry_the_code_and_the_four_sections() -> None:
    raw = RawCode(id="r1", content="def gcd(a, b):\n    return a if not b else gcd(b, a % b)\n")
    messages = unify_messages(raw)
    assert [m.role for m in messages] == ["user"]
    text = messages[0].content
    assert raw.content.strip() in text
    for header in [
        "## Main Function",
        "## Input Output Description",
        "## Input Generator",
        "## Problem Statement",
    ]:
        assert header in text
    assert "input_generator(rng)" in text and "random.Random" in text and "1KB" in text


def test_repair_and_revision_messages() -> None:
    repair = unify_repair_message('The section "## Input Generator" is missing.')
    assert "failed" in repair and 'Input Generator" is missing' in repair
    assert "same four sections" in repair
    verdict = Verdict(status="wrong", feedback="[Mismatch] Your output is not correct!")
    message = revision_message(verdict)
    assert message.startswith("[Mismatch] Your output is not correct!")
    assert "do not repeat" in message


def test_render_checks_placeholders() -> None:
    assert "{{code}}" in load_template("unify")
    with pytest.raises(TemplateError):
        render("unify")
    with pytest.raises(TemplateError):
        render("revision", feedback="x", extra="y")
    with pytest.raises(TemplateError):
        load_template("no_such_template")
