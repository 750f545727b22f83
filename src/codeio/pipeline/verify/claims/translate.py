"""An LLM translator over the trace teacher: fluent reasoning, accepted only when it stays true.

The offline trace teacher narrates the real trace in a fixed template. A configured LLM may
rewrite that narration into natural reasoning; the claim checker then reads the rewrite against
the same trace. A rewrite is accepted only if it keeps the final answer and no claim in it is
contradicted; otherwise the template narration is kept and the reason is counted
(``llm_error``, ``no_answer``, ``answer_changed``, ``contradicted``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from codeio.pipeline.verify.claims.checker import ClaimChecker
from codeio.pipeline.verify.compare import values_equal
from codeio.pipeline.verify.extract import extract_answer
from codeio.records import ClaimCheck, Message, PredictionTask, ProcessVerdict

__all__ = ["TRANSLATE_INSTRUCTIONS", "TraceTranslator", "Translation"]

TRANSLATE_INSTRUCTIONS = (
    "Rewrite the following step-by-step execution notes as natural, fluent reasoning, the way a "
    "careful person would think through the code. Keep every concrete value exactly as it is "
    "(do not invent or change any number, list, string or true/false), keep the order of the "
    "steps, and end with the same final JSON answer block, unchanged."
)


@dataclass(frozen=True)
class Translation:
    text: str
    """The accepted rewrite, or the template narration when the rewrite was rejected."""
    accepted: bool
    reason: str
    """``accepted`` or why the rewrite was rejected."""
    process: ProcessVerdict | None = None
    """The checker's verdict on the rewrite (None when it was not checked)."""
    completion: Any = None
    """The LLM's completion (for token usage), None when the call failed."""


class TraceTranslator:
    """Rewrites trace-teacher rationales with ``client`` (a codeio.llm client) and checks them."""

    def __init__(
        self,
        client: Any,
        checker: ClaimChecker,
        *,
        params: Any = None,
        instructions: str = TRANSLATE_INSTRUCTIONS,
    ) -> None:
        from codeio.llm import SamplingParams

        self.client = client
        self.checker = checker
        self.params = params or SamplingParams(temperature=0.3, max_tokens=4096)
        self.instructions = instructions
        self.counts: Counter[str] = Counter()

    def request(self, template: str) -> Any:
        from codeio.llm import LLMRequest

        prompt = f"{self.instructions}\n\n---\n{template}\n---"
        return LLMRequest(
            messages=[Message(role="user", content=prompt)], params=self.params, stage="translate"
        )

    def translate_many(self, items: Sequence[tuple[PredictionTask, str]]) -> list[Translation]:
        """One translation per (task, template rationale), in order."""
        from codeio.errors import LLMError

        results = self.client.complete_many([self.request(text) for _, text in items])
        out = []
        for (task, template), res in zip(items, results, strict=True):
            if isinstance(res, LLMError) or not getattr(res, "text", None):
                out.append(Translation(template, False, "llm_error"))
            else:
                out.append(replace(self.judge(task, template, res.text), completion=res))
            self.counts[out[-1].reason] += 1
        return out

    def translate(self, task: PredictionTask, template: str) -> Translation:
        return self.translate_many([(task, template)])[0]

    def judge(self, task: PredictionTask, template: str, rewrite: str) -> Translation:
        """Accept ``rewrite`` only when it keeps the template's answer and introduces no
        contradicted claim (a slip the template itself makes, told again, is not new)."""
        want = extract_answer(template, task.kind)
        got = extract_answer(rewrite, task.kind)
        if not got.found:
            return Translation(template, False, "no_answer")
        if not want.found or not values_equal(got.value, want.value):
            return Translation(template, False, "answer_changed")
        if task.kind == "output":
            kwargs, expected = dict(task.pair.input), task.pair.output
        elif isinstance(want.value, dict):
            kwargs, expected = dict(want.value), task.pair.output
        else:
            return Translation(template, False, "answer_changed")
        process = self.checker.check_text(
            rewrite, task.refcode, task.funcname, kwargs, kind=task.kind, expected=expected
        )
        if process.contradicted:
            before = self.checker.check_text(
                template, task.refcode, task.funcname, kwargs, kind=task.kind, expected=expected
            )
            known = {_key(c) for c in before.claims if c.status == "contradicted"}
            listed = [c for c in process.claims if c.status == "contradicted"]
            if len(listed) < process.contradicted or any(_key(c) not in known for c in listed):
                return Translation(template, False, "contradicted", process)
        return Translation(rewrite, True, "accepted", process)


def _key(check: ClaimCheck) -> tuple[str, str, str, str]:
    return check.kind, check.name, check.claimed, check.where
