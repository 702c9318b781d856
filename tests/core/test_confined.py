"""core.tools.confined: a checked path is opened only as it was checked (no link on the way, no FIFO, no second
name), and the level of confinement this machine gets is named."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from edgemind.core.tools.confined import UnsafePath, inspect, level, open_folder, read_file, walk
from edgemind.core.tools.confined_paths import open_folder_checked


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path.resolve() / "root"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.txt").write_text("beta\n")
    (root / "sub" / "deeper" / "c.txt").write_text("gamma\n")
    outside = tmp_path.resolve() / "outside"
    outside.mkdir()
    (outside / "b.txt").write_text("outside\n")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file-link.txt").symlink_to(outside / "b.txt")
    return root


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX handles")
def test_this_posix_machine_confines_with_handles() -> None:
    assert level().name == "handles"


def test_reads_a_file_through_its_folders_handles(tree: Path) -> None:
    assert read_file(tree / "sub" / "deeper" / "c.txt", 100) == b"gamma\n"
    assert read_file(tree / "a.txt", 3) == b"alp"


@pytest.mark.parametrize("path", ["link/b.txt", "file-link.txt", "link"])
def test_a_link_anywhere_on_the_path_is_refused_not_followed(tree: Path, path: str) -> None:
    with pytest.raises(UnsafePath, match="is a link or changed while it was opened"):
        if path == "link":
            open_folder(tree / path)
        else:
            read_file(tree / path, 100)


def test_a_folder_above_that_became_a_link_is_refused(tree: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    os.rename(tree / "sub", moved)
    (tree / "sub").symlink_to(moved, target_is_directory=True)
    with pytest.raises(UnsafePath, match=r"root/sub is a link"):
        read_file(tree / "sub" / "b.txt", 100)


def test_a_held_folder_keeps_reading_the_folder_it_opened(tree: Path, tmp_path: Path) -> None:
    """Once opened, swapping the name for a link does not redirect reads below it (they go through the handle)."""
    with open_folder(tree / "sub") as sub:
        os.rename(tree / "sub", tmp_path / "parked")
        (tree / "sub").symlink_to(tmp_path / "outside", target_is_directory=True)
        assert sub.read("b.txt", 100) == b"beta\n"


def test_a_hard_linked_file_is_refused_with_the_reason(tree: Path) -> None:
    os.link(tree / "a.txt", tree / "sub" / "again.txt")
    with pytest.raises(UnsafePath) as caught:
        read_file(tree / "a.txt", 100)
    assert str(caught.value) == ("a.txt has 2 hard links; a hard-linked file is refused because its other names "
                                 "cannot be proven to be inside the granted folder")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_at_once_instead_of_blocking(tree: Path) -> None:
    os.mkfifo(tree / "pipe.txt")
    started = time.monotonic()
    with pytest.raises(UnsafePath, match="pipe.txt is not a regular file"):
        read_file(tree / "pipe.txt", 100)
    assert time.monotonic() - started < 2


def test_missing_paths_are_one_line_errors(tree: Path) -> None:
    with pytest.raises(UnsafePath, match=r"^no such file or folder: .*nope$"):
        read_file(tree / "nope" / "x.txt", 100)
    with pytest.raises(UnsafePath, match=r"^no such file or folder: .*gone.txt$"):
        inspect(tree / "gone.txt")


def test_walk_enters_folders_by_handle_and_never_follows_links(tree: Path) -> None:
    with open_folder(tree) as root:
        seen = {str(entry.path.relative_to(tree)): entry.kind for _, entry in walk(root, lambda e: True)}
    assert seen == {"a.txt": "file", "file-link.txt": "link", "link": "link", os.path.join("sub", "b.txt"): "file",
                    os.path.join("sub", "deeper", "c.txt"): "file"}


def test_walk_skips_folders_it_is_told_to(tree: Path) -> None:
    with open_folder(tree) as root:
        seen = {entry.name for _, entry in walk(root, lambda e: e.name != "deeper")}
    assert "c.txt" not in seen and "b.txt" in seen


def test_inspect_does_not_follow_a_link(tree: Path) -> None:
    assert inspect(tree / "file-link.txt").kind == "link"
    assert inspect(tree / "sub").kind == "folder"
    assert inspect(tree / "a.txt").size == 6


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0, reason="needs root to become another user")
def test_a_user_who_may_only_pass_through_a_folder_above_can_still_read_below_it() -> None:
    """A search-only (711) folder above the grant: opened with O_PATH where there is one, not read, so a non-root
    user is not refused for a folder they could never list. The child drops to `nobody` and reports back."""
    base = Path(tempfile.mkdtemp()).resolve()  # pytest's own tmp folders are closed to other users
    try:
        _read_as_nobody(base)
    finally:
        shutil.rmtree(base)


def _read_as_nobody(base: Path) -> None:
    os.chmod(base, 0o711)
    (base / "locked" / "granted").mkdir(parents=True)
    (base / "locked" / "granted" / "n.txt").write_text("hello\n")
    for folder in (*base.parents, base):
        if folder.stat().st_mode & 0o001 == 0:
            pytest.skip(f"{folder} is closed to other users")
    os.chmod(base / "locked", 0o711)
    os.chmod(base / "locked" / "granted" / "n.txt", 0o644)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            out = read_file(base / "locked" / "granted" / "n.txt", 100)
        except BaseException as exc:  # reported to the parent
            out = f"{type(exc).__name__}: {exc}".encode()
        os.write(write_end, out)
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as f:
        assert f.read() == b"hello\n"


def test_the_checked_paths_fallback_refuses_links_and_hard_links_too(tree: Path) -> None:
    """The weaker level (systems without dir_fd) still refuses what it can see: exercised here directly on Linux."""
    with open_folder_checked(tree) as root:
        assert root.folder("sub").read("b.txt", 100) == b"beta\n"
        with pytest.raises(UnsafePath, match="is a link or changed"):
            root.read("file-link.txt", 100)
        with pytest.raises(UnsafePath, match="is a link or changed"):
            root.folder("link")
        os.link(tree / "a.txt", tree / "sub" / "again.txt")
        with pytest.raises(UnsafePath, match="has 2 hard links"):
            root.read("a.txt", 100)
