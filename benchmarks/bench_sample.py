"""Sampling throughput: codeio's Sampler vs the reference's one-interpreter-per-function loop.

Workload: the hand-written generators for demo-corpus functions (tests/data/generators), each
sampled for K=10 distinct pairs from at most N=1000 generator calls, repeated ``--repeat`` times.

- ours: ``Sampler.sample_many`` with the default config, i.e. the loop in one forked sandbox task
  per function PLUS the determinism re-run of every kept pair on a second sandbox (more work than
  the baseline does). Sandbox start-up is timed separately and excluded (it is paid once per run).
- baseline: what the reference's ``parse_gen_ios`` does: per function, write a script (import
  prelude + refcode + generator + loop) and run it in a fresh ``python`` interpreter; no
  determinism check. Two at a time, like ours, so both use both cores.

Prints a table, then as the LAST line one JSON object with ``ratio`` = ours / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from codeio.exec import Sandbox
from codeio.pipeline.sample import SampleConfig, Sampler
from codeio.pipeline.sample.harness import NAMESPACE_PRELUDE
from codeio.records import FunctionRecord

ROOT = Path(__file__).resolve().parents[1]
GENERATORS = ROOT / "tests" / "data" / "generators" / "demo_generators.jsonl"

# The reference's per-function script: prelude, the code, then the sampling loop writing JSON.
_BASELINE_LOOP = """
import inspect as _inspect, json as _json, random as _random, sys as _sys
_gen = input_generator
_rng = _random.Random({seed})
_uses_rng = bool(_inspect.signature(_gen).parameters)
_pairs, _seen = [], set()
for _ in range({tries}):
    if len(_pairs) >= {pairs}:
        break
    try:
        _inp = _gen(_rng) if _uses_rng else _gen()
        _key = _json.dumps(_inp, sort_keys=True)
        if _key in _seen or len(_key) >= 1024:
            continue
        _seen.add(_key)
        _out = {funcname}(**_json.loads(_key))
        _text = _json.dumps(_out)
        if len(_text) >= 1024:
            continue
        _pairs.append({{"input": _json.loads(_key), "output": _json.loads(_text)}})
    except Exception:
        continue
with open({out!r}, "w") as _f:
    _json.dump(_pairs, _f)
"""


def load(repeat: int) -> list[FunctionRecord]:
    rows = [json.loads(line) for line in GENERATORS.read_text().splitlines() if line.strip()]
    return [
        FunctionRecord(
            id=f"{FunctionRecord.make_id(r['refcode'], r['inputgen'])}-{k}",
            refcode=r["refcode"],
            funcname=r["funcname"],
            inputgen=r["inputgen"],
        )
        for k in range(repeat)
        for r in rows
    ]


def run_ours(fns: list[FunctionRecord], workers: int) -> dict[str, Any]:
    started = time.perf_counter()
    with (
        Sandbox(workers=workers, hash_seed=0) as main,
        Sandbox(workers=workers, hash_seed=1) as other,
    ):
        startup = time.perf_counter() - started
        t0 = time.perf_counter()
        results = list(Sampler(main, other, SampleConfig()).sample_many(fns))
        elapsed = time.perf_counter() - t0
    kept = [r for r in results if isinstance(r, FunctionRecord)]
    return {
        "seconds": elapsed,
        "startup_s": startup,
        "kept": len(kept),
        "pairs": sum(len(r.ios) for r in kept),
    }


def _baseline_one(fn: FunctionRecord, workdir: str, index: int) -> int:
    out = os.path.join(workdir, f"out{index}.json")
    script = os.path.join(workdir, f"fn{index}.py")
    loop = _BASELINE_LOOP.format(seed=index, tries=1000, pairs=10, funcname=fn.funcname, out=out)
    with open(script, "w", encoding="utf-8") as handle:
        handle.write(NAMESPACE_PRELUDE + "\n" + fn.refcode + "\n\n" + (fn.inputgen or "") + loop)
    try:
        subprocess.run(
            [sys.executable, script],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )
        with open(out, encoding="utf-8") as handle:
            return len(json.load(handle))
    except (subprocess.TimeoutExpired, OSError, ValueError):
        return 0


def run_baseline(fns: list[FunctionRecord], workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sample-") as workdir:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            counts = list(
                pool.map(lambda item: _baseline_one(item[1], workdir, item[0]), enumerate(fns))
            )
        elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "kept": sum(c >= 2 for c in counts), "pairs": sum(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the generator file")
    parser.add_argument("--workers", type=int, default=2, help="parallel tasks on each side")
    args = parser.parse_args()
    fns = load(args.repeat)
    baseline = run_baseline(fns, args.workers)
    ours = run_ours(fns, args.workers)
    ours_rate = len(fns) / ours["seconds"]
    base_rate = len(fns) / baseline["seconds"]
    print(
        f"functions: {len(fns)} ({args.repeat} x {len(fns) // args.repeat}), workers {args.workers}"
    )
    print(f"{'':10} {'seconds':>8} {'fn/s':>8} {'kept':>5} {'pairs':>6}")
    print(
        f"{'baseline':10} {baseline['seconds']:8.2f} {base_rate:8.1f} {baseline['kept']:5} {baseline['pairs']:6}"
    )
    print(f"{'ours':10} {ours['seconds']:8.2f} {ours_rate:8.1f} {ours['kept']:5} {ours['pairs']:6}")
    print(
        f"(ours also re-runs every kept pair for determinism; sandbox start-up {ours['startup_s']:.2f} s, excluded)"
    )
    print(
        json.dumps(
            {
                "ratio": round(ours_rate / base_rate, 2),
                "ours_functions_per_s": round(ours_rate, 2),
                "baseline_functions_per_s": round(base_rate, 2),
                "functions": len(fns),
                "workers": args.workers,
                "ours_startup_s": round(ours["startup_s"], 3),
                "ours_kept": ours["kept"],
                "baseline_kept": baseline["kept"],
            }
        )
    )


if __name__ == "__main__":
    main()
