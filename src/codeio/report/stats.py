"""The numbers a report shows, computed from the funnel, the samples and the functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codeio.ids import canonical_json
from codeio.records import FunctionRecord, Sample

__all__ = ["ReportStats", "StageRow", "collect_stats", "normalize_funnel"]


@dataclass(frozen=True)
class StageRow:
    """One stage of the funnel: records in, records out, failures by reason."""

    stage: str
    n_in: int | None
    n_out: int
    failures: dict[str, int] = field(default_factory=dict)


def normalize_funnel(funnel: Mapping[str, Any]) -> tuple[list[StageRow], dict[str, float]]:
    """Stage rows and the unify-repair counters, from any of the accepted funnel shapes.

    Accepted: ``{"stages": [{"stage"|"name", "in", "out", "failures": {reason: n}}, ...],
    "unify_repair": {"tried": n, "repaired": n}}``; a mapping ``{stage: {"in", "out",
    "failures"}}``; or a flat ``{stage: n_out}``.
    """
    repair = dict(funnel.get("unify_repair") or {})
    raw_stages = funnel.get("stages")
    if raw_stages is None:
        raw_stages = [
            {"stage": name, **(value if isinstance(value, Mapping) else {"out": value})}
            for name, value in funnel.items()
            if name not in ("unify_repair", "translate")
        ]
    elif isinstance(raw_stages, Mapping):
        raw_stages = [{"stage": name, **value} for name, value in raw_stages.items()]
    rows = []
    for entry in raw_stages:
        n_in = entry.get("in", entry.get("n_in"))
        rows.append(
            StageRow(
                stage=str(entry.get("stage", entry.get("name", "?"))),
                n_in=int(n_in) if n_in is not None else None,
                n_out=int(entry.get("out", entry.get("n_out", 0)) or 0),
                failures={str(k): int(v) for k, v in (entry.get("failures") or {}).items()},
            )
        )
    return rows, {str(k): float(v) for k, v in repair.items()}


@dataclass
class ReportStats:
    stages: list[StageRow]
    repair: dict[str, float]
    n_samples: int = 0
    max_turns: int = 0
    correct_at_turn: list[int] = field(default_factory=list)
    """Samples whose verdict at turn t (1-based index t-1) is correct."""
    reached_turn: list[int] = field(default_factory=list)
    """Samples that have a turn t."""
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    """kind -> {"total", "first_correct", "final_correct"}."""
    input_sizes: list[int] = field(default_factory=list)
    output_sizes: list[int] = field(default_factory=list)
    n_functions: int = 0
    cards: dict[str, list[Sample]] = field(default_factory=dict)
    """A few samples to show, by outcome: revised, correct at once, still wrong."""
    process_claims: dict[str, int] = field(default_factory=dict)
    """Claims over every checked turn, by status (supported / contradicted / unverifiable)."""
    process_turns: list[dict[str, int]] = field(default_factory=list)
    """Per turn index: {"checked", "contradicted", "right_wrong_steps"} (turns with a verdict)."""
    process_cards: list[Sample] = field(default_factory=list)
    """Samples whose steps contradict the trace, right answers first."""
    translate: dict[str, int] = field(default_factory=dict)
    """generate.translate: rewrites ``accepted`` and templates kept, by reason."""


def collect_stats(
    funnel: Mapping[str, Any],
    samples: Iterable[Sample],
    functions: Iterable[FunctionRecord],
    *,
    cards_per_outcome: int = 2,
) -> ReportStats:
    """One pass over samples and functions (both may be streams from the store)."""
    stages, repair = normalize_funnel(funnel)
    stats = ReportStats(stages=stages, repair=repair)
    stats.translate = {str(k): int(v) for k, v in (funnel.get("translate") or {}).items() if v}
    stats.cards = {"revised to correct": [], "correct at once": [], "wrong": []}
    stats.process_claims = {"supported": 0, "contradicted": 0, "unverifiable": 0}
    wrong_steps: list[Sample] = []
    for sample in samples:
        _add_sample(stats, sample)
        _add_process(stats, sample, wrong_steps, cards_per_outcome + 1)
        pile = stats.cards[_outcome(sample)]
        if len(pile) < cards_per_outcome:
            pile.append(sample)
    stats.process_cards = stats.process_cards or wrong_steps[: cards_per_outcome + 1]
    for fn in functions:
        stats.n_functions += 1
        for pair in fn.ios:
            stats.input_sizes.append(len(canonical_json(pair.input).encode("utf-8")))
            stats.output_sizes.append(len(canonical_json(pair.output).encode("utf-8")))
    return stats


def _add_sample(stats: ReportStats, sample: Sample) -> None:
    stats.n_samples += 1
    turns = len(sample.turns)
    if turns > stats.max_turns:
        extra = turns - stats.max_turns
        stats.correct_at_turn.extend([0] * extra)
        stats.reached_turn.extend([0] * extra)
        stats.max_turns = turns
    for index, turn in enumerate(sample.turns):
        stats.reached_turn[index] += 1
        if turn.verdict is not None and turn.verdict.status == "correct":
            stats.correct_at_turn[index] += 1
    kind = stats.by_kind.setdefault(
        sample.kind, {"total": 0, "first_correct": 0, "final_correct": 0}
    )
    kind["total"] += 1
    first = sample.turns[0].verdict if sample.turns else None
    kind["first_correct"] += int(first is not None and first.status == "correct")
    kind["final_correct"] += int(sample.final_status == "correct")


def _add_process(stats: ReportStats, sample: Sample, wrong_steps: list[Sample], keep: int) -> None:
    right_wrong = False
    for index, turn in enumerate(sample.turns):
        process = turn.verdict.process if turn.verdict is not None else None
        if process is None:
            continue
        while len(stats.process_turns) <= index:
            stats.process_turns.append({"checked": 0, "contradicted": 0, "right_wrong_steps": 0})
        row = stats.process_turns[index]
        row["checked"] += 1
        stats.process_claims["supported"] += process.supported
        stats.process_claims["contradicted"] += process.contradicted
        stats.process_claims["unverifiable"] += process.unverifiable
        if process.contradicted:
            row["contradicted"] += 1
            if turn.verdict is not None and turn.verdict.status == "correct":
                row["right_wrong_steps"] += 1
                right_wrong = True
    contradicted = any(
        t.verdict is not None and t.verdict.process is not None and t.verdict.process.contradicted
        for t in sample.turns
    )
    if right_wrong and len(stats.process_cards) < keep:
        stats.process_cards.append(sample)
    elif contradicted and len(wrong_steps) < keep:
        wrong_steps.append(sample)


def _outcome(sample: Sample) -> str:
    if sample.final_status != "correct":
        return "wrong"
    return "correct at once" if len(sample.turns) == 1 else "revised to correct"
