"""Sampling throughput: codeio's Sampler vs the reference's one-interpreter-per-function loop.

Workloads (each sampled for K=10 distinct pairs from at most N=1000 generator calls):

- ``demo``: the hand-written generators for demo-corpus functions (tests/data/generators/
  demo_generators.jsonl), repeated ``--repeat`` times;
- ``synthetic``: 206 functions composed for this benchmark (tests/data/generators/
  synthetic_generators.jsonl, see benchmarks/make_synthetic_generators.py): pure Python, string,
  numpy, seeded-random, slow brute force, hanging and deliberately nondeterministic ones;
- ``derived`` (only when the shared demo corpus is present): the other ~417 real functions of
  the CodeI/O demo corpus with generators inferred from their stored inputs
  (benchmarks/derive_generators.py).

Sides:

- ours: ``Sampler.sample_many`` with the default config, i.e. the loop in one forked sandbox task
  per function PLUS the determinism re-run of every kept pair on a second sandbox (more work than
  the baseline does). Sandbox start-up is timed separately and excluded (it is paid once per run).
- baseline: what the reference's ``parse_gen_ios`` does: per function, write a script (import
  prelude incl. numpy + refcode + generator + loop) and run it in a fresh ``python``; no
  determinism check. Two at a time, like ours, so both use both cores.

Every kept function of ours is then re-checked independently (``codeio.pipeline.sample.recheck``:
two more replays, other hash seeds, fresh sandboxes) and the pairs that do not reproduce are
counted (``*_nonrepro``). ``--profile`` adds where our time goes per function.

Prints a table, then as the LAST line one JSON object with ``ratio`` = ours / baseline on the
demo workload and ``<workload>_ratio`` etc. for each workload.
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
from codeio.pipeline.sample import SampleConfig, Sampler, recheck
from codeio.pipeline.sample.harness import NAMESPACE_PRELUDE
from codeio.records import FunctionRecord

ROOT = Path(__file__).resolve().parents[1]
GENERATORS = ROOT / "tests" / "data" / "generators" / "demo_generators.jsonl"
SYNTHETIC = ROOT / "tests" / "data" / "generators" / "synthetic_generators.jsonl"
SHARED = Path(os.environ.get("CODEIO_SHARED_DATA") or ROOT / ".." / "shared" / "data")
DEMO_PARSED = SHARED / "codeio-demo" / "rawcode_1k_parsed.jsonl"
WORKLOADS = ("demo", "synthetic", "derived")

# The reference's per-function script: prelude, the code, then the sampling loop writing JSON.
# It gets the same per-call timeout and the same budgets as ours (stop adding pairs after the
# soft budget once it has 2; give up at the hard one), so the ratio measures the engine and
# not a budget policy; it does not re-run anything for determinism.
_BASELINE_LOOP = """
import inspect as _inspect, json as _json, random as _random, signal as _signal, sys as _sys
import time as _time
class _Hang(BaseException):
    pass
def _alarm(*_):
    raise _Hang()
_signal.signal(_signal.SIGALRM, _alarm)
_start = _time.monotonic()
_gen = input_generator
_rng = _random.Random({seed})
_uses_rng = bool(_inspect.signature(_gen).parameters)
_pairs, _seen, _hangs = [], set(), 0
for _ in range({tries}):
    _now = _time.monotonic() - _start
    if len(_pairs) >= {pairs} or _now > {hard} or _hangs >= 3 or (len(_pairs) >= 2 and _now > {soft}):
        break
    try:
        # Short of 2 pairs a call gets its share of the time left, then none past the soft one.
        _left = ({hard} - _now) / (2 - len(_pairs)) if len(_pairs) < 2 else {soft} - _now
        _signal.setitimer(_signal.ITIMER_REAL, max(0.001, min({call_timeout}, _left)))
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
    except _Hang:
        _hangs += 1
    except Exception:
        continue
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
with open({out!r}, "w") as _f:
    _json.dump(_pairs, _f)
"""


def load_rows(workload: str) -> list[dict[str, Any]]:
    if workload == "demo":
        path = GENERATORS
    elif workload == "synthetic":
        path = SYNTHETIC
    else:
        if not DEMO_PARSED.exists():
            return []
        from derive_generators import derive  # type: ignore[import-not-found]

        return derive(DEMO_PARSED.resolve())
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def to_records(rows: list[dict[str, Any]], repeat: int) -> list[FunctionRecord]:
    return [
        FunctionRecord(
            id=f"{r.get('id') or FunctionRecord.make_id(r['refcode'], r['inputgen'])}-{k}",
            refcode=r["refcode"],
            funcname=r.get("funcname") or "main_solution",
            inputgen=r["inputgen"],
        )
        for k in range(repeat)
        for r in rows
    ]


def run_ours(fns: list[FunctionRecord], workers: int) -> dict[str, Any]:
    config = SampleConfig()
    started = time.perf_counter()
    with (
        Sandbox(workers=workers, hash_seed=0) as main,
        Sandbox(workers=workers, hash_seed=1) as other,
    ):
        startup = time.perf_counter() - started
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        results = list(Sampler(main, other, config).sample_many(fns))
        elapsed = time.perf_counter() - t0
        host_cpu = time.process_time() - cpu0
    kept = [r for r in results if isinstance(r, FunctionRecord)]
    return {
        "seconds": elapsed,
        "startup_s": startup,
        "host_cpu_s": host_cpu,
        "kept": len(kept),
        "pairs": sum(len(r.ios) for r in kept),
        "results": results,
        "config": config,
    }


def count_nonreproducible(kept: list[FunctionRecord], workers: int) -> int:
    """Pairs of ours that an independent recheck (two fresh replays, other hash seeds) rejects."""
    if not kept:
        return 0
    with (
        Sandbox(workers=workers, hash_seed=2) as first,
        Sandbox(workers=workers, hash_seed=3) as second,
    ):
        checks = recheck(kept, first, second, seed=12345)
        return sum(1 for result in checks for pair in result.pairs if not pair.reproducible)


def profile(ours: dict[str, Any], workers: int) -> dict[str, float]:
    """Milliseconds per function by phase (means over all functions of the workload)."""
    results = ours["results"]
    n = len(results)
    acc: dict[str, float] = {}
    for record in results:
        if not isinstance(record, FunctionRecord):
            continue
        stats = record.meta.get("sample", {})
        phases = stats.get("phases_s", {})
        replay = stats.get("replay_phases_s", {})
        task, replay_task = stats.get("task_s", 0.0), stats.get("replay_task_s", 0.0)
        parts = {
            "sample: load code": phases.get("load", 0.0),
            "sample: generator calls": phases.get("generator", 0.0),
            "sample: main_solution calls": phases.get("main", 0.0),
            "sample: distinct/size/JSON checks": phases.get("checks", 0.0),
            "sample: fork, harness, exit, transfer": task - sum(phases.values()),
            "replay: fresh module per pair": replay.get("load", 0.0),
            "replay: main_solution calls": replay.get("main", 0.0),
            "replay: compile, seed, JSON": replay.get("rest", 0.0),
            "replay: fork, harness, exit, transfer": replay_task - sum(replay.values()),
        }
        for key, value in parts.items():
            acc[key] = acc.get(key, 0.0) + max(0.0, value)
    busy = sum(acc.values())
    lanes = 2 * workers  # both sandboxes' workers
    out = {key: 1000 * value / n for key, value in acc.items()}
    out["host: bookkeeping CPU (all threads)"] = 1000 * ours["host_cpu_s"] / n
    out["wall per function"] = 1000 * ours["seconds"] / n
    out["lane-ms available per function"] = 1000 * ours["seconds"] * lanes / n
    out["lane-ms used by kept functions"] = 1000 * busy / n
    return out


def _baseline_one(fn: FunctionRecord, workdir: str, index: int, config: SampleConfig) -> int:
    out = os.path.join(workdir, f"out{index}.json")
    script = os.path.join(workdir, f"fn{index}.py")
    soft = config.soft_budget_s or config.time_budget_s
    hard = min(config.time_budget_s, 2 * soft)
    loop = _BASELINE_LOOP.format(
        seed=index,
        tries=config.tries,
        pairs=config.pairs,
        funcname=fn.funcname,
        out=out,
        soft=soft,
        hard=hard,
        call_timeout=config.call_timeout_s,
    )
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
    config = SampleConfig()
    with tempfile.TemporaryDirectory(prefix="bench-sample-") as workdir:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            counts = list(
                pool.map(
                    lambda item: _baseline_one(item[1], workdir, item[0], config), enumerate(fns)
                )
            )
        elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "kept": sum(c >= 2 for c in counts), "pairs": sum(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the demo workload")
    parser.add_argument("--workers", type=int, default=2, help="parallel tasks on each side")
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), help=f"comma-separated: {', '.join(WORKLOADS)}"
    )
    parser.add_argument("--profile", action="store_true", help="print where our time goes")
    parser.add_argument("--no-recheck", action="store_true", help="skip the independent recheck")
    args = parser.parse_args()
    summary: dict[str, Any] = {"workers": args.workers}
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for workload in args.workloads.split(","):
        rows = load_rows(workload)
        if not rows:
            print(f"{workload}: no data (shared demo corpus not found), skipped")
            continue
        fns = to_records(rows, args.repeat if workload == "demo" else 1)
        baseline = run_baseline(fns, args.workers)
        ours = run_ours(fns, args.workers)
        kept = [r for r in ours["results"] if isinstance(r, FunctionRecord)]
        nonrepro = None if args.no_recheck else count_nonreproducible(kept, args.workers)
        ours_rate = len(fns) / ours["seconds"]
        base_rate = len(fns) / baseline["seconds"]
        ratio = round(ours_rate / base_rate, 2)
        print(f"\n{workload}: {len(fns)} functions, workers {args.workers}")
        print(f"{'':10} {'seconds':>8} {'fn/s':>8} {'kept':>5} {'pairs':>6}")
        print(
            f"{'baseline':10} {baseline['seconds']:8.2f} {base_rate:8.1f} "
            f"{baseline['kept']:5} {baseline['pairs']:6}"
        )
        print(
            f"{'ours':10} {ours['seconds']:8.2f} {ours_rate:8.1f} "
            f"{ours['kept']:5} {ours['pairs']:6}"
        )
        print(
            f"ratio {ratio}; ours re-ran every kept pair for determinism; sandbox start-up "
            f"{ours['startup_s']:.2f} s excluded; independent recheck: {nonrepro} pairs "
            "do not reproduce"
        )
        if args.profile:
            print("per function (ms):")
            for key, value in profile(ours, args.workers).items():
                print(f"  {key:42} {value:8.2f}")
        prefix = "" if workload == "demo" else f"{workload}_"
        summary.update(
            {
                f"{prefix}ratio": ratio,
                f"{prefix}ours_functions_per_s": round(ours_rate, 2),
                f"{prefix}baseline_functions_per_s": round(base_rate, 2),
                f"{prefix}functions": len(fns),
                f"{prefix}ours_kept": ours["kept"],
                f"{prefix}baseline_kept": baseline["kept"],
                f"{prefix}ours_pairs": ours["pairs"],
                f"{prefix}baseline_pairs": baseline["pairs"],
                f"{prefix}ours_nonreproducible_pairs": nonrepro,
                f"{prefix}ours_startup_s": round(ours["startup_s"], 3),
            }
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
