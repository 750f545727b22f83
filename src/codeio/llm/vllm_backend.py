"""vLLM's offline engine in this process (``LLM.chat``); imported on first use, extra ``vllm``.

The engine batches internally, so requests that arrive together are handed over as one call
(grouped by sampling params) from a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any, ClassVar

from codeio.errors import LLMError, MissingExtraError
from codeio.llm.base import Completion, LLMBackend, LLMRequest, Reason

__all__ = ["VLLMBackend"]


class VLLMBackend(LLMBackend):
    """Args are passed to ``vllm.LLM`` (e.g. ``tensor_parallel_size``, ``gpu_memory_utilization``)."""

    kind: ClassVar[str] = "vllm"

    def __init__(self, path: str | Path, *, batch_size: int = 256, **engine_args: Any) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise MissingExtraError("the vllm backend", "vllm")
        self.path = str(path)
        self.model = Path(self.path).name or self.path
        self.batch_size = max(1, batch_size)
        self.engine_args = engine_args
        self._llm: Any = None
        self._pending: list[tuple[LLMRequest, asyncio.Future[Completion]]] = []
        self._flush: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()

    def _engine(self) -> Any:
        if self._llm is None:
            import vllm

            self._llm = vllm.LLM(model=self.path, **self.engine_args)
        return self._llm

    async def acomplete(self, request: LLMRequest) -> Completion:
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._pending.append((request, fut))
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # gather everything submitted in this tick
        async with self._busy:
            while self._pending:
                first = self._pending[0][0].params
                batch = [p for p in self._pending if p[0].params == first][: self.batch_size]
                self._pending = [p for p in self._pending if p not in batch]
                try:
                    outs = await asyncio.to_thread(self._generate, [r for r, _ in batch])
                except Exception as exc:
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(
                                LLMError(f"vllm failed: {exc!r}", reason=Reason.BACKEND)
                            )
                    continue
                for (_, f), c in zip(batch, outs, strict=True):
                    if not f.done():
                        f.set_result(c)

    def _generate(self, requests: list[LLMRequest]) -> list[Completion]:
        import vllm

        p = requests[0].params
        sp = vllm.SamplingParams(
            temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
            seed=p.seed, stop=p.stop,
        )  # fmt: skip
        convs = [[{"role": m.role, "content": m.content} for m in r.messages] for r in requests]
        outs = self._engine().chat(convs, sp, use_tqdm=False)
        result = []
        for o in outs:
            c = o.outputs[0]
            result.append(
                Completion(
                    text=c.text,
                    finish_reason=c.finish_reason or "stop",
                    prompt_tokens=len(o.prompt_token_ids or []),
                    completion_tokens=len(c.token_ids),
                    model=self.model,
                )
            )
        return result

    async def aclose(self) -> None:
        self._llm = None
