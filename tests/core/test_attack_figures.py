"""The README's attack figures are the committed attack pass, and that pass covers every attack test there is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edgemind.core.bench.attacks import KINDS, RESULT, Outcome, figures_table, read_log, tally

ROOT = Path(__file__).resolve().parents[2]


def committed() -> dict:
    return json.loads((ROOT / RESULT).read_text(encoding="utf-8"))


def test_a_skipped_attack_is_reported_but_never_counted_as_held() -> None:
    kinds = tally([Outcome("t::a", "api", "passed"), Outcome("t::b", "api", "failed"),
                   Outcome("t::c", "api", "skipped", "Windows only")])
    assert kinds["api"] == {"tried": 2, "held": 1, "broke": ["t::b"], "skipped": {"Windows only": 1}}


def test_a_test_reported_twice_counts_once_by_its_worst_outcome(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"nodeid": "t::a", "kind": "api", "outcome": "passed"}) + "\n"
                   + json.dumps({"nodeid": "t::a", "kind": "api", "outcome": "failed"}) + "\n", encoding="utf-8")
    assert read_log(log) == [Outcome("t::a", "api", "failed")]


def test_the_readme_states_the_committed_figures() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert figures_table(committed()) in readme, "README's attack table differs from " + RESULT.as_posix()


def test_no_committed_attack_broke_through() -> None:
    assert [n for entry in committed()["kinds"].values() for n in entry["broke"]] == []
    assert set(committed()["kinds"]) == set(KINDS)


def test_the_committed_pass_ran_every_attack_test_there_is() -> None:
    # the figures are reproduced by their command only if the committed file names exactly the attack tests of today.
    # Collected from the test files that mention an attack at all (a marker is written, or imported, by that word):
    # collecting all 147 files took 25 s of the default run.
    files = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "tests").rglob("test_*.py"))
             if "attack" in p.read_text(encoding="utf-8").lower()]
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-m", "attack", *files], cwd=ROOT, capture_output=True, text=True, timeout=300)
    collected = sorted(line for line in proc.stdout.splitlines() if "::" in line)
    assert collected, proc.stdout + proc.stderr
    assert collected == committed()["tests"], ("attack tests changed since the committed pass: rerun "
                                               "`python -m edgemind.core.bench.attacks --json " + RESULT.as_posix() + "`")
