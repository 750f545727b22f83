"""CRUXEval output (``cruxeval-o``) and input (``cruxeval-i``) prediction, scored by execution."""

from __future__ import annotations

import ast
import functools
import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from codeio import ast_safe
from codeio.errors import InputError, require
from codeio.evaluate.benchmarks import crux_harness
from codeio.evaluate.benchmarks.base import Benchmark, EvalItem, Judgement, read_jsonl
from codeio.evaluate.benchmarks.crux_answer import check_prediction, extract_cruxeval
from codeio.evaluate.benchmarks.cruxeval_prompts import input_prompt, output_prompt
from codeio.exec.limits import ExecLimits
from codeio.exec.result import Status
from codeio.records import Message

if TYPE_CHECKING:
    from codeio.exec import Sandbox

__all__ = ["CruxEvalInput", "CruxEvalOutput", "load_cruxeval_rows", "trace_context"]

HF_DATASET = "cruxeval-org/cruxeval"
_ENTRY = "codeio_cruxeval_check"
_WRAPPER = "codeio_cruxeval_call"
# Upstream gives each check 3 seconds; a little more absorbs a busy machine.
_LIMITS = ExecLimits(timeout_s=5.0, memory_mb=1024)


@functools.lru_cache(maxsize=1)
def _harness_source() -> str:
    return inspect.getsource(crux_harness)


def load_cruxeval_rows(data: Path | None) -> list[dict[str, str]]:
    """Rows ``{id, code, input, output}`` from a local JSONL, or (online) the HF dataset."""
    if data is None:
        datasets = require("datasets", "hf", "loading CRUXEval from the Hugging Face hub")
        raw = [dict(row) for row in datasets.load_dataset(HF_DATASET, split="test")]
    else:
        raw = [row for _, row in read_jsonl(data)]
    rows = []
    for i, row in enumerate(raw):
        missing = [k for k in ("code", "input", "output") if not isinstance(row.get(k), str)]
        if missing:
            raise InputError(f"CRUXEval row lacks {', '.join(missing)}", path=str(data), line=i + 1)
        rows.append(
            {
                "id": str(row.get("id") or f"sample_{i}"),
                "code": row["code"],
                "input": row["input"],
                "output": row["output"],
            }
        )
    return rows


def trace_context(row: dict[str, str], kind: str) -> dict[str, Any]:
    """``request.context`` for the offline trace teacher.

    The teacher calls ``funcname(**input)`` with JSON values; CRUXEval's positional Python
    literals are bound to ``f``'s parameters when JSON can carry them exactly, otherwise a
    zero-argument wrapper that makes the call is added. ``args_literal`` always holds the
    original argument list and ``answer_format="python"`` asks for a Python-literal answer.
    """
    context: dict[str, Any] = {
        "task": "predict",
        "kind": kind,
        "args_literal": row["input"],
        "output_literal": row["output"],
        "answer_format": "python",
        "benchmark": "cruxeval",
    }
    kwargs = _as_kwargs(row["code"], row["input"])
    if kwargs is not None:
        context.update(refcode=row["code"], funcname="f", input=kwargs)
    else:
        wrapper = f"\n\ndef {_WRAPPER}():\n    return f({row['input']})\n"
        context.update(refcode=row["code"].rstrip() + wrapper, funcname=_WRAPPER, input={})
    try:
        context["output"] = _json_exact(ast_safe.literal_eval(row["output"]))
    except (ValueError, SyntaxError, TypeError, _NotJson):
        pass  # not JSON-exact: output_literal still carries it
    return context


class _NotJson(Exception):
    pass


def _json_exact(value: Any) -> Any:
    """``value`` if JSON round-trips it unchanged (no tuples, sets, bytes), else raise."""
    try:
        back = json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise _NotJson from exc
    if back != value or repr(back) != repr(value):
        raise _NotJson
    return value


def _as_kwargs(code: str, input_src: str) -> dict[str, Any] | None:
    try:
        args = ast_safe.literal_eval(f"({input_src},)")
        tree = ast_safe.parse(code)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    func = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "f"), None)
    if func is None or func.args.vararg or func.args.posonlyargs:
        return None
    names = [a.arg for a in func.args.args]
    if len(args) > len(names):
        return None
    try:
        return {name: _json_exact(value) for name, value in zip(names, args, strict=False)}
    except _NotJson:
        return None


class _CruxEval(Benchmark):
    kind: ClassVar[str] = "output"
    needs_data: ClassVar[bool] = False

    def load(self, data: Path | None) -> list[EvalItem]:
        items = []
        for row in load_cruxeval_rows(data):
            if self.kind == "output":
                prompt = output_prompt(row["code"], row["input"], cot=self.cot)
            else:
                prompt = input_prompt(row["code"], row["output"], cot=self.cot)
            items.append(
                EvalItem(
                    id=row["id"],
                    messages=[Message(role="user", content=prompt)],
                    kind=self.kind,
                    group=row["id"],
                    context=trace_context(row, self.kind),
                    truth={"code": row["code"], "input": row["input"], "output": row["output"]},
                )
            )
        return items

    def judge(self, pairs: Sequence[tuple[EvalItem, str]], sandbox: Sandbox) -> list[Judgement]:
        from codeio.exec import ExecTask

        results: list[Judgement | None] = [None] * len(pairs)
        jobs: list[tuple[int, str, ExecTask]] = []
        kind = "output" if self.kind == "output" else "input"
        for i, (item, response) in enumerate(pairs):
            answer = extract_cruxeval(response, kind)
            if not answer.found or answer.text is None:
                results[i] = Judgement("no_answer", None, answer.note)
                continue
            problem = check_prediction(answer.text, kind)
            if problem is not None:
                results[i] = Judgement("rejected", answer.text, f"the answer {problem}")
                continue
            kwargs = {
                "code": item.truth["code"],
                "kind": kind,
                "input_src": item.truth["input"],
                "output_src": item.truth["output"],
                "prediction": answer.text,
            }
            task = ExecTask(code=_harness_source(), entry=_ENTRY, kwargs=kwargs, limits=_LIMITS)
            jobs.append((i, answer.text, task))
        runs = sandbox.map([job for _, _, job in jobs], ordered=True)
        for (i, text, _), result in zip(jobs, runs, strict=True):
            results[i] = _to_judgement(text, result)
        return [r for r in results if r is not None]


def _to_judgement(text: str, result: Any) -> Judgement:
    if result.status is Status.OK and isinstance(result.value, dict):
        value = result.value
        actual = value.get("actual")
        detail = value.get("detail") or (f"f gave {actual}" if actual is not None else "")
        return Judgement(value.get("status", "error"), text, detail)
    if result.status is Status.TIMEOUT:
        return Judgement("timeout", text, "the check ran out of time")
    what = result.error_type or result.status.value
    return Judgement("error", text, f"{what}: {result.error_message or ''}".strip())


class CruxEvalOutput(_CruxEval):
    """Predict ``f(input)``; right when it equals the stored output."""

    name: ClassVar[str] = "cruxeval-o"
    kind: ClassVar[str] = "output"


class CruxEvalInput(_CruxEval):
    """Predict an input; right when ``f`` of it equals the stored output."""

    name: ClassVar[str] = "cruxeval-i"
    kind: ClassVar[str] = "input"
