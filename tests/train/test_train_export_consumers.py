"""codeio's exports through TRL, as a user runs them: ``SFTTrainer`` on the conversational
exports with assistant-only loss, ``DPOTrainer`` on dpo.jsonl; a tiny offline model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

pytestmark = [
    pytest.mark.needs_torch,
    # TRL's own arguments use transformers' deprecated checkpointing names: not ours to fix.
    pytest.mark.filterwarnings("ignore:.*checkpointing.*:FutureWarning"),
]
pytest.importorskip("torch")
trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
transformers = pytest.importorskip("transformers")

from codeio.pipeline.export import export_samples  # noqa: E402
from codeio.pipeline.revise.assemble import CHECK_BRIDGE, REDO_BRIDGE  # noqa: E402
from codeio.records import Sample, Turn, Verdict  # noqa: E402
from codeio.train.masking import IGNORE_INDEX, encode_chat  # noqa: E402
from codeio.train.tiny import build_tiny_model  # noqa: E402

datasets.disable_progress_bars()

END = "<|im_end|>"  # the tiny model's end of turn, trained on with the answer


def _turn(text: str, status: str, feedback: str = "") -> Turn:
    return Turn(
        response=text,
        has_answer=True,
        verdict=Verdict(status=status, feedback=feedback),  # type: ignore[arg-type]
    )


def _samples() -> list[Sample]:
    out = []
    for i in range(6):
        prompt = f'def f(x): return x * {i}\nPredict f(3) as {{"output": ...}}. ünï 😀'
        if i % 2:
            turns = [
                _turn(
                    f'3 * {i} = {3 * i + 1}. {{"output": {3 * i + 1}}}',
                    "wrong",
                    f"[Mismatch] {3 * i + 1} is wrong",
                ),
                _turn(f'Again: 3 * {i} = {3 * i}. {{"output": {3 * i}}}', "correct"),
            ]
        else:
            turns = [_turn(f'3 * {i} = {3 * i}. {{"output": {3 * i}}}', "correct")]
        out.append(
            Sample(task_id=f"t{i}", func_id=f"f{i}", kind="output", prompt=prompt, turns=turns)
        )
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("exports")
    samples = _samples()
    paths = {}
    for fmt, name in (
        ("messages", "m.jsonl"),
        ("sharegpt", "sg.jsonl"),
        ("parquet", "m.parquet"),
        ("hf", "hf"),
        ("llamafactory", "lf"),
    ):
        export_samples(samples, root / fmt / name, fmt=fmt)  # type: ignore[arg-type]
        paths[fmt] = root / fmt / name
    texts = [s.prompt for s in samples] + [t.response for s in samples for t in s.turns]
    texts += [t.verdict.feedback for s in samples for t in s.turns if t.verdict]
    model_dir = build_tiny_model([*texts, CHECK_BRIDGE, REDO_BRIDGE], root / "model")
    return {"root": root, "paths": paths, "samples": samples, "model": model_dir}


def _load(fmt: str, path: Path, cache: Path) -> Any:
    if fmt == "hf":
        return datasets.load_from_disk(str(path))
    if fmt == "parquet":
        return datasets.load_dataset(
            "parquet", data_files=str(path), split="train", cache_dir=str(cache)
        )
    if fmt == "llamafactory":
        path = path / "codeio.jsonl"
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


def _sft(exported: dict[str, Any], dataset: Any, out: Path, **args: Any) -> Any:
    model_dir = exported["model"]
    config = trl.SFTConfig(
        output_dir=str(out),
        max_length=None,
        report_to=[],
        use_cpu=True,
        per_device_train_batch_size=2,
        max_steps=1,
        **args,
    )
    return trl.SFTTrainer(
        model=transformers.AutoModelForCausalLM.from_pretrained(model_dir),
        args=config,
        train_dataset=dataset,
        processing_class=transformers.AutoTokenizer.from_pretrained(model_dir),
    )


@pytest.mark.parametrize("fmt", ["messages", "parquet", "hf", "llamafactory"])
def test_trl_sft_trains_on_exactly_the_assistant_answer(
    exported: dict[str, Any], fmt: str, tmp_path: Path
) -> None:
    """The whole CodeI/O++ answer (first turn, feedback, revised turn: one assistant message)
    carries loss, the prompt none; TRL's labels equal codeio's own (``codeio train``)."""
    dataset = _load(fmt, exported["paths"][fmt], tmp_path / "cache")
    trainer = _sft(exported, dataset, tmp_path / "sft", assistant_only_loss=True)
    tok = trainer.processing_class
    by_prompt = {s.prompt: s for s in exported["samples"]}
    assert (
        len(trainer.train_dataset)
        == len(dataset)
        == sum(1 for s in exported["samples"] if s.final_status == "correct")
    )
    revised = 0
    for row, prepared in zip(dataset, trainer.train_dataset, strict=True):
        user, assistant = row["messages"]
        ids, labels = prepared["input_ids"], prepared["labels"]
        trained = tok.decode([t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX])
        assert trained == assistant["content"] + END
        sample = by_prompt[user["content"]]
        if len(sample.turns) > 1:
            revised += 1
            first, fixed = sample.turns
            assert first.verdict is not None
            positions = [
                trained.index(part)
                for part in (first.response, CHECK_BRIDGE, first.verdict.feedback, fixed.response)
            ]
            assert positions == sorted(positions)
        mine = encode_chat(tok, row["messages"])
        assert mine is not None
        assert (mine.input_ids, mine.labels) == (ids, labels)
    assert revised > 0
    if fmt == "messages":
        trainer.train()  # the columns codeio adds (id, kind, ...) do not reach the model


def test_trl_wants_the_messages_export_not_sharegpt(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    """What docs/TRAINING.md tells TRL users, checked against TRL: the messages export renders
    with the model's user/assistant roles. TRL renames ShareGPT's keys (from/value) but not its
    speakers, so ``human``/``gpt`` reach the chat template as role names, and its assistant-only
    loss refuses the rows. If this test fails, TRL changed and the docs need a look."""
    messages = _load("messages", exported["paths"]["messages"], tmp_path / "cache")
    trainer = _sft(exported, messages, tmp_path / "m")
    tok_text = trainer.processing_class.decode
    rendered = tok_text(trainer.train_dataset[0]["input_ids"])
    assert rendered.startswith("<|im_start|>user\n") and "<|im_start|>assistant\n" in rendered

    sharegpt = _load("sharegpt", exported["paths"]["sharegpt"], tmp_path / "cache")
    as_sharegpt = tok_text(_sft(exported, sharegpt, tmp_path / "s").train_dataset[0]["input_ids"])
    assert "<|im_start|>human\n" in as_sharegpt and "<|im_start|>gpt\n" in as_sharegpt
    with pytest.raises(ValueError, match="not conversational"):
        _sft(exported, sharegpt, tmp_path / "c", assistant_only_loss=True)


def test_trl_dpo_reads_dpo_jsonl_and_its_conversational_form(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    path = exported["paths"]["messages"].parent / "dpo.jsonl"
    pairs = _load("dpo", path, tmp_path / "cache")
    assert len(pairs) == sum(1 for s in exported["samples"] if len(s.turns) > 1)
    for column in ("prompt", "chosen", "rejected"):
        assert pairs.features[column].dtype == "string"  # TRL's standard (not chat) format
    model_dir = exported["model"]
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)

    def trainer(dataset: Any, out: str) -> Any:
        config = trl.DPOConfig(
            output_dir=str(tmp_path / out),
            report_to=[],
            use_cpu=True,
            max_steps=1,
            per_device_train_batch_size=2,
        )
        return trl.DPOTrainer(
            model=transformers.AutoModelForCausalLM.from_pretrained(model_dir),
            args=config,
            train_dataset=dataset,
            processing_class=tok,
        )

    plain = trainer(pairs, "plain").train_dataset[0]
    # Strings are tokenized as they are: no chat template around the prompt.
    assert tok.decode(plain["prompt_ids"]) == pairs[0]["prompt"]

    # docs/TRAINING.md: the conversational form, for chat models.
    chat = pairs.map(
        lambda r: {
            "prompt": [{"role": "user", "content": r["prompt"]}],
            "chosen": [{"role": "assistant", "content": r["chosen"]}],
            "rejected": [{"role": "assistant", "content": r["rejected"]}],
        }
    )
    tuned = trainer(chat, "chat")
    first = tuned.train_dataset[0]
    assert tok.decode(first["prompt_ids"]) == tok.apply_chat_template(
        [{"role": "user", "content": pairs[0]["prompt"]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert tok.decode(first["chosen_ids"]) == pairs[0]["chosen"] + END + "\n"
    tuned.train()
