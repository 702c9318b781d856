"""Inline SVG charts for the bench report: horizontal bars (linear or log scale) and a histogram.

Plain strings, no plotting library and nothing external (no scripts, fonts or URLs), so report.html opens offline
and the desktop dashboard can render the very same SVG with QtSvg.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH = 640
BAR_H = 22
GAP = 8
LABEL_W = 170
VALUE_W = 110
COLORS = ("#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4")
FONT = "font-family=\"sans-serif\" font-size=\"12\""


def _fmt(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _frame(title: str, height: int) -> list[str]:
    """The opening of every chart: the SVG element, a white background and the title."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            f'<text x="8" y="20" {FONT} font-weight="bold" fill="#111827">{escape(title)}</text>']


def bar_chart(title: str, items: Sequence[tuple[str, float]], unit: str, *, log: bool = False) -> str:
    """One bar per (label, value); values that are missing (NaN/None) or not positive on a log scale are skipped."""
    rows = [(label, float(v)) for label, v in items
            if v is not None and math.isfinite(float(v)) and (float(v) > 0 or not log)]
    height = 34 + max(1, len(rows)) * (BAR_H + GAP) + (18 if log else 0)
    span = WIDTH - LABEL_W - VALUE_W
    parts = _frame(title, height)
    if not rows:
        parts.append(f'<text x="8" y="48" {FONT} fill="#6b7280">no data</text>')
    else:
        values = [v for _, v in rows]
        if log:
            lo = math.floor(math.log10(min(values)))
            hi = max(math.ceil(math.log10(max(values))), lo + 1)

            def scale(v: float) -> float:
                return (math.log10(v) - lo) / (hi - lo) * span
        else:
            top = max(max(values), 1e-12)

            def scale(v: float) -> float:
                return max(0.0, v) / top * span
        if log:  # grid first, so the bars are drawn over it
            y = height - 8
            for exp in range(lo, hi + 1):
                x = LABEL_W + (exp - lo) / (hi - lo) * span
                parts.append(f'<line x1="{x:.1f}" y1="28" x2="{x:.1f}" y2="{y - 10}" stroke="#e5e7eb"/>')
                parts.append(f'<text x="{x:.1f}" y="{y}" {FONT} text-anchor="middle" fill="#6b7280">'
                             f'{_fmt(10.0 ** exp)}</text>')
        for i, (label, value) in enumerate(rows):
            y = 32 + i * (BAR_H + GAP)
            w = max(1.0, scale(value))
            parts.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" {FONT} text-anchor="end" '
                         f'fill="#111827">{escape(label)}</text>')
            parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                         f'fill="{COLORS[i % len(COLORS)]}"><title>{escape(label)}: {_fmt(value)} {escape(unit)}'
                         f'</title></rect>')
            parts.append(f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 15}" {FONT} fill="#111827">'
                         f'{_fmt(value)} {escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(title: str, values: Sequence[float], unit: str, *, bins: int = 30,
              marks: Sequence[tuple[str, float]] = ()) -> str:
    """Distribution of values (e.g. inter-token gaps), with vertical marks such as p50/p99."""
    data = sorted(v for v in values if v is not None and math.isfinite(v))
    height, left, bottom = 220, 40, 30
    plot_w, plot_h = WIDTH - left - 10, height - 34 - bottom
    parts = _frame(title, height)
    if not data:
        parts.append(f'<text x="8" y="48" {FONT} fill="#6b7280">no data</text></svg>')
        return "".join(parts)
    # the top 1% is clipped into the last bin so one stall does not squash the whole distribution
    lo, hi = data[0], data[min(len(data) - 1, int(len(data) * 0.99))]
    hi = hi if hi > lo else lo + 1.0
    counts = [0] * bins
    for v in data:
        counts[min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins)))] += 1
    peak = max(counts)
    bw = plot_w / bins
    for i, c in enumerate(counts):
        h = c / peak * plot_h
        parts.append(f'<rect x="{left + i * bw:.1f}" y="{34 + plot_h - h:.1f}" width="{max(1.0, bw - 1):.1f}" '
                     f'height="{h:.1f}" fill="{COLORS[0]}"><title>{_fmt(lo + i * (hi - lo) / bins)}-'
                     f'{_fmt(lo + (i + 1) * (hi - lo) / bins)} {escape(unit)}: {c}</title></rect>')
    base = 34 + plot_h
    parts.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#9ca3af"/>')
    for frac in (0.0, 0.5, 1.0):
        x = left + frac * plot_w
        parts.append(f'<text x="{x:.1f}" y="{base + 16}" {FONT} text-anchor="middle" fill="#6b7280">'
                     f'{_fmt(lo + frac * (hi - lo))} {escape(unit)}</text>')
    for i, (label, v) in enumerate(marks):
        if v is None or not math.isfinite(v):
            continue
        x = left + min(1.0, max(0.0, (v - lo) / (hi - lo))) * plot_w
        color = COLORS[(i + 1) % len(COLORS)]
        parts.append(f'<line x1="{x:.1f}" y1="30" x2="{x:.1f}" y2="{base}" stroke="{color}" stroke-width="2" '
                     f'stroke-dasharray="4 3"/>')
        near_edge = x > WIDTH - 90  # put the label left of its line so it is not cut off
        anchor = ' text-anchor="end"' if near_edge else ""
        parts.append(f'<text x="{x - 3 if near_edge else x + 3:.1f}" y="{40 + 13 * i}" {FONT} fill="{color}"'
                     f'{anchor}>{escape(label)} {_fmt(v)}</text>')
    parts.append(f'<text x="{WIDTH - 10}" y="20" {FONT} text-anchor="end" fill="#6b7280">{len(data)} gaps</text>')
    parts.append("</svg>")
    return "".join(parts)
