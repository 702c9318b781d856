"""The Documents page and an answer's sources, in the real app over a real engine (offscreen Qt, the tiny model, the
real MiniLM index): the read grant asked once and visibly, progress, cancel, watching, and links that open only
inside the folders the user added."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication

from edgemind.app import theme
from edgemind.app.citations import CitationOpener, file_url
from edgemind.app.docs_page import NO_FOLDERS, document_folders
from edgemind.app.message_view import MessageWidget
from edgemind.core.events import Citation, ToolResult
from edgemind.core.settings import with_overrides

GARDEN = ["# Garden diary", ""] + [f"Week {n}: planted a row and wrote down the date." for n in range(1, 36)] + [
    "Tomatoes want at least six hours of direct sunshine a day, so the south-facing bed suits them best."]
POLL_MS = 150
# EDGEMIND_SCREENSHOTS_DIR=docs/screenshots puts them beside the other surfaces (docs/screenshots/README.md)
SHOTS = Path(os.environ.get("EDGEMIND_SCREENSHOTS_DIR") or
             Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "documents")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "notes"
    docs.mkdir()
    (docs / "garden.md").write_text("\n".join(GARDEN) + "\n", encoding="utf-8")
    (docs / "car.txt").write_text("The motor oil must be changed every 10,000 km.\n", encoding="utf-8")
    (docs / "museum.txt").write_text("The city museum is closed every Monday.\n", encoding="utf-8")
    return docs


class Asked:
    """Every permission dialog the app shows, and a way to answer the n-th one as a user would."""

    def __init__(self, qtbot: Any, gui: Any) -> None:
        self.qtbot, self.dialogs = qtbot, []
        gui.ctx.permissions.arm_delay_ms = 0
        gui.ctx.hooks.permission_will_ask.connect(self.dialogs.append)

    def dialog(self, n: int = 1) -> Any:
        self.qtbot.waitUntil(lambda: len(self.dialogs) >= n and self.dialogs[n - 1].isVisible(), timeout=20_000)
        dialog = self.dialogs[n - 1]
        self.qtbot.waitUntil(dialog.always_button.isEnabled, timeout=5_000)
        return dialog


def finished(qtbot: Any, page: Any, timeout: int = 60_000) -> Any:
    with qtbot.waitSignal(page.indexing_did_finish, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def searched(page: Any, query: str) -> str:
    return " ".join(hit["text"] for hit in page.library().search(query, 10).value)


def row(page: Any, folder: Path) -> list[str]:
    for r in range(page.table.rowCount()):
        if page.table.item(r, 0).text() == str(folder):
            return [page.table.item(r, c).text() for c in range(page.table.columnCount())]
    raise AssertionError(f"{folder} is not listed")


def test_a_folder_is_added_through_one_visible_grant_then_watched_edits_become_searchable_and_deletions_go(
        qtbot, gui, folder: Path) -> None:
    page, asked = gui.window.documents, Asked(qtbot, gui)
    qtbot.waitUntil(lambda: page.empty.is_empty() and page.empty.message.text() == NO_FOLDERS, timeout=20_000)
    page.watch_timer.setInterval(POLL_MS)
    page.add_folder(str(folder))
    dialog = asked.dialog()
    assert dialog.request.tool == "docs_index" and dialog.request.scopes == (f"fs.read:{folder}",)
    assert f"fs.read:{folder}" in dialog.scopes_label.text()
    dialog.always_button.click()
    report = finished(qtbot, page)
    assert (report.indexed, report.errors, report.cancelled) == (3, (), False)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10_000)
    assert row(page, folder)[:3] == [str(folder), "3", "4"] and row(page, folder)[4] == "yes"
    assert not page.empty.is_empty() and page.progress_box.isHidden()
    assert [(g.tool, g.scope) for g in gui.ctx.grants_in_worker().list()] == [("docs_index", f"fs.read:{folder}")]

    (folder / "car.txt").write_text("Bicycle notes: the chain needs a drop of lubricant every 300 km.\n")
    report = finished(qtbot, page)  # the watcher saw it: no click, and no second question (the grant is held)
    assert (report.indexed, report.unchanged, report.removed) == (1, 2, 0)
    assert "chain needs a drop of lubricant" in searched(page, "how often should the bike chain be greased")
    assert "motor oil" not in searched(page, "how often should the bike chain be greased")
    (folder / "museum.txt").unlink()
    assert finished(qtbot, page).removed == 1
    assert "museum" not in searched(page, "which day is the museum closed")
    qtbot.waitUntil(lambda: row(page, folder)[1] == "2", timeout=10_000)
    assert len(asked.dialogs) == 1, "the grant was asked once"


def test_a_denied_folder_is_not_indexed_allowed_once_is_not_watched_and_removing_keeps_the_files(
        qtbot, gui, folder: Path, tmp_path: Path) -> None:
    page, asked = gui.window.documents, Asked(qtbot, gui)
    qtbot.waitUntil(lambda: page.empty.is_empty() and page.empty.message.text() == NO_FOLDERS, timeout=20_000)
    page.watch_timer.setInterval(POLL_MS)
    page.add_folder(str(folder / "car.txt"))  # a file, not a folder: one line, and nothing is asked
    assert "car.txt is not a folder" in str(finished(qtbot, page)) and "is not a folder" in page.status.text()
    assert asked.dialogs == [] and page.folders == []
    page.add_folder(str(folder))
    asked.dialog(1).deny_button.click()
    assert "Not indexed" in str(finished(qtbot, page)) and "you denied reading it" in page.status.text()
    assert page.folders == [] and page.empty.is_empty()

    other = tmp_path / "other"
    other.mkdir()
    (other / "penguins.txt").write_text("Penguins live in the southern hemisphere.\n")
    page.add_folder(str(other))
    asked.dialog(2).allow_once_button.click()
    assert finished(qtbot, page).indexed == 1
    qtbot.waitUntil(lambda: page.table.rowCount() == 1 and "paused" in row(page, other)[4], timeout=10_000)
    (other / "penguins.txt").write_text("Albatrosses glide for hours over the southern ocean.\n")
    qtbot.wait(POLL_MS * 6)
    assert not page.is_indexing() and "Albatrosses" not in searched(page, "seabirds gliding")
    assert gui.ctx.grants_in_worker().list() == [], "allowed once stores nothing"
    page.select(str(other))
    page.reindex_selected()  # a click asks again, visibly
    asked.dialog(3).allow_once_button.click()
    assert finished(qtbot, page).indexed == 1
    assert "Albatrosses" in searched(page, "seabirds gliding")

    page.select(str(other))
    page.remove_selected(confirm=False)  # the index forgets it; the file stays
    qtbot.waitUntil(lambda: page.empty.is_empty() and page.empty.message.text() == NO_FOLDERS, timeout=10_000)
    assert "nothing was deleted" in page.status.text() and (other / "penguins.txt").exists()
    assert "Albatrosses" not in searched(page, "seabirds gliding")


def test_progress_counts_files_a_broken_one_is_one_line_and_cancel_stops_before_reading(qtbot, gui,
                                                                                     tmp_path: Path) -> None:
    page, asked = gui.window.documents, Asked(qtbot, gui)
    many = tmp_path / "many"
    many.mkdir()
    (many / "a-broken.pdf").write_bytes(b"%PDF-1.4\nnot really a PDF\n")
    for n in range(60):
        (many / f"note-{n:02d}.txt").write_text(f"Note {n}: the reading list has {n} books on it.\n")
    values: list[tuple[int, int]] = []
    page.progress.valueChanged.connect(lambda v: values.append((v, page.progress.maximum())))

    qtbot.waitUntil(lambda: page.ctx.engine is not None, timeout=20_000)
    page.add_folder(str(many))
    dialog = asked.dialog()
    assert not page.progress_box.isHidden() and page.cancel_button.isEnabled()
    page.cancel()  # while the question is up: the grant is still asked for, then nothing is read
    dialog.always_button.click()
    report = finished(qtbot, page)
    assert report.cancelled and report.indexed == 0
    assert "cancelled" in page.status.text() and page.progress_box.isHidden()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1 and "paused" in row(page, many)[4], timeout=10_000)

    values.clear()
    page.select(str(many))
    page.reindex_selected()  # the grant is stored now: no second question
    report = finished(qtbot, page)
    assert (report.indexed, report.cancelled, len(asked.dialogs)) == (60, False, 1)
    assert page.error_list.count() == 1 and page.error_list.item(0).text().startswith("a-broken.pdf: cannot read it")
    assert not page.error_list.isHidden() and "1 left out" in page.status.text()
    counted = [(v, m) for v, m in values if v > 0]
    assert counted[-1] == (61, 61) and all(m == 61 for _, m in counted), "files done / total, known from the start"
    assert [v for v, _ in counted] == sorted(v for v, _ in counted)
    qtbot.waitUntil(lambda: row(page, many)[1:3] == ["60", "60"] and row(page, many)[4] == "yes", timeout=10_000)


def save_screens(gui: Any, name: str) -> list[Path]:
    """The Documents page and the chat with the answer, in light and dark, as PNGs kept after the run; each checked
    to be drawn in its theme (the window's background), so a page that did not follow the theme fails here."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    try:
        for dark in (False, True):
            theme.apply(gui.qt, dark=dark)
            for tab, widget in (("page", gui.window.documents), ("answer", gui.window)):
                gui.window.tabs.setCurrentWidget(gui.window.documents if tab == "page" else gui.window.chat)
                QApplication.processEvents()
                image = widget.grab().toImage()
                corner = image.pixelColor(4, image.height() - 4)
                assert (corner.lightness() < 100) == dark, (tab, dark, corner.name())
                path = SHOTS / f"{name}-{tab}-{'dark' if dark else 'light'}.png"
                assert image.save(str(path)), path
                saved.append(path)
    finally:
        theme.apply(gui.qt)
    return saved


def test_an_answer_from_the_documents_links_its_sources_which_open_only_inside_the_folders(
        qtbot, gui, folder: Path, tmp_path: Path) -> None:
    """Also kept: screenshots of the Documents page (with a left-out file) and of the answer, in both themes."""
    page, chat, asked = gui.window.documents, gui.window.chat, Asked(qtbot, gui)
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4\nnot really a PDF\n")
    page.add_folder(str(folder))
    asked.dialog(1).always_button.click()
    finished(qtbot, page)
    opened: list[Any] = []
    chat.citation_opener = CitationOpener(gui.ctx, lambda: document_folders(gui.ctx),
                                          open_url=lambda url: opened.append(url) or True,
                                          run_command=lambda argv: opened.append(argv) or True)
    refused: list[str] = []
    chat.citation_opener.did_refuse.connect(refused.append)
    events: list[Any] = []
    chat.answer_did_finish.connect(events.append)
    chat.ask("What do my notes say about how much sun tomatoes need?")
    asked.dialog(2).always_button.click()  # docs_search's docs.read, asked as any tool is
    qtbot.waitUntil(lambda: bool(events), timeout=180_000)
    answer = chat.messages[-1]
    assert answer.route.intent == "docs"
    assert "garden.md:26-38" in answer.source_labels(), answer.source_labels()
    assert not answer.sources_label.isHidden() and 'href="cite:' in answer.sources_label.text()

    answer.sources_label.linkActivated.emit(f"cite:{answer.source_labels().index('garden.md:26-38')}")
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    assert opened == [QUrl.fromLocalFile(os.path.realpath(folder / "garden.md"))]

    gui.ctx.settings = with_overrides(gui.ctx.settings, editor_command="gvim +{line} {path}")
    answer.sources_label.linkActivated.emit(f"cite:{answer.source_labels().index('garden.md:26-38')}")
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=10_000)
    assert opened[1] == ("gvim", "+26", os.path.realpath(folder / "garden.md"))
    shots = save_screens(gui, "documents")
    assert len({p.read_bytes() for p in shots}) == 4

    # a source outside the folders (a tool claiming /etc/passwd, or a file in a folder since removed) never opens
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the model to open\n")
    forged = MessageWidget("assistant", f"See [the file](file://{outside}) and {outside}:1")
    qtbot.addWidget(forged)
    forged.citation_activated.connect(chat.citation_opener.open)  # as the chat connects each answer
    forged.set_tool_result(ToolResult("docs_search", "allowed:always", True, "[]", 1,
                                      sources=(Citation(str(outside), 1, 1, "secret.txt:1-1"),)))
    assert forged.source_labels() == ["secret.txt:1-1"]
    forged.sources_label.linkActivated.emit("cite:0")
    qtbot.waitUntil(lambda: bool(refused), timeout=10_000)
    assert "outside the folders you added" in refused[0] and len(opened) == 2
    forged.sources_label.linkActivated.emit("cite:7")  # no such source: nothing at all
    qtbot.wait(200)
    assert len(refused) == 1 and len(opened) == 2

    chat.new_chat()
    chat.open_conversation(events[0].conversation_id)  # the sources were stored with the answer
    qtbot.waitUntil(lambda: len(chat.messages) == 2 and "garden.md:26-38" in chat.messages[-1].source_labels(),
                    timeout=10_000)


def test_the_url_for_the_system_application_is_the_files_own(tmp_path: Path) -> None:
    from edgemind.core.engine import Opening

    path = tmp_path / "a b.md"
    assert file_url(Opening(path, 3)).toLocalFile() == str(path)
    assert file_url(Opening(path, 3)).scheme() == "file"
