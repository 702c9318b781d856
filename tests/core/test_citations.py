"""Citations open only inside the folders the user granted, at the cited line, through the user's editor command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgemind.core.engine import CitationError, opening
from edgemind.core.events import Citation


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "my docs"
    docs.mkdir()
    (docs / "garden notes.md").write_text("line\n" * 40, encoding="utf-8")
    (tmp_path / "outside.txt").write_text("not yours to open\n", encoding="utf-8")
    return docs


def cite(path: Path | str, start: int = 31, end: int = 36) -> Citation:
    return Citation(str(path), start, end, f"{Path(path).name}:{start}-{end}")


def test_the_editor_command_gets_the_real_path_and_line_as_single_arguments(folder: Path) -> None:
    how = opening(cite(folder / "garden notes.md"), [folder], "code --goto {path}:{line}")
    real = os.path.realpath(folder / "garden notes.md")
    assert how.argv == ("code", "--goto", f"{real}:31")  # a space in the name stays inside one argument
    assert how.line == 31


def test_without_an_editor_command_the_file_opens_with_the_system_application(folder: Path) -> None:
    how = opening(cite(folder / "garden notes.md", 7, 9), [folder])
    assert how.argv == () and how.path == Path(os.path.realpath(folder / "garden notes.md")) and how.line == 7


@pytest.mark.parametrize("where", ["outside", "dotdot", "link", "prefix"])
def test_a_citation_outside_the_granted_folders_is_not_opened(folder: Path, tmp_path: Path, where: str) -> None:
    if where == "outside":
        path = tmp_path / "outside.txt"
    elif where == "dotdot":
        path = folder / ".." / "outside.txt"
    elif where == "link":  # a link inside the folder that leads out of it
        path = folder / "shortcut.txt"
        path.symlink_to(tmp_path / "outside.txt")
    else:  # a sibling whose name starts with the folder's: /x/my docs-old is not inside /x/my docs
        sibling = tmp_path / "my docs-old"
        sibling.mkdir()
        path = sibling / "a.md"
        path.write_text("a\n")
    with pytest.raises(CitationError, match="outside the folders you added"):
        opening(cite(path), [folder], "code --goto {path}:{line}")


def test_a_deleted_file_and_a_bad_editor_command_are_one_clear_line(folder: Path) -> None:
    with pytest.raises(CitationError, match="no longer exists"):
        opening(cite(folder / "gone.md"), [folder])
    with pytest.raises(CitationError, match=r"must contain \{path\}"):
        opening(cite(folder / "garden notes.md"), [folder], "code --goto")
    with pytest.raises(CitationError, match="cannot be split"):
        opening(cite(folder / "garden notes.md"), [folder], "code '{path}")


def test_no_folders_means_nothing_opens(folder: Path) -> None:
    with pytest.raises(CitationError):
        opening(cite(folder / "garden notes.md"), [])
