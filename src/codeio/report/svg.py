"""Tiny inline-SVG charts: no JavaScript, no fonts to fetch, every label escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["PALETTE", "grouped_bars", "hbar_chart", "histogram", "legend_width", "log_bins"]

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1")


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def hbar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 640,
    color: str = PALETTE[0],
    value_suffix: str = "",
) -> str:
    """Horizontal bars, one per ``(label, value)``, longest scaled to the plot width."""
    bar_h, gap, label_w, top = 20, 6, 200, 28
    height = top + len(items) * (bar_h + gap) + 10
    peak = max((v for _, v in items), default=0) or 1
    plot_w = width - label_w - 70
    parts = [_open(width, height, title)]
    for index, (label, value) in enumerate(items):
        y = top + index * (bar_h + gap)
        length = max(1.0, plot_w * value / peak) if value else 0.0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" class="lbl">'
            f"{escape(_clip(label, 30))}<title>{escape(label)}</title></text>"
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="{color}"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 14}" class="val">'
            f"{escape(_fmt(value) + value_suffix)}</text>"
        )
    if not items:
        parts.append(f'<text x="10" y="{top + 14}" class="lbl">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(
    categories: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    y_max: float | None = None,
    width: int = 640,
    height: int = 260,
    value_suffix: str = "",
) -> str:
    """Vertical bars: one group per category, one bar per series, with a legend."""
    left, right, bottom = 40, 10, 40
    legend, legend_rows = _legend(list(series), left, width - right)
    # The plot starts below the legend, however many rows the labels needed.
    top = 24 + legend_rows * _LEGEND_ROW_H
    height += (legend_rows - 1) * _LEGEND_ROW_H
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs]
    peak = y_max if y_max is not None else (max(values, default=0) or 1)
    group_w = plot_w / max(1, len(categories))
    bar_w = group_w * 0.8 / max(1, len(series))
    parts = [_open(width, height, title)]
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>'
    )
    parts.append(legend)
    for s_index, (name, vs) in enumerate(series.items()):
        color = PALETTE[s_index % len(PALETTE)]
        for c_index, value in enumerate(vs):
            bar_h = plot_h * min(value, peak) / peak if peak else 0
            x = left + c_index * group_w + group_w * 0.1 + s_index * bar_w
            y = top + plot_h - bar_h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                f'fill="{color}"><title>{escape(f"{name}: {_fmt(value)}{value_suffix}")}</title>'
                f'</rect><text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                f'class="val">{escape(_fmt(value) + value_suffix)}</text>'
            )
    for c_index, category in enumerate(categories):
        x = left + c_index * group_w + group_w / 2
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="lbl">'
            f"{escape(_clip(category, 18))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


_LEGEND_ROW_H = 16
_LEGEND_CHAR_W = 6.6
"""A generous average advance of the 11px label font: widths are estimated, never measured."""
_LEGEND_SWATCH = 14
_LEGEND_GAP = 18


def legend_width(name: str) -> float:
    """Horizontal space one legend entry takes: swatch, label, gap to the next entry."""
    return _LEGEND_SWATCH + len(name) * _LEGEND_CHAR_W + _LEGEND_GAP


def _legend(names: list[str], left: float, right: float) -> tuple[str, int]:
    """Legend entries laid out by their label widths, wrapping onto new rows when needed.

    A fixed stride put long labels on top of each other ("correctness per turn"); each entry
    now starts after the previous one's estimated width. Returns the SVG and the row count.
    """
    parts: list[str] = []
    x, row = left, 0
    for index, name in enumerate(names):
        w = legend_width(name)
        if x > left and x + w - _LEGEND_GAP > right:
            x, row = left, row + 1
        y = 18 + row * _LEGEND_ROW_H
        color = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<g class="legend"><rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + _LEGEND_SWATCH:.1f}" y="{y + 9}" class="lbl">{escape(name)}</text></g>'
        )
        x += w
    return "".join(parts), max(1, row + 1)


def log_bins(values: Sequence[float]) -> list[tuple[float, float]]:
    """Power-of-two bins ``[lo, hi)`` covering ``values`` (sizes span orders of magnitude)."""
    if not values:
        return []
    top = max(1.0, max(values))
    edges = [0.0] + [2.0**k for k in range(0, int(math.log2(top)) + 2)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def histogram(
    values: Sequence[float], *, title: str, unit: str = "", width: int = 640, height: int = 220
) -> str:
    """A histogram over power-of-two bins; empty bins are drawn too, so gaps show."""
    bins = log_bins(values)
    counts = [sum(1 for v in values if lo <= v < hi) for lo, hi in bins]
    labels = [f"<{_short(hi)}{unit}" for _, hi in bins]
    return grouped_bars(labels, {"count": counts}, title=title, width=width, height=height)


def _short(value: float) -> str:
    for size, suffix in ((1 << 20, "M"), (1 << 10, "K")):
        if value >= size:
            return f"{value / size:.0f}{suffix}"
    return f"{value:.0f}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" class="chart">'
        f'<text x="8" y="14" class="ttl">{escape(title)}</text>'
    )
