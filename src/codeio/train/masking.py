"""Tokenise chat rows with the model's own chat template and mask everything but assistant turns.

Two ways to find the assistant tokens, both with the model's template unchanged:
- the template has ``{% generation %}`` markers: transformers returns the mask directly;
- otherwise (most released templates, e.g. SmolLM2, Llama 3): render the conversation prefix by
  prefix, take the character span each assistant turn adds, and map spans to tokens through the
  fast tokenizer's offsets. This needs the template to render a conversation as the
  concatenation of its prefixes, which holds for ChatML/Llama-style templates; where it fails
  (templates that rewrite earlier turns) only the last assistant turn is trained on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from codeio.errors import ConfigError
from codeio.train.formats import Messages

__all__ = ["IGNORE_INDEX", "EncodedChat", "encode_chat", "has_generation_markers"]

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100


@dataclass(frozen=True)
class EncodedChat:
    input_ids: list[int]
    labels: list[int]
    """``input_ids`` on assistant tokens, ``IGNORE_INDEX`` elsewhere."""

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


def has_generation_markers(tokenizer: Any) -> bool:
    template = getattr(tokenizer, "chat_template", None) or ""
    if isinstance(template, dict):  # named templates: the default one is used
        template = template.get("default", "")
    return "{% generation %}" in template or "{%- generation %}" in template


def encode_chat(
    tokenizer: Any,
    messages: Messages,
    *,
    max_length: int | None = None,
    assistant_only: bool = True,
) -> EncodedChat | None:
    """Token ids and labels for one conversation; None when truncation leaves nothing to learn."""
    if tokenizer.chat_template is None:
        raise ConfigError(
            "the tokenizer has no chat template; set one (tokenizer.chat_template) before training"
        )
    if assistant_only and has_generation_markers(tokenizer):
        enc = tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        ids = list(enc["input_ids"])
        mask = list(enc["assistant_masks"])
    else:
        ids, mask = _encode_by_prefix(tokenizer, messages, assistant_only=assistant_only)
    if max_length is not None:
        ids, mask = ids[:max_length], mask[:max_length]
    labels = [t if m else IGNORE_INDEX for t, m in zip(ids, mask, strict=True)]
    if not any(m for m in mask):
        return None
    return EncodedChat(input_ids=ids, labels=labels)


def _render(tokenizer: Any, messages: Messages, *, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def _assistant_spans(tokenizer: Any, messages: Messages, full: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        through = _render(tokenizer, messages[: i + 1], add_generation_prompt=False)
        if not (full.startswith(before) and full.startswith(through)):
            spans = []  # the template rewrites earlier turns: fall back to the final answer
            break
        # Whitespace a template puts after the end-of-turn token is formatting, not the answer.
        end = len(before) + len(through[len(before) :].rstrip())
        spans.append((len(before), end))
    else:
        return spans
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    before = _render(tokenizer, messages[:last], add_generation_prompt=True)
    if not full.startswith(before):
        raise ConfigError(
            "cannot locate assistant turns: the chat template does not render a conversation "
            "as the extension of its prefix; use a template with {% generation %} markers"
        )
    logger.debug("template rewrites earlier turns; training on the final assistant turn only")
    return [(len(before), len(full.rstrip()))]


def _encode_by_prefix(
    tokenizer: Any, messages: Messages, *, assistant_only: bool
) -> tuple[list[int], list[int]]:
    full = _render(tokenizer, messages, add_generation_prompt=False)
    # The template already wrote any BOS/EOS text, so the tokenizer must not add its own.
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=assistant_only)
    ids = list(enc["input_ids"])
    if not assistant_only:
        return ids, [1] * len(ids)
    spans = _assistant_spans(tokenizer, messages, full)
    mask = [
        1 if any(lo <= start < hi for lo, hi in spans) else 0
        for start, _end in enc["offset_mapping"]
    ]
    return ids, mask
