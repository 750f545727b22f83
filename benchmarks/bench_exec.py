"""Execution engine vs the reference approach (a fresh ``python`` per check), in one run.

(a) per-check overhead on a trivial function; (b) throughput re-running the stored I/O pairs of
the demo corpus (ours: all pairs; baseline: a random sample). Both sides use two parallel lanes.
Run from the project root: ``.venv/bin/python benchmarks/bench_exec.py``. The last line printed
is one JSON object with the ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from codeio.exec import DEFAULT_PRELUDE, ExecLimits, ExecTask, Sandbox, Status

CORPUS = Path("../shared/data/codeio-demo/rawcode_1k_parsed.jsonl")
TRIVIAL = "def f(x):\n    return x\n"
# The same trivial check written by code that uses numpy: ours runs it from the numpy template.
TRIVIAL_NUMPY = "import numpy as np\ndef f(x):\n    return x\n"
# The reference imports numpy in every check; ours imports it once, in the templates of the
# tasks that use it.
REFERENCE_PRELUDE = (*DEFAULT_PRELUDE, "numpy")

# What the reference scripts do per check: a new interpreter importing the prelude, running the
# code, calling the function and printing the JSON result.
_BASELINE_TEMPLATE = """\
{imports}
import json
{code}
print(json.dumps({entry}(**json.loads({kwargs!r}))))
"""


def _baseline_check(code: str, entry: str, kwargs: dict[str, Any], timeout_s: float) -> Any:
    imports = "\n".join(f"import {name}" for name in REFERENCE_PRELUDE)
    source = _BASELINE_TEMPLATE.format(
        imports=imports, code=code, entry=entry, kwargs=json.dumps(kwargs)
    )
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "check.py"
        script.write_text(source)
        try:
            proc = subprocess.run(
                [sys.executable, str(script)],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            return ("timeout",)
    if proc.returncode != 0:
        return ("error",)
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return ("error",)


def _baseline_many(items: list[tuple[str, str, dict[str, Any]]], timeout_s: float) -> list[Any]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda it: _baseline_check(*it, timeout_s), items))


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trivial", type=int, default=2000, help="ours: trivial checks")
    parser.add_argument("--baseline-trivial", type=int, default=40)
    parser.add_argument("--sample", type=int, default=200, help="baseline corpus sample size")
    parser.add_argument("--timeout", type=float, default=3.0, help="per-pair timeout, both sides")
    parser.add_argument(
        "--limit-pairs", type=int, default=0, help="ours: use only N pairs (0: all)"
    )
    args = parser.parse_args()

    records = [json.loads(line) for line in CORPUS.open()]
    pairs = [
        (r["refcode"], r["funcname"], io["input"], io["output"]) for r in records for io in r["ios"]
    ]
    if args.limit_pairs:
        pairs = pairs[: args.limit_pairs]
    limits = ExecLimits(timeout_s=args.timeout)

    with Sandbox(workers=2, limits=limits) as sb:
        # (a) overhead
        sb.run(TRIVIAL, "f", {"x": 0})
        tasks = [ExecTask(code=TRIVIAL, entry="f", kwargs={"x": i}) for i in range(args.trivial)]
        start = time.perf_counter()
        ok = sum(r.value == i for i, r in enumerate(sb.map(tasks)))
        ours_overhead_ms = (time.perf_counter() - start) / args.trivial * 1000
        assert ok == args.trivial, f"{args.trivial - ok} trivial checks failed"
        sb.run(TRIVIAL_NUMPY, "f", {"x": 0})
        tasks = [
            ExecTask(code=TRIVIAL_NUMPY, entry="f", kwargs={"x": i}) for i in range(args.trivial)
        ]
        start = time.perf_counter()
        ok = sum(r.value == i for i, r in enumerate(sb.map(tasks)))
        ours_numpy_ms = (time.perf_counter() - start) / args.trivial * 1000
        assert ok == args.trivial, f"{args.trivial - ok} trivial numpy checks failed"

        # (b) corpus
        tasks = [ExecTask(code=c, entry=e, kwargs=k) for c, e, k, _ in pairs]
        start = time.perf_counter()
        statuses: dict[str, int] = {}
        matched = 0
        for (_, _, _, expected), result in zip(pairs, sb.map(tasks), strict=True):
            statuses[result.status.value] = statuses.get(result.status.value, 0) + 1
            matched += result.status is Status.OK and _equal(result.value, expected)
        ours_wall = time.perf_counter() - start
        containment = sb.containment
        pools = {"+".join(key) or "base": n for key, n in sb.pools().items()}

    base_items = [(TRIVIAL, "f", {"x": i}) for i in range(args.baseline_trivial)]
    start = time.perf_counter()
    base_results = _baseline_many(base_items, 60.0)
    baseline_overhead_ms = (time.perf_counter() - start) / len(base_items) * 1000
    assert base_results == list(range(args.baseline_trivial)), "baseline trivial checks failed"

    sample = random.Random(0).sample(pairs, min(args.sample, len(pairs)))
    start = time.perf_counter()
    base_out = _baseline_many([(c, e, k) for c, e, k, _ in sample], args.timeout)
    base_wall = time.perf_counter() - start
    base_matched = sum(_equal(got, want) for got, (*_, want) in zip(base_out, sample, strict=True))

    ours_pps = len(pairs) / ours_wall
    base_pps = len(sample) / base_wall
    rows = [
        (
            "trivial check, ms each (2 lanes)",
            f"{ours_overhead_ms:.2f}",
            f"{baseline_overhead_ms:.1f}",
        ),
        (
            "same, code imports numpy, ms each",
            f"{ours_numpy_ms:.2f}",
            f"{baseline_overhead_ms:.1f}",
        ),
        ("corpus pairs run", str(len(pairs)), str(len(sample))),
        ("corpus pairs/s", f"{ours_pps:.1f}", f"{base_pps:.2f}"),
        (
            "corpus outputs matching stored",
            f"{matched / len(pairs):.1%}",
            f"{base_matched / len(sample):.1%}",
        ),
    ]
    print(f"containment: {containment}; cpus: {os.cpu_count()}; per-pair timeout {args.timeout}s")
    print(f"ours corpus statuses: {statuses}")
    print(f"ours templates at the end (warm modules: workers): {pools}")
    print(f"{'':36} {'ours':>10} {'baseline':>10}")
    for name, ours, base in rows:
        print(f"{name:36} {ours:>10} {base:>10}")
    print(
        json.dumps(
            {
                "overhead_ratio": round(baseline_overhead_ms / ours_overhead_ms, 1),
                "corpus_ratio": round(ours_pps / base_pps, 1),
                "ours_overhead_ms": round(ours_overhead_ms, 3),
                "ours_numpy_overhead_ms": round(ours_numpy_ms, 3),
                "baseline_overhead_ms": round(baseline_overhead_ms, 1),
                "ours_pairs_per_s": round(ours_pps, 1),
                "baseline_pairs_per_s": round(base_pps, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
