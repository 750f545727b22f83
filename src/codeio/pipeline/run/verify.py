"""Verify stage: check the latest turn of each attempt by execution (codeio.pipeline.verify)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from codeio.pipeline.base import Stage
from codeio.pipeline.run.attempt import Attempt
from codeio.pipeline.run.resources import open_sandbox
from codeio.store.db import Outcome

__all__ = [
    "VerifyStage",
    "open_claim_checker",
    "open_claim_checker_always",
    "open_verifier",
    "process_stats",
]


def open_verifier(config: Any) -> tuple[Any, Any]:
    """(sandbox, Verifier) configured from RunConfig; close the sandbox when done."""
    from codeio.pipeline.verify import Verifier

    sandbox = open_sandbox(config)
    return sandbox, Verifier(sandbox, rel_tol=config.verify.rel_tol, abs_tol=config.verify.abs_tol)


def open_claim_checker(config: Any, sandbox: Any) -> Any:
    """The process checker (claims vs. trace) on ``sandbox``, or None when verify.process is off."""
    if not config.verify.process:
        return None
    return open_claim_checker_always(config, sandbox)


def open_claim_checker_always(config: Any, sandbox: Any) -> Any:
    """The claim checker on ``sandbox`` with the run's exec limits, whatever verify.process says."""
    from codeio.exec import ExecLimits
    from codeio.pipeline.verify.claims import ClaimChecker

    limits = ExecLimits(timeout_s=config.exec.timeout_s, memory_mb=config.exec.memory_mb)
    return ClaimChecker(sandbox, limits=limits)


def process_stats(turn: Any, prefix: str) -> dict[str, float]:
    """Counters of one turn's process verdict for the stage's stats table."""
    process = turn.verdict.process if turn.verdict is not None else None
    if process is None:
        return {}
    stats = {
        f"{prefix}claims_{k}": float(getattr(process, k))
        for k in ("supported", "contradicted", "unverifiable")
    }
    if process.contradicted:
        stats[f"{prefix}steps_contradicted"] = 1.0
        if turn.verdict.status == "correct":
            stats[f"{prefix}right_answer_wrong_steps"] = 1.0
    return stats


class VerifyStage(Stage):
    name: ClassVar[str] = "verify"
    input_model = Attempt
    uses_sandbox = True

    def _open(self) -> None:
        self._r_sandbox, self._r_verifier = open_verifier(self.config)
        self._r_checker = open_claim_checker(self.config, self._r_sandbox)

    def close(self) -> None:
        sb = self.__dict__.pop("_r_sandbox", None)
        self.__dict__.pop("_r_verifier", None)
        self.__dict__.pop("_r_checker", None)
        if sb is not None:
            sb.close()

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        self.setup()
        attempts: list[Attempt] = list(records)
        items = [(a.task, a.sample.turns[-1].response) for a in attempts]
        out: list[Outcome] = []
        turns = list(self._r_verifier.verify_many(items))
        if self._r_checker is not None:
            turns = self._r_checker.with_process(
                [(a.task, t) for a, t in zip(attempts, turns, strict=True)]
            )
        for a, turn in zip(attempts, turns, strict=True):
            sample = a.sample.model_copy(update={"turns": [*a.sample.turns[:-1], turn]})
            status = turn.verdict.status if turn.verdict else "none"
            out.append(
                Outcome(
                    a.id,
                    outputs=[a.model_copy(update={"sample": sample})],
                    stats={f"turn1_{status}": 1.0, **process_stats(turn, "turn1_")},
                )
            )
        return out
