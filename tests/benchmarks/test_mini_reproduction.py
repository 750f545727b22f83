"""benchmarks/mini_reproduction.py: its pieces, and the whole script at toy scale on CPU."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "mini_reproduction.py"
SHARED = next(
    (
        d
        for d in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data")
        if d.is_dir()
    ),
    ROOT.parent / "shared" / "data",
)
CRUX = SHARED / "cruxeval" / "cruxeval.jsonl"
CORPUS = SHARED / "codeio-demo" / "rawcode_1k_parsed.jsonl"

needs_data = pytest.mark.skipif(not CRUX.is_file(), reason="shared CRUXEval data not present")


@pytest.fixture(scope="module")
def mr() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mini_reproduction", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["mini_reproduction"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sandbox() -> Iterator[object]:
    from codeio.exec import Sandbox

    with Sandbox(workers=2) as sb:
        yield sb


def _prepared_rows() -> list[dict]:
    def row(i: int, kind: str, turns: int, final: str) -> dict:
        return {
            "id": f"s{i}", "func_id": f"f{i // 2}", "kind": kind, "final_status": final,
            "num_turns": turns, "first_status": final if turns == 1 else "not_correct",
            "prompt": f"prompt {i}", "response": f"all turns {i}", "first_turn": f"first {i}",
        }  # fmt: skip

    return [
        row(0, "output", 1, "correct"),
        row(1, "input", 1, "correct"),
        row(2, "output", 2, "correct"),  # revised, fixed
        row(3, "input", 2, "wrong"),  # revised, still wrong
        row(4, "input", 1, "wrong"),
    ]


def test_ablation_row_selection(mr: ModuleType) -> None:
    rows = _prepared_rows()
    full = mr.select_rows(rows, kinds="both", revision="on", include="all")
    assert [r["messages"][1]["content"] for r in full] == [f"all turns {i}" for i in range(5)]
    assert len(mr.select_rows(rows, kinds="output", revision="on", include="all")) == 2
    # CodeI/O: first turns only; a revised sample's first turn was not correct.
    codeio = mr.select_rows(rows, kinds="both", revision="off", include="correct")
    assert [r["messages"][1]["content"] for r in codeio] == ["first 0", "first 1"]
    plus = mr.select_rows(rows, kinds="both", revision="on", include="correct")
    assert [r["messages"][1]["content"] for r in plus] == [
        "all turns 0",
        "all turns 1",
        "all turns 2",
    ]
    assert all(r["messages"][0]["role"] == "user" for r in full)


def test_merge_exports_pairs_layouts_by_id(mr: ModuleType) -> None:
    messages = [
        {"id": "a", "func_id": "f", "kind": "output", "final_status": "correct", "num_turns": 2,
         "messages": [{"role": "user", "content": "P"}, {"role": "assistant", "content": "T1 T2"}]},
    ]  # fmt: skip
    layout = [{"id": "a", "prompt": "P", "turn_1": "T1", "turn_2": "T2"}]
    (row,) = mr.merge_exports(messages, layout)
    assert (row["response"], row["first_turn"], row["first_status"]) == (
        "T1 T2",
        "T1",
        "not_correct",
    )
    with pytest.raises(SystemExit, match="missing from the codeio layout"):
        mr.merge_exports(messages, [])


def test_paired_bootstrap(mr: ModuleType) -> None:
    before = {"b/direct": {"pass@1": 0.25, "correct": [1, 0, 0, 0] * 25, "statuses": {}}}
    after = {"b/direct": {"pass@1": 0.5, "correct": [1, 1, 0, 0] * 25, "statuses": {}}}
    res = mr.compare(before, after, resamples=500, seed=0)["b"]["direct"]
    assert (res["gain"], res["won"], res["lost"]) == (0.25, 25, 0)
    lo, hi = res["gain_ci95"]
    assert 0 < lo < 0.25 < hi < 0.5
    same = mr.compare(before, before, resamples=100, seed=0)["b"]["direct"]
    assert same["gain_ci95"] == [0.0, 0.0]


def test_micro_batches_respect_the_token_budget(mr: ModuleType) -> None:
    from codeio.train.masking import EncodedChat

    rows = [EncodedChat(input_ids=[1] * n, labels=[1] * n) for n in (5, 40, 10, 30, 20, 50)]
    groups = mr._micro_batches(rows, 64)
    assert sorted(len(e.input_ids) for g in groups for e in g) == [5, 10, 20, 30, 40, 50]
    assert all(len(g) * max(len(e.input_ids) for e in g) <= 64 or len(g) == 1 for g in groups)


@needs_data
def test_codeio_style_prompts_are_judged_by_the_cruxeval_harness(
    mr: ModuleType, sandbox: object
) -> None:
    """The codeio prompt asks for JSON answers; the true one must score, a wrong one must not."""
    from codeio.evaluate.benchmarks import get_benchmark
    from codeio.evaluate.benchmarks.cruxeval import load_cruxeval_rows, trace_context

    rows = load_cruxeval_rows(CRUX)[:40]
    subset = [r for r in rows if trace_context(r, "output").get("funcname") == "f"][:12]
    assert len(subset) >= 8
    for name, kind in (("cruxeval-o", "output"), ("cruxeval-i", "input")):
        bench = get_benchmark(name, cot=False)
        items = {it.id: it for it in bench.load(CRUX)}
        pairs = []
        for r in subset:
            prompt = mr.codeio_prompt(r, kind)
            assert r["code"].strip() in prompt and f'{{"{kind}":' in prompt
            ctx = trace_context(r, kind)
            truth = r["output"] if kind == "output" else json.dumps(ctx["input"])
            pairs.append((items[r["id"]], f'Step by step...\n{{"{kind}": {truth}}}'))
        judged = bench.judge(pairs, sandbox)
        assert [j.status for j in judged] == ["correct"] * len(subset), name
    wrong = bench.judge([(items[subset[0]["id"]], '{"input": {"zz_no_such_arg": 1}}')], sandbox)
    assert not wrong[0].correct


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prep = subprocess.run(
        [sys.executable, str(SCRIPT), "--prepare-only", "--functions", "2", "--corpus",
         str(CORPUS), "--cruxeval", str(CRUX), "--out", str(tmp_path_factory.mktemp("prep"))],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert prep.returncode == 0, prep.stderr[-2000:]
    info = json.loads(prep.stdout.strip().splitlines()[-1])
    assert info["rows"] > 0 and info["rows_with_cruxeval_code"] == 0
    return Path(info["prepared"])


@pytest.mark.slow
@pytest.mark.timeout(1500)  # ~3 min on an idle 2-core machine; many more under load
@needs_data
def test_tiny_profile_end_to_end(tmp_path: Path, prepared: Path) -> None:
    """Data -> toy model -> eval -> train -> eval on CPU; every item judged, JSON last line."""
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--profile", "tiny", "--data", str(prepared),
         "--cruxeval", str(CRUX), "--out", str(out), "--variants", "output_only",
         "--kinds", "both", "--revision", "on", "--include", "all"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["profile"] == "tiny" and res["device"].startswith("cpu")
    assert res["steps"] >= 1 and res["train"]["tokens"] > 0
    assert res["train"]["first_loss"] > 0 and res["train"]["last_loss"] == res["train"]["last_loss"]
    for bench in ("cruxeval-o", "cruxeval-i"):
        for style in ("direct", "codeio"):
            r = res["results"][bench][style]
            assert sum(r["before_statuses"].values()) == res["eval"]["items"]
            assert sum(r["after_statuses"].values()) == res["eval"]["items"]
            assert r["gain_ci95"][0] <= r["gain"] <= r["gain_ci95"][1]
            for phase in ("before", "after"):
                lines = (out / "generations" / f"{phase}_{bench}_{style}.jsonl").read_text()
                assert len(lines.splitlines()) == res["eval"]["items"]
    assert set(res["noise"]) == {"cruxeval-o/direct", "cruxeval-o/codeio"}
    variant = res["variants"]["output_only"]
    assert variant["kinds"] == "output" and set(variant["results"]) == {"cruxeval-o"}
    assert variant["data"]["rows_selected"] < res["data"]["rows_selected"]
    assert json.loads((out / "result.json").read_text()) == res

    # The saved generations score the same when judged again (the fallback for a GPU machine
    # whose sandbox fails).
    again = subprocess.run(
        [sys.executable, str(SCRIPT), "--rejudge", str(out / "generations"), "--bootstrap", "50"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    rej = json.loads(again.stdout.strip().splitlines()[-1])["results"]
    for bench, styles in res["results"].items():
        for style, r in styles.items():
            assert rej["after"][bench][style]["after"] == r["after"]
            assert rej["after"][bench][style]["before_statuses"] == r["before_statuses"]


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    for argv, needle in (
        (["--variants", "nope"], "--variants: unknown nope"),
        (["--cruxeval", str(tmp_path / "none.jsonl")], "--cruxeval: no such file"),
        (["--styles", "direct,weird"], "--styles"),
    ):
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "--profile", "tiny", "--out", str(tmp_path), *argv],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode != 0
        assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_sft_loss_matches_the_model_loss(mr: ModuleType) -> None:
    """The head-on-labelled-positions loss equals transformers' own (sum / items of the step)."""
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)  # fmt: skip
    model = LlamaForCausalLM(cfg)
    ids = torch.randint(0, 97, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0  # right padding
    labels = ids.clone()
    labels[:, :4] = -100  # the prompt
    labels[mask == 0] = -100
    n_items = int((labels[:, 1:] != -100).sum()) + 5  # the step's count spans other micro-batches
    ours = mr.sft_loss(model, ids, mask, labels, n_items)
    ref = model(input_ids=ids, attention_mask=mask, labels=labels, num_items_in_batch=n_items).loss
    assert torch.allclose(ours, ref, atol=1e-5), (ours, ref)
    ours.backward()
    assert model.model.embed_tokens.weight.grad is not None


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_smollm2_training_step_and_generation(
    mr: ModuleType, smollm2_dir: Path, tmp_path: Path
) -> None:
    """The real base model through the GPU profile's code: masking, two steps, greedy decoding."""
    import argparse

    rows = [
        {"messages": [{"role": "user", "content": f"What is {i} + 1? Answer as JSON."},
                      {"role": "assistant", "content": f'{i} + 1 = {i + 1}.\n{{"output": {i + 1}}}'}]}
        for i in range(4)
    ]  # fmt: skip
    args = argparse.Namespace(
        max_length=512, seed=0, max_rows=0, epochs=1.0, global_batch=2, micro_tokens=256, lr=1e-4
    )
    model, tok, info, data = mr.train(args, smollm2_dir, rows, "cpu", tmp_path)
    assert (info["steps"], info["samples"], data["rows_used"]) == (2, 4, 4)
    assert 0 < info["trained_tokens"] < info["tokens"]  # prompts (and SmolLM2's system turn) masked
    assert 0 < info["first_loss"] < 20 and info["last_loss"] < info["first_loss"]
    model.config.use_cache = True
    model.eval()
    texts = mr.generate(model, tok, ["What is 2 + 1? Answer as JSON.", "Say hi."], 6, 2, "cpu")
    assert len(texts) == 2 and all(isinstance(t, str) and t for t in texts)


@pytest.mark.slow
@pytest.mark.timeout(1500)
@needs_data
def test_training_yields_to_the_evaluation_when_the_time_budget_runs_out(
    tmp_path: Path, prepared: Path
) -> None:
    # A budget already spent: training stops after its first step (of the planned ones), the
    # noise check and the variants are skipped, and the run still ends with scores and the JSON.
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--profile", "tiny", "--data", str(prepared),
         "--cruxeval", str(CRUX), "--out", str(out), "--time-budget", "0.01",
         "--variants", "output_only", "--max-rows", "12"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    train = res["train"]
    assert train["steps_planned"] >= 2 and train["steps"] == 1
    assert train["stopped_by_time_budget"] is True and train["samples"] == 4
    assert "stopped at step 1/" in proc.stderr
    assert res["noise"] is None
    assert "skipped" in res["variants"]["output_only"]
    r = res["results"]["cruxeval-o"]["direct"]
    assert sum(r["after_statuses"].values()) == res["eval"]["items"]
