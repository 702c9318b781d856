"""docs_index and docs_search with the real MiniLM encoder and chromadb: ranking, citations, refresh, repair."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.storage.db import open_database
from edgemind.core.settings import Settings
from edgemind.core.tools.runner import ToolRunner
from edgemind.core.tools.session import open_tool_runner

OUTSIDE_SECRET = f"SENTINEL-{uuid.uuid4().hex}"
ENV_SECRET = f"KEYMATERIAL-{uuid.uuid4().hex}"


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with one text line per entry, offsets computed so any reader accepts it."""
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
               b"/Contents 5 0 R >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


GARDEN = ["# Garden diary", ""] + [f"Week {n}: planted a row and wrote down the date." for n in range(1, 36)] + [
    "Tomatoes want at least six hours of direct sunshine a day, so the south-facing bed suits them best.",
    "Water them early in the morning.", "", "## Next year", "Try more beans."]
CAR = ["Service notes for the family car", "", "The motor oil must be changed every 10,000 km or once a year.",
       "Tyre pressure is 2.3 bar at the front."]
CODE = ['"""Savings helpers."""', "", "", "def balance_after(years: int, deposit: float, rate: float) -> float:",
        '    """Return the balance of a savings account after adding yearly interest."""',
        "    return deposit * (1 + rate) ** years", ""]
MUSEUM = ["City museum visitor information", "The museum is closed every Monday and on public holidays.",
          "Entry is free for children under twelve."]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "garden.md").write_text("\n".join(GARDEN) + "\n", encoding="utf-8")
    (docs / "car.txt").write_text("\n".join(CAR) + "\n", encoding="utf-8")
    (docs / "savings.py").write_text("\n".join(CODE), encoding="utf-8")
    (docs / "museum.pdf").write_bytes(minimal_pdf(MUSEUM))
    # never indexed: a secret inside, a file outside reached by a link, a hidden folder, an unsupported type
    (docs / ".env").write_text(f"TOKEN={ENV_SECRET}\n")
    outside = tmp_path / "outside.txt"
    outside.write_text(f"The motor oil secret is {OUTSIDE_SECRET}\n")
    (docs / "oil-notes.txt").symlink_to(outside)
    (docs / ".cache").mkdir()
    (docs / ".cache" / "notes.md").write_text("Tomatoes and motor oil, cached.\n")
    (docs / "data.csv").write_text("tomato,oil,museum\n")
    return docs


@pytest.fixture
def runner(settings: Settings, folder: Path) -> ToolRunner:
    return open_tool_runner(settings, sessionmaker(open_database(settings.db_path)),
                            grants=[f"fs.read:{folder}", "docs.read"])


def index(runner: ToolRunner, folder: Path) -> dict[str, int]:
    outcome = runner.call("docs_index", {"folder": str(folder)})
    assert outcome.ok, outcome.content
    return json.loads(outcome.content)


def search(runner: ToolRunner, query: str, k: int = 4) -> list[dict[str, object]]:
    outcome = runner.call("docs_search", {"query": query, "k": k})
    assert outcome.ok, outcome.content
    assert OUTSIDE_SECRET not in outcome.content and ENV_SECRET not in outcome.content
    return json.loads(outcome.content)


def cited_lines(folder: Path, citation: str) -> str:
    """The text a citation points at, read back from the file itself (for a PDF, from its extracted page)."""
    name, _, where = citation.rpartition(":")
    page = None
    if where.startswith("p."):
        page_text, where = where.split(" ")
        page = int(page_text[2:])
    start, end = (int(n) for n in where.split("-"))
    if page is None:
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
    else:
        from pypdf import PdfReader

        lines = (PdfReader(str(folder / name)).pages[page - 1].extract_text() or "").splitlines()
    return "\n".join(lines[start - 1:end]).strip()


def test_grants_are_needed_to_index_and_to_search(settings: Settings, folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=[f"fs.read:{other}"])
    outcome = runner.call("docs_index", {"folder": str(folder)})
    assert outcome.decision == "denied:no_one_to_ask" and outcome.scopes == (f"fs.read:{folder}",)
    outcome = runner.call("docs_search", {"query": "tomatoes"})
    assert outcome.decision == "denied:no_one_to_ask" and outcome.scopes == ("docs.read",)


def test_paraphrased_questions_find_the_right_file_with_true_citations(runner: ToolRunner, folder: Path) -> None:
    assert index(runner, folder) == {"indexed": 4, "unchanged": 0, "removed": 0}
    questions = {
        "how much light do my vegetable plants require": "garden.md",
        "when should the engine lubricant be replaced": "car.txt",
        "function computing how a bank deposit grows over time": "savings.py",
        "which days is the gallery shut to visitors": "museum.pdf",
    }
    for question, expected in questions.items():
        hits = search(runner, question)
        assert hits[0]["citation"].startswith(expected + ":"), (question, hits)
        for hit in hits:
            assert cited_lines(folder, hit["citation"]) == hit["text"], hit
    garden = search(runner, "how much light do my vegetable plants require")[0]
    assert garden["citation"] == "garden.md:26-42" and "six hours of direct sunshine" in garden["text"]
    assert search(runner, "which days is the gallery shut to visitors")[0]["citation"].startswith("museum.pdf:p.1 ")


def test_secrets_links_outside_and_hidden_folders_are_not_indexed(runner: ToolRunner, folder: Path) -> None:
    index(runner, folder)
    cited = {hit["citation"].split(":")[0] for hit in search(runner, "motor oil secret token cached", k=20)}
    assert cited <= {"garden.md", "car.txt", "savings.py", "museum.pdf"}


def test_reindexing_picks_up_a_changed_file_and_drops_a_deleted_one(runner: ToolRunner, folder: Path) -> None:
    index(runner, folder)
    (folder / "car.txt").write_text("Bicycle notes\nThe chain needs a drop of lubricant every 300 km.\n")
    (folder / "museum.pdf").unlink()
    assert index(runner, folder) == {"indexed": 1, "unchanged": 2, "removed": 1}
    hits = search(runner, "how often should the bike chain be greased", k=20)
    assert hits[0]["citation"] == "car.txt:1-2" and "chain" in hits[0]["text"]
    texts = " ".join(hit["text"] for hit in hits)
    assert "motor oil" not in texts and "museum" not in texts
    assert not any(hit["citation"].startswith("museum.pdf") for hit in hits)


def test_two_copies_of_one_file_are_both_indexed_and_survive_each_other(runner: ToolRunner, folder: Path) -> None:
    (folder / "copy-a.txt").write_text("Penguins live in the southern hemisphere.\n")
    (folder / "copy-b.txt").write_text("Penguins live in the southern hemisphere.\n")
    index(runner, folder)
    cited = [hit["citation"] for hit in search(runner, "flightless birds of Antarctica", k=2)]
    assert sorted(cited) == ["copy-a.txt:1-1", "copy-b.txt:1-1"]
    (folder / "copy-a.txt").unlink()
    index(runner, folder)
    assert search(runner, "flightless birds of Antarctica", k=1)[0]["citation"] == "copy-b.txt:1-1"


def test_a_damaged_index_is_rebuilt_from_the_folder(settings: Settings, runner: ToolRunner, folder: Path) -> None:
    index(runner, folder)
    store = settings.home / "plugins" / "docs" / "chroma"
    (store / "chroma.sqlite3").write_bytes(b"this is not a database " * 500)
    # a new session (as after a restart) opens the damaged store
    fresh = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=["docs.read"])
    hits = search(fresh, "when should the engine lubricant be replaced")
    assert hits[0]["citation"] == "car.txt:1-4"
    assert list(store.parent.glob("chroma.damaged-*")), "the damaged store is kept aside, not deleted"
    assert search(fresh, "which days is the gallery shut to visitors")[0]["citation"].startswith("museum.pdf:")


def test_searching_an_empty_index_returns_nothing(runner: ToolRunner) -> None:
    assert search(runner, "anything at all") == []


def test_indexing_a_file_is_a_clear_error(runner: ToolRunner, folder: Path) -> None:
    outcome = runner.call("docs_index", {"folder": str(folder / "car.txt")})
    assert not outcome.ok and outcome.content.startswith("error: docs_index: not a folder")
