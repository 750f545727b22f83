"""Unify stage: raw code -> LLM rewrite -> parse -> sample, with a repair loop on failure.

When the rewrite does not parse, does not run, or yields too few pairs, the concrete error goes
back to the LLM (``unify_repair_message``) for up to ``unify.repair_retries`` more tries; the
record's stats say whether a repair recovered it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from codeio.pipeline.base import Stage
from codeio.pipeline.run.llmcalls import call_many, failure_stats, request_seed
from codeio.pipeline.run.resources import open_llm, sampling_params
from codeio.pipeline.run.sample import SamplerHandle
from codeio.records import Failure, FunctionRecord, Message, RawCode
from codeio.store.db import LLMUsage, Outcome

__all__ = ["UnifyStage"]


@dataclass
class _Work:
    raw: RawCode
    messages: list[Message]
    attempts: int = 0
    usage: list[LLMUsage] = field(default_factory=list)
    result: FunctionRecord | None = None
    failure: Failure | None = None


class UnifyStage(Stage):
    name: ClassVar[str] = "unify"
    input_model = RawCode
    uses_llm = True
    uses_sandbox = True

    def _open(self) -> None:
        self._r_llm = open_llm(self.config, self.run_dir)
        self._r_sampler = SamplerHandle(self.config)

    def close(self) -> None:
        for name in ("_r_sampler", "_r_llm"):
            res = self.__dict__.pop(name, None)
            if res is not None:
                res.close()

    def process_batch(self, records: Sequence[Any]) -> list[Outcome]:
        from codeio.pipeline.prompt import unify_messages, unify_repair_message

        self.setup()
        work = [_Work(raw=r, messages=list(unify_messages(r))) for r in records]
        pending = list(work)
        tries = 1 + self.config.unify.repair_retries
        for attempt in range(tries):
            if not pending:
                break
            requests = [self._request(w, attempt) for w in pending]
            results = call_many(self._r_llm, requests)
            parsed: list[tuple[_Work, str, FunctionRecord]] = []
            for w, res in zip(pending, results, strict=True):
                w.attempts = attempt + 1
                if res.usage is not None:
                    w.usage.append(res.usage)
                if res.text is None:
                    # An LLM error is not the code's fault: repairing it makes no sense.
                    w.failure = Failure(
                        stage=self.name,
                        record_id=w.raw.id,
                        reason=f"llm_{res.reason}",
                        detail=res.detail,
                    )
                    continue
                fn_or_fail = self._parse(w.raw, res.text)
                if isinstance(fn_or_fail, Failure):
                    w.failure = fn_or_fail
                    w.messages += [Message(role="assistant", content=res.text)]
                else:
                    parsed.append((w, res.text, fn_or_fail))
            sampled = self._r_sampler.sample_many([fn for _, _, fn in parsed])
            for (w, text, _), out in zip(parsed, sampled, strict=True):
                if isinstance(out, Failure):
                    w.failure = out.model_copy(update={"stage": self.name, "record_id": w.raw.id})
                    w.messages += [Message(role="assistant", content=text)]
                elif len(out.ios) < self.config.unify.min_pairs:
                    w.failure = Failure(
                        stage=self.name,
                        record_id=w.raw.id,
                        reason="too_few_pairs",
                        detail=f"the input generator yielded {len(out.ios)} distinct pairs",
                    )
                    w.messages += [Message(role="assistant", content=text)]
                else:
                    w.result, w.failure = out, None
            retry = [
                w
                for w in pending
                if w.failure is not None and not w.failure.reason.startswith("llm_")
            ]
            if attempt + 1 < tries:
                for w in retry:
                    error = f"{w.failure.reason}: {w.failure.detail}" if w.failure else ""
                    w.messages.append(Message(role="user", content=unify_repair_message(error)))
            pending = retry
        return [self._outcome(w) for w in work]

    def _request(self, w: _Work, attempt: int) -> Any:
        from codeio.llm import LLMRequest

        params = sampling_params(
            self.config, seed=request_seed(self.config.seed, w.raw.id, attempt)
        )
        context: dict[str, Any] = {"task": "unify", "content": w.raw.content}
        if attempt:
            context.update(turn=attempt + 1, feedback=w.messages[-1].content)
        return LLMRequest(messages=w.messages, params=params, stage=self.name, context=context)

    def _parse(self, raw: RawCode, text: str) -> FunctionRecord | Failure:
        from codeio.pipeline.unify.parse import UnifyParseError, parse_unify_response

        try:
            parts = parse_unify_response(text)
        except UnifyParseError as exc:
            return Failure(
                stage=self.name,
                record_id=raw.id,
                reason=str(getattr(exc, "reason", "parse_error")),
                detail=str(getattr(exc, "message", exc)),
            )
        return FunctionRecord(
            id=FunctionRecord.make_id(parts.refcode, parts.inputgen),
            refcode=parts.refcode,
            inputgen=parts.inputgen,
            io_description=parts.io_description,
            problem=parts.problem,
            raw_id=raw.id,
            meta={"source": raw.source, **({"raw_meta": raw.meta} if raw.meta else {})},
        )

    def _outcome(self, w: _Work) -> Outcome:
        stats = {"attempts": float(w.attempts)}
        if w.result is not None:
            repaired = w.attempts > 1
            stats["repaired"] = float(repaired)
            meta = {**w.result.meta, "unify_attempts": w.attempts, "sampled_in_unify": True}
            return Outcome(
                w.raw.id,
                outputs=[w.result.model_copy(update={"meta": meta})],
                stats=stats,
                usage=w.usage,
            )
        assert w.failure is not None
        stats["repair_tried"] = float(w.attempts > 1)
        if w.failure.reason.startswith("llm_"):
            stats.update(failure_stats(w.failure.reason[4:], self.config.llm.max_tokens))
        return Outcome(w.raw.id, failure=w.failure, stats=stats, usage=w.usage)
