"""Generate stage: the model's first answer to each prediction task (verified by the next stage)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from codeio.pipeline.base import Stage, usage_of
from codeio.pipeline.run.attempt import Attempt
from codeio.pipeline.run.llmcalls import call_many, failure_stats
from codeio.pipeline.run.predict import prediction_request
from codeio.pipeline.run.resources import open_llm, open_sandbox
from codeio.records import Failure, Message, PredictionTask, Sample, Turn
from codeio.store.db import Outcome

__all__ = ["TRANSLATE_CACHE_FILE", "GenerateStage", "open_translator"]

TRANSLATE_CACHE_FILE = "translate_cache.sqlite"


class GenerateStage(Stage):
    name: ClassVar[str] = "generate"
    input_model = PredictionTask
    uses_llm = True

    def _open(self) -> None:
        self._r_llm = open_llm(self.config, self.run_dir)
        if self.config.generate.translate.spec:
            self._r_translate_sandbox, self._r_translator = open_translator(
                self.config, self.run_dir
            )

    def close(self) -> None:
        translator = self.__dict__.pop("_r_translator", None)
        if translator is not None:
            translator.client.close()
        for key in ("_r_llm", "_r_translate_sandbox"):
            res = self.__dict__.pop(key, None)
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
        results = call_many(self._r_llm, requests)
        translated = self._translate(tasks, results)
        for t, res in zip(tasks, results, strict=True):
            usage = [res.usage] if res.usage is not None else []
            stats: dict[str, float] = {}
            if t.id in translated:
                done = translated[t.id]
                res.text = done.text
                stats[f"translate_{done.reason}"] = 1.0
                if done.completion is not None:
                    usage.append(usage_of(done.completion))
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
                Outcome(
                    t.id,
                    outputs=[Attempt(id=t.id, task=t, sample=sample)],
                    usage=usage,
                    stats=stats,
                )
            )
        return out

    def _translate(self, tasks: list[PredictionTask], results: list[Any]) -> dict[str, Any]:
        """Task id -> Translation of the teacher's answer, for the answered tasks (if enabled)."""
        translator = self.__dict__.get("_r_translator")
        if translator is None:
            return {}
        items = [(t, r.text) for t, r in zip(tasks, results, strict=True) if r.text is not None]
        if not items:
            return {}
        done = translator.translate_many(items)
        return {t.id: d for (t, _), d in zip(items, done, strict=True)}


def open_translator(config: Any, run_dir: str) -> tuple[Any, Any]:
    """(sandbox, TraceTranslator) from ``generate.translate``; the caller closes both."""
    from pathlib import Path

    from codeio.llm import SamplingParams, make_client
    from codeio.pipeline.run.verify import open_claim_checker_always
    from codeio.pipeline.verify.claims.translate import TraceTranslator

    s = config.generate.translate
    sandbox = open_sandbox(config)
    try:
        client = make_client(
            s.spec,
            base_url=s.base_url,
            api_key_env=s.api_key_env,
            cache_path=str(Path(run_dir) / TRANSLATE_CACHE_FILE),
            use_cache=config.llm.cache,
            concurrency=s.concurrency,
            timeout_s=s.timeout_s,
            max_retries=s.max_retries,
            seed=config.seed,
            max_response_bytes=config.llm.max_response_bytes,
        )
    except BaseException:
        sandbox.close()
        raise
    params = SamplingParams(temperature=s.temperature, max_tokens=s.max_tokens, seed=config.seed)
    checker = open_claim_checker_always(config, sandbox)
    return sandbox, TraceTranslator(client, checker, params=params)
