"""Run reports: the per-stage funnel, failure taxonomy, correctness and sample cards as HTML."""

from __future__ import annotations

from codeio.report.html import build_report, render_report, report_run
from codeio.report.stats import ReportStats, StageRow, collect_stats, normalize_funnel

__all__ = [
    "ReportStats",
    "StageRow",
    "build_report",
    "collect_stats",
    "normalize_funnel",
    "render_report",
    "report_run",
]
