"""Per-response result rows, their JSONL file, and the summary computed from them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codeio.evaluate.metrics import mean_pass_at_k, usable_ks

__all__ = [
    "Breakdown",
    "EvalSummary",
    "ResultRow",
    "append_rows",
    "read_rows",
    "summarize",
    "write_summary",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class ResultRow(_Model):
    """One response to one item (test case), judged."""

    item_id: str
    group: str
    kind: str
    difficulty: str | None = None
    sample: int
    prompt: str
    response: str
    answer: str | None
    status: str
    correct: bool
    detail: str = ""
    finish_reason: str = ""


class Breakdown(_Model):
    problems: int
    pass_at_k: dict[str, float]


class EvalSummary(_Model):
    benchmark: str
    model: str = ""
    n: int
    ks: list[int]
    cot: bool = True
    problems: int
    """Problems scored: every problem of the benchmark (its ``--limit`` slice) when evaluating a
    model, a missing or failed sample counting as wrong; the given ones for ``score_responses``."""
    answered_problems: int = 0
    """Problems with at least one complete sample (all their cases answered)."""
    cases: int
    responses: int
    pass_at_k: dict[str, float]
    """``{"pass@1": 0.42, ...}`` over problems; a problem's sample counts only if all cases are right."""
    case_accuracy: float
    """Share of judged responses that are right, case by case."""
    by_difficulty: dict[str, Breakdown] = Field(default_factory=dict)
    by_kind: dict[str, Breakdown] = Field(default_factory=dict)
    statuses: dict[str, int] = Field(default_factory=dict)
    missing: int = 0
    """Responses the LLM failed to give (scored as wrong; a rerun asks again)."""
    missing_reasons: dict[str, int] = Field(default_factory=dict)
    """Why they are missing: the LLM failure reason of the last try (``not_asked`` if none)."""
    truncated: int = 0
    """Responses cut at ``max_tokens`` (judged as written; a rerun asks again)."""
    elapsed_s: float = 0.0
    out_dir: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)


def read_rows(path: Path) -> list[ResultRow]:
    """Rows of a results file; a torn last line (killed mid-write) is ignored."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(ResultRow.model_validate_json(line))
        except ValueError:
            continue
    return rows


def append_rows(path: Path, rows: Iterable[ResultRow]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(row.model_dump_json() + "\n")
        handle.flush()


def _problem_counts(
    rows: Sequence[ResultRow], expected: Mapping[str, set[str]] | None = None, n: int = 1
) -> dict[str, tuple[int, int]]:
    """group -> (complete samples, samples with every case right).

    With ``expected`` (group -> its case ids), every expected group counts with all ``n``
    samples: a sample with a case missing is a wrong sample, not a skipped one.
    """
    by_sample: dict[tuple[str, int], dict[str, bool]] = defaultdict(dict)
    for row in rows:
        by_sample[(row.group, row.sample)][row.item_id] = row.correct
    if expected is not None:
        out: dict[str, tuple[int, int]] = {}
        for group, case_ids in expected.items():
            right = 0
            for j in range(n):
                judged = by_sample.get((group, j), {})
                right += bool(case_ids) and all(judged.get(c, False) for c in case_ids)
            out[group] = (n, right)
        return out
    cases: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        cases[row.group].add(row.item_id)
    counts: dict[str, list[int]] = {g: [0, 0] for g in cases}
    for (group, _), judged in by_sample.items():
        if len(judged) < len(cases[group]):
            continue  # some case of this sample was never answered
        counts[group][0] += 1
        counts[group][1] += all(judged.values())
    return {g: (n, c) for g, (n, c) in counts.items() if n > 0}


def _pass_table(counts: dict[str, tuple[int, int]], ks: Sequence[int]) -> dict[str, float]:
    return {
        f"pass@{k}": mean_pass_at_k([nc for nc in counts.values() if nc[0] >= k], k) for k in ks
    }


def summarize(
    rows: Sequence[ResultRow],
    *,
    benchmark: str,
    n: int,
    ks: Sequence[int],
    items: Sequence[Any] | None = None,
    **extra: Any,
) -> EvalSummary:
    """pass@k over problems, overall and per difficulty and kind, from judged rows.

    With ``items`` (the benchmark's ``EvalItem``s that were asked), pass@k is over all their
    problems and every missing response counts as wrong.
    """
    expected: dict[str, set[str]] | None = None
    if items is not None:
        expected = defaultdict(set)
        for item in items:
            expected[item.group].add(item.id)
    counts = _problem_counts(rows, expected, n)
    # Given responses may hold fewer samples for some problems than ``n``: a k above any
    # problem's count would be averaged over the others only, so it is not reported at all.
    fewest = min((nc[0] for nc in counts.values()), default=n)
    use_ks = usable_ks(ks, min(n, fewest)) or [1]
    answered = len(_problem_counts(rows)) if expected is not None else len(counts)
    breakdowns: dict[str, dict[str, Breakdown]] = {}
    for field, attr in (("by_difficulty", "difficulty"), ("by_kind", "kind")):
        labels: dict[str, str] = {}
        for row in [*(items or ()), *rows]:
            label = getattr(row, attr)
            if label is not None:
                labels[row.group] = str(label)
        if len(set(labels.values())) < (1 if attr == "difficulty" else 2):
            continue  # a single kind says nothing the overall line does not
        table = {}
        for label in sorted(set(labels.values())):
            sub = {g: nc for g, nc in counts.items() if labels.get(g) == label}
            table[label] = Breakdown(problems=len(sub), pass_at_k=_pass_table(sub, use_ks))
        breakdowns[field] = table
    return EvalSummary(
        benchmark=benchmark,
        n=n,
        ks=use_ks,
        problems=len(counts),
        answered_problems=answered,
        cases=len({row.item_id for row in rows}),
        responses=len(rows),
        pass_at_k=_pass_table(counts, use_ks),
        case_accuracy=(sum(r.correct for r in rows) / len(rows)) if rows else 0.0,
        statuses=dict(Counter(row.status for row in rows)),
        **breakdowns,
        **extra,
    )


def write_summary(path: Path, summary: EvalSummary) -> None:
    path.write_text(json.dumps(summary.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
