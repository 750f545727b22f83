"""Revise stage (CodeI/O++): wrong answers get the verifier's feedback and another try.

For each attempt whose latest verdict is not ``correct``, up to ``revise.rounds`` rounds of:
prompt, the model's turn, a user turn with ``revision_message(verdict)``, ... -> new answer ->
re-verify. Every turn is kept with its verdict; a correct answer ends the rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from codeio.pipeline.base import Stage
from codeio.pipeline.run.attempt import Attempt
from codeio.pipeline.run.llmcalls import call_many, failure_stats
from codeio.pipeline.run.predict import prediction_request
from codeio.pipeline.run.resources import open_llm
from codeio.pipeline.run.verify import open_claim_checker, open_verifier, process_stats
from codeio.records import Failure, Message, Turn
from codeio.store.db import LLMUsage, Outcome

__all__ = ["REVISABLE", "RevisionStage"]

REVISABLE = frozenset({"wrong", "no_answer", "error", "timeout"})


def revision_messages(attempt: Attempt) -> list[Message]:
    """The conversation so far: prompt, then each turn and the feedback on it."""
    from codeio.pipeline.prompt import revision_message

    msgs = [Message(role="user", content=attempt.task.prompt)]
    for turn in attempt.sample.turns:
        msgs.append(Message(role="assistant", content=turn.response))
        if turn.verdict is not None:
            msgs.append(Message(role="user", content=revision_message(turn.verdict)))
    return msgs


class RevisionStage(Stage):
    name: ClassVar[str] = "revise"
    input_model = Attempt
    uses_llm = True
    uses_sandbox = True

    def _open(self) -> None:
        self._r_llm = open_llm(self.config, self.run_dir)
        self._r_sandbox, self._r_verifier = open_verifier(self.config)
        self._r_checker = open_claim_checker(self.config, self._r_sandbox)

    def close(self) -> None:
        self.__dict__.pop("_r_checker", None)
        for name in ("_r_llm", "_r_sandbox"):
            res = self.__dict__.pop(name, None)
            if res is not None:
                res.close()

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        self.setup()
        current: dict[str, Attempt] = {a.id: a for a in records}
        usage: dict[str, list[LLMUsage]] = {a.id: [] for a in records}
        errors: dict[str, tuple[str, str]] = {}
        for _ in range(self.config.revise.rounds):
            todo = [
                a
                for a in current.values()
                if _needs_revision(a, self.config.revise.on_contradiction) and a.id not in errors
            ]
            if not todo:
                break
            requests = []
            for a in todo:
                verdict = a.sample.turns[-1].verdict
                requests.append(
                    prediction_request(
                        self.config,
                        a.task,
                        revision_messages(a),
                        turn=len(a.sample.turns) + 1,
                        feedback=_feedback(verdict),
                        stage=self.name,
                    )
                )
            answered: list[tuple[Attempt, str]] = []
            for a, res in zip(todo, call_many(self._r_llm, requests), strict=True):
                if res.usage is not None:
                    usage[a.id].append(res.usage)
                if res.text is None:
                    # Keep the earlier turns: the sample stays valid, it just got no revision.
                    errors[a.id] = (res.reason, res.detail)
                else:
                    answered.append((a, res.text))
            turns = list(self._r_verifier.verify_many([(a.task, text) for a, text in answered]))
            if self._r_checker is not None:
                turns = self._r_checker.with_process(
                    [(a.task, t) for (a, _), t in zip(answered, turns, strict=True)]
                )
            for (a, _), turn in zip(answered, turns, strict=True):
                current[a.id] = _with_turn(a, turn)
        out = []
        for a in records:
            final = current[a.id]
            stats = {"revised": float(len(final.sample.turns) > len(a.sample.turns))}
            failure = None
            if a.id in errors:
                # A counted failure that keeps its sample: the turns so far are still valid
                # and exported; a rerun asks the revision again when the reason is retryable.
                reason, detail = errors[a.id]
                stats.update(failure_stats(reason, self.config.llm.max_tokens))
                failure = Failure(
                    stage=self.name, record_id=a.id, reason=f"llm_{reason}", detail=detail
                )
            if stats["revised"]:
                stats.update(process_stats(final.sample.turns[-1], "revised_"))
            out.append(
                Outcome(a.id, outputs=[final], failure=failure, stats=stats, usage=usage[a.id])
            )
        return out


def _needs_revision(a: Attempt, on_contradiction: bool = False) -> bool:
    verdict = a.sample.turns[-1].verdict
    if verdict is None:
        return False
    if verdict.status in REVISABLE:
        return True
    # A right answer reached through wrong steps, when configured (docs/PROCESS.md).
    return on_contradiction and verdict.process is not None and verdict.process.contradicted > 0


def _feedback(verdict: Any) -> str | None:
    """The answer feedback plus, when the steps contradict the trace, the first contradiction."""
    if verdict is None:
        return None
    steps = verdict.process.feedback if verdict.process is not None else ""
    return f"{verdict.feedback}\n{steps}" if steps else verdict.feedback


def _with_turn(a: Attempt, turn: Turn) -> Attempt:
    sample = a.sample.model_copy(update={"turns": [*a.sample.turns, turn]})
    return a.model_copy(update={"sample": sample})
