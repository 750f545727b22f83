"""LocalRunner: runs batches in this process, one at a time.

Parallelism comes from inside the stage: the sandbox's worker processes and the LLM client's
concurrent requests. Running batches in order keeps memory to one batch and makes a kill cost
at most one uncommitted batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from codeio.pipeline.base import Stage
from codeio.runners.base import Batch, Runner, check_outcomes
from codeio.store.db import Outcome

__all__ = ["LocalRunner"]


class LocalRunner(Runner):
    name = "local"

    def __init__(self) -> None:
        self._stages: list[Stage] = []

    def map_batches(
        self, stage: Stage, batches: Iterable[Batch]
    ) -> Iterator[tuple[int, list[Outcome]]]:
        stage.setup()
        self._stages.append(stage)
        for index, batch in enumerate(batches):
            yield index, check_outcomes(stage, batch, stage.process_batch(batch))

    def close(self) -> None:
        while self._stages:
            self._stages.pop().close()
