"""docs/benchmarks.md is generated from benchmarks/results/, and the README states no speed figure the results lack."""

from __future__ import annotations

import re
from pathlib import Path

from edgemind.core.bench.docs_page import FIGURE, PAGE, render

ROOT = Path(__file__).resolve().parents[2]

# Numbers in the README with a figure's unit that are settings or limits, not measurements.
NOT_MEASUREMENTS = {
    ("50", "ms"),  # the GUI watchdog's threshold
    ("20", "ms"),  # how often the code sandbox samples the process tree's memory and CPU
}


def _figures(text: str) -> set[tuple[str, str]]:
    return {(number.replace(",", ""), unit) for number, unit in FIGURE.findall(text)}


def test_benchmarks_page_is_what_the_committed_results_generate() -> None:
    committed = (ROOT / PAGE).read_text(encoding="utf-8")
    assert committed == render(ROOT), "docs/benchmarks.md is stale: python -m edgemind.core.bench.docs_page --write"


def test_every_results_file_is_named_on_the_page() -> None:
    page = render(ROOT)
    for path in (ROOT / "benchmarks" / "results").rglob("*.json"):
        assert f"`{path.relative_to(ROOT).as_posix()}`" in page, path


def test_every_speed_figure_in_the_readme_is_one_the_results_state() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stated = _figures(render(ROOT))
    unbacked = sorted(_figures(readme) - stated - NOT_MEASUREMENTS)
    assert not unbacked, f"README figures no committed result states (move them to a result or drop them): {unbacked}"


def test_the_figure_pattern_reads_the_units_it_claims() -> None:
    assert _figures("46.9 tok/s, 1,135 ms and 1.20x, not 2x2 or 0x1f or 10 s") == {
        ("46.9", "tok/s"), ("1135", "ms"), ("1.20", "x")}
    assert re.search(FIGURE, "ratio 0.95x.") is not None
