"""A self-contained HTML report of a run: inline CSS and SVG, no scripts, everything escaped."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

from codeio.records import FunctionRecord, Sample
from codeio.report.stats import ReportStats, collect_stats
from codeio.report.svg import PALETTE, grouped_bars, hbar_chart, histogram

__all__ = ["build_report", "render_report", "report_run"]

# A card shows the start of long prompts and responses; the export files hold the full text.
_CARD_TEXT_LIMIT = 6000

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
.chart{display:block;margin:8px 0;background:#fafafa;border:1px solid #eee}
.ttl{font-size:13px;font-weight:600}.lbl{font-size:11px}.val{font-size:10px;fill:#444}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px;text-align:right}
th:first-child,td:first-child{text-align:left}
.card{border:1px solid #ccc;border-radius:6px;padding:10px;margin:12px 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;font-size:12px;
max-height:360px;overflow:auto}
.badge{display:inline-block;padding:1px 6px;border-radius:4px;color:#fff;font-size:12px}
.correct{background:#59a14f}.wrong{background:#e15759}.other{background:#888}
.muted{color:#777;font-size:12px}
mark.bad{background:#f8d0d0;border-bottom:2px solid #e15759}
"""


def build_report(
    funnel: Mapping[str, Any],
    samples: Iterable[Sample],
    functions: Iterable[FunctionRecord],
    out: Path | str,
    *,
    title: str = "codeio run report",
) -> Path:
    """Write the report to ``out`` (atomically) and return its path."""
    from codeio.pipeline.export.files import atomic_path

    stats = collect_stats(funnel, samples, functions)
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_text(render_report(stats, title=title), encoding="utf-8")
    return out


def render_report(stats: ReportStats, *, title: str = "codeio run report") -> str:
    sections = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{stats.n_functions} functions, {stats.n_samples} samples, '
        f"{len(stats.input_sizes)} I/O pairs</p>",
        _funnel_section(stats),
        _failure_section(stats),
        _repair_section(stats),
        _correctness_section(stats),
        _sizes_section(stats),
        _process_section(stats),
        _cards_section(stats),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(s for s in sections if s)
        + "</body></html>\n"
    )


def _funnel_section(stats: ReportStats) -> str:
    items = [(row.stage, float(row.n_out)) for row in stats.stages]
    rows = "".join(
        f"<tr><td>{escape(r.stage)}</td><td>{'' if r.n_in is None else r.n_in}</td>"
        f"<td>{r.n_out}</td><td>{sum(r.failures.values())}</td></tr>"
        for r in stats.stages
    )
    table = f"<table><tr><th>stage</th><th>in</th><th>out</th><th>failed</th></tr>{rows}</table>"
    return (
        '<h2 id="funnel">Funnel per stage</h2>'
        + hbar_chart(items, title="records out of each stage")
        + table
    )


def _failure_section(stats: ReportStats) -> str:
    items = sorted(
        (
            (f"{r.stage}: {reason}", float(n))
            for r in stats.stages
            for reason, n in r.failures.items()
        ),
        key=lambda item: (-item[1], item[0]),
    )
    return '<h2 id="failures">Failure reasons</h2>' + hbar_chart(
        items[:25], title="failures by stage and reason", color=PALETTE[3]
    )


def _repair_section(stats: ReportStats) -> str:
    tried = stats.repair.get("tried", stats.repair.get("repair_tried", 0.0))
    repaired = stats.repair.get("repaired", 0.0)
    if not tried:
        return ""
    rate = 100.0 * repaired / tried
    return (
        '<h2 id="repair">Unify repair yield</h2>'
        f"<p>{int(repaired)} of {int(tried)} unify responses that failed to parse or run were "
        f"repaired ({rate:.1f}%).</p>"
    )


def _correctness_section(stats: ReportStats) -> str:
    if not stats.n_samples:
        return '<h2 id="correctness">Correctness</h2><p>no samples</p>'
    turns = [f"turn {i + 1}" for i in range(stats.max_turns)]
    per_turn = [
        100.0 * correct / reached if reached else 0.0
        for correct, reached in zip(stats.correct_at_turn, stats.reached_turn, strict=True)
    ]
    cumulative, running = [], 0
    for correct in stats.correct_at_turn:
        running += correct
        cumulative.append(100.0 * running / stats.n_samples)
    kinds = sorted(stats.by_kind)
    first = [_pct(stats.by_kind[k]["first_correct"], stats.by_kind[k]["total"]) for k in kinds]
    final = [_pct(stats.by_kind[k]["final_correct"], stats.by_kind[k]["total"]) for k in kinds]
    return (
        '<h2 id="correctness">Correctness</h2>'
        + grouped_bars(
            turns,
            {
                "correct among samples at this turn": per_turn,
                "correct by this turn (all)": cumulative,
            },
            title="correctness per turn (%)",
            y_max=100.0,
            value_suffix="%",
        )
        + grouped_bars(
            [f"{k} prediction" for k in kinds],
            {"first turn": first, "final": final},
            title="correctness per task type (%)",
            y_max=100.0,
            value_suffix="%",
        )
    )


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _sizes_section(stats: ReportStats) -> str:
    return (
        '<h2 id="sizes">I/O sizes</h2>'
        + histogram(stats.input_sizes, title="input size (bytes of JSON)", unit="B")
        + histogram(stats.output_sizes, title="output size (bytes of JSON)", unit="B")
    )


def _cards_section(stats: ReportStats) -> str:
    cards = [_card(outcome, sample) for outcome, pile in stats.cards.items() for sample in pile]
    return '<h2 id="samples">Sample cards</h2>' + ("".join(cards) or "<p>no samples</p>")


def _card(outcome: str, sample: Sample) -> str:
    turns = []
    for index, turn in enumerate(sample.turns, start=1):
        verdict = turn.verdict
        status = verdict.status if verdict else "unverified"
        css = status if status in ("correct", "wrong") else "other"
        answer = (
            json.dumps(turn.answer, ensure_ascii=False, default=str) if turn.has_answer else "none"
        )
        feedback = (
            f'<div class="muted">feedback:</div><pre>{_text(verdict.feedback)}</pre>'
            if verdict and verdict.feedback
            else ""
        )
        turns.append(
            f'<h4>turn {index} <span class="badge {css}">{escape(status)}</span></h4>'
            f"<pre>{_text(turn.response)}</pre>"
            f'<div class="muted">extracted answer: {escape(answer[:500])}</div>{feedback}'
        )
    return (
        f'<div class="card"><div><b>{escape(outcome)}</b> &middot; {escape(sample.kind)} '
        f'prediction &middot; <span class="muted">{escape(sample.task_id)} / '
        f"{escape(sample.func_id)}</span></div>"
        f'<div class="muted">prompt:</div><pre>{_text(sample.prompt)}</pre>'
        + "".join(turns)
        + "</div>"
    )


def _process_section(stats: ReportStats) -> str:
    """Claim checks (docs/PROCESS.md): how the steps fared, and right answers with wrong steps."""
    claims = stats.process_claims
    translate = _translate_line(stats.translate)
    if not stats.process_turns:
        return f'<h2 id="process">Process verdicts</h2>{translate}' if translate else ""
    chart = hbar_chart(
        [
            (status, float(claims.get(status, 0)))
            for status in ("supported", "contradicted", "unverifiable")
        ],
        title="claims about the execution, by verdict against the trace",
    )
    rows = "".join(
        f"<tr><td>turn {i + 1}</td><td>{r['checked']}</td><td>{r['contradicted']}</td>"
        f"<td>{r['right_wrong_steps']}</td></tr>"
        for i, r in enumerate(stats.process_turns)
    )
    table = (
        "<table><tr><th>turn</th><th>checked</th><th>steps contradicted</th>"
        f"<th>right answer, wrong steps</th></tr>{rows}</table>"
    )
    cards = "".join(_process_card(sample) for sample in stats.process_cards)
    return (
        '<h2 id="process">Process verdicts</h2>'
        + translate
        + chart
        + table
        + (f"<h3>Steps that contradict the trace</h3>{cards}" if cards else "")
    )


def _translate_line(counts: Mapping[str, int]) -> str:
    """The LLM translator over the trace teacher: rewrites kept, and why the others were not."""
    if not counts:
        return ""
    rest = {k: v for k, v in counts.items() if k != "accepted"}
    why = ", ".join(f"{escape(k)} {v}" for k, v in sorted(rest.items(), key=lambda x: -x[1]))
    kept = f"; template narration kept for {sum(rest.values())} ({why})" if rest else ""
    return f'<p id="translate">Translator: {counts.get("accepted", 0)} rewrites accepted{kept}.</p>'


def _process_card(sample: Sample) -> str:
    turns = []
    for index, turn in enumerate(sample.turns, start=1):
        verdict = turn.verdict
        process = verdict.process if verdict is not None else None
        if process is None or not process.contradicted:
            continue
        status = verdict.status if verdict else "unverified"
        css = status if status in ("correct", "wrong") else "other"
        bad = [c for c in process.claims if c.status == "contradicted"]
        notes = "".join(
            f"<li>{escape(c.where)}: said <code>{escape(c.name or c.kind)}</code> = "
            f"{escape(c.claimed)}; trace shows {escape(c.actual or '?')}</li>"
            for c in bad[:8]
        )
        turns.append(
            f'<h4>turn {index} <span class="badge {css}">{escape(status)}</span> '
            f'<span class="muted">{process.supported} supported, {process.contradicted} '
            f"contradicted, {process.unverifiable} unverifiable</span></h4>"
            f"<pre>{_highlight(turn.response, bad)}</pre><ul>{notes}</ul>"
        )
    return (
        f'<div class="card"><div>{escape(sample.kind)} prediction &middot; '
        f'<span class="muted">{escape(sample.task_id)} / {escape(sample.func_id)}</span></div>'
        + "".join(turns)
        + "</div>"
    )


def _highlight(text: str, claims: list[Any]) -> str:
    """The response, escaped, with each contradicted claim's span in a <mark>."""
    limit = min(len(text), _CARD_TEXT_LIMIT)
    spans = sorted(
        (max(0, c.span[0]), min(limit, c.span[1]), c) for c in claims if c.span[0] < limit
    )
    out, pos = [], 0
    for start, end, claim in spans:
        if start < pos or end <= start:
            continue
        tip = f"trace shows {claim.actual or '?'}"
        out.append(escape(text[pos:start]))
        out.append(f'<mark class="bad" title="{escape(tip)}">{escape(text[start:end])}</mark>')
        pos = end
    out.append(escape(text[pos:limit]))
    if len(text) > limit:
        out.append(escape(f"\n... ({len(text) - limit} more characters)"))
    return "".join(out)


def _text(text: str) -> str:
    if len(text) > _CARD_TEXT_LIMIT:
        text = text[:_CARD_TEXT_LIMIT] + f"\n... ({len(text) - _CARD_TEXT_LIMIT} more characters)"
    return escape(text)


def report_run(run_dir: Path | str, out: Path | str | None = None) -> Path:
    """The report of a run directory, read from its store; ``out`` defaults to ``<run>/report.html``."""
    from codeio.pipeline.export.source import RunSource

    target = Path(out) if out is not None else Path(run_dir) / "report.html"
    with RunSource(run_dir) as source:
        return build_report(
            source.funnel(),
            source.samples(),
            source.functions(),
            target,
            title=f"codeio run report: {Path(run_dir).name}",
        )
