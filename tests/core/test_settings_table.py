"""The README's settings table is the one the declaration generates: a new or changed setting fails here until
`python -m edgemind.core.settings --write-readme README.md` is run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edgemind.core.settings import SETTINGS, settings_table_markdown
from edgemind.core.settings.table import END, START, readme_table, with_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_settings_table_matches_the_declaration() -> None:
    table = readme_table(README.read_text(encoding="utf-8"))
    assert table is not None, f"README.md lost its {START} / {END} markers"
    assert table == settings_table_markdown(), (
        "README.md's settings table differs from the declaration in core/settings/declaration.py; run "
        "`python -m edgemind.core.settings --write-readme README.md`")


def test_the_table_has_one_row_per_setting_with_its_env_var_and_valid_values() -> None:
    rows = settings_table_markdown().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == list(SETTINGS)
    threads = rows[list(SETTINGS).index("threads")]
    assert "`EDGEMIND_THREADS`" in threads and "an integer from 0 (physical cores) to 512" in threads


def test_write_readme_replaces_only_the_region_between_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nprose before\n{START}\n| stale | table |\n{END}\nprose after\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "edgemind.core.settings", "--write-readme", str(readme)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = readme.read_text(encoding="utf-8")
    assert text == f"# Title\n\nprose before\n{START}\n{settings_table_markdown()}{END}\nprose after\n"
    assert with_table(text) == text
    printed = subprocess.run([sys.executable, "-m", "edgemind.core.settings", "--markdown"],
                             capture_output=True, text=True, timeout=60)
    assert printed.stdout == settings_table_markdown()
