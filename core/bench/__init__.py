"""`edgemind bench`: reproducible measurements of every available backend and of the engine's stages, written as a
versioned report.json and a self-contained report.html. Measures; never changes settings, models or user data.

Names load on first use (PEP 562): the desktop dashboard reads reports without importing the engine.
"""

from __future__ import annotations

from typing import Any

from ..lazy_exports import lazy_export

_WHERE = {
    "SCHEMA": "report", "BenchError": "report", "Figure": "report", "Goal": "report", "iter_figures": "report",
    "load_report": "report", "validate": "report", "Change": "compare", "compare_reports": "compare",
    "charts": "html_report", "headline": "html_report", "render_html": "html_report",
    "BenchOptions": "suite", "run_bench": "suite",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    return lazy_export(__name__, _WHERE, name)
