"""``codeio view`` page times over a synthetic run store of 1,000,000 samples.

The store is written with the real store code (``RunStore.commit_outcomes`` of ``Attempt``
records, 5,000 per transaction) under a temp folder, plus the function records and a few unify
failures; then the viewer's index is built once (timed, reported) and the main pages are
rendered server-side by ``ViewApp.handle`` (routing, queries, templates, escaping; no socket):
each page once cold (first request after the index build) and then the median of ``--repeat``.

Target: 300 ms per page. Baseline, measured in the same run on the same store: the same answers
read straight from the store's JSON payloads, as a viewer without the sidecar index would (the
funnel's per-stage counts, and the filtered deep page by ``json_extract`` + OFFSET).

Prints a table, then as the LAST line one JSON object: ms per page, ``target_ms``,
``ratio_vs_target`` (worst warm page / target) and ``baseline_ratio`` (baseline / ours).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from codeio.pipeline.run.attempt import Attempt
from codeio.records import FunctionRecord, IOPair, PredictionTask, Sample, Turn, Verdict
from codeio.store import Outcome, RunStore
from codeio.view import ViewApp
from codeio.view.queries import encode_cursor

TARGET_MS = 300.0
RARE = "zebraquartz"
_CODE = (
    "def main_solution(n, m):\n    a, b = 0, 1\n    for _ in range(n):\n"
    "        a, b = b, (a + b) % m\n    return a % m  # variant {i}"
)
_WORDS = "stack queue sort search tree graph string prime sum list map count parse".split()
_PHRASES = [" ".join(random.Random(k).choice(_WORDS) for _ in range(12)) for k in range(1000)]


def _id(prefix: str, i: int) -> str:
    return prefix + hashlib.blake2b(str(i).encode(), digest_size=8).hexdigest()


def _attempt(i: int, rng: random.Random) -> Attempt:
    func = i // 4
    kind = "output" if i % 2 else "input"
    words = _PHRASES[rng.randrange(len(_PHRASES))]
    rare = f" {RARE}" if rng.random() < 0.001 else ""
    code = _CODE.format(i=func)
    prompt = (
        f"You are given a question about a function ({words}{rare}). Given the input "
        f'{{"n": {i % 97}, "m": 507}}, predict the output. Reason step by step.\n\n{code}'
    )
    pair = IOPair.model_construct(input={"n": i % 97, "m": 507}, output=i % 507)
    task_id = _id("t", i)
    task = PredictionTask.model_construct(
        id=task_id,
        func_id=_id("f", func),
        io_index=(i // 2) % 2,
        kind=kind,
        prompt=prompt,
        pair=pair,
        refcode=code,
        funcname="main_solution",
    )
    first = rng.random()
    status1 = "correct" if first < 0.7 else ("wrong" if first < 0.95 else "no_answer")
    body = f"I need to find what main_solution returns. Let me trace it: {words}. " * 3
    turns = [
        Turn.model_construct(
            response=body + f'\n```json\n{{"output": {i % 507 + (status1 != "correct")}}}\n```',
            answer=i % 507,
            has_answer=status1 != "no_answer",
            verdict=Verdict.model_construct(
                status=status1,
                feedback="[Mismatch] not correct" if status1 != "correct" else "[Correct]",
                actual_output=None,
                detail="",
            ),
        )
    ]
    if status1 != "correct":
        status2 = "correct" if rng.random() < 0.8 else "wrong"
        turns.append(
            Turn.model_construct(
                response="The feedback says I was wrong. Let me re-trace. " + body,
                answer=i % 507,
                has_answer=True,
                verdict=Verdict.model_construct(
                    status=status2,
                    feedback="[Correct]" if status2 == "correct" else "[Mismatch]",
                    actual_output=None,
                    detail="",
                ),
            )
        )
    sample = Sample.model_construct(
        task_id=task_id,
        func_id=task.func_id,
        kind=kind,
        prompt=prompt,
        turns=turns,
        model=rng.choice(["model-a", "model-b"]),
    )
    return Attempt.model_construct(id=task_id, task=task, sample=sample)


def build_store(run_dir: Path, n: int, seed: int = 0) -> float:
    """Write ``n`` samples (and ``n/4`` functions) with the real store code; returns seconds."""
    from codeio.records import Failure

    start = time.perf_counter()
    rng = random.Random(seed)
    with RunStore.open_run(run_dir) as store:
        # A throwaway store: skip the fsyncs that make a real run crash-safe (the disk, not the
        # store code, is what a million commits would otherwise wait on).
        store._db.execute("PRAGMA synchronous=OFF")
        batch: list[Outcome] = []
        # Ids are content hashes, so a real run inserts them in random order; writing them in
        # key order only makes building the benchmark's store faster, not the store different.
        for i in sorted(range(n), key=lambda i: _id("t", i)):
            a = _attempt(i, rng)
            batch.append(Outcome(input_id=a.id, outputs=[a]))
            if len(batch) == 5000:
                store.commit_outcomes("revise", batch)
                batch = []
        if batch:
            store.commit_outcomes("revise", batch)
        funcs: list[Outcome] = []
        fails: list[Outcome] = []
        for f in sorted(range((n + 3) // 4), key=lambda f: _id("f", f)):
            fn = FunctionRecord.model_construct(
                id=_id("f", f),
                refcode=_CODE.format(i=f),
                funcname="main_solution",
                inputgen="def input_generator(rng):\n    return {'n': rng.randint(0, 96), 'm': 507}",
                io_description="n: int, m: int",
                problem="Fibonacci modulo m.",
                ios=[IOPair.model_construct(input={"n": k, "m": 507}, output=k) for k in (3, 7)],
                raw_id=None,
                meta={},
            )
            funcs.append(Outcome(input_id=fn.id, outputs=[fn]))
            if f % 20 == 0:
                reason = rng.choice(["nondeterministic", "main_solution_error", "parse_error"])
                fails.append(
                    Outcome(
                        input_id=_id("r", f),
                        failure=Failure(
                            stage="unify",
                            record_id=_id("r", f),
                            reason=reason,
                            detail=f"{reason}: pair 0 differs on re-run <{f}>",
                        ),
                    )
                )
            if len(funcs) == 5000:
                store.commit_outcomes("sample", funcs)
                funcs = []
        store.commit_outcomes("sample", funcs)
        store.commit_outcomes("unify", fails)
        for stage in ("unify", "sample", "revise"):
            store.mark_complete(stage)
    return time.perf_counter() - start


def _time(app: ViewApp, target: str, repeat: int) -> tuple[float, float, float, int]:
    """First and median warm wall ms, median warm CPU ms (what a shared machine cannot steal)."""
    times, cpu = [], []
    status = 0
    for _ in range(repeat + 1):
        t, c = time.perf_counter(), time.process_time()
        resp = app.handle(target)
        body = resp.body if isinstance(resp.body, bytes) else b"".join(resp.body)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        status = resp.status
        assert body
    return times[0], statistics.median(times[1:]), statistics.median(cpu[1:]), status


def _baseline(store_path: Path) -> dict[str, float]:
    """The same answers read from the store alone (no sidecar index)."""
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    out = {}
    t = time.perf_counter()
    db.execute("SELECT stage, COUNT(*), SUM(ok) FROM done GROUP BY stage").fetchall()
    db.execute("SELECT stage, COUNT(*) FROM records GROUP BY stage").fetchall()
    out["funnel"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    db.execute(
        "SELECT id FROM records WHERE stage = 'revise'"
        " AND json_extract(payload, '$.sample.kind') = 'output'"
        " AND json_extract(payload, '$.sample.turns[0].verdict.status') = 'wrong'"
        " ORDER BY id LIMIT 50 OFFSET 100000"
    ).fetchall()
    out["samples_deep_filtered"] = (time.perf_counter() - t) * 1000
    db.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="Keep the store here and reuse it on the next run (default: a temp dir, removed).",
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_view_")) if args.dir is None else args.dir
    run_dir = tmp / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        store_path = run_dir / RunStore.FILENAME
        reuse = (
            store_path.is_file()
            and sqlite3.connect(store_path)
            .execute("SELECT COUNT(*) FROM done WHERE stage = 'revise'")
            .fetchone()[0]
            == args.samples
        )
        build_s = 0.0
        if not reuse:
            for p in run_dir.iterdir():
                p.unlink()
            build_s = build_store(run_dir, args.samples)
        size_mb = store_path.stat().st_size / 2**20
        print(
            f"store: {args.samples} samples, {size_mb:.0f} MiB, written in {build_s:.1f} s"
            + (" (reused)" if reuse else "")
        )
        app = ViewApp(run_dir, refresh_s=0)
        t, c = time.perf_counter(), time.process_time()
        app.start()
        index_s, index_cpu_s = time.perf_counter() - t, time.process_time() - c
        print(
            f"index: built in {index_s:.1f} s wall, {index_cpu_s:.1f} s CPU "
            f"({app.index.path.stat().st_size / 2**20:.0f} MiB)"
        )
        t = time.perf_counter()
        app.index.refresh(force=True)
        refresh_s = time.perf_counter() - t

        db = app.index.connection()
        ids = [
            r[0]
            for r in db.execute(
                "SELECT id FROM samples WHERE kind = 'output' AND v1 = 'wrong' ORDER BY id"
            )
        ]
        deep = ids[int(len(ids) * 0.9)]
        func_deep = db.execute(
            "SELECT func_id, id FROM samples ORDER BY func_id DESC, id DESC LIMIT 1 OFFSET ?",
            (args.samples * 9 // 10,),
        ).fetchone()
        sample_id = ids[len(ids) // 2]
        func_id = db.execute("SELECT func_id FROM samples WHERE id = ?", (sample_id,)).fetchone()[0]
        reason, failed_id = db.execute("SELECT reason, record_id FROM fails LIMIT 1").fetchone()
        app.index.release(db)
        pages = {
            "funnel": "/",
            "samples_first": "/samples",
            "samples_first_filtered": "/samples?kind=output&v1=wrong",
            "samples_deep_filtered": f"/samples?kind=output&v1=wrong&after={encode_cursor(deep, deep)}",
            "samples_deep_sorted_func_desc": "/samples?sort=func&order=desc&after="
            + encode_cursor(func_deep[0], func_deep[1]),
            "samples_multi_filter": "/samples?kind=input&v1=wrong&v2=correct&model=model-b&turns=2",
            "sample": f"/sample/{sample_id}",
            "function": f"/function/{func_id}",
            "samples_filtered_sorted_by_model": "/samples?kind=output&v1=wrong&sort=model",
            # No index narrows this combination (it matches nothing): the page's time budget.
            "samples_unnarrowed_filter": "/samples?v2=wrong&model=model-b&turns=1",
            "failures": f"/failures?stage=unify&reason={reason}",
            "failed_record": f"/record/{failed_id}",
            "text_search_common": "/samples?q=re-trace",
            "text_search_rare": f"/samples?q={RARE}",
            "download_first_1000_rows": None,
        }
        result: dict[str, Any] = {}
        print(f"{'page':32} {'first ms':>9} {'warm ms':>9} {'cpu ms':>8}  status")
        for name, target in pages.items():
            if target is None:
                continue
            first, warm, cpu, status = _time(app, target, args.repeat)
            result[name] = {
                "first_ms": round(first, 1),
                "warm_ms": round(warm, 1),
                "warm_cpu_ms": round(cpu, 1),
            }
            print(f"{name:32} {first:9.1f} {warm:9.1f} {cpu:8.1f}  {status}")
        # Download: time to the first 1,000 JSONL rows (it streams; the whole set is not a page).
        t = time.perf_counter()
        resp = app.handle("/download?format=messages&kind=output&v1=wrong")
        rows = 0
        for chunk in resp.body:  # type: ignore[union-attr]
            rows += chunk.count(b"\n")
            if rows >= 1000:
                break
        close = getattr(resp.body, "close", None)
        if close:
            close()
        dl = (time.perf_counter() - t) * 1000
        result["download_first_1000_rows"] = {"first_ms": round(dl, 1)}
        print(f"{'download (first 1000 rows)':32} {dl:9.1f}")
        base = _baseline(store_path)
        print(
            "baseline without the index: " + ", ".join(f"{k} {v:.0f} ms" for k, v in base.items())
        )
        app.close()
        page_names = [k for k in result if k != "download_first_1000_rows"]
        worst_warm = max(result[k]["warm_ms"] for k in page_names)
        worst_first = max(result[k]["first_ms"] for k in page_names)
        print(
            json.dumps(
                {
                    "benchmark": "view",
                    "samples": args.samples,
                    "store_mib": round(size_mb),
                    "store_write_s": round(build_s, 1),
                    "index_build_s": round(index_s, 1),
                    "index_build_cpu_s": round(index_cpu_s, 1),
                    "load_average_1m": round(os.getloadavg()[0], 1),
                    "index_refresh_nochange_s": round(refresh_s, 2),
                    "pages": result,
                    "target_ms": TARGET_MS,
                    "worst_warm_ms": worst_warm,
                    "worst_first_ms": worst_first,
                    "ratio_vs_target": round(worst_warm / TARGET_MS, 3),
                    "baseline_ms": {k: round(v, 1) for k, v in base.items()},
                    "baseline_ratio": {
                        k: round(base[k] / result[k]["warm_ms"], 1) for k in base if k in result
                    },
                }
            )
        )
    finally:
        if args.dir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
