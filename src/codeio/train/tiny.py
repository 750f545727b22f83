"""A tiny causal LM built from scratch, fully offline: tests and smoke runs train it in seconds.

The tokenizer is a byte-level BPE trained on the caller's own texts (so any text round-trips)
with ChatML role markers and a chat template that has ``{% generation %}`` markers, which is
what assistant-only loss needs. The model is a randomly initialised Llama or Qwen2 config.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from codeio.errors import require

__all__ = ["CHATML_TEMPLATE", "TINY_SPECIAL_TOKENS", "build_tiny_model", "build_tiny_tokenizer"]

IM_START, IM_END, PAD, EOT = "<|im_start|>", "<|im_end|>", "<|pad|>", "<|endoftext|>"
TINY_SPECIAL_TOKENS = (PAD, EOT, IM_START, IM_END)

# ChatML, with the assistant's content and its end marker inside {% generation %} so that
# apply_chat_template(..., return_assistant_tokens_mask=True) marks exactly what is trained on.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tiny_tokenizer(texts: Iterable[str], out_dir: str | Path, *, vocab_size: int = 512):  # type: ignore[no-untyped-def]
    """Train a byte-level BPE on ``texts`` and save a transformers fast tokenizer to ``out_dir``."""
    tokenizers = require("tokenizers", "train", "the tiny tokenizer")
    transformers = require("transformers", "train", "the tiny tokenizer")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(TINY_SPECIAL_TOKENS),
        # The full byte alphabet keeps every input encodable, even characters unseen in texts.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=PAD,
        additional_special_tokens=[IM_START, EOT],
        chat_template=CHATML_TEMPLATE,
        model_max_length=4096,
    )
    fast.save_pretrained(str(out_dir))
    return fast


def build_tiny_model(
    texts: Iterable[str],
    out_dir: str | Path,
    *,
    arch: Literal["llama", "qwen2"] = "llama",
    vocab_size: int = 512,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    max_positions: int = 4096,
    seed: int = 0,
) -> Path:
    """Write a from-scratch model + tokenizer to ``out_dir``, loadable by AutoModelForCausalLM
    and AutoTokenizer; returns the folder."""
    require("torch", "train", "the tiny model")
    transformers = require("transformers", "train", "the tiny model")
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(texts, out, vocab_size=vocab_size)
    common = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": hidden_size * 2,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": max_positions,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": None,
        "tie_word_embeddings": True,
    }
    if arch == "llama":
        config = transformers.LlamaConfig(**common)
        model_cls = transformers.LlamaForCausalLM
    else:
        config = transformers.Qwen2Config(**common)
        model_cls = transformers.Qwen2ForCausalLM
    torch.manual_seed(seed)
    model = model_cls(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out))
    return out
