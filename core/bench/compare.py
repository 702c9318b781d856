"""`--compare OLD.json`: which figures moved by more than the threshold since an earlier report, and which way.

Direction comes from each figure's `better` field (a lower TTFT is better, a higher tok/s is), so a change is
judged the same way for every figure; figures without a direction are listed as changed, never as better or worse.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .report import iter_figures

THRESHOLD = 0.05


@dataclass(frozen=True, slots=True)
class Change:
    figure: str
    old: float
    new: float
    unit: str
    relative: float  # (new - old) / |old|
    verdict: str  # better | worse | changed

    def line(self) -> str:
        return (f"{self.verdict.upper():7} {self.figure}: {self.old:.4g} -> {self.new:.4g} {self.unit} "
                f"({self.relative:+.1%})")


def _number(fig: dict[str, Any]) -> float | None:
    value = fig.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def compare_reports(old: dict[str, Any], new: dict[str, Any], threshold: float = THRESHOLD) -> list[Change]:
    """Figures present in both reports whose value changed by more than `threshold` (relative), in new's order."""
    before = dict(iter_figures(old))
    changes = []
    for name, fig in iter_figures(new):
        prev = before.get(name)
        if prev is None:
            continue
        a, b = _number(prev), _number(fig)
        if a is None or b is None or a == b:
            continue
        relative = (b - a) / abs(a) if a != 0 else math.inf
        if abs(relative) <= threshold:
            continue
        better = fig.get("better")
        verdict = ("better" if (b > a) == (better == "higher") else "worse") if better in ("higher", "lower") \
            else "changed"
        changes.append(Change(name, a, b, fig.get("unit", ""), relative, verdict))
    return changes


def comparability(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why two reports' figures may differ for reasons other than the code: another model, machine or run size."""
    notes = []
    for key, what in (("model", "model"), ("quick", "run size (quick/full)"), ("threads", "thread count")):
        a, b = old.get("settings", {}).get(key), new.get("settings", {}).get(key)
        if a != b:
            notes.append(f"{what} differs: {a} then, {b} now")
    for key, what in (("cpu", "CPU"), ("logical_cores", "core count"), ("memory_total_bytes", "RAM")):
        a, b = old.get("hardware", {}).get(key), new.get("hardware", {}).get(key)
        if a != b:
            notes.append(f"{what} differs: {a} then, {b} now")
    return notes


def comparison_record(old_path: str, old: dict[str, Any], changes: list[Change], new: dict[str, Any] | None = None,
                      threshold: float = THRESHOLD) -> dict[str, Any]:
    """What the new report keeps about the comparison (the old file may be gone later)."""
    return {"against": old_path, "against_created_at": old.get("created_at"), "threshold": threshold,
            "not_comparable": comparability(old, new) if new is not None else [],
            "changes": [dict(asdict(c), relative=c.relative if math.isfinite(c.relative) else None)
                        for c in changes],
            "better": sum(c.verdict == "better" for c in changes), "worse": sum(c.verdict == "worse" for c in changes)}
