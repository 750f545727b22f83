"""Generate stage: the model's first answer to each prediction task (verified by the next stage)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from codeio.pipeline.base import Stage
from codeio.pipeline.run.attempt import Attempt
from codeio.pipeline.run.llmcalls import call_many, failure_stats
from codeio.pipeline.run.predict import prediction_request
from codeio.pipeline.run.resources import open_llm
from codeio.records import Failure, Message, PredictionTask, Sample, Turn
from codeio.store.db import Outcome

__all__ = ["GenerateStage"]


class GenerateStage(Stage):
    name: ClassVar[str] = "generate"
    input_model = PredictionTask
    uses_llm = True

    def _open(self) -> None:
        self._r_llm = open_llm(self.config, self.run_dir)

    def close(self) -> None:
        res = self.__dict__.pop("_r_llm", None)
        if res is not None:
            res.close()

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        self.setup()
        tasks: list[PredictionTask] = list(records)
        requests = [
            prediction_request(
                self.config,
                t,
                [Message(role="user", content=t.prompt)],
                turn=1,
                feedback=None,
                stage=self.name,
            )
            for t in tasks
        ]
        out: list[Outcome] = []
        for t, res in zip(tasks, call_many(self._r_llm, requests), strict=True):
            usage = [res.usage] if res.usage is not None else []
            if res.text is None:
                out.append(
                    Outcome(
                        t.id,
                        failure=Failure(
                            stage=self.name,
                            record_id=t.id,
                            reason=f"llm_{res.reason}",
                            detail=res.detail,
                        ),
                        usage=usage,
                        stats=failure_stats(res.reason, self.config.llm.max_tokens),
                    )
                )
                continue
            sample = Sample(
                task_id=t.id,
                func_id=t.func_id,
                kind=t.kind,
                prompt=t.prompt,
                turns=[Turn(response=res.text)],
                model=res.model,
            )
            out.append(
                Outcome(t.id, outputs=[Attempt(id=t.id, task=t, sample=sample)], usage=usage)
            )
        return out
