"""The count of the review checks' fires on real code (core/bench/review_fires.py): each fire is counted under its
check with its place, folders named tests are skipped, and a file that does not parse is left out, not a crash."""

from __future__ import annotations

from pathlib import Path

from edgemind.core.bench.review_fires import count_fires


def test_fires_are_counted_by_check_with_their_place_and_tests_folders_and_broken_files_are_skipped(
        tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    (lib / "tests").mkdir(parents=True)
    (lib / "shipping.py").write_text("def ok(w):\n    return w > 0 or w <= MAX_WEIGHT\n", encoding="utf-8")
    (lib / "fine.py").write_text("def ok(w):\n    return 0 < w <= MAX_WEIGHT\n", encoding="utf-8")
    (lib / "tests" / "test_bad.py").write_text("def ok(w):\n    return w > 0 or w <= MAX\n", encoding="utf-8")
    (lib / "broken.py").write_text("def (:\n", encoding="utf-8")
    counted = count_fires([lib], tmp_path)
    assert counted["files"] == 2
    assert counted["counts"]["review_conditions.range_joins"] == 1
    assert sum(counted["counts"].values()) == 1
    assert [(f["path"], f["line"]) for f in counted["fires"]] == [("lib/shipping.py", 2)]
