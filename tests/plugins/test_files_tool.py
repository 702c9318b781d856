"""The files tools: list, read and search inside a granted folder, and never anything outside it or any secret.

A sentinel file outside the granted folder holds a unique string; every call any test makes is collected, and the
string must appear in none of their outputs, whatever path trick the call used.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.storage.db import open_database
from edgemind.core.tools.permissions import Answer, PermissionRequest
from edgemind.core.tools.scopes import MAX_PATH_CHARS
from edgemind.core.settings import Settings
from edgemind.core.tools.runner import ToolOutcome, ToolRunner
from edgemind.core.tools.session import open_tool_runner
from edgemind.plugins.builtin.files import MAX_READ_BYTES, MAX_SEARCH_FILE_BYTES, _inside, is_secret

SECRET = f"SENTINEL-{uuid.uuid4().hex}"
INSIDE_SECRET = f"KEYMATERIAL-{uuid.uuid4().hex}"


class Tree:
    """A granted folder beside an outside folder, with every kind of link a hostile document could plant."""

    def __init__(self, base: Path) -> None:
        self.granted = base / "Granted"
        self.outside = base / "outside"
        self.sibling = base / "Granted-other"  # shares a prefix with the granted folder
        self.upper = base / "GRANTED"  # differs only in case (a different folder on a case-sensitive disk)
        for folder in (self.granted / "sub", self.outside, self.sibling, self.upper):
            folder.mkdir(parents=True)
        self.sentinel = self.outside / "sentinel.txt"
        for folder in (self.outside, self.sibling, self.upper):
            (folder / "sentinel.txt").write_text(f"top secret: {SECRET}\n", encoding="utf-8")
        (self.granted / "notes.txt").write_text("first line\nthe budget is 42 euros\nlast line\n", encoding="utf-8")
        (self.granted / "sub" / "deep.md").write_text("# Deep\nthe budget was revised\n", encoding="utf-8")
        (self.granted / "image.bin").write_bytes(b"\x89PNG\x00\x00\x01budget\x00" * 10)
        # secrets inside the granted folder are still off limits
        (self.granted / ".ssh").mkdir()
        (self.granted / ".ssh" / "id_rsa").write_text(f"-----BEGIN KEY----- budget {INSIDE_SECRET}\n")
        (self.granted / ".env").write_text(f"API_KEY={INSIDE_SECRET} budget\n")
        (self.granted / "server.pem").write_text(f"budget {INSIDE_SECRET}\n")
        # links that point out of the granted folder, or at a secret inside it
        (self.granted / "outside_file_link.txt").symlink_to(self.sentinel)
        (self.granted / "outside_dir_link").symlink_to(self.outside, target_is_directory=True)
        (self.granted / "sub" / "parent_link").symlink_to(Path("..", ".."), target_is_directory=True)
        (self.granted / "innocent.txt").symlink_to(self.granted / ".env")
        (self.granted / "sub" / "readme.txt").symlink_to(self.granted / ".ssh" / "id_rsa")


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


@pytest.fixture
def outputs() -> list[ToolOutcome]:
    """Every outcome a test produced; none may carry the sentinel or a secret from inside the folder."""
    seen: list[ToolOutcome] = []
    yield seen
    for outcome in seen:
        # the arguments may name the sentinel (a search for it); what came back may not
        text = outcome.content + outcome.summary
        assert SECRET not in text, outcome
        assert INSIDE_SECRET not in text, outcome


@pytest.fixture
def runner(settings: Settings, tree: Tree) -> ToolRunner:
    sessions = sessionmaker(open_database(settings.db_path), expire_on_commit=False)
    return open_tool_runner(settings, sessions, grants=[f"fs.read:{tree.granted}"])


def call(runner: ToolRunner, outputs: list[ToolOutcome], name: str, **arguments: object) -> ToolOutcome:
    outcome = runner.call(name, arguments)
    outputs.append(outcome)
    return outcome


# --- inside the granted folder everything works ---------------------------------------------------------------

def test_lists_the_granted_folder(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_list", path=str(tree.granted))
    assert outcome.ok, outcome.content
    entries = {e["name"]: e for e in json.loads(outcome.content)}
    assert entries["notes.txt"] == {"name": "notes.txt", "type": "file",
                                    "size": (tree.granted / "notes.txt").stat().st_size}
    assert entries["sub"]["type"] == "folder"
    assert "image.bin" in entries


def test_lists_with_a_glob_pattern(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_list", path=str(tree.granted), pattern="*.txt")
    assert [e["name"] for e in json.loads(outcome.content)] == ["notes.txt"]


def test_reads_a_file_with_numbered_lines(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_read", path=str(tree.granted / "notes.txt"))
    assert outcome.ok and outcome.decision == "allowed:preset"
    assert outcome.content.splitlines() == ["    1  first line", "    2  the budget is 42 euros", "    3  last line"]


def test_a_relative_path_with_dots_that_stays_inside_is_fine(runner: ToolRunner, tree: Tree,
                                                            outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_read", path=str(tree.granted / "sub" / ".." / "notes.txt"))
    assert outcome.ok and "42 euros" in outcome.content


def test_searches_text_files_under_the_folder(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_search", path=str(tree.granted), query="BUDGET")
    assert outcome.ok, outcome.content
    hits = json.loads(outcome.content)
    assert sorted((h["file"], h["line"]) for h in hits) == [("notes.txt", 2), (os.path.join("sub", "deep.md"), 2)]


# --- nothing outside it ---------------------------------------------------------------------------------------

def _denied(outcome: ToolOutcome) -> bool:
    return not outcome.ok and outcome.decision in ("rejected", "denied:no_one_to_ask")


@pytest.mark.parametrize("tool", ["files_read", "files_list", "files_search"])
def test_dot_dot_traversal_is_denied(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome], tool: str) -> None:
    target = "outside/sentinel.txt" if tool == "files_read" else "outside"
    extra = {"query": "secret"} if tool == "files_search" else {}
    for path in (f"{tree.granted}/../{target}", f"{tree.granted}/sub/../../{target}",
                 f"{tree.granted}/./sub/./../../{target}"):
        outcome = call(runner, outputs, tool, path=path, **extra)
        assert outcome.decision == "denied:no_one_to_ask", outcome
        assert str(tree.outside) in outcome.content  # the real target is what was checked and named


def test_absolute_paths_elsewhere_are_denied(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    for path in (str(tree.sentinel), "/etc/passwd", "/", str(tree.sibling / "sentinel.txt"), "~/.bashrc"):
        assert _denied(call(runner, outputs, "files_read", path=path)), path
    for path in (str(tree.outside), str(tree.sibling), "/", str(tree.granted.parent)):
        assert _denied(call(runner, outputs, "files_list", path=path)), path


def test_a_file_symlink_pointing_outside_is_denied(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_read", path=str(tree.granted / "outside_file_link.txt"))
    assert outcome.decision == "denied:no_one_to_ask"
    assert outcome.scopes == (f"fs.read:{tree.sentinel}",)


def test_a_directory_symlink_pointing_outside_is_denied(runner: ToolRunner, tree: Tree,
                                                        outputs: list[ToolOutcome]) -> None:
    link = tree.granted / "outside_dir_link"
    assert _denied(call(runner, outputs, "files_read", path=str(link / "sentinel.txt")))
    assert _denied(call(runner, outputs, "files_list", path=str(link)))
    assert _denied(call(runner, outputs, "files_search", path=str(link), query="secret"))
    assert _denied(call(runner, outputs, "files_read", path=str(tree.granted / "sub" / "parent_link" / "outside"
                                                            / "sentinel.txt")))


def test_case_tricks_do_not_reach_a_folder_that_differs_only_in_case(runner: ToolRunner, tree: Tree,
                                                                     outputs: list[ToolOutcome]) -> None:
    for path in (tree.upper / "sentinel.txt", Path(str(tree.granted).lower()) / ".." / "outside" / "sentinel.txt",
                 tree.granted.parent / "granted" / "notes.txt", tree.granted / ".." / "GRANTED" / "sentinel.txt"):
        assert _denied(call(runner, outputs, "files_read", path=str(path))), path


def test_a_folder_that_only_shares_a_prefix_is_not_inside(runner: ToolRunner, tree: Tree,
                                                          outputs: list[ToolOutcome]) -> None:
    assert _denied(call(runner, outputs, "files_read", path=f"{tree.granted}-other/sentinel.txt"))


def test_a_path_over_the_length_limit_is_rejected(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    long = str(tree.granted) + "/" + "a/.." * (MAX_PATH_CHARS // 4) + "/notes.txt"
    outcome = call(runner, outputs, "files_read", path=long)
    assert outcome.decision == "rejected"
    assert f"path longer than {MAX_PATH_CHARS} characters" in outcome.content


@pytest.mark.parametrize("path", ["\\\\server\\share\\notes.txt", "//server/share/notes.txt",
                                  "\\\\?\\C:\\Windows\\win.ini", "//./pipe/x"])
def test_unc_and_device_paths_are_rejected(runner: ToolRunner, outputs: list[ToolOutcome], path: str) -> None:
    outcome = call(runner, outputs, "files_read", path=path)
    assert outcome.decision == "rejected"
    assert "network and device paths are not allowed" in outcome.content


def test_a_nul_byte_is_rejected(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_read", path=f"{tree.granted}/notes.txt\x00/../../outside/sentinel.txt")
    assert outcome.decision == "rejected" and "NUL byte" in outcome.content


def test_an_empty_path_is_rejected(runner: ToolRunner, outputs: list[ToolOutcome]) -> None:
    assert call(runner, outputs, "files_read", path="  ").decision == "rejected"


def test_listing_never_shows_entries_whose_real_path_is_outside(runner: ToolRunner, tree: Tree,
                                                                outputs: list[ToolOutcome]) -> None:
    for folder in (tree.granted, tree.granted / "sub"):
        outcome = call(runner, outputs, "files_list", path=str(folder))
        names = {e["name"] for e in json.loads(outcome.content)}
        assert not names & {"outside_file_link.txt", "outside_dir_link", "parent_link"}, names


def test_listing_hides_secrets_and_links_to_secrets(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    names = {e["name"] for e in json.loads(call(runner, outputs, "files_list", path=str(tree.granted)).content)}
    assert names == {"notes.txt", "sub", "image.bin"}
    names = {e["name"] for e in json.loads(call(runner, outputs, "files_list", path=str(tree.granted / "sub")).content)}
    assert names == {"deep.md"}


def test_search_never_reads_outside_or_secrets(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    for query in ("secret", SECRET, "top", INSIDE_SECRET, "KEYMATERIAL", "API_KEY", "BEGIN KEY"):
        outcome = call(runner, outputs, "files_search", path=str(tree.granted), query=query)
        assert outcome.ok and json.loads(outcome.content) == [], (query, outcome.content)


def test_search_skips_binary_files(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    hits = json.loads(call(runner, outputs, "files_search", path=str(tree.granted), query="budget").content)
    assert "image.bin" not in {h["file"] for h in hits}


# --- secrets, binaries, sizes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [".ssh/id_rsa", ".env", "server.pem", ".SSH/ID_RSA", ".Env"])
def test_secrets_inside_the_granted_folder_are_refused(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome],
                                                       name: str) -> None:
    outcome = call(runner, outputs, "files_read", path=str(tree.granted / name))
    assert outcome.decision == "rejected"
    assert "red line" in outcome.content


@pytest.mark.parametrize("name", ["innocent.txt", "sub/readme.txt"])
def test_a_symlink_named_innocently_does_not_reach_a_secret(runner: ToolRunner, tree: Tree,
                                                            outputs: list[ToolOutcome], name: str) -> None:
    outcome = call(runner, outputs, "files_read", path=str(tree.granted / name))
    assert outcome.decision == "rejected"
    assert "resolves past a red line" in outcome.content


def test_listing_a_secret_folder_is_refused(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    assert call(runner, outputs, "files_list", path=str(tree.granted / ".ssh")).decision == "rejected"


def test_a_user_asked_about_a_secret_is_never_asked(settings: Settings, tree: Tree, outputs: list[ToolOutcome]) -> None:
    asked: list[PermissionRequest] = []

    def ask(request: PermissionRequest) -> Answer:
        asked.append(request)
        return Answer.ONCE

    sessions = sessionmaker(open_database(settings.db_path), expire_on_commit=False)
    runner = open_tool_runner(settings, sessions, ask=ask)
    assert call(runner, outputs, "files_read", path=str(tree.granted / "innocent.txt")).decision == "rejected"
    assert call(runner, outputs, "files_read", path=str(tree.granted / ".ssh" / "id_rsa")).decision == "rejected"
    assert asked == []
    # an ordinary file is asked about, with its real path
    outcome = call(runner, outputs, "files_read", path=str(tree.granted / "notes.txt"))
    assert outcome.ok and outcome.decision == "allowed:once"
    assert asked[0].scopes == (f"fs.read:{tree.granted / 'notes.txt'}",)


def test_binary_files_are_refused(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_read", path=str(tree.granted / "image.bin"))
    assert not outcome.ok and outcome.content == "error: files_read: image.bin is a binary file"


def test_reading_stops_at_max_bytes(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    outcome = call(runner, outputs, "files_read", path=str(tree.granted / "notes.txt"), max_bytes=10)
    assert outcome.content == "    1  first line\n[... truncated]"


def test_a_large_file_is_read_only_up_to_the_hard_limit(runner: ToolRunner, tree: Tree,
                                                        outputs: list[ToolOutcome]) -> None:
    big = tree.granted / "big.txt"
    big.write_text(("x" * 99 + "\n") * (MAX_READ_BYTES // 100 + 100), encoding="utf-8")
    outcome = call(runner, outputs, "files_read", path=str(big), max_bytes=10 * MAX_READ_BYTES)
    assert outcome.ok
    # the tool stops at MAX_READ_BYTES, and the runner caps what reaches the model
    assert "truncated" in outcome.content and len(outcome.content) < 20_000


def test_search_skips_files_over_its_size_limit(runner: ToolRunner, tree: Tree, outputs: list[ToolOutcome]) -> None:
    (tree.granted / "huge.txt").write_bytes(b"needle\n" + b"x" * MAX_SEARCH_FILE_BYTES)
    (tree.granted / "small.txt").write_text("needle\n")
    hits = json.loads(call(runner, outputs, "files_search", path=str(tree.granted), query="needle").content)
    assert [h["file"] for h in hits] == ["small.txt"]


def test_reading_a_folder_or_listing_a_file_is_a_clear_error(runner: ToolRunner, tree: Tree,
                                                             outputs: list[ToolOutcome]) -> None:
    assert call(runner, outputs, "files_read", path=str(tree.granted)).content.startswith("error: files_read: not a file")
    assert call(runner, outputs, "files_list",
                path=str(tree.granted / "notes.txt")).content.startswith("error: files_list: not a folder")


def test_a_dangling_symlink_does_not_break_listing_or_search(runner: ToolRunner, tree: Tree,
                                                             outputs: list[ToolOutcome]) -> None:
    (tree.granted / "gone.txt").symlink_to(tree.granted / "deleted.txt")
    (tree.granted / "loop").symlink_to(tree.granted / "loop")
    listing = call(runner, outputs, "files_list", path=str(tree.granted))
    assert listing.ok, listing.content
    assert "notes.txt" in {e["name"] for e in json.loads(listing.content)}
    search = call(runner, outputs, "files_search", path=str(tree.granted), query="budget")
    assert search.ok and json.loads(search.content)


# --- the helpers themselves -----------------------------------------------------------------------------------

def test_inside_resolves_links_and_refuses_secrets(tree: Tree) -> None:
    root = tree.granted
    assert _inside(root, root / "notes.txt") == root / "notes.txt"
    assert _inside(root, root / "outside_file_link.txt") is None
    assert _inside(root, root / "outside_dir_link") is None
    assert _inside(root, root / "innocent.txt") is None
    assert _inside(root, root / "sub" / "parent_link") is None


@pytest.mark.parametrize(("path", "secret"), [
    ("/home/me/.ssh/id_rsa", True), ("/home/me/.ssh", True), ("C:\\Users\\me\\.ssh\\config", True),
    ("/srv/app/.env", True), ("/srv/app/.env.local", True), ("/srv/app/cert.PEM", True),
    ("/home/me/.aws/credentials", True), ("/home/me/id_ed25519.pub", True), ("/home/me/.netrc", True),
    ("/srv/app/environment.txt", False), ("/home/me/notes/ssh-tips.md", False), ("/srv/app/.envrc.md", False),
    ("/home/me/pem.txt", False),
])
def test_is_secret(path: str, secret: bool) -> None:
    assert is_secret(path) is secret
