"""Prompt stage: one output- and one input-prediction task per I/O pair of each function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from codeio.pipeline.base import Stage
from codeio.records import Failure, FunctionRecord
from codeio.store.db import Outcome

__all__ = ["PromptStage"]


class PromptStage(Stage):
    name: ClassVar[str] = "prompt"
    input_model = FunctionRecord

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        from codeio.pipeline.prompt import build_task

        s = self.config.prompt
        out: list[Outcome] = []
        for fn in records:
            if not fn.ios:
                out.append(
                    Outcome(
                        fn.id,
                        failure=Failure(
                            stage=self.name, record_id=fn.id, reason="no_pairs", detail=""
                        ),
                    )
                )
                continue
            n = (
                len(fn.ios)
                if s.pairs_per_function is None
                else min(len(fn.ios), s.pairs_per_function)
            )
            try:
                tasks = [
                    build_task(fn, i, kind, include_code=s.include_code)
                    for i in range(n)
                    for kind in s.kinds
                ]
            except Exception as exc:  # a template that cannot render this record
                out.append(
                    Outcome(
                        fn.id,
                        failure=Failure(
                            stage=self.name,
                            record_id=fn.id,
                            reason="prompt_error",
                            detail=repr(exc),
                        ),
                    )
                )
                continue
            out.append(Outcome(fn.id, outputs=list(tasks), stats={"tasks": float(len(tasks))}))
        return out
