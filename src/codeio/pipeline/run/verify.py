"""Verify stage: check the latest turn of each attempt by execution (codeio.pipeline.verify)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from codeio.pipeline.base import Stage
from codeio.pipeline.run.attempt import Attempt
from codeio.pipeline.run.resources import open_sandbox
from codeio.store.db import Outcome

__all__ = ["VerifyStage", "open_verifier"]


def open_verifier(config: Any) -> tuple[Any, Any]:
    """(sandbox, Verifier) configured from RunConfig; close the sandbox when done."""
    from codeio.pipeline.verify import Verifier

    sandbox = open_sandbox(config)
    return sandbox, Verifier(sandbox, rel_tol=config.verify.rel_tol, abs_tol=config.verify.abs_tol)


class VerifyStage(Stage):
    name: ClassVar[str] = "verify"
    input_model = Attempt
    uses_sandbox = True

    def _open(self) -> None:
        self._r_sandbox, self._r_verifier = open_verifier(self.config)

    def close(self) -> None:
        sb = self.__dict__.pop("_r_sandbox", None)
        self.__dict__.pop("_r_verifier", None)
        if sb is not None:
            sb.close()

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        self.setup()
        attempts: list[Attempt] = list(records)
        items = [(a.task, a.sample.turns[-1].response) for a in attempts]
        out: list[Outcome] = []
        for a, turn in zip(attempts, self._r_verifier.verify_many(items), strict=True):
            sample = a.sample.model_copy(update={"turns": [*a.sample.turns[:-1], turn]})
            status = turn.verdict.status if turn.verdict else "none"
            out.append(
                Outcome(
                    a.id,
                    outputs=[a.model_copy(update={"sample": sample})],
                    stats={f"turn1_{status}": 1.0},
                )
            )
        return out
