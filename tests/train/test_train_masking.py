"""Assistant-only labels from the model's own chat template, with and without generation markers."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_torch
pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

from codeio.train.masking import IGNORE_INDEX, encode_chat, has_generation_markers  # noqa: E402
from codeio.train.tiny import CHATML_TEMPLATE, build_tiny_tokenizer  # noqa: E402

CHAT = [
    {"role": "system", "content": "Reason, then answer in JSON."},
    {"role": "user", "content": "def f(a): return a[::-1]\nPredict f('abc')."},
    {"role": "assistant", "content": 'Reversing gives "cba". {"output": "cba"}'},
    {"role": "user", "content": "Check again."},
    {"role": "assistant", "content": 'Still {"output": "cba"}'},
]


@pytest.fixture(scope="module")
def tok(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    texts = [m["content"] for m in CHAT] * 5
    return build_tiny_tokenizer(texts, tmp_path_factory.mktemp("tok"), vocab_size=400)


def _trained_text(tok, enc) -> str:  # type: ignore[no-untyped-def]
    return tok.decode([t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != -100])


def test_generation_markers_label_only_assistant_turns(tok) -> None:  # type: ignore[no-untyped-def]
    assert has_generation_markers(tok)
    enc = encode_chat(tok, CHAT)
    assert enc is not None
    assert (
        enc.input_ids == tok.apply_chat_template(CHAT, tokenize=True, return_dict=True)["input_ids"]
    )
    assert _trained_text(tok, enc) == (
        'Reversing gives "cba". {"output": "cba"}<|im_end|>Still {"output": "cba"}<|im_end|>'
    )
    # The first tokens (system + user) are all masked out.
    assert enc.labels[:10] == [IGNORE_INDEX] * 10


def test_templates_without_markers_give_the_same_mask(tok, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marked = encode_chat(tok, CHAT)
    tok.save_pretrained(tmp_path)
    plain = transformers.AutoTokenizer.from_pretrained(tmp_path)
    plain.chat_template = CHATML_TEMPLATE.replace("{% generation %}", "").replace(
        "{% endgeneration %}", ""
    )
    assert not has_generation_markers(plain)
    by_prefix = encode_chat(plain, CHAT)
    assert by_prefix == marked


def test_full_sequence_loss_when_asked(tok) -> None:  # type: ignore[no-untyped-def]
    enc = encode_chat(tok, CHAT, assistant_only=False)
    assert enc is not None and enc.labels == enc.input_ids


def test_truncation_that_cuts_every_answer_drops_the_row(tok) -> None:  # type: ignore[no-untyped-def]
    assert encode_chat(tok, CHAT, max_length=12) is None
    enc = encode_chat(tok, CHAT, max_length=60)
    assert enc is not None and len(enc.input_ids) == 60
