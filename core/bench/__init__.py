"""`edgemind bench`: reproducible measurements of every available backend and of the engine's stages, written as a
versioned report.json and a self-contained report.html. Measures; never changes settings, models or user data.

Names load on first use (PEP 562): the desktop dashboard reads reports without importing the engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "SCHEMA": "report", "BenchError": "report", "Figure": "report", "Goal": "report", "iter_figures": "report",
    "load_report": "report", "validate": "report", "Change": "compare", "compare_reports": "compare",
    "charts": "html_report", "headline": "html_report", "render_html": "html_report",
    "BenchOptions": "suite", "run_bench": "suite",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'edgemind.core.bench' has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value
