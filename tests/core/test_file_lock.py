"""An artifact several processes find missing at once is built by one of them; the others wait and read it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edgemind.core.storage.file_lock import built_once

# one EdgeMind process finding the artifact missing: its build takes a while and leaves a mark per build
BUILDER = """
import sys, time
from pathlib import Path
from edgemind.core.storage.file_lock import built_once
target, marks = Path(sys.argv[1]), Path(sys.argv[2])

def build():
    with marks.open("a") as f:
        f.write("built\\n")
    time.sleep(1.5)
    return "weights"

load = lambda p: p.read_text() if p.exists() else None
print(built_once(target, load, build, lambda p, v: p.write_text(v)))
"""


def test_three_processes_starting_together_build_the_artifact_once(tmp_path: Path) -> None:
    target, marks = tmp_path / "artifacts" / "model.npz", tmp_path / "builds.txt"
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(target), str(marks)], stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == ["weights"] * 3
    assert marks.read_text().splitlines() == ["built"]


def test_an_unusable_file_is_built_again_and_no_folder_means_no_lock(tmp_path: Path) -> None:
    target = tmp_path / "model.npz"
    target.write_text("damaged")
    built: list[str] = []

    def build() -> str:
        built.append("x")
        return "weights"

    load = lambda p: (p.read_text() if p.read_text() == "weights" else None) if p.exists() else None  # noqa: E731
    assert built_once(target, load, build, lambda p, v: p.write_text(v)) == "weights"
    assert built_once(target, load, build, lambda p, v: p.write_text(v)) == "weights"  # read, not built
    assert built == ["x"]
    assert built_once(None, load, build, lambda p, v: None) == "weights" and built == ["x", "x"]
