"""report.html: one self-contained page (inline CSS and SVG; no scripts, fonts, images or network) with the
headline charts and every figure of a report, plus the comparison when the run made one.

`charts(report)` is shared with the desktop dashboard, which renders the same SVGs with QtSvg.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from .charts import bar_chart, histogram
from .report import iter_figures

SVG_NS = ' xmlns="http://www.w3.org/2000/svg"'
CACHE_BARS = (("cold answer", "cold_answer_ms"), ("L1 lookup", "l1_lookup_ms"), ("L2 lookup", "l2_lookup_ms"),
              ("semantic hit (ask)", "semantic_hit_ask_ms"), ("L1 hit (ask)", "l1_hit_ask_ms"),
              ("L2 hit (ask)", "l2_hit_ask_ms"))


def _value(fig: dict[str, Any] | None) -> float:
    value = (fig or {}).get("value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _ok_backends(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in report.get("backends", {}).items() if r.get("status") == "ok"}


def charts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, standalone SVG) for each chart the report has data for."""
    backends = _ok_backends(report)
    out = []
    if backends:
        out.append(("Decode speed", bar_chart("Decode speed per backend (higher is better)", [
            (name, _value(r["figures"].get("decode_tok_s"))) for name, r in backends.items()], "tok/s")))
        out.append(("Time to first token", bar_chart("Time to first token per backend (lower is better)", [
            (name, _value(r["figures"].get("ttft_ms"))) for name, r in backends.items()], "ms")))
        for name, r in backends.items():
            f = r["figures"]
            out.append((f"Inter-token latency ({name})", histogram(
                f"Inter-token latency, {name}", r.get("itl_ms", []), "ms",
                marks=[("p50", _value(f.get("itl_p50_ms"))), ("p99", _value(f.get("itl_p99_ms")))])))
    cache = report.get("sections", {}).get("cache", {}).get("figures", {})
    if cache:
        out.append(("Cache tiers", bar_chart("Answer cache tiers vs a cold answer (log scale, lower is better)", [
            (label, _value(cache.get(key))) for label, key in CACHE_BARS if key in cache], "ms", log=True)))
    return out


def headline(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The few figures a reader looks at first, as (label, formatted value): shared with the dashboard."""
    rows: list[tuple[str, str]] = []
    for name, r in _ok_backends(report).items():
        f = r["figures"]
        rows.append((f"{name} decode", f"{_value(f.get('decode_tok_s')):.1f} tok/s"))
        rows.append((f"{name} TTFT", f"{_value(f.get('ttft_ms')):.0f} ms"))
        rows.append((f"{name} jitter (p99-p50)", f"{_value(f.get('jitter_ms')):.1f} ms"))
    sections = report.get("sections", {})
    cold = sections.get("cold_start", {}).get("figures", {})
    if cold:
        rows.append(("cold start to first token", f"{_value(cold.get('first_token_ms')):.0f} ms"))
    router = sections.get("router", {}).get("figures", {})
    if router:
        rows.append(("router accuracy", f"{_value(router.get('accuracy')):.1%}"))
    quality = sections.get("quality", {}).get("figures", {})
    if "qa_contains" in quality:
        rows.append(("factual QA", f"{_value(quality.get('qa_contains')):.0%}"))
    if "code_pass" in quality:
        rows.append(("code tasks passed", f"{_value(quality.get('code_pass')):.0%}"))
    return rows


def _cell(fig: dict[str, Any]) -> tuple[str, str, str]:
    value = fig.get("value")
    shown = "n/a" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
    goal = fig.get("goal")
    goal_text = f"{goal['op']} {goal['value']:g}" if goal else ""
    verdict = {True: "PASS", False: "FAIL", None: ""}[fig.get("pass")] if goal else ""
    return shown, goal_text, verdict


CSS = """
body{font-family:sans-serif;margin:24px;color:#111827;background:#f9fafb;max-width:1000px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;font-size:13px}
th{background:#f3f4f6}.PASS{color:#047857;font-weight:bold}.FAIL{color:#b91c1c;font-weight:bold}
.better{color:#047857}.worse{color:#b91c1c}.chart{margin:12px 0}.note{color:#6b7280;font-size:12px}
"""


def render_html(report: dict[str, Any]) -> str:
    hw = report.get("hardware", {})
    st = report.get("settings", {})
    head = [f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in headline(report)]
    body = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>EdgeMind bench {escape(str(report.get('created_at', '')))}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>EdgeMind benchmark report</h1>",
        f"<p class=\"note\">{escape(str(report.get('created_at', '')))} &middot; schema {escape(report['schema'])}"
        f" &middot; {'quick' if st.get('quick') else 'full'} run, {st.get('repeats', '?')} repeats, model "
        f"{escape(str(st.get('model', '?')))} &middot; {report.get('duration_s', 0):.0f} s</p>",
        f"<p>{escape(str(hw.get('cpu', '?')))}, {hw.get('physical_cores', '?')} physical / "
        f"{hw.get('logical_cores', '?')} logical cores, {hw.get('memory_total_bytes', 0) / 2**30:.1f} GiB RAM, "
        f"measured read bandwidth {hw.get('memory_read_gbs', '?')} GB/s; {escape(str(hw.get('os', '')))}; "
        f"providers {escape(', '.join(hw.get('onnxruntime_providers', [])))}; "
        + escape(", ".join(f"{k} {v}" for k, v in hw.get("versions", {}).items())) + "</p>",
        "<h2>Headline</h2><table>", *head, "</table>",
    ]
    for _title, svg in charts(report):
        body.append(f'<div class="chart">{svg.replace(SVG_NS, "")}</div>')
    for name, r in report.get("backends", {}).items():
        if r.get("status") != "ok":
            body.append(f"<p class=\"note\">backend {escape(name)}: {escape(str(r.get('status')))} "
                        f"({escape(str(r.get('reason', '')))})</p>")
    for name, section in report.get("sections", {}).items():
        if section.get("error"):
            body.append(f"<p class=\"note\">{escape(name)}: not measured ({escape(str(section['error']))})</p>")
    body.append("<h2>Every figure</h2><table><tr><th>figure</th><th>value</th><th>unit</th><th>repeats</th>"
                "<th>goal</th><th></th><th>note</th></tr>")
    for name, fig in iter_figures(report):
        shown, goal, verdict = _cell(fig)
        body.append(f"<tr><td>{escape(name)}</td><td>{escape(shown)}</td><td>{escape(fig.get('unit', ''))}</td>"
                    f"<td>{fig.get('repeats', '')}</td><td>{escape(goal)}</td><td class=\"{verdict}\">{verdict}</td>"
                    f"<td class=\"note\">{escape(fig.get('note', ''))}</td></tr>")
    body.append("</table>")
    comparison = report.get("comparison")
    if comparison:
        body.append(f"<h2>Compared with {escape(str(comparison.get('against')))}</h2>")
        changes = comparison.get("changes", [])
        for note in comparison.get("not_comparable", []):
            body.append(f"<p class=\"note\">{escape(note)}: compare with care.</p>")
        if not changes:
            body.append(f"<p>No figure changed by more than {comparison.get('threshold', 0.05):.0%}.</p>")
        else:
            body.append("<table><tr><th>figure</th><th>before</th><th>now</th><th>change</th><th></th></tr>")
            for c in changes:
                rel = c.get("relative")
                body.append(f"<tr><td>{escape(c['figure'])}</td><td>{c['old']:.4g}</td><td>{c['new']:.4g} "
                            f"{escape(c.get('unit', ''))}</td><td>{'' if rel is None else f'{rel:+.1%}'}</td>"
                            f"<td class=\"{c['verdict']}\">{c['verdict']}</td></tr>")
            body.append("</table>")
    body.append(f"<p class=\"note\">Made by <code>{escape(' '.join(report.get('command', [])))}</code>. Compare "
                "figures only with reports from the same machine; others' CPU use is recorded per backend.</p>")
    body.append("</body></html>")
    return "\n".join(body)
