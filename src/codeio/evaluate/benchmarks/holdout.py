"""``codeio-holdout``: the held-out tasks ``codeio export --holdout`` writes, judged by the Verifier.

The prompt is the pipeline's own (it asks for ``{"output": ...}`` / ``{"input": ...}``), so
``--cot``/``--direct`` does not change it; the judge is the same Verifier the pipeline uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError

from codeio.errors import ConfigError, InputError
from codeio.evaluate.benchmarks.base import Benchmark, EvalItem, Judgement, read_jsonl
from codeio.pipeline.prompt import teacher_context
from codeio.records import IOPair, Message, PredictionTask

if TYPE_CHECKING:
    from codeio.exec import Sandbox

__all__ = ["HoldoutBenchmark", "holdout_task"]


def holdout_task(row: dict[str, Any]) -> PredictionTask:
    """A holdout.jsonl row back as the PredictionTask it was written from.

    ``pair`` is JSON text; files written before it was (an object) are still read.
    """
    pair = row.get("pair") or {}
    if isinstance(pair, str):
        pair = json.loads(pair)
    if not isinstance(pair, dict):
        raise ValueError(f"pair must be a JSON object, got {type(pair).__name__}")
    return PredictionTask(
        id=str(row["id"]),
        func_id=str(row["func_id"]),
        io_index=int(row["io_index"]),
        kind=row["kind"],
        prompt=row["prompt"],
        pair=IOPair(input=pair.get("input", {}), output=pair.get("output")),
        refcode=row["refcode"],
        funcname=row.get("funcname", "main_solution"),
    )


class HoldoutBenchmark(Benchmark):
    name: ClassVar[str] = "codeio-holdout"

    def load(self, data: Path | None) -> list[EvalItem]:
        if data is None:
            raise ConfigError("codeio-holdout needs --data PATH (the holdout.jsonl export wrote)")
        items = []
        for lineno, row in read_jsonl(data):
            try:
                task = holdout_task(row)
            except (KeyError, TypeError, ValueError, ValidationError) as exc:
                raise InputError(f"not a holdout row: {exc}", path=str(data), line=lineno) from exc
            items.append(
                EvalItem(
                    id=task.id,
                    messages=[Message(role="user", content=task.prompt)],
                    kind=task.kind,
                    group=task.id,
                    context=teacher_context(task),
                    truth={"task": task},
                )
            )
        return items

    def judge(self, pairs: Sequence[tuple[EvalItem, str]], sandbox: Sandbox) -> list[Judgement]:
        from codeio.pipeline.verify import Verifier

        verifier = Verifier(sandbox)
        work = [(item.truth["task"], response) for item, response in pairs]
        out = []
        for turn in verifier.verify_many(work, on_sandbox_error="unverified"):
            answer = _as_text(turn.answer) if turn.has_answer else None
            if turn.verdict is None:
                out.append(Judgement("error", answer, "the sandbox failed on this check"))
                continue
            detail = turn.verdict.detail or turn.verdict.feedback
            out.append(Judgement(turn.verdict.status, answer, detail))
        return out


def _as_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)
