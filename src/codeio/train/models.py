"""Load models and tokenizers for training, including GGUF files (dequantised to plain weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeio.errors import ConfigError

__all__ = ["load_causal_lm", "load_tokenizer", "materialize_gguf"]


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
