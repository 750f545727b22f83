"""Runner: where a stage's batches run. The driver alone reads and writes the run store.

The contract a Ray (or any) runner implements: take a Stage (picklable; it opens its own
resources in ``setup()`` wherever it lands) and an iterable of input batches, and yield
``(batch_index, outcomes)`` as batches finish, in any order. The driver commits each batch in
one transaction, so the order batches finish in never changes what a run produces.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence

from pydantic import BaseModel

from codeio.pipeline.base import Stage
from codeio.store.db import Outcome

__all__ = ["Batch", "Runner"]

Batch = Sequence[BaseModel]


class Runner(ABC):
    """Maps ``stage.process_batch`` over batches; subclasses decide where and how many at once."""

    name: str = ""

    @abstractmethod
    def map_batches(
        self, stage: Stage, batches: Iterable[Batch]
    ) -> Iterator[tuple[int, list[Outcome]]]:
        """Yield ``(index, outcomes)`` per batch; outcomes in the batch's input order.

        Implementations must pull ``batches`` lazily (it streams from the store) and keep only
        a bounded number in flight.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_outcomes(stage: Stage, batch: Batch, outcomes: list[Outcome]) -> list[Outcome]:
    """Every input gets exactly one outcome: a stage that loses one is a bug, not a failure."""
    ids = [getattr(r, "id", None) for r in batch]
    got = [o.input_id for o in outcomes]
    if ids != got:
        raise RuntimeError(
            f"stage {stage.name!r} returned outcomes for {len(got)} of {len(ids)} inputs"
            " (or out of order)"
        )
    return outcomes
