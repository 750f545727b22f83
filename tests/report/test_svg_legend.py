"""The grouped-bar legend: entries never overlap, long labels wrap onto a second row."""

from __future__ import annotations

import re

from codeio.report.svg import grouped_bars

# Wider than the real advance of the 11px sans label font (about 6.1px a character in Chromium,
# measured by tests/view/test_browser.py), so an overlap here means an overlap on screen.
_CHAR_W = 6.4


def _legend(svg: str) -> list[tuple[float, float, str]]:
    return [
        (float(x), float(y), name)
        for x, y, name in re.findall(
            r'<g class="legend"><rect x="([\d.]+)" y="(\d+)"[^>]*/><text[^>]*>([^<]*)</text></g>',
            svg,
        )
    ]


def test_correctness_per_turn_labels_do_not_overlap() -> None:
    names = ["correct among samples at this turn", "correct by this turn (all)"]
    svg = grouped_bars(["turn 1", "turn 2"], {n: [50.0, 90.0] for n in names}, title="t")
    entries = _legend(svg)
    assert [e[2] for e in entries] == names
    (x1, y1, n1), (x2, y2, _) = entries
    assert y1 == y2
    assert x2 >= x1 + 14 + len(n1) * _CHAR_W  # swatch + label end before the next swatch


def test_many_long_labels_wrap_and_push_the_plot_down() -> None:
    names = [f"series number {i} with a long descriptive label" for i in range(4)]
    one = grouped_bars(["a"], {"x": [1.0]}, title="t", width=400)
    svg = grouped_bars(["a"], {n: [1.0] for n in names}, title="t", width=400)
    entries = _legend(svg)
    assert len(entries) == 4
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, name in entries:
        rows.setdefault(y, []).append((x, name))
    assert len(rows) > 1
    for row in rows.values():
        for (xa, na), (xb, _) in zip(row, row[1:], strict=False):
            assert xb >= xa + 14 + len(na) * _CHAR_W
        last_x, last_name = row[-1]
        assert row[0][0] == 40.0 and (len(row) == 1 or last_x + 14 + len(last_name) * 6.1 <= 400)
    height = lambda s: int(re.search(r'height="(\d+)"', s).group(1))  # noqa: E731
    assert height(svg) > height(one)
    # No bar label or bar starts above the last legend row.
    last_row_y = max(rows)
    tops = [
        float(y)
        for y in re.findall(
            r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="[\d.]+" fill="#[0-9a-f]+"><title>',
            svg,
        )
    ]
    assert tops and min(tops) > last_row_y + 10
