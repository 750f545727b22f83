"""``evaluate``: ask a model every item of a benchmark n times, judge, and compute pass@k.

Runs are resumable: each judged response is appended to ``<out>/results.jsonl`` as soon as its
batch is done and skipped on rerun (a response cut at ``max_tokens`` is asked again, and its
new row replaces the old); a response the LLM failed to give is asked again by every rerun and
counts as wrong meanwhile, so pass@k is always over the whole benchmark (or ``--limit`` slice); the LLM client's SQLite cache (``<out>/llm_cache.sqlite``
when the runner builds the client) keeps answers that arrived before a crash. The cache key
includes the sample index, so the n samples of one prompt are n different answers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeio.errors import ConfigError, LLMError
from codeio.evaluate.benchmarks import Benchmark, EvalItem, get_benchmark
from codeio.evaluate.results import (
    EvalSummary,
    ResultRow,
    append_rows,
    read_rows,
    summarize,
    write_summary,
)
from codeio.llm.base import LengthError, LLMRequest, SamplingParams

if TYPE_CHECKING:
    from codeio.exec import Sandbox
    from codeio.llm.client import LLMClient

__all__ = ["evaluate", "load_items", "score_responses"]

log = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "eval_config.json"
CACHE_FILE = "llm_cache.sqlite"
Progress = Callable[[int, int], None]


def load_items(benchmark: Benchmark, data: Path | None, limit: int | None) -> list[EvalItem]:
    """The benchmark's items; ``limit`` keeps the first N problems (all cases of each)."""
    items = benchmark.load(Path(data) if data is not None else None)
    if limit is None:
        return items
    keep: list[str] = []
    for item in items:
        if item.group not in keep:
            if len(keep) >= limit:
                continue
            keep.append(item.group)
    wanted = set(keep)
    return [item for item in items if item.group in wanted]


def _rows_for(items: Sequence[EvalItem], judged: Sequence[Any], texts: Sequence[tuple[int, str, str]],
              ) -> list[ResultRow]:  # fmt: skip
    rows = []
    for item, judgement, (sample, text, finish) in zip(items, judged, texts, strict=True):
        rows.append(
            ResultRow(
                item_id=item.id,
                group=item.group,
                kind=item.kind,
                difficulty=item.difficulty,
                sample=sample,
                prompt=item.prompt,
                response=text,
                answer=judgement.answer,
                status=judgement.status,
                correct=judgement.correct,
                detail=judgement.detail,
                finish_reason=finish,
            )
        )
    return rows


class _SandboxScope:
    """Use the caller's sandbox, or own one for the duration of a run."""

    def __init__(self, sandbox: Sandbox | None, workers: int | None) -> None:
        self.given = sandbox
        self.workers = workers
        self.owned: Sandbox | None = None

    def __enter__(self) -> Sandbox:
        if self.given is not None:
            return self.given
        from codeio.exec import Sandbox

        self.owned = Sandbox(workers=self.workers)
        return self.owned

    def __exit__(self, *exc: object) -> None:
        if self.owned is not None:
            self.owned.close()


def _check_config(out: Path, config: dict[str, Any]) -> None:
    """Refuse to mix results of a different setup into one results file."""
    path = out / CONFIG_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        keys = ("benchmark", "model", "cot", "temperature", "max_tokens")
        diff = [k for k in keys if old.get(k) != config.get(k)]
        if diff:
            raise ConfigError(
                f"{out} holds results of another setup ({', '.join(diff)} differ); "
                "use another --out"
            )
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def evaluate(
    benchmark: str | Benchmark,
    client: LLMClient | str,
    *,
    data: str | Path | None = None,
    n: int = 1,
    k: Sequence[int] = (1,),
    cot: bool = True,
    limit: int | None = None,
    out: str | Path | None = None,
    temperature: float | None = None,
    max_tokens: int = 2048,
    workers: int | None = None,
    sandbox: Sandbox | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> EvalSummary:
    """Evaluate ``client`` (or an LLM spec string) on ``benchmark``; writes files when ``out``.

    ``temperature`` defaults to 0 for one sample and 0.8 for several (pass@k needs diversity).
    """
    if n < 1 or batch_size < 1:
        raise ConfigError("n and batch_size must be at least 1")
    started = time.monotonic()
    bench = get_benchmark(benchmark, cot=cot)
    items = load_items(bench, Path(data) if data is not None else None, limit)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    owns_client = isinstance(client, str)
    if isinstance(client, str):
        from codeio.llm import make_client

        cache = out_dir / CACHE_FILE if out_dir is not None else None
        client = make_client(client, cache_path=cache, **dict(client_options or {}))
    temp = temperature if temperature is not None else (0.0 if n == 1 else 0.8)
    params = SamplingParams(temperature=temp, max_tokens=max_tokens)
    try:
        model = client.model or client.backend.kind
        if out_dir is not None:
            _check_config(out_dir, {"benchmark": bench.name, "model": model, "cot": bench.cot,
                                    "temperature": temp, "max_tokens": max_tokens, "n": n,
                                    "data": str(data) if data else None})  # fmt: skip
        results_path = out_dir / RESULTS_FILE if out_dir is not None else None
        wanted = {item.id for item in items}
        latest: dict[tuple[str, int], ResultRow] = {}
        for r in read_rows(results_path) if results_path else []:
            if r.item_id in wanted and r.sample < n:
                latest[(r.item_id, r.sample)] = r  # a re-asked response replaces the earlier
        # Missing responses and cut ones are asked again; answered ones are kept.
        done = {key for key, r in latest.items() if r.finish_reason != "length"}
        pending = [(it, j) for it in items for j in range(n) if (it.id, j) not in done]
        reasons: dict[tuple[str, int], str] = {}
        with _SandboxScope(sandbox, workers) as sb:
            for start in range(0, len(pending), batch_size):
                batch = pending[start : start + batch_size]
                requests = [
                    LLMRequest(
                        messages=it.messages,
                        params=params,
                        stage="eval",
                        sample=j,
                        context=it.context,
                    )  # fmt: skip
                    for it, j in batch
                ]
                answered: list[tuple[EvalItem, tuple[int, str, str]]] = []
                for (it, j), res in zip(batch, client.complete_many(requests), strict=True):
                    if isinstance(res, LengthError):
                        # Judged as written (the answer may be in it), asked again next run.
                        answered.append((it, (j, res.completion.text, "length")))
                    elif isinstance(res, LLMError):
                        reasons[(it.id, j)] = res.reason
                        log.warning("no answer for %s sample %d: %s", it.id, j, res)
                    else:
                        answered.append((it, (j, res.text, res.finish_reason)))
                judged = bench.judge([(it, t[1]) for it, t in answered], sb)
                new = _rows_for([it for it, _ in answered], judged, [t for _, t in answered])
                if results_path is not None:
                    append_rows(results_path, new)
                for row in new:
                    latest[(row.item_id, row.sample)] = row
                if progress is not None:
                    progress(min(start + batch_size, len(pending)), len(pending))
        rows = list(latest.values())
        absent = [(it.id, j) for it in items for j in range(n) if (it.id, j) not in latest]
        missing_reasons: dict[str, int] = {}
        for key in absent:
            reason = reasons.get(key, "not_asked")
            missing_reasons[reason] = missing_reasons.get(reason, 0) + 1
        summary = summarize(
            rows, benchmark=bench.name, n=n, ks=k, model=model, cot=bench.cot, items=items,
            missing=len(absent), missing_reasons=missing_reasons,
            truncated=sum(r.finish_reason == "length" for r in rows),
            elapsed_s=round(time.monotonic() - started, 3),
            out_dir=str(out_dir) if out_dir is not None else None, usage=client.usage(),
        )  # fmt: skip
    finally:
        if owns_client:
            client.close()
    if out_dir is not None:
        write_summary(out_dir / SUMMARY_FILE, summary)
    return summary


def score_responses(
    benchmark: str | Benchmark,
    responses: Mapping[str, str | Sequence[str]],
    *,
    data: str | Path | None = None,
    k: Sequence[int] = (1,),
    cot: bool = True,
    sandbox: Sandbox | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
) -> EvalSummary:
    """Judge given response texts (item id -> one text or n texts) with the benchmark's judge.

    Only items named in ``responses`` are scored; no LLM is involved.
    """
    started = time.monotonic()
    bench = get_benchmark(benchmark, cot=cot)
    items = [
        it for it in load_items(bench, Path(data) if data else None, None) if it.id in responses
    ]
    unknown = set(responses) - {it.id for it in items}
    if unknown:
        raise ConfigError(f"{len(unknown)} response ids are not items of {bench.name}, "
                          f"e.g. {sorted(unknown)[0]!r}")  # fmt: skip
    work: list[tuple[EvalItem, tuple[int, str, str]]] = []
    for item in items:
        texts = responses[item.id]
        for j, text in enumerate([texts] if isinstance(texts, str) else texts):
            work.append((item, (j, text, "given")))
    n = max((t[0] + 1 for _, t in work), default=1)
    with _SandboxScope(sandbox, workers) as sb:
        judged = bench.judge([(it, t[1]) for it, t in work], sb)
    rows = _rows_for([it for it, _ in work], judged, [t for _, t in work])
    summary = summarize(rows, benchmark=bench.name, n=n, ks=k, cot=bench.cot,
                        elapsed_s=round(time.monotonic() - started, 3),
                        out_dir=str(out) if out is not None else None)  # fmt: skip
    if out is not None:
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / RESULTS_FILE).unlink(missing_ok=True)
        append_rows(out_dir / RESULTS_FILE, rows)
        write_summary(out_dir / SUMMARY_FILE, summary)
    return summary
