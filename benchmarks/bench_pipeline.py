"""Does the pipeline scale flat? Run the offline pipeline on 1x and 10x inputs and compare.

The input is the reference's parsed corpus (``ios`` entry), replicated with new ids: every copy
gets a harmless comment line in its refcode, so each is a new function to the pipeline. Each run
is a ``codeio run`` subprocess; its peak RSS is sampled from /proc over the whole process tree
(sandbox workers included), and summed across the tree at each sample.

Prints a table and, last, one JSON line: {"time_ratio": T, "rss_ratio": M, ...}.
Targets: time_ratio <= 11 (linear), rss_ratio <= 1.5 (flat).

    python benchmarks/bench_pipeline.py [--records 60] [--factor 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus_copies import replicate  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
PARSED = ROOT.parent / "shared" / "data" / "codeio-demo" / "rawcode_1k_parsed.jsonl"


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _tree_rss_kb(root: int) -> int:
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
        stack.extend(_children(pid))
    return total


def run_once(data: Path, run_dir: Path, workers: int, batch: int) -> dict[str, float]:
    cfg = run_dir.parent / f"{run_dir.name}.yaml"
    cfg.write_text(
        "seed: 0\n"
        f"input:\n  path: {data}\n"
        "llm:\n  spec: trace\n  options: {mistake_rate: 0.2}\n"
        f"exec:\n  workers: {workers}\n"
        f"runner:\n  batch_size: {batch}\n"
        "prompt:\n  pairs_per_function: 2\n"
    )
    cmd = [sys.executable, "-m", "codeio", "run", str(cfg), "--out", str(run_dir)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_tree = peak_main = 0
    while proc.poll() is None:
        peak_tree = max(peak_tree, _tree_rss_kb(proc.pid))
        peak_main = max(peak_main, _rss_kb(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{err[-3000:]}")
    return {"wall_s": wall, "peak_rss_mb": peak_main / 1024, "peak_tree_rss_mb": peak_tree / 1024}


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=60, help="records in the 1x input")
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    if not PARSED.exists():
        raise SystemExit(f"missing benchmark data: {PARSED}")
    with tempfile.TemporaryDirectory(prefix="codeio-bench-") as tmp:
        t = Path(tmp)
        results = {}
        for label, copies in (("1x", 1), (f"{args.factor}x", args.factor)):
            data = t / f"in_{label}.jsonl"
            n = replicate(data, PARSED, args.records, copies)
            res = run_once(data, t / f"run_{label}", args.workers, args.batch_size)
            res["records"] = n
            results[label] = res
    small, big = results["1x"], results[f"{args.factor}x"]
    print(f"{'input':>6} {'records':>8} {'wall s':>8} {'peak RSS MB':>12} {'tree RSS MB':>12}")
    for label, r in results.items():
        print(
            f"{label:>6} {r['records']:>8} {r['wall_s']:>8.1f} {r['peak_rss_mb']:>12.1f}"
            f" {r['peak_tree_rss_mb']:>12.1f}"
        )
    summary = {
        "time_ratio": round(big["wall_s"] / small["wall_s"], 2),
        "rss_ratio": round(big["peak_rss_mb"] / small["peak_rss_mb"], 2),
        "tree_rss_ratio": round(big["peak_tree_rss_mb"] / small["peak_tree_rss_mb"], 2),
        "factor": args.factor,
        "records_1x": small["records"],
        "wall_s_1x": round(small["wall_s"], 2),
        "wall_s_big": round(big["wall_s"], 2),
        "peak_rss_mb_1x": round(small["peak_rss_mb"], 1),
        "peak_rss_mb_big": round(big["peak_rss_mb"], 1),
        "targets": {"time_ratio": 11, "rss_ratio": 1.5},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
