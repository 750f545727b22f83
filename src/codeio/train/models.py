"""Load models and tokenizers for training, including GGUF files (dequantised to plain weights)."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from codeio.cache_dir import cache_root
from codeio.errors import ConfigError

__all__ = [
    "dequantised_gguf",
    "load_causal_lm",
    "load_tokenizer",
    "materialize_gguf",
]

log = logging.getLogger(__name__)

_COMPLETE = ".complete"


def load_tokenizer(path: str | Path, gguf_file: str | None = None) -> Any:
    from transformers import AutoTokenizer

    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(str(path), **kwargs)
    if tokenizer.pad_token is None:
        # Padding positions carry label -100, so any id works; eos is always present.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(
    path: str | Path, gguf_file: str | None = None, attn_implementation: str | None = None
) -> Any:
    """A trainable causal LM in fp32 (master weights; bf16 comes from autocast)."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
        try:  # transformers 5: ask for dequantised weights even where a GGUF kernel exists
            from transformers import GgufConfig

            kwargs["quantization_config"] = GgufConfig(dequantize=True)
        except ImportError:  # transformers 4 always dequantises GGUF
            pass
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    if gguf_file:
        _drop_gguf_quantizer(model)
    return model


def _drop_gguf_quantizer(model: Any) -> None:
    # The weights are plain floats after dequantisation, but transformers keeps the GGUF
    # quantizer attached, and with it the model counts as quantized: the Trainer refuses to
    # fine-tune it and save_pretrained refuses to write it.
    import torch

    odd = {p.dtype for p in model.parameters() if not torch.is_floating_point(p)}
    if odd:
        raise ConfigError(f"GGUF weights stayed quantized ({odd}); cannot train them")
    model.hf_quantizer = None
    if "is_quantized" in vars(model):
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def materialize_gguf(folder: str | Path, gguf_file: str, out_dir: str | Path) -> Path:
    """Write a GGUF model as a plain safetensors folder (weights + tokenizer) and return it."""
    out = Path(out_dir)
    model = load_causal_lm(folder, gguf_file)
    tokenizer = load_tokenizer(folder, gguf_file)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def _gguf_key(gguf: Path) -> str:
    """The file's content and the transformers version that dequantises it: a copy of the
    same file elsewhere shares the entry, a changed file or another converter does not."""
    import transformers

    digest = hashlib.sha256()
    with gguf.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    digest.update(f"transformers {transformers.__version__}".encode())
    return digest.hexdigest()[:20]


def dequantised_gguf(gguf: str | Path, cache: str | Path | None = None) -> Path:
    """A plain model folder (fp32 safetensors + tokenizer) with ``gguf``'s weights, made once
    and kept under ``cache_root()/gguf``.

    Loading a GGUF through transformers parses the file several times and rebuilds its tensor
    name map per module: about a minute for a 135M model on two cores, paid by every process
    that loads it (each stage of a run, each eval), where the dequantised folder loads in a
    second or two. The entry is written to a temporary folder and renamed into place under
    a lock, so concurrent processes make it once and never see half of it.
    """
    gguf = Path(gguf)
    root = Path(cache) if cache is not None else cache_root()
    folder = root / "gguf" / f"{gguf.stem}-{_gguf_key(gguf)}"
    if (folder / _COMPLETE).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / _COMPLETE).is_file():
            return folder  # another process made it while this one waited
        partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            materialize_gguf(gguf.parent, gguf.name, partial)
            (partial / _COMPLETE).write_text(f"{gguf}\n")
            shutil.rmtree(folder, ignore_errors=True)  # a leftover without its marker
            partial.rename(folder)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    log.info("dequantised %s into %s", gguf, folder)
    return folder
