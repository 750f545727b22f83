"""Recheck of stored pairs (the ``ios`` entry): a run's recheck vs re-running every pair.

Workload: the reference's parsed corpus (``rawcode_1k_parsed.jsonl``, 464 functions, ~4,500
stored pairs; needs the shared demo data). Both sides re-run every function twice, once on each
of two sandboxes (other hash seeds, other RNG seeds), with the same per-call timeout.

- baseline: every stored pair is re-run in both re-runs, in stored order (what ``codeio
  recheck`` did before, and what it still does to annotate each pair);
- ours: what a run does (``SamplerHandle.recheck_many``): smallest input first, the rest skipped
  after two calls timed out, and each re-run stopped at the first pair that does not give its
  stored output (that pair alone drops the function).

The two sides must keep the same functions: the script says how many differ (a call near the
timeout on a loaded machine can tip one way or the other) and prints as the LAST line one JSON
object with ``ratio`` = baseline seconds / ours.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from codeio.exec import ExecLimits, open_sandboxes
from codeio.pipeline.ingest.records import function_from_row
from codeio.pipeline.sample import recheck
from codeio.records import FunctionRecord

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CODEIO_SHARED_DATA") or ROOT / ".." / "shared" / "data")
PARSED = SHARED / "codeio-demo" / "rawcode_1k_parsed.jsonl"


def load(path: Path) -> list[FunctionRecord]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        record = function_from_row(f"{path}:{number}", json.loads(line), "ios")
        if isinstance(record, FunctionRecord):
            out.append(record)
    return out


def side(fns: list[FunctionRecord], workers: int, call_timeout_s: float, ours: bool) -> dict:
    limits = ExecLimits()
    first, second = open_sandboxes(
        {"workers": workers, "limits": limits, "hash_seed": 0},
        {"workers": workers, "limits": limits, "hash_seed": 1},
    )
    try:
        options: dict[str, Any] = (
            {"stop_at_first": True} if ours else {"stop_at_first": False, "max_timeouts": None}
        )
        start = time.perf_counter()
        results = list(recheck(fns, first, second, call_timeout_s=call_timeout_s, **options))
        seconds = time.perf_counter() - start
    finally:
        first.close()
        second.close()
    kept = {r.record_id for r in results if r.deterministic}
    return {"seconds": seconds, "kept": kept, "pairs": sum(len(f.ios) for f in fns if f.id in kept)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=PARSED)
    parser.add_argument("--workers", type=int, default=2, help="lanes of each sandbox")
    parser.add_argument("--call-timeout", type=float, default=5.0, help="seconds per call")
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"no corpus at {args.data} (set CODEIO_SHARED_DATA or pass --data)")
    fns = load(args.data)
    base = side(fns, args.workers, args.call_timeout, ours=False)
    ours = side(fns, args.workers, args.call_timeout, ours=True)
    differ = len(base["kept"] ^ ours["kept"])
    ratio = base["seconds"] / ours["seconds"]
    print(f"{len(fns)} functions, call timeout {args.call_timeout} s, {args.workers} lanes each")
    for name, res in (("baseline", base), ("ours", ours)):
        print(f"{name:9} {res['seconds']:7.1f} s  kept {len(res['kept'])} ({res['pairs']} pairs)")
    print(f"ratio {ratio:.2f}; functions kept by one side only: {differ}")
    where = {f.id: f.meta.get("ingest_source", f.id) for f in fns}
    for name, res in (("baseline", base), ("ours", ours)):
        for record_id in sorted(res["kept"] - (ours if res is base else base)["kept"]):
            print(f"  kept only by {name}: {where[record_id]}")
    print(
        json.dumps(
            {
                "ratio": round(ratio, 2),
                "functions": len(fns),
                "call_timeout_s": args.call_timeout,
                "baseline_s": round(base["seconds"], 1),
                "ours_s": round(ours["seconds"], 1),
                "baseline_kept": len(base["kept"]),
                "ours_kept": len(ours["kept"]),
                "kept_by_one_side_only": differ,
            }
        )
    )


if __name__ == "__main__":
    main()
