"""The Stage contract: record-in/record-out logic over batches, unaware of where it runs.

A runner ships a Stage object to wherever batches run (this process, a pool, a Ray actor),
calls ``setup()`` there once, then ``process_batch`` per batch, and hands the Outcomes back to
the driver, which alone writes the run store. So a stage holds only picklable config until
``setup()``, and opens its heavy resources (sandbox, LLM client) there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from codeio.store.db import LLMUsage, Outcome

if TYPE_CHECKING:
    from codeio.config import RunConfig
    from codeio.store.db import RunStore

__all__ = ["STAGE_ORDER", "Stage", "usage_of"]

STAGE_ORDER: tuple[str, ...] = (
    "ingest",
    "unify",
    "sample",
    "prompt",
    "generate",
    "verify",
    "revise",
    "export",
)


class Stage(ABC):
    """One step of the method. Subclasses set ``name``/``input_model`` and write process_batch."""

    name: ClassVar[str]
    input_model: ClassVar[type[BaseModel]]
    uses_llm: ClassVar[bool] = False
    uses_sandbox: ClassVar[bool] = False

    def __init__(self, config: RunConfig, run_dir: str) -> None:
        self.config = config
        self.run_dir = run_dir
        self._ready = False

    def setup(self) -> None:
        """Open resources in the process that runs batches; idempotent."""
        if not self._ready:
            self._open()
            self._ready = True

    def _open(self) -> None:  # noqa: B027 - optional hook, most stages need nothing
        """Open heavy resources; called once by ``setup``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what ``_open`` opened."""

    @abstractmethod
    def process_batch(self, records: Sequence[BaseModel]) -> list[Outcome]:
        """One Outcome per input record, in input order; outputs depend only on seed and record."""

    def finalize_batch(self, store: RunStore, outcomes: list[Outcome]) -> list[Outcome]:
        """Driver-side hook before commit (runs where the store is); default: unchanged."""
        return outcomes

    def __getstate__(self) -> dict[str, Any]:
        # Resources never travel: the receiving side opens its own in setup().
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_r_")}
        state["_ready"] = False
        return state


def usage_of(completion: Any) -> LLMUsage:
    """The token counts of a codeio.llm Completion, as stored with the record."""
    return LLMUsage(
        model=str(getattr(completion, "model", "") or ""),
        prompt_tokens=int(getattr(completion, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(completion, "completion_tokens", 0) or 0),
        cached=bool(getattr(completion, "cached", False)),
    )
