"""The review pane fills its findings list while the review runs: the analyzers' findings arrive before the model
is done, each names its source, the pane says which analyzers ran, and Stop keeps what was found."""

from __future__ import annotations

from PySide6.QtCore import Qt

MUTABLE_DEFAULT = '''def collect(item, into=[]):
    into.append(item)
    return into
'''


def test_analyzer_findings_fill_the_list_while_the_model_still_runs_and_stop_keeps_them(qtbot, gui) -> None:
    pane = gui.window.review
    gui.window.tabs.setCurrentWidget(pane)
    pane.set_code(MUTABLE_DEFAULT, "collect.py")
    arrived: list[tuple[str, bool]] = []
    pane.finding_did_arrive.connect(lambda f: arrived.append((f.source, pane.current is not None)))
    results = []
    pane.review_did_finish.connect(results.append)
    qtbot.mouseClick(pane.review_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(arrived), timeout=60_000)
    assert arrived[0] == ("ruff:B006", True)  # shown while the review (the model) is still running
    assert pane.findings_list.count() >= 1 and "ruff:B006" in pane.findings_list.item(0).text()
    assert pane.analyzers.text().startswith("Analyzers: ruff 0.17.5, edgemind:ast")
    pane.stop()
    qtbot.waitUntil(lambda: bool(results), timeout=120_000)
    result = results[0]
    assert hasattr(result, "findings"), result
    assert (1, "ruff:B006") in [(f.line, f.source) for f in result.findings]
    assert pane.findings[0].source == "ruff:B006" and pane.source.marked_line() == 1
    assert "ruff 0.17.5" in pane.summary.text()
