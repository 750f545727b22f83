"""What does Ray cost on one machine, and does it scale with workers? Local runner vs Ray.

The offline pipeline (``trace`` teacher, no network) runs on the reference's parsed corpus
(``ios`` entry) replicated ``--scale`` times with new ids (each copy gets a comment line in its
refcode, so it is a new function). Three runs over the same input and seed:

- ``local``: the local runner in this process (sandbox workers = CPU count);
- ``ray_1`` / ``ray_N``: the Ray runner with 1 and N worker actors (one CPU each).

Without ``--address`` the cluster is started here, ``ray.cluster_utils.Cluster`` with N nodes
of one CPU (a head plus N-1 worker node processes), so everything shares this machine's cores:
``ray_over_local`` is Ray's overhead (expected near 1) and ``speedup_N_workers`` is bounded by
the cores. With ``--address`` it joins a real cluster (``ray start --head`` + workers, see
docs/RAY.md) and the same numbers say how a multi-node cluster scales. Cluster start-up is not
timed; actor start-up (per stage) is. Every run's exported files must be identical.

Prints a table and, last, one JSON line:
{"ray_over_local": R, "speedup_2_workers": S, "identical": true, ...}

    python benchmarks/bench_ray.py [--records 24] [--scale 10] [--workers 2] [--address auto]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from corpus_copies import replicate  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
PARSED = ROOT.parent / "shared" / "data" / "codeio-demo" / "rawcode_1k_parsed.jsonl"
MB = 1024 * 1024


def _config(input_path: Path, batch_size: int) -> Any:
    from codeio.config import load_config

    return load_config(
        None,
        [
            f"input.path={input_path}",
            f"runner.batch_size={batch_size}",
            "prompt.pairs_per_function=2",
            "export.report=false",
        ],
    )


def _exports(run_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((run_dir / "export").iterdir())}


def _timed(config: Any, run_dir: Path, runner: Any) -> float:
    from codeio.pipeline.pipeline import Pipeline

    start = time.perf_counter()
    try:
        Pipeline(config, run_dir, runner=runner).run()
    finally:
        runner.close()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=24, help="distinct functions taken")
    ap.add_argument("--scale", type=int, default=10, help="copies of them (10 = the 10x corpus)")
    ap.add_argument("--workers", type=int, default=2, help="N for the ray_N run")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--address", default=None, help="join this cluster instead of starting one")
    ap.add_argument("--source", type=Path, default=PARSED, help="an ios-kind JSONL corpus")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import ray

    from codeio.runners.local import LocalRunner
    from codeio.runners.ray import RayRunner

    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    n = replicate(work / "input.jsonl", args.source, args.records, args.scale)
    config = _config(work / "input.jsonl", args.batch_size)

    cluster = None
    if args.address is None:
        from ray.cluster_utils import Cluster

        node = {"num_cpus": 1, "object_store_memory": 100 * MB}
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        for _ in range(args.workers - 1):
            cluster.add_node(**node)
        ray.init(address=cluster.address, log_to_driver=False)
    else:
        ray.init(address=args.address, log_to_driver=False)
    times: dict[str, float] = {}
    try:
        times["local"] = _timed(config, work / "local", LocalRunner())
        for w in sorted({1, args.workers}):
            times[f"ray_{w}"] = _timed(config, work / f"ray_{w}", RayRunner(workers=w))
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()

    ref = _exports(work / "local")
    identical = all(_exports(work / name) == ref for name in times)
    print(f"{'run':<8} {'seconds':>8} {'rec/s':>8}")
    for name, t in times.items():
        print(f"{name:<8} {t:8.1f} {n / t:8.2f}")
    top = f"ray_{args.workers}"
    result = {
        "ray_over_local": round(times[top] / times["local"], 3),
        f"speedup_{args.workers}_workers": round(times["ray_1"] / times[top], 3),
        "identical": identical,
        "records": n,
        "scale": args.scale,
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "cluster": args.address or f"local: {args.workers} one-CPU nodes",
        "cpus_here": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
