"""Light and dark looks: a disabled control must look disabled in both."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QPushButton

from edgemind.app import theme

ROLES = (QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText, QPalette.ColorRole.Text)


@pytest.fixture
def restore_theme(qapp):  # type: ignore[no-untyped-def]
    was_dark = theme.current().dark
    yield qapp
    theme.apply(qapp, dark=was_dark)


@pytest.mark.parametrize("dark", [True, False], ids=["dark", "light"])
def test_a_disabled_button_is_drawn_in_other_colours_than_an_enabled_one(qtbot, restore_theme, dark: bool) -> None:
    app: QApplication = restore_theme
    theme.apply(app, dark=dark)
    enabled, disabled = QPushButton("Send"), QPushButton("Send")
    disabled.setEnabled(False)
    for button in (enabled, disabled):
        qtbot.addWidget(button)
        button.resize(120, 32)
    on, off = enabled.palette(), disabled.palette()
    for role in ROLES:
        active = on.color(QPalette.ColorGroup.Active, role)
        greyed = off.color(QPalette.ColorGroup.Disabled, role)
        assert abs(active.lightness() - greyed.lightness()) >= 60, (role, active.name(), greyed.name())
    # and on screen: the label's pixels differ (what a user sees, not only what the palette says)
    assert enabled.grab().toImage() != disabled.grab().toImage()
