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


def _luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""
    channels = []
    for i in (1, 3, 5):
        c = int(hex_colour[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# (foreground role, background role, least ratio): what is drawn on what, surface by surface. 4.5:1 is WCAG AA for
# body text; 3:1 for disabled text (WCAG exempts it; we still want it legible) and the selected tab's underline.
BODY = 4.5
PAIRS = [
    *[("text", bg, BODY) for bg in ("window", "base", "alt_base", "button", "surface", "user_surface",
                                    "code_surface", "selection")],
    *[("muted", bg, BODY) for bg in ("window", "base", "alt_base", "surface", "user_surface", "code_surface")],
    ("accent", "base", BODY), ("accent", "surface", BODY), ("accent", "window", BODY),  # links
    ("highlighted_text", "highlight", BODY),  # selected text in fields
    # the review's findings list: severity colours on the list, and on a selected row
    *[(sev, bg, BODY) for sev in ("error", "warning", "accent") for bg in ("base", "selection")],
    ("error", "surface", BODY), ("success", "window", BODY),  # error bubbles; the audit's "Intact" line
    ("disabled_text", "disabled_button", 3.0), ("disabled_text", "window", 3.0),
    ("accent", "window", 3.0),  # focus rings and the selected tab's underline (non-text: 3:1)
]


@pytest.mark.parametrize("which", [theme.LIGHT, theme.DARK], ids=["light", "dark"])
def test_every_text_and_background_pair_meets_wcag_contrast(which: theme.Theme) -> None:
    poor = [(fg, bg, round(contrast(getattr(which, fg), getattr(which, bg)), 2), least)
            for fg, bg, least in PAIRS if contrast(getattr(which, fg), getattr(which, bg)) < least]
    assert not poor, poor


def test_the_contrast_formula_matches_wcag_reference_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic just-fails-AA grey
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)


@pytest.mark.parametrize("dark", [True, False], ids=["dark", "light"])
def test_the_applied_palette_is_the_themes_in_every_group(restore_theme, dark: bool) -> None:
    """Fusion draws from the palette: every role must come from the theme, not the desktop's own colours."""
    app: QApplication = restore_theme
    t = theme.apply(app, dark=dark)
    pal = app.palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        assert pal.color(group, QPalette.ColorRole.Window).name() == t.window
        assert pal.color(group, QPalette.ColorRole.Base).name() == t.base
        assert pal.color(group, QPalette.ColorRole.Text).name() == t.text
        assert pal.color(group, QPalette.ColorRole.Link).name() == t.accent
    assert pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText).name() == t.disabled_text


def test_a_code_block_and_the_reviewed_source_take_the_new_themes_colours_on_a_switch(qtbot, restore_theme) -> None:
    """Highlighting is baked into HTML (answers) and cached formats (review): both must follow a theme switch, or a
    dark window shows light-theme code colours (the light style's dark-blue keywords on a near-black block)."""
    from pygments.styles import get_style_by_name
    from PySide6.QtGui import QColor

    from edgemind.app.message_view import CodeBlock
    from edgemind.app.review_pane import SourceView

    app: QApplication = restore_theme
    theme.apply(app, dark=False)
    block, source = CodeBlock("python", "def add(a, b):\n    return a + b"), SourceView()
    for w in (block, source):
        qtbot.addWidget(w)
        w.show()
    source.setPlainText("def add(a, b):\n    return a + b\n")
    source.highlighter.set_lexer_for("x.py", source.toPlainText())

    def keyword_colour(style: str) -> str:
        from pygments.token import Keyword

        return "#" + get_style_by_name(style).style_for_token(Keyword)["color"].lower()

    def source_keyword() -> str:
        layout = source.document().firstBlock().layout()
        formats = [r.format.foreground().color().name() for r in layout.formats() if r.start == 0]
        return formats[0] if formats else ""

    assert keyword_colour(theme.LIGHT.pygments_style) in block.body.text().lower()
    assert source_keyword() == QColor(keyword_colour(theme.LIGHT.pygments_style)).name()
    theme.apply(app, dark=True)
    qtbot.waitUntil(lambda: keyword_colour(theme.DARK.pygments_style) in block.body.text().lower(), timeout=2_000)
    assert keyword_colour(theme.LIGHT.pygments_style) not in block.body.text().lower()
    qtbot.waitUntil(lambda: source_keyword() == QColor(keyword_colour(theme.DARK.pygments_style)).name(),
                    timeout=2_000)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_focused_field_and_button_wear_the_accent_ring_and_the_others_do_not(qtbot, restore_theme,
                                                                                dark: bool) -> None:
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

    app: QApplication = restore_theme
    t = theme.apply(app, dark=dark)
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    focused, other = QLineEdit("focused"), QLineEdit("other")
    button = QPushButton("Send")
    for w in (focused, other, button):
        layout.addWidget(w)
    window.show()
    window.activateWindow()
    focused.setFocus()
    qtbot.waitUntil(focused.hasFocus, timeout=2_000)

    def edge_has_accent(w: QWidget) -> bool:
        image = w.grab().toImage()
        accent = QColor(t.accent)
        y = image.height() // 2
        return any(max(abs(image.pixelColor(x, y).red() - accent.red()),
                       abs(image.pixelColor(x, y).green() - accent.green()),
                       abs(image.pixelColor(x, y).blue() - accent.blue())) <= 12 for x in range(3))

    assert edge_has_accent(focused) and not edge_has_accent(other)
    button.setFocus()
    qtbot.waitUntil(button.hasFocus, timeout=2_000)
    assert edge_has_accent(button) and not edge_has_accent(focused)
