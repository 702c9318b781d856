"""Every surface in both themes, drawn offscreen over a real engine (the tiny model), saved as PNGs to be looked at,
and held to checks that can fail: not blank, the theme's own background, no control narrower than its text.

    EDGEMIND_SCREENSHOTS_DIR=docs/screenshots .venv/bin/python -m pytest -q tests/app/test_screenshots.py

regenerates the committed ones (docs/screenshots/<surface>-<light|dark>.png); without the variable they go to
test-artifacts/screenshots/surfaces/.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from statistics import pstdev
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from edgemind.app import theme
from edgemind.core.engine import review_code
from tests.app.conftest import SCREENSHOTS

OUT = Path(os.environ.get("EDGEMIND_SCREENSHOTS_DIR") or SCREENSHOTS / "surfaces")
LONG = 120_000
PLANTED = '''def add_item(item, items=[]):
    items.append(item)
    return items


def find_user(users, name):
    for i in range(len(users) + 1):
        if users[i]["name"] == name:
            return users[i]
    return None


def total(prices):
    return eval("+".join(str(p) for p in prices))
'''


def _colour_counts(image: QImage, step: int = 4) -> Counter[str]:
    return Counter(image.pixelColor(x, y).name() for x in range(0, image.width(), step)
                   for y in range(0, image.height(), step))


def _close(a: str, b: str, tolerance: int = 6) -> bool:
    ca, cb = QColor(a), QColor(b)
    return max(abs(ca.red() - cb.red()), abs(ca.green() - cb.green()), abs(ca.blue() - cb.blue())) <= tolerance


def _clipped(root: QWidget) -> list[str]:
    """Visible controls smaller than their own size hint: a cut-off label, button text or wrapped paragraph."""
    found = []
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or w.width() == 0:
            continue
        text = w.text() if isinstance(w, (QAbstractButton, QLabel, QLineEdit)) else ""
        label = text or w.objectName() or type(w).__name__
        if isinstance(w, QLabel) and w.wordWrap():
            # a wrapped paragraph: the height its text needs at the width it was given
            if text and w.height() + 1 < w.heightForWidth(w.width()):
                found.append(f"wrapped QLabel {label[:40]!r}: {w.height()} px tall, needs "
                             f"{w.heightForWidth(w.width())} at {w.width()} px")
            continue
        layout = w.layout()
        if isinstance(w, QAbstractButton) and layout is not None and layout.hasHeightForWidth():
            need_h = layout.heightForWidth(w.width())  # a card-like button holding a wrapped label
            if w.height() + 1 < need_h:
                found.append(f"{type(w).__name__} {w.accessibleName()[:40]!r}: {w.height()} px tall, needs {need_h}")
            continue
        if not isinstance(w, (QAbstractButton, QLabel, QLineEdit, QComboBox, QSpinBox)) or \
                isinstance(w, QLabel) and not text:
            continue
        if isinstance(w, QLineEdit) and isinstance(w.parentWidget(), (QAbstractSpinBox, QComboBox)):
            continue  # a spin box's own editor is always a little under its hint, in every style: the box counts
        need = w.minimumSizeHint()
        # in a scroll area that scrolls sideways, a row may be wider than the view: heights still count there
        narrow = w.width() + 1 < need.width() and not any(
            isinstance(p, QAbstractScrollArea)
            and p.horizontalScrollBarPolicy() != Qt.ScrollBarPolicy.ScrollBarAlwaysOff for p in _parents(w, root))
        if narrow or w.height() + 1 < need.height():
            found.append(f"{type(w).__name__} {label!r}: {w.width()}x{w.height()} < {need.width()}x{need.height()}")
    return found


def _parents(w: QWidget, root: QWidget) -> list[QWidget]:
    chain, p = [], w.parentWidget()
    while p is not None and p is not root:
        chain.append(p)
        p = p.parentWidget()
    return chain


def check_and_save(widget: QWidget, name: str, t: theme.Theme, backgrounds: tuple[str, ...]) -> list[str]:
    """Save NAME-<theme>.png; return what is wrong with it (empty when nothing is)."""
    QApplication.processEvents()
    image = widget.grab().toImage()
    path = OUT / f"{name}-{'dark' if t.dark else 'light'}.png"
    assert image.save(str(path)), f"could not save {path}"
    problems = []
    counts = _colour_counts(image)
    values = [QColor(c).lightness() for c in counts.elements()]
    if len(counts) < 12 or pstdev(values) < 6:
        problems.append(f"{path.name} looks blank: {len(counts)} colours, lightness spread {pstdev(values):.1f}")
    common = counts.most_common(1)[0][0]
    if not any(_close(common, getattr(t, b)) for b in backgrounds):
        problems.append(f"{path.name}: the most common colour {common} is none of the theme's {backgrounds} "
                        f"({[getattr(t, b) for b in backgrounds]})")
    problems += [f"{path.name}: clipped {c}" for c in _clipped(widget)]
    return problems


def test_every_surface_in_both_themes_is_drawn_themed_and_unclipped(qtbot, gui, qapp) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    window, chat, ctx = gui.window, gui.window.chat, gui.ctx
    window.resize(1100, 720)

    # welcome/first run: a fresh data folder shows the welcome above the example prompts
    assert chat.empty_chat.welcome.isVisibleTo(chat)
    problems = [p for dark in (False, True) for p in check_and_save(
        window, "welcome", theme.apply(qapp, dark=dark), ("window", "base", "user_surface"))]

    # chat with an answer (a real one from the tiny model), with a code block in it
    finished: list[Any] = []
    chat.answer_did_finish.connect(finished.append)
    chat.ask("Write a short Python function that adds two numbers, in a code block.")
    qtbot.waitUntil(lambda: bool(finished) and not chat.is_answering(), timeout=LONG)
    assert finished[0].type == "done", finished[0]
    chat.messages[-1].append("\n\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```")
    chat.messages[-1].flush()  # a code block whatever the tiny model wrote, to see highlighting in both themes

    # review with findings: the analyzers' (real ruff and AST checks), shown as the pane shows a finished review
    review = window.review
    review.set_code(PLANTED, "cart.py")
    result = review_code(ctx.engine, PLANTED, path="cart.py", use_model=False)
    assert result.findings, "the analyzers found none of the planted bugs"
    review.show_result(result)
    review.findings_list.setCurrentRow(0)

    # quick ask with an answer
    quick_done: list[Any] = []
    gui.quick_ask.answer_did_finish.connect(quick_done.append)
    gui.quick_ask.popup()
    gui.quick_ask.ask("What is 2 + 2?")
    qtbot.waitUntil(lambda: bool(quick_done) and gui.quick_ask.current is None, timeout=LONG)

    # the permission dialog, asked for real by the tool runner (denied at the end: nothing runs)
    dialogs: list[Any] = []
    ctx.hooks.permission_will_ask.connect(dialogs.append)
    outcomes: list[Any] = []
    ctx.ops.run("screenshot tool call", lambda: ctx.tools_in_worker().run("system_info", {}), outcomes.append,
                outcomes.append)
    qtbot.waitUntil(lambda: bool(dialogs), timeout=30_000)
    dialog = dialogs[0]
    qtbot.waitUntil(lambda: dialog.isVisible(), timeout=5_000)

    try:
        for dark in (False, True):
            t = theme.apply(qapp, dark=dark)
            window.tabs.setCurrentWidget(chat)
            problems += check_and_save(window, "chat", t, ("window", "base", "surface"))
            window.tabs.setCurrentWidget(window.settings_page)
            page = window.settings_page
            page.scroll_area.verticalScrollBar().setValue(0)
            problems += check_and_save(window, "settings", t, ("window", "base"))
            page.scroll_area.ensureWidgetVisible(page.threads, 0, 200)  # the engine's spin boxes and check boxes
            problems += check_and_save(window, "settings-engine", t, ("window", "base"))
            window.tabs.setCurrentWidget(review)
            problems += check_and_save(window, "review", t, ("window", "base"))
            problems += check_and_save(gui.quick_ask, "quick-ask", t, ("window",))
            problems += check_and_save(dialog, "permission", t, ("window",))
    finally:
        dialog.deny_button.click()
        theme.apply(qapp, dark=False)
    qtbot.waitUntil(lambda: bool(outcomes), timeout=30_000)
    assert not problems, "\n".join(problems)
    names = {p.name for p in OUT.glob("*.png")}
    for surface in ("welcome", "chat", "settings", "settings-engine", "review", "quick-ask", "permission"):
        assert {f"{surface}-light.png", f"{surface}-dark.png"} <= names

