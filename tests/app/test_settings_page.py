"""The settings page edits exactly the settings declared for the GUI, with the declaration's ranges and help."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractSpinBox, QSpinBox

from edgemind.app.context import AppContext
from edgemind.app.settings_page import KEYS, SettingsPage
from edgemind.core.settings import SETTINGS, Settings


def test_the_page_edits_the_gui_settings_within_their_declared_ranges(qtbot, settings: Settings) -> None:
    ctx = AppContext(settings)
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    assert set(KEYS) == {name for name, spec in SETTINGS.items() if spec.gui} == set(page.values())
    for key in KEYS:
        widget, spec = getattr(page, key), SETTINGS[key]
        assert widget.toolTip() == spec.help, key
        if isinstance(widget, QAbstractSpinBox):
            assert widget.minimum() == spec.minimum, key
            if spec.maximum is not None:
                assert widget.maximum() == spec.maximum, key
    threads = page.threads
    assert isinstance(threads, QSpinBox) and (threads.minimum(), threads.maximum()) == (0, 512)
    ctx.shutdown()
