"""Light and dark looks that follow the system's colour scheme (Qt 6.5+ reports it; elsewhere the palette tells).

The one source of the app's colours, spacing and fonts: widgets name a role (`theme.current().muted`, an object name
styled below), never a colour. Both themes are held to WCAG contrast (tests/app/test_theme.py: 4.5:1 for text, 3:1
for disabled text and large titles), and drawn per surface into docs/screenshots by tests/app/test_screenshots.py.
The look follows LM Studio's and Jan's conventions: neutral grey surfaces, one blue accent, rounded 8 px cards,
flat tabs with an accent underline, thin overlay-style scrollbars, a soft selection that keeps its text readable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

# spacing and type, shared by both themes
RADIUS = 8  # cards: messages, the welcome, the quick-ask popup
RADIUS_SMALL = 6  # controls: buttons, fields, code blocks
PAD = 8  # inner padding of a control or a card
BODY_PT = 10  # the app's body text
SMALL_PX = 11  # badges, code-language labels, argument names
TITLE_PX = 18  # the welcome's title
MONO = "'DejaVu Sans Mono', 'Cascadia Mono', Consolas, Menlo, monospace"


@dataclass(frozen=True, slots=True)
class Theme:
    dark: bool
    window: str  # the window and dialogs behind everything
    base: str  # fields, lists and tables
    alt_base: str  # alternate table rows, the review gutter
    button: str
    text: str
    muted: str  # hints, badges, placeholders: still body-text contrast
    surface: str  # assistant message bubbles, cards
    user_surface: str  # the user's bubbles, the welcome card
    code_surface: str
    border: str
    accent: str  # links, focus rings, the selected tab's underline
    highlight: str  # selected text (with highlighted_text on it)
    highlighted_text: str
    selection: str  # a selected row in a list or table: soft, its text stays `text`
    disabled_text: str
    disabled_button: str
    scrollbar: str
    scrollbar_hover: str
    error: str
    warning: str
    success: str
    pygments_style: str

    def severity_color(self, severity: str) -> str:
        return {"error": self.error, "warning": self.warning}.get(severity, self.accent)


LIGHT = Theme(
    dark=False, window="#f4f5f7", base="#ffffff", alt_base="#f0f2f5", button="#ffffff", text="#1d1f23",
    muted="#555c68", surface="#ffffff", user_surface="#e6eefc", code_surface="#f3f5f8", border="#d3d8df",
    accent="#1f5fd1", highlight="#1f5fd1", highlighted_text="#ffffff", selection="#dce7fb",
    disabled_text="#7b818a", disabled_button="#eceef1", scrollbar="#c4cad2", scrollbar_hover="#9aa2ad",
    error="#b3261e", warning="#855400", success="#1e6b2c", pygments_style="friendly")
DARK = Theme(
    dark=True, window="#1d1f23", base="#16181b", alt_base="#212429", button="#2b2e34", text="#e6e8eb",
    muted="#a0a8b3", surface="#25282d", user_surface="#1f3354", code_surface="#141619", border="#3a3f47",
    accent="#7aa7ff", highlight="#3567c4", highlighted_text="#ffffff", selection="#1f3459",
    disabled_text="#7d838c", disabled_button="#24262b", scrollbar="#4a505a", scrollbar_hover="#646b76",
    error="#ff7b72", warning="#e3b341", success="#6cc070", pygments_style="monokai")
_current = LIGHT


def current() -> Theme:
    return _current


def system_prefers_dark(app: QGuiApplication) -> bool:
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def palette(theme: Theme) -> QPalette:
    """Every role in every group, so Fusion draws nothing from the system's own colours (a dark desktop once gave a
    light theme white text), and disabled controls get dimmed text on a flatter button in both themes."""
    result = QPalette()
    roles = ((QPalette.ColorRole.Window, theme.window), (QPalette.ColorRole.WindowText, theme.text),
             (QPalette.ColorRole.Base, theme.base), (QPalette.ColorRole.AlternateBase, theme.alt_base),
             (QPalette.ColorRole.Text, theme.text), (QPalette.ColorRole.Button, theme.button),
             (QPalette.ColorRole.ButtonText, theme.text), (QPalette.ColorRole.BrightText, theme.error),
             (QPalette.ColorRole.Highlight, theme.highlight),
             (QPalette.ColorRole.HighlightedText, theme.highlighted_text),
             (QPalette.ColorRole.ToolTipBase, theme.surface), (QPalette.ColorRole.ToolTipText, theme.text),
             (QPalette.ColorRole.PlaceholderText, theme.muted), (QPalette.ColorRole.Link, theme.accent),
             (QPalette.ColorRole.LinkVisited, theme.accent), (QPalette.ColorRole.Light, theme.surface),
             (QPalette.ColorRole.Midlight, theme.alt_base), (QPalette.ColorRole.Mid, theme.border),
             (QPalette.ColorRole.Dark, theme.scrollbar), (QPalette.ColorRole.Shadow, "#000000"))
    for role, color in roles:
        result.setColor(role, QColor(color))
    disabled = QPalette.ColorGroup.Disabled
    for role, color in ((QPalette.ColorRole.WindowText, theme.disabled_text),
                        (QPalette.ColorRole.Text, theme.disabled_text),
                        (QPalette.ColorRole.ButtonText, theme.disabled_text),
                        (QPalette.ColorRole.Button, theme.disabled_button),
                        (QPalette.ColorRole.Base, theme.disabled_button),
                        (QPalette.ColorRole.Highlight, theme.border),
                        (QPalette.ColorRole.HighlightedText, theme.disabled_text)):
        result.setColor(disabled, role, QColor(color))
    return result


def _resource(name: str) -> str:
    """A file in edgemind.resources as a style sheet url (forward slashes, also on Windows)."""
    return str(resources.files("edgemind.resources").joinpath(name)).replace("\\", "/")


def stylesheet(t: Theme) -> str:
    """The app's style sheet: object names the widgets set (message, codeBlock, hint...) and the common controls."""
    return f"""
        QWidget {{ font-size: {BODY_PT}pt; }}
        QToolTip {{ background: {t.surface}; color: {t.text}; border: 1px solid {t.border}; padding: 4px; }}
        QPushButton {{ background: {t.button}; color: {t.text}; border: 1px solid {t.border};
                       border-radius: {RADIUS_SMALL}px; padding: 5px 12px; }}
        QPushButton:hover {{ border-color: {t.accent}; }}
        QPushButton:pressed {{ background: {t.selection}; }}
        QPushButton:focus {{ border: 1px solid {t.accent}; }}
        QPushButton:default {{ border: 1px solid {t.accent}; }}
        QPushButton:flat {{ border: none; background: transparent; }}
        QPushButton#closeButton {{ border: none; background: transparent; padding: 0; font-size: 14pt; }}
        QPushButton#closeButton:hover, QPushButton#closeButton:focus {{ color: {t.accent}; }}
        QPushButton:disabled {{ background: {t.disabled_button}; color: {t.disabled_text}; border-color: {t.border}; }}
        QToolButton {{ color: {t.text}; border: 1px solid transparent; border-radius: {RADIUS_SMALL}px;
                       padding: 2px 6px; }}
        QToolButton:hover, QToolButton:focus {{ border-color: {t.accent}; }}
        QToolButton:disabled {{ color: {t.disabled_text}; }}
        QLineEdit, QPlainTextEdit, QTextEdit {{ background: {t.base}; color: {t.text}; border: 1px solid {t.border};
                       border-radius: {RADIUS_SMALL}px; padding: 4px 6px;
                       selection-background-color: {t.highlight}; selection-color: {t.highlighted_text}; }}
        QLineEdit:focus, QPlainTextEdit:focus, QTextEdit:focus {{ border: 1px solid {t.accent}; }}
        QAbstractSpinBox, QComboBox {{ background: {t.base}; color: {t.text}; border: 1px solid {t.border};
                       border-radius: {RADIUS_SMALL}px; padding: 2px 6px;
                       selection-background-color: {t.highlight}; selection-color: {t.highlighted_text}; }}
        QAbstractSpinBox:focus, QComboBox:focus, QComboBox:on {{ border: 1px solid {t.accent}; }}
        QAbstractSpinBox:disabled, QComboBox:disabled {{ background: {t.disabled_button}; color: {t.disabled_text}; }}
        QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ width: 18px; border: none; }}
        QComboBox::drop-down {{ width: 22px; border: none; }}
        QAbstractSpinBox::up-arrow {{ image: url({_resource("arrow-up.svg")}); width: 10px; height: 8px; }}
        QAbstractSpinBox::down-arrow, QComboBox::down-arrow {{ image: url({_resource("arrow-down.svg")});
                       width: 10px; height: 8px; }}
        QComboBox QAbstractItemView {{ background: {t.base}; color: {t.text}; border: 1px solid {t.border};
                       selection-background-color: {t.selection}; selection-color: {t.text}; }}
        QAbstractSpinBox QLineEdit, QComboBox QLineEdit {{ border: none; padding: 0 0 0 4px;
                       background: transparent; }}
        QLineEdit:disabled, QPlainTextEdit:disabled, QTextEdit:disabled {{ background: {t.disabled_button};
                       color: {t.disabled_text}; }}
        QListView, QTreeView, QTableView {{ background: {t.base}; color: {t.text}; border: 1px solid {t.border};
                       border-radius: {RADIUS_SMALL}px; alternate-background-color: {t.alt_base}; }}
        QListView:focus, QTreeView:focus, QTableView:focus {{ border-color: {t.accent}; }}
        QListView::item {{ padding: 4px 6px; }}
        QListView::item:selected, QTreeView::item:selected, QTableView::item:selected {{
                       background: {t.selection}; color: {t.text}; }}
        QHeaderView::section {{ background: {t.alt_base}; color: {t.muted}; border: none;
                       border-bottom: 1px solid {t.border}; padding: 4px 6px; }}
        QTabWidget::pane {{ border: none; border-top: 1px solid {t.border}; }}
        QTabBar::tab {{ background: transparent; color: {t.muted}; padding: 7px 14px; border: none;
                       border-bottom: 2px solid transparent; }}
        QTabBar::tab:selected {{ color: {t.text}; border-bottom: 2px solid {t.accent}; }}
        QTabBar::tab:hover {{ color: {t.text}; }}
        QTabBar::tab:focus {{ color: {t.text}; }}
        QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
        QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 2px; }}
        QScrollBar::handle {{ background: {t.scrollbar}; border-radius: 3px; min-height: 28px; min-width: 28px; }}
        QScrollBar::handle:hover {{ background: {t.scrollbar_hover}; }}
        QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
        QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
        QSplitter::handle {{ background: {t.border}; }}
        QSplitter::handle:horizontal {{ width: 1px; }}
        QSplitter::handle:vertical {{ height: 1px; }}
        QStatusBar {{ color: {t.muted}; border-top: 1px solid {t.border}; }}
        QProgressBar {{ border: 1px solid {t.border}; border-radius: {RADIUS_SMALL}px; background: {t.base};
                       color: {t.text}; text-align: center; }}
        QProgressBar::chunk {{ background: {t.highlight}; border-radius: {RADIUS_SMALL - 1}px; }}
        QGroupBox {{ border: 1px solid {t.border}; border-radius: {RADIUS}px; margin-top: 14px; padding-top: 6px; }}
        QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {t.text}; }}
        QFrame#message {{ background: {t.surface}; border: 1px solid {t.border}; border-radius: {RADIUS}px; }}
        QFrame#message[role="user"] {{ background: {t.user_surface}; border-color: {t.user_surface}; }}
        QFrame#message[role="error"] {{ border-color: {t.error}; }}
        QLabel#badge {{ color: {t.muted}; font-size: {SMALL_PX}px; }}
        QLabel#who {{ font-weight: bold; }}
        QLabel#errorText {{ color: {t.error}; }}
        QFrame#codeBlock {{ background: {t.code_surface}; border: 1px solid {t.border};
                            border-radius: {RADIUS_SMALL}px; }}
        QLabel#codeLang {{ color: {t.muted}; font-size: {SMALL_PX}px; }}
        QLabel#hint {{ color: {t.muted}; }}
        QLabel#toolLine {{ color: {t.muted}; font-size: 12px; }}
        QLabel#toolLine[verdict="denied"] {{ color: {t.error}; }}
        QLabel#argName {{ color: {t.muted}; font-size: {SMALL_PX}px; }}
        QFrame#welcome {{ background: {t.user_surface}; border: 1px solid {t.border}; border-radius: {RADIUS + 2}px; }}
        QLabel#welcomeTitle {{ font-size: {TITLE_PX}px; font-weight: bold; }}
        QPushButton#example {{ text-align: left; padding: 8px 12px; background: {t.surface};
                               border: 1px solid {t.border}; border-radius: {RADIUS}px; }}
        QPushButton#example:hover, QPushButton#example:focus {{ border-color: {t.accent}; }}
        QLabel#emptyState {{ color: {t.muted}; padding: 24px; }}
        QFrame#quickAsk {{ background: {t.window}; border: 1px solid {t.border}; border-radius: {RADIUS + 2}px; }}
    """


def apply(app: QApplication, dark: bool | None = None) -> Theme:
    global _current
    app.setStyle("Fusion")
    _current = theme = DARK if (system_prefers_dark(app) if dark is None else dark) else LIGHT
    app.setPalette(palette(theme))
    # Fusion outlines a check box in the window colour darkened, invisible on a dark window around a dark box: a
    # box in the button colour stands out in both themes (white in light, as before)
    boxes = palette(theme)
    boxes.setColor(QPalette.ColorGroup.Active, QPalette.ColorRole.Base, QColor(theme.button))
    boxes.setColor(QPalette.ColorGroup.Inactive, QPalette.ColorRole.Base, QColor(theme.button))
    per_class: Any = app.setPalette  # PySide6 takes the class name as str; its stubs say bytes, which it refuses
    for kind in ("QCheckBox", "QRadioButton"):
        per_class(boxes, kind)
    font = QFont(app.font())
    font.setPointSize(BODY_PT)
    app.setFont(font)
    app.setStyleSheet(stylesheet(theme))
    return theme


def follow_system(app: QApplication, on_change: Callable[[], None] | None = None) -> None:
    """Re-apply the theme when the system switches between light and dark."""
    def changed(_scheme: object) -> None:
        apply(app)
        if on_change:
            on_change()

    app.styleHints().colorSchemeChanged.connect(changed)
