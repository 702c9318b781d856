"""The docs index as the Documents page drives it: progress, one line per unreadable file, cancel, the folder list,
removing a folder, seeing a folder changed, and the citations docs_search hands the shell (real MiniLM, chromadb)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.settings import Settings
from edgemind.core.storage.db import open_database
from edgemind.core.tools.session import open_tool_runner
from edgemind.plugins.builtin.docs import DocsIndex, IndexProgress, library

GARDEN = ["# Garden diary", ""] + [f"Week {n}: planted a row and wrote down the date." for n in range(1, 36)] + [
    "Tomatoes want at least six hours of direct sunshine a day, so the south-facing bed suits them best."]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "car").mkdir(parents=True)
    (docs / "garden.md").write_text("\n".join(GARDEN) + "\n", encoding="utf-8")
    (docs / "car" / "service.txt").write_text("The motor oil must be changed every 10,000 km.\n", encoding="utf-8")
    (docs / "museum.txt").write_text("The city museum is closed every Monday.\n", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is no PDF at all\n")
    return docs


@pytest.fixture
def index(settings: Settings) -> DocsIndex:
    return library(settings)


def texts(index: DocsIndex, query: str, k: int = 10) -> str:
    return " ".join(hit["text"] for hit in index.search(query, k).value)


def test_progress_counts_every_file_and_a_broken_pdf_is_one_line_while_the_rest_is_indexed(
        index: DocsIndex, folder: Path) -> None:
    seen: list[IndexProgress] = []
    report = index.index(folder, progress=seen.append)
    assert [p.done for p in seen] == list(range(1, 5)) and {p.total for p in seen} == {4}
    assert {p.current for p in seen} == {"garden.md", os.path.join("car", "service.txt"), "museum.txt", "broken.pdf"}
    assert report.indexed == 3 and len(report.errors) == 1
    assert report.errors[0].startswith("broken.pdf: cannot read it") and "\n" not in report.errors[0]
    assert [p.error for p in seen if p.error] == list(report.errors)
    assert "motor oil" in texts(index, "when to change the engine oil")


def test_cancelling_keeps_what_was_indexed_and_the_next_run_finishes_the_rest(index: DocsIndex, folder: Path) -> None:
    seen: list[IndexProgress] = []
    report = index.index(folder, progress=seen.append, cancelled=lambda: len(seen) >= 2)
    assert report.cancelled and len(seen) == 2
    assert index.stale() == [str(folder)], "a cancelled folder is not up to date"
    again = index.index(folder)
    assert not again.cancelled and again.unchanged == 2 - len(report.errors) and again.indexed + again.unchanged == 3


def test_the_folder_list_has_counts_and_removing_a_folder_forgets_it_but_keeps_its_files(
        index: DocsIndex, folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "penguins.txt").write_text("Penguins live in the southern hemisphere.\n")
    before = time.time()
    index.index(folder)
    index.index(other)
    listed = {f.path: f for f in index.folders()}
    assert set(listed) == {str(folder), str(other)}
    assert (listed[str(folder)].files, listed[str(other)].files, listed[str(other)].chunks) == (3, 1, 1)
    assert listed[str(folder)].chunks == 4  # garden.md's 38 lines are two overlapping windows
    assert before <= (listed[str(folder)].indexed_at or 0) <= time.time()
    assert index.remove(folder) == 3
    assert [f.path for f in index.folders()] == [str(other)]
    assert "motor oil" not in texts(index, "when to change the engine oil")
    assert "Penguins" in texts(index, "flightless birds")
    assert (folder / "garden.md").exists() and (folder / "car" / "service.txt").exists()


def test_a_changed_folder_is_stale_and_reindexing_it_makes_edits_searchable_and_deletions_go(
        index: DocsIndex, folder: Path) -> None:
    index.index(folder)
    assert index.stale() == []
    (folder / "car" / "service.txt").write_text("Bicycle notes: the chain needs a drop of lubricant every 300 km.\n")
    assert index.stale() == [str(folder)]
    report = index.index(folder)
    assert (report.indexed, report.removed) == (1, 0)
    assert "chain needs a drop of lubricant" in texts(index, "how often should the bike chain be greased")
    assert "motor oil" not in texts(index, "how often should the bike chain be greased")
    (folder / "museum.txt").unlink()
    assert index.stale() == [str(folder)]
    assert index.index(folder).removed == 1
    assert "museum" not in texts(index, "which day is the museum closed")
    assert index.stale() == []


def test_docs_search_hands_the_shell_real_paths_and_the_model_only_the_hits(settings: Settings,
                                                                             folder: Path) -> None:
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)),
                              grants=[f"fs.read:{folder}", "docs.read"])
    assert runner.call("docs_index", {"folder": str(folder)}).ok
    outcome = runner.call("docs_search", {"query": "sunshine for tomatoes", "k": 2})
    hits = json.loads(outcome.content)
    assert hits[0]["citation"] == "garden.md:26-38"
    assert outcome.sources[0].path == os.path.realpath(folder / "garden.md")
    assert (outcome.sources[0].start_line, outcome.sources[0].end_line) == (26, 38)
    assert [s.label for s in outcome.sources] == [h["citation"] for h in hits]
    assert str(folder) not in outcome.content, "the model is not shown the user's paths"
    assert outcome.as_dict()["sources"][0]["label"] == "garden.md:26-38"
