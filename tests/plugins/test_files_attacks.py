"""Attacks on the file tools' promise: nothing outside a granted folder and no secret file ever comes back.

Each case is one attack a hostile document or a local attacker can stage with write access inside the granted
folder: a directory swapped for a symlink while the tools run, a hard link to a key outside, and the credential
files the issue found readable. All run through the real runner, broker and tools.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.settings import Settings
from edgemind.core.storage.db import open_database
from edgemind.core.tools.runner import ToolOutcome, ToolRunner
from edgemind.core.tools.session import open_tool_runner

SECRET = f"OUTSIDE-{uuid.uuid4().hex}"
RACE_SECONDS = 3.0
RACE_MIN_CALLS = 60


def _runner(settings: Settings, folder: Path) -> ToolRunner:
    return open_tool_runner(settings, sessionmaker(open_database(settings.db_path), expire_on_commit=False),
                            grants=[f"fs.read:{folder}"])


# --- a directory swapped for a symlink while the tools run ------------------------------------------------------

def _exchange() -> Callable[[Path, Path], None] | None:
    """renameat2(RENAME_EXCHANGE): swaps two names in one step, so the window is as wide as it can be (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if not hasattr(libc, "renameat2"):
        return None
    at_fdcwd, rename_exchange = -100, 2

    def swap(a: Path, b: Path) -> None:
        if libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
            raise OSError(ctypes.get_errno(), "renameat2")
    return swap


class Swapper(threading.Thread):
    """Swaps `granted/docs` (a real folder) with a symlink to an outside folder holding the secret, non-stop."""

    def __init__(self, base: Path) -> None:
        super().__init__(daemon=True)
        self.granted = base / "granted"
        self.docs = self.granted / "docs"
        outside = base / "outside"
        for folder in (self.docs, outside):
            folder.mkdir(parents=True)
        (self.docs / "notes.txt").write_text("harmless notes: the budget\n")
        (outside / "notes.txt").write_text(f"the budget {SECRET}\n")
        (outside / f"{SECRET}.txt").write_text(f"the budget {SECRET}\n")
        self.link = self.granted / "swap-link"
        self.link.symlink_to(outside, target_is_directory=True)
        self.parked = self.granted / "parked"
        self.stop = threading.Event()
        self.swaps = 0

    def run(self) -> None:
        exchange = _exchange()
        while not self.stop.is_set():
            try:
                if exchange is not None:
                    exchange(self.docs, self.link)  # docs is now the link; swap-link the real folder
                    exchange(self.docs, self.link)
                else:
                    os.rename(self.docs, self.parked)
                    os.rename(self.link, self.docs)
                    os.rename(self.docs, self.link)
                    os.rename(self.parked, self.docs)
                self.swaps += 1
            except OSError:
                continue


@pytest.fixture
def swapper(tmp_path: Path) -> Iterator[Swapper]:
    thread = Swapper(tmp_path)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the GIL over often, so the swap lands between check and use
    thread.start()
    yield thread
    thread.stop.set()
    thread.join(5)
    sys.setswitchinterval(old)


@pytest.mark.attack("file-tools")
def test_a_folder_swapped_for_a_symlink_mid_call_never_leaks_the_outside(settings: Settings, swapper: Swapper) -> None:
    """The issue's race (21 escapes in 708 calls): reads, listings and searches of `docs` while it flips between
    the real folder and a link to the outside; reads dominate because they escaped most often on the old code."""
    runner = _runner(settings, swapper.granted)
    calls = [("files_read", {"path": str(swapper.docs / "notes.txt")}),
             ("files_read", {"path": str(swapper.docs / "notes.txt")}),
             ("files_list", {"path": str(swapper.docs)}),
             ("files_read", {"path": str(swapper.docs / "notes.txt")}),
             ("files_search", {"path": str(swapper.docs), "query": "budget"}),
             ("files_search", {"path": str(swapper.granted), "query": "budget"})]
    escapes: list[ToolOutcome] = []
    made, started = 0, time.monotonic()
    while made < RACE_MIN_CALLS or time.monotonic() - started < RACE_SECONDS:
        tool, args = calls[made % len(calls)]
        outcome = runner.call(tool, args)
        made += 1
        if SECRET in outcome.content:
            escapes.append(outcome)
        if time.monotonic() - started > 2 * RACE_SECONDS:
            break
    assert swapper.swaps > made, "the swapping thread did not get to run: the attack was not tried"
    assert escapes == [], (f"{len(escapes)} of {made} calls read outside the grant "
                           f"({', '.join(sorted({e.tool for e in escapes}))}): {escapes[0].content[:200]}")


# --- a hard link inside the grant to a key file outside ---------------------------------------------------------

@pytest.fixture
def hard_linked(tmp_path: Path) -> tuple[Path, Path]:
    granted, keys = tmp_path / "granted", tmp_path / "keys"
    granted.mkdir()
    keys.mkdir()
    key = keys / "deploy_key"
    key.write_text(f"-----BEGIN OPENSSH PRIVATE KEY----- budget {SECRET}\n")
    os.link(key, granted / "notes.txt")  # an innocent name, the key's contents
    (granted / "plain.txt").write_text("the budget is fine\n")
    return granted, granted / "notes.txt"


@pytest.mark.attack("file-tools")
def test_a_hard_link_to_a_key_outside_is_refused_by_read(settings: Settings, hard_linked: tuple[Path, Path]) -> None:
    granted, link = hard_linked
    outcome = _runner(settings, granted).call("files_read", {"path": str(link)})
    assert not outcome.ok and SECRET not in outcome.content
    assert "hard link" in outcome.content and "\n" not in outcome.content, outcome.content


@pytest.mark.attack("file-tools")
def test_a_hard_link_to_a_key_outside_is_not_searched(settings: Settings, hard_linked: tuple[Path, Path]) -> None:
    granted, _ = hard_linked
    outcome = _runner(settings, granted).call("files_search", {"path": str(granted), "query": "budget"})
    assert outcome.ok, outcome.content
    assert [h["file"] for h in json.loads(outcome.content)] == ["plain.txt"]


# --- credential files, one list for read, list and search -------------------------------------------------------

# The named files, then one of each family the list must cover (home-relative paths, as they sit on disk):
# every one of these was readable, listed and searchable before the list was widened.
NEWLY_REFUSED = [
    "credentials.json", ".npmrc", ".pypirc", ".config/gh/hosts.yml", ".vault-token", "token.json", ".bash_history",
    ".zsh_history", ".local/share/fish/fish_history", ".python_history", ".psql_history", ".mysql_history",
    ".local/share/keyrings/login.keyring", ".azure/accessTokens.json",
    ".config/gcloud/application_default_credentials.json", ".mozilla/firefox/abc.default/logins.json",
    ".cargo/credentials.toml", ".config/hub", "AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/"
    "ConsoleHost_history.txt", ".yarnrc.yml", ".s3cfg", ".my.cnf", "client_secret_1234.json",
    ".password-store/email.gpg", "Library/Application Support/Firefox/Profiles/x.default/key4.db",
    ".config/BraveSoftware/Brave-Browser/Default/Bookmarks",
]
# Refused before this change too; kept here so the one list never loses them.
ALREADY_REFUSED = [
    "Library/Keychains/login.keychain-db", ".aws/credentials", ".kube/config", ".docker/config.json",
    ".config/google-chrome/Default/Cookies", ".netrc", ".git-credentials", ".ssh/config", ".gnupg/pubring.kbx",
    ".env.production", "tls/server.key", "certs/client.p12", "id_ed25519",
    "Library/Application Support/Google/Chrome/Default/Login Data",
]


def _home(base: Path, name: str) -> Path:
    """A granted folder laid out like a home folder with one secret file holding the secret and the word 'budget'."""
    granted = base / "home"
    path = granted / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"budget {SECRET}\n")
    (granted / "notes.txt").write_text("the budget is fine\n")
    return granted


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.attack("file-tools")) for n in NEWLY_REFUSED]
                         + ALREADY_REFUSED)
def test_a_credential_file_is_refused_hidden_and_unsearchable(settings: Settings, tmp_path: Path, name: str) -> None:
    home = _home(tmp_path, name)
    runner = _runner(settings, home)
    path = home / name
    read = runner.call("files_read", {"path": str(path)})
    assert not read.ok and SECRET not in read.content, f"{name} was readable"
    assert "\n" not in read.content
    listing = runner.call("files_list", {"path": str(path.parent)})
    shown = {e["name"] for e in json.loads(listing.content)} if listing.ok else set()
    assert path.name not in shown, f"{name} was listed"
    search = runner.call("files_search", {"path": str(home), "query": "budget"})
    assert search.ok, search.content
    assert [h["file"] for h in json.loads(search.content)] == ["notes.txt"], f"{name} was searched"


# --- docs_index reads through the same confined walk and the same list --------------------------------------------

@pytest.mark.attack("file-tools")
def test_docs_index_takes_no_hard_link_and_no_shell_history(settings: Settings, tmp_path: Path) -> None:
    docs, keys = tmp_path / "docs", tmp_path / "keys"
    docs.mkdir()
    keys.mkdir()
    (keys / "deploy_key").write_text(f"deploy key for the garden budget {SECRET}\n")
    os.link(keys / "deploy_key", docs / "garden-notes.txt")
    (docs / "ConsoleHost_history.txt").write_text(f"$env:TOKEN = '{SECRET}' # garden budget\n")
    (docs / "garden.md").write_text("# Garden\nThe garden budget is forty euros this year.\n")
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path), expire_on_commit=False),
                              grants=[f"fs.read:{docs}", "docs.read"])
    indexed = runner.call("docs_index", {"folder": str(docs)})
    assert indexed.ok, indexed.content
    assert json.loads(indexed.content)["indexed"] == 1
    found = runner.call("docs_search", {"query": "garden budget key token", "k": 10})
    assert found.ok and SECRET not in found.content
    assert {h["citation"].split(":")[0] for h in json.loads(found.content)} == {"garden.md"}
